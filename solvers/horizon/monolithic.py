"""The clairvoyant horizon optimum, monolithic: one MILP over all slots, by outer approximation
(docs/exact_horizon.md, section 3).

The per-slot gap judges each slot on the cache the policy reached, so it never judges keep decisions
(omega, C7). The clairvoyant problem does: slots t0 .. t0+H-1 of the trace, the start cache of the first
one given, every later one chosen through the keep flags, maximise the episode score (the mean of the slot
scores). Every online policy's episode is a feasible point of it, so its optimum bounds every policy's
episode score from above.

:func:`solve_horizon` runs the same outer approximation as :func:`solvers.exact.highs.solve_slot` on the
horizon model (:func:`solvers.horizon.model.build_horizon_model`): HiGHS solves the MILP, the oracle
(:func:`solvers.exact.oracle.min_max_load`) judges each slot's served assignment of every incumbent, an
infeasible one gets the resource cut at its oracle prices (in its slot), and the loop ends when the MILP's
optimum is truly feasible (proven optimal) or at the time limit (best true incumbent and best MILP bound).
Infeasible incumbents are also *repaired* (:class:`solvers.horizon.judge.Judge`) and kept when they beat
the incumbent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.exact.backends import HighsBackend, MipResult
from solvers.exact.oa import LpRounds, OaRounds, choice_vector, lp_rounds, relative_gap, separating_prices
from solvers.exact.options import trivial_bound
from solvers.exact.oracle import FEASIBLE, INFEASIBLE, UNCERTAIN
from solvers.horizon.data import SERVE, HorizonData, SlotPlan, cache_chain, horizon_data, prune_place_only
from solvers.horizon.judge import HorizonIncumbent, Judge, incumbent_decisions, plans_of_decisions, warm_values
from solvers.horizon.model import (
    HorizonBackend,
    add_step_cut,
    build_horizon_model,
    choice_no_good,
    step_no_good,
)
from tadp.decision import Decision
from tadp.evaluator import CLAIM_TOL, evaluate_episode
from tadp.instance import Cache, Instance

#: Most rounds of LP separation before the first MILP.
ROOT_ROUNDS = 40
#: The LP rounds stop early when the bound moved less than this (relative) over the last round.
ROOT_STALL = 1e-7
#: Share of the time limit (at most POSTPROCESS_MAX_S seconds) kept after the last MILP round to judge and
#: repair its solutions.
POSTPROCESS_SHARE = 0.05
POSTPROCESS_MAX_S = 30.0
#: Candidates repaired per MILP round at most (its final solution first, then the incumbents met, best first).
REPAIRS_PER_ROUND = 4


# ============================================================================ results
@dataclass(eq=False)
class HorizonResult:
    """A horizon solve: per-slot decisions (keep flags set), re-scored by the evaluator."""

    decisions: list[Decision]
    objective: float  # episode score of the decisions (mean of slot scores), as the solver computes it
    bound: float  # valid upper bound on the horizon optimum
    status: str  # "optimal" (relative gap <= mip_gap), "time_limit", "error"; "feasible" for heuristics
    time_s: float
    slot_scores: list[float]  # the evaluator's slot scores of the decisions
    first_slot: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    slot_objectives: list[float] = field(default_factory=list)  # the solver's own slot scores (its claims)

    @property
    def score(self) -> float:
        """The evaluator's episode score (mean of ``slot_scores``)."""
        return float(np.mean(self.slot_scores)) if self.slot_scores else 0.0

    @property
    def gap(self) -> float:
        """Relative gap (bound - objective) / objective (0 when both are 0)."""
        return relative_gap(self.bound, self.objective)


# ============================================================================ solving
def tighten_horizon(model: Any, backend: HighsBackend, deadline: float, *, rounds: int = ROOT_ROUNDS) -> LpRounds:
    """Rounds of: solve the LP relaxation, add in every step the resource cut that separates the step's
    fractional point (if it lies outside the step's convex relaxation), until none separates, the bound
    stalls (:data:`ROOT_STALL`), ``rounds`` rounds or ``deadline`` (perf_counter)."""
    data: HorizonData = model.horizon_data

    def separate(values: Any) -> list[Any]:
        z = choice_vector(model, values)
        new = []
        for s, hs in enumerate(data.slots):
            prices = separating_prices(hs.serve, z[data.base[s]:data.base[s] + hs.serve.n_options])
            if prices is not None:
                new += add_step_cut(model, s, prices)
        return new

    return lp_rounds(backend, deadline, rounds, separate, stall=ROOT_STALL)


