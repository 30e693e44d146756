"""The exact oracle for a fixed assignment of options (docs/exact.md, section 2).

Fix an *assignment*: one option (site, level) or none per task (:mod:`solvers.exact.options`). What
is left of the slot problem is convex: find leg times t (upload, hop, compute per chosen option)
with, per task, ``t_up + t_hop + t_c <= Tmax`` and ``t_c <= Tmax - F`` (C1), such that every pool
p (C4, C5) has load ``L_p(t) = sum of work / time over its legs <= 1``. The assignment is feasible
iff rho* = min_t max_p L_p(t) <= 1 (caches, C6, are linear and checked apart).

:func:`min_max_load` computes rho* with a certificate on each side, using the dual. For prices
lambda >= 0 on the pools (sum 1), each task's cheapest split ``min_t sum_p lambda_p w_p / t_p``
has a closed form: with ``s_p = sqrt(lambda_p w_p)``, a group of legs sharing a time budget tau
costs ``(sum s_p)^2 / tau`` and splits tau in proportion to s_p. The budget is the deadline T for
all legs (uncapped), or, when that would give compute more than T - F (``s_c F > (T - F)(s_up +
s_hop)``), T - F for compute alone and F for the upload legs (capped). Summing over tasks gives
Phi(lambda), and

- ``Phi(lambda) <= rho*`` for every lambda (weak duality): ``Phi > 1`` *proves* infeasibility;
- the split t(lambda) is an explicit schedule: ``max_p L_p(t(lambda)) <= 1`` *proves* feasibility.

Phi is concave; a log-barrier Newton method on the price simplex drives both numbers together
(at a barrier centre the gap is at most mu times the number of pools), to about 1e-12. The same
certificate feeds the solvers: tangent cuts at t(lambda) cut off an infeasible assignment (its
linearised loads, weighted by lambda, still sum to Phi > 1), and a feasible one gets its shares
from t(lambda), every time budget shrunk by :data:`tadp.physics.SCHEDULE_MARGIN` (docs/model.md,
section 5b).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.exact.options import COMPUTE, HOP, UPLOAD, SlotOptions
from tadp.decision import Decision
from tadp.physics import SCHEDULE_MARGIN

#: ``Phi(lambda) > 1 + INFEASIBLE_TOL`` proves infeasibility (room for rounding in Phi).
INFEASIBLE_TOL = 1e-12
#: Target gap between the two certificates when :func:`min_max_load` runs to the end.
GAP_TOL = 1e-12

FEASIBLE, INFEASIBLE, UNCERTAIN = "feasible", "infeasible", "uncertain"


@dataclass(eq=False)
class LoadCertificate:
    """The oracle's verdict on one assignment, with both certificates."""

    chosen: np.ndarray  # (k,) option indices
    lower: float  # Phi(prices): proven lower bound on rho* = min over schedules of the max pool load
    upper: float  # max pool load of ``times``: an explicit schedule achieves it
    prices: np.ndarray  # (P,) lambda on the simplex (0 on unused pools)
    times: np.ndarray  # (k, 3) leg times of the schedule t(prices), s (0 for absent legs)
    loads: np.ndarray  # (P,) pool loads of ``times``
    iterations: int = 0

    @property
    def verdict(self) -> str:
        """``feasible`` (the schedule fits with :data:`SCHEDULE_MARGIN`), ``infeasible`` (proof) or
        ``uncertain`` (rho* within about 1e-9 of 1: a knife edge neither side certifies)."""
        if self.upper <= 1.0 - SCHEDULE_MARGIN:
            return FEASIBLE
        if self.lower > 1.0 + INFEASIBLE_TOL:
            return INFEASIBLE
        return UNCERTAIN


@dataclass
class _Legs:
    """The chosen options' legs, as arrays (k options x 3 legs), with the options' weights."""

    work: np.ndarray
    pool: np.ndarray
    has: np.ndarray
    deadline: np.ndarray
    fetch: np.ndarray
    weight: np.ndarray
    n_pools: int


def _legs(opts: SlotOptions, chosen: np.ndarray, weight: np.ndarray | None = None) -> _Legs:
    k = len(chosen)
    return _Legs(opts.work[chosen], opts.pool[chosen], opts.pool[chosen] >= 0, opts.deadline[chosen],
                 opts.fetch[chosen], np.ones(k) if weight is None else np.asarray(weight, float), opts.n_pools)


