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

from collections.abc import Callable
from typing import Any

import numpy as np
import pyomo.environ as pyo

from solvers.exact.backends import HighsBackend
from solvers.exact.oa import linear, no_good, resource_cut
from solvers.horizon.data import NODE_EDGE, NODE_GATEWAY, HorizonData
from tadp.instance import Instance
from tadp.physics import CACHE_TOL, Pools, fits_capacity


# ============================================================================ model
def build_horizon_model(data: HorizonData, *, free_start: bool = False) -> Any:
    """The horizon problem as a Pyomo ``ConcreteModel`` (module doc): a MILP relaxation of it whose
    integer points are exactly the horizon's plans once enough resource cuts are in (all of them: C1 + C4
    + C5 per slot). ``start_cache`` and ``resident`` are binary, though for 0/1 choices every feasible point
    with fractional ones rounds down to a 0/1 one with the same choices (docs/exact_horizon.md, section 2),
    so continuous ones would give the same optimum: binary, they let HiGHS derive cover cuts from the
    caches.

    ``free_start``: the first step's start cache is a variable too (any cache that fits), which relaxes
    the problem (used by :func:`solvers.horizon.rolling.block_bound` for blocks after the first)."""
    inst = data.inst
    n, horizon = inst.n_devices, data.n_steps
    models = _model_flags(data)
    m = pyo.ConcreteModel(name=f"{inst.name} slots {data.first_slot}..{data.first_slot + horizon - 1} (horizon)")
    m.horizon_data = data
    m.steps = pyo.Set(initialize=range(horizon), ordered=True,
                      doc="steps s of the horizon: slot first_slot + s of the trace")
    m.options = pyo.Set(initialize=range(data.n_options), ordered=True,
                        doc="options k of every step: serve (task, site, level, fetch case) or place-only")
    m.models = pyo.Set(initialize=models, ordered=True,
                       doc="model flags f = (node, device j, level n): node 0 j's gateway, 1 the ECaS")
    m.gateways = pyo.Set(initialize=range(inst.n_gateways), ordered=True, doc="gateways i (IGWs)")
    m.choose = pyo.Var(m.options, domain=pyo.Binary,
                       doc="1 if option k is taken: site m_j, model phi_j and fetch case (C2, C3)")
    m.free_start = free_start
    first_free = _first_free(m)
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

    _add_one_option(m, data)
    _add_fetch_gates(m, data)
    _add_residency(m, data)
    _add_caches(m, data, models)
    _add_step_pools(m, data)
    return m


def _model_flags(data: HorizonData) -> list[int]:
    """The model flags that fit their node's cache (no other can ever be resident)."""
    inst = data.inst
    capacity = np.append(inst.gateway_cache, inst.edge_cache)
    sizes = inst.model_size
    def pool(node: int, j: int) -> int:
        return inst.device_gateway[j] if node == NODE_GATEWAY else inst.n_gateways

    return [int(data.flag(node, j, lv)) for node in (NODE_GATEWAY, NODE_EDGE) for j in range(inst.n_devices)
            for lv in (0, 1) if fits_capacity(sizes[j, lv], capacity[pool(node, j)])]


def _first_free(m: Any) -> int:
    """The first step whose start cache is a variable: 0 with a free start, else 1 (step 0 starts from the
    given cache)."""
    return 0 if m.free_start else 1


def _start_flags(data: HorizonData) -> np.ndarray:
    """The given start cache, by model flag."""
    return np.concatenate([data.start.gateway.reshape(-1), data.start.edge.reshape(-1)])


def _start(m: Any, data: HorizonData) -> Callable[[int, int], Any]:
    """u[s, f], model f resident at the start of step s: the variable ``start_cache[s, f]``, or the given
    start cache's flag (a constant) for a step whose start is not decided."""
    first_free, start_flags = _first_free(m), _start_flags(data)

    def start(s: int, f: int) -> Any:
        return m.start_cache[s, f] if s >= first_free else float(start_flags[f])

    return start


def _add_one_option(m: Any, data: HorizonData) -> None:
    """C2, C3: at most one option per task and step."""
    groups: dict[tuple[int, int], list[int]] = {}
    for k in range(data.n_options):
        groups.setdefault((int(data.step[k]), int(data.task[k])), []).append(k)
    m.step_tasks = pyo.Set(initialize=sorted(groups), dimen=2, ordered=True,
                           doc="(step, task) pairs with at least one option")
    m.one_option = pyo.Constraint(
        m.step_tasks, rule=lambda _, s, j: linear([1.0] * len(groups[s, j]), [m.choose[k] for k in groups[s, j]]) <= 1,
        doc="C2, C3: a task runs at one site with one model and one fetch case, or is not served ([D3])")


