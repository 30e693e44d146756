"""The horizon model: the slot model once per slot, the start caches as variables (docs/exact_horizon.md, section 2).

:func:`build_horizon_model` is the slot model of :mod:`solvers.exact.model` once per slot, with the start
cache as a variable:

- ``choose[k]``: one binary per option of every slot: *serve* options per (task, site, level, fetch case)
  and *place-only* options (late on purpose, zero shares, to place a model), :mod:`solvers.horizon.data`;
- ``start_cache[s, f]`` (slots s >= 1) and ``resident[s, f]`` per model flag f = (node, device, level);
- C2/C3 ``one_option``; ``fetch_gate``: a case needs its residency flag at the slot start; C6
  ``resident_*`` (r = u OR brought) and ``gateway_cache``/``edge_cache`` in every slot; C7 ``carry``
  (u_{s+1} <= r_s: the keep flags are free); C1 + C4 + C5 as the slot model's *resource cuts* per slot.

Also here: the cuts the solvers add to it (a step's resource cut, no-goods) and its HiGHS back end.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from solvers.exact.backends import HighsBackend
from solvers.exact.oracle import option_costs
from solvers.horizon.data import NODE_EDGE, NODE_GATEWAY, HorizonData
from tadp.instance import Instance
from tadp.physics import CACHE_TOL, Pools, fits_capacity

#: Resource-cut coefficients below this are left out (which only relaxes the cut).
RESOURCE_COEF_MIN = 1e-12


# ============================================================================ model
def linear(coefs: list[float], variables: list[Any], constant: float = 0.0) -> Any:
    return LinearExpression(constant=constant, linear_coefs=list(coefs), linear_vars=list(variables))


def build_horizon_model(data: HorizonData, *, free_start: bool = False) -> Any:
    """The horizon problem as a Pyomo ``ConcreteModel`` (module doc): a MILP relaxation of it whose
    integer points are exactly the horizon's plans once enough resource cuts are in (all of them: C1 + C4
    + C5 per slot). ``start_cache`` and ``resident`` are continuous: for 0/1 choices every feasible point
    rounds down to a 0/1 one with the same choices (docs/exact_horizon.md), so declaring them binary
    would change nothing but the search; binary, they let HiGHS derive cover cuts from the caches).

    ``free_start``: the first step's start cache is a variable too (any cache that fits), which relaxes
    the problem (used by :func:`solvers.horizon.rolling.block_bound` for blocks after the first)."""
    inst = data.inst
    n, g_count, horizon = inst.n_devices, inst.n_gateways, data.n_steps
    pools = Pools(g_count)
    capacity = np.append(inst.gateway_cache, inst.edge_cache)
    sizes = inst.model_size
    # model flags that fit their node's cache (no other can ever be resident)
    models = [int(data.flag(node, j, lv)) for node in (NODE_GATEWAY, NODE_EDGE) for j in range(n) for lv in (0, 1)
              if fits_capacity(sizes[j, lv], capacity[inst.device_gateway[j] if node == NODE_GATEWAY else g_count])]
    start_flags = np.concatenate([data.start.gateway.reshape(-1), data.start.edge.reshape(-1)])

    m = pyo.ConcreteModel(name=f"{inst.name} slots {data.first_slot}..{data.first_slot + horizon - 1} (horizon)")
    m.horizon_data = data
    m.steps = pyo.Set(initialize=range(horizon), ordered=True,
                      doc="steps s of the horizon: slot first_slot + s of the trace")
    m.options = pyo.Set(initialize=range(data.n_options), ordered=True,
                        doc="options k of every step: serve (task, site, level, fetch case) or place-only")
    m.models = pyo.Set(initialize=models, ordered=True,
                       doc="model flags f = (node, device j, level n): node 0 j's gateway, 1 the ECaS")
    m.gateways = pyo.Set(initialize=range(g_count), ordered=True, doc="gateways i (IGWs)")
    m.choose = pyo.Var(m.options, domain=pyo.Binary,
                       doc="1 if option k is taken: site m_j, model phi_j and fetch case (C2, C3)")
    first_free = 0 if free_start else 1
    m.free_start = free_start
    m.carried = pyo.Set(initialize=[(s, f) for s in range(first_free, horizon) for f in models], dimen=2,
                        ordered=True, doc="(step, model flag) pairs whose start-of-slot state is decided")
    m.start_cache = pyo.Var(m.carried, domain=pyo.Binary,
                            doc="u_l / u_e (C7): model f resident at the start of step s (s >= 1, or all steps "
                                "with a free start)")
    m.resident = pyo.Var(m.steps, m.models, domain=pyo.Binary,
                         doc="r (C6 [D6]): model f resident during step s, start cache OR placed")
    acc = data.accuracy / (n * horizon)
    m.accuracy = pyo.Objective(
        expr=linear(acc.tolist(), [m.choose[k] for k in range(data.n_options)]), sense=pyo.maximize,
        doc="episode score: mean over the steps of eq. (11), the mean accuracy U_j of completed tasks")

    def start(s: int, f: int) -> Any:
        return m.start_cache[s, f] if s >= first_free else float(start_flags[f])

    # ---------------------------------------------------------------- C2, C3
    groups: dict[tuple[int, int], list[int]] = {}
    for k in range(data.n_options):
        groups.setdefault((int(data.step[k]), int(data.task[k])), []).append(k)
    m.step_tasks = pyo.Set(initialize=sorted(groups), dimen=2, ordered=True,
                           doc="(step, task) pairs with at least one option")
    m.one_option = pyo.Constraint(
        m.step_tasks, rule=lambda _, s, j: linear([1.0] * len(groups[s, j]), [m.choose[k] for k in groups[s, j]]) <= 1,
        doc="C2, C3: a task runs at one site with one model and one fetch case, or is not served ([D3])")

    # ---------------------------------------------------------------- fetch cases gated by the start cache
    gated: dict[tuple[int, int], list[int]] = {}
    touching: dict[tuple[int, int], list[int]] = {}
    for k in range(data.n_options):
        s = int(data.step[k])
        if data.gate[k] >= 0:
            gated.setdefault((s, int(data.gate[k])), []).append(k)
        touching.setdefault((s, int(data.touch[k])), []).append(k)
    m.gates = pyo.Set(initialize=sorted(gated), dimen=2, ordered=True,
                      doc="(step, model flag) pairs that some fetch case needs at the slot start")

    def gate_rule(_: Any, s: int, f: int) -> Any:
        ks = gated[s, f]
        return linear([1.0] * len(ks), [m.choose[k] for k in ks]) <= start(s, f)

    m.fetch_gate = pyo.Constraint(
        m.gates, rule=gate_rule,
        doc="eq. (5), [D5]: a fetch case with a shorter fetch needs its model resident at the slot start "
            "(gateway: at the gateway (F = 0) or in the ECaS (F = S/R_e); edge: in the ECaS (F = 0))")

    # ---------------------------------------------------------------- C6: resident = start OR brought
    def brought(s: int, f: int) -> tuple[list[float], list[Any]]:
        ks = touching.get((s, f), [])
        return [1.0] * len(ks), [m.choose[k] for k in ks]

    def holds_start(_: Any, s: int, f: int) -> Any:
        return m.resident[s, f] >= start(s, f)

    def holds_brought(_: Any, s: int, f: int) -> Any:
        coefs, variables = brought(s, f)
        if not coefs:
            return pyo.Constraint.Skip
        return m.resident[s, f] >= linear(coefs, variables)

    def only_if(_: Any, s: int, f: int) -> Any:
        coefs, variables = brought(s, f)
        if s >= first_free:
            coefs, variables = coefs + [1.0], variables + [m.start_cache[s, f]]
        return m.resident[s, f] <= linear(coefs, variables, 0.0 if s >= first_free else float(start_flags[f]))

    m.resident_holds_start = pyo.Constraint(m.steps, m.models, rule=holds_start,
                                            doc="C6 [D6]: models kept from the previous slot stay during the slot")
    m.resident_holds_brought = pyo.Constraint(
        m.steps, m.models, rule=holds_brought,
        doc="C6 [D6]: a served or place-only option has its model at its site (placed if it was missing)")
    m.resident_only_if = pyo.Constraint(m.steps, m.models, rule=only_if,
                                        doc="C6 [D6]: nothing else is resident (r <= u + brought)")

    def cache_rule(s: int, node_pool: int) -> Any:
        fs = [f for f in models if _cache_pool(inst, f) == node_pool]
        if not fs:
            return pyo.Constraint.Skip
        coefs = [float(sizes[(f // 2) % n, f % 2] / capacity[node_pool]) for f in fs]
        return linear(coefs, [m.resident[s, f] for f in fs]) <= 1.0 + CACHE_TOL

    m.gateway_cache = pyo.Constraint(m.steps, m.gateways, rule=lambda _, s, i: cache_rule(s, i),
                                     doc="C6 [D6]: models resident at gateway i during step s within S_l_i")
    m.edge_cache = pyo.Constraint(m.steps, rule=lambda _, s: cache_rule(s, g_count),
                                  doc="C6 [D6]: models resident in the ECaS during step s within S_e")
    m.carry = pyo.Constraint(m.carried, rule=lambda _, s, f: m.start_cache[s, f] <= m.resident[s - 1, f]
                             if s > 0 else pyo.Constraint.Skip,
                             doc="C7: next start cache = keep AND resident (any keep flags)")

    # ---------------------------------------------------------------- C1 + C4 + C5 per step
    def single_pool(s: int, pool: int) -> Any:
        prices = np.zeros(data.slots[s].serve.n_pools)
        prices[pool] = 1.0
        expr = _cut_expression(m, s, prices)
        return pyo.Constraint.Skip if expr is None else expr <= 1

    m.uplink_band = pyo.Constraint(m.steps, m.gateways, rule=lambda _, s, i: single_pool(s, int(pools.band[i])),
                                   doc="C4 [D4] with C1: gateway i's band B_i in step s, each task at its longest upload")
    m.bs_band = pyo.Constraint(m.steps, rule=lambda _, s: single_pool(s, pools.bs),
                               doc="C4 with C1: the BS band B_e in step s, each edge task at its longest hop")
    m.gateway_compute = pyo.Constraint(m.steps, m.gateways, rule=lambda _, s, i: single_pool(s, int(pools.compute[i])),
                                       doc="C5 with C1: gateway i's compute C_l in step s, each task at its longest compute")
    m.edge_compute = pyo.Constraint(m.steps, rule=lambda _, s: single_pool(s, pools.edge_compute),
                                    doc="C5 with C1: the ECoS compute C_e in step s, each task at its longest compute")
    m.resource_cuts = pyo.ConstraintList(
        doc="C1 + C4 + C5 of one step: sum_o c_o(lambda) choose[o] <= 1 over its serve options, for price vectors "
            "lambda on its pools (the slot model's resource cuts, solvers.exact.model)")
    m.excluded = pyo.ConstraintList(
        doc="served assignments of one step (or whole choices) excluded one by one (no-good cuts): proven "
            "infeasible or knife-edge")
    m.cut_count = 0
    m.cut_prices = []  # (step, prices) of every resource cut added, so that another model of the slot can reuse it
    return m


def _cache_pool(inst: Instance, f: int) -> int:
    """Cache pool of model flag f: its device's gateway (0..G-1) or the ECaS (G)."""
    node, j = divmod(f // 2, inst.n_devices)
    return int(inst.device_gateway[j]) if node == NODE_GATEWAY else inst.n_gateways


def _cut_expression(m: Any, s: int, prices: np.ndarray) -> Any:
    data: HorizonData = m.horizon_data
    costs = option_costs(data.slots[s].serve, prices)
    used = np.flatnonzero(costs > RESOURCE_COEF_MIN)  # dropping a term of a <= cut only relaxes it
    if len(used) == 0:
        return None
    return linear(costs[used].tolist(), [m.choose[int(data.base[s] + o)] for o in used])


def add_step_cut(model: Any, s: int, prices: np.ndarray) -> list[Any]:
    """Add step s's resource cut at ``prices`` (normalised to sum 1); returns the new constraint data."""
    prices = np.asarray(prices, float)
    prices = prices / prices.sum()
    expr = _cut_expression(model, s, prices)
    if expr is None:
        return []
    model.cut_count += 1
    model.cut_prices.append((s, prices))
    return [model.resource_cuts.add(expr <= 1)]


def step_no_good(model: Any, s: int, serve: np.ndarray) -> list[Any]:
    """Exclude exactly the served assignment ``serve`` of step s (place-only options left free)."""
    data: HorizonData = model.horizon_data
    n_serve = data.slots[s].serve.n_options
    picked = set(int(o) for o in serve)
    coefs = [-1.0 if o in picked else 1.0 for o in range(n_serve)]
    variables = [model.choose[int(data.base[s] + o)] for o in range(n_serve)]
    return [model.excluded.add(linear(coefs, variables, float(len(picked))) >= 1)]


def choice_no_good(model: Any, z: np.ndarray) -> list[Any]:
    """Exclude exactly the 0/1 choice vector ``z`` over all options of the horizon."""
    picked = np.flatnonzero(z > 0.5)
    coefs = np.where(z > 0.5, -1.0, 1.0)
    return [model.excluded.add(linear(coefs.tolist(), list(model.choose.values()), float(len(picked))) >= 1)]


class HorizonBackend(HighsBackend):
    """The slot solver's HiGHS back end (persistent, incumbent callback, MIP start), relaxing every binary
    of the horizon model for the LP rounds, not just ``choose``."""

    def set_integrality(self, integer: bool) -> None:
        super().set_integrality(integer)
        domain = pyo.Binary if integer else pyo.UnitInterval
        others = (list(self.model.start_cache.values()) + list(self.model.resident.values())
                  + list(getattr(self.model, "extra_binaries", [])))
        for v in others:
            v.domain = domain
        self.opt.update_variables(others)


def choice_vector(model: Any, values: Any) -> np.ndarray:
    return np.array([values.get(v, 0.0) or 0.0 for v in model.choose.values()])


__all__ = ["HorizonBackend", "add_step_cut", "build_horizon_model", "choice_no_good", "choice_vector", "linear",
           "step_no_good"]
