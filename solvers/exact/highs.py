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
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers.base import KEEP_RULES, Solver, SolveResult, apply_keep_rule, finish
from solvers.exact.backends import Backend, make_backend
from solvers.exact.model import (
    FORMULATIONS,
    add_tangent_cuts,
    assignment_cuts,
    build_model,
    choice_vector,
    tighten_relaxation,
    violated_points,
)
from solvers.exact.options import SlotOptions, slot_options, trivial_bound
from solvers.exact.oracle import FEASIBLE, INFEASIBLE, UNCERTAIN, LoadCertificate, min_max_load, schedule_decision
from tadp.decision import Decision
from tadp.errors import TadpInputError
from tadp.instance import Cache, Instance


# ============================================================================ outer approximation
@dataclass
class _Incumbent:
    value: float
    chosen: np.ndarray
    certificate: LoadCertificate | None



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
) -> tuple[Decision, str, float, float, dict[str, Any]]:
    """Outer approximation for one slot (module doc). Returns (decision without keep flags, status,
    objective, valid upper bound, info)."""
    started = time.perf_counter() if started is None else started
    deadline = started + time_limit
    opts = slot_options(inst, slot, cache)
    info: dict[str, Any] = {"options": opts.n_options, "dropped_options": opts.dropped, "mip_solver": mip_solver,
                            "formulation": formulation}
    best = _Incumbent(0.0, np.zeros(0, int), None)
    bound = trivial_bound(opts)
    if opts.n_options == 0:
        return Decision.drop_all(opts.n_tasks), "optimal", 0.0, 0.0, info
    if time.perf_counter() >= deadline:
        return Decision.drop_all(opts.n_tasks), "time_limit", 0.0, bound, info

    model = build_model(inst, slot, cache, options=opts, formulation=formulation)
    backend: Backend = make_backend(model, mip_solver, threads, seed)
    info["build_s"] = time.perf_counter() - started

    # ---- 1. tighten the LP relaxation with cuts at its own points (Kelley's method)
    root_rounds, root_bound = tighten_relaxation(model, backend, deadline)
    if root_bound is not None:
        bound = min(bound, root_bound)
    info.update(root_rounds=root_rounds, root_bound=root_bound, root_s=time.perf_counter() - started)

    # ---- 2. MILP rounds of outer approximation
    seen: dict[bytes, str] = {}
    uncertain_values: list[float] = []
    rounds, nodes, cuts_added, no_goods = 0, 0, 0, 0
    solver_gap = mip_gap  # the MIP solver's own gap may be measured differently: tightened if need be
    status = "time_limit"
    while time.perf_counter() < deadline:
        if best.certificate is not None:
            backend.warm_start(_mip_start(model, best))
        res = backend.solve(deadline - time.perf_counter(), solver_gap)
        rounds += 1
        nodes += res.nodes or 0
        if res.bound is not None and math.isfinite(res.bound):
            bound = min(bound, res.bound)
        if res.values is None and res.status != "time_limit":
            status = "error"
            info["error"] = f"MILP round {rounds} ended {res.status} without a solution"
            break
        final = choice_vector(model, res.values) if res.values is not None else None
        candidates = ([final] if final is not None else []) + res.incumbents
        final_ok = False
        for k, z in enumerate(candidates):
            chosen = np.flatnonzero(z > 0.5)
            key = chosen.astype(np.int64).tobytes()
            value = opts.value(chosen)
            verdict = seen.get(key)
            if verdict is None:
                cert = min_max_load(opts, chosen)
                verdict = seen[key] = cert.verdict if opts.cache_fits(chosen) else INFEASIBLE
                if verdict == FEASIBLE and value > best.value:
                    best = _Incumbent(value, chosen, cert)
                elif verdict == INFEASIBLE:
                    new = assignment_cuts(model, cert)
                    backend.add(new)
                    cuts_added += len(new)
                elif verdict == UNCERTAIN:
                    uncertain_values.append(value)
                    backend.add(_no_good(model, chosen))
                    no_goods += 1
            elif k == 0 and verdict == INFEASIBLE:
                backend.add(_no_good(model, chosen))  # back despite its cuts: proven infeasible, exclude it
                no_goods += 1
            if k == 0:
                final_ok = verdict == FEASIBLE
        if model.formulation == "extended" and res.values is not None:
            new = add_tangent_cuts(model, violated_points(model, res.values))
            backend.add(new)
            cuts_added += len(new)
        if res.status == "optimal" and final_ok:
            if max([bound, best.value] + uncertain_values) - best.value <= mip_gap * abs(best.value) \
                    or solver_gap < 1e-12:
                status = "optimal"
                break
            solver_gap /= 10
            continue
        if res.status != "optimal":  # time limit (or an error with an incumbent): stop with what we have
            status = "time_limit" if res.status == "time_limit" else "error"
            break
    bound = max([bound, best.value] + uncertain_values)
    gap = (bound - best.value) / max(abs(best.value), 1e-12)
    if status == "optimal" and gap > mip_gap:
        status = "time_limit"
    info.update(oa_rounds=rounds, nodes=nodes, oa_cuts_added=cuts_added, no_good_cuts=no_goods,
                uncertain=len(uncertain_values), mip_gap=gap if best.value > 0 else None,
                cuts=len(model.cut_prices) if formulation == "projected" else
                sum(len(p) for p in model.cut_points.values()))
    decision = (schedule_decision(opts, best.certificate) if best.certificate is not None
                else Decision.drop_all(opts.n_tasks))
    return decision, status, best.value, bound, info


