"""The exact solver (solvers/exact/highs.py, its model solvers/exact/model.py) and its oracle (solvers/exact/oracle.py).

The reference is the exhaustive enumeration of solvers.exact.enumerate on tiny instances (N <= 5): every
site/level choice of every task, none included, each judged by the cache check and the exact
continuous feasibility oracle. The oracle itself is checked against brute force on single tasks.
"""

from __future__ import annotations

import numpy as np
import pytest

from solvers import make_solver
from solvers.exact.enumerate import enumerate_optimum
from solvers.exact.highs import PyomoSolver, solve_slot
from solvers.exact.model import build_model, export_model
from solvers.exact.options import COMPUTE, HOP, UPLOAD, slot_options
from solvers.exact.oracle import FEASIBLE, INFEASIBLE, min_max_load, option_costs, schedule_decision
from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE
from tadp.evaluator import evaluate_slot
from tadp.generator import GeneratorOptions, generate_instance
from tadp.instance import Cache

# (devices per gateway, seed, resource scale, warm start cache): tight, scarce and loose; cold and warm
CASES = [
    ([1, 3], 0, 0.5, False), ([1, 3], 1, 0.3, True), ([2, 1, 2], 2, 0.5, False), ([2, 1, 2], 3, 0.4, True),
    ([2, 2], 4, 0.5, False), ([2, 2], 5, 0.25, True), ([3, 2], 6, 0.5, False), ([3, 2], 7, 1.0, True),
    ([5], 8, 0.5, False), ([5], 9, 0.35, True), ([1, 1, 1, 1, 1], 10, 0.5, False), ([1, 1, 1, 1, 1], 11, 0.6, True),
    ([4, 1], 12, 0.3, False), ([4, 1], 13, 0.5, True), ([2, 3], 14, 0.2, False), ([2, 3], 15, 2.0, False),
    ([1, 2], 16, 0.5, False), ([3], 17, 0.4, True), ([1, 4], 18, 0.45, False), ([2, 2, 1], 19, 0.3, True),
    ([1, 3], 20, 0.15, False), ([3, 1, 1], 21, 0.5, True),
]


def _instance(counts: list[int], seed: int, scale: float, warm: bool, slots: int = 2):
    return generate_instance(counts, seed=seed, slots=slots,
                             options=GeneratorOptions(resource_scale=scale, warm_cache=warm))


@pytest.fixture(scope="module")
def solver() -> PyomoSolver:
    return PyomoSolver()


# ------------------------------------------------------------------------------------- the oracle
def _brute_force_single(opts, o: int, prices: np.ndarray, steps: int = 400) -> float:
    """min over a fine grid of schedules of sum_p price_p * work / time, for option o alone."""
    t, f = opts.deadline[o], opts.fetch[o]
    w = opts.work[o]
    best = np.inf
    for y in np.linspace(1e-6, t - f, steps):  # compute time, fetch + compute within Tmax
        rest = t - y
        if opts.site[o] == SITE_EDGE:
            x = np.linspace(1e-6, rest - 1e-6, steps)
            v = rest - x
            cost = prices[opts.pool[o, UPLOAD]] * w[UPLOAD] / x + prices[opts.pool[o, HOP]] * w[HOP] / v
            cost = cost.min()
        else:
            cost = prices[opts.pool[o, UPLOAD]] * w[UPLOAD] / rest
        best = min(best, cost + prices[opts.pool[o, COMPUTE]] * w[COMPUTE] / y)
    return best


def test_option_cost_matches_brute_force() -> None:
    """The closed-form cheapest schedule of one option (both cases: uncapped, and compute capped at
    T - F) equals a brute-force minimum over a fine grid of schedules, to the grid's accuracy."""
    inst = _instance([2, 1], seed=3, scale=0.5, warm=False)
    opts = slot_options(inst, 0, inst.initial_cache)
    rng = np.random.default_rng(0)
    for _ in range(6):
        prices = rng.uniform(0.01, 1.0, opts.n_pools)
        exact = option_costs(opts, prices)
        for o in range(opts.n_options):
            brute = _brute_force_single(opts, o, prices)
            assert exact[o] <= brute * (1 + 1e-12)
            assert brute <= exact[o] * (1 + 2e-3)


