"""The evaluator on hand-computed cases (docs/model.md, sections 4-6), then properties on random instances."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import decision, tiny_doc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE, Decision
from tadp.evaluator import evaluate_batch, evaluate_episode, evaluate_slot
from tadp.generator import GeneratorOptions, generate_instance
from tadp.instance import Cache, Instance, instance_from_json


def cache(gateway: list[list[int]] | None = None, edge: list[list[int]] | None = None) -> Cache:
    return Cache(np.array(gateway or [[0, 0], [0, 0]], bool), np.array(edge or [[0, 0], [0, 0]], bool))


# ------------------------------------------------------------------ gateway site
def test_gateway_site_model_cached(tiny: Instance) -> None:
    """Device 0, gateway, light, cached at the gateway, shares 1/2.
    upload 2e6 / (0.5 * 1e6 * 4) = 1.0 s; fetch 0; compute 1e7 / (0.5 * 1e8) = 0.2 s; d = 1.2 <= 2.
    Earns the clean light accuracy 0.90; device 1 not served: J = 0.90 / 2 = 0.45."""
    d = decision(["gateway", "none"], [0, 0], [0.5, 0], [0, 0], [0.5, 0])
    out = evaluate_slot(tiny, 0, cache(gateway=[[1, 0], [0, 0]]), d)
    assert out.feasible and out.violations == []
    assert out.delay[0] == pytest.approx(1.2)
    assert np.isinf(out.delay[1])
    assert out.completed.tolist() == [True, False]
    assert out.score == pytest.approx(0.45)
    assert out.completion == pytest.approx(0.5)
    assert not out.placed.gateway.any() and not out.placed.edge.any()


def test_gateway_site_fetched_from_edge_cache(tiny: Instance) -> None:
    """Device 0, gateway, heavy, resident only in the ECaS: fetch 40e6 / 1e8 = 0.4 s < upload 1.0 s;
    compute 2e7 / (0.5 * 1e8) = 0.4 s; d = 1.4. The model lands at the gateway, not again at the edge."""
    d = decision(["gateway", "none"], [1, 0], [0.5, 0], [0, 0], [0.5, 0])
    out = evaluate_slot(tiny, 0, cache(edge=[[0, 1], [0, 0]]), d)
    assert out.delay[0] == pytest.approx(1.4)
    assert out.completed[0]
    assert out.score == pytest.approx(0.95 / 2)
    assert out.placed.gateway.tolist() == [[False, True], [False, False]]
    assert not out.placed.edge.any()


def test_gateway_site_fetched_from_cloud(tiny: Instance) -> None:
    """Device 0, gateway, heavy, nowhere cached: fetch 40e6/5e7 + 40e6/1e8 = 0.8 + 0.4 = 1.2 s > upload 1.0;
    d = 1.2 + 0.4 = 1.6 <= 2. The cloud->gateway fetch passes the BS but does not land in the ECaS."""
    d = decision(["gateway", "none"], [1, 0], [0.5, 0], [0, 0], [0.5, 0])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert out.delay[0] == pytest.approx(1.6)
    assert out.completed[0]
    assert out.placed.gateway[0, 1] and not out.placed.edge.any()


# ------------------------------------------------------------------ edge site
def test_edge_site_cached(tiny: Instance) -> None:
    """Device 0, edge, heavy, cached in the ECaS; a_l = 1, a_e = 0.5, b = 0.5.
    upload 2e6 / (1e6 * 4) = 0.5; gateway->BS 2e6 / (0.5 * 2e6 * 2) = 1.0; compute 2e7 / (0.5 * 2e8) = 0.2;
    d = max(1.5, 0) + 0.2 = 1.7 <= 2."""
    d = decision(["edge", "none"], [1, 0], [1.0, 0], [0.5, 0], [0.5, 0])
    out = evaluate_slot(tiny, 0, cache(edge=[[0, 1], [0, 0]]), d)
    assert out.delay[0] == pytest.approx(1.7)
    assert out.completed[0]
    assert not out.placed.edge.any()


def test_edge_site_fetched_from_cloud(tiny: Instance) -> None:
    """Device 1 (Tmax 1.0), edge, light, a_l = 1, a_e = 1, b = 1: upload 1e6 / (1e6 * 5) = 0.2,
    gateway->BS 1e6 / (2e6 * 2) = 0.25, arrival 0.45; fetch cloud->ECaS 20e6 / 5e7 = 0.4 [D5];
    compute 2e7 / 2e8 = 0.1; d = 0.45 + 0.1 = 0.55. Noisy data: earns 0.80. Model lands in the ECaS."""
    d = decision(["none", "edge"], [0, 0], [0, 1.0], [0, 1.0], [0, 1.0])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert out.delay[1] == pytest.approx(0.55)
    assert out.completed[1]
    assert out.score == pytest.approx(0.80 / 2)
    assert out.placed.edge.tolist() == [[False, False], [True, False]]


# ------------------------------------------------------------------ lateness and fetches
def test_late_task_still_places_its_model(tiny: Instance) -> None:
    """Device 1 (Tmax 1.0), gateway, light, a_l = 0.5, b = 0.25: upload 1e6/(0.5e6*5) = 0.4,
    fetch 0.4 + 0.2 = 0.6, compute 2e7/(0.25e8) = 0.8, d = 1.4 > 1.0: late, earns nothing, but the
    fetch (0.6 s) fits the deadline so the model is placed [D6]; the slot is feasible."""
    d = decision(["none", "gateway"], [0, 0], [0, 0.5], [0, 0], [0, 0.25])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert out.feasible
    assert out.delay[1] == pytest.approx(1.4)
    assert not out.completed[1] and out.score == 0.0
    assert out.placed.gateway[1, 0]


def test_fetch_longer_than_deadline_places_nothing(tiny: Instance) -> None:
    """Device 1, gateway, heavy: cloud fetch 60e6/5e7 + 60e6/1e8 = 1.2 + 0.6 = 1.8 s > Tmax 1.0:
    the task cannot complete and nothing is placed, even with the keep flag set."""
    d = decision(["none", "gateway"], [0, 1], [0, 1.0], [0, 0], [0, 1.0], keep_gateway=[[0, 0], [1, 1]])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert out.feasible and not out.completed[1]
    assert out.delay[1] == pytest.approx(1.8 + 0.4)
    assert not out.placed.gateway.any()
    assert not out.next_cache.gateway.any()


def test_dropped_task_uses_nothing(tiny: Instance) -> None:
    """A `none` task earns 0, places nothing and its shares (even absurd ones) are ignored."""
    d = decision(["none", "none"], [1, 1], [5.0, -3.0], [7.0, 2.0], [9.0, 9.0])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert out.feasible and out.score == 0.0 and out.completion == 0.0
    assert not out.placed.gateway.any() and not out.placed.edge.any()


def test_zero_share_gives_infinite_delay(tiny: Instance) -> None:
    """A served task with compute share 0 never finishes (delay inf), but the slot is feasible."""
    d = decision(["gateway", "none"], [0, 0], [0.5, 0], [0, 0], [0.0, 0])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert out.feasible and np.isinf(out.delay[0]) and not out.completed[0]


# ------------------------------------------------------------------ broken constraints
def test_c4_uplink_band_broken(tiny: Instance) -> None:
    """Both tasks at gateway 0 with uplink shares 0.6 + 0.6 = 1.2 > 1: C4 on gateway 0's band, by 0.2.
    The slot scores 0 and its start cache carries over unchanged (keep flags are not applied)."""
    start = cache(gateway=[[1, 0], [1, 0]])
    d = decision(["gateway", "gateway"], [0, 0], [0.6, 0.6], [0, 0], [0.5, 0.5], keep_gateway=[[0, 0], [0, 0]])
    out = evaluate_slot(tiny, 0, start, d)
    assert not out.feasible and out.score == 0.0 and out.completion == 0.0
    assert not out.completed.any()
    assert [(v.constraint, v.where) for v in out.violations] == [("C4", "gateway 0 uplink band")]
    assert out.violations[0].excess == pytest.approx(0.2)
    assert out.next_cache == start


def test_c4_counts_edge_tasks_on_the_gateway_band(tiny: Instance) -> None:
    """[D4]: an edge task also uploads to its gateway, so 0.5 (gateway task) + 0.7 (edge task) > 1."""
    d = decision(["gateway", "edge"], [0, 0], [0.5, 0.7], [0, 0.5], [0.5, 0.5])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert not out.feasible
    assert out.violations[0].where == "gateway 0 uplink band"
    assert out.violations[0].value == pytest.approx(1.2)


def test_c4_bs_band_broken(tiny: Instance) -> None:
    """Two edge tasks with BS shares 0.7 + 0.5 = 1.2 > 1: C4 on the BS band."""
    d = decision(["edge", "edge"], [0, 0], [0.5, 0.5], [0.7, 0.5], [0.5, 0.5])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert [(v.constraint, v.where) for v in out.violations] == [("C4", "BS band")]
    assert out.violations[0].excess == pytest.approx(0.2)


def test_c5_compute_broken(tiny: Instance) -> None:
    """Gateway compute shares 0.7 + 0.7 = 1.4 > 1 at gateway 0 (C5), by 0.4; edge compute untouched."""
    d = decision(["gateway", "gateway"], [0, 0], [0.5, 0.5], [0, 0], [0.7, 0.7])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert [(v.constraint, v.where) for v in out.violations] == [("C5", "gateway 0 compute")]
    assert out.violations[0].excess == pytest.approx(0.4)
    assert out.score == 0.0


def test_c5_edge_compute_broken(tiny: Instance) -> None:
    """Edge compute shares 0.6 + 0.6 > 1 (C5 at the ECoS)."""
    d = decision(["edge", "edge"], [0, 0], [0.5, 0.5], [0.5, 0.5], [0.6, 0.6])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert [(v.constraint, v.where) for v in out.violations] == [("C5", "edge compute")]


def test_c6_gateway_cache_broken(tiny: Instance) -> None:
    """Start cache holds device 1's light and heavy models at the gateway (20e6 + 60e6 = 80e6 of 100e6).
    Device 0 runs heavy at the gateway: its 40e6-bit model is fetched in 1.2 s <= 2 and placed, so the
    gateway holds 120e6 > 100e6 during the slot: C6 by 20e6 bits. Kept models count during the slot
    because eviction happens only at the slot's end. Cache carries over unchanged."""
    start = cache(gateway=[[0, 0], [1, 1]])
    d = decision(["gateway", "none"], [1, 0], [0.5, 0], [0, 0], [0.5, 0])
    out = evaluate_slot(tiny, 0, start, d)
    assert [(v.constraint, v.where) for v in out.violations] == [("C6", "gateway 0 cache (bits)")]
    assert out.violations[0].excess == pytest.approx(20e6)
    assert out.next_cache == start


