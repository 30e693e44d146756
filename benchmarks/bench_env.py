"""Throughput of the RL environment: one slot per step, and many slots per batched step.

    python -m benchmarks.bench_env                     # 10x35 and 2x5
    python -m benchmarks.bench_env --sizes 10x35 --batch 256,1024 --repeats 5

Targets: a single step at 10x35 in at most 1 ms; the batched form at least 20,000
slots per second. Random actions in [-1, 1] (the decoder's hardest case: many placements and
capacity-limited pools). Prints one line per measurement, and the load average before and
after (the machine may be shared: compare figures taken at similar loads); ``--csv`` writes
the rows.

BLAS threads: the step multiplies skinny matrices ((B, N) by (N, G), and the evaluator's
cache loads); from about 150-300 rows numpy's OpenBLAS splits them over threads, which on a
small or busy machine costs far more than it gains (at B = 1024 on two busy cores, up to
half the step). A process stepping environments is best run with one BLAS thread
(``OPENBLAS_NUM_THREADS=1``, as is usual for vectorised RL environments); ``--blas-threads``
sets numpy's OpenBLAS threads for the timed thread (default 1; 0 keeps the library default).
The thread count can change the last bits of some BLAS sums, never a decision's validity.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time

import numpy as np

from tadp._blas import set_blas_threads
from tadp.decoders import FIELDS_PER_TASK, decode_batch
from tadp.env import TadpBatchEnv, TadpEnv
from tadp.evaluator import evaluate_batch
from tadp.generator import generate_instance, parse_size


def load_average() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def time_single(size: str, steps: int, repeats: int) -> dict:
    """Median over repeats of the mean wall time of TadpEnv.step (decode + evaluate + observe)."""
    inst = generate_instance(parse_size(size), seed=0, slots=steps)
    env = TadpEnv(inst)
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, FIELDS_PER_TASK * inst.n_devices)).astype(np.float32)
    per_step = []
    for r in range(repeats):
        env.reset(seed=r)
        start = time.perf_counter()
        for a in actions:
            env.step(a)
        per_step.append((time.perf_counter() - start) / steps)
    return {"size": size, "form": "single", "batch": 1, "ms_per_slot": 1e3 * statistics.median(per_step),
            "slots_per_s": 1.0 / statistics.median(per_step)}


def time_batch(size: str, batch: int, steps: int, repeats: int) -> dict:
    """Median slots per second of TadpBatchEnv.step, and the share of decode vs evaluate."""
    inst = generate_instance(parse_size(size), seed=0, slots=steps)
    env = TadpBatchEnv(inst, batch, seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (steps, batch, FIELDS_PER_TASK * inst.n_devices))
    rates, decode_s, evaluate_s = [], [], []
    for _ in range(repeats):
        env.reset()
        start = time.perf_counter()
        for a in actions:
            env.step(a)
        rates.append(steps * batch / (time.perf_counter() - start))
    # the same work split in its two parts, on the caches and tasks the last episode reached
    data, deadline, noisy = env.tasks()
    cg, ce = env.cache_gateway, env.cache_edge
    for a in actions[: min(steps, 10)]:
        t0 = time.perf_counter()
        d = decode_batch(inst, a, cg, ce, deadline)
        t1 = time.perf_counter()
        evaluate_batch(inst, np.zeros(batch, int), cg, ce, d.site, d.level, d.uplink_share, d.bs_share,
                       d.compute_share, d.keep_gateway, d.keep_edge, data=data, deadline=deadline, noisy=noisy)
        decode_s.append(t1 - t0)
        evaluate_s.append(time.perf_counter() - t1)
    rate = statistics.median(rates)
    return {"size": size, "form": "batched", "batch": batch, "ms_per_slot": 1e3 / rate, "slots_per_s": rate,
            "decode_share": sum(decode_s) / (sum(decode_s) + sum(evaluate_s))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10x35,2x5", help="comma-separated sizes (default 10x35,2x5)")
    p.add_argument("--batch", default="256,1024", help="batch sizes of the batched form (default 256,1024)")
    p.add_argument("--steps", type=int, default=50, help="steps per timed episode (default 50)")
    p.add_argument("--repeats", type=int, default=3, help="timed episodes; the median is reported (default 3)")
    p.add_argument("--blas-threads", type=int, default=1,
                   help="numpy's OpenBLAS threads while timing (default 1; 0: the library default)")
    p.add_argument("--csv", help="write the rows to this CSV file")
    args = p.parse_args(argv)
    print(set_blas_threads(args.blas_threads))
    print(f"before: {load_average()}")
    rows = []
    for size in args.sizes.split(","):
        rows.append(time_single(size, args.steps, args.repeats))
        for b in (int(x) for x in args.batch.split(",")):
            rows.append(time_batch(size, b, min(args.steps, 20), args.repeats))
    print(f"after:  {load_average()}")
    for r in rows:
        extra = f"  (decode {100 * r['decode_share']:.0f}% of the time)" if "decode_share" in r else ""
        print(f"{r['size']:>6} {r['form']:>8} B={r['batch']:<5} {r['ms_per_slot']:8.4f} ms/slot "
              f"{r['slots_per_s']:10.0f} slots/s{extra}")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=sorted({k for r in rows for k in r}))
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
