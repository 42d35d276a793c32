"""The windows in which a node was under a fault, from the ``faults`` frame.

A ``start`` row opens a window and the matching ``end`` row (same family, same ``nodes``)
closes it (``rppsim.checks.liveness.FAULT_ENDS``); one never closed lasts past the run. A
row with empty ``nodes`` (a partition, a degradation) concerns every node; an ``instant`` row
(a heal) opens no window. The conduct verdicts (``evidence``, ``censorship``) excuse what a
node did inside its windows and a grace period after them: a crashed or cut-off validator
misses votes and transactions without misbehaving.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rppsim.checks.liveness import FAULT_ENDS

__all__ = ["FaultWindow", "compute_fault_windows", "is_excused"]

_START_OF = {end: start for start, end in FAULT_ENDS.items()}
NEVER = 2**62


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """A fault over [start_ms, end_ms) on ``nodes`` (empty: every node)."""

    start_ms: int
    end_ms: int
    nodes: frozenset[int]

    def concerns(self, node: int) -> bool:
        """Whether the fault acts on ``node``."""
        return not self.nodes or node in self.nodes


def _get_family(kind: str) -> str:
    """The start kind a row's kind belongs to (``x_end`` closes ``x_start``)."""
    if kind in _START_OF:
        return _START_OF[kind]
    return kind[: -len("_end")] + "_start" if kind.endswith("_end") else kind


def _parse_nodes(nodes: str) -> frozenset[int]:
    return frozenset(int(n) for n in str(nodes).split(",") if n.strip())


def compute_fault_windows(faults: pd.DataFrame) -> tuple[FaultWindow, ...]:
    """Every fault window of the frame, by start time (rows in any order)."""
    rows = sorted(
        (int(t), int(p != "end"), str(k), str(p), str(n))
        for t, k, p, n in zip(
            faults["at_ms"], faults["kind"], faults["phase"], faults["nodes"], strict=True
        )
    )
    pending: dict[tuple[str, str], list[int]] = {}
    windows: list[FaultWindow] = []
    for at_ms, _, kind, phase, nodes in rows:
        key = (_get_family(kind), nodes)
        if phase == "start":
            pending.setdefault(key, []).append(at_ms)
        elif phase == "end" and pending.get(key):
            windows.append(FaultWindow(pending[key].pop(0), at_ms, _parse_nodes(nodes)))
    for (_, nodes), starts in pending.items():
        windows += [FaultWindow(start, NEVER, _parse_nodes(nodes)) for start in starts]
    return tuple(sorted(windows, key=lambda w: (w.start_ms, w.end_ms, sorted(w.nodes))))


def is_excused(
    windows: tuple[FaultWindow, ...], node: int, start_ms: int, end_ms: int, grace_ms: int
) -> bool:
    """Whether a fault on ``node`` overlaps [start_ms, end_ms], its windows extended by
    ``grace_ms`` after their end."""
    return any(
        w.concerns(node) and w.start_ms <= end_ms and start_ms <= w.end_ms + grace_ms
        for w in windows
    )