def solve_horizon(
    inst: Instance,
    n_slots: int | None = None,
    *,
    time_limit: float,
    seed: int = 0,
    first_slot: int = 0,
    start_cache: Cache | None = None,
    mip_gap: float = 1e-6,
    threads: int | None = None,
    incumbent: list[Decision] | None = None,
    restrict: Callable[[Any], None] | None = None,
    outside_bound: float | None = None,
    upper_bound: float | None = None,
) -> HorizonResult:
    """The clairvoyant optimum of slots ``first_slot .. first_slot + n_slots - 1`` (default: to the end
    of the trace) from ``start_cache`` (default: the instance's initial cache), by outer approximation
    (module doc). ``time_limit`` is for the whole solve. ``incumbent`` (decisions for those slots, e.g. a
    policy's episode, or a prefix of one: the slots after it serve nobody) is turned into a plan (each
    completed task the serve option of its true fetch case, each late task that placed a model a place-only
    option) and is the first incumbent (repaired, as HiGHS's incumbents are, where the oracle does not
    certify a slot).

    Returns decisions with keep flags (the fewest kept models the plan needs), the claimed objective
    (checked against the evaluator, status ``error`` if they differ), a valid bound and the status.

    For :func:`solvers.horizon.bands.solve_horizon_band`: ``restrict(model)`` adds constraints to the built
    model (binaries it adds go to ``model.extra_binaries``, relaxed in the LP rounds), so that the MILP solves
    a restricted problem R; ``outside_bound`` bounds every episode R leaves out, so the bound reported is
    ``max(bound on R, outside_bound)`` (``outside_bound`` alone when R is proven empty); ``upper_bound`` is a
    valid bound on the whole horizon known beforehand."""
    started = time.perf_counter()
    deadline = started + time_limit
    start = inst.initial_cache if start_cache is None else start_cache
    n = inst.n_slots - first_slot if n_slots is None else n_slots
    data = horizon_data(inst, first_slot, n, start)
    judge = Judge(data)
    info: dict[str, Any] = {"options": data.n_options, "serve_options": int((data.kind == SERVE).sum())}
    best = _first_incumbent(data, judge, incumbent)
    # every task at its best option in every slot: the trivial bound
    bound = sum(trivial_bound(hs.serve) for hs in data.slots) / n if (data.kind == SERVE).any() else 0.0
    if upper_bound is not None:
        bound = min(bound, upper_bound)
    trace = _Trace(started, outside_bound)
    trace.record(best.value, bound)
    info["trace"] = trace.points
    if not (data.kind == SERVE).any():  # no task can complete in any slot: serving nobody is optimal
        return _result(data, best, 0.0, "optimal", started, info)

    model = build_horizon_model(data)
    if restrict is not None:
        restrict(model)
    backend = HorizonBackend(model, threads, seed)
    info["build_s"] = time.perf_counter() - started

    # ---- 1. LP relaxation, tightened by per-step resource cuts at its own points
    root = tighten_horizon(model, backend, deadline)
    if root.bound is not None:
        bound = min(bound, root.bound)
    trace.record(best.value, bound)
    info.update(root_rounds=root.rounds, root_bound=root.bound, root_s=time.perf_counter() - started)

    # ---- 2. MILP rounds of outer approximation
    search = _HorizonSearch(model, backend, judge, OaRounds(mip_gap), trace, best, bound, restrict is not None,
                            outside_bound)
    # the MILP stops a little before the deadline, so that its last solutions can still be judged and repaired
    milp_deadline = deadline - min(max(POSTPROCESS_SHARE * time_limit, 0.5), POSTPROCESS_MAX_S)
    while time.perf_counter() < milp_deadline:
        if search.round(milp_deadline, deadline, info):
            break
    bound, status = search.final(info)
    return _result(data, search.best, bound, status, started, info)


def _first_incumbent(data: HorizonData, judge: Judge, incumbent: list[Decision] | None) -> HorizonIncumbent:
    """Serving nobody, or the given decisions' plans (repaired where the oracle does not certify a slot)
    when they are better."""
    empty = [SlotPlan(np.zeros(0, np.int64), np.zeros(0, np.int64)) for _ in range(data.n_steps)]
    best = judge.incumbent(empty)
    assert best is not None  # serving nothing and keeping nothing is always valid
    if incumbent is not None:
        given = plans_of_decisions(data, incumbent)
        if given is not None:
            cand = judge.incumbent(given) or judge.repair(given)
            if cand is not None and cand.value > best.value:
                best = cand
    return best


