"""The clairvoyant horizon optimum: all slots' tasks known, caches chained by C6/C7 (docs/exact_horizon.md).

The per-slot gap judges each slot on the cache the policy reached, so it never judges keep decisions
(omega, C7). The clairvoyant problem does: slots t0 .. t0+H-1 of the trace, the start cache of the first
one given, every later one chosen through the keep flags, maximise the episode score (the mean of the slot
scores). Every online policy's episode is a feasible point of it, so its optimum bounds every policy's
episode score from above.

The model (:func:`build_horizon_model`) is the slot model of :mod:`solvers.exact.model` once per slot,
with the start cache as a variable:

- ``choose[k]``: one binary per option of every slot: *serve* options per (task, site, level, fetch case)
  and *place-only* options (late on purpose, zero shares, to place a model), :mod:`solvers.horizon_data`;
- ``start_cache[s, f]`` (slots s >= 1) and ``resident[s, f]`` per model flag f = (node, device, level);
- C2/C3 ``one_option``; ``fetch_gate``: a case needs its residency flag at the slot start; C6
  ``resident_*`` (r = u OR brought) and ``gateway_cache``/``edge_cache`` in every slot; C7 ``carry``
  (u_{s+1} <= r_s: the keep flags are free); C1 + C4 + C5 as the slot model's *resource cuts* per slot.

:func:`solve_horizon` runs the same outer approximation as :func:`solvers.exact.highs.solve_slot`: HiGHS
solves the MILP, the oracle (:func:`solvers.exact.oracle.min_max_load`) judges each slot's served
assignment of every incumbent, an infeasible one gets the resource cut at its oracle prices (in its slot),
and the loop ends when the MILP's optimum is truly feasible (proven optimal) or at the time limit (best true
incumbent and best MILP bound). Infeasible incumbents are also *repaired* (served options turned into
place-only ones until the oracle accepts, which changes no cache) and kept when they beat the incumbent.

:func:`solve_horizon_band` (the default of :class:`HorizonSolver` up to :data:`BAND_MAX_TASKS` tasks per slot)
uses each slot's own optimum with a free start cache, V_s, as a bound on that slot in every episode, and
solves the horizon restricted to the slots' level patterns within a band of their V_s (docs/exact_horizon.md,
section 3b): the monolithic model's gap is the per-slot integrality of all slots at once, which one
branch-and-bound tree closes badly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from solvers.base import Solver, SolveResult, finish
from solvers.exact.backends import HighsBackend
from solvers.exact.options import trivial_bound
from solvers.exact.oracle import (
    FEASIBLE,
    INFEASIBLE,
    UNCERTAIN,
    LoadCertificate,
    min_max_load,
    option_costs,
    schedule_decision,
)
from solvers.horizon_data import (
    GATE_NONE,
    NODE_EDGE,
    NODE_GATEWAY,
    HorizonSlot,
    SlotPlan,
    cache_chain,
    horizon_slot,
    node_of_site,
    plan_decision,
    plan_flags,
    prune_place_only,
)
from tadp.decision import Decision
from tadp.errors import TadpInputError
from tadp.evaluator import CLAIM_TOL, evaluate_episode
from tadp.instance import Cache, Instance
from tadp.physics import CACHE_TOL, Pools, fits_capacity
from tadp.solution import SlotEntry, Solution

#: Kinds of a flat option of the horizon model.
SERVE, PLACE = 0, 1
#: Resource-cut coefficients below this are left out (which only relaxes the cut).
RESOURCE_COEF_MIN = 1e-12
#: An LP point whose fractional min-max load in a slot exceeds 1 by more than this gets a cut there.
ROOT_SEPARATION_TOL = 1e-6
#: Most rounds of LP separation before the first MILP.
ROOT_ROUNDS = 40
#: The LP rounds stop early when the bound moved less than this (relative) over the last round.
ROOT_STALL = 1e-7
#: Share of the time limit (at most POSTPROCESS_MAX_S seconds) kept after the last MILP round to judge and
#: repair its solutions.
POSTPROCESS_SHARE = 0.05
POSTPROCESS_MAX_S = 30.0
#: A repair stops adding back dropped options after this many that do not fit.
REPAIR_MISSES = 3
#: Candidates repaired per MILP round at most (its final solution first, then the incumbents met, best first).
REPAIRS_PER_ROUND = 4


# ============================================================================ data
@dataclass(frozen=True, eq=False)
class HorizonData:
    """The horizon's options, slot by slot, and one flat table over all of them (the MILP's columns).

    Flat option k of step s (slot ``first_slot + s``) is ``local[k]`` in that step's serve table
    (``kind == SERVE``) or place-only table (``kind == PLACE``). Model flags f = (node * N + j) * 2 + n
    (node 0 the device's gateway, 1 the ECaS)."""

    inst: Instance
    first_slot: int
    start: Cache
    slots: list[HorizonSlot]
    base: np.ndarray  # (H + 1,) first flat index of each step (and the total)
    step: np.ndarray  # (K,)
    kind: np.ndarray  # (K,) SERVE / PLACE
    local: np.ndarray  # (K,)
    task: np.ndarray  # (K,)
    level: np.ndarray  # (K,)
    touch: np.ndarray  # (K,) model flag the option brings to its site (resident or placed)
    gate: np.ndarray  # (K,) model flag it needs at the slot start, -1 for none
    accuracy: np.ndarray  # (K,) 0 for place-only options

    @property
    def n_steps(self) -> int:
        return len(self.slots)

    @property
    def n_options(self) -> int:
        return int(self.step.shape[0])

    def flag(self, node: int | np.ndarray, task: int | np.ndarray, level: int | np.ndarray) -> Any:
        return (node * self.inst.n_devices + task) * 2 + level

    def plans(self, z: np.ndarray) -> list[SlotPlan]:
        """The per-slot plans of a 0/1 choice vector over the flat options."""
        chosen = np.flatnonzero(np.asarray(z) > 0.5)
        out = []
        for s in range(self.n_steps):
            here = chosen[(chosen >= self.base[s]) & (chosen < self.base[s + 1])]
            out.append(SlotPlan(self.local[here[self.kind[here] == SERVE]], self.local[here[self.kind[here] == PLACE]]))
        return out

    def choices(self, plans: list[SlotPlan]) -> np.ndarray:
        """The flat 0/1 vector of per-slot plans (inverse of :meth:`plans`)."""
        z = np.zeros(self.n_options)
        for s, p in enumerate(plans):
            n_serve = self.slots[s].serve.n_options
            z[self.base[s] + p.serve] = 1.0
            z[self.base[s] + n_serve + p.place] = 1.0
        return z

    def value(self, plans: list[SlotPlan]) -> float:
        """Episode score of the plans if every served task completes: mean over slots of eq. (11)."""
        total = sum(float(hs.serve.accuracy[p.serve].sum()) for hs, p in zip(self.slots, plans, strict=True))
        return total / (self.inst.n_devices * self.n_steps)


def horizon_data(inst: Instance, first_slot: int, n_slots: int, start: Cache) -> HorizonData:
    """Options of slots ``first_slot .. first_slot + n_slots - 1`` from start cache ``start``."""
    if not (0 <= first_slot and n_slots >= 1 and first_slot + n_slots <= inst.n_slots):
        raise TadpInputError("argument", "--slots",
                             f"slots {first_slot}..{first_slot + n_slots - 1} not within 0..{inst.n_slots - 1}")
    overflow = inst.cache_overflows(start)
    if overflow:
        raise TadpInputError("argument", "cache", "start cache overflows: " + "; ".join(overflow))
    slots = [horizon_slot(inst, first_slot + s) for s in range(n_slots)]
    n = inst.n_devices
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("step", "kind", "local", "task", "level", "touch", "gate",
                                                         "accuracy")}
    base = [0]
    for s, hs in enumerate(slots):
        for kind, table, gate, acc in ((SERVE, hs.serve, hs.gate, hs.serve.accuracy),
                                       (PLACE, hs.place, hs.place.gate, np.zeros(hs.place.n_options))):
            m = table.n_options
            node = np.where(table.site == 1, NODE_GATEWAY, NODE_EDGE)
            cols["step"].append(np.full(m, s))
            cols["kind"].append(np.full(m, kind))
            cols["local"].append(np.arange(m))
            cols["task"].append(table.task.astype(np.int64))
            cols["level"].append(table.level.astype(np.int64))
            cols["touch"].append((node * n + table.task) * 2 + table.level)
            cols["gate"].append(np.where(gate == GATE_NONE, -1, (gate * n + table.task) * 2 + table.level))
            cols["accuracy"].append(np.asarray(acc, float))
        base.append(base[-1] + hs.serve.n_options + hs.place.n_options)
    flat = {k: np.concatenate(v).astype(float if k == "accuracy" else np.int64) for k, v in cols.items()}
    return HorizonData(inst=inst, first_slot=first_slot, start=start, slots=slots, base=np.array(base), **flat)


