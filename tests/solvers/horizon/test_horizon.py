"""The clairvoyant horizon solver (solvers/horizon/) and its scale methods (solvers/horizon/rolling.py).

The reference is the episode enumeration of solvers/horizon/enumerate.py on tiny instances (N <= 3, 2-3
slots): every site/level/none choice per task per slot, every place-only service (late on purpose, to
place a model), every keep choice, each slot judged by the oracle and the evaluator. Beyond that, the
horizon optimum must bound every policy's episode score, and everything it returns re-scores to its claim.
"""

from __future__ import annotations

import numpy as np
import pytest

from solvers import make_solver
from solvers.base import solve_episode
from solvers.exact.options import slot_options
from solvers.heuristics.greedy import GreedySolver
from solvers.heuristics.random import RandomSolver
from solvers.horizon.bands import solve_horizon_band
from solvers.horizon.data import GATE_EDGE, GATE_GATEWAY, GATE_NONE, horizon_data, horizon_slot
from solvers.horizon.enumerate import enumerate_episode
from solvers.horizon.model import build_horizon_model
from solvers.horizon.monolithic import solve_horizon
from solvers.horizon.rolling import block_bound, episode_bound, rolling_horizon
from solvers.horizon.solver import HorizonSolver
from tadp.decision import SITE_GATEWAY, SITE_NONE
from tadp.evaluator import evaluate_episode
from tadp.generator import GeneratorOptions, generate_instance
from tadp.instance import Cache
from tadp.solution import read_solution, score_solution, write_solution

# (devices per gateway, seed, resource scale, deadline range, warm start cache, slots): tight deadlines make
# fetches matter (place-only services, keeping for later); cold and warm; N <= 3
CASES = [
    ([2], 101, 0.5, (0.4, 1.0), False, 3),
    ([1, 2], 104, 0.3, (1.5, 2.0), False, 2),
    ([3], 105, 0.2, (0.4, 1.0), False, 2),
    ([2, 1], 115, 0.5, (0.3, 0.8), True, 2),
    ([3], 117, 0.5, (0.4, 1.0), False, 2),
    ([2, 1], 133, 0.8, (0.4, 1.0), True, 2),
    ([3], 135, 0.5, (0.3, 0.8), False, 2),
    ([3], 111, 0.8, (0.3, 0.8), False, 2),
    ([1, 2], 116, 0.5, (1.5, 2.0), False, 2),
    ([2, 1], 0, 0.5, (1.5, 2.0), False, 3),
    ([1, 1], 113, 0.5, (0.4, 1.0), True, 3),
]


def _instance(counts, seed, scale, deadline, warm, slots):
    return generate_instance(counts, seed=seed, slots=slots,
                             options=GeneratorOptions(resource_scale=scale, deadline=deadline, warm_cache=warm))


def _episode_score(inst, decisions, start=None, first_slot=0) -> float:
    return float(np.mean([o.score for o in evaluate_episode(inst, decisions, start, first_slot)]))


# ------------------------------------------------------------------------------------- options by fetch case
def test_fetch_cases_match_slot_options() -> None:
    """For a given start cache, the horizon's serve options of the true fetch case are exactly the per-slot
    options (same works, pools, fetch, accuracy), except those the per-slot table leaves out because the
    model does not fit the cache left free at the slot start (the horizon decides that cache)."""
    inst = generate_instance([2, 3], seed=7, slots=2, options=GeneratorOptions(resource_scale=0.6))
    rng = np.random.default_rng(3)
    for trial in range(4):
        cache = Cache(rng.random((5, 2)) < 0.3, rng.random((5, 2)) < 0.3)
        if inst.cache_overflows(cache):
            continue
        hs = horizon_slot(inst, trial % 2)
        opts = slot_options(inst, trial % 2, cache)
        s = hs.serve
        true_case = []
        for o in range(s.n_options):
            j, n = int(s.task[o]), int(s.level[o])
            if s.site[o] == SITE_GATEWAY:
                want = GATE_GATEWAY if cache.gateway[j, n] else (GATE_EDGE if cache.edge[j, n] else GATE_NONE)
            else:
                want = GATE_EDGE if cache.edge[j, n] else GATE_NONE
            if hs.gate[o] == want:
                true_case.append(o)
        rows = {(int(s.task[o]), int(s.site[o]), int(s.level[o])): o for o in true_case}
        for o in range(opts.n_options):
            h = rows.pop((int(opts.task[o]), int(opts.site[o]), int(opts.level[o])))
            assert s.fetch[h] == opts.fetch[o] and s.accuracy[h] == opts.accuracy[o]
            assert np.array_equal(s.work[h], opts.work[o]) and np.array_equal(s.pool[h], opts.pool[o])
        assert all(s.model_bits[h] > opts.cache_free[s.cache_pool[h]] for h in rows.values())