@dataclass(eq=False)
class _Trace:
    """(seconds, incumbent, bound) whenever one of them moves; the bound as it would be reported."""

    started: float
    outside_bound: float | None
    points: list[tuple[float, float, float]] = field(default_factory=list)

    def record(self, best: float, bound: float) -> None:
        point = (time.perf_counter() - self.started, best, max(bound, best, self.outside_bound or 0.0))
        if not self.points or self.points[-1][1:] != point[1:]:
            self.points.append(point)


@dataclass(eq=False)
class _HorizonSearch:
    """The MILP rounds of :func:`solve_horizon`: the model and its back end, the judge, the best true
    incumbent, the least MILP bound, and what each round's solutions left behind (choices tried, steps cut,
    steps excluded)."""

    model: Any
    backend: HorizonBackend
    judge: Judge
    oa: OaRounds
    trace: _Trace
    best: HorizonIncumbent
    bound: float  # least bound met on the (restricted) problem
    restricted: bool  # the model holds a restriction: an infeasible MILP means it is empty
    outside_bound: float | None
    frozen: float | None = None  # the bound before a knife-edge exclusion (later MILP bounds do not count)
    repaired: int = 0
    tried: set[bytes] = field(default_factory=set)
    cut_at: set[tuple[int, bytes]] = field(default_factory=set)
    excluded: set[tuple[int, bytes]] = field(default_factory=set)

    @property
    def data(self) -> HorizonData:
        return self.model.horizon_data

    def round(self, milp_deadline: float, deadline: float, info: dict[str, Any]) -> bool:
        """One MILP round: solve (the best true incumbent as MIP start) until ``milp_deadline``, judge, cut
        and repair its solutions until ``deadline``; True when the loop ends."""
        start_values = warm_values(self.model, self.best) if self.best.value > 0 else None
        if start_values is not None:
            self.backend.warm_start(start_values)
        res = self.backend.solve(milp_deadline - time.perf_counter(), self.oa.solver_gap)
        self.oa.count(res)
        if res.bound is not None and math.isfinite(res.bound) and self.frozen is None:
            self.bound = min(self.bound, res.bound)
        if res.values is None and res.status == "infeasible" and self.restricted:
            # the restricted problem is empty (its relaxation is): every episode is outside it
            if self.outside_bound is not None:
                self.bound = min(self.bound, self.outside_bound)
            info["restricted_empty"] = True
            return True
        error = self.oa.failed(res)
        if error is not None:
            info["error"] = error
            return True
        final_ok = self._judge(res, deadline)
        self.trace.record(self.best.value, self.bound)
        return self.oa.finished(res, final_ok, max(self.bound, self.best.value), self.best.value)

    def _judge(self, res: MipResult, deadline: float) -> bool:
        """Judge the round's final solution and the incumbents HiGHS met (best first): keep the true ones,
        cut off or exclude the others and repair a few. True when the final solution is a true incumbent."""
        data = self.data
        final = choice_vector(self.model, res.values) if res.values is not None else None
        met = sorted(res.incumbents, key=lambda z: -float(data.accuracy @ (z > 0.5)))  # best first
        candidates = ([final] if final is not None else []) + met
        final_ok = False
        repairs = 0
        for c, z in enumerate(candidates):
            if c > 0 and time.perf_counter() > deadline:
                break  # past the limit: the final solution only (its cuts, its check)
            plans = data.plans(z)
            key = data.choices(plans).astype(np.int8).tobytes()
            first_time = key not in self.tried
            self.tried.add(key)
            inc = self.judge.incumbent(plans)
            if inc is not None:
                self._offer(inc)
                final_ok = final_ok or c == 0
                continue
            if c == 0 and cache_chain(data.inst, data.slots, plans, data.start) is None:
                # caches over capacity by more than the evaluator's tolerance, within HiGHS's: exclude
                # exactly this choice (no keep choice makes it valid), else the round would repeat
                self._exclude_choice(plans)
                continue
            self._cut_steps(plans, final=c == 0)
            if first_time and repairs < REPAIRS_PER_ROUND and time.perf_counter() < deadline:
                repairs += 1
                fixed = self.judge.repair(plans)
                if fixed is not None:
                    self.repaired += 1
                    self._offer(fixed)
        return final_ok

    def _offer(self, inc: HorizonIncumbent) -> None:
        if inc.value > self.best.value:
            self.best = inc

    def _exclude_choice(self, plans: list[SlotPlan]) -> None:
        self.backend.add(choice_no_good(self.model, self.data.choices(plans)))
        self.oa.no_goods += 1

    def _cut_steps(self, plans: list[SlotPlan], *, final: bool) -> None:
        """Per uncertified step of an uncertified plan: the resource cut at the oracle's prices, or, for a step
        back despite its cut (proven infeasible) or a knife-edge one, a no-good on its served assignment; a
        step back despite its no-good (HiGHS's tolerance) excludes the whole final choice."""
        for s, p in enumerate(plans):
            cert = self.judge.certificate(s, p.serve)
            step_key = (s, p.key())
            if cert.verdict == FEASIBLE:
                continue
            if step_key in self.excluded:  # back despite its no-good (HiGHS's tolerance): exclude the whole choice
                if final:
                    self._exclude_choice(plans)
                break
            if cert.verdict == INFEASIBLE and step_key not in self.cut_at:
                self.cut_at.add(step_key)
                new = add_step_cut(self.model, s, cert.prices)
                self.oa.cuts_added += len(new)
            elif cert.verdict == INFEASIBLE and not final:
                continue  # met during the search before its cut went in
            else:  # back despite its cut (proven infeasible), or knife-edge: exclude the step's assignment
                if cert.verdict == UNCERTAIN and self.frozen is None:
                    self.frozen = self.bound
                self.excluded.add(step_key)
                new = step_no_good(self.model, s, p.serve)
                self.oa.no_goods += 1
            self.backend.add(new)

    def final(self, info: dict[str, Any]) -> tuple[float, str]:
        """The bound to report (valid for the whole horizon) and the final status; the loop's counts go to
        ``info``."""
        best, outside_bound = self.best, self.outside_bound
        bound = self.bound
        if outside_bound is not None:
            bound = max(bound, outside_bound)
        bound = max(bound, best.value)
        if self.frozen is not None:
            bound = max(self.frozen, best.value, outside_bound if outside_bound is not None else 0.0)
        gap = relative_gap(bound, best.value)
        status = self.oa.final_status(gap)
        if info.get("restricted_empty") and gap <= self.oa.mip_gap:
            status = "optimal"
        self.trace.record(best.value, bound)
        info.update(oa_rounds=self.oa.rounds, nodes=self.oa.nodes, cuts=self.model.cut_count,
                    oa_cuts_added=self.oa.cuts_added, no_good_cuts=self.oa.no_goods, repaired=self.repaired,
                    oracle_calls=self.judge.calls, knife_edge=self.frozen is not None,
                    mip_gap=gap if best.value > 0 else None)
        return bound, status


