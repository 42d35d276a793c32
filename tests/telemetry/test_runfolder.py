"""Run folder: Parquet round trip, summary.json format and content, wall outside the digest."""

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from rppsim.errors import UserError
from rppsim.telemetry.digest import compute_frames_digest
from rppsim.telemetry.frames import FRAME_NAMES, RunRecorder
from rppsim.telemetry.runfolder import (
    SUMMARY_FILE,
    SUMMARY_FORMAT,
    compute_summary,
    compute_summary_digest,
    compute_summary_text,
    get_arrow_schema,
    read_run_folder,
    write_run_folder,
)


def _record_run(sample_rate: float = 1.0) -> dict[str, pd.DataFrame]:
    """Three nodes, two heights (one forked), a partition, cumulative rejections, nulls and
    -0.0 floats, a ledger row without an account."""
    recorder = RunRecorder(message_sample_rate=sample_rate)
    for node in range(3):
        recorder.record_node(node, f"{node:064x}", "validator", ["eu", "us", "ap"][node])
    for msg_id in range(40):
        receivers = np.array([1, 2], np.int32) if msg_id % 4 else np.array([1], np.int32)
        dropped = [] if msg_id % 4 else [2]
        recorder.record_flood(
            msg_id, "blocks", 0, 10 * msg_id, 500, receivers, 10 * msg_id + 3 * receivers,
            receivers, dropped, "partitioned",
        )  # fmt: skip
    for height in (1, 2):
        recorder.record_block(height, f"h{height}", height % 3, 0, 1000 * height, tx_count=height)
        for node in range(3 if height == 1 else 2):
            recorder.record_block_finalized(height, node, f"h{height}", 1000 * height + 40 + node)
    recorder.record_block(2, "fork", 1, 1, 2100)
    recorder.record_vrf_round(
        0,
        900,
        1,
        0,
        {"participation_rate": -0.0, "success_rate": None, "rejections_by_reason": {"r": 2}},
    )
    recorder.record_snapshot(1, 2000, {"node": {"height": 2}}, emit_ok=False, emit_error="x")
    recorder.record_snapshot(2, 2000, {"node": {"height": 1}})
    recorder.record_ledger(1, 2000, f"{1:064x}", None, None)
    recorder.record_run_info("duration_ms", "3000")
    recorder.record_rejections(0, 1000, {"bad signature": 2, "unknown topic": 1})
    recorder.record_rejections(0, 2000, {"bad signature": 5})
    recorder.record_rejections(1, 2000, {"bad signature": 1})
    recorder.record_fault(1500, "partition_start", "start", [2])
    recorder.record_vote(1, 0, "prevote", 1, "h1", 1010)
    recorder.record_alert("ChainStall", "critical", 2500, labels='{severity="critical"}')
    return recorder.frames()


def _assert_same_frames(left: dict, right: dict) -> None:
    assert sorted(left) == sorted(right)
    for name, frame in left.items():
        pd.testing.assert_frame_equal(frame, right[name], check_exact=True)


def test_round_trip_gives_equal_frames_summary_and_digest(tmp_path):
    frames = _record_run()
    summary = compute_summary(frames, seed=11, scenario_digest="ab" * 16, wall={"wall_time_s": 0.5})
    write_run_folder(tmp_path / "run", frames, summary)
    read_frames, read_summary = read_run_folder(tmp_path / "run")
    _assert_same_frames(frames, read_frames)
    assert read_summary == summary
    assert compute_frames_digest(read_frames) == summary["digest"] == compute_frames_digest(frames)
    assert np.signbit(read_frames["vrf_rounds"]["participation_rate"].iloc[0])


