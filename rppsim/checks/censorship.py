"""Censorship: no node keeps transactions out of its mempool.

Gossip gives every running node the same transactions within a fraction of a block time, so
at one sample instant the honest nodes' pending transaction counts (``snapshots``
``pending_transactions``) agree but for the few messages in flight. A node that drops chosen
senders' transactions (``censor``) holds fewer, at every sample, and never proposes them. A
node *trails* at a sample instant when its count is below the median of the nodes sampled at
that instant (at least ``MIN_PEERS`` of them, the median above 0); samples inside a fault
window of the node, or less than W = 3 × (block time + round timeout) after one, are not
judged (a restarted node rebuilds its mempool; ``rppsim.checks.fault_windows``). The verdict
fails for a node that trails in at least ``TRAIL_SHARE`` of at least ``MIN_SAMPLES`` judged
samples: ``figure`` is that node's share of trailing samples, ``threshold`` ``TRAIL_SHARE``.

Sources whose nodes sample at different instants (live telemetry) have nothing to compare:
the verdict then does not apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from rppsim.checks.context import CheckContext
from rppsim.checks.fault_windows import compute_fault_windows, is_excused
from rppsim.checks.liveness import compute_window_ms
from rppsim.checks.verdict import Verdict
from rppsim.telemetry.scalars import to_int

__all__ = [
    "ID",
    "MIN_PEERS",
    "MIN_SAMPLES",
    "NEEDS",
    "TITLE",
    "TRAIL_SHARE",
    "Trailing",
    "check_censorship",
    "compute_trailing",
]

ID = "censorship"
TITLE = "no node keeps transactions out of its mempool"
NEEDS = ("snapshots", "faults")
"""The frames ``check_censorship`` reads (``rppsim.checks.needs``)."""
MIN_PEERS = 3
MIN_SAMPLES = 4
TRAIL_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class Trailing:
    """A node's judged samples, those where it trailed, and its mean shortfall then."""

    node: int
    samples: int
    trailing: int
    shortfall: float
    first_ms: int | None

    @property
    def share(self) -> float:
        """Its share of trailing samples."""
        return self.trailing / self.samples if self.samples else 0.0

    def is_censoring(self) -> bool:
        """Whether it trails in ``TRAIL_SHARE`` of at least ``MIN_SAMPLES`` samples."""
        return self.samples >= MIN_SAMPLES and self.share >= TRAIL_SHARE


def compute_trailing(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> list[Trailing]:
    """Every node's judged samples and trailing ones, by node."""
    snapshots = frames["snapshots"]
    rows = snapshots.loc[snapshots["pending_transactions"].notna(), ["node", "now_ms"]]
    rows = rows.assign(pending=snapshots["pending_transactions"].dropna().astype(float))
    windows = compute_fault_windows(frames["faults"])
    grace = compute_window_ms(context)
    tally: dict[int, list[float]] = {}
    firsts: dict[int, int] = {}
    for at_ms, group in rows.sort_values(["now_ms", "node"]).groupby("now_ms", sort=True):
        if len(group) < MIN_PEERS:
            continue
        median = float(group["pending"].median())
        if median <= 0:
            continue
        for node, pending in zip(group["node"], group["pending"], strict=True):
            if is_excused(windows, to_int(node), to_int(at_ms), to_int(at_ms), grace):
                continue
            tally.setdefault(int(node), []).append(max(median - float(pending), 0.0))
            if pending < median:
                firsts.setdefault(to_int(node), to_int(at_ms))
    out = []
    for node, gaps in sorted(tally.items()):
        short = [g for g in gaps if g > 0]
        mean = sum(short) / len(short) if short else 0.0
        out.append(Trailing(node, len(gaps), len(short), mean, firsts.get(node)))
    return out


def check_censorship(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> Verdict:
    """Fail when a node trails the others' pending transactions at most sample instants."""
    trailing = compute_trailing(frames, context)
    judged = [t for t in trailing if t.samples >= MIN_SAMPLES]
    if not judged:
        message = (
            f"no node has {MIN_SAMPLES} sample instants shared with {MIN_PEERS - 1} others"
            " and pending transactions to compare"
        )
        return Verdict(ID, "checker", TITLE, None, "critical", None, TRAIL_SHARE, message=message)
    worst = max(judged, key=lambda t: (t.share, t.shortfall, -t.node))
    flagged = [t.node for t in judged if t.is_censoring()]
    text = (
        f"node {worst.node} trails the median pending transactions at {worst.trailing} of"
        f" {worst.samples} sample instants (by {worst.shortfall:.1f} on average)"
    )
    if flagged:
        return Verdict(
            ID,
            "checker",
            TITLE,
            False,
            "critical",
            round(worst.share, 3),
            TRAIL_SHARE,
            worst.node,
            worst.first_ms,
            f"{text}; censoring: {flagged}",
        )
    return Verdict(
        ID, "checker", TITLE, True, "critical", round(worst.share, 3), TRAIL_SHARE, message=text
    )