def test_c6_edge_cache_broken() -> None:
    """The ECaS is shrunk to 120e6 bits and starts with 10e6 + 20e6 + 60e6 = 90e6 bits resident.
    Device 0 runs heavy at the edge: its 40e6-bit model is fetched from the cloud in 0.8 s <= 2 and
    placed, so the ECaS holds 130e6 > 120e6: C6 at the edge by 10e6 bits. At 200e6 it fits."""
    start = Cache(np.zeros((2, 2), bool), np.array([[1, 0], [1, 1]], bool))
    d = decision(["edge", "none"], [1, 0], [1.0, 0], [1.0, 0], [1.0, 0])
    doc = tiny_doc()
    assert evaluate_slot(instance_from_json(doc), 0, start, d).feasible
    doc["network"]["S_e"] = 120e6
    out = evaluate_slot(instance_from_json(doc), 0, start, d)
    assert [(v.constraint, v.where) for v in out.violations] == [("C6", "edge cache (bits)")]
    assert out.violations[0].excess == pytest.approx(10e6)


def test_share_outside_unit_interval(tiny: Instance) -> None:
    """A used share outside [0, 1] breaks C4/C5 even when the pool sum is fine: -0.2 and 1.5."""
    d = decision(["gateway", "edge"], [0, 0], [-0.2, 0.5], [0, 1.5], [0.5, 0.5])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert not out.feasible
    found = {(v.constraint, v.where) for v in out.violations}
    assert ("C4", "task 0 uplink_share outside [0, 1]") in found
    assert ("C4", "task 1 bs_share outside [0, 1]") in found
    assert ("C4", "BS band") in found  # 1.5 > 1 as a sum too