# ============================================================================ model
def _linear(coefs: list[float], variables: list[Any], constant: float = 0.0) -> Any:
    return LinearExpression(constant=constant, linear_coefs=list(coefs), linear_vars=list(variables))


def build_horizon_model(data: HorizonData, *, free_start: bool = False) -> Any:
    """The horizon problem as a Pyomo ``ConcreteModel`` (module doc): a MILP relaxation of it whose
    integer points are exactly the horizon's plans once enough resource cuts are in (all of them: C1 + C4
    + C5 per slot). ``start_cache`` and ``resident`` are continuous: for 0/1 choices every feasible point
    rounds down to a 0/1 one with the same choices (docs/exact_horizon.md), so declaring them binary
    would change nothing but the search; binary, they let HiGHS derive cover cuts from the caches).

    ``free_start``: the first step's start cache is a variable too (any cache that fits), which relaxes
    the problem (used by :func:`solvers.horizon_scale.block_bound` for blocks after the first)."""
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
        expr=_linear(acc.tolist(), [m.choose[k] for k in range(data.n_options)]), sense=pyo.maximize,
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
        m.step_tasks, rule=lambda _, s, j: _linear([1.0] * len(groups[s, j]), [m.choose[k] for k in groups[s, j]]) <= 1,
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
        return _linear([1.0] * len(ks), [m.choose[k] for k in ks]) <= start(s, f)

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
        return m.resident[s, f] >= _linear(coefs, variables)

    def only_if(_: Any, s: int, f: int) -> Any:
        coefs, variables = brought(s, f)
        if s >= first_free:
            coefs, variables = coefs + [1.0], variables + [m.start_cache[s, f]]
        return m.resident[s, f] <= _linear(coefs, variables, 0.0 if s >= first_free else float(start_flags[f]))

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
        return _linear(coefs, [m.resident[s, f] for f in fs]) <= 1.0 + CACHE_TOL

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
    return _linear(costs[used].tolist(), [m.choose[int(data.base[s] + o)] for o in used])


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


def _step_no_good(model: Any, s: int, serve: np.ndarray) -> list[Any]:
    """Exclude exactly the served assignment ``serve`` of step s (place-only options left free)."""
    data: HorizonData = model.horizon_data
    n_serve = data.slots[s].serve.n_options
    picked = set(int(o) for o in serve)
    coefs = [-1.0 if o in picked else 1.0 for o in range(n_serve)]
    variables = [model.choose[int(data.base[s] + o)] for o in range(n_serve)]
    return [model.excluded.add(_linear(coefs, variables, float(len(picked))) >= 1)]


def _choice_no_good(model: Any, z: np.ndarray) -> list[Any]:
    """Exclude exactly the 0/1 choice vector ``z`` over all options of the horizon."""
    picked = np.flatnonzero(z > 0.5)
    coefs = np.where(z > 0.5, -1.0, 1.0)
    return [model.excluded.add(_linear(coefs.tolist(), list(model.choose.values()), float(len(picked))) >= 1)]


# ============================================================================ results
@dataclass(eq=False)
class HorizonResult:
    """A horizon solve: per-slot decisions (keep flags set), re-scored by the evaluator."""

    decisions: list[Decision]
    objective: float  # episode score of the decisions (mean of slot scores), as the solver computes it
    bound: float  # valid upper bound on the horizon optimum
    status: str  # "optimal" (relative gap <= mip_gap), "time_limit", "error"; "feasible" for heuristics
    time_s: float
    slot_scores: list[float]  # the evaluator's slot scores of the decisions
    first_slot: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    slot_objectives: list[float] = field(default_factory=list)  # the solver's own slot scores (its claims)

    @property
    def score(self) -> float:
        """The evaluator's episode score (mean of ``slot_scores``)."""
        return float(np.mean(self.slot_scores)) if self.slot_scores else 0.0

    @property
    def gap(self) -> float:
        """Relative gap (bound - objective) / objective (0 when both are 0)."""
        return (self.bound - self.objective) / max(abs(self.objective), 1e-12) if self.bound > 0 else 0.0


@dataclass(eq=False)
class _Incumbent:
    value: float
    plans: list[SlotPlan]
    certificates: list[LoadCertificate]
    caches: list[Cache]


class _Judge:
    """The oracle on each step's served assignments, memoised; repairs infeasible plans."""

    def __init__(self, data: HorizonData) -> None:
        self.data = data
        self.memo: dict[tuple[int, bytes], LoadCertificate] = {}
        self.calls = 0

    def certificate(self, s: int, serve: np.ndarray) -> LoadCertificate:
        key = (s, np.sort(serve).astype(np.int64).tobytes())
        cert = self.memo.get(key)
        if cert is None:
            self.calls += 1
            opts, chosen = self.data.slots[s].serve, np.sort(serve)
            cert = min_max_load(opts, chosen, decide_only=True)  # a feasible verdict carries its schedule
            if cert.verdict != FEASIBLE:
                cert = min_max_load(opts, chosen, prices=cert.prices)  # the best prices: the deepest cut
            self.memo[key] = cert
        return cert

    def incumbent(self, plans: list[SlotPlan]) -> _Incumbent | None:
        """The plans as a true incumbent (every step certified feasible, caches valid), else None."""
        caches = cache_chain(self.data.inst, self.data.slots, plans, self.data.start)
        if caches is None:
            return None
        certs = []
        for s, p in enumerate(plans):
            cert = self.certificate(s, p.serve)
            if cert.verdict != FEASIBLE:
                return None
            certs.append(cert)
        return _Incumbent(self.data.value(plans), plans, certs, caches)

    def repair(self, plans: list[SlotPlan]) -> _Incumbent | None:
        """Turn served options of uncertified steps into place-only ones (same caches: a place-only task
        brings the same model to the same site, and needs no more of the start cache) until the oracle
        certifies each step, then add back what fits, best accuracy first."""
        if cache_chain(self.data.inst, self.data.slots, plans, self.data.start) is None:
            return None
        fixed = []
        for s, p in enumerate(plans):
            cert = self.certificate(s, p.serve)
            fixed.append(p if cert.verdict == FEASIBLE else self._repair_step(s, p, cert))
        return self.incumbent(fixed)

    def _repair_step(self, s: int, plan: SlotPlan, cert: LoadCertificate) -> SlotPlan:
        hs = self.data.slots[s]
        opts = hs.serve
        serve = [int(o) for o in plan.serve]
        removed: list[int] = []
        while serve and cert.verdict != FEASIBLE:
            # at the oracle's prices the served set's priced load is Phi > 1: drop the options with the least
            # accuracy per priced load until the rest's priced load is below 1, then ask the oracle again
            costs = option_costs(opts, cert.prices / cert.prices.sum())
            total = float(costs[serve].sum())
            dropped = 0
            for o in sorted(serve, key=lambda o: opts.accuracy[o] / max(costs[o], 1e-300)):
                if total < 1.0 and dropped:
                    break
                serve.remove(o)
                removed.append(o)
                total -= float(costs[o])
                dropped += 1
            chosen = np.array(sorted(serve), int)
            cert = min_max_load(opts, chosen, prices=cert.prices, decide_only=True)
            if cert.verdict != FEASIBLE:
                cert = min_max_load(opts, chosen, prices=cert.prices)
        misses = 0
        for o in sorted(removed, key=lambda o: -opts.accuracy[o]):  # add back what fits, a few misses at most
            trial = np.array(sorted(serve + [o]), int)
            if min_max_load(opts, trial, prices=cert.prices, decide_only=True).verdict == FEASIBLE:
                serve.append(o)
            else:
                misses += 1
                if misses >= REPAIR_MISSES:
                    break
        place = [int(o) for o in plan.place]
        for o in removed:
            if o in serve:
                continue
            substitute = _place_substitute(hs, o)
            if substitute is not None:
                place.append(substitute)
        return SlotPlan(np.array(sorted(serve), np.int64), np.array(sorted(place), np.int64))


