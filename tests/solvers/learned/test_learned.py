"""TD3 and DDPG (docs/model.md, section 10): presets, smoke runs of 200 steps on 2x3, reproducibility,
checkpoint round-trips, the solver wrappers and the ``train`` command."""

from __future__ import annotations

import csv

import gymnasium as gym
import numpy as np
import pytest
import torch

from benchmarks import cli
from solvers import make_solver
from solvers.base import solve_episode
from solvers.learned.checkpoint import load_checkpoint, save_checkpoint
from solvers.learned.td3 import Td3Config, preset, train
from tadp.env import OBS_PER_TASK, TadpEnv
from tadp.errors import TadpInputError
from tadp.generator import generate_instance

torch.set_num_threads(1)

#: 4 episodes of 50 slots = 200 steps, learning from step 100 on: 100 updates.
SMOKE = {"episodes": 4, "learning_starts": 100}


@pytest.fixture(scope="module")
def inst_2x3():
    return generate_instance([3, 3], seed=0, slots=50)


def _probe(result, inst) -> np.ndarray:
    """The policy's actions on a fixed batch of observations."""
    obs = np.random.default_rng(0).random((5, OBS_PER_TASK * inst.n_devices)).astype(np.float32)
    return result.policy(obs)


def test_presets_follow_table_iv() -> None:
    """Both presets keep Table IV's learning values; the paper preset has the paper's networks;
    DDPG has one critic, no target smoothing and no policy delay."""
    paper = preset("paper")
    assert paper.actor_hidden == (1800, 2400, 3000) and paper.critic_hidden == (4800, 3500, 1500, 500)
    assert paper.validate_every == 0 and preset("default").validate_every == 5  # the paper returns the last actor
    assert preset("paper", "ddpg").critic_hidden == (2000, 1500, 500)
    for cfg in (paper, preset("default")):
        assert (cfg.episodes, cfg.buffer_size, cfg.batch_size, cfg.gamma, cfg.tau) == (300, 10_000, 64, 0.95, 0.01)
        assert (cfg.actor_lr, cfg.critic_lr, cfg.policy_delay, cfg.learning_starts) == (1e-4, 3e-4, 2, 1000)
        assert (cfg.exploration_noise, cfg.target_noise, cfg.target_noise_clip) == (0.0316, 0.0316, 0.03)
        assert cfg.critic_loss == "standard" and cfg.twin
    ddpg = preset("default", "ddpg")
    assert not ddpg.twin and ddpg.policy_delay == 1 and ddpg.target_noise == 0.0
    with pytest.raises(TadpInputError):
        Td3Config(critic_loss="median")
    with pytest.raises(TadpInputError):
        preset("huge")


@pytest.mark.slow
@pytest.mark.parametrize("algo,loss", [("td3", "standard"), ("td3", "paper"), ("ddpg", "standard")])
def test_smoke_run_finishes_and_is_reproducible(inst_2x3, algo: str, loss: str) -> None:
    """200 steps on 2x3 finish with a 4-row learning curve; the same seed gives the same policy
    bit for bit, another seed another policy."""
    cfg = preset("default", algo, critic_loss=loss, seed=3, **SMOKE)
    first = train(cfg, TadpEnv(inst_2x3))
    second = train(cfg, TadpEnv(inst_2x3))
    assert first.steps == 200 and len(first.curve) == 4
    assert [r["episode"] for r in first.curve] == [0, 1, 2, 3]
    assert all(0.0 <= r["score"] <= 1.0 and 0.0 <= r["completion"] <= 1.0 for r in first.curve)
    assert first.curve == [dict(r, seconds=a["seconds"]) for r, a in zip(second.curve, first.curve, strict=True)]
    np.testing.assert_array_equal(_probe(first, inst_2x3), _probe(second, inst_2x3))
    other = train(preset("default", algo, critic_loss=loss, seed=4, **SMOKE), TadpEnv(inst_2x3))
    assert not np.array_equal(_probe(first, inst_2x3), _probe(other, inst_2x3))


