"""Training the neural policy (docs/neural.md, "Training"): imitation of exact optima, then policy
gradient on the slot score with a baseline shared over K samples (POMO), optionally DAgger.

:func:`train_neural` runs the whole recipe from a :class:`NeuralConfig`:

1. **Labels**: the exact per-slot optima of :attr:`NeuralConfig.labels` (:mod:`.labels`), read from
   the label cache or generated there first (their cost is reported apart: ``label_seconds``).
2. **Imitation**: cross-entropy between each task's five logits and the optimum's class, minibatches
   of slots of one shape (the same gateway sizes), Adam, cosine learning-rate decay.
3. **DAgger** (``dagger_rounds > 0``): the policy plays fresh chains, the exact solver labels the states
   it reached, and imitation continues on all labels.
4. **Policy gradient**: per slot, K classes sampled from the policy are decoded and scored by the
   evaluator (:mod:`.decoding`); each sample's advantage is its score less the mean of the K (the
   shared baseline of POMO), over their spread, and the loss is ``-advantage * log p(sample)`` per task,
   plus the imitation loss as an anchor.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from solvers.learned.neural.decoding import SlotTasks, decode_candidates, sample_classes
from solvers.learned.neural.features import SlotFeatures, slot_features
from solvers.learned.neural.labels import ChainRecipe, LabelPlan, LabelSet, ensure_labels, relabel
from solvers.learned.neural.network import NetConfig, PolicyNet
from tadp.instance import Cache, Instance


@dataclass(frozen=True)
class NeuralConfig:
    """Hyper-parameters of :func:`train_neural`."""

    seed: int = 0
    """Seed of the weights, the minibatches and the samples."""
    net: NetConfig = field(default_factory=NetConfig)
    """Network sizes."""
    labels: LabelPlan = field(default_factory=LabelPlan)
    """Which slots are labelled by the exact solver."""
    label_folder: str = "results/neural/labels"
    """Where labels are cached."""
    imitation_steps: int = 4000
    """Minibatch steps of imitation (0: none, the ``no imitation`` ablation)."""
    batch_size: int = 32
    """Slots per imitation minibatch."""
    learning_rate: float = 1e-3
    """Adam's learning rate for imitation (cosine decay to 5 % of it)."""
    pg_steps: int = 300
    """Policy-gradient steps."""
    pg_batch: int = 8
    """Slots per policy-gradient step."""
    pg_samples: int = 16
    """Samples per slot (K) in policy gradient."""
    pg_learning_rate: float = 1e-4
    """Adam's learning rate for policy gradient."""
    pg_imitation_weight: float = 0.5
    """Weight of the imitation loss during policy gradient (0: pure policy gradient)."""
    dagger_rounds: int = 0
    """Rounds of DAgger (each: play ``dagger_chains`` fresh chains, label their states, imitate)."""
    dagger_chains: int = 40
    """Chains played per DAgger round."""
    dagger_steps: int = 1000
    """Imitation steps after each DAgger round."""
    validation_fraction: float = 0.05
    """Share of the label chains held out to validate (never trained on)."""
    device: str = "cpu"
    """Torch device (cpu, cuda)."""


@dataclass(eq=False)
class Example:
    """One labelled slot state, with its tokens."""

    recipe: ChainRecipe
    slot: int
    cache: Cache
    features: SlotFeatures
    label: np.ndarray  # (N,) classes
    optimum: float


@dataclass(eq=False)
class NeuralTrainResult:
    """What :func:`train_neural` returns: the trained network and its record."""

    config: NeuralConfig
    net: PolicyNet
    curve: list[dict[str, float]]
    train_seconds: float  # imitation + policy gradient + DAgger's imitation (not labelling)
    label_seconds: float  # exact solves of every label used (cached ones at their recorded cost)
    label_states: int
    extra: dict[str, Any] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        """What a checkpoint records of this run (docs/neural.md, "Shipping")."""
        return {"seed": self.config.seed, "config": self.config, "train_seconds": self.train_seconds,
                "label_seconds": self.label_seconds, "label_states": self.label_states,
                "torch": str(torch.__version__), "curve": self.curve, **self.extra}


