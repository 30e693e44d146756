"""The physics module on the hand-computable ``tiny`` instance (tests/conftest.py): every time at a
full share, the fetch times of eq. (5) and [D5], the delay law and its inverse, the deadline rule and
the one numbering of the pools."""

from __future__ import annotations

import numpy as np
import pytest

from tadp.instance import Cache
from tadp.physics import (
    CACHE_TOL,
    DEADLINE_TOL,
    Pools,
    completion_delay,
    compute_seconds,
    fetch_times,
    fits_capacity,
    hop_seconds,
    link_seconds,
    share_for,
    upload_seconds,
    within_deadline,
)


def test_full_share_times(tiny):
    """Upload D / (B gamma): 2e6 / (1e6 * 4) = 0.5 s and 1e6 / (1e6 * 5) = 0.2 s; the BS hop
    D / (B_e gamma_e): 2e6 / (2e6 * 2) = 0.5 s, 0.25 s; compute Q / C by level at the gateway
    (C_l = 1e8) and at the edge (C_e = 2e8)."""
    data = tiny.data[0]
    assert upload_seconds(tiny, data) == pytest.approx([0.5, 0.2])
    assert hop_seconds(tiny, data) == pytest.approx([0.5, 0.25])
    at_gateway, at_edge = compute_seconds(tiny)
    np.testing.assert_allclose(at_gateway, [[0.1, 0.2], [0.2, 0.4]])
    np.testing.assert_allclose(at_edge, [[0.05, 0.1], [0.1, 0.2]])


def test_fetch_times_by_cache_state(tiny):
    """Eq. (5): 0 when resident at the gateway, S/R_e from the ECaS, S/R_c + S/R_e from the cloud;
    [D5]: 0 when in the ECaS, else S/R_c."""
    cold = Cache.empty(2)
    gateway, edge = fetch_times(tiny, cold.gateway, cold.edge)
    np.testing.assert_allclose(gateway, [[0.3, 1.2], [0.6, 1.8]])
    np.testing.assert_allclose(edge, [[0.2, 0.8], [0.4, 1.2]])
    warm = Cache(np.array([[1, 0], [0, 0]], bool), np.array([[0, 1], [1, 0]], bool))
    gateway, edge = fetch_times(tiny, warm.gateway, warm.edge)
    np.testing.assert_allclose(gateway, [[0.0, 0.4], [0.2, 1.8]])
    np.testing.assert_allclose(edge, [[0.2, 0.0], [0.0, 1.2]])


def test_delay_law_and_its_inverse():
    """time = amount / (share * rate); share_for inverts it; a zero share takes forever."""
    assert link_seconds(np.array([2e6]), np.array([0.25]), 4e6)[0] == pytest.approx(2.0)
    assert share_for(np.array([0.5]), np.array([2.0]))[0] == pytest.approx(0.25)
    assert link_seconds(np.array([1.0]), np.array([0.0]), 1.0)[0] == np.inf


def test_completion_delay_waits_for_data_and_model():
    """Eqs. (7)-(8): max(arrival, fetch) + compute."""
    assert completion_delay(np.array([0.5, 0.5]), np.array([0.3, 0.9]), np.array([0.2, 0.2])) == pytest.approx(
        [0.7, 1.1])


def test_deadline_rule_and_tolerances():
    """A delay within Tmax + DEADLINE_TOL completes, one beyond does not; NaN never does; cache loads
    may exceed a capacity by the relative CACHE_TOL only."""
    assert within_deadline(1.0 + 0.5 * DEADLINE_TOL, 1.0)
    assert not within_deadline(1.0 + 2 * DEADLINE_TOL, 1.0)
    assert not within_deadline(np.nan, 1.0)
    assert fits_capacity(1e9 * (1 + 0.5 * CACHE_TOL), 1e9)
    assert not fits_capacity(1e9 * (1 + 2 * CACHE_TOL), 1e9)


def test_pool_numbering():
    """Share pools first (bands, computes, BS band, edge compute), then the caches."""
    p = Pools(3)
    assert list(p.band) == [0, 1, 2] and list(p.compute) == [3, 4, 5]
    assert (p.bs, p.edge_compute, p.n_share) == (6, 7, 8)
    assert list(p.cache) == [8, 9, 10] and p.edge_cache == 11 and p.size == 12
    assert [p.cache_node(int(c)) for c in p.cache] == [0, 1, 2] and p.cache_node(p.edge_cache) == p.edge_node == 3
