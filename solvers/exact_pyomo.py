"""The exact per-slot solver: a Pyomo MILP with outer approximation, HiGHS by default (docs/exact.md).

The slot problem (spec section 6) is a mixed-integer problem whose only nonlinearity is the delay
law ``time = work / share`` (eqs. 3, 4, 6). For a fixed choice of options (a task's site and level,
:mod:`solvers.exact_data`), what remains is convex, and the oracle of :mod:`solvers.enumerate`
decides it exactly, with a certificate either way.

The model (:func:`build_model`) has a binary ``choose[o]`` per option, the linear constraints C2,
C3, C6, and the convex part (C1 with C4, C5) as *resource cuts*: for prices lambda >= 0 on the pools
(sum 1), ``sum_o c_o(lambda) choose[o] <= 1`` where ``c_o(lambda)`` is option o's cheapest priced
load over its schedules meeting the deadline. Every such cut is valid, all of them together are
exactly C1 + C4 + C5 for integer choices, so any finite set gives a MILP *relaxation* whose dual
bound bounds the slot optimum. (``formulation="extended"`` keeps a time budget and a share per leg
instead, with the delay law in perspective form as tangent planes; same optimum, bigger model.)

:class:`PyomoSolver` closes the gap by outer approximation (OA):

1. tighten the LP relaxation with cuts at the prices that separate its points (a few rounds);
2. solve the MILP; judge each incumbent assignment with the oracle: a feasible one becomes a true
   incumbent, with shares recovered exactly; an infeasible one is cut off by the cut at the
   oracle's prices (its left side is the assignment's dual value, > 1); one that comes back
   although cut is excluded by a no-good cut (it is proven infeasible);
3. repeat until the MILP's optimum is a true incumbent (proven optimal within ``mip_gap``) or the
   time runs out (best true incumbent, possibly serving nobody, with the best dual bound).

Knife-edge assignments the oracle cannot certify either way (rho* within ~1e-9 of 1) are excluded
by a no-good cut, and their value is kept in the reported bound so that it stays valid.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap
from pyomo.opt import ProblemFormat

from solvers.base import KEEP_RULES, Solver, SolveResult, apply_keep_rule, finish
from solvers.enumerate import (
    FEASIBLE,
    INFEASIBLE,
    UNCERTAIN,
    LoadCertificate,
    min_max_load,
    option_costs,
    schedule_decision,
)
from solvers.exact_data import COMPUTE, SlotOptions, slot_options, trivial_bound
from tadp.decision import Decision
from tadp.errors import TadpInputError
from tadp.instance import Cache, Instance

#: Initial tangent points of a leg: from its longest possible time down by this factor, to its
#: shortest (share 1); the shortest point also encodes ``share <= 1``.
INITIAL_CUT_RATIO = 2.0
#: A leg of the LP relaxation whose share falls short of ``work * choose^2 / time`` by more than
#: this fraction gets a cut at its point.
CUT_VIOLATION = 1e-6
#: Most rounds of cuts on the LP relaxation before the first MILP.
ROOT_ROUNDS = 60
#: An LP point whose fractional min-max load exceeds 1 by more than this gets a resource cut (cutting
#: finer at the root gains nothing: the MILP rounds cut off what matters, integer assignments).
ROOT_SEPARATION_TOL = 1e-6
#: HiGHS's primal and MIP feasibility tolerance (tighter than its defaults, so that assignments the
#: oracle rejects by a hair are cut off by their cuts instead of coming back).
MIP_FEASIBILITY_TOL = 1e-9
#: Resource-cut coefficients below this are left out (which only relaxes the cut).
RESOURCE_COEF_MIN = 1e-12
#: Two tangent points of a leg closer than this (relative) count as the same.
CUT_POINT_TOL = 1e-9
#: Export formats (``--format``) and Pyomo's writer for each (CPLEX LP format for ``lp``).
EXPORT_FORMATS = {"mps": ProblemFormat.mps, "lp": ProblemFormat.cpxlp}
#: Formulations of the slot model (docs/exact.md): resource cuts on the choices, or time budgets and
#: shares per leg with tangent planes.
FORMULATIONS = ("projected", "extended")


# ============================================================================ model
def build_model(
    inst: Instance,
    slot: int,
    cache: Cache,
    *,
    options: SlotOptions | None = None,
    formulation: str = "projected",
) -> Any:
    """The slot problem as a Pyomo ``ConcreteModel``: a MILP outer approximation (module doc).

    ``formulation="projected"`` (the default, and what the solver uses): binaries only; C1, C4 and
    C5 enter as *resource cuts* ``sum_o c_o(lambda) choose[o] <= 1``, valid for every price vector
    lambda on the pools. ``"extended"``: a time budget and a share per leg, with the delay law as
    perspective tangent planes. ``options`` (from :func:`solvers.exact_data.slot_options`) may be
    passed to avoid recomputing them. The model carries ``model.slot_options``, ``model.formulation``
    and its cut points (``model.cut_prices`` or ``model.cut_points``).
    """
    if formulation not in FORMULATIONS:
        raise TadpInputError("argument", "formulation", f"unknown {formulation!r} (known: {', '.join(FORMULATIONS)})")
    opts = slot_options(inst, slot, cache) if options is None else options
    n, g_count = opts.n_tasks, opts.n_gateways
    served_tasks = sorted(set(int(j) for j in opts.task))

    m = pyo.ConcreteModel(name=f"{inst.name} slot {slot} ({formulation})")
    m.slot_options = opts
    m.formulation = formulation
    # ---------------------------------------------------------------- sets, choices, objective
    m.tasks = pyo.Set(initialize=served_tasks, ordered=True, doc="tasks j with at least one option that can complete")
    m.options = pyo.Set(initialize=range(opts.n_options), ordered=True,
                        doc="options o = (task, site, level) that can complete (m_j, phi_j), see solvers.exact_data")
    m.gateways = pyo.Set(initialize=range(g_count), ordered=True, doc="gateways i (IGWs)")
    m.choose = pyo.Var(m.options, domain=pyo.Binary,
                       doc="1 if the task runs option o: site m_j and model phi_j (C2, C3)")
    m.accuracy = pyo.Objective(
        expr=sum(float(opts.accuracy[o]) * m.choose[o] for o in m.options) / n, sense=pyo.maximize,
        doc="eq. (11): mean accuracy U_j (eq. 10) over the N tasks of the slot, completed tasks only")

    # ---------------------------------------------------------------- C2, C3: one site, one model
    by_task: dict[int, list[int]] = {j: [] for j in served_tasks}
    for o in range(opts.n_options):
        by_task[int(opts.task[o])].append(o)
    m.one_site = pyo.Constraint(
        m.tasks, rule=lambda _, j: sum(m.choose[o] for o in by_task[j]) <= 1,
        doc="C2: a task runs at one node, its gateway or the edge, or is not served (site none, [D3])")
    site_pairs = sorted({(int(opts.task[o]), int(opts.site[o])) for o in range(opts.n_options)})

    def one_model(_: Any, j: int, s: int) -> Any:
        return sum(m.choose[o] for o in by_task[j] if opts.site[o] == s) <= 1

    m.task_sites = pyo.Set(initialize=site_pairs, dimen=2, ordered=True,
                           doc="(task, site) pairs with an option: site 1 its gateway, 2 the edge")
    m.one_model = pyo.Constraint(m.task_sites, rule=one_model,
                                 doc="C3: one pre-trained model (light or heavy) per task")

    # ---------------------------------------------------------------- C6: caches
    capacity = np.append(inst.gateway_cache, inst.edge_cache)

    def cache_rule(node: int) -> Any:
        placing = [o for o in range(opts.n_options) if opts.places[o] and opts.cache_pool[o] == node]
        if not placing:
            return pyo.Constraint.Skip
        # in units of the node's capacity; models resident at the slot start take what is not free
        return sum(float(opts.model_bits[o] / capacity[node]) * m.choose[o] for o in placing) <= float(
            opts.cache_free[node] / capacity[node])

    m.gateway_cache = pyo.Constraint(m.gateways, rule=lambda _, i: cache_rule(i),
                                     doc="C6 [D6]: models resident at gateway i (start cache + placed) within S_l_i")
    m.edge_cache = pyo.Constraint(rule=lambda _: cache_rule(g_count),
                                  doc="C6 [D6]: models resident in the ECaS (start cache + placed) within S_e")
    # C7 (next cache state) does not enter J: the keep rule is applied to the decision after solving.
    m.excluded = pyo.ConstraintList(
        doc="assignments excluded one by one (no-good cuts): proven infeasible, or knife-edge (value kept in the bound)")

    if formulation == "projected":
        _add_projected(m, opts)
    else:
        _add_extended(m, opts)
    return m


def _add_projected(m: Any, opts: SlotOptions) -> None:
    """C1, C4, C5 on the choices alone. For prices lambda >= 0 (sum 1) on the pools, every schedule
    meeting C1 has ``sum_p lambda_p * load_p >= sum_o c_o(lambda) choose[o]``, so C4-C5 imply the
    resource cut ``sum_o c_o(lambda) choose[o] <= 1``; all of them together are exactly C1 + C4 + C5
    for integer choices (strong duality), and their LP relaxation is the perspective relaxation."""
    pools = opts.pools
    m.cut_prices = []

    def single_pool(pool: int) -> Any:
        prices = np.zeros(opts.n_pools)
        prices[pool] = 1.0
        expr = _cut_expression(m, opts, prices)
        return pyo.Constraint.Skip if expr is None else expr <= 1

    m.uplink_band = pyo.Constraint(m.gateways, rule=lambda _, i: single_pool(int(pools.band[i])),
                                   doc="C4 [D4] with C1: gateway i's band B_i, each task at its longest upload")
    m.bs_band = pyo.Constraint(rule=lambda _: single_pool(pools.bs),
                               doc="C4 with C1: the BS band B_e, each edge task at its longest hop")
    m.gateway_compute = pyo.Constraint(m.gateways, rule=lambda _, i: single_pool(int(pools.compute[i])),
                                       doc="C5 with C1: gateway i's compute C_l, each task at its longest compute")
    m.edge_compute = pyo.Constraint(rule=lambda _: single_pool(pools.edge_compute),
                                    doc="C5 with C1: the ECoS compute C_e, each task at its longest compute")
    m.resource_cuts = pyo.ConstraintList(
        doc="C1 + C4 + C5 jointly: sum_o c_o(lambda) choose[o] <= 1 for price vectors lambda on the pools, "
            "c_o(lambda) = min over option o's schedules meeting Tmax of sum_p lambda_p * work_p / time_p")


def _cut_expression(m: Any, opts: SlotOptions, prices: np.ndarray) -> Any:
    costs = option_costs(opts, prices)
    used = np.flatnonzero(costs > RESOURCE_COEF_MIN)  # dropping a term of a <= cut only relaxes it
    if len(used) == 0:
        return None
    return sum(float(costs[o]) * m.choose[o] for o in used)


def add_resource_cut(model: Any, prices: np.ndarray) -> list[Any]:
    """Add the resource cut of ``prices`` (normalised to sum 1) to a projected model; returns the new
    constraint data (empty when no option has a cost)."""
    prices = np.asarray(prices, float)
    prices = prices / prices.sum()
    expr = _cut_expression(model, model.slot_options, prices)
    if expr is None:
        return []
    model.cut_prices.append(prices)
    return [model.resource_cuts.add(expr <= 1)]


def _add_extended(m: Any, opts: SlotOptions) -> None:
    """C1, C4, C5 with a time budget and a share per leg; the delay law as perspective tangent planes."""
    pools = opts.pools
    t_hi = opts.leg_time_bounds()
    legs = [(o, k) for o in range(opts.n_options) for k in range(3) if opts.pool[o, k] >= 0]
    m.legs = pyo.Set(initialize=legs, dimen=2, ordered=True,
                     doc="legs (o, k) of each option: k = 0 upload to the gateway, 1 gateway->BS hop, 2 compute")
    m.time = pyo.Var(m.legs, domain=pyo.NonNegativeReals, bounds=lambda _, o, k: (0.0, float(t_hi[o, k])),
                     doc="time budget of leg (o, k), s: upload t_up (eq. 3), hop t_bs (eq. 4), compute c (eq. 6)")
    m.share = pyo.Var(m.legs, domain=pyo.NonNegativeReals, bounds=(0.0, 1.0),
                      doc="share of the leg's pool: alpha_l (upload), alpha_e (hop), beta (compute)")

    # ---------------------------------------------------------------- C1: deadline
    def leg_times(o: int) -> Any:
        return sum(m.time[o, k] for k in range(3) if opts.pool[o, k] >= 0)

    m.deadline_arrival = pyo.Constraint(
        m.options, rule=lambda _, o: leg_times(o) <= float(opts.deadline[o]) * m.choose[o],
        doc="C1, eqs. (7)-(8): upload (+ hop) + compute within Tmax (zero times when not chosen)")
    m.deadline_fetch = pyo.Constraint(
        m.options, rule=lambda _, o: m.time[o, COMPUTE] <= float(opts.deadline[o] - opts.fetch[o]) * m.choose[o],
        doc="C1, eqs. (5), (7)-(8): model fetch + compute within Tmax")
    m.share_cuts = pyo.ConstraintList(
        doc="C1 delay law share >= work / time (eqs. 3, 4, 6), perspective form share >= work*choose^2/time, "
            "as tangent planes share >= work * (2*choose/t0 - time/t0^2) at tangent times t0")
    m.share_used = pyo.Constraint(
        m.legs, rule=lambda _, o, k: m.share[o, k] <= m.choose[o],
        doc="C4, C5: a share lies in [0, 1] and is drawn only by the chosen option")

    # ---------------------------------------------------------------- C4, C5: pools
    def pool_sum(pool: int) -> Any:
        terms = [m.share[o, k] for (o, k) in legs if opts.pool[o, k] == pool]
        return (sum(terms) <= 1) if terms else pyo.Constraint.Skip

    m.uplink_band = pyo.Constraint(m.gateways, rule=lambda _, i: pool_sum(int(pools.band[i])),
                                   doc="C4 [D4]: uplink shares of gateway i's band B_i, every served task")
    m.bs_band = pyo.Constraint(rule=lambda _: pool_sum(pools.bs), doc="C4: shares of the BS band B_e, edge tasks")
    m.gateway_compute = pyo.Constraint(m.gateways, rule=lambda _, i: pool_sum(int(pools.compute[i])),
                                       doc="C5: compute shares of gateway i's C_l, gateway-site tasks")
    m.edge_compute = pyo.Constraint(rule=lambda _: pool_sum(pools.edge_compute),
                                    doc="C5: compute shares of the ECoS C_e, edge-site tasks")

    # ---------------------------------------------------------------- initial tangent cuts
    m.cut_points = {leg: [] for leg in legs}
    initial = []
    for (o, k) in legs:
        w, hi = float(opts.work[o, k]), float(t_hi[o, k])
        t0 = hi
        while t0 > w * INITIAL_CUT_RATIO:
            initial.append((o, k, t0))
            t0 /= INITIAL_CUT_RATIO
        initial.append((o, k, w))
    add_tangent_cuts(m, initial)


def add_tangent_cuts(model: Any, cuts: list[tuple[int, int, float]]) -> list[Any]:
    """Add ``share[o, k] >= work * (2 * choose[o] / t0 - time[o, k] / t0^2)`` for each (o, k, t0) not
    already there; returns the new constraint data (for a persistent solver)."""
    opts: SlotOptions = model.slot_options
    new = []
    for o, k, t0 in cuts:
        t0 = float(t0)
        points = model.cut_points[(o, k)]
        if not t0 > 0 or any(abs(t0 - p) <= CUT_POINT_TOL * p for p in points):
            continue
        points.append(t0)
        w = float(opts.work[o, k])
        new.append(model.share_cuts.add(
            model.share[o, k] >= (2.0 * w / t0) * model.choose[o] - (w / t0**2) * model.time[o, k]))
    return new


def export_model(inst: Instance, slot: int, path: str | Path, fmt: str, *, formulation: str = "projected",
                 tighten: bool = True) -> None:
    """Write slot ``slot``'s model at the instance's initial cache as MPS or LP, with the cuts it
    holds: its initial ones and, with ``tighten``, those of the LP rounds (:func:`tighten_relaxation`,
    HiGHS) that bring its relaxation to the convex one. Names are symbolic (``choose[3]``,
    ``gateway_cache[1]``) so that a reader can trace them. Any MIP solver's optimum of the file bounds
    the slot optimum; its solutions are exact only after the oracle's check (docs/exact.md)."""
    if fmt not in EXPORT_FORMATS:
        raise TadpInputError("argument", "--format", f"unknown format {fmt!r} (known: {', '.join(EXPORT_FORMATS)})")
    if not 0 <= slot < inst.n_slots:
        raise TadpInputError("argument", "--slot", f"must lie in 0..{inst.n_slots - 1}, got {slot}")
    model = build_model(inst, slot, inst.initial_cache, formulation=formulation)
    if tighten and model.slot_options.n_options:
        tighten_relaxation(model, HighsBackend(model, None, 0), math.inf)
    model.write(str(path), format=EXPORT_FORMATS[fmt], io_options={"symbolic_solver_labels": True})


