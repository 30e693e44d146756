"""A primal heuristic for large cache-bound slots: pack the caches gateway by gateway (docs/exact.md, section 4).

On scarce slots with a cold cache the LP relaxation prices every bit of cache alike, so it treats the caches
as one pool; an integer answer must fill each of the G + 1 caches almost exactly (docs/exact.md, section 6),
a subset-sum search at which a MILP solver's heuristics are poor. This heuristic does it directly:

1. prices from the last LP: each option's pool cost ``kappa_o`` (the duals of the resource cuts times its
   coefficients) and the edge cache's price per bit ``pi_e``;
2. for each gateway g, an exact dynamic programme over g's free cache (sizes rounded *up* to a unit of
   about 1/:data:`CACHE_UNITS` of the cache, so what it packs fits) chooses one option or none per task of
   g: a gateway option earns ``U/N - kappa_o`` and uses cache g, an edge option earns ``U/N - kappa_o - pi_e S``
   and leaves cache g alone;
3. the edge cache is then repaired (the least valuable bits per unit of value removed) or filled (the best
   value per bit added) with the exact sizes;
4. the assignment is judged by the oracle like any other; several edge prices around ``pi_e`` are tried.

It only proposes assignments: every one is judged (cache check and oracle) before it can become an
incumbent, so it cannot make the solver wrong, only faster.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from solvers.exact.options import SlotOptions
from solvers.exact.oracle import FEASIBLE, option_costs
from tadp.decision import SITE_EDGE
from tadp.instance import Instance

#: Units of each gateway's cache in the dynamic programme (the rounding loses at most one unit per model).
CACHE_UNITS = 40_000
#: Slots with fewer tasks are left to the MILP alone (their caches are small and few).
MIN_TASKS = 300
#: Factors on the LP's edge price tried in turn while no cut has been met (the DP's edge load is sensitive).
EDGE_PRICE_FACTORS = (1.0, 0.9995, 1.0005)
#: Most packings tried, and the share of the time left they may take.
MAX_ATTEMPTS = 8
PACKING_SHARE = 0.2
#: First multiplier of a cut's coefficients in the profits (a cut coefficient is about 1/N; an option's
#: profit differences are about 0.05/N).
INITIAL_PENALTY = 1e-3
#: The bisection on the penalty stops when its bracket is this narrow (relative).
BISECTION_TOL = 0.05
_CUT_ROWS = ("uplink_band", "bs_band", "gateway_compute", "edge_compute")


def gateway_dp(values: list[np.ndarray], weights: list[np.ndarray], capacity: int) -> list[int]:
    """Exact multiple-choice knapsack by dynamic programming: per item a list of choices (value, integer
    weight), choice 0 of weight 0; the choice per item that maximises the total value within ``capacity``."""
    best = np.zeros(capacity + 1)
    picks = []
    for vals, wts in zip(values, weights, strict=True):
        new = best + vals[0]
        pick = np.zeros(capacity + 1, np.int8)
        for k in range(1, len(vals)):
            w = int(wts[k])
            if w > capacity:
                continue
            cand = best[: capacity + 1 - w] + vals[k]
            better = cand > new[w:]
            new[w:] = np.where(better, cand, new[w:])
            pick[w:] = np.where(better, k, pick[w:])
        best = new
        picks.append(pick)
    c = int(np.argmax(best))
    chosen = []
    for pick, wts in zip(reversed(picks), reversed(weights), strict=True):
        k = int(pick[c])
        chosen.append(k)
        c -= int(wts[k])
    return chosen[::-1]


def _pack_gateway(opts: SlotOptions, g: int, tasks: np.ndarray, profit: np.ndarray, edge_price: float) -> list[int]:
    """Step 2 for gateway g's tasks: the chosen option per task (-1: none)."""
    free = float(opts.cache_free[g])
    unit = max(free / CACHE_UNITS, 1.0)
    capacity = int(free / unit)
    values, weights, options = [], [], []
    for j in tasks:
        own = opts.options_of(int(j))
        bits = opts.model_bits[own] * opts.places[own]
        at_edge = opts.site[own] == SITE_EDGE
        worth = profit[own] - np.where(at_edge, edge_price * bits, 0.0)
        zero = [-1] + [int(o) for o in own[at_edge]]
        zero_worth = [0.0] + list(worth[at_edge])
        k0 = int(np.argmax(zero_worth))
        gw = own[~at_edge]
        values.append(np.array([zero_worth[k0]] + list(worth[~at_edge])))
        weights.append(np.array([0] + list(np.ceil(bits[~at_edge] / unit - 1e-9).astype(int))))
        options.append([zero[k0]] + [int(o) for o in gw])
    picks = gateway_dp(values, weights, capacity)
    return [options[i][k] for i, k in enumerate(picks)]


