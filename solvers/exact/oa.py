"""Outer approximation (OA): the plumbing the slot solver and the horizon solver share (docs/exact.md,
section 3; docs/exact_horizon.md, section 3).

Both solve a MILP relaxation whose convex part, C1 + C4 + C5, enters as finitely many *resource cuts*;
they tighten its LP relaxation with the cuts that separate its points, then judge the MILP's solutions
with the oracle (:func:`solvers.exact.oracle.min_max_load`), cut off those it rejects and solve again.
What they share lives here, once:

- :func:`linear`: the rows, as Pyomo linear expressions;
- :func:`resource_cut`: the resource cut of one slot's options at given prices, ``sum_o c_o(lambda)
  choose[o]``, its coefficients below :data:`RESOURCE_COEF_MIN` left out;
- :func:`no_good`: the row that excludes exactly one 0/1 assignment;
- :func:`separating_prices` and :func:`lp_rounds`: the LP rounds before the first MILP;
- :class:`Incumbent`: a true incumbent, certified by the oracle;
- :func:`relative_gap` and :class:`OaRounds`: the MILP rounds' counters and their termination rule. A
  round whose MILP is optimal and whose solution the oracle certifies proves the incumbent optimal when
  it is within ``mip_gap`` of the bound, else the MIP solver's own gap (which it may measure differently)
  is tightened tenfold and the round repeats; a round whose MILP is not optimal (time limit, error) ends
  the loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyomo.core.expr.numeric_expr import LinearExpression

from solvers.exact.backends import Backend, MipResult
from solvers.exact.options import SlotOptions
from solvers.exact.oracle import LoadCertificate, min_max_load, option_costs

#: Resource-cut coefficients below this are left out (which only relaxes the cut).
RESOURCE_COEF_MIN = 1e-12
#: An LP point whose fractional min-max load exceeds 1 by more than this gets a resource cut (cutting
#: finer at the root gains nothing: the MILP rounds cut off what matters, integer assignments).
ROOT_SEPARATION_TOL = 1e-6


# ============================================================================ rows
def linear(coefs: list[float], variables: list[Any], constant: float = 0.0) -> Any:
    """``constant + sum_k coefs[k] * variables[k]`` as one Pyomo linear expression."""
    return LinearExpression(constant=constant, linear_coefs=list(coefs), linear_vars=list(variables))


def resource_cut(opts: SlotOptions, prices: np.ndarray, choose: Callable[[int], Any]) -> Any:
    """The left side of the resource cut of ``prices`` over ``opts``, ``sum_o c_o(prices) choose(o)``
    (:func:`solvers.exact.oracle.option_costs`), or None when no option has a cost; ``choose(o)`` is the
    binary of option o in the model at hand."""
    costs = option_costs(opts, prices)
    used = np.flatnonzero(costs > RESOURCE_COEF_MIN)  # dropping a term of a <= cut only relaxes it
    if len(used) == 0:
        return None
    return linear(costs[used].tolist(), [choose(int(o)) for o in used])


def no_good(variables: list[Any], picked: np.ndarray) -> Any:
    """The row that excludes exactly one 0/1 assignment of the binaries ``variables``, those where
    ``picked`` (a boolean mask) is set at 1 and the others at 0: ``sum over the picked of (1 - x) + sum over
    the others of x >= 1``."""
    picked = np.asarray(picked, bool)
    coefs = np.where(picked, -1.0, 1.0)
    return linear(coefs.tolist(), variables, float(picked.sum())) >= 1


def choice_vector(model: Any, values: Any) -> np.ndarray:
    """The values of the model's ``choose`` binaries in the solution ``values`` (var data -> value)."""
    return np.array([values.get(v, 0.0) or 0.0 for v in model.choose.values()])


# ============================================================================ LP rounds
def separating_prices(opts: SlotOptions, z: np.ndarray) -> np.ndarray | None:
    """Prices whose resource cut separates the fractional choice ``z`` (a weight per option of ``opts``)
    from the convex relaxation, or None when it lies within :data:`ROOT_SEPARATION_TOL` of it: the oracle's
    prices for the weighted assignment, whose dual value Phi exceeds 1."""
    support = np.flatnonzero(z > 1e-9)
    if len(support) == 0:
        return None
    cert = min_max_load(opts, support, weights=z[support])
    return cert.prices if cert.lower > 1.0 + ROOT_SEPARATION_TOL else None


