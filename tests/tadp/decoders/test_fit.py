"""The ``fit`` decoder (tadp/decoders/fit.py): feasibility and completion for any action, its
admission order and fallbacks on hand-checkable cases, and its use by the env and the solvers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from helpers import action_of, decoder_instances, random_cache

from solvers import make_solver
from solvers.base import solve_episode
from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE
from tadp.decoders import FIELDS_PER_TASK, decode_fit, decode_fit_batch
from tadp.env import TadpBatchEnv, TadpEnv
from tadp.errors import TadpInputError
from tadp.evaluator import evaluate_batch, evaluate_slot
from tadp.generator import GeneratorOptions, generate_instance
from tadp.instance import Cache, Instance

MB = 8e6  # bits


def priority(values: list[float]) -> dict[str, list[float]]:
    """The four weight fields set to one value per task: the task's priority."""
    return {name: values for name in ("uplink", "bs", "compute_gateway", "compute_edge")}


@pytest.fixture
def four_devices() -> Instance:
    """One gateway, 4 devices; heavy models 10 MB, light 4 MB; gateway cache 25 MB (two heavy models,
    not three), edge cache 100 MB; generous deadlines and resources (paper scenario)."""
    inst = generate_instance([4], seed=0, slots=1, options=GeneratorOptions(scenario="paper"))
    sizes = np.tile([4 * MB, 10 * MB], (4, 1))
    return dataclasses.replace(inst, model_size=sizes, gateway_cache=np.array([25 * MB]), edge_cache=100 * MB,
                               deadline=np.full((1, 4), 2.0))


def test_priority_order_and_fallback_to_the_light_model(four_devices: Instance) -> None:
    """All choose gateway + heavy from a cold cache; the cache holds two heavy models (20 MB) and then
    one light (4 MB). Priorities 3 > 1 > 2 > 0: devices 3 and 1 place heavy models, device 2 falls
    back to its light model (24 MB in all), device 0 finds no room at the gateway and goes to the edge
    (its chosen heavy level there)."""
    inst = four_devices
    a = action_of(4, site=1.0, level=1.0, **priority([-0.9, 0.5, 0.0, 0.9]))
    d = decode_fit(inst, a, Cache.empty(4), inst.data[0], inst.deadline[0])
    assert d.site.tolist() == [SITE_EDGE, SITE_GATEWAY, SITE_GATEWAY, SITE_GATEWAY]
    assert d.level.tolist() == [1, 1, 0, 1]
    out = evaluate_slot(inst, 0, Cache.empty(4), d)
    assert out.feasible and out.completed.all()


def test_resident_models_need_no_room_and_keep_flags_are_the_actions(four_devices: Instance) -> None:
    """Device 0's heavy model is resident (10 MB of the 25): devices 0 and 1 run heavy at the gateway,
    device 2's heavy does not fit (5 MB left) and its light one (4 MB) does."""
    inst = four_devices
    cache = Cache.empty(4)
    cache.gateway[0, 1] = True
    a = action_of(4, site=[1.0, 1.0, 1.0, -1.0], level=1.0, keep_gateway_heavy=[1.0, 1.0, -1.0, -1.0],
                  **priority([1.0, 0.5, 0.0, -1.0]))
    d = decode_fit(inst, a, cache, inst.data[0], inst.deadline[0])
    assert d.site.tolist() == [SITE_GATEWAY, SITE_GATEWAY, SITE_GATEWAY, SITE_EDGE]
    assert d.level.tolist() == [1, 1, 0, 1]
    assert d.keep_gateway[:, 1].tolist() == [True, True, False, False]
    assert not d.keep_edge.any()


def test_a_task_no_option_fits_is_dropped(four_devices: Instance) -> None:
    """With a deadline of 0.01 s no option can complete: every task is dropped, flagged as such."""
    inst = four_devices
    deadline = np.full(4, 0.01)
    out = decode_fit_batch(inst, action_of(4, site=1.0, level=1.0)[None], np.zeros((1, 4, 2), bool),
                           np.zeros((1, 4, 2), bool), inst.data[0][None], deadline[None])
    assert (out.site == SITE_NONE).all()
    assert out.dropped_fetch.all() and not out.dropped_cache.any()


