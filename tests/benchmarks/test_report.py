"""The report's arithmetic on rows small enough to check by hand: gaps to proven optima and to bounds,
the reference solver's own rows, times charged the limit, the shifted geometric mean, the summary and
the episode view (benchmarks/report.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.report import charged_times, episode_view, gaps, references, shifted_geomean, summary


def _row(solver: str, slot: int, score: float, *, status: str = "feasible", kind: str = "heuristic",
         time_s: float = 0.01, cache: str = "00", bound: float | None = None, size: str = "2x2") -> dict:
    return {"size": size, "instance": f"{size}-scarce-s0", "instance_index": 0, "seed": 0, "solver": solver,
            "kind": kind, "slot": slot, "cache": cache, "score": score, "completion": 1.0, "feasible": True,
            "heavy_share": 0.5, "dropped": 0, "late": 0, "light_completed": 1, "status": status,
            "objective": score if kind == "exact" else None, "bound": bound, "bound_kind": "opt" if bound else None,
            "mip_gap": None, "time_s": time_s, "train_s": 0.0, "error": None}


@pytest.fixture
def rows() -> pd.DataFrame:
    """highs proves 0.90 (slot 0) and 0.80 (slot 1) on its own states; greedy reaches slot 1 from another
    cache, whose reference cell is not proven (bound 0.85); slot 2's optimum is 0."""
    return pd.DataFrame([
        _row("highs", 0, 0.90, status="optimal", kind="exact", bound=0.90, time_s=0.5),
        _row("highs", 1, 0.80, status="optimal", kind="exact", bound=0.80, time_s=2.0),
        _row("highs", 2, 0.0, status="optimal", kind="exact", bound=0.0, time_s=0.1),
        _row("greedy", 0, 0.81),
        _row("greedy", 1, 0.68, cache="11"),
        _row("greedy", 2, 0.0),
    ])


@pytest.fixture
def refs() -> pd.DataFrame:
    return pd.DataFrame([{"size": "2x2", "instance": "2x2-scarce-s0", "instance_index": 0, "slot": 1, "cache": "11",
                          "opt_solver": "highs", "opt_score": 0.70, "opt_status": "time_limit", "opt_bound": 0.85,
                          "opt_time_s": 10.0}])


def test_references_take_the_reference_solvers_proven_rows(rows, refs):
    r = references(rows, refs, "highs").set_index(["slot", "cache"])
    assert r.loc[(0, "00"), "opt_score"] == 0.90 and r.loc[(0, "00"), "opt_status"] == "optimal"
    assert r.loc[(1, "11"), "opt_bound"] == 0.85 and r.loc[(1, "11"), "opt_status"] == "time_limit"


def test_gaps_to_optima_to_bounds_and_of_a_zero_optimum(rows, refs):
    """greedy: (0.90 - 0.81) / 0.90 = 10 % against a proven optimum; (0.85 - 0.68) / 0.85 = 20 % against a
    bound (labelled as such); 0 where the optimum is 0. highs: 0 on its own states."""
    g = gaps(rows, refs, "highs").set_index(["solver", "slot"])
    assert g.loc[("greedy", 0), "gap"] == pytest.approx(0.10) and g.loc[("greedy", 0), "gap_kind"] == "opt"
    assert g.loc[("greedy", 1), "gap"] == pytest.approx(0.20) and g.loc[("greedy", 1), "gap_kind"] == "bound"
    assert g.loc[("greedy", 2), "gap"] == 0.0
    assert (g.loc["highs", "gap"] == 0.0).all()


def test_times_are_charged_the_limit_and_averaged_geometrically():
    frame = pd.DataFrame({"status": ["optimal", "time_limit", "error"], "time_s": [0.5, 3.0, 12.0]})
    np.testing.assert_allclose(charged_times(frame, 10.0), [0.5, 10.0, 12.0])
    assert shifted_geomean(pd.Series([0.0, 3.0])) == pytest.approx(math.sqrt(4.0) - 1.0)
    assert math.isnan(shifted_geomean(pd.Series([], dtype=float)))


def test_summary_rows(rows, refs):
    """Per (size, solver): mean score, mean and worst gap, slots measured to a bound, proofs, times."""
    table = summary(gaps(rows, refs, "highs"), 10.0).set_index("solver")
    greedy, highs = table.loc["greedy"], table.loc["highs"]
    assert greedy["score"] == pytest.approx((0.81 + 0.68) / 3)
    assert greedy["gap_mean"] == pytest.approx(0.10) and greedy["gap_worst"] == pytest.approx(0.20)
    assert greedy["gap_to_bound_slots"] == 1 and pd.isna(greedy["proven_optimal"])
    assert highs["proven_optimal"] == 3 and highs["time_median_s"] == pytest.approx(0.5)
    assert list(table.index) == ["highs", "greedy"]  # the registry's display order


def test_episode_view_against_the_horizon_bound(rows):
    """Episode score = mean slot score; the best known episode is the horizon incumbent (0.5) or the best
    policy's episode (highs, 1.7 / 3), whichever is higher; gap = (bound - score) / bound."""
    episodes = pd.DataFrame([{"size": "2x2", "instance": "2x2-scarce-s0", "instance_index": 0, "slots": 3,
                              "horizon_score": 0.5, "horizon_bound": 0.6, "horizon_status": "time_limit",
                              "horizon_time_s": 60.0}])
    view = episode_view(rows, episodes).set_index("solver")
    assert view.loc["highs", "episode_score"] == pytest.approx(1.7 / 3)
    assert view.loc["greedy", "horizon_incumbent"] == pytest.approx(1.7 / 3)
    assert view.loc["greedy", "gap_to_bound"] == pytest.approx((0.6 - 1.49 / 3) / 0.6)
    assert view.loc["greedy", "horizon_proven"] == 0
