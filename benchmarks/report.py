"""Tables and figures of a run folder, rebuilt from its rows alone (``tadp-bench report RUN_DIR``).

Inputs: ``rows.csv`` (one row per size, instance, slot, solver, seed), ``references.csv``
(the exact per-slot optimum of every state a policy reached), ``curves/*.csv`` (training
curves) and ``manifest.json`` (the options, for captions). Outputs under ``RUN_DIR``:
``summary.{md,tex,csv}``, ``gaps.csv`` (every slot's gap), ``figures/*.{png,pdf}``.

Gap (docs/model.md, section 7): ``(OPT(s) - J(s)) / OPT(s)`` on the start cache the policy itself
reached, 0 when OPT(s) = 0; >= 0, lower is better. Where the reference solve did not prove
OPT(s), the gap is measured to its best bound instead and marked as a bound.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from solvers import display_order, display_rank, reference_solver
from tadp.generator import parse_size
from tadp.instance import atomic_write_text

STATE_KEYS = ["size", "instance_index", "slot", "cache"]


def _read_csv(path: Path) -> pd.DataFrame:
    """A rows file; cache keys stay text (hex strings such as "000000" would otherwise become numbers)."""
    if not path.is_file() or path.stat().st_size <= 1:
        return pd.DataFrame()
    return pd.read_csv(path, dtype={"cache": str})


def relative_gap(reference: Any, score: Any) -> Any:
    """The gap of docs/model.md, section 7: ``(reference - score) / reference``, 0 where the reference is 0
    (nothing could be earned, so nothing was lost) and NaN where it is unknown (NaN). Works on scalars,
    arrays and Series alike; the reference is an optimum or a valid upper bound on it."""
    ref = np.asarray(reference, dtype=float)
    val = np.asarray(score, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(ref > 0, (ref - val) / ref, 0.0)
    out = np.where(np.isnan(ref), np.nan, out)
    if isinstance(reference, pd.Series):
        return pd.Series(out, index=reference.index)
    return out if out.ndim else float(out)


def episode_view(rows: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """Per size and solver: the episode score (mean slot score over the trace, each policy on its own
    cache chain) beside the clairvoyant horizon optimum or bound of the same trace (docs/exact_horizon.md).
    ``gap_to_bound`` = (bound - score) / bound >= 0 bounds the policy's true distance from the
    episode optimum; where the horizon solve was proven, bound = optimum."""
    if episodes.empty or rows.empty:
        return pd.DataFrame()
    per_instance = rows.groupby(["size", "instance_index", "solver"], sort=False)["score"].mean().reset_index()
    merged = per_instance.merge(episodes, on=["size", "instance_index"], how="inner")
    # every policy's episode is a feasible point of the horizon problem: the best one known may beat
    # the horizon solve's own incumbent when that solve stopped at its time limit
    best_policy = merged.groupby(["size", "instance_index"])["score"].transform("max")
    merged["horizon_score"] = np.maximum(merged["horizon_score"], best_policy)
    merged["gap_to_bound"] = relative_gap(merged["horizon_bound"], merged["score"])
    out = merged.groupby(["size", "solver"], sort=False).agg(
        episode_score=("score", "mean"), horizon_incumbent=("horizon_score", "mean"),
        horizon_bound=("horizon_bound", "mean"), gap_to_bound=("gap_to_bound", "mean"),
        horizon_proven=("horizon_status", lambda x: int((x == "optimal").sum())),
        instances=("instance_index", "nunique")).reset_index()
    out["_n"] = out["size"].map(lambda s: sum(parse_size(s)))
    out["_s"] = out["solver"].map(display_rank)
    return out.sort_values(["_n", "_s"]).drop(columns=["_n", "_s"]).reset_index(drop=True)


def episode_markdown(view: pd.DataFrame) -> str:
    if view.empty:
        return ""
    lines = ["Episode view: mean slot score over the whole trace, each policy on its own cache chain, against the "
             "clairvoyant horizon optimum (all slots known in advance, caches chained by C6/C7), which bounds every "
             "online policy. Gap = (bound - score) / bound in %; `proven` counts instances whose horizon optimum "
             "was proven (bound = optimum); otherwise the bound is a valid upper bound and the gap an upper bound "
             "on the true one. Best known episode: the horizon solve's incumbent or the best policy's episode, whichever "
             "is higher (each is feasible for the horizon problem). highs is the exact per-slot (myopic) policy: its "
             "gap is the value of foresight.", "",
             "| size | solver | episode score | best known episode | horizon bound | gap to bound % | proven |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in view.itertuples(index=False):
        lines.append(f"| {r.size} | {r.solver} | {_num(r.episode_score)} | {_num(r.horizon_incumbent)} | "
                     f"{_num(r.horizon_bound)} | {_pct(r.gap_to_bound)} | {r.horizon_proven}/{r.instances} |")
    return "\n".join(lines) + "\n"


def load_run(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    rows = _read_csv(run_dir / "rows.csv")
    refs = _read_csv(run_dir / "references.csv")
    manifest = json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").is_file() else {}
    return rows, refs, manifest


def references(rows: pd.DataFrame, refs: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """The exact optimum (or bound) per state: reference cells, plus the reference solver's own
    proven-optimal rows (its own trajectory's states need no second solve). ``reference`` names that
    solver (default: the registry's, :func:`solvers.reference_solver`)."""
    reference = reference or reference_solver()
    own = rows[(rows["solver"] == reference) & (rows["status"] == "optimal")]
    own = own.assign(opt_solver=reference, opt_score=own["score"], opt_status="optimal", opt_bound=own["bound"],
                     opt_time_s=own["time_s"])
    cols = [*STATE_KEYS, "opt_solver", "opt_score", "opt_status", "opt_bound", "opt_time_s"]
    frames = [f[cols] for f in (refs, own) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=cols)
    both = pd.concat(frames, ignore_index=True)
    # prefer a proven optimum over an unproven solve of the same state
    both["_proven"] = both["opt_status"] == "optimal"
    both = both.sort_values([*STATE_KEYS, "_proven"], ascending=[True] * 4 + [False], kind="stable")
    return both.drop_duplicates(STATE_KEYS).drop(columns="_proven")


def gaps(rows: pd.DataFrame, refs: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Every policy row with its reference and gap (fraction; ``gap_kind`` opt, bound or none)."""
    merged = rows.merge(references(rows, refs, reference), on=STATE_KEYS, how="left")
    proven = merged["opt_status"] == "optimal"
    reference = np.where(proven, merged["opt_score"], merged["opt_bound"])
    reference = pd.to_numeric(pd.Series(reference, index=merged.index), errors="coerce")
    merged["reference"] = reference
    merged["gap"] = relative_gap(reference, merged["score"])
    merged["gap_kind"] = np.where(proven, "opt", np.where(reference.notna(), "bound", "none"))
    return merged


def shifted_geomean(values: pd.Series, shift: float = 1.0) -> float:
    v = values.dropna().to_numpy(float)
    return float(np.exp(np.mean(np.log(v + shift))) - shift) if v.size else math.nan


def charged_times(frame: pd.DataFrame, time_limit: float) -> pd.Series:
    """Wall seconds per slot; solves stopped by the time limit (or failed) are charged the limit."""
    unsolved = frame["status"].isin(["time_limit", "error"])
    return frame["time_s"].where(~unsolved, np.maximum(frame["time_s"], time_limit))


def summary(g: pd.DataFrame, time_limit: float) -> pd.DataFrame:
    """One row per (size, solver): the numbers of the paper-ready table."""
    out = []
    for (size, solver), f in g.groupby(["size", "solver"], sort=False):
        times = charged_times(f, time_limit)
        out.append({
            "size": size, "solver": solver, "kind": f["kind"].iloc[0], "slots": len(f),
            "score": f["score"].mean(), "completion": f["completion"].mean(), "heavy_share": f["heavy_share"].mean(),
            "gap_mean": f["gap"].mean(), "gap_worst": f["gap"].max(),
            "gap_to_bound_slots": int((f["gap_kind"] == "bound").sum()),
            "time_median_s": times.median(), "time_sgm_s": shifted_geomean(times), "time_max_s": times.max(),
            "proven_optimal": int((f["status"] == "optimal").sum()) if f["kind"].iloc[0] == "exact" else None,
            # a restricted model (CP-SAT's grid) proven optimal for itself: no claim on OPT
            "restricted_optimal": int(((f["status"] == "feasible") & (f["bound_kind"] == "restricted")).sum()),
            "mip_gap_max": pd.to_numeric(f["mip_gap"], errors="coerce").max() if "mip_gap" in f else None,
            "train_s": f["train_s"].max() if f["kind"].iloc[0] == "learned" else None,
            "errors": int((f["status"] == "error").sum()),
            "dropped_per_slot": f["dropped"].mean(), "late_per_slot": f["late"].mean(),
        })
    table = pd.DataFrame(out)
    if table.empty:
        return table
    size_rank = {s: sum(parse_size(s)) for s in table["size"].unique()}
    table["_n"] = table["size"].map(size_rank)
    table["_s"] = table["solver"].map(display_rank)
    return table.sort_values(["_n", "_s"]).drop(columns=["_n", "_s"]).reset_index(drop=True)


# =============================================================================== tables
def _pct(x: Any) -> str:
    return "-" if x is None or pd.isna(x) else f"{100 * x:.2f}"


def _num(x: Any, digits: int = 4) -> str:
    return "-" if x is None or pd.isna(x) else f"{x:.{digits}f}"


def _secs(x: Any) -> str:
    if x is None or pd.isna(x):
        return "-"
    if x < 0.01:
        return f"{x:.1e}"
    return f"{x:.3f}" if x < 10 else (f"{x:.1f}" if x < 100 else f"{x:.0f}")


def caption(manifest: dict[str, Any]) -> str:
    cfg = manifest.get("config", {})
    return (
        f"TADP, scenario {cfg.get('scenario', '?')}; {cfg.get('instances', '?')} instance(s) x "
        f"{cfg.get('slots', '?')} slots per size. Score: mean slot score J (eq. 11); compl.: completion ratio. "
        f"Gap: (OPT - J)/OPT in % on the cache state each policy reached, >= 0, lower is better "
        f"(mean / worst slot); OPT is the HiGHS per-slot optimum; a dagger marks sizes where some OPT was not "
        f"proven and the gap is to the best bound. Time: wall seconds per slot decision, median / shifted "
        f"geometric mean (shift 1 s); exact solves not proven within the {cfg.get('time_limit', '?')} s limit "
        f"are charged the limit. Learned solvers: inference time per slot; training time is reported apart."
    )


def table_cells(table: pd.DataFrame) -> tuple[list[str], list[str], dict[tuple[str, str], list[str]]]:
    sizes = list(dict.fromkeys(table["size"]))
    solvers = display_order(table["solver"])
    cells = {}
    for r in table.itertuples(index=False):
        mark = "†" if r.gap_to_bound_slots else ""
        cells[(r.solver, r.size)] = [
            _num(r.score), _num(r.completion, 3), f"{_pct(r.gap_mean)}{mark}", f"{_pct(r.gap_worst)}{mark}",
            f"{_secs(r.time_median_s)} / {_secs(r.time_sgm_s)}",
        ]
    return sizes, solvers, cells


METRICS = ["score", "compl.", "gap mean %", "gap worst %", "time s (med / sgm)"]


def markdown(table: pd.DataFrame, manifest: dict[str, Any]) -> str:
    sizes, solvers, cells = table_cells(table)
    header = "| solver | " + " | ".join(f"{s} {m}" for s in sizes for m in METRICS) + " |"
    rule = "|---|" + "---:|" * (len(sizes) * len(METRICS))
    lines = [header, rule]
    for solver in solvers:
        row = [c for s in sizes for c in cells.get((solver, s), ["-"] * len(METRICS))]
        lines.append(f"| {solver} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n\n" + caption(manifest) + "\n"


def details_markdown(table: pd.DataFrame) -> str:
    """Per size and solver: what the main table leaves out (proofs, bounds, training, losses)."""
    lines = ["| size | solver | proven optimal | max MIP gap | train s | heavy share | dropped / slot | "
             "late / slot | errors |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in table.itertuples(index=False):
        proven = "-" if r.proven_optimal is None or pd.isna(r.proven_optimal) else f"{int(r.proven_optimal)}/{r.slots}"
        if r.restricted_optimal:
            proven += f" (own grid model: {r.restricted_optimal}/{r.slots})"
        lines.append(f"| {r.size} | {r.solver} | {proven} | {_num(r.mip_gap_max, 6)} | {_secs(r.train_s)} | "
                     f"{_num(r.heavy_share, 3)} | {_num(r.dropped_per_slot, 2)} | {_num(r.late_per_slot, 2)} | "
                     f"{r.errors} |")
    return "\n".join(lines) + "\n"


def latex(table: pd.DataFrame, manifest: dict[str, Any]) -> str:
    sizes, solvers, cells = table_cells(table)
    k = len(METRICS)
    out = [r"\begin{table}[t]", r"\centering", r"\small",
           r"\caption{" + caption(manifest).replace("%", r"\%").replace("†", r"$^\dagger$") + "}",
           r"\begin{tabular}{l" + ("rrrrr" * len(sizes)) + "}", r"\toprule",
           " & " + " & ".join(rf"\multicolumn{{{k}}}{{c}}{{{s}}}" for s in sizes) + r" \\",
           "".join(rf"\cmidrule(lr){{{2 + i * k}-{1 + (i + 1) * k}}}" for i in range(len(sizes))),
           "solver & " + " & ".join(m.replace("%", r"\%") for _ in sizes for m in METRICS) + r" \\", r"\midrule"]
    for solver in solvers:
        row = [c.replace("†", r"$^\dagger$") for s in sizes for c in cells.get((solver, s), ["-"] * k)]
        out.append(solver + " & " + " & ".join(row) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


def terminal(table: pd.DataFrame, manifest: dict[str, Any]) -> str:
    sizes, solvers, cells = table_cells(table)
    lines = []
    for size in sizes:
        lines.append(f"size {size}")
        lines.append(f"  {'solver':<8} {'score':>8} {'compl.':>7} {'gap mean%':>10} {'gap worst%':>11} "
                     f"{'time med/sgm s':>16}")
        for solver in solvers:
            c = cells.get((solver, size))
            if c:
                lines.append(f"  {solver:<8} {c[0]:>8} {c[1]:>7} {c[2]:>10} {c[3]:>11} {c[4]:>16}")
    return "\n".join(lines) + "\n" + caption(manifest) + "\n"


# =============================================================================== figures
def figures(run_dir: Path, g: pd.DataFrame, manifest: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    written: list[Path] = []
    sns.set_theme(style="whitegrid", context="paper")
    order = display_order(g["solver"])
    size_order = sorted(g["size"].unique(), key=lambda s: sum(parse_size(s)))
    scenario = manifest.get("config", {}).get("scenario", "?")

    def save(fig: Any, name: str) -> None:
        for ext in ("png", "pdf"):
            path = fig_dir / f"{name}.{ext}"
            fig.savefig(path, bbox_inches="tight", dpi=150)
            written.append(path)
        plt.close(fig)

    data = g.assign(gap_pct=100 * g["gap"])
    fig, ax = plt.subplots(figsize=(7, 3.8))
    sns.boxplot(data=data, x="solver", y="gap_pct", hue="size", order=order, hue_order=size_order, ax=ax,
                showfliers=False)
    sns.stripplot(data=data, x="solver", y="gap_pct", hue="size", order=order, hue_order=size_order, ax=ax,
                  dodge=True, size=2.5, palette="dark:0.25", legend=False)
    ax.set(xlabel="solver", ylabel="optimality gap per slot (%)",
           title=f"Gap to the per-slot optimum ({scenario}); lower is better")
    save(fig, "gap_by_solver")

    t = g.assign(n_tasks=g["size"].map(lambda s: sum(parse_size(s))),
                 time=charged_times(g, manifest.get("config", {}).get("time_limit", 0.0)))
    fig, ax = plt.subplots(figsize=(6, 3.8))
    sns.lineplot(data=t, x="n_tasks", y="time", hue="solver", hue_order=order, marker="o", estimator="median",
                 errorbar=("pi", 100), ax=ax)
    ax.set(xscale="log", yscale="log", xlabel="tasks per slot N", ylabel="wall seconds per slot decision",
           title="Time per slot (median, min-max band)")
    save(fig, "time_by_size")

    curves = sorted((run_dir / "curves").glob("*.csv")) if (run_dir / "curves").is_dir() else []
    if curves:
        c = pd.concat([pd.read_csv(p) for p in curves], ignore_index=True)
        score_col = next((k for k in ("mean_slot_score", "score", "mean_score") if k in c.columns), None)
        if score_col is not None:
            sizes = [s for s in size_order if s in set(c["size"])]
            fig, axes = plt.subplots(1, len(sizes), figsize=(4.5 * len(sizes), 3.5), squeeze=False)
            for ax, size in zip(axes[0], sizes, strict=True):
                sns.lineplot(data=c[c["size"] == size], x="episode", y=score_col, hue="solver", ax=ax)
                ref = g[(g["size"] == size) & (g["gap_kind"] == "opt")]["reference"]
                if not ref.empty:
                    ax.axhline(ref.mean(), color="black", ls="--", lw=1, label="exact optimum (mean)")
                ax.set(title=f"{size}: training curve", xlabel="episode", ylabel="mean slot score")
                ax.legend(fontsize=7)
            save(fig, "training_curves")
    return written


# =============================================================================== entry point
def write_report(run_dir: Path, echo: bool = True) -> pd.DataFrame:
    """Rebuild gaps.csv, summary tables and figures from the run folder's rows; return the summary."""
    rows, refs, manifest = load_run(run_dir)
    if rows.empty:
        raise ValueError(f"{run_dir}: no rows yet")
    time_limit = float(manifest.get("config", {}).get("time_limit", 0.0))
    g = gaps(rows, refs, manifest.get("reference_solver"))
    atomic_write_text(run_dir / "gaps.csv", g.to_csv(index=False))
    table = summary(g, time_limit)
    atomic_write_text(run_dir / "summary.csv", table.to_csv(index=False))
    episodes = episode_view(rows, _read_csv(run_dir / "episodes.csv"))
    atomic_write_text(run_dir / "episodes_summary.csv", episodes.to_csv(index=False))
    extra = "\n" + episode_markdown(episodes) if not episodes.empty else ""
    atomic_write_text(run_dir / "summary.md", markdown(table, manifest) + "\n" + details_markdown(table) + extra)
    atomic_write_text(run_dir / "summary.tex", latex(table, manifest))
    figures(run_dir, g, manifest)
    if echo:
        print(terminal(table, manifest))
        if not episodes.empty:
            print(episode_markdown(episodes))
        print(f"tables: {run_dir / 'summary.md'}, .tex, .csv; figures: {run_dir / 'figures'}")
    return table
