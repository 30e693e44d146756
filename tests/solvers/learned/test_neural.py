"""The neural solver (solvers/learned/neural/, docs/neural.md): tokens, an equivariant network, candidates
feasible by construction and judged by the evaluator, labels, checkpoints, the solver, the commands, and a
smoke training run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers import decoder_instances, random_cache

from benchmarks import cli
from solvers import make_solver
from solvers.learned.neural.checkpoint import SHIPPED, load_neural, save_neural
from solvers.learned.neural.decoding import SlotTasks, decode_candidates, sample_classes
from solvers.learned.neural.features import TASK_FEATURES, slot_features
from solvers.learned.neural.labels import KEEP_ALL_SEEDS, ChainRecipe, LabelPlan, class_of, ensure_labels, load_file
from solvers.learned.neural.network import NetConfig, PolicyNet
from solvers.learned.neural.training import neural_config, probabilities, tensors, train_neural
from tadp.errors import TadpInputError
from tadp.evaluator import evaluate_slot
from tadp.generator import generate_instance

torch.set_num_threads(1)
SMALL = NetConfig(width=16, layers=1, heads=2, hidden=32)


def _features(inst, slot=0, cache=None):
    cache = inst.initial_cache if cache is None else cache
    return slot_features(inst, inst.data[slot], inst.deadline[slot], inst.noisy[slot], cache)


def test_tokens_are_relative_and_finite() -> None:
    """Tokens of every instance shape are finite, and their ranges do not depend on the instance's size when
    resources scale with it ([D8]): shares read as multiples of a fair share average alike at 2x5 and 8x10."""
    for inst in decoder_instances():
        f = _features(inst)
        assert f.task.shape == (inst.n_devices, TASK_FEATURES) and np.isfinite(f.task).all()
        assert np.isfinite(f.gateway).all() and np.isfinite(f.edge).all()
    small, large = generate_instance([5, 5], seed=0, slots=2), generate_instance([10] * 8, seed=0, slots=2)
    shares = slice(15, 39)
    assert np.abs(_features(small).task[:, shares].mean(0) - _features(large).task[:, shares].mean(0)).max() < 0.3


def test_network_is_permutation_equivariant_and_serves_any_size() -> None:
    """Permuting the tasks permutes the logits; permuting the gateways changes nothing; one set of weights
    runs on 2x5 and on uneven 3-5-2; impossible options get the masked logit."""
    torch.manual_seed(0)
    net = PolicyNet(SMALL).eval()
    inst = generate_instance([4, 6], seed=1, slots=2)
    f = _features(inst)
    args = tensors([f], torch.device("cpu"))
    perm = torch.from_numpy(np.random.default_rng(0).permutation(inst.n_devices))
    with torch.no_grad():
        out = net(*args)
        permuted = net(args[0][:, perm], args[1], args[2], args[3][perm], args[4][:, perm])
        swapped = net(args[0], args[1].flip(1), args[2], 1 - args[3], args[4])  # gateway 0 <-> 1
    assert torch.allclose(permuted, out[:, perm], atol=1e-5) and torch.allclose(swapped, out, atol=1e-5)
    for other in (generate_instance([5, 5], seed=2, slots=2), generate_instance([3, 5, 2], seed=3, slots=2)):
        with torch.no_grad():
            logits = net(*tensors([_features(other)], torch.device("cpu")))
        assert logits.shape == (1, other.n_devices, 5) and torch.isfinite(logits).all()


@pytest.mark.parametrize("index", range(6))
def test_every_candidate_is_feasible_and_judged_by_the_evaluator(index: int) -> None:
    """K candidates from random distributions, random start caches, every instance shape: each decision
    is feasible, and its score is the evaluator's own, with and without repair and refill (here on every
    candidate); the argmax comes first."""
    inst = decoder_instances()[index]
    rng = np.random.default_rng(index)
    for slot in range(inst.n_slots):
        cache = random_cache(inst, rng)
        f = _features(inst, slot, cache)
        probs = rng.dirichlet(np.full(5, 0.5), size=inst.n_devices)
        classes = sample_classes(probs, 6, rng)
        assert (classes[0] == probs.argmax(1)).all()
        for repair, refill in ((True, len(classes)), (False, len(classes)), (True, 0)):
            cands = decode_candidates(inst, SlotTasks.of(inst, slot, cache), probs, classes, f.possible,
                                      repair_first=repair, refill_best=refill)
            for row in range(len(classes)):
                outcome = evaluate_slot(inst, slot, cache, cands.decision(row))
                assert outcome.feasible, outcome.violations
                assert outcome.score == pytest.approx(cands.score[row], abs=1e-12)


def test_compiled_price_rounds_follow_the_sizing_and_the_update_rule() -> None:
    """Decoding step 2, compiled: with no round, the shares are ``option_shares``'s for each task's option at
    the start prices (to rounding) and the loads sum the served tasks' shares per pool; one round multiplies
    each price by (load / largest load)^2 (at least 1e-6) and rescales the largest to 1."""
    from solvers.learned.neural.compiled import balance
    from tadp.physics import Pools
    from tadp.sizing import option_shares, task_times

    rng = np.random.default_rng(3)
    for inst in decoder_instances():
        cache = random_cache(inst, rng)
        times = task_times(inst, inst.data[0], inst.deadline[0], cache)
        pools, gw = Pools(inst.n_gateways), inst.device_gateway
        option = rng.integers(-1, 4, (3, inst.n_devices))
        start = rng.uniform(0.2, 1.0, (3, pools.n_share))
        kernel_args = (inst.n_gateways, gw, option, times.budget, times.fetch, times.work, times.uplink_seconds,
                       times.bs_seconds)
        shares, loads = balance(start.copy(), 0, *kernel_args)
        every, _ = option_shares(inst, None, None, cache, start[:, gw], start[:, [pools.bs]], start[:, pools.compute[gw]],
                                 start[:, [pools.edge_compute]], times=times)
        picked = np.take_along_axis(every, np.maximum(option, 0)[..., None, None], axis=2)[..., 0, :]
        np.testing.assert_allclose(shares, picked, rtol=1e-12, equal_nan=True)
        capped = np.fmin(shares, 1e3) * (option >= 0)[..., None]
        at_edge = (option >= 2)[..., None]
        member = inst.gateway_membership
        expected = np.concatenate([capped[..., 0] @ member, (capped[..., 2] * ~at_edge[..., 0]) @ member,
                                   (capped[..., 1] * at_edge[..., 0]).sum(1, keepdims=True),
                                   (capped[..., 2] * at_edge[..., 0]).sum(1, keepdims=True)], axis=1)
        np.testing.assert_allclose(loads, expected, rtol=1e-12, atol=1e-12)
        prices = start.copy()
        balance(prices, 1, *kernel_args)
        top = loads.max(axis=1, keepdims=True)
        step = start * np.maximum(loads / np.where(top > 0, top, 1.0), 1e-3) ** 2
        np.testing.assert_allclose(prices, step / step.max(axis=1, keepdims=True), rtol=1e-12)


def test_refill_only_adds_tasks_and_never_lowers_the_best() -> None:
    """Decoding step 5 on scarce cold and warm slots: every candidate it revisits serves every task it
    served before and perhaps more, stays feasible, and the best score never drops."""
    from tadp.generator import scenario_options

    inst = generate_instance([12] * 4, seed=5, slots=2, options=scenario_options("scarce", resource_scale=0.4))
    net = load_neural().net
    rng = np.random.default_rng(0)
    gained = 0
    for slot, cache in ((0, inst.initial_cache), (1, random_cache(inst, rng))):
        f = _features(inst, slot, cache)
        probs = probabilities(net, f, torch.device("cpu"))
        classes = sample_classes(probs, 8, rng)
        tasks = SlotTasks.of(inst, slot, cache)
        before = decode_candidates(inst, tasks, probs, classes, f.possible, refill_best=0)
        after = decode_candidates(inst, tasks, probs, classes, f.possible, refill_best=8)
        assert ((after.choice >= 0) | (before.choice < 0)).all()
        assert (after.score >= 0).all() and after.score.max() >= before.score.max() - 1e-12
        gained += int((after.choice >= 0).sum() - (before.choice >= 0).sum())
    assert gained > 0


def test_downgrades_draw_only_on_room_left_and_cost_less_than_the_task_brings() -> None:
    """Decoding step 5's search for heavy models to turn light: a switch that frees the pool task 0 lacks
    may place its light model in a cache where room is left, not beyond it; a switch that draws on a pool
    the task lacks is never taken; nothing is taken if the accuracy lost reaches the task's value."""
    from solvers.learned.neural.compiled import downgrades_for

    # pools: 0 and 1 share pools, 2 a cache (bits); task 0 wants option 1; tasks 1-3 serve heavy option 1
    demand = np.zeros((4, 4, 3))
    demand[0, 1] = [0.3, 0.0, 0.0]
    demand[1, 1], demand[1, 0] = [0.4, 0.0, 0.0], [0.1, 0.0, 5.0]  # frees 0.3 of pool 0, places 5 bits
    demand[2, 1], demand[2, 0] = [0.2, 0.1, 0.0], [0.0, 0.3, 0.0]  # frees pool 0 but draws 0.2 of pool 1
    demand[3, 1], demand[3, 0] = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]  # frees nothing
    value = np.tile([0.90, 0.95, 0.90, 0.95], (4, 1))
    possible = np.ones((4, 4), bool)
    choice = np.array([-1, 1, 1, 1])
    short = np.array([0.25, -0.1, -8.0])  # task 0 lacks 0.25 of pool 0; 0.1 of pool 1 and 8 bits are left

    found, taken = downgrades_for(short, 0, 0.95, choice, demand, value, possible)
    assert found and list(taken) == [1]
    found, _ = downgrades_for(np.array([0.25, -0.1, -4.0]), 0, 0.95, choice, demand, value, possible)
    assert not found  # 5 bits do not fit in 4; task 2 would need 0.2 of pool 1 where 0.1 is left
    found, _ = downgrades_for(short, 0, 0.04, choice, demand, value, possible)
    assert not found  # losing 0.05 for a task worth 0.04
    found, _ = downgrades_for(np.array([0.25, 0.05, -8.0]), 0, 0.95, choice, demand, value, possible)
    assert not found  # task 0 lacks pool 1 too: nothing frees it, and task 2 would draw on it


