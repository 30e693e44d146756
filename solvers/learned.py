"""Learned solvers behind the one solver interface: TD3, DDPG (trained or loaded) and Random.

Each slot decision is one actor inference on the eq. (12) observation of the slot's tasks
and start cache, decoded by the paper's decoder (:mod:`tadp.decoder`) and re-scored by the
evaluator (:func:`solvers.base.finish`); ``time_s`` is the wall time of observation,
inference and decoding.

* ``Td3Solver`` / ``DdpgSolver`` options: ``checkpoint=PATH`` loads a trained policy;
  otherwise :meth:`prepare` trains one on fresh traces of the instance with ``preset``
  (``default`` or ``paper``), ``episodes`` (default 300) of ``episode_slots`` slots (default
  the instance's trace length), ``device`` (``cpu``/``cuda``), ``critic_loss``
  (``standard``/``paper``, TD3), ``learning_starts`` (default 1000), and writes it to
  ``save_to=PATH`` when given (its learning curve beside it, as CSV).
  ``inference="int8"`` runs the actor with int8 weights on the CPU (about 7x faster for the
  paper preset at 10x35; actions within about 1e-3); the default ``fp32`` is the float actor.
* ``RandomSolver``: uniform actions in [-1, 1]^{10N} through the decoder, drawn from
  ``(seed, slot)`` so a seed gives the same episode every time.
* ``td3-fit``, ``ddpg-fit``, ``random-fit``: the same three with the ``fit`` decoder
  (:mod:`tadp.fit_decoder`: the actor picks site, level, priority and keep flags, the
  decoder sizes the shares to the deadlines) instead of the paper's DCPU. The decoder is
  part of the name, so reports never mix the two. A checkpoint records the decoder it was
  trained with and only serves a solver with that decoder.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from solvers.base import Solver, SolveResult, finish
from tadp.decision import Decision
from tadp.decoder import FIELDS_PER_TASK, decode
from tadp.errors import TadpInputError
from tadp.fit_decoder import decode_fit
from tadp.instance import Cache, Instance

CURVE_COLUMNS = ("episode", "return", "score", "completion", "steps", "seconds", "validation")
#: Validation traces are drawn with this seed (training draws from the training seed's stream,
#: the benchmarks' held-out traces from 1,000,000 + k).
VALIDATION_SEED = 2_000_000


def curve_path(checkpoint: str | os.PathLike[str]) -> Path:
    """Where the learning curve of a checkpoint lives: ``name.curve.csv`` beside it."""
    p = Path(checkpoint)
    return p.with_name(p.stem + ".curve.csv")


def write_curve(path: str | os.PathLike[str], rows: list[dict[str, float]]) -> None:
    """One row per episode: episode, return, mean slot score, completion ratio, steps, seconds, and
    the validation score where the policy was validated (empty elsewhere)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CURVE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def set_torch_threads(threads: int | None) -> None:
    """Torch's and numpy's OpenBLAS CPU thread counts (None: the libraries' defaults). One thread by
    default: the networks are small, and several spinning threads on a busy 2-core machine made a
    2x5 training run 12 times slower (4.6 s against 55 s for 20 episodes, measured with another
    process running). OpenBLAS runs single-observation inference (:meth:`Policy.unit`)."""
    if threads is not None:
        import torch

        from tadp._blas import set_blas_threads

        torch.set_num_threads(threads)
        set_blas_threads(threads)


def validator(inst: Instance, decoder: str, horizon: int | None, n_traces: int) -> Any:
    """A function policy -> mean slot score of its deterministic episodes on ``n_traces`` fixed
    validation traces of ``inst`` (drawn with :data:`VALIDATION_SEED`), through ``decoder``."""
    from tadp.env import TadpBatchEnv

    env = TadpBatchEnv(inst, n_traces, trace="fresh", horizon=horizon, decoder=decoder)

    def validate(policy: Any) -> float:
        obs = env.reset(seed=VALIDATION_SEED)
        total = 0.0
        for _ in range(env.horizon):
            obs, _, _, _, info = env.step(policy(obs))
            total += float(np.mean(info["score"]))
        return total / env.horizon

    return validate


