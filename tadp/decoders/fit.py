"""The ``fit`` decoder: the same action (eq. 13) turned into a decision whose shares are sized
to the deadlines. An option of this project, not the paper's DCPU (:mod:`tadp.decoders.dcpu`).

Why: with DCPU, a task's shares are its weights over the pool's sum, so a task completes
only if the actor gets the ratios of many weights right at once; a learner that misses
them drops or delays tasks, and each such task costs about 17 times a light-instead-of-heavy
choice. This decoder keeps the actor in charge of every discrete choice (site, level,
which tasks go first, the keep flags) and sizes the shares itself, so the actor's
landscape is one of choices rather than of share ratios. Reports name it
(``td3`` with ``decoder=fit`` is shown as ``td3-fit``), so it is never confused with the
paper's scheme.

For one slot, with the action's fields in :data:`tadp.decoders.action.ACTION_FIELDS` order:

1. site = gateway if its field >= 0 else edge; level = heavy if >= 0; each keep flag = 1
   if >= 0 (a NaN field counts as < 0), exactly as DCPU.
2. **Priority**: the mean of the task's four weight fields (uplink, bs, compute_gateway,
   compute_edge; NaN counts as -1). Tasks are taken in decreasing priority, ties by device
   index.
3. **Admission**: each task in turn is given the first option, in the order (its chosen
   option; the light model at the same site, when it chose heavy; the chosen level at the
   other site; the light model at the other site), whose deadline-sized demand
   (:func:`tadp.sizing.option_demands`, band and compute priced alike) fits the room left
   in every pool it draws on: its gateway's band, its gateway's compute or the BS band and
   edge compute, and the cache room of its site (the capacity less the start cache, Step 1
   of Algorithm 1, less the placements admitted so far) when its model is not resident.
   A task no option fits is dropped (site ``none``).
4. **Shares**: the admitted demands, each pool scaled up to fill it
   (:func:`tadp.sizing.fill_pools`): every admitted task only gets faster.

The output is deterministic and always feasible (pools sum to 1, caches within capacity,
placements only where the fetch fits the deadline), and every admitted task completes;
the evaluator judges it all the same.
"""

from __future__ import annotations

import numpy as np

from tadp.decision import SITE_NONE, Decision
from tadp.decoders.action import FIELD_INDEX, FIELDS_PER_TASK, DecodedBatch
from tadp.instance import Cache, Instance
from tadp.physics import Pools
from tadp.sizing import decision_of_choice, option_demands, pool_room

#: The action fields of a task's priority (its four weights) and of its keep flags, as slices.
_WEIGHTS = slice(FIELD_INDEX["uplink"], FIELD_INDEX["compute_edge"] + 1)
_KEEP_GATEWAY = slice(FIELD_INDEX["keep_gateway_light"], FIELD_INDEX["keep_gateway_heavy"] + 1)
_KEEP_EDGE = slice(FIELD_INDEX["keep_edge_light"], FIELD_INDEX["keep_edge_heavy"] + 1)
#: Option index (tadp.sizing.OPTIONS) of (gateway?, heavy?).
_OPTION = {(True, False): 0, (True, True): 1, (False, False): 2, (False, True): 3}


def _fallbacks(at_gateway: bool, heavy: bool) -> tuple[int, ...]:
    """Options tried for a task that chose (site, level), in order (module docstring, step 3)."""
    order = [(at_gateway, heavy), (at_gateway, False), (not at_gateway, heavy), (not at_gateway, False)]
    out: list[int] = []
    for key in order:
        k = _OPTION[key]
        if k not in out:
            out.append(k)
    return tuple(out)


_FALLBACKS = {key: _fallbacks(*key) for key in _OPTION}


def decode_fit(inst: Instance, action: np.ndarray, cache: Cache, data: np.ndarray, deadline: np.ndarray) -> Decision:
    """One slot's action (10N,) to a decision (module docstring), for tasks ``data``, ``deadline`` (N,)."""
    return _decode(inst, action, cache, data, deadline)[0]


