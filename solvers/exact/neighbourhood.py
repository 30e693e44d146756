"""Large neighbourhood search for large slots: re-solve a few gateways at a time (docs/exact.md, section 4).

On slots of hundreds of tasks the MILP's bound stays at its root value while its incumbents creep up
(docs/exact.md, section 6). From the best true incumbent, :func:`improve` repeatedly frees some tasks (every
option of theirs) and keeps every other task at its incumbent option: in turn, the tasks of a few gateways
(their caches and the edge's in play), and the tasks served at the edge with those of one gateway (the edge's
cache, band and compute are shared by all gateways: the first kind cannot trade them between gateways far
apart). It solves that sub-MILP of the model (the same rows and cuts, other columns
fixed) for a few seconds, its incumbents judged by the oracle as in the main loop and its rejected ones
cut off. Every cut and no-good cut it adds is valid for the whole slot; its bounds, which bound only the
neighbourhood, are never used.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from solvers.exact.direct import time_left
from solvers.exact.options import SlotOptions
from tadp.decision import SITE_EDGE
from tadp.instance import Instance

#: About this many tasks are freed at once (whole gateways; docs/measurements.md compares sizes).
FREE_TASKS = 70
#: Seconds per sub-MILP (gateways; edge tasks and a gateway), and rounds of cuts per neighbourhood.
SUB_LIMIT = 3.0
EDGE_SUB_LIMIT = 5.0
SUB_ROUNDS = 5
#: Gap asked of a sub-MILP (it bounds nothing; it only needs to find the neighbourhood's best).
SUB_GAP = 1e-9


def improve(search: Any, inst: Instance, until: float, seed: int = 0) -> dict[str, Any]:
    """Neighbourhood rounds (module doc) until ``until`` (``time.perf_counter``); counters for ``info``."""
    opts: SlotOptions = search.opts
    model = search.model
    started, rounds, improved = time.perf_counter(), 0, 0
    rng = np.random.default_rng(seed)
    gateway_of_option = inst.device_gateway[opts.task]
    per_gateway = max(1.0, opts.n_tasks / max(opts.n_gateways, 1))
    group = int(min(opts.n_gateways, max(1, round(FREE_TASKS / per_gateway))))
    try:
        while time_left(until) > 0.05 and search.best.certificates and not search.proven():
            chosen = search.best.certificates[0].chosen
            edge_turn = rounds % 2 == 0
            if edge_turn:
                at_edge = np.zeros(opts.n_tasks, bool)
                at_edge[opts.task[chosen[opts.site[chosen] == SITE_EDGE]]] = True
                free = at_edge[opts.task] | (gateway_of_option == rng.integers(opts.n_gateways))
            else:
                free = np.isin(gateway_of_option, rng.choice(opts.n_gateways, size=group, replace=False))
            limit = EDGE_SUB_LIMIT if edge_turn else SUB_LIMIT
            x = np.zeros(model.n_cols)
            x[chosen] = 1.0
            before = search.best.value
            model.fix(np.where(free, 0.0, x), np.where(free, 1.0, x))
            for _ in range(SUB_ROUNDS):
                run = model.solve(min(limit, time_left(until)), SUB_GAP, start=x, on_incumbent=search._on_incumbent)
                if run.values is not None:
                    search.judge(np.flatnonzero(run.values > 0.5))
                news = len(search.pending) + len(search.excluded)
                search.flush()
                if run.status != "interrupted" and news == 0 or time_left(until) <= 0.05:
                    break
            rounds += 1
            improved += search.best.value > before
    finally:  # the whole model again, whatever happens: a bound of a restricted model would be no bound
        model.fix(np.zeros(model.n_cols), np.ones(model.n_cols))
    return {"rounds": rounds, "improved": improved, "seconds": time.perf_counter() - started}


__all__ = ["EDGE_SUB_LIMIT", "FREE_TASKS", "SUB_GAP", "SUB_LIMIT", "SUB_ROUNDS", "improve"]
