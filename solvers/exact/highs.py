"""The exact per-slot solver: outer approximation on the Pyomo MILP, HiGHS by default (docs/exact.md, section 3).

The model (:mod:`solvers.exact.model`) is a MILP relaxation of the slot problem: binaries per option,
the linear constraints C2, C3, C6, and C1 + C4 + C5 as finitely many resource cuts.
:class:`PyomoSolver` closes the gap by outer approximation (OA):

1. tighten the LP relaxation with cuts at the prices that separate its points (a few rounds);
2. solve the MILP; judge each incumbent assignment with the oracle: a feasible one becomes a true
   incumbent, with shares recovered exactly; an infeasible one is cut off by the cut at the
   oracle's prices (its left side is the assignment's dual value, > 1); one that comes back
   although cut is excluded by a no-good cut (it is proven infeasible);
3. repeat until the MILP's optimum is a true incumbent (proven optimal within ``mip_gap``) or the
   time runs out (best true incumbent, possibly serving nobody, with the best dual bound).

Knife-edge assignments the oracle cannot certify either way (rho* within ~1e-9 of 1) are excluded
by a no-good cut, and their value is kept in the reported bound so that it stays valid.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.base import KEEP_RULES, Solver, SolveResult, apply_keep_rule, finish
from solvers.exact.backends import Backend, make_backend
from solvers.exact.model import (
    FORMULATIONS,
    add_tangent_cuts,
    assignment_cuts,
    build_model,
    tighten_relaxation,
    violated_points,
)
from solvers.exact.oa import Incumbent, OaRounds, choice_vector, no_good, relative_gap
from solvers.exact.options import SlotOptions, slot_options, trivial_bound
from solvers.exact.oracle import FEASIBLE, INFEASIBLE, UNCERTAIN, min_max_load, schedule_decision
from solvers.exact.search import solve_slot_direct
from tadp.decision import Decision
from tadp.errors import TadpInputError
from tadp.instance import Cache, Instance


# ============================================================================ outer approximation
@dataclass(eq=False)
class SlotSolution:
    """What :func:`solve_slot` returns."""

    decision: Decision  # without keep flags (the caller applies its keep rule, C7)
    status: str  # "optimal" (relative gap <= mip_gap), "time_limit" or "error"
    objective: float  # the slot score J of the decision, as the solver computes it
    bound: float  # valid upper bound on the slot optimum
    info: dict[str, Any]


def solve_slot(
    inst: Instance,
    slot: int,
    cache: Cache,
    *,
    time_limit: float,
    mip_solver: str = "highs",
    mip_gap: float = 1e-6,
    threads: int | None = None,
    seed: int = 0,
    formulation: str = "projected",
    started: float | None = None,
) -> SlotSolution:
    """Outer approximation for one slot (module doc): the best true incumbent's decision, without keep
    flags, with its status, objective and a valid upper bound."""
    started = time.perf_counter() if started is None else started
    deadline = started + time_limit
    opts = slot_options(inst, slot, cache)
    info: dict[str, Any] = {"options": opts.n_options, "dropped_options": opts.dropped, "mip_solver": mip_solver,
                            "formulation": formulation}
    bound = trivial_bound(opts)
    if opts.n_options == 0:
        return SlotSolution(Decision.drop_all(opts.n_tasks), "optimal", 0.0, 0.0, info)
    if time.perf_counter() >= deadline:
        return SlotSolution(Decision.drop_all(opts.n_tasks), "time_limit", 0.0, bound, info)

    model = build_model(inst, slot, cache, options=opts, formulation=formulation)
    backend = make_backend(model, mip_solver, threads, seed)
    info["build_s"] = time.perf_counter() - started

    # ---- 1. tighten the LP relaxation with cuts at its own points (Kelley's method)
    root = tighten_relaxation(model, backend, deadline)
    if root.bound is not None:
        bound = min(bound, root.bound)
    info.update(root_rounds=root.rounds, root_bound=root.bound, root_s=time.perf_counter() - started)

    # ---- 2. MILP rounds of outer approximation
    search = _SlotSearch(model, backend, OaRounds(mip_gap), bound)
    while time.perf_counter() < deadline:
        if search.round(deadline, info):
            break
    return search.solution(info)


@dataclass(eq=False)
class _SlotSearch:
    """The MILP rounds of :func:`solve_slot`: the model and its back end, the best true incumbent, the
    least MILP bound, and every assignment judged so far."""

    model: Any
    backend: Backend
    oa: OaRounds
    bound: float  # least bound met (the trivial one, the LP's, the MILPs')
    best: Incumbent = field(default_factory=lambda: Incumbent(0.0))
    seen: dict[bytes, str] = field(default_factory=dict)  # assignment -> the oracle's verdict
    uncertain_values: list[float] = field(default_factory=list)  # values of knife-edge assignments excluded

    @property
    def opts(self) -> SlotOptions:
        return self.model.slot_options

    def upper(self) -> float:
        """A valid bound on the slot optimum: the least MILP bound, raised to the incumbent and to the values
        of the knife-edge assignments excluded."""
        return max([self.bound, self.best.value] + self.uncertain_values)

    def round(self, deadline: float, info: dict[str, Any]) -> bool:
        """One MILP round: solve (the best true incumbent as MIP start), judge its solutions, add the cuts;
        True when the loop ends (:meth:`solvers.exact.oa.OaRounds.finished`)."""
        if self.best.certificates:
            self.backend.warm_start(_mip_start(self.model, self.best))
        res = self.backend.solve(deadline - time.perf_counter(), self.oa.solver_gap)
        self.oa.count(res)
        if res.status in ("optimal", "time_limit") and res.bound is not None and math.isfinite(res.bound):
            self.bound = min(self.bound, res.bound)
        error = self.oa.failed(res)
        if error is not None:
            info["error"] = error
            return True
        final = choice_vector(self.model, res.values) if res.values is not None else None
        candidates = ([final] if final is not None else []) + res.incumbents
        final_ok = False
        for k, z in enumerate(candidates):
            verdict = self._judge(np.flatnonzero(z > 0.5), final=k == 0)
            if k == 0:
                final_ok = verdict == FEASIBLE
        if self.model.formulation == "extended" and res.values is not None:
            new = add_tangent_cuts(self.model, violated_points(self.model, res.values))
            self.backend.add(new)
            self.oa.cuts_added += len(new)
        return self.oa.finished(res, final_ok, self.upper(), self.best.value)

    def _judge(self, chosen: np.ndarray, *, final: bool) -> str:
        """The oracle's verdict on the assignment ``chosen`` (memoised), acted upon: a feasible one may become
        the incumbent, an infeasible one is cut off, a knife-edge one excluded (its value kept in the bound);
        the final solution of a round, back although cut, is excluded (it is proven infeasible)."""
        opts = self.opts
        key = chosen.astype(np.int64).tobytes()
        value = opts.value(chosen)
        verdict = self.seen.get(key)
        if verdict is None:
            cert = min_max_load(opts, chosen)
            verdict = self.seen[key] = cert.verdict if opts.cache_fits(chosen) else INFEASIBLE
            if verdict == FEASIBLE and value > self.best.value:
                self.best = Incumbent(value, [cert])
            elif verdict == INFEASIBLE:
                new = assignment_cuts(self.model, cert)
                self.backend.add(new)
                self.oa.cuts_added += len(new)
            elif verdict == UNCERTAIN:
                self.uncertain_values.append(value)
                self._exclude(chosen)
        elif final and verdict == INFEASIBLE:
            self._exclude(chosen)  # back despite its cuts: proven infeasible, exclude it
        return verdict

    def _exclude(self, chosen: np.ndarray) -> None:
        """A no-good cut on exactly the assignment ``chosen``."""
        picked = np.zeros(len(self.model.options), bool)
        picked[chosen] = True
        self.backend.add([self.model.excluded.add(no_good(list(self.model.choose.values()), picked))])
        self.oa.no_goods += 1

    def solution(self, info: dict[str, Any]) -> SlotSolution:
        """The best true incumbent's decision, the bound, the final status and the loop's counts in ``info``."""
        best, model = self.best, self.model
        bound = self.upper()
        gap = relative_gap(bound, best.value)
        info.update(oa_rounds=self.oa.rounds, nodes=self.oa.nodes, oa_cuts_added=self.oa.cuts_added,
                    no_good_cuts=self.oa.no_goods, uncertain=len(self.uncertain_values),
                    mip_gap=gap if best.value > 0 else None,
                    cuts=len(model.cut_prices) if model.formulation == "projected" else
                    sum(len(p) for p in model.cut_points.values()))
        decision = (schedule_decision(self.opts, best.certificates[0]) if best.certificates
                    else Decision.drop_all(self.opts.n_tasks))
        return SlotSolution(decision, self.oa.final_status(gap), best.value, bound, info)


def _mip_start(model: Any, inc: Incumbent) -> list[tuple[Any, float]]:
    """A complete MILP solution for a certified incumbent: its binaries (and, in the extended model,
    its schedule and shares work / time)."""
    opts: SlotOptions = model.slot_options
    cert = inc.certificates[0]
    picked = set(int(o) for o in cert.chosen)
    values = [(model.choose[o], 1.0 if o in picked else 0.0) for o in model.options]
    if model.formulation == "extended":
        row = {int(o): i for i, o in enumerate(cert.chosen)}
        for (o, k) in model.legs:
            t = float(cert.times[row[o], k]) if o in row else 0.0
            values += [(model.time[o, k], t), (model.share[o, k], float(opts.work[o, k] / t) if t > 0 else 0.0)]
    return values


# ============================================================================ the registered solver
#: How :class:`PyomoSolver` builds and solves the model: directly in highspy, or through Pyomo.
ENGINES = ("direct", "pyomo")


class PyomoSolver(Solver):
    """Exact per-slot optimum by outer approximation on a Pyomo MILP (``highs`` in the registry).

    Options: ``mip_solver`` ("highs", the default, through Pyomo's persistent interface; any other
    Pyomo solver name, e.g. gurobi, cplex, scip, cbc, through ``SolverFactory``), ``mip_gap``
    (relative, default 1e-6), ``keep`` (keep rule of docs/model.md, section 6: "used" default, "all", "none"),
    ``threads`` (default: the MIP solver's own), ``formulation`` ("projected", "extended"), ``engine``:
    "direct" (the default: the model built in highspy, :mod:`solvers.exact.search`, docs/exact.md, section 4)
    or "pyomo" (the Pyomo model through a back end, :func:`solve_slot`, section 3; what any other
    ``mip_solver`` or the extended formulation uses).
    """

    name = "highs"

    def __init__(self, *, mip_solver: str = "highs", mip_gap: float = 1e-6, keep: str = "used",
                 threads: int | None = None, formulation: str = "projected", engine: str = "direct") -> None:
        if keep not in KEEP_RULES:
            raise TadpInputError("argument", "--keep", f"unknown keep rule {keep!r} (known: {', '.join(KEEP_RULES)})")
        if not (isinstance(mip_gap, (int, float)) and 0 <= mip_gap < 1):
            raise TadpInputError("argument", "--mip-gap", f"must lie in [0, 1), got {mip_gap!r}")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise TadpInputError("argument", "threads", f"must be a positive integer, got {threads!r}")
        if formulation not in FORMULATIONS:
            raise TadpInputError("argument", "formulation",
                                 f"unknown {formulation!r} (known: {', '.join(FORMULATIONS)})")
        if engine not in ENGINES:
            raise TadpInputError("argument", "engine", f"unknown {engine!r} (known: {', '.join(ENGINES)})")
        if engine == "direct" and (mip_solver != "highs" or formulation != "projected"):
            engine = "pyomo"  # another MIP solver, or the extended model, goes through Pyomo
        super().__init__(mip_solver=mip_solver, mip_gap=float(mip_gap), keep=keep, threads=threads,
                         formulation=formulation, engine=engine)
        self.mip_solver, self.mip_gap, self.keep, self.threads = mip_solver, float(mip_gap), keep, threads
        self.formulation, self.engine = formulation, engine

    def solve(self, inst: Instance, slot: int, cache: Cache, *, time_limit: float, seed: int = 0) -> SolveResult:
        started = time.perf_counter()
        if self.engine == "direct":
            decision, status, objective, bound, info = solve_slot_direct(
                inst, slot, cache, time_limit=time_limit, mip_gap=self.mip_gap, threads=self.threads, seed=seed,
                started=started)
        else:
            sol = solve_slot(inst, slot, cache, time_limit=time_limit, mip_solver=self.mip_solver,
                             mip_gap=self.mip_gap, threads=self.threads, seed=seed, formulation=self.formulation,
                             started=started)
            decision, status, objective, bound, info = sol.decision, sol.status, sol.objective, sol.bound, sol.info
        decision = apply_keep_rule(decision, self.keep)
        return finish(inst, slot, cache, decision, status=status, objective=objective, bound=bound,
                      bound_kind="opt", started=started, info=info)


__all__ = ["ENGINES", "PyomoSolver", "SlotSolution", "solve_slot"]
