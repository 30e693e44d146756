"""Every solver against the exact optimum, on random instances no test fixes (docs/measurements.md, "Cross-checks").

    python -m benchmarks.bench_crosscheck --seed 1 --tiny 300 --mid 100 --episodes 100 --mid-episodes 50

Instances are drawn from the seed: 1-4 gateways of uneven sizes, the ``scarce`` or ``paper`` scenario, a
resource scale from 0.1 to 2, cold or warm start caches, two chained slots each (the second from the cache the
first decision of ``highs`` left), or three or four slots for ``--episodes`` and ``--mid-episodes``. With
``--random-caches`` every instance starts instead from a random cache that fits (:func:`with_random_cache`; the
instances are otherwise the same draws).

* ``--tiny N``: instances of at most 5 tasks. ``highs`` (the direct engine) and its Pyomo engine must prove
  the optimum that :func:`solvers.exact.enumerate.enumerate_optimum` finds by walking every assignment (to
  1e-6), with a bound no lower; every other solver (``greedy``, ``neural``, ``cpsat``) must return a decision
  the evaluator accepts, scoring no more than that optimum. The first slot's exported model (``tadp-bench export``,
  MPS and LP), read back and solved by HiGHS, must be a relaxation: its optimum no lower than the enumerated one.
* ``--mid N``: instances of up to 4 x 8 tasks. ``highs`` (``--time-limit`` s) must return an accepted decision
  with a bound no lower than its score, and agree with its Pyomo engine (the MILP loop alone, without the small-
  and large-slot searches of docs/exact.md, section 4): the same optimum (to 1e-6) where both prove one, each
  bound no lower than the other's score; every other solver (``greedy``, ``neural``, ``cpsat``, ``random``) an
  accepted decision scoring no more than that bound.
* ``--episodes N``: instances of at most 3 tasks, three slots. The clairvoyant horizon optimum of
  ``highs-horizon`` (:class:`solvers.horizon.solver.HorizonSolver`) must equal the one that
  :func:`solvers.horizon.enumerate.enumerate_episode` finds by walking every slot and keep choice (to 1e-6),
  with a bound no lower; the episode of every online policy (``highs``, ``greedy``, ``neural``, ``cpsat``,
  ``random``, each slot from the cache its previous decision left) must score no more. Episodes where the
  enumeration left knife-edge slot choices out (``uncertain``) are counted apart, not judged.
* ``--mid-episodes N``: instances of up to 4 x 4 tasks, four slots. The horizon bound of
  :func:`solvers.horizon.rolling.episode_bound` (``--time-limit`` s; slot bands up to 16 tasks a slot) must be
  no lower than its own episode, and every online policy's episode no higher than the bound.

One line per mismatch (a solver raising an exception is one), progress every 25 instances, a summary; exit status 1 if anything disagreed.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from solvers import make_solver
from solvers.exact.enumerate import enumerate_optimum
from solvers.exact.model import EXPORT_FORMATS, export_model
from solvers.horizon.enumerate import enumerate_episode
from solvers.horizon.rolling import episode_bound
from solvers.horizon.solver import HorizonSolver
from tadp.generator import GeneratorOptions, generate_instance
from tadp.instance import Cache, Instance

TOL = 1e-6


def draw_instance(rng: random.Random, max_gateways: int, max_devices: int, max_tasks: int, slots: int = 2
                  ) -> Instance:
    """A random instance (module doc): uneven gateways, scenario, scale and start cache all drawn."""
    counts = [rng.randint(1, max_devices) for _ in range(rng.randint(1, max_gateways))]
    while sum(counts) > max_tasks:
        counts[rng.randrange(len(counts))] -= 1
        counts = [c for c in counts if c > 0]
    options = GeneratorOptions(scenario=rng.choice(["scarce", "paper"]),
                               resource_scale=rng.choice([0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 2.0]),
                               warm_cache=rng.random() < 0.5)
    return generate_instance(counts, seed=rng.randint(0, 10**6), slots=slots, options=options)


def with_random_cache(inst: Instance, gen: np.random.Generator) -> Instance:
    """``inst`` with a random start cache that fits (``--random-caches``): each model resident at its device's
    gateway and at the edge with a drawn probability, then models dropped at random until every cache fits."""
    share = gen.uniform(0.1, 0.9)
    cache = Cache(gen.random((inst.n_devices, 2)) < share, gen.random((inst.n_devices, 2)) < share)
    while inst.cache_overflows(cache):
        j, level = gen.choice(np.argwhere(cache.gateway | cache.edge))
        (cache.gateway if gen.random() < 0.5 else cache.edge)[j, level] = False
    return dataclasses.replace(inst, initial_cache=cache)


def check_export(inst: Instance, optimum: float) -> list[str]:
    """The mismatches of slot 0's exported models (MPS and LP, read back and solved by HiGHS) against the slot
    optimum ``optimum`` they must bound from above."""
    import highspy

    problems = []
    pyomo_log = logging.getLogger("pyomo.core")  # Pyomo's MPS writer warns of the constant objective of a slot
    level = pyomo_log.level                        # with no option (nothing can be served): an expected case here
    with tempfile.TemporaryDirectory() as folder:
        for fmt in EXPORT_FORMATS:
            path = Path(folder) / f"slot0.{fmt}"
            pyomo_log.setLevel(logging.ERROR)
            try:
                export_model(inst, 0, path, fmt)
            finally:
                pyomo_log.setLevel(level)
            h = highspy.Highs()
            h.silent()
            h.readModel(str(path))
            h.setOptionValue("mip_rel_gap", 0.0)
            h.run()
            status, value = h.modelStatusToString(h.getModelStatus()), h.getInfo().objective_function_value
            if status != "Optimal" or value < optimum - TOL:
                problems.append(f"{inst.name} slot 0: exported {fmt} model {status} {value}, below the optimum "
                                f"{optimum}")
    return problems


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
        if not enumerate_truth and "highs-pyomo" in solvers:  # the MILP loop alone (no tables, no large-slot phases)
            other = solvers["highs-pyomo"].solve(inst, slot, cache, time_limit=time_limit)
            both = ref.status == other.status == "optimal"
            if (both and abs(ref.score - other.score) > TOL) or min(ref.bound - other.score, other.bound - ref.score) < -TOL:
                problems.append(f"{where}: highs {ref.status} score {ref.score} bound {ref.bound}, highs-pyomo "
                                f"{other.status} score {other.score} bound {other.bound}")
        if enumerate_truth:
            truth = enumerate_optimum(inst, slot, cache).value
            ceiling = truth
            if slot == 0:
                problems += check_export(inst, truth)
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


def episode_score(solver: Any, inst: Instance, n_slots: int, time_limit: float) -> float:
    """The mean slot score of ``solver``'s episode over slots 0..n_slots-1, caches chained (C7)."""
    scores, cache = [], inst.initial_cache
    for slot in range(n_slots):
        res = solver.solve(inst, slot, cache, time_limit=time_limit)
        scores.append(res.score)
        cache = res.outcome.next_cache
    return sum(scores) / n_slots


