"""Instance generator: the paper's Tables III-IV with decisions [D7]-[D9] (docs/model.md, section 8).

``generate_instance([5, 5], seed=0)`` is the default ``2x5-scarce-s0``. Every number the
generator uses lives in :class:`GeneratorOptions`; the options actually used are written
to the instance's ``provenance`` so that a trace can be redrawn from them
(:func:`draw_trace`, used by the RL environment for training episodes).

Randomness: one :class:`numpy.random.SeedSequence` per seed, split into independent
streams (channel, devices, data sizes, deadlines, data quality, warm cache), so that the
first T slots of a longer trace equal a T-slot trace of the same seed and options.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tadp import __version__
from tadp.errors import TadpInputError
from tadp.instance import Cache, Instance

BYTE = 8.0  # bits
KB, MB, GB = 1e3 * BYTE, 1e6 * BYTE, 1e9 * BYTE  # decimal SI, in bits

#: Resource scale of each named scenario [D9].
SCENARIO_SCALES = {"paper": 1.0, "scarce": 0.5}
#: Pooled resources an override may set (absolute SI values, after all scaling).
RESOURCE_KEYS = ("B", "C_l", "S_l", "B_e", "C_e", "S_e", "R_e", "R_c")


@dataclass(frozen=True)
class GeneratorOptions:
    """Every number the generator uses; defaults are the paper's (Tables III-IV) and [D7]-[D9]."""

    scenario: str = "scarce"
    """Named scenario of [D9]: ``scarce`` (resource scale 0.5) or ``paper`` (1.0)."""
    resource_scale: float | None = None
    """Scale on the six pooled resources; None takes the scenario's."""
    density_scaling: bool = True
    """[D8]: scale gateway resources by K_i/35 and BS resources by N/350."""
    reference_devices_per_gateway: int = 35
    """K of the paper's scenario, the denominator of [D8]'s gateway scaling."""
    reference_devices: int = 350
    """N of the paper's scenario, the denominator of [D8]'s BS scaling."""
    # --- Table IV: resources before scaling (SI units) ---
    gateway_band: float = 10e6
    """B, Hz per gateway."""
    edge_band: float = 20e6
    """B_e, Hz at the BS."""
    gateway_compute: float = 1.5e9
    """C_l, cycles/s per gateway."""
    edge_compute: float = 5e9
    """C_e, cycles/s at the ECoS."""
    gateway_cache: float = 0.3 * GB
    """S_l, bits per gateway."""
    edge_cache: float = 2.4 * GB
    """S_e, bits at the ECaS."""
    edge_to_gateway_rate: float = 200e6
    """R_e, bit/s (not pooled, not scaled)."""
    cloud_to_edge_rate: float = 300e6
    """R_c, bit/s (not pooled, not scaled)."""
    overrides: Mapping[str, float] = field(default_factory=dict)
    """Absolute final values for any of B, C_l, S_l, B_e, C_e, S_e, R_e, R_c."""
    # --- [D7] channel ---
    device_power_dbm: float = 30.0
    """p, device transmit power."""
    gateway_power_dbm: float = 40.0
    """p_e, gateway transmit power."""
    noise_dbm: float = -104.0
    """sigma^2, whatever the band."""
    path_loss_intercept_db: float = 128.1
    """PL = intercept + slope * log10(d / 1 km)."""
    path_loss_slope_db: float = 37.6
    """PL slope per decade of distance."""
    device_distance_m: tuple[float, float] = (35.0, 100.0)
    """Device-gateway distance, uniform."""
    gateway_distance_m: tuple[float, float] = (200.0, 500.0)
    """Gateway-BS distance, uniform."""
    # --- Table III: devices ---
    accuracy_clean_light: tuple[float, float] = (0.915, 0.938)
    """P_UL range."""
    accuracy_clean_heavy: tuple[float, float] = (0.973, 0.992)
    """P_UH range."""
    accuracy_noisy_light: tuple[float, float] = (0.876, 0.897)
    """P_DL range."""
    accuracy_noisy_heavy: tuple[float, float] = (0.929, 0.954)
    """P_DH range."""
    model_size_light: tuple[float, float] = (3.5 * MB, 5.5 * MB)
    """S0 range, bits."""
    model_size_heavy: tuple[float, float] = (9 * MB, 12 * MB)
    """S1 range, bits."""
    workload_light: tuple[float, float] = (15e6, 20e6)
    """Q0 range, cycles."""
    workload_heavy: tuple[float, float] = (25e6, 30e6)
    """Q1 range, cycles."""
    # --- Table IV and Sec. V-A: tasks ---
    data_size: tuple[float, float] = (40 * KB, 60 * KB)
    """D range, bits per task per slot."""
    deadline: tuple[float, float] = (1.5, 2.0)
    """Tmax range, s."""
    noisy_probability: float = 0.3
    """P(theta = 1) per task per slot."""
    warm_cache: bool = False
    """Start from a random warm cache (models placed at random while they fit) instead of cold."""

    @property
    def effective_scale(self) -> float:
        return SCENARIO_SCALES[self.scenario] if self.resource_scale is None else self.resource_scale

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["overrides"] = dict(sorted(self.overrides.items()))
        out["resource_scale"] = self.effective_scale
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}

    def differs_from_scenario(self) -> bool:
        """True when any value differs from the named scenario's defaults ("-custom")."""
        base = GeneratorOptions(scenario=self.scenario)
        return self.to_json() != base.to_json()


