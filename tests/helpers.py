"""Helpers shared by test modules (pytest puts this folder on sys.path): instances and caches
of every shape the action decoders must handle."""

from __future__ import annotations

import dataclasses

import numpy as np

from tadp.decoders import ACTION_FIELDS, FIELDS_PER_TASK
from tadp.generator import GeneratorOptions, generate_instance
from tadp.instance import Cache, Instance


def action_of(n: int, **fields: float | list[float]) -> np.ndarray:
    """An action with every field at -1 except those given (one value for all tasks, or a list per task)."""
    a = np.full((n, FIELDS_PER_TASK), -1.0)
    for name, value in fields.items():
        a[:, ACTION_FIELDS.index(name)] = value
    return a.reshape(-1)


def random_cache(inst: Instance, rng: np.random.Generator) -> Cache:
    """A valid random start cache: models placed at random while they fit."""
    cache = Cache.empty(inst.n_devices)
    free_gw = inst.gateway_cache.copy()
    free_edge = float(inst.edge_cache)
    for j, n in rng.permutation([(j, n) for j in range(inst.n_devices) for n in (0, 1)]):
        s = inst.model_size[j, n]
        if rng.random() < 0.5 and s <= free_gw[inst.device_gateway[j]]:
            cache.gateway[j, n] = True
            free_gw[inst.device_gateway[j]] -= s
        if rng.random() < 0.5 and s <= free_edge:
            cache.edge[j, n] = True
            free_edge -= s
    return cache


def decoder_instances() -> list[Instance]:
    """Small instances of every shape the decoders must handle: even and uneven gateways, devices listed
    out of gateway order, a warm start cache, very scarce resources, the paper scenario."""
    shuffled = generate_instance([3, 4], seed=5, slots=4)
    order = np.array([4, 0, 5, 1, 6, 2, 3])  # devices of both gateways interleaved in the file
    interleaved = dataclasses.replace(
        shuffled, device_gateway=shuffled.device_gateway[order], device_spectral_eff=shuffled.device_spectral_eff[order],
        accuracy=shuffled.accuracy[order], workload=shuffled.workload[order], model_size=shuffled.model_size[order],
    )
    return [
        generate_instance([5, 5], seed=0, slots=4),
        generate_instance([3, 5, 2], seed=1, slots=4),  # uneven gateways
        generate_instance([4, 4], seed=2, slots=4, options=GeneratorOptions(warm_cache=True)),
        generate_instance([6, 6], seed=3, slots=4, options=GeneratorOptions(resource_scale=0.2)),  # very scarce
        generate_instance([2, 2], seed=4, slots=4, options=GeneratorOptions(scenario="paper")),
        interleaved,
    ]


def assert_proves(inst: Instance, cache: Cache, truth: float, **switches: bool) -> dict:
    """``solve_slot_direct`` on slot 0 with ``switches``: it proves the optimum ``truth`` (1e-9) with a bound that
    holds; its info."""
    import pytest

    from solvers.exact.search import solve_slot_direct

    _, status, value, bound, info = solve_slot_direct(inst, 0, cache, time_limit=60.0, threads=1, **switches)
    assert status == "optimal", info
    assert value == pytest.approx(truth, abs=1e-9)
    assert bound >= truth - 1e-9
    return info
