"""``tadp-bench paper`` end to end on quick budgets: points.csv, figures, resume, Fig. 4 and the claims, bad
figure names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.cli import main
from benchmarks.paper import cells
from benchmarks.paper.points import LABELS, METRICS

FAST = ["--quick", "--workers", "1", "--no-progress", "--horizon-time-limit", "0"]


@pytest.fixture(scope="module")
def fig7a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fig. 7(a) and (b) quick with the untrained solvers: 2 points of 2x3 each, 2 slots; they share the
    Table IV point."""
    out = tmp_path_factory.mktemp("fig7a")
    assert main(["paper", "fig7a", "fig7b", *FAST, "--solvers", "highs,greedy,random", "--out", str(out)]) == 0
    return out


def test_quick_figure_writes_points_and_figures(fig7a: Path) -> None:
    points = pd.read_csv(fig7a / "fig7a" / "points.csv")
    assert list(points.columns) == LABELS + METRICS
    assert sorted(points["value"].unique()) == [25.0, 300.0]  # the range's low end and Table IV
    assert set(points["solver"]) == {"highs", "greedy", "random"}
    assert len(points) == 2 * 3 and (points["figure"] == "fig7a").all() and (points["slots"] == 2).all()
    assert (points["size"] == "2x3").all() and (points["parameter"] == "R_c").all()
    assert points.loc[points["value"] == 25.0, "applied"].eq(25e6).all()
    # the losses split each policy's distance from "every task completed with its heavy model"
    assert (points[["loss_dropped", "loss_late", "loss_light"]] >= 0).all().all()
    for ext in ("png", "pdf"):
        assert (fig7a / "fig7a" / f"fig7a.{ext}").stat().st_size > 1000
    timings = pd.read_csv(fig7a / "timings.csv")
    assert timings["figure"].tolist() == ["fig7a", "fig7b"] and timings["ran"].tolist() == [2 * 3, 3]
    assert (fig7a / "fig7.png").stat().st_size > 1000 and (fig7a / "fig7.pdf").is_file()  # the paper's layout


def test_rerun_skips_finished_cells(fig7a: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun of the same command runs no cell again and rebuilds the same points."""
    before = (fig7a / "fig7a" / "points.csv").read_text()

    def refuse(*args: object) -> None:
        raise AssertionError("a finished cell ran again")

    monkeypatch.setattr(cells, "run_point_cell", refuse)
    assert main(["paper", "fig7a", *FAST, "--solvers", "highs,greedy,random", "--out", str(fig7a)]) == 0
    assert (fig7a / "fig7a" / "points.csv").read_text() == before
    assert pd.read_csv(fig7a / "timings.csv")["ran"].tolist() == [6, 3, 0]


def test_draw_only_runs_no_cell_and_redraws(fig7a: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--draw-only rebuilds points.csv and the figures from the cells there, runs none, records no timing."""
    before = (fig7a / "fig7a" / "points.csv").read_text()
    timings = (fig7a / "timings.csv").read_text()
    (fig7a / "fig7a" / "fig7a.png").unlink()

    def refuse(*args: object) -> None:
        raise AssertionError("--draw-only ran a cell")

    monkeypatch.setattr(cells, "run_point_cell", refuse)
    assert main(["paper", "fig7a", *FAST, "--solvers", "highs,greedy,random", "--draw-only", "--out", str(fig7a)]) == 0
    assert (fig7a / "fig7a" / "points.csv").read_text() == before
    assert (fig7a / "fig7a" / "fig7a.png").stat().st_size > 1000
    assert (fig7a / "timings.csv").read_text() == timings


def test_draw_only_without_cells_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paper", "fig7a", "--quick", "--draw-only", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no finished cells" in err[0]


@pytest.mark.slow
def test_fig4_and_claims_quick(tmp_path: Path) -> None:
    """Fig. 4's learning curves and the claims table from a quick run of the paper's three schemes."""
    assert main(["paper", "fig4", "claims", *FAST, "--solvers", "td3,ddpg,random,highs", "--out", str(tmp_path)]) == 0
    curves = pd.read_csv(tmp_path / "fig4" / "curves.csv")
    assert set(curves["solver"]) == {"td3", "ddpg"} and {"episode", "return", "seed"} <= set(curves.columns)
    assert (tmp_path / "fig4" / "fig4.png").is_file()
    claims = (tmp_path / "claims.md").read_text()
    assert "+31.4 %" in claims and "2.20x" in claims and "Fig. 8" in claims
    assert r"\toprule" in (tmp_path / "claims.tex").read_text()
    points = pd.read_csv(tmp_path / "claims" / "points.csv")
    assert set(points["figure"]) == {"fig4", "fig6a", "fig6b", "fig6c"}


@pytest.mark.parametrize("figure", ["fig9", "figure5", "fig5"])
def test_bad_figure_names_exit_2_with_one_line(figure: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["paper", figure, "--quick", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"unknown figure {figure!r}" in err[0]
    assert not out.exists()


@pytest.mark.parametrize(("argv", "fragment"), [
    (["fig4", "--size", "3-5"], "--size"),
    (["fig4", "--solvers", "td3,magic"], "unknown solver 'magic'"),
    (["fig4", "--seeds", "a,b"], "--seeds"),
    (["fig4", "--points", "0"], "--points"),
    (["fig4", "--device", "tpu"], "--device"),
])
def test_bad_options_exit_2_before_any_work(argv: list[str], fragment: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["paper", *argv, "--out", str(out)]) == 2
    assert fragment in capsys.readouterr().err
    assert not out.exists()


def test_horizon_cell_bounds_the_exact_policy() -> None:
    """The horizon cell's row: the clairvoyant incumbent is an episode score no better than its bound, which
    is at least the per-slot optimum's mean score on the same trace (it bounds every online policy)."""
    from benchmarks.paper.sweeps import figure_points

    point = figure_points("fig4", "2x3", 1)[0]
    budget = cells.Budget(slots=2, time_limit=5.0, episodes=1, steps=2, preset="default", horizon_time_limit=5.0)
    (row,) = cells.run_horizon_cell(point, 0, budget)["rows"]
    assert row["solver"] == "highs-horizon" and row["status"] in ("optimal", "time_limit")
    assert 0.0 <= row["score"] <= row["bound"] + 1e-9
    exact = cells.run_point_cell(point, 0, "highs", 0, budget, Path("unused"))["rows"]
    assert sum(r["score"] for r in exact) / len(exact) <= row["bound"] + 1e-6
