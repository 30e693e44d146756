"""The clairvoyant horizon optimum: all slots' tasks known, caches chained by C6/C7 (docs/exact_horizon.md).

The per-slot gap never judges keep decisions (omega, C7); the clairvoyant optimum of a whole trace does,
and bounds every online policy's episode score from above. What is where:

- :mod:`~solvers.horizon.data`: the options of each slot by fetch case, serve and place-only, plans and
  their cache chains, and the flat option table of the whole horizon (:class:`HorizonData`);
- :mod:`~solvers.horizon.model`: the horizon MILP (:func:`build_horizon_model`), its cuts and its HiGHS
  back end;
- :mod:`~solvers.horizon.judge`: the oracle's judgement of plans (true incumbents, repairs) and plans to
  and from decisions;
- :mod:`~solvers.horizon.monolithic`: outer approximation on the whole horizon (:func:`solve_horizon`,
  :class:`HorizonResult`);
- :mod:`~solvers.horizon.bands`: slot bands (:func:`solve_horizon_band`), the default up to 16 tasks per
  slot;
- :mod:`~solvers.horizon.warm`: warm starts, a fast policy's episode as the first incumbent;
- :mod:`~solvers.horizon.solver`: the registered solver ``highs-horizon`` (:class:`HorizonSolver`) and
  episode-mode solution files;
- :mod:`~solvers.horizon.rolling`: at scale, a rolling-horizon incumbent and a block-Lagrangian bound
  (:func:`episode_bound`, for the harness);
- :mod:`~solvers.horizon.enumerate`: exhaustive enumeration of whole episodes on tiny instances, the
  tests' reference.

The names below are re-exported here; each is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from solvers._lazy import lazy_exports

if TYPE_CHECKING:
    from solvers.horizon.bands import solve_horizon_band
    from solvers.horizon.data import HorizonData, horizon_data
    from solvers.horizon.enumerate import EpisodeEnumeration, enumerate_episode
    from solvers.horizon.model import build_horizon_model
    from solvers.horizon.monolithic import HorizonResult, solve_horizon
    from solvers.horizon.rolling import block_bound, episode_bound, rolling_horizon
    from solvers.horizon.solver import HorizonSolver, horizon_solution, solve_horizon_solution

#: Re-exported name -> the submodule that defines it.
_EXPORTS = {
    "solve_horizon_band": "bands",
    "HorizonData": "data",
    "horizon_data": "data",
    "EpisodeEnumeration": "enumerate",
    "enumerate_episode": "enumerate",
    "build_horizon_model": "model",
    "HorizonResult": "monolithic",
    "solve_horizon": "monolithic",
    "block_bound": "rolling",
    "episode_bound": "rolling",
    "rolling_horizon": "rolling",
    "HorizonSolver": "solver",
    "horizon_solution": "solver",
    "solve_horizon_solution": "solver",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = ["EpisodeEnumeration", "HorizonData", "HorizonResult", "HorizonSolver", "block_bound", "build_horizon_model",
           "enumerate_episode", "episode_bound", "horizon_data", "horizon_solution", "rolling_horizon", "solve_horizon",
           "solve_horizon_band", "solve_horizon_solution"]
