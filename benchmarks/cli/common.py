"""What every subcommand's parser shares: the parser class, argument types, output paths."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tadp.errors import TadpInputError


class Parser(argparse.ArgumentParser):
    """ArgumentParser that reports errors with the program name and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


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


def comma_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def writable_folder(path: str | os.PathLike[str], option: str) -> Path:
    """Create the folder ``path`` (and its parents) and check that files can be written in it, before
    any work starts; otherwise a one-line error naming the folder and the option."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise TadpInputError("argument", option, f"cannot write to folder {str(folder)!r} "
                             f"({exc.strerror or exc})") from None
    return folder


def output_file(path: str | os.PathLike[str], option: str) -> Path:
    """An output file whose folder exists (created if need be) and is writable, checked up front."""
    target = Path(path)
    if target.is_dir():
        raise TadpInputError("argument", option, f"{str(target)!r} is a folder, not a file")
    writable_folder(target.parent if str(target.parent) else Path("."), option)
    return target


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, allow_nan=False))


def add_where_group(parser: argparse.ArgumentParser, out_help: str, workers_help: str) -> Any:
    """The run-folder and worker options shared by the main job and ``paper``: ``--out``, ``--workers``,
    ``--dask-scheduler``, ``--no-progress``. Returns the group, for a command's own options."""
    from benchmarks.harness import DEFAULT_WORKERS

    where = parser.add_argument_group("where")
    where.add_argument("--out", help=out_help)
    where.add_argument("--workers", type=positive(int), default=DEFAULT_WORKERS,
                       help=f"local worker processes ({DEFAULT_WORKERS}{workers_help})")
    where.add_argument("--dask-scheduler", metavar="ADDRESS", help="send cells to this Dask scheduler")
    where.add_argument("--no-progress", action="store_true", help="no progress bars")
    return where
