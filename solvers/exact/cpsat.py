"""A discretised per-slot model for CP-SAT (OR-Tools): integer by construction (docs/exact.md).

Each option o of a task (site, level; :mod:`solvers.exact.options`) gets a grid of *time splits*:

- compute times ``y_k``: from the longest the option allows (``min(T - F, T - upload - hop)`` at
  full shares) down by the factor ``grid_ratio``, to the shortest (share 1);
- at a gateway the upload takes the rest, ``x = T - y_k``; at the edge the rest ``T - y_k`` is split
  again: upload times ``x_m`` from the longest (the hop at share 1) down by ``grid_ratio``, and the
  hop takes what is left.

A split fixes the option's shares (work / time), so its pool use, rounded *up* to integers in units
of 1 / :data:`SCALE`, is a constant: the model is one Boolean per (option, split), at most one per
task, one linear constraint per pool (C4, C5) and per cache (C6, model sizes rounded up and free
space down, in units of the capacity / SCALE), and the objective (11) with accuracies scaled and
rounded. Every solution is feasible for the continuous problem (shares are recovered exactly, by the
oracle of :mod:`solvers.exact.oracle`, or from the split itself) and is re-scored by the evaluator.

Its best bound bounds only this *restricted* model, never the slot optimum: results carry
``bound_kind="restricted"``. What the grid loses is stated as resource augmentation: with full grids
(``compute_points=None, upload_points=None``), rounding a continuous schedule's times down to the
grid raises no load by more than the factor ``grid_ratio``, so the CP-SAT optimum is at least the
slot optimum of the same instance with the pooled resources B, C_l, B_e, C_e divided by
``grid_ratio * (1 + 2 * tasks / SCALE)`` and the caches multiplied by ``1 - (tasks + 2) / SCALE``
(room for the rounding). Full grids are large, so by default each is cut to windows of a few
points around a centre (the option's schedule at equal pool prices), solved, and refined: finer
windows centred on the solution's own schedule, holding the solution (``refine_ratios``); the
guarantee then holds only for schedules inside the windows. When no round finds a solution as good
in its time, the answer is a greedy solution of the first grid (:func:`greedy_splits`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from solvers.base import KEEP_RULES, Solver, SolveResult, apply_keep_rule, finish
from solvers.exact.options import COMPUTE, HOP, UPLOAD, SlotOptions, slot_options, trivial_bound
from solvers.exact.oracle import FEASIBLE, min_max_load, option_schedules, schedule_decision
from tadp.decision import SITE_EDGE, Decision
from tadp.errors import TadpInputError
from tadp.instance import Cache, Instance

#: Integer units per unit of every fraction in the model: pool shares, cache capacities, accuracies.
SCALE = 10**6


def scaled_up(x: float) -> int:
    """``x`` in units of 1 / SCALE, rounded up (a resource use that may not be understated)."""
    return math.ceil(x * SCALE)


def scaled_down(x: float) -> int:
    """``x`` in units of 1 / SCALE, rounded down (a capacity that may not be overstated)."""
    return math.floor(x * SCALE)


def unscaled(k: float) -> float:
    """Back from units of 1 / SCALE."""
    return k / SCALE


@dataclass(frozen=True)
class GridOptions:
    """How finely the CP-SAT model discretises each option's time split."""

    ratio: float = 1.25
    """Successive grid times differ by this factor (> 1); the guarantee of the module doc scales with it."""
    compute_points: int | None = 6
    """Most compute times per option (None: down to share 1, the full grid)."""
    upload_points: int | None = 4
    """Most upload times per compute time of an edge option (None: the full grid)."""
    refine_ratios: tuple[float, ...] = (1.05, 1.01)
    """Capped grids only: further solves with these ratios, each grid's windows centred on the previous
    solution's own schedule and holding that solution's splits (a hint)."""


