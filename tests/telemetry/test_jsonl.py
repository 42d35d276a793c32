"""Telemetry JSONL → frames (``rppsim.telemetry.jsonl``): the snapshots a collector received
give the frames of a simulated run with its schemas, dtypes and values; bad lines are one
error naming file and line; line order does not matter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rppsim.sim.run as run_module
from rppsim.errors import UserError
from rppsim.guardrails import build_guardrail_context
from rppsim.guardrails.telemetry import compute_counted_emit_failures
from rppsim.scenario import parse_scenario
from rppsim.sim.kernel import Simulation
from rppsim.sim.run import RunResult, execute_run
from rppsim.telemetry.frames import FRAME_SCHEMAS
from rppsim.telemetry.jsonl import (
    LIVE_SOURCE,
    SHIPPED_PROFILES,
    TelemetryFileError,
    compute_advertised_channel,
    compute_live_facts,
    read_telemetry_jsonl,
    write_telemetry_jsonl,
)
from rppsim.verdicts import evaluate_verdicts
from tests.guardrails.conftest import build_rows, build_snapshot

ROOT = Path(__file__).resolve().parents[2]
PROFILE = (ROOT / "node" / "profiles" / "testnet.toml").as_posix()
SMALL: dict[str, Any] = {
    "run": {"seed": 5, "duration_ms": 12_000, "prover": "model", "name": "live"},
    "nodes": {"count": 5, "validators": 3, "profile": PROFILE},
    "network": {"topology": "complete", "link": {"latency_ms": [10, 30]}},
    "traffic": {"tx_per_s": 2.0},
    "telemetry": {"sample_interval_ms": 1_000},
}
"""Three validators and two full nodes (no account: null ledger rows), a snapshot a second."""

Line = tuple[int, int, bytes]


def run_collected(data: dict[str, Any], folder: Path) -> tuple[RunResult, list[Line]]:
    """Run a scenario into ``folder / "run"``, keeping every snapshot the simulated collector
    accepts, as a live collector stores it: (node, time, the canonical JSON emitted)."""
    lines: list[Line] = []

    class Collected(Simulation):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.collector = lambda node, at_ms, payload: lines.append((node, at_ms, payload))

    scenario = parse_scenario(data, folder / "scenario.toml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_module, "Simulation", Collected)
        result = execute_run(scenario, out_dir=folder / "run", record_messages=False)
    return result, lines


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, list[Line], Path]:
    """The small run, its collected snapshots and their JSONL file."""
    folder = tmp_path_factory.mktemp("live")
    result, lines = run_collected(SMALL, folder)
    return result, lines, write_telemetry_jsonl(lines, folder / "telemetry.jsonl")


def _keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    return pd.Series(list(zip(*(frame[c] for c in columns), strict=True)), index=frame.index)


def test_the_snapshots_give_the_runs_frames(small) -> None:
    result, lines, path = small
    run, live = result.frames, read_telemetry_jsonl(path)
    assert sorted(live) == [
        "ledger", "nodes", "rejections", "run_info", "snapshots", "vrf_rejections", "vrf_rounds",
    ]  # fmt: skip
    assert len(lines) == len(run["snapshots"]) > 0 and run["snapshots"]["emit_ok"].all()
    for name in ("snapshots", "nodes"):
        pd.testing.assert_frame_equal(live[name], run[name])
    assert live["nodes"]["role"].tolist() == ["validator"] * 3 + ["full"] * 2
    sampled = _keys(run["rejections"], ["node", "now_ms"]).isin(
        set(_keys(run["snapshots"], ["node", "now_ms"]))
    )
    expected = run["rejections"][sampled].reset_index(drop=True)
    pd.testing.assert_frame_equal(live["rejections"], expected)
    carried = [
        c for c in FRAME_SCHEMAS["ledger"].column_names if c not in ("slashed", "zsi_validated")
    ]
    pd.testing.assert_frame_equal(live["ledger"][carried], run["ledger"][carried])
    assert live["ledger"][["slashed", "zsi_validated"]].isna().all().all()
    assert live["ledger"]["balance"].isna().sum() == 2 * len(live["ledger"]) // 5  # full nodes


def test_vrf_rounds_are_the_runs_rounds_at_sampled_tips(small) -> None:
    result, _, path = small
    run, live = result.frames["vrf_rounds"], read_telemetry_jsonl(path)["vrf_rounds"]
    key = ["node", "height", "round"]
    assert len(live) > 0 and not _keys(live, key).duplicated().any()
    joined = live.merge(run, on=key, suffixes=("", "_run"), validate="one_to_one")
    assert len(joined) == len(live)
    for column, _ in FRAME_SCHEMAS["vrf_rounds"].columns[4:]:
        pd.testing.assert_series_equal(joined[column], joined[f"{column}_run"], check_names=False)
    assert (joined["now_ms"] >= joined["now_ms_run"]).all()  # sampled after the commit


def test_run_info_names_the_source(small) -> None:
    _, lines, path = small
    info = dict(read_telemetry_jsonl(path)["run_info"][["key", "value"]].to_numpy())
    times = [t for _, t, _ in lines]
    assert info["source"] == LIVE_SOURCE and info["telemetry_file"] == str(path)
    assert int(info["duration_ms"]) == max(times) - min(times)


def test_log_lines_give_the_same_frames(small, tmp_path: Path) -> None:
    """Log lines of the node's log-only mode: the snapshot as JSON text under ``fields``,
    node and time beside it or at the top level; other targets and blank lines skipped."""
    _, lines, path = small
    log = tmp_path / "node.log"
    with log.open("w", encoding="utf-8") as handle:
        for k, (node, at_ms, payload) in enumerate(lines):
            fields: dict[str, Any] = {"snapshot": payload.decode(), "message": "snapshot"}
            line: dict[str, Any] = {"level": "INFO", "target": "telemetry", "fields": fields}
            if k % 2:
                line.update(node=node, time_ms=at_ms)
            else:
                fields.update(node=node, time_ms=at_ms)
            handle.write(json.dumps(line) + "\n")
            handle.write('{"target": "consensus", "fields": {"message": "round 1"}}\n\n')
    expected, found = read_telemetry_jsonl(path), read_telemetry_jsonl(log)
    for name in sorted(expected):
        if name != "run_info":
            pd.testing.assert_frame_equal(found[name], expected[name])


@settings(max_examples=10)
@given(order=st.randoms(use_true_random=False))
def test_line_order_does_not_change_the_verdicts(small, tmp_path_factory, order) -> None:
    _, lines, path = small
    shuffled = list(lines)
    order.shuffle(shuffled)
    other = write_telemetry_jsonl(shuffled, tmp_path_factory.mktemp("shuffled") / "t.jsonl")
    frames = read_telemetry_jsonl(other)
    assert evaluate_verdicts(frames, None) == evaluate_verdicts(read_telemetry_jsonl(path), None)


def _write(tmp_path: Path, *texts: str) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    return path


GOOD = '{"node": 0, "time_ms": 1000, "snapshot": {"node": {"height": 1}}}'
BAD_LINES = [
    ("[1, 2]", 2, "expected a JSON object, found [1, 2] (list)"),
    ("{not json", 2, "expected a JSON object, found invalid JSON"),
    ('{"time_ms": 5, "snapshot": {}}', 2, 'expected the node index (an integer ≥ 0) under "node"'),
    ('{"node": "1", "time_ms": 5, "snapshot": {}}', 2, "expected node = the node index"),
    ('{"node": -1, "time_ms": 5, "snapshot": {}}', 2, "found -1 (int)"),
    ('{"node": 1, "time_ms": 5.0, "snapshot": {}}', 2, "expected time_ms = the sample time"),
    ('{"node": 1, "time_ms": true, "snapshot": {}}', 2, "found True (bool)"),
    (
        '{"node": {"height": 1}, "time_ms": 5, "rollout": {}}',
        2,
        'wrap the payload under "snapshot"',
    ),
    ('{"node": 1, "time_ms": 5}', 2, 'expected the telemetry payload under "snapshot"'),
    ('{"node": 1, "time_ms": 5, "snapshot": [1]}', 2, "expected snapshot = a JSON object"),
    ('{"node": 1, "time_ms": 5, "snapshot": "{"}', 2, "expected snapshot as JSON text"),
    ('{"node": 1, "time_ms": 5, "snapshot": {"x": NaN}}', 2, "invalid JSON (NaN is not JSON)"),
    ('{"target": "telemetry", "fields": 3}', 2, "expected a log line's fields object"),
    (GOOD.replace("1000", "1000 "), 2, "found node 0 at 1000 ms again (first on line 1)"),
    (GOOD.replace("1000", "2000").replace("1}", '"x"}'), 2, "snapshot node.height: expected"),
    (GOOD.replace("1000", "2000").replace('"height": 1', '"address": 7'), 2, "node.address"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_LINES)
def test_a_bad_line_names_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = _write(tmp_path, GOOD, text)
    with pytest.raises(TelemetryFileError) as caught:
        read_telemetry_jsonl(path)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value), str(caught.value)


def test_a_file_without_snapshots_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "", '{"target": "p2p", "fields": {}}')
    with pytest.raises(TelemetryFileError, match="expected telemetry snapshot lines, found none"):
        read_telemetry_jsonl(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.jsonl"
    path.write_bytes(GOOD.encode() + b"\n\xff\xfe\n")
    with pytest.raises(TelemetryFileError, match=r"binary.jsonl: expected a readable UTF-8 file"):
        read_telemetry_jsonl(path)


def test_a_node_changing_address_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '{"node": 0, "time_ms": 1, "snapshot": {"node": {"address": "aa"}}}',
        '{"node": 0, "time_ms": 2, "snapshot": {"node": {"address": "bb"}}}',
    )
    with pytest.raises(TelemetryFileError, match=r":2: expected node 0's address 'aa' \(line 1\)"):
        read_telemetry_jsonl(path)


def test_frames_absent_from_the_payload_are_absent(tmp_path: Path) -> None:
    """Payloads without rejections, reputation or VRF metrics give no such frames."""
    path = _write(tmp_path, '{"node": 0, "time_ms": 1, "snapshot": {"node": {"height": 1}}}')
    frames = read_telemetry_jsonl(path)
    assert sorted(frames) == ["nodes", "run_info", "snapshots"]
    assert frames["nodes"]["role"].tolist() == ["full"]


def test_the_context_takes_the_advertised_channels_profile(small) -> None:
    _, _, path = small
    frames = read_telemetry_jsonl(path)
    assert compute_advertised_channel(frames["snapshots"]) == "testnet"
    facts = compute_live_facts(frames)
    assert facts["profile_path"] == str(SHIPPED_PROFILES / "testnet.toml")
    context = build_guardrail_context(frames, None)
    assert context.overrides == {} and context.config["rollout"]["release_channel"] == "testnet"
    assert context.checks.block_time_ms == context.config["block_time_ms"]
    assert context.checks.validators == frozenset({0, 1, 2}) and not context.checks.byzantine
    assert {"byzantine", "has_work", "round_timeout_ms"} <= context.checks.unknown


def test_a_channel_without_a_shipped_profile_needs_one(tmp_path: Path) -> None:
    snapshot = {"rollout": {"release_channel": "nightly"}}
    path = tmp_path / "t.jsonl"
    write_telemetry_jsonl([(0, 1, snapshot), (1, 1, snapshot)], path)
    frames = read_telemetry_jsonl(path)
    with pytest.raises(UserError, match="--profile FILE"):
        compute_live_facts(frames)
    assert compute_live_facts(frames, PROFILE)["profile_path"] == PROFILE


def test_the_advertised_channel_is_the_most_common_then_the_earlier() -> None:
    def channel(*channels: str | None) -> str | None:
        rows = [build_snapshot(n, 1000, release_channel=c) for n, c in enumerate(channels)]
        return compute_advertised_channel(build_rows("snapshots", rows))

    assert channel("canary", "testnet", "testnet", "canary") == "testnet"
    assert channel("mainnet", "canary", "canary", None) == "canary"
    assert channel(None, None) is None


def test_counted_emit_failures_are_rises_of_the_nodes_counters() -> None:
    """A collector sees no failed emit; the node's cumulative counters say how many: each
    rise counts, and a fall (a restart) counts the new value whole."""
    values = [(1000, 0), (2000, 2), (3000, 2), (4000, 1), (5000, None), (6000, 4)]
    rows = [build_snapshot(0, t, emits_failed_transport=v) for t, v in values]
    rows.append(build_snapshot(1, 3000, emits_failed_status=1))
    counted = compute_counted_emit_failures(build_rows("snapshots", rows))
    assert counted.to_dict("records") == [
        {"now_ms": 2000, "node": 0, "error_class": "transport", "count": 2},
        {"now_ms": 3000, "node": 1, "error_class": "status", "count": 1},
        {"now_ms": 4000, "node": 0, "error_class": "transport", "count": 1},
        {"now_ms": 6000, "node": 0, "error_class": "transport", "count": 3},
    ]
