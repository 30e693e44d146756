"""The neural decoder's inner loops, compiled with numba (docs/neural.md, "Decoding"): per candidate and
per task, they would cost numpy a call per small array; here they cost a loop. Each is one step of
:mod:`.decoding`, which says what the step does and why, and calls it:

* :func:`balance`: the price rounds of step 2 (:func:`.decoding.balanced_prices`);
* :func:`every_option`: every option's shares at one price setting (steps 4-6);
* :func:`repair_round`: one round of step 3 (:func:`.decoding.repair`);
* :func:`admit_in_turn`: the one-by-one admission of step 4 (:func:`.decoding.admit`);
* :func:`option_demands`: what every option draws from every pool (steps 5-6);
* :func:`downgrades_for`: the heavy models that turn light to make room for a task (step 5,
  :func:`.decoding.refill`);
* :func:`upgrade_in_turn`: one pass of step 6 (:func:`.decoding.upgrade`).

Shares come from :func:`tadp.sizing.chosen_task_shares`, the one closed form of deadline-sized shares that
the decoder uses. Pools are numbered as :class:`tadp.physics.Pools` (G gateways: bands 0..G-1, gateway
computes G..2G-1, the BS band 2G, the edge compute 2G + 1, then the caches). A division by zero gives inf or
nan, as in numpy. Where the numpy code summed a row (the refill's downgrade search), the compiled code
adds in numpy's pairwise order (:func:`numpy_sum`); pool loads add task by task, which may differ from
numpy's matrix products in the last bit. The decisions were identical to the numpy code's on every slot
compared (docs/measurements.md, "The neural solver").
"""

from __future__ import annotations

import numba
import numpy as np

from tadp.sizing import chosen_task_shares