# ============================================================================ back ends
@dataclass
class _MipResult:
    """What one MILP (or LP) solve gives back, whatever the back end."""

    status: str  # "optimal", "time_limit", "infeasible", "error"
    objective: float | None
    bound: float | None
    values: Any  # ComponentMap var data -> value of the returned solution, or None
    nodes: int | None = None
    incumbents: list[np.ndarray] = field(default_factory=list)  # choose vectors met during the search


class _Backend:
    """Solves the model; subclasses hold the solver."""

    def __init__(self, model: Any, threads: int | None, seed: int) -> None:
        self.model = model
        self.threads = threads
        self.seed = seed

    def set_integrality(self, integer: bool) -> None:
        for v in self.model.choose.values():
            v.domain = pyo.Binary if integer else pyo.UnitInterval

    def add(self, cons: list[Any]) -> None:
        """Tell the solver about constraints just added to the model."""

    def warm_start(self, values: list[tuple[Any, float]]) -> None:
        """Offer a feasible solution (var data -> value) as a MIP start, where the solver takes one."""

    def solve(self, time_limit: float, mip_gap: float) -> _MipResult:
        raise NotImplementedError


class HighsBackend(_Backend):
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

    def solve(self, time_limit: float, mip_gap: float) -> _MipResult:
        from pyomo.contrib.solver.common.results import TerminationCondition as TC

        _use_highs_threads(self.threads)
        self.found = []
        options = {"random_seed": self.seed, "mip_abs_gap": 0.0, "output_flag": False, **HIGHS_SAFETY_OPTIONS,
                   "mip_feasibility_tolerance": MIP_FEASIBILITY_TOL,
                   "primal_feasibility_tolerance": MIP_FEASIBILITY_TOL}
        res = self.opt.solve(self.model, time_limit=max(time_limit, 1e-3), rel_gap=mip_gap, threads=self.threads,
                             load_solutions=False, raise_exception_on_nonoptimal_result=False,
                             solver_options=options)
        tc = res.termination_condition
        status = {TC.convergenceCriteriaSatisfied: "optimal", TC.maxTimeLimit: "time_limit",
                  TC.provenInfeasible: "infeasible"}.get(tc, "error")
        values = res.solution_loader.get_vars() if res.incumbent_objective is not None else None
        nodes = getattr(res.extra_info, "mip_node_count", None)
        return _MipResult(status, res.incumbent_objective, res.objective_bound, values, nodes, list(self.found))