def test_unused_bs_share_ignored(tiny: Instance) -> None:
    """A gateway-site task's bs_share (here 3.0) is ignored."""
    d = decision(["gateway", "none"], [0, 0], [0.5, 0], [3.0, 0], [0.5, 0])
    assert evaluate_slot(tiny, 0, cache(), d).feasible


# ------------------------------------------------------------------ cache dynamics
def test_keep_flag_on_non_resident_model_is_a_noop(tiny: Instance) -> None:
    """Keep flags on models neither resident nor placed leave nothing in the next cache (C7: keep AND r)."""
    d = decision(["none", "none"], [0, 0], [0, 0], [0, 0], [0, 0], keep_gateway=[[1, 1], [1, 1]],
                 keep_edge=[[1, 1], [1, 1]])
    out = evaluate_slot(tiny, 0, cache(), d)
    assert not out.next_cache.gateway.any() and not out.next_cache.edge.any()


def test_unkept_models_are_evicted(tiny: Instance) -> None:
    """Resident models without a keep flag leave at the slot's end; kept ones stay."""
    d = decision(["none", "none"], [0, 0], [0, 0], [0, 0], [0, 0], keep_gateway=[[1, 0], [0, 0]])
    out = evaluate_slot(tiny, 0, cache(gateway=[[1, 1], [0, 0]], edge=[[1, 0], [0, 0]]), d)
    assert out.next_cache.gateway.tolist() == [[True, False], [False, False]]
    assert not out.next_cache.edge.any()


