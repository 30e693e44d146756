"""Every quantitative claim of Section V beside what this toolkit measures, and the optimum at that point
(docs/paper.md, "Claims").

Each :class:`Claim` names the point it is measured at, the metric, the two schemes of its ratio and the
paper's number. The table is built from ``points.csv`` (``claims/`` for the claims' own points, ``fig8/``
for Fig. 8's peak) and Fig. 4's learning curves alone. Beside each ratio: TD3's own value, the exact per-slot
optimum's (``highs``) and the horizon bound at the same point, TD3's gap to that optimum (the report's gap
arithmetic, :func:`benchmarks.report.relative_gap`), and where TD3 loses its distance from "every task
completed with its heavy model": tasks dropped, tasks late, light models (score points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmarks.paper.points import read_points, run_config
from benchmarks.report import relative_gap
from tadp.instance import atomic_write_text

LOSSES = ("loss_dropped", "loss_late", "loss_light")
#: Share of the last training episodes whose mean reward is a curve's "converged value" (Fig. 4).
CONVERGED_SHARE = 0.1


@dataclass(frozen=True)
class Claim:
    """One number of Section V."""

    key: str
    figure: str
    """The sweep whose point it is measured at (``fig4`` is the Table IV point)."""
    value: float
    """That point's value, in the sweep's unit."""
    where: str
    """The point, in words."""
    statement: str
    metric: str
    """``score``, ``completion``, ``converged_return`` (Fig. 4) or ``peak`` (Fig. 8)."""
    subset: str | None
    """The figure caption's metric (over the tasks assigned to the IGWs or to the BS), or None."""
    other: str
    """The scheme TD3 is compared with (``ddpg``, ``random``)."""
    paper: float
    """The paper's number: a ratio TD3 / other (1.314 for "+31.4 %"), or Fig. 8's peak G."""
    form: str
    """How the paper states it: ``percent`` (+31.4 %), ``times`` (1.31x) or ``peak`` (G = 10)."""


def _fig5(metric: str, subset: str, other: str, paper: float, form: str, what: str) -> Claim:
    return Claim(f"fig5-{metric}-{other}", "fig4", 0.0, "Table IV", f"Fig. 5: TD3 {what} over {other.upper()}",
                 metric, subset, other, paper, form)


def _fig6(figure: str, value: float, where: str, other: str, paper: float) -> Claim:
    return Claim(f"{figure}-{other}", figure, value, where, f"Fig. 6: TD3 accuracy over {other.upper()} at {where}",
                 "score", "accuracy_bs", other, paper, "times")


CLAIMS: tuple[Claim, ...] = (
    Claim("fig4-reward-ddpg", "fig4", 0.0, "Table IV", "Fig. 4: TD3 converged reward over DDPG", "converged_return",
          None, "ddpg", 1.315, "percent"),
    _fig5("score", "accuracy_igw", "ddpg", 1.314, "percent", "accuracy"),
    _fig5("score", "accuracy_igw", "random", 1.745, "percent", "accuracy"),
    _fig5("completion", "completion_igw", "ddpg", 1.31, "times", "completion ratio"),
    _fig5("completion", "completion_igw", "random", 1.71, "times", "completion ratio"),
    _fig6("fig6a", 6.0, "B_e = 6 MHz", "ddpg", 1.51), _fig6("fig6a", 6.0, "B_e = 6 MHz", "random", 2.20),
    _fig6("fig6b", 0.6, "S_e = 0.6 GB", "ddpg", 1.48), _fig6("fig6b", 0.6, "S_e = 0.6 GB", "random", 1.95),
    _fig6("fig6c", 2.0, "C_e = 2 GHz", "ddpg", 1.60), _fig6("fig6c", 2.0, "C_e = 2 GHz", "random", 2.14),
    Claim("fig8-peak", "fig8", 10.0, "G = 2..20", "Fig. 8: TD3 accuracy peaks at 10 IGWs", "peak", None, "td3", 10.0,
          "peak"),
)


@dataclass(frozen=True)
class Measured:
    """What this toolkit measures for one claim (NaN where the point has not run)."""

    claim: Claim
    ours: float
    ours_subset: float
    td3: float
    other: float
    optimum: float
    horizon_bound: float
    td3_gap: float
    losses: tuple[float, float, float]


