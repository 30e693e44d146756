"""The fast exact solver against the previous one, case by case, on the very same slots (docs/exact.md,
section 4; docs/measurements.md, "The exact per-slot solvers").

    python -m benchmarks.bench_exact_speed                       # every case, one thread, seed 0
    python -m benchmarks.bench_exact_speed --case 2x5-scarce --case 10x35-paper
    python -m benchmarks.bench_exact_speed --ablation            # and the fast path without some of its phases
    python -m benchmarks.bench_exact_speed --oracle              # only the oracle's two duals, call by call

Solvers: ``highs`` (the registered solver: the model built in highspy, :mod:`solvers.exact.search`) and
``highs-pyomo`` (``PyomoSolver(engine="pyomo")``: the Pyomo model through Pyomo's persistent HiGHS
interface, the algorithm of docs/exact.md, section 3, as it was before the fast path); with ``--ablation``,
on the large scarce cases, also ``highs`` without the levels-then-sites heuristic (``highs-no-aggregate``),
without the neighbourhood search as well (``highs-no-neighbourhoods``) and without the packing either
(``highs-milp-only``: the MILP alone after the LP rounds), and on the other cases without the gateway tables of
small slots (``highs-no-tables``) and without the CP-SAT master of mid-size slots (``highs-no-cpsat``: HiGHS
solves every MILP). The knapsack bound is part of every ``highs`` row. All run with one
thread, the same seed and the case's time limit, on the same (instance, slot, start cache) states: chained
cases follow the states the ``highs`` decisions reach (keep rule ``used``) and give both solvers those.
Every solve runs in a fresh child process, after a warm-up solve of a tiny slot in that process, so that its
peak memory (``ru_maxrss``) is its own and its time includes no first import.

One CSV row per (case, instance, slot, solver): status, objective, bound, relative gap, time (``time_s`` of
the result, model building included), peak memory. The summary gives per case and solver the slots
proven, the median time (unproven solves charged the limit), the median ratio to ``highs-pyomo`` on the
same slots, the largest gap, the peak memory, and the case's target with whether it is met.

``--oracle`` times the oracle's two dual methods instead (docs/exact.md, sections 2 and 4): on random
assignments of the cold first slot of each scarce size (each task served with probability 0.9 by one of its
options at random, and the first half of such an assignment), ``min_max_load`` and ``solve_dual`` closing
the certificates to the same gap, then both stopping at the verdict; the median milliseconds per call, their
ratio, and the largest difference between the two methods' certificates.
"""

from __future__ import annotations

import argparse
import csv
import math
import multiprocessing
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solvers.base import finish
from solvers.exact.highs import PyomoSolver
from solvers.exact.search import solve_slot_direct
from tadp.generator import GeneratorOptions, generate_instance, parse_size
from tadp.instance import Cache, Instance

SOLVERS = {"highs": {"engine": "direct"}, "highs-pyomo": {"engine": "pyomo"}}
#: The fast path with its large-slot phases switched off (``--ablation``; docs/exact.md, section 4).
ABLATIONS = {"highs-no-aggregate": {"aggregate": False},
             "highs-no-neighbourhoods": {"aggregate": False, "neighbourhoods": False},
             "highs-milp-only": {"aggregate": False, "pack": False, "neighbourhoods": False}}
#: ... and without the gateway tables of small slots or the CP-SAT master of mid-size ones (``--ablation``, on the
#: other cases).
SMALL_ABLATIONS = {"highs-no-tables": {"tables": False}, "highs-no-cpsat": {"cpsat": False}}


@dataclass(frozen=True)
class Case:
    """One case: instances of one size and scenario, which slots, the limit and the target."""

    size: str
    scenario: str
    seeds: tuple[int, ...]
    slots: int  # slots 0..slots-1 of each instance, chained (1: the cold first slot only)
    time_limit: float
    target: str  # "median_s<=X", "proven_s<=X", "gap<=X" (all slots)
    large: bool = False  # cold slots of 300 tasks and more: the large-slot phases run (``--ablation`` cases)


CASES = {
    "2x5-scarce": Case("2x5", "scarce", (0, 1, 2), 20, 60.0, "median_s<=0.02"),
    "2x5-scarce-cold": Case("2x5", "scarce", (0, 1, 2, 3, 4), 1, 60.0, "median_s<=0.02"),
    "10x35-paper": Case("10x35", "paper", (0, 1, 2), 1, 60.0, "median_s<=0.1"),
    "4x10-scarce": Case("4x10", "scarce", (0, 1), 1, 60.0, "proven_s<=15"),
    "10x35-scarce": Case("10x35", "scarce", (0, 1), 1, 60.0, "gap<=1e-5", large=True),
    "20x35-scarce": Case("20x35", "scarce", (0,), 1, 60.0, "gap<=1e-5", large=True),
    "50x35-scarce": Case("50x35", "scarce", (0,), 1, 60.0, "gap<=1e-5", large=True),
    "100x35-scarce": Case("100x35", "scarce", (0,), 1, 60.0, "gap<=1e-4", large=True),
}
FIELDS = ["case", "instance", "slot", "solver", "status", "objective", "bound", "gap", "time_s", "peak_mib",
          "nodes", "oa_rounds", "cuts"]


