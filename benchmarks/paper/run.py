"""``tadp-bench paper FIGURE...``: run (or resume) the paper's experiments into a folder (docs/paper.md).

Figures run one after another, each through the harness's :class:`~benchmarks.harness.Runner` (here, in
local processes or on Dask; finished cells are skipped), so that each figure's wall time can be recorded
(``timings.csv``: the time of the cells it did not share with an earlier figure). After every cell each
figure's ``points.csv`` is rebuilt from the finished cells; at the end the figures and, with ``claims``,
the claims table are drawn from those files alone.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import Runner, library_versions, machine_facts
from benchmarks.paper.cells import PAPER_SOLVERS, Budget, point_jobs, trained_keys
from benchmarks.paper.points import read_cells, write_curves, write_points
from benchmarks.paper.sweeps import SWEEPS, Point, expand_figures, figure_points
from solvers import REGISTRY
from tadp.errors import TadpInputError
from tadp.generator import parse_size, size_label
from tadp.instance import atomic_write_text

#: ``--quick``: any single figure in under a minute (tiny size, two points, a few training steps).
QUICK = {"size": "2x3", "points": 2, "episodes": 2, "steps": 10, "seeds": (0,), "instances": 1, "slots": 2,
         "time_limit": 2.0, "horizon_time_limit": 3.0}


@dataclass(frozen=True)
class PaperConfig:
    """What a ``tadp-bench paper`` run does; defaults are the paper's (size, training episodes)."""

    figures: tuple[str, ...]
    """Figures in the paper's order (``claims`` included when asked)."""
    size: str = "10x35"
    """``GxK``: the size of every point (Fig. 8 takes K from it and varies G)."""
    points: int = 5
    """Values per sweep (Table IV and the quoted values always among them)."""
    episodes: int = 300
    """Training episodes of td3, ddpg and the fit learners, retrained at every point."""
    steps: int = 50
    """Slots per training episode."""
    preset: str = "default"
    """Network preset of the learners: ``default`` (small CPU) or ``paper`` (Section V-A's sizes, a GPU)."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Training seeds (and Random's); the figures draw a confidence interval across them."""
    instances: int = 1
    """Instances (each with its own trace) per point; instance i uses instance seed i."""
    slots: int = 10
    """Slots of each trace that every solver decides."""
    solvers: tuple[str, ...] = PAPER_SOLVERS
    """Registered solvers run at every point."""
    time_limit: float = 10.0
    """Seconds per exact slot solve."""
    horizon_time_limit: float = 60.0
    """Seconds for the clairvoyant horizon optimum or bound per trace (0 skips it)."""
    device: str = "cpu"
    """Torch device of the learners (``cuda`` for the ``paper`` preset on a GPU)."""

    def budget(self) -> Budget:
        return Budget(self.slots, self.time_limit, self.episodes, self.steps, self.preset, self.horizon_time_limit,
                      self.device)

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def make_paper_config(figures: Sequence[str], **values: Any) -> PaperConfig:
    """A validated :class:`PaperConfig`; every problem is a :class:`~tadp.errors.TadpInputError` naming the
    option."""
    names = expand_figures(list(figures))
    if "size" in values:
        counts = parse_size(values["size"], field_name="--size")
        if len(set(counts)) != 1:
            raise TadpInputError("argument", "--size", "the paper's sweeps need even gateways (GxK)")
        values["size"] = size_label(counts)
    for name in values.get("solvers", ()):
        if name not in REGISTRY or name == "highs-horizon":
            known = ", ".join(n for n in REGISTRY if n != "highs-horizon")
            raise TadpInputError("argument", "--solvers", f"unknown solver {name!r} (known: {known})")
    if "solvers" in values and not values["solvers"]:
        raise TadpInputError("argument", "--solvers", "no solver given")
    if "seeds" in values and not values["seeds"]:
        raise TadpInputError("argument", "--seeds", "no seed given")
    if values.get("preset", "default") not in ("default", "paper"):
        raise TadpInputError("argument", "--preset", f"expected default or paper, got {values['preset']!r}")
    if values.get("horizon_time_limit", 0.0) < 0:
        raise TadpInputError("argument", "--horizon-time-limit", "must be >= 0")
    if values.get("device", "cpu") != "cpu":
        from solvers.learned.td3 import torch_device

        try:
            torch_device(values["device"])  # a missing GPU fails here, before any cell runs
        except RuntimeError as exc:
            raise TadpInputError("argument", "--device", str(exc)) from None
    return PaperConfig(figures=tuple(names), **values)


@dataclass
class FigurePlan:
    """One figure's points, the keys of their cells and the jobs that make them."""

    figure: str
    points: list[tuple[Point, list[str]]] = field(default_factory=list)
    jobs: list[tuple[str, Any, tuple]] = field(default_factory=list)
    trained: list[str] = field(default_factory=list)
    """Keys of the trained solvers' cells (their learning curves: Fig. 4's content)."""


