"""The ``tadp-bench`` command line: the one place where arguments are parsed.

``tadp-bench --sizes 2x5,10x35 ...`` (no subcommand) runs the benchmark (:mod:`benchmarks.cli.bench`);
the subcommands are listed in :data:`COMMANDS`, one module each, every module adding its own
parser and calling library functions of :mod:`tadp`, :mod:`solvers` and :mod:`benchmarks`. No
logic lives only here. Bad input exits with status 2 and one line naming what is wrong, never a
traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from benchmarks.cli.common import Parser
from tadp import __version__
from tadp.errors import TadpInputError

#: Subcommand name -> module defining ``add_parser(subparsers)``; the parser sets ``func``.
COMMANDS = {
    "generate": "benchmarks.cli.generate",
    "evaluate": "benchmarks.cli.evaluate",
    "solve": "benchmarks.cli.solve",
    "train": "benchmarks.cli.train",
    "export": "benchmarks.cli.export",
    "report": "benchmarks.cli.report",
    "paper": "benchmarks.cli.paper",
}


def build_parser() -> Parser:
    parser = Parser(
        prog="tadp-bench",
        description="Exact optima, learned policies and optimality gaps for the TADP problem "
        "(Zhang et al., IEEE TVT 2021). Without a command, `tadp-bench --sizes 2x5,10x35 [options]` "
        "runs the benchmark (`tadp-bench --sizes 2x5 --help` lists its options).",
    )
    parser.add_argument("--version", action="version", version=f"tadp-bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, module in COMMANDS.items():
        importlib.import_module(module).add_parser(sub, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 a check failed, 2 bad input)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        first = args_list[0] if args_list else "--help"
        if first in COMMANDS or first in ("-h", "--help", "--version"):
            parser = build_parser()
            args = parser.parse_args(args_list)
            if args.command is None:
                parser.print_help()
                return 0
            args.argv = args_list  # the command line as given, for manifests
            return int(args.func(args) or 0)
        if not first.startswith("-"):
            print(f"tadp-bench: error: unknown command {first!r} (known: {', '.join(COMMANDS)})", file=sys.stderr)
            return 2
        from benchmarks.cli.bench import run_bench

        return int(run_bench(args_list) or 0)
    except TadpInputError as exc:
        print(f"tadp-bench: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file or folder that cannot be read or written
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"tadp-bench: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        print("tadp-bench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
