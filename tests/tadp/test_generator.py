"""The generator: paper defaults, [D7] channel, [D8] density, [D9] scenarios, determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tadp.errors import TadpInputError
from tadp.generator import (
    GB,
    KB,
    MB,
    GeneratorOptions,
    draw_trace_seeded,
    generate_instance,
    load_scenario,
    options_of,
    parse_size,
    spectral_efficiency,
)
from tadp.instance import instance_to_json


def test_same_seed_same_bytes() -> None:
    a = instance_to_json(generate_instance([5, 5], seed=3, slots=4))
    b = instance_to_json(generate_instance([5, 5], seed=3, slots=4))
    c = instance_to_json(generate_instance([5, 5], seed=4, slots=4))
    assert a == b and a != c


def test_names() -> None:
    assert generate_instance([5, 5], seed=0, slots=1).name == "2x5-scarce-s0"
    assert generate_instance([3, 5, 2], seed=7, slots=1).name == "3-5-2-scarce-s7"
    paper = generate_instance([35] * 2, seed=1, slots=1, options=GeneratorOptions(scenario="paper"))
    assert paper.name == "2x35-paper-s1"
    custom = generate_instance([5, 5], seed=0, slots=1, options=GeneratorOptions(resource_scale=0.3))
    assert custom.name == "2x5-scarce-s0-custom"
    same = generate_instance([5, 5], seed=0, slots=1, options=GeneratorOptions(resource_scale=0.5))
    assert same.name == "2x5-scarce-s0"  # the scenario's own scale is not an override


def test_paper_resources_at_paper_size() -> None:
    """At 10x35 with the paper scenario, density factors are 1: Table IV's values exactly."""
    inst = generate_instance([35] * 10, seed=0, slots=1, options=GeneratorOptions(scenario="paper"))
    assert inst.gateway_band == pytest.approx(10e6)
    assert inst.gateway_compute == pytest.approx(1.5e9)
    assert inst.gateway_cache == pytest.approx(0.3 * GB)
    assert (inst.edge_band, inst.edge_compute, inst.edge_cache) == pytest.approx((20e6, 5e9, 2.4 * GB))
    assert (inst.edge_to_gateway_rate, inst.cloud_to_edge_rate) == (200e6, 300e6)


def test_density_and_scarce_scaling() -> None:
    """[D8] x [D9]: a 5-device gateway gets 5/35 of B, C_l, S_l, times 0.5 (scarce); the BS N/350 x 0.5."""
    inst = generate_instance([5, 3], seed=0, slots=1)
    assert inst.gateway_band == pytest.approx([10e6 * 5 / 35 * 0.5, 10e6 * 3 / 35 * 0.5])
    assert inst.edge_compute == pytest.approx(5e9 * 8 / 350 * 0.5)
    assert inst.edge_cache == pytest.approx(2.4 * GB * 8 / 350 * 0.5)
    assert inst.edge_to_gateway_rate == 200e6  # links are not pooled, not scaled
    flat = generate_instance([5, 3], seed=0, slots=1, options=GeneratorOptions(density_scaling=False))
    assert flat.gateway_band == pytest.approx([5e6, 5e6])
    assert flat.name.endswith("-custom")


def test_overrides_are_absolute() -> None:
    opts = GeneratorOptions(overrides={"B_e": 6e6, "S_l": 1e8})
    inst = generate_instance([5, 5], seed=0, slots=1, options=opts)
    assert inst.edge_band == 6e6 and list(inst.gateway_cache) == [1e8, 1e8]
    assert inst.name.endswith("-custom")
    assert inst.provenance["options"]["overrides"] == {"B_e": 6e6, "S_l": 1e8}


def test_table_ranges_and_units() -> None:
    inst = generate_instance([35] * 10, seed=2, slots=50)
    assert inst.data.min() >= 40 * KB and inst.data.max() <= 60 * KB
    assert inst.deadline.min() >= 1.5 and inst.deadline.max() <= 2.0
    assert 0.25 < inst.noisy.mean() < 0.35
    assert inst.model_size[:, 0].min() >= 3.5 * MB and inst.model_size[:, 1].max() <= 12 * MB
    assert inst.workload[:, 0].min() >= 15e6 and inst.workload[:, 1].max() <= 30e6
    assert inst.accuracy[:, 0, 1].min() >= 0.973 and inst.accuracy[:, 1, 0].max() <= 0.897
    # [D7]: about 14-20 bit/s/Hz on the device side, 9-14 on the gateway side
    assert 14 < inst.device_spectral_eff.min() and inst.device_spectral_eff.max() < 20.3
    assert 9 < inst.gateway_spectral_eff.min() and inst.gateway_spectral_eff.max() < 14.1


def test_channel_formula() -> None:
    """100 m, 30 dBm: PL = 128.1 - 37.6 = 90.5 dB, SNR = 30 - 90.5 + 104 = 43.5 dB -> log2(1 + 10^4.35)."""
    gamma = spectral_efficiency(30.0, np.array([100.0]), GeneratorOptions())
    assert gamma[0] == pytest.approx(np.log2(1 + 10**4.35))


def test_trace_prefix_is_stable() -> None:
    """The first slots of a longer trace equal a shorter trace of the same seed; devices do not change."""
    short = generate_instance([2, 3], seed=9, slots=3)
    long = generate_instance([2, 3], seed=9, slots=10)
    np.testing.assert_array_equal(long.data[:3], short.data)
    np.testing.assert_array_equal(long.noisy[:3], short.noisy)
    np.testing.assert_array_equal(long.model_size, short.model_size)
    data, deadline, noisy = draw_trace_seeded(GeneratorOptions(), 5, 3, 9)
    np.testing.assert_array_equal(data, short.data)


def test_warm_cache_fits() -> None:
    inst = generate_instance([4, 6], seed=5, slots=2, options=GeneratorOptions(warm_cache=True))
    assert not inst.initial_cache.is_empty()
    assert inst.cache_overflows(inst.initial_cache) == []


def test_options_recorded_and_recovered() -> None:
    opts = GeneratorOptions(scenario="paper", deadline=(1.0, 1.2))
    inst = generate_instance([2], seed=0, slots=1, options=opts)
    assert options_of(inst) == dataclasses.replace(opts, resource_scale=1.0)


def test_parse_size() -> None:
    assert parse_size("2x5") == [5, 5]
    assert parse_size("3-5-2") == [3, 5, 2]
    assert parse_size("3,5,2") == [3, 5, 2]
    for bad in ("2y5", "0x5", "2x0", "", "x"):
        with pytest.raises(TadpInputError):
            parse_size(bad)


def test_bad_options() -> None:
    with pytest.raises(TadpInputError, match="resource_scale"):
        generate_instance([2], seed=0, slots=1, options=GeneratorOptions(resource_scale=-1.0))
    with pytest.raises(TadpInputError, match="overrides.X"):
        generate_instance([2], seed=0, slots=1, options=GeneratorOptions(overrides={"X": 1.0}))
    with pytest.raises(TadpInputError, match="scenario"):
        load_scenario("nowhere")


def test_scenario_file(tmp_path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('scenario = "paper"\nresource_scale = 0.25\ndeadline = [1.0, 1.5]\n[overrides]\nB_e = 5e6\n')
    opts = load_scenario(str(path))
    assert opts.scenario == "paper" and opts.resource_scale == 0.25 and opts.deadline == (1.0, 1.5)
    assert opts.overrides == {"B_e": 5e6}
    path.write_text("colour = 1\n")
    with pytest.raises(TadpInputError, match="colour"):
        load_scenario(str(path))
