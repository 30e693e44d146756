"""The action decoder (docs/model.md, section 10): its rules on hand-checkable cases, agreement with a plain
sequential transcription of Algorithm 1, and feasibility of its output for any action."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import action_of, decoder_instances, random_cache

import tadp.decoders.dcpu as dec
from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE
from tadp.decoders import FIELDS_PER_TASK, decode, decode_batch
from tadp.evaluator import evaluate_batch, evaluate_slot
from tadp.generator import GeneratorOptions, generate_instance
from tadp.instance import Cache, Instance
from tadp.physics import DEADLINE_TOL, fetch_times

MB = 8e6  # bits


@pytest.fixture
def four_devices() -> Instance:
    """One gateway with 4 devices; every heavy model is 10 MB, light 4 MB, the gateway cache holds
    25 MB (two heavy models, not three), the edge cache 100 MB, generous deadlines (fetches take
    0.7 s at most)."""
    inst = generate_instance([4], seed=0, slots=1)
    sizes = np.tile([4 * MB, 10 * MB], (4, 1))
    return dataclasses.replace(inst, model_size=sizes, gateway_cache=np.array([25 * MB]), edge_cache=100 * MB,
                               deadline=np.full((1, 4), 2.0))


def test_cache_room_first_fit_in_device_order(four_devices: Instance) -> None:
    """All at the gateway, cold cache, room 25 MB. Heavy, heavy, heavy, light: devices 0 and 1 place
    (20 MB), device 2's heavy does not fit and is dropped, device 3's light (4 MB) still fits."""
    inst = four_devices
    d = decode(inst, action_of(4, site=1.0, level=[1.0, 1.0, 1.0, -1.0]), Cache.empty(4), inst.deadline[0])
    assert d.site.tolist() == [SITE_GATEWAY, SITE_GATEWAY, SITE_NONE, SITE_GATEWAY]
    # at the edge instead, the ECaS has room for all four
    d = decode(inst, action_of(4, site=-1.0, level=1.0), Cache.empty(4), inst.deadline[0])
    assert d.site.tolist() == [SITE_EDGE] * 4


def test_start_cache_counts_and_resident_models_need_no_room(four_devices: Instance) -> None:
    """Device 3's light model kept from the last slot takes 4 MB of the 25: devices 0 and 1 place
    their heavy models (24 MB in all), device 2's does not fit, device 3 runs without placing."""
    inst = four_devices
    cache = Cache.empty(4)
    cache.gateway[3, 0] = True
    d = decode(inst, action_of(4, site=1.0, level=[1.0, 1.0, 1.0, -1.0]), cache, inst.deadline[0])
    assert d.site.tolist() == [SITE_GATEWAY, SITE_GATEWAY, SITE_NONE, SITE_GATEWAY]
    cache.gateway[3, 0], cache.gateway[3, 1] = False, True  # now a resident heavy model: 10 MB
    d = decode(inst, action_of(4, site=1.0, level=1.0), cache, inst.deadline[0])
    assert d.site.tolist() == [SITE_GATEWAY, SITE_NONE, SITE_NONE, SITE_GATEWAY]


def test_fetch_longer_than_deadline_drops_the_task(four_devices: Instance) -> None:
    """A cloud->gateway fetch of a 10 MB model takes 80/300 + 80/200 = 0.667 s: a 0.5 s deadline drops
    the heavy gateway task; a resident model needs no fetch, so the same deadline keeps it."""
    inst = four_devices
    deadline = np.array([0.5, 0.5, 2.0, 2.0])
    cache = Cache.empty(4)
    cache.gateway[1, 1] = True
    gateway_fetch, _ = fetch_times(inst, cache.gateway, cache.edge)
    assert gateway_fetch[0, 1] == pytest.approx(80 / 300 + 80 / 200)
    out = decode_batch(inst, action_of(4, site=1.0, level=1.0)[None], cache.gateway[None],
                       cache.edge[None], deadline[None])
    assert out.site[0].tolist() == [SITE_NONE, SITE_GATEWAY, SITE_GATEWAY, SITE_NONE]
    assert out.dropped_fetch[0].tolist() == [True, False, False, False]
    assert out.dropped_cache[0].tolist() == [False, False, False, True]