def test_upgrade_only_turns_light_models_heavy_and_never_lowers_the_best() -> None:
    """Decoding step 6 on a roomier instance, on candidates drawn from the policy with every heavy model
    turned light (so that the step has something to do whatever the checkpoint): the best candidate changes
    only by light models turned heavy (never placed anew in a gateway cache), stays feasible by the
    evaluator, and scores no less."""
    from tadp.generator import scenario_options

    inst = generate_instance([25] * 4, seed=0, slots=3, options=scenario_options("scarce", resource_scale=0.8))
    net = load_neural().net
    rng = np.random.default_rng(0)
    upgraded = 0
    cache = inst.initial_cache
    for slot in range(inst.n_slots):
        f = _features(inst, slot, cache)
        probs = probabilities(net, f, torch.device("cpu"))
        classes = sample_classes(probs, 8, rng)
        classes = np.where(classes % 2 == 0, classes - 1, classes)  # heavy classes (2, 4) to light (1, 3)
        classes[classes < 0] = 0
        tasks = SlotTasks.of(inst, slot, cache)
        before = decode_candidates(inst, tasks, probs, classes, f.possible, upgrade_best=False)
        after = decode_candidates(inst, tasks, probs, classes, f.possible)
        b = after.best
        assert after.score.max() >= before.score.max() - 1e-12
        moved = np.flatnonzero(after.choice[b] != before.choice[b])
        assert np.isin(before.choice[b, moved], (0, 2)).all() and np.isin(after.choice[b, moved], (1, 3)).all()
        to_gateway = moved[after.choice[b, moved] == 1]
        assert cache.gateway[to_gateway, 1].all()
        outcome = evaluate_slot(inst, slot, cache, after.decision(b))
        assert outcome.feasible and outcome.score == pytest.approx(after.score[b], abs=1e-12)
        upgraded += len(moved)
        cache = outcome.next_cache
    assert upgraded > 0