# ------------------------------------------------------------------------------------- against enumeration
@pytest.mark.parametrize(("counts", "seed", "scale", "deadline", "warm", "slots"), CASES)
def test_horizon_matches_episode_enumeration(counts, seed, scale, deadline, warm, slots) -> None:
    """Proven horizon optimum equal to the enumerated best episode (1e-6); its decisions re-score to it;
    the bound is valid."""
    inst = _instance(counts, seed, scale, deadline, warm, slots)
    truth = enumerate_episode(inst)
    assert not truth.uncertain
    assert _episode_score(inst, truth.decisions) == pytest.approx(truth.value, abs=1e-9)
    res = solve_horizon(inst, time_limit=30.0)
    assert res.status == "optimal", res.info
    assert res.objective == pytest.approx(truth.value, abs=1e-6)
    assert _episode_score(inst, res.decisions) == pytest.approx(res.objective, abs=1e-6)
    assert res.score == pytest.approx(res.objective, abs=1e-6)
    assert res.bound >= truth.value - 1e-6


@pytest.mark.parametrize(("counts", "seed", "scale", "deadline", "warm", "slots"), CASES)
def test_band_matches_episode_enumeration(counts, seed, scale, deadline, warm, slots) -> None:
    """Slot bands (solve_horizon_band): the same proven optimum as the enumeration, decisions that re-score
    to it, a valid bound, and per-slot bounds V_s that the optimal episode's slot scores respect."""
    inst = _instance(counts, seed, scale, deadline, warm, slots)
    truth = enumerate_episode(inst)
    res = solve_horizon_band(inst, time_limit=30.0)
    assert res.status == "optimal", res.info
    assert res.objective == pytest.approx(truth.value, abs=1e-6)
    assert res.score == pytest.approx(res.objective, abs=1e-6)
    assert res.bound >= truth.value - 1e-6
    assert all(score <= v + 1e-9 for score, v in zip(res.slot_scores, res.info["band_slot_bounds"], strict=True))


def test_band_grows_when_the_slot_optima_are_out_of_reach() -> None:
    """An instance whose slot optima (free start caches) cannot all be met in one episode: the heuristic
    round (the slots' optimal patterns) and the first restricted problems are proven empty (each of the
    latter lowering the bound to mean(V) - G / H), the band grows until it holds the optimum, which matches
    the enumeration."""
    inst = _instance([3], 111, 0.8, (0.3, 0.8), False, 2)
    truth = enumerate_episode(inst)
    res = solve_horizon_band(inst, time_limit=30.0)
    rounds = res.info["band_rounds"]
    assert rounds[0]["heuristic"] and rounds[0]["empty"] and rounds[1]["empty"] and not rounds[-1]["empty"]
    assert all(r["bound"] >= truth.value - 1e-6 for r in rounds)
    assert res.status == "optimal" and res.objective == pytest.approx(truth.value, abs=1e-6)