def test_shares_are_weights_over_their_pool() -> None:
    """Two gateways of 2 devices; tasks 0, 1 at gateway 0 with uplink weights 0.75 and 0.25 (fields
    0.5 and -0.5); tasks 2, 3 at the edge with bs fields -1 (weights 0): equal BS shares."""
    inst = generate_instance([2, 2], seed=0, slots=1, options=GeneratorOptions(scenario="paper"))
    a = action_of(4, site=[1.0, 1.0, -1.0, -1.0], level=-1.0, uplink=[0.5, -0.5, 1.0, 1.0],
                  compute_gateway=[0.0, 0.0, 1.0, 1.0], compute_edge=[1.0, 1.0, 1.0, -0.5])
    d = decode(inst, a, Cache.empty(4), inst.deadline[0])
    assert d.site.tolist() == [SITE_GATEWAY, SITE_GATEWAY, SITE_EDGE, SITE_EDGE]
    np.testing.assert_allclose(d.uplink_share, [0.75, 0.25, 0.5, 0.5])
    np.testing.assert_allclose(d.bs_share, [0.0, 0.0, 0.5, 0.5])
    np.testing.assert_allclose(d.compute_share, [0.5, 0.5, 1.0 / 1.25, 0.25 / 1.25])
    assert not d.keep_gateway.any() and not d.keep_edge.any()


def _reference_decode(inst: Instance, action: np.ndarray, cache: Cache, deadline: np.ndarray) -> np.ndarray:
    """Sites by a plain transcription of Algorithm 1 Steps 1-2 (one device at a time)."""
    f = np.clip(np.nan_to_num(action.reshape(-1, FIELDS_PER_TASK), nan=-1.0), -1, 1)  # NaN counts as < 0
    gateway_fetch, edge_fetch = fetch_times(inst, cache.gateway, cache.edge)
    gw_load, edge_load = inst.cache_load(cache.gateway, cache.edge)
    room_gw = inst.gateway_cache - gw_load
    room_edge = inst.edge_cache - edge_load
    site = np.zeros(inst.n_devices, int)
    for j in np.argsort(inst.device_gateway, kind="stable"):
        n = int(f[j, 1] >= 0)
        g = inst.device_gateway[j]
        size = inst.model_size[j, n]
        if f[j, 0] >= 0:
            if cache.gateway[j, n]:
                site[j] = SITE_GATEWAY
            elif gateway_fetch[j, n] <= deadline[j] + DEADLINE_TOL and size <= room_gw[g]:
                room_gw[g] -= size
                site[j] = SITE_GATEWAY
        else:
            if cache.edge[j, n]:
                site[j] = SITE_EDGE
            elif edge_fetch[j, n] <= deadline[j] + DEADLINE_TOL and size <= room_edge:
                room_edge -= size
                site[j] = SITE_EDGE
    return site


@pytest.mark.parametrize("inst", decoder_instances(), ids=lambda i: i.name + f"-{i.device_gateway.tolist()}")
def test_random_actions_always_feasible_and_match_the_sequential_rule(inst: Instance) -> None:
    """1,000 random actions (uniform, extreme, with NaN) from random valid caches: the evaluator finds
    every decoded decision feasible, and the sites equal Algorithm 1's one-device-at-a-time loop."""
    rng = np.random.default_rng(0)
    b, n = 1000, inst.n_devices
    actions = rng.uniform(-1, 1, (b, FIELDS_PER_TASK * n))
    actions[::7] *= 3.0  # outside [-1, 1]
    actions[::11, ::5] = np.nan
    actions[::13] = np.sign(actions[::13])  # fields at exactly +-1 (weights 0 or 1)
    caches = [inst.initial_cache] + [random_cache(inst, rng) for _ in range(19)]
    cache_gw = np.stack([caches[k % 20].gateway for k in range(b)])
    cache_edge = np.stack([caches[k % 20].edge for k in range(b)])
    slots = rng.integers(0, inst.n_slots, b)
    deadline = inst.deadline[slots] * rng.choice([0.3, 1.0], (b, 1))  # some slots with tight deadlines
    out = decode_batch(inst, actions, cache_gw, cache_edge, deadline)
    verdict = evaluate_batch(inst, slots, cache_gw, cache_edge, out.site, out.level, out.uplink_share, out.bs_share,
                             out.compute_share, out.keep_gateway, out.keep_edge, data=inst.data[slots],
                             deadline=deadline, noisy=inst.noisy[slots])
    assert verdict.feasible.all()
    # every kept placement is one the evaluator makes
    needs = (out.site != SITE_NONE) & ~np.where(
        out.site == SITE_GATEWAY, np.take_along_axis(cache_gw, out.level[..., None].astype(int), -1)[..., 0],
        np.take_along_axis(cache_edge, out.level[..., None].astype(int), -1)[..., 0])
    placed = verdict.placed_gateway.any(-1) | verdict.placed_edge.any(-1)
    assert np.array_equal(needs, placed)
    for k in range(0, b, 37):
        cache = Cache(cache_gw[k], cache_edge[k])
        assert np.array_equal(out.site[k], _reference_decode(inst, actions[k], cache, deadline[k]))


