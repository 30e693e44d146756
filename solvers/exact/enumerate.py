"""Exhaustive enumeration of tiny slots: the independent check of the exact solvers (docs/exact.md, section 2).

:func:`enumerate_optimum` walks depth-first over every option (incl. none) of every task, each
assignment judged by the cache check and the oracle of :mod:`solvers.exact.oracle`. Branches are cut
only by exact arguments (an infeasible partial assignment stays infeasible when tasks are added, loads
only grow; a branch whose best conceivable value does not beat the incumbent), or not at all with
``prune=False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from solvers.exact.options import slot_options
from solvers.exact.oracle import INFEASIBLE, INFEASIBLE_TOL, UNCERTAIN, LoadCertificate, min_max_load, schedule_decision
from tadp.decision import Decision
from tadp.instance import Cache, Instance


@dataclass
class Enumeration:
    """Result of :func:`enumerate_optimum`."""

    value: float  # the slot optimum J
    chosen: np.ndarray  # option indices of one optimal assignment
    decision: Decision  # shares recovered from the oracle (keep flags off)
    checked: int  # assignments (complete or partial) judged by the oracle
    uncertain: list[float] = field(default_factory=list)  # values of knife-edge assignments (left out)


def enumerate_optimum(inst: Instance, slot: int, cache: Cache, *, prune: bool = True) -> Enumeration:
    """The exact slot optimum by walking every assignment (module doc). For tiny slots only."""
    opts = slot_options(inst, slot, cache)
    n = opts.n_tasks
    per_task = [opts.options_of(j)[np.argsort(-opts.accuracy[opts.options_of(j)], kind="stable")] for j in range(n)]
    best_rest = np.zeros(n + 1)  # best conceivable value of tasks j.. (their best options)
    for j in range(n - 1, -1, -1):
        best_rest[j] = best_rest[j + 1] + (opts.accuracy[per_task[j]].max() if len(per_task[j]) else 0.0)
    state = {"value": 0.0, "chosen": np.zeros(0, int), "checked": 0}
    uncertain: list[float] = []

    def judge(chosen: list[int], prices: np.ndarray | None) -> LoadCertificate | None:
        arr = np.array(chosen, int)
        if not opts.cache_fits(arr) or (opts.minimal_loads(arr) > 1.0 + INFEASIBLE_TOL).any():
            return None
        state["checked"] += 1
        return min_max_load(opts, arr, prices=prices, decide_only=True)

    def walk(j: int, chosen: list[int], value: float, prices: np.ndarray | None) -> None:
        if prune and value + best_rest[j] <= state["value"] + 1e-12:
            return
        if j == n:
            if not prune:
                cert = judge(chosen, None) if chosen else min_max_load(opts, np.zeros(0, int))
                if cert is None or cert.verdict == INFEASIBLE:
                    return
                if cert.verdict == UNCERTAIN:
                    uncertain.append(value / n)
                    return
            if value > state["value"]:
                state.update(value=value, chosen=np.array(chosen, int))
            return
        for o in per_task[j]:
            trial = chosen + [int(o)]
            if prune:
                cert = judge(trial, prices)
                if cert is None or cert.verdict == INFEASIBLE:
                    continue
                if cert.verdict == UNCERTAIN:
                    uncertain.append((value + opts.accuracy[o] + best_rest[j + 1]) / n)
                    continue
                walk(j + 1, trial, value + opts.accuracy[o], cert.prices)
            else:
                walk(j + 1, trial, value + opts.accuracy[o], None)
        walk(j + 1, chosen, value, prices)  # task j not served

    walk(0, [], 0.0, None)
    chosen = state["chosen"]
    decision = schedule_decision(opts, min_max_load(opts, chosen))
    return Enumeration(opts.value(chosen), chosen, decision, state["checked"], uncertain)
