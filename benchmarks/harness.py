"""The benchmark: ``tadp-bench --sizes 2x5,10x35`` (docs/model.md, section 7).

For every size it draws instances, runs every solver over the same traces (each policy
chaining its own cache), then solves every cache state a policy reached with the exact
solver, so that each slot decision has its own optimum (or best bound) to be measured
against. Work is split into **cells**:

- a *policy cell* (size, instance, solver, seed): prepare the solver (train it, for the
  learned ones), decide slots 0..T-1, one tidy row per slot;
- a *reference cell* (instance, slot, start cache): the exact per-slot optimum of a state
  some policy reached.

Each finished cell is written atomically to ``cells/`` under the run folder; ``rows.csv``
and ``references.csv`` are rebuilt from those files after every cell. A rerun skips the
cells already there, so a run killed at any moment and rerun ends with the same rows, none
lost, none twice. Cells run in this process, in local worker processes (``--workers``) or on
a Dask cluster (``--dask-scheduler``). ``tadp-bench report RUN_DIR`` rebuilds the tables
and figures from the rows alone (:mod:`benchmarks.report`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from solvers import REGISTRY, benchmark_solvers, reference_solver
from tadp import __version__
from tadp.decision import SITE_EDGE, SITE_GATEWAY, SITE_NONE
from tadp.errors import TadpInputError
from tadp.generator import GeneratorOptions, generate_instance, load_scenario, parse_size, size_label
from tadp.instance import Cache, Instance, atomic_write_text, write_instance


@dataclass(frozen=True)
class BenchConfig:
    """Everything that defines a run; written to ``manifest.json`` and used to key cells."""

    sizes: tuple[str, ...]
    """Sizes as given (``GxK`` or ``K1-K2-...``)."""
    scenario: str = "scarce"
    """``paper``, ``scarce`` or a scenario file."""
    instances: int = 1
    """Instances (task traces) per size."""
    slots: int = 10
    """Slots per trace that every solver decides."""
    solvers: tuple[str, ...] = benchmark_solvers()
    """Solvers to run, by registry name."""
    time_limit: float = 10.0
    """Seconds per exact slot solve (policy and reference cells); unsolved slots are charged it."""
    train_episodes: int = 40
    """Training episodes (of ``train_steps`` slots) for TD3 and DDPG."""
    train_steps: int = 50
    """Slots per training episode."""
    preset: str = "default"
    """TD3/DDPG network preset (``default`` for 2-core CPUs, or ``paper``)."""
    seed: int = 0
    """Base seed: instance i of a size uses seed + i; solvers use seed."""
    horizon_time_limit: float = 60.0
    """Seconds for the clairvoyant episode optimum or bound per instance (0 skips it)."""

    def options(self) -> GeneratorOptions:
        return load_scenario(self.scenario)

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


#: Cells are single-threaded (HiGHS, CP-SAT and torch get one thread each), so one per core.
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))
QUICK = {"instances": 1, "slots": 2, "time_limit": 2.0, "train_episodes": 2, "train_steps": 10,
         "horizon_time_limit": 5.0}


# =============================================================================== cells
def cell_key(*parts: Any) -> str:
    """A file-name-safe key for a cell: readable prefix plus a hash of all parts."""
    text = json.dumps(parts, sort_keys=True, default=str)
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    prefix = "-".join(str(p) for p in parts[:4]).replace("/", "_")
    return f"{prefix}-{digest}"


def cache_key(cache: Cache) -> str:
    """Compact text of a cache state: two bit strings, hex-encoded."""
    bits = np.concatenate([cache.gateway.ravel(), cache.edge.ravel()]).astype(np.uint8)
    return np.packbits(bits).tobytes().hex()


def cache_from_key(key: str, n_devices: int) -> Cache:
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(key), np.uint8))[: 4 * n_devices].astype(bool)
    return Cache(bits[: 2 * n_devices].reshape(n_devices, 2), bits[2 * n_devices:].reshape(n_devices, 2))


def build_instance(cfg: BenchConfig, size: str, index: int) -> Instance:
    return generate_instance(parse_size(size, field_name="--sizes"), seed=cfg.seed + index, slots=cfg.slots,
                             options=cfg.options())


def solver_options(cfg: BenchConfig, name: str, run_dir: Path, key: str) -> dict[str, Any]:
    """Options the harness gives a solver (:func:`budget_options` with the run's budget)."""
    return budget_options(name, episodes=cfg.train_episodes, steps=cfg.train_steps, preset=cfg.preset,
                          checkpoint=run_dir / "checkpoints" / f"{key}.pt")


def budget_options(name: str, *, episodes: int, steps: int, preset: str, checkpoint: Path,
                   device: str | None = None) -> dict[str, Any]:
    """Options a benchmark gives a solver, by what the registry says of it: a solver that trains gets the
    training budget (``episodes`` of ``steps`` slots, network ``preset``, torch ``device`` when given) and a
    checkpoint path, an exact one a single thread (cells run side by side), the others nothing."""
    spec = REGISTRY[name]
    if spec.trains:
        options = {"episodes": episodes, "episode_slots": steps, "preset": preset, "save_to": str(checkpoint)}
        return {**options, "device": device} if device else options
    if spec.kind == "exact":
        return {"threads": 1}
    return {}


def single_threaded() -> None:
    """Each cell uses one core: several cells may run side by side, and spinning thread pools on
    a busy machine cost far more than they gain for these model sizes."""
    from solvers.learned.training import set_torch_threads

    set_torch_threads(1)


def slot_metrics(inst: Instance, slot: int, cache: Cache, decision: Any, outcome: Any) -> dict[str, Any]:
    """What one slot decision did, beside its score (docs/paper.md, "metrics"): where tasks went and
    completed, the accuracy earned at each site, the models cached at each node, and the distance from
    "every task completed with its heavy model" split by cause (dropped, late, light model), in score
    points (each a sum over tasks divided by N, so the three add up to that distance)."""
    from tadp.evaluator import heavy_share

    n = inst.n_devices
    site, done = decision.site, outcome.completed
    dropped = site == SITE_NONE
    late = ~dropped & ~done
    rows = np.arange(n)
    heavy_acc = inst.accuracy[rows, inst.noisy[slot], 1]
    light_acc = inst.accuracy[rows, inst.noisy[slot], 0]
    placed = outcome.placed if outcome.placed is not None else Cache.empty(n)
    at_gateway, at_edge = site == SITE_GATEWAY, site == SITE_EDGE
    return {
        "score": outcome.score, "completion": outcome.completion, "feasible": outcome.feasible,
        "heavy_share": heavy_share(decision, outcome),
        "dropped": int(dropped.sum()), "late": int(late.sum()),
        "light_completed": int((done & (decision.level == 0)).sum()),
        "heavy_completed": int((done & (decision.level == 1)).sum()),
        "assigned_gateway": int(at_gateway.sum()), "assigned_edge": int(at_edge.sum()),
        "completed_gateway": int((done & at_gateway).sum()), "completed_edge": int((done & at_edge).sum()),
        "accuracy_gateway": float(outcome.earned[at_gateway].sum()),
        "accuracy_edge": float(outcome.earned[at_edge].sum()),
        "models_gateway": int((cache.gateway | placed.gateway).sum()),
        "models_edge": int((cache.edge | placed.edge).sum()),
        "placed_gateway": int(placed.gateway.sum()), "placed_edge": int(placed.edge.sum()),
        "loss_dropped": float(heavy_acc[dropped].sum() / n), "loss_late": float(heavy_acc[late].sum() / n),
        "loss_light": float((heavy_acc - light_acc)[done & (decision.level == 0)].sum() / n),
    }


def play_policy(solver: Any, inst: Instance, slots: int, *, time_limit: float, seed: int,
                labels: dict[str, Any]) -> list[dict[str, Any]]:
    """Let a prepared solver decide slots 0..slots-1 of ``inst``, each from the cache its previous decision
    left (C7); one tidy row per slot: ``labels``, the solver's answer and :func:`slot_metrics`."""
    rows = []
    cache = inst.initial_cache
    for slot in range(slots):
        result = solver.solve(inst, slot, cache, time_limit=time_limit, seed=seed)
        rows.append({
            **labels, "slot": slot, "cache": cache_key(cache),
            **slot_metrics(inst, slot, cache, result.decision, result.outcome),
            "status": result.status, "objective": result.objective, "bound": result.bound,
            "bound_kind": result.bound_kind, "mip_gap": result.info.get("mip_gap"), "time_s": result.time_s,
            "error": result.info.get("error"),
        })
        assert result.outcome.next_cache is not None
        cache = result.outcome.next_cache
    return rows


def prepare_solver(name: str, options: dict[str, Any], inst: Instance, *, seed: int, curve_file: Path | None = None,
                   curve_labels: dict[str, Any] | None = None) -> tuple[Any, float]:
    """Make and prepare (train, for a learned solver) the registered solver ``name``; its learning curve,
    if any, goes to ``curve_file`` with ``curve_labels`` as leading columns. Returns the solver and its
    training seconds (0 for a solver that does not train)."""
    from solvers import make_solver

    solver = make_solver(name, **options)
    started = time.perf_counter()
    facts = solver.prepare(inst, seed=seed, progress=False) or {}
    prepare_s = time.perf_counter() - started
    curve = facts.get("curve")
    if curve is not None and curve_file is not None:
        write_curve_csv(curve_file, curve, **(curve_labels or {}))
    return solver, facts.get("train_seconds", prepare_s if REGISTRY[name].trains else 0.0)


def run_policy_cell(cfg: BenchConfig, run_dir: Path, size: str, index: int, name: str) -> dict[str, Any]:
    """Prepare one solver and let it decide slots 0..T-1 of one instance; one row per slot."""
    single_threaded()
    key = cell_key("policy", size, index, name, cfg.seed)
    inst = build_instance(cfg, size, index)
    solver, train_s = prepare_solver(name, solver_options(cfg, name, run_dir, key), inst, seed=cfg.seed,
                                     curve_file=run_dir / "curves" / f"{key}.csv",
                                     curve_labels={"size": size, "instance": inst.name, "solver": name})
    labels = {"size": size, "instance": inst.name, "instance_index": index, "seed": cfg.seed, "solver": name,
              "kind": REGISTRY[name].kind}
    rows = play_policy(solver, inst, cfg.slots, time_limit=cfg.time_limit, seed=cfg.seed, labels=labels)
    for row in rows:
        row["train_s"] = train_s
    return {"key": key, "type": "policy", "rows": rows}


def run_reference_cell(cfg: BenchConfig, size: str, index: int, slot: int, cache_text: str) -> dict[str, Any]:
    """The exact optimum (or best bound) of one slot from one start cache."""
    from solvers import make_solver

    inst = build_instance(cfg, size, index)
    cache = cache_from_key(cache_text, inst.n_devices)
    reference = reference_solver()
    solver = make_solver(reference, threads=1)
    result = solver.solve(inst, slot, cache, time_limit=cfg.time_limit, seed=cfg.seed)
    row = {
        "size": size, "instance": inst.name, "instance_index": index, "slot": slot, "cache": cache_text,
        "opt_solver": reference, "opt_score": result.score, "opt_status": result.status,
        "opt_bound": result.bound if result.bound_kind == "opt" else None, "opt_time_s": result.time_s,
    }
    return {"key": cell_key("ref", size, index, slot, cache_text), "type": "reference", "rows": [row]}


def run_episode_cell(cfg: BenchConfig, size: str, index: int) -> dict[str, Any]:
    """The clairvoyant optimum (or bound and incumbent) of the whole trace: every slot's tasks known in
    advance, caches chained by C6/C7 (docs/exact_horizon.md). It bounds every online policy's episode score."""
    from solvers.horizon.rolling import episode_bound

    inst = build_instance(cfg, size, index)
    started = time.perf_counter()
    result = episode_bound(inst, cfg.slots, time_limit=cfg.horizon_time_limit, seed=cfg.seed)
    row = {"size": size, "instance": inst.name, "instance_index": index, "slots": cfg.slots,
           "horizon_score": result.incumbent, "horizon_bound": result.bound, "horizon_status": result.status,
           "horizon_time_s": time.perf_counter() - started}
    return {"key": cell_key("episode", size, index, cfg.slots), "type": "episode", "rows": [row]}


def write_curve_csv(path: Path, curve: Any, **labels: Any) -> None:
    """A learning curve (rows, or the path of a curve CSV) written to ``path`` with ``labels`` as leading
    columns."""
    import pandas as pd

    frame = pd.read_csv(curve) if isinstance(curve, (str, os.PathLike)) else pd.DataFrame(list(curve))
    for column, value in labels.items():
        frame.insert(0, column, value)
    atomic_write_text(path, frame.to_csv(index=False))


# =============================================================================== running
class Runner:
    """Runs cells here, in local processes or on Dask; records each finished cell atomically under
    ``run_dir/cells/`` and then calls ``collect(run_dir)`` (default :func:`collect_rows`), which rebuilds
    the run's row files from the finished cells."""

    def __init__(self, run_dir: Path, workers: int = 1, dask_scheduler: str | None = None,
                 progress: bool = True, collect: Callable[[Path], Any] | None = None) -> None:
        self.run_dir = run_dir
        self.workers = workers
        self.dask_scheduler = dask_scheduler
        self.progress = progress
        self.collect = collect_rows if collect is None else collect
        (run_dir / "cells").mkdir(parents=True, exist_ok=True)

    def done(self, key: str) -> bool:
        return (self.run_dir / "cells" / f"{key}.json").exists()

    def record(self, result: dict[str, Any]) -> None:
        atomic_write_text(self.run_dir / "cells" / f"{result['key']}.json", json.dumps(result, default=_json_default))
        self.collect(self.run_dir)

    def run(self, jobs: list[tuple[str, Callable[..., dict[str, Any]], tuple]], label: str) -> None:
        todo = [(key, fn, args) for key, fn, args in jobs if not self.done(key)]
        skipped = len(jobs) - len(todo)
        if skipped:
            _say(f"{label}: {skipped} of {len(jobs)} cells already done, skipped")
        if not todo:
            return
        bar = _progress(len(todo), label, self.progress)
        try:
            for result in self._results(todo):
                self.record(result)
                bar.update(1)
        finally:
            bar.close()

    def _results(self, todo: list[tuple[str, Callable[..., dict[str, Any]], tuple]]) -> Iterable[dict[str, Any]]:
        if self.dask_scheduler:
            from distributed import Client
            from distributed import as_completed as dask_completed

            client = Client(self.dask_scheduler)
            try:
                futures = [client.submit(fn, *args, key=f"tadp-{key}", pure=False) for key, fn, args in todo]
                for future in dask_completed(futures):
                    yield future.result()
            finally:
                client.close()
        elif self.workers > 1:
            import multiprocessing

            # spawn, not fork: the parent already runs threads (progress bar, solver libraries)
            with ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [pool.submit(fn, *args) for _, fn, args in todo]
                for future in as_completed(futures):
                    yield future.result()
        else:
            for _, fn, args in todo:
                yield fn(*args)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__}")


