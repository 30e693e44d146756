"""From the policy's per-task distributions to feasible slot decisions (docs/neural.md, "Decoding").

1. **Candidates**: K assignments of a class to every task (0 drop, 1-4 the options of
   :data:`tadp.sizing.OPTIONS`): the argmax of every task's distribution, then K - 1 samples.
2. **Prices**: per candidate, prices on the share pools (:class:`tadp.physics.Pools`) that balance its
   loads, by multiplicative price adjustment (tatonnement): every task's shares are sized to its
   deadline at the prices (:func:`tadp.sizing.chosen_task_shares`), each pool's price is multiplied by
   (load / largest load)^2. The fixed point is the oracle's min-max-load split (docs/exact.md,
   section 2), so a feasible assignment gets shares that fit; a dozen rounds get within about 1e-4.
3. **Repair**: while a candidate's balanced loads exceed a pool (or its placements a cache), its least
   certain tasks on the overfull pools move to their next option by the policy's probability (or are
   dropped), enough for half the excess, and the prices are re-balanced.
4. **Admission** in the policy's order (the sampled class's log-probability, most certain first): each
   task gets its class's option if its deadline-sized shares fit the room left in every pool it draws
   on and its model fits the cache room left (capacity less the start cache, less placements so far);
   else the next option by the policy's probability; else it is dropped. Tasks whose class is drop come
   last, with their likeliest option: they can only use what nobody else needed. The longest prefix of
   the order that fits whole is admitted at once (prefix sums); the rest one task at a time.
   The evaluator scores all K candidates.
5. **Refill** (:func:`refill`) of the :data:`REFILL_BEST` best candidates that dropped a task able to
   complete: prices re-balanced on what was admitted, then each dropped task is admitted where it now
   fits, or where it fits once some heavy models turn light (less accuracy lost than the task brings;
   a light model may be placed where a cache has room),
   or, last, where it fits with every price re-balanced for the assignment with it.
   The revisited candidates are scored again.
6. **Upgrade** (:func:`upgrade`) of the best candidate: at prices balanced for it, its light tasks, most
   accuracy gained first, take a heavy model wherever the extra demand fits the room left (at a gateway
   only if the heavy model is resident there: :data:`UPGRADE_PLACES_AT_GATEWAYS`); prices re-balanced,
   up to :data:`UPGRADE_ROUNDS` passes. Kept if the evaluator scores it higher.
7. **Shares**: admitted demands, each pool scaled up to fill it (:func:`tadp.sizing.fill_pools`);
   keep flags by the keep rule (``used``, docs/model.md, section 6). Every candidate is feasible by
   construction; the best-scoring one is returned.

The loops per candidate and per task of steps 2-6 are compiled (:mod:`.compiled`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.base import apply_keep_rule
from solvers.learned.neural.compiled import (
    admit_in_turn,
    balance,
    downgrades_for,
    every_option,
    option_demands,
    repair_round,
    upgrade_in_turn,
)
from tadp.decision import SITE_NONE, Decision
from tadp.evaluator import evaluate_batch
from tadp.instance import Cache, Instance
from tadp.physics import Pools
from tadp.sizing import OPTIONS, TaskTimes, fill_pools, pool_room, task_times

#: Rounds of price adjustment for the first candidate, and for the others (started from its prices).
PRICE_ROUNDS, SAMPLE_PRICE_ROUNDS = 12, 4
#: Rounds of repair (each moves a few tasks of every candidate that does not fit yet).
REPAIR_ROUNDS = 24
#: Share of a share pool's excess one repair round moves off it.
REPAIR_FRACTION = 0.5
#: Candidates (the best by score after admission) that step 5 revisits, and its rounds of re-pricing.
REFILL_BEST, REFILL_ROUNDS = 4, 4
#: Trials of a dropped task with every price re-balanced, per candidate revisited (step 5, last resort).
REFILL_TRIALS = 32
#: Passes of the upgrade step (6) on the best candidate.
UPGRADE_ROUNDS = 3
#: Whether an upgrade may place a heavy model in a gateway cache (False: only where it is resident already;
#: docs/neural.md, "Decoding", step 6, says why).
UPGRADE_PLACES_AT_GATEWAYS = False
#: Slack on share pools in admission (shares are renormalised afterwards; docs/model.md, section 5b).
_SLACK = 1e-12


@dataclass(eq=False)
class SlotTasks:
    """One slot's tasks and start cache, as the decoder needs them."""

    slot: int
    data: np.ndarray
    deadline: np.ndarray
    noisy: np.ndarray
    cache: Cache

    @staticmethod
    def of(inst: Instance, slot: int, cache: Cache) -> SlotTasks:
        return SlotTasks(slot, inst.data[slot], inst.deadline[slot], inst.noisy[slot], cache)


