"""The physics of a slot: the only code that turns rates into times (docs/model.md, sections 4-5).

Everything that makes a delay lives here, once, and every other module calls it: the evaluator
(which judges by it), the decoders, the share sizing of the greedy and the ``fit`` decoder, and
the exact models of one slot and of a horizon.

- **Times at a full share** (share 1 of the pool): upload to the gateway ``D / (B_g gamma_j)``
  (eqs. 2-3), the gateway->BS hop ``D / (B_e gamma_e_g)`` (eq. 4), compute ``Q / C`` at the
  task's site (eq. 6). A task given a share ``a`` of a pool takes ``full / a``
  (:func:`link_seconds`, :func:`share_for`).
- **Model fetch times** from a start cache (eq. 5 at a gateway, [D5] at the edge):
  :func:`fetch_times`.
- **The completion delay** (eqs. 7-8): the data and the model travel in parallel, computing
  starts when both are there: :func:`completion_delay`.
- **The deadline rule** (C1, and C6's placement rule [D6]) and **every tolerance**, each with
  the reason it exists: :data:`DEADLINE_TOL`, :data:`SHARE_TOL`, :data:`CACHE_TOL`,
  :data:`SCHEDULE_MARGIN`, :data:`SIZING_MARGIN`.
- **One numbering of the pools** a task draws on: :class:`Pools`.

Arithmetic is written once and in one order, so that a decoder that predicts a placement with
:func:`fetch_times` and :func:`within_deadline` agrees with the evaluator to the last bit.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the instance module imports the tolerances from here
    from tadp.instance import Instance

# ----------------------------------------------------------------------------- tolerances
#: C1 and C6 ([D6]): a task completes iff ``delay <= Tmax + DEADLINE_TOL`` s, and a missing model
#: is placed iff ``fetch <= Tmax + DEADLINE_TOL`` s. Why: the evaluator recomputes every delay in
#: its own order of floating-point operations; a planner's exact deadline (a schedule built to end
#: at Tmax) must not become a miss by one rounding. It is far below any physical time (1 ns), so
#: no decision can profit from it; planners plan against Tmax itself (see the margins below).
DEADLINE_TOL = 1e-9
#: C4, C5: each share lies in [-SHARE_TOL, 1 + SHARE_TOL] and each pool's shares sum to at most
#: ``1 + SHARE_TOL`` (absolute). Why: shares computed as work / time and summed in any order
#: carry rounding errors of about 1e-16 per term; 1e-9 absorbs them for thousands of tasks, and is
#: far tighter than a MIP solver's feasibility tolerance (about 1e-7), which is why exact solvers
#: recompute shares exactly instead of taking the MIP's.
SHARE_TOL = 1e-9
#: C6: the bits resident at a node must not exceed its capacity times ``1 + CACHE_TOL``
#: (relative). Why: the load is a sum of model sizes in bits (1e7-1e8 each) against capacities
#: of 1e9-1e10 bits, summed in different orders by different parts.
CACHE_TOL = 1e-9
#: Exact solvers shrink every leg time of a certified schedule by this relative margin before
#: they return shares (``share = full / (time * (1 - SCHEDULE_MARGIN))``). Why: the schedule
#: meets Tmax exactly; after the shrink it meets it with room for the evaluator's rounding, at a
#: cost of at most 1e-9 of a pool, so the solver's objective and the evaluator's score agree
#: (docs/model.md, section 5b). The oracle certifies an assignment feasible only if its loads leave this room.
SCHEDULE_MARGIN = 1e-9
#: Deadline-sized shares (the greedy, the ``fit`` decoder) plan every task to end by
#: ``Tmax * (1 - SIZING_MARGIN)``. Why: their closed-form shares go through square roots and
#: chains of divisions, and a planned completion must never become a miss; the margin is large
#: against rounding and small against every time in the model (1 us of a 1.5-2 s deadline).
SIZING_MARGIN = 1e-6


def within_deadline(seconds: np.ndarray | float, deadline: np.ndarray | float) -> np.ndarray | bool:
    """The deadline rule of C1 (completion) and of [D6] (placement): ``seconds <= Tmax + DEADLINE_TOL``.

    NaN is never within the deadline."""
    return seconds <= deadline + DEADLINE_TOL


def fits_capacity(load: np.ndarray | float, capacity: np.ndarray | float) -> np.ndarray | bool:
    """C6: ``load <= capacity * (1 + CACHE_TOL)`` (bits)."""
    return load <= capacity * (1 + CACHE_TOL)


# ----------------------------------------------------------------------------- pools
class Pools:
    """One numbering of the pools a slot's tasks draw on (G gateways).

    Share pools (C4, C5), whose shares sum to at most 1 each: gateway i's uplink band B_i is
    ``i``, its compute C_l_i is ``G + i``, the BS band B_e is ``2G``, the edge compute C_e is
    ``2G + 1`` (``n_share = 2G + 2`` of them). Cache pools (C6) follow: gateway i's cache S_l_i is
    ``2G + 2 + i``, the edge cache S_e is ``3G + 2`` (``size = 3G + 3`` pools in all). A cache pool
    is also known by its *cache node* 0..G (``cache_node``): gateway i's is i, the ECaS's is G.
    """

    def __init__(self, n_gateways: int) -> None:
        g = self.n_gateways = int(n_gateways)
        self.band = np.arange(g)
        self.compute = g + np.arange(g)
        self.bs = 2 * g
        self.edge_compute = 2 * g + 1
        self.n_share = 2 * g + 2
        self.cache = self.n_share + np.arange(g)
        self.edge_cache = self.n_share + g
        self.size = 3 * g + 3

    @property
    def edge_node(self) -> int:
        """The ECaS's cache node (the gateways' are 0..G-1)."""
        return self.n_gateways

    def cache_node(self, pool: int) -> int:
        """The cache node (0..G) of a cache pool."""
        return pool - self.n_share


# ----------------------------------------------------------------------------- rates
@dataclass(frozen=True, eq=False)
class Rates:
    """Per-task rates of one instance at a full share, computed once per instance."""

    uplink: np.ndarray  # (N,) B_g(j) * gamma_j, bit/s: device -> gateway (eqs. 1-3)
    bs: np.ndarray  # (N,) B_e * gamma_e_g(j), bit/s: gateway -> BS (eq. 4, [D1])
    gateway_compute: np.ndarray  # (N,) C_l of g(j), cycles/s
    edge_compute: float  # C_e, cycles/s
    hop_fetch: np.ndarray  # (N, 2) S / R_e, s: ECaS -> gateway
    cloud_fetch: np.ndarray  # (N, 2) S / R_c, s: cloud -> BS (ECaS) [D5]
    all_positive: bool  # every rate and size finite and > 0 (true of every valid instance)


_RATES: weakref.WeakKeyDictionary[Instance, Rates] = weakref.WeakKeyDictionary()


def rates(inst: Instance) -> Rates:
    """The :class:`Rates` of ``inst`` (memoised per instance)."""
    r = _RATES.get(inst)
    if r is None:
        gw = inst.device_gateway
        uplink = inst.gateway_band[gw] * inst.device_spectral_eff
        bs = inst.edge_band * inst.gateway_spectral_eff[gw]
        gateway_compute = inst.gateway_compute[gw]
        constants = (uplink, bs, gateway_compute, inst.model_size, inst.workload,
                     np.array([inst.edge_compute, inst.cloud_to_edge_rate, inst.edge_to_gateway_rate], float))
        r = _RATES[inst] = Rates(
            uplink=uplink, bs=bs, gateway_compute=gateway_compute, edge_compute=float(inst.edge_compute),
            hop_fetch=inst.model_size / inst.edge_to_gateway_rate,
            cloud_fetch=inst.model_size / inst.cloud_to_edge_rate,
            all_positive=all(bool(np.all((x > 0.0) & (x < np.inf))) for x in constants),
        )
    return r


def upload_seconds(inst: Instance, data: np.ndarray) -> np.ndarray:
    """Upload time of data sizes (..., N) to each task's gateway at a full share of its band (eqs. 2-3)."""
    return data / rates(inst).uplink


