"""Deadline-sized shares: the smallest shares that let a task meet its deadline, per option.

Shared by the ``fit`` decoder (:mod:`tadp.decoders.fit`) and the solvers' greedy heuristic. For every task and each of its four options (gateway or edge,
light or heavy), with the model's fetch time from the slot's start cache
(:func:`tadp.physics.fetch_times`; every time comes from :mod:`tadp.physics`):

* a gateway task with upload time u and fetch time f completes at max(u, f) + compute, so
  it gets the upload time u = max(u*, f) that minimises the priced sum of its two shares,
  ``p_band * a / u + p_compute * b / (T - u)`` with ``a = D / (B gamma)``, ``b = Q / C_l``:
  ``u* = T sqrt(p_band a) / (sqrt(p_band a) + sqrt(p_compute b))``;
* an edge task splits its arrival time s between the uplink and the BS link in the ratio
  sqrt(p_band a1) : sqrt(p_bs a2) and chooses s the same way against the edge compute.

Each option then has a demand vector over the pools (:class:`tadp.physics.Pools`: each
gateway's band and compute, the BS band, the edge compute, then each cache's room). Every
time budget is shrunk by the relative :data:`tadp.physics.SIZING_MARGIN`, so rounding never
turns a planned completion into a miss. The evaluator stays the only judge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE, Decision
from tadp.instance import Cache, Instance
from tadp.physics import SIZING_MARGIN, Pools, compute_seconds, fetch_times, hop_seconds, share_for, upload_seconds

#: Options in a fixed order: (site, level).
OPTIONS = ((SITE_GATEWAY, 0), (SITE_GATEWAY, 1), (SITE_EDGE, 0), (SITE_EDGE, 1))


@dataclass(eq=False)
class SizedOptions:
    """Every task's four options (:data:`OPTIONS`) with the smallest shares that meet its deadline."""

    demand: np.ndarray  # (N, 4, P) what each option draws on every pool (tadp.physics.Pools order)
    shares: np.ndarray  # (N, 4, 3) its uplink, BS and compute shares
    possible: np.ndarray  # (N, 4) bool: the option can meet the deadline at all (fetch and shares <= 1)


def option_demands(
    inst: Instance, data: np.ndarray, deadline: np.ndarray, cache: Cache, band_price: float, compute_price: float
) -> SizedOptions:
    """Per task and option (N, 4): the demand over the pools (N, 4, P), the shares that meet the
    deadline (N, 4, 3: uplink, BS, compute) and whether the option can meet it at all (N, 4)."""
    pools = Pools(inst.n_gateways)
    n = inst.n_devices
    gw = inst.device_gateway
    budget = np.asarray(deadline, float) * (1.0 - SIZING_MARGIN)
    gateway_fetch, edge_fetch = fetch_times(inst, cache.gateway, cache.edge)
    uplink_seconds = upload_seconds(inst, data)  # a: upload time at share 1
    bs_seconds = hop_seconds(inst, data)  # a2: BS hop at share 1
    compute_at_gateway, compute_at_edge = compute_seconds(inst)  # b: compute time at share 1, by level
    demand = np.zeros((n, 4, pools.size))
    shares = np.zeros((n, 4, 3))
    possible = np.zeros((n, 4), bool)
    rows = np.arange(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, (site, level) in enumerate(OPTIONS):
            size = inst.model_size[:, level]
            if site == SITE_GATEWAY:
                fetch = gateway_fetch[:, level]
                work = compute_at_gateway[:, level]
                sa, sb = np.sqrt(band_price * uplink_seconds), np.sqrt(compute_price * work)
                arrival = np.maximum(budget * sa / (sa + sb), fetch)
                uplink = share_for(uplink_seconds, arrival)
                bs = np.zeros(n)
                placing = ~cache.gateway[:, level]
                demand[rows, k, pools.cache[gw]] = np.where(placing, size, 0.0)
                demand[rows, k, pools.compute[gw]] = compute = share_for(work, budget - arrival)
            else:
                fetch = edge_fetch[:, level]
                work = compute_at_edge[:, level]
                s1, s2 = np.sqrt(band_price * uplink_seconds), np.sqrt(band_price * bs_seconds)
                sb = np.sqrt(compute_price * work)
                arrival = np.maximum(budget * (s1 + s2) / (s1 + s2 + sb), fetch)
                upload_time = arrival * s1 / (s1 + s2)
                uplink = share_for(uplink_seconds, upload_time)
                bs = share_for(bs_seconds, arrival - upload_time)
                placing = ~cache.edge[:, level]
                demand[:, k, pools.edge_cache] = np.where(placing, size, 0.0)
                demand[:, k, pools.bs] = bs
                demand[:, k, pools.edge_compute] = compute = share_for(work, budget - arrival)
            demand[rows, k, pools.band[gw]] = uplink
            shares[:, k] = np.stack([uplink, bs, compute], axis=-1)
            possible[:, k] = (fetch < budget) & (uplink <= 1.0) & (bs <= 1.0) & (compute > 0) & (compute <= 1.0)
    return SizedOptions(demand, shares, possible)


def pool_room(inst: Instance, cache: Cache) -> np.ndarray:
    """Room left in every pool (:class:`Pools` order) at the start of a slot: shares 1 each, cache
    room = capacity less the start cache's models (Step 1 of Algorithm 1)."""
    pools = Pools(inst.n_gateways)
    gateway_load, edge_load = inst.cache_load(cache.gateway, cache.edge)
    room = np.ones(pools.size)
    room[pools.cache] = inst.gateway_cache - gateway_load
    room[pools.edge_cache] = inst.edge_cache - edge_load
    return room


def decision_of_choice(inst: Instance, choice: np.ndarray, shares: np.ndarray) -> Decision:
    """The decision serving task j with option ``choice[j]`` (an :data:`OPTIONS` index; -1 drops it) at
    its sized ``shares`` (N, 4, 3), each pool then scaled up to fill it; keep flags all False."""
    decision = Decision.drop_all(inst.n_devices)
    choice = np.asarray(choice)
    idx = np.flatnonzero(choice >= 0)
    sites = np.array([site for site, _ in OPTIONS], dtype=decision.site.dtype)
    levels = np.array([level for _, level in OPTIONS], dtype=decision.level.dtype)
    decision.site[idx] = sites[choice[idx]]
    decision.level[idx] = levels[choice[idx]]
    picked = shares[idx, choice[idx]]  # (S, 3): uplink, bs, compute
    decision.uplink_share[idx], decision.bs_share[idx], decision.compute_share[idx] = picked.T
    fill_pools(inst, decision)
    return decision


def fill_pools(inst: Instance, decision: Decision) -> None:
    """Scale each pool's shares so that they sum to 1 (a task's delay only shrinks)."""
    m = inst.gateway_membership
    served = decision.site != SITE_NONE
    at_gateway = decision.site == SITE_GATEWAY
    at_edge = decision.site == SITE_EDGE

    def fill(share: np.ndarray, members: np.ndarray, per_gateway: bool) -> np.ndarray:
        s = np.where(members, share, 0.0)
        load = (s @ m) @ m.T if per_gateway else np.full(s.shape, s.sum())
        return np.where(members & (load > 0), s / np.where(load > 0, load, 1.0), 0.0)

    decision.uplink_share = fill(decision.uplink_share, served, True)
    decision.bs_share = fill(decision.bs_share, at_edge, False)
    decision.compute_share = np.where(at_gateway, fill(decision.compute_share, at_gateway, True),
                                      fill(decision.compute_share, at_edge, False))