def collect_rows(run_dir: Path) -> tuple[Any, Any]:
    """Rebuild rows.csv, references.csv and episodes.csv from the finished cells (sorted, so the
    order in which cells finished never matters)."""
    import pandas as pd

    found: dict[str, list[dict[str, Any]]] = {"policy": [], "reference": [], "episode": []}
    for path in sorted((run_dir / "cells").glob("*.json")):
        cell = json.loads(path.read_text())
        found[cell["type"]].extend(cell["rows"])
    order = {"policy": ["size", "instance_index", "solver", "seed", "slot"],
             "reference": ["size", "instance_index", "slot", "cache"], "episode": ["size", "instance_index"]}
    files = {"policy": "rows.csv", "reference": "references.csv", "episode": "episodes.csv"}
    frames = {}
    for kind, rows in found.items():
        frame = pd.DataFrame(rows)
        if not frame.empty:
            frame = frame.sort_values(order[kind], kind="stable")
        atomic_write_text(run_dir / files[kind], frame.to_csv(index=False))
        frames[kind] = frame
    return frames["policy"], frames["reference"]


def _progress(total: int, label: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="cell", disable=not enabled, file=sys.stderr, dynamic_ncols=True)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# =============================================================================== the run
def policy_jobs(cfg: BenchConfig, run_dir: Path) -> list[tuple[str, Callable[..., dict[str, Any]], tuple]]:
    jobs = []
    for size in cfg.sizes:
        for index in range(cfg.instances):
            for name in cfg.solvers:
                key = cell_key("policy", size, index, name, cfg.seed)
                jobs.append((key, run_policy_cell, (cfg, run_dir, size, index, name)))
    return jobs


