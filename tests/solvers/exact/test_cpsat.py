"""The discretised CP-SAT solver (solvers/exact/cpsat.py), cross-checked against HiGHS.

CP-SAT solves a restricted model, so its value never exceeds the proven optimum; with full grids
of ratio r it is at least the optimum of the same instance with pooled resources divided by about
r (the resource-augmentation guarantee of the module doc), which the tolerance test checks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from solvers import make_solver
from solvers.exact.cpsat import (
    SCALE,
    CpSatSolver,
    GridOptions,
    build_grid,
    greedy_splits,
    scaled_down,
    scaled_up,
    unscaled,
)
from solvers.exact.highs import PyomoSolver
from solvers.exact.options import slot_options
from tadp.decision import SITE_NONE
from tadp.generator import GeneratorOptions, generate_instance

CASES = [
    ([1, 3], 0, 0.5, False), ([2, 1, 2], 2, 0.5, False), ([2, 2], 4, 0.5, False), ([3, 2], 6, 0.5, False),
    ([5], 8, 0.5, False), ([1, 1, 1, 1, 1], 10, 0.5, False), ([4, 1], 13, 0.5, True), ([1, 4], 18, 0.45, False),
    ([2, 2, 1], 19, 0.3, True), ([2, 3], 15, 2.0, False),
]


def _instance(counts: list[int], seed: int, scale: float, warm: bool):
    return generate_instance(counts, seed=seed, slots=1,
                             options=GeneratorOptions(resource_scale=scale, warm_cache=warm))


@pytest.fixture(scope="module")
def highs() -> PyomoSolver:
    return PyomoSolver()


def test_scale_helpers() -> None:
    """One scale constant; to-integer rounds the side that keeps the model conservative."""
    assert scaled_up(0.25) == scaled_down(0.25) == SCALE // 4
    assert scaled_up(1 / 3) == scaled_down(1 / 3) + 1
    assert unscaled(scaled_down(0.5)) == 0.5


def test_grid_splits_meet_the_deadline() -> None:
    """Every split of the grid meets C1 by construction: legs sum to Tmax and fetch + compute <= Tmax."""
    inst = _instance([2, 3], 1, 0.5, False)
    opts = slot_options(inst, 0, inst.initial_cache)
    grid = build_grid(opts, GridOptions(ratio=1.3, compute_points=None, upload_points=None))
    t = opts.deadline[grid.option]
    assert np.allclose(grid.times.sum(axis=1), t, rtol=1e-12)
    assert (grid.times[:, 2] + opts.fetch[grid.option] <= t * (1 + 1e-12)).all()
    assert (grid.use <= SCALE).all() and (grid.use >= 0).all()


@pytest.mark.parametrize(("counts", "seed", "scale", "warm"), CASES)
def test_cpsat_feasible_and_below_highs(highs: PyomoSolver, counts, seed, scale, warm) -> None:
    """Default grid: a decision the evaluator accepts (objective = score), never above the proven
    optimum, with a restricted bound that is never labelled a bound on the optimum."""
    inst = _instance(counts, seed, scale, warm)
    best = highs.solve(inst, 0, inst.initial_cache, time_limit=30.0)
    assert best.status == "optimal"
    result = CpSatSolver().solve(inst, 0, inst.initial_cache, time_limit=30.0)
    assert result.status in ("feasible", "time_limit"), result.info
    assert result.outcome.feasible
    assert result.objective == pytest.approx(result.score, abs=1e-9)
    assert result.objective <= best.objective + 1e-6
    assert result.bound_kind == "restricted" and result.bound >= result.objective
    assert "bound" not in result.claimed() and "restricted_bound" in result.claimed()


@pytest.mark.parametrize(("counts", "seed", "scale", "warm"), CASES[:6])
def test_cpsat_within_grid_tolerance(highs: PyomoSolver, counts, seed, scale, warm) -> None:
    """Full grid of ratio r: CP-SAT >= the proven optimum of the instance whose pools are divided by
    r (1 + 2N/SCALE) and caches shrunk by (N + 2)/SCALE, and <= the optimum of the instance itself."""
    ratio = 1.25
    inst = _instance(counts, seed, scale, warm)
    n = inst.n_devices
    pools = ratio * (1 + 2 * n / SCALE)
    caches = 1 - (n + 2) / SCALE
    shrunk = dataclasses.replace(
        inst, gateway_band=inst.gateway_band / pools, gateway_compute=inst.gateway_compute / pools,
        edge_band=inst.edge_band / pools, edge_compute=inst.edge_compute / pools,
        gateway_cache=inst.gateway_cache * caches, edge_cache=inst.edge_cache * caches)
    floor = highs.solve(shrunk, 0, shrunk.initial_cache, time_limit=30.0)
    ceiling = highs.solve(inst, 0, inst.initial_cache, time_limit=30.0)
    assert floor.status == ceiling.status == "optimal"
    result = CpSatSolver(grid_ratio=ratio, compute_points=None, upload_points=None).solve(
        inst, 0, inst.initial_cache, time_limit=30.0)
    assert result.status == "feasible"  # CP-SAT proved its restricted model optimal
    assert floor.objective - 1e-9 <= result.objective <= ceiling.objective + 1e-6


def test_cpsat_time_limit_returns_feasible_decision() -> None:
    """0.01 s on a 10x35 slot: a feasible decision (at least the greedy fallback's) with status time_limit."""
    inst = generate_instance([35] * 10, seed=0, slots=1)
    result = make_solver("cpsat").solve(inst, 0, inst.initial_cache, time_limit=0.01)
    assert result.status == "time_limit"
    assert result.outcome.feasible and result.score > 0.5


@pytest.mark.parametrize(("counts", "seed", "scale", "warm"), CASES[-4:] + [([8, 20, 3], 5, 0.5, True)])
def test_greedy_splits_fit_the_grid_model(counts, seed, scale, warm) -> None:
    """The greedy's splits (the solver's fallback) satisfy the grid model's own integer
    constraints, at most one split per task; when CP-SAT finds nothing, the solver returns them, feasible."""
    inst = _instance(counts, seed, scale, warm)
    opts = slot_options(inst, 0, inst.initial_cache)
    g = build_grid(opts, GridOptions())
    picked = greedy_splits(inst, opts, g)
    tasks = opts.task[g.option[picked]]
    assert len(picked) and len(set(tasks.tolist())) == len(picked)
    for p in range(opts.n_pools):
        assert sum(int(g.use[k, leg]) for k in picked for leg in range(3) if opts.pool[g.option[k], leg] == p) <= SCALE
    capacity = np.append(inst.gateway_cache, inst.edge_cache)
    for node in range(opts.n_gateways + 1):
        placed = [o for o in g.option[picked] if opts.places[o] and opts.cache_pool[o] == node]
        assert (sum(scaled_up(opts.model_bits[o] / capacity[node]) for o in placed)
                <= scaled_down(opts.cache_free[node] / capacity[node]))
    result = make_solver("cpsat").solve(inst, 0, inst.initial_cache, time_limit=1e-3)
    assert result.outcome.feasible and result.score >= opts.value(g.option[picked]) - 1e-9


def test_cpsat_keep_rule_and_options() -> None:
    """The keep rule is applied (default used: the next cache holds the models the served tasks ran);
    bad options fail with a message naming them."""
    inst = _instance([2, 2], 4, 0.5, False)
    result = CpSatSolver(keep="none").solve(inst, 0, inst.initial_cache, time_limit=30.0)
    assert not result.outcome.next_cache.gateway.any() and not result.outcome.next_cache.edge.any()
    used = CpSatSolver().solve(inst, 0, inst.initial_cache, time_limit=30.0)
    served = used.decision.site != SITE_NONE
    assert used.outcome.next_cache.gateway.sum() + used.outcome.next_cache.edge.sum() == served.sum()
    with pytest.raises(ValueError, match="grid_ratio"):
        CpSatSolver(grid_ratio=1.0)
    with pytest.raises(ValueError, match="mip-solver"):
        CpSatSolver(mip_solver="gurobi")