def _geometric(top: float, low: float, ratio: float, points: int | None, centre: float) -> list[float]:
    """The full grid ``top, top/ratio, ...`` down to ``low`` (which ends it, so that the full grid
    reaches share 1); with ``points``, only that many of them, the nearest to ``centre`` (in ratio)."""
    if top < low:
        return []
    count = int(math.floor(math.log(top / low) / math.log(ratio))) + 1
    full = [top / ratio**k for k in range(count)]
    if full[-1] > low * (1 + 1e-12):
        full.append(low)
    if points is None or points >= len(full):
        return full
    nearest = int(np.argmin([abs(math.log(t / centre)) if centre > 0 else math.inf for t in full]))
    first = min(max(0, nearest - points // 2), len(full) - points)
    return full[first:first + points]


@dataclass
class Grid:
    """All (option, split) pairs: leg times and their integer pool use."""

    option: np.ndarray  # (K,) option index of each split
    times: np.ndarray  # (K, 3) leg times (upload, hop, compute), s
    use: np.ndarray  # (K, 3) pool use per leg in units of 1 / SCALE (0 for absent legs)


def build_grid(opts: SlotOptions, grid: GridOptions, centres: np.ndarray | None = None,
               ratio: float | None = None) -> Grid:
    """The time splits of every option (module doc); splits needing a share above 1 are left out.

    A capped grid keeps, of each full grid, the points nearest to ``centres`` (M, 3) (leg times), by
    default each option's cheapest schedule at equal prices on every pool (shares in proportion to the
    square roots of the legs' work). ``ratio`` overrides ``grid.ratio``."""
    ratio = grid.ratio if ratio is None else ratio
    option, times = [], []
    w = opts.work
    if centres is None:
        centres = option_schedules(opts, np.ones(opts.n_pools))
    for o in range(opts.n_options):
        t_max, f = float(opts.deadline[o]), float(opts.fetch[o])
        wu, wh, wc = float(w[o, UPLOAD]), float(w[o, HOP]), float(w[o, COMPUTE])
        y_top = min(t_max - f, t_max - wu - wh)
        x_mid, h_mid, y_mid = centres[o]
        for y in _geometric(y_top, wc, ratio, grid.compute_points, y_mid):
            rest = t_max - y
            if opts.site[o] == SITE_EDGE:
                for x in _geometric(rest - wh, wu, ratio, grid.upload_points, rest * x_mid / (x_mid + h_mid)):
                    option.append(o)
                    times.append((x, rest - x, y))
            else:
                option.append(o)
                times.append((rest, 0.0, y))
    return _grid(opts, np.array(option, np.int64), np.array(times, float).reshape(-1, 3))


def _grid(opts: SlotOptions, option: np.ndarray, times: np.ndarray) -> Grid:
    """Integer pool use of the splits (rounded up); splits needing a share above 1 are left out."""
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(opts.pool[option] >= 0, opts.work[option] / times, 0.0)
    use = np.array([[scaled_up(x) for x in row] for row in shares], np.int64).reshape(-1, 3)
    keep = (use <= SCALE).all(axis=1)
    return Grid(option[keep], times[keep], use[keep])


def grid_rows(inst: Instance, opts: SlotOptions, g: Grid) -> tuple[np.ndarray, np.ndarray]:
    """The grid model's pool and cache rows in its integer units: each split's use (K, P + G + 1) of every
    pool (shares rounded up, out of ``SCALE``) and every cache (model sizes rounded up, in capacity /
    ``SCALE``), and the room of each (``SCALE``; free space rounded down)."""
    capacity = np.append(inst.gateway_cache, inst.edge_cache)
    room = np.append(np.full(opts.n_pools, SCALE, np.int64),
                     [scaled_down(opts.cache_free[c] / capacity[c]) for c in range(opts.n_gateways + 1)])
    need = np.zeros((len(g.option), len(room)), np.int64)
    for leg in range(3):
        on = (opts.pool[g.option, leg] >= 0) & (g.use[:, leg] > 0)
        np.add.at(need, (np.flatnonzero(on), opts.pool[g.option[on], leg]), g.use[on, leg])
    placing = np.flatnonzero(opts.places[g.option])
    need[placing, opts.n_pools + opts.cache_pool[g.option[placing]]] = [
        scaled_up(opts.model_bits[o] / capacity[opts.cache_pool[o]]) for o in g.option[placing]]
    return need, room


def greedy_splits(inst: Instance, opts: SlotOptions, g: Grid) -> np.ndarray:
    """Indices of splits of ``g`` that satisfy every constraint of the grid model (pools and caches, in
    its integer units: :func:`grid_rows`), at most one per task: first every task, cheapest first, takes its
    split of least largest pool use that fits what is left; then each served task, most accuracy to gain
    first, moves to its most accurate split that fits in its place. The answer when no CP-SAT round finds a
    solution as good in its time (no round found any in 10 s on a cold 10x35 scarce slot of the default
    run). Not a hint: hinted, it held CP-SAT to the greedy's solution (0.934-0.939 where the rounds
    unhinted found 0.941-0.943)."""
    need, room = grid_rows(inst, opts, g)
    accuracy, task = opts.accuracy[g.option], opts.task[g.option]
    largest = need[:, : opts.n_pools].max(axis=1)
    cheapest = np.full(opts.n_tasks, np.iinfo(np.int64).max)
    np.minimum.at(cheapest, task, largest)
    pick = np.full(opts.n_tasks, -1)
    for t in np.argsort(cheapest, kind="stable"):  # 1. serve, cheapest first
        ks = np.flatnonzero(task == t)
        fits = ks[(need[ks] <= room).all(axis=1)]
        if len(fits):
            pick[t] = fits[np.lexsort((-accuracy[fits], largest[fits]))[0]]
            room -= need[pick[t]]
    served = np.flatnonzero(pick >= 0)
    gain = np.zeros(opts.n_tasks)
    np.maximum.at(gain, task, accuracy)
    for t in served[np.argsort(-(gain[served] - accuracy[pick[served]]), kind="stable")]:  # 2. upgrade
        ks = np.flatnonzero((task == t) & (accuracy > accuracy[pick[t]]))
        fits = ks[(need[ks] <= room + need[pick[t]]).all(axis=1)]
        if len(fits):
            best = fits[np.lexsort((largest[fits], -accuracy[fits]))[0]]
            room += need[pick[t]] - need[best]
            pick[t] = best
    return np.sort(pick[pick >= 0]).astype(np.int64)


@dataclass
class _Solved:
    """One CP-SAT solve of a grid."""

    code: int
    name: str
    splits: np.ndarray  # indices of the chosen splits
    bound: float | None  # restricted bound on J
    info: dict[str, Any]


def _solve_grid(inst: Instance, opts: SlotOptions, g: Grid, *, time_limit: float, seed: int, workers: int,
                mip_gap: float, started: float, hint: np.ndarray | None = None) -> _Solved:
    """CP-SAT on the grid ``g``: one Boolean per split (module doc), optional hint (split indices)."""
    model = cp_model.CpModel()
    pick = [model.new_bool_var(f"split_{k}") for k in range(len(g.option))]
    task_of = opts.task[g.option]
    order = np.argsort(task_of, kind="stable")
    for group in np.split(order, np.flatnonzero(np.diff(task_of[order])) + 1):
        model.add_at_most_one(pick[k] for k in group)  # C2, C3: one option, one split, per task (or none)
    need, room = grid_rows(inst, opts, g)
    for r in range(len(room)):  # C4, C5 on the grid, shares rounded up; C6, sizes up, free space down
        ks = np.flatnonzero(need[:, r] > 0)
        if len(ks):
            model.add(sum(int(need[k, r]) * pick[k] for k in ks) <= int(room[r]))
    gain = [round(float(opts.accuracy[o]) * SCALE) for o in g.option]
    model.maximize(sum(c * v for c, v in zip(gain, pick, strict=True)))
    if hint is not None:
        chosen = set(int(k) for k in hint)
        for k, v in enumerate(pick):
            model.add_hint(v, k in chosen)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit, 1e-3)
    solver.parameters.random_seed = int(seed)
    solver.parameters.num_workers = int(workers)
    solver.parameters.relative_gap_limit = mip_gap
    tracker = _Tracker(started)
    code = solver.solve(model, tracker)
    name = solver.status_name(code)
    info = {"splits": len(g.option), "cpsat_status": name, "wall_s": solver.wall_time,
            "conflicts": solver.num_conflicts, "solutions": tracker.count, "last_improvement_s": tracker.last}
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _Solved(code, name, np.zeros(0, np.int64), None, info)
    # accuracies were rounded to the nearest unit: the restricted optimum is at most bound + N/2 units
    n = opts.n_tasks
    bound = (unscaled(solver.best_objective_bound) + 0.5 * n / SCALE) / n
    splits = np.array([k for k in range(len(pick)) if solver.boolean_value(pick[k])], np.int64)
    info["objective"] = opts.value(g.option[splits])
    return _Solved(code, name, splits, bound, info)


def solve_slot_cpsat(
    inst: Instance,
    slot: int,
    cache: Cache,
    *,
    time_limit: float,
    seed: int = 0,
    workers: int = 2,
    grid: GridOptions | None = None,
    mip_gap: float = 0.0,
    started: float | None = None,
) -> tuple[Decision, str, float, float | None, dict[str, Any]]:
    """Build and solve the discretised model, refined round by round (module doc). Returns
    (decision without keep flags, status, objective J, restricted bound, info)."""
    started = time.perf_counter() if started is None else started
    grid = GridOptions() if grid is None else grid
    opts = slot_options(inst, slot, cache)
    n = opts.n_tasks
    info: dict[str, Any] = {"options": opts.n_options, "grid": [grid.ratio, grid.compute_points, grid.upload_points,
                                                                 list(grid.refine_ratios)],
                            "workers": workers, "seed": seed, "rounds": []}
    if opts.n_options == 0:
        return Decision.drop_all(n), "feasible", 0.0, 0.0, info

    def left() -> float:
        return time_limit - (time.perf_counter() - started)

    capped = grid.compute_points is not None or grid.upload_points is not None
    ratios = [grid.ratio] + (list(grid.refine_ratios) if capped else [])
    common = {"seed": seed, "workers": workers, "mip_gap": mip_gap, "started": started}
    centres = None
    kept: Grid | None = None  # the splits of the best solution so far
    last: _Solved | None = None
    fallback: Grid | None = None  # the greedy's splits of the first grid: the answer if no round finds one
    for k, ratio in enumerate(ratios):
        if left() <= 0 and k > 0:  # the first round always runs, for the fallback at least
            break
        g = build_grid(opts, grid, centres, ratio=ratio)
        hint = None
        if kept is not None:  # the model keeps the best solution's splits, given as a hint
            hint = np.arange(len(g.option), len(g.option) + len(kept.option))
            g = Grid(np.concatenate([g.option, kept.option]), np.concatenate([g.times, kept.times]),
                     np.concatenate([g.use, kept.use]))
        elif fallback is None:
            picked = greedy_splits(inst, opts, g)
            fallback = Grid(g.option[picked], g.times[picked], g.use[picked])
        solved = _solve_grid(inst, opts, g, time_limit=left() / (len(ratios) - k), hint=hint, **common)
        info["rounds"].append(solved.info)
        if solved.bound is None:
            continue
        last = solved
        kept = Grid(g.option[solved.splits], g.times[solved.splits], g.use[solved.splits])
        if not len(kept.option):
            continue
        # centre the next, finer grid on this solution: for its options their times in the oracle's
        # least-max-load schedule, for the others their schedule at equal prices, as in the first grid
        cert = min_max_load(opts, kept.option)
        centres = option_schedules(opts, np.ones(opts.n_pools))
        centres[cert.chosen] = cert.times
    if fallback is not None and len(fallback.option) and (
            kept is None or opts.value(fallback.option) > opts.value(kept.option)):
        kept = fallback  # no round found a solution in its time, or none as good as the greedy's
        info["greedy_fallback"] = True
    info["cpsat_status"] = info["rounds"][-1]["cpsat_status"] if info["rounds"] else None  # the last round's
    if kept is None:
        return Decision.drop_all(n), "time_limit", 0.0, None, info
    order = np.argsort(kept.option)
    chosen, times = kept.option[order], kept.times[order]
    decision, value = _recover(opts, chosen, times), opts.value(chosen)
    # the restricted optimum lies between the solution and the slot optimum (<= the trivial bound)
    bound = None if last is None else min(max(last.bound, value), trivial_bound(opts))
    if last is None or info.get("greedy_fallback"):
        return decision, "time_limit", value, bound, info
    info.update({k: last.info[k] for k in ("splits", "cpsat_status", "solutions", "last_improvement_s")})
    return decision, "feasible" if last.code == cp_model.OPTIMAL else "time_limit", value, bound, info


def _recover(opts: SlotOptions, chosen: np.ndarray, grid_times: np.ndarray) -> Decision:
    """Shares for the CP-SAT assignment: the oracle's schedule (least max load) where it certifies
    one, else the grid split itself (its shares fit: their rounded-up sums do)."""
    cert = min_max_load(opts, chosen)
    if cert.verdict == FEASIBLE:
        return schedule_decision(opts, cert)
    return opts.decision(chosen, grid_times)


class _Tracker(cp_model.CpSolverSolutionCallback):
    """CP-SAT solution callback: counts improving solutions and when the last one came."""

    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started
        self.count = 0
        self.last: float | None = None

    def on_solution_callback(self) -> None:
        self.count += 1
        self.last = time.perf_counter() - self.started


class CpSatSolver(Solver):
    """Restricted (discretised) per-slot optimum with CP-SAT (``cpsat`` in the registry).

    Options: ``grid_ratio`` (default 1.25), ``compute_points`` / ``upload_points`` (grid sizes,
    None for the full grid; defaults 6 and 4), ``refine_ratios`` (finer rounds after the first, capped
    grids only; default (1.05, 1.01), () for none), ``workers`` (CP-SAT workers, default 2; ``threads``
    is an alias), ``mip_gap`` (CP-SAT's relative gap limit on its own model, default 0), ``keep``
    (keep rule, "used" default). Status ``feasible`` means CP-SAT proved its restricted model
    optimal (no claim on the slot optimum); ``time_limit`` that it stopped first. The bound is
    always ``restricted``.
    """

    name = "cpsat"

    def __init__(self, *, grid_ratio: float = 1.25, compute_points: int | None = 6, upload_points: int | None = 4,
                 refine_ratios: tuple[float, ...] = (1.05, 1.01),
                 workers: int = 2, threads: int | None = None, mip_gap: float = 0.0, keep: str = "used",
                 mip_solver: str | None = None) -> None:
        if mip_solver is not None:
            raise TadpInputError("argument", "--mip-solver",
                                 "applies to --solver highs only (CP-SAT is its own solver)")
        workers = workers if threads is None else threads
        if not (isinstance(mip_gap, (int, float)) and 0 <= mip_gap < 1):
            raise TadpInputError("argument", "--mip-gap", f"must lie in [0, 1), got {mip_gap!r}")
        if keep not in KEEP_RULES:
            raise TadpInputError("argument", "--keep", f"unknown keep rule {keep!r} (known: {', '.join(KEEP_RULES)})")
        if not (isinstance(grid_ratio, (int, float)) and grid_ratio > 1):
            raise TadpInputError("argument", "grid_ratio", f"must be a number above 1, got {grid_ratio!r}")
        for label, points in (("compute_points", compute_points), ("upload_points", upload_points)):
            if points is not None and (not isinstance(points, int) or points < 1):
                raise TadpInputError("argument", label, f"must be a positive integer or None, got {points!r}")
        if not isinstance(workers, int) or workers < 1:
            raise TadpInputError("argument", "workers", f"must be a positive integer, got {workers!r}")
        if not all(isinstance(r, (int, float)) and r > 1 for r in refine_ratios):
            raise TadpInputError("argument", "refine_ratios", f"must be numbers above 1, got {refine_ratios!r}")
        super().__init__(grid_ratio=grid_ratio, compute_points=compute_points, upload_points=upload_points,
                         refine_ratios=list(refine_ratios), workers=workers, mip_gap=float(mip_gap), keep=keep)
        self.grid = GridOptions(float(grid_ratio), compute_points, upload_points, tuple(refine_ratios))
        self.workers, self.mip_gap, self.keep = workers, float(mip_gap), keep

    def solve(self, inst: Instance, slot: int, cache: Cache, *, time_limit: float, seed: int = 0) -> SolveResult:
        started = time.perf_counter()
        decision, status, objective, bound, info = solve_slot_cpsat(
            inst, slot, cache, time_limit=time_limit, seed=seed, workers=self.workers, grid=self.grid,
            mip_gap=self.mip_gap, started=started)
        decision = apply_keep_rule(decision, self.keep)
        return finish(inst, slot, cache, decision, status=status, objective=objective, bound=bound,
                      bound_kind="restricted", started=started, info=info)


__all__ = ["SCALE", "CpSatSolver", "GridOptions", "build_grid", "scaled_down", "scaled_up", "solve_slot_cpsat",
           "unscaled"]
