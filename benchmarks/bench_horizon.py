"""The clairvoyant horizon optimum against its targets, on this machine.

    python -m benchmarks.bench_horizon --case 2x5-scarce      # 50 slots, target: proven optimum <= 60 s
    python -m benchmarks.bench_horizon --case 10x35-scarce    # 10 slots, target: bound and incumbent within 1%
                                                              #   of each other in <= 10 minutes
    python -m benchmarks.bench_horizon --case 2x5-scarce --method blocks --time-limit 120

Methods: ``horizon`` (the registered solver ``highs-horizon``, :class:`solvers.horizon.solver.HorizonSolver`, with
its defaults: slot bands up to 16 tasks per slot, else the monolithic model), ``band`` (``HorizonSolver(method=
"band")``: each slot's own optimum with a free start cache, then the horizon restricted to the level patterns
within a band of it, :func:`solvers.horizon.bands.solve_horizon_band`), ``monolithic`` (``HorizonSolver(method=
"monolithic")``: one MILP by outer approximation, warm-started with the better of the greedy and myopic episodes),
``episode-bound`` (:func:`solvers.horizon.rolling.episode_bound`, what the harness cell calls) and ``blocks``
(:func:`solvers.horizon.rolling.rolling_horizon` for half the time, then
:func:`solvers.horizon.rolling.block_bound`). With ``--policies`` the episode scores of the myopic exact
policy (``highs``, ``--policy-time-limit`` s per slot) and of greedy are measured on the same instance,
beside the horizon optimum that bounds them.

One row per (case, instance, method) goes to ``--output`` (CSV): status, incumbent (an episode score the
evaluator gave), bound, relative gap (bound - incumbent) / incumbent, wall seconds, the load average when the
row started, and for ``horizon``, ``band`` and ``monolithic`` the first time at which the gap was within 1% and
the incumbent/bound trace.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from solvers import make_solver
from solvers.base import solve_episode
from solvers.horizon.rolling import block_bound, episode_bound, rolling_horizon
from solvers.horizon.solver import HorizonSolver
from tadp.generator import GeneratorOptions, generate_instance, parse_size


@dataclass(frozen=True)
class Case:
    """One benchmark case."""

    size: str
    """GxK."""
    scenario: str
    """Generator scenario."""
    seeds: tuple[int, ...]
    """Instance seeds."""
    slots: int
    """Slots 0..slots-1 of the trace: the horizon."""
    time_limit: float
    """Seconds for the whole horizon."""


CASES = {
    "2x5-scarce": Case("2x5", "scarce", (0,), 50, 60.0),
    "10x35-scarce": Case("10x35", "scarce", (0,), 10, 600.0),
}
METHODS = ("horizon", "band", "monolithic", "episode-bound", "blocks")
FIELDS = ["case", "instance", "seed", "slots", "method", "status", "incumbent", "bound", "gap", "time_s",
          "time_limit_s", "load_avg", "time_to_1pct_s", "myopic_score", "greedy_score", "oa_rounds", "nodes", "cuts", "root_bound",
          "warm_start_score", "warm_start_s", "trace"]


def _gap(incumbent: float, bound: float) -> float:
    return (bound - incumbent) / incumbent if incumbent > 0 else float("inf")


def run(name: str, case: Case, method: str, policies: bool, policy_time_limit: float, progress: bool
        ) -> list[dict[str, Any]]:
    rows = []
    for seed in case.seeds:
        inst = generate_instance(parse_size(case.size), seed=seed, slots=case.slots,
                                 options=GeneratorOptions(scenario=case.scenario))
        row: dict[str, Any] = {"case": name, "instance": inst.name, "seed": seed, "slots": case.slots,
                               "method": method, "time_limit_s": case.time_limit}
        row["load_avg"] = round(os.getloadavg()[0], 2)
        started = time.perf_counter()
        if method in ("horizon", "band", "monolithic"):
            solver = HorizonSolver() if method == "horizon" else HorizonSolver(method=method)
            res = solver.solve_horizon(inst, case.slots, time_limit=case.time_limit, seed=seed)
            trace = res.info.get("trace", [])
            within = [t for t, inc, bnd in trace if inc > 0 and _gap(inc, bnd) <= 0.01]
            row.update(status=res.status, incumbent=res.score, bound=res.bound,
                       time_to_1pct_s=round(within[0], 2) if within else None,
                       trace=json.dumps([[round(t, 2), round(i, 7), round(b, 7)] for t, i, b in trace]),
                       **{k: res.info.get(k) for k in ("oa_rounds", "nodes", "cuts", "root_bound", "warm_start_score",
                                                       "warm_start_s")})
            if res.status == "error":
                raise RuntimeError(res.info.get("error"))
        elif method == "episode-bound":
            found = episode_bound(inst, case.slots, case.time_limit, seed=seed)
            incumbent, bound, status = found.incumbent, found.bound, found.status
            row.update(status=status, incumbent=incumbent, bound=bound)
        else:
            rolling = rolling_horizon(inst, case.slots, time_limit=case.time_limit / 2, seed=seed)
            left = max(case.time_limit - (time.perf_counter() - started), 1.0)
            bb = block_bound(inst, case.slots, time_limit=left, incumbent=rolling.score, seed=seed)
            row.update(status="time_limit", incumbent=rolling.score, bound=max(bb.bound, rolling.score))
        row["time_s"] = round(time.perf_counter() - started, 2)
        row["gap"] = _gap(row["incumbent"], row["bound"])
        if policies:
            _, results = solve_episode(make_solver("highs"), inst, case.slots, time_limit=policy_time_limit, seed=seed)
            row["myopic_score"] = float(np.mean([r.score for r in results]))
            _, results = solve_episode(make_solver("greedy"), inst, case.slots, time_limit=1.0, seed=seed)
            row["greedy_score"] = float(np.mean([r.score for r in results]))
        rows.append(row)
        if progress:
            extra = "".join(f" {k} {row[k]:.7f}" for k in ("myopic_score", "greedy_score") if row.get(k) is not None)
            print(f"{inst.name} {case.slots} slots {method}: {row['status']} incumbent {row['incumbent']:.7f} "
                  f"bound {row['bound']:.7f} gap {row['gap']:.2e} in {row['time_s']:.1f} s "
                  f"(limit {case.time_limit:.0f} s, load {row['load_avg']}){extra}", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="case(s) to run (default: 2x5-scarce)")
    parser.add_argument("--method", action="append", choices=METHODS, help="method(s) (default: horizon)")
    parser.add_argument("--seeds", help="comma-separated seeds (overrides the case's)")
    parser.add_argument("--slots", type=int, help="horizon length (overrides the case's)")
    parser.add_argument("--time-limit", type=float, help="seconds per horizon (overrides the case's)")
    parser.add_argument("--policies", action="store_true", help="also measure the myopic exact policy and greedy")
    parser.add_argument("--policy-time-limit", type=float, default=60.0, help="myopic HiGHS seconds per slot")
    parser.add_argument("-o", "--output", default="results/bench_horizon.csv", help="CSV of all rows")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for name in args.case or ["2x5-scarce"]:
        case = CASES[name]
        changes: dict[str, Any] = {}
        if args.seeds:
            changes["seeds"] = tuple(int(s) for s in args.seeds.split(","))
        if args.slots is not None:
            changes["slots"] = args.slots
        if args.time_limit is not None:
            changes["time_limit"] = args.time_limit
        case = Case(**{**case.__dict__, **changes})
        for method in args.method or ["horizon"]:
            rows += run(name, case, method, args.policies, args.policy_time_limit, not args.quiet)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    for row in rows:
        print(f"{row['case']:<13} {row['method']:<13} {row['status']:<10} incumbent {row['incumbent']:.7f} "
              f"bound {row['bound']:.7f} gap {row['gap']:.2e} time {row['time_s']:.1f} s "
              f"(limit {row['time_limit_s']:.0f} s, load {row['load_avg']})")
    print(f"{len(rows)} rows in {time.perf_counter() - started:.0f} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
