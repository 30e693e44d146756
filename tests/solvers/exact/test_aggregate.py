"""The levels-then-sites heuristic of large cold slots (solvers/exact/aggregate.py): each step against brute force,
and its proposals judged like any other."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from solvers.exact import aggregate
from solvers.exact.direct import DirectModel
from solvers.exact.oa import OaRounds
from solvers.exact.options import slot_options, trivial_bound
from solvers.exact.oracle import FEASIBLE, schedule_decision, solve_dual
from solvers.exact.search import DirectSearch
from tadp.evaluator import evaluate_slot
from tadp.generator import GeneratorOptions, generate_instance


def _random_table(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Choices none / light / heavy per task, some missing, some free (a resident model)."""
    value = np.column_stack([np.zeros(n), rng.uniform(0.5, 0.9, n), rng.uniform(0.9, 1.0, n)])
    size = np.column_stack([np.zeros(n), rng.integers(1, 30, n), rng.integers(20, 60, n)]).astype(float)
    value[rng.random(n) < 0.15, 2] = -np.inf
    size[rng.random(n) < 0.1, 1] = 0.0
    size[~np.isfinite(value)] = 0.0
    return value, size


def _brute_levels(value: np.ndarray, size: np.ndarray, capacity: float) -> float:
    best = 0.0
    for ks in itertools.product(range(3), repeat=len(value)):
        rows = np.arange(len(value))
        v, s = value[rows, ks], size[rows, ks]
        if np.isfinite(v).all() and s.sum() <= capacity:
            best = max(best, float(v.sum()))
    return best


def test_choose_levels_is_exact_when_every_task_is_in_the_core() -> None:
    rng = np.random.default_rng(3)
    for _ in range(25):
        value, size = _random_table(rng, 7)
        capacity = float(rng.integers(20, 200))
        choice = aggregate.choose_levels(value, size, capacity, core=7)
        rows = np.arange(7)
        assert np.isfinite(value[rows, choice]).all()
        assert size[rows, choice].sum() <= capacity
        assert value[rows, choice].sum() == pytest.approx(_brute_levels(value, size, capacity), abs=1e-12)


def test_choose_levels_with_a_small_core_fits_and_beats_the_greedy() -> None:
    """With a core of 4 of 40 tasks the choice still fits, and is no worse than the LP greedy's integral part."""
    rng = np.random.default_rng(4)
    for _ in range(10):
        value, size = _random_table(rng, 40)
        capacity = float(rng.integers(300, 1200))
        rows = np.arange(40)
        choice = aggregate.choose_levels(value, size, capacity, core=4)
        greedy = aggregate.choose_levels(value, size, capacity, core=0)
        assert size[rows, choice].sum() <= capacity and size[rows, greedy].sum() <= capacity
        assert value[rows, choice].sum() >= value[rows, greedy].sum() - 1e-12


def test_best_fill_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    for _ in range(40):
        n = int(rng.integers(1, 11))
        sizes = rng.integers(1, 50, n).astype(float)
        prefs = rng.normal(size=n)
        capacity, window = float(rng.integers(0, 200)), float(rng.integers(0, 8))
        mask = aggregate.best_fill(sizes, prefs, capacity, window)
        subsets = [np.array(m, bool) for m in itertools.product([False, True], repeat=n)]
        fits = [m for m in subsets if sizes[m].sum() <= capacity]
        inside = [m for m in fits if sizes[m].sum() >= capacity - window]
        assert sizes[mask].sum() <= capacity
        if sizes.sum() <= capacity:
            assert mask.all()
        elif inside:
            assert sizes[mask].sum() >= capacity - window
            assert prefs[mask].sum() == pytest.approx(max(prefs[m].sum() for m in inside), abs=1e-12)
        else:
            assert sizes[mask].sum() == max(sizes[m].sum() for m in fits)


def test_split_sites_fills_the_caches_it_is_given() -> None:
    """The assignment of the chosen levels fits every cache; each gateway's cache is full to within the window
    whenever its chosen models exceed it (a cold 10x35 scarce slot)."""
    inst = generate_instance([35] * 10, seed=2, slots=1, options=GeneratorOptions(scenario="scarce"))
    opts = slot_options(inst, 0, inst.initial_cache)
    value, size, total = aggregate.cache_knapsack(opts)
    assert total == pytest.approx(float(opts.cache_free.sum()))  # 35 devices crowd every gateway's cache
    waste = aggregate.WASTE_SHARE * total
    choice = aggregate.choose_levels(value, size, total - waste)
    chosen, unused = aggregate.split_sites(opts, inst, choice, np.zeros(opts.n_options), waste / opts.n_gateways)
    assert chosen is not None and opts.cache_fits(chosen) and 0 <= unused <= waste
    assert len(np.unique(opts.task[chosen])) == len(chosen) == int((choice > 0).sum())
    bits = opts.model_bits * opts.places
    for g in range(opts.n_gateways):
        on_gateway = chosen[opts.cache_pool[chosen] == g]
        assert bits[on_gateway].sum() >= opts.cache_free[g] - waste / opts.n_gateways