def test_nulls_survive_the_round_trip(tmp_path):
    frames = _record_run()
    write_run_folder(tmp_path, frames, compute_summary(frames, seed=1, scenario_digest="s"))
    read_frames, summary = read_run_folder(tmp_path)
    snapshots = read_frames["snapshots"]
    assert snapshots["emit_error"].tolist() == ["x", pd.NA]
    assert snapshots["tier"].isna().all() and snapshots["height"].tolist() == [2, 1]
    assert read_frames["ledger"].drop(columns=["node", "now_ms", "address"]).isna().all().all()
    assert read_frames["vrf_rounds"]["success_rate"].isna().all()
    assert summary["duration_ms"] == 3000
    messages = read_frames["messages"]
    assert messages["dropped"].sum() == 10
    assert (messages["recv_ms"].isna() == messages["dropped"]).all()
    assert (messages["hops"].isna() == messages["dropped"]).all()
    assert read_frames["votes"]["receivers"].isna().all()
    alert = read_frames["alerts"].iloc[0]
    assert alert["node"] is pd.NA and alert["end_ms"] is pd.NA  # fleet-wide, still firing
    assert alert["labels"] == '{severity="critical"}'


def test_a_folder_of_an_older_format_is_a_user_error(tmp_path):
    """Formats 1 and 2 wrote -1 and "" where values were missing: reading them as format 3
    would give wrong answers, so they are refused."""
    frames = _record_run()
    summary = compute_summary(frames, seed=1, scenario_digest="s")
    assert summary["format"] == SUMMARY_FORMAT == "rppsim-run/3"
    write_run_folder(tmp_path, frames, summary | {"format": "rppsim-run/2"})
    with pytest.raises(UserError, match=r"format: expected 'rppsim-run/3'.*found 'rppsim-run/2'"):
        read_run_folder(tmp_path)
    write_run_folder(tmp_path, frames, {k: v for k, v in summary.items() if k != "format"})
    with pytest.raises(UserError, match="found None"):
        read_run_folder(tmp_path)


def test_verdict_counts_are_in_the_summary():
    frames = _record_run()
    verdicts = [{"passed": True}, {"passed": False}, {"passed": None}, {"passed": True}]
    summary = compute_summary(frames, seed=1, scenario_digest="s", verdicts=verdicts)
    assert summary["verdicts"] == {"passed": 2, "failed": 1, "not_applicable": 1}


def test_empty_run_round_trips(tmp_path):
    frames = RunRecorder().frames()
    write_run_folder(tmp_path, frames, compute_summary(frames, seed=0, scenario_digest=""))
    read_frames, summary = read_run_folder(tmp_path)
    _assert_same_frames(frames, read_frames)
    assert summary["final_heights"] == {}
    assert summary["counts"]["messages_delivered"] == 0


def test_run_folder_files_and_parquet_schemas(tmp_path):
    frames = _record_run()
    write_run_folder(tmp_path, frames, compute_summary(frames, seed=1, scenario_digest="s"))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([f"{n}.parquet" for n in FRAME_NAMES] + [SUMMARY_FILE])
    for name in FRAME_NAMES:
        schema = pq.read_schema(tmp_path / f"{name}.parquet")
        assert schema.remove_metadata() == get_arrow_schema(name)


def test_writing_twice_gives_identical_files(tmp_path):
    frames = _record_run()
    summary = compute_summary(frames, seed=3, scenario_digest="s")
    write_run_folder(tmp_path / "a", frames, summary)
    write_run_folder(tmp_path / "b", _record_run(), summary)
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_summary_json_is_sorted_indented_with_trailing_newline(tmp_path):
    frames = _record_run()
    summary = compute_summary(frames, seed=5, scenario_digest="s", wall={"wall_time_s": 1.25})
    write_run_folder(tmp_path, frames, summary)
    text = (tmp_path / SUMMARY_FILE).read_text(encoding="utf-8")
    assert text == json.dumps(summary, sort_keys=True, indent=2) + "\n"
    assert text == compute_summary_text(summary) and text.endswith("}\n")
    assert list(json.loads(text)) == sorted(summary)


def test_summary_content():
    frames = _record_run()
    summary = compute_summary(frames, seed=9, scenario_digest="cafe")
    assert (summary["seed"], summary["scenario_digest"]) == (9, "cafe")
    assert summary["digest"] == compute_frames_digest(frames)
    assert summary["final_heights"] == {"0": 2, "1": 2, "2": 1}
    counts = summary["counts"]
    assert (counts["messages_delivered"], counts["messages_dropped"]) == (70, 10)
    assert (counts["blocks"], counts["heights"]) == (3, 2)  # a row per (height, hash)
    assert (counts["votes"], counts["snapshot_emit_errors"]) == (1, 1)
    assert summary["duration_ms"] == 3000 and "verdicts" not in summary
    assert counts["rejections_by_reason"] == {"bad signature": 6, "unknown topic": 1}
    assert summary["frames"] == {name: len(frames[name]) for name in FRAME_NAMES}
    assert summary["messages_mode"] == "all" and "wall" not in summary