def test_traced_network_gives_the_eager_numbers() -> None:
    """The solver runs the network traced per slot shape: the same probabilities as the eager network."""
    solver = make_solver("neural")
    for counts in ([5, 5], [8, 20, 3], [5, 5]):
        inst = generate_instance(counts, seed=1, slots=1)
        solver.prepare(inst)
        f = _features(inst)
        assert np.array_equal(solver.probabilities(f), probabilities(solver.model.net, f, torch.device("cpu")))


def test_decoding_the_optimum_recovers_it() -> None:
    """Exact sizing: the exact optimum's classes, decoded, score the optimum (tiny 2x3 slots)."""
    inst = generate_instance([3, 3], seed=0, slots=3)
    highs = make_solver("highs", threads=1)
    cache = inst.initial_cache
    for slot in range(3):
        result = highs.solve(inst, slot, cache, time_limit=30)
        label = class_of(result.decision)
        f = _features(inst, slot, cache)
        cands = decode_candidates(inst, SlotTasks.of(inst, slot, cache), np.eye(5)[label] * 0.9 + 0.02,
                                  label[None], f.possible)
        assert cands.score[0] == pytest.approx(result.score, abs=1e-9)
        cache = result.outcome.next_cache


def test_labels_are_cached_and_reused(tmp_path) -> None:
    """A label plan is solved once: the files are read back identically, and a second call solves nothing."""
    plan = LabelPlan(sizes=("2x2",), scales=(0.5,), scale_weights=(1.0,), chains=2, slots=2, cold_time_limit=5,
                     time_limit=5, keep_all_chains=0)
    first = ensure_labels(plan, tmp_path)
    files = sorted((tmp_path / plan.folder_name()).glob("*.npz"))
    assert len(first) == 4 and len(files) == 2
    again = load_file(files[0])
    assert again.recipes[0] == ChainRecipe((2, 2), plan.first_seed, 0.5, 2)
    stamps = [p.stat().st_mtime_ns for p in files]
    second = ensure_labels(plan, tmp_path)
    assert [p.stat().st_mtime_ns for p in files] == stamps
    assert all(np.array_equal(a, b) for a, b in zip(first.labels, second.labels, strict=True))