def reference_jobs(cfg: BenchConfig, rows: Any) -> list[tuple[str, Callable[..., dict[str, Any]], tuple]]:
    """One exact solve per distinct (instance, slot, start cache) that a policy reached, except the
    states the reference solver itself already solved to proven optimality on its own trajectory
    (the report takes those rows as their references)."""
    if rows.empty:
        return []
    keys = ["size", "instance_index", "slot", "cache"]
    states = rows[keys].drop_duplicates()
    own = rows[(rows["solver"] == reference_solver()) & (rows["status"] == "optimal")][keys]
    solved = set(map(tuple, own.astype(str).to_numpy()))
    jobs = []
    for size, index, slot, cache_text in states.itertuples(index=False):
        if (str(size), str(index), str(slot), str(cache_text)) in solved:
            continue
        key = cell_key("ref", size, int(index), int(slot), cache_text)
        jobs.append((key, run_reference_cell, (cfg, size, int(index), int(slot), cache_text)))
    return jobs


def write_manifest(cfg: BenchConfig, run_dir: Path, argv: Sequence[str], extra: dict[str, Any]) -> None:
    path = run_dir / "manifest.json"
    manifest = {
        "tadp_bench": __version__,
        "command": ["tadp-bench", *argv],
        "config": cfg.to_json(),
        "scenario_options": cfg.options().to_json(),
        "reference_solver": reference_solver(),
        "versions": library_versions(),
        "machine": machine_facts(),
        **extra,
    }
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("config") != manifest["config"]:
            raise TadpInputError(str(path), "config", "this folder holds a run with other options; "
                                 "use another --out or the same options to resume")
        manifest["started"] = old.get("started")
        manifest["resumed"] = old.get("resumed", 0) + 1
    else:
        manifest["started"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")


def machine_facts() -> dict[str, Any]:
    """Platform, processor, CPU count and Python version, for manifests."""
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "python": sys.version.split()[0]}


