"""The command line in-process: generate, evaluate, solution files and bad input (exit 2, field named)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import decision, tiny_doc

from benchmarks.cli import main
from tadp.decision import Decision
from tadp.instance import instance_from_json, read_instance, write_instance
from tadp.solution import SlotEntry, Solution, read_solution, solution_to_json, write_solution


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.json"
    write_instance(instance_from_json(tiny_doc()), path)
    return path


def _solution(entries: list[SlotEntry], mode: str = "episode", name: str = "tiny") -> Solution:
    return Solution(instance=name, solver={"name": "hand", "options": {}}, mode=mode, slots=entries)


def _good_episode() -> Solution:
    """Slot 0: device 0 heavy at the gateway (d = 1.6, J = 0.475), kept; slot 1: resident, d = 0.9, J = 0.475."""
    d0 = decision(["gateway", "none"], [1, 0], [0.5, 0], [0, 0], [0.5, 0], keep_gateway=[[0, 1], [0, 0]])
    d1 = decision(["gateway", "none"], [1, 0], [0.5, 0], [0, 0], [0.5, 0])
    return _solution([
        SlotEntry(0, d0, claimed={"objective": 0.475, "bound": 0.5, "status": "optimal", "time_s": 0.1}),
        SlotEntry(1, d1, claimed={"objective": 0.475}),
    ])


def test_generate_then_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.json"
    assert main(["generate", "--devices", "2,3", "--seed", "4", "--slots", "5", "-o", str(out)]) == 0
    inst = read_instance(out)
    assert inst.name == "2-3-scarce-s4" and inst.n_slots == 5
    again = tmp_path / "g2.json"
    assert main(["generate", "--devices", "2,3", "--seed", "4", "--slots", "5", "-o", str(again)]) == 0
    assert out.read_bytes() == again.read_bytes()
    assert main(["generate", "--size", "2x2", "--set", "B_e=3e6", "--resource-scale", "0.8", "-o", str(out)]) == 0
    inst = read_instance(out)
    assert inst.edge_band == 3e6 and inst.name == "2x2-scarce-s0-custom"


def test_evaluate_episode_json(tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sol = tmp_path / "s.json"
    write_solution(_good_episode(), sol)
    assert main(["evaluate", str(tiny_file), str(sol), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["score"] == pytest.approx(0.475)
    assert [s["slot"] for s in report["slots"]] == [0, 1]
    assert set(report["slots"][0]) == {"slot", "score", "completion", "feasible", "violations",
                                       "claimed_objective", "claim_ok"}
    assert all(s["feasible"] and s["claim_ok"] for s in report["slots"])
    assert main(["evaluate", str(tiny_file), str(sol)]) == 0
    assert "mean score 0.475000" in capsys.readouterr().out


def test_evaluate_flags_a_wrong_claim_and_infeasibility(tiny_file: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    sol = _good_episode()
    sol.slots[1].claimed = {"objective": 0.9, "bound": 0.1}
    sol.slots[0].decision.uplink_share[:] = [0.7, 0.7]  # still fine: device 1 is not served
    bad = decision(["gateway", "gateway"], [0, 0], [0.7, 0.7], [0, 0], [0.5, 0.5])
    sol.slots.append(SlotEntry(2, bad))
    path = tmp_path / "s.json"
    write_solution(sol, path)
    assert main(["evaluate", str(tiny_file), str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["slots"][1]["claim_ok"] is False
    assert report["slots"][2]["feasible"] is False
    assert report["slots"][2]["violations"][0]["constraint"] == "C4"


def test_slots_mode_uses_each_entrys_cache(tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Slot 1 judged alone from a cache holding device 0's heavy model: d = 0.9 <= 1, J = 0.475."""
    inst = read_instance(tiny_file)
    d1 = decision(["gateway", "none"], [1, 0], [0.5, 0], [0, 0], [0.5, 0])
    warm = inst.initial_cache.copy()
    warm.gateway[0, 1] = True
    sol = _solution([SlotEntry(1, d1, cache=warm, claimed={"objective": 0.475})], mode="slots")
    path = tmp_path / "s.json"
    write_solution(sol, path)
    assert read_solution(path, inst).slots[0].cache == warm
    assert main(["evaluate", str(tiny_file), str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == pytest.approx(0.475)


def _bad_solution(tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate) -> str:
    doc = json.loads(solution_to_json(_good_episode()))
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert main(["evaluate", str(tiny_file), str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err
    return err


def test_solution_for_another_instance(tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _bad_solution(tiny_file, tmp_path, capsys, lambda d: d.update(instance="other"))
    assert "instance: solution is for instance 'other'" in err


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["slots"][0]["site"].__setitem__(0, "cloud"), "slots[0].site[0]: unknown site 'cloud'"),
        (lambda d: d["slots"][0]["level"].__setitem__(1, 2), "slots[0].level[1]"),
        (lambda d: d["slots"][1]["bs_share"].__setitem__(0, "x"), "slots[1].bs_share[0]: expected a number"),
        (lambda d: d["slots"][1].update(compute_share=[0.5]), "slots[1].compute_share: expected 2 entries"),
        (lambda d: d["slots"][1].update(slot=5), "slots[1].slot"),
        (lambda d: d.update(mode="both"), "mode: expected 'episode' or 'slots'"),
        (lambda d: d["slots"][0].pop("keep_edge"), "slots[0].keep_edge: missing key"),
    ],
)
def test_malformed_solutions(tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate,
                             fragment: str) -> None:
    assert fragment in _bad_solution(tiny_file, tmp_path, capsys, mutate)


def test_slots_mode_cache_that_overflows(tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def to_slots(doc: dict) -> None:
        doc["mode"] = "slots"
        for entry in doc["slots"]:
            entry["cache"] = {"gateway": [[0, 1], [1, 1]], "edge": [[0, 0], [0, 0]]}  # 120e6 > 100e6

    assert "slots[0].cache: overflows" in _bad_solution(tiny_file, tmp_path, capsys, to_slots)


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.pop("network"), "network: missing key"),
        (lambda d: d["devices"][0].update(extra=1), "devices[0].extra: unexpected key"),
        (lambda d: d["slots"][0].update(data=[1.0]), "slots[0].data: expected 2 entries"),
        (lambda d: d["devices"][1]["model_size"].__setitem__(0, 0), "devices[1].model_size[0]: must be strictly"),
        (lambda d: d["devices"][1].update(model_size=[7e7, 6e7]), "devices[1].model_size: light model"),
        (lambda d: d["devices"][1].update(gateway=1), "devices[1].gateway: index 1 out of range"),
        (lambda d: d.update(initial_cache={"gateway": [[1, 1], [1, 1]], "edge": [[0, 0], [0, 0]]}),
         "initial_cache: overflows"),
    ],
)
def test_bad_instance_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate, fragment: str) -> None:
    doc = tiny_doc()
    mutate(doc)
    inst_path = tmp_path / "bad-instance.json"
    inst_path.write_text(json.dumps(doc))
    sol_path = tmp_path / "s.json"
    sol_path.write_text("{}")
    assert main(["evaluate", str(inst_path), str(sol_path)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and str(inst_path) in err and "Traceback" not in err


def test_nan_instance_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bare NaN is refused in one line that names the file and the field, with exit status 2."""
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(tiny_doc()).replace("2000000.0", "NaN", 1))
    assert main(["evaluate", str(path), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: network.B_e: NaN is not allowed" in err


def test_unwritable_output_folder_exit_2_before_any_work(tiny_file: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A run folder or output file whose folder cannot be created: one line naming it, exit 2, no traceback,
    and no work done (the benchmark would otherwise train and solve first)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["--sizes", "2x5", "--out", str(blocker / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and str(blocker / "run") in err and "Traceback" not in err
    assert main(["solve", str(tiny_file), "--solver", "greedy", "-o", str(blocker / "sol.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--output" in err and str(blocker) in err
    assert main(["generate", "--size", "2x5", "-o", str(blocker / "x.json")]) == 2


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.json"
    assert main(["generate", "--size", "2y5", "-o", str(out)]) == 2
    assert "--size" in capsys.readouterr().err
    assert main(["generate", "--size", "2x5", "--set", "Q=1", "-o", str(out)]) == 2
    assert main(["generate", "--size", "2x5", "--resource-scale", "-1", "-o", str(out)]) == 2
    assert not out.exists()  # nothing half-written
    assert main(["generate", "--size"]) == 2
    assert main(["frobnicate"]) == 2


def test_drop_all_is_a_valid_solution(tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sol = _solution([SlotEntry(t, Decision.drop_all(2), claimed={"objective": 0.0}) for t in range(3)])
    path = tmp_path / "s.json"
    write_solution(sol, path)
    assert main(["evaluate", str(tiny_file), str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == 0.0