def test_single_decode_is_deterministic_and_scored_feasible() -> None:
    """decode() twice on the same input gives the same decision; evaluate_slot accepts it."""
    inst = generate_instance([5, 5], seed=0, slots=2)
    a = np.random.default_rng(1).uniform(-1, 1, FIELDS_PER_TASK * 10)
    d1 = decode(inst, a, inst.initial_cache, inst.deadline[0])
    d2 = decode(inst, a, inst.initial_cache, inst.deadline[0])
    for name in ("site", "level", "uplink_share", "bs_share", "compute_share", "keep_gateway", "keep_edge"):
        assert np.array_equal(getattr(d1, name), getattr(d2, name))
    assert evaluate_slot(inst, 0, inst.initial_cache, d1).feasible


def test_wrong_action_length_is_rejected() -> None:
    """An action of the wrong size names the expected shape."""
    inst = generate_instance([2], seed=0, slots=1)
    with pytest.raises(ValueError, match="expected shape"):
        decode(inst, np.zeros(7), inst.initial_cache, inst.deadline[0])


# ------------------------------------------------------------------ the fast path against the reference decoder
def _reference_decode_batch(inst: Instance, actions: np.ndarray, cache_gateway: np.ndarray, cache_edge: np.ndarray,
                      deadline: np.ndarray) -> dict[str, np.ndarray]:
    """The decoder as it was before the fast path (frozen here): discretise with np.where,
    admit by rounds of cumulative sums over the whole batch, shares by pool."""
    n, g = inst.n_devices, inst.n_gateways
    order = np.argsort(inst.device_gateway, kind="stable")
    gateway_in_order = inst.device_gateway[order]
    block_start = np.searchsorted(gateway_in_order, np.arange(g))[gateway_in_order]
    membership = inst.gateway_membership
    b = actions.shape[0]
    fields = np.asarray(actions, float).reshape(b, n, FIELDS_PER_TASK)
    at_gateway = fields[..., 0] >= 0.0
    heavy = fields[..., 1] >= 0.0
    keep_gateway, keep_edge = fields[..., 6:8] >= 0.0, fields[..., 8:10] >= 0.0
    gateway_fetch, edge_fetch = fetch_times(inst, cache_gateway, cache_edge)
    fetch = np.where(at_gateway, np.where(heavy, gateway_fetch[..., 1], gateway_fetch[..., 0]),
                     np.where(heavy, edge_fetch[..., 1], edge_fetch[..., 0]))
    resident = np.where(at_gateway, np.where(heavy, cache_gateway[..., 1], cache_gateway[..., 0]),
                        np.where(heavy, cache_edge[..., 1], cache_edge[..., 0]))
    dropped_fetch = ~resident & ~(fetch <= deadline + DEADLINE_TOL)
    candidates = ~resident & ~dropped_fetch
    dropped_cache = np.zeros_like(candidates)
    if candidates.any():
        size = np.where(heavy, inst.model_size[:, 1], inst.model_size[:, 0])
        ls, hs = inst.model_size[:, 0], inst.model_size[:, 1]
        gateway_bits = np.where(cache_gateway[..., 0], ls, 0.0) + np.where(cache_gateway[..., 1], hs, 0.0)
        edge_bits = np.where(cache_edge[..., 0], ls, 0.0) + np.where(cache_edge[..., 1], hs, 0.0)
        free = np.concatenate([inst.gateway_cache - gateway_bits @ membership,
                               (inst.edge_cache - edge_bits.sum(axis=-1))[:, None]], axis=1)
        pool = np.where(at_gateway, inst.device_gateway[None, :], g)
        admitted = np.empty_like(candidates)
        admitted[:, order] = _reference_admit(block_start, candidates[:, order], size[:, order], pool[:, order],
                                        at_gateway[:, order], free)
        dropped_cache = candidates & ~admitted
    site = np.where(at_gateway, SITE_GATEWAY, SITE_EDGE).astype(np.int8)
    site[dropped_fetch | dropped_cache] = SITE_NONE
    served, at_gateway, at_edge = site != SITE_NONE, site == SITE_GATEWAY, site == SITE_EDGE
    weight = (np.fmin(np.fmax(fields[..., 2:6], -1.0), 1.0) + 1.0) / 2.0
    return {
        "site": site, "level": heavy.astype(np.int8),
        "uplink_share": _reference_shares(weight[..., 0], served, membership, inst.device_gateway),
        "bs_share": _reference_shares(weight[..., 1], at_edge, None, None),
        "compute_share": (_reference_shares(weight[..., 2], at_gateway, membership, inst.device_gateway)
                          + _reference_shares(weight[..., 3], at_edge, None, None)),
        "keep_gateway": keep_gateway, "keep_edge": keep_edge, "dropped_fetch": dropped_fetch,
        "dropped_cache": dropped_cache,
    }