def test_three_slot_episode_carries_the_cache(tiny: Instance) -> None:
    """Slot 0: device 0 heavy at the gateway (cloud fetch 1.2 s, d = 1.6 <= 2), kept.
    Slot 1: same choice, D = 1e6, Tmax = 1.0: upload 1e6/(0.5e6*4) = 0.5, compute 0.4; the model is
    resident so d = 0.9 <= 1.0 and the task completes (cold it would take 1.2 + 0.4 = 1.6: late). Not kept.
    Slot 2: cold again: d = max(1.0, 1.2) + 0.4 = 1.6 <= 2, noisy data, earns 0.85."""
    keep = [[0, 1], [0, 0]]
    d0 = decision(["gateway", "none"], [1, 0], [0.5, 0], [0, 0], [0.5, 0], keep_gateway=keep)
    d1 = decision(["gateway", "none"], [1, 0], [0.5, 0], [0, 0], [0.5, 0])
    d2 = decision(["gateway", "none"], [1, 0], [0.5, 0], [0, 0], [0.5, 0])
    outs = evaluate_episode(tiny, [d0, d1, d2])
    assert [o.delay[0] for o in outs] == pytest.approx([1.6, 0.9, 1.6])
    assert [o.score for o in outs] == pytest.approx([0.95 / 2, 0.95 / 2, 0.85 / 2])
    assert outs[0].next_cache.gateway[0, 1] and not outs[1].next_cache.gateway.any()
    cold = evaluate_slot(tiny, 1, Cache.empty(2), d1)
    assert cold.delay[0] == pytest.approx(1.6) and not cold.completed[0]


