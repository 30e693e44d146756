"""The projected slot model built directly in HiGHS (docs/exact.md, section 4).

:func:`solvers.exact.model.build_model` writes the slot's MILP as a readable Pyomo model (for export
and for any Pyomo MIP solver). The fast solve path builds *the same rows* straight from the options'
arrays through ``highspy``: :func:`model_rows` lists them in the Pyomo model's order (the test
``tests/solvers/exact/test_direct.py`` holds the two models equal), and :class:`DirectModel` holds them
in one ``highspy.Highs`` object that is solved again and again as cuts arrive, as an LP (binaries
relaxed) or as a MILP, with a MIP start and a callback on every incumbent HiGHS meets. It keeps its rows in
Python too (:attr:`DirectModel.rows`), so that its MILP can go to CP-SAT instead
(:mod:`solvers.exact.master_cpsat`, :attr:`DirectModel.master`).

Rows (all ``<=``; columns are the binaries ``choose[o]``, objective eq. (11) ``sum_o U_o / N choose[o]``):
``one_site[j]`` (C2), ``one_model[j, site]`` (C3), ``gateway_cache[i]``, ``edge_cache`` (C6, in units of
capacity), ``uplink_band[i]``, ``bs_band``, ``gateway_compute[i]``, ``edge_compute`` (the single-pool
resource cuts), then the resource cuts and no-good cuts as they are added.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from solvers.exact.backends import HIGHS_SAFETY_OPTIONS, MIP_FEASIBILITY_TOL, reset_highs_scheduler, use_highs_threads
from solvers.exact.oa import RESOURCE_COEF_MIN
from solvers.exact.options import SlotOptions
from solvers.exact.oracle import option_costs
from tadp.decision import SITE_EDGE, SITE_GATEWAY
from tadp.instance import Instance


@dataclass(frozen=True, eq=False)
class Row:
    """One ``<=`` row of the slot model: ``sum_k coefs[k] * choose[columns[k]] <= upper``."""

    name: str
    columns: np.ndarray
    coefs: np.ndarray
    upper: float


def resource_row(opts: SlotOptions, prices: np.ndarray, name: str) -> Row | None:
    """The resource cut of ``prices`` (normalised to sum 1) as a row, or None when no option has a cost
    (the cut of :func:`solvers.exact.oa.resource_cut`)."""
    prices = np.asarray(prices, float)
    costs = option_costs(opts, prices / prices.sum())
    used = np.flatnonzero(costs > RESOURCE_COEF_MIN)
    return Row(name, used, costs[used], 1.0) if len(used) else None


def model_rows(inst: Instance, opts: SlotOptions) -> list[Row]:
    """The rows of the projected model before any cut, in :func:`solvers.exact.model.build_model`'s order."""
    rows = []
    served = np.unique(opts.task)
    by_task = {int(j): np.flatnonzero(opts.task == j) for j in served}
    for j in served:
        rows.append(Row(f"one_site[{j}]", by_task[int(j)], np.ones(len(by_task[int(j)])), 1.0))
    for j in served:
        for site in (SITE_GATEWAY, SITE_EDGE):
            cols = by_task[int(j)][opts.site[by_task[int(j)]] == site]
            if len(cols):
                rows.append(Row(f"one_model[{j},{site}]", cols, np.ones(len(cols)), 1.0))
    capacity = np.append(inst.gateway_cache, inst.edge_cache)
    g_count = opts.n_gateways
    for node in range(g_count + 1):
        cols = np.flatnonzero(opts.places & (opts.cache_pool == node))
        if len(cols):
            name = f"gateway_cache[{node}]" if node < g_count else "edge_cache"
            rows.append(Row(name, cols, opts.model_bits[cols] / capacity[node],
                            float(opts.cache_free[node] / capacity[node])))
    pools = opts.pools
    single = [(f"uplink_band[{i}]", int(pools.band[i])) for i in range(g_count)] + [("bs_band", pools.bs)]
    single += [(f"gateway_compute[{i}]", int(pools.compute[i])) for i in range(g_count)]
    single += [("edge_compute", pools.edge_compute)]
    for name, pool in single:
        prices = np.zeros(opts.n_pools)
        prices[pool] = 1.0
        row = resource_row(opts, prices, name)
        if row is not None:
            rows.append(row)
    return rows


@dataclass(eq=False)
class MipRun:
    """What one LP or MILP solve of a :class:`DirectModel` gives back."""

    status: str  # "optimal", "time_limit", "interrupted", "infeasible", "error"
    objective: float | None
    bound: float | None  # a valid bound on the model's optimum (the LP value, the MILP's dual bound)
    values: np.ndarray | None  # the choose values of the returned solution
    nodes: int = 0
    incumbents: list[np.ndarray] = field(default_factory=list)  # every incumbent met (0/1 vectors)