def train_on_instance(
    inst: Instance,
    *,
    algo: str = "td3",
    preset_name: str = "default",
    seed: int = 0,
    progress: bool = False,
    horizon: int | None = None,
    threads: int | None = 1,
    decoder: str = "dcpu",
    validation_traces: int = 20,
    **changes: Any,
) -> Any:
    """Train TD3 or DDPG on fresh traces of ``inst`` (Algorithm 1), episodes of ``horizon`` slots
    (default the instance's), through ``decoder``; ``changes`` override the preset's fields
    (episodes, device, critic_loss, learning_starts, validate_every...). With
    ``validate_every > 0`` the policy returned is the best on ``validation_traces`` fixed
    validation traces (:func:`validator`). Returns the
    :class:`~solvers.rl.td3.TrainResult`; with ``progress`` a tqdm bar shows episode, return
    and completion ratio."""
    from solvers.rl.td3 import preset, torch_device, train
    from tadp.env import TadpEnv

    cfg = preset(preset_name, algo, seed=seed, **{k: v for k, v in changes.items() if v is not None})
    torch_device(cfg.device)  # fail on a missing GPU before anything starts
    set_torch_threads(threads)
    env = TadpEnv(inst, trace="fresh", horizon=horizon, decoder=decoder)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.episodes, desc=f"{algo} {inst.name}", unit="episode")

    def on_episode(row: dict[str, float]) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix(reward=f"{row['return']:.2f}", score=f"{row['score']:.3f}",
                            completion=f"{row['completion']:.2f}")

    try:
        validate = validator(inst, decoder, horizon, validation_traces) if cfg.validate_every > 0 else None
        result = train(cfg, env, on_episode=on_episode, validate=validate)
    finally:
        if bar is not None:
            bar.close()
    result.extra.update({"instance": inst.name, "size": inst.size_label, "n_devices": inst.n_devices,
                         "preset": preset_name, "decoder": decoder,
                         "validation_traces": validation_traces if cfg.validate_every > 0 else 0})
    return result


def decode_slot(inst: Instance, slot: int, action: np.ndarray, cache: Cache, decoder: str) -> Decision:
    """An action for slot ``slot`` of ``inst`` from ``cache``, decoded by ``decoder`` (dcpu or fit)."""
    if decoder == "fit":
        return decode_fit(inst, action, cache, inst.data[slot], inst.deadline[slot])
    return decode(inst, action, cache, inst.deadline[slot])


def _observation(inst: Instance, slot: int, cache: Cache, opts: Any) -> np.ndarray:
    """Eq. (12) for slot ``slot`` of ``inst`` from ``cache``, scaled by generator options ``opts``."""
    from tadp.env import observe

    return observe(opts, inst.data[slot], inst.deadline[slot], inst.noisy[slot], cache.gateway, cache.edge)


class _ScalingRanges:
    """The observation's scaling ranges (the instance's recorded generator options), per instance."""

    def __init__(self) -> None:
        self._seen: tuple[Instance, Any] | None = None

    def of(self, inst: Instance) -> Any:
        from tadp.generator import options_of

        if self._seen is None or self._seen[0] is not inst:
            self._seen = (inst, options_of(inst))
        return self._seen[1]