def _reference_shares(weight: np.ndarray, members: np.ndarray, membership: np.ndarray | None,
                gateway: np.ndarray | None) -> np.ndarray:
    w = np.where(members, weight, 0.0)
    count = members.astype(float)
    if membership is None:
        total, size = w.sum(axis=-1, keepdims=True), count.sum(axis=-1, keepdims=True)
    else:
        total, size = w @ membership, count @ membership
    with np.errstate(divide="ignore", invalid="ignore"):
        per_weight = np.where(total > 0.0, 1.0 / total, 0.0)
        equal = np.where((total > 0.0) | (size == 0.0), 0.0, 1.0 / size)
    if gateway is not None:
        per_weight, equal = per_weight[:, gateway], equal[:, gateway]
    return (w * per_weight + equal) * count


def _reference_admit(block_start: np.ndarray, candidates: np.ndarray, size: np.ndarray, pool: np.ndarray,
               at_gateway: np.ndarray, free: np.ndarray) -> np.ndarray:
    b, n = candidates.shape
    n_pools = free.shape[1]
    flat_pool = (np.arange(b)[:, None] * n_pools + pool).ravel()
    undecided, admitted, room = candidates.copy(), np.zeros_like(candidates), free.copy()
    while True:
        room_of_task = room.ravel()[flat_pool].reshape(b, n)
        undecided &= ~(size > room_of_task)
        if not undecided.any():
            return admitted
        gateway_sizes = np.cumsum(np.where(undecided & at_gateway, size, 0.0), axis=1)
        before_block = np.concatenate([np.zeros((b, 1)), gateway_sizes], axis=1)[:, block_start]
        edge_sizes = np.cumsum(np.where(undecided & ~at_gateway, size, 0.0), axis=1)
        cumulative = np.where(at_gateway, gateway_sizes - before_block, edge_sizes)
        fits = undecided & (cumulative <= room_of_task)
        admitted |= fits
        undecided &= ~fits
        if not undecided.any():
            return admitted
        used = np.bincount(flat_pool, weights=np.where(fits, size, 0.0).ravel(), minlength=b * n_pools)
        room = room - used.reshape(b, n_pools)


_DECODED = ("site", "level", "uplink_share", "bs_share", "compute_share", "keep_gateway", "keep_edge",
            "dropped_fetch", "dropped_cache")


def _assert_same_as_old(inst: Instance, actions: np.ndarray, cache_gw: np.ndarray, cache_edge: np.ndarray,
                        deadline: np.ndarray) -> None:
    """decode_batch's every output equals the reference decoder's: same dtype, shape and bits."""
    new = decode_batch(inst, actions, cache_gw, cache_edge, deadline)
    old = _reference_decode_batch(inst, actions, cache_gw, cache_edge, deadline)
    for name in _DECODED:
        x, y = getattr(new, name), old[name]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        if x.dtype.kind == "f":
            x, y = x.view(np.uint64), y.view(np.uint64)  # bit for bit (-0.0 and NaN included)
        assert np.array_equal(x, y), name


def _random_batch(inst: Instance, rng: np.random.Generator, b: int) -> tuple[np.ndarray, ...]:
    """b random actions (uniform, out of range, NaN, +-inf, exactly +-1 and 0) from random valid start
    caches, for random slots with deadlines as given, tightened or loosened."""
    actions = rng.uniform(-1, 1, (b, FIELDS_PER_TASK * inst.n_devices))
    actions[::7] *= 3.0
    actions[::11, ::5] = np.nan
    actions[3::13] = np.sign(actions[3::13])
    actions[5::17, ::3] = rng.choice([np.inf, -np.inf, 0.0, -0.0])
    caches = [inst.initial_cache] + [random_cache(inst, rng) for _ in range(7)]
    pick = rng.integers(0, len(caches), b)
    cache_gw = np.stack([caches[k].gateway for k in pick])
    cache_edge = np.stack([caches[k].edge for k in pick])
    slots = rng.integers(0, inst.n_slots, b)
    deadline = inst.deadline[slots] * rng.choice([0.3, 1.0, 3.0], (b, 1))
    return actions, cache_gw, cache_edge, deadline


