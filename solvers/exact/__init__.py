"""The exact per-slot solvers (docs/exact.md): the slot optimum, proven, and a restricted CP-SAT model.

What is where:

- :mod:`~solvers.exact.options`: the options of each task of one slot (site, level, fetch, legs), the
  data every exact model chooses from;
- :mod:`~solvers.exact.oracle`: the oracle for a fixed assignment (:func:`min_max_load`, with a
  certificate either way), option costs at given prices, and the decision of a certified assignment;
- :mod:`~solvers.exact.enumerate`: exhaustive enumeration of tiny slots (:func:`enumerate_optimum`),
  the tests' reference;
- :mod:`~solvers.exact.model`: the Pyomo MILP (:func:`build_model`), its cuts, its LP rounds and its
  export (:func:`export_model`);
- :mod:`~solvers.exact.backends`: the MILP back ends (HiGHS, persistent; any Pyomo MIP solver);
- :mod:`~solvers.exact.oa`: the outer-approximation plumbing the slot and the horizon solvers share;
- :mod:`~solvers.exact.highs`: outer approximation for one slot (:func:`solve_slot`) and the registered
  solver ``highs`` (:class:`PyomoSolver`);
- :mod:`~solvers.exact.cpsat`: the discretised CP-SAT model, registered as ``cpsat``
  (:class:`CpSatSolver`).

The names below are re-exported here; each is imported on first use, so that importing one module of
the package does not load every back end (Pyomo, OR-Tools).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from solvers._lazy import lazy_exports

if TYPE_CHECKING:
    from solvers.exact.cpsat import CpSatSolver
    from solvers.exact.enumerate import Enumeration, enumerate_optimum
    from solvers.exact.highs import PyomoSolver, SlotSolution, solve_slot
    from solvers.exact.model import build_model, export_model
    from solvers.exact.options import SlotOptions, slot_options
    from solvers.exact.oracle import LoadCertificate, min_max_load

#: Re-exported name -> the submodule that defines it.
_EXPORTS = {
    "CpSatSolver": "cpsat",
    "Enumeration": "enumerate",
    "enumerate_optimum": "enumerate",
    "PyomoSolver": "highs",
    "SlotSolution": "highs",
    "solve_slot": "highs",
    "build_model": "model",
    "export_model": "model",
    "SlotOptions": "options",
    "slot_options": "options",
    "LoadCertificate": "oracle",
    "min_max_load": "oracle",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = ["CpSatSolver", "Enumeration", "LoadCertificate", "PyomoSolver", "SlotOptions", "SlotSolution", "build_model",
           "enumerate_optimum", "export_model", "min_max_load", "slot_options", "solve_slot"]