def test_batch_equals_single(tiny: Instance) -> None:
    """evaluate_batch over several rows gives exactly the single-slot results row by row."""
    ds = [
        decision(["gateway", "edge"], [1, 0], [0.5, 0.5], [0, 1.0], [0.5, 1.0]),
        decision(["gateway", "gateway"], [0, 0], [0.6, 0.6], [0, 0], [0.5, 0.5]),
        decision(["edge", "none"], [1, 0], [1.0, 0], [0.5, 0], [0.5, 0]),
    ]
    caches = [cache(), cache(gateway=[[1, 0], [0, 0]]), cache(edge=[[0, 1], [1, 0]])]
    slots = np.array([0, 1, 2])
    out = evaluate_batch(
        tiny, slots, np.stack([c.gateway for c in caches]), np.stack([c.edge for c in caches]),
        *[np.stack([getattr(d, f) for d in ds]) for f in
          ("site", "level", "uplink_share", "bs_share", "compute_share", "keep_gateway", "keep_edge")],
    )
    for k, (d, c) in enumerate(zip(ds, caches, strict=True)):
        single = evaluate_slot(tiny, int(slots[k]), c, d)
        assert out.score[k] == single.score and out.feasible[k] == single.feasible
        np.testing.assert_array_equal(out.delay[k], single.delay)
        np.testing.assert_array_equal(out.next_gateway[k], single.next_cache.gateway)


# ------------------------------------------------------------------ properties
def _random_decision(inst: Instance, rng: np.random.Generator) -> Decision:
    n = inst.n_devices
    site = rng.choice([SITE_NONE, SITE_GATEWAY, SITE_EDGE], size=n).astype(np.int8)
    d = Decision(
        site=site, level=rng.integers(0, 2, n).astype(np.int8),
        uplink_share=np.zeros(n), bs_share=np.zeros(n), compute_share=np.zeros(n),
        keep_gateway=rng.random((n, 2)) < 0.5, keep_edge=rng.random((n, 2)) < 0.5,
    )
    # split each pool evenly among its users, with random weights: always a valid share vector
    m = inst.gateway_membership
    for share, users in ((d.uplink_share, site != SITE_NONE), (d.compute_share, site == SITE_GATEWAY)):
        w = rng.random(n) * users
        share[:] = w / np.maximum((w @ m) @ m.T, 1e-12)
    for share, users in ((d.bs_share, site == SITE_EDGE), (d.compute_share, site == SITE_EDGE)):
        w = rng.random(n) * users
        share[users] = w[users] / max(w.sum(), 1e-12)
    return d


instances = st.builds(
    lambda counts, seed, scale, warm: generate_instance(
        counts, seed=seed, slots=2, options=GeneratorOptions(resource_scale=scale, warm_cache=warm)
    ),
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.integers(0, 10_000),
    st.sampled_from([0.2, 0.5, 1.0, 3.0]),
    st.booleans(),
)
quick = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(inst=instances, seed=st.integers(0, 2**31), which=st.integers(0, 2), bump=st.floats(1.0, 4.0))
def test_raising_a_share_never_raises_a_delay(inst: Instance, seed: int, which: int, bump: float) -> None:
    rng = np.random.default_rng(seed)
    d = _random_decision(inst, rng)
    before = evaluate_slot(inst, 0, inst.initial_cache, d).delay
    field_name = ("uplink_share", "bs_share", "compute_share")[which]
    j = int(rng.integers(inst.n_devices))
    raised = d.copy()
    getattr(raised, field_name)[j] = min(1.0, getattr(raised, field_name)[j] * bump + 0.01)
    after = evaluate_slot(inst, 0, inst.initial_cache, raised).delay
    assert np.all((after <= before) | (np.isinf(after) & np.isinf(before)))