#: HiGHS's sub-MIP heuristics (RENS, RINS) run a presolve whose inequality strengthening does not
#: check the time limit; on the dense resource-cut rows of some 10x35 slots it ran for over five
#: minutes past a 5 s limit (HiGHS 1.16, RENS -> sub-MIP -> restart presolve ->
#: strengthenInequalities). Without them the limit holds.
HIGHS_SAFETY_OPTIONS = {"mip_heuristic_run_rens": False}

_highs_threads: list[int | None] = []  # the thread count HiGHS's global scheduler was started with


def _use_highs_threads(threads: int | None) -> None:
    """HiGHS keeps one global thread scheduler per process, sized by the first solve; a later solve
    asking for another thread count fails ("error without a solution"). Restart the scheduler when
    the count changes (the harness mixes solves with default and with single threads)."""
    import highspy

    if _highs_threads and _highs_threads[-1] != threads:
        highspy.Highs.resetGlobalScheduler(True)
    _highs_threads[:] = [threads]


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


class _PyomoBackend(_Backend):
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

    def solve(self, time_limit: float, mip_gap: float) -> _MipResult:
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
            values = ComponentMap((v, v.value) for v in self.model.component_data_objects(pyo.Var) if v.value is not None)
            objective = float(pyo.value(self.model.accuracy))
        upper = res.problem.upper_bound
        if upper is not None and math.isfinite(float(upper)):
            bound = float(upper)
        elif status == "optimal":
            bound = objective
        return _MipResult(status, objective, bound, values)


