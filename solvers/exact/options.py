"""What the exact per-slot models share: the *options* of each task of one slot (docs/exact.md, section 1;
docs/model.md, sections 4-6).

An option is one way to serve a task: a site (its own gateway or the edge) and a model level (light
0, heavy 1). Not serving the task at all is the implicit option ``none``. For an option everything
but the shares is a constant of the slot and its start cache:

- the accuracy it earns (eq. 10) and the task's deadline Tmax;
- the model fetch time F (eq. 5 at a gateway, [D5] at the edge), 0 when the model is resident;
- its *legs*, the pooled resources it draws on, each with a *work*: the time the leg takes at a
  full share, so that ``share = work / time``:
    upload (every served task [D4]): pool = band of gateway g(j), work D / (B_g * gamma_j)   (eqs. 2-3)
    hop (edge options only):         pool = BS band,              work D / (B_e * gamma_e)   (eq. 4)
    compute:                         pool = compute of the site,  work Q / C                 (eq. 6)
- whether choosing it places its model at the site (C6, [D6]) and the bits that takes.

A choice of options with time budgets (t_upload, t_hop, t_compute) meets the deadline (C1, eqs. 7-8)
iff ``t_upload + t_hop + t_compute <= Tmax`` and ``F + t_compute <= Tmax``: the two linear-in-time
constraints that ``max(arrival, F) + compute <= Tmax`` splits into.

Pools are numbered as everywhere (:class:`tadp.physics.Pools`): the P = 2G + 2 share pools first;
an option's cache is named by its cache node 0..G (the G gateway caches, then the edge cache). Every
time comes from :mod:`tadp.physics`. Options that can never complete are left out (see
:func:`slot_options`), which is exact: an optimum never serves a task it does not complete (docs/model.md,
section 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tadp.decision import SITE_EDGE, SITE_GATEWAY, Decision
from tadp.instance import Cache, Instance
from tadp.physics import Pools, completion_delay, compute_seconds, fetch_times, hop_seconds, share_for, upload_seconds

#: Leg columns of :attr:`SlotOptions.work` and :attr:`SlotOptions.pool`.
UPLOAD, HOP, COMPUTE = 0, 1, 2


@dataclass(frozen=True, eq=False)
class SlotOptions:
    """The options of every task of one slot, as parallel arrays over options (length M)."""

    n_tasks: int
    n_gateways: int
    task: np.ndarray  # (M,) task (device) index j
    site: np.ndarray  # (M,) SITE_GATEWAY or SITE_EDGE
    level: np.ndarray  # (M,) 0 light, 1 heavy
    accuracy: np.ndarray  # (M,) U_j of the option, eq. (10)
    deadline: np.ndarray  # (M,) Tmax of the task, s
    fetch: np.ndarray  # (M,) model fetch time F, s (eq. 5 / [D5]); 0 when resident
    work: np.ndarray  # (M, 3) seconds at a full share per leg (upload, hop, compute); hop 0 at a gateway
    pool: np.ndarray  # (M, 3) pool index per leg, -1 where the option has no such leg
    places: np.ndarray  # (M,) bool: choosing the option places its model at the site (C6)
    model_bits: np.ndarray  # (M,) model size S, bits
    cache_pool: np.ndarray  # (M,) cache node: 0..G-1 the gateway's cache, G the edge cache (Pools.cache_node)
    cache_free: np.ndarray  # (G + 1,) bits free at the slot start (capacity minus resident models)
    dropped: dict[str, int]  # how many (task, site, level) pairs were left out, by reason

    @property
    def n_options(self) -> int:
        return int(self.task.shape[0])

    @property
    def pools(self) -> Pools:
        return Pools(self.n_gateways)

    @property
    def n_pools(self) -> int:
        """Share pools (C4, C5): :attr:`tadp.physics.Pools.n_share`."""
        return 2 * self.n_gateways + 2

    def options_of(self, j: int) -> np.ndarray:
        """Indices of task j's options."""
        return np.flatnonzero(self.task == j)

    def value(self, chosen: np.ndarray) -> float:
        """Slot score J (eq. 11) of a choice of options (indices, one per served task)."""
        return float(self.accuracy[np.asarray(chosen, int)].sum() / self.n_tasks)

    def cache_fits(self, chosen: np.ndarray) -> bool:
        """C6: the models the chosen options place fit the free cache of every node."""
        chosen = np.asarray(chosen, int)
        placing = chosen[self.places[chosen]]
        used = np.bincount(self.cache_pool[placing], weights=self.model_bits[placing], minlength=self.n_gateways + 1)
        return bool((used <= self.cache_free).all())

    def leg_time_bounds(self) -> np.ndarray:
        """(M, 3) longest time each leg may take: the deadline less the other legs at full shares (and
        the fetch, for compute)."""
        w, t = self.work, self.deadline
        return np.stack([t - w[:, HOP] - w[:, COMPUTE], t - w[:, UPLOAD] - w[:, COMPUTE],
                         np.minimum(t - self.fetch, t - w[:, UPLOAD] - w[:, HOP])], axis=1)

    def minimal_loads(self, chosen: np.ndarray) -> np.ndarray:
        """(P,) pool loads if every chosen leg got its longest possible time: a lower bound on the loads."""
        chosen = np.asarray(chosen, int)
        legs = self.pool[chosen] >= 0
        low = self.work[chosen] / self.leg_time_bounds()[chosen]
        return np.bincount(self.pool[chosen][legs], weights=low[legs], minlength=self.n_pools)

    def decision(self, chosen: np.ndarray, times: np.ndarray) -> Decision:
        """The decision serving ``chosen`` (option indices) with leg times ``times`` (len(chosen), 3).

        Shares are work / time (the hop share of a gateway option is 0); keep flags are all off
        (the caller applies its keep rule, C7).
        """
        chosen = np.asarray(chosen, int)
        times = np.asarray(times, float).reshape(len(chosen), 3)
        d = Decision.drop_all(self.n_tasks)
        if len(chosen) == 0:
            return d
        j = self.task[chosen]
        if len(np.unique(j)) != len(j):
            raise ValueError("two options of the same task chosen")
        shares = np.where(self.pool[chosen] >= 0, share_for(self.work[chosen], times), 0.0)
        d.site[j] = self.site[chosen]
        d.level[j] = self.level[chosen]
        d.uplink_share[j] = shares[:, UPLOAD]
        d.bs_share[j] = shares[:, HOP]
        d.compute_share[j] = shares[:, COMPUTE]
        return d


