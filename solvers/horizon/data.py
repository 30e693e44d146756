"""What the horizon model chooses from, slot by slot, and how a plan chains the caches (docs/exact_horizon.md).

In the per-slot model (:mod:`solvers.exact.options`) the start cache is data, so every option has one model
fetch time F. Over a horizon the start cache of slot t > 0 is a decision, so an option's fetch time
depends on which models are resident when the slot starts (eq. 5, [D5]). Every (task, site, level) is
therefore offered once per *fetch case*, each case *gated* by the start-of-slot residency flag it needs:

=============  ======================  ==========================  ==============================
site           case                    fetch F                     gate (start-of-slot flag)
=============  ======================  ==========================  ==============================
gateway        resident at gateway     0                           u_l[j, n]
gateway        in the ECaS only        S/R_e                       u_e[j, n]
gateway        from the cloud          S/R_c + S/R_e               none
edge           resident in the ECaS    0                           u_e[j, n]
edge           from the cloud          S/R_c                       none
=============  ======================  ==========================  ==============================

A case slower than the true one is still truly feasible (the true fetch is shorter, eqs. 7-8 are monotone
in F, and the model is placed all the same), so the gates are the only coupling needed.

Two kinds of options per slot:

- *serve* options (a :class:`~solvers.exact.options.SlotOptions`, one row per (task, site, level, case) that
  can complete: F <= Tmax, minimal delay <= Tmax, model no larger than the node's cache). They earn
  the accuracy and draw on the pools; :mod:`solvers.exact.oracle` judges their assignments as for one slot.
- *place-only* options (:class:`PlaceOnly`): serve the task with zero shares, so that it is late and
  earns nothing but places its model (the evaluator places a missing model iff its fetch ends within the
  deadline, even for a late task, [D6]). They draw on no pool. One per (task, site, level) whose fetch
  fits the deadline (the evaluator's rule, :func:`tadp.physics.within_deadline`), ungated when the cold fetch fits,
  else (gateway only) gated on the ECaS copy.

A *plan* is the discrete part of an episode: per slot, the served options and the place-only ones. Its
caches follow (C6, C7): the models resident during slot t are ``r_t = u_t OR placed_t``, the next start
cache ``u_{t+1}`` is any subset of ``r_t`` (the keep flags). :func:`cache_chain` keeps the fewest models
(only those a later gated option needs), which fits the caches whenever any keep choice does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers.exact.options import SlotOptions, slot_options
from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE, Decision
from tadp.errors import TadpInputError
from tadp.instance import Cache, Instance
from tadp.physics import completion_delay, fetch_times, fits_capacity, within_deadline

#: Gate of an option: the start-of-slot residency flag of its model (j, level) it needs.
GATE_NONE, GATE_GATEWAY, GATE_EDGE = -1, 0, 1
#: Cache nodes of a model flag: at the task's gateway, or in the ECaS (same codes as the gates).
NODE_GATEWAY, NODE_EDGE = 0, 1
#: Fetch cases, as (site, gate): the gate also names the case (see the module table).
FETCH_CASES = ((SITE_GATEWAY, GATE_GATEWAY), (SITE_GATEWAY, GATE_EDGE), (SITE_GATEWAY, GATE_NONE),
               (SITE_EDGE, GATE_EDGE), (SITE_EDGE, GATE_NONE))


def node_of_site(site: int) -> int:
    """The cache node a site's placements land in: a gateway option places at the gateway, an edge one
    in the ECaS (a cloud->gateway fetch does not land in the ECaS, [D6])."""
    return NODE_GATEWAY if site == SITE_GATEWAY else NODE_EDGE


@dataclass(frozen=True, eq=False)
class PlaceOnly:
    """Place-only options of one slot, parallel arrays (length K)."""

    task: np.ndarray  # (K,) device j
    site: np.ndarray  # (K,) SITE_GATEWAY or SITE_EDGE
    level: np.ndarray  # (K,) model n placed
    gate: np.ndarray  # (K,) GATE_NONE, or GATE_EDGE for a gateway placement fed from the ECaS copy
    fetch: np.ndarray  # (K,) fetch time of the case, s (<= Tmax + 1e-9)

    @property
    def n_options(self) -> int:
        return int(self.task.shape[0])


@dataclass(frozen=True, eq=False)
class HorizonSlot:
    """Everything the horizon model needs about one slot."""

    slot: int  # index in the instance's trace
    serve: SlotOptions  # options that can complete, one per (task, site, level, fetch case)
    gate: np.ndarray  # (M,) GATE_* of each serve option
    place: PlaceOnly  # place-only options


def _unfiltered_options(inst: Instance, slot: int, cache: Cache) -> SlotOptions:
    """:func:`solvers.exact.options.slot_options` with nothing left out: on a copy of the instance whose
    deadlines are infinite and whose caches are unlimited, so that every (task, site, level) gets a row
    with its works, pools, accuracy and the fetch time of ``cache`` (the real deadlines and capacities are
    applied by the caller)."""
    relaxed = dataclasses.replace(
        inst, deadline=np.full_like(inst.deadline, np.inf), gateway_cache=np.full_like(inst.gateway_cache, np.inf),
        edge_cache=np.inf, provenance=None)
    return slot_options(relaxed, slot, cache)


def horizon_slot(inst: Instance, slot: int) -> HorizonSlot:
    """The serve and place-only options of slot ``slot`` for every fetch case (module doc)."""
    n = inst.n_devices
    ones, zeros = np.ones((n, 2), bool), np.zeros((n, 2), bool)
    # one unfiltered table per start cache that realises the cases: (gateway flags, edge flags)
    tables = {flags: _unfiltered_options(inst, slot, Cache(*(ones if f else zeros for f in flags)))
              for flags in ((True, True), (False, True), (False, False))}
    case_cache = {(SITE_GATEWAY, GATE_GATEWAY): (True, True), (SITE_GATEWAY, GATE_EDGE): (False, True),
                  (SITE_GATEWAY, GATE_NONE): (False, False), (SITE_EDGE, GATE_EDGE): (True, True),
                  (SITE_EDGE, GATE_NONE): (False, False)}
    capacity = np.append(inst.gateway_cache, inst.edge_cache)
    deadline = inst.deadline[slot]

    rows: list[tuple[int, int]] = []  # (table key index, row) of kept serve options
    keys = list(tables)
    gates: list[int] = []
    dropped = {"fetch_after_deadline": 0, "too_slow_alone": 0, "model_does_not_fit": 0}
    for site, gate in FETCH_CASES:
        key = case_cache[(site, gate)]
        t = tables[key]
        for o in np.flatnonzero(t.site == site):
            t_max = deadline[t.task[o]]
            w = t.work[o]
            if t.fetch[o] > t_max:
                dropped["fetch_after_deadline"] += 1
            elif completion_delay(w[0] + w[1], t.fetch[o], w[2]) > t_max:
                dropped["too_slow_alone"] += 1
            elif not fits_capacity(t.model_bits[o], capacity[t.cache_pool[o]]) or (
                    gate == GATE_EDGE and not fits_capacity(t.model_bits[o], inst.edge_cache)):
                dropped["model_does_not_fit"] += 1  # at its site, or (fed from the ECaS) in the ECaS
            else:
                rows.append((keys.index(key), int(o)))
                gates.append(gate)
    # order serve options by task (then site, level, case) so that per-task slices are contiguous
    order = sorted(range(len(rows)), key=lambda k: (int(tables[keys[rows[k][0]]].task[rows[k][1]]), k))

    def column(name: str) -> np.ndarray:
        values = [getattr(tables[keys[rows[k][0]]], name)[rows[k][1]] for k in order]
        ref = getattr(tables[keys[0]], name)
        return np.array(values, ref.dtype).reshape((len(order),) + ref.shape[1:])

    fetch = column("fetch")
    serve = SlotOptions(
        n_tasks=n, n_gateways=inst.n_gateways, task=column("task"), site=column("site"), level=column("level"),
        accuracy=column("accuracy"), deadline=deadline[column("task")].astype(float), fetch=fetch,
        work=column("work"), pool=column("pool"), places=fetch > 0, model_bits=column("model_bits"),
        cache_pool=column("cache_pool"), cache_free=capacity.copy(), dropped=dropped)
    gate_arr = np.array([gates[k] for k in order], np.int64).reshape(len(order))

    # place-only options: the evaluator's own fetch arithmetic and deadline tolerance
    gw_cold, edge_cold = fetch_times(inst, zeros, zeros)
    gw_from_edge = fetch_times(inst, zeros, ones)[0]
    place: list[tuple[int, int, int, int, float]] = []
    gw_of = inst.device_gateway
    for j in range(n):
        for level in (0, 1):
            size = inst.model_size[j, level]
            if fits_capacity(size, inst.gateway_cache[gw_of[j]]):
                if within_deadline(gw_cold[j, level], deadline[j]):
                    place.append((j, SITE_GATEWAY, level, GATE_NONE, float(gw_cold[j, level])))
                elif within_deadline(gw_from_edge[j, level], deadline[j]) and fits_capacity(size, inst.edge_cache):
                    place.append((j, SITE_GATEWAY, level, GATE_EDGE, float(gw_from_edge[j, level])))
            if fits_capacity(size, inst.edge_cache) and within_deadline(edge_cold[j, level], deadline[j]):
                place.append((j, SITE_EDGE, level, GATE_NONE, float(edge_cold[j, level])))
    cols = list(zip(*place, strict=True)) if place else [()] * 5
    k = len(place)
    place_only = PlaceOnly(task=np.array(cols[0], np.int64).reshape(k), site=np.array(cols[1], np.int8).reshape(k),
                           level=np.array(cols[2], np.int8).reshape(k), gate=np.array(cols[3], np.int64).reshape(k),
                           fetch=np.array(cols[4], float).reshape(k))
    return HorizonSlot(slot=slot, serve=serve, gate=gate_arr, place=place_only)


@dataclass(eq=False)
class SlotPlan:
    """The discrete choices of one slot: served options and place-only options (indices into the slot's
    :class:`HorizonSlot` tables)."""

    serve: np.ndarray  # (k,) serve option indices
    place: np.ndarray  # (l,) place-only option indices

    def key(self) -> bytes:
        return np.sort(self.serve).astype(np.int64).tobytes()


def plan_flags(hs: HorizonSlot, plan: SlotPlan, n_devices: int) -> tuple[np.ndarray, np.ndarray]:
    """(need, touch), each (2, N, 2) by node (gateway, edge), device, level: ``need`` the start-of-slot
    residency flags the plan's gated options require, ``touch`` the models its options bring to a node
    (a served option at its site, resident or placed, and every place-only option): the resident set
    during the slot is ``u OR touch`` (C6, [D6])."""
    need = np.zeros((2, n_devices, 2), bool)
    touch = np.zeros((2, n_devices, 2), bool)
    for opts, chosen, gate in ((hs.serve, plan.serve, hs.gate), (hs.place, plan.place, hs.place.gate)):
        for o in chosen:
            j, n = int(opts.task[o]), int(opts.level[o])
            touch[node_of_site(int(opts.site[o])), j, n] = True
            if gate[o] != GATE_NONE:
                need[gate[o], j, n] = True
    return need, touch


def cache_chain(inst: Instance, slots: list[HorizonSlot], plans: list[SlotPlan],
                start: Cache) -> list[Cache] | None:
    """The start caches u_0 .. u_T of a plan with the fewest kept models, or None when no keep choice
    makes it valid (a gated option of slot 0 whose model is not in ``start``, or a cache over capacity
    with the evaluator's tolerance).

    Backwards: a model must be resident at the start of slot t if an option of t needs it, or if it
    must be resident at the start of t + 1 and slot t does not bring it (C7: ``u_{t+1} <= r_t``). Every
    valid keep choice holds at least these models at every slot start, so this chain uses the least
    cache and fits whenever any does."""
    n = inst.n_devices
    flags = [plan_flags(hs, p, n) for hs, p in zip(slots, plans, strict=True)]
    horizon = len(slots)
    required = [np.zeros((2, n, 2), bool) for _ in range(horizon + 1)]
    for t in range(horizon - 1, -1, -1):
        need, touch = flags[t]
        required[t] = need | (required[t + 1] & ~touch)
    start_flags = np.stack([start.gateway, start.edge])
    if (required[0] & ~start_flags).any():
        return None
    caches = [start]
    current = start_flags
    for t in range(horizon):
        resident = current | flags[t][1]
        gw_load, edge_load = inst.cache_load(resident[0], resident[1])
        if not (fits_capacity(gw_load, inst.gateway_cache).all() and fits_capacity(edge_load, inst.edge_cache)):
            return None
        current = required[t + 1]
        caches.append(Cache(current[0].copy(), current[1].copy()))
    return caches


def prune_place_only(inst: Instance, slots: list[HorizonSlot], plans: list[SlotPlan], start: Cache) -> list[SlotPlan]:
    """The plans without the place-only options whose model no later slot uses (not in the next start
    cache of :func:`cache_chain`): they change no score. Repeated until none is left, since dropping one
    that was fed from the ECaS can make an earlier ECaS placement useless in turn."""
    while True:
        caches = cache_chain(inst, slots, plans, start)
        if caches is None:
            return plans
        changed = False
        pruned = []
        for s, (hs, plan) in enumerate(zip(slots, plans, strict=True)):
            nxt = np.stack([caches[s + 1].gateway, caches[s + 1].edge])
            p = hs.place
            keep = [o for o in plan.place if nxt[node_of_site(int(p.site[o])), p.task[o], p.level[o]]]
            changed = changed or len(keep) < len(plan.place)
            pruned.append(SlotPlan(plan.serve, np.array(keep, np.int64)))
        plans = pruned
        if not changed:
            return plans


def plan_decision(hs: HorizonSlot, plan: SlotPlan, served: Decision, keep: Cache) -> Decision:
    """The slot's decision: ``served`` (the served options with their shares, from the oracle) plus the
    place-only tasks (site and level set, all shares 0: late, so they earn nothing, but they place their
    model), with keep flags ``keep`` (the next start cache; keep AND resident is then exactly it, C7)."""
    d = served.copy()
    p = hs.place
    for o in plan.place:
        j = int(p.task[o])
        if d.site[j] != SITE_NONE:
            raise ValueError(f"task {j} both served and place-only")
        d.site[j] = p.site[o]
        d.level[j] = p.level[o]
        d.uplink_share[j] = d.bs_share[j] = d.compute_share[j] = 0.0
    d.keep_gateway = keep.gateway.copy()
    d.keep_edge = keep.edge.copy()
    return d


# ============================================================================ the horizon's flat option table
#: Kinds of a flat option of the horizon model.
SERVE, PLACE = 0, 1


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
            node = np.where(table.site == SITE_GATEWAY, NODE_GATEWAY, NODE_EDGE)
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


__all__ = ["FETCH_CASES", "GATE_EDGE", "GATE_GATEWAY", "GATE_NONE", "NODE_EDGE", "NODE_GATEWAY", "PLACE", "SERVE",
           "HorizonData", "HorizonSlot", "PlaceOnly", "SlotPlan", "cache_chain", "horizon_data", "horizon_slot",
           "node_of_site", "plan_decision", "plan_flags", "prune_place_only"]
