"""The neural solver against every target of its issue (docs/neural.md, "Targets"), and its ablation.

    python -m benchmarks.bench_neural --out results/neural/bench                 # every target
    python -m benchmarks.bench_neural --out results/neural/bench --ablation      # and the ablation
    python -m benchmarks.bench_neural --cases 2x5 --out /tmp/b                   # one case
    python -m benchmarks.bench_neural --speed-only --out /tmp/b                  # the speed line only

Each *case* is a size or an instance family never used in training (training: even gateways, cold starts,
resource scales 0.3, 0.5, 1.0, instance seeds from 10,000; docs/neural.md): ``2x5`` and ``10x35`` scarce,
``20x35`` (a size never seen), ``uneven`` gateways, ``warm`` start caches, resource scales ``0.4``, ``0.6``,
``0.8``. Instance i of a case has seed i and plays held-out trace i (seed 1,000,000 + i, as
:mod:`benchmarks.bench_learned`). Every policy (``neural`` with K = 16 samples, ``greedy``; with
``--ablation`` also K = 1, 4, 64, no repair, no refill, no upgrade, and another checkpoint, e.g. trained without imitation)
plays the trace, chaining its own cache; every state a policy reached is solved by the exact per-slot
solver (``highs``), and the gap of docs/model.md, section 7 is computed on it: ``(OPT - J) / OPT``, to
the best bound where the optimum is not proven (counted in the ``bound`` column). Exact solves are
cached in ``OUT/references.json`` (a rerun reuses them).

Writes ``rows.csv`` (one row per case, instance, policy, slot) and ``summary.md``; prints the summary and
the speed (ms per slot of ``neural`` at 10x35, K = 16, one thread) and the shipped checkpoint's training
time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.bench_learned import held_out
from benchmarks.harness import cache_key
from solvers import make_solver
from tadp.generator import generate_instance, scenario_options
from tadp.instance import Cache, Instance


@dataclass(frozen=True)
class Case:
    """A size or family of held-out instances."""

    counts: tuple[int, ...]
    scale: float = 0.5
    warm: bool = False
    instances: int = 1
    slots: int = 5
    time_limit: float = 30.0  # seconds per exact solve


CASES = {
    "2x5": Case((5, 5), instances=3, slots=10, time_limit=30),
    "10x35": Case((35,) * 10, instances=2, slots=5, time_limit=60),
    "20x35": Case((35,) * 20, instances=1, slots=3, time_limit=60),
    "uneven": Case((8, 20, 35, 12, 25), instances=2, slots=5, time_limit=30),
    "warm": Case((35,) * 10, warm=True, instances=3, slots=5, time_limit=60),
    "scale-0.4": Case((25,) * 4, scale=0.4, instances=3, slots=5, time_limit=30),
    "scale-0.6": Case((25,) * 4, scale=0.6, instances=3, slots=5, time_limit=30),
    "scale-0.8": Case((25,) * 4, scale=0.8, instances=3, slots=5, time_limit=30),
}
ABLATION_CASES = ("2x5", "10x35")


def case_instance(case: Case, index: int) -> Instance:
    inst = generate_instance(list(case.counts), seed=index, slots=case.slots,
                             options=scenario_options("scarce", resource_scale=case.scale, warm_cache=case.warm))
    return held_out(inst, index)


def policies(ablation: bool, other: str | None) -> dict[str, dict[str, Any]]:
    """Policy label -> (registry name, options)."""
    out: dict[str, dict[str, Any]] = {"neural": {"name": "neural", "samples": 16}, "greedy": {"name": "greedy"}}
    if ablation:
        for k in (1, 4, 64):
            out[f"neural-K{k}"] = {"name": "neural", "samples": k}
        out["neural-no-repair"] = {"name": "neural", "samples": 16, "repair": False}
        out["neural-no-refill"] = {"name": "neural", "samples": 16, "refill": False}
        out["neural-no-upgrade"] = {"name": "neural", "samples": 16, "upgrade": False}
        if other:
            out["neural-other"] = {"name": "neural", "samples": 16, "checkpoint": other}
    return out


class References:
    """Exact per-slot optima of states, cached in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.known: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
        self.highs = make_solver("highs", threads=1)

    def of(self, case_name: str, inst: Instance, slot: int, cache: Cache, time_limit: float) -> dict[str, Any]:
        """The reference of a state, keyed by case too: instances of different cases may share a name
        (the generator's names do not record the resource scale)."""
        key = f"{case_name}|{inst.name}|{slot}|{cache_key(cache)}"
        if key not in self.known:
            r = self.highs.solve(inst, slot, cache, time_limit=time_limit)
            self.known[key] = {"score": r.score, "bound": r.bound, "status": r.status, "completion": r.outcome.completion,
                               "seconds": r.time_s}
            self.path.write_text(json.dumps(self.known))
        return self.known[key]


