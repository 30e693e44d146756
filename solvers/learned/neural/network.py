"""The policy network: a permutation-equivariant encoder over task, gateway and edge tokens
(docs/neural.md, "Network").

Each of ``layers`` blocks (pre-norm residual, as in a Transformer encoder):

1. **tasks attend to tasks**: multi-head self-attention over every task of the slot (they compete for
   the edge pools and for their gateways');
2. **gateways read their tasks**: each gateway token takes the mean of its tasks' states, with the
   edge token (the load on each gateway's band, compute and cache);
3. **the edge reads everyone**: the edge token takes the mean of all task and gateway states;
4. **tasks read their gateway and the edge**.

Means (not sums) and per-gateway pooling make every block equivariant: permuting tasks (or gateways)
permutes the outputs, and one set of weights serves any number of gateways and devices. A head maps
each task's state to five logits: drop, gateway light, gateway heavy, edge light, edge heavy. Options
that cannot complete (:attr:`SlotFeatures.possible`) get a large negative logit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

from solvers.learned.neural.features import EDGE_FEATURES, GATEWAY_FEATURES, TASK_FEATURES

#: Logit of an option that cannot complete (finite, so that a label on it never gives an infinite loss).
MASKED = -30.0


@dataclass(frozen=True)
class NetConfig:
    """Sizes of the network."""

    width: int = 64
    """Width of every token's state."""
    layers: int = 3
    """Encoder blocks."""
    heads: int = 4
    """Attention heads."""
    hidden: int = 128
    """Hidden width of the blocks' MLPs."""


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.GELU(), nn.Linear(hidden, outputs))


class _Block(nn.Module):
    """One encoder block (module docstring, steps 1-4)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        d = cfg.width
        self.heads = cfg.heads
        self.norm_attention = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.norm_gateway = nn.LayerNorm(3 * d)
        self.gateway = _mlp(3 * d, cfg.hidden, d)
        self.norm_edge = nn.LayerNorm(3 * d)
        self.edge = _mlp(3 * d, cfg.hidden, d)
        self.norm_task = nn.LayerNorm(3 * d)
        self.task = _mlp(3 * d, cfg.hidden, d)

    def forward(self, task: torch.Tensor, gateway: torch.Tensor, edge: torch.Tensor, pool: torch.Tensor,
                member: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, d = task.shape
        # 1. tasks attend to tasks
        q, k, v = self.qkv(self.norm_attention(task)).view(b, n, 3, self.heads, d // self.heads).unbind(2)
        attended = functional.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        task = task + self.out(attended.transpose(1, 2).reshape(b, n, d))
        # 2. gateways read the mean of their tasks, 3. the edge reads everyone
        g = gateway.shape[1]
        gateway = gateway + self.gateway(self.norm_gateway(torch.cat([gateway, pool @ task, edge.expand(b, g, d)], -1)))
        edge = edge + self.edge(self.norm_edge(torch.cat([edge, task.mean(1, keepdim=True),
                                                          gateway.mean(1, keepdim=True)], -1)))
        # 4. tasks read their gateway and the edge
        task = task + self.task(self.norm_task(torch.cat([task, gateway[:, member], edge.expand(b, n, d)], -1)))
        return task, gateway, edge


class PolicyNet(nn.Module):
    """Tokens of B slots of the same shape -> (B, N, 5) logits (module docstring)."""

    def __init__(self, cfg: NetConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or NetConfig()
        d = cfg.width
        self.embed_task = nn.Linear(TASK_FEATURES, d)
        self.embed_gateway = nn.Linear(GATEWAY_FEATURES + TASK_FEATURES, d)
        self.embed_edge = nn.Linear(EDGE_FEATURES + TASK_FEATURES, d)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(d)
        self.head = _mlp(d, cfg.hidden, 5)

    def forward(self, task: torch.Tensor, gateway: torch.Tensor, edge: torch.Tensor, member: torch.Tensor,
                possible: torch.Tensor) -> torch.Tensor:
        """``task`` (B, N, F), ``gateway`` (B, G, F_g), ``edge`` (B, 1, F_e), ``member`` (N,) gateway of each
        task (the same in every slot of the batch), ``possible`` (B, N, 4) bool."""
        g = gateway.shape[1]
        one_hot = functional.one_hot(member, g).to(task.dtype)  # (N, G)
        pool = (one_hot / one_hot.sum(0).clamp(min=1.0)).T  # (G, N): the mean over a gateway's tasks
        x = self.embed_task(task)
        gw = self.embed_gateway(torch.cat([gateway, pool @ task], -1))
        e = self.embed_edge(torch.cat([edge, task.mean(1, keepdim=True)], -1))
        for block in self.blocks:
            x, gw, e = block(x, gw, e, pool, member)
        logits = self.head(self.norm(x))
        mask = torch.cat([torch.ones_like(possible[..., :1]), possible], -1)
        return torch.where(mask, logits, torch.full_like(logits, MASKED))


__all__ = ["MASKED", "NetConfig", "PolicyNet"]
