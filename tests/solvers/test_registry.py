"""The one solver registry (solvers/__init__.py): every entry reachable and consistent with its class."""

from __future__ import annotations

import pytest

from solvers import (
    KINDS,
    OWN_DECODERS,
    REGISTRY,
    benchmark_solvers,
    display_order,
    make_solver,
    reference_solver,
    spec_of,
)
from solvers.base import Solver, load_solver_class
from tadp.decoders import DECODERS
from tadp.errors import TadpInputError


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_entry_names_its_class(name: str) -> None:
    """The target class exists, is a Solver, and answers to the registry's name; only learners train, and
    every learner names its decoder (an action decoder, or its own: ``neural``); only policies have one."""
    spec = REGISTRY[name]
    cls = load_solver_class(spec.target)
    assert issubclass(cls, Solver) and cls.name == name
    assert spec.kind in KINDS
    assert not spec.trains or spec.kind == "learned"
    assert spec.decoder is None or spec.decoder in DECODERS + OWN_DECODERS
    if spec.kind == "learned":
        assert spec.decoder is not None


def test_one_reference_and_a_display_order() -> None:
    assert reference_solver() == "highs" and REGISTRY["highs"].kind == "exact"
    ranks = [spec.display for spec in REGISTRY.values()]
    assert len(set(ranks)) == len(ranks)
    assert display_order(["greedy", "td3", "highs", "unknown", "td3"]) == ["highs", "td3", "greedy", "unknown"]
    assert "highs-horizon" not in benchmark_solvers() and benchmark_solvers()[0] == "highs"


def test_unknown_names_and_decoders_through_the_registry() -> None:
    with pytest.raises(TadpInputError, match="unknown solver 'magic'"):
        spec_of("magic")
    with pytest.raises(TadpInputError):
        make_solver("magic")
    assert make_solver("random-fit").decoder == "fit" and make_solver("random").decoder == "dcpu"
    assert make_solver("greedy").decoder is None
    assert make_solver("neural").decoder == "neural" and not REGISTRY["neural"].trains
