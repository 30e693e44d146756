"""``tadp-bench export``: one slot's MILP model as MPS or LP, for any MIP solver."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from benchmarks.cli.common import output_file
from tadp.errors import TadpInputError
from tadp.instance import read_instance


def add_parser(sub: Any, name: str) -> None:
    p = sub.add_parser(name, help="write one slot's MILP model as MPS or LP",
                       description="Write the Pyomo slot model (at the instance's initial cache) in MPS or LP "
                       "format, so any MIP solver can read it. docs/exact.md says what the file holds.")
    p.add_argument("instance", help="instance file (tadp-instance/1)")
    p.add_argument("--slot", type=int, default=0, help="slot index (default 0)")
    p.add_argument("--format", choices=("mps", "lp"), default="mps", help="file format (default mps)")
    p.add_argument("-o", "--output", required=True, help="model file to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from solvers.exact.model import export_model

    inst = read_instance(args.instance)
    if not 0 <= args.slot < inst.n_slots:
        raise TadpInputError("argument", "--slot", f"slot {args.slot} out of range 0..{inst.n_slots - 1}")
    output = output_file(args.output, "--output")
    export_model(inst, args.slot, output, args.format)
    print(f"wrote {args.output}: slot {args.slot} of {inst.name} ({args.format})", file=sys.stderr)
    return 0