@quick
@given(inst=instances, seed=st.integers(0, 2**31))
def test_feasible_stays_feasible_when_a_task_is_dropped(inst: Instance, seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = _random_decision(inst, rng)
    out = evaluate_slot(inst, 0, inst.initial_cache, d)
    served = np.flatnonzero(d.site != SITE_NONE)
    if not out.feasible or served.size == 0:
        return
    dropped = d.copy()
    dropped.site[rng.choice(served)] = SITE_NONE
    assert evaluate_slot(inst, 0, inst.initial_cache, dropped).feasible


@quick
@given(inst=instances, seed=st.integers(0, 2**31))
def test_score_never_exceeds_mean_best_accuracy(inst: Instance, seed: int) -> None:
    d = _random_decision(inst, np.random.default_rng(seed))
    out = evaluate_slot(inst, 1, inst.initial_cache, d)
    best = inst.accuracy[np.arange(inst.n_devices), inst.noisy[1]].max(axis=-1).mean()
    assert out.score <= best + 1e-12
    assert 0.0 <= out.completion <= 1.0


# ------------------------------------------------------------------ the batch path's two forms
_OUTCOME = ("delay", "completed", "earned", "score", "completion", "feasible", "placed_gateway", "placed_edge",
            "next_gateway", "next_edge", "uplink_load", "bs_load", "gateway_compute_load", "edge_compute_load",
            "gateway_cache_load", "edge_cache_load", "used_shares")


def _bits(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x.view(np.uint64) if x.dtype == np.float64 else x


@pytest.mark.parametrize("seed", range(4))
def test_mask_arithmetic_equals_np_where_bit_for_bit(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large batches select with 0/1 float masks (and, when every share lies in [+0, 1], skip the
    range check and the clamp); small ones with np.where, the evaluator's original form. On valid
    and broken decisions alike (shares NaN, +-inf, -0.0, negative, above 1, zero; decoded actions),
    every output of the one is the other's, bit for bit."""
    from tadp import evaluator
    from tadp.decoders import FIELDS_PER_TASK, decode_batch

    rng = np.random.default_rng(seed)
    inst = [generate_instance([35] * 4, seed=seed, slots=3),
            generate_instance([6, 1, 9], seed=seed, slots=3, options=GeneratorOptions(warm_cache=True, resource_scale=0.3)),
            ][seed % 2]
    n, b = inst.n_devices, 96
    slots = rng.integers(0, inst.n_slots, b)
    cache_gw = rng.random((b, n, 2)) < 0.3
    cache_edge = rng.random((b, n, 2)) < 0.3
    decoded = decode_batch(inst, rng.uniform(-1, 1, (b, FIELDS_PER_TASK * n)), cache_gw, cache_edge,
                           inst.deadline[slots])
    raw = [rng.uniform(0, 1, (b, n)) / rng.integers(1, n + 1, (b, 1)) for _ in range(3)]
    broken = [x.copy() for x in raw]
    for x in broken:
        x[::5, ::3] = rng.choice([0.0, -0.0, np.nan, np.inf, -np.inf, -0.5, 1.5, 1.0])
    cases = [
        (decoded.site, decoded.level, decoded.uplink_share, decoded.bs_share, decoded.compute_share),
        (rng.integers(0, 3, (b, n)).astype(np.int8), rng.integers(0, 2, (b, n)).astype(np.int8), *raw),
        (rng.integers(0, 3, (b, n)).astype(np.int8), rng.integers(0, 2, (b, n)).astype(np.int8), *broken),
    ]
    keep = (rng.random((b, n, 2)) < 0.5, rng.random((b, n, 2)) < 0.5)
    for args in cases:
        for tasks in ({}, {"data": inst.data[slots], "deadline": inst.deadline[slots] * 0.6, "noisy": inst.noisy[slots]}):
            with np.errstate(invalid="ignore"):
                monkeypatch.setattr(evaluator, "_VECTOR_MIN", 0)
                fast = evaluate_batch(inst, slots, cache_gw, cache_edge, *args, *keep, **tasks)
                monkeypatch.setattr(evaluator, "_VECTOR_MIN", 10**12)
                plain = evaluate_batch(inst, slots, cache_gw, cache_edge, *args, *keep, **tasks)
            for name in _OUTCOME:
                x, y = getattr(fast, name), getattr(plain, name)
                assert x.dtype == y.dtype and x.shape == y.shape, name
                assert np.array_equal(_bits(x), _bits(y)), name
