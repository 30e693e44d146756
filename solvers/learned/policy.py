"""A trained actor as a function of observations, on the CPU or a GPU, in fp32 or int8."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from solvers.learned.networks import Actor


class Policy:
    """The trained actor as a function: observation (obs_dim,) or (B, obs_dim) -> action(s) in
    the environment's units (numpy, float32). Deterministic: no exploration noise."""

    def __init__(self, actor: Actor, action_low: np.ndarray, action_high: np.ndarray, device: str = "cpu") -> None:
        self.actor = actor.eval()
        self.device = torch.device(device)
        self.low = np.asarray(action_low, np.float32)
        self.high = np.asarray(action_high, np.float32)

    def to_env(self, unit_action: np.ndarray) -> np.ndarray:
        """[-1, 1] -> the environment's Box."""
        return (self.low + (unit_action + 1.0) * 0.5 * (self.high - self.low)).astype(np.float32)

    def _gemv_layers(self) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """(weight, bias) of every Linear layer as numpy views of the actor's own float32 CPU
        parameters (no copy: they follow the actor), or None if the actor is not such a plain MLP."""
        if self.device.type != "cpu" or not isinstance(self.actor, Actor):
            return None
        layers = []
        for m in self.actor.net:
            if isinstance(m, nn.Linear):
                if type(m) is not nn.Linear or m.weight.dtype != torch.float32 or m.bias is None:
                    return None
                layers.append((m.weight.detach().numpy(), m.bias.detach().numpy()))
            elif not isinstance(m, nn.ReLU):
                return None
        return layers

    def unit(self, obs: np.ndarray) -> np.ndarray:
        """The actor's raw output in [-1, 1].

        One observation on the CPU runs as matrix-vector products in numpy (OpenBLAS sgemv on the
        actor's own float32 weights, fp32 throughout): a batch-1 forward pass only streams the
        weights once, and OpenBLAS's sgemv does that faster than torch's batch-1 path
        (docs/measurements.md). Results equal torch's up to the order of float32 additions.
        Batches, GPUs and quantised actors go through torch."""
        x = np.asarray(obs, np.float32)
        single = x.ndim == 1
        layers = self._gemv_layers() if single else None
        if layers is not None:
            h = x
            for k, (weight, bias) in enumerate(layers):
                h = weight @ h
                h += bias
                if k < len(layers) - 1:
                    np.maximum(h, 0.0, out=h)
            return np.tanh(h)
        with torch.inference_mode():
            out = self.actor(torch.as_tensor(x[None] if single else x, device=self.device)).cpu().numpy()
        return out[0] if single else out

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.to_env(self.unit(obs))

    def int8(self) -> Policy:
        """A copy whose actor runs with int8 weights (torch dynamic quantisation, CPU only): about
        4x less memory traffic per inference, actions within about 1e-3 of the float actor's."""
        import warnings

        with warnings.catch_warnings():  # torch marks the eager-mode API deprecated; 2.13 still ships it
            warnings.simplefilter("ignore")
            quantized = torch.ao.quantization.quantize_dynamic(
                copy.deepcopy(self.actor).cpu(), {nn.Linear}, dtype=torch.qint8)
        return Policy(quantized, self.low, self.high, "cpu")


__all__ = ["Policy"]
