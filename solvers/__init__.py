"""Solvers for the TADP slot problem, all behind one interface (:mod:`solvers.base`).

:data:`REGISTRY` maps each name to ``module:Class``; modules are imported only when a
solver is made, so an optional back end that is missing fails with an install hint
instead of breaking the others.
"""

from __future__ import annotations

from typing import Any

from solvers.base import KEEP_RULES, STATUSES, Solver, SolveResult, apply_keep_rule, finish, solve_episode
from tadp.errors import TadpInputError

#: name -> "module:Class". The harness and the CLI reach every solver through this table.
REGISTRY: dict[str, str] = {
    "highs": "solvers.exact_pyomo:PyomoSolver",
    "cpsat": "solvers.exact_cpsat:CpSatSolver",
    "highs-horizon": "solvers.exact_horizon:HorizonSolver",
    "td3": "solvers.learned:Td3Solver",
    "ddpg": "solvers.learned:DdpgSolver",
    "random": "solvers.learned:RandomSolver",
    "td3-fit": "solvers.learned:Td3FitSolver",
    "ddpg-fit": "solvers.learned:DdpgFitSolver",
    "random-fit": "solvers.learned:RandomFitSolver",
    "greedy": "solvers.greedy:GreedySolver",
}


def make_solver(name: str, **options: Any) -> Solver:
    """Instantiate the solver registered as ``name`` with its options."""
    from solvers.base import load_solver_class

    if name not in REGISTRY:
        raise TadpInputError("argument", "--solver", f"unknown solver {name!r} (known: {', '.join(REGISTRY)})")
    try:
        cls = load_solver_class(REGISTRY[name])
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("solvers", "tadp", "benchmarks"):
            raise  # our own module is missing: a bug, not an install problem
        raise TadpInputError("argument", "--solver", f"solver {name!r} needs {exc.name!r}: pip install {exc.name}") from None
    return cls(**options)


__all__ = [
    "KEEP_RULES", "REGISTRY", "STATUSES", "SolveResult", "Solver", "apply_keep_rule", "finish", "make_solver",
    "solve_episode",
]
