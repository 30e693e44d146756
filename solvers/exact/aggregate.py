"""The caches added up (docs/exact.md, section 4): a bound for every slot, and a primal heuristic for large cold
slots (the levels on the caches as one, then the sites gateway by gateway).

**The bound** (:func:`knapsack_bound`). Summing the cache rows of C6 (in bits) and dropping the pools leaves a
multiple-choice knapsack: per task none or a level, worth the best accuracy among that level's options and
weighing the least model size any of them places. Every assignment of the slot maps to one of no less value
within the capacity, so the knapsack's optimum bounds the slot's. It is solved exactly: fixing by reduced costs
at the LP's price per bit, then a meet-in-the-middle search over the tasks left open.

**The heuristic** (:func:`aggregate_incumbent`). On scarce slots with a cold cache the LP relaxation prices every bit of cache alike and leaves the pools
slack (docs/exact.md, section 6): at its prices a task's gateway and edge options of one level are tied, and
the slot is, to within the pools, a knapsack of levels into the caches added up. This heuristic solves it that
way:

1. **Levels.** With the caches added up (the free bits of every cache, less a waste allowance ``W``), the
   choice of a level or none per task is a multiple-choice knapsack (accuracy per level, its model's size).
   The LP's greedy on each task's hull increments fills it up to a break; the tasks of the
   :data:`CORE_TASKS` increments around the break are then chosen exactly, by a meet-in-the-middle search
   over their choices within the room the others leave.
2. **Sites.** Each gateway's chosen models are split between its own cache and the edge's: among the subsets
   of its models that fill its free cache to within ``W / G`` (meet in the middle, a range-maximum table over
   one half), the one whose models on the gateway save the most pool cost ``kappa`` (what an option costs at
   the edge less what it costs on the gateway); the rest go to the edge, which then has room, step 1 having
   left it ``W``.
3. **Pools.** The assignment is judged by the oracle like any other. A rejected one brings its cut's
   coefficients into ``kappa`` (at first, the last prices the LP rounds found), and step 2 runs again, at most
   :data:`MAX_SPLITS` times. When the split no longer changes, or a gateway has no subset in its window (few
   tasks, large models) and the edge overflows, ``W`` grows (doubles, or to the gateways' unused bits) and
   step 1 runs again: a wider window leaves step 2 more subsets to choose from.

It only proposes assignments: every one is judged (cache check and oracle) before it can become an
incumbent, so it cannot make the solver wrong, only faster. docs/measurements.md has what it brings.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from solvers.exact.options import SlotOptions
from solvers.exact.oracle import FEASIBLE, option_costs
from tadp.decision import SITE_EDGE, SITE_GATEWAY
from tadp.instance import Instance

#: Tasks whose levels step 1 chooses exactly (the rest keep the greedy's); 3^10 combinations per half.
CORE_TASKS = 20
#: At most this many of a gateway's models are split exactly in step 2; the others go where ``kappa`` says,
#: leaving the exact split at least this share of its models' bits to fill (its subset sums are dense there).
SPLIT_ITEMS = 30
KEEP_FOR_SPLIT = 0.25
#: The waste allowance W at first, as a share of all free cache bits (it costs at most about 1e-6 of the slot
#: score at the scarce scenario's cache prices), its growth when no split is accepted, and how many allowances
#: are tried (the last about 1e-2).
WASTE_SHARE = 5e-6
WASTE_GROWTH = 2.0
MAX_WASTE_STEPS = 12
#: Rounds of step 2 and 3 per allowance.
MAX_SPLITS = 8
#: The knapsack bound searches its open tasks exactly when each half has at most 2^BOUND_LOG2 combinations
#: (16 MiB per array), and keeps choices within BOUND_TOL (accuracy units) of the reduced-cost test, far above
#: rounding.
BOUND_LOG2 = 21
BOUND_TOL = 1e-9


def _crowded_gateways(opts: SlotOptions) -> np.ndarray:
    """Per gateway: could its own tasks' largest models (one per task) overflow its free cache? A gateway that
    is not crowded holds whatever its tasks place there, and its cache row can never bind."""
    bits = opts.model_bits * opts.places
    on_gateway = np.flatnonzero(opts.cache_pool < opts.n_gateways)
    largest = np.zeros(opts.n_tasks)
    np.maximum.at(largest, opts.task[on_gateway], bits[on_gateway])
    gateway = np.full(opts.n_tasks, -1)
    gateway[opts.task[on_gateway]] = opts.cache_pool[on_gateway]
    held = np.bincount(gateway[gateway >= 0], weights=largest[gateway >= 0], minlength=opts.n_gateways)
    return held > opts.cache_free[: opts.n_gateways]


def cache_knapsack(opts: SlotOptions) -> tuple[np.ndarray, np.ndarray, float]:
    """The caches added up as a multiple-choice knapsack: per task and choice (0: none, 1 + level), the best
    accuracy among the choice's options (-inf where it has none) and the least model size it places in a cache
    that can bind (the edge's or a crowded gateway's; bits); and the capacity, the free bits of those caches (a
    gateway that is not crowded never binds, and its models count for nothing)."""
    crowded = _crowded_gateways(opts)
    n_levels = int(opts.level.max()) + 1 if opts.n_options else 1
    value = np.full((opts.n_tasks, n_levels + 1), -np.inf)
    size = np.full((opts.n_tasks, n_levels + 1), np.inf)
    value[:, 0], size[:, 0] = 0.0, 0.0
    bits = opts.model_bits * opts.places * np.append(crowded, True)[opts.cache_pool]  # the edge's always counts
    np.maximum.at(value, (opts.task, opts.level + 1), opts.accuracy)
    np.minimum.at(size, (opts.task, opts.level + 1), bits)
    size[~np.isfinite(value)] = 0.0
    capacity = float(opts.cache_free[opts.n_gateways] + opts.cache_free[: opts.n_gateways][crowded].sum())
    return value, size, capacity


def _hull_increments(value: np.ndarray, size: np.ndarray) -> list[tuple[float, int, int, float]]:
    """The increments (efficiency, task, choice, extra bits) of each task's upper concave hull of (size,
    value), from none up; a free increment (no extra bits) has efficiency inf."""
    increments = []
    for j in range(value.shape[0]):
        choices = sorted(np.flatnonzero(np.isfinite(value[j])), key=lambda c: (size[j, c], -value[j, c]))
        hull = [0]
        for c in choices:
            if c == 0 or value[j, c] <= value[j, hull[-1]]:
                continue
            while len(hull) >= 2:
                a, b = hull[-2], hull[-1]
                before = (value[j, b] - value[j, a]) * max(size[j, c] - size[j, b], 0.0)
                after = (value[j, c] - value[j, b]) * max(size[j, b] - size[j, a], 0.0)
                if after < before:
                    break
                hull.pop()
            hull.append(int(c))
        for a, b in zip(hull, hull[1:], strict=False):
            extra = size[j, b] - size[j, a]
            gain = value[j, b] - value[j, a]
            increments.append((gain / extra if extra > 0 else np.inf, j, b, extra))
    increments.sort(key=lambda inc: -inc[0])
    return increments


def _combinations(value: np.ndarray, size: np.ndarray, tasks: np.ndarray, with_picks: bool = True
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Every combination of the tasks' choices: total value, total size, and (``with_picks``) the choices, one
    row each."""
    vals, sizes = np.zeros(1), np.zeros(1)
    picks = np.zeros((1, 0), np.int64) if with_picks else None
    for j in tasks:
        ok = np.flatnonzero(np.isfinite(value[j]))
        vals = (vals[:, None] + value[j, ok][None, :]).ravel()
        sizes = (sizes[:, None] + size[j, ok][None, :]).ravel()
        if picks is not None:
            picks = np.concatenate([np.repeat(picks, len(ok), axis=0), np.tile(ok, len(picks))[:, None]], axis=1)
    return vals, sizes, picks