def test_band_slot_bounds_bound_every_policy_slot() -> None:
    """Each slot's own optimum with a free start cache bounds that slot's score in every episode: the
    optimum's, the myopic exact policy's and greedy's, slot by slot (2x5 scarce, 6 slots)."""
    inst = generate_instance([5, 5], seed=1, slots=6)
    res = solve_horizon_band(inst, time_limit=60.0)
    assert res.status == "optimal", res.info
    bounds = res.info["band_slot_bounds"]
    episodes = [res.slot_scores]
    for solver in (make_solver("highs"), GreedySolver()):
        _, results = solve_episode(solver, inst, time_limit=30.0)
        episodes.append([r.score for r in results])
    for scores in episodes:
        assert all(score <= v + 1e-9 for score, v in zip(scores, bounds, strict=True))
    assert res.objective >= float(np.mean(episodes[1])) - 1e-9


def test_band_with_a_slot_nobody_can_complete() -> None:
    """A middle slot whose deadlines no task can meet (no serve option): its V is 0 and slot bands still
    agree with the monolithic model."""
    import dataclasses

    inst = generate_instance([2, 2], seed=3, slots=3, options=GeneratorOptions(resource_scale=0.5))
    deadline = inst.deadline.copy()
    deadline[1] = 1e-3
    inst = dataclasses.replace(inst, deadline=deadline)
    band = solve_horizon_band(inst, time_limit=30.0)
    mono = solve_horizon(inst, time_limit=30.0)
    assert band.status == mono.status == "optimal"
    assert band.info["band_slot_bounds"][1] == 0.0
    assert band.objective == pytest.approx(mono.objective, abs=1e-6)
    assert band.score == pytest.approx(band.objective, abs=1e-6)


def test_band_hands_hard_slots_to_the_monolithic_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """When phase 1 proves too few slots (forced here), the monolithic model takes over under the slots'
    bound, and still proves the enumerated optimum."""
    import solvers.horizon.bands as eh

    monkeypatch.setattr(eh, "BAND_MIN_PROVEN", 1.5)
    inst = _instance([2], 101, 0.5, (0.4, 1.0), False, 3)
    res = solve_horizon_band(inst, time_limit=30.0)
    assert res.info["band_fallback"] and res.status == "optimal"
    assert res.objective == pytest.approx(enumerate_episode(inst).value, abs=1e-6)
    assert res.score == pytest.approx(res.objective, abs=1e-6)


def test_band_hands_over_to_the_monolithic_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the hand-over time (forced to 0 here) with the gap open (the slot optima out of reach), the
    monolithic model takes the time left under the bands' bound and proves the enumerated optimum."""
    import solvers.horizon.bands as eh

    monkeypatch.setattr(eh, "BAND_HANDOVER_SHARE", 0.0)
    inst = _instance([3], 111, 0.8, (0.3, 0.8), False, 2)
    res = solve_horizon_band(inst, time_limit=30.0)
    assert "band_handover" in res.info and res.status == "optimal"
    assert res.objective == pytest.approx(enumerate_episode(inst).value, abs=1e-6)
    assert res.score == pytest.approx(res.objective, abs=1e-6)


def test_tiny_fixture_matches_enumeration(tiny) -> None:
    """The hand-checkable fixture (one gateway, two devices, three slots): same optimum as enumeration."""
    truth = enumerate_episode(tiny)
    res = solve_horizon(tiny, time_limit=30.0)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(truth.value, abs=1e-6)


def test_place_only_service_is_used() -> None:
    """Deadlines too tight to complete with a cold fetch: the myopic optimum serves nobody, the horizon
    serves a task late in slot 0 (zero shares) only to place its model, and completes the task of slot 1
    with it. The enumeration agrees on the value."""
    inst = _instance([3], 105, 0.2, (0.4, 1.0), False, 2)
    _, myopic = solve_episode(make_solver("highs"), inst, time_limit=30.0)
    assert sum(r.score for r in myopic) == 0.0
    res = solve_horizon(inst, time_limit=30.0)
    assert res.objective > 0.1
    assert res.objective == pytest.approx(enumerate_episode(inst).value, abs=1e-6)
    first = evaluate_episode(inst, res.decisions)[0]
    late = (res.decisions[0].site != SITE_NONE) & ~first.completed
    assert late.any() and (first.placed.gateway.any() or first.placed.edge.any())
    assert res.decisions[0].uplink_share[late].max() == 0.0
    assert res.slot_scores[0] == 0.0 and res.slot_scores[1] > 0.0