def solver_mean(frame: pd.DataFrame, solver: str, column: str) -> float:
    """Mean of ``column`` for ``solver``: over instances per seed, then over seeds; NaN when absent."""
    mine = frame[frame["solver"] == solver]
    if mine.empty:
        return math.nan
    return float(mine.groupby("seed")[column].mean().mean())


def converged_return(curves: pd.DataFrame, solver: str) -> float:
    """Mean training reward over each seed's last :data:`CONVERGED_SHARE` of episodes, averaged over seeds."""
    mine = curves[curves["solver"] == solver] if not curves.empty else curves
    if mine.empty:
        return math.nan
    values = []
    for _, seed_curve in mine.groupby("seed"):
        tail = max(1, round(CONVERGED_SHARE * len(seed_curve)))
        values.append(seed_curve.sort_values("episode")["return"].tail(tail).mean())
    return float(sum(values) / len(values))


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) and not math.isnan(a) else math.nan


def measure(claim: Claim, point: pd.DataFrame, curves: pd.DataFrame, steps: int) -> Measured:
    """One claim at its point (``point``: the rows of that point; ``curves``: Fig. 4's learning curves)."""
    optimum = solver_mean(point, "highs", "score")
    bound = solver_mean(point, "highs-horizon", "bound")
    td3_score = solver_mean(point, "td3", "score")
    losses = tuple(solver_mean(point, "td3", c) for c in LOSSES)
    gap = float(relative_gap(optimum, td3_score)) if not math.isnan(optimum) else math.nan
    if claim.metric == "converged_return":
        td3, other = converged_return(curves, "td3"), converged_return(curves, claim.other)
        return Measured(claim, _ratio(td3, other), math.nan, td3, other, optimum * steps, bound * steps, gap, losses)
    if claim.metric == "peak":
        return _peak(claim, point, losses)
    td3, other = solver_mean(point, "td3", claim.metric), solver_mean(point, claim.other, claim.metric)
    subset = math.nan
    if claim.subset:
        subset = _ratio(solver_mean(point, "td3", claim.subset), solver_mean(point, claim.other, claim.subset))
    if claim.metric == "completion":
        optimum, bound = solver_mean(point, "highs", "completion"), math.nan
    return Measured(claim, _ratio(td3, other), subset, td3, other, optimum, bound, gap, losses)


def _peak(claim: Claim, sweep: pd.DataFrame, losses: tuple[float, ...]) -> Measured:
    """Fig. 8: the G at which TD3's (and the optimum's) mean accuracy is highest."""
    def argmax(solver: str) -> float:
        mine = sweep[sweep["solver"] == solver]
        if mine.empty:
            return math.nan
        means = mine.groupby(["value", "seed"])["score"].mean().groupby(level="value").mean()
        return float(means.idxmax())

    at_peak = sweep[sweep["value"] == argmax("td3")]
    optimum = solver_mean(at_peak, "highs", "score")
    td3 = solver_mean(at_peak, "td3", "score")
    gap = float(relative_gap(optimum, td3)) if not math.isnan(optimum) else math.nan
    peak_losses = tuple(solver_mean(at_peak, "td3", c) for c in LOSSES)
    return Measured(claim, argmax("td3"), math.nan, td3, math.nan, argmax("highs"), math.nan, gap,
                    peak_losses if at_peak.size else losses)


def measure_all(run_dir: Path, steps: int) -> list[Measured]:
    """Every claim, measured from the run folder's points (claims/ or the figure's own, fig8/)."""
    sources = {name: read_points(run_dir, name) for name in ("claims", "fig4", "fig5a", "fig6a", "fig6b", "fig6c",
                                                              "fig8")}
    curves = pd.DataFrame()
    for name in ("claims", "fig4"):
        path = run_dir / name / "curves.csv"
        if curves.empty and path.is_file() and path.stat().st_size > 1:
            curves = pd.read_csv(path)
    out = []
    for claim in CLAIMS:
        if claim.metric == "peak":
            point = sources["fig8"]
        else:
            frames = [f[(f["figure"] == claim.figure) & (f["value"] == claim.value)] for f in sources.values()
                      if not f.empty]
            point = next((f for f in frames if not f.empty), pd.DataFrame(columns=["solver", "seed"]))
        out.append(measure(claim, point, curves, steps))
    return out