class _ActorSolver(Solver):
    """TD3 or DDPG: a trained actor, decoded by the paper's decoder (or the ``fit`` one)."""

    algo = "td3"
    decoder = "dcpu"
    _OPTIONS = ("checkpoint", "episodes", "episode_slots", "preset", "device", "critic_loss", "learning_starts",
                "save_to", "inference", "threads")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        unknown = set(options) - set(self._OPTIONS)
        if unknown:
            raise TadpInputError("argument", self.name, f"unknown option(s) {', '.join(sorted(unknown))} "
                                 f"(known: {', '.join(self._OPTIONS)})")
        if options.get("inference", "fp32") not in ("fp32", "int8"):
            raise TadpInputError("argument", "inference", f"expected fp32 or int8, got {options['inference']!r}")
        self.result: Any = None
        self._policy: Any = None
        self._ranges = _ScalingRanges()

    def prepare(self, inst: Instance, *, seed: int = 0, progress: bool = False) -> dict[str, Any]:
        from solvers.rl.td3 import load_checkpoint, save_checkpoint

        o = self.options
        set_torch_threads(o.get("threads", 1))
        if o.get("checkpoint"):
            self.result = load_checkpoint(o["checkpoint"], device=o.get("device", "cpu"))
            if self.result.config.algo != self.algo:
                raise TadpInputError(str(o["checkpoint"]), "config.algo",
                                     f"checkpoint holds a {self.result.config.algo} policy, not {self.algo}")
            trained_with = self.result.extra.get("decoder", "dcpu")
            if trained_with != self.decoder:
                fit_name = f"{self.algo}-fit" if trained_with == "fit" else self.algo
                raise TadpInputError(str(o["checkpoint"]), "extra.decoder",
                                     f"policy was trained with the {trained_with!r} decoder; solve it with "
                                     f"--solver {fit_name}, not {self.name}")
            facts: dict[str, Any] = {"checkpoint": str(o["checkpoint"]), "train_seconds": self.result.seconds,
                                     "trained_on": self.result.extra.get("instance")}
        else:
            self.result = train_on_instance(
                inst, algo=self.algo, preset_name=o.get("preset", "default"), seed=seed, progress=progress,
                horizon=o.get("episode_slots"), episodes=o.get("episodes"), device=o.get("device"),
                critic_loss=o.get("critic_loss"), learning_starts=o.get("learning_starts"),
                threads=o.get("threads", 1), decoder=self.decoder,
            )
            facts = {"train_seconds": self.result.seconds}
            if o.get("save_to"):
                save_checkpoint(o["save_to"], self.result)
                write_curve(curve_path(o["save_to"]), self.result.curve)
                facts["checkpoint"] = str(o["save_to"])
                facts["curve"] = str(curve_path(o["save_to"]))
        if self.result.obs_dim != 7 * inst.n_devices or self.result.act_dim != FIELDS_PER_TASK * inst.n_devices:
            raise TadpInputError(str(o.get("checkpoint", "policy")), "obs_dim",
                                 f"policy is for {self.result.obs_dim // 7} devices, the instance has {inst.n_devices}")
        self._policy = self.result.policy.int8() if o.get("inference") == "int8" else self.result.policy
        facts.setdefault("curve", self.result.curve)
        facts.update({"algo": self.algo, "decoder": self.decoder, "critic_loss": self.result.config.critic_loss,
                      "actor_hidden": list(self.result.config.actor_hidden),
                      "critic_hidden": list(self.result.config.critic_hidden)})
        return facts

    def solve(self, inst: Instance, slot: int, cache: Cache, *, time_limit: float, seed: int = 0) -> SolveResult:
        if self.result is None:
            raise RuntimeError(f"{self.name}: call prepare() (train or load a checkpoint) before solve()")
        started = time.perf_counter()
        action = self._policy(_observation(inst, slot, cache, self._ranges.of(inst)))
        decision = decode_slot(inst, slot, action, cache, self.decoder)
        return finish(inst, slot, cache, decision, status="feasible", objective=None, bound=None, bound_kind=None,
                      started=started, info={"dropped": int((decision.site == 0).sum())})

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["decoder"] = self.decoder
        if self.result is not None:
            out["critic_loss"] = self.result.config.critic_loss
        return out


class Td3Solver(_ActorSolver):
    """TD3, the paper's proposal (Algorithm 1)."""

    name = "td3"
    algo = "td3"


class DdpgSolver(_ActorSolver):
    """DDPG, the paper's learned benchmark."""

    name = "ddpg"
    algo = "ddpg"


class Td3FitSolver(Td3Solver):
    """TD3 with the ``fit`` decoder (:mod:`tadp.fit_decoder`)."""

    name = "td3-fit"
    decoder = "fit"


class DdpgFitSolver(DdpgSolver):
    """DDPG with the ``fit`` decoder (:mod:`tadp.fit_decoder`)."""

    name = "ddpg-fit"
    decoder = "fit"


class RandomSolver(Solver):
    """Uniform actions in [-1, 1]^{10N} through the decoder (the paper's Random benchmark)."""

    name = "random"
    decoder = "dcpu"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if options:
            raise TadpInputError("argument", "random", f"takes no options, got {', '.join(sorted(options))}")

    def solve(self, inst: Instance, slot: int, cache: Cache, *, time_limit: float, seed: int = 0) -> SolveResult:
        started = time.perf_counter()
        rng = np.random.default_rng([seed, slot])
        action = rng.uniform(-1.0, 1.0, FIELDS_PER_TASK * inst.n_devices)
        decision = decode_slot(inst, slot, action, cache, self.decoder)
        return finish(inst, slot, cache, decision, status="feasible", objective=None, bound=None, bound_kind=None,
                      started=started, info={"dropped": int((decision.site == 0).sum())})

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "decoder": self.decoder}


class RandomFitSolver(RandomSolver):
    """Uniform actions through the ``fit`` decoder (:mod:`tadp.fit_decoder`)."""

    name = "random-fit"
    decoder = "fit"
