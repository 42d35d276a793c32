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
from dataclasses import dataclass

import pandas as pd

from rppsim.checks.context import CheckContext, get_honest_finalized
from rppsim.checks.verdict import Verdict

__all__ = ["ID", "TITLE", "Disagreement", "check_agreement", "compute_disagreements"]

ID = "agreement"
TITLE = "equal state roots at each finalized height"


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A height whose honest blocks have two roots: the first root, and the first other one."""

    height: int
    first_root: str
    first_node: int
    root: str
    node: int
    time_ms: int


def get_finalized_roots(finalized: pd.DataFrame, blocks: pd.DataFrame) -> pd.DataFrame:
    """``finalized`` rows with the ``state_root`` of their block, in (height, finalized_ms,
    node, hash, state_root) order; hashes missing from ``blocks`` are left out."""
    roots = blocks[["height", "hash", "state_root"]]
    joined = finalized.merge(roots, on=["height", "hash"], how="inner")
    order = ["height", "finalized_ms", "node", "hash", "state_root"]
    return joined.sort_values(order, kind="stable").reset_index(drop=True)


def compute_disagreements(rows: pd.DataFrame) -> list[Disagreement]:
    """Every height with more than one ``state_root`` in ``rows`` (sorted by height, then time)."""
    first = rows.groupby("height", sort=False)["state_root"].transform("first")
    others = rows[rows["state_root"] != first]
    found = []
    for height, group in others.groupby("height", sort=True):
        base = rows[rows["height"] == height].iloc[0]
        second = group.iloc[0]
        found.append(
            Disagreement(
                int(height),
                str(base["state_root"]),
                int(base["node"]),
                str(second["state_root"]),
                int(second["node"]),
                int(second["finalized_ms"]),
            )
        )
    return found


def check_agreement(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> Verdict:
    """Fail at the first finalized height whose honest blocks have different state roots."""
    rows = get_finalized_roots(get_honest_finalized(frames, context), frames["blocks"])
    found = compute_disagreements(rows)
    if not found:
        message = f"{rows['height'].nunique()} finalized heights, one state root each"
        return Verdict(ID, "checker", TITLE, True, "critical", 0, 0, message=message)
    first = found[0]
    message = (
        f"height {first.height}: node {first.node} finalized state root {first.root[:16]}"
        f" at {first.time_ms} ms, node {first.first_node} had {first.first_root[:16]}"
        f" ({len(found)} heights with differing roots)"
    )
    return Verdict(
        ID, "checker", TITLE, False, "critical", len(found), 0, first.node, first.time_ms, message
    )
