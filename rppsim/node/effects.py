"""What a sans-IO node asks its driver to do (DESIGN.md §2).

Handlers return a list of effects; the driver (in-memory cluster, simulator or testnet)
carries them out. Effects are frozen dataclasses; none holds a clock or a socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class TimerKind(IntEnum):
    """The node's timers; a timer is identified by (kind, height, round)."""

    PROPOSE = 0
    """The block-production tick of a height (every ``block_time_ms``, spec/consensus.md §2.1)."""
    ROUND_TIMEOUT = 1
    """The round timer (``Rules.round_timeout_ms``)."""
    UPTIME = 2
    """The uptime scheduler, every max(sync_interval_secs, 600) s (spec/consensus.md §4)."""
    TELEMETRY = 3
    """The telemetry loop, every max(sample_interval_secs, 1) s (spec/ops.md §2.6)."""
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
    """A telemetry snapshot (spec/ops.md §2.6) taken at ``now_ms``."""

    now_ms: int
    snapshot: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Persist:
    """Durable record: kept by the driver across a crash (what a restart recovers)."""

    key: str
    value: Any


Effect = SetTimer | Publish | Send | EmitTelemetry | Persist
