"""The reinforcement-learning view of TADP (Section IV of the paper, docs/model.md, section 10).

:class:`TadpEnv` is a Gymnasium environment registered as ``tadp/TADP-v0``::

    env = gymnasium.make("tadp/TADP-v0", size="2x5")            # a generated instance
    env = gymnasium.make("tadp/TADP-v0", instance="inst.json")  # an instance file (or an Instance)

One step decides one slot. The observation is eq. (12): per task, task-major (task j's
seven numbers at 7j..7j+6), data size D and deadline Tmax scaled to [0, 1] by the
generator's ranges (``(x - low) / (high - low)``, clipped into [0, 1], the ranges those of
the instance's recorded generator options, :func:`tadp.generator.options_of`), the data
quality theta and the four cache flags u_l[0], u_l[1], u_e[0], u_e[1] as 0/1. The action is
eq. (13): 10 numbers per task in [-1, 1], task-major, decoded into a valid decision by
:mod:`tadp.decoders`; the evaluator judges it (the environment computes no delay).

Episodes: ``trace="fresh"`` (training) draws a new task trace of the instance's length (or
``horizon`` slots) at every reset, from the instance's scenario, with the environment's seeded generator;
``trace="replay"`` (evaluation) replays the instance's own trace. Either way the episode
starts from the instance's initial cache and lasts the trace's T slots; the last step is a
time-limit truncation (``truncated=True``), never a terminal state, and its observation
shows the next cache with the tasks of one extra drawn slot (fresh) or, in replay, the
last slot's tasks again (an observation only, never acted on).

Reward: the slot score J of eq. (11) (``reward="score"``, default), or the paper's
all-or-nothing reward of eq. (14) (``reward="all_or_nothing"``: J when every task of the
slot completes, else 0). ``info`` carries the slot's score, completion ratio and the
per-task outcome.

:class:`TadpBatchEnv` runs B episodes in lockstep with one vectorised decoder call and one
:func:`~tadp.evaluator.evaluate_batch` call per step (evaluation of policies on many
held-out traces, throughput benchmarks).
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np

from tadp._malloc import tune_malloc
from tadp.decoders import DECODERS, FIELDS_PER_TASK, decode_actions
from tadp.errors import TadpInputError
from tadp.evaluator import evaluate_batch
from tadp.generator import GeneratorOptions, draw_trace, generate_instance, load_scenario, options_of, parse_size
from tadp.instance import Instance, read_instance

#: Numbers per task in an observation, eq. (12): D, Tmax, theta, u_l[0], u_l[1], u_e[0], u_e[1].
OBS_PER_TASK = 7
TRACES = ("fresh", "replay")
REWARDS = ("score", "all_or_nothing")


def _scaled(x: np.ndarray, low_high: tuple[float, float]) -> np.ndarray:
    low, high = low_high
    if high <= low:  # a degenerate range: every value is "the" value
        return np.zeros_like(x)
    return np.clip((x - low) / (high - low), 0.0, 1.0)


def observe(
    opts: GeneratorOptions,
    data: np.ndarray,
    deadline: np.ndarray,
    noisy: np.ndarray,
    cache_gateway: np.ndarray,
    cache_edge: np.ndarray,
) -> np.ndarray:
    """Eq. (12) for tasks (..., N) and caches (..., N, 2): float32 (..., 7N) in [0, 1], task-major."""
    data = np.asarray(data, float)
    per_task = np.empty(data.shape + (OBS_PER_TASK,), np.float32)  # (..., N, 7), filled one column at a time
    per_task[..., 0] = _scaled(data, opts.data_size)
    per_task[..., 1] = _scaled(np.asarray(deadline, float), opts.deadline)
    per_task[..., 2] = np.asarray(noisy, float)
    for k, flags in enumerate((cache_gateway, cache_gateway, cache_edge, cache_edge)):
        per_task[..., 3 + k] = np.asarray(flags)[..., k % 2]
    return per_task.reshape(*per_task.shape[:-2], -1)


def resolve_instance(
    instance: Instance | str | os.PathLike[str] | None,
    size: str | None,
    instance_seed: int = 0,
    slots: int = 50,
    scenario: str = "scarce",
) -> Instance:
    """An :class:`Instance`, an instance file, or a generated ``size`` (e.g. ``"2x5"``)."""
    if (instance is None) == (size is None):
        raise TadpInputError("argument", "instance", "give exactly one of instance= and size=")
    if isinstance(instance, Instance):
        return instance
    if instance is not None:
        return read_instance(instance)
    assert size is not None  # checked above
    return generate_instance(parse_size(size), seed=instance_seed, slots=slots, options=load_scenario(scenario))


def _check_choice(value: str, known: tuple[str, ...], name: str) -> str:
    if value not in known:
        raise TadpInputError("argument", name, f"unknown value {value!r} (known: {', '.join(known)})")
    return value


class _Episodes:
    """What both environments share: the instance, its scenario and the B traces being played."""

    def __init__(self, inst: Instance, trace: str, reward: str, horizon: int | None, decoder: str) -> None:
        self.inst = inst
        self.opts = options_of(inst)
        self.trace = _check_choice(trace, TRACES, "trace")
        self.reward = _check_choice(reward, REWARDS, "reward")
        self.decoder = _check_choice(decoder, DECODERS, "decoder")
        self.n = inst.n_devices
        self.horizon = inst.n_slots if horizon is None else int(horizon)
        if not 1 <= self.horizon:
            raise TadpInputError("argument", "horizon", f"must be at least 1, got {horizon}")

    def draw(self, rng: np.random.Generator, n_traces: int, trace: str) -> tuple[np.ndarray, ...]:
        """Tasks (B, T + 1, N) of B episodes: slot T is only ever observed (the final observation)."""
        t, n = self.horizon, self.n
        if trace == "replay":
            if t > self.inst.n_slots:
                raise TadpInputError("argument", "horizon", f"replay needs horizon <= the trace's {self.inst.n_slots} "
                                     f"slots, got {t}")
            return tuple(np.broadcast_to(np.concatenate([a[:t], a[t - 1:t]])[None], (n_traces, t + 1, n)).copy()
                         for a in (self.inst.data, self.inst.deadline, self.inst.noisy))
        data, deadline, noisy = draw_trace(self.opts, n * n_traces, t + 1, rng, rng, rng)
        return tuple(a.reshape(t + 1, n_traces, n).transpose(1, 0, 2).copy() for a in (data, deadline, noisy))

    def reward_of(self, score: np.ndarray, completion: np.ndarray) -> np.ndarray:
        if self.reward == "all_or_nothing":  # eq. (14): J only if every task meets C1
            return np.where(completion >= 1.0, score, 0.0)
        return score


class TadpEnv(gym.Env):
    """One TADP episode: T slots of an instance, one slot per step (see the module docstring).

    Parameters: ``instance`` (an :class:`Instance` or a path) or ``size`` (``"GxK"``, generated
    with ``instance_seed``, ``slots`` and ``scenario``); ``trace`` ``"fresh"`` or ``"replay"``
    (a reset may override it with ``options={"trace": ...}``); ``reward`` ``"score"`` or
    ``"all_or_nothing"``; ``horizon``: slots per episode (default the trace's; fresh traces are
    drawn that long, replay plays the first ``horizon`` slots); ``decoder`` ``"dcpu"`` (the
    paper's, default) or ``"fit"`` (deadline-sized shares, :mod:`tadp.decoders.fit`);
    ``render_mode`` None or ``"ansi"``.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        instance: Instance | str | os.PathLike[str] | None = None,
        *,
        size: str | None = None,
        instance_seed: int = 0,
        slots: int = 50,
        scenario: str = "scarce",
        trace: str = "fresh",
        reward: str = "score",
        horizon: int | None = None,
        decoder: str = "dcpu",
        render_mode: str | None = None,
    ) -> None:
        self.instance = resolve_instance(instance, size, instance_seed, slots, scenario)
        self._ep = _Episodes(self.instance, trace, reward, horizon, decoder)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise TadpInputError("argument", "render_mode", f"unknown render mode {render_mode!r} (known: ansi)")
        self.render_mode = render_mode
        n = self.instance.n_devices
        self.observation_space = gym.spaces.Box(0.0, 1.0, (OBS_PER_TASK * n,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (FIELDS_PER_TASK * n,), np.float32)
        self._tasks: tuple[np.ndarray, ...] | None = None  # data, deadline, noisy of this episode, (T + 1, N)
        self._slot = 0
        self._cache_gateway = self.instance.initial_cache.gateway.copy()
        self._cache_edge = self.instance.initial_cache.edge.copy()
        self._last: dict[str, Any] | None = None

    @property
    def horizon(self) -> int:
        """Steps per episode: the trace's slots."""
        return self._ep.horizon

    @property
    def slot(self) -> int:
        """The slot the next step decides."""
        return self._slot

    def _observation(self) -> np.ndarray:
        assert self._tasks is not None
        data, deadline, noisy = (a[self._slot] for a in self._tasks)
        return observe(self._ep.opts, data, deadline, noisy, self._cache_gateway, self._cache_edge)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        trace = _check_choice((options or {}).get("trace", self._ep.trace), TRACES, "trace")
        self._tasks = tuple(a[0] for a in self._ep.draw(self.np_random, 1, trace))
        self._slot = 0
        self._cache_gateway = self.instance.initial_cache.gateway.copy()
        self._cache_edge = self.instance.initial_cache.edge.copy()
        self._last = None
        return self._observation(), {"slot": 0, "trace": trace}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._tasks is None or self._slot >= self.horizon:
            raise RuntimeError("call reset() before step() (the episode has ended)")
        data, deadline, noisy = (a[self._slot][None] for a in self._tasks)
        cache_gateway, cache_edge = self._cache_gateway[None], self._cache_edge[None]
        d = decode_actions(self.instance, self._ep.decoder, np.asarray(action, float)[None], cache_gateway,
                           cache_edge, data, deadline)
        out = evaluate_batch(
            self.instance, np.zeros(1, int), cache_gateway, cache_edge, d.site, d.level, d.uplink_share,
            d.bs_share, d.compute_share, d.keep_gateway, d.keep_edge, data=data, deadline=deadline, noisy=noisy,
        )
        reward = float(self._ep.reward_of(out.score, out.completion)[0])
        info = {
            "slot": self._slot,
            "score": float(out.score[0]),
            "completion": float(out.completion[0]),
            "feasible": bool(out.feasible[0]),
            "site": d.site[0],
            "level": d.level[0],
            "completed": out.completed[0],
            "earned": out.earned[0],
            "delay": out.delay[0],
            "dropped_fetch": d.dropped_fetch[0],
            "dropped_cache": d.dropped_cache[0],
        }
        self._cache_gateway, self._cache_edge = out.next_gateway[0], out.next_edge[0]
        self._slot += 1
        truncated = self._slot >= self.horizon
        self._last = info
        return self._observation(), reward, False, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        if self._last is None:
            return f"{self.instance.name}: slot {self._slot} of {self.horizon}, nothing decided yet"
        i = self._last
        return (f"{self.instance.name} slot {i['slot']}: score {i['score']:.4f} completion {i['completion']:.2f} "
                f"gateway {int((i['site'] == 1).sum())} edge {int((i['site'] == 2).sum())} "
                f"dropped {int((i['site'] == 0).sum())} heavy {int(i['level'][i['site'] > 0].sum())}")


class TadpBatchEnv:
    """B episodes of one instance in lockstep: ``reset() -> obs (B, 7N)``, ``step(actions (B, 10N))``.

    One :func:`~tadp.decoders.decode_actions` and one :func:`~tadp.evaluator.evaluate_batch` call
    per step. All B episodes truncate together after T steps; ``step`` then refuses until the
    next ``reset`` (no auto-reset). Same ``trace``, ``reward``, ``horizon`` and ``decoder`` options as
    :class:`TadpEnv`.
    """

    def __init__(
        self,
        instance: Instance,
        n_envs: int,
        *,
        trace: str = "fresh",
        reward: str = "score",
        horizon: int | None = None,
        seed: int | None = None,
        decoder: str = "dcpu",
    ) -> None:
        if n_envs < 1:
            raise TadpInputError("argument", "n_envs", f"must be at least 1, got {n_envs}")
        tune_malloc()  # batched temporaries: keep glibc from unmapping them after every step
        self.instance = instance
        self.n_envs = n_envs
        self._ep = _Episodes(instance, trace, reward, horizon, decoder)
        self._rng = np.random.default_rng(seed)
        self.single_observation_space = gym.spaces.Box(0.0, 1.0, (OBS_PER_TASK * instance.n_devices,), np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (FIELDS_PER_TASK * instance.n_devices,), np.float32)
        self._tasks: tuple[np.ndarray, ...] | None = None  # (B, T + 1, N) each
        self._slot = 0
        self._rows = np.arange(n_envs)

    @property
    def horizon(self) -> int:
        return self._ep.horizon

    def _observation(self) -> np.ndarray:
        assert self._tasks is not None
        data, deadline, noisy = (a[:, self._slot] for a in self._tasks)
        return observe(self._ep.opts, data, deadline, noisy, self.cache_gateway, self.cache_edge)

    def reset(self, *, seed: int | None = None, trace: str | None = None) -> np.ndarray:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._tasks = self._ep.draw(self._rng, self.n_envs, trace or self._ep.trace)
        self._slot = 0
        init = self.instance.initial_cache
        self.cache_gateway = np.broadcast_to(init.gateway, (self.n_envs, *init.gateway.shape)).copy()
        self.cache_edge = np.broadcast_to(init.edge, (self.n_envs, *init.edge.shape)).copy()
        return self._observation()

    def tasks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Data, deadline, noisy (B, N) of the slot the next step decides."""
        assert self._tasks is not None
        data, deadline, noisy = (a[:, self._slot] for a in self._tasks)
        return data, deadline, noisy

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Decide the current slot of every episode; returns obs, reward, terminated, truncated, info (arrays)."""
        if self._tasks is None or self._slot >= self.horizon:
            raise RuntimeError("call reset() before step() (the episodes have ended)")
        data, deadline, noisy = self.tasks()
        d = decode_actions(self.instance, self._ep.decoder, actions, self.cache_gateway, self.cache_edge, data,
                           deadline)
        out = evaluate_batch(
            self.instance, self._rows, self.cache_gateway, self.cache_edge, d.site, d.level, d.uplink_share,
            d.bs_share, d.compute_share, d.keep_gateway, d.keep_edge, data=data, deadline=deadline, noisy=noisy,
        )
        reward = self._ep.reward_of(out.score, out.completion)
        info = {"score": out.score, "completion": out.completion, "feasible": out.feasible, "site": d.site,
                "level": d.level, "completed": out.completed, "dropped_fetch": d.dropped_fetch,
                "dropped_cache": d.dropped_cache}
        self.cache_gateway, self.cache_edge = out.next_gateway, out.next_edge
        self._slot += 1
        done = np.full(self.n_envs, self._slot >= self.horizon)
        return self._observation(), reward, np.zeros(self.n_envs, bool), done, info
