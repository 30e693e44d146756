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
