"""The paper's sweeps: which values a figure takes, how a value maps to an instance at a smaller size ([D8]),
and that figures meeting at Table IV share that point."""

from __future__ import annotations

import pytest

from benchmarks.paper.sweeps import SWEEPS, TABLE_IV, expand_figures, figure_points, make_point, pick_values
from tadp.errors import TadpInputError
from tadp.generator import generate_instance, parse_size, scenario_options


def test_table_iv_and_quoted_values_are_always_points() -> None:
    for sweep in SWEEPS.values():
        if sweep.parameter == "none":
            continue
        for n in (1, 2, 4, 5):
            values = pick_values(sweep, n)
            assert sweep.table_iv in values, (sweep.figure, n)
            assert values == sorted(values) and len(values) == len(set(values))
            if n >= 1 + len(sweep.quoted):
                assert set(sweep.quoted) <= set(values), (sweep.figure, n)
        assert len(pick_values(sweep, 4)) == min(4, len(sweep.grid))
        assert pick_values(sweep, 100) == sorted(sweep.grid)


def test_values_keep_the_paper_resource_per_device() -> None:
    """At 2x5, 6 MHz of BS band for 350 devices is 6 MHz x 10/350; an IGW's 0.1 GB for 35 devices is
    0.1 GB x 5/35; the rates are not pooled and keep their value."""
    inst = generate_instance([5, 5], seed=0, slots=1, options=make_point(SWEEPS["fig6a"], 6.0, "2x5").options())
    assert inst.edge_band == pytest.approx(6e6 * 10 / 350)
    assert inst.gateway_band == pytest.approx([10e6 * 5 / 35] * 2)  # Table IV, density-scaled
    point = make_point(SWEEPS["fig5b"], 0.1, "2x5")
    assert point.applied == pytest.approx(0.1 * 8e9 * 5 / 35)
    assert make_point(SWEEPS["fig7a"], 50.0, "2x5").applied == 50e6
    assert make_point(SWEEPS["fig6a"], 6.0, "10x35").applied == pytest.approx(6e6)


def test_figures_meet_at_table_iv() -> None:
    """Fig. 4 and every sweep's Table IV value are one point: the paper scenario as it is, no override."""
    digests = {p.digest() for f in ("fig4", "fig5a", "fig5c", "fig6b", "fig7b") for p in figure_points(f, "2x5", 3)
               if not p.overrides}
    assert len(digests) == 1
    base = make_point(SWEEPS["fig4"], 0.0, "2x5").options()
    assert base == scenario_options("paper")


def test_fig8_keeps_the_bs_fixed_as_gateways_are_added() -> None:
    """G IGWs of K devices each; the BS's resources stay at their level for 10 IGWs of K devices."""
    points = figure_points("fig8", "2x5", 4)
    assert [p.size for p in points] == ["2x5", "5x5", "10x5", "20x5"]
    for point in points:
        inst = generate_instance(parse_size(point.size), seed=0, slots=1, options=point.options())
        assert inst.edge_band == pytest.approx(TABLE_IV["B_e"] * 50 / 350)
        assert inst.edge_cache == pytest.approx(TABLE_IV["S_e"] * 50 / 350)
        assert inst.gateway_compute == pytest.approx([TABLE_IV["C_l"] * 5 / 35] * inst.n_gateways)


def test_figure_names() -> None:
    assert expand_figures(["fig6a", "fig4"]) == ["fig4", "fig6a"]
    assert expand_figures(["all"])[-1] == "claims" and len(expand_figures(["all"])) == 11
    with pytest.raises(TadpInputError, match="unknown figure 'fig9'"):
        expand_figures(["fig9"])
