"""``tadp-bench generate`` and ``tadp-bench evaluate``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from tadp.errors import TadpInputError
from tadp.generator import RESOURCE_KEYS, generate_instance, load_scenario, parse_size, validate_options
from tadp.instance import read_instance, write_instance
from tadp.solution import read_solution, report_json, score_solution


def add_parser(sub: Any, name: str) -> None:
    if name == "generate":
        _add_generate(sub)
    elif name == "evaluate":
        _add_evaluate(sub)
    else:  # pragma: no cover - the table in tadp.cli names only the two above
        raise ValueError(name)


# ---------------------------------------------------------------------- generate
def _add_generate(sub: Any) -> None:
    p = sub.add_parser("generate", help="draw an instance file (tadp-instance/1)",
                       description="Draw a TADP instance with the paper's defaults (spec section 8).")
    size = p.add_argument_group("size")
    which = size.add_mutually_exclusive_group(required=True)
    which.add_argument("--size", help="GxK: G gateways with K devices each (e.g. 2x5, 10x35)")
    which.add_argument("--devices", help="devices per gateway, comma-separated (uneven gateways, e.g. 3,5,2)")
    draw = p.add_argument_group("drawing")
    draw.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    draw.add_argument("--slots", type=int, default=50, help="slots in the task trace (default 50)")
    scen = p.add_argument_group("scenario [D8, D9]")
    scen.add_argument("--scenario", default="scarce",
                      help="paper, scarce (default) or a TOML/JSON file of generator options")
    scen.add_argument("--resource-scale", type=float, help="scale on the six pooled resources (overrides the scenario's)")
    scen.add_argument("--no-density-scaling", action="store_true",
                      help="use the paper's absolute resources whatever the size [D8]")
    scen.add_argument("--warm-cache", action="store_true", help="start from a random warm cache instead of cold")
    scen.add_argument("--set", action="append", default=[], metavar="RESOURCE=VALUE",
                      help=f"absolute SI value for one resource ({', '.join(RESOURCE_KEYS)}); repeatable")
    p.add_argument("-o", "--output", required=True, help="instance file to write")
    p.set_defaults(func=run_generate)


def _parse_overrides(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in RESOURCE_KEYS:
            raise TadpInputError("argument", "--set", f"{item!r}: expected RESOURCE=VALUE with RESOURCE in "
                                 f"{', '.join(RESOURCE_KEYS)}")
        try:
            out[key] = float(value)
        except ValueError:
            raise TadpInputError("argument", "--set", f"{item!r}: {value!r} is not a number") from None
    return out


def run_generate(args: argparse.Namespace) -> int:
    counts = parse_size(args.size, field_name="--size") if args.size else parse_size(args.devices, field_name="--devices")
    opts = load_scenario(args.scenario)
    changes: dict[str, Any] = {}
    if args.resource_scale is not None:
        changes["resource_scale"] = args.resource_scale
    if args.no_density_scaling:
        changes["density_scaling"] = False
    if args.warm_cache:
        changes["warm_cache"] = True
    if args.set:
        changes["overrides"] = {**opts.overrides, **_parse_overrides(args.set)}
    opts = dataclasses.replace(opts, **changes)
    validate_options(opts)
    inst = generate_instance(counts, seed=args.seed, slots=args.slots, options=opts)
    write_instance(inst, args.output)
    print(f"wrote {args.output}: {inst.name} ({inst.n_gateways} gateways, {inst.n_devices} devices, "
          f"{inst.n_slots} slots)", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- evaluate
def _add_evaluate(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="re-score a solution file against its instance",
                       description="Re-score every slot of a tadp-solution/1 file and check its claims. "
                       "Exit status 0: every slot feasible and every claim holds; 1: otherwise; 2: bad input.")
    p.add_argument("instance", help="instance file (tadp-instance/1)")
    p.add_argument("solution", help="solution file (tadp-solution/1)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    inst = read_instance(args.instance)
    sol = read_solution(args.solution, inst)
    scored = score_solution(inst, sol)
    report = report_json(scored)
    if args.json:
        from tadp.cli import print_json

        print_json(report)
    else:
        solver = sol.solver.get("name", "?") if isinstance(sol.solver, dict) else "?"
        print(f"instance {inst.name}  solver {solver}  mode {sol.mode}  slots {len(scored)}")
        print(f"{'slot':>5} {'score':>10} {'completion':>10} {'feasible':>8} {'claimed':>10} {'claim':>6}")
        for s in scored:
            claimed = (s.entry.claimed or {}).get("objective")
            claimed_txt = f"{claimed:.6f}" if isinstance(claimed, (int, float)) else "-"
            print(f"{s.entry.slot:>5} {s.outcome.score:>10.6f} {s.outcome.completion:>10.3f} "
                  f"{'yes' if s.outcome.feasible else 'NO':>8} {claimed_txt:>10} {'ok' if s.claim_ok else 'FAIL':>6}")
            for v in s.outcome.violations:
                print(f"      violation: {v}")
            for problem in s.claim_problems:
                print(f"      claim: {problem}")
        print(f"mean score {report['score']:.6f}")
    bad = any(not s.outcome.feasible or not s.claim_ok for s in scored)
    return 1 if bad else 0
