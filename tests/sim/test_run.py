"""``execute_run`` and ``rppsim run`` (rppsim/sim/run.py, rppsim/cli.py): run folders, flags."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rppsim.cli import main
from rppsim.errors import UserError
from rppsim.sim.run import default_out_dir, execute_run
from rppsim.telemetry.digest import compute_frames_digest
from rppsim.telemetry.frames import (
    FRAME_NAMES,
    SNAPSHOT_FIELDS,
    flatten_payload,
    is_snapshot_path_mapped,
)
from rppsim.telemetry.runfolder import SUMMARY_FILE, read_run_folder

SHORT_MS = 20_000
SAMPLED_MS = 31_000  # two telemetry samples (every 15 s) per node
DIGEST = re.compile(r"^seed (\d+)  digest ([0-9a-f]{64})$", re.MULTILINE)


@pytest.fixture(scope="module")
def written(tmp_path_factory, scenario, safe):
    """The base scenario cut to 20 s, run once into a run folder."""
    out = tmp_path_factory.mktemp("run") / "base"
    result = execute_run(scenario("base"), duration_ms=SHORT_MS, out_dir=out)
    safe(result.frames)
    return result


@pytest.fixture(scope="module")
def sampled(simulation, scenario):
    """The base scenario run for SAMPLED_MS, its frames, and every payload its nodes emitted."""
    sim = simulation(scenario("base"), duration_ms=SAMPLED_MS)
    payloads: list[dict] = []
    record = sim.recorder.record_snapshot

    def keep(node: int, now_ms: int, payload: dict, **kwargs: object) -> None:
        payloads.append(payload)
        record(node, now_ms, payload, **kwargs)  # type: ignore[arg-type]

    sim.recorder.record_snapshot = keep  # type: ignore[method-assign]
    sim.run()
    return sim, sim.recorder.frames(), payloads


def test_every_payload_path_is_a_snapshot_column_or_listed_as_unmapped(sampled) -> None:
    _, _, payloads = sampled
    paths = {path for payload in payloads for path in flatten_payload(payload)}
    assert len(paths) > 50
    assert sorted(path for path in paths if not is_snapshot_path_mapped(path)) == []


def test_no_snapshot_column_is_all_null_where_the_node_reports_it(sampled) -> None:
    _, frames, payloads = sampled
    snapshots = frames["snapshots"]
    reported = {
        path
        for payload in payloads
        for path, value in flatten_payload(payload).items()
        if value is not None
    }
    assert {"node.reputation.tier", "node.reputation.timetoke_hours"} <= reported
    assert {"verifier_metrics.cache.entries", "verifier_metrics.cache.capacity"} <= reported
    assert ("cache_entries", "Int64", "verifier_metrics.cache.entries") in SNAPSHOT_FIELDS
    for column, _, path in SNAPSHOT_FIELDS:
        if path in reported:
            assert snapshots[column].notna().any(), column
        else:
            assert snapshots[column].isna().all(), column  # e.g. verifier_*, cache_*
    assert snapshots["tier"].max() >= 1 and snapshots["timetoke_hours"].max() > 0
    assert snapshots["reputation_score"].max() > 0
    assert (snapshots["cache_entries"] <= snapshots["cache_capacity"]).all()


def test_ledger_and_rejections_are_sampled_with_the_snapshots(sampled) -> None:
    sim, frames, _ = sampled
    snapshots, ledger, rejections = frames["snapshots"], frames["ledger"], frames["rejections"]
    key = ["node", "now_ms"]
    assert ledger[key].values.tolist() == snapshots[key].values.tolist()
    assert ledger["address"].tolist() == [sim.addresses[i] for i in ledger["node"]]
    own = ledger[ledger["tier"].notna()]
    assert len(own) and (own["stake"] > 0).all() and (own["slashed"] == 0).all()
    same = own.merge(snapshots, on=key, suffixes=("", "_snapshot"))
    assert (same["tier"] == same["tier_snapshot"]).all()
    assert (same["timetoke_hours"] == same["timetoke_hours_snapshot"]).all()
    times = set(rejections["now_ms"])
    assert sim.duration_ms in times and times - {sim.duration_ms} <= set(snapshots["now_ms"])
    for _, counts in rejections.groupby(["node", "reason"])["count"]:
        assert counts.is_monotonic_increasing


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``rppsim ARGV`` (argparse exits are caught)."""
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_execute_run_writes_a_folder_that_reads_back_to_the_same_digest(written) -> None:
    assert written.out_dir is not None
    names = sorted(p.name for p in written.out_dir.iterdir())
    assert names == sorted(
        [*(f"{name}.parquet" for name in FRAME_NAMES), SUMMARY_FILE, "verdicts.json", "junit.xml"]
    )
    frames, summary = read_run_folder(written.out_dir)
    assert summary == json.loads(json.dumps(written.summary))
    assert compute_frames_digest(frames) == summary["digest"] == written.summary["digest"]


