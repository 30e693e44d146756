"""The per-slot model: a Pyomo MILP outer approximation of the slot problem (docs/exact.md, section 3).

The slot problem (docs/model.md, section 6) is a mixed-integer problem whose only nonlinearity is the delay
law ``time = work / share`` (eqs. 3, 4, 6). For a fixed choice of options (a task's site and level,
:mod:`solvers.exact.options`), what remains is convex, and the oracle of :mod:`solvers.exact.oracle`
decides it exactly, with a certificate either way.

The model (:func:`build_model`) has a binary ``choose[o]`` per option, the linear constraints C2,
C3, C6, and the convex part (C1 with C4, C5) as *resource cuts*: for prices lambda >= 0 on the pools
(sum 1), ``sum_o c_o(lambda) choose[o] <= 1`` where ``c_o(lambda)`` is option o's cheapest priced
load over its schedules meeting the deadline. Every such cut is valid, all of them together are
exactly C1 + C4 + C5 for integer choices, so any finite set gives a MILP *relaxation* whose dual
bound bounds the slot optimum. (``formulation="extended"`` keeps a time budget and a share per leg
instead, with the delay law in perspective form as tangent planes; same optimum, bigger model.)

Besides the model: the cuts that separate a point from the convex relaxation (:func:`separating_cuts`,
:func:`assignment_cuts`), the LP rounds that tighten the relaxation (:func:`tighten_relaxation`) and the
export of a slot's model as MPS or LP (:func:`export_model`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.opt import ProblemFormat

from solvers.exact.backends import Backend, HighsBackend
from solvers.exact.oa import LpRounds, choice_vector, lp_rounds, resource_cut, separating_prices
from solvers.exact.options import COMPUTE, SlotOptions, slot_options
from solvers.exact.oracle import LoadCertificate
from tadp.errors import TadpInputError
from tadp.instance import Cache, Instance, atomic_output

#: Initial tangent points of a leg: from its longest possible time down by this factor, to its
#: shortest (share 1); the shortest point also encodes ``share <= 1``.
INITIAL_CUT_RATIO = 2.0
#: A leg of the LP relaxation whose share falls short of ``work * choose^2 / time`` by more than
#: this fraction gets a cut at its point.
CUT_VIOLATION = 1e-6
#: Most rounds of cuts on the LP relaxation before the first MILP.
ROOT_ROUNDS = 60
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
    perspective tangent planes. ``options`` (from :func:`solvers.exact.options.slot_options`) may be
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
                        doc="options o = (task, site, level) that can complete (m_j, phi_j), see solvers.exact.options")
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
        doc="assignments excluded one by one (no-good cuts): proven infeasible, or knife-edge "
            "(value kept in the bound)")

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
        expr = _resource_cut(m, opts, prices)
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


def _resource_cut(m: Any, opts: SlotOptions, prices: np.ndarray) -> Any:
    """The left side of the resource cut of ``prices`` over the model's choices (None: no option has a cost)."""
    return resource_cut(opts, prices, lambda o: m.choose[o])


def add_resource_cut(model: Any, prices: np.ndarray) -> list[Any]:
    """Add the resource cut of ``prices`` (normalised to sum 1) to a projected model; returns the new
    constraint data (empty when no option has a cost)."""
    prices = np.asarray(prices, float)
    prices = prices / prices.sum()
    expr = _resource_cut(model, model.slot_options, prices)
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
    with atomic_output(path) as partial:
        model.write(str(partial), format=EXPORT_FORMATS[fmt], io_options={"symbolic_solver_labels": True})


# ============================================================================ cuts and LP rounds
def separating_cuts(model: Any, values: Any) -> list[Any]:
    """Cuts that separate the LP point ``values`` from the convex relaxation (none if it is in it)."""
    if model.formulation == "extended":
        return add_tangent_cuts(model, violated_points(model, values))
    prices = separating_prices(model.slot_options, choice_vector(model, values))
    return [] if prices is None else add_resource_cut(model, prices)


def assignment_cuts(model: Any, cert: LoadCertificate) -> list[Any]:
    """Cuts at the oracle's schedule (extended) or prices (projected) of an infeasible assignment: both
    leave the assignment's linearised max load at least Phi(prices) > 1, so they cut it off."""
    opts: SlotOptions = model.slot_options
    if model.formulation == "extended":
        return add_tangent_cuts(model, [(int(o), k, float(cert.times[i, k])) for i, o in enumerate(cert.chosen)
                                        for k in range(3) if opts.pool[o, k] >= 0])
    return add_resource_cut(model, cert.prices)


def tighten_relaxation(model: Any, backend: Backend, deadline: float) -> LpRounds:
    """Rounds of: solve the LP relaxation, add the cut that separates its point (none: stop), at most
    :data:`ROOT_ROUNDS` and until ``deadline`` (perf_counter)."""
    return lp_rounds(backend, deadline, ROOT_ROUNDS, lambda values: separating_cuts(model, values))


def violated_points(model: Any, values: Any) -> list[tuple[int, int, float]]:
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


__all__ = ["CUT_POINT_TOL", "CUT_VIOLATION", "EXPORT_FORMATS", "FORMULATIONS", "INITIAL_CUT_RATIO", "ROOT_ROUNDS",
           "add_resource_cut", "add_tangent_cuts", "assignment_cuts", "build_model", "export_model",
           "separating_cuts", "tighten_relaxation", "violated_points"]
