"""Warm starts of the horizon solvers: a fast policy's episode as the first incumbent (docs/exact_horizon.md,
section 4).
"""

from __future__ import annotations

import time

import numpy as np

from solvers.base import Solver
from tadp.decision import Decision
from tadp.errors import TadpInputError
from tadp.evaluator import evaluate_episode
from tadp.instance import Cache, Instance

#: Warm starts of :class:`solvers.horizon.solver.HorizonSolver`: the episode of a fast policy as first incumbent.
WARM_STARTS = ("none", "greedy", "myopic", "both")
#: Share of the time limit the myopic warm start may take (spread evenly over the slots).
MYOPIC_SHARE = 0.1


def extend_episode(inst: Instance, plan: list[Decision], length: int, first_slot: int, cache: Cache, policy: Solver,
                   *, time_limit: float = 1.0, seed: int = 0) -> list[Decision]:
    """``plan`` (decisions of slots ``first_slot ..``, from ``cache``) extended to ``length`` slots by
    ``policy``, each slot from the cache the previous one leaves, within about ``time_limit`` seconds in all
    (each slot an even share of the time left, so what a slot leaves goes to the later ones, and 0.05 s at
    least: a hard first slot must not take the whole budget from the later ones)."""
    started = time.perf_counter()
    plan = list(plan[:length])
    outcomes = evaluate_episode(inst, plan, cache, first_slot) if plan else []
    current = outcomes[-1].next_cache if outcomes else cache
    for t in range(first_slot + len(plan), first_slot + length):
        assert current is not None
        later = first_slot + length - 1 - t
        limit = max((time_limit - (time.perf_counter() - started)) / (later + 1), 0.05)
        res = policy.solve(inst, t, current, time_limit=limit, seed=seed)
        plan.append(res.decision)
        current = res.outcome.next_cache
    return plan


def warm_start_episode(inst: Instance, n_slots: int, first_slot: int, cache: Cache, kind: str, time_limit: float,
                       seed: int = 0) -> list[Decision] | None:
    """The episode of ``kind`` (:data:`WARM_STARTS`; "both": the better of the two by the evaluator's
    score) over the horizon; the myopic exact policy (``highs``, keep rule used) gets ``time_limit`` seconds
    in all. None for "none"."""
    from solvers.exact.highs import PyomoSolver
    from solvers.heuristics.greedy import GreedySolver

    if kind not in WARM_STARTS:
        raise TadpInputError("argument", "warm_start", f"unknown {kind!r} (known: {', '.join(WARM_STARTS)})")
    episodes = []
    if kind in ("greedy", "both"):
        episodes.append(extend_episode(inst, [], n_slots, first_slot, cache, GreedySolver(), seed=seed))
    if kind in ("myopic", "both"):
        episodes.append(extend_episode(inst, [], n_slots, first_slot, cache, PyomoSolver(), time_limit=time_limit,
                                       seed=seed))
    if not episodes:
        return None
    return max(episodes, key=lambda e: float(np.mean([o.score for o in evaluate_episode(inst, e, cache, first_slot)])))


__all__ = ["MYOPIC_SHARE", "WARM_STARTS", "extend_episode", "warm_start_episode"]
