"""The ``tadp-bench`` command line: parse, then call library functions.

``tadp-bench --sizes 2x5,10x35 ...`` (no subcommand) runs the benchmark; the
subcommands are listed in :data:`COMMANDS`, each module adding its own parser. Bad
input exits with status 2 and one line naming what is wrong, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from tadp import __version__
from tadp.errors import TadpInputError

#: Subcommand name -> module defining ``add_parser(subparsers)``; the parser sets ``func``.
COMMANDS = {
    "generate": "tadp.commands",
    "evaluate": "tadp.commands",
    "solve": "solvers.commands",
    "train": "solvers.train_command",
    "export": "solvers.commands",
    "report": "benchmarks.harness",
}
#: Module that defines the benchmark (the command without a subcommand).
BENCH_MODULE = "benchmarks.harness"


def positive(kind: type) -> Any:
    """An argparse ``type``: a number of ``kind`` (int or float) that is > 0."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that reports errors with the program name and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tadp-bench",
        description="Exact optima, learned policies and optimality gaps for the TADP problem "
        "(Zhang et al., IEEE TVT 2021). Without a command, `tadp-bench --sizes 2x5,10x35 [options]` "
        "runs the benchmark (`tadp-bench --sizes 2x5 --help` lists its options).",
    )
    parser.add_argument("--version", action="version", version=f"tadp-bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in COMMANDS.items():
        importlib.import_module(module).add_parser(sub, name)
    return parser


def _bench_available() -> bool:
    try:
        importlib.import_module(BENCH_MODULE)
    except ModuleNotFoundError:
        return False
    return True


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
            return int(args.func(args) or 0)
        if not first.startswith("-"):
            print(f"tadp-bench: error: unknown command {first!r} (known: {', '.join(COMMANDS)})", file=sys.stderr)
            return 2
        if not _bench_available():
            print("tadp-bench: error: the benchmark is not part of this build yet", file=sys.stderr)
            return 2
        return int(importlib.import_module(BENCH_MODULE).main(args_list) or 0)
    except TadpInputError as exc:
        print(f"tadp-bench: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        print("tadp-bench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, allow_nan=False))


if __name__ == "__main__":
    sys.exit(main())
