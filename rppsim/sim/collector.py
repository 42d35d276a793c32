"""The simulated telemetry collector a node's emits go to (docs/operations.md#the-telemetry-loop):
it accepts each one after its latency, unless a ``telemetry-outage`` fault makes it fail
(``down``: refused at once; ``error-status``: HTTP 503; ``slow``: the request times out)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rppsim.node.effects import EmitResult, EmitTelemetry
from rppsim.node.node import Node
from rppsim.sim.faults import NodeState

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

COLLECTOR_LATENCY_MS = 5
"""Round trip of an emit to the simulated telemetry collector."""
DEFAULT_TELEMETRY_TIMEOUT_MS = 5000
"""``[rollout.telemetry] timeout_ms`` default, if the profile says 0
(docs/operations.md#telemetry-configuration)."""
OUTAGE_STATUS_DETAIL = "telemetry endpoint responded with status 503"


class Collector:
    """Answers ``sim``'s nodes' emits, as the fault schedule's outages say."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    def collect(self, i: int, node: Node, at_ms: int, effect: EmitTelemetry) -> EmitResult:
        """The outcome of an emit node ``i`` sends at ``at_ms`` (true time), answered to the
        node after the collector's latency, at once (``down``) or after the request timeout
        (``slow``). An encode failure sends nothing and gets no answer."""
        if effect.payload is None:
            return EmitResult(effect.seq, False, "encode", effect.error)
        mode = self.sim.faults.get_telemetry_outage(i, at_ms)
        delay = COLLECTOR_LATENCY_MS
        if mode is None:
            result = EmitResult(effect.seq, True)
        elif mode == "error-status":
            result = EmitResult(effect.seq, False, "status", OUTAGE_STATUS_DETAIL)
        elif mode == "slow":
            delay = node.config.rollout.telemetry.timeout_ms or DEFAULT_TELEMETRY_TIMEOUT_MS
            detail = f"unable to dispatch telemetry snapshot: timed out after {delay} ms"
            result = EmitResult(effect.seq, False, "transport", detail)
        else:
            delay = 0
            detail = "unable to dispatch telemetry snapshot: connection refused"
            result = EmitResult(effect.seq, False, "transport", detail)
        self.sim._at(at_ms + delay, self.answer, i, node, result)
        return result

    def answer(self, i: int, generation: Node, result: EmitResult) -> None:
        """Hand the collector's answer to the node that sent the emit, at no processing cost:
        lost if it crashed since; while it is paused the answer waits for the resume."""
        sim = self.sim
        slot = sim.slots[i]
        if slot.node is not generation:
            return
        if slot.state is NodeState.PAUSED:
            now = sim._now()
            ends = [w.end_ms for w in sim.faults.pause_windows if w.node == i]
            end = min((e for e in ends if e > now), default=sim.duration_ms)
            if end < sim.duration_ms:
                sim._at(end, self.answer, i, generation, result)
            return
        sim._process(i, 0, Node.on_emit_result, result)  # bookkeeping: moves no other input
