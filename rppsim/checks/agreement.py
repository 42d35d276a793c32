"""Agreement: the blocks honest nodes finalized at one height have one state root.

Each finalized hash is looked up in the ``blocks`` frame (one row per committed block); honest
nodes that finalized the same hash share its root by construction, so what can differ is the
root of two blocks finalized at one height. The verdict fails at the first such height and
names the first honest node to finalize a block with another root. ``figure`` counts the
heights with more than one root (threshold 0). A fork whose blocks share a root passes here
and fails ``safety``.
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

__all__ = ["ID", "NEEDS", "TITLE", "check_agreement", "compute_disagreements"]

ID = "agreement"
TITLE = "equal state roots at each finalized height"
NEEDS = ("block_finalized", "blocks")
"""The frames ``check_agreement`` reads (``rppsim.checks.needs``)."""


def get_finalized_roots(finalized: pd.DataFrame, blocks: pd.DataFrame) -> pd.DataFrame:
    """``finalized`` rows with the ``state_root`` of their block, in (height, finalized_ms,
    node, hash, state_root) order; hashes missing from ``blocks`` are left out."""
    roots = blocks[["height", "hash", "state_root"]]
    joined = finalized.merge(roots, on=["height", "hash"], how="inner")
    order = ["height", "finalized_ms", "node", "hash", "state_root"]
    return joined.sort_values(order, kind="stable").reset_index(drop=True)


def compute_disagreements(rows: pd.DataFrame) -> list[Conflict]:
    """Every height with more than one ``state_root`` in ``rows`` (sorted by height, then time)."""
    return compute_conflicts(rows, "state_root")


def check_agreement(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> Verdict:
    """Fail at the first finalized height whose honest blocks have different state roots."""
    rows = get_finalized_roots(get_honest_finalized(frames, context), frames["blocks"])
    found = compute_disagreements(rows)
    if not found:
        message = f"{rows['height'].nunique()} finalized heights, one state root each"
        return Verdict(ID, "checker", TITLE, True, "critical", 0, 0, message=message)
    first = found[0]
    message = (
        f"height {first.height}: node {first.node} finalized state root {first.value[:16]}"
        f" at {first.time_ms} ms, node {first.first_node} had {first.first_value[:16]}"
        f" ({len(found)} heights with differing roots)"
    )
    return Verdict(
        ID, "checker", TITLE, False, "critical", len(found), 0, first.node, first.time_ms, message
    )