# ============================================================================ outer approximation
@dataclass
class _Incumbent:
    value: float
    chosen: np.ndarray
    certificate: LoadCertificate | None


def _choices(model: Any, values: Any) -> np.ndarray:
    return np.array([values.get(v, 0.0) or 0.0 for v in model.choose.values()])


def _lp_cuts(model: Any, values: Any) -> list[Any]:
    """Cuts that separate the LP point ``values`` from the convex relaxation (none if it is in it)."""
    opts: SlotOptions = model.slot_options
    z = _choices(model, values)
    if model.formulation == "extended":
        return add_tangent_cuts(model, _violated_points(model, values))
    support = np.flatnonzero(z > 1e-9)
    cert = min_max_load(opts, support, weights=z[support])
    if cert.lower > 1.0 + ROOT_SEPARATION_TOL:
        return add_resource_cut(model, cert.prices)
    return []


def _assignment_cuts(model: Any, cert: LoadCertificate) -> list[Any]:
    """Cuts at the oracle's schedule (extended) or prices (projected) of an infeasible assignment: both
    leave the assignment's linearised max load at least Phi(prices) > 1, so they cut it off."""
    opts: SlotOptions = model.slot_options
    if model.formulation == "extended":
        return add_tangent_cuts(model, [(int(o), k, float(cert.times[i, k])) for i, o in enumerate(cert.chosen)
                                        for k in range(3) if opts.pool[o, k] >= 0])
    return add_resource_cut(model, cert.prices)


