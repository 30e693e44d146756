"""The Gymnasium environment (docs/model.md, section 10): API conformance, the eq. (12) layout, agreement
with the evaluator, fresh versus replayed traces, the batched form."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import tadp  # noqa: F401  (registers tadp/TADP-v0)
from tadp.decoders import FIELDS_PER_TASK, decode
from tadp.env import TadpBatchEnv, TadpEnv
from tadp.errors import TadpInputError
from tadp.evaluator import evaluate_slot
from tadp.generator import GeneratorOptions, generate_instance
from tadp.instance import write_instance


def test_check_env_passes() -> None:
    """Gymnasium's own checker accepts the environment, made directly and through the registry."""
    check_env(TadpEnv(size="2x3"), skip_render_check=True)
    env = gym.make("tadp/TADP-v0", size="2x5")
    check_env(env.unwrapped)
    assert env.observation_space.shape == (70,) and env.action_space.shape == (100,)


def test_make_from_file_and_instance(tmp_path) -> None:
    """The registry builds the env from an instance file or an Instance; both see the same instance."""
    inst = generate_instance([3, 2], seed=4, slots=5)
    path = tmp_path / "inst.json"
    write_instance(inst, path)
    from_file = gym.make("tadp/TADP-v0", instance=str(path)).unwrapped
    from_object = gym.make("tadp/TADP-v0", instance=inst).unwrapped
    assert from_file.instance.name == from_object.instance.name == inst.name
    assert from_file.horizon == 5
    with pytest.raises(TadpInputError):
        TadpEnv()
    with pytest.raises(TadpInputError):
        TadpEnv(size="2x3", trace="sometimes")


def test_observation_layout_is_task_major() -> None:
    """Task j's numbers sit at 7j..7j+6: D and Tmax scaled by the generator's ranges, theta, then
    u_l[0], u_l[1], u_e[0], u_e[1] of the (warm) initial cache."""
    inst = generate_instance([2, 2], seed=3, slots=3, options=GeneratorOptions(warm_cache=True))
    env = TadpEnv(inst, trace="replay")
    obs, _ = env.reset(seed=0)
    per_task = obs.reshape(4, 7)
    np.testing.assert_allclose(per_task[:, 0], (inst.data[0] - 320e3) / 160e3, rtol=1e-6)
    np.testing.assert_allclose(per_task[:, 1], (inst.deadline[0] - 1.5) / 0.5, rtol=1e-6)
    np.testing.assert_array_equal(per_task[:, 2], inst.noisy[0])
    np.testing.assert_array_equal(per_task[:, 3:5], inst.initial_cache.gateway)
    np.testing.assert_array_equal(per_task[:, 5:7], inst.initial_cache.edge)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)


def test_replay_episode_agrees_with_the_evaluator() -> None:
    """Replaying the instance's trace, each step's reward and info equal the evaluator's verdict on the
    decoded decision from the chained cache; the last step truncates and never terminates."""
    inst = generate_instance([3, 3], seed=1, slots=6)
    env = TadpEnv(inst, trace="replay")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    cache = inst.initial_cache
    for slot in range(inst.n_slots):
        action = rng.uniform(-1, 1, FIELDS_PER_TASK * 6).astype(np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        outcome = evaluate_slot(inst, slot, cache, decode(inst, action, cache, inst.deadline[slot]))
        assert reward == pytest.approx(outcome.score, abs=1e-12)
        assert info["completion"] == pytest.approx(outcome.completion)
        np.testing.assert_array_equal(info["completed"], outcome.completed)
        assert info["slot"] == slot and info["feasible"]
        assert not terminated and truncated == (slot == inst.n_slots - 1)
        cache = outcome.next_cache
        np.testing.assert_array_equal(obs.reshape(6, 7)[:, 3:5], cache.gateway)
    with pytest.raises(RuntimeError):
        env.step(action)


def test_fresh_traces_are_seeded_and_new() -> None:
    """reset(seed) draws the same fresh trace for the same seed, another for another seed, and
    neither is the instance's own trace; options={"trace": "replay"} replays it."""
    inst = generate_instance([2, 3], seed=0, slots=4)
    env = TadpEnv(inst)
    a, _ = env.reset(seed=7)
    b, _ = env.reset(seed=7)
    c, _ = env.reset(seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    replay, info = env.reset(options={"trace": "replay"})
    assert info["trace"] == "replay"
    np.testing.assert_allclose(replay.reshape(5, 7)[:, 0], (inst.data[0] - 320e3) / 160e3, rtol=1e-6)
    assert not np.allclose(a, replay)


def test_horizon_sets_the_episode_length() -> None:
    """horizon=3 on a 5-slot instance: fresh and replayed episodes truncate after 3 steps; a replay
    longer than the trace is refused."""
    inst = generate_instance([2, 2], seed=0, slots=5)
    for trace in ("fresh", "replay"):
        env = TadpEnv(inst, trace=trace, horizon=3)
        env.reset(seed=0)
        flags = [env.step(np.zeros(40, np.float32))[3] for _ in range(3)]
        assert flags == [False, False, True]
    fresh = TadpEnv(inst, horizon=8)
    fresh.reset(seed=0)
    assert fresh.horizon == 8
    with pytest.raises(TadpInputError):
        TadpEnv(inst, trace="replay", horizon=8).reset(seed=0)


def test_all_or_nothing_reward() -> None:
    """Eq. (14): the slot score when every task completes, else 0; info still reports the score."""
    inst = generate_instance([2, 2], seed=2, slots=3, options=GeneratorOptions(scenario="paper"))
    env = TadpEnv(inst, trace="replay", reward="all_or_nothing")
    env.reset(seed=0)
    rng = np.random.default_rng(3)
    for _ in range(inst.n_slots):
        _, reward, _, _, info = env.step(rng.uniform(-1, 1, 40))
        assert reward == (info["score"] if info["completion"] == 1.0 else 0.0)


def test_batch_env_matches_single_envs() -> None:
    """Three replayed episodes in one batch give, row by row, the single env's rewards and observations."""
    inst = generate_instance([2, 3], seed=5, slots=4)
    batch = TadpBatchEnv(inst, 3, trace="replay")
    obs = batch.reset(seed=0)
    singles = [TadpEnv(inst, trace="replay") for _ in range(3)]
    single_obs = [e.reset(seed=0)[0] for e in singles]
    np.testing.assert_array_equal(obs, np.stack(single_obs))
    rng = np.random.default_rng(1)
    for _ in range(inst.n_slots):
        actions = rng.uniform(-1, 1, (3, 50))
        obs, reward, terminated, truncated, info = batch.step(actions)
        for k, e in enumerate(singles):
            o, r, _, t, _ = e.step(actions[k])
            np.testing.assert_array_equal(obs[k], o)
            assert reward[k] == pytest.approx(r, abs=1e-12) and truncated[k] == t
        assert info["feasible"].all() and not terminated.any()
    with pytest.raises(RuntimeError):
        batch.step(actions)


def test_batch_env_fresh_traces_differ_per_row() -> None:
    """Fresh batched episodes draw one trace per row (the rows' observations differ)."""
    inst = generate_instance([2, 2], seed=0, slots=3)
    obs = TadpBatchEnv(inst, 4, seed=1).reset()
    assert obs.shape == (4, 28) and len({row.tobytes() for row in obs}) == 4


def test_render_ansi() -> None:
    """The ansi render names the slot, its score and the sites chosen."""
    env = TadpEnv(size="2x2", render_mode="ansi", trace="replay")
    env.reset(seed=0)
    env.step(np.zeros(40, np.float32))
    assert "slot 0: score" in env.render()