# ============================================================================ tables
def _fmt(value: float, form: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    if form == "percent":
        return f"{100 * (value - 1):+.1f} %"
    if form == "times":
        return f"{value:.2f}x"
    return f"G = {value:g}"


def _num(value: float, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


COLUMNS = ["claim", "at", "paper", "ours", "ours (caption's tasks)", "TD3", "DDPG or Random", "optimum",
           "horizon bound", "TD3 gap to optimum", "TD3 loss: dropped / late / light"]


def claim_rows(measured: list[Measured]) -> list[dict[str, str]]:
    """The table's cells as text, one dict per claim (keys :data:`COLUMNS`)."""
    rows = []
    for m in measured:
        c = m.claim
        peak = c.form == "peak"
        cells = [c.statement, c.where, _fmt(c.paper, c.form), _fmt(m.ours, c.form), _fmt(m.ours_subset, c.form),
                 _num(m.td3), _num(m.other),
                 f"peak at G = {m.optimum:g}" if peak and not math.isnan(m.optimum) else _num(m.optimum),
                 _num(m.horizon_bound), "-" if math.isnan(m.td3_gap) else f"{100 * m.td3_gap:.1f} %",
                 " / ".join(_num(x) for x in m.losses)]
        rows.append(dict(zip(COLUMNS, cells, strict=True)))
    return rows


def markdown(measured: list[Measured], caption: str) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---|" + "---:|" * (len(COLUMNS) - 2)]
    lines += ["| " + " | ".join(r.values()) + " |" for r in claim_rows(measured)]
    return "\n".join(lines) + "\n\n" + caption + "\n"


def latex(measured: list[Measured], caption: str) -> str:
    def tex(text: str) -> str:
        return text.replace("%", r"\%").replace("_", r"\_").replace("&", r"\&")

    out = [r"\begin{table*}[t]", r"\centering", r"\scriptsize", r"\caption{" + tex(caption) + "}",
           r"\begin{tabular}{llrrrrrrrrl}", r"\toprule",
           r"claim & at & paper & ours & caption's tasks & TD3 & other & optimum & horizon bd. & TD3 gap & "
           r"TD3 loss: dropped / late / light \\", r"\midrule"]
    out += [" & ".join(tex(c) for c in r.values()) + r" \\" for r in claim_rows(measured)]
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table*}"]
    return "\n".join(out) + "\n"


def claims_caption(run_dir: Path) -> str:
    """What the table shows and at which size and budget it was measured."""
    cfg = run_config(run_dir)
    return (f"Section V's claims against tadp-bench at size {cfg.get('size', '?')}, {cfg.get('episodes', '?')} "
            f"training episodes x {cfg.get('steps', '?')} slots, {cfg.get('preset', '?')} preset, seeds "
            f"{','.join(map(str, cfg.get('seeds', [])))}, {cfg.get('instances', '?')} instance(s) x "
            f"{cfg.get('slots', '?')} slots per point. Ours: the same ratio TD3 / other on all tasks (the "
            f"paper's metric); caption's tasks: over the tasks assigned to the IGWs (Fig. 5) or to the BS "
            f"(Fig. 6). TD3, other, optimum: mean accuracy (completion ratio for completion claims; episode "
            f"reward for Fig. 4). Optimum: the exact per-slot policy (highs); horizon bound: the clairvoyant "
            f"bound on the episode score. TD3 gap = (optimum - TD3) / optimum in accuracy. Losses: TD3's "
            f"distance from every task completed with its heavy model, by cause, in accuracy points.")


def write_claims(run_dir: Path, echo: bool = True) -> list[Measured]:
    """``DIR/claims.md``, ``.tex`` and ``.csv`` from the run folder's points."""
    measured = measure_all(run_dir, int(run_config(run_dir).get("steps", 50)))
    caption = claims_caption(run_dir)
    md = markdown(measured, caption)
    atomic_write_text(run_dir / "claims.md", md)
    atomic_write_text(run_dir / "claims.tex", latex(measured, caption))
    table = pd.DataFrame(claim_rows(measured), columns=COLUMNS)
    atomic_write_text(run_dir / "claims.csv", table.to_csv(index=False))
    if echo:
        print(md)
    return measured


__all__ = ["CLAIMS", "Claim", "Measured", "converged_return", "measure", "measure_all", "solver_mean",
           "write_claims"]
