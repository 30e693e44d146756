"""The fast solve path (solvers/exact/search.py, direct.py, packing.py) and the fast dual of the oracle
(solvers/exact/oracle.py, solve_dual), cross-checked against the Pyomo path and the Newton method of
min_max_load."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from solvers.exact import packing, search
from solvers.exact.highs import PyomoSolver
from solvers.exact.options import slot_options
from solvers.exact.oracle import min_max_load, solve_dual
from solvers.exact.search import solve_slot_direct
from tadp.evaluator import evaluate_slot
from tadp.generator import GeneratorOptions, generate_instance

# (devices per gateway, seed, resource scale, warm start cache): small and medium slots, scarce to loose
SLOTS = [([2, 3], 40, 0.5, False), ([3, 3], 41, 0.4, True), ([4, 2, 3], 42, 0.5, False), ([3, 4], 43, 0.3, True),
         ([5, 5], 44, 0.5, False), ([2, 2, 2, 2], 45, 0.6, True), ([6, 3], 46, 1.0, False), ([4, 4], 47, 0.25, False)]


def _instance(counts, seed, scale, warm, slots=2):
    return generate_instance(counts, seed=seed, slots=slots,
                             options=GeneratorOptions(resource_scale=scale, warm_cache=warm))


def test_solve_dual_matches_min_max_load() -> None:
    """On random assignments and fractional weights the fast dual reaches the same rho* (both certificates
    within 1e-9 of the Newton method's) and the same verdict; decide_only gives the verdict alone."""
    for counts, seed in (([3, 4, 3], 1), ([10, 10], 2), ([5, 5, 5, 5], 3)):
        inst = _instance(counts, seed, 0.5, False, slots=1)
        opts = slot_options(inst, 0, inst.initial_cache)
        rng = np.random.default_rng(seed)
        for _ in range(6):
            chosen = np.array([int(rng.choice(opts.options_of(j))) for j in range(opts.n_tasks) if rng.random() < 0.7])
            weights = rng.uniform(0.2, 1.0, len(chosen)) if rng.random() < 0.5 else None
            old = min_max_load(opts, chosen, weights=weights)
            new = solve_dual(opts, chosen, weights=weights)
            assert new.lower <= new.upper + 1e-12
            assert new.lower == pytest.approx(old.lower, abs=1e-9)
            assert new.upper == pytest.approx(old.upper, abs=1e-9)
            if abs(old.lower - 1) > 1e-6:
                assert new.verdict == old.verdict
                assert solve_dual(opts, chosen, weights=weights, decide_only=True).verdict == old.verdict


@pytest.mark.parametrize(("counts", "seed", "scale", "warm"), SLOTS)
def test_engines_prove_the_same_optimum(counts, seed, scale, warm) -> None:
    """Both slots of the trace (the second from the cache the first left): the direct and the Pyomo engine
    prove the same objective (1e-9), each bound is at least the other's optimum, the evaluator agrees."""
    inst = _instance(counts, seed, scale, warm)
    direct, pyomo = PyomoSolver(threads=1), PyomoSolver(threads=1, engine="pyomo")
    cache = inst.initial_cache
    for slot in range(inst.n_slots):
        a = direct.solve(inst, slot, cache, time_limit=60.0)
        b = pyomo.solve(inst, slot, cache, time_limit=60.0)
        assert a.status == b.status == "optimal", (a.info, b.info)
        assert a.objective == pytest.approx(b.objective, abs=1e-9)
        assert a.bound >= b.objective - 1e-9 and b.bound >= a.objective - 1e-9
        assert a.score == pytest.approx(a.objective, abs=1e-9)
        cache = a.outcome.next_cache


def test_engine_option() -> None:
    """``engine`` is checked; another MIP solver or the extended model goes through Pyomo."""
    with pytest.raises(ValueError, match="engine"):
        PyomoSolver(engine="fast")
    assert PyomoSolver().engine == "direct"
    assert PyomoSolver(formulation="extended").engine == "pyomo"
    assert PyomoSolver(mip_solver="appsi_highs").engine == "pyomo"


def test_gateway_dp_is_exact() -> None:
    """The packing's dynamic programme equals brute force on small multiple-choice knapsacks."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, capacity = 5, 40
        values = [np.append(rng.uniform(0, 1), rng.uniform(0, 2, 2)) for _ in range(n)]
        weights = [np.append(0, rng.integers(1, 20, 2)) for _ in range(n)]
        picks = packing.gateway_dp(values, weights, capacity)
        assert sum(weights[i][k] for i, k in enumerate(picks)) <= capacity
        best = max(sum(values[i][k] for i, k in enumerate(ks)) for ks in itertools.product(range(3), repeat=n)
                   if sum(weights[i][k] for i, k in enumerate(ks)) <= capacity)
        assert sum(values[i][k] for i, k in enumerate(picks)) == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize(("aggregate", "pack", "neighbourhoods"),
                         [(True, True, True), (False, True, True), (False, True, False), (False, False, True),
                          (True, False, False)])
def test_packing_and_neighbourhoods_only_propose(monkeypatch, aggregate: bool, pack: bool, neighbourhoods: bool) -> None:
    """With the large-slot phases forced on a small scarce slot (levels then sites, no first MILP, packing, two
    seconds of neighbourhoods, then the MILP; each switched off in turn), the answer is still the proven optimum:
    they only propose assignments, which the oracle judges, and add only valid cuts."""
    monkeypatch.setattr(packing, "MIN_TASKS", 0)
    monkeypatch.setattr(search, "FIRST_MILP_SHARE", 0.0)
    monkeypatch.setattr(search, "NEIGHBOURHOOD_SHARE", 2.0 / 60.0)
    inst = _instance([5, 5, 5], 48, 0.5, False, slots=1)
    decision, status, value, bound, info = solve_slot_direct(inst, 0, inst.initial_cache, time_limit=60.0, threads=1,
                                                             aggregate=aggregate, pack=pack,
                                                             neighbourhoods=neighbourhoods)
    reference = PyomoSolver(threads=1, engine="pyomo").solve(inst, 0, inst.initial_cache, time_limit=60.0)
    assert ("aggregate" in info) == aggregate and ("neighbourhoods" in info) == neighbourhoods
    assert not aggregate or info["aggregate"]["tried"] >= 1
    assert pack or "packing" not in info  # with it on, it runs unless the slot is proven before it
    assert "packing" not in info or info["packing"]["tried"] >= 1
    assert aggregate or not pack or "packing" in info  # this slot is not proven by the LP rounds alone
    assert not neighbourhoods or info["neighbourhoods"]["rounds"] >= 1
    assert status == reference.status == "optimal"
    assert value == pytest.approx(reference.objective, abs=1e-9)
    outcome = evaluate_slot(inst, 0, inst.initial_cache, decision)
    assert outcome.feasible and outcome.score == pytest.approx(value, abs=1e-9)
    assert bound >= value


def test_time_limit_holds_with_an_incumbent() -> None:
    """A short limit on a cold 10x35 scarce slot: status time_limit, a feasible decision, a valid bound."""
    inst = generate_instance([35] * 10, seed=3, slots=1)
    result = PyomoSolver(threads=1).solve(inst, 0, inst.initial_cache, time_limit=1.0)
    assert result.status in ("time_limit", "optimal")
    assert result.outcome.feasible
    assert result.bound >= result.score - 1e-12