def test_the_summary_names_the_run(written, scenario) -> None:
    summary = written.summary
    base = scenario("base")
    assert summary["seed"] == base.run.seed
    assert summary["scenario_digest"] == base.digest()
    info = dict(
        zip(written.frames["run_info"]["key"], written.frames["run_info"]["value"], strict=True)
    )
    assert info["seed"] == str(base.run.seed) and info["prover"] == "model"
    assert info["duration_ms"] == str(SHORT_MS) and info["scenario"] == "base"
    assert (written.frames["block_finalized"]["finalized_ms"] < SHORT_MS).all()
    assert min(summary["final_heights"].values()) >= 2
    blocks = written.frames["blocks"]
    assert summary["duration_ms"] == SHORT_MS
    assert (
        summary["counts"]["blocks"]
        == len(blocks)
        == len(blocks[["height", "hash"]].drop_duplicates())
    )
    assert summary["counts"]["heights"] == blocks["height"].nunique()
    assert summary["wall"]["wall_time_s"] > 0


def test_without_write_nothing_is_written(scenario, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = execute_run(scenario("base"), duration_ms=3_000, write=False)
    assert result.out_dir is None and list(tmp_path.iterdir()) == []
    assert result.summary["digest"] == compute_frames_digest(result.frames)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"seed": 2**64}, "--seed"),
        ({"duration_ms": 0}, "--duration-ms"),
        ({"duration_ms": 10**30}, "--duration-ms"),
    ],
)
def test_overrides_out_of_range_are_user_errors(scenario, override, key) -> None:
    with pytest.raises(UserError) as error:
        execute_run(scenario("base"), write=False, **override)
    assert error.value.key == key and "expected" in str(error.value)


def test_cli_run_prints_seed_and_digest_and_writes_the_folder(
    capsys, scenario_path, tmp_path, written
) -> None:
    out = tmp_path / "cli"
    code, stdout, stderr = _cli(
        capsys, "run", str(scenario_path("base")), "--quiet", "--out", str(out),
        "--duration-ms", str(SHORT_MS),
    )  # fmt: skip
    assert code == 0, stderr
    seed, digest = DIGEST.search(stdout).groups()  # type: ignore[union-attr]
    assert int(seed) == 11 and digest == written.summary["digest"]
    assert f"run folder {out}" in stdout
    _, summary = read_run_folder(out)
    assert summary["digest"] == digest


def test_cli_seed_replays_a_run_and_another_seed_differs(
    capsys, scenario, scenario_path, tmp_path, monkeypatch, written
) -> None:
    monkeypatch.chdir(tmp_path)
    path = str(scenario_path("base"))
    code, stdout, _ = _cli(capsys, "run", path, "--quiet", "--seed", "12", "--duration-ms", "20000")
    assert code == 0
    seed, digest = DIGEST.search(stdout).groups()  # type: ignore[union-attr]
    assert seed == "12" and digest != written.summary["digest"]
    folder = default_out_dir(scenario("base"), 12, 20_000)
    assert folder == Path("reports") / "base" / "12-20000ms"
    assert (tmp_path / folder / SUMMARY_FILE).is_file()
    replay = execute_run(scenario("base"), seed=12, duration_ms=SHORT_MS, write=False)
    assert replay.summary["digest"] == digest


