"""Accountability: every equivocation leads to evidence and a slash within 10 heights.

An equivocation is a (height, round, kind, voter) of the ``votes`` frame with two or more
distinct block hashes. It is *slashed* when an ``evidence`` row names the voter as offender
for that height and round and its block, of height ≤ offense height + 10, was finalized by an
honest node: evidence included is slashed, since finalizing the block applies the 10 % stake
cut and reputation reset of docs/protocol.md#slashing deterministically (``Ledger.process_slash``).
A slashed offender cannot be slashed again (the chain refuses evidence against an offender
already slashed, ``rppsim.node.blocks.compute_evidence_problem``), so an equivocation is also
*covered* when another offense of the same voter was slashed by a block of height ≤ its
deadline. An equivocation whose deadline height no honest node reached is *pending* (not
judged); the others are *missed*. The verdict fails on the first missed one (by the time its
second block hash was first sent), naming the voter; ``figure`` counts the missed ones
(threshold 0). With every equivocation pending it does not apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from rppsim.checks.context import CheckContext, get_honest_finalized
from rppsim.checks.verdict import Verdict

__all__ = [
    "DEADLINE_HEIGHTS",
    "ID",
    "NEEDS",
    "TITLE",
    "Equivocation",
    "check_accountability",
    "compute_equivocations",
    "get_slashes",
]

ID = "accountability"
TITLE = "every equivocation is slashed within 10 heights"
NEEDS = ("votes", "evidence", "block_finalized")
"""The frames ``check_accountability`` reads (``rppsim.checks.needs``)."""
DEADLINE_HEIGHTS = 10
DOUBLE_SIGN_PREFIX = "double_sign"
"""The ``evidence.kind`` of slashing evidence (``double_sign_prevote``, ``…_precommit``)."""
_KEY = ["height", "round", "kind", "voter"]


@dataclass(frozen=True, slots=True)
class Equivocation:
    """A voter's conflicting votes of one (height, round, kind), and when the conflict began."""

    height: int
    round: int
    kind: str
    voter: int
    hashes: int
    time_ms: int

    @property
    def deadline(self) -> int:
        """The last height whose block may carry its evidence."""
        return self.height + DEADLINE_HEIGHTS


def compute_equivocations(votes: pd.DataFrame) -> list[Equivocation]:
    """Every equivocation in ``votes``, sorted by (time_ms, voter, height, round, kind).

    ``time_ms`` is the first ``sent_ms`` of a hash other than the voter's first one (the first
    by (sent_ms, block_hash)).
    """
    counts = votes.groupby(_KEY, sort=False)["block_hash"].transform("nunique")
    rows = votes[counts > 1].sort_values([*_KEY, "sent_ms", "block_hash"], kind="stable")
    first = rows.groupby(_KEY, sort=False)["block_hash"].transform("first")
    conflicting = rows[rows["block_hash"] != first]
    starts = conflicting.groupby(_KEY, sort=True)["sent_ms"].min()
    hashes = rows.groupby(_KEY, sort=True)["block_hash"].nunique()
    found = []
    for key, t in starts.items():
        h, r, k, v = cast("tuple[int, int, str, int]", key)  # pandas-stubs: a key is Hashable
        found.append(
            Equivocation(int(h), int(r), str(k), int(v), int(hashes[(h, r, k, v)]), int(t))
        )
    return sorted(found, key=lambda e: (e.time_ms, e.voter, e.height, e.round, e.kind))


def get_slashes(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> pd.DataFrame:
    """Double-sign ``evidence`` rows whose block an honest node finalized (the frame also
    holds the participation detectors' findings, which slash nothing)."""
    finalized = get_honest_finalized(frames, context)
    carried = set(zip(finalized["height"].tolist(), finalized["hash"].tolist(), strict=True))
    evidence = frames["evidence"]
    evidence = evidence[evidence["kind"].astype(str).str.startswith(DOUBLE_SIGN_PREFIX)]
    keys = zip(evidence["height"].tolist(), evidence["block_hash"].tolist(), strict=True)
    return evidence.loc[np.array([key in carried for key in keys], dtype=bool)]


def _get_outcome(slashes: pd.DataFrame, reached: int, offense: Equivocation) -> str:
    """``slashed``, ``covered``, ``pending`` or ``missed``."""
    own = slashes[(slashes["offender"] == offense.voter) & (slashes["height"] <= offense.deadline)]
    exact = (own["offense_height"] == offense.height) & (own["round"] == offense.round)
    if exact.any():
        return "slashed"
    if len(own):
        return "covered"
    return "pending" if reached < offense.deadline else "missed"


def check_accountability(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> Verdict:
    """Fail on the first equivocation not slashed within 10 heights of its offense."""
    offenses = compute_equivocations(frames["votes"])
    if not offenses:
        message = "no equivocation in the votes frame"
        return Verdict(ID, "checker", TITLE, True, "critical", 0, 0, message=message)
    slashes = get_slashes(frames, context)
    heights = get_honest_finalized(frames, context)["height"]
    reached = int(heights.max()) if len(heights) else 0
    outcomes = [_get_outcome(slashes, reached, offense) for offense in offenses]
    tally = ", ".join(
        f"{outcomes.count(o)} {o}" for o in ("slashed", "covered", "pending", "missed")
    )
    summary = f"{len(offenses)} equivocations: {tally} (honest height {reached})"
    missed = [e for e, o in zip(offenses, outcomes, strict=True) if o == "missed"]
    if missed:
        first = missed[0]
        message = (
            f"node {first.voter} equivocated ({first.kind}, height {first.height}, round"
            f" {first.round}) and was not slashed by height {first.deadline}; {summary}"
        )
        return Verdict(
            ID, "checker", TITLE, False, "critical", len(missed), 0, first.voter, first.time_ms,
            message,
        )  # fmt: skip
    passed = None if outcomes.count("pending") == len(outcomes) else True
    return Verdict(ID, "checker", TITLE, passed, "critical", 0, 0, message=summary)