def neural_config(**changes: Any) -> NeuralConfig:
    """The default :class:`NeuralConfig` (the shipped checkpoint's recipe) with the given changes; ``None``
    values keep the default, ``chains`` and ``keep_all_chains`` set the label plan's chain counts."""
    plan = {k: changes.pop(k) for k in ("chains", "keep_all_chains") if k in changes}
    cfg = NeuralConfig(**{k: v for k, v in changes.items() if v is not None})
    plan = {k: v for k, v in plan.items() if v is not None}
    if plan:
        cfg = dataclasses.replace(cfg, labels=dataclasses.replace(cfg.labels, **plan))
    return cfg


class _Instances:
    """Instances of label recipes, generated once each."""

    def __init__(self) -> None:
        self._made: dict[tuple, Instance] = {}

    def of(self, recipe: ChainRecipe) -> Instance:
        key = (recipe.counts, recipe.seed, recipe.scale)
        if key not in self._made or self._made[key].n_slots < recipe.slots:
            self._made[key] = recipe.instance()
        return self._made[key]


def examples_of(labels: LabelSet, instances: _Instances) -> list[Example]:
    """Tokens of every labelled state."""
    out = []
    for recipe, slot, cache, label, opt in zip(labels.recipes, labels.slots, labels.caches, labels.labels,
                                                labels.optimum, strict=True):
        inst = instances.of(recipe)
        features = slot_features(inst, inst.data[slot], inst.deadline[slot], inst.noisy[slot], cache)
        out.append(Example(recipe, slot, cache, features, np.asarray(label, np.int64), opt))
    return out


def tensors(batch: list[SlotFeatures], device: torch.device) -> tuple[torch.Tensor, ...]:
    """Stacked tokens of slots of one shape: task, gateway, edge, member, possible."""
    def stack(name: str) -> torch.Tensor:
        return torch.from_numpy(np.stack([getattr(f, name) for f in batch])).to(device)

    return (stack("task"), stack("gateway"), stack("edge"), torch.from_numpy(batch[0].device_gateway).to(device),
            stack("possible"))


class _Buckets:
    """Examples grouped by shape, drawn in proportion to their counts."""

    def __init__(self, examples: list[Example], rng: np.random.Generator) -> None:
        self.rng = rng
        self.groups: dict[tuple, list[Example]] = {}
        for ex in examples:
            self.groups.setdefault(ex.features.key, []).append(ex)
        self.keys = list(self.groups)
        sizes = np.array([len(self.groups[k]) for k in self.keys], float)
        self.weights = sizes / sizes.sum()

    def draw(self, size: int) -> list[Example]:
        group = self.groups[self.keys[int(self.rng.choice(len(self.keys), p=self.weights))]]
        picks = self.rng.choice(len(group), size=min(size, len(group)), replace=False)
        return [group[i] for i in picks]


def imitation_loss(net: PolicyNet, batch: list[Example], device: torch.device) -> tuple[torch.Tensor, float]:
    """Mean cross-entropy of every task's logits against its label, and the label accuracy."""
    logits = net(*tensors([ex.features for ex in batch], device))
    labels = torch.from_numpy(np.stack([ex.label for ex in batch])).to(device)
    loss = functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
    accuracy = float((logits.argmax(-1) == labels).float().mean())
    return loss, accuracy


def _cosine(step: int, total: int, base: float) -> float:
    return base * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1))))


def imitate(net: PolicyNet, buckets: _Buckets, steps: int, cfg: NeuralConfig, device: torch.device,
            log: Callable[[dict[str, float]], None], phase: str) -> None:
    """``steps`` minibatch steps of imitation (module docstring, step 2)."""
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    net.train()
    for step in range(steps):
        for group in optimiser.param_groups:
            group["lr"] = _cosine(step, steps, cfg.learning_rate)
        loss, accuracy = imitation_loss(net, buckets.draw(cfg.batch_size), device)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimiser.step()
        if step % 100 == 0 or step == steps - 1:
            log({"phase": phase, "step": step, "loss": float(loss.detach()), "accuracy": accuracy})