def plan(cfg: PaperConfig, run_dir: Path) -> list[FigurePlan]:
    """The points and cells of every figure of the run."""
    plans = []
    for figure in cfg.figures:
        fp = FigurePlan(figure)
        for point in figure_points(figure, cfg.size, cfg.points):
            jobs = point_jobs(point, cfg.solvers, cfg.seeds, cfg.instances, cfg.budget(), run_dir)
            fp.points.append((point, [key for key, _, _ in jobs]))
            fp.jobs += jobs
            if point.figure == "fig4":  # the Table IV point: its learning curves are Fig. 4
                fp.trained += trained_keys(point, cfg.solvers, cfg.seeds, cfg.instances, cfg.budget())
        plans.append(fp)
    return plans


def collect(run_dir: Path, plans: list[FigurePlan]) -> None:
    """Rebuild every figure's points.csv (and Fig. 4's curves.csv) from the finished cells."""
    cells = read_cells(run_dir)
    for fp in plans:
        write_points(run_dir, fp.figure, fp.points, cells)
        if fp.trained:
            write_curves(run_dir, fp.figure, fp.trained)


def _record_run(run_dir: Path, cfg: PaperConfig, argv: Sequence[str], workers: int,
                dask_scheduler: str | None) -> None:
    """Append this run to ``manifest.json`` (one folder may hold several runs: cells are keyed by their
    own budget, so runs with other options add cells and share the rest)."""
    path = run_dir / "manifest.json"
    manifest = json.loads(path.read_text()) if path.is_file() else {"runs": []}
    manifest["runs"].append({"command": ["tadp-bench", "paper", *argv], "config": cfg.to_json(),
                             "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "workers": workers,
                             "dask_scheduler": dask_scheduler, "versions": library_versions(), "machine": machine_facts()})
    atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")


def _record_timing(run_dir: Path, row: dict[str, Any]) -> None:
    import pandas as pd

    path = run_dir / "timings.csv"
    old = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    atomic_write_text(path, pd.concat([old, pd.DataFrame([row])], ignore_index=True).to_csv(index=False))


def check_drawable(run_dir: Path) -> None:
    """``--draw-only`` needs a folder with finished cells."""
    if not (run_dir / "cells").is_dir():
        raise TadpInputError("argument", "--out", f"{run_dir} holds no finished cells to draw from")


def run_paper(cfg: PaperConfig, run_dir: Path, *, workers: int = 1, dask_scheduler: str | None = None,
              argv: Sequence[str] = (), progress: bool = True, draw_only: bool = False) -> Path:
    """Run (or resume) ``cfg``'s figures into ``run_dir``; then draw the figures and the claims table. With
    ``draw_only``, run no cell: rebuild points.csv, the figures and the claims from the cells already there
    (a point with missing cells keeps only the rows it has; a sweep shows the points that ran)."""
    if draw_only:
        check_drawable(run_dir)
        plans = plan(cfg, run_dir)
        _draw(cfg, run_dir, plans, progress)
        return run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    _record_run(run_dir, cfg, argv, workers, dask_scheduler)
    plans = plan(cfg, run_dir)
    runner = Runner(run_dir, workers=workers, dask_scheduler=dask_scheduler, progress=progress,
                    collect=functools.partial(collect, plans=plans))
    for fp in plans:
        todo = [job for job in fp.jobs if not runner.done(job[0])]
        load, started = os.getloadavg()[0], time.perf_counter()
        runner.run(fp.jobs, fp.figure)
        _record_timing(run_dir, {"figure": fp.figure, "cells": len(fp.jobs), "ran": len(todo),
                                 "wall_s": round(time.perf_counter() - started, 1), "load_start": load,
                                 "load_end": os.getloadavg()[0], "workers": workers,
                                 "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    _draw(cfg, run_dir, plans, progress)
    return run_dir


def _draw(cfg: PaperConfig, run_dir: Path, plans: list[FigurePlan], progress: bool) -> None:
    """Rebuild every figure's points.csv from the finished cells, then draw the figures and the claims."""
    collect(run_dir, plans)
    from benchmarks.paper.claims import write_claims
    from benchmarks.paper.figures import COMBINED, draw_combined, draw_figure

    for fp in plans:
        if fp.figure in SWEEPS:
            draw_figure(run_dir, fp.figure)
    for name, (panels, _) in COMBINED.items():
        if any(fp.figure in panels for fp in plans):
            draw_combined(run_dir, name)
    if "claims" in cfg.figures:
        write_claims(run_dir, echo=progress)


def default_run_dir(cfg: PaperConfig) -> Path:
    """``results/paper-<size>-<preset>/``."""
    return Path("results") / f"paper-{cfg.size}-{cfg.preset}"


__all__ = ["QUICK", "FigurePlan", "PaperConfig", "check_drawable", "collect", "default_run_dir", "make_paper_config", "plan", "run_paper"]