def check_episode(inst: Instance, solvers: dict[str, Any], time_limit: float, enumerate_truth: bool = True
                  ) -> list[str] | None:
    """The mismatches of ``inst``'s episode (module doc, ``--episodes`` or, without ``enumerate_truth``,
    ``--mid-episodes``), as lines; None when the enumeration left knife-edge slot choices out (not judged)."""
    problems = []
    if enumerate_truth:
        truth = enumerate_episode(inst)
        if truth.uncertain:
            return None
        res = HorizonSolver().solve_horizon(inst, time_limit=time_limit)
        if res.status != "optimal" or abs(res.score - truth.value) > TOL or res.bound < truth.value - TOL:
            problems.append(f"{inst.name}: highs-horizon {res.status} score {res.score} bound {res.bound}, "
                            f"enumerated optimum {truth.value}")
        ceiling, what = truth.value, "the clairvoyant optimum"
    else:
        found = episode_bound(inst, time_limit=time_limit)
        if found.bound < found.incumbent - 1e-9:
            problems.append(f"{inst.name}: horizon bound {found.bound} below its own episode {found.incumbent}")
        ceiling, what = found.bound, "the horizon bound"
    for name, solver in solvers.items():
        score = episode_score(solver, inst, inst.n_slots, time_limit)
        if score > ceiling + TOL:
            problems.append(f"{inst.name}: {name} episode {score} above {what} {ceiling}")
    return problems


