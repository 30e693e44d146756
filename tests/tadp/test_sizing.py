"""Deadline-sized shares (tadp/sizing.py) on the hand-computable ``tiny`` instance (tests/conftest.py).

At equal prices the cheapest split of a deadline T between an upload taking ``a`` s at a full share and a
compute taking ``b`` s costs ``(sqrt(a) + sqrt(b))^2 / T`` in summed shares: the numbers below follow
from that, and from the fetch times of eq. (5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE
from tadp.evaluator import evaluate_slot
from tadp.instance import Cache
from tadp.physics import SIZING_MARGIN, Pools
from tadp.sizing import OPTIONS, decision_of_choice, option_demands, pool_room

GATEWAY_LIGHT, GATEWAY_HEAVY, EDGE_LIGHT, EDGE_HEAVY = (OPTIONS.index(o) for o in (
    (SITE_GATEWAY, 0), (SITE_GATEWAY, 1), (SITE_EDGE, 0), (SITE_EDGE, 1)))


def test_gateway_option_splits_the_deadline_at_the_cheapest_point(tiny):
    """Task 0 of slot 0 at its gateway, light model: upload a = 2e6 / (1e6 * 4) = 0.5 s, compute
    b = 1e7 / 1e8 = 0.1 s, T = 2 s: shares sum to (sqrt 0.5 + sqrt 0.1)^2 / T(1 - margin) = 0.52360."""
    sized = option_demands(tiny, tiny.data[0], tiny.deadline[0], Cache.empty(2), 1.0, 1.0)
    demand = sized.demand
    shares = sized.shares
    possible = sized.possible
    uplink, bs, compute = shares[0, GATEWAY_LIGHT]
    budget = 2.0 * (1 - SIZING_MARGIN)
    assert uplink + compute == pytest.approx((math.sqrt(0.5) + math.sqrt(0.1)) ** 2 / budget, rel=1e-12)
    assert bs == 0.0 and possible[0, GATEWAY_LIGHT]
    # the upload ends at arrival = 0.5 / uplink, the compute takes 0.1 / compute: together the budget
    assert 0.5 / uplink + 0.1 / compute == pytest.approx(budget, rel=1e-12)
    pools = Pools(1)
    assert demand[0, GATEWAY_LIGHT, pools.band[0]] == uplink
    assert demand[0, GATEWAY_LIGHT, pools.compute[0]] == compute
    assert demand[0, GATEWAY_LIGHT, pools.cache[0]] == tiny.model_size[0, 0]  # placed: it is not resident
    assert demand[0, GATEWAY_LIGHT, pools.bs] == 0.0 and demand[0, GATEWAY_LIGHT, pools.edge_cache] == 0.0


def test_a_slow_fetch_pushes_the_arrival_back(tiny):
    """Task 1 (T = 1 s) at its gateway, heavy model from the cloud: fetch 1.2 + 0.6 = 1.8 s > T: impossible.
    Light from the cloud: fetch 0.6 s; with upload a = 0.2 s and compute b = 2e7 / 1e8 = 0.2 s the upload
    would end at T sqrt(a) / (sqrt(a) + sqrt(b)) = 0.5 s, so the arrival is the fetch, 0.6 s: uplink share
    0.2 / 0.6, compute 0.2 / (T - 0.6)."""
    sized = option_demands(tiny, tiny.data[0], tiny.deadline[0], Cache.empty(2), 1.0, 1.0)
    shares = sized.shares
    possible = sized.possible
    assert not possible[1, GATEWAY_HEAVY]
    uplink, _, compute = shares[1, GATEWAY_LIGHT]
    assert uplink == pytest.approx(0.2 / 0.6, rel=1e-12)
    assert compute == pytest.approx(0.2 / (1.0 * (1 - SIZING_MARGIN) - 0.6), rel=1e-12)


def test_a_resident_model_needs_no_cache_room(tiny):
    """With device 0's light model at its gateway, the option places nothing."""
    cache = Cache(np.array([[1, 0], [0, 0]], bool), np.zeros((2, 2), bool))
    sized = option_demands(tiny, tiny.data[0], tiny.deadline[0], cache, 1.0, 1.0)
    demand = sized.demand
    assert demand[0, GATEWAY_LIGHT, Pools(1).cache[0]] == 0.0


