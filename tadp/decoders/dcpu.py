"""The paper's decoder, DCPU: any action of eq. (13) to a valid decision (docs/model.md, section 10).

An action holds 10 numbers per task in [-1, 1], task-major (task j's fields at
``10j .. 10j+9``), in the order of :data:`tadp.decoders.action.ACTION_FIELDS`. The decoder is the
paper's DNN caching pool updating subroutine (Algorithm 1, Steps 1-4) made exact:

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
is admitted by the same fetch times (:func:`tadp.physics.fetch_times`) and the same
deadline rule (:func:`tadp.physics.within_deadline`) the evaluator uses, and fits the
cache. The decoder computes no delay other than those fetch times; the evaluator remains
the only judge of completion and score.

:func:`decode_batch` does B actions at once (the RL environment's hot path), in numpy
only: booleans and gathers from per-instance tables rather than ``np.where``, and the
capacity check as a vectorised first fit per pool (:func:`_admit`, :func:`_first_fit`).
Its output equals that of the plain reference decoder (:func:`_decode_few`, with the
sequential admission rounds of :func:`_admit_in_order`) bit for bit: rows where rounding in
a different order could decide a placement differently are decided by the reference rounds,
and the pool totals of the shares are the same BLAS products. The tests hold the two
against each other.
"""

from __future__ import annotations

import weakref

import numpy as np

from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE, Decision
from tadp.decoders.action import FIELD_INDEX as _F
from tadp.decoders.action import FIELDS_PER_TASK, DecodedBatch
from tadp.instance import Cache, Instance
from tadp.physics import fetch_times, within_deadline


class _Layout:
    """Per-instance constants of the decoder, computed once per instance."""

    def __init__(self, inst: Instance) -> None:
        n = self.n = inst.n_devices
        g = self.n_gateways = inst.n_gateways
        self.gateway = inst.device_gateway
        # device order of Algorithm 1: by gateway, then by index (stable)
        self.order = np.argsort(inst.device_gateway, kind="stable")
        self.identity_order = bool(np.array_equal(self.order, np.arange(n)))
        gateway_in_order = inst.device_gateway[self.order]
        # first position (in device order) of each device's gateway block
        first = np.searchsorted(gateway_in_order, np.arange(g))
        self.block_start = first[gateway_in_order]
        self.membership = inst.gateway_membership  # (N, G)
        self.gateway_cache = inst.gateway_cache
        self.edge_cache = float(inst.edge_cache)
        # the gateway pools as a (G, K) grid of device-order positions, short blocks padded
        # with position n (a column of zeros); a plain reshape when every block has K devices
        counts = np.bincount(inst.device_gateway, minlength=g)
        self.block = int(counts.max()) if n else 0
        self.uniform = self.identity_order and bool(np.all(counts == self.block))
        grid = np.full((g, self.block), n, np.intp)
        for i in range(g):
            grid[i, : counts[i]] = first[i] + np.arange(counts[i])
        self.grid = grid.ravel()
        self.light_size = np.ascontiguousarray(inst.model_size[:, 0])
        self.heavy_size = np.ascontiguousarray(inst.model_size[:, 1])
        # fetch times of a missing model (N,) per level, by the physics module's arithmetic:
        # into the ECaS from the cloud; to the gateway from the ECaS; to the gateway from the cloud
        none, every = np.zeros((n, 2), bool), np.ones((n, 2), bool)
        from_cloud, to_edge = fetch_times(inst, none, none)
        from_edge, _ = fetch_times(inst, none, every)
        # case = 4 * at_gateway + 2 * heavy + (the model is in the ECaS); flat index 8j + case
        table = np.empty((n, 2, 2, 2))
        for level in range(2):
            table[:, 0, level, :] = to_edge[:, level, None]
            table[:, 1, level, 0] = from_cloud[:, level]
            table[:, 1, level, 1] = from_edge[:, level]
        self.fetch_table = table.reshape(-1)
        self.fetch_base = 8 * np.arange(n)
        # bits a task's start cache holds, by held light + 2 * held heavy: 0, S0, S1, S0 + S1 (what
        # np.where(u[0], S0, 0) + np.where(u[1], S1, 0) adds up to, sizes being positive)
        ls, hs = inst.model_size[:, 0], inst.model_size[:, 1]
        self.held_table = np.stack([np.zeros(n), ls, hs, ls + hs], axis=1).reshape(-1)
        self.held_base = 4 * np.arange(n)
        # A bound on the rounding error of any room or cumulative size the admission computes
        # (this decoder's and the reference rounds', _admit_in_order): sums of at most 2N + 2
        # terms whose magnitudes add up to at most `scale`. Comparisons closer than this are
        # "near ties" and their rows go to the reference (see _first_fit).
        scale = float(max(np.max(inst.gateway_cache, initial=0.0), inst.edge_cache) + 2.0 * inst.model_size.sum())
        self.tol = 16.0 * (n + 2) * 2.0**-53 * scale

    def grid_of(self, x: np.ndarray) -> np.ndarray:
        """(B, N) per task to the (B, G, K) grid of gateway blocks (padding 0)."""
        b = x.shape[0]
        if self.uniform:
            return x.reshape(b, self.n_gateways, self.block)
        padded = np.concatenate([x[:, self.order], np.zeros((b, 1), x.dtype)], axis=1)
        return padded[:, self.grid].reshape(b, self.n_gateways, self.block)

    def block_sums(self, x: np.ndarray) -> np.ndarray:
        """Per-gateway sums (B, G) of (B, N) floats, without BLAS (and so in another order than
        ``x @ membership``: exact for whole numbers, within rounding otherwise)."""
        return np.einsum("bgk->bg", self.grid_of(x))


