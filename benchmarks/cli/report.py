"""``tadp-bench report RUN_DIR``: rebuild a run folder's tables and figures from its rows alone."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tadp.errors import TadpInputError


def add_parser(sub: Any, name: str) -> None:
    p = sub.add_parser(name, help="rebuild tables and figures of a run folder from its rows",
                       description="Rebuild every table (Markdown, LaTeX, CSV) and figure (PNG, PDF) of a run "
                       "folder from rows.csv, references.csv and curves/ alone.")
    p.add_argument("run_dir", help="a folder written by tadp-bench --sizes ...")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from benchmarks.report import write_report

    run_dir = Path(args.run_dir)
    if not (run_dir / "rows.csv").is_file():
        raise TadpInputError(str(run_dir), "rows.csv", "not a run folder (no rows.csv)")
    write_report(run_dir, echo=True)
    return 0