def _add_fetch_gates(m: Any, data: HorizonData) -> None:
    """Fetch cases gated by the start cache: a case needs its residency flag at the slot start."""
    start = _start(m, data)
    gated: dict[tuple[int, int], list[int]] = {}
    for k in range(data.n_options):
        if data.gate[k] >= 0:
            gated.setdefault((int(data.step[k]), int(data.gate[k])), []).append(k)
    m.gates = pyo.Set(initialize=sorted(gated), dimen=2, ordered=True,
                      doc="(step, model flag) pairs that some fetch case needs at the slot start")

    def gate_rule(_: Any, s: int, f: int) -> Any:
        ks = gated[s, f]
        return linear([1.0] * len(ks), [m.choose[k] for k in ks]) <= start(s, f)

    m.fetch_gate = pyo.Constraint(
        m.gates, rule=gate_rule,
        doc="eq. (5), [D5]: a fetch case with a shorter fetch needs its model resident at the slot start "
            "(gateway: at the gateway (F = 0) or in the ECaS (F = S/R_e); edge: in the ECaS (F = 0))")


def _add_residency(m: Any, data: HorizonData) -> None:
    """C6: resident = start OR brought, brought = an option (serve or place-only) at the model's site."""
    start = _start(m, data)
    first_free, start_flags = _first_free(m), _start_flags(data)
    touching: dict[tuple[int, int], list[int]] = {}
    for k in range(data.n_options):
        touching.setdefault((int(data.step[k]), int(data.touch[k])), []).append(k)

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


def _add_caches(m: Any, data: HorizonData, models: list[int]) -> None:
    """C6: the resident models fit every cache in every step (the evaluator's tolerance); C7: the next start
    cache is a subset of the resident set."""
    inst = data.inst
    n, g_count = inst.n_devices, inst.n_gateways
    capacity = np.append(inst.gateway_cache, inst.edge_cache)
    sizes = inst.model_size

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


def _add_step_pools(m: Any, data: HorizonData) -> None:
    """C1 + C4 + C5 per step: the slot model's single-pool resource cuts, and the lists the solvers add
    resource cuts and no-goods to."""
    pools = Pools(data.inst.n_gateways)

    def single_pool(s: int, pool: int) -> Any:
        prices = np.zeros(data.slots[s].serve.n_pools)
        prices[pool] = 1.0
        expr = _step_resource_cut(m, s, prices)
        return pyo.Constraint.Skip if expr is None else expr <= 1

    m.uplink_band = pyo.Constraint(m.steps, m.gateways, rule=lambda _, s, i: single_pool(s, int(pools.band[i])),
                                   doc="C4 [D4] with C1: gateway i's band B_i in step s, "
                                       "each task at its longest upload")
    m.bs_band = pyo.Constraint(m.steps, rule=lambda _, s: single_pool(s, pools.bs),
                               doc="C4 with C1: the BS band B_e in step s, each edge task at its longest hop")
    m.gateway_compute = pyo.Constraint(m.steps, m.gateways, rule=lambda _, s, i: single_pool(s, int(pools.compute[i])),
                                       doc="C5 with C1: gateway i's compute C_l in step s, "
                                           "each task at its longest compute")
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


def _cache_pool(inst: Instance, f: int) -> int:
    """Cache pool of model flag f: its device's gateway (0..G-1) or the ECaS (G)."""
    node, j = divmod(f // 2, inst.n_devices)
    return int(inst.device_gateway[j]) if node == NODE_GATEWAY else inst.n_gateways


# ============================================================================ cuts
def _step_resource_cut(m: Any, s: int, prices: np.ndarray) -> Any:
    """The left side of step s's resource cut at ``prices`` over its serve options (None: no option has a
    cost)."""
    data: HorizonData = m.horizon_data
    base = int(data.base[s])
    return resource_cut(data.slots[s].serve, prices, lambda o: m.choose[base + o])


def add_step_cut(model: Any, s: int, prices: np.ndarray) -> list[Any]:
    """Add step s's resource cut at ``prices`` (normalised to sum 1); returns the new constraint data."""
    prices = np.asarray(prices, float)
    prices = prices / prices.sum()
    expr = _step_resource_cut(model, s, prices)
    if expr is None:
        return []
    model.cut_count += 1
    model.cut_prices.append((s, prices))
    return [model.resource_cuts.add(expr <= 1)]


def step_no_good(model: Any, s: int, serve: np.ndarray) -> list[Any]:
    """Exclude exactly the served assignment ``serve`` of step s (place-only options left free)."""
    data: HorizonData = model.horizon_data
    n_serve = data.slots[s].serve.n_options
    picked = np.zeros(n_serve, bool)
    picked[np.asarray(serve, np.int64)] = True
    variables = [model.choose[int(data.base[s] + o)] for o in range(n_serve)]
    return [model.excluded.add(no_good(variables, picked))]


def choice_no_good(model: Any, z: np.ndarray) -> list[Any]:
    """Exclude exactly the 0/1 choice vector ``z`` over all options of the horizon."""
    return [model.excluded.add(no_good(list(model.choose.values()), z > 0.5))]


# ============================================================================ back end
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


__all__ = ["HorizonBackend", "add_step_cut", "build_horizon_model", "choice_no_good", "step_no_good"]
