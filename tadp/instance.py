"""The TADP instance: data of docs/model.md, section 2, file format `tadp-instance/1` (section 9).

An :class:`Instance` holds numpy arrays, indexed by device ``j`` (0..N-1), gateway ``i``
(0..G-1), slot ``t`` (0..T-1), model level ``n`` (0 light, 1 heavy) and data quality
``q`` (0 clean, 1 noisy). All quantities are SI base units (bits, Hz, cycles,
cycles/s, bit/s, s).

:func:`read_instance` rejects anything the spec does not allow with a
:class:`~tadp.errors.TadpInputError` naming the file and the field;
:func:`instance_to_json` writes the canonical encoding (same instance, same bytes).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from tadp.errors import TadpInputError
from tadp.physics import fits_capacity

INSTANCE_FORMAT = "tadp-instance/1"


@dataclass(frozen=True, eq=False)
class Cache:
    """Which models are resident: ``gateway[j, n]`` at device j's gateway (u^l),
    ``edge[j, n]`` in the edge cache ECaS (u^e). Boolean arrays of shape (N, 2)."""

    gateway: np.ndarray
    edge: np.ndarray

    @staticmethod
    def empty(n_devices: int) -> Cache:
        """The cold cache: nothing resident anywhere."""
        return Cache(np.zeros((n_devices, 2), bool), np.zeros((n_devices, 2), bool))

    def is_empty(self) -> bool:
        return not (self.gateway.any() or self.edge.any())

    def copy(self) -> Cache:
        return Cache(self.gateway.copy(), self.edge.copy())

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Cache)
            and np.array_equal(self.gateway, other.gateway)
            and np.array_equal(self.edge, other.edge)
        )

    def to_json(self) -> dict[str, list[list[int]]]:
        return {
            "gateway": self.gateway.astype(int).tolist(),
            "edge": self.edge.astype(int).tolist(),
        }


@dataclass(frozen=True, eq=False)
class Instance:
    """One TADP instance: network, gateways, devices and a task trace."""

    name: str
    # --- network (BS, ECoS, ECaS, model links) ---
    edge_band: float  # B_e, Hz, shared by all edge tasks
    edge_compute: float  # C_e, cycles/s
    edge_cache: float  # S_e, bits
    edge_to_gateway_rate: float  # R_e, bit/s (ECaS/BS -> gateway model link)
    cloud_to_edge_rate: float  # R_c, bit/s (CCaS -> BS model link)
    # --- gateways, shape (G,) ---
    gateway_spectral_eff: np.ndarray  # gamma_e_i, gateway -> BS, bit/s/Hz [D1]
    gateway_band: np.ndarray  # B_i, Hz [D2]
    gateway_compute: np.ndarray  # C_l_i, cycles/s [D2]
    gateway_cache: np.ndarray  # S_l_i, bits [D2]
    # --- devices, shape (N, ...) ---
    device_gateway: np.ndarray  # g(j), int
    device_spectral_eff: np.ndarray  # gamma_j, device -> gateway, bit/s/Hz
    accuracy: np.ndarray  # (N, 2, 2): [j, quality (0 clean, 1 noisy), level]
    workload: np.ndarray  # (N, 2): Q[j][n], cycles
    model_size: np.ndarray  # (N, 2): S[j][n], bits
    # --- task trace, shape (T, N) ---
    data: np.ndarray  # D, bits
    deadline: np.ndarray  # Tmax, s
    noisy: np.ndarray  # theta in {0, 1}, int8
    initial_cache: Cache
    provenance: dict[str, Any] | None = field(default=None)

    # ----------------------------------------------------------------- sizes
    @property
    def n_devices(self) -> int:
        return int(self.device_gateway.shape[0])

    @property
    def n_gateways(self) -> int:
        return int(self.gateway_band.shape[0])

    @property
    def n_slots(self) -> int:
        return int(self.data.shape[0])

    @cached_property
    def devices_per_gateway(self) -> np.ndarray:
        """K_i for each gateway i."""
        return np.bincount(self.device_gateway, minlength=self.n_gateways)

    @cached_property
    def gateway_membership(self) -> np.ndarray:
        """(N, G) 0/1 matrix: device j belongs to gateway i. ``x @ M`` sums per gateway."""
        m = np.zeros((self.n_devices, self.n_gateways))
        m[np.arange(self.n_devices), self.device_gateway] = 1.0
        return m

    @property
    def size_label(self) -> str:
        """``GxK`` when every gateway has K devices, else ``K1-K2-...``."""
        k = self.devices_per_gateway
        if np.all(k == k[0]):
            return f"{self.n_gateways}x{int(k[0])}"
        return "-".join(str(int(x)) for x in k)

    # ----------------------------------------------------------------- cache
    @cached_property
    def _cache_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(2N, G) model sizes per gateway and (2N,) model sizes, rows in (device, level) order."""
        sizes = self.model_size.reshape(-1)
        per_gateway = np.repeat(self.gateway_membership, 2, axis=0) * sizes[:, None]
        return per_gateway, sizes

    def cache_load(self, gateway_flags: np.ndarray, edge_flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bits held per gateway (..., G) and in the ECaS (...) by resident flags (..., N, 2)."""
        per_gateway, sizes = self._cache_weights
        flat = gateway_flags.shape[:-2] + (2 * self.n_devices,)
        return (
            gateway_flags.reshape(flat).astype(float) @ per_gateway,
            edge_flags.reshape(flat).astype(float) @ sizes,
        )

    def cache_overflows(self, cache: Cache) -> list[str]:
        """Human-readable list of capacities the cache exceeds (empty when it fits)."""
        gw_used, edge_used = self.cache_load(cache.gateway, cache.edge)
        problems = []
        for i in np.flatnonzero(~fits_capacity(gw_used, self.gateway_cache)):
            problems.append(
                f"gateway {i} cache holds {gw_used[i]:.6g} bits > capacity {self.gateway_cache[i]:.6g}"
            )
        if not fits_capacity(edge_used, self.edge_cache):
            problems.append(f"edge cache holds {edge_used:.6g} bits > capacity {self.edge_cache:.6g}")
        return problems


# ====================================================================== reading
class _Reader:
    """Strict validation of a decoded JSON document; every error names the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> TadpInputError:
        return TadpInputError(self.source, path, problem)

    def obj(self, value: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a JSON object, got {_kind(value)}")
        for key in required:
            if key not in value:
                raise self.fail(_join(path, key), "missing key")
        for key in value:
            if key not in required and key not in optional:
                raise self.fail(_join(path, key), "unexpected key")
        return value

    def array(self, value: Any, path: str, length: int | None = None) -> list:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a JSON array, got {_kind(value)}")
        if length is not None and len(value) != length:
            raise self.fail(path, f"expected {length} entries, got {len(value)}")
        return value

    def number(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"expected a number, got {_kind(value)}")
        x = float(value)
        if not math.isfinite(x):
            raise self.fail(path, f"must be finite, got {value!r}")
        return x

    def positive(self, value: Any, path: str) -> float:
        x = self.number(value, path)
        if x <= 0:
            raise self.fail(path, f"must be strictly positive, got {value!r}")
        return x

    def probability(self, value: Any, path: str) -> float:
        x = self.number(value, path)
        if not 0 < x <= 1:
            raise self.fail(path, f"accuracy must lie in (0, 1], got {value!r}")
        return x

    def flag(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1):
            raise self.fail(path, f"expected the integer 0 or 1, got {value!r}")
        return int(value)

    def positives(self, value: Any, path: str, length: int) -> np.ndarray:
        items = self.array(value, path, length)
        return np.array([self.positive(v, f"{path}[{k}]") for k, v in enumerate(items)], float)

    def flags(self, value: Any, path: str, length: int) -> np.ndarray:
        items = self.array(value, path, length)
        return np.array([self.flag(v, f"{path}[{k}]") for k, v in enumerate(items)], np.int8)

    def flag_pairs(self, value: Any, path: str, length: int) -> np.ndarray:
        items = self.array(value, path, length)
        out = np.zeros((length, 2), bool)
        for j, pair in enumerate(items):
            pair = self.array(pair, f"{path}[{j}]", 2)
            out[j] = [self.flag(pair[n], f"{path}[{j}][{n}]") for n in range(2)]
        return out

    def cache(self, value: Any, path: str, n_devices: int) -> Cache:
        self.obj(value, path, ("gateway", "edge"))
        return Cache(
            self.flag_pairs(value["gateway"], f"{path}.gateway", n_devices),
            self.flag_pairs(value["edge"], f"{path}.edge", n_devices),
        )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", str: "a string"}.get(type(value), repr(value))


class _BareConstant:
    """A bare ``NaN``, ``Infinity`` or ``-Infinity`` token met while parsing: kept as a marker so that
    the field holding it can be named (JSON has no such numbers, docs/model.md, section 9)."""

    def __init__(self, token: str) -> None:
        self.token = token


def _find_constant(value: Any, path: str = "") -> tuple[str, str] | None:
    """(path, token) of the first bare constant in a decoded document, in document order."""
    if isinstance(value, _BareConstant):
        return path, value.token
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _find_constant(item, _join(path, key) if isinstance(key, str) else f"{path}[{key}]")
        if found is not None:
            return found
    return None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file strictly (no NaN/Infinity, no duplicate keys)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TadpInputError(source, None, f"cannot read file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise TadpInputError(source, None, "not UTF-8 text") from None
    try:
        doc = json.loads(text, parse_constant=_BareConstant, object_pairs_hook=_no_duplicates)
    except ValueError as exc:
        raise TadpInputError(source, None, f"not valid JSON ({exc})") from None
    found = _find_constant(doc)
    if found is not None:
        raise TadpInputError(source, found[0] or None, f"{found[1]} is not allowed (JSON numbers must be finite)")
    return doc


def read_instance(path: str | os.PathLike[str]) -> Instance:
    """Read and validate a `tadp-instance/1` file."""
    return instance_from_json(load_json(path), source=str(path))


_TOP_KEYS = ("format", "name", "network", "gateways", "devices", "slots")
_NETWORK_KEYS = ("B_e", "C_e", "S_e", "R_e", "R_c")
_GATEWAY_KEYS = ("gamma_e", "B", "C_l", "S_l")
_DEVICE_KEYS = ("gateway", "gamma", "accuracy", "workload", "model_size")
_SLOT_KEYS = ("data", "deadline", "noisy")


def instance_from_json(doc: Any, source: str = "<instance>") -> Instance:
    """Validate a decoded `tadp-instance/1` document and build the :class:`Instance`."""
    r = _Reader(source)
    r.obj(doc, "", _TOP_KEYS, ("initial_cache", "provenance"))
    if doc["format"] != INSTANCE_FORMAT:
        raise r.fail("format", f"expected {INSTANCE_FORMAT!r}, got {doc['format']!r}")
    name = doc["name"]
    if not isinstance(name, str) or not name:
        raise r.fail("name", "expected a non-empty string")
    net = r.obj(doc["network"], "network", _NETWORK_KEYS)
    network = {key: r.positive(net[key], f"network.{key}") for key in _NETWORK_KEYS}
    gw = _read_gateways(r, doc["gateways"])
    devices = _read_devices(r, doc["devices"], len(gw))
    n = len(devices["gateway"])
    data, deadline, noisy = _read_slots(r, doc["slots"], n)
    cache = r.cache(doc["initial_cache"], "initial_cache", n) if "initial_cache" in doc else Cache.empty(n)
    provenance = doc.get("provenance")
    if "provenance" in doc and not isinstance(provenance, dict):
        raise r.fail("provenance", f"expected a JSON object, got {_kind(provenance)}")

    inst = Instance(
        name=name,
        edge_band=network["B_e"],
        edge_compute=network["C_e"],
        edge_cache=network["S_e"],
        edge_to_gateway_rate=network["R_e"],
        cloud_to_edge_rate=network["R_c"],
        gateway_spectral_eff=gw[:, 0].copy(),
        gateway_band=gw[:, 1].copy(),
        gateway_compute=gw[:, 2].copy(),
        gateway_cache=gw[:, 3].copy(),
        device_gateway=devices["gateway"],
        device_spectral_eff=devices["gamma"],
        accuracy=devices["accuracy"],
        workload=devices["workload"],
        model_size=devices["model_size"],
        data=data,
        deadline=deadline,
        noisy=noisy,
        initial_cache=cache,
        provenance=provenance,
    )
    overflow = inst.cache_overflows(cache)
    if overflow:
        raise r.fail("initial_cache", "overflows a capacity: " + "; ".join(overflow))
    return inst


def _read_gateways(r: _Reader, value: Any) -> np.ndarray:
    """(G, 4) rows gamma_e, B, C_l, S_l."""
    gateways = r.array(value, "gateways")
    if not gateways:
        raise r.fail("gateways", "needs at least one gateway")
    gw = np.zeros((len(gateways), 4))
    for i, entry in enumerate(gateways):
        r.obj(entry, f"gateways[{i}]", _GATEWAY_KEYS)
        gw[i] = [r.positive(entry[key], f"gateways[{i}].{key}") for key in _GATEWAY_KEYS]
    return gw


def _read_devices(r: _Reader, value: Any, n_gateways: int) -> dict[str, np.ndarray]:
    """Per device: gateway index, gamma, accuracy (N, 2, 2), workload and model size (N, 2)."""
    devices = r.array(value, "devices")
    if not devices:
        raise r.fail("devices", "needs at least one device")
    n = len(devices)
    out = {"gateway": np.zeros(n, np.int64), "gamma": np.zeros(n), "accuracy": np.zeros((n, 2, 2)),
           "workload": np.zeros((n, 2)), "model_size": np.zeros((n, 2))}
    for j, entry in enumerate(devices):
        path = f"devices[{j}]"
        r.obj(entry, path, _DEVICE_KEYS)
        g = entry["gateway"]
        if isinstance(g, bool) or not isinstance(g, int):
            raise r.fail(f"{path}.gateway", f"expected an integer gateway index, got {_kind(g)}")
        if not 0 <= g < n_gateways:
            raise r.fail(f"{path}.gateway", f"index {g} out of range 0..{n_gateways - 1}")
        out["gateway"][j] = g
        out["gamma"][j] = r.positive(entry["gamma"], f"{path}.gamma")
        acc = r.obj(entry["accuracy"], f"{path}.accuracy", ("clean", "noisy"))
        for q, key in enumerate(("clean", "noisy")):
            pair = r.array(acc[key], f"{path}.accuracy.{key}", 2)
            out["accuracy"][j, q] = [r.probability(pair[k], f"{path}.accuracy.{key}[{k}]") for k in range(2)]
        out["workload"][j] = r.positives(entry["workload"], f"{path}.workload", 2)
        out["model_size"][j] = r.positives(entry["model_size"], f"{path}.model_size", 2)
        if out["model_size"][j, 0] >= out["model_size"][j, 1]:
            raise r.fail(f"{path}.model_size", "light model must be smaller than heavy (S0 < S1)")
        if out["workload"][j, 0] >= out["workload"][j, 1]:
            raise r.fail(f"{path}.workload", "light workload must be smaller than heavy (Q0 < Q1)")
    empty = np.flatnonzero(np.bincount(out["gateway"], minlength=n_gateways) == 0)
    if empty.size:
        raise r.fail("gateways", f"gateway {int(empty[0])} has no device")
    return out


def _read_slots(r: _Reader, value: Any, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The task trace: data sizes, deadlines (T, N) and data-quality flags (T, N) int8."""
    slots = r.array(value, "slots")
    if not slots:
        raise r.fail("slots", "needs at least one slot")
    data = np.zeros((len(slots), n))
    deadline = np.zeros((len(slots), n))
    noisy = np.zeros((len(slots), n), np.int8)
    for t, entry in enumerate(slots):
        path = f"slots[{t}]"
        r.obj(entry, path, _SLOT_KEYS)
        data[t] = r.positives(entry["data"], f"{path}.data", n)
        deadline[t] = r.positives(entry["deadline"], f"{path}.deadline", n)
        noisy[t] = r.flags(entry["noisy"], f"{path}.noisy", n)
    return data, deadline, noisy


# ====================================================================== writing
def _inline(value: Any) -> str:
    """One JSON value on one line, floats in shortest round-trip form."""
    return json.dumps(value, separators=(", ", ": "), allow_nan=False, ensure_ascii=False)


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values, float).ravel()]


def instance_to_json(inst: Instance) -> str:
    """The canonical encoding (docs/model.md, section 9).

    Layout: a top-level object with one key per line (two-space indent); the entries of
    ``gateways``, ``devices`` and ``slots`` one per line (four-space indent); every other
    value inline with ``", "`` and ``": "`` separators; a trailing newline.
    """
    network = {
        "B_e": float(inst.edge_band),
        "C_e": float(inst.edge_compute),
        "S_e": float(inst.edge_cache),
        "R_e": float(inst.edge_to_gateway_rate),
        "R_c": float(inst.cloud_to_edge_rate),
    }
    gateways = [
        {"gamma_e": float(ge), "B": float(b), "C_l": float(c), "S_l": float(s)}
        for ge, b, c, s in zip(
            inst.gateway_spectral_eff, inst.gateway_band, inst.gateway_compute, inst.gateway_cache, strict=True
        )
    ]
    devices = [
        {
            "gateway": int(inst.device_gateway[j]),
            "gamma": float(inst.device_spectral_eff[j]),
            "accuracy": {"clean": _floats(inst.accuracy[j, 0]), "noisy": _floats(inst.accuracy[j, 1])},
            "workload": _floats(inst.workload[j]),
            "model_size": _floats(inst.model_size[j]),
        }
        for j in range(inst.n_devices)
    ]
    slots = [
        {
            "data": _floats(inst.data[t]),
            "deadline": _floats(inst.deadline[t]),
            "noisy": [int(v) for v in inst.noisy[t]],
        }
        for t in range(inst.n_slots)
    ]

    def block(items: list) -> str:
        return "[\n" + ",\n".join("    " + _inline(item) for item in items) + "\n  ]"

    lines = [
        f'  "format": {_inline(INSTANCE_FORMAT)}',
        f'  "name": {_inline(inst.name)}',
        f'  "network": {_inline(network)}',
        f'  "gateways": {block(gateways)}',
        f'  "devices": {block(devices)}',
        f'  "slots": {block(slots)}',
    ]
    if not inst.initial_cache.is_empty():
        lines.append(f'  "initial_cache": {_inline(inst.initial_cache.to_json())}')
    if inst.provenance is not None:
        lines.append(f'  "provenance": {_inline(inst.provenance)}')
    return "{\n" + ",\n".join(lines) + "\n}\n"


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on success it is renamed to ``path``, on any error
    it is removed, so that readers never see ``path`` half-written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would outlive the rename
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a file so that readers never see it half-written (:func:`atomic_output`)."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_instance(inst: Instance, path: str | os.PathLike[str]) -> None:
    """Write the canonical encoding of ``inst`` to ``path`` atomically."""
    atomic_write_text(path, instance_to_json(inst))
