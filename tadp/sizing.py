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

import numba
import numpy as np

from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE, Decision
from tadp.instance import Cache, Instance
from tadp.physics import SIZING_MARGIN, Pools, compute_seconds, fetch_times, hop_seconds, share_for, upload_seconds

#: Options in a fixed order: (site, level).
OPTIONS = ((SITE_GATEWAY, 0), (SITE_GATEWAY, 1), (SITE_EDGE, 0), (SITE_EDGE, 1))


def _gateway_split(budget: np.ndarray, fetch: np.ndarray, work: np.ndarray, uplink_seconds: np.ndarray,
                   band_price: np.ndarray | float, compute_price: np.ndarray | float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uplink and compute shares of gateway options (module docstring), and their arrival times."""
    sa, sb = np.sqrt(band_price * uplink_seconds), np.sqrt(compute_price * work)
    arrival = np.maximum(budget * sa / (sa + sb), fetch)
    return share_for(uplink_seconds, arrival), share_for(work, budget - arrival), arrival


def _edge_split(budget: np.ndarray, fetch: np.ndarray, work: np.ndarray, uplink_seconds: np.ndarray,
                bs_seconds: np.ndarray, band_price: np.ndarray | float, bs_price: np.ndarray | float,
                compute_price: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uplink, BS and compute shares of edge options (module docstring)."""
    s1, s2 = np.sqrt(band_price * uplink_seconds), np.sqrt(bs_price * bs_seconds)
    sb = np.sqrt(compute_price * work)
    arrival = np.maximum(budget * (s1 + s2) / (s1 + s2 + sb), fetch)
    upload_time = arrival * s1 / (s1 + s2)
    return (share_for(uplink_seconds, upload_time), share_for(bs_seconds, arrival - upload_time),
            share_for(work, budget - arrival))


def _within_pools(fetch: np.ndarray, budget: np.ndarray, uplink: np.ndarray, bs: np.ndarray,
                  compute: np.ndarray) -> np.ndarray:
    """The sized shares meet the deadline with every share in (0, 1]."""
    return (fetch < budget) & (uplink <= 1.0) & (bs <= 1.0) & (compute > 0) & (compute <= 1.0)


@dataclass(frozen=True, eq=False)
class TaskTimes:
    """What sizing needs of one slot's tasks from a start cache, in :data:`OPTIONS` order: computed once,
    priced many times."""

    budget: np.ndarray  # (N,) Tmax shrunk by SIZING_MARGIN, s
    fetch: np.ndarray  # (N, 4) model fetch time of each option (eq. 5, [D5]), s
    work: np.ndarray  # (N, 4) compute time of each option at a full share (eq. 6), s
    uplink_seconds: np.ndarray  # (N,) upload at a full share (eqs. 2-3), s
    bs_seconds: np.ndarray  # (N,) gateway -> BS hop at a full share (eq. 4), s


def task_times(inst: Instance, data: np.ndarray, deadline: np.ndarray, cache: Cache) -> TaskTimes:
    """The :class:`TaskTimes` of tasks ``data``, ``deadline`` (N,) from ``cache`` (times from :mod:`tadp.physics`)."""
    gateway_fetch, edge_fetch = fetch_times(inst, cache.gateway, cache.edge)
    compute_at_gateway, compute_at_edge = compute_seconds(inst)
    return TaskTimes(np.asarray(deadline, float) * (1.0 - SIZING_MARGIN),
                     np.concatenate([gateway_fetch, edge_fetch], axis=1),
                     np.concatenate([compute_at_gateway, compute_at_edge], axis=1),
                     upload_seconds(inst, data), hop_seconds(inst, data))


def option_shares(
    inst: Instance, data: np.ndarray, deadline: np.ndarray, cache: Cache, band_price: np.ndarray | float,
    bs_price: np.ndarray | float, gateway_compute_price: np.ndarray | float, edge_compute_price: np.ndarray | float,
    times: TaskTimes | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per task and option, the deadline-sized shares (..., N, 4, 3: uplink, BS, compute) and whether they
    meet the deadline within every pool (..., N, 4), at the given prices of each task's pools.

    Each price is a number or an array broadcastable to (..., N): the price of the task's gateway band,
    of the BS band, of its gateway's compute and of the edge compute (module docstring). A leading
    batch of price settings gives a batch of sizings. ``times`` may be given if already computed."""
    n = inst.n_devices
    t = task_times(inst, data, deadline, cache) if times is None else times
    lead = np.broadcast_shapes(*(np.shape(p) for p in (band_price, bs_price, gateway_compute_price,
                                                        edge_compute_price)), (n,))[:-1]
    shares = np.zeros(lead + (n, 4, 3))
    possible = np.zeros(lead + (n, 4), bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, (site, _) in enumerate(OPTIONS):
            if site == SITE_GATEWAY:
                uplink, compute, _ = _gateway_split(t.budget, t.fetch[:, k], t.work[:, k], t.uplink_seconds,
                                                    band_price, gateway_compute_price)
                bs = np.zeros(n)
            else:
                uplink, bs, compute = _edge_split(t.budget, t.fetch[:, k], t.work[:, k], t.uplink_seconds,
                                                  t.bs_seconds, band_price, bs_price, edge_compute_price)
            shares[..., k, 0], shares[..., k, 1], shares[..., k, 2] = uplink, bs, compute
            possible[..., k] = _within_pools(t.fetch[:, k], t.budget, uplink, bs, compute)
    return shares, possible


@numba.njit(error_model="numpy", cache=True)
def chosen_task_shares(budget: float, fetch: float, work: float, up: float, hop: float, at_edge: bool,
                       root_band: float, root_bs: float, root_compute: float) -> tuple[float, float, float]:
    """Uplink, BS and compute shares of one task with one option (module docstring; one expression for
    both sites: a gateway option is an edge option without a BS leg), from its :class:`TaskTimes` entries
    and the square roots of its pools' prices. Compiled (numba), so that a decoder's loops call it per
    task; division by zero gives inf or nan, as in numpy."""
    s1 = root_band * np.sqrt(up)
    s2 = root_bs * np.sqrt(hop) if at_edge else 0.0
    sb = root_compute * np.sqrt(work)
    arrival = budget * (s1 + s2) / (s1 + s2 + sb)
    if not arrival >= fetch:  # np.maximum: a nan stays nan
        arrival = fetch if arrival == arrival else arrival
    upload_time = arrival * s1 / (s1 + s2)
    bs = hop / (arrival - upload_time) if at_edge else 0.0
    return up / upload_time, bs, work / (budget - arrival)


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
    deadline (N, 4, 3: uplink, BS, compute) and whether the option can meet it at all (N, 4).

    One band price for the gateway bands and the BS band, one compute price for every compute pool."""
    pools = Pools(inst.n_gateways)
    n = inst.n_devices
    gw = inst.device_gateway
    shares, possible = option_shares(inst, data, deadline, cache, band_price, band_price, compute_price, compute_price)
    demand = np.zeros((n, 4, pools.size))
    rows = np.arange(n)
    for k, (site, level) in enumerate(OPTIONS):
        size = inst.model_size[:, level]
        if site == SITE_GATEWAY:
            demand[rows, k, pools.cache[gw]] = np.where(~cache.gateway[:, level], size, 0.0)
            demand[rows, k, pools.compute[gw]] = shares[:, k, 2]
        else:
            demand[:, k, pools.edge_cache] = np.where(~cache.edge[:, level], size, 0.0)
            demand[:, k, pools.bs] = shares[:, k, 1]
            demand[:, k, pools.edge_compute] = shares[:, k, 2]
        demand[rows, k, pools.band[gw]] = shares[:, k, 0]
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
    """Scale each pool's shares so that they sum to 1 (a task's delay only shrinks). The decision's arrays
    may carry a leading batch axis ((..., N): several decisions of one slot at once)."""
    m = inst.gateway_membership
    served = decision.site != SITE_NONE
    at_gateway = decision.site == SITE_GATEWAY
    at_edge = decision.site == SITE_EDGE

    def fill(share: np.ndarray, members: np.ndarray, per_gateway: bool) -> np.ndarray:
        s = np.where(members, share, 0.0)
        load = (s @ m) @ m.T if per_gateway else np.broadcast_to(s.sum(axis=-1, keepdims=True), s.shape)
        return np.where(members & (load > 0), s / np.where(load > 0, load, 1.0), 0.0)

    decision.uplink_share = fill(decision.uplink_share, served, True)
    decision.bs_share = fill(decision.bs_share, at_edge, False)
    decision.compute_share = np.where(at_gateway, fill(decision.compute_share, at_gateway, True),
                                      fill(decision.compute_share, at_edge, False))