@pytest.mark.slow
def test_validation_returns_the_best_validated_actor(inst_2x3) -> None:
    """With validate_every, the actor returned is the one of the best validation (scripted here),
    validations happen every k episodes after learning starts and after the last episode, and the
    curve rows carry them."""
    cfg = preset("default", seed=0, episodes=6, learning_starts=60, validate_every=2)
    scripted = iter([0.2, 0.9, 0.5])  # episodes 1, 3, 5 (learning starts during episode 1)
    seen = []

    def validate(policy) -> float:
        seen.append({k: v.clone() for k, v in policy.actor.state_dict().items()})
        return next(scripted)

    result = train(cfg, TadpEnv(inst_2x3, trace="fresh"), validate=validate)
    assert [r.get("validation") for r in result.curve] == [None, 0.2, None, 0.9, None, 0.5]
    assert result.extra == {"selected_episode": 3, "selected_validation": 0.9}
    state = result.policy.actor.state_dict()
    assert all(torch.equal(state[k], seen[1][k]) for k in state)
    assert not all(torch.equal(seen[1][k], seen[2][k]) for k in state)  # it did learn after episode 3


def test_single_observation_fast_path_matches_torch() -> None:
    """One observation on the CPU runs through numpy (sgemv); it equals the torch forward pass up
    to float32 rounding, and follows the actor's weights when they change."""
    from solvers.learned.networks import Actor
    from solvers.learned.policy import Policy

    torch.manual_seed(0)
    actor = Actor(21, 30, (64, 48))
    policy = Policy(actor, -np.ones(30), np.ones(30))
    obs = np.random.default_rng(0).random((4, 21)).astype(np.float32)
    assert policy._gemv_layers() is not None
    batched = policy.unit(obs)  # torch
    for k in range(4):
        np.testing.assert_allclose(policy.unit(obs[k]), batched[k], atol=1e-6)
    with torch.no_grad():
        actor.net[0].weight.mul_(2.0)
    np.testing.assert_allclose(policy.unit(obs[0]), policy.unit(obs[:1])[0], atol=1e-6)
    assert policy.int8()._gemv_layers() is None  # quantised actors stay on torch


@pytest.mark.slow
def test_checkpoint_round_trip(inst_2x3, tmp_path) -> None:
    """A saved and loaded checkpoint has the same config, sizes, curve and actions."""
    result = train(preset("default", "td3", seed=1, **SMOKE), TadpEnv(inst_2x3))
    path = tmp_path / "sub" / "td3.pt"
    save_checkpoint(path, result, {"instance": inst_2x3.name})
    loaded = load_checkpoint(path)
    assert loaded.config == result.config
    assert (loaded.obs_dim, loaded.act_dim) == (42, 60)
    assert loaded.curve == result.curve and loaded.extra["instance"] == inst_2x3.name
    np.testing.assert_array_equal(_probe(loaded, inst_2x3), _probe(result, inst_2x3))
    np.testing.assert_allclose(loaded.policy.int8()(np.zeros((2, 42), np.float32)),
                               result.policy(np.zeros((2, 42), np.float32)), atol=0.05)
    for a, b in zip(loaded.critics, result.critics, strict=True):
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert ka == kb and torch.equal(va, vb)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(TadpInputError):
        load_checkpoint(tmp_path / "junk.pt")


@pytest.mark.slow
def test_generic_continuous_env() -> None:
    """train() runs on Gymnasium's Pendulum (actions in [-2, 2]) and returns actions in its range."""
    env = gym.make("Pendulum-v1")
    result = train(preset("default", "td3", episodes=1, learning_starts=100, gamma=0.98), env)
    assert result.steps == 200
    actions = result.policy(np.zeros((3, 3), np.float32))
    assert actions.shape == (3, 1) and np.all(np.abs(actions) <= 2.0)
    with pytest.raises(TadpInputError):
        train(preset("default"), gym.make("CartPole-v1"))


