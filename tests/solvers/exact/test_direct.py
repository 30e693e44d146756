"""The slot model built directly in HiGHS (solvers/exact/direct.py) against the readable Pyomo model
(solvers/exact/model.py): the same columns, objective, rows, coefficients and bounds; and a slot on which
HiGHS once never returned."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from solvers.exact.backends import HighsBackend
from solvers.exact.direct import DirectModel
from solvers.exact.model import add_resource_cut, build_model
from solvers.exact.options import slot_options
from tadp.generator import GeneratorOptions, generate_instance, scenario_options


def _lp_rows(lp) -> list[tuple]:
    """The rows of a HighsLp as sorted (upper, columns, coefficients) tuples, to compare as multisets."""
    return sorted(_lp_row_tuples(lp))


def _row_tuple(upper: float, entries: list[tuple[int, float]]) -> tuple:
    cols = sorted(entries)
    return (round(float(upper), 12), tuple(c for c, _ in cols), tuple(round(float(v), 12) for _, v in cols))


def _lp_row_tuples(lp) -> list[tuple]:
    """The rows of a HighsLp as (upper, columns, coefficients) tuples, in the model's order."""
    a = lp.a_matrix_
    n_rows = lp.num_row_
    entries: list[list[tuple[int, float]]] = [[] for _ in range(n_rows)]
    start, index, value = np.asarray(a.start_), np.asarray(a.index_), np.asarray(a.value_)
    if a.format_ == a.format_.kColwise:
        for col in range(lp.num_col_):
            for k in range(start[col], start[col + 1]):
                entries[index[k]].append((col, value[k]))
    else:
        for row in range(n_rows):
            entries[row] = [(int(index[k]), float(value[k])) for k in range(start[row], start[row + 1])]
    return [_row_tuple(lp.row_upper_[row], entries[row]) for row in range(n_rows)]


@pytest.mark.parametrize(("counts", "seed", "scale", "warm"),
                         [([2, 3], 0, 0.5, False), ([3, 1, 2], 1, 0.3, True), ([5, 5], 2, 1.0, False),
                          ([4, 4, 4], 3, 0.5, True)])
def test_direct_model_equals_pyomo_model(counts, seed, scale, warm) -> None:
    """Built from the same options, with the same resource cuts added, the highspy model and the Pyomo
    model handed to HiGHS have the same columns (bounds, costs, sense), rows, coefficients and bounds."""
    inst = generate_instance(counts, seed=seed, slots=1, options=GeneratorOptions(resource_scale=scale,
                                                                                   warm_cache=warm))
    opts = slot_options(inst, 0, inst.initial_cache)
    pyomo_model = build_model(inst, 0, inst.initial_cache, options=opts)
    direct = DirectModel(inst, opts, threads=1, seed=0)
    rng = np.random.default_rng(seed)
    for _ in range(2):
        prices = rng.uniform(0.1, 1.0, opts.n_pools)
        add_resource_cut(pyomo_model, prices)
        direct.add_cut(prices)
    backend = HighsBackend(pyomo_model, 1, 0)
    ours, theirs = direct.highs.getLp(), backend.opt._solver_model.getLp()
    assert ours.num_col_ == theirs.num_col_ == opts.n_options
    assert ours.num_row_ == theirs.num_row_
    sign = 1.0 if theirs.sense_ == ours.sense_ else -1.0
    assert np.allclose(np.asarray(ours.col_cost_), sign * np.asarray(theirs.col_cost_), rtol=1e-12, atol=0)
    assert np.array_equal(np.asarray(ours.col_lower_), np.asarray(theirs.col_lower_))
    assert np.array_equal(np.asarray(ours.col_upper_), np.asarray(theirs.col_upper_))
    assert all(r <= -1e20 for r in theirs.row_lower_) and all(r <= -1e20 for r in ours.row_lower_)
    assert _lp_rows(ours) == _lp_rows(theirs)


def test_the_rows_kept_for_cpsat_are_the_highs_model() -> None:
    """The rows a DirectModel keeps in Python (what the CP-SAT master gets, solvers/exact/master_cpsat.py) stay
    the rows of its HiGHS model, in order, as cuts and no-good cuts are added."""
    inst = generate_instance([3, 3, 3], seed=3, slots=1, options=GeneratorOptions(resource_scale=0.3))
    opts = slot_options(inst, 0, inst.initial_cache)
    model = DirectModel(inst, opts, threads=1, seed=0)
    assert model.add_cut(np.random.default_rng(0).uniform(0.1, 1.0, opts.n_pools))
    model.add_no_good(np.array([0, 3]))
    kept = [_row_tuple(row.upper, list(zip(row.columns.tolist(), row.coefs.tolist(), strict=True)))
            for row in model.rows]
    assert kept == _lp_row_tuples(model.highs.getLp())


def _solve_the_slot_that_hung(queue) -> None:
    from solvers.exact.highs import PyomoSolver

    inst = generate_instance([10] * 10, seed=10_010, slots=8, options=scenario_options("scarce", resource_scale=0.5))
    res = PyomoSolver(threads=1).solve(inst, 0, inst.initial_cache, time_limit=2.0)
    queue.put((res.status, res.score, res.outcome.feasible))


def test_a_slot_on_which_highs_looped_comes_back() -> None:
    """The cold 10x10 scarce slot (seed 10,010) on which HiGHS 1.16's root reduced-cost sub-MIP looped in its
    presolve for good, whatever the time limit: with that heuristic off
    (:data:`solvers.exact.backends.HIGHS_SAFETY_OPTIONS`) its 2 s solve returns a feasible incumbent. The
    solve runs in a child so that a loop fails this test (after 5 minutes) instead of hanging the suite."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_solve_the_slot_that_hung, args=(queue,))
    child.start()
    child.join(300)
    if child.is_alive():
        child.kill()
        pytest.fail("the exact solve did not return: HiGHS looped")
    status, score, feasible = queue.get(timeout=10)
    assert status in ("optimal", "time_limit") and feasible and score > 0.9


class _PresolveBreaks:
    """A ``highspy.Highs`` whose MILP runs with presolve on end as HiGHS 1.16's did on a restricted horizon model
    (tests/solvers/horizon/test_horizon.py): "Solve error" and no solution; everything else is the real one."""

    def __init__(self, highs) -> None:
        self._highs = highs
        self.broken_runs = 0

    def __getattr__(self, name):
        return getattr(self._highs, name)

    def _broken(self) -> bool:
        return self._highs.getOptionValue("presolve")[1] != "off"

    def run(self):
        self.broken_runs += self._broken()
        return self._highs.run()

    def getModelStatus(self):
        import highspy

        return highspy.HighsModelStatus.kSolveError if self._broken() else self._highs.getModelStatus()

    def getInfo(self):
        info = self._highs.getInfo()
        if self._broken():
            info.primal_solution_status = 0
        return info


def test_a_milp_that_presolve_broke_is_solved_again_without_it() -> None:
    inst = generate_instance([2, 3], seed=4, slots=1, options=GeneratorOptions(resource_scale=0.5))
    model = DirectModel(inst, slot_options(inst, 0, inst.initial_cache), threads=1, seed=0)
    fake = model.highs = _PresolveBreaks(model.highs)
    run = model.solve(30.0, 1e-9)
    # broken twice: the run, then its retry after a scheduler restart (which cannot help here); then presolve off
    assert fake.broken_runs == 2 and model.presolve_retries == 1
    assert run.status == "optimal" and run.values is not None
    assert fake.getOptionValue("presolve")[1] == "choose"  # the next MILP has presolve again