def test_sampled_run_counts_every_message_seen():
    sampled = compute_summary(_record_run(0.3), seed=9, scenario_digest="cafe")
    full = compute_summary(_record_run(), seed=9, scenario_digest="cafe")
    assert sampled["counts"] == full["counts"]
    assert sampled["messages_mode"] == "sampled"
    assert sampled["frames"]["messages"] < full["frames"]["messages"]
    assert sampled["digest"] != full["digest"]


def test_wall_clock_figures_stay_outside_the_digests():
    frames = _record_run()
    fast = compute_summary(frames, seed=2, scenario_digest="s", wall={"wall_time_s": 0.1})
    slow = compute_summary(frames, seed=2, scenario_digest="s", wall={"wall_time_s": 9.0})
    bare = compute_summary(frames, seed=2, scenario_digest="s")
    assert fast["digest"] == slow["digest"] == bare["digest"]
    assert (
        compute_summary_digest(fast) == compute_summary_digest(slow) == compute_summary_digest(bare)
    )
    other_seed = compute_summary(frames, seed=3, scenario_digest="s")
    assert compute_summary_digest(other_seed) != compute_summary_digest(bare)


def test_reading_a_folder_without_summary_or_frames_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"summary\.json"):
        read_run_folder(tmp_path)
    frames = _record_run()
    write_run_folder(tmp_path, frames, compute_summary(frames, seed=1, scenario_digest="s"))
    (tmp_path / "votes.parquet").unlink()
    with pytest.raises(UserError, match="missing \\['votes'\\]"):
        read_run_folder(tmp_path)


def test_reading_a_frame_with_the_wrong_columns_is_a_user_error(tmp_path):
    frames = _record_run()
    write_run_folder(tmp_path, frames, compute_summary(frames, seed=1, scenario_digest="s"))
    broken = pd.DataFrame({"node": np.array([1], np.int32), "address": ["a"]})
    broken.to_parquet(tmp_path / "nodes.parquet", index=False)
    with pytest.raises(UserError, match=r"nodes\.parquet: nodes: expected the nodes frame schema"):
        read_run_folder(tmp_path)


def test_writing_over_a_folder_of_other_frames_is_refused(tmp_path):
    frames = _record_run()
    write_run_folder(tmp_path, frames, compute_summary(frames, seed=1, scenario_digest="s"))
    fewer = {name: frames[name] for name in FRAME_NAMES if name != "alerts"}
    with pytest.raises(UserError, match=r"other frames \['alerts'\]"):
        write_run_folder(tmp_path, fewer, {})


def test_rewriting_a_run_folder_replaces_it_and_a_corrupt_frame_is_a_user_error(tmp_path):
    first, second = _record_run(), RunRecorder().frames()
    write_run_folder(tmp_path, first, compute_summary(first, seed=1, scenario_digest="s"))
    write_run_folder(tmp_path, second, compute_summary(second, seed=2, scenario_digest="s"))
    frames, summary = read_run_folder(tmp_path)
    assert summary["seed"] == 2
    _assert_same_frames(frames, second)
    (tmp_path / "votes.parquet").write_bytes(b"not parquet")
    with pytest.raises(UserError, match=r"votes\.parquet: expected a Parquet file"):
        read_run_folder(tmp_path)


def test_extra_frames_round_trip_as_written(tmp_path):
    frames = _record_run() | {"guardrails": pd.DataFrame({"check": ["liveness"], "ok": [True]})}
    write_run_folder(tmp_path, frames, compute_summary(frames, seed=1, scenario_digest="s"))
    read_frames, _ = read_run_folder(tmp_path)
    _assert_same_frames(frames, read_frames)