def _place_substitute(hs: HorizonSlot, o: int) -> int | None:
    """The place-only option that brings serve option o's model to its site, or None when o's model is
    resident already (its case is the resident one) and nothing needs placing. Prefers the ungated one."""
    s = hs.serve
    if hs.gate[o] != GATE_NONE and hs.gate[o] == node_of_site(int(s.site[o])):
        return None
    p = hs.place
    match = np.flatnonzero((p.task == s.task[o]) & (p.site == s.site[o]) & (p.level == s.level[o]))
    if len(match) == 0:  # cannot happen: a serve case's fetch fits the deadline, so a place-only one exists
        raise ValueError(f"no place-only option for serve option {o}")
    ungated = [k for k in match if p.gate[k] == GATE_NONE]
    chosen = ungated[0] if ungated else int(match[0])
    if p.gate[chosen] != GATE_NONE and p.gate[chosen] != hs.gate[o]:
        raise ValueError(f"place-only substitute of serve option {o} needs another start-cache flag")
    return int(chosen)


def _warm_values(model: Any, inc: _Incumbent) -> list[tuple[Any, float]] | None:
    """A complete MILP point for a true incumbent: choices, start caches and resident flags (and the
    variables a restriction added); None when a restriction leaves the incumbent out."""
    data: HorizonData = model.horizon_data
    z = data.choices(inc.plans)
    values = [(model.choose[k], float(z[k])) for k in range(data.n_options)]
    n = data.inst.n_devices
    for s in range(data.n_steps):
        start = np.concatenate([inc.caches[s].gateway.reshape(-1), inc.caches[s].edge.reshape(-1)])
        touch = plan_flags(data.slots[s], inc.plans[s], n)[1].reshape(-1)
        for f in model.models:
            if s > 0 or model.free_start:
                values.append((model.start_cache[s, f], float(start[f])))
            values.append((model.resident[s, f], float(start[f] or touch[f])))
    extra = getattr(model, "extra_warm", None)
    if extra is None:
        return values
    more = extra(inc.plans)
    return None if more is None else values + more


def _decisions(data: HorizonData, inc: _Incumbent) -> list[Decision]:
    out = []
    for s, (hs, plan, cert) in enumerate(zip(data.slots, inc.plans, inc.certificates, strict=True)):
        served = schedule_decision(hs.serve, cert)
        out.append(plan_decision(hs, plan, served, inc.caches[s + 1]))
    return out


class _HorizonBackend(HighsBackend):
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


def _choice_vector(model: Any, values: Any) -> np.ndarray:
    return np.array([values.get(v, 0.0) or 0.0 for v in model.choose.values()])


# ============================================================================ solving
def tighten_horizon(model: Any, backend: HighsBackend, deadline: float, *, rounds: int = ROOT_ROUNDS
                    ) -> tuple[int, float | None, np.ndarray | None]:
    """Rounds of: solve the LP relaxation, add in every step the resource cut that separates the step's
    fractional point (if it lies outside the step's convex relaxation). Returns (rounds, last LP bound,
    last LP choice vector)."""
    data: HorizonData = model.horizon_data
    done, bound, z = 0, None, None
    backend.set_integrality(False)
    last = math.inf
    while done < rounds and time.perf_counter() < deadline:
        lp = backend.solve(deadline - time.perf_counter(), 0.0)
        if lp.status != "optimal" or lp.values is None:
            break
        done += 1
        bound = lp.bound if lp.bound is not None else lp.objective
        z = _choice_vector(model, lp.values)
        new = []
        for s, hs in enumerate(data.slots):
            zs = z[data.base[s]:data.base[s] + hs.serve.n_options]
            support = np.flatnonzero(zs > 1e-9)
            if len(support) == 0:
                continue
            cert = min_max_load(hs.serve, support, weights=zs[support])
            if cert.lower > 1.0 + ROOT_SEPARATION_TOL:
                new += add_step_cut(model, s, cert.prices)
        backend.add(new)
        if not new or (bound is not None and last - bound <= ROOT_STALL * abs(bound)):
            break
        last = bound if bound is not None else last
    backend.set_integrality(True)
    return done, bound, z