def _solve_in_child(args: tuple[str, Instance, int, Cache, float, int]) -> dict[str, Any]:
    solver, inst, slot, cache, limit, seed = args
    _warm_up()  # the child's own first touches of the libraries' pages (copy-on-write) are not the slot's time
    switches = {**ABLATIONS, **SMALL_ABLATIONS}.get(solver)
    if switches is not None:
        res = _ablated(inst, slot, cache, limit, seed, **switches)
    else:
        res = PyomoSolver(threads=1, **SOLVERS[solver]).solve(inst, slot, cache, time_limit=limit, seed=seed)
    gap = (res.bound - res.score) / res.score if res.score > 0 else 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"solver": solver, "status": res.status, "objective": res.score, "bound": res.bound, "gap": gap,
            "time_s": res.time_s, "peak_mib": round(peak, 1), "nodes": res.info.get("nodes"),
            "oa_rounds": res.info.get("oa_rounds"), "cuts": res.info.get("cuts"),
            "next_cache": res.outcome.next_cache, "error": res.info.get("error")}


def _ablated(inst: Instance, slot: int, cache: Cache, limit: float, seed: int, **switches: bool) -> Any:
    """``highs`` (keep rule ``used``) with some of its phases switched off."""
    from solvers.exact.highs import apply_keep_rule

    started = time.perf_counter()
    decision, status, objective, bound, info = solve_slot_direct(inst, slot, cache, time_limit=limit, threads=1,
                                                                 seed=seed, started=started, **switches)
    return finish(inst, slot, cache, apply_keep_rule(decision, "used"), status=status, objective=objective,
                  bound=bound, bound_kind="opt", started=started, info=info)


def _warm_up() -> None:
    """Solve a tiny slot with each solver before any child is forked, so that no child's time includes the
    first import of a library (highspy, Pyomo's solver interface, numpy's lazy modules)."""
    inst = generate_instance(parse_size("2x3"), seed=0, slots=1)
    for options in SOLVERS.values():
        PyomoSolver(threads=1, **options).solve(inst, 0, inst.initial_cache, time_limit=10.0)


def run_case(name: str, case: Case, pool: Any, progress: bool, ablation: bool = False) -> list[dict[str, Any]]:
    rows = []
    solvers = list(SOLVERS) + (list(ABLATIONS if case.large else SMALL_ABLATIONS) if ablation else [])
    for seed in case.seeds:
        inst = generate_instance(parse_size(case.size), seed=seed, slots=case.slots,
                                 options=GeneratorOptions(scenario=case.scenario))
        cache = inst.initial_cache
        for slot in range(case.slots):
            results = {s: pool.apply(_solve_in_child, ((s, inst, slot, cache, case.time_limit, seed),))
                       for s in solvers}
            for solver, res in results.items():
                row = {"case": name, "instance": inst.name, "slot": slot, **res}
                rows.append(row)
                if progress:
                    print(f"{name} {inst.name} slot {slot} {solver:>23}: {res['status']:<10} "
                          f"J {res['objective']:.9f} gap {res['gap']:.2e} {res['time_s']:7.3f} s "
                          f"{res['peak_mib']:.0f} MiB {res['error'] or ''}", file=sys.stderr, flush=True)
            cache = results["highs"]["next_cache"]
    return rows


def _target_met(target: str, part: list[dict[str, Any]], median: float) -> str:
    kind, value = target.split("<=")
    limit = float(value)
    if kind == "median_s":
        ok = median <= limit and all(r["status"] == "optimal" for r in part)
    elif kind == "proven_s":
        ok = all(r["status"] == "optimal" and r["time_s"] <= limit for r in part)
    else:
        ok = all(r["status"] == "optimal" or r["gap"] <= limit for r in part)
    return "met" if ok else "NOT met"


def summary(rows: list[dict[str, Any]], cases: dict[str, Case]) -> list[dict[str, Any]]:
    out = []
    for name, case in cases.items():
        base = {(r["instance"], r["slot"]): r for r in rows if r["case"] == name and r["solver"] == "highs-pyomo"}
        for solver in [*SOLVERS, *ABLATIONS, *SMALL_ABLATIONS]:
            part = [r for r in rows if r["case"] == name and r["solver"] == solver]
            if not part:
                continue
            charged = [r["time_s"] if r["status"] == "optimal" else max(r["time_s"], case.time_limit) for r in part]
            ratios = [c / max(base[(r["instance"], r["slot"])]["time_s"] if base[(r["instance"], r["slot"])]["status"]
                              == "optimal" else max(base[(r["instance"], r["slot"])]["time_s"], case.time_limit), 1e-9)
                      for r, c in zip(part, charged, strict=True)]
            median = statistics.median(charged)
            out.append({"case": name, "solver": solver, "slots": len(part),
                        "proven": f"{sum(r['status'] == 'optimal' for r in part)}/{len(part)}",
                        "median_s": round(median, 4), "max_s": round(max(r["time_s"] for r in part), 3),
                        "ratio_to_pyomo": round(statistics.median(ratios), 3),
                        "max_gap": f"{max(r['gap'] for r in part):.1e}",
                        "peak_mib": round(max(r["peak_mib"] for r in part)),
                        "target": case.target if solver == "highs" else "",
                        "met": _target_met(case.target, part, median) if solver == "highs" else ""})
    return out