def _greedy(increments: list[tuple[float, int, int, float]], n_tasks: int, capacity: float
            ) -> tuple[np.ndarray, int]:
    """The LP's greedy: the increments taken in order of efficiency while they fit. The choice per task, and the
    index of the first increment that does not fit (the break; ``len(increments)`` when all fit)."""
    choice = np.zeros(n_tasks, np.int64)
    used = 0.0
    for i, (_, j, c, extra) in enumerate(increments):
        if used + extra > capacity:
            return choice, i
        choice[j], used = c, used + extra
    return choice, len(increments)


def _best_pair(va: np.ndarray, sa: np.ndarray, vb: np.ndarray, sb: np.ndarray, room: float
               ) -> tuple[float, int, int]:
    """Meet in the middle: the largest ``va[i] + vb[j]`` with ``sa[i] + sb[j] <= room``, as (total, i, j);
    total -inf (and i, j meaningless) when no pair fits."""
    order = np.argsort(sb, kind="stable")
    vb_sorted, sb_sorted = vb[order], sb[order]
    best_b = np.maximum.accumulate(np.where(np.r_[True, vb_sorted[1:] > np.maximum.accumulate(vb_sorted)[:-1]],
                                            np.arange(len(vb_sorted)), 0))  # the best vb up to each position
    pos = np.searchsorted(sb_sorted, room - sa, side="right") - 1
    total = np.where(pos >= 0, va + vb_sorted[best_b[np.maximum(pos, 0)]], -np.inf)
    i = int(np.argmax(total))
    return float(total[i]), i, int(order[best_b[max(int(pos[i]), 0)]])


