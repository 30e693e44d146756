"""The MILP master on CP-SAT (solvers/exact/master_cpsat.py): its integer rows are a relaxation, its optimum and
bound agree with brute force, its callback stops it, and the search with it proves the enumerated optimum."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import assert_proves

from solvers.exact.direct import Row
from solvers.exact.enumerate import enumerate_optimum
from solvers.exact.master_cpsat import scaled_row, solve_master
from solvers.exact.search import solve_slot_direct
from tadp.generator import GeneratorOptions, generate_instance


def test_scaled_rows_keep_every_point_of_the_row() -> None:
    """Every 0/1 point that meets a row, those on its boundary included, meets its integer version."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 9))
        coefs = rng.uniform(-0.2, 1.0, n) * 10.0 ** rng.integers(-7, 1)
        points = np.array(list(itertools.product((0, 1), repeat=n)), float)
        upper = float(points[rng.integers(len(points))] @ coefs)  # a point exactly on the boundary
        columns, scaled, rhs = scaled_row(np.arange(n), coefs, upper)
        for x in points[points @ coefs <= upper]:
            assert sum(c * x[j] for j, c in zip(columns, scaled, strict=True)) <= rhs


def _knapsacks(seed: int) -> tuple[list[Row], np.ndarray, int]:
    """Eight tasks of two options each (one GUB row per task) and three random knapsack rows."""
    rng = np.random.default_rng(seed)
    n_tasks, n = 8, 16
    rows = [Row(f"one[{j}]", np.array([2 * j, 2 * j + 1]), np.ones(2), 1.0) for j in range(n_tasks)]
    for k in range(3):
        coefs = rng.uniform(0.05, 0.4, n)
        rows.append(Row(f"knapsack[{k}]", np.arange(n), coefs, float(rng.uniform(0.6, 1.2))))
    return rows, rng.uniform(0.8, 1.0, n) / n_tasks, n_tasks


def _brute_force(rows: list[Row], costs: np.ndarray) -> float:
    best = 0.0
    for x in itertools.product((0, 1), repeat=len(costs)):
        x = np.array(x, float)
        if all(x[r.columns] @ r.coefs <= r.upper for r in rows):
            best = max(best, float(costs @ x))
    return best


@pytest.mark.parametrize("seed", range(3))
def test_the_master_finds_the_brute_force_optimum_with_a_valid_bound(seed: int) -> None:
    rows, costs, n_tasks = _knapsacks(seed)
    truth = _brute_force(rows, costs)
    run = solve_master(rows, costs, n_tasks, time_limit=30.0, mip_gap=0.0, start=None, on_incumbent=None)
    status, value, bound, values, found = run.status, run.objective, run.bound, run.values, run.incumbents
    assert status == "optimal" and found
    assert value == pytest.approx(truth, abs=1e-9) and value == pytest.approx(costs @ values, abs=1e-12)
    assert truth - 1e-12 <= bound <= truth + n_tasks / 1e9 + 1e-12  # the objective's rounding, added back
    for row in rows:  # the optimum meets the rows themselves here (no point lies within the rounding)
        assert values[row.columns] @ row.coefs <= row.upper + 1e-9


def test_the_callback_stops_the_master_and_a_start_changes_nothing() -> None:
    rows, costs, n_tasks = _knapsacks(5)
    seen = []
    run = solve_master(rows, costs, n_tasks, time_limit=30.0, mip_gap=0.0, start=None,
                       on_incumbent=lambda x: bool(seen.append(x)))
    status, bound, values, found = run.status, run.bound, run.values, run.incumbents
    assert status == "interrupted" and len(seen) == len(found) == 1 and bound is None
    assert np.array_equal(values, seen[0])
    start = np.zeros(len(costs))
    start[0] = 1.0  # one task served: meets every row
    run = solve_master(rows, costs, n_tasks, time_limit=30.0, mip_gap=0.0, start=start, on_incumbent=None)
    status, value = run.status, run.objective
    assert status == "optimal" and value == pytest.approx(_brute_force(rows, costs), abs=1e-9)


def test_fixed_columns_hold() -> None:
    rows, costs, n_tasks = _knapsacks(6)
    lower, upper = np.zeros(len(costs)), np.ones(len(costs))
    upper[::2] = 0.0  # every task's first option off
    lower[1] = 1.0
    run = solve_master(rows, costs, n_tasks, time_limit=30.0, mip_gap=0.0, start=None, on_incumbent=None,
                       lower=lower, upper=upper)
    status, values = run.status, run.values
    assert status == "optimal" and values[1] == 1.0 and not values[::2].any()


# slots of three and four gateways (enumerable: 8-10 tasks), cold and warm, scarce to loose
SLOTS = [([3, 3, 3], 41, 0.5, False), ([2, 3, 2, 3], 42, 0.3, False), ([3, 2, 3], 43, 0.5, True),
         ([3, 3, 3], 44, 1.0, False), ([2, 2, 2, 2], 45, 0.25, True)]


@pytest.mark.parametrize(("counts", "seed", "scale", "warm"), SLOTS)
def test_the_search_with_the_cpsat_master_proves_the_enumerated_optimum(counts, seed, scale, warm) -> None:
    """With the CP-SAT master and with HiGHS's the solver proves the optimum that enumeration finds (1e-9), and
    both bounds hold."""
    inst = generate_instance(counts, seed=seed, slots=1,
                             options=GeneratorOptions(resource_scale=scale, warm_cache=warm))
    cache = inst.initial_cache
    truth = enumerate_optimum(inst, 0, cache).value
    for use in (True, False):
        info = assert_proves(inst, cache, truth, cpsat=use)
        assert info["options"] > 0 and info.get("master") == ("cpsat" if use else None)


def test_the_cpsat_master_is_for_slots_of_three_gateways_and_more() -> None:
    for counts, want in (([5, 5], None), ([2, 2, 2], "cpsat"), ([7] * 9, None)):
        inst = generate_instance(counts, seed=1, slots=1)
        info = solve_slot_direct(inst, 0, inst.initial_cache, time_limit=2.0, threads=1)[4]  # routed at the start
        assert info.get("master") == want, counts