def tighten_relaxation(model: Any, backend: _Backend, deadline: float) -> tuple[int, float | None]:
    """Rounds of: solve the LP relaxation, add the cut that separates its point (none: stop), at most
    :data:`ROOT_ROUNDS` and until ``deadline`` (perf_counter). Returns (rounds, last LP bound)."""
    rounds, bound = 0, None
    backend.set_integrality(False)
    while rounds < ROOT_ROUNDS and time.perf_counter() < deadline:
        lp = backend.solve(deadline - time.perf_counter(), 0.0)
        if lp.status != "optimal" or lp.values is None:
            break
        rounds += 1
        bound = lp.bound if lp.bound is not None else lp.objective
        new = _lp_cuts(model, lp.values)
        backend.add(new)
        if not new:
            break
    backend.set_integrality(True)
    return rounds, bound


def solve_slot(
    inst: Instance,
    slot: int,
    cache: Cache,
    *,
    time_limit: float,
    mip_solver: str = "highs",
    mip_gap: float = 1e-6,
    threads: int | None = None,
    seed: int = 0,
    formulation: str = "projected",
    started: float | None = None,
) -> tuple[Decision, str, float, float, dict[str, Any]]:
    """Outer approximation for one slot (module doc). Returns (decision without keep flags, status,
    objective, valid upper bound, info)."""
    started = time.perf_counter() if started is None else started
    deadline = started + time_limit
    opts = slot_options(inst, slot, cache)
    info: dict[str, Any] = {"options": opts.n_options, "dropped_options": opts.dropped, "mip_solver": mip_solver,
                            "formulation": formulation}
    best = _Incumbent(0.0, np.zeros(0, int), None)
    bound = trivial_bound(opts)
    if opts.n_options == 0:
        return Decision.drop_all(opts.n_tasks), "optimal", 0.0, 0.0, info
    if time.perf_counter() >= deadline:
        return Decision.drop_all(opts.n_tasks), "time_limit", 0.0, bound, info

    model = build_model(inst, slot, cache, options=opts, formulation=formulation)
    backend: _Backend = (HighsBackend(model, threads, seed) if mip_solver == "highs"
                         else _PyomoBackend(model, threads, seed, mip_solver))
    info["build_s"] = time.perf_counter() - started

    # ---- 1. tighten the LP relaxation with cuts at its own points (Kelley's method)
    root_rounds, root_bound = tighten_relaxation(model, backend, deadline)
    if root_bound is not None:
        bound = min(bound, root_bound)
    info.update(root_rounds=root_rounds, root_bound=root_bound, root_s=time.perf_counter() - started)

    # ---- 2. MILP rounds of outer approximation
    seen: dict[bytes, str] = {}
    uncertain_values: list[float] = []
    rounds, nodes, cuts_added, no_goods = 0, 0, 0, 0
    solver_gap = mip_gap  # the MIP solver's own gap may be measured differently: tightened if need be
    status = "time_limit"
    while time.perf_counter() < deadline:
        if best.certificate is not None:
            backend.warm_start(_mip_start(model, best))
        res = backend.solve(deadline - time.perf_counter(), solver_gap)
        rounds += 1
        nodes += res.nodes or 0
        if res.bound is not None and math.isfinite(res.bound):
            bound = min(bound, res.bound)
        if res.values is None and res.status != "time_limit":
            status = "error"
            info["error"] = f"MILP round {rounds} ended {res.status} without a solution"
            break
        final = _choices(model, res.values) if res.values is not None else None
        candidates = ([final] if final is not None else []) + res.incumbents
        final_ok = False
        for k, z in enumerate(candidates):
            chosen = np.flatnonzero(z > 0.5)
            key = chosen.astype(np.int64).tobytes()
            value = opts.value(chosen)
            verdict = seen.get(key)
            if verdict is None:
                cert = min_max_load(opts, chosen)
                verdict = seen[key] = cert.verdict if opts.cache_fits(chosen) else INFEASIBLE
                if verdict == FEASIBLE and value > best.value:
                    best = _Incumbent(value, chosen, cert)
                elif verdict == INFEASIBLE:
                    new = _assignment_cuts(model, cert)
                    backend.add(new)
                    cuts_added += len(new)
                elif verdict == UNCERTAIN:
                    uncertain_values.append(value)
                    backend.add(_no_good(model, chosen))
                    no_goods += 1
            elif k == 0 and verdict == INFEASIBLE:
                backend.add(_no_good(model, chosen))  # back despite its cuts: proven infeasible, exclude it
                no_goods += 1
            if k == 0:
                final_ok = verdict == FEASIBLE
        if model.formulation == "extended" and res.values is not None:
            new = add_tangent_cuts(model, _violated_points(model, res.values))
            backend.add(new)
            cuts_added += len(new)
        if res.status == "optimal" and final_ok:
            if max([bound, best.value] + uncertain_values) - best.value <= mip_gap * abs(best.value) \
                    or solver_gap < 1e-12:
                status = "optimal"
                break
            solver_gap /= 10
            continue
        if res.status != "optimal":  # time limit (or an error with an incumbent): stop with what we have
            status = "time_limit" if res.status == "time_limit" else "error"
            break
    bound = max([bound, best.value] + uncertain_values)
    gap = (bound - best.value) / max(abs(best.value), 1e-12)
    if status == "optimal" and gap > mip_gap:
        status = "time_limit"
    info.update(oa_rounds=rounds, nodes=nodes, oa_cuts_added=cuts_added, no_good_cuts=no_goods,
                uncertain=len(uncertain_values), mip_gap=gap if best.value > 0 else None,
                cuts=len(model.cut_prices) if formulation == "projected" else
                sum(len(p) for p in model.cut_points.values()))
    decision = (schedule_decision(opts, best.certificate) if best.certificate is not None
                else Decision.drop_all(opts.n_tasks))
    return decision, status, best.value, bound, info


