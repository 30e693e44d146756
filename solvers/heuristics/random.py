"""The paper's Random scheme (Section V-A): uniform actions through a decoder.

``random`` sends actions drawn uniformly from [-1, 1]^{10N} through the paper's DCPU decoder;
``random-fit`` through this project's ``fit`` decoder (:mod:`tadp.decoders.fit`). Actions are drawn
from ``(seed, slot)``, so a seed gives the same episode every time.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from solvers.base import Solver, SolveResult, finish
from tadp.decision import SITE_NONE
from tadp.decoders import FIELDS_PER_TASK, decode_slot
from tadp.errors import TadpInputError
from tadp.instance import Cache, Instance


class RandomSolver(Solver):
    """Uniform actions in [-1, 1]^{10N} through the decoder (the paper's Random benchmark)."""

    name = "random"

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
                      started=started, info={"dropped": int((decision.site == SITE_NONE).sum())})

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "decoder": self.decoder}


class RandomFitSolver(RandomSolver):
    """Uniform actions through the ``fit`` decoder (:mod:`tadp.decoders.fit`)."""

    name = "random-fit"


__all__ = ["RandomFitSolver", "RandomSolver"]
