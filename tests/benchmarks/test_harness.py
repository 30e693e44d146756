"""The benchmark harness end to end on tiny sizes: rows, gaps, tables, figures, resume, Dask, bad arguments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import harness
from benchmarks.cli import main
from benchmarks.harness import BenchConfig, run_benchmark
from solvers import benchmark_solvers

#: Columns that legitimately differ between two runs of the same cells (wall-clock times).
TIME_COLUMNS = ["time_s", "train_s", "opt_time_s"]


def _stable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in TIME_COLUMNS if c in frame.columns]).reset_index(drop=True)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tadp-bench --sizes 2x3 --quick`: every solver, 2 slots, tiny training budgets."""
    out = tmp_path_factory.mktemp("quick")
    assert main(["--sizes", "2x3", "--quick", "--out", str(out), "--no-progress"]) == 0
    return out


@pytest.mark.slow
def test_quick_run_writes_rows_tables_and_figures(quick_run: Path) -> None:
    rows = pd.read_csv(quick_run / "rows.csv")
    assert set(rows["solver"]) == set(benchmark_solvers())
    assert len(rows) == len(benchmark_solvers()) * 2  # one row per (solver, slot)
    assert rows["feasible"].all() and not rows["status"].eq("error").any()
    for name in ("summary.md", "summary.tex", "summary.csv", "gaps.csv", "manifest.json", "episodes.csv"):
        assert (quick_run / name).stat().st_size > 0
    for fig in ("gap_by_solver", "time_by_size", "training_curves"):
        assert (quick_run / "figures" / f"{fig}.png").stat().st_size > 1000
        assert (quick_run / "figures" / f"{fig}.pdf").is_file()
    tex = (quick_run / "summary.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and "scarce" in tex
    md = (quick_run / "summary.md").read_text()
    assert md.startswith("| solver |") and "(OPT - J)/OPT" in md
    manifest = json.loads((quick_run / "manifest.json").read_text())
    assert manifest["config"]["sizes"] == ["2x3"] and "highspy" in manifest["versions"]


@pytest.mark.slow
def test_gaps_are_measured_against_proven_optima(quick_run: Path) -> None:
    g = pd.read_csv(quick_run / "gaps.csv")
    proven = g["gap_kind"] == "opt"
    assert proven.all(), "every 2x3 state is solved to proven optimality"
    exact = g[(g["solver"] == "highs") & (g["status"] == "optimal")]
    assert len(exact) == 2 and np.allclose(exact["gap"], 0.0, atol=1e-6)
    assert (g["gap"] >= -1e-6).all(), "no policy beats the proven per-slot optimum"
    assert (g["score"] <= g["reference"] + 1e-6).all()


@pytest.mark.slow
def test_report_rebuilds_from_rows_alone(quick_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("rows.csv", "references.csv", "episodes.csv", "manifest.json"):
        (copy / name).write_bytes((quick_run / name).read_bytes())
    (copy / "curves").mkdir()
    for curve in (quick_run / "curves").glob("*.csv"):
        (copy / "curves" / curve.name).write_bytes(curve.read_bytes())
    assert main(["report", str(copy)]) == 0
    assert (copy / "summary.md").read_text() == (quick_run / "summary.md").read_text()
    assert (copy / "figures" / "training_curves.png").is_file()


def _cfg(**changes) -> BenchConfig:
    base = dict(sizes=("2x2",), instances=1, slots=2, solvers=("highs", "greedy", "random"), time_limit=5.0)
    base.update(changes)
    return BenchConfig(**base)


def test_interrupted_run_resumes_to_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped after two cells, then rerun, ends with exactly the rows of an uninterrupted run."""
    cfg = _cfg()
    whole = run_benchmark(cfg, tmp_path / "whole", progress=False, report=False)

    original = harness.Runner.record
    calls = {"n": 0}

    def record_then_die(self, result):
        if calls["n"] == 2:
            raise KeyboardInterrupt
        calls["n"] += 1
        original(self, result)

    monkeypatch.setattr(harness.Runner, "record", record_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(cfg, tmp_path / "resumed", progress=False, report=False)
    assert len(list((tmp_path / "resumed" / "cells").glob("*.json"))) == 2
    monkeypatch.setattr(harness.Runner, "record", original)
    run_benchmark(cfg, tmp_path / "resumed", progress=False, report=False)

    for name in ("rows.csv", "references.csv"):
        a = _stable(pd.read_csv(whole / name))
        b = _stable(pd.read_csv(tmp_path / "resumed" / name))
        pd.testing.assert_frame_equal(a, b)
    rows = pd.read_csv(tmp_path / "resumed" / "rows.csv")
    assert not rows.duplicated(["size", "instance_index", "solver", "seed", "slot"]).any()


def test_other_options_in_the_same_folder_are_refused(tmp_path: Path) -> None:
    run_benchmark(_cfg(solvers=("greedy",)), tmp_path, progress=False, report=False)
    assert main(["--sizes", "2x2", "--slots", "3", "--solvers", "greedy", "--out", str(tmp_path),
                 "--no-progress"]) == 2


def test_dask_local_cluster_gives_the_same_rows(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    cfg = _cfg(solvers=("highs", "greedy"))
    local = run_benchmark(cfg, tmp_path / "local", progress=False, report=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = run_benchmark(cfg, tmp_path / "dask", dask_scheduler=cluster.scheduler_address, progress=False,
                               report=False)
    for name in ("rows.csv", "references.csv"):
        pd.testing.assert_frame_equal(_stable(pd.read_csv(local / name)), _stable(pd.read_csv(remote / name)))


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--sizes", "2y5"], "--sizes"),
        (["--sizes", "2x5", "--solvers", "highs,magic"], "unknown solver 'magic'"),
        (["--sizes", "2x5", "--time-limit", "0"], "--time-limit"),
        (["--sizes", "2x5", "--time-limit", "-3"], "--time-limit"),
        (["--sizes", "2x5", "--scenario", "nowhere.toml"], "scenario"),
    ],
)
def test_bad_arguments_exit_2_before_any_work(argv: list[str], fragment: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main([*argv, "--out", str(out)]) == 2
    assert fragment in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_horizon_bound_covers_every_policy_episode(quick_run: Path) -> None:
    """The clairvoyant episode optimum bounds every online policy's episode score."""
    episodes = pd.read_csv(quick_run / "episodes.csv")
    rows = pd.read_csv(quick_run / "rows.csv")
    assert len(episodes) == 1 and episodes["horizon_status"].iloc[0] == "optimal"
    bound = episodes["horizon_bound"].iloc[0]
    assert (rows.groupby("solver")["score"].mean() <= bound + 1e-6).all()
    assert "Episode view" in (quick_run / "summary.md").read_text()


def test_slot_metrics_split_the_distance_from_all_heavy(tiny) -> None:
    """Tiny slot 0: device 0 runs its heavy model at the gateway (completes, 0.95), device 1 is dropped
    (its heavy model would have earned 0.85 on noisy data): the loss is all 'dropped', 0.85 / 2."""
    from conftest import decision

    from tadp.evaluator import evaluate_slot
    from tadp.instance import Cache

    d = decision(["gateway", "none"], [1, 0], [0.5, 0], [0, 0], [0.5, 0])
    cache = Cache.empty(2)
    m = harness.slot_metrics(tiny, 0, cache, d, evaluate_slot(tiny, 0, cache, d))
    assert m["score"] == pytest.approx(0.475)
    assert (m["assigned_gateway"], m["completed_gateway"], m["assigned_edge"], m["dropped"], m["late"]) == (1, 1, 0, 1, 0)
    assert m["accuracy_gateway"] == pytest.approx(0.95) and m["accuracy_edge"] == 0.0
    assert (m["models_gateway"], m["placed_gateway"], m["models_edge"]) == (1, 1, 0)
    assert m["loss_dropped"] == pytest.approx(0.425) and m["loss_late"] == 0.0 and m["loss_light"] == 0.0
    assert m["loss_dropped"] + m["loss_late"] + m["loss_light"] == pytest.approx((0.95 + 0.85) / 2 - m["score"])