def _violated_points(model: Any, values: Any) -> list[tuple[int, int, float]]:
    """Extended model: tangent points (o, k, time/choose) of legs whose share falls short of
    work * choose^2 / time by more than :data:`CUT_VIOLATION` (relative)."""
    opts: SlotOptions = model.slot_options
    out = []
    for (o, k) in model.legs:
        z = values.get(model.choose[o], 0.0) or 0.0
        t = values.get(model.time[o, k], 0.0) or 0.0
        if z <= 1e-6 or t <= 0:
            continue
        need = opts.work[o, k] * z * z / t
        if need - (values.get(model.share[o, k], 0.0) or 0.0) > CUT_VIOLATION * need:
            out.append((int(o), int(k), float(t / z)))
    return out


def _no_good(model: Any, chosen: np.ndarray) -> list[Any]:
    """Exclude exactly the assignment ``chosen`` (every option's binary at its value)."""
    picked = set(int(o) for o in chosen)
    expr = sum(1 - model.choose[o] for o in picked) + sum(model.choose[o] for o in model.options if o not in picked)
    return [model.excluded.add(expr >= 1)]


def _mip_start(model: Any, inc: _Incumbent) -> list[tuple[Any, float]]:
    """A complete MILP solution for a certified incumbent: its binaries (and, in the extended model,
    its schedule and shares work / time)."""
    opts: SlotOptions = model.slot_options
    picked = set(int(o) for o in inc.chosen)
    values = [(model.choose[o], 1.0 if o in picked else 0.0) for o in model.options]
    if model.formulation == "extended":
        assert inc.certificate is not None
        row = {int(o): i for i, o in enumerate(inc.chosen)}
        for (o, k) in model.legs:
            t = float(inc.certificate.times[row[o], k]) if o in row else 0.0
            values += [(model.time[o, k], t), (model.share[o, k], float(opts.work[o, k] / t) if t > 0 else 0.0)]
    return values