@pytest.mark.parametrize("inst", decoder_instances(), ids=lambda i: i.name + f"-{i.device_gateway.tolist()}")
def test_random_actions_feasible_and_every_served_task_completes(inst: Instance) -> None:
    """300 random actions (uniform, outside [-1, 1], with NaN, at exactly +-1) from random valid caches,
    some with tight deadlines: every decision is feasible, every task it serves completes, and the
    decoder is deterministic."""
    rng = np.random.default_rng(0)
    b, n = 300, inst.n_devices
    actions = rng.uniform(-1, 1, (b, FIELDS_PER_TASK * n))
    actions[::7] *= 3.0
    actions[::11, ::5] = np.nan
    actions[::13] = np.sign(actions[::13])
    caches = [inst.initial_cache] + [random_cache(inst, rng) for _ in range(9)]
    cache_gw = np.stack([caches[k % 10].gateway for k in range(b)])
    cache_edge = np.stack([caches[k % 10].edge for k in range(b)])
    slots = rng.integers(0, inst.n_slots, b)
    deadline = inst.deadline[slots] * rng.choice([0.3, 1.0], (b, 1))
    data = inst.data[slots]
    out = decode_fit_batch(inst, actions, cache_gw, cache_edge, data, deadline)
    verdict = evaluate_batch(inst, slots, cache_gw, cache_edge, out.site, out.level, out.uplink_share, out.bs_share,
                             out.compute_share, out.keep_gateway, out.keep_edge, data=data, deadline=deadline,
                             noisy=inst.noisy[slots])
    assert verdict.feasible.all()
    served = out.site != SITE_NONE
    assert np.array_equal(verdict.completed, served)
    assert served.any()
    again = decode_fit_batch(inst, actions[:20], cache_gw[:20], cache_edge[:20], data[:20], deadline[:20])
    for name in ("site", "level", "uplink_share", "bs_share", "compute_share", "keep_gateway", "keep_edge"):
        assert np.array_equal(getattr(again, name), getattr(out, name)[:20])


def test_wrong_action_length_is_rejected() -> None:
    inst = generate_instance([2], seed=0, slots=1)
    with pytest.raises(ValueError, match="expected shape"):
        decode_fit(inst, np.zeros(7), inst.initial_cache, inst.data[0], inst.deadline[0])


def test_env_with_the_fit_decoder() -> None:
    """The env passes check_env with decoder='fit'; its batched form gives the same rewards as single
    envs on the same traces; an unknown decoder is refused."""
    inst = generate_instance([2, 3], seed=0, slots=3)
    check_env(TadpEnv(inst, decoder="fit"), skip_render_check=True)
    batch = TadpBatchEnv(inst, 2, trace="replay", decoder="fit")
    batch.reset()
    actions = np.random.default_rng(0).uniform(-1, 1, (2, FIELDS_PER_TASK * inst.n_devices))
    _, reward, *_ = batch.step(actions)
    for k in range(2):
        env = TadpEnv(inst, trace="replay", decoder="fit")
        env.reset(seed=0)
        _, r, *_ = env.step(actions[k])
        assert r == pytest.approx(reward[k], abs=1e-12)
    with pytest.raises(TadpInputError, match="decoder"):
        TadpEnv(inst, decoder="nope")


@pytest.mark.slow
def test_fit_solvers_are_named_and_checkpoints_keep_their_decoder(tmp_path) -> None:
    """td3-fit trains through the fit decoder and records it; its checkpoint serves td3-fit and is
    refused by td3, with the decoder named. random-fit plays feasible episodes."""
    inst = generate_instance([2, 3], seed=0, slots=3)
    path = tmp_path / "p.pt"
    solver = make_solver("td3-fit", episodes=2, episode_slots=3, learning_starts=3, save_to=str(path))
    facts = solver.prepare(inst, seed=0)
    assert facts["decoder"] == "fit" and solver.describe()["decoder"] == "fit"
    loaded = make_solver("td3-fit", checkpoint=str(path))
    loaded.prepare(inst)
    _, results = solve_episode(loaded, inst, time_limit=1.0)
    assert all(r.status == "feasible" for r in results)
    with pytest.raises(TadpInputError, match="'fit' decoder"):
        make_solver("td3", checkpoint=str(path)).prepare(inst)
    _, results = solve_episode(make_solver("random-fit"), inst, time_limit=1.0, seed=3)
    assert all(r.status == "feasible" and r.outcome.completed[r.decision.site != SITE_NONE].all() for r in results)
