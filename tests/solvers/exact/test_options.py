"""The options of one slot (solvers/exact/options.py) on the hand-computable ``tiny`` instance
(tests/conftest.py): which (task, site, level) can complete, their works, pools, fetch times and
cache demands, and the bounds derived from them.

Slot 0, cold caches. Task 0 (D = 2e6 bits, Tmax = 2 s, clean): upload 0.5 s, BS hop 0.5 s, compute
0.1 / 0.2 s at the gateway and 0.05 / 0.1 s at the edge; fetch 0.3 / 1.2 s to the gateway and
0.2 / 0.8 s to the edge: all four options complete. Task 1 (D = 1e6, Tmax = 1 s, noisy): upload 0.2,
hop 0.25; its heavy model's fetch (1.8 s to the gateway, 1.2 s to the edge) exceeds the deadline."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_doc

from solvers.exact.options import COMPUTE, HOP, UPLOAD, slot_options, trivial_bound
from tadp.decision import SITE_EDGE, SITE_GATEWAY
from tadp.instance import Cache, instance_from_json
from tadp.physics import Pools


def _by_key(opts) -> dict[tuple[int, int, int], int]:
    return {(int(opts.task[o]), int(opts.site[o]), int(opts.level[o])): o for o in range(opts.n_options)}


def test_which_options_can_complete(tiny):
    opts = slot_options(tiny, 0, Cache.empty(2))
    keys = _by_key(opts)
    assert set(keys) == {(0, SITE_GATEWAY, 0), (0, SITE_GATEWAY, 1), (0, SITE_EDGE, 0), (0, SITE_EDGE, 1),
                         (1, SITE_GATEWAY, 0), (1, SITE_EDGE, 0)}
    assert opts.dropped == {"fetch_after_deadline": 2, "too_slow_alone": 0, "model_does_not_fit": 0}
    assert list(opts.options_of(1)) == [keys[(1, SITE_GATEWAY, 0)], keys[(1, SITE_EDGE, 0)]]


def test_works_pools_fetch_and_accuracy(tiny):
    opts = slot_options(tiny, 0, Cache.empty(2))
    keys, pools = _by_key(opts), Pools(1)
    gw, edge = keys[(0, SITE_GATEWAY, 0)], keys[(1, SITE_EDGE, 0)]
    np.testing.assert_allclose(opts.work[gw], [0.5, 0.0, 0.1])
    np.testing.assert_allclose(opts.work[edge], [0.2, 0.25, 0.1])
    assert list(opts.pool[gw]) == [pools.band[0], -1, pools.compute[0]]
    assert list(opts.pool[edge]) == [pools.band[0], pools.bs, pools.edge_compute]
    assert opts.fetch[gw] == pytest.approx(0.3) and opts.fetch[edge] == pytest.approx(0.4)
    assert opts.accuracy[gw] == 0.90 and opts.accuracy[edge] == 0.80  # task 1's data are noisy
    assert opts.places.all() and opts.cache_pool[gw] == 0 and opts.cache_pool[edge] == pools.edge_node
    np.testing.assert_allclose(opts.cache_free, [100e6, 200e6])
    assert opts.n_pools == pools.n_share == 4


def test_leg_time_bounds_and_minimal_loads(tiny):
    """Task 0 at its gateway, light: upload at most T - compute = 1.9 s; compute at most
    min(T - fetch, T - upload) = 1.5 s. Minimal loads put every leg at its longest time."""
    opts = slot_options(tiny, 0, Cache.empty(2))
    gw = _by_key(opts)[(0, SITE_GATEWAY, 0)]
    bounds = opts.leg_time_bounds()[gw]
    assert bounds[UPLOAD] == pytest.approx(1.9) and bounds[COMPUTE] == pytest.approx(1.5)
    loads = opts.minimal_loads(np.array([gw]))
    assert loads[0] == pytest.approx(0.5 / 1.9) and loads[1] == pytest.approx(0.1 / 1.5)
    assert loads[2] == loads[3] == 0.0 and HOP == 1


def test_resident_models_fetch_nothing_and_place_nothing(tiny):
    cache = Cache(np.array([[0, 0], [1, 0]], bool), np.array([[0, 1], [0, 0]], bool))
    opts = slot_options(tiny, 0, cache)
    keys = _by_key(opts)
    resident = keys[(1, SITE_GATEWAY, 0)]
    assert opts.fetch[resident] == 0.0 and not opts.places[resident]
    assert opts.fetch[keys[(0, SITE_GATEWAY, 1)]] == pytest.approx(0.4)  # from the ECaS copy: S / R_e
    np.testing.assert_allclose(opts.cache_free, [100e6 - 20e6, 200e6 - 40e6])


def test_models_that_do_not_fit_and_tasks_too_slow_alone():
    """A gateway cache of 30 MB holds no heavy model (40 MB, 60 MB); a deadline of 0.5 s leaves task 0
    (upload 0.5 s alone) no option: its light options are too slow even at full shares, its heavy
    models' fetches (1.2 s, 0.8 s) miss the deadline, as task 1's do."""
    doc = tiny_doc()
    doc["gateways"][0]["S_l"] = 30e6
    doc["slots"][0]["deadline"] = [0.5, 1.0]
    inst = instance_from_json(doc)
    opts = slot_options(inst, 0, Cache.empty(2))
    assert 0 not in set(opts.task.tolist())
    assert opts.dropped["too_slow_alone"] == 2 and opts.dropped["fetch_after_deadline"] == 4
    # slot 1, device 0's heavy model in the ECaS: fetched to the gateway in 0.4 s, it would complete in
    # time, but 40 MB do not fit the 30 MB gateway cache
    opts = slot_options(inst, 1, Cache(np.zeros((2, 2), bool), np.array([[0, 1], [0, 0]], bool)))
    assert (0, SITE_GATEWAY, 1) not in _by_key(opts) and (0, SITE_EDGE, 1) in _by_key(opts)
    assert opts.dropped["model_does_not_fit"] == 1


def test_trivial_bound_and_values(tiny):
    """Every task at its best option: (0.95 + 0.80) / 2; the value of a choice is its accuracies over N;
    a choice of models too large for a cache does not fit."""
    opts = slot_options(tiny, 0, Cache.empty(2))
    keys = _by_key(opts)
    assert trivial_bound(opts) == pytest.approx(0.875)
    both_heavy_and_light = np.array([keys[(0, SITE_GATEWAY, 1)], keys[(1, SITE_GATEWAY, 0)]])
    assert opts.value(both_heavy_and_light) == pytest.approx((0.95 + 0.80) / 2)
    assert opts.cache_fits(both_heavy_and_light)  # 40 + 20 MB in a 100 MB gateway cache
    with pytest.raises(ValueError):
        slot_options(tiny, 3, Cache.empty(2))