def test_certificates_bracket_and_close() -> None:
    """For random assignments the lower (dual) and upper (explicit schedule) certificates meet to
    1e-9, and a feasible verdict yields a decision the evaluator accepts with every task on time."""
    inst = _instance([3, 4, 3], seed=1, scale=0.5, warm=False)
    opts = slot_options(inst, 0, inst.initial_cache)
    rng = np.random.default_rng(1)
    verdicts = set()
    for _ in range(12):
        chosen = [int(rng.choice(opts.options_of(j))) for j in range(opts.n_tasks) if rng.random() < 0.8]
        cert = min_max_load(opts, np.array(chosen))
        assert cert.lower <= cert.upper + 1e-12
        assert cert.upper - cert.lower <= 1e-9
        verdicts.add(cert.verdict)
        if cert.verdict == FEASIBLE and opts.cache_fits(np.array(chosen)):
            out = evaluate_slot(inst, 0, inst.initial_cache, schedule_decision(opts, cert))
            assert out.feasible and out.completed.sum() == len(chosen)
    assert verdicts == {FEASIBLE, INFEASIBLE}


def test_pruned_enumeration_equals_plain_enumeration() -> None:
    """The enumerator's exact pruning changes nothing: same optimum as visiting every assignment."""
    for counts, seed, scale, warm in CASES[:8]:
        inst = _instance(counts, seed, scale, warm)
        if inst.n_devices > 4:
            continue
        a = enumerate_optimum(inst, 0, inst.initial_cache, prune=True)
        b = enumerate_optimum(inst, 0, inst.initial_cache, prune=False)
        assert a.value == pytest.approx(b.value, abs=1e-12)


# ------------------------------------------------------------------------------------- HiGHS vs enumeration
@pytest.mark.parametrize(("counts", "seed", "scale", "warm"), CASES)
def test_highs_matches_enumeration(solver: PyomoSolver, counts, seed, scale, warm) -> None:
    """Proven optimum equal to the enumerated one (to 1e-6), on both slots of the trace (the second
    from the cache the first left), with a valid bound and the evaluator agreeing."""
    inst = _instance(counts, seed, scale, warm)
    cache = inst.initial_cache
    for slot in range(inst.n_slots):
        truth = enumerate_optimum(inst, slot, cache)
        assert not truth.uncertain
        result = solver.solve(inst, slot, cache, time_limit=30.0)
        assert result.status == "optimal", result.info
        assert result.objective == pytest.approx(truth.value, abs=1e-6)
        assert result.score == pytest.approx(truth.value, abs=1e-6)
        assert result.bound_kind == "opt" and result.bound >= truth.value - 1e-6
        assert result.bound - result.objective <= 1e-6 * max(result.objective, 1e-12) + 1e-12
        cache = result.outcome.next_cache


def test_hand_set_cache(solver: PyomoSolver) -> None:
    """A hand-set start cache (light models of devices 0 and 2 resident at their gateways, the heavy
    one of device 1 in the edge cache): HiGHS and the enumeration agree."""
    inst = _instance([2, 2], seed=22, scale=0.5, warm=False)
    cache = Cache(np.zeros((4, 2), bool), np.zeros((4, 2), bool))
    cache.gateway[[0, 2], 0] = True
    cache.edge[1, 1] = True
    assert not inst.cache_overflows(cache)
    truth = enumerate_optimum(inst, 0, cache)
    result = solver.solve(inst, 0, cache, time_limit=30.0)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(truth.value, abs=1e-6)


def test_formulations_agree() -> None:
    """The extended model (time budgets, shares, tangent planes) and the projected one (resource
    cuts on the choices) prove the same optimum."""
    for counts, seed, scale, warm in CASES[:4]:
        inst = _instance(counts, seed, scale, warm)
        a = solve_slot(inst, 0, inst.initial_cache, time_limit=30.0, formulation="projected")
        b = solve_slot(inst, 0, inst.initial_cache, time_limit=30.0, formulation="extended")
        assert a.status == b.status == "optimal"
        assert a.objective == pytest.approx(b.objective, abs=1e-6)


