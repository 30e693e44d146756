"""Solvers for the TADP slot problem, one subpackage per family, all behind one interface.

- :mod:`solvers.exact`: the exact per-slot optimum (Pyomo + HiGHS by outer approximation, CP-SAT on
  a time grid, enumeration of tiny slots);
- :mod:`solvers.horizon`: the clairvoyant optimum of a whole trace, caches chained;
- :mod:`solvers.learned`: TD3 and DDPG (the paper's Algorithm 1), training and inference, and the ``neural``
  per-task policy trained on exact optima (:mod:`solvers.learned.neural`, docs/neural.md);
- :mod:`solvers.heuristics`: the greedy and the paper's Random scheme.

:data:`REGISTRY` is the one table of solvers: each name with its class, its kind, its action decoder,
whether it trains, and its place in reports. The harness, the report and the command line read it and
keep no list of their own. Classes are imported only when a solver is made, so an optional back end
that is missing fails with an install hint instead of breaking the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solvers.base import KEEP_RULES, STATUSES, Solver, SolveResult, apply_keep_rule, finish, solve_episode
from tadp.errors import TadpInputError

#: Decoders of solvers that bring their own (not an action decoder of :mod:`tadp.decoders`).
OWN_DECODERS = ("neural",)
#: Kinds of solvers: ``exact`` proves an optimum (or a bound), ``learned`` is trained, ``heuristic``
#: neither.
KINDS = ("exact", "learned", "heuristic")


@dataclass(frozen=True)
class SolverSpec:
    """One registered solver: what it is and how the harness and the report treat it."""

    name: str
    """Registry name, as given to ``--solver`` and ``--solvers``."""
    target: str
    """``module:Class`` implementing :class:`~solvers.base.Solver`."""
    kind: str
    """One of :data:`KINDS`."""
    decoder: str | None = None
    """The action decoder a policy's actions go through (``dcpu``, the paper's, or ``fit``; ``neural``: the
    neural solver's own exact-sizing decoder, :mod:`solvers.learned.neural.decoding`); None for solvers
    that decide without actions."""
    trains: bool = False
    """:meth:`~solvers.base.Solver.prepare` trains a policy: the harness gives it the training budget. A
    learned solver that loads a shipped checkpoint (``neural``) does not train in a benchmark run."""
    benchmark: bool = True
    """Run by ``tadp-bench --sizes ...`` unless ``--solvers`` says otherwise."""
    reference: bool = False
    """The exact per-slot solver whose optimum every gap is measured against (one solver only)."""
    display: int = 99
    """Rank in tables and figures (the exact solvers, the paper's learners, ours, then the baselines)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"solver {self.name}: unknown kind {self.kind!r}")


#: name -> spec, in the order the benchmark runs them (``display`` orders the reports).
REGISTRY: dict[str, SolverSpec] = {spec.name: spec for spec in (
    SolverSpec("highs", "solvers.exact.highs:PyomoSolver", "exact", reference=True, display=0),
    SolverSpec("cpsat", "solvers.exact.cpsat:CpSatSolver", "exact", display=1),
    SolverSpec("td3", "solvers.learned.actors:Td3Solver", "learned", decoder="dcpu", trains=True, display=2),
    SolverSpec("ddpg", "solvers.learned.actors:DdpgSolver", "learned", decoder="dcpu", trains=True, display=3),
    SolverSpec("random", "solvers.heuristics.random:RandomSolver", "heuristic", decoder="dcpu", display=8),
    SolverSpec("td3-fit", "solvers.learned.actors:Td3FitSolver", "learned", decoder="fit", trains=True, display=4),
    SolverSpec("ddpg-fit", "solvers.learned.actors:DdpgFitSolver", "learned", decoder="fit", trains=True, display=5),
    SolverSpec("neural", "solvers.learned.neural.solver:NeuralSolver", "learned", decoder="neural", display=6),
    SolverSpec("random-fit", "solvers.heuristics.random:RandomFitSolver", "heuristic", decoder="fit", display=9),
    SolverSpec("greedy", "solvers.heuristics.greedy:GreedySolver", "heuristic", display=7),
    SolverSpec("highs-horizon", "solvers.horizon.solver:HorizonSolver", "exact", benchmark=False, display=10),
)}


def benchmark_solvers() -> tuple[str, ...]:
    """The solvers ``tadp-bench --sizes ...`` runs by default, in display order."""
    return tuple(name for name, spec in REGISTRY.items() if spec.benchmark)


def reference_solver() -> str:
    """The exact per-slot solver every gap is measured against."""
    (name,) = (name for name, spec in REGISTRY.items() if spec.reference)
    return name


def display_rank(name: str) -> int:
    """Position of a solver in tables and figures (unknown names last)."""
    return REGISTRY[name].display if name in REGISTRY else len(REGISTRY)


def display_order(names: Any) -> list[str]:
    """``names`` (any iterable, duplicates dropped) sorted for tables and figures."""
    return sorted(dict.fromkeys(names), key=display_rank)


def spec_of(name: str) -> SolverSpec:
    """The spec of a registered solver; an unknown name is bad input."""
    if name not in REGISTRY:
        raise TadpInputError("argument", "--solver", f"unknown solver {name!r} (known: {', '.join(REGISTRY)})")
    return REGISTRY[name]


def make_solver(name: str, **options: Any) -> Solver:
    """Instantiate the solver registered as ``name`` with its options."""
    from solvers.base import load_solver_class

    spec = spec_of(name)
    try:
        cls = load_solver_class(spec.target)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("solvers", "tadp", "benchmarks"):
            raise  # our own module is missing: a bug, not an install problem
        raise TadpInputError("argument", "--solver", f"solver {name!r} needs {exc.name!r}: pip install {exc.name}") from None
    return cls(**options)


__all__ = [
    "KEEP_RULES", "KINDS", "OWN_DECODERS", "REGISTRY", "STATUSES", "SolveResult", "Solver", "SolverSpec", "apply_keep_rule",
    "benchmark_solvers", "display_order", "display_rank", "finish", "make_solver", "reference_solver", "solve_episode", "spec_of",
]