def choose_levels(value: np.ndarray, size: np.ndarray, capacity: float, core: int = CORE_TASKS,
                  increments: list[tuple[float, int, int, float]] | None = None) -> np.ndarray:
    """Step 1: a choice per task (0 none, 1 + level) whose sizes add up to at most ``capacity``: the greedy on
    the hull increments (given, or computed from the table), then the ``core`` tasks around its break chosen
    exactly (meet in the middle)."""
    increments = _hull_increments(value, size) if increments is None else increments
    choice, brk = _greedy(increments, value.shape[0], capacity)
    near: list[int] = []
    for step in range(len(increments)):
        for i in (brk + step, brk - 1 - step):
            j = increments[i][1] if 0 <= i < len(increments) else None
            if j is not None and j not in near and len(near) < core:
                near.append(j)
        if len(near) >= core or (brk + step >= len(increments) and brk - 1 - step < 0):
            break
    if not near:
        return choice
    tasks = np.array(near)
    rest = np.ones(value.shape[0], bool)
    rest[tasks] = False
    room = capacity - size[np.flatnonzero(rest), choice[rest]].sum()
    half = len(tasks) // 2
    va, sa, pa = _combinations(value, size, tasks[:half])
    vb, sb, pb = _combinations(value, size, tasks[half:])
    total, i, j = _best_pair(va, sa, vb, sb, room)
    if not np.isfinite(total):
        return choice
    choice[tasks[:half]] = pa[i]
    choice[tasks[half:]] = pb[j]
    return choice


def knapsack_bound(value: np.ndarray, size: np.ndarray, capacity: float) -> float | None:
    """The optimum of the multiple-choice knapsack of :func:`choose_levels` (the caches added up), an upper bound
    on the slot's sum of accuracies (module doc); None when the tasks that stay open after the fixing by
    reduced costs have too many combinations (:data:`BOUND_LOG2`) (the LP bound then serves alone).

    At the LP's price ``pi`` per bit (the efficiency of the greedy's break), every choice's loss is ``r = best_j -
    (U - pi S)`` with ``best_j`` the task's best ``U - pi S``, and every assignment within the capacity has value
    at most ``LP - sum r`` (``LP = pi capacity + sum_j best_j``). A choice whose loss exceeds ``LP - V``, for the
    value ``V`` of a known solution, is in no better one; the tasks left with more than one choice are searched
    exactly (meet in the middle)."""
    rows = np.arange(value.shape[0])
    increments = _hull_increments(value, size)
    _, brk = _greedy(increments, value.shape[0], capacity)
    price = increments[brk][0] if brk < len(increments) else 0.0
    net = np.where(np.isfinite(value), value - price * size, -np.inf)
    best = net.max(axis=1)
    lp = price * capacity + best.sum()
    known = choose_levels(value, size, capacity, increments=increments)
    slack = lp - value[rows, known].sum() + BOUND_TOL
    allowed = np.isfinite(net) & (best[:, None] - net <= slack)
    counts = allowed.sum(axis=1)
    open_tasks = np.flatnonzero(counts > 1)
    open_tasks = open_tasks[np.argsort(counts[open_tasks], kind="stable")]
    cum = np.cumsum(np.log2(counts[open_tasks]))
    half = int(np.searchsorted(cum, cum[-1] / 2, side="right")) if len(cum) else 0
    first = float(cum[half - 1]) if half else 0.0
    if len(cum) and max(first, float(cum[-1]) - first) > BOUND_LOG2:
        return None
    fixed = np.ones(len(rows), bool)
    fixed[open_tasks] = False
    pick = np.argmax(allowed, axis=1)  # the one allowed choice of a fixed task
    room = capacity - size[rows[fixed], pick[fixed]].sum()
    masked = np.where(allowed, value, -np.inf)
    va, sa, _ = _combinations(masked, size, open_tasks[:half], with_picks=False)
    vb, sb, _ = _combinations(masked, size, open_tasks[half:], with_picks=False)
    total, _, _ = _best_pair(va, sa, vb, sb, room)
    return float(value[rows[fixed], pick[fixed]].sum() + total)