def solve_horizon(
    inst: Instance,
    n_slots: int | None = None,
    *,
    time_limit: float,
    seed: int = 0,
    first_slot: int = 0,
    start_cache: Cache | None = None,
    mip_gap: float = 1e-6,
    threads: int | None = None,
    incumbent: list[Decision] | None = None,
    restrict: Callable[[Any], None] | None = None,
    outside_bound: float | None = None,
    upper_bound: float | None = None,
) -> HorizonResult:
    """The clairvoyant optimum of slots ``first_slot .. first_slot + n_slots - 1`` (default: to the end
    of the trace) from ``start_cache`` (default: the instance's initial cache), by outer approximation
    (module doc). ``time_limit`` is for the whole solve. ``incumbent`` (decisions for those slots, e.g. a
    policy's episode, or a prefix of one: the slots after it serve nobody) is turned into a plan (each
    completed task the serve option of its true fetch case, each late task that placed a model a place-only
    option) and is the first incumbent (repaired, as HiGHS's incumbents are, where the oracle does not
    certify a slot).

    Returns decisions with keep flags (the fewest kept models the plan needs), the claimed objective
    (checked against the evaluator, status ``error`` if they differ), a valid bound and the status.

    For :func:`solve_horizon_band`: ``restrict(model)`` adds constraints to the built model (binaries it
    adds go to ``model.extra_binaries``, relaxed in the LP rounds), so that the MILP solves a restricted
    problem R; ``outside_bound`` bounds every episode R leaves out, so the bound reported is
    ``max(bound on R, outside_bound)`` (``outside_bound`` alone when R is proven empty); ``upper_bound`` is a
    valid bound on the whole horizon known beforehand."""
    started = time.perf_counter()
    deadline = started + time_limit
    start = inst.initial_cache if start_cache is None else start_cache
    n = inst.n_slots - first_slot if n_slots is None else n_slots
    data = horizon_data(inst, first_slot, n, start)
    judge = _Judge(data)
    info: dict[str, Any] = {"options": data.n_options, "serve_options": int((data.kind == SERVE).sum())}
    empty = [SlotPlan(np.zeros(0, np.int64), np.zeros(0, np.int64)) for _ in range(n)]
    best = judge.incumbent(empty)
    assert best is not None  # serving nothing and keeping nothing is always valid
    if incumbent is not None:
        given = _plans_of_decisions(data, incumbent)
        if given is not None:
            cand = judge.incumbent(given) or judge.repair(given)
            if cand is not None and cand.value > best.value:
                best = cand
    # every task at its best option in every slot: the trivial bound
    bound = sum(trivial_bound(hs.serve) for hs in data.slots) / n if (data.kind == SERVE).any() else 0.0
    if upper_bound is not None:
        bound = min(bound, upper_bound)
    trace: list[tuple[float, float, float]] = []  # (seconds, incumbent, bound) whenever one of them moves

    def record() -> None:
        point = (time.perf_counter() - started, best.value, max(bound, best.value, outside_bound or 0.0))
        if not trace or trace[-1][1:] != point[1:]:
            trace.append(point)

    record()
    info["trace"] = trace
    if not (data.kind == SERVE).any():  # no task can complete in any slot: serving nobody is optimal
        return _result(data, best, 0.0, "optimal", started, info)

    model = build_horizon_model(data)
    if restrict is not None:
        restrict(model)
    backend = _HorizonBackend(model, threads, seed)
    info["build_s"] = time.perf_counter() - started

    # ---- 1. LP relaxation, tightened by per-step resource cuts at its own points
    root_rounds, root_bound, _ = tighten_horizon(model, backend, deadline)
    if root_bound is not None:
        bound = min(bound, root_bound)
    record()
    info.update(root_rounds=root_rounds, root_bound=root_bound, root_s=time.perf_counter() - started)

    # ---- 2. MILP rounds of outer approximation
    rounds, nodes, cuts_added, no_goods, repaired = 0, 0, 0, 0, 0
    frozen: float | None = None  # the bound before a knife-edge exclusion (later MILP bounds do not count)
    solver_gap = mip_gap
    status = "time_limit"
    tried: set[bytes] = set()
    cut_at: set[tuple[int, bytes]] = set()
    excluded: set[tuple[int, bytes]] = set()
    # the MILP stops a little before the deadline, so that its last solutions can still be judged and repaired
    milp_deadline = deadline - min(max(POSTPROCESS_SHARE * time_limit, 0.5), POSTPROCESS_MAX_S)
    while time.perf_counter() < milp_deadline:
        start_values = _warm_values(model, best) if best.value > 0 else None
        if start_values is not None:
            backend.warm_start(start_values)
        res = backend.solve(milp_deadline - time.perf_counter(), solver_gap)
        rounds += 1
        nodes += res.nodes or 0
        if res.bound is not None and math.isfinite(res.bound) and frozen is None:
            bound = min(bound, res.bound)
        if res.values is None and res.status == "infeasible" and restrict is not None:
            # the restricted problem is empty (its relaxation is): every episode is outside it
            if outside_bound is not None:
                bound = min(bound, outside_bound)
            info["restricted_empty"] = True
            break
        if res.values is None and res.status != "time_limit":
            status = "error"
            info["error"] = f"MILP round {rounds} ended {res.status} without a solution"
            break
        final = _choice_vector(model, res.values) if res.values is not None else None
        met = sorted(res.incumbents, key=lambda z: -float(data.accuracy @ (z > 0.5)))  # best first
        candidates = ([final] if final is not None else []) + met
        final_ok = False
        repairs = 0
        for c, z in enumerate(candidates):
            if c > 0 and time.perf_counter() > deadline:
                break  # past the limit: the final solution only (its cuts, its check)
            plans = data.plans(z)
            key = data.choices(plans).astype(np.int8).tobytes()
            first_time = key not in tried
            tried.add(key)
            inc = judge.incumbent(plans)
            if inc is not None:
                if inc.value > best.value:
                    best = inc
                final_ok = final_ok or c == 0
                continue
            if c == 0 and cache_chain(inst, data.slots, plans, data.start) is None:
                # caches over capacity by more than the evaluator's tolerance, within HiGHS's: exclude
                # exactly this choice (no keep choice makes it valid), else the round would repeat
                backend.add(_choice_no_good(model, data.choices(plans)))
                no_goods += 1
                continue
            for s, p in enumerate(plans):
                cert = judge.certificate(s, p.serve)
                step_key = (s, p.key())
                if cert.verdict == FEASIBLE:
                    continue
                if step_key in excluded:  # back despite its no-good (HiGHS's tolerance): exclude the whole choice
                    if c == 0:
                        backend.add(_choice_no_good(model, data.choices(plans)))
                        no_goods += 1
                    break
                if cert.verdict == INFEASIBLE and step_key not in cut_at:
                    cut_at.add(step_key)
                    new = add_step_cut(model, s, cert.prices)
                    cuts_added += len(new)
                elif cert.verdict == INFEASIBLE and c > 0:
                    continue  # met during the search before its cut went in
                else:  # back despite its cut (proven infeasible), or knife-edge: exclude the step's assignment
                    if cert.verdict == UNCERTAIN and frozen is None:
                        frozen = bound
                    excluded.add(step_key)
                    new = _step_no_good(model, s, p.serve)
                    no_goods += 1
                backend.add(new)
            if first_time and repairs < REPAIRS_PER_ROUND and time.perf_counter() < deadline:
                repairs += 1
                fixed = judge.repair(plans)
                if fixed is not None:
                    repaired += 1
                    if fixed.value > best.value:
                        best = fixed
        record()
        if res.status == "optimal" and final_ok:
            if max(bound, best.value) - best.value <= mip_gap * abs(best.value) or solver_gap < 1e-12:
                status = "optimal"
                break
            solver_gap /= 10
            continue
        if res.status not in ("optimal",):
            status = "time_limit" if res.status == "time_limit" else "error"
            break
    if outside_bound is not None:
        bound = max(bound, outside_bound)
    bound = max(bound, best.value)
    if frozen is not None:
        bound = max(frozen, best.value, outside_bound if outside_bound is not None else 0.0)
    gap = (bound - best.value) / max(abs(best.value), 1e-12) if bound > 0 else 0.0
    if status == "optimal" and gap > mip_gap:
        status = "time_limit"
    elif info.get("restricted_empty") and gap <= mip_gap:
        status = "optimal"
    record()
    info.update(oa_rounds=rounds, nodes=nodes, cuts=model.cut_count, oa_cuts_added=cuts_added, no_good_cuts=no_goods,
                repaired=repaired, oracle_calls=judge.calls, knife_edge=frozen is not None,
                mip_gap=gap if best.value > 0 else None)
    return _result(data, best, bound, status, started, info)


def _result(data: HorizonData, best: _Incumbent, bound: float, status: str, started: float,
            info: dict[str, Any]) -> HorizonResult:
    """Decisions of the incumbent (useless place-only services dropped), re-scored by the evaluator
    (status ``error`` if it disagrees)."""
    plans = prune_place_only(data.inst, data.slots, best.plans, data.start)
    caches = cache_chain(data.inst, data.slots, plans, data.start)
    if caches is not None:
        best = _Incumbent(best.value, plans, best.certificates, caches)
    decisions = _decisions(data, best)
    claims = [float(hs.serve.accuracy[p.serve].sum()) / data.inst.n_devices for hs, p in zip(data.slots, best.plans,
                                                                                               strict=True)]
    outcomes = evaluate_episode(data.inst, decisions, data.start, data.first_slot)
    scores = [o.score for o in outcomes]
    problems = [f"slot {o.slot}: " + "; ".join(map(str, o.violations)) for o in outcomes if not o.feasible]
    problems += [f"slot {o.slot}: claimed {c:.9g}, evaluator {o.score:.9g}" for o, c in zip(outcomes, claims,
                                                                                          strict=True)
                 if abs(o.score - c) > CLAIM_TOL]
    if problems:
        info["error"] = "evaluator disagrees: " + " | ".join(problems)
        status = "error"
    elif abs(float(np.mean(scores)) - best.value) > CLAIM_TOL:
        info["error"] = f"objective {best.value:.9g} != evaluator episode score {np.mean(scores):.9g}"
        status = "error"
    return HorizonResult(decisions, best.value, bound, status, time.perf_counter() - started, scores,
                         data.first_slot, info, claims)


def _plans_of_decisions(data: HorizonData, decisions: list[Decision]) -> list[SlotPlan] | None:
    """The plans of given decisions whose served tasks all complete (judged by the evaluator): each
    completed task becomes the serve option of its true fetch case, each other served task whose model
    was placed a place-only option; None when some choice has no option in the tables."""
    decisions = list(decisions[:data.n_steps])
    decisions += [Decision.drop_all(data.inst.n_devices) for _ in range(data.n_steps - len(decisions))]
    outcomes = evaluate_episode(data.inst, decisions, data.start, data.first_slot)
    cache = data.start
    plans = []
    for hs, d, out in zip(data.slots, decisions, outcomes, strict=True):
        if not out.feasible:
            plans.append(SlotPlan(np.zeros(0, np.int64), np.zeros(0, np.int64)))
            continue
        serve, place = [], []
        for j in np.flatnonzero(d.site != 0):
            site, level = int(d.site[j]), int(d.level[j])
            node = node_of_site(site)
            if out.completed[j]:
                resident = cache.gateway[j, level] if node == NODE_GATEWAY else cache.edge[j, level]
                want = node if resident else (NODE_EDGE if site == 1 and cache.edge[j, level] else GATE_NONE)
                match = np.flatnonzero((hs.serve.task == j) & (hs.serve.site == site) & (hs.serve.level == level)
                                       & (hs.gate == want))
                if len(match) == 0:
                    return None
                serve.append(int(match[0]))
            elif (out.placed.gateway if node == NODE_GATEWAY else out.placed.edge)[j, level]:
                match = np.flatnonzero((hs.place.task == j) & (hs.place.site == site) & (hs.place.level == level))
                if len(match) == 0:
                    return None
                place.append(int(match[0]))
        plans.append(SlotPlan(np.array(sorted(serve), np.int64), np.array(sorted(place), np.int64)))
        assert out.next_cache is not None
        cache = out.next_cache
    return plans