def hop_seconds(inst: Instance, data: np.ndarray) -> np.ndarray:
    """Gateway->BS time of data sizes (..., N) at a full share of the BS band (eq. 4)."""
    return data / rates(inst).bs


def compute_seconds(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """Compute times (N, 2) by level at a full share (eq. 6): at the task's gateway, and at the edge."""
    r = rates(inst)
    return inst.workload / r.gateway_compute[:, None], inst.workload / r.edge_compute


def link_seconds(amount: np.ndarray, share: np.ndarray, rate: np.ndarray | float) -> np.ndarray:
    """The time ``amount / (share * rate)`` to move bits (or run cycles) at ``share`` of a pool of
    ``rate`` (eqs. 3, 4, 6); a share of 0 gives an infinite time."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return amount / (share * rate)


def share_for(full_share_seconds: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """The share of a pool that makes a leg taking ``full_share_seconds`` at share 1 take ``seconds``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return full_share_seconds / seconds


def completion_delay(arrival: np.ndarray, fetch: np.ndarray, compute: np.ndarray) -> np.ndarray:
    """Eqs. (7)-(8): computing starts when the data (``arrival``: upload, plus the BS hop at the edge)
    and the model (``fetch``) are both there."""
    return np.maximum(arrival, fetch) + compute


def fetch_times(inst: Instance, cache_gateway: np.ndarray, cache_edge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model fetch delays (seconds) of every model from a start cache, eq. (5) and [D5].

    ``cache_gateway``/``cache_edge`` (..., N, 2) are u^l, u^e; returns ``(gateway_fetch,
    edge_fetch)``, each (..., N, 2): the delay to have model n of device j at its gateway (0 if
    resident; S/R_e from the ECaS; S/R_c + S/R_e from the cloud) and in the ECaS (0 if resident,
    else S/R_c)."""
    r = rates(inst)
    resident_gw = np.asarray(cache_gateway, bool)
    resident_edge = np.asarray(cache_edge, bool)
    gateway_fetch = np.where(resident_gw, 0.0, np.where(resident_edge, r.hop_fetch, r.cloud_fetch + r.hop_fetch))
    edge_fetch = np.where(resident_edge, 0.0, r.cloud_fetch)
    return gateway_fetch, edge_fetch


# ----------------------------------------------------------------------------- a batch of decisions
@dataclass(eq=False)
class Delays:
    """Delays of B slot decisions (arrays (B, N))."""

    delay: np.ndarray  # completion delay, s; inf for an unserved task or a zero share
    fetch: np.ndarray  # model fetch time to the task's site, s (0 when resident there)
    resident_here: np.ndarray  # bool: the chosen model is at the task's site at the slot start


def batch_delays(inst: Instance, data: np.ndarray, at_gateway: np.ndarray, served: np.ndarray, size: np.ndarray,
                 work: np.ndarray, shares: np.ndarray, resident_gateway: np.ndarray, resident_edge: np.ndarray,
                 *, vector: bool, fast: bool) -> Delays:
    """Eqs. (2)-(9) for B decisions: ``data`` (B, N) bits, the site masks, the chosen model's ``size``
    and ``work``, ``shares`` (B, 3, N) of uplink, BS band and compute (each in [0, 1], 0 where the
    task does not use the pool), and whether the chosen model is resident at the gateway and in the
    ECaS.

    ``vector`` selects with 0/1 float masks instead of ``np.where``: the same numbers (x * 1 = x,
    x * 0 = +0 for finite x >= 0, :attr:`Rates.all_positive`), faster on large batches. ``fast``
    adds what holds in the usual case only, every share in [+0, 1] and every data size finite and
    > 0: unused pools' zero shares then make exactly the infinite delays of unserved tasks."""
    r = rates(inst)
    at_gateway_f = at_gateway.view(np.uint8).astype(float) if vector else None
    if at_gateway_f is not None:
        capacity = r.gateway_compute * at_gateway_f
        capacity += r.edge_compute * (~at_gateway).view(np.uint8)
    else:
        capacity = np.where(at_gateway, r.gateway_compute, r.edge_compute)
    upload = link_seconds(data, shares[..., 0, :], r.uplink)  # device -> gateway, eq. (3)
    with np.errstate(divide="ignore", invalid="ignore"):
        if fast:  # gateway -> BS, eq. (4), for tasks not at a gateway; 0 for those at one (their BS share is 0)
            to_bs = (data * (~at_gateway).view(np.uint8)) / (shares[..., 1, :] * r.bs + at_gateway_f)
        else:
            to_bs = link_seconds(data, shares[..., 1, :], r.bs)  # gateway -> BS, eq. (4)
    compute = link_seconds(work, shares[..., 2, :], capacity)  # eq. (6)
    cloud = size / inst.cloud_to_edge_rate  # S / R_c
    # eq. (5) at the gateway: 0 if resident there, S/R_e from the ECaS, S/R_c + S/R_e from the cloud;
    # [D5] at the edge: 0 if resident in the ECaS, else S/R_c.
    if at_gateway_f is not None:
        resident_here = (at_gateway & resident_gateway) | (~at_gateway & resident_edge)
        fetch = size / inst.edge_to_gateway_rate + cloud * (~resident_edge).view(np.uint8)
        fetch *= at_gateway_f
        fetch += cloud * (~at_gateway).view(np.uint8)
        fetch *= (~resident_here).view(np.uint8)
    else:
        resident_here = np.where(at_gateway, resident_gateway, resident_edge)
        fetch = np.where(
            resident_here, 0.0,
            np.where(at_gateway, size / inst.edge_to_gateway_rate + np.where(resident_edge, 0.0, cloud), cloud)
        )
    if fast:  # unserved tasks: every share 0, so an infinite upload and compute time
        delay = np.maximum(upload + to_bs, fetch)  # eqs. (7), (8)
        delay += compute
    else:
        arrival = np.where(at_gateway, upload, upload + to_bs)
        delay = np.where(served, completion_delay(arrival, fetch, compute), np.inf)  # eqs. (7), (8)
    return Delays(delay, fetch, resident_here)


__all__ = [
    "CACHE_TOL", "DEADLINE_TOL", "SCHEDULE_MARGIN", "SHARE_TOL", "SIZING_MARGIN", "Delays", "Pools", "Rates",
    "batch_delays", "completion_delay", "compute_seconds", "fetch_times", "fits_capacity", "hop_seconds",
    "link_seconds", "rates", "share_for", "upload_seconds", "within_deadline",
]
