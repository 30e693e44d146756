"""The cross-check script (benchmarks/bench_crosscheck.py): it passes on the solvers as they are, and it catches a
solver that breaks the rules."""

from __future__ import annotations

import random
from types import SimpleNamespace

from benchmarks import bench_crosscheck as crosscheck
from solvers import make_solver


def test_crosscheck_passes_on_random_instances(capsys) -> None:
    assert crosscheck.main(["--seed", "3", "--tiny", "2", "--mid", "1", "--time-limit", "10"]) == 0
    assert "3 instances judged, 0 with a mismatch" in capsys.readouterr().out


class _Cheat:
    """Claims a score above any optimum with a decision the evaluator rejects."""

    def solve(self, inst, slot, cache, time_limit):  # noqa: ARG002 - the solver interface
        return SimpleNamespace(outcome=SimpleNamespace(feasible=False, next_cache=cache), score=2.0)


def test_crosscheck_reports_a_solver_above_the_optimum() -> None:
    inst = crosscheck.draw_instance(random.Random(5), 2, 2, 4)
    solvers = {"highs": make_solver("highs", threads=1), "highs-pyomo": make_solver("highs", threads=1, engine="pyomo"),
               "cheat": _Cheat()}
    problems = crosscheck.check_instance(inst, solvers, 10.0, enumerate_truth=True)
    assert len(problems) == inst.n_slots
    assert all("cheat score 2.0 (feasible False) above the optimum" in p for p in problems)


def test_episodes_against_enumeration(capsys) -> None:
    """An instance whose episode enumeration is quick (seed 5: 3 tasks, 5 states): the horizon optimum equals
    it and every online policy's episode stays below; a policy claiming more is reported."""
    assert crosscheck.main(["--seed", "5", "--tiny", "0", "--mid", "0", "--episodes", "1"]) == 0
    assert "1 instances judged, 0 with a mismatch" in capsys.readouterr().out
    inst = crosscheck.draw_instance(random.Random(5), 3, 2, 3, slots=3)
    problems = crosscheck.check_episode(inst, {"cheat": _Cheat()}, 10.0)
    assert problems is not None and len(problems) == 1
    assert "cheat episode 2.0 above the clairvoyant optimum" in problems[0]


def test_mid_episodes_against_the_horizon_bound() -> None:
    """Four slots of a 2-gateway instance: the policies stay under the horizon bound, and one above it is
    reported."""
    inst = crosscheck.draw_instance(random.Random(1), 2, 3, 6, slots=4)
    solvers = {"greedy": make_solver("greedy")}
    assert crosscheck.check_episode(inst, solvers, 20.0, enumerate_truth=False) == []
    problems = crosscheck.check_episode(inst, {"cheat": _Cheat()}, 20.0, enumerate_truth=False)
    assert problems is not None and len(problems) == 1 and "cheat episode 2.0 above the horizon bound" in problems[0]


class _Raises:
    def solve(self, inst, slot, cache, time_limit):  # noqa: ARG002 - the solver interface
        raise RuntimeError("MILP round 1 ended error without a solution")


def test_a_solver_that_raises_is_a_mismatch() -> None:
    inst = crosscheck.draw_instance(random.Random(5), 2, 2, 4)
    problems = crosscheck._guarded(crosscheck.check_instance, inst, {"highs": _Raises()}, 10.0, enumerate_truth=False)
    assert problems == [f"{inst.name}: raised RuntimeError: MILP round 1 ended error without a solution"]


def test_exported_models_bound_the_optimum() -> None:
    """Slot 0's MPS and LP files, solved by HiGHS, reach the enumerated optimum; against a higher claimed
    optimum both are reported."""
    from solvers.exact.enumerate import enumerate_optimum
    from tadp.generator import GeneratorOptions, generate_instance

    inst = generate_instance([1, 3], seed=0, slots=1, options=GeneratorOptions(scenario="scarce", resource_scale=1.0))
    optimum = enumerate_optimum(inst, 0, inst.initial_cache).value
    assert optimum > 0
    assert crosscheck.check_export(inst, optimum) == []
    problems = crosscheck.check_export(inst, optimum + 0.5)
    assert [p.split(":")[1].split()[1] for p in problems] == ["mps", "lp"]


def test_random_caches_fit_and_follow_their_seed() -> None:
    import numpy as np

    inst = crosscheck.draw_instance(random.Random(2), 4, 8, 32)
    first = [crosscheck.with_random_cache(inst, np.random.default_rng(4)).initial_cache for _ in range(2)]
    assert first[0] == first[1]  # reproducible from the seed
    gen = np.random.default_rng(5)
    caches = [crosscheck.with_random_cache(inst, gen).initial_cache for _ in range(5)]
    assert all(inst.cache_overflows(c) == [] for c in caches)
    assert any(not c.is_empty() for c in caches) and len({c.gateway.tobytes() + c.edge.tobytes() for c in caches}) > 1


def test_a_broken_highs_scheduler_is_restarted_not_trusted() -> None:
    """Seed 7's third tiny instance, after the first two were checked with their exports: HiGHS's global
    scheduler was left in a state where every solve ended in an error, and `highs` took the bound 0 of a failed
    MILP for a proof of the optimum 0 (the optimum is 0.918). A failed solve now restarts the scheduler and runs
    again, and a failed run's bound is never used."""
    rng = random.Random(7)
    solvers = {"highs": make_solver("highs", threads=1), "highs-pyomo": make_solver("highs", threads=1, engine="pyomo")}
    for _ in range(3):
        inst = crosscheck.draw_instance(rng, 3, 3, 5)
        assert crosscheck.check_instance(inst, solvers, 10.0, enumerate_truth=True) == []