# ============================================================================ the registered solver
class PyomoSolver(Solver):
    """Exact per-slot optimum by outer approximation on a Pyomo MILP (``highs`` in the registry).

    Options: ``mip_solver`` ("highs", the default, through Pyomo's persistent interface; any other
    Pyomo solver name, e.g. gurobi, cplex, scip, cbc, through ``SolverFactory``), ``mip_gap``
    (relative, default 1e-6), ``keep`` (keep rule of spec section 6: "used" default, "all", "none"),
    ``threads`` (default: the MIP solver's own).
    """

    name = "highs"

    def __init__(self, *, mip_solver: str = "highs", mip_gap: float = 1e-6, keep: str = "used",
                 threads: int | None = None, formulation: str = "projected") -> None:
        if keep not in KEEP_RULES:
            raise TadpInputError("argument", "--keep", f"unknown keep rule {keep!r} (known: {', '.join(KEEP_RULES)})")
        if not (isinstance(mip_gap, (int, float)) and 0 <= mip_gap < 1):
            raise TadpInputError("argument", "--mip-gap", f"must lie in [0, 1), got {mip_gap!r}")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise TadpInputError("argument", "threads", f"must be a positive integer, got {threads!r}")
        if formulation not in FORMULATIONS:
            raise TadpInputError("argument", "formulation", f"unknown {formulation!r} (known: {', '.join(FORMULATIONS)})")
        super().__init__(mip_solver=mip_solver, mip_gap=float(mip_gap), keep=keep, threads=threads,
                         formulation=formulation)
        self.mip_solver, self.mip_gap, self.keep, self.threads = mip_solver, float(mip_gap), keep, threads
        self.formulation = formulation

    def solve(self, inst: Instance, slot: int, cache: Cache, *, time_limit: float, seed: int = 0) -> SolveResult:
        started = time.perf_counter()
        decision, status, objective, bound, info = solve_slot(
            inst, slot, cache, time_limit=time_limit, mip_solver=self.mip_solver, mip_gap=self.mip_gap,
            threads=self.threads, seed=seed, formulation=self.formulation, started=started)
        decision = apply_keep_rule(decision, self.keep)
        return finish(inst, slot, cache, decision, status=status, objective=objective, bound=bound,
                      bound_kind="opt", started=started, info=info)


__all__ = ["PyomoSolver", "add_tangent_cuts", "build_model", "export_model", "solve_slot"]
