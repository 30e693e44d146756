"""``tadp-bench paper FIGURE... [options]``: the paper's figures and claims, the optimum beside TD3.

Parses the options, builds a validated configuration (:func:`benchmarks.paper.run.make_paper_config`) and
runs it (:func:`benchmarks.paper.run.run_paper`). Rerunning the same command resumes (docs/paper.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchmarks.cli.common import add_where_group, comma_list, positive, writable_folder
from benchmarks.harness import DEFAULT_WORKERS
from tadp.errors import TadpInputError


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in comma_list(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"expected seeds >= 0, got {text!r}")
    return seeds


def add_parser(sub: Any, name: str) -> None:
    from benchmarks.paper.run import PaperConfig
    from benchmarks.paper.sweeps import FIGURES

    d = PaperConfig(figures=())
    p = sub.add_parser(name, help="reproduce the paper's Figs. 4-8 and claims with the optimum beside TD3",
                       description="Run the paper's experiments (Section V): every point of a sweep with td3, ddpg "
                       "and random retrained at that point, the exact per-slot optimum, the horizon bound, the "
                       "greedy and the fit learners; figures (PNG, PDF), DIR/<figure>/points.csv and, with "
                       "claims, DIR/claims.md/.tex. Rerun the same command to resume.")
    p.add_argument("figure_names", nargs="+", metavar="FIGURE", help=f"one or more of {', '.join(FIGURES)}, all")
    what = p.add_argument_group("what to run")
    what.add_argument("--size", help=f"GxK of every point ({d.size}, the paper's); fig8 varies G")
    what.add_argument("--points", type=positive(int), help=f"values per sweep ({d.points})")
    what.add_argument("--seeds", type=_seeds,
                      help=f"training seeds, comma-separated ({','.join(map(str, d.seeds))})")
    what.add_argument("--instances", type=positive(int),
                      help=f"instances per point ({d.instances})")
    what.add_argument("--slots", type=positive(int), help=f"slots per trace ({d.slots})")
    what.add_argument("--solvers", default=",".join(d.solvers), help="comma-separated solvers (default: "
                      f"{','.join(d.solvers)})")
    budget = p.add_argument_group("budgets")
    budget.add_argument("--episodes", type=positive(int),
                        help=f"training episodes per learner and point ({d.episodes}, the paper's)")
    budget.add_argument("--steps", type=positive(int), help=f"slots per training episode ({d.steps})")
    budget.add_argument("--preset", choices=("default", "paper"),
                        help="network sizes of the learners (default: small CPU; paper: Section V-A, a GPU)")
    budget.add_argument("--device", help="torch device of the learners (cpu, the default; cuda on a GPU)")
    budget.add_argument("--time-limit", type=positive(float),
                        help=f"seconds per exact slot solve ({d.time_limit:g})")
    budget.add_argument("--horizon-time-limit", type=float,
                        help=f"seconds for the horizon bound per trace, 0 skips it ({d.horizon_time_limit:g})")
    budget.add_argument("--quick", action="store_true", help="tiny size and budgets: any single figure in under "
                        "a minute")
    where = add_where_group(p, "run folder (default results/paper-<size>-<preset>/); rerun into it to resume", "")
    where.add_argument("--draw-only", action="store_true", help="run no cell: redraw points.csv, the figures and "
                       "the claims from the cells already in --out (a partial run shows the points that ran)")
    p.set_defaults(func=run)


#: Options whose value goes to :class:`~benchmarks.paper.run.PaperConfig` (argparse dest = field name).
CONFIG_OPTIONS = ("size", "points", "seeds", "instances", "slots", "episodes", "steps", "preset", "time_limit",
                  "horizon_time_limit", "device")


def _values(args: argparse.Namespace) -> dict[str, Any]:
    """The options given; with ``--quick``, the quick budgets for those not given; the rest are the
    configuration's defaults."""
    from benchmarks.paper.run import QUICK

    values = {"solvers": tuple(comma_list(args.solvers))}
    for key in CONFIG_OPTIONS:
        given = getattr(args, key)
        if given is not None:
            values[key] = given
        elif args.quick and key in QUICK:
            values[key] = QUICK[key]
    return values


def run(args: argparse.Namespace) -> int:
    import sys

    from benchmarks.paper.run import check_drawable, default_run_dir, make_paper_config, run_paper

    cfg = make_paper_config(args.figure_names, **_values(args))
    run_dir = writable_folder(Path(args.out) if args.out else default_run_dir(cfg), "--out")
    if args.draw_only:
        check_drawable(run_dir)
    print(f"tadp-bench paper: {', '.join(cfg.figures)} at {cfg.size}, {cfg.points} points per sweep, "
          f"{cfg.episodes} episodes, seeds {','.join(map(str, cfg.seeds))}; run folder {run_dir}", file=sys.stderr)
    if args.dask_scheduler and args.workers != DEFAULT_WORKERS:
        raise TadpInputError("argument", "--workers", "give either --workers or --dask-scheduler")
    run_paper(cfg, run_dir, workers=1 if args.dask_scheduler else args.workers, dask_scheduler=args.dask_scheduler,
              argv=getattr(args, "argv", [])[1:], progress=not args.no_progress, draw_only=args.draw_only)
    return 0