def _result(data: HorizonData, best: HorizonIncumbent, bound: float, status: str, started: float,
            info: dict[str, Any]) -> HorizonResult:
    """Decisions of the incumbent (useless place-only services dropped), re-scored by the evaluator
    (status ``error`` if it disagrees)."""
    plans = prune_place_only(data.inst, data.slots, best.plans, data.start)
    caches = cache_chain(data.inst, data.slots, plans, data.start)
    if caches is not None:
        best = HorizonIncumbent(best.value, best.certificates, plans=plans, caches=caches)
    decisions = incumbent_decisions(data, best)
    claims = [float(hs.serve.accuracy[p.serve].sum()) / data.inst.n_devices for hs, p in zip(data.slots, best.plans,
                                                                                               strict=True)]
    outcomes = evaluate_episode(data.inst, decisions, data.start, data.first_slot)
    scores = [o.score for o in outcomes]
    problems = [f"slot {o.slot}: " + "; ".join(map(str, o.violations)) for o in outcomes if not o.feasible]
    problems += [f"slot {o.slot}: claimed {c:.9g}, evaluator {o.score:.9g}" for o, c in zip(outcomes, claims,
                                                                                          strict=True)
                 if abs(o.score - c) > CLAIM_TOL]
    if problems:
        info["error"] = "evaluator disagrees: " + " | ".join(problems)
        status = "error"
    elif abs(float(np.mean(scores)) - best.value) > CLAIM_TOL:
        info["error"] = f"objective {best.value:.9g} != evaluator episode score {np.mean(scores):.9g}"
        status = "error"
    return HorizonResult(decisions, best.value, bound, status, time.perf_counter() - started, scores,
                         data.first_slot, info, claims)


__all__ = ["HorizonResult", "solve_horizon", "tighten_horizon"]
