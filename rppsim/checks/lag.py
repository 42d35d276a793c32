"""Lag: every honest node stays within ``LAG_HEIGHTS`` heights of the honest tip.

Gossip brings every running node each block within a fraction of a block time, and a node
that misses some asks a peer for them (``rppsim.node.sync``). A node far behind the others
without a fault of its own has been cut off: eclipsed by its neighbours (``eclipse``), or
starved by peers that answer its sync requests with forged commits. At every honest
finalization (``block_finalized``) the verdict compares each honest node's height — the
highest it finalized so far — with the honest tip; a node inside a fault window (or less than
W = 3 × (block time + round timeout) after one; ``rppsim.checks.fault_windows``) is not
judged. It fails at the first instant a node trails by more than ``LAG_HEIGHTS``: ``figure``
is the largest lag seen, ``threshold`` ``LAG_HEIGHTS``.

``liveness`` only asks that every node finalize again after the last fault; this verdict
notices a node that falls behind while the chain runs on.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from rppsim.checks.context import CheckContext, get_honest_finalized
from rppsim.checks.fault_windows import compute_fault_windows, is_excused
from rppsim.checks.liveness import compute_window_ms
from rppsim.checks.verdict import Verdict
from rppsim.telemetry.scalars import to_int

__all__ = ["ID", "LAG_HEIGHTS", "NEEDS", "TITLE", "check_lag", "compute_lags"]

ID = "lag"
TITLE = "every honest node stays within 3 heights of the honest tip"
NEEDS = ("block_finalized", "faults")
"""The frames ``check_lag`` reads (``rppsim.checks.needs``)."""
LAG_HEIGHTS = 3


def compute_lags(
    frames: Mapping[str, pd.DataFrame], context: CheckContext
) -> list[tuple[int, int, int]]:
    """(time_ms, node, lag) of every judged honest node at every honest finalization instant
    where it trails the tip, in time order."""
    finalized = get_honest_finalized(frames, context)
    windows = compute_fault_windows(frames["faults"])
    grace = compute_window_ms(context)
    heights = dict.fromkeys(context.honest, 0)
    tip = 0
    out = []
    events = finalized.sort_values(["finalized_ms", "node"], kind="stable")
    for at_ms, group in events.groupby("finalized_ms", sort=True):
        for node, height in zip(group["node"], group["height"], strict=True):
            heights[int(node)] = max(heights.get(int(node), 0), int(height))
            tip = max(tip, int(height))
        for node, height in sorted(heights.items()):
            lag = tip - height
            if lag > 0 and not is_excused(windows, node, to_int(at_ms), to_int(at_ms), grace):
                out.append((to_int(at_ms), node, lag))
    return out


def check_lag(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> Verdict:
    """Fail when an honest node trails the honest tip by more than ``LAG_HEIGHTS``."""
    lags = compute_lags(frames, context)
    worst = max((lag for _, _, lag in lags), default=0)
    late = [(t, node, lag) for t, node, lag in lags if lag > LAG_HEIGHTS]
    if not late:
        message = f"honest nodes trailed the honest tip by at most {worst} heights"
        return Verdict(ID, "checker", TITLE, True, "critical", worst, LAG_HEIGHTS, message=message)
    at_ms, node, lag = late[0]
    nodes = sorted({n for _, n, _ in late})
    message = (
        f"node {node} trailed the honest tip by {lag} heights at {at_ms} ms outside its fault"
        f" windows (at most {worst} heights; nodes behind: {nodes})"
    )
    return Verdict(
        ID, "checker", TITLE, False, "critical", worst, LAG_HEIGHTS, node, at_ms, message
    )
