"""From finished cells to ``DIR/<figure>/points.csv`` (docs/paper.md, "Output").

A point's cells hold one row per slot; ``points.csv`` holds one tidy row per (figure, value, solver, seed,
instance): the point's labels and the slot rows' metrics over the trace. Accuracy and completion "over the
tasks assigned to the IGWs" (Fig. 5's caption) are ratios of sums over the trace: accuracy earned by, and
tasks completed among, the tasks assigned to the IGWs, divided by the number assigned there; the same for
the BS (Fig. 6's caption). The clairvoyant horizon cell adds a row with solver ``highs-horizon`` whose
``score`` is its incumbent episode and ``bound`` its bound. Fig. 4's learning curves go to
``fig4/curves.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.paper.sweeps import Point, describe_point
from tadp.instance import atomic_write_text

#: Label columns of points.csv, then the metric columns (docs/paper.md lists their meaning).
LABELS = ["figure", "parameter", "value", "size", "applied", "solver", "kind", "seed", "instance", "instance_index"]
METRICS = ["score", "completion", "accuracy_igw", "completion_igw", "accuracy_bs", "completion_bs", "share_igw",
           "assigned_igw", "assigned_bs", "completed_igw", "completed_ecos", "models_igw", "models_ecas",
           "placed_igw", "placed_ecas", "heavy_share", "dropped", "late", "loss_dropped", "loss_late",
           "loss_light", "bound", "status", "proven_slots", "errors", "slots", "n_tasks", "time_s", "train_s"]
#: Slot-row columns averaged per slot into points.csv, under their points.csv names.
PER_SLOT = {"score": "score", "completion": "completion", "assigned_gateway": "assigned_igw",
            "assigned_edge": "assigned_bs", "completed_gateway": "completed_igw", "completed_edge": "completed_ecos",
            "models_gateway": "models_igw", "models_edge": "models_ecas", "placed_gateway": "placed_igw",
            "placed_edge": "placed_ecas", "dropped": "dropped", "late": "late", "loss_dropped": "loss_dropped",
            "loss_late": "loss_late", "loss_light": "loss_light"}


def read_cells(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Every finished cell of the run folder, by key."""
    cells = {}
    for path in sorted((run_dir / "cells").glob("*.json")):
        cell = json.loads(path.read_text())
        cells[cell["key"]] = cell
    return cells


def _ratio(numerator: pd.Series, denominator: pd.Series) -> float:
    total = float(denominator.sum())
    return float(numerator.sum()) / total if total > 0 else float("nan")


def summarise_trace(slots: pd.DataFrame) -> dict[str, Any]:
    """The metrics of one policy's trace (its slot rows): per-slot means, ratios of sums over the trace."""
    out: dict[str, Any] = {name: float(slots[col].mean()) for col, name in PER_SLOT.items()}
    out.update({
        "accuracy_igw": _ratio(slots["accuracy_gateway"], slots["assigned_gateway"]),
        "completion_igw": _ratio(slots["completed_gateway"], slots["assigned_gateway"]),
        "accuracy_bs": _ratio(slots["accuracy_edge"], slots["assigned_edge"]),
        "completion_bs": _ratio(slots["completed_edge"], slots["assigned_edge"]),
        "share_igw": _ratio(slots["assigned_gateway"], slots["assigned_gateway"] + slots["assigned_edge"]),
        "heavy_share": _ratio(slots["heavy_completed"], slots["heavy_completed"] + slots["light_completed"]),
        "bound": float("nan"), "status": "optimal" if (slots["status"] == "optimal").all() else slots["status"].iloc[0],
        "proven_slots": int((slots["status"] == "optimal").sum()), "errors": int((slots["status"] == "error").sum()),
        "slots": len(slots), "n_tasks": int(slots["n_tasks"].iloc[0]), "time_s": float(slots["time_s"].median()),
        "train_s": float(slots["train_s"].iloc[0]),
    })
    return out


def point_frame(point: Point, keys: list[str], cells: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The rows of one point from its finished cells (cells not finished yet are left out)."""
    rows = []
    for key in keys:
        cell = cells.get(key)
        if cell is None:
            continue
        first = cell["rows"][0]
        labels = {**describe_point(point), "solver": first["solver"], "kind": first["kind"], "seed": first["seed"],
                  "instance": first["instance"], "instance_index": first["instance_index"]}
        if cell["type"] == "paper-horizon":
            metrics = {"score": first["score"], "bound": first["bound"], "status": first["status"],
                       "slots": None, "n_tasks": first["n_tasks"], "time_s": first["time_s"]}
        else:
            metrics = summarise_trace(pd.DataFrame(cell["rows"]))
        rows.append({**labels, **metrics})
    return pd.DataFrame(rows, columns=LABELS + METRICS)


def write_points(run_dir: Path, figure: str, points: list[tuple[Point, list[str]]],
                 cells: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """``run_dir/<figure>/points.csv`` from the cells of the figure's points; returns the frame."""
    frames = [f for f in (point_frame(p, keys, cells) for p, keys in points) if not f.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=LABELS + METRICS)
    frame = frame.sort_values(["value", "solver", "seed", "instance_index"], kind="stable").reset_index(drop=True)
    folder = run_dir / figure
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "points.csv", frame.to_csv(index=False))
    return frame


def write_curves(run_dir: Path, figure: str, keys: list[str]) -> pd.DataFrame:
    """``run_dir/<figure>/curves.csv``: the learning curves of the trained cells ``keys`` (episode, return,
    mean slot score, completion, validation...), labelled by solver and seed."""
    frames = [pd.read_csv(path) for key in keys if (path := run_dir / "curves" / f"{key}.csv").is_file()]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    (run_dir / figure).mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / figure / "curves.csv", frame.to_csv(index=False))
    return frame


def read_points(run_dir: Path, figure: str) -> pd.DataFrame:
    """A figure's points.csv (an empty frame when the figure has not run)."""
    path = run_dir / figure / "points.csv"
    if not path.is_file() or path.stat().st_size <= 1:
        return pd.DataFrame(columns=LABELS + METRICS)
    return pd.read_csv(path)


def run_config(run_dir: Path) -> dict[str, Any]:
    """The options of the folder's last ``tadp-bench paper`` run (its manifest), for captions."""
    path = run_dir / "manifest.json"
    runs = json.loads(path.read_text()).get("runs", []) if path.is_file() else []
    return runs[-1]["config"] if runs else {}


def point_means(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Per (value, solver): the mean over instances and seeds of ``columns`` (seeds: each seed's mean over
    instances first, so every seed weighs the same)."""
    if frame.empty:
        return pd.DataFrame(columns=["value", "solver", *columns])
    per_seed = frame.groupby(["value", "solver", "seed"], sort=False)[columns].mean(numeric_only=True)
    return per_seed.groupby(level=["value", "solver"], sort=False).mean().reset_index()


__all__ = ["LABELS", "METRICS", "point_frame", "point_means", "read_cells", "read_points", "run_config", "summarise_trace",
           "write_curves", "write_points"]
