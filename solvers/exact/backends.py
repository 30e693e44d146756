"""The MILP back ends of the exact solvers: HiGHS through Pyomo's persistent interface, or any Pyomo MIP solver.

A back end holds one Pyomo model and solves it again and again as cuts are added: it relaxes the
binaries for the LP rounds (:meth:`Backend.set_integrality`), takes the constraints just added
(:meth:`Backend.add`), a MIP start (:meth:`Backend.warm_start`), and answers each solve with a
:class:`MipResult`. :class:`HighsBackend` also reports every incumbent HiGHS meets, so that the
outer-approximation loops (:mod:`solvers.exact.highs`, :mod:`solvers.horizon.monolithic`) judge them
all, not just the last.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap

from tadp.errors import TadpInputError

#: HiGHS's primal and MIP feasibility tolerance (tighter than its defaults, so that assignments the
#: oracle rejects by a hair are cut off by their cuts instead of coming back).
MIP_FEASIBILITY_TOL = 1e-9


@dataclass
class MipResult:
    """What one MILP (or LP) solve gives back, whatever the back end."""

    status: str  # "optimal", "time_limit", "infeasible", "error"
    objective: float | None
    bound: float | None
    values: Any  # ComponentMap var data -> value of the returned solution, or None
    nodes: int | None = None
    incumbents: list[np.ndarray] = field(default_factory=list)  # choose vectors met during the search


class Backend:
    """Solves the model; subclasses hold the solver."""

    def __init__(self, model: Any, threads: int | None, seed: int) -> None:
        self.model = model
        self.threads = threads
        self.seed = seed
        self.integer = True  # the model's binaries are binary (False: its LP relaxation)

    def set_integrality(self, integer: bool) -> None:
        self.integer = integer
        for v in self.model.choose.values():
            v.domain = pyo.Binary if integer else pyo.UnitInterval

    def add(self, cons: list[Any]) -> None:
        """Tell the solver about constraints just added to the model."""

    def warm_start(self, values: list[tuple[Any, float]]) -> None:
        """Offer a feasible solution (var data -> value) as a MIP start, where the solver takes one."""

    def solve(self, time_limit: float, mip_gap: float) -> MipResult:
        raise NotImplementedError


class HighsBackend(Backend):
    """HiGHS through Pyomo's persistent interface: cuts are added to the solver's model in place.

    Two things Pyomo does not expose are reached on the underlying ``highspy.Highs`` object, and
    skipped if it is not there: the improving-solution callback (every incumbent HiGHS meets is
    judged by the oracle, not just the last) and ``setSolution`` (the best true incumbent as a MIP
    start).
    """

    def __init__(self, model: Any, threads: int | None, seed: int) -> None:
        super().__init__(model, threads, seed)
        from pyomo.contrib.solver.solvers.highs import Highs

        self.opt = Highs()
        if not self.opt.available():
            raise TadpInputError("argument", "--solver", "HiGHS is not available: pip install highspy")
        updates = self.opt.config.auto_updates
        for flag in ("check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
                     "check_for_new_or_removed_params", "check_for_new_objective", "update_constraints",
                     "update_vars", "update_parameters", "update_named_expressions", "update_objective"):
            setattr(updates, flag, False)
        self.opt.set_instance(model)
        self.found: list[np.ndarray] = []
        self._highs = getattr(self.opt, "_solver_model", None)
        self._var_map = getattr(self.opt, "_pyomo_var_to_solver_var_map", None)
        self._choose_cols = None
        if self._highs is not None and self._var_map is not None:
            self._choose_cols = np.array([self._var_map[id(v)] for v in model.choose.values()], dtype=np.int64)
            self._highs.cbMipImprovingSolution.subscribe(self._on_incumbent)

    def _on_incumbent(self, event: Any) -> None:
        sol = np.asarray(event.data_out.mip_solution)
        if sol.size and self._choose_cols is not None:
            self.found.append(sol[self._choose_cols].copy())

    def add(self, cons: list[Any]) -> None:
        if cons:
            self.opt.add_constraints(cons)

    def set_integrality(self, integer: bool) -> None:
        super().set_integrality(integer)
        self.opt.update_variables(list(self.model.choose.values()))

    def warm_start(self, values: list[tuple[Any, float]]) -> None:
        if self._highs is None or self._var_map is None:
            return
        idx = np.array([self._var_map[id(v)] for v, _ in values], dtype=np.int32)
        self._highs.setSolution(len(idx), idx, np.array([x for _, x in values], dtype=np.float64))

    def solve(self, time_limit: float, mip_gap: float, *, presolve: bool = True, rescheduled: bool = False
              ) -> MipResult:
        from pyomo.contrib.solver.common.results import TerminationCondition as TC

        ends = time.perf_counter() + time_limit
        use_highs_threads(self.threads)
        self.found = []
        options = {"random_seed": self.seed, "mip_abs_gap": 0.0, "output_flag": False, **HIGHS_SAFETY_OPTIONS,
                   "mip_feasibility_tolerance": MIP_FEASIBILITY_TOL,
                   "primal_feasibility_tolerance": MIP_FEASIBILITY_TOL, "presolve": "choose" if presolve else "off"}
        res = self.opt.solve(self.model, time_limit=max(time_limit, 1e-3), rel_gap=mip_gap, threads=self.threads,
                             load_solutions=False, raise_exception_on_nonoptimal_result=False,
                             solver_options=options)
        tc = res.termination_condition
        status = {TC.convergenceCriteriaSatisfied: "optimal", TC.maxTimeLimit: "time_limit",
                  TC.provenInfeasible: "infeasible"}.get(tc, "error")
        values = res.solution_loader.get_vars() if res.incumbent_objective is not None else None
        if status == "error" and values is None and not rescheduled:  # HiGHS's scheduler, see reset_highs_scheduler
            reset_highs_scheduler()
            return self.solve(max(ends - time.perf_counter(), 0.0), mip_gap, presolve=presolve, rescheduled=True)
        if status == "error" and values is None and presolve and self.integer:
            # HiGHS 1.16's presolve can reduce a MILP to nothing and postsolve a point that breaks a row ("Solve
            # error", no solution; docs/exact.md, section 4): the same model once more without presolve
            return self.solve(max(ends - time.perf_counter(), 0.0), mip_gap, presolve=False, rescheduled=True)
        nodes = getattr(res.extra_info, "mip_node_count", None)
        bound = res.objective_bound if status in ("optimal", "time_limit") else None  # a failed run bounds nothing
        return MipResult(status, res.incumbent_objective, bound, values, nodes, list(self.found))


#: HiGHS's sub-MIP heuristics run a presolve whose inequality strengthening (sub-MIP -> presolve ->
#: strengthenInequalities) does not check the time limit in its inner loop and can even loop for good
#: (HiGHS 1.16): with RENS on, large slots overran their limit by far; with RENS off, the root reduced-cost
#: sub-MIP of a cold 10x10 scarce slot (the label plan's chain 10, seed 10,010) never returned
#: (tests/solvers/exact/test_direct.py). Both are off. RINS runs the same presolve but stays on: no run
#: has seen it loop, and without it 4x10 scarce proofs took about twice as long (docs/measurements.md).
HIGHS_SAFETY_OPTIONS = {"mip_heuristic_run_rens": False, "mip_heuristic_run_root_reduced_cost": False}

_highs_threads: list[int | None] = []  # the thread count HiGHS's global scheduler was started with


def use_highs_threads(threads: int | None) -> None:
    """HiGHS keeps one global thread scheduler per process, sized by the first solve; a later solve
    asking for another thread count fails ("error without a solution"). Restart the scheduler when
    the count changes (the harness mixes solves with default and with single threads)."""
    import highspy

    if _highs_threads and _highs_threads[-1] != threads:
        highspy.Highs.resetGlobalScheduler(True)
    _highs_threads[:] = [threads]


def reset_highs_scheduler() -> None:
    """Restart HiGHS's global scheduler whatever count it was started with. HiGHS used in the same process
    without :func:`use_highs_threads` (a user's own ``highspy.Highs``, Pyomo's export of a model) can leave it
    in a state where every later solve ends in an error without a solution (bench_crosscheck, seed 7): a solve
    that ends so is run once more after this."""
    import highspy

    highspy.Highs.resetGlobalScheduler(True)


#: Option names of common MIP solvers for a time limit, a relative gap, threads and a seed.
_SOLVER_OPTION_NAMES = {
    "gurobi": ("TimeLimit", "MIPGap", "Threads", "Seed"),
    "gurobi_direct": ("TimeLimit", "MIPGap", "Threads", "Seed"),
    "cplex": ("timelimit", "mipgap", "threads", "randomseed"),
    "cplex_direct": ("timelimit", "mip_tolerances_mipgap", "threads", "randomseed"),
    "cbc": ("seconds", "ratioGap", "threads", "randomCbcSeed"),
    "scip": ("limits/time", "limits/gap", "parallel/maxnthreads", "randomization/randomseedshift"),
    "appsi_highs": ("time_limit", "mip_rel_gap", "threads", "random_seed"),
}


class PyomoBackend(Backend):
    """Any Pyomo MIP solver by name (``pyo.SolverFactory``); the model is handed over at each solve."""

    def __init__(self, model: Any, threads: int | None, seed: int, name: str) -> None:
        super().__init__(model, threads, seed)
        self.name = name
        try:
            self.opt = pyo.SolverFactory(name)
            available = self.opt is not None and self.opt.available(exception_flag=False)
        except Exception:  # noqa: BLE001 - any failure to construct means "not available"
            available = False
        if not available:
            raise TadpInputError("argument", "mip_solver", f"Pyomo MIP solver {name!r} is not available")

    def solve(self, time_limit: float, mip_gap: float) -> MipResult:
        from pyomo.opt import SolutionStatus
        from pyomo.opt import TerminationCondition as TC

        limit_name, gap_name, threads_name, seed_name = _SOLVER_OPTION_NAMES.get(
            self.name, ("time_limit", "mip_rel_gap", "threads", "random_seed"))
        options: dict[str, Any] = {limit_name: max(time_limit, 1e-3), gap_name: mip_gap, seed_name: self.seed}
        if self.threads is not None:
            options[threads_name] = self.threads
        res = self.opt.solve(self.model, options=options, load_solutions=False)
        tc = res.solver.termination_condition
        status = {TC.optimal: "optimal", TC.maxTimeLimit: "time_limit", TC.infeasible: "infeasible"}.get(tc, "error")
        values = objective = bound = None
        usable = [sol for sol in res.solution if sol.status in (SolutionStatus.optimal, SolutionStatus.feasible)]
        if usable or (len(res.solution) > 0 and status in ("optimal", "time_limit")):
            self.model.solutions.load_from(res)
            values = ComponentMap((v, v.value) for v in self.model.component_data_objects(pyo.Var)
                                  if v.value is not None)
            objective = float(pyo.value(self.model.accuracy))
        upper = res.problem.upper_bound
        if upper is not None and math.isfinite(float(upper)):
            bound = float(upper)
        elif status == "optimal":
            bound = objective
        return MipResult(status, objective, bound, values)


def make_backend(model: Any, mip_solver: str, threads: int | None, seed: int) -> Backend:
    """The back end for ``mip_solver``: "highs" through :class:`HighsBackend`, any other name through
    :class:`PyomoBackend`."""
    if mip_solver == "highs":
        return HighsBackend(model, threads, seed)
    return PyomoBackend(model, threads, seed, mip_solver)


__all__ = ["HIGHS_SAFETY_OPTIONS", "MIP_FEASIBILITY_TOL", "Backend", "HighsBackend", "MipResult", "PyomoBackend",
           "make_backend", "reset_highs_scheduler", "use_highs_threads"]