def validate_options(opts: GeneratorOptions, source: str = "argument") -> None:
    """Raise :class:`TadpInputError` naming the first invalid option."""
    if opts.scenario not in SCENARIO_SCALES:
        raise TadpInputError(source, "scenario", f"unknown scenario {opts.scenario!r} (known: paper, scarce)")
    for f in dataclasses.fields(opts):
        value = getattr(opts, f.name)
        if f.name in ("scenario", "overrides", "density_scaling", "warm_cache"):
            continue
        if f.name == "resource_scale" and value is None:
            continue
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise TadpInputError(source, f.name, f"expected a finite number, got {v!r}")
        if isinstance(value, tuple):
            if len(value) != 2 or not value[0] <= value[1]:
                raise TadpInputError(source, f.name, f"expected a range [low, high] with low <= high, got {value!r}")
    positive = [
        "resource_scale", "gateway_band", "edge_band", "gateway_compute", "edge_compute", "gateway_cache",
        "edge_cache", "edge_to_gateway_rate", "cloud_to_edge_rate", "reference_devices_per_gateway",
        "reference_devices",
    ]
    for name in positive:
        value = getattr(opts, name)
        if value is not None and value <= 0:
            raise TadpInputError(source, name, f"must be strictly positive, got {value!r}")
    for name in ("device_distance_m", "gateway_distance_m", "model_size_light", "model_size_heavy",
                 "workload_light", "workload_heavy", "data_size", "deadline"):
        if getattr(opts, name)[0] <= 0:
            raise TadpInputError(source, name, f"range must be strictly positive, got {getattr(opts, name)!r}")
    for name in ("accuracy_clean_light", "accuracy_clean_heavy", "accuracy_noisy_light", "accuracy_noisy_heavy"):
        low, high = getattr(opts, name)
        if not (0 < low and high <= 1):
            raise TadpInputError(source, name, f"accuracy range must lie in (0, 1], got {(low, high)!r}")
    if not 0 <= opts.noisy_probability <= 1:
        raise TadpInputError(source, "noisy_probability", f"must lie in [0, 1], got {opts.noisy_probability!r}")
    if opts.model_size_light[1] >= opts.model_size_heavy[0]:
        raise TadpInputError(source, "model_size_light", "light sizes must lie below heavy sizes (S0 < S1)")
    if opts.workload_light[1] >= opts.workload_heavy[0]:
        raise TadpInputError(source, "workload_light", "light workloads must lie below heavy ones (Q0 < Q1)")
    for key, value in opts.overrides.items():
        if key not in RESOURCE_KEYS:
            raise TadpInputError(source, f"overrides.{key}", f"unknown resource (known: {', '.join(RESOURCE_KEYS)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise TadpInputError(source, f"overrides.{key}", f"must be a strictly positive number, got {value!r}")


def options_from_mapping(values: Mapping[str, Any], source: str) -> GeneratorOptions:
    """Options from a scenario file's mapping (unknown keys are errors)."""
    known = {f.name: f for f in dataclasses.fields(GeneratorOptions)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise TadpInputError(source, key, "unknown generator option")
        default = getattr(GeneratorOptions(), key)
        if isinstance(default, tuple):
            if not isinstance(value, list) or len(value) != 2:
                raise TadpInputError(source, key, f"expected a [low, high] pair, got {value!r}")
            value = tuple(value)
        elif key == "overrides":
            if not isinstance(value, dict):
                raise TadpInputError(source, key, "expected a table of resource values")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise TadpInputError(source, key, f"expected true or false, got {value!r}")
        elif key == "scenario":
            if not isinstance(value, str):
                raise TadpInputError(source, key, f"expected a scenario name, got {value!r}")
        kwargs[key] = value
    opts = GeneratorOptions(**kwargs)
    validate_options(opts, source)
    return opts


def load_scenario(name_or_path: str) -> GeneratorOptions:
    """``paper``, ``scarce``, or a TOML/JSON file of :class:`GeneratorOptions` fields."""
    if name_or_path in SCENARIO_SCALES:
        return GeneratorOptions(scenario=name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise TadpInputError("argument", "scenario", f"{name_or_path!r} is neither paper, scarce nor a file")
    try:
        text = path.read_text(encoding="utf-8")
        values = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise TadpInputError(str(path), None, f"cannot read scenario file ({exc})") from None
    if not isinstance(values, dict):
        raise TadpInputError(str(path), None, "expected a table of generator options")
    return options_from_mapping(values, str(path))


def scenario_options(
    scenario: str = "scarce",
    *,
    resource_scale: float | None = None,
    density_scaling: bool | None = None,
    warm_cache: bool | None = None,
    overrides: Mapping[str, float] | None = None,
) -> GeneratorOptions:
    """The options of ``scenario`` (:func:`load_scenario`) with the given changes on top (None: the
    scenario's own); ``overrides`` are added to the scenario's. Validated."""
    opts = load_scenario(scenario)
    changes: dict[str, Any] = {}
    if resource_scale is not None:
        changes["resource_scale"] = resource_scale
    if density_scaling is not None:
        changes["density_scaling"] = density_scaling
    if warm_cache is not None:
        changes["warm_cache"] = warm_cache
    if overrides:
        changes["overrides"] = {**opts.overrides, **overrides}
    opts = dataclasses.replace(opts, **changes)
    validate_options(opts)
    return opts


_SIZE_GRID = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")
_SIZE_LIST = re.compile(r"^\s*\d+(\s*[-,]\s*\d+)*\s*$")


def parse_size(text: str, source: str = "argument", field_name: str = "size") -> list[int]:
    """``"2x5"`` -> [5, 5]; ``"3-5-2"`` or ``"3,5,2"`` -> [3, 5, 2] (devices per gateway)."""
    m = _SIZE_GRID.match(text)
    if m:
        g, k = int(m.group(1)), int(m.group(2))
        counts = [k] * g
    elif _SIZE_LIST.match(text):
        counts = [int(x) for x in re.split(r"[-,]", text.replace(" ", ""))]
    else:
        raise TadpInputError(source, field_name, f"{text!r} is not a size (expected GxK, e.g. 2x5, or K1-K2-...)")
    if not counts or min(counts) < 1:
        raise TadpInputError(source, field_name, f"{text!r}: every gateway needs at least one device")
    return counts


def size_label(devices_per_gateway: Sequence[int]) -> str:
    """``GxK`` for even gateways, ``K1-K2-...`` otherwise (docs/model.md, section 9)."""
    counts = list(devices_per_gateway)
    if all(k == counts[0] for k in counts):
        return f"{len(counts)}x{counts[0]}"
    return "-".join(str(k) for k in counts)


def spectral_efficiency(power_dbm: float, distance_m: np.ndarray, opts: GeneratorOptions) -> np.ndarray:
    """[D7]: gamma = log2(1 + SNR), PL_dB = 128.1 + 37.6 log10(d / 1 km), no fading."""
    path_loss_db = opts.path_loss_intercept_db + opts.path_loss_slope_db * np.log10(distance_m / 1000.0)
    snr_db = power_dbm - path_loss_db - opts.noise_dbm
    return np.log2(1.0 + 10.0 ** (snr_db / 10.0))


def _streams(seed: int) -> dict[str, np.random.Generator]:
    names = ("channel", "devices", "data", "deadline", "noisy", "cache")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


def draw_trace(
    opts: GeneratorOptions,
    n_devices: int,
    n_slots: int,
    data_rng: np.random.Generator,
    deadline_rng: np.random.Generator,
    noisy_rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Data sizes, deadlines and data-quality flags, each (T, N), from three streams."""
    data = data_rng.uniform(*opts.data_size, size=(n_slots, n_devices))
    deadline = deadline_rng.uniform(*opts.deadline, size=(n_slots, n_devices))
    noisy = (noisy_rng.random((n_slots, n_devices)) < opts.noisy_probability).astype(np.int8)
    return data, deadline, noisy


def draw_trace_seeded(opts: GeneratorOptions, n_devices: int, n_slots: int, seed: int) -> tuple[np.ndarray, ...]:
    """The trace that :func:`generate_instance` draws for ``seed`` (same streams)."""
    s = _streams(seed)
    return draw_trace(opts, n_devices, n_slots, s["data"], s["deadline"], s["noisy"])


def options_of(inst: Instance) -> GeneratorOptions:
    """The generator options recorded in an instance's provenance, else the defaults.

    Unknown or malformed provenance falls back to the defaults field by field, so that
    any valid instance file can be used to draw new traces.
    """
    recorded = (inst.provenance or {}).get("options")
    if not isinstance(recorded, dict):
        return GeneratorOptions()
    usable = {k: v for k, v in recorded.items() if k in {f.name for f in dataclasses.fields(GeneratorOptions)}}
    try:
        return options_from_mapping(usable, "provenance")
    except (TadpInputError, TypeError):
        return GeneratorOptions()


def _warm_cache(inst_arrays: dict[str, np.ndarray], rng: np.random.Generator) -> Cache:
    """Random resident models: visit (device, level) pairs in random order, place while they fit."""
    sizes = inst_arrays["model_size"]
    gw_of = inst_arrays["device_gateway"]
    n = sizes.shape[0]
    gw_free = inst_arrays["gateway_cache"].copy()
    edge_free = float(inst_arrays["edge_cache"])
    cache = Cache.empty(n)
    for flat in rng.permutation(2 * n):
        j, level = divmod(int(flat), 2)
        if sizes[j, level] <= gw_free[gw_of[j]] and rng.random() < 0.5:
            cache.gateway[j, level] = True
            gw_free[gw_of[j]] -= sizes[j, level]
    for flat in rng.permutation(2 * n):
        j, level = divmod(int(flat), 2)
        if sizes[j, level] <= edge_free and rng.random() < 0.5:
            cache.edge[j, level] = True
            edge_free -= sizes[j, level]
    return cache


def _resources(opts: GeneratorOptions, counts: list[int]) -> dict[str, Any]:
    """The pooled resources and model links: Table IV x [D8] density x [D9] scenario, then the
    absolute overrides (a gateway resource's override applies to every gateway)."""
    n_gateways, n_devices = len(counts), sum(counts)
    scale = opts.effective_scale
    k = np.asarray(counts, float)
    gw_density = k / opts.reference_devices_per_gateway if opts.density_scaling else np.ones(n_gateways)
    bs_density = n_devices / opts.reference_devices if opts.density_scaling else 1.0
    res: dict[str, Any] = {
        "B": opts.gateway_band * gw_density * scale,
        "C_l": opts.gateway_compute * gw_density * scale,
        "S_l": opts.gateway_cache * gw_density * scale,
        "B_e": opts.edge_band * bs_density * scale,
        "C_e": opts.edge_compute * bs_density * scale,
        "S_e": opts.edge_cache * bs_density * scale,
        "R_e": opts.edge_to_gateway_rate,
        "R_c": opts.cloud_to_edge_rate,
    }
    for key, value in opts.overrides.items():
        res[key] = np.full(n_gateways, float(value)) if key in ("B", "C_l", "S_l") else float(value)
    return res


def _devices(opts: GeneratorOptions, n_devices: int, dv: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Table III per device, from the devices stream: accuracy (N, 2, 2), model size (N, 2), workload (N, 2)."""
    accuracy = np.empty((n_devices, 2, 2))
    accuracy[:, 0, 0] = dv.uniform(*opts.accuracy_clean_light, size=n_devices)
    accuracy[:, 0, 1] = dv.uniform(*opts.accuracy_clean_heavy, size=n_devices)
    accuracy[:, 1, 0] = dv.uniform(*opts.accuracy_noisy_light, size=n_devices)
    accuracy[:, 1, 1] = dv.uniform(*opts.accuracy_noisy_heavy, size=n_devices)
    model_size = np.stack(
        [dv.uniform(*opts.model_size_light, size=n_devices), dv.uniform(*opts.model_size_heavy, size=n_devices)],
        axis=1,
    )
    workload = np.stack(
        [dv.uniform(*opts.workload_light, size=n_devices), dv.uniform(*opts.workload_heavy, size=n_devices)], axis=1
    )
    return accuracy, model_size, workload


def generate_instance(
    devices_per_gateway: Sequence[int],
    seed: int,
    slots: int = 50,
    options: GeneratorOptions | None = None,
) -> Instance:
    """Draw one instance: ``devices_per_gateway[i]`` devices at gateway i, ``slots`` slots."""
    opts = options if options is not None else GeneratorOptions()
    validate_options(opts)
    counts = [int(k) for k in devices_per_gateway]
    if not counts or min(counts) < 1:
        raise TadpInputError("argument", "size", "every gateway needs at least one device")
    if slots < 1:
        raise TadpInputError("argument", "slots", f"must be at least 1, got {slots}")
    if seed < 0:
        raise TadpInputError("argument", "seed", f"must be non-negative, got {seed}")
    n_gateways, n_devices = len(counts), sum(counts)
    streams = _streams(seed)
    res = _resources(opts, counts)
    # --- channel [D7] ---
    ch = streams["channel"]
    gateway_distance = ch.uniform(*opts.gateway_distance_m, size=n_gateways)
    device_distance = ch.uniform(*opts.device_distance_m, size=n_devices)
    gateway_gamma = spectral_efficiency(opts.gateway_power_dbm, gateway_distance, opts)
    device_gamma = spectral_efficiency(opts.device_power_dbm, device_distance, opts)
    accuracy, model_size, workload = _devices(opts, n_devices, streams["devices"])
    device_gateway = np.repeat(np.arange(n_gateways), counts)

    data, deadline, noisy = draw_trace(opts, n_devices, slots, streams["data"], streams["deadline"], streams["noisy"])

    gateway_cache = np.asarray(res["S_l"], float) * np.ones(n_gateways)
    if opts.warm_cache:
        cache = _warm_cache(
            {"model_size": model_size, "device_gateway": device_gateway, "gateway_cache": gateway_cache,
             "edge_cache": np.float64(res["S_e"])},
            streams["cache"],
        )
    else:
        cache = Cache.empty(n_devices)

    label = size_label(counts)
    name = f"{label}-{opts.scenario}-s{seed}" + ("-custom" if opts.differs_from_scenario() else "")
    provenance = {
        "generator": f"tadp-bench {__version__}",
        "seed": int(seed),
        "size": label,
        "slots": int(slots),
        "options": opts.to_json(),
    }
    return Instance(
        name=name,
        edge_band=float(res["B_e"]),
        edge_compute=float(res["C_e"]),
        edge_cache=float(res["S_e"]),
        edge_to_gateway_rate=float(res["R_e"]),
        cloud_to_edge_rate=float(res["R_c"]),
        gateway_spectral_eff=gateway_gamma,
        gateway_band=np.asarray(res["B"], float) * np.ones(n_gateways),
        gateway_compute=np.asarray(res["C_l"], float) * np.ones(n_gateways),
        gateway_cache=gateway_cache,
        device_gateway=device_gateway,
        device_spectral_eff=device_gamma,
        accuracy=accuracy,
        workload=workload,
        model_size=model_size,
        data=data,
        deadline=deadline,
        noisy=noisy,
        initial_cache=cache,
        provenance=provenance,
    )
