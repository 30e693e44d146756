"""Exhaustive enumeration of whole episodes on tiny instances: the reference of the horizon solver's tests.

Independent of the horizon model: it walks the cache states the evaluator itself produces. From a start cache
u at slot t, every *slot choice* is tried: per task, none, or a served option that completes (the per-slot
options of :func:`solvers.exact.options.slot_options` at the true cache u), or a place-only service (the task
is served with zero shares at a site where its model is missing and the fetch fits the deadline, [D6]: it
earns nothing and places the model). The served set must pass the exact continuous oracle
(:func:`solvers.exact.oracle.min_max_load`); the decision (shares from the oracle's schedule, zero shares for
place-only tasks) goes to the evaluator (:func:`tadp.evaluator.evaluate_batch`), which judges the caches (C6)
and gives the score and the resident set r. Then every keep choice is tried: the next start cache is any
subset of r (C7). A dynamic programme over (slot, start cache) gives the best episode.

This covers every decision the evaluator accepts, up to dominance: a served task that completes is one of
the options; a served task that is late earns nothing and at most places its model, which a place-only
service does with no share drawn; the keep flags only select the subset of r. (Knife-edge assignments the
oracle cannot certify, within ~1e-9 of a full pool, are recorded in ``uncertain`` and left out, as in
:func:`solvers.exact.enumerate.enumerate_optimum`; so are completions within the evaluator's 1e-9 s
tolerance past Tmax.) Exponential: N <= 3 and 2-3 slots at most.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

import numpy as np

from solvers.exact.options import slot_options
from solvers.exact.oracle import FEASIBLE, UNCERTAIN, LoadCertificate, min_max_load, schedule_decision
from tadp.decision import SITE_EDGE, SITE_GATEWAY, Decision
from tadp.evaluator import evaluate_batch
from tadp.instance import Cache, Instance
from tadp.physics import fetch_times, within_deadline


@dataclass
class EpisodeEnumeration:
    """Result of :func:`enumerate_episode`."""

    value: float  # best episode score (mean of slot scores)
    decisions: list[Decision]  # one optimal episode (keep flags set)
    states: int  # (slot, start cache) states visited
    uncertain: list[float] = field(default_factory=list)  # slot scores of knife-edge slot choices left out


def _slot_choices(inst: Instance, slot: int, cache: Cache, oracle: dict, uncertain: list[float]
                  ) -> dict[bytes, tuple[float, Decision, Cache]]:
    """Best slot score per resident set r, over every slot choice from ``cache``: r's key -> (score, decision
    without keep flags, r). ``oracle`` memoises certificates by (slot, served (task, site, level, fetch))."""
    opts = slot_options(inst, slot, cache)
    n = inst.n_devices
    gw_fetch, edge_fetch = fetch_times(inst, cache.gateway, cache.edge)
    deadline = inst.deadline[slot]
    per_task: list[list[tuple[str, int, int, int]]] = []
    for j in range(n):
        choices = [("none", -1, 0, 0)]
        choices += [("serve", int(o), 0, 0) for o in opts.options_of(j)]
        for level in (0, 1):
            if not cache.gateway[j, level] and within_deadline(gw_fetch[j, level], deadline[j]):
                choices.append(("place", -1, SITE_GATEWAY, level))
            if not cache.edge[j, level] and within_deadline(edge_fetch[j, level], deadline[j]):
                choices.append(("place", -1, SITE_EDGE, level))
        per_task.append(choices)

    served: dict[tuple[int, ...], Decision | None] = {}
    decisions: list[Decision] = []
    values: list[float] = []
    for combo in itertools.product(*per_task):
        serve = tuple(o for kind, o, _, _ in combo if kind == "serve")
        if serve not in served:
            chosen = np.array(serve, int)
            key = (slot, tuple((int(opts.task[o]), int(opts.site[o]), int(opts.level[o]), float(opts.fetch[o]))
                               for o in serve))
            if key not in oracle:
                oracle[key] = min_max_load(opts, chosen, decide_only=True)
            cert = oracle[key]
            if cert.verdict == UNCERTAIN:
                uncertain.append(opts.value(chosen))
            served[serve] = schedule_decision(opts, _rebased(cert, chosen)) if cert.verdict == FEASIBLE else None
        base = served[serve]
        if base is None:
            continue
        decision = base.copy()
        for j, (kind, _, site, level) in enumerate(combo):
            if kind == "place":
                decision.site[j] = site
                decision.level[j] = level
        decisions.append(decision)
        values.append(opts.value(np.array(serve, int)))

    best: dict[bytes, tuple[float, Decision, Cache]] = {}
    if not decisions:
        return best
    k = len(decisions)
    out = evaluate_batch(
        inst, np.full(k, slot), np.broadcast_to(cache.gateway, (k, n, 2)), np.broadcast_to(cache.edge, (k, n, 2)),
        *(np.stack([getattr(d, name) for d in decisions]) for name in
          ("site", "level", "uplink_share", "bs_share", "compute_share", "keep_gateway", "keep_edge")))
    for b in np.flatnonzero(out.feasible):  # infeasible rows: C6, the placements do not fit
        score = float(out.score[b])
        if abs(score - values[b]) > 1e-9:
            raise RuntimeError(f"slot {slot}: a certified served set did not complete")
        resident = Cache(cache.gateway | out.placed_gateway[b], cache.edge | out.placed_edge[b])
        key = resident.gateway.tobytes() + resident.edge.tobytes()
        if key not in best or score > best[key][0]:
            best[key] = (score, decisions[b], resident)
    return best


def _rebased(cert: LoadCertificate, chosen: np.ndarray) -> LoadCertificate:
    """A memoised certificate for the options ``chosen`` of the current table (same rows, same order)."""
    return dataclasses.replace(cert, chosen=chosen)


def _subsets(resident: Cache) -> list[Cache]:
    flags = np.concatenate([resident.gateway.reshape(-1), resident.edge.reshape(-1)])
    on = np.flatnonzero(flags)
    n = resident.gateway.shape[0]
    out = []
    for mask in range(1 << len(on)):
        chosen = np.zeros_like(flags)
        chosen[on[[k for k in range(len(on)) if mask >> k & 1]]] = True
        out.append(Cache(chosen[:2 * n].reshape(n, 2), chosen[2 * n:].reshape(n, 2)))
    return out


def enumerate_episode(inst: Instance, n_slots: int | None = None, *, start: Cache | None = None,
                      first_slot: int = 0) -> EpisodeEnumeration:
    """The clairvoyant optimum of slots ``first_slot ..`` by dynamic programming over every slot choice and
    every keep choice (module doc)."""
    horizon = inst.n_slots - first_slot if n_slots is None else n_slots
    start = inst.initial_cache if start is None else start
    uncertain: list[float] = []
    oracle: dict = {}
    memo: dict[tuple[int, bytes], tuple[float, list[Decision]]] = {}

    def value(step: int, cache: Cache) -> tuple[float, list[Decision]]:
        if step == horizon:
            return 0.0, []
        key = (step, cache.gateway.tobytes() + cache.edge.tobytes())
        if key in memo:
            return memo[key]
        best = (-1.0, [])
        for score, decision, resident in _slot_choices(inst, first_slot + step, cache, oracle, uncertain).values():
            for keep in _subsets(resident):
                rest, tail = value(step + 1, keep)
                if score + rest > best[0] + 1e-12:
                    d = decision.copy()
                    d.keep_gateway, d.keep_edge = keep.gateway.copy(), keep.edge.copy()
                    best = (score + rest, [d, *tail])
        memo[key] = best
        return best

    total, decisions = value(0, start)
    return EpisodeEnumeration(total / horizon, decisions, len(memo), uncertain)


__all__ = ["EpisodeEnumeration", "enumerate_episode"]
