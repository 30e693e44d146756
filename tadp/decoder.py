"""The action decoder: any action of eq. (13) to a valid decision (spec section 10, DCPU).

An action holds 10 numbers per task in [-1, 1], task-major (task j's fields at
``10j .. 10j+9``), in the order of :data:`ACTION_FIELDS`. The decoder is the paper's
DNN caching pool updating subroutine (Algorithm 1, Steps 1-4) made exact:

1. site = gateway if its field >= 0 else edge; level = heavy if its field >= 0; each of
   the four keep flags = 1 if its field >= 0.
2. In device order (gateway 0's devices first, as Algorithm 1 loops over gateways i and
   devices k), a task whose model is not resident at its site has it placed if the
   fetch fits its deadline and the site's cache, counted with the start cache (Step 1)
   and the placements admitted so far, has room (Step 2); otherwise the task is dropped
   (site ``none``).
3. Shares: within each pool (a gateway's band, the BS band, a gateway's compute, the
   edge compute) the surviving tasks' weights ``(field + 1) / 2`` divided by their sum,
   equal shares when the sum is 0. Gateway-site tasks take compute from ``b_l``, edge
   tasks from ``b_e``; every served task draws on its gateway's band [D4].

The output is deterministic and always passes the evaluator: every placement it keeps
is admitted by the same fetch times (:func:`tadp.evaluator.fetch_times`) and the same
deadline tolerance the evaluator uses, and fits the cache. The decoder computes no
delay other than those fetch times; the evaluator remains the only judge of delays,
completion and score.

:func:`decode_batch` does B actions at once (the RL environment's hot path); the
capacity check is vectorised, with a short loop of rounds only for pools where some
placement does not fit (see :func:`_admit_in_order`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE, Decision
from tadp.evaluator import DEADLINE_TOL, fetch_times
from tadp.instance import Cache, Instance

#: The 10 fields of one task's action, in order (eq. 13; spec section 10).
ACTION_FIELDS = (
    "site",  # m: >= 0 gateway, < 0 edge
    "level",  # phi: >= 0 heavy, < 0 light
    "uplink",  # alpha^l: weight in its gateway's band
    "bs",  # alpha^e: weight in the BS band (edge tasks)
    "compute_gateway",  # beta^l: weight in its gateway's compute (gateway tasks)
    "compute_edge",  # beta^e: weight in the edge compute (edge tasks)
    "keep_gateway_light",  # omega^{l_0}
    "keep_gateway_heavy",  # omega^{l_1}
    "keep_edge_light",  # omega^{e_0}
    "keep_edge_heavy",  # omega^{e_1}
)
FIELDS_PER_TASK = len(ACTION_FIELDS)
_F = {name: k for k, name in enumerate(ACTION_FIELDS)}


@dataclass(eq=False)
class DecodedBatch:
    """B decoded decisions; arrays (B, N) or (B, N, 2), as :class:`~tadp.decision.Decision` fields."""

    site: np.ndarray  # int8 codes
    level: np.ndarray  # int8
    uplink_share: np.ndarray
    bs_share: np.ndarray
    compute_share: np.ndarray
    keep_gateway: np.ndarray  # (B, N, 2) bool
    keep_edge: np.ndarray  # (B, N, 2) bool
    dropped_fetch: np.ndarray  # (B, N) bool: dropped because the model's fetch misses the deadline
    dropped_cache: np.ndarray  # (B, N) bool: dropped because the site's cache had no room left

    def decision(self, row: int) -> Decision:
        """Row ``row`` as a :class:`~tadp.decision.Decision`."""
        return Decision(
            site=self.site[row].copy(),
            level=self.level[row].copy(),
            uplink_share=self.uplink_share[row].copy(),
            bs_share=self.bs_share[row].copy(),
            compute_share=self.compute_share[row].copy(),
            keep_gateway=self.keep_gateway[row].copy(),
            keep_edge=self.keep_edge[row].copy(),
        )


class _Layout:
    """Per-instance constants of the decoder, computed once per instance."""

    def __init__(self, inst: Instance) -> None:
        self.n = inst.n_devices
        self.n_gateways = inst.n_gateways
        self.gateway = inst.device_gateway
        # device order of Algorithm 1: by gateway, then by index (stable)
        self.order = np.argsort(inst.device_gateway, kind="stable")
        self.identity_order = bool(np.array_equal(self.order, np.arange(self.n)))
        gateway_in_order = inst.device_gateway[self.order]
        # first position (in device order) of each device's gateway block
        first = np.searchsorted(gateway_in_order, np.arange(self.n_gateways))
        self.block_start = first[gateway_in_order]
        self.membership = inst.gateway_membership  # (N, G)
        self.gateway_cache = inst.gateway_cache
        self.edge_cache = float(inst.edge_cache)


_LAYOUTS: weakref.WeakKeyDictionary[Instance, _Layout] = weakref.WeakKeyDictionary()


def _layout(inst: Instance) -> _Layout:
    lay = _LAYOUTS.get(inst)
    if lay is None:
        lay = _LAYOUTS[inst] = _Layout(inst)
    return lay


def decode_batch(
    inst: Instance,
    actions: np.ndarray,
    cache_gateway: np.ndarray,
    cache_edge: np.ndarray,
    deadline: np.ndarray,
) -> DecodedBatch:
    """Decode B actions (B, 10N) from start caches (B, N, 2) for tasks with deadlines (B, N)."""
    lay = _layout(inst)
    n = lay.n
    actions = np.asarray(actions, float)
    if actions.ndim != 2 or actions.shape[1] != FIELDS_PER_TASK * n:
        raise ValueError(f"actions: expected shape (B, {FIELDS_PER_TASK * n}), got {actions.shape}")
    b = actions.shape[0]
    fields = actions.reshape(b, n, FIELDS_PER_TASK)
    cache_gateway = np.asarray(cache_gateway, bool)
    cache_edge = np.asarray(cache_edge, bool)
    deadline = np.asarray(deadline, float)

    # --- discretise: site, level, keep flags (any real vector is an action: NaN counts as < 0) ---
    at_gateway = fields[..., _F["site"]] >= 0.0
    heavy = fields[..., _F["level"]] >= 0.0
    level = heavy.astype(np.int8)
    keep_gateway = fields[..., _F["keep_gateway_light"]:_F["keep_gateway_heavy"] + 1] >= 0.0  # (B, N, 2)
    keep_edge = fields[..., _F["keep_edge_light"]:_F["keep_edge_heavy"] + 1] >= 0.0

    # --- Step 2: does the model need placing, and does its fetch fit the deadline? ---
    gateway_fetch, edge_fetch = fetch_times(inst, cache_gateway, cache_edge)
    fetch = np.where(at_gateway, np.where(heavy, gateway_fetch[..., 1], gateway_fetch[..., 0]),
                     np.where(heavy, edge_fetch[..., 1], edge_fetch[..., 0]))
    resident = np.where(at_gateway, np.where(heavy, cache_gateway[..., 1], cache_gateway[..., 0]),
                        np.where(heavy, cache_edge[..., 1], cache_edge[..., 0]))
    needs_placing = ~resident
    dropped_fetch = needs_placing & ~(fetch <= deadline + DEADLINE_TOL)  # the evaluator's own rule
    candidates = needs_placing & ~dropped_fetch

    # --- Steps 1-2: room in the cache, start cache plus placements so far, in device order ---
    dropped_cache = np.zeros_like(candidates)
    if candidates.any():
        size = np.where(heavy, inst.model_size[:, 1], inst.model_size[:, 0])
        light_size, heavy_size = inst.model_size[:, 0], inst.model_size[:, 1]
        gateway_bits = np.where(cache_gateway[..., 0], light_size, 0.0) + np.where(cache_gateway[..., 1], heavy_size, 0.0)
        edge_bits = np.where(cache_edge[..., 0], light_size, 0.0) + np.where(cache_edge[..., 1], heavy_size, 0.0)
        gateway_load, edge_load = gateway_bits @ lay.membership, edge_bits.sum(axis=-1)  # (B, G), (B,): Step 1
        free = np.concatenate([lay.gateway_cache - gateway_load, (lay.edge_cache - edge_load)[:, None]], axis=1)
        pool = np.where(at_gateway, lay.gateway[None, :], lay.n_gateways)  # gateway i's cache, or G = the ECaS
        if lay.identity_order:
            admitted = _admit_in_order(lay.block_start, candidates, size, pool, at_gateway, free)
        else:  # work in device order, then put the answer back in task order
            o = lay.order
            admitted = np.empty_like(candidates)
            admitted[:, o] = _admit_in_order(lay.block_start, candidates[:, o], size[:, o], pool[:, o],
                                             at_gateway[:, o], free)
        dropped_cache = candidates & ~admitted

    # --- Step 3: survivors and their shares ---
    site = np.where(at_gateway, SITE_GATEWAY, SITE_EDGE).astype(np.int8)
    site[dropped_fetch | dropped_cache] = SITE_NONE
    served = site != SITE_NONE
    at_gateway = site == SITE_GATEWAY
    at_edge = site == SITE_EDGE
    weight = (np.fmin(np.fmax(fields[..., _F["uplink"]:_F["compute_edge"] + 1], -1.0), 1.0) + 1.0) / 2.0  # NaN: 0
    uplink_share = _pool_shares(weight[..., 0], served, lay.membership, lay.gateway)
    bs_share = _pool_shares(weight[..., 1], at_edge, None, None)
    # a task is in one compute pool only, so the two pools' shares add up without overlap
    compute_share = (_pool_shares(weight[..., 2], at_gateway, lay.membership, lay.gateway)
                     + _pool_shares(weight[..., 3], at_edge, None, None))
    return DecodedBatch(site, level, uplink_share, bs_share, compute_share, keep_gateway, keep_edge,
                        dropped_fetch, dropped_cache)


def decode(inst: Instance, action: np.ndarray, cache: Cache, deadline: np.ndarray) -> Decision:
    """Decode one action (10N,) for a slot whose tasks have deadlines ``deadline`` (N,)."""
    out = decode_batch(inst, np.asarray(action, float)[None], cache.gateway[None], cache.edge[None],
                       np.asarray(deadline, float)[None])
    return out.decision(0)


def _pool_shares(weight: np.ndarray, members: np.ndarray, membership: np.ndarray | None,
                 gateway: np.ndarray | None) -> np.ndarray:
    """Each member's weight over its pool's total (equal shares when the total is 0); 0 for non-members.

    ``membership`` (N, G) and ``gateway`` (N,) map tasks to one pool per gateway; None means one
    pool of all tasks. The per-pool factors are computed on the small (B, pools) arrays.
    """
    w = np.where(members, weight, 0.0)
    count = members.astype(float)
    if membership is None:
        total, size = w.sum(axis=-1, keepdims=True), count.sum(axis=-1, keepdims=True)
    else:
        total, size = w @ membership, count @ membership
    with np.errstate(divide="ignore", invalid="ignore"):
        per_weight = np.where(total > 0.0, 1.0 / total, 0.0)
        equal = np.where((total > 0.0) | (size == 0.0), 0.0, 1.0 / size)
    if gateway is not None:
        per_weight, equal = per_weight[:, gateway], equal[:, gateway]
    # a pool with total 0 has all its weights 0, so this is w / total or 1 / size, never both
    return (w * per_weight + equal) * count


def _admit_in_order(
    block_start: np.ndarray,
    candidates: np.ndarray,
    size: np.ndarray,
    pool: np.ndarray,
    at_gateway: np.ndarray,
    free: np.ndarray,
) -> np.ndarray:
    """First-fit admission in device order: a candidate is admitted iff its model fits the room
    its pool has left after the placements admitted before it. Returns the admitted mask (B, N).
    Tasks are given in device order; ``block_start[k]`` is the position where the gateway
    block of the task at position k begins.

    Equivalent to the sequential loop of Algorithm 1, done in rounds over the whole batch:
    a round rejects every candidate larger than its pool's room (room only shrinks, so the
    sequential loop would reject it too), then admits, per pool, the longest prefix whose
    cumulative size fits. The first candidate after that prefix is rejected by the next
    round, so each round ends at least one pool's run; when nothing overflows (the usual
    case) one round decides everything.
    """
    b, n = candidates.shape
    n_pools = free.shape[1]
    flat_pool = (np.arange(b)[:, None] * n_pools + pool).ravel()
    undecided = candidates.copy()
    admitted = np.zeros_like(candidates)
    room = free.copy()
    while True:
        room_of_task = room.ravel()[flat_pool].reshape(b, n)
        undecided &= ~(size > room_of_task)  # can never fit any more
        if not undecided.any():
            return admitted
        # cumulative size per pool: gateway pools are contiguous blocks in device order, the ECaS spans all
        gateway_sizes = np.cumsum(np.where(undecided & at_gateway, size, 0.0), axis=1)
        before_block = np.concatenate([np.zeros((b, 1)), gateway_sizes], axis=1)[:, block_start]
        edge_sizes = np.cumsum(np.where(undecided & ~at_gateway, size, 0.0), axis=1)
        cumulative = np.where(at_gateway, gateway_sizes - before_block, edge_sizes)
        fits = undecided & (cumulative <= room_of_task)
        admitted |= fits
        undecided &= ~fits
        if not undecided.any():
            return admitted
        used = np.bincount(flat_pool, weights=np.where(fits, size, 0.0).ravel(), minlength=b * n_pools)
        room = room - used.reshape(b, n_pools)


__all__ = ["ACTION_FIELDS", "FIELDS_PER_TASK", "DecodedBatch", "decode", "decode_batch"]
