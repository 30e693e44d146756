"""The fast exact slot solver: outer approximation on the slot model built directly in HiGHS (docs/exact.md,
section 4).

The algorithm is the one of :mod:`solvers.exact.highs` (docs/exact.md, section 3), with these changes:

1. the model is built from the options' arrays through ``highspy`` (:class:`solvers.exact.direct.DirectModel`,
   the same rows as the Pyomo model);
2. the oracle is :func:`solvers.exact.oracle.solve_dual`: warm-started from the last prices, stopping at the
   verdict (incumbents) or at a gap of 1e-7 (separation);
3. an integral LP point is judged as an assignment, and the LP point is rounded to a true incumbent
   (:func:`rounded_incumbent`); when the incumbent reaches the LP bound within ``mip_gap`` no MILP is
   solved at all; on large cold slots the MILP shares the time with the cache packing of
   :mod:`solvers.exact.packing` and the neighbourhood search of :mod:`solvers.exact.neighbourhood`;
4. every incumbent HiGHS meets is judged the moment it is met; one the oracle rejects stops the MILP at once
   (its value would prune the tree against a false bound), its cut goes in and the MILP is solved again,
   the best true incumbent as MIP start;
5. on small slots (two gateways, at most :data:`TABLE_TASKS` tasks) the MILP gives way to the gateway tables of
   :mod:`solvers.exact.tables`: every assignment above a falling threshold, judged best first; where the caches
   bind (:func:`caches_bind`) they run first, before any LP;
6. on mid-size slots (three gateways or more, up to :data:`CPSAT_TASKS` tasks) the MILP rounds are solved by CP-SAT
   (:mod:`solvers.exact.master_cpsat`) on the same rows, rounded outward to integers.

The bound is, as before, the least of the LP and MILP bounds, each a bound on a relaxation of the slot
problem (valid cuts only), raised to the values of excluded knife-edge assignments.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.exact import packing
from solvers.exact.aggregate import aggregate_incumbent, cache_knapsack, knapsack_bound
from solvers.exact.direct import DirectModel, time_left
from solvers.exact.neighbourhood import improve
from solvers.exact.oa import ROOT_SEPARATION_TOL, Incumbent, OaRounds, relative_gap
from solvers.exact.options import SlotOptions, slot_options, trivial_bound
from solvers.exact.oracle import FEASIBLE, INFEASIBLE, UNCERTAIN, schedule_decision, solve_dual
from solvers.exact.tables import TableSearch
from tadp.decision import Decision
from tadp.instance import Cache, Instance

#: Most LP rounds of separation before the first MILP (as :data:`solvers.exact.model.ROOT_ROUNDS`).
ROOT_ROUNDS = 60
#: Gap to which the oracle closes its certificates when it separates an LP point: deep enough cuts,
#: far fewer Newton steps than the full 1e-10.
SEPARATION_GAP = 1e-7
#: On large slots (:data:`solvers.exact.packing.MIN_TASKS` tasks and more) a first MILP phase runs until
#: this share of the time limit, the packing and the neighbourhood search until the next, the MILP again
#: with the rest (docs/exact.md, section 4).
FIRST_MILP_SHARE = 0.1
#: ... when at least this share of the options would place their model (a cold cache: every cache must be
#: packed); warm slots have few placements left, and the MILP alone proves them (docs/exact.md, section 6).
COLD_PLACING_SHARE = 0.9
NEIGHBOURHOOD_SHARE = 0.85
#: ... and before them, the levels-then-sites heuristic of :mod:`solvers.exact.aggregate` may take up to this
#: share (0.8 s per split at 100x35, up to three splits there; the first MILP phase gets what it leaves).
AGGREGATE_SHARE = 0.2
#: Slots of at most this many tasks are searched by gateway tables (:mod:`solvers.exact.tables`) after the LP
#: rounds, from their bound; those whose caches bind (:func:`caches_bind`) also before, for at most this many
#: thresholds and pairs weighed (the tables keep the caches exactly, the LP does not).
TABLE_TASKS = 24
FIRST_THRESHOLDS = 4
FIRST_WEIGHED = 50_000
#: Slots of at least this many gateways and at most this many tasks solve their MILP rounds with CP-SAT
#: (:mod:`solvers.exact.master_cpsat`): 1.5-3x faster than HiGHS in total on cold 3x10 to 6x10 scarce slots,
#: slower on 2x15 and on warm 10x35 slots (docs/measurements.md, session 23).
CPSAT_GATEWAYS = 3
CPSAT_TASKS = 60


@dataclass(eq=False)
class DirectSearch:
    """One slot's search on the direct model: the model, the best true incumbent, the least bound, every
    assignment judged so far, and the counters reported in ``info``."""

    model: DirectModel
    deadline: float
    oa: OaRounds
    bound: float
    best: Incumbent = field(default_factory=lambda: Incumbent(0.0))
    seen: dict[bytes, str] = field(default_factory=dict)
    uncertain_values: list[float] = field(default_factory=list)
    prices: np.ndarray | None = None  # the last prices the oracle found (warm start)
    pending: list[np.ndarray] = field(default_factory=list)  # cut prices found during a MILP, added after it
    excluded: list[np.ndarray] = field(default_factory=list)  # assignments to exclude after it (no-good cuts)
    excluded_keys: set[bytes] = field(default_factory=set)
    root_rounds: int = 0
    root_bound: float | None = None
    lp_values: np.ndarray | None = None

    @property
    def opts(self) -> SlotOptions:
        return self.model.opts

    def upper(self) -> float:
        """The least bound met, raised to the incumbent and to the excluded knife-edge values."""
        return max([self.bound, self.best.value] + self.uncertain_values)

    def proven(self) -> bool:
        return self.upper() - self.best.value <= self.oa.mip_gap * abs(self.best.value)

    # ---------------------------------------------------------------- the oracle
    def judge(self, chosen: np.ndarray) -> str:
        """The verdict on the assignment ``chosen`` (memoised): a feasible one may become the incumbent, an
        infeasible one gets the cut at its oracle prices (queued in :attr:`pending`), a knife-edge one is
        excluded with its value kept in the bound."""
        chosen = np.asarray(chosen, np.int64)
        key = chosen.tobytes()
        verdict = self.seen.get(key)
        if verdict is not None:
            return verdict
        opts = self.opts
        if not opts.cache_fits(chosen):
            self.seen[key] = INFEASIBLE
            return INFEASIBLE  # the MILP keeps C6 exactly: only a heuristic's candidate can get here
        cert = solve_dual(opts, chosen, prices=self.prices, decide_only=True)
        if cert.verdict == INFEASIBLE:
            cert = solve_dual(opts, chosen, prices=cert.prices, gap_tol=SEPARATION_GAP)  # a deeper cut
        verdict = self.seen[key] = cert.verdict
        value = opts.value(chosen)
        if verdict == FEASIBLE and value > self.best.value:
            self.best = Incumbent(value, [cert])
        elif verdict == INFEASIBLE:
            self.prices = cert.prices
            self.pending.append(cert.prices)
        elif verdict == UNCERTAIN:
            self.uncertain_values.append(value)
            self.excluded_keys.add(key)
            self.excluded.append(chosen)
        return verdict

    def flush(self) -> None:
        """Add the queued cuts and no-good cuts to the model (never while HiGHS runs)."""
        for prices in self.pending:
            if self.model.add_cut(prices):
                self.oa.cuts_added += 1
        for chosen in self.excluded:
            self.model.add_no_good(chosen)
        self.pending, self.excluded = [], []

    # ---------------------------------------------------------------- LP rounds
    def tighten(self) -> None:
        """Kelley's rounds on the LP relaxation: cut off its point while the oracle separates it."""
        model, opts = self.model, self.opts
        model.set_integrality(False)
        while self.root_rounds < ROOT_ROUNDS and time_left(self.deadline) > 0:
            run = model.solve(time_left(self.deadline))
            if run.status != "optimal" or run.values is None:
                break
            self.root_rounds += 1
            self.root_bound = run.objective
            self.bound = min(self.bound, run.objective)
            self.lp_values = run.values
            support = np.flatnonzero(run.values > 1e-9)
            if len(support) == 0:
                break
            if (run.values[support] >= 1 - 1e-9).all():  # an integral point: judge it as an assignment
                if self.judge(support) == FEASIBLE or not self.pending:
                    break  # a true incumbent at the LP bound, or a knife edge
                self.flush()
                continue
            cert = solve_dual(opts, support, weights=run.values[support], prices=self.prices, gap_tol=SEPARATION_GAP)
            if cert.lower <= 1.0 + ROOT_SEPARATION_TOL or not model.add_cut(cert.prices):
                break
            self.prices = cert.prices
        model.set_integrality(True)

    # ---------------------------------------------------------------- MILP rounds
    def _on_incumbent(self, x: np.ndarray) -> bool:
        """An incumbent HiGHS met: judged at once; False (stop the MILP) unless it is feasible, or when it
        closes the gap to a bound HiGHS does not know (the knapsack bound)."""
        chosen = np.flatnonzero(x > 0.5)
        self._exclude_if_back(chosen)
        return self.judge(chosen) == FEASIBLE and not self.proven()

    def _exclude_if_back(self, chosen: np.ndarray) -> None:
        """An assignment proven infeasible that comes back although its cut is in the model (a violation
        within HiGHS's tolerance) gets a no-good cut: exact, since it is proven infeasible."""
        key = np.asarray(chosen, np.int64).tobytes()
        if self.seen.get(key) == INFEASIBLE and key not in self.excluded_keys:
            self.excluded_keys.add(key)
            self.excluded.append(chosen)

    def milp_round(self) -> bool:
        """One MILP round (module doc, step 4); True when the loop ends."""
        start = None
        if self.best.certificates:
            start = np.zeros(self.model.n_cols)
            start[self.best.certificates[0].chosen] = 1.0
        run = self.model.solve(time_left(self.deadline), self.oa.solver_gap, start=start,
                               on_incumbent=self._on_incumbent)
        self.oa.count(run)  # type: ignore[arg-type]
        if run.status in ("optimal", "time_limit") and run.bound is not None and np.isfinite(run.bound):
            self.bound = min(self.bound, run.bound)
        final_ok = False
        if run.values is not None:
            chosen = np.flatnonzero(run.values > 0.5)
            self._exclude_if_back(chosen)
            final_ok = self.judge(chosen) == FEASIBLE
        self.flush()
        if run.status == "interrupted":
            return time_left(self.deadline) <= 0
        error = self.oa.failed(run)  # type: ignore[arg-type]
        if error is not None:
            return True
        return self.oa.finished(run, final_ok, self.upper(), self.best.value)  # type: ignore[arg-type]

    def milp_until(self, until: float) -> bool:
        """MILP rounds until the loop ends or ``until``; True when the loop has ended (proven, or stopped)."""
        saved, self.deadline = self.deadline, min(self.deadline, until)
        try:
            while time_left(self.deadline) > 0 and not self.proven():
                if self.milp_round():
                    return self.oa.status == "optimal" or time_left(saved) <= 0 or self.proven()
            return self.proven()
        finally:
            self.deadline = saved

    def solution(self, info: dict[str, Any]) -> tuple[Decision, str, float, float]:
        """The best true incumbent's decision, its status, value and the bound; counters into ``info``."""
        bound = self.upper()
        gap = relative_gap(bound, self.best.value)
        status = "optimal" if gap <= self.oa.mip_gap else self.oa.final_status(gap)
        if status == "optimal" and gap > self.oa.mip_gap:
            status = "time_limit"
        info.update(root_rounds=self.root_rounds, root_bound=self.root_bound, oa_rounds=self.oa.rounds,
                    nodes=self.oa.nodes, oa_cuts_added=self.oa.cuts_added, no_good_cuts=self.model.no_goods,
                    uncertain=len(self.uncertain_values), mip_gap=gap if self.best.value > 0 else None,
                    cuts=len(self.model.cut_prices))
        opts = self.opts
        decision = (schedule_decision(opts, self.best.certificates[0]) if self.best.certificates
                    else Decision.drop_all(opts.n_tasks))
        return decision, status, self.best.value, bound


