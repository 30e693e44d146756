"""Speed of the foundation against its targets, on this machine.

    python -m benchmarks.bench_foundation [--repeat 2000]

Targets: evaluator, one 10x35 slot <= 0.2 ms and a batch of 64 slots <= 2 ms; generator, a
10x35 instance with 50 slots <= 0.5 s. Decisions are random valid ones (every task served,
shares splitting each pool), so every code path of the evaluator runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from tadp._malloc import tune_malloc
from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE, Decision
from tadp.evaluator import evaluate_batch, evaluate_slot
from tadp.generator import generate_instance
from tadp.instance import Instance, instance_to_json, read_instance, write_instance


def random_decision(inst: Instance, rng: np.random.Generator, served: float = 0.4) -> Decision:
    """A random fraction of tasks served at a random site and level; each pool split evenly among its users.
    (Serving everyone overflows the caches at 10x35 scarce, and infeasible slots are not the common case.)"""
    n = inst.n_devices
    site = rng.choice([SITE_GATEWAY, SITE_EDGE], size=n).astype(np.int8) * (rng.random(n) < served)
    m = inst.gateway_membership
    served_per_gw = np.maximum((site != SITE_NONE) @ m, 1)
    at_gw_per_gw = np.maximum((site == SITE_GATEWAY) @ m, 1)
    n_edge = max(int((site == SITE_EDGE).sum()), 1)
    gw = inst.device_gateway
    compute = np.where(site == SITE_GATEWAY, 1 / at_gw_per_gw[gw], 1 / n_edge)
    return Decision(
        site=site, level=rng.integers(0, 2, n).astype(np.int8),
        uplink_share=1 / served_per_gw[gw], bs_share=np.where(site == SITE_EDGE, 1 / n_edge, 0.0),
        compute_share=compute, keep_gateway=rng.random((n, 2)) < 0.5, keep_edge=rng.random((n, 2)) < 0.5,
    )


def best_of(fn, repeat: int) -> float:
    """Median seconds per call over ``repeat`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--no-malloc-tuning", action="store_true", help="keep glibc's default malloc thresholds")
    args = parser.parse_args()
    if not args.no_malloc_tuning:
        tune_malloc()
    rng = np.random.default_rng(0)

    t = time.perf_counter()
    inst = generate_instance([35] * 10, seed=0, slots=50)
    gen_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "i.json"
        t = time.perf_counter()
        write_instance(generate_instance([35] * 10, seed=1, slots=50), path)
        gen_write_s = time.perf_counter() - t
        t = time.perf_counter()
        read_instance(path)
        read_s = time.perf_counter() - t
        size_kb = path.stat().st_size / 1e3
    t = time.perf_counter()
    instance_to_json(inst)
    encode_s = time.perf_counter() - t

    d = random_decision(inst, rng)
    cache = inst.initial_cache
    feasible = evaluate_slot(inst, 3, cache, d).feasible
    single = best_of(lambda: evaluate_slot(inst, 3, cache, d), args.repeat)
    fields = ("site", "level", "uplink_share", "bs_share", "compute_share", "keep_gateway", "keep_edge")

    def batch_args(b: int) -> list[np.ndarray]:
        ds = [random_decision(inst, rng) for _ in range(b)]
        return [np.arange(b) % inst.n_slots, np.zeros((b, inst.n_devices, 2), bool),
                np.zeros((b, inst.n_devices, 2), bool)] + [np.stack([getattr(x, f) for x in ds]) for f in fields]

    one = batch_args(1)
    raw_single = best_of(lambda: evaluate_batch(inst, *one), args.repeat)
    b64 = batch_args(64)
    batch = best_of(lambda: evaluate_batch(inst, *b64), max(args.repeat // 10, 50))

    print(f"10x35, 50 slots: generate {gen_s * 1e3:.1f} ms; generate+write {gen_write_s * 1e3:.1f} ms "
          f"({size_kb:.0f} kB); encode {encode_s * 1e3:.1f} ms; read {read_s * 1e3:.1f} ms   (target <= 500 ms)")
    print(f"evaluate_slot, one 10x35 slot: {single * 1e3:.3f} ms (median of {args.repeat}; decision "
          f"{'feasible' if feasible else 'infeasible'})   (target <= 0.2 ms)")
    print(f"evaluate_batch, B=1:           {raw_single * 1e3:.3f} ms")
    print(f"evaluate_batch, B=64:          {batch * 1e3:.3f} ms   (target <= 2 ms; "
          f"{64 / batch:,.0f} slots/s)")


if __name__ == "__main__":
    main()
