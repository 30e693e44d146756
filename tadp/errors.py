"""Errors raised for bad input.

Every reader and every command turns a problem with user input into a
:class:`TadpInputError` that names the file, the field and what is wrong; the CLI
prints it as one line and exits with status 2.
"""

from __future__ import annotations


class TadpInputError(ValueError):
    """Bad input: a file, a field of it, or a command-line value.

    ``source`` is the file (or ``"argument"``), ``field`` a JSON-pointer-like path
    (``devices[3].model_size``), ``problem`` what is wrong with it.
    """

    def __init__(self, source: str | None, field: str | None, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        where = ": ".join(part for part in (source, field) if part)
        super().__init__(f"{where}: {problem}" if where else problem)
