"""The plan of the house (docs/architecture.md), held against the code: layers point one way, the
command line alone parses arguments, functions and modules stay short enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Each layer, and the layers it must never import or name.
FORBIDDEN = {"tadp": ("solvers", "benchmarks"), "solvers": ("benchmarks",)}
#: Functions allowed past the length limit: the TD3 training loop reads as Algorithm 1.
LONG_FUNCTIONS = {("solvers/learned/td3.py", "train")}
MAX_FUNCTION_LINES = 100
MAX_MODULE_LINES = 700


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_point_one_way(package: str) -> None:
    """tadp imports nothing of solvers or benchmarks, solvers nothing of benchmarks, not even lazily,
    and no string in them names such a module (a registry target or an importlib call would)."""
    for path in _modules(package):
        tree = ast.parse(path.read_text())
        upper = FORBIDDEN[package]
        bad = [m for m in _imported(tree) if m.split(".")[0] in upper]
        named = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
                 and any(node.value.startswith(f"{u}.") for u in upper)]
        assert not bad and not named, f"{path.relative_to(ROOT)} reaches up to {bad or named}"


def test_only_the_command_line_parses_arguments() -> None:
    """argparse appears in benchmarks/cli/ and in the stand-alone measurement scripts
    (``python -m benchmarks.bench_*``, ``benchmarks.td3_pendulum``) only."""
    for package in ("tadp", "solvers", "benchmarks"):
        for path in _modules(package):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(("benchmarks/cli/", "benchmarks/bench_")) or rel == "benchmarks/td3_pendulum.py":
                continue
            assert "argparse" not in _imported(ast.parse(path.read_text())), f"{rel} parses arguments"


def test_functions_and_modules_stay_short() -> None:
    for package in ("tadp", "solvers", "benchmarks"):
        for path in _modules(package):
            rel = path.relative_to(ROOT).as_posix()
            text = path.read_text()
            assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{rel}: {len(text.splitlines())} lines"
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (rel, node.name) not in LONG_FUNCTIONS:
                    length = node.end_lineno - node.lineno + 1
                    assert length <= MAX_FUNCTION_LINES, f"{rel}:{node.lineno} {node.name}: {length} lines"


#: The instance fields from which times are made: bands, spectral efficiencies and link rates.
RATE_FIELDS = ("gateway_band", "device_spectral_eff", "edge_band", "gateway_spectral_eff", "cloud_to_edge_rate",
               "edge_to_gateway_rate")
#: The modules allowed to read them: the physics module turns them into times; the instance holds and
#: validates them; the generator draws them.
RATE_READERS = {"tadp/physics.py", "tadp/instance.py", "tadp/generator.py"}


def test_only_physics_turns_rates_into_times() -> None:
    """No module outside :data:`RATE_READERS` reads a band, spectral-efficiency or rate field."""
    offenders = []
    for package in ("tadp", "solvers", "benchmarks"):
        for path in _modules(package):
            rel = path.relative_to(ROOT).as_posix()
            if rel in RATE_READERS:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in RATE_FIELDS:
                    offenders.append(f"{rel}:{node.lineno} .{node.attr}")
    assert not offenders, offenders
