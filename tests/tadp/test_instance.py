"""The instance format `tadp-instance/1`: strict reading, canonical writing (docs/model.md, section 9)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tiny_doc
from hypothesis import given, settings
from hypothesis import strategies as st

from tadp.errors import TadpInputError
from tadp.generator import GeneratorOptions, generate_instance
from tadp.instance import (
    atomic_output,
    atomic_write_text,
    instance_from_json,
    instance_to_json,
    read_instance,
    write_instance,
)


def _reject(doc: Any, field: str, fragment: str) -> None:
    with pytest.raises(TadpInputError) as info:
        instance_from_json(doc, source="bad.json")
    assert info.value.source == "bad.json"
    assert info.value.field == field
    assert fragment in info.value.problem


def test_tiny_reads() -> None:
    """The hand-made fixture reads, with the cache empty and sizes as written."""
    inst = instance_from_json(tiny_doc())
    assert (inst.n_gateways, inst.n_devices, inst.n_slots) == (1, 2, 3)
    assert inst.initial_cache.is_empty()
    assert inst.accuracy[1, 1, 0] == 0.80  # device 1, noisy, light
    assert inst.size_label == "1x2"


def test_missing_key() -> None:
    doc = tiny_doc()
    del doc["devices"][1]["workload"]
    _reject(doc, "devices[1].workload", "missing key")


def test_extra_key() -> None:
    doc = tiny_doc()
    doc["gateways"][0]["colour"] = "blue"
    _reject(doc, "gateways[0].colour", "unexpected key")
    doc = tiny_doc()
    doc["extra"] = 1
    _reject(doc, "extra", "unexpected key")


def test_wrong_length() -> None:
    doc = tiny_doc()
    doc["slots"][2]["deadline"] = [1.0]
    _reject(doc, "slots[2].deadline", "expected 2 entries")


@pytest.mark.parametrize(("old", "new", "field"), [
    ('"gamma": 4.0', '"gamma": NaN', "devices[0].gamma"),
    ('"B": 1000000.0', '"B": Infinity', "gateways[0].B"),
    ('"deadline": [2.0, 1.0]', '"deadline": [2.0, -Infinity]', "slots[0].deadline[1]"),
    ('"provenance"', '"provenance"', None),  # no constant: reads
])
def test_nan_and_infinity_are_rejected_where_they_are(tmp_path: Path, old: str, new: str, field: str | None) -> None:
    """A bare NaN or Infinity token is refused, and the message names the field that holds it."""
    text = json.dumps(tiny_doc()).replace(old, new, 1)
    path = tmp_path / "nan.json"
    path.write_text(text)
    if field is None:
        read_instance(path)
        return
    with pytest.raises(TadpInputError, match="is not allowed") as err:
        read_instance(path)
    assert err.value.field == field and err.value.source == str(path)


@pytest.mark.parametrize("value", [0, -1.5])
def test_zero_or_negative_size(value: float) -> None:
    doc = tiny_doc()
    doc["devices"][0]["model_size"][0] = value
    _reject(doc, "devices[0].model_size[0]", "strictly positive")


def test_light_model_must_be_smaller() -> None:
    doc = tiny_doc()
    doc["devices"][1]["model_size"] = [60e6, 20e6]
    _reject(doc, "devices[1].model_size", "S0 < S1")
    doc = tiny_doc()
    doc["devices"][0]["workload"] = [2e7, 2e7]
    _reject(doc, "devices[0].workload", "Q0 < Q1")


def test_gateway_index_out_of_range() -> None:
    doc = tiny_doc()
    doc["devices"][1]["gateway"] = 3
    _reject(doc, "devices[1].gateway", "out of range")


def test_gateway_without_device() -> None:
    doc = tiny_doc()
    doc["gateways"].append({"gamma_e": 2.0, "B": 1e6, "C_l": 1e8, "S_l": 100e6})
    _reject(doc, "gateways", "gateway 1 has no device")


def test_accuracy_range_and_flags() -> None:
    doc = tiny_doc()
    doc["devices"][0]["accuracy"]["noisy"][1] = 1.2
    _reject(doc, "devices[0].accuracy.noisy[1]", "(0, 1]")
    doc = tiny_doc()
    doc["slots"][0]["noisy"][0] = True
    _reject(doc, "slots[0].noisy[0]", "integer 0 or 1")


def test_initial_cache_that_overflows() -> None:
    """Gateway cache 100e6 bits; device 0 heavy (40e6) + device 1 heavy (60e6) + light (20e6) = 120e6."""
    doc = tiny_doc()
    doc["initial_cache"] = {"gateway": [[0, 1], [1, 1]], "edge": [[0, 0], [0, 0]]}
    _reject(doc, "initial_cache", "gateway 0 cache holds")


def test_initial_cache_that_fits_is_kept() -> None:
    doc = tiny_doc()
    doc["initial_cache"] = {"gateway": [[0, 1], [0, 1]], "edge": [[1, 0], [0, 0]]}
    inst = instance_from_json(doc)
    assert inst.initial_cache.gateway.tolist() == [[False, True], [False, True]]
    assert '"initial_cache"' in instance_to_json(inst)


def test_wrong_format_tag() -> None:
    doc = tiny_doc()
    doc["format"] = "tadp-instance/2"
    _reject(doc, "format", "expected 'tadp-instance/1'")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(TadpInputError, match="cannot read file"):
        read_instance(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TadpInputError, match="not valid JSON"):
        read_instance(bad)


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text('{"format": "tadp-instance/1", "format": "tadp-instance/1"}')
    with pytest.raises(TadpInputError, match="duplicate key"):
        read_instance(path)


def test_canonical_layout() -> None:
    """Documented layout: one top-level key per line, one gateway/device/slot per line, trailing newline,
    initial_cache omitted when empty, floats in shortest round-trip form."""
    text = instance_to_json(instance_from_json(tiny_doc()))
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and text.endswith("}\n")
    assert lines[1] == '  "format": "tadp-instance/1",'
    assert '    {"gateway": 0, "gamma": 4.0, "accuracy": {"clean": [0.9, 0.95], "noisy": [0.8, 0.85]}, ' \
           '"workload": [10000000.0, 20000000.0], "model_size": [10000000.0, 40000000.0]},' in lines
    assert "initial_cache" not in text


@settings(max_examples=15, deadline=None)
@given(
    counts=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    seed=st.integers(0, 2**32 - 1),
    warm=st.booleans(),
)
def test_reader_round_trips_writer(tmp_path_factory: pytest.TempPathFactory, counts: list[int], seed: int,
                                   warm: bool) -> None:
    inst = generate_instance(counts, seed=seed, slots=3, options=GeneratorOptions(warm_cache=warm))
    path = tmp_path_factory.mktemp("rt") / "i.json"
    write_instance(inst, path)
    back = read_instance(path)
    for name in ("gateway_band", "gateway_cache", "device_gateway", "device_spectral_eff", "accuracy", "workload",
                 "model_size", "data", "deadline", "noisy"):
        np.testing.assert_array_equal(getattr(back, name), getattr(inst, name))
    assert back.initial_cache == inst.initial_cache
    assert back.provenance == inst.provenance and back.name == inst.name
    assert instance_to_json(back) == path.read_text()


def test_atomic_output_leaves_nothing_half_written(tmp_path: Path) -> None:
    """A failed write leaves neither the target nor a temporary file; a finished one has the umask's mode."""
    target = tmp_path / "sub" / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as partial:
            partial.write_text("half")
            raise RuntimeError("interrupted")
    assert not target.exists() and list(target.parent.iterdir()) == []
    atomic_write_text(target, "whole")
    assert target.read_text() == "whole" and [p.name for p in target.parent.iterdir()] == ["out.txt"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