_LAYOUTS: weakref.WeakKeyDictionary[Instance, _Layout] = weakref.WeakKeyDictionary()


def _layout(inst: Instance) -> _Layout:
    lay = _LAYOUTS.get(inst)
    if lay is None:
        lay = _LAYOUTS[inst] = _Layout(inst)
    return lay


#: Rows of actions that :func:`decode_batch` reads at once.
_SLICE_ACTIONS = 64

# the site codes are built by arithmetic below: edge - at_gateway, times served
assert (SITE_NONE, SITE_GATEWAY, SITE_EDGE) == (0, 1, 2)


def _column(flags: np.ndarray, k: int) -> np.ndarray:
    """Field ``k`` of (..., F) booleans as a contiguous (...) array."""
    return np.ascontiguousarray(flags[..., k])


def _as_float(mask: np.ndarray) -> np.ndarray:
    """0/1 floats: ``x * _as_float(m)`` is exactly ``np.where(m, x, 0.0)`` for finite x >= 0, and faster."""
    return mask.view(np.uint8).astype(float)


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
    if b < _FEW_ROWS:  # a few rows: the reference decoder's fewer numpy calls are faster
        return _decode_few(inst, lay, fields, np.asarray(cache_gateway, bool), np.asarray(cache_edge, bool),
                           np.asarray(deadline, float))
    cache_gateway = np.ascontiguousarray(cache_gateway, bool)
    cache_edge = np.ascontiguousarray(cache_edge, bool)
    deadline = np.asarray(deadline, float)

    # --- discretise: site, level, keep flags (any real vector is an action: NaN counts as < 0) ---
    # one pass over the actions for the signs and the four weight fields clipped into [-1, 1],
    # a slice of rows at a time (the strided reads then hit the cache)
    sign = np.empty(fields.shape, bool)  # (B, N, 10)
    weight = np.empty((4, b, n))
    for i in range(0, b, _SLICE_ACTIONS):
        rows = slice(i, i + _SLICE_ACTIONS)
        np.greater_equal(fields[rows], 0.0, out=sign[rows])
        for k in range(4):  # np.clip is fmin(fmax(x, -1), 1) except that it keeps NaN (set to -1 below)
            np.clip(fields[rows, :, _F["uplink"] + k], -1.0, 1.0, out=weight[k, rows])
    at_gateway = _column(sign, _F["site"])
    heavy = _column(sign, _F["level"])
    light = ~heavy
    level = heavy.astype(np.int8)
    # a site's two keep flags are adjacent bytes: copy each pair as one 2-byte word
    pairs = sign.reshape(b, n * FIELDS_PER_TASK).view(np.uint16).reshape(b, n, FIELDS_PER_TASK // 2)
    keep_gateway = _column(pairs, _F["keep_gateway_light"] // 2).view(bool).reshape(b, n, 2)
    keep_edge = _column(pairs, _F["keep_edge_light"] // 2).view(bool).reshape(b, n, 2)

    # --- Step 2: does the model need placing, and does its fetch fit the deadline? ---
    # The evaluator's fetch times and deadline rule (tadp.physics) as boolean algebra:
    # the fetch of a missing model is S/R_c into the ECaS, S/R_e into a gateway from the ECaS,
    # S/R_c + S/R_e into a gateway from the cloud (tadp.physics.fetch_times).
    gateway_light, gateway_heavy = _column(cache_gateway, 0), _column(cache_gateway, 1)
    edge_light, edge_heavy = _column(cache_edge, 0), _column(cache_edge, 1)
    at_edge = ~at_gateway
    in_edge = (edge_light & light) | (edge_heavy & heavy)  # the chosen model is in the ECaS
    needs_placing = ~((((gateway_light & light) | (gateway_heavy & heavy)) & at_gateway) | (in_edge & at_edge))
    # the fetch time of each task's model to its site, were it missing there: one gather from the
    # table of the 8 cases (site, level, held by the ECaS) of each task
    case = at_gateway.view(np.uint8) << 2
    case |= heavy.view(np.uint8) << 1
    case |= in_edge.view(np.uint8)
    fetch = np.take(lay.fetch_table, case + lay.fetch_base)
    in_time_here = within_deadline(fetch, deadline)
    dropped_fetch = needs_placing & ~in_time_here
    candidates = needs_placing & in_time_here

    # --- Steps 1-2: room in the cache, start cache plus placements so far, in device order ---
    dropped_cache = np.zeros_like(candidates)
    if candidates.any():
        # the bits each task's models hold in a cache: one gather from (0, S0, S1, S0 + S1) per task
        gateway_bits = np.take(lay.held_table, lay.held_base + (gateway_light.view(np.uint8)
                                                                 | gateway_heavy.view(np.uint8) << 1))
        edge_bits = np.take(lay.held_table, lay.held_base + (edge_light.view(np.uint8) | edge_heavy.view(np.uint8) << 1))
        room_edge = lay.edge_cache - edge_bits.sum(axis=-1)  # (B,): Step 1
        admitted = _admit(lay, candidates, heavy, at_gateway, gateway_bits, room_edge)
        dropped_cache = candidates & ~admitted

    # --- Step 3: survivors and their shares ---
    served = ~(dropped_fetch | dropped_cache)
    site = np.subtract(SITE_EDGE, at_gateway, dtype=np.int8)
    site *= served
    at_gateway &= served
    at_edge &= served
    if np.isnan(weight.max(initial=0.0)):  # a NaN field counts as -1: weight 0
        weight[np.isnan(weight)] = -1.0
    weight += 1.0
    weight *= 0.5  # exactly / 2
    served_f, at_gateway_f, at_edge_f = _as_float(served), _as_float(at_gateway), _as_float(at_edge)
    edge_count = at_edge_f.sum(axis=-1, keepdims=True)
    uplink_share = _gateway_shares(lay, weight[0], served_f)
    compute_share = _gateway_shares(lay, weight[2], at_gateway_f)
    bs_share = _edge_shares(weight[1], at_edge_f, edge_count)
    # a task is in one compute pool only, so the two pools' shares add up without overlap
    compute_share += _edge_shares(weight[3], at_edge_f, edge_count)
    return DecodedBatch(site, level, uplink_share, bs_share, compute_share, keep_gateway, keep_edge,
                        dropped_fetch, dropped_cache)


def _decode_few(inst: Instance, lay: _Layout, fields: np.ndarray, cache_gateway: np.ndarray, cache_edge: np.ndarray,
                deadline: np.ndarray) -> DecodedBatch:
    """The reference decoder (np.where, the reference admission rounds): for a few
    rows, where the number of numpy calls, not their size, sets the time."""
    at_gateway = fields[..., _F["site"]] >= 0.0
    heavy = fields[..., _F["level"]] >= 0.0
    keep_gateway = fields[..., _F["keep_gateway_light"]:_F["keep_gateway_heavy"] + 1] >= 0.0  # (B, N, 2)
    keep_edge = fields[..., _F["keep_edge_light"]:_F["keep_edge_heavy"] + 1] >= 0.0
    gateway_fetch, edge_fetch = fetch_times(inst, cache_gateway, cache_edge)
    fetch = np.where(at_gateway, np.where(heavy, gateway_fetch[..., 1], gateway_fetch[..., 0]),
                     np.where(heavy, edge_fetch[..., 1], edge_fetch[..., 0]))
    resident = np.where(at_gateway, np.where(heavy, cache_gateway[..., 1], cache_gateway[..., 0]),
                        np.where(heavy, cache_edge[..., 1], cache_edge[..., 0]))
    dropped_fetch = ~resident & ~within_deadline(fetch, deadline)  # the evaluator's own rule
    candidates = ~resident & ~dropped_fetch
    dropped_cache = np.zeros_like(candidates)
    if candidates.any():
        gateway_bits = (np.where(cache_gateway[..., 0], lay.light_size, 0.0)
                        + np.where(cache_gateway[..., 1], lay.heavy_size, 0.0))
        edge_bits = np.where(cache_edge[..., 0], lay.light_size, 0.0) + np.where(cache_edge[..., 1], lay.heavy_size, 0.0)
        room_edge = lay.edge_cache - edge_bits.sum(axis=-1)
        admitted = _admit_reference(lay, None, candidates, heavy, at_gateway, gateway_bits, room_edge)
        dropped_cache = candidates & ~admitted
    site = np.where(at_gateway, SITE_GATEWAY, SITE_EDGE).astype(np.int8)
    site[dropped_fetch | dropped_cache] = SITE_NONE
    served, at_gateway, at_edge = site != SITE_NONE, site == SITE_GATEWAY, site == SITE_EDGE
    weight = (np.fmin(np.fmax(fields[..., _F["uplink"]:_F["compute_edge"] + 1], -1.0), 1.0) + 1.0) / 2.0  # NaN: 0

    def shares(w: np.ndarray, members: np.ndarray, by_gateway: bool) -> np.ndarray:
        w = np.where(members, w, 0.0)
        count = members.astype(float)
        if by_gateway:
            per_weight, equal = _pool_factors(w @ lay.membership, count @ lay.membership)
            per_weight, equal = per_weight[:, lay.gateway], equal[:, lay.gateway]
        else:
            per_weight, equal = _pool_factors(w.sum(axis=-1, keepdims=True), count.sum(axis=-1, keepdims=True))
        return (w * per_weight + equal) * count

    return DecodedBatch(site, heavy.astype(np.int8), shares(weight[..., 0], served, True),
                        shares(weight[..., 1], at_edge, False),
                        shares(weight[..., 2], at_gateway, True) + shares(weight[..., 3], at_edge, False),
                        keep_gateway, keep_edge, dropped_fetch, dropped_cache)


def decode(inst: Instance, action: np.ndarray, cache: Cache, deadline: np.ndarray) -> Decision:
    """Decode one action (10N,) for a slot whose tasks have deadlines ``deadline`` (N,)."""
    out = decode_batch(inst, np.asarray(action, float)[None], cache.gateway[None], cache.edge[None],
                       np.asarray(deadline, float)[None])
    return out.decision(0)


def _pool_factors(total: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pool: the factor of each member's weight (1 / total, or 0 when the total is 0) and the
    equal share added to it (1 / size when the total is 0 and the pool has members, else 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # small (B, pools) arrays
        per_weight = np.where(total > 0.0, 1.0 / total, 0.0)
        equal = np.where((total > 0.0) | (size == 0.0), 0.0, 1.0 / size)
    return per_weight, equal


def _gateway_shares(lay: _Layout, weight: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Each member's weight over its gateway pool's total (equal shares when the total is 0); 0 for
    non-members (``members``: 0/1 floats). The factors are computed on the small (B, G) arrays; a
    pool with total 0 has all its weights 0, so a member's share is w / total or 1 / size, never both.
    """
    w = weight * members  # weights are finite and >= 0: exactly np.where(members, weight, 0.0)
    b = w.shape[0]
    # the totals by BLAS, as always (its order of additions decides the last bit); the counts are
    # whole numbers, exact in any order
    per_weight, equal = _pool_factors(w @ lay.membership, lay.block_sums(members))
    weighted = not equal.any()  # no pool of all-zero weights: (w * f + 0) * m is w * f (w is 0 off m)
    if lay.uniform:  # gateway blocks are equal, contiguous runs of tasks: broadcast, no gather
        shape = (b, lay.n_gateways, lay.block)
        share = w.reshape(shape) * per_weight[..., None]
        if weighted:
            return share.reshape(b, lay.n)
        share += equal[..., None]
    else:
        share = w * per_weight[:, lay.gateway]
        if weighted:
            return share
        share += equal[:, lay.gateway]
    share = share.reshape(b, lay.n)
    share *= members
    return share


def _edge_shares(weight: np.ndarray, members: np.ndarray, count: np.ndarray) -> np.ndarray:
    """As :func:`_gateway_shares` for one pool of all tasks (the BS band, the edge compute)."""
    w = weight * members
    per_weight, equal = _pool_factors(w.sum(axis=-1, keepdims=True), count)
    share = w * per_weight
    if equal.any():
        share += equal
        share *= members
    return share


def _admit(lay: _Layout, candidates: np.ndarray, heavy: np.ndarray, at_gateway: np.ndarray,
           gateway_bits: np.ndarray, room_edge: np.ndarray) -> np.ndarray:
    """First-fit admission in device order (Algorithm 1, Steps 1-2); the admitted mask (B, N).

    A candidate is admitted iff its model fits the room its pool (its gateway's cache, or the
    ECaS) has left after the placements admitted before it. Every pool runs :func:`_first_fit`:
    the gateway pools as the rows of a (B * G, K) grid of gateway blocks, the ECaS as B rows in
    device order, in slices of rows that keep the temporaries in cache. A row with a near tie
    (a comparison within the rounding bound ``lay.tol``, which arithmetic in another order might
    decide the other way) is decided again by the reference rounds, :func:`_admit_in_order`, so
    the result is always theirs to the last bit. ``gateway_bits`` (B, N) are the bits each
    task's start cache holds at its gateway (Step 1): summed here per gateway without BLAS (its
    threads cost dearly on a busy machine), and by BLAS, as the reference always did, only for
    the rows it decides.
    """
    b = candidates.shape[0]
    room_gateway = lay.gateway_cache - lay.block_sums(gateway_bits)
    admitted = np.empty_like(candidates)
    near = np.empty(b, bool)
    for i in range(0, b, _SLICE_ROWS):
        rows = slice(i, i + _SLICE_ROWS)
        admitted[rows], near[rows] = _admit_rows(lay, candidates[rows], heavy[rows], at_gateway[rows],
                                                 room_gateway[rows], room_edge[rows])
    if near.any():  # the reference rounds decide these rows, exactly as they always did
        rows = np.flatnonzero(near)
        admitted[rows] = _admit_reference(lay, rows, candidates, heavy, at_gateway, gateway_bits, room_edge)
    return admitted


#: Rows of the batch that :func:`_admit` handles at once.
_SLICE_ROWS = 128


def _admit_rows(lay: _Layout, candidates: np.ndarray, heavy: np.ndarray, at_gateway: np.ndarray,
                room_gateway: np.ndarray, room_edge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_admit` on a slice of rows: the admitted mask (task order) and the near-tie rows."""
    b, n = candidates.shape
    g, k = lay.n_gateways, lay.block
    size = lay.light_size * _as_float(~heavy)
    size += lay.heavy_size * _as_float(heavy)  # exactly S[j][level]
    pools = np.empty((2, b, n))  # the candidates' sizes (0 elsewhere): gateway pools, the ECaS
    gateway_cand, edge_cand = candidates & at_gateway, candidates & ~at_gateway
    np.multiply(size, _as_float(gateway_cand), out=pools[0])
    np.multiply(size, _as_float(edge_cand), out=pools[1])
    if not lay.identity_order:
        o = lay.order
        pools, gateway_cand, edge_cand = pools[:, :, o], gateway_cand[:, o], edge_cand[:, o]
    # the gateways as a (B * G, K) grid of gateway blocks (short ones padded with non-candidates);
    # the ECaS as one pool over all tasks, in device order
    if lay.uniform:  # gateway i's block is columns iK .. iK + K - 1: prefix sums of both in one pass
        grid_size, grid_cand = pools[0].reshape(b * g, k), gateway_cand.reshape(b * g, k)
        within = _cumulative(pools.reshape(2 * b * g, k))  # per block of K
        grid_cumulative = within[: b * g]
        edge_within = within[b * g:].reshape(b, g, k)
        offsets = np.zeros((b, g))  # the ECaS's sums before each block: running sums of block totals
        np.cumsum(edge_within[:, :-1, -1], axis=1, out=offsets[:, 1:])
        edge_cumulative = (edge_within + offsets[..., None]).reshape(b, n)
    else:
        grid_size = np.concatenate([pools[0], np.zeros((b, 1))], axis=1)[:, lay.grid].reshape(b * g, k)
        grid_cand = np.concatenate([gateway_cand, np.zeros((b, 1), bool)], axis=1)[:, lay.grid].reshape(b * g, k)
        grid_cumulative, edge_cumulative = _cumulative(grid_size), np.cumsum(pools[1], axis=1)
    admitted, near = _first_fit(pools[1], edge_cand, edge_cumulative, room_edge, lay.tol)
    grid_admitted, near_gateway = _first_fit(grid_size, grid_cand, grid_cumulative, room_gateway.reshape(b * g),
                                             lay.tol)
    if lay.uniform:
        admitted |= grid_admitted.reshape(b, n)
    else:
        spread = np.zeros((b, n + 1), bool)
        spread[:, lay.grid] = grid_admitted.reshape(b, g * k)
        admitted |= spread[:, :n]
    near |= near_gateway.reshape(b, g).any(axis=1)
    if not lay.identity_order:
        admitted[:, lay.order] = admitted.copy()  # back to task order
    return admitted, near


#: Below this many rows, :func:`decode_batch` runs the reference decoder: its fixed cost is lower.
_FEW_ROWS = 4


def _admit_reference(lay: _Layout, rows: np.ndarray | None, candidates: np.ndarray, heavy: np.ndarray,
                     at_gateway: np.ndarray, gateway_bits: np.ndarray, room_edge: np.ndarray) -> np.ndarray:
    """:func:`_admit` for rows ``rows`` (None: all) by the reference rounds, :func:`_admit_in_order`,
    with exactly the arithmetic they always had (the gateways' start loads by one BLAS product of
    the whole batch). Returns the admitted mask (rows, N) in task order."""
    room_gateway = lay.gateway_cache - gateway_bits @ lay.membership
    if rows is not None:
        candidates, heavy, at_gateway = candidates[rows], heavy[rows], at_gateway[rows]
        room_gateway, room_edge = room_gateway[rows], room_edge[rows]
    o = lay.order
    if not lay.identity_order:
        candidates, heavy, at_gateway = candidates[:, o], heavy[:, o], at_gateway[:, o]
    admitted = _admit_in_order(lay.block_start, candidates, np.where(heavy, lay.heavy_size[o], lay.light_size[o]),
                               np.where(at_gateway, lay.gateway[o], lay.n_gateways), at_gateway,
                               np.concatenate([room_gateway, room_edge[:, None]], axis=1))
    if not lay.identity_order:
        admitted[:, o] = admitted.copy()
    return admitted


def _cumulative(x: np.ndarray) -> np.ndarray:
    """Inclusive prefix sums along the short rows of ``x`` (R, L), as a (R, L) view: one vector
    addition per column, on a transposed copy (``np.cumsum`` along short rows pays a per-row
    cost; its plain left-to-right order is not needed, callers allow for any order's rounding)."""
    t = x.T.copy()
    for k in range(1, t.shape[0]):
        t[k] += t[k - 1]
    return t.T


def _first_fit(size: np.ndarray, candidates: np.ndarray, cumulative: np.ndarray, room: np.ndarray,
               tol: float) -> tuple[np.ndarray, np.ndarray]:
    """First fit in R independent pools: row r's candidates (``candidates[r]``, in order, sizes
    ``size[r]``, which is 0 elsewhere) are admitted in turn while each fits ``room[r]`` less the
    sizes admitted before it; ``cumulative`` (R, L) holds the prefix sums of ``size`` along the
    rows. Returns the admitted mask (R, L) and ``near`` (R,): the rows where a comparison came
    within ``tol`` of a tie (the caller decides those again).

    Sizes are positive, so a row's room only shrinks. The longest prefix that fits is admitted
    at once (the prefix sums); the room then left is less than the first refused size, and what
    remains is a short chain of jumps, each admitting the next candidate that fits the room left
    (a candidate that does not fit now never will). With sizes within a factor q of each other,
    a row takes at most q jumps.
    """
    r_count, length = size.shape
    slack = room[:, None] - cumulative  # room left after each candidate, were all before it admitted
    undecided = candidates & (slack < 0.0)
    admitted = candidates & ~undecided  # the prefix that fits: slack only decreases along a row
    first = undecided.argmax(axis=1)  # the first refused candidate
    at = np.arange(r_count)
    refused = undecided[at, first]
    used = np.where(refused, cumulative[at, first] - size[at, first], cumulative[:, -1])  # by the prefix
    left = room - used
    near = (left <= tol) & (used > 0.0)  # the prefix's last candidate only just fitted
    rows = np.flatnonzero(refused)
    if rows.size == 0:
        return admitted, near
    start = int(first[rows].min())  # nothing is undecided before the earliest first refusal
    if 2 * rows.size < r_count:  # work on the rows with jumps left only, from that column on
        s, undecided, left = size[rows, start:], undecided[rows, start:], left[rows]
    else:  # most rows: skip the row copies (the others have nothing undecided)
        rows = np.arange(r_count)
        s, undecided = size[:, start:], undecided[:, start:]
    positions = np.arange(start, length)
    while rows.size:
        # the first candidate that may fit: a surer fit, or a near tie; every one before it surely does not
        maybe = undecided & (s <= (left + tol)[:, None])
        first = maybe.argmax(axis=1)
        at = np.arange(rows.size)
        s_first = s[at, first]
        found = maybe[at, first]
        if not found.any():
            break
        near[rows] |= found & (s_first > left - tol)
        admitted[rows[found], start + first[found]] = True
        left = left - np.where(found, s_first, 0.0)
        undecided = maybe & (positions > (start + first)[:, None])  # nothing left where nothing was found
        if 2 * np.count_nonzero(found) < rows.size:
            keep = np.flatnonzero(found)
            rows, s, undecided, left = rows[keep], s[keep], undecided[keep], left[keep]
    return admitted, near


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


__all__ = ["decode", "decode_batch"]