# ============================================================================ slot bands
#: Methods of :class:`HorizonSolver`: "band" (:func:`solve_horizon_band`), "monolithic" (:func:`solve_horizon`),
#: "auto" (slot bands up to :data:`BAND_MAX_TASKS` tasks per slot).
METHODS = ("auto", "band", "monolithic")
#: Most tasks per slot for which "auto" picks slot bands: each slot's MILP must be proven in well under a second
#: (scarce, load 4: 2x5 0.1-0.4 s a slot, 3x5 about 0.9 s; 4x5 and 4x10 proved 11 and 1 of 20 slots in 30 s; at
#: 10x35 a cold slot alone is not proven in 60 s). Beyond :data:`BAND_MIN_PROVEN` unproven slots, slot bands hand
#: over to the monolithic model anyway.
BAND_MAX_TASKS = 16
#: Share of the time limit for the slots' own optima (phase 1 of :func:`solve_horizon_band`).
BAND_OPTIMA_SHARE = 0.5
#: Least share of the slots whose optimum phase 1 must prove for the bands to go on (else the monolithic model
#: solves the rest, under the slots' bound).
BAND_MIN_PROVEN = 0.9
#: Share of the time left after the slots' optima that the heuristic round (their patterns only) may take.
BAND_HEURISTIC_SHARE = 0.4
#: Share of the time limit after which no new band round starts (nor a restricted horizon whose pattern lists
#: are not all complete goes on): the monolithic model takes the time left.
BAND_HANDOVER_SHARE = 0.6
#: Least time left (s) for that hand-over.
BAND_HANDOVER_MIN_S = 2.0
#: Share of the time left that one round's pattern enumeration may take.
BAND_ENUM_SHARE = 0.5
#: Factor by which the band grows after a round whose restricted problem is empty.
BAND_GROWTH = 8.0
#: Slack (score units) in favour of including a pattern at the band's edge.
BAND_TOL = 1e-9


def slot_pattern(hs: HorizonSlot, serve: np.ndarray, n_tasks: int) -> tuple[int, ...]:
    """The level pattern of a served assignment: per task its level, or -1 when it is not served."""
    pattern = [-1] * n_tasks
    for o in serve:
        pattern[int(hs.serve.task[o])] = int(hs.serve.level[o])
    return tuple(pattern)


class _SlotBand:
    """One slot alone, with a free start cache (any cache that fits; the given one for the horizon's first
    slot): its optimum V (a bound on that slot's score in every episode), then every level pattern whose
    best score lies within a band G of V (docs/exact_horizon.md, section 3b)."""

    def __init__(self, inst: Instance, slot: int, start: Cache | None, threads: int | None, seed: int) -> None:
        n = inst.n_devices
        self.data = horizon_data(inst, slot, 1, Cache.empty(n) if start is None else start)
        self.n = n
        m = build_horizon_model(self.data, free_start=start is None)
        serve = np.flatnonzero(self.data.kind == SERVE)
        m.band_floor = pyo.Var(bounds=(0.0, 0.0), doc="least score the enumeration accepts (0: none)")
        m.band = pyo.ConstraintList(doc="the slot's score within the band; level patterns found (no-goods)")
        m.band.add(_linear((self.data.accuracy[serve] / n).tolist(), [m.choose[int(k)] for k in serve])
                   >= m.band_floor)
        self.model = m
        self.backend = _HorizonBackend(m, threads, seed)
        self.judge = _Judge(self.data)
        self.upper = trivial_bound(self.data.slots[0].serve)  # bound on the slot's score
        self.best = 0.0  # best certified score
        self.patterns: dict[tuple[int, ...], float] = {}  # level pattern -> best certified score met (or bound)
        self.covered = -1.0  # band within which ``patterns`` is complete (< 0: the optimum is not proven yet)
        self.tightened = False
        self.cut_at: set[bytes] = set()
        self.milps = 0

    def _no_good(self, pattern: tuple[int, ...]) -> None:
        """Exclude every served assignment with this level pattern: sum over tasks of [task at its pattern
        state] <= N - 1, the state of task j being ``sum_o choose[o]`` over its options at level p_j, or
        ``1 - sum_o choose[o]`` over all its serve options when p_j = -1."""
        data, m = self.data, self.model
        coefs, variables, constant = [], [], 0.0
        hs = data.slots[0].serve
        for o in range(hs.n_options):
            state = pattern[int(hs.task[o])]
            if state == -1:
                coefs.append(-1.0)
                variables.append(m.choose[o])
            elif state == int(hs.level[o]):
                coefs.append(1.0)
                variables.append(m.choose[o])
        constant = float(sum(1 for p in pattern if p == -1))
        self.backend.add([m.band.add(_linear(coefs, variables, constant) <= self.n - 1)])

    def optimum(self, deadline: float) -> bool:
        """Phase 1: the slot's optimum V (``upper``, a MILP bound) and its pattern. False on the time limit
        (``upper`` then keeps the least bound met, which is still valid)."""
        if self.covered >= 0:
            return True
        if not self.tightened:
            tighten_horizon(self.model, self.backend, deadline)
            self.tightened = True
        while time.perf_counter() < deadline:
            res = self.backend.solve(deadline - time.perf_counter(), 1e-9)
            self.milps += 1
            if res.bound is not None and math.isfinite(res.bound):
                self.upper = min(self.upper, res.bound)
            if res.values is None:
                return False  # serving nobody is feasible: only the time limit ends here
            z = _choice_vector(self.model, res.values)
            plan = self.data.plans(z)[0]
            cert = self.judge.certificate(0, plan.serve)
            if cert.verdict == FEASIBLE:
                self.best = max(self.best, self.data.value([plan]))
                if res.status == "optimal":
                    self.patterns[slot_pattern(self.data.slots[0], plan.serve, self.n)] = self.data.value([plan])
                    self._no_good(next(iter(self.patterns)))
                    self.upper = max(self.upper, self.best)
                    self.covered = 0.0
                    return True
                continue
            if cert.verdict == INFEASIBLE and plan.key() not in self.cut_at:
                self.cut_at.add(plan.key())
                self.backend.add(add_step_cut(self.model, 0, cert.prices))
                continue
            # knife-edge or back despite its cut: V cannot be certified; keep the bound (upper), no patterns
            return False
        return False

    def extend(self, band: float, deadline: float) -> bool:
        """Phase 2: every level pattern with a served assignment scoring at least ``upper - band`` (the
        relaxation's, so feasible ones and possibly some that are not); True when complete. Phase 1 is
        finished first if it is not yet."""
        if self.covered < 0 and not self.optimum(deadline):
            return False
        if band <= self.covered:
            return True
        floor = self.model.band_floor
        floor.setlb(max(self.upper - band - BAND_TOL, 0.0))
        floor.setub(max(self.upper - band - BAND_TOL, 0.0))
        self.backend.opt.update_variables([floor])
        while time.perf_counter() < deadline:
            # any point of the band will do: the first one HiGHS meets (gap 1)
            res = self.backend.solve(deadline - time.perf_counter(), 1.0)
            self.milps += 1
            if res.values is None:
                if res.status == "infeasible":
                    self.covered = band
                    return True
                return False
            z = _choice_vector(self.model, res.values)
            plan = self.data.plans(z)[0]
            cert = self.judge.certificate(0, plan.serve)
            if cert.verdict == INFEASIBLE and plan.key() not in self.cut_at:
                self.cut_at.add(plan.key())
                self.backend.add(add_step_cut(self.model, 0, cert.prices))
                continue
            pattern = slot_pattern(self.data.slots[0], plan.serve, self.n)
            if pattern in self.patterns:  # cannot happen (its no-good is in): stop, incomplete
                return False
            self.patterns[pattern] = self.data.value([plan]) if cert.verdict == FEASIBLE else self.upper
            self._no_good(pattern)
        return False


