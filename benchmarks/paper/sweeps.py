"""The paper's experiments as sweeps (docs/paper.md): what each figure varies, over which values, and the
instances of each point.

Every figure of Section V but Fig. 4 changes one thing at a time, every other value at Table IV (the
``paper`` scenario, docs/model.md [D9]). A sweep's values are the paper's, at the paper's size (10 IGWs x
35 devices); at another size each pooled resource keeps its value *per device* ([D8]): a gateway resource is
scaled by K/35 and a BS resource by N/350, the rates R_c, R_e are not pooled and not scaled. Fig. 8 varies
the number of IGWs G at K devices each and keeps the BS's resources fixed at their level for 10 IGWs (the
paper's size), as the paper does.

A :class:`Point` is one value of one sweep at the run's size: the generator options of its instances. Two
figures that meet at Table IV share that point, and so its cells.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from tadp.errors import TadpInputError
from tadp.generator import GB, GeneratorOptions, parse_size, scenario_options, size_label

#: The paper's size (Section V-A): 10 IGWs, 35 devices each.
PAPER_GATEWAYS, PAPER_DEVICES_PER_GATEWAY = 10, 35
GATEWAY_RESOURCES = ("B", "C_l", "S_l")
BS_RESOURCES = ("B_e", "C_e", "S_e")
#: Table IV, in SI units (bits for caches), per resource key of :data:`tadp.generator.RESOURCE_KEYS`.
TABLE_IV = {"B": 10e6, "C_l": 1.5e9, "S_l": 0.3 * GB, "B_e": 20e6, "C_e": 5e9, "S_e": 2.4 * GB,
            "R_e": 200e6, "R_c": 300e6}


@dataclass(frozen=True)
class Sweep:
    """One figure of Section V: the quantity it varies and the values it may take."""

    figure: str
    """``fig4`` ... ``fig8``."""
    parameter: str
    """A resource key (``B``, ``S_l``, ...), ``G`` (number of IGWs) or ``none`` (Fig. 4)."""
    axis: str
    """Axis label, with the unit of ``grid``."""
    unit: float
    """SI value of one unit of ``grid`` (1e6 for MHz, 8e9 for GB in bits)."""
    grid: tuple[float, ...]
    """Candidate values in ``unit``, ascending, at the paper's size; the first and last are the range."""
    table_iv: float
    """The paper's default value (Table IV, or G = 10), always a point."""
    quoted: tuple[float, ...] = ()
    """Values Section V quotes a number at (the claims): always points."""
    view: str = "igw"
    """What the figure draws: ``training``, ``igw`` (Fig. 5), ``bs`` (Fig. 6), ``placement`` (Fig. 7),
    ``scale`` (Fig. 8)."""
    title: str = ""


MHZ, GHZ, MBPS = 1e6, 1e9, 1e6

#: Every figure, in the paper's order. Ranges: docs/paper.md, "Sweep ranges".
SWEEPS: dict[str, Sweep] = {s.figure: s for s in (
    Sweep("fig4", "none", "episode", 1.0, (0.0,), 0.0, view="training",
          title="Fig. 4: reward per training episode"),
    Sweep("fig5a", "B", "IGW band B (MHz)", MHZ, (0.25, 0.5, 1.0, 2.5, 5.0, 10.0), 10.0,
          title="Fig. 5(a): spectrum of the IGWs"),
    Sweep("fig5b", "S_l", "IGW cache S_l (GB)", GB, (0.05, 0.1, 0.15, 0.2, 0.3), 0.3,
          title="Fig. 5(b): caching capacity of the IGWs"),
    Sweep("fig5c", "C_l", "IGW compute C_l (GHz)", GHZ, (0.25, 0.5, 0.75, 1.0, 1.5), 1.5,
          title="Fig. 5(c): computing capability of the IGWs"),
    Sweep("fig6a", "B_e", "BS band B_e (MHz)", MHZ, (1.0, 2.0, 4.0, 6.0, 10.0, 20.0), 20.0, quoted=(6.0,),
          view="bs", title="Fig. 6(a): spectrum of the BS"),
    Sweep("fig6b", "S_e", "ECaS cache S_e (GB)", GB, (0.15, 0.3, 0.6, 1.2, 2.4), 2.4, quoted=(0.6,),
          view="bs", title="Fig. 6(b): caching capacity of the ECaS"),
    Sweep("fig6c", "C_e", "ECoS compute C_e (GHz)", GHZ, (0.5, 1.0, 2.0, 3.5, 5.0), 5.0, quoted=(2.0,),
          view="bs", title="Fig. 6(c): computing capability of the ECoS"),
    Sweep("fig7a", "R_c", "cloud-BS rate R_c (Mbit/s)", MBPS, (25.0, 50.0, 100.0, 200.0, 300.0), 300.0,
          view="placement", title="Fig. 7(a): transmission rate R_c"),
    Sweep("fig7b", "R_e", "BS-IGW rate R_e (Mbit/s)", MBPS, (25.0, 50.0, 100.0, 150.0, 200.0), 200.0,
          quoted=(150.0,), view="placement", title="Fig. 7(b): transmission rate R_e"),
    Sweep("fig8", "G", "number of IGWs G", 1.0, (2, 5, 10, 15, 20), 10, view="scale",
          title="Fig. 8: number of IGWs"),
)}
#: What ``claims`` runs on its own: the points Section V quotes numbers at (Fig. 8's claim reads the fig8
#: sweep when it is in the run folder).
CLAIM_POINTS = (("fig4", 0.0), ("fig6a", 6.0), ("fig6b", 0.6), ("fig6c", 2.0))
FIGURES = (*SWEEPS, "claims")