def play(label: str, spec: dict[str, Any], case_name: str, case: Case, refs: References) -> list[dict[str, Any]]:
    """One policy on every instance of a case; one row per slot with its gap."""
    rows = []
    options = {k: v for k, v in spec.items() if k != "name"}
    for index in range(case.instances):
        inst = case_instance(case, index)
        solver = make_solver(spec["name"], **options)
        solver.prepare(inst, seed=0)
        cache = inst.initial_cache
        for slot in range(case.slots):
            result = solver.solve(inst, slot, cache, time_limit=case.time_limit, seed=0)
            ref = refs.of(case_name, inst, slot, cache, case.time_limit)
            proven = ref["status"] == "optimal"
            best = ref["score"] if proven else max(ref["bound"], ref["score"])
            gap = (best - result.score) / best if best > 0 else 0.0
            rows.append({"case": case_name, "instance": inst.name, "policy": label, "slot": slot,
                         "score": result.score, "completion": result.outcome.completion, "time_s": result.time_s,
                         "opt": ref["score"], "opt_bound": ref["bound"], "proven": proven,
                         "opt_completion": ref["completion"], "gap": gap, "feasible": result.outcome.feasible})
            cache = result.outcome.next_cache
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (case, policy): mean and worst gap, slots, unproven references, completions, ms per slot."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["case"], r["policy"]), []).append(r)
    out = []
    for (case, policy), rs in groups.items():
        out.append({"case": case, "policy": policy, "slots": len(rs), "bound": sum(not r["proven"] for r in rs),
                    "mean_gap_pct": 100 * statistics.mean(r["gap"] for r in rs),
                    "worst_gap_pct": 100 * max(r["gap"] for r in rs),
                    "score": statistics.mean(r["score"] for r in rs),
                    "completion": statistics.mean(r["completion"] for r in rs),
                    "opt_completion": statistics.mean(r["opt_completion"] for r in rs),
                    "median_ms": 1e3 * statistics.median(r["time_s"] for r in rs),
                    "all_feasible": all(r["feasible"] for r in rs)})
    return out


def markdown(summary: list[dict[str, Any]]) -> str:
    head = ("| case | policy | slots | unproven (gap to bound) | mean gap % | worst gap % | score | completion | "
            "OPT completion | median ms/slot |\n|---|---|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {s['case']} | {s['policy']} | {s['slots']} | {s['bound']} | {s['mean_gap_pct']:.3f} | "
        f"{s['worst_gap_pct']:.3f} | {s['score']:.4f} | {s['completion']:.4f} | {s['opt_completion']:.4f} | "
        f"{s['median_ms']:.1f} |\n" for s in summary)


def speed(samples: int, slots: int, passes: int = 3) -> float:
    """Median ms per 10x35 slot of ``neural`` (K = ``samples``, one thread) on held-out trace 0, over
    ``passes`` plays of its ``slots`` slots (each from the initial cache: the same states each pass, so that a
    slot the machine slowed once does not set the figure). ``prepare`` (network tracing, the compiled
    decoder's loading) is not counted."""
    inst = case_instance(Case((35,) * 10, slots=slots), 0)
    solver = make_solver("neural", samples=samples, threads=1)
    solver.prepare(inst)
    times = []
    for _ in range(passes):
        cache = inst.initial_cache
        for slot in range(slots):
            started = time.perf_counter()
            result = solver.solve(inst, slot, cache, time_limit=10)
            times.append(time.perf_counter() - started)
            cache = result.outcome.next_cache
    return 1e3 * statistics.median(times)


def speed_line(slots: int = 10, passes: int = 3) -> str:
    load = os.getloadavg()[0]
    ms = speed(16, slots, passes)
    return (f"speed: neural at 10x35, K = 16, one thread: median {ms:.1f} ms per slot over {passes} x {slots} slots "
            f"(1-minute load average {load:.2f} before, {os.getloadavg()[0]:.2f} after)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (references are cached there)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--ablation", action="store_true", help="also K = 1, 4, 64, no repair, no refill, no upgrade (on 2x5, 10x35)")
    parser.add_argument("--other-checkpoint", help="a second checkpoint in the ablation (e.g. no imitation)")
    parser.add_argument("--speed-only", action="store_true", help="only the speed line (no cases)")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)} (known: {', '.join(CASES)})")
    from solvers.learned.training import set_torch_threads

    set_torch_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    refs = References(out / "references.json")
    rows: list[dict[str, Any]] = []
    if args.speed_only:
        print(speed_line())
        return 0
    for name in cases:
        ablate = args.ablation and name in ABLATION_CASES
        for label, spec in policies(ablate, args.other_checkpoint).items():
            started = time.perf_counter()
            rows += play(label, spec, name, CASES[name], refs)
            print(f"{name} {label}: {time.perf_counter() - started:.0f} s", flush=True)
    with open(out / "rows.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = summarise(rows)
    from solvers.learned.neural.checkpoint import load_neural

    prov = load_neural().provenance
    lines = [markdown(summary), "",
             speed_line(),
             f"training (shipped checkpoint): {prov.get('train_seconds', float('nan')):.0f} s; label generation "
             f"(reported apart): {prov.get('label_seconds', float('nan')):.0f} s of exact solves for "
             f"{prov.get('label_states')} slots"]
    text = "\n".join(lines)
    (out / "summary.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
