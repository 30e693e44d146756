"""The paper's figures redrawn from ``points.csv`` alone, with the optimum drawn in (docs/paper.md).

Each figure has the paper's panels (accuracy and completion for Fig. 5, accuracy for Fig. 6, models and
completed tasks by node for Fig. 7, accuracy and the split of assignments for Fig. 8, reward per episode for
Fig. 4). Every policy is a line with a 95 % confidence band across its seeds (the mean over instances and
slots first); the exact per-slot optimum (``highs``) is a black dashed line and the clairvoyant horizon
bound a grey dotted one. A footnote on every figure says at which size and budget it ran. Output:
``DIR/<figure>/<figure>.png`` and ``.pdf``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.paper.points import read_points, run_config
from benchmarks.paper.sweeps import SWEEPS
from solvers import REGISTRY, display_order

OPTIMUM, HORIZON = "highs", "highs-horizon"
#: Panels of each view: (column of points.csv, y label).
PANELS = {
    "igw": [("score", "mean accuracy, all tasks"), ("accuracy_igw", "mean accuracy, tasks at IGWs"),
            ("completion", "completion ratio, all tasks"), ("completion_igw", "completion ratio, tasks at IGWs")],
    "bs": [("score", "mean accuracy, all tasks"), ("accuracy_bs", "mean accuracy, tasks at the BS")],
    "placement": [("models_igw", "models cached at the IGWs / slot"), ("models_ecas", "models cached at the ECaS / slot"),
                  ("completed_igw", "tasks completed at the IGWs / slot"),
                  ("completed_ecos", "tasks completed at the ECoS / slot")],
    "scale": [("score", "mean accuracy, all tasks"), ("share_igw", "share of served tasks assigned to IGWs")],
}


#: The paper's multi-panel figures in its own layout: panels side by side (a, b, c), the caption's metrics
#: as rows. Drawn as ``DIR/<name>.png`` once every panel has run.
COMBINED = {
    "fig5": (("fig5a", "fig5b", "fig5c"), [("accuracy_igw", "mean accuracy, tasks at IGWs"),
                                           ("completion_igw", "completion ratio, tasks at IGWs")]),
    "fig6": (("fig6a", "fig6b", "fig6c"), [("accuracy_bs", "mean accuracy, tasks at the BS")]),
    "fig7": (("fig7a", "fig7b"), [("models_igw", "models cached at the IGWs / slot"),
                                  ("models_ecas", "models cached at the ECaS / slot"),
                                  ("completed_igw", "tasks completed at the IGWs / slot"),
                                  ("completed_ecos", "tasks completed at the ECoS / slot")]),
}


def palette() -> dict[str, Any]:
    """One colour per registered solver, the same in every figure."""
    import seaborn as sns

    names = display_order(REGISTRY)
    return dict(zip(names, sns.color_palette("tab10", len(names)), strict=True))


def footnote(run_dir: Path, frame: pd.DataFrame) -> str:
    """Size and budget of the run that made the figure (the folder's last run), for every figure."""
    cfg = run_config(run_dir)
    sizes = ", ".join(dict.fromkeys(str(s) for s in frame.get("size", pd.Series(dtype=str)).dropna()))
    return (f"tadp-bench paper: size {sizes or cfg.get('size', '?')} (paper values kept per device, docs/model.md "
            f"[D8]); {cfg.get('episodes', '?')} training episodes x {cfg.get('steps', '?')} slots, "
            f"{cfg.get('preset', '?')} preset, seeds {','.join(map(str, cfg.get('seeds', [])))}; "
            f"{cfg.get('instances', '?')} instance(s) x {cfg.get('slots', '?')} slots per point. "
            f"Band: 95 % CI across seeds. Dashed: exact per-slot optimum; dotted: horizon bound.")


def _draw_lines(ax: Any, frame: pd.DataFrame, column: str, colours: dict[str, Any], log_x: bool) -> None:
    import seaborn as sns

    policies = frame[~frame["solver"].isin([OPTIMUM, HORIZON])]
    per_seed = policies.groupby(["value", "solver", "seed"], as_index=False)[column].mean()
    order = display_order(per_seed["solver"])
    if not per_seed.empty:
        sns.lineplot(data=per_seed, x="value", y=column, hue="solver", hue_order=order, palette=colours, marker="o",
                     errorbar=("ci", 95), ax=ax, legend=False)
    for solver, style, label in ((OPTIMUM, "--", "exact per-slot optimum"), (HORIZON, ":", "horizon bound")):
        mine = frame[frame["solver"] == solver]
        value_col = "bound" if solver == HORIZON else column
        if mine.empty or (solver == HORIZON and column != "score"):
            continue
        means = mine.groupby("value")[value_col].mean()
        ax.plot(means.index, means.to_numpy(), style, color="black" if solver == OPTIMUM else "0.45", marker="s",
                ms=3, label=label)
    if log_x:
        ax.set_xscale("log")
        values = sorted(frame["value"].unique())
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()


def _legend(fig: Any, frame: pd.DataFrame, colours: dict[str, Any]) -> None:
    from matplotlib.lines import Line2D

    names = [s for s in display_order(frame["solver"]) if s not in (OPTIMUM, HORIZON)]
    handles = [Line2D([], [], color=colours[s], marker="o", label=s) for s in names]
    if (frame["solver"] == OPTIMUM).any():
        handles.append(Line2D([], [], color="black", ls="--", marker="s", ms=3, label="optimum (highs, per slot)"))
    if (frame["solver"] == HORIZON).any():
        handles.append(Line2D([], [], color="0.45", ls=":", marker="s", ms=3, label="horizon bound"))
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 5), fontsize=7, frameon=False,
               bbox_to_anchor=(0.5, 1.0))


