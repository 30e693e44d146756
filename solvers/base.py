"""The one solver interface (docs/model.md, sections 6-7, STYLE "one solver interface").

Every solver is a class registered by name in :data:`solvers.REGISTRY` and reached the
same way::

    solver = make_solver("highs", **options)
    solver.prepare(instance, seed=0)          # training for learned solvers; no-op for exact ones
    result = solver.solve(instance, slot, cache, time_limit=60.0, seed=0)

``result.decision`` has always been re-scored by the evaluator (:func:`finish`); a
solver whose own objective disagrees with the evaluator's score returns status
``error``, never a silently wrong number.
"""

from __future__ import annotations

import importlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tadp.decision import SITE_EDGE, SITE_GATEWAY, Decision
from tadp.errors import TadpInputError
from tadp.evaluator import CLAIM_TOL, SlotOutcome, evaluate_slot
from tadp.instance import Cache, Instance
from tadp.solution import SlotEntry, Solution

#: Statuses a result may carry. ``optimal``: proven (relative gap <= 1e-6, docs/model.md, section 7);
#: ``time_limit``: stopped with an incumbent (maybe empty) and a bound; ``feasible``: a
#: heuristic or learned decision (no optimality claim); ``infeasible``; ``error``.
STATUSES = ("optimal", "time_limit", "feasible", "infeasible", "error")
#: What a result's ``bound`` bounds: ``opt`` a valid upper bound on the slot optimum;
#: ``restricted`` only on a restricted (e.g. discretised) model, never to be reported as
#: a bound on OPT.
BOUND_KINDS = ("opt", "restricted")
KEEP_RULES = ("used", "all", "none")


@dataclass(eq=False)
class SolveResult:
    """A solver's answer for one slot, re-scored by the evaluator."""

    decision: Decision
    status: str
    objective: float | None  # the solver's own objective value (None when it has none)
    bound: float | None  # best bound, see bound_kind
    bound_kind: str | None
    time_s: float  # wall seconds for this slot decision
    outcome: SlotOutcome  # the evaluator's verdict on ``decision``
    info: dict[str, Any] = field(default_factory=dict)  # solver-specific: nodes, mip_gap, cuts, ...

    @property
    def score(self) -> float:
        return self.outcome.score

    def claimed(self) -> dict[str, Any]:
        """The ``claimed`` record of a solution-file entry."""
        out: dict[str, Any] = {"objective": self.objective, "status": self.status, "time_s": self.time_s}
        if self.bound is not None and self.bound_kind == "opt":
            out["bound"] = self.bound
        elif self.bound is not None:
            out["restricted_bound"] = self.bound
        return out


def apply_keep_rule(decision: Decision, rule: str) -> Decision:
    """Set keep flags by rule (docs/model.md, section 6): ``used`` keeps the model each served task
    ran with at the site where it ran; ``all`` keeps everything resident; ``none`` evicts all."""
    if rule not in KEEP_RULES:
        raise TadpInputError("argument", "--keep", f"unknown keep rule {rule!r} (known: {', '.join(KEEP_RULES)})")
    d = decision.copy()
    n = d.n_devices
    if rule == "all":
        d.keep_gateway = np.ones((n, 2), bool)
        d.keep_edge = np.ones((n, 2), bool)
    else:
        d.keep_gateway = np.zeros((n, 2), bool)
        d.keep_edge = np.zeros((n, 2), bool)
        if rule == "used":
            rows = np.arange(n)
            d.keep_gateway[rows, d.level] = d.site == SITE_GATEWAY
            d.keep_edge[rows, d.level] = d.site == SITE_EDGE
    return d


def finish(
    inst: Instance,
    slot: int,
    cache: Cache,
    decision: Decision,
    *,
    status: str,
    objective: float | None,
    bound: float | None,
    bound_kind: str | None,
    started: float,
    info: dict[str, Any] | None = None,
) -> SolveResult:
    """Re-score ``decision`` with the evaluator and build the result.

    A decision the evaluator finds infeasible, or an objective it contradicts by more than
    1e-6, turns the status into ``error`` (with the reason in ``info["error"]``).
    """
    elapsed = time.perf_counter() - started
    outcome = evaluate_slot(inst, slot, cache, decision)
    info = dict(info or {})
    if not outcome.feasible:
        info["error"] = "evaluator rejects the decision: " + "; ".join(map(str, outcome.violations))
        status = "error"
    elif objective is not None and abs(objective - outcome.score) > CLAIM_TOL:
        info["error"] = f"solver objective {objective:.9g} != evaluator score {outcome.score:.9g}"
        status = "error"
    elif bound is not None and bound_kind == "opt" and bound < outcome.score - CLAIM_TOL:
        info["error"] = f"bound {bound:.9g} below the evaluator score {outcome.score:.9g}"
        status = "error"
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    return SolveResult(decision, status, objective, bound, bound_kind, elapsed, outcome, info)