ORACLE_SIZES = ("2x5", "4x10", "10x35", "20x35")
ORACLE_ASSIGNMENTS = 10


def oracle_timing() -> list[dict[str, Any]]:
    """The two duals of the oracle on the same assignments (module doc, ``--oracle``)."""
    import numpy as np

    from solvers.exact.options import slot_options
    from solvers.exact.oracle import GAP_TOL, min_max_load, solve_dual

    def timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float]:
        t = time.perf_counter()
        out = fn(*args, **kw)
        return out, 1e3 * (time.perf_counter() - t)

    out = []
    for size in ORACLE_SIZES:
        inst = generate_instance(parse_size(size), seed=0, slots=1, options=GeneratorOptions(scenario="scarce"))
        opts = slot_options(inst, 0, inst.initial_cache)
        rng = np.random.default_rng(0)
        ms: dict[str, list[float]] = {"full_old": [], "full_new": [], "verdict_old": [], "verdict_new": []}
        differ = 0.0
        for k in range(ORACLE_ASSIGNMENTS):
            chosen = np.array([int(rng.choice(opts.options_of(j))) for j in range(opts.n_tasks) if rng.random() < 0.9])
            if k % 2:
                chosen = chosen[: max(1, len(chosen) // 2)]
            old, t_old = timed(min_max_load, opts, chosen)
            new, t_new = timed(solve_dual, opts, chosen, gap_tol=GAP_TOL)
            differ = max(differ, abs(old.lower - new.lower), abs(old.upper - new.upper))
            ms["full_old"].append(t_old)
            ms["full_new"].append(t_new)
            ms["verdict_old"].append(timed(min_max_load, opts, chosen, decide_only=True)[1])
            ms["verdict_new"].append(timed(solve_dual, opts, chosen, decide_only=True)[1])
        med = {k: statistics.median(v) for k, v in ms.items()}
        out.append({"size": size, "tasks": opts.n_tasks, "assignments": ORACLE_ASSIGNMENTS,
                    "min_max_load_ms": round(med["full_old"], 2), "solve_dual_ms": round(med["full_new"], 2),
                    "ratio": round(med["full_old"] / med["full_new"], 1),
                    "verdict_old_ms": round(med["verdict_old"], 2), "verdict_new_ms": round(med["verdict_new"], 2),
                    "verdict_ratio": round(med["verdict_old"] / med["verdict_new"], 1),
                    "max_certificate_diff": f"{differ:.0e}"})
    return out


def _print_table(table: list[dict[str, Any]]) -> None:
    keys = list(table[0]) if table else []
    widths = {k: max(len(k), *(len(str(r[k])) for r in table)) for k in keys}
    print("  ".join(k.ljust(widths[k]) for k in keys))
    for r in table:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in keys))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="case(s) to run (default: all)")
    parser.add_argument("--time-limit", type=float, help="seconds per slot (overrides the cases')")
    parser.add_argument("-o", "--output", default="results/bench_exact_speed.csv", help="CSV of all rows")
    parser.add_argument("--ablation", action="store_true",
                        help="also run highs without its large-slot phases on the large scarce cases, and "
                             "without the gateway tables or the CP-SAT master on the others")
    parser.add_argument("--oracle", action="store_true", help="only time the oracle's two duals (module doc)")
    parser.add_argument("--quiet", action="store_true", help="no per-slot lines")
    args = parser.parse_args(argv)
    chosen = {name: CASES[name] for name in (args.case or list(CASES))}
    if args.time_limit is not None:
        chosen = {n: Case(**{**c.__dict__, "time_limit": args.time_limit}) for n, c in chosen.items()}
    if args.oracle:
        _print_table(oracle_timing())
        print("milliseconds per call, median over the assignments (one thread)")
        return 0
    started = time.perf_counter()
    _warm_up()
    rows: list[dict[str, Any]] = []
    context = multiprocessing.get_context("fork")
    with context.Pool(1, maxtasksperchild=1) as pool:
        for name, case in chosen.items():
            rows += run_case(name, case, pool, not args.quiet, args.ablation)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: ("" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
                          for k, v in row.items()} for row in rows)
    _print_table(summary(rows, chosen))
    print(f"{len(rows)} rows in {time.perf_counter() - started:.0f} s -> {out} (one thread; times are time_s, model "
          "building included; unproven solves charged the limit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