def _edge_repair(opts: SlotOptions, chosen: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Step 3: fit the edge cache exactly, then fill it. ``chosen``: option or -1 per task."""
    edge_node = opts.n_gateways
    room = float(opts.cache_free[edge_node])
    served = chosen >= 0
    on_edge = served & (opts.site[np.maximum(chosen, 0)] == SITE_EDGE)
    bits = np.where(served, opts.model_bits[np.maximum(chosen, 0)] * opts.places[np.maximum(chosen, 0)], 0.0)
    used = float(bits[on_edge].sum())
    # alternatives at the edge for each task: the edge options of the task (or none)
    while used > room:  # drop the edge model with the least value per bit (its task goes unserved)
        cand = np.flatnonzero(on_edge & (bits > 0))
        if len(cand) == 0:
            break
        worst = cand[np.argmin(value[chosen[cand]] / bits[cand])]
        chosen[worst], on_edge[worst] = -1, False
        used -= bits[worst]
    for _ in range(len(chosen)):  # fill: the best edge upgrade per bit that still fits
        best, best_rate = None, 0.0
        for j in np.flatnonzero(~served | on_edge):
            for o in opts.options_of(int(j)):
                if opts.site[o] != SITE_EDGE:
                    continue
                extra = opts.model_bits[o] * opts.places[o] - (bits[j] if on_edge[j] else 0.0)
                gain = value[o] - (value[chosen[j]] if chosen[j] >= 0 else 0.0)
                if gain > 1e-15 and extra <= room - used:
                    rate = gain / max(extra, 1.0)
                    if rate > best_rate:
                        best, best_rate = (int(j), int(o), extra), rate
        if best is None:
            break
        j, o, extra = best
        chosen[j], on_edge[j], served[j] = o, True, True
        bits[j] = opts.model_bits[o] * opts.places[o]
        used += extra
    return chosen


def pack_incumbent(search: Any, inst: Instance) -> dict[str, Any] | None:
    """Steps 1-4 (module doc) on the search's last LP; every assignment goes through ``search.judge``. An
    assignment the oracle rejects brings its cut's coefficients ``c_o`` into the profits with a multiplier
    (a Lagrangian penalty on that cut), doubled while it is violated and eased after each success."""
    opts: SlotOptions = search.opts
    if opts.n_tasks < MIN_TASKS or search.lp_values is None:
        return None
    started = time.perf_counter()
    budget = started + PACKING_SHARE * max(search.deadline - started, 0.0)
    model = search.model
    duals = model.row_duals()
    names = model.row_names
    first_cut = next(k for k, name in enumerate(names) if name.startswith(_CUT_ROWS))
    profit = opts.accuracy / opts.n_tasks - _pool_costs(model, duals, first_cut)
    capacity = np.append(inst.gateway_cache, inst.edge_cache)
    edge_price = duals[names.index("edge_cache")] / capacity[-1] if "edge_cache" in names else 0.0
    by_gateway = [np.flatnonzero(inst.device_gateway == g) for g in range(opts.n_gateways)]
    by_gateway = [tasks[np.isin(tasks, opts.task)] for tasks in by_gateway]
    tried, feasible = _bisect_penalty(search, opts, inst, by_gateway, profit, edge_price, budget)
    return {"tried": tried, "feasible": feasible, "seconds": time.perf_counter() - started}


def _bisect_penalty(search: Any, opts: SlotOptions, inst: Instance, by_gateway: list[np.ndarray],
                    profit: np.ndarray, edge_price: float, budget: float) -> tuple[int, int]:
    """Packings with the cuts met as a penalty on the profits, its multiplier bisected between a value the
    oracle rejected and one it accepted; returns the packings tried and accepted."""
    penalty = np.zeros(opts.n_options)  # the sum of c_o over the cuts met
    low, high = 0.0, np.inf
    tried = feasible = 0
    for attempt in range(MAX_ATTEMPTS):
        if time.perf_counter() >= budget:
            break
        factor = EDGE_PRICE_FACTORS[attempt % len(EDGE_PRICE_FACTORS)] if not penalty.any() else 1.0
        weight = 0.0 if not penalty.any() else (INITIAL_PENALTY if low == 0 and high == np.inf else
                                                 low * 4 if high == np.inf else high / 8 if low == 0 else
                                                 float(np.sqrt(low * high)))
        chosen = np.full(opts.n_tasks, -1)
        for g, tasks in enumerate(by_gateway):
            if len(tasks):
                chosen[tasks] = _pack_gateway(opts, g, tasks, profit - weight * penalty, edge_price * factor)
        chosen = _edge_repair(opts, chosen, profit - weight * penalty)
        tried += 1
        if search.judge(np.sort(chosen[chosen >= 0])) == FEASIBLE:
            feasible += 1
            high = weight
            if not penalty.any() or high <= low * (1 + BISECTION_TOL):
                break
            continue
        if search.prices is None:
            break
        if penalty.any():
            low = weight
        penalty = penalty + option_costs(opts, search.prices)
    return tried, feasible


def _cache_node(name: str, n_gateways: int) -> int | None:
    if name == "edge_cache":
        return n_gateways
    if name.startswith("gateway_cache["):
        return int(name[len("gateway_cache["):-1])
    return None


def _pool_costs(model: Any, duals: np.ndarray, first_cut: int) -> np.ndarray:
    """kappa_o: the duals of the resource-cut rows (from ``first_cut`` on) times option o's coefficients."""
    lp = model.highs.getLp()
    a = lp.a_matrix_
    start, index, value = np.asarray(a.start_), np.asarray(a.index_), np.asarray(a.value_)
    kappa = np.zeros(model.n_cols)
    weight = np.where(np.arange(len(duals)) >= first_cut, duals, 0.0)
    if a.format_ == a.format_.kColwise:
        cols = np.repeat(np.arange(lp.num_col_), np.diff(start))
        np.add.at(kappa, cols, value * weight[index])
    else:
        rows = np.repeat(np.arange(lp.num_row_), np.diff(start))
        np.add.at(kappa, index, value * weight[rows])
    return kappa


__all__ = ["CACHE_UNITS", "EDGE_PRICE_FACTORS", "MIN_TASKS", "gateway_dp", "pack_incumbent"]