@pytest.mark.parametrize("seed", [0, 1])
def test_aggregate_incumbent_is_judged_and_feasible(seed: int) -> None:
    """On a cold 10x35 scarce slot the heuristic finds a true incumbent within 1e-4 of the LP bound, and the
    evaluator accepts its decision at its value."""
    inst = generate_instance([35] * 10, seed=seed, slots=1, options=GeneratorOptions(scenario="scarce"))
    opts = slot_options(inst, 0, inst.initial_cache)
    model = DirectModel(inst, opts, threads=1, seed=seed)
    search = DirectSearch(model, time.perf_counter() + 60.0, OaRounds(1e-6), trivial_bound(opts))
    search.tighten()
    info = aggregate.aggregate_incumbent(search, inst, time.perf_counter() + 30.0)
    assert info["feasible"] >= 1 and search.best.certificates
    chosen = search.best.certificates[0].chosen
    assert solve_dual(opts, chosen, decide_only=True).verdict == FEASIBLE
    assert search.best.value <= search.bound + 1e-12
    assert (search.bound - search.best.value) / search.best.value < 1e-4
    outcome = evaluate_slot(inst, 0, inst.initial_cache, schedule_decision(opts, search.best.certificates[0]))
    assert outcome.feasible and outcome.score == pytest.approx(search.best.value, abs=1e-9)


def test_knapsack_bound_is_the_knapsack_optimum(monkeypatch) -> None:
    """With every task open the bound is the brute-force optimum of the added-up knapsack; with too few
    combinations allowed it gives up (None) rather than guess."""
    rng = np.random.default_rng(6)
    for _ in range(25):
        value, size = _random_table(rng, 7)
        capacity = float(rng.integers(20, 200))
        assert aggregate.knapsack_bound(value, size, capacity) == pytest.approx(
            _brute_levels(value, size, capacity), abs=1e-12)
    monkeypatch.setattr(aggregate, "BOUND_LOG2", 0)
    value, size = _random_table(np.random.default_rng(8), 30)
    assert aggregate.knapsack_bound(value, size, 300.0) is None


@pytest.mark.parametrize(("counts", "seed", "scale", "warm"), [([2, 3], 40, 0.5, False), ([3, 3], 41, 0.4, True),
                                                              ([4, 2, 3], 42, 0.5, False), ([2, 2, 2], 45, 0.3, True)])
def test_knapsack_bound_bounds_the_slot_optimum(counts, seed, scale, warm) -> None:
    """On small slots (cold and warm caches, scarce to loose) the added-up knapsack's optimum is no lower than
    the optimum that enumeration of every assignment finds."""
    from solvers.exact.enumerate import enumerate_optimum

    inst = generate_instance(counts, seed=seed, slots=1, options=GeneratorOptions(resource_scale=scale,
                                                                                  warm_cache=warm))
    opts = slot_options(inst, 0, inst.initial_cache)
    bound = aggregate.knapsack_bound(*aggregate.cache_knapsack(opts))
    optimum = enumerate_optimum(inst, 0, inst.initial_cache)
    assert bound is not None and bound / opts.n_tasks >= optimum.value - 1e-12


def test_a_gateway_its_tasks_cannot_fill_leaves_the_knapsack() -> None:
    """Uneven gateways (2 and 40 devices, the caches scaled by device count as the generator does, then the
    small gateway's doubled): the small gateway's cache can hold all its tasks' largest models, so its row never
    binds; its bits leave the capacity and its gateway options weigh nothing."""
    inst = generate_instance([2, 40], seed=9, slots=1, options=GeneratorOptions(scenario="scarce"))
    inst.gateway_cache[0] *= 4.0
    opts = slot_options(inst, 0, inst.initial_cache)
    bits = opts.model_bits * opts.places
    small = opts.cache_pool == 0
    assert bits[small].sum() <= opts.cache_free[0]  # every model of the small gateway's tasks fits at once
    value, size, capacity = aggregate.cache_knapsack(opts)
    assert capacity == pytest.approx(float(opts.cache_free[1:].sum()))
    tasks = np.unique(opts.task[small])
    assert (size[tasks, 1:] == 0).all()