def caches_bind(opts: SlotOptions) -> bool:
    """True when the caches, even added up, cannot hold a model of every task at its best accuracy (then no
    assignment serves every task at its best: the caches bind)."""
    value, size, capacity = cache_knapsack(opts)
    best = np.argmax(value, axis=1)
    return bool(size[np.arange(len(best)), best].sum() > capacity)


def rounded_incumbent(search: DirectSearch) -> None:
    """Judge the LP point's integral part, then add its fractional choices one task at a time (largest
    weight first) while the caches and every cut in the model still hold and the oracle accepts."""
    z = search.lp_values
    if z is None:
        return
    opts = search.opts
    base = np.flatnonzero(z >= 1 - 1e-6)
    if search.judge(base) != FEASIBLE:
        return
    chosen = list(base)
    fractional = np.flatnonzero((z > 1e-6) & (z < 1 - 1e-6))
    for o in fractional[np.argsort(-z[fractional])]:
        if time_left(search.deadline) <= 0:
            return
        if opts.task[o] in set(opts.task[chosen]):
            continue
        trial = np.array(sorted(chosen + [int(o)]))
        if search.judge(trial) == FEASIBLE:
            chosen = list(trial)


def solve_slot_direct(inst: Instance, slot: int, cache: Cache, *, time_limit: float, mip_gap: float = 1e-6,
                      threads: int | None = None, seed: int = 0, started: float | None = None,
                      aggregate: bool = True, pack: bool = True, neighbourhoods: bool = True, tables: bool = True,
                      cpsat: bool = True) -> tuple[Decision, str, float, float, dict[str, Any]]:
    """The slot's optimum by outer approximation on the direct model (module doc): the best true incumbent's
    decision (no keep flags), status, objective, a valid bound and the counters. ``tables`` switches the
    small-slot search off, ``cpsat`` the CP-SAT master of mid-size slots, ``aggregate``, ``pack`` and
    ``neighbourhoods`` the large-slot phases
    (``benchmarks/bench_exact_speed.py --ablation`` measures what each brings); the answer's guarantees do not
    depend on them."""
    started = time.perf_counter() if started is None else started
    deadline = started + time_limit
    opts = slot_options(inst, slot, cache)
    info: dict[str, Any] = {"options": opts.n_options, "dropped_options": opts.dropped, "mip_solver": "highs",
                            "engine": "direct"}
    bound = trivial_bound(opts)
    if opts.n_options == 0:
        return Decision.drop_all(opts.n_tasks), "optimal", 0.0, 0.0, info
    if time.perf_counter() >= deadline:
        return Decision.drop_all(opts.n_tasks), "time_limit", 0.0, bound, info
    model = DirectModel(inst, opts, threads=threads, seed=seed)
    search = DirectSearch(model, deadline, OaRounds(mip_gap), bound)
    info["build_s"] = time.perf_counter() - started
    small = tables and opts.n_tasks <= TABLE_TASKS
    if cpsat and opts.n_gateways >= CPSAT_GATEWAYS and opts.n_tasks <= CPSAT_TASKS:
        model.master = info["master"] = "cpsat"
    bind = small and caches_bind(opts)
    table = TableSearch.build(search, inst) if bind else None
    if table is not None:  # caches that cannot hold every task's best model: the tables first, before any LP
        info["tables"] = table.run(deadline, FIRST_THRESHOLDS, FIRST_WEIGHED)
        search.flush()
        if search.proven():
            decision, status, value, bound = search.solution(info)
            return decision, status, value, bound, info
    search.tighten()
    info["root_s"] = time.perf_counter() - started
    rounded_incumbent(search)
    search.flush()
    info["heuristic_value"] = search.best.value
    if not search.proven():  # the caches added up: a second relaxation (docs/exact.md, section 4)
        knapsack = knapsack_bound(*cache_knapsack(opts))
        if knapsack is not None:
            info["knapsack_bound"] = knapsack / opts.n_tasks
            search.bound = min(search.bound, info["knapsack_bound"])
    # large cold slots: the levels-then-sites heuristic, a first MILP phase, then packing and neighbourhoods for
    # the incumbent, then the MILP again with what is left; every phase ends once the gap is proven
    large_cold = ((aggregate or pack or neighbourhoods) and opts.n_tasks >= packing.MIN_TASKS
                  and opts.places.mean() >= COLD_PLACING_SHARE)
    if large_cold and aggregate and not search.proven():
        info["aggregate"] = aggregate_incumbent(search, inst, started + AGGREGATE_SHARE * time_limit)
        search.flush()
    if small and not search.proven():  # the tables (again), from the LP's bound down to the rounded incumbent
        table = table if bind else TableSearch.build(search, inst)
        if table is not None:
            info["tables"] = table.run(deadline)
            search.flush()
    if search.proven():
        search.oa.status = "optimal"
    elif large_cold:
        if not search.milp_until(started + FIRST_MILP_SHARE * time_limit):
            if pack and not search.proven():
                info["packing"] = packing.pack_incumbent(search, inst)
                search.flush()
            if neighbourhoods:
                info["neighbourhoods"] = improve(search, inst, started + NEIGHBOURHOOD_SHARE * time_limit, seed)
            search.milp_until(deadline)  # nothing to do once proven
    else:
        search.milp_until(deadline)
    decision, status, value, bound = search.solution(info)
    return decision, status, value, bound, info


__all__ = ["CPSAT_GATEWAYS", "CPSAT_TASKS", "ROOT_ROUNDS", "SEPARATION_GAP", "DirectSearch", "rounded_incumbent", "solve_slot_direct"]
