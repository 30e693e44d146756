"""The greedy heuristic: hand-checkable slots, feasibility on several sizes, and the bar it sets
for learning (at least Random's score on average)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from solvers import make_solver
from solvers.base import solve_episode
from solvers.heuristics.greedy import plan
from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE
from tadp.errors import TadpInputError
from tadp.evaluator import evaluate_slot
from tadp.generator import GeneratorOptions, generate_instance
from tadp.instance import Cache


def test_ample_resources_serve_everything_heavy() -> None:
    """At the paper's resource levels (spec [D9]: the optimum is all heavy) two devices are both
    served with heavy models, complete, and keep their models where they ran."""
    inst = generate_instance([2], seed=0, slots=1, options=GeneratorOptions(scenario="paper"))
    result = make_solver("greedy").solve(inst, 0, inst.initial_cache, time_limit=1.0)
    d = result.decision
    assert result.status == "feasible"
    assert (d.site != SITE_NONE).all() and (d.level == 1).all()
    assert result.outcome.completion == 1.0
    rows = np.arange(2)
    assert (d.keep_gateway[rows, 1] == (d.site == SITE_GATEWAY)).all() and (d.keep_edge[rows, 1] == (d.site == SITE_EDGE)).all()


def test_a_deadline_shorter_than_every_fetch_is_not_served() -> None:
    """From a cold cache every model must be fetched (at least S0 / R_c, about 0.1 s): a task with a
    deadline of 0.05 s cannot be served anywhere, the other is."""
    inst = generate_instance([2], seed=0, slots=1, options=GeneratorOptions(scenario="paper"))
    inst = dataclasses.replace(inst, deadline=np.array([[0.05, 1.8]]))
    d = plan(inst, inst.data[0], inst.deadline[0], inst.noisy[0], Cache.empty(2))
    assert d.site[0] == SITE_NONE and d.site[1] != SITE_NONE
    assert evaluate_slot(inst, 0, Cache.empty(2), d).completed.tolist() == [False, True]


@pytest.mark.parametrize("size,options", [
    ([5, 5], GeneratorOptions()),
    ([3, 5, 2], GeneratorOptions()),
    ([4, 4], GeneratorOptions(warm_cache=True)),
    ([6, 6], GeneratorOptions(resource_scale=0.2)),
    ([20, 20], GeneratorOptions()),
])
def test_greedy_is_feasible_and_completes_what_it_serves(size: list[int], options: GeneratorOptions) -> None:
    """Over an episode every decision is feasible (finish() re-scores it) and every task the greedy
    serves meets its deadline: its share sizing agrees with the evaluator's delays."""
    inst = generate_instance(size, seed=1, slots=8, options=options)
    _, results = solve_episode(make_solver("greedy"), inst, time_limit=1.0)
    for r in results:
        assert r.status == "feasible", r.info
        served = r.decision.site != SITE_NONE
        assert np.array_equal(r.outcome.completed, served)


def test_greedy_beats_random_on_average() -> None:
    """On three scarce 2x5 instances the greedy's mean episode score is at least Random's."""
    greedy, random = [], []
    for seed in range(3):
        inst = generate_instance([5, 5], seed=seed, slots=10)
        greedy += [r.score for r in solve_episode(make_solver("greedy"), inst, time_limit=1.0)[1]]
        random += [r.score for r in solve_episode(make_solver("random"), inst, time_limit=1.0, seed=seed)[1]]
    assert np.mean(greedy) >= np.mean(random)


def test_options_are_checked() -> None:
    """Unknown options, keep rules and prices are input errors."""
    with pytest.raises(TadpInputError):
        make_solver("greedy", depth=3)
    with pytest.raises(TadpInputError):
        make_solver("greedy", keep="sometimes")
    with pytest.raises(TadpInputError):
        make_solver("greedy", prices=[(1.0, -1.0)])
    assert make_solver("greedy", keep="none", prices=[(1, 2)]).prices == [(1.0, 2.0)]
