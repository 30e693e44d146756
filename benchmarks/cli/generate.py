"""``tadp-bench generate``: draw an instance file (tadp-instance/1)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from benchmarks.cli.common import output_file
from tadp.errors import TadpInputError
from tadp.generator import RESOURCE_KEYS, generate_instance, parse_size, scenario_options
from tadp.instance import write_instance


def add_parser(sub: Any, name: str) -> None:
    p = sub.add_parser(name, help="draw an instance file (tadp-instance/1)",
                       description="Draw a TADP instance with the paper's defaults (docs/model.md, section 8).")
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
    p.set_defaults(func=run)


def _overrides(items: list[str]) -> dict[str, float]:
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


def run(args: argparse.Namespace) -> int:
    counts = parse_size(args.size, field_name="--size") if args.size else parse_size(args.devices, field_name="--devices")
    opts = scenario_options(args.scenario, resource_scale=args.resource_scale,
                            density_scaling=False if args.no_density_scaling else None,
                            warm_cache=True if args.warm_cache else None, overrides=_overrides(args.set))
    output = output_file(args.output, "--output")
    inst = generate_instance(counts, seed=args.seed, slots=args.slots, options=opts)
    write_instance(inst, output)
    print(f"wrote {args.output}: {inst.name} ({inst.n_gateways} gateways, {inst.n_devices} devices, "
          f"{inst.n_slots} slots)", file=sys.stderr)
    return 0
