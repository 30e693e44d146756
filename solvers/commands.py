"""``tadp-bench solve`` (any registered solver, slot by slot over a trace) and ``tadp-bench export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tadp.cli import positive
from tadp.errors import TadpInputError
from tadp.instance import read_instance
from tadp.solution import write_solution


def add_parser(sub: Any, name: str) -> None:
    if name == "solve":
        _add_solve(sub)
    elif name == "export":
        _add_export(sub)
    else:  # pragma: no cover - tadp.cli names only the two above
        raise ValueError(name)


# ---------------------------------------------------------------------- solve
def _add_solve(sub: Any) -> None:
    from solvers import KEEP_RULES, REGISTRY

    p = sub.add_parser("solve", help="solve slots 0..N-1 of an instance with one solver",
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
    learned = p.add_argument_group("learned solvers (td3, ddpg, td3-fit, ddpg-fit)")
    learned.add_argument("--checkpoint", help="trained policy (tadp-bench train -o FILE)")
    learned.add_argument("--device", choices=("cpu", "cuda"), help="torch device for inference")
    p.add_argument("-o", "--output", required=True, help="solution file to write")
    p.set_defaults(func=run_solve)


def run_solve(args: argparse.Namespace) -> int:
    from solvers import make_solver, solve_episode

    inst = read_instance(args.instance)
    if args.mip_gap is not None and not 0 <= args.mip_gap < 1:
        raise TadpInputError("argument", "--mip-gap", f"must lie in [0, 1), got {args.mip_gap}")
    if args.checkpoint is not None and not Path(args.checkpoint).is_file():
        raise TadpInputError("argument", "--checkpoint", f"no such file {args.checkpoint!r}")
    options = {key: value for key, value in (
        ("mip_gap", args.mip_gap), ("keep", args.keep), ("mip_solver", args.mip_solver), ("threads", args.threads),
        ("checkpoint", args.checkpoint), ("device", args.device),
    ) if value is not None}
    solver = make_solver(args.solver, **options)
    solver.prepare(inst, seed=args.seed, progress=True)
    n = args.slots if args.slots is not None else inst.n_slots
    if n > inst.n_slots:
        raise TadpInputError("argument", "--slots", f"the instance has {inst.n_slots} slots, asked for {n}")
    whole_episode = getattr(solver, "solve_horizon_solution", None)
    if whole_episode is not None:  # a solver whose answer is a whole episode (the clairvoyant optimum)
        solution, result = whole_episode(inst, n, time_limit=args.time_limit, seed=args.seed)
        write_solution(solution, args.output)
        print(f"wrote {args.output}: {n} slots, episode score {result.score:.6f}, bound {result.bound:.6f}, "
              f"status {result.status}, {result.time_s:.1f} s", file=sys.stderr)
        return 1 if result.status == "error" else 0

    def report(slot: int, result: Any) -> None:
        bound = "-" if result.bound is None else f"{result.bound:.6f}"
        print(f"slot {slot + 1}/{n}: score {result.score:.6f} bound {bound} status {result.status} "
              f"{result.time_s:.2f} s", file=sys.stderr)

    solution, results = solve_episode(solver, inst, n, time_limit=args.time_limit, seed=args.seed, on_slot=report)
    write_solution(solution, args.output)
    mean = sum(r.score for r in results) / len(results)
    errors = [k for k, r in enumerate(results) if r.status == "error"]
    print(f"wrote {args.output}: {len(results)} slots, mean score {mean:.6f}", file=sys.stderr)
    for k in errors:
        print(f"slot {k}: error: {results[k].info.get('error')}", file=sys.stderr)
    return 1 if errors else 0


# ---------------------------------------------------------------------- export
def _add_export(sub: Any) -> None:
    p = sub.add_parser("export", help="write one slot's MILP model as MPS or LP",
                       description="Write the Pyomo slot model (at the instance's initial cache) in MPS or LP "
                       "format, so any MIP solver can read it. docs/exact.md says what the file holds.")
    p.add_argument("instance", help="instance file (tadp-instance/1)")
    p.add_argument("--slot", type=int, default=0, help="slot index (default 0)")
    p.add_argument("--format", choices=("mps", "lp"), default="mps", help="file format (default mps)")
    p.add_argument("-o", "--output", required=True, help="model file to write")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from solvers.exact.model import export_model

    inst = read_instance(args.instance)
    if not 0 <= args.slot < inst.n_slots:
        raise TadpInputError("argument", "--slot", f"slot {args.slot} out of range 0..{inst.n_slots - 1}")
    export_model(inst, args.slot, args.output, args.format)
    print(f"wrote {args.output}: slot {args.slot} of {inst.name} ({args.format})", file=sys.stderr)
    return 0