def test_edge_option_splits_between_uplink_hop_and_compute(tiny):
    """Task 0 at the edge, light: upload a1 = 0.5 s, hop a2 = 2e6 / (2e6 * 2) = 0.5 s, compute
    b = 1e7 / 2e8 = 0.05 s; their times add up to the budget and the shares are priced minima."""
    sized = option_demands(tiny, tiny.data[0], tiny.deadline[0], Cache.empty(2), 1.0, 1.0)
    shares = sized.shares
    possible = sized.possible
    uplink, bs, compute = shares[0, EDGE_LIGHT]
    budget = 2.0 * (1 - SIZING_MARGIN)
    assert possible[0, EDGE_LIGHT]
    assert 0.5 / uplink + 0.5 / bs + 0.05 / compute == pytest.approx(budget, rel=1e-12)
    assert uplink + bs + compute == pytest.approx((2 * math.sqrt(0.5) + math.sqrt(0.05)) ** 2 / budget, rel=1e-12)


def test_sized_shares_complete_when_served_alone(tiny):
    """Every possible option, served alone at its sized shares, completes by the evaluator's judgement."""
    cache = Cache.empty(2)
    sized = option_demands(tiny, tiny.data[0], tiny.deadline[0], cache, 1.0, 3.0)
    shares = sized.shares
    possible = sized.possible
    for j in range(2):
        for k in np.flatnonzero(possible[j]):
            choice = np.full(2, -1)
            choice[j] = k
            out = evaluate_slot(tiny, 0, cache, decision_of_choice(tiny, choice, shares))
            assert out.feasible and out.completed[j]


def test_pool_room_and_filled_pools(tiny):
    """Room: every share pool 1, each cache its capacity less the start cache's models. A decision of
    choices fills every pool it uses to exactly 1."""
    cache = Cache(np.array([[1, 0], [0, 0]], bool), np.array([[0, 1], [0, 0]], bool))
    room = pool_room(tiny, cache)
    pools = Pools(1)
    assert room[pools.band[0]] == room[pools.compute[0]] == room[pools.bs] == room[pools.edge_compute] == 1.0
    assert room[pools.cache[0]] == 100e6 - 10e6 and room[pools.edge_cache] == 200e6 - 40e6
    sized = option_demands(tiny, tiny.data[0], tiny.deadline[0], cache, 1.0, 1.0)
    shares = sized.shares
    d = decision_of_choice(tiny, np.array([GATEWAY_LIGHT, EDGE_LIGHT]), shares)
    assert list(d.site) == [SITE_GATEWAY, SITE_EDGE]
    assert d.uplink_share.sum() == pytest.approx(1.0) and d.bs_share[1] == pytest.approx(1.0)
    assert d.compute_share[0] == pytest.approx(1.0) and d.compute_share[1] == pytest.approx(1.0)
    dropped = decision_of_choice(tiny, np.array([-1, -1]), shares)
    assert (dropped.site == SITE_NONE).all() and dropped.uplink_share.sum() == 0.0


def test_one_option_per_task_at_per_pool_prices_equals_every_option() -> None:
    """``chosen_task_shares`` (the compiled closed form of one task's option at per-pool prices, the neural
    decoder's) gives the shares ``option_shares`` gives for that option at the same prices (to rounding: one
    expression is written for both sites); equal prices give the greedy's shares exactly."""
    from helpers import decoder_instances, random_cache

    from tadp.physics import Pools
    from tadp.sizing import chosen_task_shares, option_shares, task_times

    rng = np.random.default_rng(0)
    for inst in decoder_instances():
        cache = random_cache(inst, rng)
        data, deadline = inst.data[0], inst.deadline[0]
        pools, gw = Pools(inst.n_gateways), inst.device_gateway
        prices = rng.uniform(0.1, 2.0, pools.n_share)
        every, _ = option_shares(inst, data, deadline, cache, prices[pools.band[gw]], prices[pools.bs],
                                 prices[pools.compute[gw]], prices[pools.edge_compute])
        t = task_times(inst, data, deadline, cache)
        root = np.sqrt(prices)
        for j in range(inst.n_devices):
            for k in range(4):
                compute = pools.edge_compute if k >= 2 else pools.compute[gw[j]]
                one = chosen_task_shares(t.budget[j], t.fetch[j, k], t.work[j, k], t.uplink_seconds[j],
                                         t.bs_seconds[j], k >= 2, root[pools.band[gw[j]]], root[pools.bs],
                                         root[compute])
                np.testing.assert_allclose(one, every[j, k], rtol=1e-12, atol=0.0, equal_nan=True)
        greedy_shares = option_demands(inst, data, deadline, cache, 1.0, 1.0).shares
        assert np.array_equal(option_shares(inst, data, deadline, cache, 1.0, 1.0, 1.0, 1.0)[0], greedy_shares)
