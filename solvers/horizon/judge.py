"""The oracle's judgement of horizon plans: true incumbents, repairs, and plans to and from decisions
(docs/exact_horizon.md, section 3).

A *plan* (per slot: served options and place-only ones, :class:`solvers.horizon.data.SlotPlan`) is a true
incumbent when its caches chain (:func:`solvers.horizon.data.cache_chain`) and the oracle certifies every
slot's served set. :class:`Judge` memoises the oracle per (slot, served set) and *repairs* a plan it does not
certify: served options of an uncertified slot become place-only ones (which changes no cache) until the
oracle accepts, then what fits is added back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.exact.oa import Incumbent
from solvers.exact.oracle import FEASIBLE, LoadCertificate, min_max_load, option_costs, schedule_decision
from solvers.horizon.data import (
    GATE_NONE,
    NODE_EDGE,
    NODE_GATEWAY,
    HorizonData,
    HorizonSlot,
    SlotPlan,
    cache_chain,
    node_of_site,
    plan_decision,
    plan_flags,
)
from tadp.decision import SITE_GATEWAY, SITE_NONE, Decision
from tadp.evaluator import evaluate_episode
from tadp.instance import Cache

#: A repair stops adding back dropped options after this many that do not fit.
REPAIR_MISSES = 3


@dataclass(eq=False)
class HorizonIncumbent(Incumbent):
    """A true incumbent of the horizon: its plans (one per step, each step's certificate in
    ``certificates``) and the start caches u_0 .. u_H of their fewest-models chain."""

    plans: list[SlotPlan] = field(default_factory=list)
    caches: list[Cache] = field(default_factory=list)


class Judge:
    """The oracle on each step's served assignments, memoised; repairs infeasible plans."""

    def __init__(self, data: HorizonData) -> None:
        self.data = data
        self.memo: dict[tuple[int, bytes], LoadCertificate] = {}
        self.calls = 0

    def certificate(self, s: int, serve: np.ndarray) -> LoadCertificate:
        key = (s, np.sort(serve).astype(np.int64).tobytes())
        cert = self.memo.get(key)
        if cert is None:
            self.calls += 1
            opts, chosen = self.data.slots[s].serve, np.sort(serve)
            cert = min_max_load(opts, chosen, decide_only=True)  # a feasible verdict carries its schedule
            if cert.verdict != FEASIBLE:
                cert = min_max_load(opts, chosen, prices=cert.prices)  # the best prices: the deepest cut
            self.memo[key] = cert
        return cert

    def incumbent(self, plans: list[SlotPlan]) -> HorizonIncumbent | None:
        """The plans as a true incumbent (every step certified feasible, caches valid), else None."""
        caches = cache_chain(self.data.inst, self.data.slots, plans, self.data.start)
        if caches is None:
            return None
        certs = []
        for s, p in enumerate(plans):
            cert = self.certificate(s, p.serve)
            if cert.verdict != FEASIBLE:
                return None
            certs.append(cert)
        return HorizonIncumbent(self.data.value(plans), certs, plans=plans, caches=caches)

    def repair(self, plans: list[SlotPlan]) -> HorizonIncumbent | None:
        """Turn served options of uncertified steps into place-only ones (same caches: a place-only task
        brings the same model to the same site, and needs no more of the start cache) until the oracle
        certifies each step, then add back what fits, best accuracy first."""
        if cache_chain(self.data.inst, self.data.slots, plans, self.data.start) is None:
            return None
        fixed = []
        for s, p in enumerate(plans):
            cert = self.certificate(s, p.serve)
            fixed.append(p if cert.verdict == FEASIBLE else self._repair_step(s, p, cert))
        return self.incumbent(fixed)

    def _repair_step(self, s: int, plan: SlotPlan, cert: LoadCertificate) -> SlotPlan:
        hs = self.data.slots[s]
        opts = hs.serve
        serve = [int(o) for o in plan.serve]
        removed: list[int] = []
        while serve and cert.verdict != FEASIBLE:
            # at the oracle's prices the served set's priced load is Phi > 1: drop the options with the least
            # accuracy per priced load until the rest's priced load is below 1, then ask the oracle again
            costs = option_costs(opts, cert.prices / cert.prices.sum())
            total = float(costs[serve].sum())
            dropped = 0
            for o in sorted(serve, key=lambda o: opts.accuracy[o] / max(costs[o], 1e-300)):
                if total < 1.0 and dropped:
                    break
                serve.remove(o)
                removed.append(o)
                total -= float(costs[o])
                dropped += 1
            chosen = np.array(sorted(serve), int)
            cert = min_max_load(opts, chosen, prices=cert.prices, decide_only=True)
            if cert.verdict != FEASIBLE:
                cert = min_max_load(opts, chosen, prices=cert.prices)
        misses = 0
        for o in sorted(removed, key=lambda o: -opts.accuracy[o]):  # add back what fits, a few misses at most
            trial = np.array(sorted(serve + [o]), int)
            if min_max_load(opts, trial, prices=cert.prices, decide_only=True).verdict == FEASIBLE:
                serve.append(o)
            else:
                misses += 1
                if misses >= REPAIR_MISSES:
                    break
        place = [int(o) for o in plan.place]
        for o in removed:
            if o in serve:
                continue
            substitute = _place_substitute(hs, o)
            if substitute is not None:
                place.append(substitute)
        return SlotPlan(np.array(sorted(serve), np.int64), np.array(sorted(place), np.int64))


