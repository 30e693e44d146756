"""The claims table's arithmetic on hand-made points: ratios, the paper's forms, the optimum's gap, Fig. 4's
converged reward, Fig. 8's peak, and '-' where a point has not run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.paper.claims import CLAIMS, converged_return, write_claims
from benchmarks.paper.points import LABELS, METRICS


def _row(figure: str, value: float, solver: str, seed: int, **metrics: float) -> dict:
    row = dict.fromkeys(LABELS + METRICS)
    row.update(figure=figure, parameter="none", value=value, size="2x5", solver=solver, seed=seed, instance="i",
               instance_index=0, **metrics)
    return row


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """Table IV: td3 scores 0.5 and 0.7 on its two seeds (mean 0.6), ddpg 0.4, random 0.3, the optimum 0.9,
    the horizon bound 0.95. Fig. 8: td3 best at G = 5, the optimum at G = 10. Nothing at the Fig. 6 points."""
    (tmp_path / "manifest.json").write_text(json.dumps({"runs": [{"config": {"steps": 10, "size": "2x5"}}]}))
    losses = {"loss_dropped": 0.1, "loss_late": 0.2, "loss_light": 0.05}
    rows = [
        _row("fig4", 0.0, "td3", 0, score=0.5, completion=0.7, accuracy_igw=0.8, **losses),
        _row("fig4", 0.0, "td3", 1, score=0.7, completion=0.9, accuracy_igw=0.8, **losses),
        _row("fig4", 0.0, "ddpg", 0, score=0.4, completion=0.5, accuracy_igw=0.4),
        _row("fig4", 0.0, "random", 0, score=0.3, completion=0.4, accuracy_igw=0.2),
        _row("fig4", 0.0, "highs", 0, score=0.9, completion=1.0),
        _row("fig4", 0.0, "highs-horizon", 0, score=0.9, bound=0.95),
    ]
    (tmp_path / "claims").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "claims" / "points.csv", index=False)
    fig8 = [_row("fig8", g, s, 0, score=v) for g, s, v in
            ((2, "td3", 0.5), (5, "td3", 0.6), (10, "td3", 0.55), (2, "highs", 0.8), (5, "highs", 0.85),
             (10, "highs", 0.9))]
    (tmp_path / "fig8").mkdir()
    pd.DataFrame(fig8).to_csv(tmp_path / "fig8" / "points.csv", index=False)
    curves = [{"solver": s, "seed": 0, "episode": e, "return": r * (e + 1)} for s, r in (("td3", 1.0), ("ddpg", 0.5))
              for e in range(10)]
    pd.DataFrame(curves).to_csv(tmp_path / "claims" / "curves.csv", index=False)
    return tmp_path


def test_claims_arithmetic(run_dir: Path) -> None:
    measured = {m.claim.key: m for m in write_claims(run_dir, echo=False)}
    acc = measured["fig5-score-ddpg"]
    assert acc.td3 == pytest.approx(0.6) and acc.ours == pytest.approx(1.5)
    assert acc.ours_subset == pytest.approx(2.0)  # over the tasks at the IGWs: 0.8 / 0.4
    assert acc.optimum == pytest.approx(0.9) and acc.horizon_bound == pytest.approx(0.95)
    assert acc.td3_gap == pytest.approx(1 / 3)  # (0.9 - 0.6) / 0.9
    assert acc.losses == pytest.approx((0.1, 0.2, 0.05))
    assert measured["fig5-score-random"].ours == pytest.approx(2.0)
    assert measured["fig5-completion-ddpg"].ours == pytest.approx(1.6)  # 0.8 / 0.5
    assert measured["fig5-completion-ddpg"].optimum == pytest.approx(1.0)
    reward = measured["fig4-reward-ddpg"]
    assert reward.td3 == pytest.approx(10.0) and reward.other == pytest.approx(5.0)  # last 10 % of 10 episodes
    assert reward.optimum == pytest.approx(9.0)  # 0.9 per slot x 10 slots per episode
    peak = measured["fig8-peak"]
    assert peak.ours == 5 and peak.optimum == 10 and peak.td3 == pytest.approx(0.6)
    assert math.isnan(measured["fig6a-ddpg"].ours)


def test_claims_tables(run_dir: Path) -> None:
    write_claims(run_dir, echo=False)
    md = (run_dir / "claims.md").read_text().splitlines()
    assert len([line for line in md if line.startswith("| Fig.")]) == len(CLAIMS)
    row = next(line for line in md if "TD3 accuracy over DDPG |" in line)
    assert "| +31.4 % | +50.0 % | +100.0 % | 0.600 | 0.400 | 0.900 | 0.950 | 33.3 % |" in row
    assert "| 1.31x | 1.60x |" in next(line for line in md if "completion ratio over DDPG" in line)
    assert "| G = 10 | G = 5 |" in next(line for line in md if "peaks" in line)
    fig6 = next(line for line in md if "B_e = 6 MHz | 1.51x" in line)
    assert "| 1.51x | - |" in fig6
    table = pd.read_csv(run_dir / "claims.csv")
    assert len(table) == len(CLAIMS)
    tex = (run_dir / "claims.tex").read_text()
    assert r"\begin{tabular}" in tex and r"+31.4 \%" in tex


def test_converged_reward_averages_each_seeds_tail() -> None:
    curves = pd.DataFrame([{"solver": "td3", "seed": s, "episode": e, "return": float(e + 10 * s)}
                           for s in (0, 1) for e in range(20)])
    # last 2 of 20 episodes: seed 0 -> 18.5, seed 1 -> 28.5
    assert converged_return(curves, "td3") == pytest.approx(23.5)
    assert math.isnan(converged_return(curves, "ddpg"))