def _subset_sums(values: np.ndarray) -> np.ndarray:
    sums = np.zeros(1)
    for v in values:
        sums = np.concatenate([sums, sums + v])
    return sums


def _range_argmax(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For each inclusive range [lo, hi] (lo <= hi) of ``values``, the index of its largest entry (a sparse
    table of argmaxes, one level per power of two)."""
    table, width = [np.arange(len(values))], 1
    while 2 * width <= len(values):
        prev = table[-1]
        a, b = prev[: len(values) - 2 * width + 1], prev[width: len(values) - width + 1]
        table.append(np.where(values[a] >= values[b], a, b))
        width *= 2
    level = np.floor(np.log2(hi - lo + 1)).astype(np.int64)
    out = np.empty(len(lo), np.int64)
    for k in np.unique(level):
        m = level == k
        a, b = table[k][lo[m]], table[k][hi[m] - (1 << int(k)) + 1]
        out[m] = np.where(values[a] >= values[b], a, b)
    return out


def best_fill(sizes: np.ndarray, prefs: np.ndarray, capacity: float, window: float) -> np.ndarray:
    """Step 2 for one gateway: the subset (a mask) with sizes adding up to within [capacity - window,
    capacity] that has the largest sum of ``prefs``; when no subset lies in the window, the fullest one."""
    n = len(sizes)
    if n == 0 or sizes.sum() <= capacity:
        return np.ones(n, bool)
    half = n // 2
    sa, sb = _subset_sums(sizes[:half]), _subset_sums(sizes[half:])
    pa, pb = _subset_sums(prefs[:half]), _subset_sums(prefs[half:])
    order = np.argsort(sb, kind="stable")
    sb, pb = sb[order], pb[order]
    first = np.argsort(-sa, kind="stable")  # ascending queries: numpy's search then walks the array once
    sa, pa = sa[first], pa[first]
    hi = np.searchsorted(sb, capacity - sa, side="right") - 1
    lo = np.searchsorted(sb, capacity - window - sa, side="left")
    inside = np.flatnonzero((hi >= lo) & (hi >= 0))
    if len(inside):
        jb = _range_argmax(pb, lo[inside], hi[inside])
        k = int(np.argmax(pa[inside] + pb[jb]))
        i, j = int(inside[k]), int(jb[k])
    else:
        total = np.where(hi >= 0, sa + sb[np.maximum(hi, 0)], -1.0)
        i = int(np.argmax(total))
        j = int(hi[i])
    i, j = int(first[i]), int(order[j])
    mask = np.zeros(n, bool)
    mask[:half] = [(i >> k) & 1 for k in range(half)]
    mask[half:] = [(j >> k) & 1 for k in range(n - half)]
    return mask


def _site_options(opts: SlotOptions, choice: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per task, its option of the chosen level on its gateway and at the edge (-1: none, or no such option)."""
    at = {SITE_GATEWAY: np.full(opts.n_tasks, -1), SITE_EDGE: np.full(opts.n_tasks, -1)}
    for o in range(opts.n_options):
        j = opts.task[o]
        if choice[j] == opts.level[o] + 1:
            best = at[int(opts.site[o])][j]
            if best < 0 or opts.accuracy[o] > opts.accuracy[best]:
                at[int(opts.site[o])][j] = o
    return at[SITE_GATEWAY], at[SITE_EDGE]


def split_sites(opts: SlotOptions, inst: Instance, choice: np.ndarray, kappa: np.ndarray,
                window: float) -> tuple[np.ndarray | None, float]:
    """Step 2: the options (sorted) of the chosen levels, each gateway's cache filled to within ``window``
    with the models that save the most ``kappa`` there (None when a cache overflows), and the gateways' free
    bits left unused."""
    gw, edge = _site_options(opts, choice)
    bits = opts.model_bits * opts.places
    chosen, unused = [], 0.0
    for g in range(opts.n_gateways):
        tasks = np.flatnonzero((inst.device_gateway[: opts.n_tasks] == g) & ((gw >= 0) | (edge >= 0)))
        both = tasks[(gw[tasks] >= 0) & (edge[tasks] >= 0)]
        only_gw = tasks[edge[tasks] < 0]
        chosen += [int(o) for o in edge[tasks[gw[tasks] < 0]]]
        room = float(opts.cache_free[g]) - bits[gw[only_gw]].sum()
        chosen += [int(o) for o in gw[only_gw]]
        prefs = kappa[edge[both]] - kappa[gw[both]]
        order = np.argsort(-np.abs(prefs), kind="stable")
        exact = both[order[max(len(both) - SPLIT_ITEMS, 0):]]
        keep = bits[gw[exact]].sum() * KEEP_FOR_SPLIT  # room the exact split needs to fill the cache closely
        for j in both[order[: max(len(both) - SPLIT_ITEMS, 0)]]:  # the clearest preferences, placed first
            to_gateway = kappa[edge[j]] > kappa[gw[j]] and bits[gw[j]] <= room - keep
            room -= bits[gw[j]] if to_gateway else 0.0
            chosen.append(int(gw[j] if to_gateway else edge[j]))
        if room < 0:
            return None, unused
        mask = best_fill(bits[gw[exact]], kappa[edge[exact]] - kappa[gw[exact]], room, window)
        chosen += [int(o) for o in np.where(mask, gw[exact], edge[exact])]
        unused += room - bits[gw[exact[mask]]].sum()
    chosen_arr = np.sort(np.array(chosen, np.int64))
    return (chosen_arr if opts.cache_fits(chosen_arr) else None), unused


def aggregate_incumbent(search: Any, inst: Instance, until: float) -> dict[str, Any]:
    """Steps 1-3 (module doc) until ``until`` (``time.perf_counter``) or the first assignment the oracle
    accepts; every assignment goes through ``search.judge``. Returns counters for ``info``."""
    opts: SlotOptions = search.opts
    started = time.perf_counter()
    value, size, total = cache_knapsack(opts)
    increments = _hull_increments(value, size)  # the same for every allowance
    waste = WASTE_SHARE * total
    tried = 0
    for _ in range(MAX_WASTE_STEPS):
        choice = choose_levels(value, size, total - waste, increments=increments)
        kappa = option_costs(opts, search.prices) if search.prices is not None else np.zeros(opts.n_options)
        last, unused = b"", 0.0
        for _ in range(MAX_SPLITS):
            if time.perf_counter() >= until:
                return {"tried": tried, "feasible": 0, "waste_share": None, "seconds": time.perf_counter() - started}
            chosen, unused = split_sites(opts, inst, choice, kappa, waste / max(opts.n_gateways, 1))
            if chosen is None or chosen.tobytes() == last:
                break  # the edge overflows, or the costs no longer move the split: a wider window
            last = chosen.tobytes()
            tried += 1
            if search.judge(chosen) == FEASIBLE:
                return {"tried": tried, "feasible": 1, "waste_share": waste / total,
                        "seconds": time.perf_counter() - started}
            if search.prices is None:
                break
            kappa = kappa + option_costs(opts, search.prices)
        waste = max(waste * WASTE_GROWTH, unused + waste)  # at least what the gateways could not fill
    return {"tried": tried, "feasible": 0, "waste_share": None, "seconds": time.perf_counter() - started}


__all__ = ["BOUND_LOG2", "CORE_TASKS", "MAX_SPLITS", "SPLIT_ITEMS", "WASTE_SHARE", "aggregate_incumbent",
           "best_fill", "cache_knapsack", "choose_levels", "knapsack_bound", "split_sites"]