def policy_gradient(net: PolicyNet, buckets: _Buckets, instances: _Instances, cfg: NeuralConfig,
                    device: torch.device, rng: np.random.Generator, log: Callable[[dict[str, float]], None]) -> None:
    """``pg_steps`` steps of policy gradient with a shared baseline over K samples (module docstring, step 3)."""
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.pg_learning_rate)
    net.train()
    for step in range(cfg.pg_steps):
        batch = buckets.draw(cfg.pg_batch)
        logits = net(*tensors([ex.features for ex in batch], device))
        logp = functional.log_softmax(logits, -1)
        probs = logp.detach().exp().cpu().double().numpy()
        k = cfg.pg_samples
        classes, advantage, gaps = [], [], []
        for b, ex in enumerate(batch):
            inst = instances.of(ex.recipe)
            drawn = sample_classes(probs[b], k + 1, rng)[1:]  # samples only (not the argmax)
            # scored without the refill and upgrade steps (decoding steps 5 and 6, inference-time additions):
            # the shipped checkpoint was trained so, and the recipe stays what reproduces it
            scores = decode_candidates(inst, SlotTasks.of(inst, ex.slot, ex.cache), probs[b], drawn,
                                       ex.features.possible, refill_best=0, upgrade_best=False).score
            classes.append(drawn)
            advantage.append((scores - scores.mean()) / (scores.std() + 1e-4))
            gaps.append((ex.optimum - scores.max()) / ex.optimum if ex.optimum > 0 else 0.0)
        chosen = torch.gather(logp.unsqueeze(1).expand(-1, k, -1, -1), 3,
                              torch.from_numpy(np.stack(classes)).to(device).unsqueeze(-1)).squeeze(-1)  # (B, K, N)
        adv = torch.from_numpy(np.stack(advantage)).to(device, logp.dtype)
        pg = -(adv[..., None] * chosen).sum(-1).mean() / logits.shape[1]
        loss = pg
        if cfg.pg_imitation_weight > 0:
            labels = torch.from_numpy(np.stack([ex.label for ex in batch])).to(device)
            loss = loss + cfg.pg_imitation_weight * functional.nll_loss(logp.reshape(-1, 5), labels.reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimiser.step()
        if step % 20 == 0 or step == cfg.pg_steps - 1:
            log({"phase": "policy_gradient", "step": step, "loss": float(loss.detach()), "gap_best_of_k": float(np.mean(gaps))})


def probabilities(net: PolicyNet, features: SlotFeatures, device: torch.device) -> np.ndarray:
    """(N, 5) the policy's class probabilities for one slot (float64)."""
    with torch.inference_mode():
        logits = net(*tensors([features], device))[0]
        return torch.softmax(logits.double(), -1).cpu().numpy()


def rollout_states(net: PolicyNet, recipes: list[ChainRecipe], instances: _Instances, samples: int,
                   device: torch.device, rng: np.random.Generator) -> list[tuple[ChainRecipe, int, Cache]]:
    """The states the policy reaches on each recipe's chain (best of ``samples`` per slot, the recipe's keep rule)."""
    from tadp.evaluator import evaluate_slot

    net.eval()
    states = []
    for recipe in recipes:
        inst = instances.of(recipe)
        cache = inst.initial_cache
        for slot in range(recipe.slots):
            states.append((recipe, slot, cache))
            f = slot_features(inst, inst.data[slot], inst.deadline[slot], inst.noisy[slot], cache)
            probs = probabilities(net, f, device)
            cands = decode_candidates(inst, SlotTasks.of(inst, slot, cache), probs, sample_classes(probs, samples, rng), f.possible)
            outcome = evaluate_slot(inst, slot, cache, cands.decision(cands.best, recipe.keep))
            assert outcome.next_cache is not None
            cache = outcome.next_cache
    return states


def validate(net: PolicyNet, examples: list[Example], instances: _Instances, samples: int, device: torch.device,
             rng: np.random.Generator) -> dict[str, float]:
    """Mean gap to the label's optimum of the argmax and of the best of ``samples``, and label accuracy."""
    net.eval()
    gaps_one, gaps_k, hits = [], [], []
    for ex in examples:
        inst = instances.of(ex.recipe)
        probs = probabilities(net, ex.features, device)
        cands = decode_candidates(inst, SlotTasks.of(inst, ex.slot, ex.cache), probs,
                                  sample_classes(probs, samples, rng), ex.features.possible)
        opt = max(ex.optimum, 1e-12)
        gaps_one.append((ex.optimum - cands.score[0]) / opt)
        gaps_k.append((ex.optimum - cands.score.max()) / opt)
        hits.append(float((probs.argmax(1) == ex.label).mean()))
    return {"gap_argmax": float(np.mean(gaps_one)), "gap_best_of_k": float(np.mean(gaps_k)),
            "label_accuracy": float(np.mean(hits))}


def train_neural(cfg: NeuralConfig, *, on_log: Callable[[dict[str, Any]], None] | None = None) -> NeuralTrainResult:
    """The whole training recipe (module docstring). Label generation is timed apart from training."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = torch.device(cfg.device)
    curve: list[dict[str, float]] = []
    started = time.perf_counter()

    def log(row: dict[str, Any]) -> None:
        row = {**row, "seconds": time.perf_counter() - started}
        curve.append(row)
        if on_log is not None:
            on_log(row)

    # --- 1. labels (cached on disk; their cost is reported apart)
    label_started = time.perf_counter()
    labels = ensure_labels(cfg.labels, Path(cfg.label_folder))
    label_wall = time.perf_counter() - label_started
    instances = _Instances()
    examples = examples_of(labels, instances)
    held = {r for r in dict.fromkeys(ex.recipe.seed for ex in examples)
            if (r * 2654435761) % 1000 < cfg.validation_fraction * 1000}
    train_set = [ex for ex in examples if ex.recipe.seed not in held]
    valid_set = [ex for ex in examples if ex.recipe.seed in held][:120]
    net = PolicyNet(cfg.net).to(device)
    buckets = _Buckets(train_set, rng)
    train_started = time.perf_counter()
    excluded = label_wall

    # --- 2. imitation of exact optima
    imitate(net, buckets, cfg.imitation_steps, cfg, device, log, "imitation")
    if valid_set:
        log({"phase": "validation", **validate(net, valid_set, instances, cfg.pg_samples, device, rng)})
    # --- 3. DAgger: label the states the policy reaches, imitate again
    dagger_seconds = 0.0
    for round_ in range(cfg.dagger_rounds):
        plan = dataclasses.replace(cfg.labels, chains=cfg.dagger_chains, keep_all_chains=0,
                                   first_seed=cfg.labels.first_seed + cfg.labels.chains + round_ * cfg.dagger_chains)
        states = rollout_states(net, plan.recipes(), instances, cfg.pg_samples, device, rng)
        t0 = time.perf_counter()
        fresh = relabel(states, Path(cfg.label_folder) / cfg.labels.folder_name(), f"s{cfg.seed}-r{round_}",
                        cfg.labels.time_limit)
        dagger_seconds += time.perf_counter() - t0
        labels.extend(fresh)
        train_set += examples_of(fresh, instances)
        buckets = _Buckets(train_set, rng)
        imitate(net, buckets, cfg.dagger_steps, cfg, device, log, f"dagger{round_}")
    excluded += dagger_seconds
    # --- 4. policy gradient with a shared baseline over K samples
    if cfg.pg_steps:
        policy_gradient(net, buckets, instances, cfg, device, rng, log)
        if valid_set:
            log({"phase": "validation", **validate(net, valid_set, instances, cfg.pg_samples, device, rng)})
    train_seconds = time.perf_counter() - train_started - dagger_seconds
    net.eval()
    return NeuralTrainResult(cfg, net, curve, train_seconds, float(sum(labels.seconds)), len(labels),
                             {"label_wall_seconds": excluded, "validation_states": len(valid_set)})


__all__ = ["Example", "NeuralConfig", "NeuralTrainResult", "examples_of", "neural_config", "imitation_loss", "probabilities",
           "rollout_states", "tensors", "train_neural", "validate"]
