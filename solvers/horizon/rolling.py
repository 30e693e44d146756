"""The horizon optimum at scale: a rolling-horizon incumbent and a block-Lagrangian bound (docs/exact_horizon.md).

When the monolithic horizon model (:mod:`solvers.horizon.monolithic`) is too large to solve, two numbers still
bracket the clairvoyant optimum OPT of slots t0 .. t0+H-1:

- :func:`rolling_horizon` (an incumbent, a lower bound on OPT): solve the horizon model over a window of W
  slots from the cache reached so far, commit its first C decisions, move on by C slots. Every committed
  decision is re-scored by the evaluator, so its episode score is a true score. Each window is seeded with
  the previous window's uncommitted plan, extended by a fast policy (greedy), so a window never does worse
  than that seed.
- :func:`block_bound` (an upper bound on OPT): cut the horizon into blocks of B slots and relax the cache
  links between blocks (C7: ``u_first(b) <= r_last(b-1)``, the first start cache of block b within the
  resident set of the last slot of block b-1) with Lagrange multipliers mu_b >= 0 per model flag:

      L(mu) = sum_b max over block b's own constraints of [ (H_b / H) score_b - mu_b . u_first(b) + mu_{b+1} . r_last(b) ]

  Every feasible episode is feasible for each block and makes ``mu_b . (r_last(b-1) - u_first(b)) >= 0``,
  so L(mu) >= OPT for every mu >= 0 (weak duality); it stays an upper bound when each block's maximum is
  replaced by an upper bound on it, the dual bound of its MILP at any time limit (that MILP is itself a
  relaxation: finitely many resource cuts). mu = 0 gives a free start cache per block. Subgradient steps
  (Polyak steps towards the incumbent, halved when L does not fall) try to lower it; the smallest L(mu) met
  is the bound.

:func:`episode_bound` picks: the monolithic solve (seeded with the better of the greedy and myopic exact
policies' episodes) when the model is small enough, else that better episode plus the block bound.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo

from solvers.base import Solver
from solvers.exact.oa import linear
from solvers.exact.options import trivial_bound
from solvers.heuristics.greedy import GreedySolver
from solvers.horizon.data import horizon_data
from solvers.horizon.model import HorizonBackend, build_horizon_model
from solvers.horizon.monolithic import HorizonResult, solve_horizon, tighten_horizon
from solvers.horizon.solver import HorizonSolver
from solvers.horizon.warm import extend_episode, warm_start_episode
from tadp.decision import Decision
from tadp.errors import TadpInputError
from tadp.evaluator import evaluate_episode
from tadp.instance import Cache, Instance

#: Share of :func:`block_bound`'s time for its first round (mu = 0, free start caches) when it iterates.
FIRST_ROUND_SHARE = 0.6
#: Largest monolithic model (options over all slots) :func:`episode_bound` solves as one MILP; beyond it,
#: rolling horizon plus block bound. (2x5 scarce, 50 slots: 7,000 options; 10x35 scarce, 10 slots: 49,000.)
MONOLITHIC_MAX_OPTIONS = 60_000


# ============================================================================ rolling horizon
def rolling_horizon(
    inst: Instance,
    n_slots: int | None = None,
    *,
    time_limit: float,
    window: int = 5,
    commit: int | None = None,
    seed: int = 0,
    first_slot: int = 0,
    start_cache: Cache | None = None,
    threads: int | None = None,
    mip_gap: float = 1e-4,
    seed_policy: Solver | None = None,
) -> HorizonResult:
    """A clairvoyant incumbent by rolling horizon (module doc): windows of ``window`` slots, the first
    ``commit`` (default ``window // 2``, at least 1) decisions of each kept; the last window commits all.
    ``time_limit`` is shared by the windows in proportion to their length; each window stops at relative
    gap ``mip_gap`` (a heuristic needs no proof). Each window starts from an incumbent: the previous
    window's uncommitted decisions, then ``seed_policy`` (default :class:`solvers.heuristics.greedy.GreedySolver`, a
    fast heuristic) slot by slot for the window's new slots, so that a window short of time still returns a
    sensible plan. Status ``feasible``: a true episode (re-scored by the evaluator) with no optimality
    claim; its ``bound`` is infinite."""
    started = time.perf_counter()
    if window < 1:
        raise TadpInputError("argument", "window", f"must be >= 1, got {window}")
    step = max(1, window // 2) if commit is None else commit
    if not 1 <= step <= window:
        raise TadpInputError("argument", "commit", f"must lie in 1..{window}, got {commit}")
    n = inst.n_slots - first_slot if n_slots is None else n_slots
    if not (0 <= first_slot and n >= 1 and first_slot + n <= inst.n_slots):
        raise TadpInputError("argument", "--slots", f"slots {first_slot}..{first_slot + n - 1} not in the trace")
    cache = inst.initial_cache if start_cache is None else start_cache
    policy = GreedySolver() if seed_policy is None else seed_policy
    end = first_slot + n
    decisions: list[Decision] = []
    claims: list[float] = []
    plan: list[Decision] = []  # the last window's decisions not committed yet (seed of the next window)
    windows, proven = 0, 0
    t = first_slot
    while t < end:
        w = min(window, end - t)
        keep = w if t + w >= end else step
        remaining = started + time_limit - time.perf_counter()
        # share the time left over the windows left, weighted by their length
        left = max(1, math.ceil((end - t - w) / step)) if t + w < end else 0
        limit = max(remaining * w / (w + left * window), 0.05)
        plan = extend_episode(inst, plan, w, t, cache, policy, time_limit=w, seed=seed)
        res = solve_horizon(inst, w, time_limit=limit, seed=seed, first_slot=t, start_cache=cache,
                            threads=threads, incumbent=plan, mip_gap=mip_gap)
        windows += 1
        proven += res.status == "optimal"
        if res.status == "error":
            raise RuntimeError(f"window at slot {t}: {res.info.get('error')}")
        committed = res.decisions[:keep]
        claims += res.slot_objectives[:keep]
        outcomes = evaluate_episode(inst, committed, cache, t)
        decisions += committed
        assert outcomes[-1].next_cache is not None
        cache = outcomes[-1].next_cache
        plan = res.decisions[keep:]
        t += keep
    outcomes = evaluate_episode(inst, decisions, start_cache, first_slot)
    scores = [o.score for o in outcomes]
    info = {"windows": windows, "windows_proven": proven, "window": window, "commit": step}
    return HorizonResult(decisions, float(np.mean(claims)), math.inf, "feasible", time.perf_counter() - started,
                         scores, first_slot, info, claims)


# ============================================================================ block Lagrangian bound
@dataclass(eq=False)
class _Block:
    """One block of the Lagrangian relaxation: its model, back end and last solution."""

    first: int  # first slot
    length: int
    model: Any
    backend: HorizonBackend
    trivial: float  # its score with every task at its best option (a bound on the block's score)
    bound: float = math.inf  # upper bound on the block's Lagrangian maximum at the current multipliers
    start: np.ndarray = field(default_factory=lambda: np.zeros(0))  # u of its first step (model flags order)
    last: np.ndarray = field(default_factory=lambda: np.zeros(0))  # r of its last step


@dataclass(eq=False)
class BlockBound:
    """Result of :func:`block_bound`."""

    bound: float  # valid upper bound on the horizon optimum (the smallest L(mu) met)
    iterations: int
    history: list[float]  # L(mu) of each iteration
    time_s: float
    info: dict[str, Any] = field(default_factory=dict)


def _set_block_objective(block: _Block, weight: float, price_in: np.ndarray | None, price_out: np.ndarray | None
                         ) -> None:
    """Objective of block b: its score (mean over its slots) plus, in the same units divided by its weight
    H_b / H, ``-mu_b . u_first`` and ``+mu_{b+1} . r_last`` (module doc)."""
    m = block.model
    data = m.horizon_data
    flags = list(m.models)
    coefs = list(data.accuracy / (data.inst.n_devices * data.n_steps))
    variables = [m.choose[k] for k in range(data.n_options)]
    if price_in is not None:
        coefs += list(-price_in / weight)
        variables += [m.start_cache[0, f] for f in flags]
    if price_out is not None:
        coefs += list(price_out / weight)
        variables += [m.resident[data.n_steps - 1, f] for f in flags]
    if hasattr(m, "lagrangian"):
        m.del_component(m.lagrangian)
    m.accuracy.deactivate()
    m.lagrangian = pyo.Objective(expr=linear(coefs, variables), sense=pyo.maximize,
                                 doc="block score plus the Lagrangian terms of the relaxed cache links (C7)")
    block.backend.opt.set_objective(m.lagrangian)


def block_bound(
    inst: Instance,
    n_slots: int | None = None,
    *,
    time_limit: float,
    block: int = 10,
    incumbent: float | None = None,
    iterations: int = 6,
    seed: int = 0,
    first_slot: int = 0,
    start_cache: Cache | None = None,
    threads: int | None = None,
) -> BlockBound:
    """An upper bound on the clairvoyant optimum by relaxing the cache links between blocks of ``block``
    slots (module doc). ``incumbent`` (an episode score, e.g. from :func:`rolling_horizon`) sets the Polyak
    steps; without it the multipliers stay at 0 (free start caches: one iteration)."""
    started = time.perf_counter()
    deadline = started + time_limit
    n = inst.n_slots - first_slot if n_slots is None else n_slots
    start = inst.initial_cache if start_cache is None else start_cache
    firsts = list(range(first_slot, first_slot + n, block))
    blocks: list[_Block] = []
    for b, t in enumerate(firsts):
        length = min(block, first_slot + n - t)
        data = horizon_data(inst, t, length, start if b == 0 else Cache.empty(inst.n_devices))
        model = build_horizon_model(data, free_start=b > 0)
        trivial = sum(trivial_bound(hs.serve) for hs in data.slots) / length
        blocks.append(_Block(t, length, model, HorizonBackend(model, threads, seed), trivial))
    flags = list(blocks[0].model.models)  # the same model flags in every block (same instance)
    prices = [np.zeros(len(flags)) for _ in range(len(blocks) - 1)]  # mu of the link into block b + 1
    weights = [blk.length / n for blk in blocks]
    history: list[float] = []
    best = math.inf
    best_prices = prices
    theta = 1.0  # Polyak step factor, halved whenever a step does not lower L (ties make subgradients poor)
    rounds = 0
    max_rounds = iterations if incumbent is not None else 1
    # ---- the LP of each block tightened once (its resource cuts stay valid whatever the objective)
    for blk in blocks:
        tighten_horizon(blk.model, blk.backend, min(deadline, time.perf_counter() + time_limit / (4 * len(blocks))))
    while rounds < max_rounds and (rounds == 0 or time.perf_counter() < deadline):
        rounds += 1
        total = 0.0
        for b, blk in enumerate(blocks):
            _set_block_objective(blk, weights[b], prices[b - 1] if b > 0 else None,
                                 prices[b] if b < len(blocks) - 1 else None)
            left = deadline - time.perf_counter()
            # the free-start round (mu = 0) usually gives the bound: it gets most of the time
            share = FIRST_ROUND_SHARE if rounds == 1 and max_rounds > 1 else 1.0 / (max_rounds - rounds + 1)
            per_block = max(left * share / (len(blocks) - b), 0.05)
            res = blk.backend.solve(per_block, 1e-6)
            # no bound in time: the trivial one (every task at its best option, every reward for r_last taken)
            fallback = blk.trivial + (float(prices[b].sum()) / weights[b] if b < len(blocks) - 1 else 0.0)
            blk.bound = min(res.bound, fallback) if res.bound is not None and math.isfinite(res.bound) else fallback
            total += weights[b] * blk.bound
            if res.values is not None:
                m = blk.model
                last = blk.length - 1
                blk.start = np.array([res.values.get(m.start_cache[0, f], 0.0) or 0.0 for f in flags]) \
                    if b > 0 else np.zeros(len(flags))
                blk.last = np.array([res.values.get(m.resident[last, f], 0.0) or 0.0 for f in flags])
        history.append(total)
        if incumbent is None or len(blocks) == 1:
            best = min(best, total)
            break
        if total < best:
            best, best_prices = total, prices
            # ---- Polyak subgradient step (minimise L): the gradient of L at mu_b is r_last(b-1) - u_first(b)
            grads = [blocks[b].last - blocks[b + 1].start for b in range(len(blocks) - 1)]
        else:  # no progress: back to the best multipliers, shorter steps
            theta /= 2
        norm = sum(float(g @ g) for g in grads)
        if norm == 0:
            break  # the relaxed links hold at the blocks' solutions
        step = theta * max(best - incumbent, 0.0) / norm
        prices = [np.maximum(0.0, p - step * g) for p, g in zip(best_prices, grads, strict=True)]
    info = {"blocks": len(blocks), "block": block}
    return BlockBound(best, rounds, history, time.perf_counter() - started, info)


# ============================================================================ for the harness
@dataclass(frozen=True)
class EpisodeBound:
    """The clairvoyant optimum of an episode, or a bound on it with an incumbent."""

    incumbent: float  # the best episode score met (the evaluator's)
    bound: float  # a valid upper bound on the horizon optimum
    status: str  # "optimal" (bound = incumbent within 1e-6, relative) or "time_limit"


def episode_bound(inst: Instance, n_slots: int | None = None, time_limit: float = 600.0, *, seed: int = 0
                  ) -> EpisodeBound:
    """The incumbent episode score, a valid upper bound on the clairvoyant optimum and the status for
    slots 0 .. n_slots-1 within about ``time_limit`` seconds; status ``optimal`` when proven (relative
    gap <= 1e-6), else ``time_limit``. The incumbent is an episode the evaluator scored.

    Up to :data:`MONOLITHIC_MAX_OPTIONS` options the horizon is solved whole by :class:`HorizonSolver` with its
    defaults (slot bands up to 16 tasks per slot, else the monolithic model seeded with the better of the greedy
    policy's episode and the myopic exact policy's, 10% of the time spread over the slots). Beyond, the incumbent
    is that better episode (the myopic policy on 30% of the time) and the bound :func:`block_bound` (blocks of 10
    slots) on the rest. (:func:`rolling_horizon` gives better incumbents than the myopic policy but needs a MILP
    per window: too slow for a benchmark cell at that size.)"""
    started = time.perf_counter()
    n = inst.n_slots if n_slots is None else n_slots
    if not 1 <= n <= inst.n_slots:
        raise TadpInputError("argument", "--slots", f"must lie in 1..{inst.n_slots}, got {n}")
    size = horizon_data(inst, 0, 1, inst.initial_cache).n_options * n  # the first slot's options times n
    if size <= MONOLITHIC_MAX_OPTIONS:
        res = HorizonSolver().solve_horizon(inst, n, time_limit=time_limit, seed=seed)
        if res.status == "error":
            raise RuntimeError(res.info.get("error"))
        return EpisodeBound(res.score, res.bound, res.status)
    episode = warm_start_episode(inst, n, 0, inst.initial_cache, "both", 0.3 * time_limit, seed)
    assert episode is not None
    incumbent = float(np.mean([o.score for o in evaluate_episode(inst, episode)]))
    left = max(time_limit - (time.perf_counter() - started), 0.1)
    bb = block_bound(inst, n, time_limit=left, incumbent=incumbent, seed=seed)
    bound = max(bb.bound, incumbent)
    status = "optimal" if bound - incumbent <= 1e-6 * incumbent else "time_limit"
    return EpisodeBound(incumbent, bound, status)


__all__ = ["MONOLITHIC_MAX_OPTIONS", "BlockBound", "EpisodeBound", "block_bound", "episode_bound", "rolling_horizon"]
