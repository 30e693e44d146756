"""Training a TD3 or DDPG policy on an instance's fresh traces, and its learning curve.

:func:`train_on_instance` builds the Gymnasium environment of an instance (:class:`tadp.env.TadpEnv`,
fresh traces, the chosen decoder) and runs :func:`solvers.learned.td3.train`; with model selection
on, it validates the policy on fixed validation traces (:func:`validator`) and returns the best one.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

from tadp.instance import Instance

CURVE_COLUMNS = ("episode", "return", "score", "completion", "steps", "seconds", "validation")
#: Validation traces are drawn with this seed (training draws from the training seed's stream,
#: the benchmarks' held-out traces from 1,000,000 + k).
VALIDATION_SEED = 2_000_000


def curve_path(checkpoint: str | os.PathLike[str]) -> Path:
    """Where the learning curve of a checkpoint lives: ``name.curve.csv`` beside it."""
    p = Path(checkpoint)
    return p.with_name(p.stem + ".curve.csv")


def write_curve(path: str | os.PathLike[str], rows: list[dict[str, float]]) -> None:
    """One row per episode: episode, return, mean slot score, completion ratio, steps, seconds, and
    the validation score where the policy was validated (empty elsewhere)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CURVE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def curve_summary(rows: list[dict[str, float]], last: int = 10) -> tuple[float, float]:
    """Mean slot score and completion ratio over the last ``last`` episodes of a learning curve."""
    tail = rows[-last:]
    if not tail:
        return 0.0, 0.0
    return sum(r["score"] for r in tail) / len(tail), sum(r["completion"] for r in tail) / len(tail)


def set_torch_threads(threads: int | None) -> None:
    """Torch's and numpy's OpenBLAS CPU thread counts (None: the libraries' defaults). One thread by
    default: the networks are small, and threads that spin on a busy machine cost far more than
    they gain (docs/measurements.md). OpenBLAS runs single-observation inference
    (:meth:`solvers.learned.policy.Policy.unit`)."""
    if threads is not None:
        import torch

        from tadp._blas import set_blas_threads

        torch.set_num_threads(threads)
        set_blas_threads(threads)


def validator(inst: Instance, decoder: str, horizon: int | None, n_traces: int) -> Any:
    """A function policy -> mean slot score of its deterministic episodes on ``n_traces`` fixed
    validation traces of ``inst`` (drawn with :data:`VALIDATION_SEED`), through ``decoder``."""
    from tadp.env import TadpBatchEnv

    env = TadpBatchEnv(inst, n_traces, trace="fresh", horizon=horizon, decoder=decoder)

    def validate(policy: Any) -> float:
        obs = env.reset(seed=VALIDATION_SEED)
        total = 0.0
        for _ in range(env.horizon):
            obs, _, _, _, info = env.step(policy(obs))
            total += float(np.mean(info["score"]))
        return total / env.horizon

    return validate


def train_on_instance(
    inst: Instance,
    *,
    algo: str = "td3",
    preset_name: str = "default",
    seed: int = 0,
    progress: bool = False,
    horizon: int | None = None,
    threads: int | None = 1,
    decoder: str = "dcpu",
    validation_traces: int = 20,
    **changes: Any,
) -> Any:
    """Train TD3 or DDPG on fresh traces of ``inst`` (Algorithm 1), episodes of ``horizon`` slots
    (default the instance's), through ``decoder``; ``changes`` override the preset's fields
    (episodes, device, critic_loss, learning_starts, validate_every...). With
    ``validate_every > 0`` the policy returned is the best on ``validation_traces`` fixed
    validation traces (:func:`validator`). Returns the
    :class:`~solvers.learned.td3.TrainResult`; with ``progress`` a tqdm bar shows episode, return
    and completion ratio."""
    from solvers.learned.td3 import preset, torch_device, train
    from tadp.env import TadpEnv

    cfg = preset(preset_name, algo, seed=seed, **{k: v for k, v in changes.items() if v is not None})
    torch_device(cfg.device)  # fail on a missing GPU before anything starts
    set_torch_threads(threads)
    env = TadpEnv(inst, trace="fresh", horizon=horizon, decoder=decoder)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.episodes, desc=f"{algo} {inst.name}", unit="episode")

    def on_episode(row: dict[str, float]) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix(reward=f"{row['return']:.2f}", score=f"{row['score']:.3f}",
                            completion=f"{row['completion']:.2f}")

    try:
        validate = validator(inst, decoder, horizon, validation_traces) if cfg.validate_every > 0 else None
        result = train(cfg, env, on_episode=on_episode, validate=validate)
    finally:
        if bar is not None:
            bar.close()
    result.extra.update({"instance": inst.name, "size": inst.size_label, "n_devices": inst.n_devices,
                         "preset": preset_name, "decoder": decoder,
                         "validation_traces": validation_traces if cfg.validate_every > 0 else 0})
    return result


__all__ = ["CURVE_COLUMNS", "VALIDATION_SEED", "curve_path", "curve_summary", "set_torch_threads", "train_on_instance", "validator",
           "write_curve"]
