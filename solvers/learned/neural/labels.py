"""Exact per-slot optima as imitation labels, generated once and cached on disk (docs/neural.md, "Training").

A *label* is one slot state (instance, slot, start cache) with the option the exact per-slot optimum
(``highs``, docs/exact.md) gives each task: class 0 drops the task, 1-4 serve it with option k - 1 of
:data:`tadp.sizing.OPTIONS` (gateway light, gateway heavy, edge light, edge heavy). States come from
chains: an instance's slots 0..T-1 from its cold start, each start cache the one the optimum's own
decision left under the chain's keep rule (``used``; ``all`` for the plan's keep-all chains, whose caches
fill up with every model once placed). DAgger (:func:`relabel`) adds states a policy reached.

Instances are never stored: an instance is a function of (gateway sizes, seed, resource scale), so a
label file holds those three and the states. One ``.npz`` file per chain, named by its recipe, in a
folder keyed by the recipe's settings; a file already there is reused, so generation resumes where it
stopped and a second training run pays nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tadp.decision import SITE_NONE, Decision
from tadp.generator import generate_instance, scenario_options
from tadp.instance import Cache, Instance, atomic_output

#: Classes of a task's decision: drop, then the options of :data:`tadp.sizing.OPTIONS`.
N_CLASSES = 5
#: Offset of the keep-all chains' instance seeds from the plan's first seed.
KEEP_ALL_SEEDS = 10_000


def class_of(decision: Decision) -> np.ndarray:
    """(N,) class of every task of a decision: 0 dropped, 1 + 2 * (site is the edge) + level otherwise."""
    served = decision.site != SITE_NONE
    return np.where(served, 1 + 2 * (decision.site == 2) + decision.level, 0).astype(np.int8)


@dataclass(frozen=True)
class ChainRecipe:
    """One chain of labelled slots: an instance drawn by the generator, solved slot by slot."""

    counts: tuple[int, ...]  # devices per gateway
    seed: int  # instance seed
    scale: float  # resource scale ([D9])
    slots: int  # slots in the chain, from the cold start
    keep: str = "used"  # keep rule the chain follows from slot to slot (docs/model.md, section 6)

    @property
    def name(self) -> str:
        rule = "" if self.keep == "used" else f"-k{self.keep}"
        return f"{'-'.join(map(str, self.counts))}-s{self.seed}-r{self.scale:g}-t{self.slots}{rule}"

    def instance(self) -> Instance:
        return generate_instance(list(self.counts), seed=self.seed, slots=self.slots,
                                 options=scenario_options("scarce", resource_scale=self.scale))


@dataclass(frozen=True)
class LabelPlan:
    """Which chains to label: sizes and resource scales drawn per chain from a seeded stream."""

    sizes: tuple[str, ...] = ("2x5", "3x5", "2x10", "4x5", "3x10", "5x5", "4x10", "2x20", "6x8", "5x10",
                              "3x20", "8x10", "10x8", "4x20", "2x35", "3x30", "4x25", "2x50", "10x10", "5x20")
    """Gateway sizes (GxK), at most 100 tasks each."""
    scales: tuple[float, ...] = (0.3, 0.5, 1.0)
    """Resource scales ([D9]); 0.5 is the ``scarce`` scenario."""
    scale_weights: tuple[float, ...] = (0.2, 0.65, 0.15)
    """How often each scale is drawn."""
    chains: int = 240
    """Chains (instances) to label."""
    slots: int = 8
    """Slots per chain."""
    first_seed: int = 10_000
    """Instance seeds first_seed, first_seed + 1, ...: never a benchmark's instance (seeds below 1,000)."""
    cold_time_limit: float = 5.0
    """Seconds for the exact solve of a chain's cold first slot (its incumbent is the label if unproven)."""
    time_limit: float = 10.0
    """Seconds for every later slot."""
    keep_all_chains: int = 40
    """Further chains that follow keep rule ``all`` (every model placed stays cached while the chain
    lasts: packed caches, the states ``--keep all`` leads to), sizes and scales drawn as above from their
    own stream, instance seeds from first_seed + :data:`KEEP_ALL_SEEDS`."""

    def recipes(self) -> list[ChainRecipe]:
        return self._drawn(self.chains, self.first_seed, "used") + self._drawn(
            self.keep_all_chains, self.first_seed + KEEP_ALL_SEEDS, "all")

    def _drawn(self, chains: int, first_seed: int, keep: str) -> list[ChainRecipe]:
        from tadp.generator import parse_size

        rng = np.random.default_rng(first_seed)
        p = np.asarray(self.scale_weights, float) / sum(self.scale_weights)
        out = []
        for i in range(chains):
            size = self.sizes[int(rng.integers(len(self.sizes)))]
            scale = float(self.scales[int(rng.choice(len(self.scales), p=p))])
            out.append(ChainRecipe(tuple(parse_size(size)), first_seed + i, scale, self.slots, keep))
        return out

    def folder_name(self) -> str:
        key = (self.cold_time_limit, self.time_limit)
        return f"labels-cold{key[0]:g}-warm{key[1]:g}"


