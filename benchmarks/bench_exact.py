"""Speed and proven optimality of the exact per-slot solvers against their targets, on this machine.

    python -m benchmarks.bench_exact --case 2x5-scarce            # 3 seeds x 20 slots, HiGHS and CP-SAT
    python -m benchmarks.bench_exact --case 10x35-paper           # 3 slots, target: proven <= 10 s
    python -m benchmarks.bench_exact --case 10x35-scarce --slots 3 --time-limit 60 --cpsat-time-limit 30

HiGHS (solver ``highs``) solves slots 0..S-1 of each instance in order, each from the cache the
previous decision left (keep rule ``used``), as ``solve_episode`` does. CP-SAT (``cpsat``) then
solves the very same (slot, start cache) states, so that its gap to HiGHS is measured on equal
terms: ``(HiGHS - CP-SAT) / HiGHS`` where HiGHS proved its optimum, else to HiGHS's bound (marked).
One row per (instance, slot, solver) goes to ``--output`` (CSV); the summary gives per case and
solver the slots proven, the median and shifted geometric mean (shift 1 s) of the wall time, with
unproven exact solves charged the time limit, and the largest gap.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.report import shifted_geomean
from solvers import make_solver
from tadp.generator import GeneratorOptions, generate_instance, parse_size


@dataclass(frozen=True)
class Case:
    """One benchmark case: a size and scenario, seeds, slots and limits."""

    size: str
    """GxK."""
    scenario: str
    """Generator scenario (``scarce`` or ``paper``)."""
    seeds: tuple[int, ...]
    """Instance seeds."""
    slots: int
    """Slots 0..slots-1 of each instance."""
    time_limit: float
    """HiGHS seconds per slot."""
    cpsat_time_limit: float
    """CP-SAT seconds per slot (0 skips CP-SAT)."""


CASES = {
    "2x5-scarce": Case("2x5", "scarce", (0, 1, 2), 20, 60.0, 10.0),
    "10x35-scarce": Case("10x35", "scarce", (0,), 3, 60.0, 30.0),
    "10x35-paper": Case("10x35", "paper", (0,), 3, 60.0, 10.0),
}
FIELDS = ["case", "instance", "seed", "slot", "solver", "status", "objective", "bound", "bound_kind", "score",
          "time_s", "proven", "gap_to_highs", "gap_kind", "nodes", "oa_rounds", "root_rounds", "cuts", "mip_gap",
          "cpsat_status", "last_improvement_s", "splits"]


def run_case(name: str, case: Case, threads: int | None, progress: bool) -> list[dict[str, Any]]:
    highs = make_solver("highs", threads=threads) if threads else make_solver("highs")
    cpsat = make_solver("cpsat", workers=threads or 2)
    rows = []
    for seed in case.seeds:
        inst = generate_instance(parse_size(case.size), seed=seed, slots=case.slots,
                                 options=GeneratorOptions(scenario=case.scenario))
        cache = inst.initial_cache
        for slot in range(case.slots):
            ref = highs.solve(inst, slot, cache, time_limit=case.time_limit, seed=seed)
            rows.append(_row(name, inst.name, seed, slot, "highs", ref, None))
            if progress:
                _say(rows[-1])
            if case.cpsat_time_limit > 0:
                res = cpsat.solve(inst, slot, cache, time_limit=case.cpsat_time_limit, seed=seed)
                rows.append(_row(name, inst.name, seed, slot, "cpsat", res, ref))
                if progress:
                    _say(rows[-1])
            cache = ref.outcome.next_cache
    return rows


def _row(case: str, instance: str, seed: int, slot: int, solver: str, res: Any, ref: Any) -> dict[str, Any]:
    info = res.info
    row = {"case": case, "instance": instance, "seed": seed, "slot": slot, "solver": solver, "status": res.status,
           "objective": res.objective, "bound": res.bound, "bound_kind": res.bound_kind, "score": res.score,
           "time_s": res.time_s, "proven": res.status == "optimal" and res.bound_kind == "opt",
           "gap_to_highs": None, "gap_kind": None}
    for key in ("nodes", "oa_rounds", "root_rounds", "cuts", "mip_gap", "cpsat_status", "last_improvement_s",
                "splits"):
        row[key] = info.get(key)
    if ref is not None:
        proven = ref.status == "optimal"
        reference = ref.score if proven else ref.bound
        row["gap_to_highs"] = (reference - res.score) / reference if reference else 0.0
        row["gap_kind"] = "opt" if proven else "bound"
    return row


def _say(row: dict[str, Any]) -> None:
    gap = "" if row["gap_to_highs"] is None else f" gap {row['gap_to_highs']:.2e} ({row['gap_kind']})"
    bound = "-" if row["bound"] is None else f"{row['bound']:.7f}"
    print(f"{row['instance']} slot {row['slot']:>2} {row['solver']:>5}: {row['status']:<10} J {row['score']:.7f} "
          f"bound {bound} ({row['bound_kind']}) {row['time_s']:7.2f} s{gap}", file=sys.stderr, flush=True)


def summary(rows: list[dict[str, Any]], cases: dict[str, Case]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    out = []
    for (case, solver), part in frame.groupby(["case", "solver"], sort=False):
        limit = cases[case].time_limit if solver == "highs" else cases[case].cpsat_time_limit
        # an exact solve that did not prove its (own) optimum is charged the time limit
        done = part["proven"] if solver == "highs" else part["cpsat_status"].eq("OPTIMAL")
        charged = part["time_s"].where(done, part["time_s"].clip(lower=limit))
        gaps = part["gap_to_highs"].dropna()
        highs_gap = part["mip_gap"].dropna() if solver == "highs" else pd.Series(dtype=float)
        out.append({
            "case": case, "solver": solver, "slots": len(part),
            "proven_opt" if solver == "highs" else "own_optimum": f"{int(done.sum())}/{len(part)}",
            "time_median_s": round(float(statistics.median(charged)), 3),
            "time_sgm_s": round(shifted_geomean(charged), 3),
            "time_max_s": round(float(part["time_s"].max()), 3),
            "max_gap": (f"{gaps.max():.2e}" if len(gaps) else (f"{highs_gap.max():.2e} (own)" if len(highs_gap)
                                                               else "")),
            "time_limit_s": limit,
        })
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="case(s) to run (default: 2x5-scarce)")
    parser.add_argument("--seeds", help="comma-separated seeds (overrides the case's)")
    parser.add_argument("--slots", type=int, help="slots per instance (overrides the case's)")
    parser.add_argument("--time-limit", type=float, help="HiGHS seconds per slot (overrides the case's)")
    parser.add_argument("--cpsat-time-limit", type=float, help="CP-SAT seconds per slot; 0 skips CP-SAT")
    parser.add_argument("--threads", type=int, help="solver threads (HiGHS threads, CP-SAT workers; default: "
                        "HiGHS's own, 2 CP-SAT workers)")
    parser.add_argument("-o", "--output", default="results/bench_exact.csv", help="CSV of all rows")
    parser.add_argument("--quiet", action="store_true", help="no per-slot lines")
    args = parser.parse_args(argv)
    chosen: dict[str, Case] = {}
    for name in args.case or ["2x5-scarce"]:
        case = CASES[name]
        changes: dict[str, Any] = {}
        if args.seeds:
            changes["seeds"] = tuple(int(s) for s in args.seeds.split(","))
        for key in ("slots", "time_limit", "cpsat_time_limit"):
            if getattr(args, key) is not None:
                changes[key] = getattr(args, key)
        chosen[name] = Case(**{**case.__dict__, **changes})
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for name, case in chosen.items():
        rows += run_case(name, case, args.threads, not args.quiet)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({k: ("" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
                          for k, v in row.items()} for row in rows)
    print(summary(rows, chosen).to_string(index=False))
    print(f"{len(rows)} rows in {time.perf_counter() - started:.0f} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