# ------------------------------------------------------------------------------------- against policies
@pytest.mark.parametrize(("counts", "seed", "warm"), [([2, 2], 1, False), ([3, 2], 2, True), ([1, 2, 1], 3, False)])
def test_horizon_bounds_every_policy(counts, seed, warm) -> None:
    """On small scarce instances (4 slots) the proven horizon optimum is at least the episode score of the
    myopic exact policy, of greedy and of random (1e-6)."""
    inst = generate_instance(counts, seed=seed, slots=4, options=GeneratorOptions(warm_cache=warm))
    res = solve_horizon(inst, time_limit=60.0)
    assert res.status == "optimal", res.info
    band = solve_horizon_band(inst, time_limit=60.0)
    assert band.status == "optimal" and band.objective == pytest.approx(res.objective, abs=1e-6)
    for solver in (make_solver("highs"), GreedySolver(), RandomSolver()):
        _, results = solve_episode(solver, inst, time_limit=30.0, seed=seed)
        policy = float(np.mean([r.score for r in results]))
        assert res.objective >= policy - 1e-6, solver.name
    assert res.bound >= res.objective


def test_incumbent_seed_is_kept() -> None:
    """A policy's episode given as first incumbent is re-scored as a plan; the result is never worse."""
    inst = generate_instance([2, 2], seed=4, slots=3)
    _, results = solve_episode(make_solver("highs"), inst, time_limit=30.0)
    policy = float(np.mean([r.score for r in results]))
    res = solve_horizon(inst, time_limit=0.01, incumbent=[r.decision for r in results])
    assert res.objective >= policy - 1e-9
    assert res.score == pytest.approx(res.objective, abs=1e-6)


def test_time_limit_gives_feasible_episode_and_valid_bound() -> None:
    """A too-short limit on a 2x5, 6-slot instance: status time_limit, an episode the evaluator accepts
    whose score is the claim, a bound above it."""
    inst = generate_instance([5, 5], seed=0, slots=6)
    for solve in (solve_horizon, solve_horizon_band):
        res = solve(inst, time_limit=0.3)
        assert res.status == "time_limit"
        outcomes = evaluate_episode(inst, res.decisions)
        assert all(o.feasible for o in outcomes)
        assert res.score == pytest.approx(res.objective, abs=1e-6)
        assert res.bound >= res.objective


# ------------------------------------------------------------------------------------- interface and files
def test_registered_solver_replays_the_optimum() -> None:
    """Through the per-slot interface (solve_episode), the receding-horizon solver replays the proven
    clairvoyant optimum; each slot's claim is its score and its status the horizon's."""
    inst = _instance([3], 117, 0.5, (0.4, 1.0), False, 2)
    best = solve_horizon(inst, time_limit=30.0)
    solver = HorizonSolver()
    _, results = solve_episode(solver, inst, time_limit=30.0)
    assert [r.status for r in results] == ["optimal", "optimal"]
    assert float(np.mean([r.score for r in results])) == pytest.approx(best.objective, abs=1e-6)
    assert results[0].bound is None and results[0].info["horizon_bound"] >= best.objective - 1e-6


def test_solution_file_round_trip(tmp_path) -> None:
    """solve_horizon_solution writes an episode file whose per-slot claims hold and whose solver record
    carries the episode's objective and bound."""
    inst = _instance([2, 1], 133, 0.8, (0.4, 1.0), True, 2)
    solution, res = HorizonSolver().solve_horizon_solution(inst, time_limit=30.0)
    path = tmp_path / "horizon.json"
    write_solution(solution, path)
    scored = score_solution(inst, read_solution(path, inst))
    assert all(s.claim_ok for s in scored)
    assert float(np.mean([s.outcome.score for s in scored])) == pytest.approx(res.objective, abs=1e-6)
    episode = solution.solver["episode"]
    assert episode["status"] == "optimal" and episode["bound"] >= episode["objective"] - 1e-9


