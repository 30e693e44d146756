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

from solvers.exact.backends import HighsBackend
from solvers.exact.options import trivial_bound
from solvers.exact.oracle import FEASIBLE, INFEASIBLE, UNCERTAIN, min_max_load
from solvers.horizon.data import SERVE, HorizonData, SlotPlan, cache_chain, horizon_data, prune_place_only
from solvers.horizon.judge import HorizonIncumbent, Judge, incumbent_decisions, plans_of_decisions, warm_values
from solvers.horizon.model import (
    HorizonBackend,
    add_step_cut,
    build_horizon_model,
    choice_no_good,
    choice_vector,
    step_no_good,
)
from tadp.decision import Decision
from tadp.evaluator import CLAIM_TOL, evaluate_episode
from tadp.instance import Cache, Instance

#: An LP point whose fractional min-max load in a slot exceeds 1 by more than this gets a cut there.
ROOT_SEPARATION_TOL = 1e-6
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
        return (self.bound - self.objective) / max(abs(self.objective), 1e-12) if self.bound > 0 else 0.0


# ============================================================================ solving
def tighten_horizon(model: Any, backend: HighsBackend, deadline: float, *, rounds: int = ROOT_ROUNDS
                    ) -> tuple[int, float | None, np.ndarray | None]:
    """Rounds of: solve the LP relaxation, add in every step the resource cut that separates the step's
    fractional point (if it lies outside the step's convex relaxation). Returns (rounds, last LP bound,
    last LP choice vector)."""
    data: HorizonData = model.horizon_data
    done, bound, z = 0, None, None
    backend.set_integrality(False)
    last = math.inf
    while done < rounds and time.perf_counter() < deadline:
        lp = backend.solve(deadline - time.perf_counter(), 0.0)
        if lp.status != "optimal" or lp.values is None:
            break
        done += 1
        bound = lp.bound if lp.bound is not None else lp.objective
        z = choice_vector(model, lp.values)
        new = []
        for s, hs in enumerate(data.slots):
            zs = z[data.base[s]:data.base[s] + hs.serve.n_options]
            support = np.flatnonzero(zs > 1e-9)
            if len(support) == 0:
                continue
            cert = min_max_load(hs.serve, support, weights=zs[support])
            if cert.lower > 1.0 + ROOT_SEPARATION_TOL:
                new += add_step_cut(model, s, cert.prices)
        backend.add(new)
        if not new or (bound is not None and last - bound <= ROOT_STALL * abs(bound)):
            break
        last = bound if bound is not None else last
    backend.set_integrality(True)
    return done, bound, z


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

    For :func:`solvers.horizon.bands.solve_horizon_band`: ``restrict(model)`` adds constraints to the built model (binaries it
    adds go to ``model.extra_binaries``, relaxed in the LP rounds), so that the MILP solves a restricted
    problem R; ``outside_bound`` bounds every episode R leaves out, so the bound reported is
    ``max(bound on R, outside_bound)`` (``outside_bound`` alone when R is proven empty); ``upper_bound`` is a
    valid bound on the whole horizon known beforehand."""
    started = time.perf_counter()
    deadline = started + time_limit
    start = inst.initial_cache if start_cache is None else start_cache
    n = inst.n_slots - first_slot if n_slots is None else n_slots
    data = horizon_data(inst, first_slot, n, start)
    judge = Judge(data)
    info: dict[str, Any] = {"options": data.n_options, "serve_options": int((data.kind == SERVE).sum())}
    empty = [SlotPlan(np.zeros(0, np.int64), np.zeros(0, np.int64)) for _ in range(n)]
    best = judge.incumbent(empty)
    assert best is not None  # serving nothing and keeping nothing is always valid
    if incumbent is not None:
        given = plans_of_decisions(data, incumbent)
        if given is not None:
            cand = judge.incumbent(given) or judge.repair(given)
            if cand is not None and cand.value > best.value:
                best = cand
    # every task at its best option in every slot: the trivial bound
    bound = sum(trivial_bound(hs.serve) for hs in data.slots) / n if (data.kind == SERVE).any() else 0.0
    if upper_bound is not None:
        bound = min(bound, upper_bound)
    trace: list[tuple[float, float, float]] = []  # (seconds, incumbent, bound) whenever one of them moves

    def record() -> None:
        point = (time.perf_counter() - started, best.value, max(bound, best.value, outside_bound or 0.0))
        if not trace or trace[-1][1:] != point[1:]:
            trace.append(point)

    record()
    info["trace"] = trace
    if not (data.kind == SERVE).any():  # no task can complete in any slot: serving nobody is optimal
        return _result(data, best, 0.0, "optimal", started, info)

    model = build_horizon_model(data)
    if restrict is not None:
        restrict(model)
    backend = HorizonBackend(model, threads, seed)
    info["build_s"] = time.perf_counter() - started

    # ---- 1. LP relaxation, tightened by per-step resource cuts at its own points
    root_rounds, root_bound, _ = tighten_horizon(model, backend, deadline)
    if root_bound is not None:
        bound = min(bound, root_bound)
    record()
    info.update(root_rounds=root_rounds, root_bound=root_bound, root_s=time.perf_counter() - started)

    # ---- 2. MILP rounds of outer approximation
    rounds, nodes, cuts_added, no_goods, repaired = 0, 0, 0, 0, 0
    frozen: float | None = None  # the bound before a knife-edge exclusion (later MILP bounds do not count)
    solver_gap = mip_gap
    status = "time_limit"
    tried: set[bytes] = set()
    cut_at: set[tuple[int, bytes]] = set()
    excluded: set[tuple[int, bytes]] = set()
    # the MILP stops a little before the deadline, so that its last solutions can still be judged and repaired
    milp_deadline = deadline - min(max(POSTPROCESS_SHARE * time_limit, 0.5), POSTPROCESS_MAX_S)
    while time.perf_counter() < milp_deadline:
        start_values = warm_values(model, best) if best.value > 0 else None
        if start_values is not None:
            backend.warm_start(start_values)
        res = backend.solve(milp_deadline - time.perf_counter(), solver_gap)
        rounds += 1
        nodes += res.nodes or 0
        if res.bound is not None and math.isfinite(res.bound) and frozen is None:
            bound = min(bound, res.bound)
        if res.values is None and res.status == "infeasible" and restrict is not None:
            # the restricted problem is empty (its relaxation is): every episode is outside it
            if outside_bound is not None:
                bound = min(bound, outside_bound)
            info["restricted_empty"] = True
            break
        if res.values is None and res.status != "time_limit":
            status = "error"
            info["error"] = f"MILP round {rounds} ended {res.status} without a solution"
            break
        final = choice_vector(model, res.values) if res.values is not None else None
        met = sorted(res.incumbents, key=lambda z: -float(data.accuracy @ (z > 0.5)))  # best first
        candidates = ([final] if final is not None else []) + met
        final_ok = False
        repairs = 0
        for c, z in enumerate(candidates):
            if c > 0 and time.perf_counter() > deadline:
                break  # past the limit: the final solution only (its cuts, its check)
            plans = data.plans(z)
            key = data.choices(plans).astype(np.int8).tobytes()
            first_time = key not in tried
            tried.add(key)
            inc = judge.incumbent(plans)
            if inc is not None:
                if inc.value > best.value:
                    best = inc
                final_ok = final_ok or c == 0
                continue
            if c == 0 and cache_chain(inst, data.slots, plans, data.start) is None:
                # caches over capacity by more than the evaluator's tolerance, within HiGHS's: exclude
                # exactly this choice (no keep choice makes it valid), else the round would repeat
                backend.add(choice_no_good(model, data.choices(plans)))
                no_goods += 1
                continue
            for s, p in enumerate(plans):
                cert = judge.certificate(s, p.serve)
                step_key = (s, p.key())
                if cert.verdict == FEASIBLE:
                    continue
                if step_key in excluded:  # back despite its no-good (HiGHS's tolerance): exclude the whole choice
                    if c == 0:
                        backend.add(choice_no_good(model, data.choices(plans)))
                        no_goods += 1
                    break
                if cert.verdict == INFEASIBLE and step_key not in cut_at:
                    cut_at.add(step_key)
                    new = add_step_cut(model, s, cert.prices)
                    cuts_added += len(new)
                elif cert.verdict == INFEASIBLE and c > 0:
                    continue  # met during the search before its cut went in
                else:  # back despite its cut (proven infeasible), or knife-edge: exclude the step's assignment
                    if cert.verdict == UNCERTAIN and frozen is None:
                        frozen = bound
                    excluded.add(step_key)
                    new = step_no_good(model, s, p.serve)
                    no_goods += 1
                backend.add(new)
            if first_time and repairs < REPAIRS_PER_ROUND and time.perf_counter() < deadline:
                repairs += 1
                fixed = judge.repair(plans)
                if fixed is not None:
                    repaired += 1
                    if fixed.value > best.value:
                        best = fixed
        record()
        if res.status == "optimal" and final_ok:
            if max(bound, best.value) - best.value <= mip_gap * abs(best.value) or solver_gap < 1e-12:
                status = "optimal"
                break
            solver_gap /= 10
            continue
        if res.status not in ("optimal",):
            status = "time_limit" if res.status == "time_limit" else "error"
            break
    if outside_bound is not None:
        bound = max(bound, outside_bound)
    bound = max(bound, best.value)
    if frozen is not None:
        bound = max(frozen, best.value, outside_bound if outside_bound is not None else 0.0)
    gap = (bound - best.value) / max(abs(best.value), 1e-12) if bound > 0 else 0.0
    if status == "optimal" and gap > mip_gap:
        status = "time_limit"
    elif info.get("restricted_empty") and gap <= mip_gap:
        status = "optimal"
    record()
    info.update(oa_rounds=rounds, nodes=nodes, cuts=model.cut_count, oa_cuts_added=cuts_added, no_good_cuts=no_goods,
                repaired=repaired, oracle_calls=judge.calls, knife_edge=frozen is not None,
                mip_gap=gap if best.value > 0 else None)
    return _result(data, best, bound, status, started, info)


def _result(data: HorizonData, best: HorizonIncumbent, bound: float, status: str, started: float,
            info: dict[str, Any]) -> HorizonResult:
    """Decisions of the incumbent (useless place-only services dropped), re-scored by the evaluator
    (status ``error`` if it disagrees)."""
    plans = prune_place_only(data.inst, data.slots, best.plans, data.start)
    caches = cache_chain(data.inst, data.slots, plans, data.start)
    if caches is not None:
        best = HorizonIncumbent(best.value, plans, best.certificates, caches)
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