@dataclass(frozen=True)
class Point:
    """One value of one sweep at the run's size: the instances' size and generator options."""

    figure: str
    parameter: str
    value: float
    """In the sweep's unit, at the paper's size (what the figure's axis shows)."""
    size: str
    """Size label of the point's instances (Fig. 8 changes G)."""
    overrides: tuple[tuple[str, float], ...] = field(default=())
    """Absolute SI resource values at ``size`` (empty at Table IV: the ``paper`` scenario as it is)."""

    @property
    def applied(self) -> float | None:
        """The SI value the swept resource has at ``size`` (None for Fig. 4 and Fig. 8)."""
        return dict(self.overrides).get(self.parameter, TABLE_IV.get(self.parameter))

    def options(self) -> GeneratorOptions:
        return scenario_options("paper", overrides=dict(self.overrides))

    def digest(self) -> str:
        """What makes the point's instances: its size and overrides (shared by figures that meet here)."""
        text = json.dumps([self.size, sorted(self.overrides)])
        return hashlib.sha1(text.encode()).hexdigest()[:10]


def density(resource: str, counts: list[int]) -> float:
    """[D8]: the factor that keeps the paper's resource per device at the size ``counts``."""
    if resource in GATEWAY_RESOURCES:
        return counts[0] / PAPER_DEVICES_PER_GATEWAY
    if resource in BS_RESOURCES:
        return sum(counts) / (PAPER_GATEWAYS * PAPER_DEVICES_PER_GATEWAY)
    return 1.0


def pick_values(sweep: Sweep, n: int) -> list[float]:
    """``n`` values of the sweep's grid, ascending: Table IV first, then the quoted values, then both ends of
    the range, then values spread evenly over the rest (fewer than these when ``n`` is smaller)."""
    must = list(dict.fromkeys([sweep.table_iv, *sweep.quoted, sweep.grid[0], sweep.grid[-1]]))
    chosen = must[:n]
    others = [v for v in sweep.grid if v not in chosen]
    room = min(n - len(chosen), len(others))
    if room > 0:
        step = len(others) / room
        chosen += [others[min(len(others) - 1, round((i + 0.5) * step - 0.5))] for i in range(room)]
    return sorted(set(chosen))


def make_point(sweep: Sweep, value: float, size: str) -> Point:
    """The point ``value`` of ``sweep`` at ``size`` (``GxK``): overrides scaled per device ([D8])."""
    counts = parse_size(size, field_name="--size")
    if sweep.parameter == "none":
        return Point(sweep.figure, sweep.parameter, value, size_label(counts))
    if sweep.parameter == "G":
        counts = [counts[0]] * int(value)
        reference = [counts[0]] * PAPER_GATEWAYS  # the BS stays at its level for the paper's 10 IGWs
        overrides = () if int(value) == PAPER_GATEWAYS else tuple(
            (key, TABLE_IV[key] * density(key, reference)) for key in BS_RESOURCES)
        return Point(sweep.figure, "G", value, size_label(counts), overrides)
    if math.isclose(value, sweep.table_iv):
        return Point(sweep.figure, sweep.parameter, value, size_label(counts))
    si = value * sweep.unit * density(sweep.parameter, counts)
    return Point(sweep.figure, sweep.parameter, value, size_label(counts), ((sweep.parameter, si),))


def figure_points(figure: str, size: str, n_points: int) -> list[Point]:
    """The points of one figure at the run's size (``claims``: :data:`CLAIM_POINTS`)."""
    if figure == "claims":
        return [make_point(SWEEPS[f], v, size) for f, v in CLAIM_POINTS]
    sweep = SWEEPS[figure]
    values = [sweep.table_iv] if sweep.parameter == "none" else pick_values(sweep, n_points)
    return [make_point(sweep, v, size) for v in values]


def expand_figures(names: list[str]) -> list[str]:
    """FIGURE arguments -> figures in the paper's order; ``all`` is every figure and the claims. An unknown
    name is bad input."""
    if not names:
        raise TadpInputError("argument", "FIGURE", f"no figure given (known: {', '.join(FIGURES)}, all)")
    for name in names:
        if name != "all" and name not in FIGURES:
            raise TadpInputError("argument", "FIGURE", f"unknown figure {name!r} (known: {', '.join(FIGURES)}, all)")
    wanted = set(FIGURES) if "all" in names else set(names)
    return [f for f in FIGURES if f in wanted]


def describe_point(point: Point) -> dict[str, Any]:
    """The label columns of a point's rows in ``points.csv``."""
    return {"figure": point.figure, "parameter": point.parameter, "value": point.value, "size": point.size,
            "applied": point.applied}


__all__ = ["BS_RESOURCES", "CLAIM_POINTS", "FIGURES", "GATEWAY_RESOURCES", "SWEEPS", "TABLE_IV", "Point", "Sweep",
           "density", "describe_point", "expand_figures", "figure_points", "make_point", "pick_values"]