def test_model_components_are_documented() -> None:
    """Every component of the horizon model has a doc string; C2-C7 are all labelled."""
    import pyomo.environ as pyo

    inst = generate_instance([2, 2], seed=4, slots=2)
    model = build_horizon_model(horizon_data(inst, 0, 2, inst.initial_cache))
    for comp in model.component_objects((pyo.Var, pyo.Constraint, pyo.Objective, pyo.Set), descend_into=True):
        assert comp.doc, comp.name
    for label in ("C2", "C3", "C4", "C5", "C6", "C7"):
        assert any(label in (c.doc or "") for c in model.component_objects(pyo.Constraint)), label


def test_options_are_checked() -> None:
    """Bad options and slot ranges fail with a message naming them."""
    with pytest.raises(ValueError, match="mip-gap"):
        HorizonSolver(mip_gap=2.0)
    with pytest.raises(ValueError, match="window"):
        HorizonSolver(window=0)
    with pytest.raises(ValueError, match="keep"):
        HorizonSolver(keep="used")
    with pytest.raises(ValueError, match="warm_start"):
        HorizonSolver(warm_start="lucky")
    with pytest.raises(ValueError, match="method"):
        HorizonSolver(method="guess")
    inst = generate_instance([2], seed=0, slots=2)
    with pytest.raises(ValueError, match="slots"):
        solve_horizon(inst, 3, time_limit=1.0)


# ------------------------------------------------------------------------------------- scale methods
def test_block_bound_and_rolling_horizon_bracket_the_optimum() -> None:
    """On a 6-slot instance with a proven optimum: rolling horizon gives a true episode no better than it;
    the block bound (free start caches, then Lagrangian steps) is never below it, and the steps do not
    raise the bound."""
    inst = generate_instance([2, 2], seed=5, slots=6, options=GeneratorOptions(warm_cache=True))
    best = solve_horizon(inst, time_limit=60.0)
    assert best.status == "optimal"
    rolling = rolling_horizon(inst, time_limit=30.0, window=3)
    assert rolling.score == pytest.approx(rolling.objective, abs=1e-9)
    assert rolling.score <= best.objective + 1e-6
    free = block_bound(inst, time_limit=30.0, block=2)
    assert free.bound >= best.objective - 1e-6
    stepped = block_bound(inst, time_limit=60.0, block=2, incumbent=rolling.score, iterations=4)
    assert stepped.bound >= best.objective - 1e-6
    assert stepped.bound <= free.bound + 1e-9
    found = episode_bound(inst, time_limit=30.0)
    incumbent, bound = found.incumbent, found.bound
    assert incumbent <= best.objective + 1e-6 <= bound + 2e-6


def test_a_restricted_horizon_that_highs_presolve_broke_is_solved() -> None:
    """Found by benchmarks/bench_crosscheck.py --mid-episodes: on this instance the slot bands' first restricted
    horizon MILP made HiGHS 1.16's presolve reduce the model to nothing and postsolve a point that breaks a row
    ("Solve error", no solution), and the band method ended in an error. The backend now solves such a MILP
    again without presolve: the band method proves the monolithic model's optimum."""
    inst = generate_instance([4], seed=553259, slots=4,
                             options=GeneratorOptions(scenario="scarce", resource_scale=0.5, warm_cache=False))
    band = HorizonSolver(method="band").solve_horizon(inst, 4, time_limit=30.0)
    mono = HorizonSolver(method="monolithic").solve_horizon(inst, 4, time_limit=30.0)
    assert band.status == "optimal" and mono.status == "optimal", (band.info.get("error"), mono.info.get("error"))
    assert band.score == pytest.approx(mono.score, abs=1e-6)
    assert episode_bound(inst, time_limit=30.0).status == "optimal"
