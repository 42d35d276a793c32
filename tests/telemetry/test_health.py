"""The health summary of ``rppsim run`` (rppsim/telemetry/health.py) on hand-built frames."""

from __future__ import annotations

from rppsim.telemetry.frames import build_frame, get_empty_frame
from rppsim.telemetry.health import (
    compute_drops,
    compute_finality_lags,
    compute_health_lines,
    compute_top_rejections,
)


def _frames(**given):
    from rppsim.telemetry.frames import FRAME_NAMES

    frames = {name: get_empty_frame(name) for name in FRAME_NAMES}
    frames["nodes"] = build_frame(
        "nodes",
        {
            "node": [0, 1, 2],
            "address": ["a", "b", "c"],
            "role": ["validator"] * 3,
            "region": [""] * 3,
            "byzantine": [False, False, True],
        },
    )
    frames["blocks"] = build_frame(
        "blocks",
        {
            "height": [1, 2],
            "hash": ["h1", "h2"],
            "previous_hash": ["", "h1"],
            "proposer": [0, 1],
            "round": [0, 0],
            "proposed_ms": [5_000, 10_000],
            "tx_count": [1, 1],
            "identity_count": [0, 0],
            "uptime_count": [0, 0],
            "consensus_proof": [False, True],
            "proof_system": ["model"] * 2,
            "proof_bytes_total": [10, 10],
            "state_root": ["r1", "r2"],
            "recursive_commitment": ["c1", "c2"],
            "recursive_previous_commitment": ["c0", "c1"],
        },
    )
    frames["block_finalized"] = build_frame(
        "block_finalized",
        {
            "height": [1, 1, 1, 2, 2],
            "node": [0, 1, 2, 0, 1],
            "hash": ["h1", "h1", "h1", "h2", "h2"],
            "finalized_ms": [5_100, 5_300, 9_999, 10_200, 10_400],
        },
    )
    frames.update(given)
    return frames


def test_finality_lags_leave_out_byzantine_nodes():
    assert sorted(compute_finality_lags(_frames())) == [100, 200, 300, 400]


def test_drops_and_top_rejections():
    messages = build_frame(
        "messages",
        {
            "msg_id": [1, 1, 1, 2],
            "topic": ["votes"] * 4,
            "origin": [0, 0, 0, 1],
            "receiver": [1, 2, 3, 0],
            "sent_ms": [0] * 4,
            "recv_ms": [5, None, None, None],
            "hops": [1, None, None, None],
            "bytes": [10] * 4,
            "dropped": [False, True, True, True],
            "drop_reason": ["", "loss", "partitioned", "loss"],
        },
    )
    assert compute_drops(messages) == {"loss": 2, "partitioned": 1}
    rejections = build_frame(
        "rejections",
        {
            "node": [0, 0, 1, 1, 1],
            "now_ms": [10, 20, 10, 20, 20],
            "reason": ["a", "a", "a", "a", "b"],
            "count": [1, 5, 2, 3, 9],
        },
    )
    assert compute_top_rejections(rejections) == [("a", 8), ("b", 9)][::-1]


def test_health_lines_say_rate_finality_drops_alerts_rejections():
    lines = compute_health_lines(_frames(), 60_000, 5_000)
    assert lines[0] == (
        "heights 2 (2 blocks) in 60.0 s: 2.0 per minute against 12.0 scheduled (block time 5000 ms)"
    )
    assert lines[1] == "finality lag p50 250 ms, p95 385 ms (proposal → finalized)"
    assert lines[2] == "drops: messages not recorded"
    assert lines[3:] == ["alerts fired: 0", "top rejections: none"]


def test_health_lines_of_a_run_without_finalizations_messages_or_rejections():
    """The fast engine writes blocks but no finalizations, messages, alerts or rejections:
    every block counts as a height and the other lines say what was not recorded."""
    frames = _frames()
    for name in ("block_finalized", "messages", "alerts", "rejections"):
        del frames[name]
    lines = compute_health_lines(frames, 60_000, 5_000)
    assert lines[0].startswith("heights 2 (2 blocks) in 60.0 s")
    assert lines[1:] == [
        "finality lag: finalizations not recorded",
        "drops: messages not recorded",
        "alerts fired: not recorded",
        "top rejections: not recorded",
    ]