def test_keep_all_chains_pack_their_caches(tmp_path) -> None:
    """A plan's keep-all chains come after its other chains (which they leave as they were), from their own
    seeds; along such a chain every cached model stays cached, and the label file keeps the rule."""
    plan = LabelPlan(sizes=("2x3",), scales=(0.5,), scale_weights=(1.0,), chains=1, slots=3, cold_time_limit=5,
                     time_limit=5, keep_all_chains=1)
    recipes = plan.recipes()
    assert recipes[0] == dataclasses.replace(plan, keep_all_chains=0).recipes()[0]
    assert recipes[1].keep == "all" and recipes[1].seed == plan.first_seed + KEEP_ALL_SEEDS
    assert recipes[1].name.endswith("-kall") and not recipes[0].name.endswith("-kall")
    labels = ensure_labels(plan, tmp_path)
    packed = [c for r, c in zip(labels.recipes, labels.caches, strict=True) if r.keep == "all"]
    assert len(packed) == 3 and packed[0].is_empty()
    for before, after in zip(packed[:-1], packed[1:], strict=True):
        assert (after.gateway >= before.gateway).all() and (after.edge >= before.edge).all()
    assert packed[-1].gateway.any() or packed[-1].edge.any()
    back = load_file(tmp_path / plan.folder_name() / f"{recipes[1].name}.npz")
    assert back.recipes[0] == recipes[1]


