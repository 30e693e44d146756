"""The cells of the paper's experiments (docs/paper.md), run by the harness's :class:`~benchmarks.harness.Runner`.

- a *policy cell* (point, instance, solver, seed): draw the point's instance, prepare the solver (a learned
  one is trained afresh at the point, as the paper retrains at every point), let it decide the trace's
  slots, one row per slot (:func:`benchmarks.harness.play_policy`);
- a *horizon cell* (point, instance): the clairvoyant optimum or bound of the same trace
  (:func:`solvers.horizon.rolling.episode_bound`).

A cell's key holds only what its rows depend on (the point's size and overrides, the instance, the solver,
its seed and its own budget), so figures that meet at a point share its cells, and a rerun with more seeds,
points or figures runs only the cells it lacks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import budget_options, cell_key, play_policy, prepare_solver, single_threaded
from benchmarks.paper.sweeps import Point
from solvers import REGISTRY
from tadp.generator import generate_instance, parse_size
from tadp.instance import Instance

#: The solvers every point has by default: the paper's three schemes, the exact per-slot optimum, the
#: greedy and the fit learners (docs/paper.md).
PAPER_SOLVERS = ("td3", "ddpg", "random", "highs", "greedy", "td3-fit", "ddpg-fit", "random-fit")


@dataclass(frozen=True)
class Budget:
    """What every cell of a run shares: trace length, time limits, training budget."""

    slots: int
    """Slots of each instance's trace that every solver decides."""
    time_limit: float
    """Seconds per exact slot solve."""
    episodes: int
    """Training episodes for a learned solver."""
    steps: int
    """Slots per training episode."""
    preset: str
    """Network preset of the learned solvers (``default`` or ``paper``)."""
    horizon_time_limit: float
    """Seconds for the clairvoyant episode optimum or bound of each trace (0: none)."""
    device: str = "cpu"
    """Torch device the learners train on (``cpu``, ``cuda``)."""


def varies_with_seed(name: str) -> bool:
    """A solver whose answer depends on the seed (a trained policy, random actions) runs once per seed;
    the exact and greedy solvers once, with seed 0."""
    spec = REGISTRY[name]
    return spec.trains or spec.decoder is not None


def point_instance(point: Point, index: int, slots: int) -> Instance:
    """Instance ``index`` of a point: instance seed ``index``, the point's generator options."""
    return generate_instance(parse_size(point.size), seed=index, slots=slots, options=point.options())


def _own_budget(name: str, budget: Budget) -> dict[str, Any]:
    """The part of the budget a solver's rows depend on (what its cell key holds)."""
    spec = REGISTRY[name]
    own: dict[str, Any] = {"slots": budget.slots}
    if spec.trains:
        own.update(episodes=budget.episodes, steps=budget.steps, preset=budget.preset)
        if budget.device != "cpu":  # another device rounds differently: its own cells
            own["device"] = budget.device
    if spec.kind == "exact":
        own["time_limit"] = budget.time_limit
    return own


def policy_key(point: Point, index: int, name: str, seed: int, budget: Budget) -> str:
    return cell_key("paper", point.size, name, seed, point.digest(), index, _own_budget(name, budget))


def horizon_key(point: Point, index: int, budget: Budget) -> str:
    return cell_key("horizon", point.size, point.digest(), index, budget.slots, budget.horizon_time_limit)


def run_point_cell(point: Point, index: int, name: str, seed: int, budget: Budget, run_dir: Path) -> dict[str, Any]:
    """One solver at one point on one instance: one row per slot, the point's digest and the training
    seconds on each; a learned solver's checkpoint and learning curve go to ``checkpoints/`` and
    ``curves/`` under ``run_dir``."""
    single_threaded()
    key = policy_key(point, index, name, seed, budget)
    inst = point_instance(point, index, budget.slots)
    options = budget_options(name, episodes=budget.episodes, steps=budget.steps, preset=budget.preset,
                             checkpoint=run_dir / "checkpoints" / f"{key}.pt", device=budget.device)
    solver, train_s = prepare_solver(name, options, inst, seed=seed, curve_file=run_dir / "curves" / f"{key}.csv",
                                     curve_labels={"size": point.size, "point": point.digest(),
                                                   "instance_index": index, "solver": name, "seed": seed})
    labels = {"size": point.size, "point": point.digest(), "instance_index": index, "instance": inst.name,
              "solver": name, "kind": REGISTRY[name].kind, "seed": seed, "n_tasks": inst.n_devices,
              "train_s": train_s}
    rows = play_policy(solver, inst, budget.slots, time_limit=budget.time_limit, seed=seed, labels=labels)
    return {"key": key, "type": "paper-policy", "rows": rows}


def run_horizon_cell(point: Point, index: int, budget: Budget) -> dict[str, Any]:
    """The clairvoyant optimum (or incumbent and bound) of the point's trace: every slot known in advance,
    caches chained (docs/exact_horizon.md); it bounds every online policy's episode score."""
    from solvers.horizon.rolling import episode_bound

    single_threaded()
    inst = point_instance(point, index, budget.slots)
    started = time.perf_counter()
    found = episode_bound(inst, budget.slots, time_limit=budget.horizon_time_limit)
    row = {"size": point.size, "point": point.digest(), "instance_index": index, "instance": inst.name,
           "solver": "highs-horizon", "kind": "exact", "seed": 0, "n_tasks": inst.n_devices,
           "score": found.incumbent, "bound": found.bound, "status": found.status, "time_s": time.perf_counter() - started}
    return {"key": horizon_key(point, index, budget), "type": "paper-horizon", "rows": [row]}


def point_jobs(point: Point, solvers: tuple[str, ...], seeds: tuple[int, ...], instances: int, budget: Budget,
               run_dir: Path) -> list[tuple[str, Any, tuple]]:
    """The cells of one point, trained solvers first (the longest, so that workers stay busy)."""
    jobs = []
    ordered = sorted(solvers, key=lambda n: not REGISTRY[n].trains)
    for index in range(instances):
        for name in ordered:
            for seed in (seeds if varies_with_seed(name) else (0,)):
                jobs.append((policy_key(point, index, name, seed, budget), run_point_cell,
                             (point, index, name, seed, budget, run_dir)))
        if budget.horizon_time_limit > 0:
            jobs.append((horizon_key(point, index, budget), run_horizon_cell, (point, index, budget)))
    return jobs


def trained_keys(point: Point, solvers: tuple[str, ...], seeds: tuple[int, ...], instances: int,
                 budget: Budget) -> list[str]:
    """Keys of the cells of a point whose solver trains (each wrote a learning curve)."""
    return [policy_key(point, index, name, seed, budget) for index in range(instances) for name in solvers
            if REGISTRY[name].trains for seed in seeds]


__all__ = ["PAPER_SOLVERS", "Budget", "horizon_key", "point_instance", "point_jobs", "policy_key", "run_horizon_cell",
           "run_point_cell", "trained_keys", "varies_with_seed"]
