"""The neural policy on disk: one torch file (format ``tadp-neural/1``), read with ``weights_only=True``.

It holds the network's sizes and weights and the provenance of its training (docs/neural.md,
"Shipping"): the training configuration (seed, label plan, steps), the commit it was trained at, the
training and labelling seconds and the learning curve. :data:`SHIPPED` is the checkpoint kept in the
repository, used by the ``neural`` solver unless told otherwise.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from solvers.learned.checkpoint import read_torch_file
from solvers.learned.neural.network import NetConfig, PolicyNet
from tadp.errors import TadpInputError
from tadp.instance import atomic_output

CHECKPOINT_FORMAT = "tadp-neural/1"
#: The pretrained checkpoint shipped with the package (found beside this module, also in editable installs).
SHIPPED = Path(__file__).resolve().parent / "neural.pt"


@dataclass(eq=False)
class NeuralCheckpoint:
    """A loaded checkpoint: the network (in eval mode) and its provenance."""

    net: PolicyNet
    provenance: dict[str, Any]
    source: str


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _plain(value: Any) -> Any:
    """Dataclasses and tuples as dicts and lists (what ``weights_only`` reading accepts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def save_neural(path: str | os.PathLike[str], net: PolicyNet, provenance: dict[str, Any]) -> None:
    """Write the network and its provenance (plus the current commit) atomically."""
    doc = {
        "format": CHECKPOINT_FORMAT,
        "net_config": dataclasses.asdict(net.cfg),
        "weights": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "provenance": _plain({**provenance, "commit": provenance.get("commit") or _commit()}),
    }
    with atomic_output(path) as partial:
        torch.save(doc, partial)


def load_neural(path: str | os.PathLike[str] | None = None, device: str = "cpu") -> NeuralCheckpoint:
    """Read a checkpoint written by :func:`save_neural` (default: :data:`SHIPPED`); anything else is a
    :class:`~tadp.errors.TadpInputError` naming the file."""
    source = os.fspath(SHIPPED if path is None else path)
    doc = read_torch_file(source)
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise TadpInputError(source, "format", f"expected a {CHECKPOINT_FORMAT} checkpoint (the neural solver's), "
                             f"found {found!r}" + (": a TD3/DDPG policy, for --solver td3 or td3-fit"
                                                  if found == "tadp-checkpoint/1" else ""))
    net = PolicyNet(NetConfig(**doc["net_config"]))
    try:
        net.load_state_dict(doc["weights"])
    except RuntimeError as exc:
        raise TadpInputError(source, "weights", f"weights do not fit the network ({exc})") from None
    return NeuralCheckpoint(net.to(torch.device(device)).eval(), dict(doc.get("provenance", {})), source)


__all__ = ["CHECKPOINT_FORMAT", "SHIPPED", "NeuralCheckpoint", "load_neural", "save_neural"]