def test_checkpoint_round_trip_and_bad_files(tmp_path) -> None:
    """Save then load gives the same distributions and keeps the provenance; a TD3 checkpoint, a file that
    is no checkpoint and a missing file are clear input errors."""
    torch.manual_seed(1)
    net = PolicyNet(SMALL).eval()
    path = tmp_path / "n.pt"
    save_neural(path, net, {"seed": 3, "config": neural_config(seed=3)})
    back = load_neural(path)
    f = _features(generate_instance([3, 3], seed=0, slots=1))
    assert np.allclose(probabilities(net, f, torch.device("cpu")), probabilities(back.net, f, torch.device("cpu")))
    assert back.provenance["seed"] == 3 and back.provenance["config"]["labels"]["chains"] == LabelPlan().chains
    torch.save({"format": "tadp-checkpoint/1"}, tmp_path / "td3.pt")
    with pytest.raises(TadpInputError, match="td3"):
        load_neural(tmp_path / "td3.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(TadpInputError, match="not a readable torch checkpoint"):
        load_neural(tmp_path / "junk.pt")
    with pytest.raises(TadpInputError, match="no such checkpoint"):
        make_solver("neural", checkpoint=str(tmp_path / "missing.pt")).prepare(generate_instance([2], seed=0))
    with pytest.raises(TadpInputError, match="samples"):
        make_solver("neural", samples=0)


def test_the_shipped_checkpoint_solves_any_size() -> None:
    """The shipped checkpoint is in the package, records its provenance, and one set of weights solves 2x5
    and uneven 3-5-2 episodes: every slot feasible, at least the argmax candidate's score."""
    assert SHIPPED.is_file() and SHIPPED.stat().st_size < 5e6
    prov = load_neural().provenance
    assert {"seed", "commit", "config", "train_seconds"} <= set(prov)
    for inst in (generate_instance([5, 5], seed=7, slots=3), generate_instance([3, 5, 2], seed=8, slots=3)):
        solver = make_solver("neural", samples=4)
        solver.prepare(inst)
        trace = solver.solve_trace(inst, 3, time_limit=10)
        assert trace.status == "feasible" and min(trace.slot_scores) > 0.5


def test_solve_command_takes_samples(tmp_path) -> None:
    inst_path, out = tmp_path / "i.json", tmp_path / "s.json"
    assert cli.main(["generate", "--size", "2x3", "--slots", "2", "-o", str(inst_path)]) == 0
    assert cli.main(["solve", str(inst_path), "--solver", "neural", "--samples", "4", "-o", str(out)]) == 0
    assert cli.main(["evaluate", str(inst_path), str(out)]) == 0


@pytest.mark.slow
def test_smoke_training_learns_the_labels(tmp_path) -> None:
    """A few hundred steps of imitation, a few of policy gradient and one DAgger round on tiny labelled
    chains: the loss falls, the checkpoint command writes a loadable file with its provenance."""
    plan = LabelPlan(sizes=("2x3", "3x2"), scales=(0.5,), scale_weights=(1.0,), chains=4, slots=3,
                     cold_time_limit=5, time_limit=5, keep_all_chains=0)
    cfg = dataclasses.replace(neural_config(seed=0, label_folder=str(tmp_path), imitation_steps=200, pg_steps=4,
                                            pg_batch=2, pg_samples=4, dagger_rounds=1, dagger_chains=1,
                                            dagger_steps=20, batch_size=8, validation_fraction=0.3),
                              net=SMALL, labels=plan)
    rows: list[dict] = []
    result = train_neural(cfg, on_log=rows.append)
    losses = [r["loss"] for r in rows if r.get("phase") == "imitation"]
    assert losses[-1] < losses[0]
    assert any(r.get("phase") == "policy_gradient" for r in rows) and any(r.get("phase") == "dagger0" for r in rows)
    path = tmp_path / "n.pt"
    save_neural(path, result.net, result.provenance())
    assert load_neural(path).provenance["label_states"] == result.label_states > 12
