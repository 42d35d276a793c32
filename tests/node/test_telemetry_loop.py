"""The telemetry loop (docs/operations.md#the-telemetry-loop): emits, answers, last_observed_height,
failure classes.

The node is driven by hand: the cluster's own telemetry timer is set an hour out, so every emit
here comes from an explicit ``on_timer`` and every answer from an explicit ``on_emit_result``.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from rppsim.node.config import NodeConfig
from rppsim.node.effects import EmitResult, EmitTelemetry, SetTimer, Timer, TimerKind
from rppsim.node.node import MAX_PENDING_EMITS, Node
from rppsim.testing.cluster import InMemoryCluster

TICK = Timer(TimerKind.TELEMETRY)


@pytest.fixture
def cluster(make_cluster) -> InMemoryCluster:
    base = NodeConfig()
    telemetry = replace(base.rollout.telemetry, enabled=True, sample_interval_secs=3600)
    config = replace(base, rollout=replace(base.rollout, telemetry=telemetry))
    c = make_cluster(validators=4, seed=5, tx_rate_per_s=2.0, config=config)
    c.run(until_ms=8_000)
    return c


def _emit(node: Node, now: int) -> EmitTelemetry:
    effects = node.on_timer(now, TICK)
    emits = [e for e in effects if isinstance(e, EmitTelemetry)]
    timers = [e for e in effects if isinstance(e, SetTimer)]
    assert len(emits) == 1 and timers == [SetTimer(TICK, now + 3_600_000)]
    return emits[0]


def _emits(node: Node) -> dict[str, object]:
    return node.status_rollout()["rppsim_telemetry_emits"]


def test_the_emit_carries_canonical_json_of_the_snapshot(cluster):
    node = cluster.node(0)
    emit = _emit(node, 8_000)
    assert emit.seq == 1 and emit.height == node.height >= 1 and emit.error == ""
    assert emit.payload is not None
    assert json.loads(emit.payload) == json.loads(json.dumps(emit.snapshot))
    assert (
        emit.payload
        == json.dumps(
            emit.snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )


def test_height_advances_only_on_an_ok_answer(cluster):
    node = cluster.node(0)
    assert node.status_rollout()["telemetry"]["last_observed_height"] is None
    first = _emit(node, 8_000)
    assert node.telemetry.last_observed_height is None  # emitted, not yet answered
    node.on_emit_result(8_010, EmitResult(first.seq, False, "transport", "connection refused"))
    assert node.telemetry.last_observed_height is None  # a failure keeps the prior value
    second = _emit(node, 8_020)
    node.on_emit_result(8_030, EmitResult(second.seq, True))
    assert node.telemetry.last_observed_height == second.height
    cluster.run(until_ms=16_000)
    third = _emit(node, 16_000)
    assert third.height > second.height
    node.on_emit_result(16_010, EmitResult(third.seq, False, "status", "status 503"))
    assert node.telemetry.last_observed_height == second.height  # lags during failures
    fourth = _emit(node, 16_020)
    node.on_emit_result(16_030, EmitResult(fourth.seq, True))
    status = node.status_rollout()
    assert status["telemetry"]["last_observed_height"] == fourth.height == node.height
    assert status["rppsim_telemetry_emits"] == {
        "emitted": 4,
        "succeeded": 2,
        "failed": {"encode": 0, "transport": 1, "status": 1},
        "pending": 0,
        "abandoned": 0,
        "invalid_results": 0,
    }


def test_a_late_ok_of_an_older_emit_does_not_move_the_height_back(cluster):
    node = cluster.node(0)
    old = _emit(node, 8_000)
    cluster.run(until_ms=16_000)
    new = _emit(node, 16_000)
    assert new.height > old.height
    node.on_emit_result(16_010, EmitResult(new.seq, True))
    node.on_emit_result(16_020, EmitResult(old.seq, True))
    assert node.telemetry.last_observed_height == new.height
    assert node.telemetry.succeeded == 2


def test_an_encode_failure_is_counted_and_nothing_is_sent(cluster):
    node = cluster.node(0)
    node.telemetry.max_payload_bytes = 100
    emit = _emit(node, 8_000)
    assert emit.payload is None and emit.error.startswith("unable to encode telemetry snapshot")
    assert _emits(node)["failed"] == {"encode": 1, "transport": 0, "status": 0}
    assert _emits(node)["pending"] == 0
    node.on_emit_result(8_010, EmitResult(emit.seq, True))  # nothing awaited it
    assert node.telemetry.last_observed_height is None
    assert _emits(node)["invalid_results"] == 1


def test_a_non_finite_float_is_an_encode_failure(cluster, monkeypatch):
    from rppsim.node import status

    real = status.compute_telemetry_snapshot
    monkeypatch.setattr(
        status, "compute_telemetry_snapshot", lambda view: {**real(view), "bad": math.nan}
    )
    node = cluster.node(0)
    emit = _emit(node, 8_000)
    assert emit.payload is None and "Out of range float" in emit.error
    assert node.telemetry.failed["encode"] == 1


@pytest.mark.parametrize(
    "garbage",
    [
        "not a result",
        None,
        EmitResult(99, True),
        EmitResult("1", True),  # type: ignore[arg-type]
        EmitResult(True, True),  # type: ignore[arg-type]
        EmitResult(1, "yes"),  # type: ignore[arg-type]
        EmitResult(1, True, "transport"),
        EmitResult(1, False),
        EmitResult(1, False, "dns"),
        EmitResult(1, False, ["transport"]),  # type: ignore[arg-type]
        EmitResult(1, False, "status", b"503"),  # type: ignore[arg-type]
    ],
)
def test_a_garbage_answer_is_rejected_and_counted(cluster, fingerprint, garbage):
    node = cluster.node(0)
    emit = _emit(node, 8_000)
    assert emit.seq == 1
    before = fingerprint(node)
    assert node.on_emit_result(8_010, garbage) == []
    assert fingerprint(node) == before
    assert node.telemetry.invalid_results == 1
    assert node.telemetry.last_observed_height is None
    assert _emits(node)["pending"] == 1 and _emits(node)["succeeded"] == 0
    assert sum(v for k, v in node.rejections.items() if k.startswith("telemetry: ")) == 1
    node.on_emit_result(8_020, EmitResult(1, True))  # the real answer still counts
    assert node.telemetry.last_observed_height == emit.height


def test_a_duplicate_answer_is_rejected(cluster):
    node = cluster.node(0)
    emit = _emit(node, 8_000)
    node.on_emit_result(8_010, EmitResult(emit.seq, True))
    node.on_emit_result(8_020, EmitResult(emit.seq, False, "status", "late"))
    assert node.telemetry.succeeded == 1 and node.telemetry.emit_errors == 0
    assert node.telemetry.invalid_results == 1


def test_unanswered_emits_are_abandoned_beyond_the_cap(cluster):
    node = cluster.node(0)
    for k in range(MAX_PENDING_EMITS + 3):
        _emit(node, 8_000 + k)
    counters = _emits(node)
    assert (counters["pending"], counters["abandoned"]) == (MAX_PENDING_EMITS, 3)
    node.on_emit_result(9_000, EmitResult(1, True))  # abandoned: no longer awaited
    assert node.telemetry.invalid_results == 1