def test_cli_duration_ms_sets_the_simulated_time(capsys, scenario_path, tmp_path) -> None:
    out = tmp_path / "short"
    code, _, _ = _cli(
        capsys,
        "run",
        str(scenario_path("base")),
        "--quiet",
        "--duration-ms",
        "7000",
        "--out",
        str(out),
    )
    assert code == 0
    frames, _ = read_run_folder(out)
    info = dict(zip(frames["run_info"]["key"], frames["run_info"]["value"], strict=True))
    assert info["duration_ms"] == "7000"
    assert 5_000 < frames["messages"]["sent_ms"].max() < 7_000 + 1_000  # + processing time
    assert set(frames["block_finalized"]["height"]) == {1}


@pytest.mark.parametrize(
    "flags",
    [
        ["--seed", "-3"],
        ["--seed", "seven"],
        ["--duration-ms", "1.5"],
        ["--duration-ms", "0"],
        ["--seed", str(2**64)],
        ["--bogus"],
    ],
)
def test_cli_bad_flags_give_one_line_and_exit_2(capsys, scenario_path, tmp_path, flags) -> None:
    path = str(scenario_path("base"))
    code, _, stderr = _cli(capsys, "run", path, "--quiet", "--out", str(tmp_path / "x"), *flags)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1 and "error" in stderr
    assert not (tmp_path / "x").exists()


def test_cli_missing_or_invalid_scenario_gives_one_line_and_exit_2(capsys, tmp_path) -> None:
    code, _, stderr = _cli(capsys, "run", str(tmp_path / "nope.toml"), "--quiet")
    assert code == 2 and stderr.count("\n") == 1 and "nope.toml" in stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[run]\nseed = 1\nduration_ms = 1000\nspeed = "fast"\n', encoding="utf-8")
    code, _, stderr = _cli(capsys, "run", str(bad), "--quiet")
    assert code == 2 and stderr.count("\n") == 1 and "run.speed" in stderr


def test_stepping_does_not_change_the_run(scenario, monkeypatch) -> None:
    """``execute_run`` advances in STOP_EVERY_MS steps to look at ``stop``: one step for the
    whole run gives byte-identical frames."""
    import rppsim.sim.run

    stepped = execute_run(scenario("base"), duration_ms=5_000, write=False)
    monkeypatch.setattr(rppsim.sim.run, "STOP_EVERY_MS", 10**9)
    whole = execute_run(scenario("base"), duration_ms=5_000, write=False)
    assert stepped.summary["digest"] == whole.summary["digest"]
    assert "interrupted" not in stepped.summary


def test_a_stopped_run_is_written_as_interrupted_at_the_time_reached(scenario, tmp_path) -> None:
    looks = iter(range(10**6))
    out = tmp_path / "stopped"
    result = execute_run(
        scenario("base"), duration_ms=SHORT_MS, out_dir=out, stop=lambda: next(looks) >= 300
    )
    assert result.summary["interrupted"] is True and result.summary["duration_ms"] == 3_000
    frames, summary = read_run_folder(out)
    info = dict(zip(frames["run_info"]["key"], frames["run_info"]["value"], strict=True))
    assert info["interrupted"] == "true" and info["duration_ms"] == "3000"
    assert summary["digest"] == result.summary["digest"]
    assert frames["messages"]["sent_ms"].max() < 3_000


def test_a_failed_write_leaves_no_half_written_folder(scenario, tmp_path, monkeypatch) -> None:
    import rppsim.sim.run

    def crash(folder, *args, **kwargs):
        (Path(folder) / "blocks.parquet").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(rppsim.sim.run, "write_run_folder", crash)
    with pytest.raises(OSError, match="disk full"):
        execute_run(scenario("base"), duration_ms=2_000, out_dir=tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_a_fast_engine_run_is_placed_like_a_full_one(scenario, tmp_path) -> None:
    from dataclasses import replace

    base = scenario("base")
    fast = replace(base, run=replace(base.run, engine="fast"))
    out = tmp_path / "fast"
    first = execute_run(fast, duration_ms=10_000, out_dir=out)
    assert first.out_dir == out and (out / "junit.xml").is_file()
    assert read_run_folder(out)[1]["digest"] == first.summary["digest"]
    with pytest.raises(UserError, match="a folder holding another run"):
        execute_run(fast, duration_ms=10_000, out_dir=out)
    again = execute_run(fast, duration_ms=10_000, out_dir=out, force=True)
    assert again.summary["digest"] == first.summary["digest"]
    assert [p.name for p in tmp_path.iterdir()] == ["fast"]