@dataclass(eq=False)
class Candidates:
    """K decoded candidates of one slot, scored by the evaluator (arrays lead with the candidate axis)."""

    classes: np.ndarray  # (K, N) sampled classes (0 drop, 1 + option)
    choice: np.ndarray  # (K, N) admitted option (-1: dropped)
    batch: Decision  # the K decisions as one Decision of (K, N) arrays, keep flags all False
    score: np.ndarray  # (K,) the evaluator's slot scores
    completion: np.ndarray  # (K,)

    @property
    def best(self) -> int:
        """The best-scoring candidate (ties: the first, i.e. the argmax)."""
        return int(np.argmax(self.score))

    def decision(self, row: int, keep: str = "used") -> Decision:
        """Candidate ``row`` as a decision, keep flags by the keep rule (docs/model.md, section 6)."""
        b = self.batch
        one = Decision(b.site[row].copy(), b.level[row].copy(), b.uplink_share[row].copy(), b.bs_share[row].copy(),
                       b.compute_share[row].copy(), b.keep_gateway[row].copy(), b.keep_edge[row].copy())
        return apply_keep_rule(one, keep)


def sample_classes(probs: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """(k, N) classes: the argmax of each row of ``probs`` (N, 5), then k - 1 independent samples."""
    out = np.empty((k, probs.shape[0]), np.int64)
    out[0] = probs.argmax(axis=1)
    if k > 1:
        cdf = np.cumsum(probs, axis=1)
        u = rng.random((k - 1, probs.shape[0], 1)) * cdf[:, -1:]
        out[1:] = np.minimum((cdf[None] < u).sum(axis=2), probs.shape[1] - 1)
    return out


def _loads(inst: Instance, pools: Pools, option: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """(K, n_share) pool loads of the served tasks' shares (K, N, 3); ``option`` (K, N), -1 unserved."""
    served = option >= 0
    at_edge = option >= 2
    at_gateway = served & ~at_edge
    member = inst.gateway_membership
    loads = np.empty(option.shape[:-1] + (pools.n_share,))
    loads[..., pools.band] = (shares[..., 0] * served) @ member
    loads[..., pools.compute] = (shares[..., 2] * at_gateway) @ member
    loads[..., pools.bs] = (shares[..., 1] * at_edge).sum(-1)
    loads[..., pools.edge_compute] = (shares[..., 2] * at_edge).sum(-1)
    return loads


def _option_table(inst: Instance, times: TaskTimes, price: np.ndarray) -> np.ndarray:
    """:func:`every_option` of one slot's tasks at ``price`` (n_share,)."""
    return every_option(np.ascontiguousarray(price, dtype=float), inst.n_gateways, inst.device_gateway,
                         times.budget, times.fetch, times.work, times.uplink_seconds, times.bs_seconds)


def balanced_prices(inst: Instance, times: TaskTimes, option: np.ndarray, rounds: int,
                    start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Prices (K, n_share) balancing the loads of the assignments ``option`` (K, N) (module docstring,
    step 2; the rounds: :func:`balance`), and the tasks' shares at them (K, N, 3). Pools nobody uses get
    the median price."""
    pools = Pools(inst.n_gateways)
    prices = np.ones((option.shape[0], pools.n_share)) if start is None else start.astype(float)
    shares, loads = balance(prices, rounds, inst.n_gateways, inst.device_gateway, np.ascontiguousarray(option),
                             times.budget, times.fetch, times.work, times.uplink_seconds, times.bs_seconds)
    unused = loads <= 0
    if unused.any():
        masked = np.where(unused, np.nan, prices)
        median = np.nan_to_num(np.nanmedian(masked, axis=1, keepdims=True) if (~unused).any(axis=1).all()
                               else np.array([[np.median(p[~u]) if (~u).any() else 1.0]
                                              for p, u in zip(prices, unused, strict=True)]), nan=1.0)
        prices = np.where(unused, median, prices)
    return prices, shares


def _cache_loads(inst: Instance, pools: Pools, option: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray]:
    """Bits each task's option places (K, N) and the bits placed per cache node (K, G + 1)."""
    rows = np.arange(inst.n_devices)
    served, at_edge = option >= 0, option >= 2
    level = np.maximum(option, 0) % 2
    resident = np.where(at_edge, cache.edge[rows, level], cache.gateway[rows, level])
    bits = np.where(served & ~resident, inst.model_size[rows, level], 0.0)
    node = np.where(at_edge, inst.n_gateways, inst.device_gateway)
    k, width = option.shape[0], inst.n_gateways + 1
    flat = (node + width * np.arange(k)[:, None]).ravel()
    placed = np.bincount(flat, weights=bits.ravel(), minlength=k * width).reshape(k, width)
    return bits, placed


def repair(inst: Instance, times: TaskTimes, cache: Cache, probs: np.ndarray, possible: np.ndarray,
           option: np.ndarray, orders: np.ndarray, prices: np.ndarray, shares: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Make K assignments (nearly) fit before admission (module docstring, step 3): while a candidate's
    balanced loads exceed a pool (or its placements a cache), the least certain tasks on such pools
    (:func:`repair_round`) move to their next option by the policy's probability (or are dropped), and the
    prices are re-balanced. Returns options, prices and shares."""
    pools = Pools(inst.n_gateways)
    room = pool_room(inst, cache)
    cache_room = np.append(room[pools.cache], room[pools.edge_cache])
    option = option.copy()
    tried = np.zeros(option.shape + (4,), bool)
    np.put_along_axis(tried, np.maximum(option, 0)[..., None], (option >= 0)[..., None], axis=2)
    ranking = np.argsort(-probs[:, 1:], axis=1, kind="stable")
    for _ in range(REPAIR_ROUNDS):
        bad = np.flatnonzero(repair_round(option, tried, shares, orders, ranking, possible, inst.n_gateways,
                                           inst.device_gateway, inst.model_size, cache.gateway, cache.edge,
                                           cache_room, REPAIR_FRACTION))
        if not len(bad):
            break
        p, sh = balanced_prices(inst, times, option[bad], SAMPLE_PRICE_ROUNDS, start=prices[bad])
        prices[bad], shares[bad] = p, sh
    return option, prices, shares


def admission_orders(probs: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(K, N) the order in which each candidate's tasks are admitted: served classes by their
    log-probability, most certain first, then the dropped ones by their likeliest option."""
    chosen = np.take_along_axis(probs[None], classes[..., None], axis=2)[..., 0]
    key = np.where(classes > 0, chosen, probs[:, 1:].max(axis=1)[None] - 2.0)
    return np.argsort(-key, axis=1, kind="stable")


def admit(inst: Instance, times: TaskTimes, cache: Cache, probs: np.ndarray, option: np.ndarray,
          orders: np.ndarray, prices: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Admission of K candidates (module docstring, step 4): options (K, N) (-1 for class drop), orders
    (K, N), prices (K, n_share) and the options' shares at them (K, N, 3). Returns the admitted option
    (K, N), -1 dropped, and its shares (K, N, 3)."""
    pools = Pools(inst.n_gateways)
    k, n = option.shape
    room = pool_room(inst, cache)
    limit = room.copy()
    limit[: pools.n_share] += _SLACK
    served = option >= 0
    choice = option.copy()
    picked = np.where(served[..., None], shares, 0.0)
    # a candidate whose whole assignment fits is admitted at once (every prefix of it fits too)
    _, placed = _cache_loads(inst, pools, option, cache)
    totals = np.concatenate([_loads(inst, pools, option, np.nan_to_num(shares, nan=np.inf)), placed], axis=1)
    whole = (totals <= np.concatenate([limit[: pools.n_share], limit[pools.cache], limit[[pools.edge_cache]]])).all(1)
    ranking = np.argsort(-probs[:, 1:], axis=1, kind="stable")  # each task's options, likeliest first
    bits = np.where(np.concatenate([cache.gateway, cache.edge], axis=1), 0.0,
                    np.tile(inst.model_size, 2))  # bits each option places, (N, 4)
    for c in range(k):
        if whole[c] and served[c].all():
            continue
        order = orders[c]
        if whole[c]:
            full = _option_table(inst, times, prices[c])
            prefix, used = int(served[c].sum()), totals[c]
            left = room - np.concatenate([used[: pools.n_share], used[pools.n_share:]])
        else:  # the longest prefix of the order that fits whole, by prefix sums
            full, table = _sized_options(inst, pools, times, cache, prices[c])
            demand = np.where(served[c][:, None], table[np.arange(n), np.maximum(option[c], 0)], 0.0)
            cumulative = np.cumsum(demand[order], axis=0)
            over = np.flatnonzero((cumulative > limit).any(axis=1))
            prefix = min(int(over[0]) if len(over) else n, int(served[c].sum()))
            left = room - (cumulative[prefix - 1] if prefix else 0.0)
        late = order[prefix:]
        choice[c, late] = -1
        # the rest one at a time: the first option that fits, the class's then the likeliest
        admit_in_turn(late, option[c], ranking, full, bits, left, inst.device_gateway, pools.n_gateways, choice[c],
                      _SLACK)
        now = late[choice[c, late] >= 0]
        picked[c, late] = 0.0
        picked[c, now] = full[now, choice[c, now]]
    return choice, picked


def _sized_options(inst: Instance, pools: Pools, times: TaskTimes, cache: Cache, prices: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Every option's shares (N, 4, 3) at ``prices`` (n_share,) and its demand on every pool (N, 4, P)."""
    full = _option_table(inst, times, prices)
    return full, option_demands(np.nan_to_num(full, nan=np.inf), pools.n_gateways, inst.device_gateway,
                                inst.model_size, cache.gateway, cache.edge)


def _option_values(inst: Instance, tasks: SlotTasks) -> np.ndarray:
    """(N, 4) the accuracy each task earns with each option of :data:`OPTIONS` if it completes."""
    accuracy = inst.accuracy[np.arange(inst.n_devices), np.asarray(tasks.noisy, int)]  # (N, level)
    return accuracy[:, [level for _, level in OPTIONS]]


def _room_left(room: np.ndarray, demand: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """(P,) what is left of ``room`` once the tasks served by ``choice`` (N,) draw their ``demand`` (N, 4, P)."""
    served = np.flatnonzero(choice >= 0)
    return room - demand[served, choice[served]].sum(axis=0)


def _chosen_shares(full: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """(N, 3) each task's shares under ``choice`` (N,) from every option's shares ``full`` (N, 4, 3); 0 if dropped."""
    return np.where((choice >= 0)[:, None], full[np.arange(len(choice)), np.maximum(choice, 0)], 0.0)


def refill(inst: Instance, times: TaskTimes, tasks: SlotTasks, probs: np.ndarray, possible: np.ndarray,
           choice: np.ndarray, picked: np.ndarray, prices: np.ndarray, orders: np.ndarray, only: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Second chance for dropped tasks (module docstring, step 5). For each candidate of ``only`` that
    dropped a task able to complete: prices re-balanced on what it admitted (its admitted tasks keep their
    option; if they no longer fit at these prices, the candidate is left as it is); then each dropped
    task, in the candidate's order, gets the first option by the policy's probability that fits the room
    left, or that fits once some served heavy models turn light (:func:`.compiled.downgrades_for`), or, last (at
    most :data:`REFILL_TRIALS` tries per candidate), that fits with every price re-balanced for the
    assignment with it. Returns the new choice and shares, (K, N) and (K, N, 3)."""
    pools = Pools(inst.n_gateways)
    cache = tasks.cache
    waiting = (choice < 0) & possible.any(axis=1)[None]
    rows = only[waiting[only].any(axis=1)]
    if not len(rows):
        return choice, picked
    choice, picked = choice.copy(), picked.copy()
    new_prices, _ = balanced_prices(inst, times, choice[rows], REFILL_ROUNDS, start=prices[rows])
    room = pool_room(inst, cache)
    value = _option_values(inst, tasks)
    ranking = np.argsort(-probs[:, 1:], axis=1, kind="stable")
    cache_room = np.append(room[pools.cache], room[pools.edge_cache])
    for i, c in enumerate(rows):
        price = new_prices[i]
        full, demand = _sized_options(inst, pools, times, cache, price)
        ch = choice[c]
        left = _room_left(room, demand, ch)
        if (left[: pools.n_share] < -_SLACK).any():
            continue  # re-balancing did not converge far enough: keep the admitted shares
        trials = 0
        for j in orders[c][waiting[c][orders[c]]]:
            fitted = False
            for k in ranking[j]:
                if not possible[j, k]:
                    continue
                short = demand[j, k] - left
                short[: pools.n_share] -= _SLACK
                if (short <= 0).all():
                    ch[j], fitted = k, True
                    left -= demand[j, k]
                    break
                found, down = downgrades_for(short, j, float(value[j, k]), ch, demand, value, possible)
                if not found:
                    continue
                left -= (demand[down, ch[down] - 1] - demand[down, ch[down]]).sum(axis=0) + demand[j, k]
                ch[down] -= 1
                ch[j], fitted = k, True
                break
            if fitted or trials >= REFILL_TRIALS:
                continue
            for k in ranking[j]:  # last: the task with its option, every price re-balanced
                if not possible[j, k] or trials >= REFILL_TRIALS:
                    continue
                trials += 1
                trial = ch.copy()
                trial[j] = k
                p, sh = balanced_prices(inst, times, trial[None], REFILL_ROUNDS, start=price[None])
                loads = _loads(inst, pools, trial[None], np.fmin(sh, 1e3))[0]
                placed = _cache_loads(inst, pools, trial[None], cache)[1][0]
                if (loads <= 1.0).all() and (placed <= cache_room).all():
                    ch[j], price = k, p[0]
                    full, demand = _sized_options(inst, pools, times, cache, price)
                    left = _room_left(room, demand, ch)
                    break
        picked[c] = _chosen_shares(full, ch)
    return choice, picked


def upgrade(inst: Instance, times: TaskTimes, tasks: SlotTasks, possible: np.ndarray, choice: np.ndarray,
            prices: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Heavier models for a candidate's light tasks where the pools allow (module docstring, step 6). At
    prices balanced for the candidate, its served light tasks, most accuracy gained first, take the heavy
    model at their site or at the other site (at a gateway only where it is resident, unless
    :data:`UPGRADE_PLACES_AT_GATEWAYS`) wherever the extra demand fits the room left; then the prices
    are re-balanced for the new assignment (which frees the slack that balancing spreads over every pool)
    and the pass repeats, :data:`UPGRADE_ROUNDS` passes at most. Returns the new option (N,) and its shares
    (N, 3) at the last prices at which the whole assignment fits, or None if nothing was upgraded."""
    pools = Pools(inst.n_gateways)
    cache = tasks.cache
    room = pool_room(inst, cache)
    room[: pools.n_share] += _SLACK
    value = _option_values(inst, tasks)
    ch = choice.copy()
    fitted: tuple[np.ndarray, np.ndarray] | None = None
    for pass_ in range(UPGRADE_ROUNDS):
        light = np.flatnonzero((ch == 0) | (ch == 2))
        allowed = possible[light][:, [1, 3]]
        if not UPGRADE_PLACES_AT_GATEWAYS:
            allowed[:, 0] &= cache.gateway[light, 1]
        gain = np.where(allowed, value[light][:, [1, 3]] - value[light, ch[light]][:, None], 0.0)
        rows, cols = np.nonzero(gain > 0)
        if not len(rows):
            break
        if pass_ == 0:  # prices balanced for the candidate as it stands
            prices = balanced_prices(inst, times, ch[None], PRICE_ROUNDS, start=prices[None])[0][0]
            full, demand = _sized_options(inst, pools, times, cache, prices)
            left = _room_left(room, demand, ch)
            if (left >= 0).all():
                fitted = (ch.copy(), full)
        if (left < 0).any():
            break  # prices that do not fit the assignment: keep the last that did
        order = np.argsort(-gain[rows, cols], kind="stable")
        if not upgrade_in_turn(light[rows[order]], 1 + 2 * cols[order], demand, left, ch):
            break
        fitted = (ch.copy(), full)  # every move fitted the room left at these prices
        prices = balanced_prices(inst, times, ch[None], PRICE_ROUNDS, start=prices[None])[0][0]
        full, demand = _sized_options(inst, pools, times, cache, prices)
        left = _room_left(room, demand, ch)
        if (left >= 0).all():
            fitted = (ch.copy(), full)
    if fitted is None or (fitted[0] == choice).all():
        return None
    return fitted[0], _chosen_shares(fitted[1], fitted[0])


def _batch_decision(inst: Instance, choice: np.ndarray, shares: np.ndarray) -> Decision:
    """K decisions as one :class:`Decision` of (K, N) arrays: option ``choice`` at ``shares`` (K, N, 3),
    each pool scaled up to fill it (:func:`tadp.sizing.fill_pools`); keep flags all False."""
    sites = np.array([SITE_NONE] + [site for site, _ in OPTIONS], np.int8)
    levels = np.array([0] + [level for _, level in OPTIONS], np.int8)
    k, n = choice.shape
    decision = Decision(sites[choice + 1], levels[choice + 1], shares[..., 0].copy(), shares[..., 1].copy(),
                        shares[..., 2].copy(), np.zeros((k, n, 2), bool), np.zeros((k, n, 2), bool))
    fill_pools(inst, decision)
    return decision


def decode_candidates(inst: Instance, tasks: SlotTasks, probs: np.ndarray, classes: np.ndarray,
                      possible: np.ndarray, *, repair_first: bool = True, refill_best: int | None = None,
                      upgrade_best: bool = True) -> Candidates:
    """Decode K candidates ``classes`` (K, N) drawn from ``probs`` (N, 5) and score them all; ``possible``
    (N, 4) marks the options that can complete at all (:attr:`SlotFeatures.possible`). ``repair_first``
    False skips step 3; ``refill_best`` is how many of the best candidates step 5 revisits (default
    :data:`REFILL_BEST`; 0 skips it); ``upgrade_best`` False skips step 6."""
    refill_best = REFILL_BEST if refill_best is None else refill_best
    k = classes.shape[0]
    option = classes - 1
    times = task_times(inst, tasks.data, tasks.deadline, tasks.cache)
    prices, shares = balanced_prices(inst, times, option[:1], PRICE_ROUNDS)
    if k > 1:
        p_rest, s_rest = balanced_prices(inst, times, option[1:], SAMPLE_PRICE_ROUNDS,
                                         start=np.repeat(prices, k - 1, axis=0))
        prices, shares = np.concatenate([prices, p_rest]), np.concatenate([shares, s_rest])
    orders = admission_orders(probs, classes)
    if repair_first:
        option, prices, shares = repair(inst, times, tasks.cache, probs, possible, option, orders, prices, shares)
    choice, picked = admit(inst, times, tasks.cache, probs, option, orders, prices, shares)
    batch, score, completion = _scored(inst, tasks, choice, picked)
    first_best = int(np.argmax(score))
    if refill_best > 0:
        best = np.argsort(-score, kind="stable")[:refill_best]
        new_choice, picked = refill(inst, times, tasks, probs, possible, choice, picked, prices, orders, best)
        changed = best[(new_choice[best] != choice[best]).any(axis=1)]  # rescored; the others keep their decision
        choice = new_choice
        if len(changed):
            b2, s2, c2 = _scored(inst, tasks, choice[changed], picked[changed])
            _replace_rows(batch, changed, b2)
            score[changed], completion[changed] = s2, c2
    if upgrade_best:
        # the best candidate, and the one that was best before the refill if the refill overtook it: the
        # refill must not take the upgrade away from the candidate that would have had it
        for b in dict.fromkeys((int(np.argmax(score)), first_best)):
            if score[b] < 0:
                continue
            better = upgrade(inst, times, tasks, possible, choice[b], prices[b])
            if better is not None:
                b2, s2, c2 = _scored(inst, tasks, better[0][None], better[1][None])
                if s2[0] > score[b]:
                    choice[b] = better[0]
                    _replace_rows(batch, np.array([b]), b2)
                    score[b], completion[b] = s2[0], c2[0]
    return Candidates(classes, choice, batch, score, completion)


def _replace_rows(batch: Decision, rows: np.ndarray, new: Decision) -> None:
    """Rows ``rows`` of a batch of decisions become the decisions ``new`` (one per row; keep flags untouched)."""
    for name in ("site", "level", "uplink_share", "bs_share", "compute_share"):
        getattr(batch, name)[rows] = getattr(new, name)


def _scored(inst: Instance, tasks: SlotTasks, choice: np.ndarray, picked: np.ndarray
            ) -> tuple[Decision, np.ndarray, np.ndarray]:
    """K decisions (:func:`_batch_decision`) and the evaluator's scores (-1 if infeasible) and completions."""
    batch = _batch_decision(inst, choice, picked)
    k, n = choice.shape
    out = evaluate_batch(
        inst, np.full(k, tasks.slot), np.broadcast_to(tasks.cache.gateway, (k, n, 2)),
        np.broadcast_to(tasks.cache.edge, (k, n, 2)), batch.site, batch.level, batch.uplink_share, batch.bs_share,
        batch.compute_share, batch.keep_gateway, batch.keep_edge, data=np.broadcast_to(tasks.data, (k, n)),
        deadline=np.broadcast_to(tasks.deadline, (k, n)), noisy=np.broadcast_to(tasks.noisy, (k, n)))
    return batch, np.where(out.feasible, out.score, -1.0), out.completion


__all__ = ["Candidates", "SlotTasks", "admission_orders", "admit", "balanced_prices", "decode_candidates",
           "sample_classes", "upgrade"]
