"""``tadp-bench train``: train TD3 or DDPG on an instance, or the neural policy on exact optima, and write a
checkpoint.

    tadp-bench train --size 2x5 --algo td3 -o runs/td3-2x5.pt
    tadp-bench train --instance inst.json --algo ddpg --preset paper --device cuda -o ddpg.pt
    tadp-bench train --size 2x5 --algo td3 --decoder fit -o runs/td3-fit-2x5.pt   # solve with --solver td3-fit
    tadp-bench train --algo neural --seed 0 -o neural.pt                          # docs/neural.md

Training draws fresh task traces over the instance's network and devices (docs/model.md, section 10).
Writes the checkpoint (a torch file: config, sizes, state dicts) and, beside it,
``NAME.curve.csv`` (episode, return, mean slot score, completion ratio, steps, seconds).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from benchmarks.cli.common import output_file
from solvers.learned.neural.labels import LabelPlan
from tadp.decoders import DECODERS
from tadp.errors import TadpInputError


def add_parser(sub: Any, name: str) -> None:
    p = sub.add_parser(name, help="train TD3 or DDPG on an instance and write a checkpoint",
                       description="Train the paper's TD3 (Algorithm 1) or its DDPG benchmark on fresh task traces "
                       "of an instance; write a checkpoint and its learning curve (CSV) beside it.")
    where = p.add_argument_group("instance")
    which = where.add_mutually_exclusive_group()
    which.add_argument("--size", help="GxK: generate the instance (G gateways, K devices each), e.g. 2x5")
    which.add_argument("--instance", help="instance file (tadp-instance/1)")
    where.add_argument("--instance-seed", type=int, default=0, help="seed of the generated instance (default 0)")
    where.add_argument("--scenario", default="scarce", help="scenario of the generated instance (default scarce)")
    algo = p.add_argument_group("learning")
    algo.add_argument("--algo", choices=("td3", "ddpg", "neural"), default="td3",
                      help="algorithm (default td3); neural: the per-task policy trained on exact optima of many "
                      "generated slots (no instance: docs/neural.md)")
    algo.add_argument("--preset", choices=("default", "paper"), default="default",
                      help="network sizes: default (CPU-sized) or paper (Table IV); default: default")
    algo.add_argument("--decoder", choices=DECODERS, default="dcpu",
                      help="action decoder: dcpu (the paper's, default) or fit (deadline-sized shares; the "
                      "checkpoint then serves --solver td3-fit / ddpg-fit)")
    algo.add_argument("--episodes", type=int, help="training episodes (default 300)")
    algo.add_argument("--critic-loss", choices=("standard", "paper"),
                      help="standard TD3 (each critic to y; default) or the paper's eq. (16) (min(Q1,Q2) to y)")
    algo.add_argument("--warmup", type=int, help="random-action steps before learning (default 1000)")
    algo.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    algo.add_argument("--device", default="cpu", help="torch device: cpu (default) or cuda")
    algo.add_argument("--threads", type=int, default=1,
                      help="torch CPU threads (default 1: faster for these networks on a shared 2-core machine)")
    neural = p.add_argument_group("neural (--algo neural; defaults: the shipped checkpoint's recipe)")
    neural.add_argument("--chains", type=int,
                        help=f"label chains (exact optima of 8 slots each; default {LabelPlan().chains})")
    neural.add_argument("--keep-all-chains", type=int,
                        help="further label chains that follow keep rule all (packed caches; default "
                        f"{LabelPlan().keep_all_chains})")
    neural.add_argument("--labels", default="results/neural/labels",
                        help="label cache folder (default results/neural/labels; labels are reused)")
    neural.add_argument("--imitation-steps", type=int, help="imitation minibatch steps (default 4000; 0: none)")
    neural.add_argument("--pg-steps", type=int, help="policy-gradient steps (default 300)")
    neural.add_argument("--samples", type=int, help="samples per slot in policy gradient (default 16)")
    neural.add_argument("--pg-imitation-weight", type=float,
                        help="weight of the imitation loss during policy gradient (default 0.5; 0 with "
                        "--imitation-steps 0: no imitation at all, the ablation)")
    neural.add_argument("--dagger-rounds", type=int, help="DAgger rounds (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("-o", "--output", required=True, help="checkpoint file to write (e.g. td3-2x5.pt)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.algo == "neural":
        return run_neural(args)
    if args.size is None and args.instance is None:
        raise TadpInputError("argument", "--size", f"--algo {args.algo} trains on an instance: give --size or --instance")
    return run_actor(args)


def run_neural(args: argparse.Namespace) -> int:
    """``--algo neural``: labels (cached), imitation, policy gradient, DAgger; the checkpoint with its provenance."""
    from solvers.learned.neural.checkpoint import save_neural
    from solvers.learned.neural.training import neural_config, train_neural
    from solvers.learned.training import set_torch_threads

    for name in ("chains", "keep_all_chains", "imitation_steps", "pg_steps", "samples", "dagger_rounds"):
        value = getattr(args, name)
        if value is not None and value < (1 if name in ("chains", "samples") else 0):
            raise TadpInputError("argument", "--" + name.replace("_", "-"), f"out of range: {value}")
    if args.seed < 0:
        raise TadpInputError("argument", "--seed", f"must be non-negative, got {args.seed}")
    if args.pg_imitation_weight is not None and not args.pg_imitation_weight >= 0:
        raise TadpInputError("argument", "--pg-imitation-weight", f"must be >= 0, got {args.pg_imitation_weight}")
    output = output_file(args.output, "--output")
    set_torch_threads(args.threads)
    cfg = neural_config(seed=args.seed, chains=args.chains, keep_all_chains=args.keep_all_chains,
                        label_folder=args.labels, device=args.device,
                        imitation_steps=args.imitation_steps, pg_steps=args.pg_steps, pg_samples=args.samples,
                        pg_imitation_weight=args.pg_imitation_weight, dagger_rounds=args.dagger_rounds)

    def say(row: dict[str, Any]) -> None:
        if not args.quiet:
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                  file=sys.stderr, flush=True)

    result = train_neural(cfg, on_log=say)
    save_neural(output, result.net, result.provenance())
    print(f"wrote {args.output}: neural policy, {result.label_states} labelled slots (exact solves "
          f"{result.label_seconds:.0f} s, reported apart), training {result.train_seconds:.0f} s", file=sys.stderr)
    return 0


def run_actor(args: argparse.Namespace) -> int:
    from solvers.learned.checkpoint import save_checkpoint
    from solvers.learned.training import curve_path, curve_summary, train_on_instance, write_curve
    from tadp.env import resolve_instance

    if args.episodes is not None and args.episodes < 1:
        raise TadpInputError("argument", "--episodes", f"must be at least 1, got {args.episodes}")
    if args.warmup is not None and args.warmup < 0:
        raise TadpInputError("argument", "--warmup", f"must be non-negative, got {args.warmup}")
    if args.seed < 0:
        raise TadpInputError("argument", "--seed", f"must be non-negative, got {args.seed}")
    inst = resolve_instance(args.instance, args.size, args.instance_seed, scenario=args.scenario)
    output = output_file(args.output, "--output")
    result = train_on_instance(
        inst, algo=args.algo, preset_name=args.preset, seed=args.seed, progress=not args.quiet,
        episodes=args.episodes, device=args.device, critic_loss=args.critic_loss, learning_starts=args.warmup,
        threads=args.threads, decoder=args.decoder,
    )
    save_checkpoint(output, result)
    curve = curve_path(output)
    write_curve(curve, result.curve)
    score, completion = curve_summary(result.curve)
    print(f"wrote {args.output} and {curve}: {args.algo} ({args.preset}, {args.decoder} decoder, "
          f"critic loss {result.config.critic_loss}) "
          f"on {inst.name}, {len(result.curve)} episodes in {result.seconds:.1f} s; last 10 episodes: "
          f"mean slot score {score:.4f}, completion {completion:.3f}", file=sys.stderr)
    return 0