class DirectModel:
    """The projected slot model in one ``highspy.Highs`` object (module doc)."""

    def __init__(self, inst: Instance, opts: SlotOptions, *, threads: int | None, seed: int) -> None:
        import highspy

        self.opts = opts
        self.threads = threads
        self.n_cols = opts.n_options
        self.cut_prices: list[np.ndarray] = []
        self.no_goods = 0
        self.highs = h = highspy.Highs()
        use_highs_threads(threads)
        h.silent()
        options = {"random_seed": seed, "mip_abs_gap": 0.0, **HIGHS_SAFETY_OPTIONS,
                   "mip_feasibility_tolerance": MIP_FEASIBILITY_TOL, "primal_feasibility_tolerance": MIP_FEASIBILITY_TOL}
        if threads is not None:
            options["threads"] = threads
        for key, value in options.items():
            h.setOptionValue(key, value)
        rows = model_rows(inst, opts)
        self.row_names = [r.name for r in rows]  # the first rows' names (cuts follow)
        self.rows = list(rows)  # every row, cuts included (for the CP-SAT master)
        self.seed = seed
        self.master = "highs"  # the MILP's solver: "highs", or "cpsat" (:mod:`solvers.exact.master_cpsat`)
        self._lower, self._upper = np.zeros(self.n_cols), np.ones(self.n_cols)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n_cols, len(rows)
        lp.col_cost_ = opts.accuracy / opts.n_tasks
        lp.col_lower_, lp.col_upper_ = np.zeros(self.n_cols), np.ones(self.n_cols)
        lp.row_lower_ = np.full(len(rows), -highspy.kHighsInf)
        lp.row_upper_ = np.array([r.upper for r in rows])
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self.n_cols, len(rows)
        lp.a_matrix_.start_ = np.cumsum([0] + [len(r.columns) for r in rows]).astype(np.int32)
        lp.a_matrix_.index_ = np.concatenate([r.columns for r in rows]).astype(np.int32) if rows else []
        lp.a_matrix_.value_ = np.concatenate([r.coefs for r in rows]) if rows else []
        lp.integrality_ = [highspy.HighsVarType.kInteger] * self.n_cols
        h.passModel(lp)
        self._columns = np.arange(self.n_cols, dtype=np.int32)
        self._integer = True
        self._found: list[np.ndarray] = []
        self._on_incumbent: Callable[[np.ndarray], bool] | None = None
        self._stop = False
        self.costs = np.asarray(lp.col_cost_, float)
        self.use_starts = True  # MIP starts, until HiGHS mishandles one (:meth:`solve`)
        self.presolve = True  # off only for the retry of a MILP that HiGHS's presolve broke (:meth:`solve`)
        self.presolve_retries = 0
        h.cbMipImprovingSolution.subscribe(self._incumbent)
        h.cbMipInterrupt.subscribe(self._interrupt)

    # ---------------------------------------------------------------- rows
    def add_row(self, row: Row) -> None:
        import highspy

        self.highs.addRow(-highspy.kHighsInf, row.upper, len(row.columns), row.columns.astype(np.int32),
                          row.coefs.astype(float))
        self.rows.append(row)

    def add_cut(self, prices: np.ndarray) -> bool:
        """Add the resource cut of ``prices``; False when no option has a cost (nothing added)."""
        row = resource_row(self.opts, prices, f"resource_cuts[{len(self.cut_prices) + 1}]")
        if row is None:
            return False
        self.add_row(row)
        self.cut_prices.append(np.asarray(prices, float) / float(np.sum(prices)))
        return True

    def add_no_good(self, chosen: np.ndarray) -> None:
        """Exclude exactly the assignment ``chosen`` (option indices): ``sum_{picked} x - sum_{others} x <=
        |picked| - 1``, the no-good cut of :func:`solvers.exact.oa.no_good` written as a ``<=`` row."""
        picked = np.zeros(self.n_cols, bool)
        picked[np.asarray(chosen, int)] = True
        self.add_row(Row("excluded", self._columns, np.where(picked, 1.0, -1.0), float(picked.sum()) - 1.0))
        self.no_goods += 1

    # ---------------------------------------------------------------- solves
    def set_integrality(self, integer: bool) -> None:
        import highspy

        if integer != self._integer:
            kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
            self.highs.changeColsIntegrality(self.n_cols, self._columns, np.array([kind] * self.n_cols))
            self._integer = integer

    def fix(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Column bounds (a sub-MIP fixes columns; ``fix(0, 1)`` frees them all again)."""
        self._lower = np.broadcast_to(np.asarray(lower, float), (self.n_cols,)).copy()
        self._upper = np.broadcast_to(np.asarray(upper, float), (self.n_cols,)).copy()
        self.highs.changeColsBounds(self.n_cols, self._columns, self._lower, self._upper)

    def _incumbent(self, event: object) -> None:
        sol = np.asarray(event.data_out.mip_solution)[: self.n_cols].copy()
        self._found.append(sol)
        if self._on_incumbent is not None and not self._on_incumbent(sol):
            self._stop = True

    def _interrupt(self, event: object) -> None:
        event.interrupt(self._stop)  # set both ways: HiGHS keeps the flag from one run to the next

    def solve(self, time_limit: float, mip_gap: float = 0.0, *, start: np.ndarray | None = None,
              on_incumbent: Callable[[np.ndarray], bool] | None = None, node_limit: int | None = None,
              rescheduled: bool = False) -> MipRun:
        """Solve as it stands (LP or MILP, :meth:`set_integrality`) within ``time_limit`` s. ``start``: a 0/1
        MIP start; ``on_incumbent(x)`` sees every incumbent HiGHS meets and returns False to stop the solve
        (status ``interrupted``). A MILP goes to CP-SAT instead when :attr:`master` says so (``node_limit``
        then counts nothing)."""
        import highspy

        if self._integer and self.master == "cpsat":
            from solvers.exact.master_cpsat import solve_master

            return solve_master(self.rows, self.costs, self.opts.n_tasks, time_limit=time_limit, mip_gap=mip_gap,
                                start=start, on_incumbent=on_incumbent, lower=self._lower, upper=self._upper,
                                threads=self.threads, seed=self.seed)

        h = self.highs
        ends = time.perf_counter() + time_limit
        use_highs_threads(self.threads)
        h.setOptionValue("time_limit", max(float(time_limit), 1e-3))
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        h.setOptionValue("mip_max_nodes", int(node_limit) if node_limit is not None else highspy.kHighsIInf)
        if self._integer:
            h.clearSolver()  # no implicit MIP start from the last LP's point
            if start is not None and self.use_starts:
                h.setSolution(self.n_cols, self._columns, np.asarray(start, float))
        self._found, self._on_incumbent, self._stop = [], on_incumbent, False
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        ms = highspy.HighsModelStatus
        name = {ms.kOptimal: "optimal", ms.kTimeLimit: "time_limit", ms.kInterrupt: "interrupted",
                ms.kInfeasible: "infeasible", ms.kSolutionLimit: "time_limit"}.get(status, "error")
        if status == ms.kObjectiveBound:  # not used: no objective bound is set
            name = "error"
        has_solution = info.primal_solution_status == 2
        values = np.asarray(h.getSolution().col_value)[: self.n_cols].copy() if has_solution else None
        objective = float(info.objective_function_value) if has_solution else None
        if name == "error" and values is None and not rescheduled:  # HiGHS's scheduler: see reset_highs_scheduler
            reset_highs_scheduler()
            return self.solve(time_left(ends), mip_gap, start=start, on_incumbent=on_incumbent, node_limit=node_limit,
                              rescheduled=True)
        if self._integer:
            ok = name in ("optimal", "time_limit") and np.isfinite(info.mip_dual_bound)  # a failed run bounds nothing
            bound = float(info.mip_dual_bound) if ok else None
            nodes = int(info.mip_node_count)
        else:
            bound = objective if name == "optimal" else None
            nodes = 0
        self._on_incumbent = None
        if values is not None and self._integer and abs(objective - float(self.costs @ values)) > 1e-9:
            # HiGHS 1.16 can take a MIP start into its presolved space with the columns that presolve fixed
            # at 1 added, and return the start itself as "optimal" with the value of that other point: the
            # values are the start's, the objective is not. Solve again without starts.
            self.use_starts = False
            return self.solve(time_left(ends), mip_gap, on_incumbent=on_incumbent, node_limit=node_limit)
        if name == "error" and values is None and self._integer and self.presolve:
            # HiGHS 1.16's presolve can reduce a MILP to nothing and postsolve a point that breaks a row ("Solve
            # error", no solution; docs/exact.md, section 4): the same model once more without presolve
            self.presolve_retries += 1
            self.presolve = False
            h.setOptionValue("presolve", "off")
            try:
                return self.solve(time_left(ends), mip_gap, start=start, on_incumbent=on_incumbent,
                                  node_limit=node_limit, rescheduled=True)
            finally:
                self.presolve = True
                h.setOptionValue("presolve", "choose")
        return MipRun(name, objective, bound, values, max(nodes, 0), list(self._found))

    def row_duals(self) -> np.ndarray:
        """The duals of the last LP's rows, as prices: >= 0 (HiGHS gives the binding ``<=`` rows of a
        maximisation a positive dual)."""
        return np.maximum(np.asarray(self.highs.getSolution().row_dual), 0.0)


def time_left(deadline: float) -> float:
    """Seconds until ``deadline`` (``time.perf_counter``), not below 0."""
    return max(0.0, deadline - time.perf_counter())


__all__ = ["DirectModel", "MipRun", "Row", "model_rows", "resource_row", "time_left"]