@numba.njit(error_model="numpy", cache=True)
def balance(prices: np.ndarray, rounds: int, n_gateways: int, gateway: np.ndarray, option: np.ndarray,
            budget: np.ndarray, fetch: np.ndarray, work: np.ndarray, up: np.ndarray, hop: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """The price rounds of :func:`.decoding.balanced_prices`, compiled: ``prices`` (K, n_share) adjusted in place,
    ``rounds`` times, for the assignments ``option`` (K, N) of tasks at gateways ``gateway`` (N,) with
    :class:`tadp.sizing.TaskTimes` entries ``budget``, ``up``, ``hop`` (N,), ``fetch``, ``work`` (N, 4).
    Returns the shares at the last prices (K, N, 3; an unserved task's as if with option 0) and the
    pool loads there (K, n_share; shares capped at 1e3)."""
    g = n_gateways
    bs, edge_compute = 2 * g, 2 * g + 1
    k_count, n = option.shape
    n_share = prices.shape[1]
    shares = np.empty((k_count, n, 3))
    loads = np.zeros((k_count, n_share))
    root = np.empty(n_share)
    for c in range(k_count):
        price, load = prices[c], loads[c]
        for round_ in range(rounds + 1):
            for i in range(n_share):
                root[i] = np.sqrt(price[i])
                load[i] = 0.0
            for j in range(n):
                o = option[c, j]
                k = max(o, 0)
                at_edge = k >= 2
                gw = gateway[j]
                compute = edge_compute if at_edge else g + gw
                u, b, w = chosen_task_shares(budget[j], fetch[j, k], work[j, k], up[j], hop[j], at_edge, root[gw],
                                             root[bs], root[compute])
                shares[c, j, 0], shares[c, j, 1], shares[c, j, 2] = u, b, w
                if o >= 0:  # loads of the served tasks, each share capped at 1e3 (np.fmin: a nan counts 1e3)
                    load[gw] += u if u < 1e3 else 1e3
                    load[compute] += w if w < 1e3 else 1e3
                    if at_edge:
                        load[bs] += b if b < 1e3 else 1e3
            if round_ == rounds:
                break
            top = load.max()
            if not top > 0:
                top = 1.0
            for i in range(n_share):
                ratio = load[i] / top
                if not ratio >= 1e-3:
                    ratio = 1e-3 if ratio == ratio else ratio
                price[i] *= ratio * ratio
            price /= price.max()
    return shares, loads


@numba.njit(error_model="numpy", cache=True)
def every_option(price: np.ndarray, n_gateways: int, gateway: np.ndarray, budget: np.ndarray, fetch: np.ndarray,
                 work: np.ndarray, up: np.ndarray, hop: np.ndarray) -> np.ndarray:
    """(N, 4, 3) the shares of every option of :data:`tadp.sizing.OPTIONS` of every task at one price
    setting ``price`` (n_share,) (:func:`tadp.sizing.chosen_task_shares`; the other arguments as for
    :func:`balance`)."""
    g = n_gateways
    root = np.sqrt(price)
    n = len(budget)
    out = np.empty((n, 4, 3))
    for j in range(n):
        gw = gateway[j]
        for k in range(4):
            at_edge = k >= 2
            out[j, k, 0], out[j, k, 1], out[j, k, 2] = chosen_task_shares(
                budget[j], fetch[j, k], work[j, k], up[j], hop[j], at_edge, root[gw], root[2 * g],
                root[2 * g + 1] if at_edge else root[g + gw])
    return out


@numba.njit(error_model="numpy", cache=True)
def repair_round(option: np.ndarray, tried: np.ndarray, shares: np.ndarray, orders: np.ndarray,
                 ranking: np.ndarray, possible: np.ndarray, n_gateways: int, gateway: np.ndarray,
                 model_size: np.ndarray, resident_gateway: np.ndarray, resident_edge: np.ndarray,
                 cache_room: np.ndarray, fraction: float) -> np.ndarray:
    """One round of :func:`.decoding.repair`, compiled: which of the K candidates ``option`` (K, N) do not
    fit at ``shares`` (K, N, 3) (loads of the served tasks' shares, each capped at 1e3, over a share pool's 1, or
    placements over a cache's room ``cache_room`` (G + 1,)); in each of those, the victims move in place
    to the first option of ``ranking`` (N, 4) that is ``possible`` and not ``tried`` yet (marked), or are
    dropped. The victims: the least certain tasks (last in ``orders``, (K, N)) on the fullest overfull
    cache holding all its excess, if a cache is overfull (caches do not rebalance); else those on the
    overfull share pools holding ``fraction`` of their excess (balanced prices spread any relief over
    every coupled pool, so half is enough not to overshoot); at least one task. Returns (K,) bool."""
    g = n_gateways
    bs, edge_compute = 2 * g, 2 * g + 1
    k_count, n = option.shape
    bad = np.zeros(k_count, np.bool_)
    use = np.zeros((n, 4))  # per task: uplink, BS, compute share (capped), cache bits
    node = np.empty(n, np.int64)  # its compute pool, then its cache node
    cache_node = np.empty(n, np.int64)
    for c in range(k_count):
        load = np.zeros(2 * g + 2)
        placed = np.zeros(g + 1)
        for j in range(n):
            o = option[c, j]
            use[j, :] = 0.0
            if o < 0:
                node[j], cache_node[j] = -1, -1
                continue
            at_edge, level, gw = o >= 2, o % 2, gateway[j]
            for leg in range(3):
                x = shares[c, j, leg]
                use[j, leg] = x if x < 1e3 else 1e3  # np.fmin(x, 1e3): a nan counts 1e3
            if not at_edge:
                use[j, 1] = 0.0
            node[j] = edge_compute if at_edge else g + gw
            cache_node[j] = g if at_edge else gw
            resident = resident_edge[j, level] if at_edge else resident_gateway[j, level]
            use[j, 3] = 0.0 if resident else model_size[j, level]
            load[gw] += use[j, 0]
            load[node[j]] += use[j, 2]
            if at_edge:
                load[bs] += use[j, 1]
            placed[cache_node[j]] += use[j, 3]
        worst, worst_excess = -1, 0.0
        for i in range(g + 1):
            excess = placed[i] - cache_room[i]
            if excess > 0 and (worst < 0 or excess > worst_excess):
                worst, worst_excess = i, excess
        over = load > 1.0
        if worst < 0 and not over.any():
            continue
        bad[c] = True
        held = np.zeros(n)
        if worst >= 0:
            excess = worst_excess
            for j in range(n):
                if cache_node[j] == worst:
                    held[j] = use[j, 3]
        else:
            excess = 0.0
            for i in range(2 * g + 2):
                if over[i]:
                    excess += load[i] - 1.0
            excess *= fraction
            for j in range(n):
                if node[j] >= 0:
                    gw = gateway[j]
                    h = use[j, 0] if over[gw] else 0.0
                    if node[j] == edge_compute and over[bs]:
                        h += use[j, 1]
                    if over[node[j]]:
                        h += use[j, 2]
                    held[j] = h
        covered = 0.0
        for i in range(n - 1, -1, -1):  # least certain first
            v = orders[c, i]
            if not held[v] > 0:
                continue
            moved = False
            for k in ranking[v]:
                if possible[v, k] and not tried[c, v, k]:
                    option[c, v], tried[c, v, k], moved = k, True, True
                    break
            if not moved:
                option[c, v] = -1
            covered += held[v]
            if covered >= excess:
                break
    return bad


@numba.njit(error_model="numpy", cache=True)
def admit_in_turn(rest: np.ndarray, option: np.ndarray, ranking: np.ndarray, full: np.ndarray, bits: np.ndarray,
                  room: np.ndarray, gateway: np.ndarray, n_gateways: int, choice: np.ndarray, slack: float) -> None:
    """The one-by-one admission of :func:`.decoding.admit`, compiled: task j of ``rest`` tries its class's option
    ``option[j]`` (if served), then the others in its ``ranking`` (N, 4) row, and takes the first whose shares
    ``full[j, k]`` fit the room left in its pools (share pools with ``slack``) and whose cache ``bits[j, k]`` fit
    the cache room left."""
    g = n_gateways
    bs, edge_compute = 2 * g, 2 * g + 1
    for j in rest:
        gw = gateway[j]
        first = option[j]
        for t in range(5):
            if t == 0:
                if first < 0:
                    continue
                k = first
            else:
                k = ranking[j, t - 1]
                if k == first:
                    continue
            up, hop, compute = full[j, k, 0], full[j, k, 1], full[j, k, 2]
            at_edge = k >= 2
            compute_pool = edge_compute if at_edge else g + gw
            cache_pool = 3 * g + 2 if at_edge else 2 * g + 2 + gw
            placed = bits[j, k]
            if not (up <= room[gw] + slack and compute <= room[compute_pool] + slack
                    and (not at_edge or hop <= room[bs] + slack) and placed <= room[cache_pool]):
                continue
            room[gw] -= up
            room[compute_pool] -= compute
            if at_edge:
                room[bs] -= hop
            room[cache_pool] -= placed
            choice[j] = k
            break


@numba.njit(cache=True)
def upgrade_in_turn(task: np.ndarray, heavy: np.ndarray, demand: np.ndarray, left: np.ndarray, choice: np.ndarray
                    ) -> bool:
    """One pass of :func:`.decoding.upgrade`, compiled: in turn, task ``task[i]``, if still light in ``choice``
    (N,), takes option ``heavy[i]`` if the extra demand (``demand`` (N, 4, P)) fits the room ``left`` (P,)
    (used up in place). Returns whether any task moved."""
    moved = False
    for i in range(len(task)):
        j, k = task[i], heavy[i]
        now = choice[j]
        if now != 0 and now != 2:
            continue  # already upgraded this pass
        fits = True
        for p in range(len(left)):
            if not demand[j, k, p] - demand[j, now, p] <= left[p]:
                fits = False
                break
        if fits:
            for p in range(len(left)):
                left[p] -= demand[j, k, p] - demand[j, now, p]
            choice[j] = k
            moved = True
    return moved

@numba.njit(cache=True)
def numpy_sum(a: np.ndarray) -> float:
    """The sum of a contiguous 1-D ``a`` in the order numpy adds it (pairwise: eight partial sums under
    129 elements, halves above), so that a compiled step gives numpy's numbers to the last bit."""
    n = len(a)
    if n < 8:
        total = 0.0
        for i in range(n):
            total += a[i]
        return total
    if n <= 128:
        r = a[:8].copy()
        stop = n - n % 8
        for i in range(8, stop, 8):
            for k in range(8):
                r[k] += a[i + k]
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for i in range(stop, n):
            total += a[i]
        return total
    half = n // 2
    half -= half % 8
    return numpy_sum(a[:half]) + numpy_sum(a[half:])


@numba.njit(cache=True)
def option_demands(full: np.ndarray, n_gateways: int, gateway: np.ndarray, model_size: np.ndarray,
                   resident_gateway: np.ndarray, resident_edge: np.ndarray) -> np.ndarray:
    """(N, 4, P) what every option of every task draws from every pool at shares ``full`` (N, 4, 3): its
    band, its compute pool, the BS band (edge options), and in bits the model it places in its cache
    (none if resident: ``resident_gateway``, ``resident_edge`` (N, 2))."""
    g = n_gateways
    n = full.shape[0]
    demand = np.zeros((n, 4, 3 * g + 3))
    for j in range(n):
        gw = gateway[j]
        for k in range(4):
            at_edge, level = k >= 2, k % 2
            demand[j, k, gw] = full[j, k, 0]
            demand[j, k, 2 * g + 1 if at_edge else g + gw] = full[j, k, 2]
            if at_edge:
                demand[j, k, 2 * g] = full[j, k, 1]
            resident = resident_edge[j, level] if at_edge else resident_gateway[j, level]
            demand[j, k, 3 * g + 2 if at_edge else 2 * g + 2 + gw] += 0.0 if resident else model_size[j, level]
    return demand


@numba.njit(cache=True)
def downgrades_for(short: np.ndarray, j: int, value_j: float, choice: np.ndarray, demand: np.ndarray,
                   value: np.ndarray, possible: np.ndarray) -> tuple[bool, np.ndarray]:
    """Whether served heavy models (``choice`` (N,)) can turn light to free ``short`` (P,), what task ``j``
    (worth ``value_j``) lacks on each pool (negative: the room left there), and which, in the order taken.
    A switch may free any pool; it may draw on a pool only within the room left there (a heavy model turned
    light may need its light model placed in a cache), never on one the task still lacks. Least accuracy
    (``value`` (N, 4)) lost per share of the shortfall covered first; none if no such set covers it losing
    less than ``value_j``."""
    none = np.empty(0, np.int64)
    n, width = len(choice), len(short)
    lacking = np.flatnonzero(short > 0)
    if len(lacking) == 0:
        return True, none
    heavy = np.empty(n, np.int64)
    h = 0
    for t in range(n):
        if (choice[t] == 1 or choice[t] == 3) and t != j and possible[t, choice[t] - 1]:
            heavy[h] = t
            h += 1
    delta = np.empty((h, width))
    loss = np.empty(h)
    for i in range(h):
        t = heavy[i]
        delta[i] = demand[t, choice[t] - 1] - demand[t, choice[t]]
        loss[i] = value[t, choice[t]] - value[t, choice[t] - 1]
    need = short.copy()
    available = np.ones(h, np.bool_)
    taken = np.empty(h, np.int64)
    count, spent = 0, 0.0
    cover = np.empty(len(lacking))
    while True:
        done = True
        for q in lacking:
            if need[q] > 0:
                done = False
        if done:
            return True, heavy[taken[:count]]
        best, best_ratio = -1, 0.0
        for i in range(h):
            if not available[i]:
                continue
            fits = True
            for p in range(width):
                if not delta[i, p] <= (0.0 if need[p] > 0 else -need[p]):
                    fits = False
                    break
            if not fits:
                continue
            for q in range(len(lacking)):
                cover[q] = min(-delta[i, lacking[q]], max(need[lacking[q]], 0.0)) / short[lacking[q]]
            gain = numpy_sum(cover)
            if gain > 0 and (best < 0 or gain / max(loss[i], 1e-12) > best_ratio):
                best, best_ratio = i, gain / max(loss[i], 1e-12)
        if best < 0:
            return False, none
        taken[count] = best
        count += 1
        available[best] = False
        spent += loss[best]
        need += delta[best]
        if spent >= value_j:
            return False, none


__all__ = ["admit_in_turn", "balance", "downgrades_for", "every_option", "numpy_sum", "option_demands",
           "repair_round", "upgrade_in_turn"]