def _sweep_figure(run_dir: Path, figure: str, frame: pd.DataFrame) -> Any:
    import matplotlib.pyplot as plt

    sweep = SWEEPS[figure]
    panels = PANELS[sweep.view]
    ncols = 2
    nrows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(nrows, ncols, figsize=(8, 3.0 * nrows + 0.8), squeeze=False)
    colours = palette()
    for ax, (column, label) in zip(axes.ravel(), panels, strict=True):
        _draw_lines(ax, frame, column, colours, log_x=sweep.parameter != "G")
        ax.axvline(sweep.table_iv, color="0.8", lw=0.8, zorder=0)
        ax.set(xlabel=sweep.axis, ylabel=label)
    _legend(fig, frame, colours)
    fig.suptitle(f"{sweep.title} (grey line: Table IV)", y=1.04, fontsize=10)
    return fig


def _training_figure(run_dir: Path, frame: pd.DataFrame) -> Any:
    import matplotlib.pyplot as plt
    import seaborn as sns

    curves_path = run_dir / "fig4" / "curves.csv"
    curves = pd.read_csv(curves_path) if curves_path.is_file() and curves_path.stat().st_size > 1 else pd.DataFrame()
    fig, ax = plt.subplots(figsize=(7, 4))
    colours = palette()
    if not curves.empty:
        sns.lineplot(data=curves, x="episode", y="return", hue="solver", hue_order=display_order(curves["solver"]),
                     palette=colours, errorbar=("ci", 95), ax=ax)
    steps = int(run_config(run_dir).get("steps", 50))
    for solver, style, label in ((OPTIMUM, "--", "exact per-slot optimum x slots"),
                                 (HORIZON, ":", "horizon bound x slots")):
        mine = frame[frame["solver"] == solver]
        if not mine.empty:
            level = mine["bound" if solver == HORIZON else "score"].mean() * steps
            ax.axhline(level, ls=style, color="black" if solver == OPTIMUM else "0.45", label=label)
    warmup = _warmup_episodes(run_dir, steps)
    if curves.shape[0] and warmup < curves["episode"].max():
        ax.axvline(warmup - 0.5, color="0.6", lw=0.8, ls="-.", label="learning starts (uniform actions before)")
    ax.set(xlabel="training episode", ylabel=f"episode reward (sum of {steps} slot scores)",
           title="Fig. 4: reward per training episode (Table IV)")
    ax.legend(fontsize=7)
    return fig


def _warmup_episodes(run_dir: Path, steps: int) -> float:
    """Episodes of uniform random actions before learning starts (the preset's ``learning_starts`` steps)."""
    from solvers.learned.td3 import preset

    name = run_config(run_dir).get("preset", "default")
    return preset(name, "td3").learning_starts / steps


def draw_figure(run_dir: Path, figure: str) -> list[Path]:
    """Draw ``figure`` from ``DIR/<figure>/points.csv`` (and Fig. 4's curves.csv); PNG and PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    frame = read_points(run_dir, figure)
    if frame.empty:
        return []
    sns.set_theme(style="whitegrid", context="paper")
    fig = _training_figure(run_dir, frame) if figure == "fig4" else _sweep_figure(run_dir, figure, frame)
    fig.text(0.5, -0.02, footnote(run_dir, frame), ha="center", va="top", fontsize=6.5, wrap=True)
    written = []
    for ext in ("png", "pdf"):
        path = run_dir / figure / f"{figure}.{ext}"
        fig.savefig(path, bbox_inches="tight", dpi=150)
        written.append(path)
    plt.close(fig)
    return written


def draw_combined(run_dir: Path, name: str) -> list[Path]:
    """The paper's ``name`` (``fig5``, ``fig6``, ``fig7``) in its layout, from its panels' points.csv; nothing
    until every panel has run. PNG and PDF at ``DIR/<name>``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    panels, rows = COMBINED[name]
    frames = [read_points(run_dir, panel) for panel in panels]
    if any(f.empty for f in frames):
        return []
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(len(rows), len(panels), figsize=(3.6 * len(panels), 2.8 * len(rows) + 0.8),
                             squeeze=False)
    colours = palette()
    for col, (panel, frame) in enumerate(zip(panels, frames, strict=True)):
        sweep = SWEEPS[panel]
        for row, (column, label) in enumerate(rows):
            ax = axes[row][col]
            _draw_lines(ax, frame, column, colours, log_x=True)
            ax.axvline(sweep.table_iv, color="0.8", lw=0.8, zorder=0)
            ax.set(xlabel=sweep.axis if row == len(rows) - 1 else "", ylabel=label if col == 0 else "")
            if row == 0:
                ax.set_title(sweep.title.split(": ", 1)[-1].join(["(" + panel[-1] + ") ", ""]), fontsize=9)
    _legend(fig, pd.concat(frames), colours)
    fig.text(0.5, -0.01, footnote(run_dir, pd.concat(frames)), ha="center", va="top", fontsize=6.5, wrap=True)
    written = []
    for ext in ("png", "pdf"):
        path = run_dir / f"{name}.{ext}"
        fig.savefig(path, bbox_inches="tight", dpi=150)
        written.append(path)
    plt.close(fig)
    return written


__all__ = ["COMBINED", "PANELS", "draw_combined", "draw_figure", "footnote", "palette"]
