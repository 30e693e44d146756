"""TD3 as the paper's Algorithm 1 (Fujimoto et al. 2018), and DDPG, for any continuous-action env.

Read top to bottom: the hyper-parameters (:class:`Td3Config`, defaults from Table IV and
Section V-A, docs/model.md, section 10), the networks, the replay buffer, then :func:`train`, whose
loop carries banner comments keyed to Algorithm 1's lines. DDPG (the paper's benchmark) is
the same loop with one critic, no target-policy smoothing and no policy delay.

Actions live in [-1, 1]^d inside the algorithm (the actor's tanh output); they are mapped
affinely onto the environment's Box before each step, so the same code trains on TADP
(whose actions already are [-1, 1]) and on Gymnasium's Pendulum (``benchmarks/td3_pendulum.py``).
Exploration and target noise standard deviations are in those [-1, 1] units.

Reproducibility: everything random draws from ``cfg.seed`` (numpy for warm-up actions,
exploration noise and minibatches; torch for initial weights and target noise; the env is
reset with the seed once). On CPU, with the same torch thread count, a seed gives the same
networks bit for bit.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from solvers.learned.networks import Actor, Critic
from solvers.learned.policy import Policy
from tadp.errors import TadpInputError

ALGOS = ("td3", "ddpg")
CRITIC_LOSSES = ("standard", "paper")
PRESETS = ("paper", "default")


@dataclass(frozen=True)
class Td3Config:
    """Hyper-parameters of TD3 and DDPG; the defaults are the paper's (Table IV, Section V-A)."""

    algo: str = "td3"
    """``td3`` (twin critics, target smoothing, delayed actor) or ``ddpg`` (one critic, none of them)."""
    episodes: int = 300
    """Training episodes (Table IV: 300 episodes of 50 steps)."""
    buffer_size: int = 10_000
    """Replay buffer D_r capacity, transitions; the oldest are replaced when full."""
    batch_size: int = 64
    """Minibatch D_b sampled per update."""
    gamma: float = 0.95
    """Discount factor."""
    tau: float = 0.01
    """Soft-update factor of the target networks, eq. (21)."""
    actor_lr: float = 1e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    exploration_noise: float = 0.0316
    """Std of the Gaussian exploration noise N(0, rho) on actions (rho = 0.001 is its variance)."""
    target_noise: float = 0.0316
    """Std of the target-policy smoothing noise of eq. (15) (TD3 only)."""
    target_noise_clip: float = 0.03
    """Clip bound c of the target-policy smoothing noise."""
    policy_delay: int = 2
    """Critic updates per actor and target update, d (1 for DDPG)."""
    learning_starts: int = 1000
    """Warm-up steps of uniformly random actions before learning starts (the paper's D_r would be 10,000)."""
    actor_hidden: tuple[int, ...] = (1800, 2400, 3000)
    """Actor hidden layers (ReLU); the output layer is tanh of the action size (10N for TADP)."""
    critic_hidden: tuple[int, ...] = (4800, 3500, 1500, 500)
    """Critic hidden layers (ReLU) on concat(state, action), then one linear output Q."""
    critic_loss: str = "standard"
    """``standard``: each critic regressed to y (Fujimoto et al.); ``paper``: min(Q1, Q2) regressed to y, eq. (16)."""
    preactivation_penalty: float = 0.0
    """Weight of mean(z^2) on the actor's pre-tanh outputs z in its loss (0: none, as in the paper)."""
    validate_every: int = 0
    """Every this many episodes (once learning has started, and after the last episode), score the
    deterministic actor with the ``validate`` function given to :func:`train` and return the best
    actor seen, not the last (0: the last actor, as the paper)."""
    seed: int = 0
    """Seed of every random draw (weights, warm-up actions, noise, minibatches, the env's first reset)."""
    device: str = "cpu"
    """Torch device: ``cpu`` or ``cuda`` (``cuda:1``...)."""

    def __post_init__(self) -> None:
        checks = [
            ("algo", self.algo in ALGOS, f"unknown algorithm (known: {', '.join(ALGOS)})"),
            ("critic_loss", self.critic_loss in CRITIC_LOSSES, f"unknown critic loss (known: {', '.join(CRITIC_LOSSES)})"),
            ("episodes", self.episodes >= 1, "must be at least 1"),
            ("buffer_size", self.buffer_size >= self.batch_size, "must be at least batch_size"),
            ("batch_size", self.batch_size >= 1, "must be at least 1"),
            ("gamma", 0.0 <= self.gamma <= 1.0, "must lie in [0, 1]"),
            ("tau", 0.0 < self.tau <= 1.0, "must lie in (0, 1]"),
            ("actor_lr", self.actor_lr > 0, "must be positive"),
            ("critic_lr", self.critic_lr > 0, "must be positive"),
            ("exploration_noise", self.exploration_noise >= 0, "must be non-negative"),
            ("target_noise", self.target_noise >= 0, "must be non-negative"),
            ("target_noise_clip", self.target_noise_clip >= 0, "must be non-negative"),
            ("preactivation_penalty", self.preactivation_penalty >= 0, "must be non-negative"),
            ("policy_delay", self.policy_delay >= 1, "must be at least 1"),
            ("learning_starts", self.learning_starts >= 0, "must be non-negative"),
            ("validate_every", self.validate_every >= 0, "must be non-negative"),
            ("actor_hidden", all(h >= 1 for h in self.actor_hidden), "layer sizes must be positive"),
            ("critic_hidden", all(h >= 1 for h in self.critic_hidden), "layer sizes must be positive"),
        ]
        for name, ok, problem in checks:
            if not ok:
                raise TadpInputError("argument", name, f"{problem}, got {getattr(self, name)!r}")

    @property
    def twin(self) -> bool:
        """Two critics and the clipped double-Q target (TD3), or one critic (DDPG)."""
        return self.algo == "td3"