def library_versions() -> dict[str, str]:
    """Versions of the solver and numeric libraries a run used, for manifests."""
    from importlib import metadata

    out = {}
    for dist in ("numpy", "pandas", "pyomo", "highspy", "ortools", "torch", "gymnasium", "seaborn", "matplotlib",
                 "dask", "distributed"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def run_benchmark(cfg: BenchConfig, run_dir: Path, *, workers: int = 1, dask_scheduler: str | None = None,
                  argv: Sequence[str] = (), progress: bool = True, report: bool = True) -> Path:
    """Run (or resume) the whole benchmark into ``run_dir`` and write its report."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(cfg, run_dir, argv, {"workers": workers, "dask_scheduler": dask_scheduler})
    for size in cfg.sizes:
        for index in range(cfg.instances):
            inst = build_instance(cfg, size, index)
            path = run_dir / "instances" / f"{inst.name}.json"
            if not path.exists():
                write_instance(inst, path)
    runner = Runner(run_dir, workers=workers, dask_scheduler=dask_scheduler, progress=progress)
    started = time.perf_counter()
    runner.run(policy_jobs(cfg, run_dir), "solvers")
    rows, _ = collect_rows(run_dir)
    jobs = reference_jobs(cfg, rows)
    if cfg.horizon_time_limit > 0:
        jobs += [(cell_key("episode", size, index, cfg.slots), run_episode_cell, (cfg, size, index))
                 for size in cfg.sizes for index in range(cfg.instances)]
    runner.run(jobs, "exact optima (per slot, per episode)")
    collect_rows(run_dir)
    _say(f"cells finished in {time.perf_counter() - started:.0f} s; rows in {run_dir / 'rows.csv'}")
    if report:
        from benchmarks.report import write_report

        write_report(run_dir, echo=True)
    return run_dir


# =============================================================================== configuration
def make_config(sizes: Sequence[str], solvers: Sequence[str] | None = None, **values: Any) -> BenchConfig:
    """A validated :class:`BenchConfig`: sizes parsed and written as labels (``GxK`` or ``K1-K2-...``),
    solvers known to the registry, the scenario readable, budgets in range; every problem is a
    :class:`~tadp.errors.TadpInputError` naming the option."""
    if not sizes:
        raise TadpInputError("argument", "--sizes", "no size given")
    labels = tuple(size_label(parse_size(s, field_name="--sizes")) for s in sizes)
    names = benchmark_solvers() if solvers is None else tuple(solvers)
    for name in names:
        if name not in REGISTRY:
            raise TadpInputError("argument", "--solvers", f"unknown solver {name!r} (known: {', '.join(REGISTRY)})")
    if not names:
        raise TadpInputError("argument", "--solvers", "no solver given")
    load_scenario(values.get("scenario", "scarce"))  # fails early with a clear message
    if values.get("horizon_time_limit", 0.0) < 0:
        raise TadpInputError("argument", "--horizon-time-limit",
                             f"must be >= 0, got {values['horizon_time_limit']}")
    return BenchConfig(sizes=labels, solvers=names, **values)


def default_run_dir(cfg: BenchConfig) -> Path:
    """``results/<sizes>-<scenario>-<hash of the options>/``: one folder per distinct run."""
    digest = hashlib.sha1(json.dumps(cfg.to_json(), sort_keys=True).encode()).hexdigest()[:8]
    return Path("results") / f"{'_'.join(cfg.sizes)}-{Path(cfg.scenario).stem}-{digest}"


def announce(cfg: BenchConfig, run_dir: Path) -> None:
    """One line on stderr: what the run does and where it lands."""
    _say(f"tadp-bench: sizes {', '.join(cfg.sizes)}, scenario {cfg.scenario}, solvers {', '.join(cfg.solvers)}, "
         f"{cfg.instances} instance(s) x {cfg.slots} slots; run folder {run_dir}")
