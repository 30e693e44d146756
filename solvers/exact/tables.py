"""Small slots: every assignment worth more than a threshold, from two gateway tables (docs/exact.md, section 4).

On a small slot (two gateways of 3-6 devices) HiGHS spends 20-40 ms on every MILP however few its nodes (its
root cut loop and heuristics are built for larger models), and the LP relaxation is weak there: the caches are
knapsacks holding two to five models each. The slot is small enough to be written out instead:

1. **Gateway tables** (:func:`gateway_tables`). Per gateway, every combination of its tasks' choices (none or
   one option each) whose models fit every cache, with its value (sum of accuracies), the bits it places per
   cache, and its load on every resource cut met so far (the sum of its options' costs at the cut's prices).
   A gateway's own cache holds only its tasks' models, so most combinations are discarded here. A slot with more
   than :data:`MAX_TABLES` gateways, or a gateway with more than :data:`MAX_TABLE` combinations, is left to the
   MILP.
2. **Candidates above a threshold tau** (:func:`candidates`). The two tables are merged into the full assignments
   worth tau or more that fit the edge cache and every cut. Only the edge cache is shared, so the second
   table's rows are put in buckets by their edge bits, each sorted by value: a row of the first is paired only
   with buckets whose lightest row fits the room it leaves, and only with their rows worth enough. Every
   assignment of the slot that fits the caches and is worth tau or more, and is not proven infeasible by a cut
   (its load above 1: the cut's dual value exceeds 1; loads are >= 0, so a part above 1 dooms the whole), is a
   candidate.
3. **Judged best first** (:meth:`TableSearch.run`). The candidates are judged by the oracle in order of value.
   The first feasible one is the optimum: every assignment worth more was a candidate and was proven infeasible
   (an uncertain one's value stays in the bound, as in the MILP loop). A rejected one brings its cut, which
   drops other candidates. When all are rejected, no assignment worth tau or more is feasible: tau is a bound,
   and the next threshold lies lower, as far as keeps the pairs to weigh near :data:`CHUNK` (counted before any
   is formed). Once the threshold reaches the incumbent, the incumbent is proven optimal.

Only the judging is the oracle's; the tables and cuts only decide which assignments it sees, and they leave out
only assignments proven infeasible (by a cache or a cut). When :data:`MAX_WEIGHED` pairs have been weighed or
:data:`MAX_JUDGED` candidates judged, the search stops with the bound it has proven, and the LP rounds and the
MILP loop go on from there with every cut met.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from solvers.exact.options import SlotOptions
from solvers.exact.oracle import FEASIBLE, option_costs
from tadp.instance import Instance

if TYPE_CHECKING:  # the search drives this module; no import cycle at run time
    from solvers.exact.search import DirectSearch

#: Most gateways (two tables merge exactly by edge bits; three or more would need a bound on the tables still to
#: merge, and the merged tables grow: docs/measurements.md).
MAX_TABLES = 2
#: Most combinations of one gateway's tasks' choices (counted before the caches prune any: two gateways of 6 tasks
#: with four options each, 15,625).
MAX_TABLE = 30_000
#: Pairs a threshold aims to weigh; most pairs weighed in all thresholds of a search; most candidates judged.
CHUNK = 20_000
MAX_WEIGHED = 200_000
MAX_JUDGED = 100
#: Caches are checked here with this slack (relative to capacity; the oracle's judge checks them exactly), cut
#: loads with this one, and values reach a threshold within this one (sums in another order than the oracle's):
#: rounding never drops an assignment that fits.
CACHE_SLACK = 1e-9
CUT_SLACK = 1e-9
SUM_SLACK = 1e-9
#: The first threshold lies this share of the best conceivable value below it.
FIRST_STEP = 3e-3
#: Buckets (by edge bits) of the second table's rows.
BUCKETS = 16


@dataclass(eq=False)
class Table:
    """Rows of partial assignments: the options chosen (-1: none) for ``tasks``, their value (sum of
    accuracies), the bits they place in each cache (G + 1 columns, the edge's last) and their load on each cut
    applied so far."""

    tasks: np.ndarray
    chosen: np.ndarray  # (rows, len(tasks)) option indices or -1
    value: np.ndarray  # (rows,)
    bits: np.ndarray  # (rows, G + 1)
    load: np.ndarray  # (rows, cuts)

    def rows(self, keep: np.ndarray) -> Table:
        return Table(self.tasks, self.chosen[keep], self.value[keep], self.bits[keep], self.load[keep])

    def with_cuts(self, cuts: list[np.ndarray]) -> Table:
        """The rows within every one of ``cuts`` (costs per option, "none" last), their loads appended."""
        if not cuts:
            return self
        load = _loads(self.chosen, cuts)
        keep = (load <= 1 + CUT_SLACK).all(axis=1)
        return Table(self.tasks, self.chosen[keep], self.value[keep], self.bits[keep],
                     np.hstack([self.load[keep], load[keep]]))


def _loads(chosen: np.ndarray, cuts: list[np.ndarray]) -> np.ndarray:
    """(rows, cuts): each row's load on each cut, the sum of its options' costs ("none", index -1, costs 0)."""
    return np.column_stack([cut[chosen].sum(axis=1) for cut in cuts])


def gateway_tables(opts: SlotOptions, inst: Instance) -> list[Table] | None:
    """Step 1 of the module doc, before any cut: two tables (the second with one empty row when the slot has one
    gateway with tasks), or None when a gateway's tasks have more than :data:`MAX_TABLE` combinations, more than
    :data:`MAX_TABLES` gateways have tasks, or no task has an option."""
    g_count = opts.n_gateways
    free = opts.cache_free * (1 + CACHE_SLACK)
    placed = np.zeros((opts.n_options, g_count + 1))
    rows = np.flatnonzero(opts.places)
    placed[rows, opts.cache_pool[rows]] = opts.model_bits[rows]
    served = [np.array([j for j in np.flatnonzero(inst.device_gateway == g) if len(opts.options_of(j))], int)
              for g in range(g_count)]
    served = [tasks for tasks in served if len(tasks)]
    if not served or len(served) > MAX_TABLES:
        return None
    if any(np.prod([len(opts.options_of(j)) + 1.0 for j in tasks]) > MAX_TABLE for tasks in served):
        return None  # every combination counted before the caches prune any: no table is built in vain
    tables = []
    for tasks in served:
        chosen, value, bits = np.zeros((1, 0), int), np.zeros(1), np.zeros((1, g_count + 1))
        for j in tasks:
            choices = np.append(-1, opts.options_of(j))
            k, n = len(choices), len(value)
            chosen = np.hstack([np.repeat(chosen, k, axis=0), np.tile(choices, n)[:, None]])
            value = np.repeat(value, k) + np.tile(np.where(choices >= 0, opts.accuracy[choices], 0.0), n)
            bits = np.repeat(bits, k, axis=0) + np.tile(np.where(choices[:, None] >= 0, placed[choices], 0.0), (n, 1))
            fits = (bits <= free).all(axis=1)
            chosen, value, bits = chosen[fits], value[fits], bits[fits]
        tables.append(Table(tasks, chosen, value, bits, np.zeros((len(value), 0))))
    if len(tables) == 1:
        tables.append(Table(np.zeros(0, int), np.zeros((1, 0), int), np.zeros(1), np.zeros((1, g_count + 1)),
                            np.zeros((1, 0))))
    return tables


class _Pairing:
    """The second table's rows in buckets by edge bits, each bucket sorted by value (step 2 of the module doc),
    and the first table's room on the edge; :meth:`counts` gives, per bucket, how many rows of the bucket each
    row of the first table is paired with at a threshold."""

    def __init__(self, a: Table, b: Table, free: np.ndarray) -> None:
        a = a.rows(np.argsort(-a.value, kind="stable"))  # best first: only a prefix can reach a threshold
        self.a, self.b, self.free, self.b_best = a, b, free, float(b.value.max())
        edge = b.bits[:, -1]
        rank = np.argsort(np.argsort(edge, kind="stable"), kind="stable")
        bucket = np.minimum(rank * BUCKETS // max(len(edge), 1), BUCKETS - 1)
        order = np.lexsort((-b.value, bucket))
        starts = np.searchsorted(bucket[order], np.arange(BUCKETS + 1))
        self.buckets = [order[starts[k]:starts[k + 1]] for k in range(BUCKETS) if starts[k + 1] > starts[k]]
        self.lightest = [float(edge[rows].min()) for rows in self.buckets]
        self.room = free[-1] - a.bits[:, -1]

    def counts(self, least: float) -> list[np.ndarray]:
        reach = int(np.searchsorted(-self.a.value, -(least - self.b_best), side="right"))
        need, room = least - self.a.value[:reach], self.room[:reach]
        out = []
        for rows, lightest in zip(self.buckets, self.lightest, strict=True):
            counts = np.searchsorted(-self.b.value[rows], -need, side="right")
            counts[room < lightest] = 0
            out.append(counts)
        return out

    def weighed(self, least: float) -> int:
        return int(sum(c.sum() for c in self.counts(least)))

    def candidates(self, least: float) -> Table:
        """Every pair worth ``least`` or more that fits the caches and the cuts, best first."""
        a, b = self.a, self.b
        pairs_a, pairs_b = [], []
        for rows, counts in zip(self.buckets, self.counts(least), strict=True):
            pairs_a.append(np.repeat(np.arange(len(counts)), counts))
            pairs_b.append(rows[np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)])
        ia = np.concatenate(pairs_a) if pairs_a else np.zeros(0, int)
        ib = np.concatenate(pairs_b) if pairs_b else np.zeros(0, int)
        bits, load = a.bits[ia] + b.bits[ib], a.load[ia] + b.load[ib]
        keep = (bits <= self.free).all(axis=1) & (load <= 1 + CUT_SLACK).all(axis=1)
        ia, ib = ia[keep], ib[keep]
        value = a.value[ia] + b.value[ib]
        order = np.argsort(-value, kind="stable")
        ia, ib = ia[order], ib[order]
        return Table(np.concatenate([a.tasks, b.tasks]), np.hstack([a.chosen[ia], b.chosen[ib]]), value[order],
                     bits[keep][order], load[keep][order])


def candidates(tables: list[Table], least: float, free: np.ndarray) -> Table:
    """Every assignment of the two ``tables`` merged that fits the caches and the tables' cuts and is worth
    ``least`` or more (sum of accuracies, within :data:`SUM_SLACK`), best first."""
    return _Pairing(*tables, free).candidates(least - SUM_SLACK)


def _top(tables: list[Table], free: np.ndarray) -> float:
    """The most an assignment fitting the caches and the tables' cuts can be worth, at least (the best row of the
    second table within the edge room each row of the first leaves; cuts are not added up across the two)."""
    a, b = tables
    order = np.argsort(b.bits[:, -1], kind="stable")
    edge, best = b.bits[order, -1], np.maximum.accumulate(b.value[order])
    fit = np.searchsorted(edge, free[-1] - a.bits[:, -1], side="right")
    worth = np.where(fit > 0, a.value + best[np.maximum(fit - 1, 0)], -np.inf)
    return float(worth.max())


class TableSearch:
    """The module's search on one slot: the gateway tables, built once, and the cuts met so far."""

    def __init__(self, search: DirectSearch, tables: list[Table]) -> None:
        self.search, self.tables = search, tables
        self.free = search.opts.cache_free * (1 + CACHE_SLACK)
        self.cuts = [self._costs(p) for p in np.eye(search.opts.n_pools)]  # the model's single-pool rows
        self.known = 0  # the search's cuts taken in so far
        self.applied = 0  # cuts applied to the tables so far
        self.info: dict[str, Any] = {"thresholds": 0, "candidates": 0, "judged": 0, "pairs": 0}

    @classmethod
    def build(cls, search: DirectSearch, inst: Instance) -> TableSearch | None:
        """None when the slot is not for tables (module doc, step 1)."""
        tables = gateway_tables(search.opts, inst)
        return cls(search, tables) if tables else None

    def _costs(self, prices: np.ndarray) -> np.ndarray:
        """The cut of ``prices`` as costs per option, with a 0 for "none" (index -1), normalised so that a
        feasible assignment's costs sum to at most 1."""
        prices = np.asarray(prices, float)
        return np.append(option_costs(self.search.opts, prices / prices.sum()), 0.0)

    def _take_cuts(self) -> list[np.ndarray]:
        """The cuts the search met since the last call (the model's and the queued ones), as costs."""
        met = [*self.search.model.cut_prices, *self.search.pending]
        new = [self._costs(p) for p in met[self.known:]]
        self.known = len(met)
        self.cuts += new
        return new

    def _apply_cuts(self) -> None:
        self.tables = [t.with_cuts(self.cuts[self.applied:]) for t in self.tables]
        self.applied = len(self.cuts)

    def _next_least(self, pairing: _Pairing, high: float, step: float, floor: float) -> tuple[float, float]:
        """The next threshold below ``high``: ``step`` below it, halved while that would weigh more than
        :data:`CHUNK` pairs (never below ``floor``); and the step taken."""
        while step > 1e-9 and high - step > floor and pairing.weighed(high - step - SUM_SLACK) > CHUNK:
            step /= 2
        return max(high - step, floor), step

    def run(self, deadline: float, max_thresholds: int | None = None, max_weighed: int | None = None
            ) -> dict[str, Any]:
        """Thresholds from the least bound down (module doc, steps 2-3), until proven, ``deadline``
        (``time.perf_counter``), ``max_thresholds``, or ``max_weighed`` (:data:`MAX_WEIGHED`) pairs weighed in all
        runs; the counters."""
        search, info, n = self.search, self.info, self.search.opts.n_tasks
        max_weighed = min(MAX_WEIGHED, max_weighed or MAX_WEIGHED)
        info.pop("stopped", None)
        floor = search.best.value * n
        self._take_cuts()
        self._apply_cuts()
        # nothing worth more than the search's bound is feasible, no candidate is worth more than _top
        top = min(search.upper() * n, _top(self.tables, self.free)) + SUM_SLACK
        step, rounds = max(top * FIRST_STEP, 1e-9), 0
        while time.perf_counter() < deadline and not search.proven():
            if max_thresholds is not None and rounds >= max_thresholds:
                info["stopped"] = "thresholds"
                return info
            pairing = _Pairing(*self.tables, self.free)
            least, step = self._next_least(pairing, top, step, floor)
            weighed = pairing.weighed(least - SUM_SLACK)
            if info["pairs"] + weighed > max_weighed:
                info["stopped"] = "pairs weighed"
                return info
            found = pairing.candidates(least - SUM_SLACK)
            info["pairs"] += weighed
            info["thresholds"] += 1
            rounds += 1
            alive = found.value < top  # those worth more were judged at an earlier threshold
            info["candidates"] += int(alive.sum())
            if self._judge_best(found, alive) or "stopped" in info:
                return info
            # no assignment worth ``least`` or more is feasible (an uncertain one's value is kept in the bound)
            search.bound = min(search.bound, max(least / n, search.best.value))
            if least <= floor:
                break  # the incumbent was a candidate; it cannot have been rejected
            self._apply_cuts()
            top = least + SUM_SLACK
            step *= 4
        return info

    def _judge_best(self, found: Table, alive: np.ndarray) -> bool:
        """Judge the live candidates best first; True when one is feasible (the optimum: module doc, step 3)."""
        search, info = self.search, self.info
        for row in np.flatnonzero(alive):
            if not alive[row]:
                continue
            chosen = np.sort(found.chosen[row][found.chosen[row] >= 0])
            if len(chosen) == 0:  # serving nobody is always feasible
                search.bound = min(search.bound, search.best.value)
                return True
            if info["judged"] >= MAX_JUDGED:
                info["stopped"] = "judged enough"
                return False
            info["judged"] += 1
            if search.judge(chosen) == FEASIBLE:
                search.bound = min(search.bound, found.value[row] / search.opts.n_tasks)  # all better were rejected
                return True
            new = self._take_cuts()
            if new:
                alive &= (_loads(found.chosen, new) <= 1 + CUT_SLACK).all(axis=1)
        return False


__all__ = ["CHUNK", "MAX_JUDGED", "MAX_TABLE", "MAX_TABLES", "MAX_WEIGHED", "Table", "TableSearch", "candidates",
           "gateway_tables"]
