"""``tadp-bench --sizes 2x5,10x35 [options]``: the benchmark (no subcommand).

Parses the options, builds a validated configuration (:func:`benchmarks.harness.make_config`) and
runs it (:func:`benchmarks.harness.run_benchmark`). Rerunning the same command resumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchmarks.cli.common import Parser, add_where_group, comma_list, positive, writable_folder
from benchmarks.harness import (
    QUICK,
    BenchConfig,
    announce,
    default_run_dir,
    make_config,
    run_benchmark,
)


def build_parser() -> Parser:
    d = BenchConfig(sizes=())
    p = Parser(prog="tadp-bench", description="Run the benchmark: exact optima and every solver on the same "
               "instances, optimality gaps, times, tables and figures. Rerun the same command to resume.")
    what = p.add_argument_group("what to run")
    what.add_argument("--sizes", required=True, help="comma-separated sizes, e.g. 2x5,10x35 (GxK or K1-K2-...)")
    what.add_argument("--scenario", default=d.scenario, help="paper, scarce (default) or a scenario file")
    what.add_argument("--instances", type=positive(int), default=d.instances, help=f"instances per size ({d.instances})")
    what.add_argument("--slots", type=positive(int), default=d.slots, help=f"slots per trace ({d.slots})")
    what.add_argument("--solvers", default=",".join(d.solvers), help="comma-separated solver names (default: all)")
    what.add_argument("--seed", type=int, default=d.seed, help=f"base seed ({d.seed})")
    budget = p.add_argument_group("budgets")
    budget.add_argument("--time-limit", type=positive(float), default=d.time_limit,
                        help=f"seconds per exact slot solve ({d.time_limit:g})")
    budget.add_argument("--train-episodes", type=positive(int), default=d.train_episodes,
                        help=f"training episodes for td3 and ddpg ({d.train_episodes})")
    budget.add_argument("--train-steps", type=positive(int), default=d.train_steps,
                        help=f"slots per training episode ({d.train_steps})")
    budget.add_argument("--horizon-time-limit", type=float, default=d.horizon_time_limit,
                        help=f"seconds for the clairvoyant episode bound per instance, 0 skips it "
                        f"({d.horizon_time_limit:g})")
    budget.add_argument("--preset", choices=("default", "paper"), default=d.preset, help="TD3/DDPG network sizes")
    budget.add_argument("--quick", action="store_true",
                        help="tiny budgets for trying things out (2 slots, 2 s limits, 2 short training episodes)")
    add_where_group(p, "run folder (default results/<run-id>/); rerun into it to resume",
                    ": the cores of this machine, at most 2")
    return p


def run_bench(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    values = {
        "scenario": args.scenario, "instances": args.instances, "slots": args.slots, "time_limit": args.time_limit,
        "train_episodes": args.train_episodes, "train_steps": args.train_steps, "preset": args.preset,
        "seed": args.seed, "horizon_time_limit": args.horizon_time_limit,
    }
    if args.quick:  # quick budgets, unless an option was given explicitly
        for key, value in QUICK.items():
            flag = "--" + key.replace("_", "-")
            if not any(a == flag or a.startswith(flag + "=") for a in argv):
                values[key] = value
    cfg = make_config(comma_list(args.sizes), comma_list(args.solvers), **values)
    run_dir = writable_folder(Path(args.out) if args.out else default_run_dir(cfg), "--out")
    announce(cfg, run_dir)
    from tadp._malloc import tune_malloc

    tune_malloc()
    run_benchmark(cfg, run_dir, workers=1 if args.dask_scheduler else args.workers,
                  dask_scheduler=args.dask_scheduler, argv=argv, progress=not args.no_progress)
    return 0
