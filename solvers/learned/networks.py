"""The function approximators of TD3 and DDPG: fully connected networks (Section V-A, docs/model.md, section 10).

The actor maps a state to an action in [-1, 1]^act_dim (ReLU hidden layers, tanh output); a critic
maps a state and an action to one value. Their hidden sizes come from :class:`solvers.learned.td3.Td3Config`.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn


def _mlp(sizes: list[int], output: nn.Module | None) -> nn.Sequential:
    """Linear layers with ReLU between them, and ``output`` (or nothing) after the last."""
    layers: list[nn.Module] = []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if k < len(sizes) - 2:
            layers.append(nn.ReLU())
    if output is not None:
        layers.append(output)
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """pi_theta(s): state -> ReLU hidden layers -> tanh, an action in [-1, 1]^act_dim."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = _mlp([obs_dim, *hidden, act_dim], None)

    def preactivation(self, obs: torch.Tensor) -> torch.Tensor:
        """z, the output layer before its tanh."""
        return self.net(obs)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))


class Critic(nn.Module):
    """Q_omega(s, a): concat(state, action) -> ReLU hidden layers -> one value."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = _mlp([obs_dim + act_dim, *hidden, 1], None)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, action], dim=-1)).squeeze(-1)


__all__ = ["Actor", "Critic"]