def _active_legs(opts: SlotOptions, chosen: np.ndarray, weights: np.ndarray | None) -> tuple[_Legs, np.ndarray]:
    """The legs of ``chosen`` and the pools they use (the dual's prices live on those)."""
    legs = _legs(opts, chosen, weights)
    active = np.zeros(opts.n_pools, bool)
    active[legs.pool[legs.has]] = True
    return legs, np.flatnonzero(active)


def _empty_certificate(chosen: np.ndarray, n_pools: int) -> LoadCertificate:
    """The certificate of an empty assignment: no load anywhere."""
    return LoadCertificate(chosen, 0.0, 0.0, np.zeros(n_pools), np.zeros((0, 3)), np.zeros(n_pools))


def _cheapest(work: np.ndarray, pool: np.ndarray, deadline: np.ndarray, fetch: np.ndarray, prices: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per option: s = sqrt(price * work) per leg, capped flag and the cost min_t sum price * work / t."""
    lam = np.where(pool >= 0, prices[np.maximum(pool, 0)], 0.0)
    s = np.sqrt(lam * work)  # 0 for absent legs and unpriced pools
    alpha = s[:, UPLOAD] + s[:, HOP]
    beta = s[:, COMPUTE]
    t, f = deadline, fetch
    capped = (f > 0) & (beta * f > (t - f) * alpha)
    cost = np.where(capped, alpha**2 / np.where(capped, f, 1.0) + beta**2 / (t - f), (alpha + beta) ** 2 / t)
    return s, alpha, beta, capped, cost


def option_costs(opts: SlotOptions, prices: np.ndarray) -> np.ndarray:
    """(M,) cost c_o(lambda) = min over option o's schedules of sum_p lambda_p * work / time.

    For every assignment that fits the pools, ``sum over its options of c_o(lambda) <= sum(lambda)``
    (the *resource cut* of ``lambda``); prices may be 0 (the cost is then an infimum)."""
    return _cheapest(opts.work, opts.pool, opts.deadline, opts.fetch, np.asarray(prices, float))[4]


def option_schedules(opts: SlotOptions, prices: np.ndarray) -> np.ndarray:
    """(M, 3) each option's cheapest schedule (leg times) at ``prices`` (> 0 on every pool it uses)."""
    return _split(_legs(opts, np.arange(opts.n_options)), np.asarray(prices, float))[0]


def _split(legs: _Legs, prices: np.ndarray, hessian: bool = False
           ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray | None]:
    """Each option's cheapest schedule at ``prices`` (all > 0 on used pools): times, Phi (weighted sum
    of costs), weighted pool loads, and the Hessian of Phi."""
    s, alpha, beta, capped, cost = _cheapest(legs.work, legs.pool, legs.deadline, legs.fetch, prices)
    t, f = legs.deadline, legs.fetch
    total = alpha + beta
    times = t[:, None] * s / total[:, None]
    times[capped, UPLOAD] = f[capped] * s[capped, UPLOAD] / alpha[capped]
    times[capped, HOP] = f[capped] * s[capped, HOP] / alpha[capped]
    times[capped, COMPUTE] = t[capped] - f[capped]
    with np.errstate(divide="ignore", invalid="ignore"):
        leg_loads = np.where(legs.has, legs.work / times, 0.0)
    weighted = leg_loads * legs.weight[:, None]
    loads = np.bincount(legs.pool[legs.has], weights=weighted[legs.has], minlength=legs.n_pools)
    phi = float(legs.weight @ cost)
    if not hessian:
        return times, phi, loads, None
    # Per group of legs sharing a budget tau with S = sum s_p and cost c = S^2 / tau:
    # d2c / dl_p dl_q = l_p l_q / (2c) for p != q, and l_p^2 / (2c) * (1 - S / s_p) on the diagonal.
    safe_f = np.where(capped, f, 1.0)
    group_sum = np.where(capped[:, None], np.stack([alpha, alpha, beta], axis=1), total[:, None])
    group_cost = np.where(capped[:, None], np.stack([alpha**2 / safe_f] * 2 + [beta**2 / (t - f)], axis=1),
                          (total**2 / t)[:, None])
    hess = np.zeros((legs.n_pools, legs.n_pools))
    for a in range(3):
        for b in range(3):
            same_group = legs.has[:, a] & legs.has[:, b]
            if a != b and (a == COMPUTE or b == COMPUTE):
                same_group &= ~capped
            if not same_group.any():
                continue
            la, lb = leg_loads[same_group, a], leg_loads[same_group, b]
            c = group_cost[same_group, a]
            if a == b:
                value = la * la / (2 * c) * (1 - group_sum[same_group, a] / s[same_group, a])
            else:
                value = la * lb / (2 * c)
            np.add.at(hess, (legs.pool[same_group, a], legs.pool[same_group, b]), value * legs.weight[same_group])
    return times, phi, loads, hess


def min_max_load(
    opts: SlotOptions,
    chosen: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    prices: np.ndarray | None = None,
    decide_only: bool = False,
    max_iterations: int = 300,
) -> LoadCertificate:
    """rho* of the assignment ``chosen`` (option indices) with both certificates (module doc).

    ``weights`` (default 1) scale each option's loads: a fractional choice, as in an LP relaxation,
    whose rho* is the least max load over perspective schedules. ``prices`` warm-starts the dual;
    ``decide_only`` stops as soon as the verdict is certain (feasible or infeasible) instead of
    closing the gap to :data:`GAP_TOL`.
    """
    chosen = np.asarray(chosen, int)
    n_pools = opts.n_pools
    if len(chosen) == 0:
        return _empty_certificate(chosen, n_pools)
    legs, idx = _active_legs(opts, chosen, weights)
    m = len(idx)
    lam = np.zeros(n_pools)
    if prices is not None and (prices[idx] > 0).all():
        lam[idx] = prices[idx] / prices[idx].sum()
    else:
        lam[idx] = 1.0 / m

    def certificate(lam_: np.ndarray, it: int) -> tuple[LoadCertificate, float, np.ndarray, np.ndarray | None]:
        times_, phi_, loads_, hess_ = _split(legs, lam_, hessian=True)
        return LoadCertificate(chosen, phi_, float(loads_.max()), lam_.copy(), times_, loads_, it), phi_, loads_, hess_

    cert, phi, loads, hess = certificate(lam, 0)
    if decide_only and cert.verdict != UNCERTAIN:
        return cert
    mu = 0.1 * phi / m
    best = cert

    def barrier(lam_: np.ndarray) -> float:
        return _split(legs, lam_)[1] + mu * float(np.log(lam_[idx]).sum())

    for it in range(1, max_iterations + 1):
        if cert.upper - cert.lower <= GAP_TOL * max(1.0, cert.upper):
            break
        lam_a = lam[idx]
        grad = loads[idx] + mu / lam_a
        # Newton step on the simplex for Phi + mu sum log(lambda), in lambda-scaled variables
        # (d = diag(lambda) e, so the prices of slack pools may shrink towards 0 without the system
        # degenerating) and on the null space of the simplex constraint (lambda' e = 0), which also
        # removes Phi's flat direction (Phi is homogeneous of degree 1: H lambda = 0).
        scaled = lam_a[:, None] * hess[np.ix_(idx, idx)] * lam_a[None, :] - mu * np.eye(m)
        basis = np.linalg.qr(lam_a[:, None], mode="complete")[0][:, 1:]
        try:
            y = np.linalg.solve(basis.T @ scaled @ basis, -(basis.T @ (lam_a * grad)))
        except np.linalg.LinAlgError:
            break
        d = lam_a * (basis @ y)
        decrement = float(grad @ d)  # = -d' Hb d >= 0: twice the predicted gain
        if not np.isfinite(decrement):
            break
        if decrement <= 1e-3 * mu * m:  # centred: tighten the barrier
            if mu * m <= 1e-3 * GAP_TOL:
                break
            mu *= 0.1
            continue
        neg = d < 0
        step = min(1.0, 0.99 * float(np.min(-lam_a[neg] / d[neg]))) if neg.any() else 1.0
        base = barrier(lam)
        while step > 1e-16:
            trial = lam.copy()
            trial[idx] = lam_a + step * d
            if barrier(trial) >= base + 0.1 * step * decrement:
                break
            step *= 0.5
        else:
            break
        lam = trial
        lam[idx] /= lam[idx].sum()
        cert, phi, loads, hess = certificate(lam, it)
        if cert.lower > best.lower or cert.upper < best.upper:
            best = _merge(best, cert)
        if decide_only and best.verdict != UNCERTAIN:
            break
    return best


def _merge(a: LoadCertificate, b: LoadCertificate) -> LoadCertificate:
    """The best of two certificates: the higher lower bound (with its prices) and the better schedule."""
    low = a if a.lower >= b.lower else b
    up = a if a.upper <= b.upper else b
    return LoadCertificate(a.chosen, low.lower, up.upper, low.prices, up.times, up.loads,
                           max(a.iterations, b.iterations))


def schedule_decision(opts: SlotOptions, cert: LoadCertificate) -> Decision:
    """The decision serving the certified-feasible assignment: times shrunk by SCHEDULE_MARGIN, shares
    work / time. Raises ValueError if a pool's share sum would exceed 1 (not certified feasible)."""
    if cert.verdict != FEASIBLE:
        raise ValueError(f"assignment not certified feasible (rho* in [{cert.lower:.12g}, {cert.upper:.12g}])")
    return opts.decision(cert.chosen, cert.times * (1.0 - SCHEDULE_MARGIN))



# ============================================================================ the fast dual (docs/exact.md, section 4)
#: Gap between the two certificates at which :func:`solve_dual` stops by default: far below any
#: tolerance that a verdict or a cut depends on, far above the rounding of Phi.
DUAL_GAP_TOL = 1e-10
#: Legs (a, b) of one option that never share a time budget when compute is capped at T - F.
#: A Newton decrement below this many barrier weights counts as centred (a loose centring: the barrier
#: only keeps prices positive, the certificates decide when to stop) ...
CENTRED = 4.0
#: ... and the barrier weight is then cut by this factor.
MU_CUT = 0.02
#: Steps without a better certificate after which :func:`solve_dual` gives up (a knife edge).
STALL_STEPS = 8
_CROSS = np.zeros((3, 3), bool)
_CROSS[COMPUTE, :COMPUTE] = _CROSS[:COMPUTE, COMPUTE] = True


def _dual_state(legs: _Legs, prices: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Times, Phi, weighted pool loads and the Hessian of Phi at ``prices`` (> 0 on every used pool), in one
    pass over all legs (the formulas of :func:`_split`)."""
    s, alpha, beta, capped, cost = _cheapest(legs.work, legs.pool, legs.deadline, legs.fetch, prices)
    t, f = legs.deadline, legs.fetch
    total = alpha + beta
    safe_f = np.where(capped, f, 1.0)
    group_sum = np.where(capped[:, None], np.stack([alpha, alpha, beta], axis=1), total[:, None])
    budget = np.where(capped[:, None], np.stack([safe_f, safe_f, t - f], axis=1), t[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        times = budget * s / group_sum
        leg_loads = np.where(legs.has, legs.work / times, 0.0)
        group_cost = group_sum**2 / budget
        local = leg_loads[:, :, None] * leg_loads[:, None, :] / (2 * group_cost[:, :, None])
        diag = 1.0 - group_sum / s
    weighted = leg_loads * legs.weight[:, None]
    n = legs.n_pools
    loads = np.bincount(legs.pool[legs.has], weights=weighted[legs.has], minlength=n)
    rows = np.arange(3)
    local[:, rows, rows] *= np.where(legs.has, diag, 0.0)
    same = legs.has[:, :, None] & legs.has[:, None, :] & ~(capped[:, None, None] & _CROSS[None])
    cell = legs.pool[:, :, None] * n + legs.pool[:, None, :]
    hess = np.bincount(cell[same], weights=(local * legs.weight[:, None, None])[same], minlength=n * n)
    return np.where(legs.has, times, 0.0), float(legs.weight @ cost), loads, hess.reshape(n, n)


def _phi(legs: _Legs, prices: np.ndarray) -> float:
    """Phi(prices) alone (the line search of :func:`solve_dual`)."""
    return float(legs.weight @ _cheapest(legs.work, legs.pool, legs.deadline, legs.fetch, prices)[4])


def _newton_step(legs: _Legs, lam: np.ndarray, idx: np.ndarray, y: np.ndarray, mu: float, phi: float,
                 decrement: float) -> np.ndarray | None:
    """The prices after a Newton step ``lambda * (1 + step * y)`` on the active pools ``idx``: the longest
    step that keeps every price positive, halved until the barrier objective gains (Armijo). Where the
    predicted gain is below what Phi's rounding can show (near the optimum), the step is taken as is:
    the certificates, not Phi, then tell progress. None when no step gains."""
    lam_a = lam[idx]
    step = min(1.0, 0.99 / float(-y.min())) if y.min() < 0 else 1.0
    check = decrement > 1e-12 * abs(phi)
    base = phi + mu * float(np.log(lam_a).sum())
    while step > 1e-12:
        trial = lam.copy()
        trial[idx] = lam_a * (1.0 + step * y)
        trial[idx] /= trial[idx].sum()
        if not check or _phi(legs, trial) + mu * float(np.log(trial[idx]).sum()) >= base + 0.1 * step * decrement:
            return trial
        step *= 0.5
    return None


def solve_dual(
    opts: SlotOptions,
    chosen: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    prices: np.ndarray | None = None,
    gap_tol: float = DUAL_GAP_TOL,
    decide_only: bool = False,
    max_iterations: int = 200,
) -> LoadCertificate:
    """rho* of the assignment ``chosen`` with both certificates, as :func:`min_max_load`, by a faster
    Newton method (docs/exact.md, section 4): one linear solve of the KKT system per step, the barrier
    weight cut fiftyfold at each (loose) centre, and a stop as soon as the certificates are within ``gap_tol``
    (relative) or, with ``decide_only``, as soon as the verdict is certain. ``prices`` warm-starts the
    dual (they are mixed with uniform prices so that every used pool keeps a positive price)."""
    chosen = np.asarray(chosen, int)
    n_pools = opts.n_pools
    if len(chosen) == 0:
        return _empty_certificate(chosen, n_pools)
    legs, idx = _active_legs(opts, chosen, weights)
    m = len(idx)
    lam = np.zeros(n_pools)
    lam[idx] = 1.0 / m
    if prices is not None and prices[idx].sum() > 0:
        lam[idx] = 0.9 * prices[idx] / prices[idx].sum() + 0.1 / m
    times, phi, loads, hess = _dual_state(legs, lam)
    best = LoadCertificate(chosen, phi, float(loads.max()), lam.copy(), times, loads, 0)
    mu = 0.1 * phi / m
    stalled = 0
    for it in range(1, max_iterations + 1):
        if (decide_only and best.verdict != UNCERTAIN) or best.upper - best.lower <= gap_tol * max(1.0, best.upper):
            break
        if stalled >= STALL_STEPS:
            break
        lam_a = lam[idx]
        grad = loads[idx] + mu / lam_a
        kkt = np.zeros((m + 1, m + 1))
        kkt[:m, :m] = lam_a[:, None] * hess[np.ix_(idx, idx)] * lam_a[None, :] - mu * np.eye(m)
        kkt[:m, m] = kkt[m, :m] = lam_a
        try:
            y = np.linalg.solve(kkt, np.append(-lam_a * grad, 0.0))[:m]
        except np.linalg.LinAlgError:
            break
        decrement = float((lam_a * grad) @ y)  # twice the predicted gain of the full step
        if not np.isfinite(decrement):
            break
        if decrement <= CENTRED * mu and mu * m > 1e-3 * gap_tol * max(1.0, best.upper):
            mu *= MU_CUT  # centred: cut the barrier weight
            continue
        trial = _newton_step(legs, lam, idx, y, mu, phi, decrement)
        if trial is None:
            break
        lam = trial
        times, phi, loads, hess = _dual_state(legs, lam)
        cert = LoadCertificate(chosen, phi, float(loads.max()), lam.copy(), times, loads, it)
        stalled += 1
        if cert.lower > best.lower or cert.upper < best.upper:
            best, stalled = _merge(best, cert), 0
    return best
