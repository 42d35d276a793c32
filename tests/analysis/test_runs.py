"""Loading runs: provenance on every frame, many runs concatenated, verdicts as a frame."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from rppsim.analysis.runs import (
    PROVENANCE,
    VERDICT_COLUMNS,
    build_run,
    compute_verdict_frame,
    concat_runs,
    load_run,
    load_runs,
)
from rppsim.analysis.series import compute_finality_lag, compute_participation
from rppsim.errors import UserError
from rppsim.model.engine import run_model
from rppsim.scenario import load_scenario
from rppsim.sim.run import execute_run
from rppsim.telemetry.frames import FRAME_NAMES

SCENARIO = Path(__file__).parents[2] / "scenarios" / "research" / "pool-larger-than-committee.toml"


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A short full-engine run and two fast-engine runs of the same scenario, written."""
    root = tmp_path_factory.mktemp("runs")
    scenario = load_scenario(SCENARIO)
    fast = replace(scenario, run=replace(scenario.run, engine="fast"))
    execute_run(scenario, duration_ms=20_000, out_dir=root / "full")
    execute_run(fast, duration_ms=60_000, out_dir=root / "fast-a")
    execute_run(fast, seed=24, duration_ms=60_000, out_dir=root / "fast-b")
    return {p.name: p for p in root.iterdir()}


def test_every_frame_starts_with_the_runs_provenance(folders: dict[str, Path]) -> None:
    run = load_run(folders["full"])
    assert (run.provenance.run, run.provenance.seed, run.provenance.engine) == ("full", 23, "full")
    assert run.provenance.scenario_digest == run.summary["scenario_digest"]
    assert set(run.frames) == set(FRAME_NAMES)
    for name, frame in run.frames.items():
        assert tuple(frame.columns[:4]) == PROVENANCE, name
        assert set(frame["engine"]) <= {"full"} and set(frame["seed"]) <= {23}, name
    assert len(run.frames["blocks"]) == run.summary["counts"]["blocks"]


def test_the_fast_engine_is_named_by_its_run_info(folders: dict[str, Path]) -> None:
    run = load_run(folders["fast-b"], label="b", keep=["blocks", "ledger"])
    assert run.provenance.engine == "fast" and run.provenance.seed == 24
    assert set(run.frames) == {"blocks", "ledger"}
    assert set(run.frames["blocks"]["run"]) == {"b"}


def test_verdicts_are_a_frame_with_statuses(folders: dict[str, Path]) -> None:
    run = load_run(folders["full"])
    assert tuple(run.verdicts.columns) == (*PROVENANCE, *VERDICT_COLUMNS)
    counts = run.verdicts["status"].value_counts().to_dict()
    expected = run.summary["verdicts"]
    assert counts.get("pass", 0) == expected["passed"]
    assert counts.get("fail", 0) == expected["failed"]
    assert counts.get("n/a", 0) == expected["not_applicable"]


def test_load_runs_concatenates_frames_by_run(folders: dict[str, Path]) -> None:
    paths = [folders["fast-a"], folders["fast-b"]]
    frames = load_runs(paths, keep=["blocks"])
    blocks = frames["blocks"]
    assert sorted(set(blocks["run"])) == sorted(str(p) for p in paths)
    assert sorted(set(blocks["seed"].tolist())) == [23, 24]
    singles = [load_run(p, keep=["blocks"]).frames["blocks"] for p in paths]
    assert len(blocks) == sum(len(f) for f in singles)
    assert set(frames) == {"blocks", "verdicts"}


def test_load_runs_refuses_a_folder_twice_and_nothing(folders: dict[str, Path]) -> None:
    with pytest.raises(UserError, match="each run folder once"):
        load_runs([folders["full"], folders["full"]])
    with pytest.raises(UserError, match="at least one run folder"):
        load_runs([])


def test_a_folder_that_is_no_run_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"summary\.json"):
        load_run(tmp_path)


def test_build_run_in_memory_matches_the_written_folder(folders: dict[str, Path]) -> None:
    scenario = load_scenario(SCENARIO)
    result = execute_run(scenario, duration_ms=20_000, write=False)
    memory = build_run(result.frames, result.summary, result.verdicts, label="full")
    disk = load_run(folders["full"])
    assert memory.provenance == disk.provenance
    pd.testing.assert_frame_equal(memory.frames["blocks"], disk.frames["blocks"])
    pd.testing.assert_frame_equal(memory.verdicts, disk.verdicts)


def test_a_fast_run_in_memory_has_every_frame_and_no_finality_lag() -> None:
    fast = load_scenario(SCENARIO)
    fast = replace(fast, run=replace(fast.run, engine="fast"))
    model = run_model(fast, duration_ms=30_000)
    assert "block_finalized" not in model.frames
    run = build_run(model.frames, label="model")
    assert set(run.frames) == set(FRAME_NAMES)
    assert run.provenance.engine == "fast" and run.provenance.seed == 23
    assert compute_finality_lag(run.frames).empty
    assert len(compute_participation(run.frames)) == len(model.frames["blocks"])


def test_verdict_frame_maps_passed_to_status() -> None:
    verdicts: list[dict[str, object]] = [
        {"id": "a", "kind": "checker", "passed": True, "severity": "critical", "figure": 1},
        {"id": "b", "kind": "alert", "passed": False, "time_ms": 5, "node": 3},
        {"id": "c", "kind": "guardrail", "passed": None, "message": "why"},
    ]
    frame = compute_verdict_frame(verdicts)
    assert frame["status"].tolist() == ["pass", "fail", "n/a"]
    assert frame["passed"].isna().tolist() == [False, False, True]
    assert frame["time_ms"].isna().tolist() == [True, False, True]
    assert frame.loc[1, "node"] == 3


def test_concat_runs_keeps_run_order() -> None:
    frames = {"nodes": pd.DataFrame({"node": [0], "role": ["validator"]})}
    runs = [build_run(frames, {"seed": s}, label=f"r{s}") for s in (5, 2)]
    assert concat_runs(runs)["nodes"]["run"].tolist() == ["r5", "r2"]