@dataclass(eq=False)
class LabelSet:
    """Labelled slot states, as parallel lists (one entry per state)."""

    recipes: list[ChainRecipe]  # the chain each state belongs to
    slots: list[int]
    caches: list[Cache]
    labels: list[np.ndarray]  # (N,) classes (:func:`class_of`)
    optimum: list[float]  # the exact solver's score of the label
    bound: list[float]  # its bound
    seconds: list[float]  # wall seconds of the exact solve

    def __len__(self) -> int:
        return len(self.slots)

    def extend(self, other: LabelSet) -> None:
        for f in dataclasses.fields(self):
            getattr(self, f.name).extend(getattr(other, f.name))

    @staticmethod
    def empty() -> LabelSet:
        return LabelSet([], [], [], [], [], [], [])


def solve_state(inst: Instance, slot: int, cache: Cache, time_limit: float, keep: str = "used"
                ) -> tuple[np.ndarray, float, float, float, Cache]:
    """The exact per-slot optimum of one state: classes, score, bound, seconds and the next cache
    (keep rule ``keep``)."""
    from solvers.exact.highs import PyomoSolver

    started = time.perf_counter()
    result = PyomoSolver(threads=1, keep=keep).solve(inst, slot, cache, time_limit=time_limit)
    if result.status == "error":
        raise RuntimeError(f"exact solver failed on {inst.name} slot {slot}: {result.info.get('error')}")
    assert result.outcome.next_cache is not None
    return (class_of(result.decision), result.score, float(result.bound if result.bound is not None else result.score),
            time.perf_counter() - started, result.outcome.next_cache)


def _save(path: Path, recipe: ChainRecipe, states: LabelSet) -> None:
    with atomic_output(path) as partial, open(partial, "wb") as fh:  # a file object: no ".npz" appended
        np.savez_compressed(
            fh, counts=np.array(recipe.counts), seed=recipe.seed, scale=recipe.scale, keep=recipe.keep,
            slots=np.array(states.slots),
            gateway=np.stack([c.gateway for c in states.caches]), edge=np.stack([c.edge for c in states.caches]),
            labels=np.stack(states.labels), optimum=np.array(states.optimum), bound=np.array(states.bound),
            seconds=np.array(states.seconds))


def load_file(path: Path) -> LabelSet:
    """The states of one label file."""
    with np.load(path) as f:
        keep = str(f["keep"]) if "keep" in f.files else "used"  # files written before keep-all chains
        recipe = ChainRecipe(tuple(int(k) for k in f["counts"]), int(f["seed"]), float(f["scale"]), 0, keep)
        n = len(f["slots"])
        recipe = dataclasses.replace(recipe, slots=int(f["slots"].max()) + 1)
        return LabelSet([recipe] * n, [int(s) for s in f["slots"]],
                        [Cache(f["gateway"][k], f["edge"][k]) for k in range(n)],
                        [f["labels"][k] for k in range(n)], list(map(float, f["optimum"])),
                        list(map(float, f["bound"])), list(map(float, f["seconds"])))


def label_chain(recipe: ChainRecipe, cold_time_limit: float, time_limit: float) -> LabelSet:
    """Solve slots 0..T-1 of a recipe's instance from its cold start, each from the cache the optimum left
    under the recipe's keep rule."""
    inst = recipe.instance()
    cache = inst.initial_cache
    out = LabelSet.empty()
    for slot in range(recipe.slots):
        labels, score, bound, seconds, next_cache = solve_state(
            inst, slot, cache, cold_time_limit if cache.is_empty() else time_limit, recipe.keep)
        out.extend(LabelSet([recipe], [slot], [cache], [labels], [score], [bound], [seconds]))
        cache = next_cache
    return out


def ensure_labels(plan: LabelPlan, folder: Path, *, on_chain: Callable[[int, int, LabelSet], None] | None = None
                  ) -> LabelSet:
    """Every chain of ``plan``, read from ``folder`` or labelled now and saved there (resumable)."""
    root = Path(folder) / plan.folder_name()
    out = LabelSet.empty()
    recipes = plan.recipes()
    for i, recipe in enumerate(recipes):
        path = root / f"{recipe.name}.npz"
        if path.exists():
            chain = load_file(path)
        else:
            chain = label_chain(recipe, plan.cold_time_limit, plan.time_limit)
            _save(path, recipe, chain)
        out.extend(chain)
        if on_chain is not None:
            on_chain(i, len(recipes), chain)
    return out


def relabel(states: Sequence[tuple[ChainRecipe, int, Cache]], folder: Path, tag: str, time_limit: float
            ) -> LabelSet:
    """DAgger: the exact optimum of states a policy reached, saved as ``folder/dagger-TAG/*.npz`` (one file
    per chain recipe, reused when present)."""
    by_recipe: dict[ChainRecipe, list[tuple[int, Cache]]] = {}
    for recipe, slot, cache in states:
        by_recipe.setdefault(recipe, []).append((slot, cache))
    out = LabelSet.empty()
    for recipe, items in by_recipe.items():
        path = Path(folder) / f"dagger-{tag}" / f"{recipe.name}.npz"
        if path.exists():
            out.extend(load_file(path))
            continue
        inst = recipe.instance()
        chain = LabelSet.empty()
        for slot, cache in items:
            labels, score, bound, seconds, _ = solve_state(inst, slot, cache, time_limit)
            chain.extend(LabelSet([recipe], [slot], [cache], [labels], [score], [bound], [seconds]))
        _save(path, recipe, chain)
        out.extend(chain)
    return out


__all__ = ["KEEP_ALL_SEEDS", "N_CLASSES", "ChainRecipe", "LabelPlan", "LabelSet", "class_of", "ensure_labels", "label_chain",
           "load_file", "relabel", "solve_state"]