def test_generic_pyomo_solver_path() -> None:
    """``mip_solver`` names any Pyomo MIP solver (here appsi_highs through SolverFactory): same optimum."""
    inst = _instance([2, 1, 2], seed=2, scale=0.5, warm=False)
    truth = enumerate_optimum(inst, 0, inst.initial_cache)
    result = PyomoSolver(mip_solver="appsi_highs").solve(inst, 0, inst.initial_cache, time_limit=30.0)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(truth.value, abs=1e-6)


# ------------------------------------------------------------------------------------- limits, keep rule, export
def test_time_limit_returns_feasible_decision() -> None:
    """0.01 s on a 10x35 slot: a feasible (possibly empty) decision, status time_limit, a valid bound."""
    inst = generate_instance([35] * 10, seed=0, slots=1)
    result = make_solver("highs").solve(inst, 0, inst.initial_cache, time_limit=0.01)
    assert result.status == "time_limit"
    assert result.outcome.feasible
    assert result.bound is not None and result.bound >= result.score


def test_keep_rule_used(solver: PyomoSolver) -> None:
    """Default keep rule: the next cache holds exactly the models the served tasks ran, where they ran."""
    inst = _instance([2, 3], seed=30, scale=0.5, warm=True)
    result = solver.solve(inst, 0, inst.initial_cache, time_limit=30.0)
    d = result.decision
    expected_gw = np.zeros((inst.n_devices, 2), bool)
    expected_edge = np.zeros((inst.n_devices, 2), bool)
    rows = np.arange(inst.n_devices)
    expected_gw[rows, d.level] = d.site == SITE_GATEWAY
    expected_edge[rows, d.level] = d.site == SITE_EDGE
    assert (d.site != SITE_NONE).any()
    assert np.array_equal(result.outcome.next_cache.gateway, expected_gw)
    assert np.array_equal(result.outcome.next_cache.edge, expected_edge)


def test_solver_options_are_checked() -> None:
    """Bad options fail with a message naming them."""
    with pytest.raises(ValueError, match="keep"):
        PyomoSolver(keep="some")
    with pytest.raises(ValueError, match="mip-gap"):
        PyomoSolver(mip_gap=2.0)


def test_model_has_a_block_per_label_and_exports(tmp_path) -> None:
    """Every component carries a doc string; the model exports as LP and MPS with its named blocks."""
    import pyomo.environ as pyo

    inst = _instance([2, 2], seed=4, scale=0.5, warm=False)
    for formulation in ("projected", "extended"):
        model = build_model(inst, 0, inst.initial_cache, formulation=formulation)
        for comp in model.component_objects((pyo.Var, pyo.Constraint, pyo.Objective, pyo.Set), descend_into=True):
            assert comp.doc, comp.name
        for label in ("C2", "C3", "C4", "C5", "C6"):
            assert any(label in (c.doc or "") for c in model.component_objects(pyo.Constraint)), label
    export_model(inst, 0, tmp_path / "slot.lp", "lp")
    export_model(inst, 0, tmp_path / "slot.mps", "mps")
    text = (tmp_path / "slot.lp").read_text()
    assert "gateway_cache" in text and "choose" in text
    assert (tmp_path / "slot.mps").stat().st_size > 0
    with pytest.raises(ValueError, match="format"):
        export_model(inst, 0, tmp_path / "slot.txt", "txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slot.lp", "slot.mps"]  # no partial file left


def test_paper_scenario_serves_everything_heavy(solver: PyomoSolver) -> None:
    """At the paper's resource levels the optimum serves every task with the heavy model ([D9])."""
    inst = generate_instance([3, 2], seed=5, slots=1, options=GeneratorOptions(scenario="paper"))
    result = solver.solve(inst, 0, inst.initial_cache, time_limit=30.0)
    assert result.status == "optimal"
    assert (result.decision.site != SITE_NONE).all() and (result.decision.level == 1).all()

