"""Checkpoints of trained TD3/DDPG policies: one torch file (``tadp-checkpoint/1``) per policy."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import torch

from solvers.learned.networks import Actor, Critic
from solvers.learned.policy import Policy
from solvers.learned.td3 import Td3Config, TrainResult, torch_device
from tadp.errors import TadpInputError
from tadp.instance import atomic_output

CHECKPOINT_FORMAT = "tadp-checkpoint/1"


def save_checkpoint(path: str | os.PathLike[str], result: TrainResult, extra: dict[str, Any] | None = None) -> None:
    """Write a torch file: format, config, sizes, action bounds, actor and critic state dicts,
    the learning curve and ``extra`` facts (instance name, training seconds...). Target networks
    and optimiser moments are not saved: a checkpoint serves inference, not resumed training."""
    doc = {
        "format": CHECKPOINT_FORMAT,
        "config": dataclasses.asdict(result.config),
        "obs_dim": result.obs_dim,
        "act_dim": result.act_dim,
        "action_low": [float(x) for x in result.policy.low],
        "action_high": [float(x) for x in result.policy.high],
        "actor": {k: v.detach().cpu() for k, v in result.policy.actor.state_dict().items()},
        "critics": [{k: v.detach().cpu() for k, v in c.state_dict().items()} for c in result.critics],
        "curve": result.curve,
        "train_seconds": result.seconds,
        "steps": result.steps,
        "extra": {**result.extra, **(extra or {})},
    }
    with atomic_output(path) as partial:  # readers never see a half-written file
        torch.save(doc, partial)


def load_checkpoint(path: str | os.PathLike[str], device: str = "cpu") -> TrainResult:
    """Read a checkpoint written by :func:`save_checkpoint` onto ``device`` (its ``extra`` facts in
    :attr:`TrainResult.extra`)."""
    doc = _read(path)
    values = dict(doc["config"])
    values["actor_hidden"] = tuple(values["actor_hidden"])
    values["critic_hidden"] = tuple(values["critic_hidden"])
    values["device"] = device
    known = {f.name for f in dataclasses.fields(Td3Config)}
    cfg = Td3Config(**{k: v for k, v in values.items() if k in known})
    on = torch_device(device)
    obs_dim, act_dim = int(doc["obs_dim"]), int(doc["act_dim"])
    actor = Actor(obs_dim, act_dim, cfg.actor_hidden)
    actor.load_state_dict(doc["actor"])
    critics = []
    for state in doc["critics"]:
        critic = Critic(obs_dim, act_dim, cfg.critic_hidden)
        critic.load_state_dict(state)
        critics.append(critic.to(on))
    policy = Policy(actor.to(on), np.array(doc["action_low"]), np.array(doc["action_high"]), device)
    return TrainResult(cfg, policy, critics, obs_dim, act_dim, list(doc["curve"]), float(doc["train_seconds"]),
                       int(doc["steps"]), dict(doc["extra"]))


def read_torch_file(path: str | os.PathLike[str]) -> Any:
    """The object ``torch.save`` wrote to ``path`` (tensors and plain data only); a missing or unreadable
    file is a :class:`~tadp.errors.TadpInputError` naming it."""
    source = os.fspath(path)
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TadpInputError(source, None, "no such checkpoint file") from None
    except Exception as exc:  # torch raises many kinds on a file that is not its own
        raise TadpInputError(source, None, f"not a readable torch checkpoint ({type(exc).__name__}: {exc})") from None


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    source = os.fspath(path)
    doc = read_torch_file(source)
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise TadpInputError(source, "format", f"expected a {CHECKPOINT_FORMAT} checkpoint")
    return doc


__all__ = ["CHECKPOINT_FORMAT", "load_checkpoint", "read_torch_file", "save_checkpoint"]