def _band_restriction(bands: list[_SlotBand], complete: list[bool], band: float | None) -> Callable[[Any], None]:
    """The restriction R(G) of the horizon model (docs/exact_horizon.md, section 3b): every step's score at
    most its slot's bound V_s; the steps' total loss ``sum_s (V_s - score_s)`` at most G; a step whose
    pattern list is complete takes one of its patterns (``band_pattern[s, p]``, binary), which fixes, per
    task, served or not and at which level. ``band`` None: no total-loss row (the heuristic round)."""
    upper = [b.upper for b in bands]

    def restrict(m: Any) -> None:
        data: HorizonData = m.horizon_data
        n = data.inst.n_devices
        lists = {s: list(b.patterns) for s, b in enumerate(bands) if complete[s]}
        m.band_patterns = pyo.Set(initialize=[(s, p) for s, ps in lists.items() for p in range(len(ps))], dimen=2,
                                  ordered=True, doc="(step, level pattern within the band)")
        m.band_pattern = pyo.Var(m.band_patterns, domain=pyo.Binary, doc="1 if step s takes level pattern p")
        m.extra_binaries = list(m.band_pattern.values())
        m.band_rows = pyo.ConstraintList(doc="R(G): the steps' scores, their total loss and their level patterns")
        total_c: list[float] = []
        total_v: list[Any] = []
        for s in range(data.n_steps):
            ks = [k for k in range(int(data.base[s]), int(data.base[s + 1])) if data.kind[k] == SERVE]
            coefs = [float(data.accuracy[k]) / n for k in ks]
            variables = [m.choose[k] for k in ks]
            if ks:  # a step with no serve option scores 0 whatever it does
                m.band_rows.add(_linear(coefs, variables) <= upper[s] + BAND_TOL)
            total_c += coefs
            total_v += variables
            if s not in lists:
                continue
            ps = lists[s]
            m.band_rows.add(sum(m.band_pattern[s, p] for p in range(len(ps))) == 1)
            for j in range(n):
                for level in (0, 1):
                    here = [k for k in ks if data.task[k] == j and data.level[k] == level]
                    which = [p for p in range(len(ps)) if ps[p][j] == level]
                    if here or which:
                        m.band_rows.add(_linear([1.0] * len(here) + [-1.0] * len(which),
                                                [m.choose[k] for k in here] + [m.band_pattern[s, p] for p in which])
                                        == 0)
        if band is not None:
            m.band_rows.add(_linear(total_c, total_v) >= sum(upper) - band - BAND_TOL)
        for s, b in enumerate(bands):  # the slot models' resource cuts hold for the same slot here
            for _, prices in b.model.cut_prices:
                add_step_cut(m, s, prices)

        def warm(plans: list[SlotPlan]) -> list[tuple[Any, float]] | None:
            values = []
            for s, ps in lists.items():
                mine = slot_pattern(data.slots[s], plans[s].serve, n)
                if mine not in ps:
                    return None
                values += [(m.band_pattern[s, p], float(ps[p] == mine)) for p in range(len(ps))]
            return values

        m.extra_warm = warm

    return restrict


