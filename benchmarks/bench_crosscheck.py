"""Every solver against the exact optimum, on random instances no test fixes (docs/measurements.md, "Cross-checks").

    python -m benchmarks.bench_crosscheck --seed 1 --tiny 300 --mid 100

Instances are drawn from the seed: 1-4 gateways of uneven sizes, the ``scarce`` or ``paper`` scenario, a
resource scale from 0.1 to 2, cold or warm start caches, two chained slots each (the second from the cache the
first decision of ``highs`` left).

* ``--tiny N``: instances of at most 5 tasks. ``highs`` (the direct engine) and its Pyomo engine must prove
  the optimum that :func:`solvers.exact.enumerate.enumerate_optimum` finds by walking every assignment (to
  1e-6), with a bound no lower; every other solver (``greedy``, ``neural``, ``cpsat``) must return a decision
  the evaluator accepts, scoring no more than that optimum.
* ``--mid N``: instances of up to 4 x 8 tasks. ``highs`` (``--time-limit`` s) must return an accepted decision
  with a bound no lower than its score; every other solver (``greedy``, ``neural``, ``cpsat``, ``random``) an
  accepted decision scoring no more than that bound.

One line per mismatch, progress every 25 instances, a summary; exit status 1 if anything disagreed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any

from solvers import make_solver
from solvers.exact.enumerate import enumerate_optimum
from tadp.generator import GeneratorOptions, generate_instance
from tadp.instance import Instance

TOL = 1e-6


def draw_instance(rng: random.Random, max_gateways: int, max_devices: int, max_tasks: int) -> Instance:
    """A random instance (module doc): uneven gateways, scenario, scale and start cache all drawn."""
    counts = [rng.randint(1, max_devices) for _ in range(rng.randint(1, max_gateways))]
    while sum(counts) > max_tasks:
        counts[rng.randrange(len(counts))] -= 1
        counts = [c for c in counts if c > 0]
    options = GeneratorOptions(scenario=rng.choice(["scarce", "paper"]),
                               resource_scale=rng.choice([0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 2.0]),
                               warm_cache=rng.random() < 0.5)
    return generate_instance(counts, seed=rng.randint(0, 10**6), slots=2, options=options)


def check_instance(inst: Instance, solvers: dict[str, Any], time_limit: float, enumerate_truth: bool) -> list[str]:
    """The mismatches on both slots of ``inst`` (module doc), as lines."""
    problems = []
    cache = inst.initial_cache
    for slot in range(inst.n_slots):
        where = f"{inst.name} slot {slot}"
        ref = solvers["highs"].solve(inst, slot, cache, time_limit=time_limit)
        ceiling = ref.bound
        if not ref.outcome.feasible or ref.bound < ref.score - 1e-9:
            problems.append(f"{where}: highs {ref.status} score {ref.score} bound {ref.bound}")
        if enumerate_truth:
            truth = enumerate_optimum(inst, slot, cache).value
            ceiling = truth
            for name in ("highs", "highs-pyomo"):
                res = ref if name == "highs" else solvers[name].solve(inst, slot, cache, time_limit=time_limit)
                if res.status != "optimal" or abs(res.score - truth) > TOL or res.bound < truth - TOL:
                    problems.append(f"{where}: {name} {res.status} score {res.score} bound {res.bound}, "
                                    f"enumerated optimum {truth}")
        for name, solver in solvers.items():
            if name.startswith("highs"):
                continue
            res = solver.solve(inst, slot, cache, time_limit=time_limit)
            if not res.outcome.feasible or res.score > ceiling + TOL:
                problems.append(f"{where}: {name} score {res.score} (feasible {res.outcome.feasible}) above "
                                f"the {'optimum' if enumerate_truth else 'bound'} {ceiling}")
        cache = ref.outcome.next_cache
    return problems


def run(kind: str, count: int, rng: random.Random, time_limit: float) -> tuple[int, int]:
    """``count`` instances of ``kind`` ("tiny" or "mid"); (instances with a mismatch, instances)."""
    tiny = kind == "tiny"
    names = ["greedy", "neural", "cpsat"] + ([] if tiny else ["random"])
    solvers = {"highs": make_solver("highs", threads=1), **{n: make_solver(n) for n in names}}
    if tiny:
        solvers["highs-pyomo"] = make_solver("highs", threads=1, engine="pyomo")
    bad, started = 0, time.perf_counter()
    for i in range(count):
        inst = draw_instance(rng, 3, 3, 5) if tiny else draw_instance(rng, 4, 8, 32)
        problems = check_instance(inst, solvers, time_limit, enumerate_truth=tiny)
        bad += bool(problems)
        for line in problems:
            print(f"MISMATCH {kind} {i}: {line}", flush=True)
        if (i + 1) % 25 == 0 or i + 1 == count:
            print(f"{kind}: {i + 1}/{count} instances, {bad} with a mismatch, "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return bad, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="draws every instance (default 0)")
    parser.add_argument("--tiny", type=int, default=100, help="instances of at most 5 tasks (default 100)")
    parser.add_argument("--mid", type=int, default=50, help="instances of up to 4 x 8 tasks (default 50)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per solve (default 10)")
    args = parser.parse_args(argv)
    if min(args.tiny, args.mid) < 0 or args.time_limit <= 0:
        parser.error("--tiny and --mid must be >= 0 and --time-limit > 0")
    rng = random.Random(args.seed)
    results = [run(kind, count, rng, args.time_limit) for kind, count in (("tiny", args.tiny), ("mid", args.mid))
               if count]
    bad = sum(b for b, _ in results)
    print(f"{sum(n for _, n in results)} instances (two slots each), {bad} with a mismatch")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
