"""Safety: no two honest nodes finalize different blocks at one height
(docs/protocol.md#rounds-and-quorum).

Honest = not named byzantine by the scenario (the ``nodes`` frame's ``byzantine`` column).
The verdict fails at the first height where an honest node finalizes a second block; it names
the node that finalized the second block first and when. ``figure`` counts the heights with
more than one honest block (threshold 0).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from rppsim.checks.context import (
    CheckContext,
    Conflict,
    compute_conflicts,
    get_honest_finalized,
)
from rppsim.checks.verdict import Verdict

__all__ = ["ID", "NEEDS", "TITLE", "check_safety", "compute_forks"]

ID = "safety"
TITLE = "no two honest nodes finalize different blocks at one height"
NEEDS = ("block_finalized",)
"""The frames ``check_safety`` reads (``rppsim.checks.needs``)."""


def compute_forks(finalized: pd.DataFrame) -> list[Conflict]:
    """Every height with more than one hash in ``finalized`` (sorted by height, then time)."""
    return compute_conflicts(finalized, "hash")


def check_safety(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> Verdict:
    """Fail at the first height where honest nodes finalized two different blocks."""
    finalized = get_honest_finalized(frames, context)
    forks = compute_forks(finalized)
    if not forks:
        heights, nodes = finalized["height"].nunique(), finalized["node"].nunique()
        message = f"{heights} heights finalized by {nodes} honest nodes, one block each"
        return Verdict(ID, "checker", TITLE, True, "critical", 0, 0, message=message)
    fork = forks[0]
    message = (
        f"height {fork.height}: node {fork.node} finalized {fork.value[:16]} at {fork.time_ms} ms,"
        f" node {fork.first_node} had finalized {fork.first_value[:16]} at {fork.first_ms} ms"
        f" ({len(forks)} heights with conflicting honest blocks)"
    )
    return Verdict(
        ID, "checker", TITLE, False, "critical", len(forks), 0, fork.node, fork.time_ms, message
    )