@pytest.mark.slow
def test_solvers_train_load_and_solve(inst_2x3, tmp_path) -> None:
    """Td3Solver trains in prepare() (saving a checkpoint and its curve; episodes of 50 slots on a
    5-slot instance, as the harness asks), DdpgSolver loads one; each
    slot decision is re-scored feasible by the evaluator and carries its inference time."""
    save = tmp_path / "td3.pt"
    td3 = make_solver("td3", **SMOKE, save_to=str(save))
    short = generate_instance([3, 3], seed=0, slots=5)
    facts = make_solver("td3", episodes=1, episode_slots=50, learning_starts=10).prepare(short)
    assert len(facts["curve"]) == 1 and facts["curve"][0]["steps"] == 50
    facts = td3.prepare(inst_2x3, seed=0)
    assert facts["train_seconds"] > 0 and save.exists()
    with open(facts["curve"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and set(rows[0]) >= {"episode", "return", "score", "completion"}
    _, results = solve_episode(td3, inst_2x3, 5, time_limit=1.0)
    assert all(r.status == "feasible" and r.time_s > 0 for r in results)

    ddpg_path = tmp_path / "ddpg.pt"
    save_checkpoint(ddpg_path, train(preset("default", "ddpg", **SMOKE), TadpEnv(inst_2x3)))
    ddpg = make_solver("ddpg", checkpoint=str(ddpg_path), inference="int8")
    assert ddpg.prepare(inst_2x3)["checkpoint"] == str(ddpg_path)
    _, results = solve_episode(ddpg, inst_2x3, 5, time_limit=1.0)
    assert all(r.status == "feasible" for r in results)
    with pytest.raises(TadpInputError):  # a DDPG checkpoint is not a TD3 policy
        make_solver("td3", checkpoint=str(ddpg_path)).prepare(inst_2x3)
    with pytest.raises(TadpInputError):  # nor one for another number of devices
        make_solver("ddpg", checkpoint=str(ddpg_path)).prepare(generate_instance([2, 2], seed=0, slots=2))
    with pytest.raises(RuntimeError):
        make_solver("td3").solve(inst_2x3, 0, inst_2x3.initial_cache, time_limit=1.0)
    with pytest.raises(TadpInputError):
        make_solver("td3", inference="fp8")


def test_random_solver_is_seeded(inst_2x3) -> None:
    """Random: the same seed replays the same episode; decisions are always feasible."""
    _, a = solve_episode(make_solver("random"), inst_2x3, 10, time_limit=1.0, seed=5)
    _, b = solve_episode(make_solver("random"), inst_2x3, 10, time_limit=1.0, seed=5)
    _, c = solve_episode(make_solver("random"), inst_2x3, 10, time_limit=1.0, seed=6)
    assert [r.score for r in a] == [r.score for r in b]
    assert [r.score for r in a] != [r.score for r in c]
    assert all(r.status == "feasible" for r in a + c)


@pytest.mark.slow
def test_train_command(tmp_path, monkeypatch, capsys) -> None:
    """`tadp-bench train` writes a checkpoint and its curve; bad input exits with status 2."""
    out = tmp_path / "ckpt" / "ddpg.pt"
    rc = cli.main(["train", "--size", "2x3", "--algo", "ddpg", "--episodes", "2", "--warmup", "50", "--quiet",
                   "-o", str(out)])
    assert rc == 0 and out.exists() and (tmp_path / "ckpt" / "ddpg.curve.csv").exists()
    assert load_checkpoint(out).config.algo == "ddpg"
    assert "wrote" in capsys.readouterr().err
    assert cli.main(["train", "--size", "2x3", "--episodes", "0", "-o", str(out)]) == 2
    assert cli.main(["train", "--size", "2x3", "--device", "cuda:7", "--quiet", "-o", str(out)]) == (
        0 if torch.cuda.device_count() > 7 else 2)
    assert cli.main(["train", "--instance", str(tmp_path / "missing.json"), "-o", str(out)]) == 2
