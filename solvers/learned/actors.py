"""TD3 and DDPG as registered solvers: a policy trained (or loaded) once, one inference per slot.

Each slot decision is one actor inference on the eq. (12) observation of the slot's tasks
and start cache, decoded by the paper's decoder (:mod:`tadp.decoders.dcpu`) and re-scored by the
evaluator (:func:`solvers.base.finish`); ``time_s`` is the wall time of observation,
inference and decoding.

* ``Td3Solver`` / ``DdpgSolver`` options: ``checkpoint=PATH`` loads a trained policy;
  otherwise :meth:`prepare` trains one on fresh traces of the instance with ``preset``
  (``default`` or ``paper``), ``episodes`` (default 300) of ``episode_slots`` slots (default
  the instance's trace length), ``device`` (``cpu``/``cuda``), ``critic_loss``
  (``standard``/``paper``, TD3), ``learning_starts`` (default 1000), and writes it to
  ``save_to=PATH`` when given (its learning curve beside it, as CSV).
  ``inference="int8"`` runs the actor with int8 weights on the CPU (a quarter of the memory
  traffic; actions within about 1e-3); the default ``fp32`` is the float actor.
* ``td3-fit``, ``ddpg-fit``: the same two with the ``fit`` decoder
  (:mod:`tadp.decoders.fit`: the actor picks site, level, priority and keep flags, the
  decoder sizes the shares to the deadlines) instead of the paper's DCPU. The decoder is
  part of the name, so reports never mix the two. A checkpoint records the decoder it was
  trained with and only serves a solver with that decoder.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from solvers.base import Solver, SolveResult, finish
from solvers.learned.training import curve_path, set_torch_threads, train_on_instance, write_curve
from tadp.decision import SITE_NONE
from tadp.decoders import FIELDS_PER_TASK, decode_slot
from tadp.env import OBS_PER_TASK, observe
from tadp.errors import TadpInputError
from tadp.generator import options_of
from tadp.instance import Cache, Instance


def observation(inst: Instance, slot: int, cache: Cache, opts: Any) -> np.ndarray:
    """Eq. (12) for slot ``slot`` of ``inst`` from ``cache``, scaled by generator options ``opts``."""
    return observe(opts, inst.data[slot], inst.deadline[slot], inst.noisy[slot], cache.gateway, cache.edge)


class _ScalingRanges:
    """The observation's scaling ranges (the instance's recorded generator options), per instance."""

    def __init__(self) -> None:
        self._seen: tuple[Instance, Any] | None = None

    def of(self, inst: Instance) -> Any:
        if self._seen is None or self._seen[0] is not inst:
            self._seen = (inst, options_of(inst))
        return self._seen[1]


class _ActorSolver(Solver):
    """TD3 or DDPG: a trained actor, decoded by the paper's decoder (or the ``fit`` one)."""

    algo = "td3"
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
        from solvers.learned.checkpoint import load_checkpoint, save_checkpoint

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
        if self.result.obs_dim != OBS_PER_TASK * inst.n_devices or self.result.act_dim != FIELDS_PER_TASK * inst.n_devices:
            raise TadpInputError(str(o.get("checkpoint", "policy")), "obs_dim",
                                 f"policy is for {self.result.obs_dim // OBS_PER_TASK} devices, the instance has {inst.n_devices}")
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
        action = self._policy(observation(inst, slot, cache, self._ranges.of(inst)))
        decision = decode_slot(inst, slot, action, cache, self.decoder)
        return finish(inst, slot, cache, decision, status="feasible", objective=None, bound=None, bound_kind=None,
                      started=started, info={"dropped": int((decision.site == SITE_NONE).sum())})

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


class DdpgFitSolver(DdpgSolver):
    """DDPG with the ``fit`` decoder (:mod:`tadp.fit_decoder`)."""

    name = "ddpg-fit"


__all__ = ["DdpgFitSolver", "DdpgSolver", "Td3FitSolver", "Td3Solver", "observation"]