def solve_horizon_band(
    inst: Instance,
    n_slots: int | None = None,
    *,
    time_limit: float,
    seed: int = 0,
    first_slot: int = 0,
    start_cache: Cache | None = None,
    mip_gap: float = 1e-6,
    threads: int | None = None,
    incumbent: list[Decision] | None = None,
    myopic_share: float = 0.0,
) -> HorizonResult:
    """The clairvoyant optimum by slot bands (docs/exact_horizon.md, section 3b), same interface and result
    as :func:`solve_horizon`.

    1. Each slot alone, with a free start cache (any that fits; the given one for the first slot), solved
       to optimality: V_s bounds slot s's score in every episode, so mean(V) bounds the episode score, and
       every episode's losses ``V_s - score_s`` are >= 0.
    2. For a band G (total loss), each slot's level patterns (per task: not served, light, heavy) with a
       served assignment scoring at least V_s - G are enumerated (MILP with no-goods).
    3. The horizon model restricted to those patterns and to a total loss <= G (R(G)) is solved by
       :func:`solve_horizon`. Every episode outside R(G) has a total loss > G, so it scores below
       mean(V) - G / H: the bound is ``max(bound on R(G), mean(V) - G / H)``. When R(G) is proven empty,
       that is the bound, G grows (x8, or to the incumbent's loss) and 2-3 repeat. After the first empty
       R(G), with ``myopic_share`` > 0, the myopic exact policy's episode (that share of the time limit) is
       offered as incumbent, when better than ``incumbent``.

    Before 2-3, a heuristic round solves the horizon restricted to each slot's optimal pattern: an episode
    there scores mean(V) and is optimal at once. When step 1 proves fewer than :data:`BAND_MIN_PROVEN` of the
    slots, the monolithic model (:func:`solve_horizon`, its bound capped by the slots' bounds) takes the rest."""
    started = time.perf_counter()
    deadline = started + time_limit
    n = inst.n_slots - first_slot if n_slots is None else n_slots
    start = inst.initial_cache if start_cache is None else start_cache
    if not (0 <= first_slot and n >= 1 and first_slot + n <= inst.n_slots):
        raise TadpInputError("argument", "--slots", f"slots {first_slot}..{first_slot + n - 1} not within "
                             f"0..{inst.n_slots - 1}")
    overflow = inst.cache_overflows(start)
    if overflow:
        raise TadpInputError("argument", "cache", "start cache overflows: " + "; ".join(overflow))
    bands: list[_SlotBand] = []
    info: dict[str, Any] = {"method": "band"}
    phase1_end = started + BAND_OPTIMA_SHARE * time_limit
    for s in range(n):
        bands.append(_SlotBand(inst, first_slot + s, start if s == 0 else None, threads, seed))
    for s, b in enumerate(bands):
        # a slot may use what the earlier ones left, less 0.1 s for each later slot (0.05 s at least)
        b.optimum(max(phase1_end - 0.1 * (n - 1 - s), time.perf_counter() + 0.05))
    upper = [b.upper for b in bands]
    info.update(band_slot_bounds=upper, band_optima_s=time.perf_counter() - started,
                band_slots_proven=sum(b.covered >= 0 for b in bands))
    total = float(sum(upper))
    band = mip_gap * total
    decisions = incumbent
    trace: list[tuple[float, float, float]] = []
    result: HorizonResult | None = None
    listed = [b.covered >= 0 for b in bands]
    if sum(listed) < BAND_MIN_PROVEN * n:
        # the slots are too hard to prove one by one: the monolithic model on the time left, under the bound
        # of the slots' optima (and the trivial bound of those not proven), seeded as HorizonSolver would
        info["band_fallback"] = True
        if myopic_share > 0:
            mine = warm_start_episode(inst, n, first_slot, start, "myopic", myopic_share * time_limit, seed)
            assert mine is not None
            score = float(np.mean([o.score for o in evaluate_episode(inst, mine, start, first_slot)]))
            given = (float(np.mean([o.score for o in evaluate_episode(inst, decisions, start, first_slot)]))
                     if decisions is not None else -1.0)
            info["band_myopic_score"] = score
            if score > given:
                decisions = mine
        offset = time.perf_counter() - started
        result = solve_horizon(inst, n, time_limit=max(deadline - time.perf_counter(), 0.05), seed=seed,
                               first_slot=first_slot, start_cache=start, mip_gap=mip_gap, threads=threads,
                               incumbent=decisions, upper_bound=total / n)
        trace += [(t + offset, value, bound) for t, value, bound in result.info.get("trace", [])]
    elif any(listed):
        # round 0, a heuristic: the horizon restricted to each slot's optimal pattern (the only one listed so
        # far; R(G) without the proof that the lists are complete, so its bound does not count). When its
        # episode reaches mean(V) within the gap, the slots' optima prove it optimal and no list is needed.
        offset = time.perf_counter() - started
        res = solve_horizon(inst, n, time_limit=max(BAND_HEURISTIC_SHARE * (deadline - time.perf_counter()), 0.05),
                            seed=seed, first_slot=first_slot, start_cache=start, mip_gap=mip_gap, threads=threads,
                            incumbent=decisions, restrict=_band_restriction(bands, listed, None))
        trace += [(t + offset, value, max(total / n, value)) for t, value, _ in res.info.get("trace", [])]
        res.bound = max(total / n, res.objective)  # the slots' optima (phase 1)
        result = res
        if res.status != "error":
            decisions = res.decisions
        info["band_rounds"] = [{"band": band, "heuristic": True, "patterns": sum(len(b.patterns) for b in bands),
                                "status": res.status,
                                "empty": bool(res.info.get("restricted_empty")), "objective": res.objective,
                                "bound": res.bound, "restricted_s": res.time_s, "s": time.perf_counter() - started}]
    handover = started + BAND_HANDOVER_SHARE * time_limit
    exact_rounds = 0
    while result is None or (result.status != "error" and not info.get("band_fallback")
                             and result.bound - result.objective > mip_gap * abs(result.objective)
                             and time.perf_counter() < deadline - 0.05
                             and (exact_rounds == 0 or time.perf_counter() < handover)):
        exact_rounds += 1
        enum_end = time.perf_counter() + BAND_ENUM_SHARE * max(deadline - time.perf_counter(), 0.0)
        enum_started = time.perf_counter()
        complete = [b.extend(band, enum_end) for b in bands]
        enum_s = time.perf_counter() - enum_started
        total = float(sum(b.upper for b in bands))  # a slot whose optimum came late has a lower bound now
        left = deadline - time.perf_counter()
        if not all(complete):  # close to the monolithic model, and it only holds episodes near mean(V)
            left = max(handover - time.perf_counter(), 0.25 * left)
        offset = time.perf_counter() - started
        res = solve_horizon(inst, n, time_limit=max(left, 0.05), seed=seed, first_slot=first_slot, start_cache=start,
                            mip_gap=mip_gap, threads=threads, incumbent=decisions,
                            restrict=_band_restriction(bands, complete, band), outside_bound=(total - band) / n,
                            upper_bound=total / n)
        trace += [(t + offset, value, bound) for t, value, bound in res.info.get("trace", [])]
        if result is None or res.objective >= result.objective or res.status == "error":
            keep_bound = min(res.bound, result.bound) if result is not None else res.bound
            result = res
            result.bound = max(keep_bound, res.objective)
        else:
            result.bound = max(min(result.bound, res.bound), result.objective)
        if res.status == "error":
            break
        decisions = result.decisions
        info.setdefault("band_rounds", []).append(
            {"band": band, "patterns": sum(len(b.patterns) for b in bands), "slots_complete": sum(complete),
             "enumeration_s": enum_s, "restricted_s": res.time_s,
             "empty": bool(res.info.get("restricted_empty")), "status": res.status, "objective": res.objective,
             "bound": res.bound, "s": time.perf_counter() - started})
        if res.status == "optimal" or not res.info.get("restricted_empty"):
            break
        # R(G) is empty: every episode loses more than G; grow G (to the incumbent's loss if that is less)
        if myopic_share > 0 and not info.get("band_myopic_score"):
            # the optimum is not at the slots' own optima: a better incumbent (the myopic exact policy's
            # episode) caps the band at its loss
            mine = warm_start_episode(inst, n, first_slot, start, "myopic", myopic_share * time_limit, seed)
            assert mine is not None
            score = float(np.mean([o.score for o in evaluate_episode(inst, mine, start, first_slot)]))
            info["band_myopic_score"] = score
            if score > result.objective:
                decisions = mine
        incumbent_loss = total - n * max(result.objective, info.get("band_myopic_score", 0.0))
        band = min(band * BAND_GROWTH, incumbent_loss) if incumbent_loss > band else band * BAND_GROWTH
    assert result is not None
    gap = (result.bound - result.objective) / max(abs(result.objective), 1e-12) if result.bound > 0 else 0.0
    if (result.status != "error" and not info.get("band_fallback") and gap > mip_gap
            and deadline - time.perf_counter() > BAND_HANDOVER_MIN_S):
        # not proven by the handover time: every R(G) only holds episodes near mean(V), so the incumbent may be
        # poor; the monolithic model takes the time left, its bound capped by the bands' (both valid)
        if myopic_share > 0 and "band_myopic_score" not in info:
            mine = warm_start_episode(inst, n, first_slot, start, "myopic", myopic_share * time_limit, seed)
            assert mine is not None
            info["band_myopic_score"] = float(np.mean([o.score for o in evaluate_episode(inst, mine, start,
                                                                                           first_slot)]))
            if info["band_myopic_score"] > result.objective:
                decisions = mine
        offset = time.perf_counter() - started
        mono = solve_horizon(inst, n, time_limit=max(deadline - time.perf_counter(), 0.05), seed=seed,
                             first_slot=first_slot, start_cache=start, mip_gap=mip_gap, threads=threads,
                             incumbent=decisions, upper_bound=result.bound)
        trace += [(t + offset, value, bound) for t, value, bound in mono.info.get("trace", [])]
        info["band_handover"] = {"s": offset, "objective": mono.objective, "bound": mono.bound,
                                 "status": mono.status}
        if mono.status == "error":
            result = mono
        else:
            bound = min(result.bound, mono.bound)
            if mono.objective > result.objective:
                result = mono
            result.bound = max(bound, result.objective)
        gap = (result.bound - result.objective) / max(abs(result.objective), 1e-12) if result.bound > 0 else 0.0
    if result.status != "error":
        result.status = "optimal" if gap <= mip_gap else "time_limit"
    result.info = {**{k: v for k, v in result.info.items() if k != "trace"}, **info,
                   "band_slot_milps": sum(b.milps for b in bands), "trace": trace}
    result.time_s = time.perf_counter() - started
    return result


# ============================================================================ warm starts
#: Warm starts of :class:`HorizonSolver`: the episode of a fast policy as first incumbent.
WARM_STARTS = ("none", "greedy", "myopic", "both")
#: Share of the time limit the myopic warm start may take (spread evenly over the slots).
MYOPIC_SHARE = 0.1


def extend_episode(inst: Instance, plan: list[Decision], length: int, first_slot: int, cache: Cache, policy: Solver,
                   *, time_limit: float = 1.0, seed: int = 0) -> list[Decision]:
    """``plan`` (decisions of slots ``first_slot ..``, from ``cache``) extended to ``length`` slots by
    ``policy``, each slot from the cache the previous one leaves, within about ``time_limit`` seconds in all
    (each slot an even share of the time left, so what a slot leaves goes to the later ones; 0.05 s at least:
    a hard first slot must not take the whole budget, which left the 10x35 myopic warm start at 0.05 s a
    slot for the rest)."""
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
    from solvers.greedy import GreedySolver

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