def preset(name: str, algo: str = "td3", **changes: Any) -> Td3Config:
    """A named configuration, with ``changes`` applied on top.

    ``paper``: Table IV as printed: actor [1800, 2400, 3000], critics [4800, 3500, 1500, 500]
    (TD3) or [2000, 1500, 500] (DDPG). About 12 M actor and 24 M critic parameters at 2x5:
    meant for a GPU.
    ``default``: every Table IV value but the network sizes, actor and critics [256, 256],
    sized for a small CPU (docs/measurements.md gives the training times), and
    ``validate_every=5``: the policy returned is the best of the validations every 5 episodes
    (used when the caller gives :func:`train` a ``validate`` function; the TADP trainer does),
    not the last actor, which with Table IV's small exploration noise often collapses into
    a constant action late in training. The ``paper`` preset returns the last actor.
    DDPG (either preset) has one critic, no target smoothing and no policy delay.
    """
    if name not in PRESETS:
        raise TadpInputError("argument", "preset", f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    if algo not in ALGOS:
        raise TadpInputError("argument", "algo", f"unknown algorithm {algo!r} (known: {', '.join(ALGOS)})")
    if name == "paper":
        sizes = {"actor_hidden": (1800, 2400, 3000),
                 "critic_hidden": (4800, 3500, 1500, 500) if algo == "td3" else (2000, 1500, 500)}
    else:
        sizes = {"actor_hidden": (256, 256), "critic_hidden": (256, 256), "validate_every": 5}
    ddpg = {"policy_delay": 1, "target_noise": 0.0} if algo == "ddpg" else {}
    return Td3Config(algo=algo, **{**sizes, **ddpg, **changes})


# ============================================================================ replay buffer
class ReplayBuffer:
    """D_r: a ring of (s, a, r, s', terminated) transitions; ``a`` is the raw action the actor
    proposed plus exploration noise, clipped, in [-1, 1] (never the decoded decision)."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.action = np.zeros((capacity, act_dim), np.float32)
        self.reward = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)
        self.size = 0
        self._next = 0

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool) -> None:
        k = self._next
        self.obs[k], self.action[k], self.reward[k] = obs, action, reward
        self.next_obs[k], self.terminated[k] = next_obs, float(terminated)
        self._next = (k + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator, batch: int, device: torch.device) -> tuple[torch.Tensor, ...]:
        idx = rng.integers(0, self.size, batch)
        return tuple(torch.as_tensor(a[idx], device=device)
                     for a in (self.obs, self.action, self.reward, self.next_obs, self.terminated))


@dataclass(eq=False)
class TrainResult:
    """What :func:`train` returns: the policy, the networks and the learning curve."""

    config: Td3Config
    policy: Policy
    critics: list[Critic]
    obs_dim: int
    act_dim: int
    curve: list[dict[str, float]] = field(default_factory=list)  # one row per episode
    seconds: float = 0.0  # training wall seconds
    steps: int = 0  # environment steps taken
    extra: dict[str, Any] = field(default_factory=dict)  # facts stored with a checkpoint (instance name...)


def _check_spaces(env: gym.Env) -> tuple[int, int, np.ndarray, np.ndarray]:
    if not isinstance(env.action_space, gym.spaces.Box):
        raise TadpInputError("argument", "env", f"TD3 needs a continuous (Box) action space, got {env.action_space}")
    low, high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise TadpInputError("argument", "env", "TD3 needs a bounded action space")
    obs_dim = int(gym.spaces.flatdim(env.observation_space))
    return obs_dim, int(np.prod(env.action_space.shape)), low, high


def torch_device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TadpInputError("argument", "device", f"{name!r}: CUDA is not available in this torch build")
    return device


def _soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """theta' = tau * theta + (1 - tau) * theta', eq. (21)."""
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters(), strict=True):
            t.mul_(1.0 - tau).add_(s, alpha=tau)


# ============================================================================ training
def train(
    cfg: Td3Config,
    env: gym.Env,
    *,
    on_episode: Callable[[dict[str, float]], None] | None = None,
    validate: Callable[[Policy], float] | None = None,
) -> TrainResult:
    """Train on ``env`` (any Gymnasium env with a bounded Box action space) and return the policy.

    ``on_episode`` receives each episode's row of the learning curve (episode, return, steps,
    and the means of the env's per-step ``info["score"]`` and ``info["completion"]`` when it
    reports them, seconds since the start), e.g. to drive a progress bar.

    ``validate`` (used when ``cfg.validate_every > 0``) maps the deterministic policy to a score,
    higher better, on data the learner never trains on (e.g. fixed validation traces); the
    returned policy is then the actor of the best validation (the first on ties), and the
    curve rows that were validated carry ``validation``. The critics returned are the last.
    """
    started = time.perf_counter()
    device = torch_device(cfg.device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    obs_dim, act_dim, low, high = _check_spaces(env)
    half_range, middle = (high - low) / 2.0, (high + low) / 2.0  # [-1, 1] -> the env's Box

    # --- Algorithm 1, lines 1-3: actor, critics, their targets, the replay buffer ---
    actor = Actor(obs_dim, act_dim, cfg.actor_hidden).to(device)
    critics = [Critic(obs_dim, act_dim, cfg.critic_hidden).to(device) for _ in range(2 if cfg.twin else 1)]
    actor_target = copy.deepcopy(actor)
    critic_targets = [copy.deepcopy(c) for c in critics]
    actor_optimizer = torch.optim.Adam(actor.parameters(), lr=cfg.actor_lr)
    critic_optimizer = torch.optim.Adam(itertools.chain(*(c.parameters() for c in critics)), lr=cfg.critic_lr)
    buffer = ReplayBuffer(cfg.buffer_size, obs_dim, act_dim)

    curve: list[dict[str, float]] = []
    step = 0
    updates = 0
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None  # validation, episode, actor state
    for episode in range(cfg.episodes):
        # --- line 5: initialise the environment (a fresh task trace) and receive s_1 ---
        obs, _ = env.reset(seed=cfg.seed if episode == 0 else None)
        obs = np.asarray(obs, np.float32).reshape(-1)
        episode_return, episode_steps, info_sums = 0.0, 0, {"score": 0.0, "completion": 0.0}
        done = False
        while not done:
            # --- line 7: a_t = pi(s_t) + N(0, rho), clipped to [-1, 1]; uniform during the warm-up ---
            if step < cfg.learning_starts:
                action = rng.uniform(-1.0, 1.0, act_dim).astype(np.float32)
            else:
                with torch.no_grad():
                    action = actor(torch.as_tensor(obs, device=device)).cpu().numpy()
                action = np.clip(action + rng.normal(0.0, cfg.exploration_noise, act_dim), -1.0, 1.0)
                action = action.astype(np.float32)

            # --- lines 8-34: the environment decodes the action (DCPU) and scores the slot ---
            next_obs, reward, terminated, truncated, info = env.step((middle + half_range * action).astype(np.float32))
            next_obs = np.asarray(next_obs, np.float32).reshape(-1)

            # --- line 35: store {s_t, a_t, r_t, s_t+1}; a truncation is not terminal (bootstrap through it) ---
            buffer.add(obs, action, float(reward), next_obs, bool(terminated))
            obs = next_obs
            step += 1
            episode_steps += 1
            episode_return += float(reward)
            for key in info_sums:
                if key in info:
                    info_sums[key] += float(info[key])
            done = bool(terminated or truncated)
            if step <= cfg.learning_starts:
                continue

            # --- lines 36-37: minibatch; y = r + gamma * min_j Q'_j(s', pi'(s') + clip(N(0, rho), -c, c)) ---
            s, a, r, s_next, term = buffer.sample(rng, cfg.batch_size, device)
            with torch.no_grad():
                next_action = actor_target(s_next)
                if cfg.target_noise > 0:  # target-policy smoothing (TD3 only)
                    noise = (torch.randn_like(next_action) * cfg.target_noise).clamp(
                        -cfg.target_noise_clip, cfg.target_noise_clip)
                    next_action = (next_action + noise).clamp(-1.0, 1.0)
                q_next = torch.stack([q(s_next, next_action) for q in critic_targets]).min(dim=0).values
                y = r + cfg.gamma * (1.0 - term) * q_next  # eq. (15)

            # --- line 38: critic update; eq. (16) regresses min(Q1, Q2), standard TD3 each critic ---
            q_values = [q(s, a) for q in critics]
            if cfg.critic_loss == "paper":
                critic_loss = 0.5 * (y - torch.stack(q_values).min(dim=0).values).pow(2).mean()
            else:
                critic_loss = sum(F.mse_loss(q, y) for q in q_values)
            critic_optimizer.zero_grad()
            critic_loss.backward()
            critic_optimizer.step()
            updates += 1

            # --- lines 39-41: every d updates, the actor by eq. (19) on Q1, and the targets by eq. (21) ---
            if updates % cfg.policy_delay == 0:
                z = actor.preactivation(s)
                actor_loss = -critics[0](s, torch.tanh(z)).mean()
                if cfg.preactivation_penalty > 0:  # an option outside the paper: keeps tanh out of saturation
                    actor_loss = actor_loss + cfg.preactivation_penalty * z.pow(2).mean()
                actor_optimizer.zero_grad()
                actor_loss.backward()
                actor_optimizer.step()
                _soft_update(actor_target, actor, cfg.tau)
                for target, critic in zip(critic_targets, critics, strict=True):
                    _soft_update(target, critic, cfg.tau)

        row = {"episode": episode, "return": episode_return, "steps": episode_steps,
               "score": info_sums["score"] / episode_steps, "completion": info_sums["completion"] / episode_steps,
               "seconds": time.perf_counter() - started}
        last = episode == cfg.episodes - 1
        if (validate is not None and cfg.validate_every > 0 and step > cfg.learning_starts
                and ((episode + 1) % cfg.validate_every == 0 or last)):
            value = float(validate(Policy(actor, low, high, cfg.device)))
            actor.train()
            row["validation"] = value
            if best is None or value > best[0]:
                best = (value, episode, copy.deepcopy(actor.state_dict()))
            row["seconds"] = time.perf_counter() - started
        curve.append(row)
        if on_episode is not None:
            on_episode(row)

    extra: dict[str, Any] = {}
    if best is not None:
        actor.load_state_dict(best[2])
        extra = {"selected_episode": best[1], "selected_validation": best[0]}
    policy = Policy(actor, low, high, cfg.device)
    return TrainResult(cfg, policy, critics, obs_dim, act_dim, curve, time.perf_counter() - started, step,
                       extra)