@dataclass(eq=False)
class LpRounds:
    """What the LP rounds before the first MILP did."""

    rounds: int  # LPs solved
    bound: float | None  # bound of the last LP (None when none finished)


def lp_rounds(backend: Backend, deadline: float, max_rounds: int, separate: Callable[[Any], list[Any]], *,
              stall: float | None = None) -> LpRounds:
    """Rounds of: solve the LP relaxation, add the cuts ``separate(values)`` returns for its point (none:
    stop), at most ``max_rounds`` and until ``deadline`` (perf_counter); with ``stall``, also stop when the
    bound moved less than that (relative) over the last round."""
    rounds, bound = 0, None
    backend.set_integrality(False)
    last = math.inf
    while rounds < max_rounds and time.perf_counter() < deadline:
        lp = backend.solve(deadline - time.perf_counter(), 0.0)
        if lp.status != "optimal" or lp.values is None:
            break
        rounds += 1
        bound = lp.bound if lp.bound is not None else lp.objective
        new = separate(lp.values)
        backend.add(new)
        if not new or (stall is not None and bound is not None and last - bound <= stall * abs(bound)):
            break
        last = bound if bound is not None else last
    backend.set_integrality(True)
    return LpRounds(rounds, bound)


# ============================================================================ MILP rounds
@dataclass(eq=False)
class Incumbent:
    """A true incumbent: an answer the oracle certified, with its value and one certificate per slot it
    serves in (none for the answer that serves nobody)."""

    value: float
    certificates: list[LoadCertificate] = field(default_factory=list)


def relative_gap(bound: float, value: float) -> float:
    """``(bound - value) / |value|`` (the denominator 1e-12 at least); 0 when the bound is not positive
    (then both are 0)."""
    return (bound - value) / max(abs(value), 1e-12) if bound > 0 else 0.0


@dataclass(eq=False)
class OaRounds:
    """The MILP rounds of an outer-approximation loop: their counters, the MIP solver's own gap, the status
    so far, and the termination rule (module doc)."""

    mip_gap: float  # the relative gap that proves an incumbent optimal
    solver_gap: float = field(init=False)  # the gap the MIP solver is asked for: mip_gap, tightened if need be
    status: str = "time_limit"
    rounds: int = 0
    nodes: int = 0
    cuts_added: int = 0
    no_goods: int = 0

    def __post_init__(self) -> None:
        self.solver_gap = self.mip_gap

    def count(self, res: MipResult) -> None:
        """Count a MILP round and its branch-and-bound nodes."""
        self.rounds += 1
        self.nodes += res.nodes or 0

    def failed(self, res: MipResult) -> str | None:
        """A round that ended without a solution, not at the time limit: the status becomes ``error`` and the
        message is returned (None for any other round)."""
        if res.values is None and res.status != "time_limit":
            self.status = "error"
            return f"MILP round {self.rounds} ended {res.status} without a solution"
        return None

    def finished(self, res: MipResult, final_ok: bool, bound: float, value: float) -> bool:
        """The termination rule (module doc) after a round whose MILP ended with ``res``: ``final_ok`` when
        the oracle certified its final solution, ``bound`` the best bound on the optimum so far, ``value`` the
        incumbent's. True when the loop ends (the status then says why)."""
        if res.status == "optimal" and final_ok:
            if bound - value <= self.mip_gap * abs(value) or self.solver_gap < 1e-12:
                self.status = "optimal"
                return True
            self.solver_gap /= 10
            return False
        if res.status != "optimal":  # time limit (or an error with an incumbent): stop with what we have
            self.status = "time_limit" if res.status == "time_limit" else "error"
            return True
        return False

    def final_status(self, gap: float) -> str:
        """The status to report for the final relative gap ``gap``: ``optimal`` only within ``mip_gap``."""
        if self.status == "optimal" and gap > self.mip_gap:
            return "time_limit"
        return self.status


__all__ = ["RESOURCE_COEF_MIN", "ROOT_SEPARATION_TOL", "Incumbent", "LpRounds", "OaRounds", "choice_vector", "linear",
           "lp_rounds", "no_good", "relative_gap", "resource_cut", "separating_prices"]
