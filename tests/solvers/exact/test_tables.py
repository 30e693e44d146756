"""The small-slot search by gateway tables (solvers/exact/tables.py): the tables and the candidates against brute
force over every assignment, the search against enumeration and against the MILP loop, and its limits."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from helpers import assert_proves, random_cache

from solvers.exact import search as search_module
from solvers.exact import tables
from solvers.exact.direct import DirectModel
from solvers.exact.enumerate import enumerate_optimum
from solvers.exact.oa import OaRounds
from solvers.exact.options import slot_options, trivial_bound
from solvers.exact.oracle import option_costs
from solvers.exact.search import DirectSearch, caches_bind, solve_slot_direct
from tadp.generator import GeneratorOptions, generate_instance


def _slot(counts, seed, scale=0.5, warm=False, cache_seed=None):
    inst = generate_instance(counts, seed=seed, slots=1, options=GeneratorOptions(resource_scale=scale, warm_cache=warm))
    cache = inst.initial_cache if cache_seed is None else random_cache(inst, np.random.default_rng(cache_seed))
    return inst, cache, slot_options(inst, 0, cache)


def _every_assignment(opts):
    """(option indices, value) of every assignment: none or one option per task."""
    for pick in itertools.product(*[[-1, *opts.options_of(j)] for j in range(opts.n_tasks)]):
        chosen = np.array([o for o in pick if o >= 0], int)
        yield chosen, float(opts.accuracy[chosen].sum())


def _key(chosen) -> tuple[int, ...]:
    return tuple(sorted(int(o) for o in chosen if o >= 0))


@pytest.mark.parametrize(("counts", "seed", "cache_seed"), [([2, 3], 1, None), ([3, 2], 2, 5), ([4], 3, None),
                                                            ([3, 3], 4, 6)])
def test_candidates_are_every_assignment_that_fits(counts, seed, cache_seed) -> None:
    """At a threshold, the candidates are exactly the assignments worth at least that much that fit the caches
    and a cut (brute force over every assignment), best first; each table row fits the caches alone."""
    inst, cache, opts = _slot(counts, seed, cache_seed=cache_seed)
    found = tables.gateway_tables(opts, inst)
    assert found is not None and len(found) == 2
    for table in found:
        assert (table.bits <= opts.cache_free * (1 + 1e-9)).all()
    prices = np.random.default_rng(seed).uniform(0.1, 1.0, opts.n_pools)
    cut = np.append(option_costs(opts, prices / prices.sum()), 0.0)
    values = sorted(v for _, v in _every_assignment(opts))
    for least in (values[-1], values[len(values) // 2], values[len(values) // 10], 0.0):
        for cuts in ([], [cut]):
            merged = tables.candidates([t.with_cuts(cuts) for t in found], least, opts.cache_free * (1 + 1e-9))
            want = {_key(c) for c, v in _every_assignment(opts)
                    if v >= least - 1e-9 and opts.cache_fits(c) and all(cu[c].sum() <= 1 + 1e-9 for cu in cuts)}
            got = [_key(row) for row in merged.chosen]
            assert len(got) == len(set(got)) and set(got) == want
            assert (np.diff(merged.value) <= 1e-12).all()


def test_tables_are_left_to_the_milp_beyond_two_gateways_or_their_size(monkeypatch) -> None:
    inst, _, opts = _slot([2, 2, 2], 7)
    assert tables.gateway_tables(opts, inst) is None
    inst, _, opts = _slot([5, 5], 8)
    monkeypatch.setattr(tables, "MAX_TABLE", 5**5 - 1)  # five tasks of four options: 3,125 combinations
    assert tables.gateway_tables(opts, inst) is None


# (devices per gateway, seed, resource scale, warm generator cache, random start cache): cold and warm, scarce to
# loose, caches that bind and caches that do not
SLOTS = [([3, 3], 11, 0.5, False, None), ([2, 4], 12, 0.25, False, None), ([4, 2], 13, 0.5, True, None),
         ([3, 3], 14, 0.4, False, 3), ([5], 15, 0.5, False, None), ([3, 2], 16, 1.0, False, None),
         ([4, 3], 17, 0.15, False, 4)]


@pytest.mark.parametrize(("counts", "seed", "scale", "warm", "cache_seed"), SLOTS)
def test_the_search_proves_the_enumerated_optimum(counts, seed, scale, warm, cache_seed) -> None:
    """With and without the tables the solver proves the optimum that enumeration finds (1e-9), and its bound
    holds."""
    inst, cache, _ = _slot(counts, seed, scale, warm, cache_seed)
    truth = enumerate_optimum(inst, 0, cache).value
    for use in (True, False):
        info = assert_proves(inst, cache, truth, tables=use)
        if not use:
            assert "tables" not in info


def test_cold_scarce_slots_are_proven_by_the_tables_alone() -> None:
    """Where the caches bind, the tables run before any LP and prove the optimum: no MILP is solved."""
    for seed in range(3):
        inst, cache, opts = _slot([5, 5], 30 + seed)
        assert caches_bind(opts)
        _, status, value, bound, info = solve_slot_direct(inst, 0, cache, time_limit=60.0, threads=1)
        assert status == "optimal" and info["tables"]["judged"] >= 1 and "stopped" not in info["tables"]
        assert info.get("oa_rounds", 0) == 0
        milp = solve_slot_direct(inst, 0, cache, time_limit=60.0, threads=1, tables=False)
        assert value == pytest.approx(milp[2], abs=1e-9) and bound >= milp[2] - 1e-9


def test_caches_bind_tells_cold_scarce_slots_from_loose_ones() -> None:
    assert caches_bind(_slot([5, 5], 0, 0.5)[2])  # the scarce scenario's caches, empty: they bind
    loose = generate_instance([3, 3], seed=0, slots=1, options=GeneratorOptions(
        scenario="paper", overrides={"S_l": 1e12, "S_e": 1e12}))
    assert not caches_bind(slot_options(loose, 0, loose.initial_cache))


def test_a_stopped_table_search_leaves_valid_bounds_to_the_milp(monkeypatch) -> None:
    """Stopped after a few pairs or one judged candidate, the search has proven only valid bounds, and the MILP
    loop goes on to the same optimum."""
    inst, cache, opts = _slot([5, 5], 21)
    truth = solve_slot_direct(inst, 0, cache, time_limit=60.0, threads=1, tables=False)[2]
    for name, value in (("MAX_WEIGHED", 50), ("MAX_JUDGED", 1)):
        with monkeypatch.context() as m:
            m.setattr(tables, name, value)
            m.setattr(search_module, "FIRST_WEIGHED", min(value, search_module.FIRST_WEIGHED))
            search = DirectSearch(DirectModel(inst, opts, threads=1, seed=0), time.perf_counter() + 60.0,
                                  OaRounds(1e-6), trivial_bound(opts))
            table = tables.TableSearch.build(search, inst)
            info = table.run(time.perf_counter() + 60.0)
            assert "stopped" in info
            assert search.upper() >= truth - 1e-9
            _, status, got, bound, _ = solve_slot_direct(inst, 0, cache, time_limit=60.0, threads=1)
            assert status == "optimal" and got == pytest.approx(truth, abs=1e-9) and bound >= truth - 1e-9