def _decode(inst: Instance, action: np.ndarray, cache: Cache, data: np.ndarray,
            deadline: np.ndarray) -> tuple[Decision, np.ndarray]:
    """The decision and, per task, whether any option could meet its deadline at all."""
    n = inst.n_devices
    a = np.asarray(action, float)
    if a.shape != (FIELDS_PER_TASK * n,):
        raise ValueError(f"action: expected shape ({FIELDS_PER_TASK * n},), got {a.shape}")
    a = a.reshape(n, FIELDS_PER_TASK)
    fields = np.where(np.isnan(a), -1.0, np.clip(a, -1.0, 1.0))
    at_gateway = fields[:, FIELD_INDEX["site"]] >= 0
    heavy = fields[:, FIELD_INDEX["level"]] >= 0
    priority = fields[:, _WEIGHTS].mean(axis=1)
    order = np.argsort(-priority, kind="stable")

    pools = Pools(inst.n_gateways)
    sized = option_demands(inst, data, deadline, cache, 1.0, 1.0)
    demand, shares, possible = sized.demand, sized.shares, sized.possible
    room_list = pool_room(inst, cache).tolist()
    # the pools each (task, option) draws on, as Python lists (the admission loop is scalar)
    gw = inst.device_gateway
    touched = np.empty((n, 4, 3), int)
    touched[:, :, 0] = pools.band[gw][:, None]
    touched[:, 0:2, 1] = pools.compute[gw][:, None]
    touched[:, 0:2, 2] = pools.cache[gw][:, None]
    touched[:, 2:4, 1] = pools.edge_compute
    touched[:, 2:4, 2] = pools.edge_cache
    bs = pools.bs
    amounts = np.take_along_axis(demand, touched, axis=2).tolist()
    bs_amount = demand[:, :, bs].tolist()
    touched_list = touched.tolist()
    possible_list = possible.tolist()

    choice = [-1] * n
    for j in order.tolist():
        for k in _FALLBACKS[(bool(at_gateway[j]), bool(heavy[j]))]:
            if not possible_list[j][k]:
                continue
            idx, amt = touched_list[j][k], amounts[j][k]
            # shares: a tiny slack (they are renormalised); cache room: exact, as the evaluator counts it
            if (amt[0] > room_list[idx[0]] + 1e-12 or amt[1] > room_list[idx[1]] + 1e-12
                    or amt[2] > room_list[idx[2]]):
                continue
            if k >= 2 and bs_amount[j][k] > room_list[bs] + 1e-12:
                continue
            for p, x in zip(idx, amt, strict=True):
                room_list[p] -= x
            if k >= 2:
                room_list[bs] -= bs_amount[j][k]
            choice[j] = k
            break

    decision = decision_of_choice(inst, np.asarray(choice), shares)
    decision.keep_gateway = fields[:, _KEEP_GATEWAY] >= 0
    decision.keep_edge = fields[:, _KEEP_EDGE] >= 0
    return decision, possible.any(axis=1)


def decode_fit_batch(
    inst: Instance,
    actions: np.ndarray,
    cache_gateway: np.ndarray,
    cache_edge: np.ndarray,
    data: np.ndarray,
    deadline: np.ndarray,
) -> DecodedBatch:
    """:func:`decode_fit` row by row for B actions (B, 10N), caches (B, N, 2), tasks (B, N).

    ``dropped_fetch`` marks tasks with no option able to meet the deadline at all (fetch or
    shares), ``dropped_cache`` those dropped for lack of room in a pool or cache."""
    rows, can = [], []
    for b in range(actions.shape[0]):
        cache = Cache(gateway=np.asarray(cache_gateway[b], bool), edge=np.asarray(cache_edge[b], bool))
        decision, possible_any = _decode(inst, actions[b], cache, data[b], deadline[b])
        rows.append(decision)
        can.append(possible_any)
    possible_any = np.stack(can)
    site = np.stack([d.site for d in rows])
    dropped = site == SITE_NONE
    return DecodedBatch(
        site=site,
        level=np.stack([d.level for d in rows]),
        uplink_share=np.stack([d.uplink_share for d in rows]),
        bs_share=np.stack([d.bs_share for d in rows]),
        compute_share=np.stack([d.compute_share for d in rows]),
        keep_gateway=np.stack([d.keep_gateway for d in rows]),
        keep_edge=np.stack([d.keep_edge for d in rows]),
        dropped_fetch=dropped & ~possible_any,
        dropped_cache=dropped & possible_any,
    )