def _propertydecoder_instances() -> list[Instance]:
    return decoder_instances() + [
        generate_instance([35] * 10, seed=0, slots=4),  # the benchmark's size
        generate_instance([35, 1, 20, 7], seed=3, slots=4, options=GeneratorOptions(resource_scale=0.1)),
        generate_instance([20] * 4, seed=9, slots=4, options=GeneratorOptions(warm_cache=True, resource_scale=0.3)),
        generate_instance([12] * 3, seed=6, slots=4, options=GeneratorOptions(resource_scale=3.0)),  # roomy caches
    ]


@pytest.mark.parametrize("inst", _propertydecoder_instances(), ids=lambda i: i.name + f"-{i.n_devices}")
def test_fast_path_equals_the_reference_decoder(inst: Instance) -> None:
    """On thousands of random actions and caches, in batches of 1 to 300 (the reference path below
    4 rows, the fast path above), every output of decode_batch is the reference decoder's, bit for bit."""
    rng = np.random.default_rng(inst.n_devices)
    for _ in range(3):
        for b in (1, 2, 3, 4, 7, 64, 300):
            _assert_same_as_old(inst, *_random_batch(inst, rng, b))


@pytest.mark.parametrize("tol", [0.0, 1e6, 1e15], ids=["never-near", "often-near", "always-near"])
def test_near_tie_fallback_changes_nothing(tol: float) -> None:
    """Whether no row, many rows or every row counts as a near tie (and so goes to the reference
    rounds), the output is the same: both paths decide as the reference decoder does."""
    insts = [generate_instance([35] * 4, seed=1, slots=4), decoder_instances()[1], decoder_instances()[-1]]
    for inst in insts:
        dec._layout(inst).tol, saved = tol, dec._layout(inst).tol
        try:
            rng = np.random.default_rng(7)
            for b in (5, 200):
                _assert_same_as_old(inst, *_random_batch(inst, rng, b))
        finally:
            dec._layout(inst).tol = saved


def test_exact_ties_go_to_the_reference(four_devices: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """Model sizes in whole megabytes make exact ties (a model that fills the room to the bit): such
    rows are decided by the reference rounds, and agree with the reference decoder and with Algorithm 1."""
    inst = dataclasses.replace(four_devices, model_size=np.tile([5 * MB, 10 * MB], (4, 1)), gateway_cache=np.array(
        [25 * MB]), edge_cache=20 * MB)
    calls: list[int] = []
    reference = dec._admit_in_order
    monkeypatch.setattr(dec, "_admit_in_order", lambda *a: calls.append(len(a[1])) or reference(*a))
    rng = np.random.default_rng(3)
    actions = np.tile(action_of(4, site=1.0, level=1.0), (8, 1))  # 10 + 10 + (10 > 5 left) ...
    actions[:, 1::FIELDS_PER_TASK] = rng.choice([-1.0, 1.0], (8, 4))  # ... light and heavy mixed: exact fits
    actions[4:, 0::FIELDS_PER_TASK] = rng.choice([-1.0, 1.0], (4, 4))
    cache_gw, cache_edge = np.zeros((8, 4, 2), bool), np.zeros((8, 4, 2), bool)
    deadline = np.full((8, 4), 2.0)
    _assert_same_as_old(inst, actions, cache_gw, cache_edge, deadline)
    assert calls, "no row was sent to the reference rounds"
    out = decode_batch(inst, actions, cache_gw, cache_edge, deadline)
    for k in range(8):
        assert np.array_equal(out.site[k], _reference_decode(inst, actions[k], Cache(cache_gw[k], cache_edge[k]),
                                                             deadline[k]))


def test_output_shapes_for_an_empty_batch() -> None:
    """B = 0 decodes to empty arrays of the usual kinds."""
    inst = generate_instance([3, 2], seed=0, slots=1)
    out = decode_batch(inst, np.zeros((0, FIELDS_PER_TASK * 5)), np.zeros((0, 5, 2), bool),
                       np.zeros((0, 5, 2), bool), np.zeros((0, 5)))
    assert out.site.shape == (0, 5) and out.keep_gateway.shape == (0, 5, 2) and out.uplink_share.dtype == float
