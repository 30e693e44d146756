"""The registered horizon solver ``highs-horizon`` and its episode-mode solution files (docs/exact_horizon.md,
section 4).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from solvers.base import Solver, SolveResult, TraceResult, finish
from solvers.horizon.bands import solve_horizon_band
from solvers.horizon.monolithic import HorizonResult, solve_horizon
from solvers.horizon.warm import MYOPIC_SHARE, WARM_STARTS, warm_start_episode
from tadp.errors import TadpInputError
from tadp.evaluator import evaluate_episode
from tadp.instance import Cache, Instance
from tadp.solution import SlotEntry, Solution

#: Methods of :class:`HorizonSolver`: "band" (:func:`solve_horizon_band`), "monolithic" (:func:`solve_horizon`),
#: "auto" (slot bands up to :data:`BAND_MAX_TASKS` tasks per slot).
METHODS = ("auto", "band", "monolithic")
#: Most tasks per slot for which "auto" picks slot bands: phase 1 must prove each slot's MILP quickly, which
#: small slots allow and large ones do not (docs/exact_horizon.md, section 3b). When phase 1 proves fewer than
#: :data:`solvers.horizon.bands.BAND_MIN_PROVEN` of the slots, slot bands hand over to the monolithic model
#: anyway.
BAND_MAX_TASKS = 16


# ============================================================================ the registered solver
class HorizonSolver(Solver):
    """The clairvoyant horizon optimum (``highs-horizon`` in the registry).

    Its natural answer is a whole episode: :meth:`solve_horizon` (a :class:`HorizonResult`) and
    :meth:`solve_horizon_solution` (a ``tadp-solution/1`` episode). Through the per-slot interface,
    :meth:`solve` solves the horizon from ``slot`` on the given cache (to the end of the trace, or over
    ``window`` slots) and returns its first slot's decision, keep flags included: called slot after slot by
    :func:`solvers.base.solve_episode`, that is a receding-horizon policy, which replays the clairvoyant
    optimum when every solve is proven (the tail of an optimal plan is optimal for the tail problem). Its
    result claims that slot's score as objective and no per-slot bound (the horizon's bound is on the mean
    over the slots, not on one slot); the status and the horizon's objective and bound are in ``info``.

    Options: ``mip_gap`` (relative, default 1e-6), ``threads``, ``window`` (slots per :meth:`solve` call,
    default None: to the end of the trace), ``method`` (:data:`METHODS`, default "auto": slot bands,
    :func:`solve_horizon_band`, up to :data:`BAND_MAX_TASKS` tasks per slot, else the monolithic model,
    :func:`solve_horizon`), ``warm_start`` (:data:`WARM_STARTS`; default "auto": for the monolithic model
    "both", the better of the greedy and the myopic exact policies' episodes is the first incumbent, the
    myopic one taking up to :data:`MYOPIC_SHARE` of the time limit, which counts in the solve's time; for
    slot bands "greedy", and the myopic episode only once the slots' own optima prove out of reach).
    """

    name = "highs-horizon"

    def __init__(self, *, mip_gap: float = 1e-6, threads: int | None = None, window: int | None = None,
                 warm_start: str = "auto", method: str = "auto", **unknown: Any) -> None:
        if unknown:
            raise TadpInputError("argument", "highs-horizon", f"unknown option(s) {', '.join(sorted(unknown))} "
                                 "(known: mip_gap, threads, window, warm_start, method; the keep flags are part of "
                                 "the optimum)")
        if warm_start not in WARM_STARTS + ("auto",):
            raise TadpInputError("argument", "warm_start", f"unknown {warm_start!r} (known: auto, "
                                 f"{', '.join(WARM_STARTS)})")
        if method not in METHODS:
            raise TadpInputError("argument", "method", f"unknown {method!r} (known: {', '.join(METHODS)})")
        if not (isinstance(mip_gap, (int, float)) and 0 <= mip_gap < 1):
            raise TadpInputError("argument", "--mip-gap", f"must lie in [0, 1), got {mip_gap!r}")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise TadpInputError("argument", "threads", f"must be a positive integer, got {threads!r}")
        if window is not None and (not isinstance(window, int) or window < 1):
            raise TadpInputError("argument", "window", f"must be a positive integer, got {window!r}")
        super().__init__(mip_gap=float(mip_gap), threads=threads, window=window, warm_start=warm_start, method=method)
        self.mip_gap, self.threads, self.window, self.warm_start = float(mip_gap), threads, window, warm_start
        self.method = method

    def method_for(self, inst: Instance) -> str:
        """"band" or "monolithic": the method option, "auto" resolved by the number of tasks per slot."""
        if self.method != "auto":
            return self.method
        return "band" if inst.n_devices <= BAND_MAX_TASKS else "monolithic"

    def solve_horizon(self, inst: Instance, n_slots: int | None = None, *, time_limit: float, seed: int = 0,
                      first_slot: int = 0, start_cache: Cache | None = None) -> HorizonResult:
        """The clairvoyant optimum of slots ``first_slot .. first_slot + n_slots - 1`` (:func:`solve_horizon`,
        after the warm start; ``time_limit`` covers both)."""
        started = time.perf_counter()
        n = inst.n_slots - first_slot if n_slots is None else n_slots
        cache = inst.initial_cache if start_cache is None else start_cache
        if not (0 <= first_slot and n >= 1 and first_slot + n <= inst.n_slots):
            raise TadpInputError("argument", "--slots", f"slots {first_slot}..{first_slot + n - 1} not within "
                                 f"0..{inst.n_slots - 1}")
        method = self.method_for(inst)
        warm = self.warm_start if self.warm_start != "auto" else ("greedy" if method == "band" else "both")
        seed_plan = warm_start_episode(inst, n, first_slot, cache, warm, MYOPIC_SHARE * time_limit, seed)
        warm_s = time.perf_counter() - started
        limit = max(time_limit - warm_s, 0.05)
        if method == "band":
            res = solve_horizon_band(inst, n, time_limit=limit, seed=seed, first_slot=first_slot, start_cache=cache,
                                     mip_gap=self.mip_gap, threads=self.threads, incumbent=seed_plan,
                                     myopic_share=MYOPIC_SHARE if self.warm_start == "auto" else 0.0)
        else:
            res = solve_horizon(inst, n, time_limit=limit, seed=seed, first_slot=first_slot, start_cache=cache,
                                mip_gap=self.mip_gap, threads=self.threads, incumbent=seed_plan)
        res.time_s = time.perf_counter() - started
        res.info["trace"] = [(t + warm_s, value, bound) for t, value, bound in res.info.get("trace", [])]
        res.info["method"] = method
        res.info["warm_start"] = warm
        res.info["warm_start_s"] = warm_s
        if seed_plan is not None:
            res.info["warm_start_score"] = float(np.mean([o.score for o in evaluate_episode(inst, seed_plan, cache,
                                                                                              first_slot)]))
        return res

    def solve_horizon_solution(self, inst: Instance, n_slots: int | None = None, *, time_limit: float,
                               seed: int = 0) -> tuple[Solution, HorizonResult]:
        """Slots 0 .. n_slots-1 as an episode-mode solution (:func:`horizon_solution`) and the result."""
        result = self.solve_horizon(inst, n_slots, time_limit=time_limit, seed=seed)
        return horizon_solution(inst, result, self.describe()), result

    def solve_trace(self, inst: Instance, n_slots: int, *, time_limit: float, seed: int = 0,
                    on_slot: Callable[[int, SolveResult], None] | None = None) -> TraceResult:
        """The clairvoyant optimum of slots 0..n_slots-1 as one episode (``time_limit`` for the whole
        horizon; ``on_slot`` is not called: the slots are decided together)."""
        solution, result = self.solve_horizon_solution(inst, n_slots, time_limit=time_limit, seed=seed)
        errors = [f"episode: error: {result.info.get('error')}"] if result.status == "error" else []
        return TraceResult(solution, list(result.slot_scores), result.status, result.bound, result.time_s, errors)

    def solve(self, inst: Instance, slot: int, cache: Cache, *, time_limit: float, seed: int = 0) -> SolveResult:
        started = time.perf_counter()
        n = inst.n_slots - slot if self.window is None else min(self.window, inst.n_slots - slot)
        res = self.solve_horizon(inst, n, time_limit=time_limit, seed=seed, first_slot=slot, start_cache=cache)
        info = {"horizon_slots": n, "horizon_objective": res.objective, "horizon_bound": res.bound,
                "horizon_status": res.status, **{k: v for k, v in res.info.items() if k != "trace"}}
        return finish(inst, slot, cache, res.decisions[0], status=res.status, objective=res.slot_objectives[0],
                      bound=None, bound_kind=None, started=started, info=info)


def horizon_solution(inst: Instance, result: HorizonResult, solver: dict[str, Any] | None = None) -> Solution:
    """A horizon result as a ``tadp-solution/1`` episode (slots 0 .. n-1 from the initial cache): per slot
    the claim ``objective`` = that slot's score (no per-slot bound), ``status`` = the horizon's and
    ``time_s`` = the solve's time spread evenly; the episode's objective, bound, status and time under
    ``solver["episode"]``."""
    if result.first_slot != 0:
        raise ValueError("an episode solution starts at slot 0")
    n = len(result.decisions)
    record = dict(solver or {"name": HorizonSolver.name, "options": {}})
    record["episode"] = {"slots": n, "objective": result.objective, "bound": result.bound, "status": result.status,
                         "time_s": result.time_s, "gap": result.gap}
    claims = result.slot_objectives or result.slot_scores
    entries = [SlotEntry(slot=t, decision=d, claimed={"objective": claim, "status": result.status,
                                                      "time_s": result.time_s / n})
               for t, (d, claim) in enumerate(zip(result.decisions, claims, strict=True))]
    return Solution(instance=inst.name, solver=record, mode="episode", slots=entries)


def solve_horizon_solution(inst: Instance, n_slots: int | None = None, *, time_limit: float, seed: int = 0,
                           **options: Any) -> tuple[Solution, HorizonResult]:
    """``tadp-bench solve INSTANCE --solver highs-horizon [--slots N]``: the clairvoyant optimum of slots
    0 .. n_slots-1 as an episode-mode solution (and the result); ``options`` as :class:`HorizonSolver`'s."""
    return HorizonSolver(**options).solve_horizon_solution(inst, n_slots, time_limit=time_limit, seed=seed)


__all__ = ["BAND_MAX_TASKS", "METHODS", "HorizonSolver", "horizon_solution", "solve_horizon_solution"]