def _no_good(model: Any, chosen: np.ndarray) -> list[Any]:
    """Exclude exactly the assignment ``chosen`` (every option's binary at its value)."""
    picked = set(int(o) for o in chosen)
    expr = sum(1 - model.choose[o] for o in picked) + sum(model.choose[o] for o in model.options if o not in picked)
    return [model.excluded.add(expr >= 1)]


def _mip_start(model: Any, inc: _Incumbent) -> list[tuple[Any, float]]:
    """A complete MILP solution for a certified incumbent: its binaries (and, in the extended model,
    its schedule and shares work / time)."""
    opts: SlotOptions = model.slot_options
    picked = set(int(o) for o in inc.chosen)
    values = [(model.choose[o], 1.0 if o in picked else 0.0) for o in model.options]
    if model.formulation == "extended":
        assert inc.certificate is not None
        row = {int(o): i for i, o in enumerate(inc.chosen)}
        for (o, k) in model.legs:
            t = float(inc.certificate.times[row[o], k]) if o in row else 0.0
            values += [(model.time[o, k], t), (model.share[o, k], float(opts.work[o, k] / t) if t > 0 else 0.0)]
    return values


# ============================================================================ the registered solver
class PyomoSolver(Solver):
    """Exact per-slot optimum by outer approximation on a Pyomo MILP (``highs`` in the registry).

    Options: ``mip_solver`` ("highs", the default, through Pyomo's persistent interface; any other
    Pyomo solver name, e.g. gurobi, cplex, scip, cbc, through ``SolverFactory``), ``mip_gap``
    (relative, default 1e-6), ``keep`` (keep rule of spec section 6: "used" default, "all", "none"),
    ``threads`` (default: the MIP solver's own).
    """

    name = "highs"

    def __init__(self, *, mip_solver: str = "highs", mip_gap: float = 1e-6, keep: str = "used",
                 threads: int | None = None, formulation: str = "projected") -> None:
        if keep not in KEEP_RULES:
            raise TadpInputError("argument", "--keep", f"unknown keep rule {keep!r} (known: {', '.join(KEEP_RULES)})")
        if not (isinstance(mip_gap, (int, float)) and 0 <= mip_gap < 1):
            raise TadpInputError("argument", "--mip-gap", f"must lie in [0, 1), got {mip_gap!r}")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise TadpInputError("argument", "threads", f"must be a positive integer, got {threads!r}")
        if formulation not in FORMULATIONS:
            raise TadpInputError("argument", "formulation", f"unknown {formulation!r} (known: {', '.join(FORMULATIONS)})")
        super().__init__(mip_solver=mip_solver, mip_gap=float(mip_gap), keep=keep, threads=threads,
                         formulation=formulation)
        self.mip_solver, self.mip_gap, self.keep, self.threads = mip_solver, float(mip_gap), keep, threads
        self.formulation = formulation

    def solve(self, inst: Instance, slot: int, cache: Cache, *, time_limit: float, seed: int = 0) -> SolveResult:
        started = time.perf_counter()
        decision, status, objective, bound, info = solve_slot(
            inst, slot, cache, time_limit=time_limit, mip_solver=self.mip_solver, mip_gap=self.mip_gap,
            threads=self.threads, seed=seed, formulation=self.formulation, started=started)
        decision = apply_keep_rule(decision, self.keep)
        return finish(inst, slot, cache, decision, status=status, objective=objective, bound=bound,
                      bound_kind="opt", started=started, info=info)


__all__ = ["PyomoSolver", "solve_slot"]
