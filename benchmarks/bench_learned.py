"""Learned solvers: inference time, training time and quality on held-out traces.

    python -m benchmarks.bench_learned inference --size 10x35 --preset paper
    python -m benchmarks.bench_learned train --size 2x5 --algo td3 -o runs/td3-2x5.pt
    python -m benchmarks.bench_learned train --episodes 150 --set exploration_noise=0.1 -o runs/variant.pt
    python -m benchmarks.bench_learned quality --size 2x5 --td3 runs/td3-2x5.pt --ddpg runs/ddpg-2x5.pt
    python -m benchmarks.bench_learned campaign --size 2x5 --seeds 0,1,2 --traces 5 --out results/learned-2x5

``inference``: wall time per slot of what ``Td3Solver.solve`` times (observation, one actor
inference, decoding), with an untrained actor of the preset's sizes (the time does not
depend on the weights). ``train``: Algorithm 1 on fresh traces (300 x 50 steps by default),
the time and the checkpoint. ``quality``: every solver (TD3 and DDPG from checkpoints,
Random, greedy) plays held-out traces of the instance (the instance's network and devices,
task traces drawn with seeds never used in training) through the one solver interface;
prints the mean episode score and completion ratio, and splits the score's distance from
"every task completed with its heavy model" into tasks not completed (dropped by the
decoder, or served but late) and tasks completed with the light model. ``--csv`` writes one
row per (solver, trace, slot).

``campaign``: the issue's quality protocol in one command. Trains every learned solver
(``td3``, ``ddpg``, ``td3-fit``, ``ddpg-fit`` by default) once per training seed on fresh
traces (``--workers`` processes, one torch thread each; a checkpoint already in ``--out`` is
reused, so a stopped campaign resumes), then plays each policy, Random and Random-fit (one
per seed), greedy and optionally the exact per-slot policy (``--exact-time-limit``) on the
same held-out traces. Writes ``slots.csv`` (one row per solver, seed, trace, slot),
``summary.csv`` and ``summary.md`` (mean episode score and completion over the traces, then
mean and standard deviation over the seeds, with the loss split) into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import statistics
import time
from typing import Any

import numpy as np
import torch

from solvers import make_solver
from solvers.base import solve_episode
from tadp.decision import SITE_NONE
from tadp.decoders import FIELDS_PER_TASK
from tadp.env import OBS_PER_TASK
from tadp.generator import draw_trace_seeded, generate_instance, options_of, parse_size
from tadp.instance import Instance

HELD_OUT_SEED = 1_000_000  # held-out trace k is drawn with seed HELD_OUT_SEED + k


def held_out(inst: Instance, k: int) -> Instance:
    """The instance with trace k of the held-out set (same network, devices and initial cache)."""
    data, deadline, noisy = draw_trace_seeded(options_of(inst), inst.n_devices, inst.n_slots, HELD_OUT_SEED + k)
    return dataclasses.replace(inst, name=f"{inst.name}-heldout{k}", data=data, deadline=deadline, noisy=noisy)


def run_inference(args: argparse.Namespace) -> None:
    from solvers.learned.actors import observation
    from solvers.learned.networks import Actor
    from solvers.learned.policy import Policy
    from solvers.learned.td3 import preset
    from tadp.decoders import decode_slot
    from tadp.evaluator import evaluate_slot

    inst = generate_instance(parse_size(args.size), seed=0)
    cfg = preset(args.preset, "td3")
    torch.manual_seed(0)
    n = inst.n_devices
    fp32 = Policy(Actor(OBS_PER_TASK * n, FIELDS_PER_TASK * n, cfg.actor_hidden), -np.ones(FIELDS_PER_TASK * n),
                  np.ones(FIELDS_PER_TASK * n), "cpu")
    policy = fp32.int8() if args.int8 else fp32
    opts = options_of(inst)
    cache = inst.initial_cache
    times, decisions = [], []
    for _ in range(args.repeats):
        for slot in range(inst.n_slots):
            started = time.perf_counter()
            decision = decode_slot(inst, slot, policy(observation(inst, slot, cache, opts)), cache, args.decoder)
            times.append(time.perf_counter() - started)
            decisions.append(decision)
    params = sum(p.numel() for p in fp32.actor.parameters())
    print(f"inference {args.size} preset {args.preset} {'int8' if args.int8 else 'fp32'} decoder {args.decoder} "
          f"(actor {list(cfg.actor_hidden)}, {params / 1e6:.1f} M parameters), threads (torch, OpenBLAS) "
          f"{torch.get_num_threads()}: median {1e3 * statistics.median(times):.2f} ms per slot, mean "
          f"{1e3 * statistics.mean(times):.2f} ms over {len(times)} slots (observation + actor + decoder)")
    # the memory floor of one fp32 inference: every weight is read once per slot
    weights = np.ones(params, np.float32)
    reads = []
    for _ in range(10):
        started = time.perf_counter()
        weights.sum()
        reads.append(time.perf_counter() - started)
    print(f"  for reference, one numpy sum over {4 * params / 1e6:.0f} MB of float32 (the fp32 weights): "
          f"min {1e3 * min(reads):.2f} ms, median {1e3 * statistics.median(reads):.2f} ms")
    if args.int8:  # what the int8 weights change, against the float actor on the same observations
        differ, score_diff = 0, []
        for slot in range(inst.n_slots):
            obs = observation(inst, slot, cache, opts)
            d8 = decisions[slot]
            d32 = decode_slot(inst, slot, fp32(obs), cache, args.decoder)
            differ += int(((d8.site != d32.site) | (d8.level != d32.level)).sum())
            score_diff.append(evaluate_slot(inst, slot, cache, d8).score - evaluate_slot(inst, slot, cache, d32).score)
        print(f"  int8 vs fp32 (untrained actor, outputs near 0, the hardest case): (site, level) differ for "
              f"{differ} of {n * inst.n_slots} tasks; slot score difference mean {statistics.mean(score_diff):+.2e}, "
              f"largest |.| {max(abs(x) for x in score_diff):.2e}")


def run_train(args: argparse.Namespace) -> None:
    from solvers.learned.checkpoint import save_checkpoint
    from solvers.learned.training import curve_path, train_on_instance, write_curve

    inst = generate_instance(parse_size(args.size), seed=args.instance_seed)
    changes = {}
    for item in args.set:  # KEY=VALUE, VALUE read as JSON (numbers, lists) else as text
        key, _, value = item.partition("=")
        try:
            changes[key] = json.loads(value)
        except ValueError:
            changes[key] = value
        if isinstance(changes[key], list):
            changes[key] = tuple(changes[key])
    result = train_on_instance(inst, algo=args.algo, preset_name=args.preset, seed=args.seed, progress=False,
                               episodes=args.episodes, device=args.device, **changes)
    save_checkpoint(args.output, result)
    write_curve(curve_path(args.output), result.curve)
    last = result.curve[-10:]
    print(f"train {args.algo} {args.preset} {' '.join(args.set)} on {inst.name}: {len(result.curve)} episodes x "
          f"{result.steps // len(result.curve)} steps in {result.seconds:.1f} s "
          f"(torch threads {torch.get_num_threads()}); last 10 episodes mean slot score "
          f"{statistics.mean(r['score'] for r in last):.4f} -> {args.output}")


def _slot_rows(solver_name: str, trace: int, inst: Instance, results: list) -> list[dict[str, Any]]:
    rows = []
    for slot, r in enumerate(results):
        d, out = r.decision, r.outcome
        noisy = inst.noisy[slot]
        heavy_acc = inst.accuracy[np.arange(inst.n_devices), noisy, 1]
        light_acc = inst.accuracy[np.arange(inst.n_devices), noisy, 0]
        done = out.completed
        dropped = d.site == SITE_NONE
        rows.append({
            "solver": solver_name, "trace": trace, "slot": slot, "score": out.score, "completion": out.completion,
            "time_s": r.time_s, "status": r.status, "dropped": int(dropped.sum()),
            "late": int((~dropped & ~done).sum()), "heavy_completed": int((done & (d.level == 1)).sum()),
            # the distance from "every task completed with its heavy model", split by cause
            "loss_dropped": float(heavy_acc[dropped].sum() / inst.n_devices),
            "loss_late": float(heavy_acc[~dropped & ~done].sum() / inst.n_devices),
            "loss_light": float((heavy_acc - light_acc)[done & (d.level == 0)].sum() / inst.n_devices),
        })
    return rows


def run_quality(args: argparse.Namespace) -> None:
    inst = generate_instance(parse_size(args.size), seed=args.instance_seed)
    solvers: list[tuple[str, Any]] = []
    if args.td3:
        solvers.append(("td3", make_solver("td3", checkpoint=args.td3)))
    if args.ddpg:
        solvers.append(("ddpg", make_solver("ddpg", checkpoint=args.ddpg)))
    solvers += [("random", make_solver("random")), ("greedy", make_solver("greedy"))]
    rows: list[dict[str, Any]] = []
    for name, solver in solvers:
        solver.prepare(inst, seed=0)
        for k in range(args.traces):
            trace = held_out(inst, k)
            _, results = solve_episode(solver, trace, time_limit=60.0, seed=k)
            rows += _slot_rows(name, k, trace, results)
    print(f"quality on {args.traces} held-out traces of {inst.name} ({inst.n_slots} slots each); "
          f"mean over slots, losses in score points:")
    print(f"{'solver':>7} {'score':>7} {'complet.':>8} {'dropped':>8} {'late':>6} {'heavy':>6} "
          f"{'loss:drop':>9} {'late':>6} {'light':>6} {'ms/slot':>8} {'ok':>4}")
    for name, _ in solvers:
        mine = [r for r in rows if r["solver"] == name]

        def mean(key: str, mine: list = mine) -> float:
            return statistics.mean(r[key] for r in mine)

        ok = all(r["status"] == "feasible" for r in mine)
        print(f"{name:>7} {mean('score'):7.4f} {mean('completion'):8.3f} {mean('dropped'):8.2f} {mean('late'):6.2f} "
              f"{mean('heavy_completed'):6.2f} {mean('loss_dropped'):9.4f} {mean('loss_late'):6.4f} "
              f"{mean('loss_light'):6.4f} {1e3 * statistics.median(r['time_s'] for r in mine):8.2f} "
              f"{'yes' if ok else 'NO':>4}")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


LEARNED = ("td3", "ddpg", "td3-fit", "ddpg-fit")


def _train_one(size: str, instance_seed: int, algo: str, seed: int, episodes: int, steps: int, path: str) -> float:
    """Train one learned solver (in a worker process) and save its checkpoint; returns seconds."""
    from pathlib import Path

    from solvers.learned.training import curve_path, set_torch_threads

    set_torch_threads(1)
    inst = generate_instance(parse_size(size), seed=instance_seed)
    solver = make_solver(algo, episodes=episodes, episode_slots=steps, save_to=path + ".part")
    facts = solver.prepare(inst, seed=seed)
    # written under a temporary name, then renamed: a stopped campaign never reuses half a checkpoint
    Path(curve_path(path + ".part")).replace(curve_path(path))
    Path(path + ".part").replace(path)
    return float(facts["train_seconds"])


def run_campaign(args: argparse.Namespace) -> None:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context
    from pathlib import Path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    inst = generate_instance(parse_size(args.size), seed=args.instance_seed)
    algos = [a for a in args.algos.split(",") if a]
    unknown = [a for a in algos if a not in LEARNED]
    if unknown:
        raise SystemExit(f"campaign: unknown learned solver(s) {', '.join(unknown)} (known: {', '.join(LEARNED)})")
    seeds = [int(x) for x in args.seeds.split(",") if x != ""]
    jobs = {(a, s): out / f"{a}-seed{s}.pt" for a in algos for s in seeds}
    todo = [k for k, path in jobs.items() if not path.is_file()]
    print(f"campaign on {inst.name}: {len(jobs)} policies ({len(jobs) - len(todo)} already trained), "
          f"{args.episodes} episodes x {args.steps} steps each, {args.workers} workers", flush=True)
    started = time.perf_counter()
    if todo:
        with ProcessPoolExecutor(max_workers=args.workers, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_train_one, args.size, args.instance_seed, a, s, args.episodes, args.steps,
                                   str(jobs[(a, s)])): (a, s) for a, s in todo}
            for done, fut in enumerate(as_completed(futures), 1):
                a, s = futures[fut]
                print(f"  trained {a} seed {s} in {fut.result():.0f} s ({done}/{len(todo)}, "
                      f"{time.perf_counter() - started:.0f} s elapsed)", flush=True)
    players: list[tuple[str, int, Any]] = []
    for (a, s), path in jobs.items():
        players.append((a, s, make_solver(a, checkpoint=str(path))))
    for s in seeds:
        players += [("random", s, make_solver("random")), ("random-fit", s, make_solver("random-fit"))]
    players.append(("greedy", 0, make_solver("greedy")))
    if args.exact_time_limit > 0:
        players.append(("highs", 0, make_solver("highs", threads=1)))
    rows: list[dict[str, Any]] = []
    traces = [held_out(inst, k) for k in range(args.traces)]
    for name, seed, solver in players:
        solver.prepare(inst, seed=seed)
        t0 = time.perf_counter()
        for k, trace in enumerate(traces):
            limit = args.exact_time_limit if name == "highs" else 60.0
            _, results = solve_episode(solver, trace, args.slots, time_limit=limit, seed=seed * 1000 + k)
            rows += [{**r, "seed": seed} for r in _slot_rows(name, k, trace, results)]
        print(f"  played {name} seed {seed} on {len(traces)} traces in {time.perf_counter() - t0:.1f} s", flush=True)
    _write_campaign(out, inst, rows, args)


def _write_campaign(out: Any, inst: Instance, rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    with open(out / "slots.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    keys = ("score", "completion", "dropped", "late", "loss_dropped", "loss_late", "loss_light")
    summary = []
    names = list(dict.fromkeys(r["solver"] for r in rows))
    for name in names:
        per_seed = {}
        for seed in sorted({r["seed"] for r in rows if r["solver"] == name}):
            mine = [r for r in rows if r["solver"] == name and r["seed"] == seed]
            per_seed[seed] = {k: statistics.mean(r[k] for r in mine) for k in keys}
            per_seed[seed]["ms"] = 1e3 * statistics.median(r["time_s"] for r in mine)
            per_seed[seed]["ok"] = all(r["status"] in ("feasible", "optimal") for r in mine)
        row: dict[str, Any] = {"solver": name, "seeds": len(per_seed)}
        for k in (*keys, "ms"):
            vals = [v[k] for v in per_seed.values()]
            row[k] = statistics.mean(vals)
            row[k + "_sd"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
        row["min_score"] = min(v["score"] for v in per_seed.values())
        row["max_score"] = max(v["score"] for v in per_seed.values())
        row["all_feasible"] = all(v["ok"] for v in per_seed.values())
        summary.append(row)
    with open(out / "summary.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    lines = [
        f"Held-out quality on {inst.name} ({args.traces} traces x {args.slots or inst.n_slots} slots; "
        f"{args.episodes} training episodes x {args.steps} steps). Mean over seeds (sd), each seed's value the "
        f"mean over traces and slots. Loss columns split the distance from 'every task completed with its heavy "
        f"model', in score points.",
        "",
        "| solver | seeds | score | completion | dropped/slot | late/slot | loss: dropped | loss: late | "
        "loss: light | ms/slot |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary:
        lines.append(f"| {r['solver']} | {r['seeds']} | {r['score']:.4f} ({r['score_sd']:.4f}) | "
                     f"{r['completion']:.4f} ({r['completion_sd']:.4f}) | {r['dropped']:.2f} | {r['late']:.2f} | "
                     f"{r['loss_dropped']:.4f} | {r['loss_late']:.4f} | {r['loss_light']:.4f} | {r['ms']:.2f} |")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    print(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1, help="torch and OpenBLAS CPU threads (default 1)")
    sub = p.add_subparsers(dest="what", required=True)
    inf = sub.add_parser("inference", help="per-slot inference + decode time")
    inf.add_argument("--size", default="10x35")
    inf.add_argument("--preset", default="paper", choices=("paper", "default"))
    inf.add_argument("--int8", action="store_true", help="int8 actor weights (Td3Solver inference='int8')")
    inf.add_argument("--decoder", choices=("dcpu", "fit"), default="dcpu", help="decoder (default dcpu)")
    inf.add_argument("--repeats", type=int, default=1, help="passes over the instance's 50 slots (default 1)")
    tr = sub.add_parser("train", help="train and time Algorithm 1")
    tr.add_argument("--size", default="2x5")
    tr.add_argument("--instance-seed", type=int, default=0)
    tr.add_argument("--algo", default="td3", choices=("td3", "ddpg"))
    tr.add_argument("--preset", default="default", choices=("paper", "default"))
    tr.add_argument("--episodes", type=int)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default="cpu")
    tr.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a Td3Config field, e.g. exploration_noise=0.1 or actor_hidden=[400,300]")
    tr.add_argument("-o", "--output", required=True)
    q = sub.add_parser("quality", help="all solvers on held-out traces")
    q.add_argument("--size", default="2x5")
    q.add_argument("--instance-seed", type=int, default=0)
    q.add_argument("--td3", help="TD3 checkpoint")
    q.add_argument("--ddpg", help="DDPG checkpoint")
    q.add_argument("--traces", type=int, default=10, help="held-out traces (default 10)")
    q.add_argument("--csv", help="write one row per (solver, trace, slot)")
    c = sub.add_parser("campaign", help="train every learned solver for several seeds, then play held-out traces")
    c.add_argument("--size", default="2x5")
    c.add_argument("--instance-seed", type=int, default=0)
    c.add_argument("--algos", default=",".join(LEARNED), help=f"learned solvers (default {','.join(LEARNED)})")
    c.add_argument("--seeds", default="0,1,2", help="training seeds (default 0,1,2)")
    c.add_argument("--episodes", type=int, default=300, help="training episodes (default 300)")
    c.add_argument("--steps", type=int, default=50, help="slots per training episode (default 50)")
    c.add_argument("--traces", type=int, default=5, help="held-out traces (default 5)")
    c.add_argument("--slots", type=int, help="slots of each held-out trace played (default all 50)")
    c.add_argument("--exact-time-limit", type=float, default=0.0,
                   help="also play the exact per-slot policy (highs) with this many seconds per slot (0: skip)")
    c.add_argument("--workers", type=int, default=2, help="training processes (default 2)")
    c.add_argument("--out", required=True, help="folder for checkpoints, slots.csv, summary.csv, summary.md")
    args = p.parse_args(argv)
    from solvers.learned.training import set_torch_threads

    set_torch_threads(args.threads)  # torch and numpy's OpenBLAS
    {"inference": run_inference, "train": run_train, "quality": run_quality,
     "campaign": run_campaign}[args.what](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