# ============================================================================ the registered solver
class HorizonSolver(Solver):
    """The clairvoyant horizon optimum (``highs-horizon`` in the registry).

    Its natural answer is a whole episode: :meth:`solve_horizon` (a :class:`HorizonResult`) and
    :meth:`solve_horizon_solution` (a ``tadp-solution/1`` episode). Through the per-slot interface,
    :meth:`solve` solves the horizon from ``slot`` on the given cache (to the end of the trace, or over
    ``window`` slots) and returns its first slot's decision, keep flags included: called slot after slot by
    :func:`solvers.base.solve_episode`, that is a receding-horizon policy, which replays the clairvoyant
    optimum when every solve is proven (the tail of an optimal plan is optimal for the tail problem). Its
    result claims that slot's score as objective and no per-slot bound (the horizon's bound is on the mean
    over the slots, not on one slot); the status and the horizon's objective and bound are in ``info``.

    Options: ``mip_gap`` (relative, default 1e-6), ``threads``, ``window`` (slots per :meth:`solve` call,
    default None: to the end of the trace), ``method`` (:data:`METHODS`, default "auto": slot bands,
    :func:`solve_horizon_band`, up to :data:`BAND_MAX_TASKS` tasks per slot, else the monolithic model,
    :func:`solve_horizon`), ``warm_start`` (:data:`WARM_STARTS`; default "auto": for the monolithic model
    "both", the better of the greedy and the myopic exact policies' episodes is the first incumbent, the
    myopic one taking up to :data:`MYOPIC_SHARE` of the time limit, which counts in the solve's time; for
    slot bands "greedy", and the myopic episode only once the slots' own optima prove out of reach).
    """

    name = "highs-horizon"

    def __init__(self, *, mip_gap: float = 1e-6, threads: int | None = None, window: int | None = None,
                 warm_start: str = "auto", method: str = "auto", **unknown: Any) -> None:
        if unknown:
            raise TadpInputError("argument", "highs-horizon", f"unknown option(s) {', '.join(sorted(unknown))} "
                                 "(known: mip_gap, threads, window, warm_start, method; the keep flags are part of "
                                 "the optimum)")
        if warm_start not in WARM_STARTS + ("auto",):
            raise TadpInputError("argument", "warm_start", f"unknown {warm_start!r} (known: auto, "
                                 f"{', '.join(WARM_STARTS)})")
        if method not in METHODS:
            raise TadpInputError("argument", "method", f"unknown {method!r} (known: {', '.join(METHODS)})")
        if not (isinstance(mip_gap, (int, float)) and 0 <= mip_gap < 1):
            raise TadpInputError("argument", "--mip-gap", f"must lie in [0, 1), got {mip_gap!r}")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise TadpInputError("argument", "threads", f"must be a positive integer, got {threads!r}")
        if window is not None and (not isinstance(window, int) or window < 1):
            raise TadpInputError("argument", "window", f"must be a positive integer, got {window!r}")
        super().__init__(mip_gap=float(mip_gap), threads=threads, window=window, warm_start=warm_start, method=method)
        self.mip_gap, self.threads, self.window, self.warm_start = float(mip_gap), threads, window, warm_start
        self.method = method

    def method_for(self, inst: Instance) -> str:
        """"band" or "monolithic": the method option, "auto" resolved by the number of tasks per slot."""
        if self.method != "auto":
            return self.method
        return "band" if inst.n_devices <= BAND_MAX_TASKS else "monolithic"

    def solve_horizon(self, inst: Instance, n_slots: int | None = None, *, time_limit: float, seed: int = 0,
                      first_slot: int = 0, start_cache: Cache | None = None) -> HorizonResult:
        """The clairvoyant optimum of slots ``first_slot .. first_slot + n_slots - 1`` (:func:`solve_horizon`,
        after the warm start; ``time_limit`` covers both)."""
        started = time.perf_counter()
        n = inst.n_slots - first_slot if n_slots is None else n_slots
        cache = inst.initial_cache if start_cache is None else start_cache
        if not (0 <= first_slot and n >= 1 and first_slot + n <= inst.n_slots):
            raise TadpInputError("argument", "--slots", f"slots {first_slot}..{first_slot + n - 1} not within "
                                 f"0..{inst.n_slots - 1}")
        method = self.method_for(inst)
        warm = self.warm_start if self.warm_start != "auto" else ("greedy" if method == "band" else "both")
        seed_plan = warm_start_episode(inst, n, first_slot, cache, warm, MYOPIC_SHARE * time_limit, seed)
        warm_s = time.perf_counter() - started
        limit = max(time_limit - warm_s, 0.05)
        if method == "band":
            res = solve_horizon_band(inst, n, time_limit=limit, seed=seed, first_slot=first_slot, start_cache=cache,
                                     mip_gap=self.mip_gap, threads=self.threads, incumbent=seed_plan,
                                     myopic_share=MYOPIC_SHARE if self.warm_start == "auto" else 0.0)
        else:
            res = solve_horizon(inst, n, time_limit=limit, seed=seed, first_slot=first_slot, start_cache=cache,
                                mip_gap=self.mip_gap, threads=self.threads, incumbent=seed_plan)
        res.time_s = time.perf_counter() - started
        res.info["trace"] = [(t + warm_s, value, bound) for t, value, bound in res.info.get("trace", [])]
        res.info["method"] = method
        res.info["warm_start"] = warm
        res.info["warm_start_s"] = warm_s
        if seed_plan is not None:
            res.info["warm_start_score"] = float(np.mean([o.score for o in evaluate_episode(inst, seed_plan, cache,
                                                                                              first_slot)]))
        return res

    def solve_horizon_solution(self, inst: Instance, n_slots: int | None = None, *, time_limit: float,
                               seed: int = 0) -> tuple[Solution, HorizonResult]:
        """Slots 0 .. n_slots-1 as an episode-mode solution (:func:`horizon_solution`) and the result."""
        result = self.solve_horizon(inst, n_slots, time_limit=time_limit, seed=seed)
        return horizon_solution(inst, result, self.describe()), result

    def solve(self, inst: Instance, slot: int, cache: Cache, *, time_limit: float, seed: int = 0) -> SolveResult:
        started = time.perf_counter()
        n = inst.n_slots - slot if self.window is None else min(self.window, inst.n_slots - slot)
        res = self.solve_horizon(inst, n, time_limit=time_limit, seed=seed, first_slot=slot, start_cache=cache)
        info = {"horizon_slots": n, "horizon_objective": res.objective, "horizon_bound": res.bound,
                "horizon_status": res.status, **{k: v for k, v in res.info.items() if k != "trace"}}
        return finish(inst, slot, cache, res.decisions[0], status=res.status, objective=res.slot_objectives[0],
                      bound=None, bound_kind=None, started=started, info=info)


def horizon_solution(inst: Instance, result: HorizonResult, solver: dict[str, Any] | None = None) -> Solution:
    """A horizon result as a ``tadp-solution/1`` episode (slots 0 .. n-1 from the initial cache): per slot
    the claim ``objective`` = that slot's score (no per-slot bound), ``status`` = the horizon's and
    ``time_s`` = the solve's time spread evenly; the episode's objective, bound, status and time under
    ``solver["episode"]``."""
    if result.first_slot != 0:
        raise ValueError("an episode solution starts at slot 0")
    n = len(result.decisions)
    record = dict(solver or {"name": HorizonSolver.name, "options": {}})
    record["episode"] = {"slots": n, "objective": result.objective, "bound": result.bound, "status": result.status,
                         "time_s": result.time_s, "gap": result.gap}
    claims = result.slot_objectives or result.slot_scores
    entries = [SlotEntry(slot=t, decision=d, claimed={"objective": claim, "status": result.status,
                                                      "time_s": result.time_s / n})
               for t, (d, claim) in enumerate(zip(result.decisions, claims, strict=True))]
    return Solution(instance=inst.name, solver=record, mode="episode", slots=entries)


def solve_horizon_solution(inst: Instance, n_slots: int | None = None, *, time_limit: float, seed: int = 0,
                           **options: Any) -> tuple[Solution, HorizonResult]:
    """``tadp-bench solve INSTANCE --solver highs-horizon [--slots N]``: the clairvoyant optimum of slots
    0 .. n_slots-1 as an episode-mode solution (and the result); ``options`` as :class:`HorizonSolver`'s."""
    return HorizonSolver(**options).solve_horizon_solution(inst, n_slots, time_limit=time_limit, seed=seed)


__all__ = ["BAND_MAX_TASKS", "METHODS", "MYOPIC_SHARE", "WARM_STARTS", "HorizonData", "HorizonResult",
           "HorizonSolver", "build_horizon_model", "extend_episode", "horizon_data", "horizon_solution", "slot_pattern",
           "solve_horizon", "solve_horizon_band", "solve_horizon_solution", "tighten_horizon", "warm_start_episode"]
