"""The clairvoyant horizon optimum by slot bands (docs/exact_horizon.md, section 3b).

:func:`solve_horizon_band` (the default of :class:`solvers.horizon.solver.HorizonSolver` up to
:data:`solvers.horizon.solver.BAND_MAX_TASKS` tasks per slot) uses each slot's own optimum with a free start
cache, V_s, as a bound on that slot in every episode, and solves the horizon restricted to the slots' level
patterns within a band of their V_s: the monolithic model's gap is the per-slot integrality of all slots at
once, which one branch-and-bound tree closes badly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo

from solvers.exact.oa import choice_vector, linear, relative_gap
from solvers.exact.options import trivial_bound
from solvers.exact.oracle import FEASIBLE, INFEASIBLE
from solvers.horizon.data import SERVE, HorizonData, HorizonSlot, SlotPlan, horizon_data
from solvers.horizon.judge import Judge
from solvers.horizon.model import HorizonBackend, add_step_cut, build_horizon_model
from solvers.horizon.monolithic import HorizonResult, solve_horizon, tighten_horizon
from solvers.horizon.warm import warm_start_episode
from tadp.decision import Decision
from tadp.errors import TadpInputError
from tadp.evaluator import evaluate_episode
from tadp.instance import Cache, Instance

#: Share of the time limit for the slots' own optima (phase 1 of :func:`solve_horizon_band`).
BAND_OPTIMA_SHARE = 0.5
#: Least share of the slots whose optimum phase 1 must prove for the bands to go on (else the monolithic model
#: solves the rest, under the slots' bound).
BAND_MIN_PROVEN = 0.9
#: Share of the time left after the slots' optima that the heuristic round (their patterns only) may take.
BAND_HEURISTIC_SHARE = 0.4
#: Share of the time limit after which no new band round starts (nor a restricted horizon whose pattern lists
#: are not all complete goes on): the monolithic model takes the time left.
BAND_HANDOVER_SHARE = 0.6
#: Least time left (s) for that hand-over.
BAND_HANDOVER_MIN_S = 2.0
#: Share of the time left that one round's pattern enumeration may take.
BAND_ENUM_SHARE = 0.5
#: Factor by which the band grows after a round whose restricted problem is empty.
BAND_GROWTH = 8.0
#: Slack (score units) in favour of including a pattern at the band's edge.
BAND_TOL = 1e-9


def slot_pattern(hs: HorizonSlot, serve: np.ndarray, n_tasks: int) -> tuple[int, ...]:
    """The level pattern of a served assignment: per task its level, or -1 when it is not served."""
    pattern = [-1] * n_tasks
    for o in serve:
        pattern[int(hs.serve.task[o])] = int(hs.serve.level[o])
    return tuple(pattern)


class _SlotBand:
    """One slot alone, with a free start cache (any cache that fits; the given one for the horizon's first
    slot): its optimum V (a bound on that slot's score in every episode), then every level pattern whose
    best score lies within a band G of V (docs/exact_horizon.md, section 3b)."""

    def __init__(self, inst: Instance, slot: int, start: Cache | None, threads: int | None, seed: int) -> None:
        n = inst.n_devices
        self.data = horizon_data(inst, slot, 1, Cache.empty(n) if start is None else start)
        self.n = n
        m = build_horizon_model(self.data, free_start=start is None)
        serve = np.flatnonzero(self.data.kind == SERVE)
        m.band_floor = pyo.Var(bounds=(0.0, 0.0), doc="least score the enumeration accepts (0: none)")
        m.band = pyo.ConstraintList(doc="the slot's score within the band; level patterns found (no-goods)")
        m.band.add(linear((self.data.accuracy[serve] / n).tolist(), [m.choose[int(k)] for k in serve])
                   >= m.band_floor)
        self.model = m
        self.backend = HorizonBackend(m, threads, seed)
        self.judge = Judge(self.data)
        self.upper = trivial_bound(self.data.slots[0].serve)  # bound on the slot's score
        self.best = 0.0  # best certified score
        self.patterns: dict[tuple[int, ...], float] = {}  # level pattern -> best certified score met (or bound)
        self.covered = -1.0  # band within which ``patterns`` is complete (< 0: the optimum is not proven yet)
        self.tightened = False
        self.cut_at: set[bytes] = set()
        self.milps = 0

    def _no_good(self, pattern: tuple[int, ...]) -> None:
        """Exclude every served assignment with this level pattern: sum over tasks of [task at its pattern
        state] <= N - 1, the state of task j being ``sum_o choose[o]`` over its options at level p_j, or
        ``1 - sum_o choose[o]`` over all its serve options when p_j = -1."""
        data, m = self.data, self.model
        coefs, variables, constant = [], [], 0.0
        hs = data.slots[0].serve
        for o in range(hs.n_options):
            state = pattern[int(hs.task[o])]
            if state == -1:
                coefs.append(-1.0)
                variables.append(m.choose[o])
            elif state == int(hs.level[o]):
                coefs.append(1.0)
                variables.append(m.choose[o])
        constant = float(sum(1 for p in pattern if p == -1))
        self.backend.add([m.band.add(linear(coefs, variables, constant) <= self.n - 1)])

    def optimum(self, deadline: float) -> bool:
        """Phase 1: the slot's optimum V (``upper``, a MILP bound) and its pattern. False on the time limit
        (``upper`` then keeps the least bound met, which is still valid)."""
        if self.covered >= 0:
            return True
        if not self.tightened:
            tighten_horizon(self.model, self.backend, deadline)
            self.tightened = True
        while time.perf_counter() < deadline:
            res = self.backend.solve(deadline - time.perf_counter(), 1e-9)
            self.milps += 1
            if res.bound is not None and math.isfinite(res.bound):
                self.upper = min(self.upper, res.bound)
            if res.values is None:
                return False  # serving nobody is feasible: only the time limit ends here
            z = choice_vector(self.model, res.values)
            plan = self.data.plans(z)[0]
            cert = self.judge.certificate(0, plan.serve)
            if cert.verdict == FEASIBLE:
                self.best = max(self.best, self.data.value([plan]))
                if res.status == "optimal":
                    self.patterns[slot_pattern(self.data.slots[0], plan.serve, self.n)] = self.data.value([plan])
                    self._no_good(next(iter(self.patterns)))
                    self.upper = max(self.upper, self.best)
                    self.covered = 0.0
                    return True
                continue
            if cert.verdict == INFEASIBLE and plan.key() not in self.cut_at:
                self.cut_at.add(plan.key())
                self.backend.add(add_step_cut(self.model, 0, cert.prices))
                continue
            # knife-edge or back despite its cut: V cannot be certified; keep the bound (upper), no patterns
            return False
        return False

    def extend(self, band: float, deadline: float) -> bool:
        """Phase 2: every level pattern with a served assignment scoring at least ``upper - band`` (the
        relaxation's, so feasible ones and possibly some that are not); True when complete. Phase 1 is
        finished first if it is not yet."""
        if self.covered < 0 and not self.optimum(deadline):
            return False
        if band <= self.covered:
            return True
        floor = self.model.band_floor
        floor.setlb(max(self.upper - band - BAND_TOL, 0.0))
        floor.setub(max(self.upper - band - BAND_TOL, 0.0))
        self.backend.opt.update_variables([floor])
        while time.perf_counter() < deadline:
            # any point of the band will do: the first one HiGHS meets (gap 1)
            res = self.backend.solve(deadline - time.perf_counter(), 1.0)
            self.milps += 1
            if res.values is None:
                if res.status == "infeasible":
                    self.covered = band
                    return True
                return False
            z = choice_vector(self.model, res.values)
            plan = self.data.plans(z)[0]
            cert = self.judge.certificate(0, plan.serve)
            if cert.verdict == INFEASIBLE and plan.key() not in self.cut_at:
                self.cut_at.add(plan.key())
                self.backend.add(add_step_cut(self.model, 0, cert.prices))
                continue
            pattern = slot_pattern(self.data.slots[0], plan.serve, self.n)
            if pattern in self.patterns:  # cannot happen (its no-good is in): stop, incomplete
                return False
            self.patterns[pattern] = self.data.value([plan]) if cert.verdict == FEASIBLE else self.upper
            self._no_good(pattern)
        return False


def _band_restriction(bands: list[_SlotBand], complete: list[bool], band: float | None) -> Callable[[Any], None]:
    """The restriction R(G) of the horizon model (docs/exact_horizon.md, section 3b): every step's score at
    most its slot's bound V_s; the steps' total loss ``sum_s (V_s - score_s)`` at most G; a step whose
    pattern list is complete takes one of its patterns (``band_pattern[s, p]``, binary), which fixes, per
    task, served or not and at which level. ``band`` None: no total-loss row (the heuristic round)."""
    upper = [b.upper for b in bands]

    def restrict(m: Any) -> None:
        data: HorizonData = m.horizon_data
        n = data.inst.n_devices
        lists = {s: list(b.patterns) for s, b in enumerate(bands) if complete[s]}
        m.band_patterns = pyo.Set(initialize=[(s, p) for s, ps in lists.items() for p in range(len(ps))], dimen=2,
                                  ordered=True, doc="(step, level pattern within the band)")
        m.band_pattern = pyo.Var(m.band_patterns, domain=pyo.Binary, doc="1 if step s takes level pattern p")
        m.extra_binaries = list(m.band_pattern.values())
        m.band_rows = pyo.ConstraintList(doc="R(G): the steps' scores, their total loss and their level patterns")
        total_c: list[float] = []
        total_v: list[Any] = []
        for s in range(data.n_steps):
            ks = [k for k in range(int(data.base[s]), int(data.base[s + 1])) if data.kind[k] == SERVE]
            coefs = [float(data.accuracy[k]) / n for k in ks]
            variables = [m.choose[k] for k in ks]
            if ks:  # a step with no serve option scores 0 whatever it does
                m.band_rows.add(linear(coefs, variables) <= upper[s] + BAND_TOL)
            total_c += coefs
            total_v += variables
            if s not in lists:
                continue
            ps = lists[s]
            m.band_rows.add(sum(m.band_pattern[s, p] for p in range(len(ps))) == 1)
            for j in range(n):
                for level in (0, 1):
                    here = [k for k in ks if data.task[k] == j and data.level[k] == level]
                    which = [p for p in range(len(ps)) if ps[p][j] == level]
                    if here or which:
                        m.band_rows.add(linear([1.0] * len(here) + [-1.0] * len(which),
                                                [m.choose[k] for k in here] + [m.band_pattern[s, p] for p in which])
                                        == 0)
        if band is not None:
            m.band_rows.add(linear(total_c, total_v) >= sum(upper) - band - BAND_TOL)
        for s, b in enumerate(bands):  # the slot models' resource cuts hold for the same slot here
            for _, prices in b.model.cut_prices:
                add_step_cut(m, s, prices)

        def warm(plans: list[SlotPlan]) -> list[tuple[Any, float]] | None:
            values = []
            for s, ps in lists.items():
                mine = slot_pattern(data.slots[s], plans[s].serve, n)
                if mine not in ps:
                    return None
                values += [(m.band_pattern[s, p], float(ps[p] == mine)) for p in range(len(ps))]
            return values

        m.extra_warm = warm

    return restrict


def solve_horizon_band(
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
    myopic_share: float = 0.0,
) -> HorizonResult:
    """The clairvoyant optimum by slot bands (docs/exact_horizon.md, section 3b), same interface and result
    as :func:`solve_horizon`.

    1. Each slot alone, with a free start cache (any that fits; the given one for the first slot), solved
       to optimality: V_s bounds slot s's score in every episode, so mean(V) bounds the episode score, and
       every episode's losses ``V_s - score_s`` are >= 0.
    2. For a band G (total loss), each slot's level patterns (per task: not served, light, heavy) with a
       served assignment scoring at least V_s - G are enumerated (MILP with no-goods).
    3. The horizon model restricted to those patterns and to a total loss <= G (R(G)) is solved by
       :func:`solve_horizon`. Every episode outside R(G) has a total loss > G, so it scores below
       mean(V) - G / H: the bound is ``max(bound on R(G), mean(V) - G / H)``. When R(G) is proven empty,
       that is the bound, G grows (x8, or to the incumbent's loss) and 2-3 repeat. After the first empty
       R(G), with ``myopic_share`` > 0, the myopic exact policy's episode (that share of the time limit) is
       offered as incumbent, when better than ``incumbent``.

    Before 2-3, a heuristic round solves the horizon restricted to each slot's optimal pattern: an episode
    there scores mean(V) and is optimal at once. When step 1 proves fewer than :data:`BAND_MIN_PROVEN` of the
    slots, the monolithic model (:func:`solve_horizon`, its bound capped by the slots' bounds) takes the rest."""
    started = time.perf_counter()
    n = inst.n_slots - first_slot if n_slots is None else n_slots
    start = inst.initial_cache if start_cache is None else start_cache
    if not (0 <= first_slot and n >= 1 and first_slot + n <= inst.n_slots):
        raise TadpInputError("argument", "--slots", f"slots {first_slot}..{first_slot + n - 1} not within "
                             f"0..{inst.n_slots - 1}")
    overflow = inst.cache_overflows(start)
    if overflow:
        raise TadpInputError("argument", "cache", "start cache overflows: " + "; ".join(overflow))
    run = _BandRun(inst, n, first_slot, start, seed, mip_gap, threads, myopic_share, time_limit, started,
                   started + time_limit, incumbent)
    # ---- 1. each slot's own optimum V_s
    total = run.slot_optima()
    band = mip_gap * total
    listed = [b.covered >= 0 for b in run.bands]
    if sum(listed) < BAND_MIN_PROVEN * n:
        run.fall_back(total)
    elif any(listed):
        run.heuristic_round(total, band, listed)
    # ---- 2-3. patterns within a band G, the restricted horizon R(G); G grows while R(G) is empty
    run.band_rounds(band)
    # ---- the monolithic model on the time left when the gap is still open
    return run.hand_over()


@dataclass(eq=False)
class _BandRun:
    """One run of :func:`solve_horizon_band`: the horizon and its limits, the slot bands, and what the phases
    found so far (the decisions offered as the next incumbent, the result, its trace and ``info``)."""

    inst: Instance
    n: int  # slots of the horizon
    first_slot: int
    start: Cache
    seed: int
    mip_gap: float
    threads: int | None
    myopic_share: float
    time_limit: float
    started: float
    deadline: float
    decisions: list[Decision] | None  # the incumbent the next horizon solve starts from
    bands: list[_SlotBand] = field(default_factory=list)
    result: HorizonResult | None = None
    trace: list[tuple[float, float, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=lambda: {"method": "band"})

    def _solve(self, time_limit: float, **options: Any) -> HorizonResult:
        """:func:`solve_horizon` on the run's horizon, from :attr:`decisions`."""
        return solve_horizon(self.inst, self.n, time_limit=time_limit, seed=self.seed, first_slot=self.first_slot,
                             start_cache=self.start, mip_gap=self.mip_gap, threads=self.threads,
                             incumbent=self.decisions, **options)

    def _follow(self, res: HorizonResult, offset: float) -> None:
        """Append a horizon solve's trace, started ``offset`` seconds into the run."""
        self.trace += [(t + offset, value, bound) for t, value, bound in res.info.get("trace", [])]

    def _score(self, decisions: list[Decision]) -> float:
        return float(np.mean([o.score for o in evaluate_episode(self.inst, decisions, self.start, self.first_slot)]))

    def _myopic(self) -> tuple[list[Decision], float]:
        """The myopic exact policy's episode (:attr:`myopic_share` of the time limit) and its score."""
        mine = warm_start_episode(self.inst, self.n, self.first_slot, self.start, "myopic",
                                  self.myopic_share * self.time_limit, self.seed)
        assert mine is not None
        return mine, self._score(mine)

    def slot_optima(self) -> float:
        """Phase 1: each slot's optimum V_s (or its least bound when not proven in time); returns sum V."""
        n = self.n
        phase1_end = self.started + BAND_OPTIMA_SHARE * self.time_limit
        for s in range(n):
            self.bands.append(_SlotBand(self.inst, self.first_slot + s, self.start if s == 0 else None, self.threads,
                                        self.seed))
        for s, b in enumerate(self.bands):
            # a slot may use what the earlier ones left, less 0.1 s for each later slot (0.05 s at least)
            b.optimum(max(phase1_end - 0.1 * (n - 1 - s), time.perf_counter() + 0.05))
        upper = [b.upper for b in self.bands]
        self.info.update(band_slot_bounds=upper, band_optima_s=time.perf_counter() - self.started,
                         band_slots_proven=sum(b.covered >= 0 for b in self.bands))
        return float(sum(upper))

    def fall_back(self, total: float) -> None:
        """The slots are too hard to prove one by one: the monolithic model on the time left, under the bound
        of the slots' optima (and the trivial bound of those not proven), seeded as HorizonSolver would."""
        self.info["band_fallback"] = True
        if self.myopic_share > 0:
            mine, score = self._myopic()
            given = self._score(self.decisions) if self.decisions is not None else -1.0
            self.info["band_myopic_score"] = score
            if score > given:
                self.decisions = mine
        offset = time.perf_counter() - self.started
        self.result = self._solve(max(self.deadline - time.perf_counter(), 0.05), upper_bound=total / self.n)
        self._follow(self.result, offset)

    def heuristic_round(self, total: float, band: float, listed: list[bool]) -> None:
        """Round 0, a heuristic: the horizon restricted to each slot's optimal pattern (the only one listed so
        far; R(G) without the proof that the lists are complete, so its bound does not count). When its
        episode reaches mean(V) within the gap, the slots' optima prove it optimal and no list is needed."""
        n = self.n
        offset = time.perf_counter() - self.started
        res = self._solve(max(BAND_HEURISTIC_SHARE * (self.deadline - time.perf_counter()), 0.05),
                          restrict=_band_restriction(self.bands, listed, None))
        self.trace += [(t + offset, value, max(total / n, value)) for t, value, _ in res.info.get("trace", [])]
        res.bound = max(total / n, res.objective)  # the slots' optima (phase 1)
        self.result = res
        if res.status != "error":
            self.decisions = res.decisions
        self.info["band_rounds"] = [{"band": band, "heuristic": True,
                                     "patterns": sum(len(b.patterns) for b in self.bands), "status": res.status,
                                     "empty": bool(res.info.get("restricted_empty")), "objective": res.objective,
                                     "bound": res.bound, "restricted_s": res.time_s,
                                     "s": time.perf_counter() - self.started}]

    def band_rounds(self, band: float) -> None:
        """Phases 2-3, round after round: until a restricted horizon is not empty (or proven), the gap closes,
        the time runs out or, after the first round, the hand-over time comes."""
        handover = self.started + BAND_HANDOVER_SHARE * self.time_limit
        exact_rounds = 0
        while self._rounds_go_on(exact_rounds, handover):
            exact_rounds += 1
            res, total = self._band_round(band, handover)
            if res.status in ("error", "optimal") or not res.info.get("restricted_empty"):
                break
            band = self._grown_band(band, total)

    def _rounds_go_on(self, exact_rounds: int, handover: float) -> bool:
        result = self.result
        return result is None or (result.status != "error" and not self.info.get("band_fallback")
                                  and result.bound - result.objective > self.mip_gap * abs(result.objective)
                                  and time.perf_counter() < self.deadline - 0.05
                                  and (exact_rounds == 0 or time.perf_counter() < handover))

    def _band_round(self, band: float, handover: float) -> tuple[HorizonResult, float]:
        """One band G: every slot's patterns within G listed, then R(G) solved; the result keeps the better
        episode and the least bound. Returns R(G)'s result and sum V (which may have fallen)."""
        n, bands = self.n, self.bands
        enum_end = time.perf_counter() + BAND_ENUM_SHARE * max(self.deadline - time.perf_counter(), 0.0)
        enum_started = time.perf_counter()
        complete = [b.extend(band, enum_end) for b in bands]
        enum_s = time.perf_counter() - enum_started
        total = float(sum(b.upper for b in bands))  # a slot whose optimum came late has a lower bound now
        left = self.deadline - time.perf_counter()
        if not all(complete):  # close to the monolithic model, and it only holds episodes near mean(V)
            left = max(handover - time.perf_counter(), 0.25 * left)
        offset = time.perf_counter() - self.started
        res = self._solve(max(left, 0.05), restrict=_band_restriction(bands, complete, band),
                          outside_bound=(total - band) / n, upper_bound=total / n)
        self._follow(res, offset)
        result = self.result
        if result is None or res.objective >= result.objective or res.status == "error":
            keep_bound = min(res.bound, result.bound) if result is not None else res.bound
            self.result = result = res
            result.bound = max(keep_bound, res.objective)
        else:
            result.bound = max(min(result.bound, res.bound), result.objective)
        if res.status == "error":
            return res, total
        self.decisions = result.decisions
        self.info.setdefault("band_rounds", []).append(
            {"band": band, "patterns": sum(len(b.patterns) for b in bands), "slots_complete": sum(complete),
             "enumeration_s": enum_s, "restricted_s": res.time_s,
             "empty": bool(res.info.get("restricted_empty")), "status": res.status, "objective": res.objective,
             "bound": res.bound, "s": time.perf_counter() - self.started})
        return res, total

    def _grown_band(self, band: float, total: float) -> float:
        """R(G) is empty: every episode loses more than G; grow G (to the incumbent's loss if that is less)."""
        assert self.result is not None
        if self.myopic_share > 0 and not self.info.get("band_myopic_score"):
            # the optimum is not at the slots' own optima: a better incumbent (the myopic exact policy's
            # episode) caps the band at its loss
            mine, score = self._myopic()
            self.info["band_myopic_score"] = score
            if score > self.result.objective:
                self.decisions = mine
        incumbent_loss = total - self.n * max(self.result.objective, self.info.get("band_myopic_score", 0.0))
        return min(band * BAND_GROWTH, incumbent_loss) if incumbent_loss > band else band * BAND_GROWTH

    def hand_over(self) -> HorizonResult:
        """Not proven by the hand-over time: every R(G) only holds episodes near mean(V), so the incumbent may
        be poor; the monolithic model takes the time left, its bound capped by the bands' (both valid). Then
        the final status, info and time of the result."""
        result, info = self.result, self.info
        assert result is not None
        gap = relative_gap(result.bound, result.objective)
        if (result.status != "error" and not info.get("band_fallback") and gap > self.mip_gap
                and self.deadline - time.perf_counter() > BAND_HANDOVER_MIN_S):
            if self.myopic_share > 0 and "band_myopic_score" not in info:
                mine, score = self._myopic()
                info["band_myopic_score"] = score
                if score > result.objective:
                    self.decisions = mine
            offset = time.perf_counter() - self.started
            mono = self._solve(max(self.deadline - time.perf_counter(), 0.05), upper_bound=result.bound)
            self._follow(mono, offset)
            info["band_handover"] = {"s": offset, "objective": mono.objective, "bound": mono.bound,
                                     "status": mono.status}
            if mono.status == "error":
                result = mono
            else:
                bound = min(result.bound, mono.bound)
                if mono.objective > result.objective:
                    result = mono
                result.bound = max(bound, result.objective)
            gap = relative_gap(result.bound, result.objective)
        if result.status != "error":
            result.status = "optimal" if gap <= self.mip_gap else "time_limit"
        result.info = {**{k: v for k, v in result.info.items() if k != "trace"}, **info,
                       "band_slot_milps": sum(b.milps for b in self.bands), "trace": self.trace}
        result.time_s = time.perf_counter() - self.started
        return result

__all__ = ["BAND_ENUM_SHARE", "BAND_GROWTH", "BAND_HANDOVER_MIN_S", "BAND_HANDOVER_SHARE", "BAND_HEURISTIC_SHARE",
           "BAND_MIN_PROVEN", "BAND_OPTIMA_SHARE", "BAND_TOL", "slot_pattern", "solve_horizon_band"]
