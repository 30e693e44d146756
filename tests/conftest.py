"""Shared fixtures: a tiny instance whose delays a person can compute by hand.

``tiny`` (one gateway, two devices, three slots), in round numbers:

- network: B_e = 2 MHz, C_e = 2e8 cycles/s, S_e = 200e6 bits, R_e = 1e8 bit/s, R_c = 5e7 bit/s
- gateway 0: gamma_e = 2, B = 1 MHz, C_l = 1e8 cycles/s, S_l = 100e6 bits
- device 0: gamma = 4, accuracy clean [0.90, 0.95], noisy [0.80, 0.85], Q = [1e7, 2e7], S = [10e6, 40e6]
- device 1: gamma = 5, same accuracies, Q = [2e7, 4e7], S = [20e6, 60e6]
- slot 0: D = [2e6, 1e6] bits, Tmax = [2.0, 1.0] s, noisy = [0, 1]
- slot 1: D = [1e6, 1e6], Tmax = [1.0, 1.0], noisy = [0, 0]
- slot 2: D = [2e6, 1e6], Tmax = [2.0, 1.0], noisy = [1, 0]

Model fetch times: device 0 light 0.2 s cloud->BS + 0.1 s BS->gateway, heavy 0.8 + 0.4;
device 1 light 0.4 + 0.2, heavy 1.2 + 0.6.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from tadp.decision import SITE_CODES, Decision
from tadp.instance import Instance, instance_from_json

TINY: dict[str, Any] = {
    "format": "tadp-instance/1",
    "name": "tiny",
    "network": {"B_e": 2e6, "C_e": 2e8, "S_e": 200e6, "R_e": 1e8, "R_c": 5e7},
    "gateways": [{"gamma_e": 2.0, "B": 1e6, "C_l": 1e8, "S_l": 100e6}],
    "devices": [
        {"gateway": 0, "gamma": 4.0, "accuracy": {"clean": [0.90, 0.95], "noisy": [0.80, 0.85]},
         "workload": [1e7, 2e7], "model_size": [10e6, 40e6]},
        {"gateway": 0, "gamma": 5.0, "accuracy": {"clean": [0.90, 0.95], "noisy": [0.80, 0.85]},
         "workload": [2e7, 4e7], "model_size": [20e6, 60e6]},
    ],
    "slots": [
        {"data": [2e6, 1e6], "deadline": [2.0, 1.0], "noisy": [0, 1]},
        {"data": [1e6, 1e6], "deadline": [1.0, 1.0], "noisy": [0, 0]},
        {"data": [2e6, 1e6], "deadline": [2.0, 1.0], "noisy": [1, 0]},
    ],
}


def tiny_doc() -> dict[str, Any]:
    """A fresh deep copy of the tiny instance document (tests may mutate it)."""
    return copy.deepcopy(TINY)


@pytest.fixture
def tiny() -> Instance:
    return instance_from_json(tiny_doc(), source="tiny.json")


def decision(
    sites: list[str],
    levels: list[int],
    uplink: list[float],
    bs: list[float],
    compute: list[float],
    keep_gateway: list[list[int]] | None = None,
    keep_edge: list[list[int]] | None = None,
) -> Decision:
    """Build a Decision from plain lists (keep flags default to none)."""
    n = len(sites)
    return Decision(
        site=np.array([SITE_CODES[s] for s in sites], np.int8),
        level=np.array(levels, np.int8),
        uplink_share=np.array(uplink, float),
        bs_share=np.array(bs, float),
        compute_share=np.array(compute, float),
        keep_gateway=np.array(keep_gateway if keep_gateway is not None else [[0, 0]] * n, bool),
        keep_edge=np.array(keep_edge if keep_edge is not None else [[0, 0]] * n, bool),
    )
