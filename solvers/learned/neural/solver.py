"""The ``neural`` solver: the pretrained per-task policy, K candidates decoded with exact sizing, the
evaluator's best (docs/neural.md).

Per slot: the tokens of the slot (:mod:`.features`), one pass of the network (:mod:`.network`) for every
task's distribution over drop and the four options, K candidates (the argmax and K - 1 samples, drawn
from ``(seed, slot)``), each decoded into a feasible decision (:mod:`.decoding`), and the one the
evaluator scores best, with keep flags by the keep rule (``used``). ``time_s`` covers all of it.

Options: ``checkpoint`` (default the shipped one, :data:`.checkpoint.SHIPPED`), ``samples`` (K, default
16), ``temperature`` (of the K - 1 samples, default 2: docs/neural.md), ``keep`` (keep rule: used, all, none), ``device`` (cpu, cuda), ``threads`` (torch and BLAS threads,
default 1), ``repair``, ``refill`` and ``upgrade`` (default True; False skips decoding step 3, 5 or 6, for the
ablation).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import torch

from solvers.base import KEEP_RULES, Solver, SolveResult, finish
from solvers.learned.neural.checkpoint import NeuralCheckpoint, load_neural
from solvers.learned.neural.decoding import SlotTasks, decode_candidates, sample_classes
from solvers.learned.neural.features import SlotFeatures, slot_features
from solvers.learned.neural.training import tensors
from tadp.decision import SITE_NONE
from tadp.errors import TadpInputError
from tadp.instance import Cache, Instance

#: Traced networks kept per solver (one per slot shape: devices, gateways).
_TRACED_SHAPES = 8
#: Runs of a freshly traced network in ``prepare``, so that no slot pays for TorchScript's first runs.
_WARM_RUNS = 3

_OPTIONS = ("checkpoint", "samples", "temperature", "keep", "device", "threads", "repair", "refill", "upgrade")


class NeuralSolver(Solver):
    """The pretrained neural policy with exact sizing and best-of-K candidates (module docstring)."""

    name = "neural"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        unknown = set(options) - set(_OPTIONS)
        if unknown:
            raise TadpInputError("argument", self.name, f"unknown option(s) {', '.join(sorted(unknown))} "
                                 f"(known: {', '.join(_OPTIONS)})")
        samples = options.get("samples", 16)
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise TadpInputError("argument", "--samples", f"must be a positive integer, got {samples!r}")
        self.samples = samples
        self.temperature = float(options.get("temperature", 2.0))
        if not self.temperature > 0:
            raise TadpInputError("argument", "temperature", f"must be > 0, got {self.temperature!r}")
        self.keep = str(options.get("keep", "used"))
        if self.keep not in KEEP_RULES:
            raise TadpInputError("argument", "--keep", f"unknown keep rule {self.keep!r}")
        self.device = torch.device(str(options.get("device", "cpu")))
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise TadpInputError("argument", "--device", "cuda requested but no GPU is available")
        self.repair = bool(options.get("repair", True))
        self.refill = bool(options.get("refill", True))
        self.upgrade = bool(options.get("upgrade", True))
        self.model: NeuralCheckpoint | None = None
        self._traced: dict[tuple[int, ...], torch.jit.ScriptModule] = {}

    def prepare(self, inst: Instance, *, seed: int = 0, progress: bool = False) -> dict[str, Any]:
        from solvers.learned.training import set_torch_threads

        set_torch_threads(self.options.get("threads", 1))
        if self.model is None:
            self.model = load_neural(self.options.get("checkpoint"), device=str(self.device))
        if inst.n_slots:  # trace the network for this instance's shape; TorchScript optimises on its first runs
            warm = slot_features(inst, inst.data[0], inst.deadline[0], inst.noisy[0], inst.initial_cache)
            for _ in range(_WARM_RUNS):
                self.probabilities(warm)
            self.solve(inst, 0, inst.initial_cache, time_limit=0.0, seed=seed)  # loads the compiled decoder
        prov = self.model.provenance
        return {"checkpoint": self.model.source, "train_seconds": float(prov.get("train_seconds", 0.0)),
                "label_seconds": float(prov.get("label_seconds", 0.0)), "samples": self.samples}

    def solve(self, inst: Instance, slot: int, cache: Cache, *, time_limit: float, seed: int = 0) -> SolveResult:
        if self.model is None:
            self.prepare(inst, seed=seed)
        assert self.model is not None
        started = time.perf_counter()
        features = slot_features(inst, inst.data[slot], inst.deadline[slot], inst.noisy[slot], cache)
        probs = self.probabilities(features)
        rng = np.random.default_rng([seed, slot])
        tempered = probs if self.temperature == 1.0 else probs ** (1.0 / self.temperature)
        cands = decode_candidates(inst, SlotTasks.of(inst, slot, cache), probs,
                                  sample_classes(tempered / tempered.sum(1, keepdims=True), self.samples, rng),
                                  features.possible,
                                  repair_first=self.repair, refill_best=None if self.refill else 0,
                                  upgrade_best=self.upgrade)
        best = cands.best
        decision = cands.decision(best, self.keep)
        info = {"candidate": best, "candidates": self.samples, "argmax_score": float(cands.score[0]),
                "dropped": int((decision.site == SITE_NONE).sum())}
        return finish(inst, slot, cache, decision, status="feasible", objective=None, bound=None, bound_kind=None,
                      started=started, info=info)

    def probabilities(self, features: SlotFeatures) -> np.ndarray:
        """(N, 5) class probabilities (float64) from the network traced and frozen for this slot shape
        (the same weights and the same numbers as the eager network, with less overhead per call)."""
        assert self.model is not None
        x = tensors([features], self.device)
        key = tuple(features.task.shape) + tuple(features.gateway.shape)
        with torch.inference_mode():
            net = self._traced.get(key)
            if net is None:
                if len(self._traced) >= _TRACED_SHAPES:
                    self._traced.pop(next(iter(self._traced)))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent Python values
                    net = torch.jit.freeze(torch.jit.trace(self.model.net.eval(), x, check_trace=False))
                self._traced[key] = net
            return torch.softmax(net(*x)[0].double(), -1).cpu().numpy()

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.model is not None:
            out["checkpoint"] = self.model.source
            out["trained"] = {k: self.model.provenance.get(k) for k in ("seed", "commit", "train_seconds")}
        return out


__all__ = ["NeuralSolver"]