def _guarded(check: Any, inst: Instance, *args: Any, **kwargs: Any) -> list[str] | None:
    """``check(inst, ...)``, with an exception raised by a solver reported as a mismatch of ``inst``."""
    try:
        return check(inst, *args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a solver that raises on a valid instance is a finding
        return [f"{inst.name}: raised {type(exc).__name__}: {exc}"]


def _solvers(names: tuple[str, ...]) -> dict[str, Any]:
    """The registered solvers ``names`` (``highs-pyomo``: ``highs`` on its Pyomo engine), the exact ones on one
    thread."""
    exact = {"highs": {"threads": 1}, "highs-pyomo": {"threads": 1, "engine": "pyomo"}}
    return {n: make_solver("highs", **exact[n]) if n in exact else make_solver(n) for n in names}


#: Per mode: the instances drawn (gateways, devices per gateway, tasks, slots), the solvers and the check.
MODES: dict[str, tuple[tuple[int, int, int, int], tuple[str, ...], Any, dict[str, bool]]] = {
    "tiny": ((3, 3, 5, 2), ("highs", "greedy", "neural", "cpsat", "highs-pyomo"), check_instance,
             {"enumerate_truth": True}),
    "mid": ((4, 8, 32, 2), ("highs", "greedy", "neural", "cpsat", "random", "highs-pyomo"), check_instance,
            {"enumerate_truth": False}),
    "episodes": ((3, 2, 3, 3), ("highs", "greedy", "neural", "cpsat", "random"), check_episode,
                 {"enumerate_truth": True}),
    "mid-episodes": ((4, 4, 16, 4), ("highs", "greedy", "neural", "cpsat", "random"), check_episode,
                     {"enumerate_truth": False}),
}


def run(kind: str, count: int, rng: random.Random, time_limit: float, caches: np.random.Generator | None = None
        ) -> tuple[int, int]:
    """``count`` instances of mode ``kind`` (:data:`MODES`); (instances with a mismatch, instances judged)."""
    (gateways, devices, tasks, slots), names, check, switches = MODES[kind]
    solvers = _solvers(names)
    episodes = check is check_episode
    bad, judged, started = 0, 0, time.perf_counter()
    for i in range(count):
        inst = draw_instance(rng, gateways, devices, tasks, slots=slots)
        inst = inst if caches is None else with_random_cache(inst, caches)
        problems = _guarded(check, inst, solvers, time_limit, **switches)
        if problems is not None:
            judged += 1
            bad += bool(problems)
            for line in problems:
                print(f"MISMATCH {kind} {i}: {line}", flush=True)
        if (i + 1) % 25 == 0 or i + 1 == count:
            skipped = f"{i + 1 - judged} not judged (knife edges), " if episodes else ""
            print(f"{kind}: {i + 1}/{count} instances, {skipped}{bad} with a mismatch, "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return bad, judged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="draws every instance (default 0)")
    parser.add_argument("--tiny", type=int, default=100, help="instances of at most 5 tasks (default 100)")
    parser.add_argument("--mid", type=int, default=50, help="instances of up to 4 x 8 tasks (default 50)")
    parser.add_argument("--episodes", type=int, default=0,
                        help="three-slot instances of at most 3 tasks, against episode enumeration (default 0)")
    parser.add_argument("--mid-episodes", type=int, default=0,
                        help="four-slot instances of up to 4 x 4 tasks, against the horizon bound (default 0)")
    parser.add_argument("--random-caches", action="store_true",
                        help="start every instance from a random cache that fits, not the generator's cold or warm one")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per solve (default 10)")
    args = parser.parse_args(argv)
    if min(args.tiny, args.mid, args.episodes, args.mid_episodes) < 0 or args.time_limit <= 0:
        parser.error("--tiny, --mid, --episodes and --mid-episodes must be >= 0 and --time-limit > 0")
    rng = random.Random(args.seed)
    caches = np.random.default_rng(args.seed) if args.random_caches else None  # the instances' draws stay the same
    counts = {"tiny": args.tiny, "mid": args.mid, "episodes": args.episodes, "mid-episodes": args.mid_episodes}
    results = [run(kind, count, rng, args.time_limit, caches) for kind, count in counts.items() if count]
    bad = sum(b for b, _ in results)
    print(f"{sum(n for _, n in results)} instances judged, {bad} with a mismatch")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
