"""A greedy heuristic for one slot that needs no training: the bar learning must clear.

For every task and each of its four options (gateway or edge, light or heavy) the greedy
takes the smallest shares that let the task meet its deadline (:mod:`tadp.sizing`, shared
with the ``fit`` decoder), at a band price and a compute price.

Each option then has a demand vector over the pools (each gateway's band, compute and
cache room; the BS band; the edge compute and cache room). The slot is a
multi-dimensional knapsack, filled in two greedy phases:

1. **Serve** as many tasks as possible: repeatedly add the (task, option) whose demand,
   relative to the room left in each pool, is smallest (an extra completed task is worth
   about 0.9, far more than any upgrade).
2. **Upgrade** to heavy models: repeatedly apply the switch with the most accuracy gained
   per unit of extra relative demand, while it fits.

Last, each pool's shares are scaled up to fill the pool (every task only gets faster), and
the keep flags follow a keep rule (default ``used``: keep each served task's model where it
ran, evict the rest). The plan is built for a few pool-price settings and the evaluator
picks the best; every task's time budget is shrunk by a relative 1e-6 so rounding never
turns a planned completion into a miss. The decision goes through
:func:`solvers.base.finish`, so the evaluator verifies it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from solvers.base import Solver, SolveResult, apply_keep_rule, finish
from tadp.decision import SITE_NONE, Decision
from tadp.errors import TadpInputError
from tadp.evaluator import evaluate_batch
from tadp.instance import Cache, Instance
from tadp.sizing import OPTIONS, decision_of_choice, option_demands, pool_room

#: (band price, compute price) settings tried; the BS band is priced like the gateway band.
DEFAULT_PRICES = ((1.0, 1.0), (1.0, 3.0), (3.0, 1.0))


def plan(inst: Instance, data: np.ndarray, deadline: np.ndarray, noisy: np.ndarray, cache: Cache,
         band_price: float = 1.0, compute_price: float = 1.0) -> Decision:
    """The greedy decision (keep flags all False) for tasks (N,) from ``cache``, at the given pool prices."""
    n = inst.n_devices
    sized = option_demands(inst, data, deadline, cache, band_price, compute_price)
    demand, shares, possible = sized.demand, sized.shares, sized.possible
    accuracy = inst.accuracy[np.arange(n), np.asarray(noisy, int)]  # (N, level)
    value = accuracy[:, [level for _, level in OPTIONS]]  # (N, 4)
    room = pool_room(inst, cache)
    scale = room.copy()  # normalises demands into fractions of each pool
    scale[scale <= 0] = 1.0
    demand_frac = demand / scale
    choice = np.full(n, -1)

    # --- phase 1: serve the most tasks, cheapest relative demand first ---
    while True:
        left = np.maximum(room / scale, 1e-12)
        fits = possible & (choice < 0)[:, None] & (demand <= room + 1e-12 * scale).all(axis=-1)
        if not fits.any():
            break
        cost = np.where(fits, (demand_frac / left).sum(axis=-1), np.inf)
        j, k = np.unravel_index(np.argmin(cost), cost.shape)
        choice[j] = k
        room -= demand[j, k]

    # --- phase 2: upgrades to heavy models, most accuracy per extra relative demand first ---
    heavy_options = np.array([level == 1 for _, level in OPTIONS])
    while True:
        served = np.flatnonzero(choice >= 0)
        current = choice[served]
        extra = demand[served] - demand[served, current][:, None, :]  # (S, 4, P)
        gain = value[served] - value[served, current][:, None]
        fits = (possible[served] & heavy_options[None] & (gain > 0)
                & (extra <= room + 1e-12 * scale).all(axis=-1))
        if not fits.any():
            break
        left = np.maximum(room / scale, 1e-12)
        price = (np.maximum(extra, 0.0) / scale / left).sum(axis=-1)
        ratio = np.where(fits, gain / np.maximum(price, 1e-12), -np.inf)
        s, k = np.unravel_index(np.argmax(ratio), ratio.shape)
        choice[served[s]] = k
        room -= extra[s, k]

    # --- the decision: chosen shares, each pool scaled up to fill it ---
    return decision_of_choice(inst, choice, shares)


class GreedySolver(Solver):
    """Share-sizing greedy (module docstring). Options: ``keep`` (used, all, none; default used),
    ``prices`` (a list of (band price, compute price) pairs tried; default (1,1), (1,3), (3,1))."""

    name = "greedy"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        unknown = set(options) - {"keep", "prices"}
        if unknown:
            raise TadpInputError("argument", "greedy", f"unknown option(s) {', '.join(sorted(unknown))}")
        self.keep = str(options.get("keep", "used"))
        apply_keep_rule(Decision.drop_all(1), self.keep)  # validates the rule name
        prices = options.get("prices", DEFAULT_PRICES)
        try:
            self.prices = [(float(b), float(c)) for b, c in prices]
        except (TypeError, ValueError):
            raise TadpInputError("argument", "prices", f"expected (band, compute) pairs, got {prices!r}") from None
        if not self.prices or any(not (b > 0 and c > 0) for b, c in self.prices):
            raise TadpInputError("argument", "prices", f"expected positive (band, compute) pairs, got {prices!r}")

    def solve(self, inst: Instance, slot: int, cache: Cache, *, time_limit: float, seed: int = 0) -> SolveResult:
        started = time.perf_counter()
        data, deadline, noisy = inst.data[slot], inst.deadline[slot], inst.noisy[slot]
        plans = [apply_keep_rule(plan(inst, data, deadline, noisy, cache, b, c), self.keep) for b, c in self.prices]
        # --- the evaluator picks the best plan (ties: the first) ---
        k = len(plans)
        out = evaluate_batch(
            inst, np.full(k, slot), np.broadcast_to(cache.gateway, (k, *cache.gateway.shape)),
            np.broadcast_to(cache.edge, (k, *cache.edge.shape)),
            *(np.stack([getattr(p, f) for p in plans]) for f in
              ("site", "level", "uplink_share", "bs_share", "compute_share", "keep_gateway", "keep_edge")),
        )
        best = int(np.argmax(np.where(out.feasible, out.score, -1.0)))
        decision = plans[best]
        info = {"prices": list(self.prices[best]), "served": int((decision.site != SITE_NONE).sum()),
                "heavy": int(((decision.site != SITE_NONE) & (decision.level == 1)).sum())}
        return finish(inst, slot, cache, decision, status="feasible", objective=None, bound=None, bound_kind=None,
                      started=started, info=info)
