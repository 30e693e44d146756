"""``tadp-bench evaluate``: re-score a solution file against its instance."""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks.cli.common import print_json
from tadp.instance import read_instance
from tadp.solution import all_hold, read_solution, report_json, report_text, score_solution


def add_parser(sub: Any, name: str) -> None:
    p = sub.add_parser(name, help="re-score a solution file against its instance",
                       description="Re-score every slot of a tadp-solution/1 file and check its claims. "
                       "Exit status 0: every slot feasible and every claim holds; 1: otherwise; 2: bad input.")
    p.add_argument("instance", help="instance file (tadp-instance/1)")
    p.add_argument("solution", help="solution file (tadp-solution/1)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inst = read_instance(args.instance)
    sol = read_solution(args.solution, inst)
    scored = score_solution(inst, sol)
    if args.json:
        print_json(report_json(scored))
    else:
        print(report_text(inst, sol, scored))
    return 0 if all_hold(scored) else 1
