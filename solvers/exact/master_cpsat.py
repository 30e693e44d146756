"""The MILP master of :class:`solvers.exact.direct.DirectModel` solved by CP-SAT instead of HiGHS (docs/exact.md,
section 4).

The master is a pure 0/1 program: the rows of :func:`solvers.exact.direct.model_rows` (GUB rows, the caches in
units of capacity, the single-pool cuts), the resource cuts and no-good cuts met so far, all ``<=``. On slots
with several gateways and a few dozen tasks it is a multiple-choice multi-dimensional knapsack whose proof is
all branching (docs/exact.md, section 6: 4x10 scarce); CP-SAT, with its clause learning and, at
``linearization_level`` 2, its cuts, proves such masters in about half HiGHS's time (docs/measurements.md,
session 23).

CP-SAT takes integer coefficients only. Every row is multiplied by :data:`ROW_SCALE` and rounded *outward*:
coefficients down, the right side up, so that every 0/1 point that satisfies the row satisfies its scaled
version (a relaxation; an assignment admitted only by the rounding is judged by the oracle like any other,
and cut off or excluded). The objective is multiplied by :data:`OBJECTIVE_SCALE` and rounded to the nearest;
a choice serves each task at most once (the ``one_site`` rows), so the rounding moves the value of any point
by at most ``n_tasks / 2`` units, which the reported bound adds back. The bound is therefore a valid bound on
the master, and the master a relaxation of the slot problem, as with HiGHS.

What the search needs of a MILP solve is kept: a start (CP-SAT's solution hint), a callback on every
incumbent that may stop the solve (``interrupted``), the solution, the bound and a node count (CP-SAT's
branches).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from solvers.exact.direct import MipRun

#: Rows are scaled by this and rounded outward (module doc).
ROW_SCALE = 10**6
#: The objective (eq. 11, accuracies / N) is scaled by this and rounded to the nearest integer.
OBJECTIVE_SCALE = 10**9
#: CP-SAT's linear relaxation at level 2 (all constraints in the LP, with its cuts): on the 4x10 scarce masters
#: 8.9 s and 12.5 s against 6.8 s and 19.2 s at the default level 1 (docs/measurements.md, session 23).
LINEARIZATION_LEVEL = 2


def scaled_row(columns: np.ndarray, coefs: np.ndarray, upper: float) -> tuple[list[int], list[int], int]:
    """The row ``sum coefs * x[columns] <= upper`` in integers, rounded outward (a relaxation on 0/1 points):
    the columns and coefficients kept (those that round to 0 dropped) and the right side."""
    scaled = np.floor(np.asarray(coefs, float) * ROW_SCALE).astype(np.int64)
    keep = scaled != 0
    return (np.asarray(columns, np.int64)[keep].tolist(), scaled[keep].tolist(),
            int(math.ceil(float(upper) * ROW_SCALE)))


def solve_master(rows: Sequence[Any], costs: np.ndarray, n_tasks: int, *, time_limit: float, mip_gap: float,
                 start: np.ndarray | None, on_incumbent: Callable[[np.ndarray], bool] | None,
                 lower: np.ndarray | None = None, upper: np.ndarray | None = None, threads: int | None = None,
                 seed: int = 0) -> MipRun:
    """Maximise ``costs @ x`` over 0/1 ``x`` (column bounds ``lower``/``upper``) subject to ``rows`` (objects
    with ``columns``, ``coefs``, ``upper``), by CP-SAT within ``time_limit`` s, as
    :meth:`solvers.exact.direct.DirectModel.solve` reports a MILP: status (``optimal``, ``time_limit``,
    ``interrupted``, ``infeasible``, ``error``), objective, bound, values, CP-SAT's branches as nodes, and every
    incumbent met."""
    n = len(costs)
    lower = np.zeros(n) if lower is None else np.asarray(lower, float)
    upper = np.ones(n) if upper is None else np.asarray(upper, float)
    model = cp_model.CpModel()
    x = [model.new_int_var(int(round(lower[j])), int(round(upper[j])), f"x{j}") for j in range(n)]
    for row in rows:
        columns, coefs, rhs = scaled_row(row.columns, row.coefs, row.upper)
        if columns:
            model.add(cp_model.LinearExpr.weighted_sum([x[j] for j in columns], coefs) <= rhs)
    objective = np.rint(np.asarray(costs, float) * OBJECTIVE_SCALE).astype(np.int64)
    model.maximize(cp_model.LinearExpr.weighted_sum(x, objective.tolist()))
    if start is not None:
        for j in range(n):
            model.add_hint(x[j], int(start[j] > 0.5))
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = threads or 1
    params.max_time_in_seconds = max(float(time_limit), 1e-3)
    params.relative_gap_limit = float(mip_gap)
    params.random_seed = int(seed)
    params.linearization_level = LINEARIZATION_LEVEL
    watcher = _Incumbents(x, on_incumbent)
    code = solver.solve(model, watcher)
    values = None
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        values = np.array([solver.value(v) for v in x], float)
    status = "interrupted" if watcher.stopped else _STATUS.get(code, "error")
    bound = None
    if status in ("optimal", "time_limit") and math.isfinite(solver.best_objective_bound):
        bound = (solver.best_objective_bound + n_tasks / 2) / OBJECTIVE_SCALE
    objective_value = float(np.asarray(costs, float) @ values) if values is not None else None
    return MipRun(status, objective_value, bound, values, int(solver.num_branches), watcher.found)


#: CP-SAT's answers as :class:`solvers.exact.direct.MipRun` statuses (UNKNOWN: the time ran out before any
#: solution; MODEL_INVALID and anything else: an error).
_STATUS = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "time_limit", cp_model.UNKNOWN: "time_limit",
           cp_model.INFEASIBLE: "infeasible"}


class _Incumbents(cp_model.CpSolverSolutionCallback):
    """Every solution CP-SAT meets, passed to ``on_incumbent``; a False from it stops the solve."""

    def __init__(self, x: list[Any], on_incumbent: Callable[[np.ndarray], bool] | None) -> None:
        super().__init__()
        self.x, self.on_incumbent = x, on_incumbent
        self.found: list[np.ndarray] = []
        self.stopped = False

    def on_solution_callback(self) -> None:
        values = np.array([self.value(v) for v in self.x], float)
        self.found.append(values)
        if self.on_incumbent is not None and not self.on_incumbent(values):
            self.stopped = True
            self.stop_search()


__all__ = ["LINEARIZATION_LEVEL", "OBJECTIVE_SCALE", "ROW_SCALE", "scaled_row", "solve_master"]