def _place_substitute(hs: HorizonSlot, o: int) -> int | None:
    """The place-only option that brings serve option o's model to its site, or None when o's model is
    resident already (its case is the resident one) and nothing needs placing. Prefers the ungated one."""
    s = hs.serve
    if hs.gate[o] != GATE_NONE and hs.gate[o] == node_of_site(int(s.site[o])):
        return None
    p = hs.place
    match = np.flatnonzero((p.task == s.task[o]) & (p.site == s.site[o]) & (p.level == s.level[o]))
    if len(match) == 0:  # cannot happen: a serve case's fetch fits the deadline, so a place-only one exists
        raise ValueError(f"no place-only option for serve option {o}")
    ungated = [k for k in match if p.gate[k] == GATE_NONE]
    chosen = ungated[0] if ungated else int(match[0])
    if p.gate[chosen] != GATE_NONE and p.gate[chosen] != hs.gate[o]:
        raise ValueError(f"place-only substitute of serve option {o} needs another start-cache flag")
    return int(chosen)


def warm_values(model: Any, inc: HorizonIncumbent) -> list[tuple[Any, float]] | None:
    """A complete MILP point for a true incumbent: choices, start caches and resident flags (and the
    variables a restriction added); None when a restriction leaves the incumbent out."""
    data: HorizonData = model.horizon_data
    z = data.choices(inc.plans)
    values = [(model.choose[k], float(z[k])) for k in range(data.n_options)]
    n = data.inst.n_devices
    for s in range(data.n_steps):
        start = np.concatenate([inc.caches[s].gateway.reshape(-1), inc.caches[s].edge.reshape(-1)])
        touch = plan_flags(data.slots[s], inc.plans[s], n)[1].reshape(-1)
        for f in model.models:
            if s > 0 or model.free_start:
                values.append((model.start_cache[s, f], float(start[f])))
            values.append((model.resident[s, f], float(start[f] or touch[f])))
    extra = getattr(model, "extra_warm", None)
    if extra is None:
        return values
    more = extra(inc.plans)
    return None if more is None else values + more


def incumbent_decisions(data: HorizonData, inc: HorizonIncumbent) -> list[Decision]:
    out = []
    for s, (hs, plan, cert) in enumerate(zip(data.slots, inc.plans, inc.certificates, strict=True)):
        served = schedule_decision(hs.serve, cert)
        out.append(plan_decision(hs, plan, served, inc.caches[s + 1]))
    return out


def plans_of_decisions(data: HorizonData, decisions: list[Decision]) -> list[SlotPlan] | None:
    """The plans of given decisions whose served tasks all complete (judged by the evaluator): each
    completed task becomes the serve option of its true fetch case, each other served task whose model
    was placed a place-only option; None when some choice has no option in the tables."""
    decisions = list(decisions[:data.n_steps])
    decisions += [Decision.drop_all(data.inst.n_devices) for _ in range(data.n_steps - len(decisions))]
    outcomes = evaluate_episode(data.inst, decisions, data.start, data.first_slot)
    cache = data.start
    plans = []
    for hs, d, out in zip(data.slots, decisions, outcomes, strict=True):
        if not out.feasible:
            plans.append(SlotPlan(np.zeros(0, np.int64), np.zeros(0, np.int64)))
            continue
        serve, place = [], []
        for j in np.flatnonzero(d.site != SITE_NONE):
            site, level = int(d.site[j]), int(d.level[j])
            node = node_of_site(site)
            if out.completed[j]:
                resident = cache.gateway[j, level] if node == NODE_GATEWAY else cache.edge[j, level]
                want = node if resident else (NODE_EDGE if site == SITE_GATEWAY and cache.edge[j, level] else GATE_NONE)
                match = np.flatnonzero((hs.serve.task == j) & (hs.serve.site == site) & (hs.serve.level == level)
                                       & (hs.gate == want))
                if len(match) == 0:
                    return None
                serve.append(int(match[0]))
            elif (out.placed.gateway if node == NODE_GATEWAY else out.placed.edge)[j, level]:
                match = np.flatnonzero((hs.place.task == j) & (hs.place.site == site) & (hs.place.level == level))
                if len(match) == 0:
                    return None
                place.append(int(match[0]))
        plans.append(SlotPlan(np.array(sorted(serve), np.int64), np.array(sorted(place), np.int64)))
        assert out.next_cache is not None
        cache = out.next_cache
    return plans


__all__ = ["REPAIR_MISSES", "HorizonIncumbent", "Judge", "incumbent_decisions", "plans_of_decisions", "warm_values"]
