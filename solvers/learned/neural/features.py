"""The tokens the neural policy reads (docs/neural.md, "Tokens"): one per task, per gateway and for the edge.

Every number is relative, so that one set of weights serves any size: a share is given as a multiple
of the task's *fair share* of the pool (share x K_g for a gateway pool of K_g devices, share x N for
the BS band and the edge compute, which all N devices share), a model size as a multiple of its fair
share of a cache, a time as a fraction of the task's deadline. Under the generator's density scaling
([D8], docs/model.md, section 8) these numbers have the same range at every size. Every time comes
from :mod:`tadp.physics`, every sized share from :mod:`tadp.sizing`.

Task token (:data:`TASK_FEATURES` numbers): deadline, data size, data quality; the accuracy of each of
the four options (:data:`tadp.sizing.OPTIONS`); the four cache flags; each option's fetch time; each
option's deadline-sized shares at equal prices and its minimum shares (each leg at its longest time,
the other legs at full share), per leg (uplink, BS band, compute); whether the option can complete at
all (alone, in an empty slot, with room for its model); the bits it would place, relative to its fair
share of the cache; the relative size of its gateway.
Gateway token: its relative size, free and used cache fractions. Edge token: free and used cache
fractions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tadp.instance import Cache, Instance
from tadp.physics import SIZING_MARGIN, compute_seconds, fetch_times, hop_seconds, upload_seconds
from tadp.sizing import option_shares

TASK_FEATURES = 48
GATEWAY_FEATURES = 3
EDGE_FEATURES = 2
#: Shares and sizes as multiples of a fair share are clipped to this (an option that needs more is
#: hopeless anyway); they then enter as log(1 + x).
_CLIP = 50.0


@dataclass(frozen=True, eq=False)
class SlotFeatures:
    """The tokens of one slot state, float32, and what decoding needs besides."""

    task: np.ndarray  # (N, TASK_FEATURES)
    gateway: np.ndarray  # (G, GATEWAY_FEATURES)
    edge: np.ndarray  # (1, EDGE_FEATURES)
    device_gateway: np.ndarray  # (N,) gateway index of each task
    possible: np.ndarray  # (N, 4) bool: the option can complete alone (an option that cannot is masked)

    @property
    def key(self) -> tuple[int, ...]:
        """Slots with equal keys batch together (same tasks per gateway)."""
        return tuple(np.bincount(self.device_gateway, minlength=self.gateway.shape[0]).tolist())


def _scaled(x: np.ndarray) -> np.ndarray:
    """log(1 + x) of x clipped into [0, _CLIP] (NaN and inf count as _CLIP)."""
    return np.log1p(np.maximum(np.fmin(x, _CLIP), 0.0))


def _min_shares(budget: np.ndarray, up: np.ndarray, hop: np.ndarray, work: np.ndarray, fetch: np.ndarray,
                at_edge: bool) -> np.ndarray:
    """(N, 3) the least share of each leg, the other legs at a full share (inf where none meets the deadline)."""
    hop = hop if at_edge else np.zeros_like(up)
    with np.errstate(divide="ignore", invalid="ignore"):
        room_up = budget - work - hop
        room_hop = budget - work - up
        room_compute = budget - np.maximum(up + hop, fetch)
        out = np.stack([up / room_up, np.where(at_edge, hop / room_hop, 0.0), work / room_compute], axis=-1)
    bad = (room_up <= 0) | (room_compute <= 0) | (at_edge & (room_hop <= 0))
    out[bad] = np.inf
    return out


def slot_features(inst: Instance, data: np.ndarray, deadline: np.ndarray, noisy: np.ndarray,
                  cache: Cache) -> SlotFeatures:
    """The tokens of the slot with tasks ``data``, ``deadline``, ``noisy`` (N,) from start cache ``cache``."""
    n, g_count = inst.n_devices, inst.n_gateways
    gw = inst.device_gateway
    per_gateway = inst.devices_per_gateway.astype(float)
    k_g = per_gateway[gw]
    deadline = np.asarray(deadline, float)
    budget = deadline * (1.0 - SIZING_MARGIN)
    up, hop = upload_seconds(inst, data), hop_seconds(inst, data)
    compute_gw, compute_edge = compute_seconds(inst)
    fetch_gw, fetch_edge = fetch_times(inst, cache.gateway, cache.edge)
    gw_load, edge_load = inst.cache_load(cache.gateway, cache.edge)
    room_gw = inst.gateway_cache - gw_load
    room_edge = inst.edge_cache - edge_load
    accuracy = inst.accuracy[np.arange(n), np.asarray(noisy, int)]  # (N, 2) by level

    sized, _ = option_shares(inst, data, deadline, cache, 1.0, 1.0, 1.0, 1.0)  # (N, 4, 3)
    least = np.empty((n, 4, 3))
    fair = np.empty((n, 4, 3))  # each pool's fair share of a task: 1 / K_g at a gateway, 1 / N at the edge
    fair[:, :, 0] = k_g[:, None]
    fair[:, :, 1] = n
    fair[:, :2, 2] = k_g[:, None]
    fair[:, 2:, 2] = n
    fetch = np.concatenate([fetch_gw, fetch_edge], axis=1)  # (N, 4) in OPTIONS order
    resident = np.concatenate([cache.gateway, cache.edge], axis=1)
    bits = np.where(resident, 0.0, np.tile(inst.model_size, 2))
    room = np.concatenate([np.repeat(room_gw[gw][:, None], 2, 1), np.full((n, 2), room_edge)], axis=1)
    bits_scale = np.concatenate([np.repeat((k_g / inst.gateway_cache[gw])[:, None], 2, 1),
                                 np.full((n, 2), n / float(inst.edge_cache))], axis=1)
    for k, (at_edge, level) in enumerate(((False, 0), (False, 1), (True, 0), (True, 1))):
        work = compute_edge[:, level] if at_edge else compute_gw[:, level]
        least[:, k] = _min_shares(budget, up, hop, work, fetch[:, k], at_edge)
    possible = np.isfinite(least).all(axis=2) & (fetch < budget[:, None]) & (bits <= room)
    t = np.empty((n, TASK_FEATURES), np.float32)
    t[:, 0] = deadline / 1.75 - 1.0
    t[:, 1] = np.asarray(data, float) / 4e5 - 1.0
    t[:, 2] = noisy
    t[:, 3:7] = (np.tile(accuracy, 2) - 0.93) * 20.0
    t[:, 7:11] = resident
    t[:, 11:15] = fetch / deadline[:, None]
    t[:, 15:39] = _scaled(np.concatenate([sized * fair, least * fair], axis=1)).reshape(n, 24)
    t[:, 39:43] = possible
    t[:, 43:47] = _scaled(bits * bits_scale)
    t[:, 47] = k_g / (n / g_count)
    gateway = np.stack([per_gateway / (n / g_count), room_gw / inst.gateway_cache, gw_load / inst.gateway_cache],
                       axis=-1).astype(np.float32)
    edge = np.array([[room_edge / inst.edge_cache, edge_load / inst.edge_cache]], np.float32)
    return SlotFeatures(t, gateway, edge, gw.astype(np.int64), possible)


__all__ = ["EDGE_FEATURES", "GATEWAY_FEATURES", "TASK_FEATURES", "SlotFeatures", "slot_features"]
