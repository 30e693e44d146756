"""The solution file `tadp-solution/1` (docs/model.md, section 11) and its re-scoring.

Every solver writes one; :func:`score_solution` re-scores it with the evaluator (episode
mode chains the cache from the instance's initial cache, slots mode takes each entry's
own start cache) and checks each ``claimed`` objective and bound against that score.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tadp.decision import SITE_CODES, Decision
from tadp.evaluator import CLAIM_TOL, SlotOutcome, evaluate_slot
from tadp.instance import Cache, Instance, _inline, _Reader, atomic_write_text, load_json

SOLUTION_FORMAT = "tadp-solution/1"
MODES = ("episode", "slots")
_CLAIM_NUMBERS = ("objective", "bound", "time_s")


@dataclass(eq=False)
class SlotEntry:
    """One slot of a solution: the decision, its start cache (slots mode) and the solver's claim."""

    slot: int
    decision: Decision
    cache: Cache | None = None
    claimed: dict[str, Any] | None = None


@dataclass(eq=False)
class Solution:
    """A solver's answer for (a prefix of, or some slots of) an instance's trace."""

    instance: str
    solver: dict[str, Any]
    mode: str
    slots: list[SlotEntry] = field(default_factory=list)


# ====================================================================== writing
def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def solution_to_json(sol: Solution) -> str:
    """Encoding: top-level keys one per line, one slot entry per line, trailing newline."""
    entries = []
    for e in sol.slots:
        d = e.decision
        entry: dict[str, Any] = {"slot": int(e.slot)}
        if e.cache is not None:
            entry["cache"] = e.cache.to_json()
        entry.update(
            site=d.site_names(),
            level=[int(v) for v in d.level],
            uplink_share=[float(v) for v in d.uplink_share],
            bs_share=[float(v) for v in d.bs_share],
            compute_share=[float(v) for v in d.compute_share],
            keep_gateway=d.keep_gateway.astype(int).tolist(),
            keep_edge=d.keep_edge.astype(int).tolist(),
        )
        if e.claimed is not None:
            entry["claimed"] = _clean(e.claimed)
        entries.append(entry)
    lines = [
        f'  "format": {_inline(SOLUTION_FORMAT)}',
        f'  "instance": {_inline(sol.instance)}',
        f'  "solver": {_inline(_clean(sol.solver))}',
        f'  "mode": {_inline(sol.mode)}',
        '  "slots": [' + (("\n" + ",\n".join("    " + _inline(e) for e in entries) + "\n  ]") if entries else "]"),
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_solution(sol: Solution, path: str | os.PathLike[str]) -> None:
    atomic_write_text(path, solution_to_json(sol))


# ====================================================================== reading
def read_solution(path: str | os.PathLike[str], inst: Instance) -> Solution:
    """Read and validate a solution file against ``inst`` (lengths, name, slot indices, caches)."""
    return solution_from_json(load_json(path), inst, source=str(path))


def solution_from_json(doc: Any, inst: Instance, source: str = "<solution>") -> Solution:
    r = _Reader(source)
    n = inst.n_devices
    r.obj(doc, "", ("format", "instance", "solver", "mode", "slots"))
    if doc["format"] != SOLUTION_FORMAT:
        raise r.fail("format", f"expected {SOLUTION_FORMAT!r}, got {doc['format']!r}")
    if doc["instance"] != inst.name:
        raise r.fail("instance", f"solution is for instance {doc['instance']!r}, not {inst.name!r}")
    solver = doc["solver"]
    if not isinstance(solver, dict):
        raise r.fail("solver", "expected a JSON object")
    mode = doc["mode"]
    if mode not in MODES:
        raise r.fail("mode", f"expected 'episode' or 'slots', got {mode!r}")
    items = r.array(doc["slots"], "slots")
    entries: list[SlotEntry] = []
    seen: set[int] = set()
    for k, item in enumerate(items):
        path = f"slots[{k}]"
        required = ("slot", "site", "level", "uplink_share", "bs_share", "compute_share", "keep_gateway", "keep_edge")
        if mode == "slots":
            required = (*required, "cache")
        r.obj(item, path, required, ("claimed",))
        slot = item["slot"]
        if isinstance(slot, bool) or not isinstance(slot, int):
            raise r.fail(f"{path}.slot", f"expected an integer slot index, got {slot!r}")
        if mode == "episode" and slot != k:
            raise r.fail(f"{path}.slot", f"episode mode needs slots 0, 1, ... in order; entry {k} has slot {slot}")
        if not 0 <= slot < inst.n_slots:
            raise r.fail(f"{path}.slot", f"slot {slot} out of range 0..{inst.n_slots - 1}")
        if slot in seen:
            raise r.fail(f"{path}.slot", f"slot {slot} appears twice")
        seen.add(slot)
        sites = r.array(item["site"], f"{path}.site", n)
        for j, s in enumerate(sites):
            if s not in SITE_CODES:
                raise r.fail(f"{path}.site[{j}]", f"unknown site {s!r} (expected gateway, edge or none)")
        decision = Decision(
            site=np.array([SITE_CODES[s] for s in sites], np.int8),
            level=r.flags(item["level"], f"{path}.level", n),
            uplink_share=_numbers(r, item["uplink_share"], f"{path}.uplink_share", n),
            bs_share=_numbers(r, item["bs_share"], f"{path}.bs_share", n),
            compute_share=_numbers(r, item["compute_share"], f"{path}.compute_share", n),
            keep_gateway=r.flag_pairs(item["keep_gateway"], f"{path}.keep_gateway", n),
            keep_edge=r.flag_pairs(item["keep_edge"], f"{path}.keep_edge", n),
        )
        cache = None
        if mode == "slots":
            cache = r.cache(item["cache"], f"{path}.cache", n)
            overflow = inst.cache_overflows(cache)
            if overflow:
                raise r.fail(f"{path}.cache", "overflows a capacity: " + "; ".join(overflow))
        claimed = _claimed(r, item.get("claimed"), f"{path}.claimed") if "claimed" in item else None
        entries.append(SlotEntry(slot=slot, decision=decision, cache=cache, claimed=claimed))
    return Solution(instance=doc["instance"], solver=solver, mode=mode, slots=entries)


def _numbers(r: _Reader, value: Any, path: str, n: int) -> np.ndarray:
    items = r.array(value, path, n)
    return np.array([r.number(v, f"{path}[{k}]") for k, v in enumerate(items)], float)


def _claimed(r: _Reader, value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise r.fail(path, "expected a JSON object")
    for key in _CLAIM_NUMBERS:
        if key in value and value[key] is not None:
            r.number(value[key], f"{path}.{key}")
    if "status" in value and value["status"] is not None and not isinstance(value["status"], str):
        raise r.fail(f"{path}.status", "expected a string")
    return dict(value)


# ====================================================================== scoring
@dataclass(eq=False)
class ScoredSlot:
    """The evaluator's outcome for one entry, beside the solver's claim."""

    entry: SlotEntry
    outcome: SlotOutcome
    claim_ok: bool
    claim_problems: list[str]


def check_claim(claimed: dict[str, Any] | None, score: float) -> list[str]:
    """What in a claim the evaluator's score contradicts (empty when it holds)."""
    problems = []
    if not claimed:
        return problems
    objective = claimed.get("objective")
    if objective is not None and abs(objective - score) > CLAIM_TOL:
        problems.append(f"claimed objective {objective:.9g} but the evaluator scores {score:.9g}")
    bound = claimed.get("bound")
    if bound is not None and bound < score - CLAIM_TOL:
        problems.append(f"claimed bound {bound:.9g} is below the evaluator's score {score:.9g}")
    return problems


def score_solution(inst: Instance, sol: Solution) -> list[ScoredSlot]:
    """Re-score every entry (episode mode chains the cache, C7; an infeasible slot keeps it)."""
    scored = []
    cache = inst.initial_cache
    for entry in sol.slots:
        start = entry.cache if sol.mode == "slots" and entry.cache is not None else cache
        outcome = evaluate_slot(inst, entry.slot, start, entry.decision)
        assert outcome.next_cache is not None
        cache = outcome.next_cache
        problems = check_claim(entry.claimed, outcome.score)
        scored.append(ScoredSlot(entry, outcome, not problems, problems))
    return scored


def report_json(scored: list[ScoredSlot]) -> dict[str, Any]:
    """The ``evaluate --json`` object: mean score and one record per slot."""
    slots = []
    for s in scored:
        claimed = s.entry.claimed or {}
        slots.append({
            "slot": s.entry.slot,
            "score": s.outcome.score,
            "completion": s.outcome.completion,
            "feasible": s.outcome.feasible,
            "violations": [v.to_json() for v in s.outcome.violations],
            "claimed_objective": claimed.get("objective"),
            "claim_ok": s.claim_ok,
        })
    score = float(np.mean([s.outcome.score for s in scored])) if scored else 0.0
    return _clean({"score": score, "slots": slots})


def report_text(inst: Instance, sol: Solution, scored: list[ScoredSlot]) -> str:
    """The ``evaluate`` table: per slot the evaluator's score and completion, feasibility and the
    claim beside it, every violation and every contradicted claim; the mean score last."""
    solver = sol.solver.get("name", "?") if isinstance(sol.solver, dict) else "?"
    lines = [f"instance {inst.name}  solver {solver}  mode {sol.mode}  slots {len(scored)}",
             f"{'slot':>5} {'score':>10} {'completion':>10} {'feasible':>8} {'claimed':>10} {'claim':>6}"]
    for s in scored:
        claimed = (s.entry.claimed or {}).get("objective")
        claimed_txt = f"{claimed:.6f}" if isinstance(claimed, (int, float)) else "-"
        lines.append(f"{s.entry.slot:>5} {s.outcome.score:>10.6f} {s.outcome.completion:>10.3f} "
                     f"{'yes' if s.outcome.feasible else 'NO':>8} {claimed_txt:>10} {'ok' if s.claim_ok else 'FAIL':>6}")
        lines += [f"      violation: {v}" for v in s.outcome.violations]
        lines += [f"      claim: {problem}" for problem in s.claim_problems]
    lines.append(f"mean score {report_json(scored)['score']:.6f}")
    return "\n".join(lines)


def all_hold(scored: list[ScoredSlot]) -> bool:
    """Every slot feasible and every claim upheld by the evaluator."""
    return all(s.outcome.feasible and s.claim_ok for s in scored)

