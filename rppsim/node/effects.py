"""What a sans-IO node asks its driver to do (docs/architecture.md#the-node-is-sans-io).

Handlers return a list of effects; the driver (in-memory cluster, simulator or testnet)
carries them out. Effects are frozen dataclasses; none holds a clock or a socket.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class TimerKind(IntEnum):
    """The node's timers; a timer is identified by (kind, height, round)."""

    PROPOSE = 0
    """The block-production tick of a height (every ``block_time_ms``,
    docs/protocol.md#rounds-and-quorum)."""
    ROUND_TIMEOUT = 1
    """The round timer (``Rules.round_timeout_ms``)."""
    UPTIME = 2
    """The uptime scheduler, every max(sync_interval_secs, 600) s (docs/protocol.md#timetoke)."""
    TELEMETRY = 3
    """The telemetry loop, every max(sample_interval_secs, 1) s
    (docs/operations.md#the-telemetry-loop)."""
    SYNC = 4
    """Retry of a catch-up request."""


@dataclass(frozen=True, slots=True)
class Timer:
    """A timer the node set; it comes back through ``on_timer`` unchanged."""

    kind: TimerKind
    height: int = 0
    round: int = 0


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Call ``on_timer(at_ms, timer)`` at simulated or real time ``at_ms``."""

    timer: Timer
    at_ms: int


@dataclass(frozen=True, slots=True)
class Publish:
    """Gossip ``message`` on ``topic`` to the network."""

    topic: str
    message: Any


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` to one peer (by address)."""

    peer: str
    message: Any


@dataclass(frozen=True, slots=True)
class EmitTelemetry:
    """A telemetry snapshot (docs/operations.md#the-telemetry-loop) taken at ``now_ms`` at node
    height ``height``.

    The driver POSTs ``payload`` (canonical JSON) to the endpoint and answers with
    ``Node.on_emit_result(now, EmitResult(seq, ...))``. ``payload`` None: encoding failed
    (``error`` says why, class ``encode``); nothing is sent and no answer is expected.
    """

    now_ms: int
    snapshot: dict[str, Any]
    seq: int = 0
    height: int = 0
    payload: bytes | None = None
    error: str = ""


EMIT_ERROR_CLASSES = ("transport", "status")
"""Failure classes of an answered emit: no response / timeout, and a non-2xx response."""
EMIT_FAILURE_CLASSES = ("encode", *EMIT_ERROR_CLASSES)
"""Every failure class the telemetry loop counts (docs/operations.md#the-telemetry-loop)."""
TELEMETRY_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
"""Default encoded-snapshot limit (the chain's config names none; see ``TelemetryState``)."""


@dataclass(frozen=True, slots=True)
class EmitResult:
    """The driver's answer to ``EmitTelemetry`` number ``seq``: ``ok``, or a failure of class
    ``error_class`` (``transport`` | ``status``) with a ``detail`` such as the status line."""

    seq: int
    ok: bool
    error_class: str | None = None
    detail: str = ""


def compute_emit_result_problem(result: object) -> str | None:
    """Why ``result`` is no well-formed ``EmitResult`` (None when it is)."""
    if not isinstance(result, EmitResult):
        return f"unexpected {type(result).__name__}"
    if isinstance(result.seq, bool) or not isinstance(result.seq, int):
        return "seq is not an integer"
    if not isinstance(result.ok, bool) or not isinstance(result.detail, str):
        return "ok or detail has the wrong type"
    if result.ok != (result.error_class is None):
        return "ok and error_class disagree"
    if not result.ok and result.error_class not in EMIT_ERROR_CLASSES:
        return "unknown error_class"
    return None


def encode_telemetry_payload(snapshot: dict[str, Any], max_bytes: int) -> bytes | str:
    """The snapshot as canonical JSON (sorted keys, no spaces, UTF-8), or the encode error
    (non-finite floats, non-JSON values, or more than ``max_bytes`` bytes)."""
    try:
        text = json.dumps(
            snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as error:
        return f"unable to encode telemetry snapshot: {error}"
    payload = text.encode()
    if len(payload) > max_bytes:
        return f"unable to encode telemetry snapshot: {len(payload)} bytes > {max_bytes}"
    return payload


@dataclass(frozen=True, slots=True)
class Persist:
    """Durable record: kept by the driver across a crash (what a restart recovers)."""

    key: str
    value: Any


Effect = SetTimer | Publish | Send | EmitTelemetry | Persist