class Solver(ABC):
    """Base class of every registered solver."""

    #: registry name, e.g. "highs" (its kind, decoder and display order are in :data:`solvers.REGISTRY`)
    name: str = ""

    def __init__(self, **options: Any) -> None:
        self.options = options

    @property
    def decoder(self) -> str | None:
        """The action decoder this solver's policy goes through (its entry in :data:`solvers.REGISTRY`)."""
        from solvers import REGISTRY

        spec = REGISTRY.get(self.name)
        return spec.decoder if spec is not None else None

    def prepare(self, inst: Instance, *, seed: int = 0, progress: bool = False) -> dict[str, Any]:
        """Get ready to solve slots of ``inst`` (train, load a checkpoint...). Returns facts to
        record (e.g. training seconds). Exact and heuristic solvers need nothing."""
        return {}

    @abstractmethod
    def solve(self, inst: Instance, slot: int, cache: Cache, *, time_limit: float, seed: int = 0) -> SolveResult:
        """Decide slot ``slot`` of ``inst`` from start cache ``cache``."""

    def describe(self) -> dict[str, Any]:
        """Provenance for solution files and result rows: name and options."""
        return {"name": self.name, "options": dict(self.options)}

    def solve_trace(self, inst: Instance, n_slots: int, *, time_limit: float, seed: int = 0,
                    on_slot: Callable[[int, SolveResult], None] | None = None) -> TraceResult:
        """Slots 0..n_slots-1 of ``inst`` as an episode (the cache chained by C7): by default one
        :meth:`solve` per slot (``time_limit`` each), :func:`solve_episode`. A solver whose answer is a
        whole episode (the clairvoyant horizon optimum) overrides this."""
        started = time.perf_counter()
        solution, results = solve_episode(self, inst, n_slots, time_limit=time_limit, seed=seed, on_slot=on_slot)
        errors = [f"slot {k}: error: {r.info.get('error')}" for k, r in enumerate(results) if r.status == "error"]
        return TraceResult(solution, [r.score for r in results], "error" if errors else "feasible", None,
                           time.perf_counter() - started, errors)


@dataclass(eq=False)
class TraceResult:
    """A solver's answer for slots 0..n-1 of a trace, re-scored by the evaluator."""

    solution: Solution  # an episode-mode tadp-solution/1
    slot_scores: list[float]  # the evaluator's score of every slot
    status: str  # the episode's status (a whole-episode solver's), else "error" if any slot erred, else "feasible"
    bound: float | None  # a valid bound on the mean slot score, from a whole-episode solver; None otherwise
    time_s: float  # wall seconds, all slots
    errors: list[str] = field(default_factory=list)  # one line per slot (or episode) the evaluator contradicts

    @property
    def score(self) -> float:
        """The episode score: the mean slot score."""
        return sum(self.slot_scores) / len(self.slot_scores) if self.slot_scores else 0.0


def load_solver_class(path: str) -> type[Solver]:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def solve_episode(
    solver: Solver,
    inst: Instance,
    n_slots: int | None = None,
    *,
    time_limit: float,
    seed: int = 0,
    on_slot: Callable[[int, SolveResult], None] | None = None,
) -> tuple[Solution, list[SolveResult]]:
    """Solve slots 0..n-1 in order, each from the cache the previous decision left (C7)."""
    n = inst.n_slots if n_slots is None else n_slots
    if not 1 <= n <= inst.n_slots:
        raise TadpInputError("argument", "--slots", f"must lie in 1..{inst.n_slots}, got {n}")
    cache = inst.initial_cache
    entries, results = [], []
    for slot in range(n):
        result = solver.solve(inst, slot, cache, time_limit=time_limit, seed=seed)
        entries.append(SlotEntry(slot=slot, decision=result.decision, claimed=result.claimed()))
        results.append(result)
        if on_slot is not None:
            on_slot(slot, result)
        assert result.outcome.next_cache is not None
        cache = result.outcome.next_cache
    return Solution(instance=inst.name, solver=solver.describe(), mode="episode", slots=entries), results