def slot_options(inst: Instance, slot: int, cache: Cache) -> SlotOptions:
    """All options of slot ``slot`` from start cache ``cache``, impossible ones left out.

    Left out (each exact): an option whose fetch exceeds the deadline (its model is never placed
    and the task cannot complete, [D6]); one that misses the deadline even with every share at 1
    (``max(upload + hop, F) + compute > Tmax``); one whose model does not fit the cache free at the
    slot start (eviction happens only at slot ends, C7).
    """
    if not 0 <= slot < inst.n_slots:
        raise ValueError(f"slot {slot} out of range 0..{inst.n_slots - 1}")
    overflow = inst.cache_overflows(cache)
    if overflow:
        raise ValueError("start cache overflows: " + "; ".join(overflow))
    n, g_count = inst.n_devices, inst.n_gateways
    pools = Pools(g_count)
    gw = inst.device_gateway
    data, deadline, noisy = inst.data[slot], inst.deadline[slot], inst.noisy[slot]
    upload_work = upload_seconds(inst, data)
    hop_work = hop_seconds(inst, data)
    gateway_fetch, edge_fetch = fetch_times(inst, cache.gateway, cache.edge)
    compute_at_gateway, compute_at_edge = compute_seconds(inst)
    gw_load, edge_load = inst.cache_load(cache.gateway, cache.edge)
    cache_free = np.append(inst.gateway_cache - gw_load, inst.edge_cache - edge_load)

    rows: list[tuple] = []
    dropped = {"fetch_after_deadline": 0, "too_slow_alone": 0, "model_does_not_fit": 0}
    for j in range(n):
        g = int(gw[j])
        for site in (SITE_GATEWAY, SITE_EDGE):
            for level in (0, 1):
                size = float(inst.model_size[j, level])
                if site == SITE_GATEWAY:
                    resident = bool(cache.gateway[j, level])
                    fetch = float(gateway_fetch[j, level])
                    hop = 0.0
                    compute = float(compute_at_gateway[j, level])
                    legs = (int(pools.band[g]), -1, int(pools.compute[g]))
                    cache_pool = g
                else:
                    resident = bool(cache.edge[j, level])
                    fetch = float(edge_fetch[j, level])
                    hop = float(hop_work[j])
                    compute = float(compute_at_edge[j, level])
                    legs = (int(pools.band[g]), pools.bs, pools.edge_compute)
                    cache_pool = pools.edge_node
                # planners plan against Tmax itself (tadp.physics: DEADLINE_TOL only absorbs rounding)
                t_max = float(deadline[j])
                if fetch > t_max:
                    dropped["fetch_after_deadline"] += 1
                    continue
                if completion_delay(upload_work[j] + hop, fetch, compute) > t_max:
                    dropped["too_slow_alone"] += 1
                    continue
                if not resident and size > cache_free[cache_pool]:
                    dropped["model_does_not_fit"] += 1
                    continue
                rows.append((j, site, level, float(inst.accuracy[j, noisy[j], level]), t_max, fetch,
                             (float(upload_work[j]), hop, compute), legs, not resident, size, cache_pool))

    m = len(rows)
    col = list(zip(*rows, strict=True)) if rows else [()] * 11
    return SlotOptions(
        n_tasks=n,
        n_gateways=g_count,
        task=np.array(col[0], np.int64).reshape(m),
        site=np.array(col[1], np.int8).reshape(m),
        level=np.array(col[2], np.int8).reshape(m),
        accuracy=np.array(col[3], float).reshape(m),
        deadline=np.array(col[4], float).reshape(m),
        fetch=np.array(col[5], float).reshape(m),
        work=np.array(col[6], float).reshape(m, 3),
        pool=np.array(col[7], np.int64).reshape(m, 3),
        places=np.array(col[8], bool).reshape(m),
        model_bits=np.array(col[9], float).reshape(m),
        cache_pool=np.array(col[10], np.int64).reshape(m),
        cache_free=cache_free,
        dropped=dropped,
    )


def trivial_bound(opts: SlotOptions) -> float:
    """A valid upper bound on the slot optimum: every task earns its best option's accuracy."""
    best = np.zeros(opts.n_tasks)
    np.maximum.at(best, opts.task, opts.accuracy)
    return float(best.sum() / opts.n_tasks)
