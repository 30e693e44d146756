"""``tadp-bench solve``: any registered solver over slots 0..N-1 of an instance's trace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from benchmarks.cli.common import output_file, positive
from solvers import KEEP_RULES, REGISTRY, SolveResult, make_solver
from tadp.errors import TadpInputError
from tadp.instance import read_instance
from tadp.solution import write_solution


def add_parser(sub: Any, name: str) -> None:
    p = sub.add_parser(name, help="solve slots 0..N-1 of an instance with one solver",
                       description="Solve slots 0..N-1 in order, each from the cache the previous slot left, "
                       "and write a tadp-solution/1 episode file whose `claimed` fields hold objective, bound, "
                       "status and time per slot.")
    p.add_argument("instance", help="instance file (tadp-instance/1)")
    p.add_argument("--solver", required=True, choices=sorted(REGISTRY), help="registered solver")
    p.add_argument("--slots", type=positive(int), help="solve slots 0..N-1 (default: the whole trace)")
    p.add_argument("--time-limit", type=positive(float), default=60.0,
                   help="seconds per slot (default 60); for highs-horizon, for the whole horizon")
    p.add_argument("--seed", type=int, default=0, help="solver seed (default 0)")
    exact = p.add_argument_group("exact solvers (highs, cpsat, highs-horizon)")
    exact.add_argument("--mip-gap", type=float, help="relative MIP gap to stop at (default 1e-6)")
    exact.add_argument("--keep", choices=KEEP_RULES, help="keep rule of the per-slot policy (default used)")
    exact.add_argument("--mip-solver", help="any Pyomo MIP solver name for --solver highs (default highs)")
    exact.add_argument("--threads", type=positive(int), help="solver threads")
    learned = p.add_argument_group("learned solvers (td3, ddpg, td3-fit, ddpg-fit, neural)")
    learned.add_argument("--checkpoint", help="trained policy (tadp-bench train -o FILE); neural: default the "
                         "shipped checkpoint")
    learned.add_argument("--samples", type=positive(int), help="neural: candidates per slot, K (default 16)")
    learned.add_argument("--device", choices=("cpu", "cuda"), help="torch device for inference")
    p.add_argument("-o", "--output", required=True, help="solution file to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inst = read_instance(args.instance)
    if args.mip_gap is not None and not 0 <= args.mip_gap < 1:
        raise TadpInputError("argument", "--mip-gap", f"must lie in [0, 1), got {args.mip_gap}")
    if args.checkpoint is not None and not Path(args.checkpoint).is_file():
        raise TadpInputError("argument", "--checkpoint", f"no such file {args.checkpoint!r}")
    n = args.slots if args.slots is not None else inst.n_slots
    if n > inst.n_slots:
        raise TadpInputError("argument", "--slots", f"the instance has {inst.n_slots} slots, asked for {n}")
    output = output_file(args.output, "--output")
    options = {key: value for key, value in (
        ("mip_gap", args.mip_gap), ("keep", args.keep), ("mip_solver", args.mip_solver), ("threads", args.threads),
        ("checkpoint", args.checkpoint), ("device", args.device), ("samples", args.samples),
    ) if value is not None}
    solver = make_solver(args.solver, **options)
    solver.prepare(inst, seed=args.seed, progress=True)

    def report(slot: int, result: SolveResult) -> None:
        bound = "-" if result.bound is None else f"{result.bound:.6f}"
        print(f"slot {slot + 1}/{n}: score {result.score:.6f} bound {bound} status {result.status} "
              f"{result.time_s:.2f} s", file=sys.stderr)

    trace = solver.solve_trace(inst, n, time_limit=args.time_limit, seed=args.seed, on_slot=report)
    write_solution(trace.solution, output)
    if trace.bound is not None:  # a whole-episode answer: its score, bound and status
        print(f"wrote {args.output}: {n} slots, episode score {trace.score:.6f}, bound {trace.bound:.6f}, "
              f"status {trace.status}, {trace.time_s:.1f} s", file=sys.stderr)
        return 1 if trace.status == "error" else 0
    print(f"wrote {args.output}: {len(trace.slot_scores)} slots, mean score {trace.score:.6f}", file=sys.stderr)
    for line in trace.errors:
        print(line, file=sys.stderr)
    return 1 if trace.errors else 0
