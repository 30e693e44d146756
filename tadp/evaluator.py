"""The evaluator: the only judge of feasibility and score (docs/model.md, sections 4-6).

Everything is vectorised over tasks and over a leading batch of slots, so that one call
judges many (slot, start cache, decision) triples at once (the RL environment's hot
path). :func:`evaluate_slot` is the readable single-slot form; it also lists every
broken constraint by name, place and amount. :func:`evaluate_episode` chains the cache
from slot to slot (C7).

Delays come from :mod:`tadp.physics`, the one module that turns rates into times, and so do
the deadline rule and the tolerances (docs/model.md, section 5b): shares must lie in [0, 1] up to
``SHARE_TOL``; a share of 0 gives an infinite delay; a task completes iff it is served and
its delay is within the deadline (:func:`tadp.physics.within_deadline`). An infeasible slot
(C4, C5 or C6 broken) scores 0, no task counts as completed, and its start cache carries over
unchanged.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE, Decision
from tadp.instance import Cache, Instance
from tadp.physics import SHARE_TOL, batch_delays, fits_capacity, rates, within_deadline

#: A solver's claimed objective must match the evaluator's score this closely (docs/model.md, section 7): the
#: score is a mean of N accuracies, so anything coarser than rounding means a different decision.
CLAIM_TOL = 1e-6


@dataclass(frozen=True)
class Violation:
    """One broken constraint: which (paper label), where, and by how much."""

    constraint: str  # "C4", "C5" or "C6"
    where: str  # e.g. "gateway 1 uplink band", "task 7 bs_share"
    value: float  # the offending sum, share or cache load
    limit: float  # what it may not exceed (or fall below)
    excess: float  # how far outside the limit

    def to_json(self) -> dict:
        return {"constraint": self.constraint, "where": self.where, "value": self.value,
                "limit": self.limit, "excess": self.excess}

    def __str__(self) -> str:
        return f"{self.constraint} {self.where}: {self.value:.9g} vs limit {self.limit:.9g} (by {self.excess:.3g})"


class _Static:
    """Per-instance arrays the hot path needs, computed once per instance."""

    def __init__(self, inst: Instance) -> None:
        self.n = inst.n_devices
        self.membership = inst.gateway_membership  # (N, G)
        # contiguous per-level rows: [light, heavy], each (N,)
        self.size = np.ascontiguousarray(inst.model_size.T)
        self.work = np.ascontiguousarray(inst.workload.T)
        # accuracy U by [quality][level] (eq. 10), each (N,)
        self.accuracy = [[np.ascontiguousarray(inst.accuracy[:, q, n]) for n in range(2)] for q in range(2)]
        # Selecting x or y by a 0/1 float mask m as x * m + y * (1 - m) is exactly np.where(m, x, y),
        # and several times faster, when x and y are finite and >= +0; with positive workloads and
        # rates, a zero share also gives the same infinite delays. True of every valid instance.
        self.exact_select = rates(inst).all_positive and bool(np.all((inst.accuracy > 0.0) & (inst.accuracy < np.inf)))
        # flat tables for gathers: index 2j + n, and 4j + 2 quality + n
        self.size_table = np.ascontiguousarray(inst.model_size, float).reshape(-1)
        self.work_table = np.ascontiguousarray(inst.workload, float).reshape(-1)
        self.accuracy_table = np.ascontiguousarray(inst.accuracy, float).reshape(-1)
        self.base2, self.base4 = 2 * np.arange(self.n), 4 * np.arange(self.n)


_STATIC: weakref.WeakKeyDictionary[Instance, _Static] = weakref.WeakKeyDictionary()


def _static(inst: Instance) -> _Static:
    st = _STATIC.get(inst)
    if st is None:
        st = _STATIC[inst] = _Static(inst)
    return st


@dataclass(eq=False)
class BatchOutcome:
    """Outcome of B slot decisions; arrays lead with the batch axis."""

    delay: np.ndarray  # (B, N) seconds, inf for unserved tasks or a zero share
    completed: np.ndarray  # (B, N) bool (all False on an infeasible slot)
    earned: np.ndarray  # (B, N) accuracy earned (U_j if completed else 0)
    score: np.ndarray  # (B,) slot score J, eq. (11)
    completion: np.ndarray  # (B,) completed / N
    feasible: np.ndarray  # (B,) bool: C4, C5, C6 all hold
    placed_gateway: np.ndarray  # (B, N, 2) models placed at gateways this slot
    placed_edge: np.ndarray  # (B, N, 2) models placed in the ECaS this slot
    next_gateway: np.ndarray  # (B, N, 2) u^l at the next slot's start
    next_edge: np.ndarray  # (B, N, 2) u^e at the next slot's start
    # diagnostics behind the violation list
    uplink_load: np.ndarray  # (B, G) sum of uplink shares per gateway
    bs_load: np.ndarray  # (B,) sum of BS-band shares
    gateway_compute_load: np.ndarray  # (B, G)
    edge_compute_load: np.ndarray  # (B,)
    gateway_cache_load: np.ndarray  # (B, G) bits resident during the slot
    edge_cache_load: np.ndarray  # (B,) bits
    used_shares: np.ndarray  # (B, 3, N) uplink, BS-band, compute share of each task's pools (0 if unused)


def evaluate_batch(
    inst: Instance,
    slots: np.ndarray,
    cache_gateway: np.ndarray,
    cache_edge: np.ndarray,
    site: np.ndarray,
    level: np.ndarray,
    uplink_share: np.ndarray,
    bs_share: np.ndarray,
    compute_share: np.ndarray,
    keep_gateway: np.ndarray,
    keep_edge: np.ndarray,
    *,
    data: np.ndarray | None = None,
    deadline: np.ndarray | None = None,
    noisy: np.ndarray | None = None,
) -> BatchOutcome:
    """Judge B decisions at once. ``slots`` (B,) picks each row's tasks from the trace.

    ``data``/``deadline``/``noisy`` (B, N) replace the trace's tasks when given (the RL
    environment's freshly drawn traces); ``slots`` is then ignored.

    Masks as 0/1 floats instead of ``np.where`` compute the very same numbers (x * 1 = x,
    x * 0 = +0 for finite x >= +0; ``_Static.exact_select``) and are several times faster on large
    batches (on small ones ``np.where``'s fewer calls win): that is the ``vector`` path. The ``fast``
    path adds what only holds in the usual case, every share in [+0, 1] and every data size finite
    and > 0: unused pools' zero shares then make exactly the infinite delays that ``np.where``
    would write (a share of 0: an infinite delay).
    """
    st = _static(inst)
    if data is None:
        slots = np.asarray(slots)
        data, deadline, noisy = inst.data[slots], inst.deadline[slots], inst.noisy[slots]
    if deadline is None or noisy is None:
        raise ValueError("evaluate_batch: data, deadline and noisy are given together")
    data = np.asarray(data)
    m = _Sites(np.asarray(site), np.asarray(level) == 1)
    cache_gateway = np.asarray(cache_gateway, bool)
    cache_edge = np.asarray(cache_edge, bool)
    vector = st.exact_select and data.size >= _VECTOR_MIN
    fast = vector and all(_in_unit_interval(x, m.site.shape) for x in (uplink_share, bs_share, compute_share)) and bool(
        data.dtype == np.float64 and data.min(initial=np.inf) > 0.0 and data.max(initial=0.0) < np.inf)

    used, clamped, in_range = _used_shares(m, uplink_share, bs_share, compute_share, fast)
    chosen = _chosen_model(st, m, np.asarray(noisy) == 1, cache_gateway, cache_edge, vector)

    # --- delays, eqs. (2)-(9), by the physics module ---
    timing = batch_delays(inst, data, m.at_gateway, m.served, chosen.size, chosen.work, clamped,
                          chosen.resident_gateway, chosen.resident_edge, vector=vector, fast=fast)

    # --- C6 placements [D6]: a missing model lands iff its fetch fits the deadline ---
    places = m.served & ~timing.resident_here & within_deadline(timing.fetch, deadline)
    placed_gateway, placed_edge = (_by_level(places & where, m.light, m.heavy) if vector
                                   else np.stack([places & where & ~m.heavy, places & where & m.heavy], axis=-1)
                                   for where in (m.at_gateway, m.at_edge))
    resident_gateway_now = cache_gateway | placed_gateway
    resident_edge_now = cache_edge | placed_edge

    loads = _pool_loads(inst, st, m, used, resident_gateway_now, resident_edge_now, fast)
    feasible = in_range & loads.within(inst)

    # --- C1 and the objective, eq. (11) ---
    completed = m.served & within_deadline(timing.delay, deadline) & feasible[..., None]
    earned = chosen.accuracy * completed.view(np.uint8) if vector else np.where(completed, chosen.accuracy, 0.0)

    # --- C7 next state: keep AND resident; an infeasible slot leaves the cache as it was ---
    ok = feasible[..., None, None]
    (next_gateway, next_edge) = (
        ((ok & keep & now) | (~ok & start)) if vector else np.where(ok, keep & now, start)
        for keep, now, start in ((np.asarray(keep_gateway, bool), resident_gateway_now, cache_gateway),
                                 (np.asarray(keep_edge, bool), resident_edge_now, cache_edge)))

    return BatchOutcome(
        delay=timing.delay, completed=completed, earned=earned, score=earned.mean(axis=-1),
        completion=completed.mean(axis=-1), feasible=feasible, placed_gateway=placed_gateway,
        placed_edge=placed_edge, next_gateway=next_gateway, next_edge=next_edge, uplink_load=loads.uplink,
        bs_load=loads.bs, gateway_compute_load=loads.gateway_compute, edge_compute_load=loads.edge_compute,
        gateway_cache_load=loads.gateway_cache, edge_cache_load=loads.edge_cache, used_shares=used,
    )


@dataclass(eq=False)
class _Sites:
    """Where each task of a batch runs and with which model (arrays (B, N))."""

    site: np.ndarray  # int8 site codes
    heavy: np.ndarray  # bool: level 1

    def __post_init__(self) -> None:
        self.light = ~self.heavy
        self.at_gateway = self.site == SITE_GATEWAY
        self.at_edge = self.site == SITE_EDGE
        self.served = self.at_gateway | self.at_edge


def _used_shares(m: _Sites, uplink_share: np.ndarray, bs_share: np.ndarray, compute_share: np.ndarray,
                 fast: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shares of the pools each task uses (others ignored), (B, 3, N) in the rows uplink, BS band,
    compute; the same clamped into [0, 1]; and whether every share lies in [0, 1] (C4/C5 ranges, up to
    SHARE_TOL; NaN fails both comparisons), (B,)."""
    if fast:
        used = np.empty(m.served.shape[:-1] + (3, m.served.shape[-1]))  # (B, 3, N)
        for k, (share, uses) in enumerate(((uplink_share, m.served), (bs_share, m.at_edge), (compute_share, m.served))):
            np.multiply(share, uses.view(np.uint8), out=used[..., k, :])
        return used, used, np.ones(used.shape[:-2], bool)  # every share lies in [0, 1]
    shares = np.stack([uplink_share, bs_share, compute_share], axis=-2).astype(float, copy=False)
    uses = np.stack([m.served, m.at_edge, m.served], axis=-2)
    used = np.where(uses, shares, 0.0)  # (B, 3, N)
    in_range = (used.min(axis=(-1, -2)) >= -SHARE_TOL) & (used.max(axis=(-1, -2)) <= 1.0 + SHARE_TOL)
    return used, np.clip(used, 0.0, 1.0), in_range


@dataclass(eq=False)
class _Chosen:
    """Per task (B, N), its chosen model n = level: size S[j][n], workload Q[j][n], accuracy U_j (eq. 10),
    and whether it is resident at the task's gateway and in the ECaS at the slot start."""

    size: np.ndarray
    work: np.ndarray
    accuracy: np.ndarray
    resident_gateway: np.ndarray
    resident_edge: np.ndarray


def _chosen_model(st: _Static, m: _Sites, noisy: np.ndarray, cache_gateway: np.ndarray, cache_edge: np.ndarray,
                  vector: bool) -> _Chosen:
    heavy = m.heavy
    if vector:  # gathers from the per-task tables: S[j][n], Q[j][n], U[j][quality][n]
        by_level = st.base2 + heavy.view(np.uint8)
        # on contiguous copies of the levels' flags (strided boolean operations are slow)
        resident_gw, resident_edge = ((np.ascontiguousarray(flags[..., 1]) & heavy)
                                      | (np.ascontiguousarray(flags[..., 0]) & m.light)
                                      for flags in (cache_gateway, cache_edge))
        return _Chosen(np.take(st.size_table, by_level), np.take(st.work_table, by_level),
                       np.take(st.accuracy_table, st.base4 + (noisy.view(np.uint8) << 1 | heavy.view(np.uint8))),
                       resident_gw, resident_edge)
    acc = st.accuracy
    return _Chosen(
        np.where(heavy, st.size[1], st.size[0]), np.where(heavy, st.work[1], st.work[0]),
        np.where(heavy, np.where(noisy, acc[1][1], acc[0][1]), np.where(noisy, acc[1][0], acc[0][0])),
        np.where(heavy, cache_gateway[..., 1], cache_gateway[..., 0]),
        np.where(heavy, cache_edge[..., 1], cache_edge[..., 0]))


@dataclass(eq=False)
class _Loads:
    """C4, C5 pool sums of the raw shares (NaN or out-of-range sums also fail) and C6 cache loads."""

    uplink: np.ndarray  # (B, G)
    bs: np.ndarray  # (B,)
    gateway_compute: np.ndarray  # (B, G)
    edge_compute: np.ndarray  # (B,)
    gateway_cache: np.ndarray  # (B, G) bits
    edge_cache: np.ndarray  # (B,) bits

    def within(self, inst: Instance) -> np.ndarray:
        """(B,) every pool within its capacity (C4, C5 up to SHARE_TOL; C6 by :func:`fits_capacity`)."""
        pool_limit = 1.0 + SHARE_TOL
        return ((self.uplink <= pool_limit).all(axis=-1) & (self.bs <= pool_limit)
                & (self.gateway_compute <= pool_limit).all(axis=-1) & (self.edge_compute <= pool_limit)
                & fits_capacity(self.gateway_cache, inst.gateway_cache).all(axis=-1)
                & fits_capacity(self.edge_cache, inst.edge_cache))


def _pool_loads(inst: Instance, st: _Static, m: _Sites, used: np.ndarray, resident_gateway: np.ndarray,
                resident_edge: np.ndarray, fast: bool) -> _Loads:
    member = st.membership
    if fast:
        gateway_compute = (used[..., 2, :] * m.at_gateway.view(np.uint8)) @ member
        edge_compute = (used[..., 2, :] * m.at_edge.view(np.uint8)).sum(axis=-1)
    else:
        gateway_compute = np.where(m.at_gateway, used[..., 2, :], 0.0) @ member
        edge_compute = np.where(m.at_edge, used[..., 2, :], 0.0).sum(axis=-1)
    gateway_cache, edge_cache = inst.cache_load(resident_gateway, resident_edge)
    return _Loads(used[..., 0, :] @ member, used[..., 1, :].sum(axis=-1), gateway_compute, edge_compute,
                  gateway_cache, edge_cache)


#: Tasks (B * N) from which evaluate_batch uses masks as floats rather than np.where.
_VECTOR_MIN = 2048


def _in_unit_interval(share: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Float64 shares of this shape, all in [+0, 1] (no NaN, no infinity, no -0.0)."""
    return (isinstance(share, np.ndarray) and share.dtype == np.float64 and share.shape == shape
            and share.view(np.int64).min(initial=0) >= 0  # no sign bit: not negative, not -0.0, not -NaN
            and share.max(initial=0.0) <= 1.0)  # not above 1, not +inf, not NaN


def _by_level(flags: np.ndarray, light: np.ndarray, heavy: np.ndarray) -> np.ndarray:
    """(..., N, 2) booleans: ``flags & light`` at level 0, ``flags & heavy`` at level 1, built as
    one little-endian 2-byte word per task (its low byte first), faster than strided writes."""
    word = (flags & heavy).astype("<u2")
    word <<= 8
    word |= flags & light
    return word.view(bool).reshape(flags.shape + (2,))


@dataclass(eq=False)
class SlotOutcome:
    """The evaluator's verdict on one slot decision."""

    slot: int
    delay: np.ndarray  # (N,) seconds
    completed: np.ndarray  # (N,) bool
    earned: np.ndarray  # (N,) accuracy earned
    score: float  # J, eq. (11)
    completion: float  # completed / N
    feasible: bool
    violations: list[Violation] = field(default_factory=list)
    next_cache: Cache | None = None
    placed: Cache | None = None



def violations_of(inst: Instance, out: BatchOutcome, row: int) -> list[Violation]:
    """Every broken constraint of batch row ``row``, named, placed and measured."""
    found: list[Violation] = []
    for k, (name, label) in enumerate((("uplink_share", "C4"), ("bs_share", "C4"), ("compute_share", "C5"))):
        values = out.used_shares[row, k]
        for j in np.flatnonzero(~((values >= -SHARE_TOL) & (values <= 1.0 + SHARE_TOL))):
            x = float(values[j])
            excess = float("nan") if np.isnan(x) else (-x if x < 0 else x - 1.0)
            found.append(Violation(label, f"task {j} {name} outside [0, 1]", x, 0.0 if x < 0 else 1.0, excess))

    def pool(label: str, where: str, load: float, limit: float) -> None:
        # the same tolerances as evaluate_batch: absolute for shares, relative for caches
        if not (fits_capacity(load, limit) if label == "C6" else load <= limit + SHARE_TOL):
            found.append(Violation(label, where, float(load), float(limit), float(load - limit)))

    for i in range(inst.n_gateways):
        pool("C4", f"gateway {i} uplink band", out.uplink_load[row, i], 1.0)
    pool("C4", "BS band", out.bs_load[row], 1.0)
    for i in range(inst.n_gateways):
        pool("C5", f"gateway {i} compute", out.gateway_compute_load[row, i], 1.0)
    pool("C5", "edge compute", out.edge_compute_load[row], 1.0)
    for i in range(inst.n_gateways):
        pool("C6", f"gateway {i} cache (bits)", out.gateway_cache_load[row, i], inst.gateway_cache[i])
    pool("C6", "edge cache (bits)", out.edge_cache_load[row], inst.edge_cache)
    return found


def evaluate_slot(inst: Instance, slot: int, cache: Cache, decision: Decision) -> SlotOutcome:
    """Judge one decision for slot ``slot`` from start cache ``cache``."""
    if not 0 <= slot < inst.n_slots:
        raise ValueError(f"slot {slot} out of range 0..{inst.n_slots - 1}")
    decision.check_shapes(inst.n_devices)
    out = evaluate_batch(
        inst, np.array([slot]), cache.gateway[None], cache.edge[None], decision.site[None], decision.level[None],
        decision.uplink_share[None], decision.bs_share[None], decision.compute_share[None],
        decision.keep_gateway[None], decision.keep_edge[None],
    )
    feasible = bool(out.feasible[0])
    return SlotOutcome(
        slot=slot,
        delay=out.delay[0],
        completed=out.completed[0],
        earned=out.earned[0],
        score=float(out.score[0]),
        completion=float(out.completion[0]),
        feasible=feasible,
        violations=[] if feasible else violations_of(inst, out, 0),
        next_cache=Cache(out.next_gateway[0], out.next_edge[0]),
        placed=Cache(out.placed_gateway[0], out.placed_edge[0]),
    )


def evaluate_episode(
    inst: Instance, decisions: list[Decision], start_cache: Cache | None = None, first_slot: int = 0
) -> list[SlotOutcome]:
    """Judge slots first_slot, first_slot+1, ... in order, the cache chained by C7."""
    cache = inst.initial_cache if start_cache is None else start_cache
    outcomes = []
    for k, decision in enumerate(decisions):
        outcome = evaluate_slot(inst, first_slot + k, cache, decision)
        outcomes.append(outcome)
        assert outcome.next_cache is not None
        cache = outcome.next_cache
    return outcomes


def heavy_share(decision: Decision, outcome: SlotOutcome) -> float:
    """Fraction of completed tasks that ran the heavy model (0 when none completed)."""
    done = outcome.completed
    return float((decision.level[done] == 1).mean()) if done.any() else 0.0


__all__ = [
    "SITE_EDGE", "SITE_GATEWAY", "SITE_NONE", "BatchOutcome", "SlotOutcome", "Violation", "evaluate_batch",
    "evaluate_episode", "evaluate_slot", "heavy_share", "violations_of",
]
