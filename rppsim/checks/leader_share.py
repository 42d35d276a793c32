"""Leader share: no validator, nor small group, leads more heights than VRF chances allow.

The chain's leader of a height is the elected validator first by declared tier, then declared
timetoke hours, then weight (a function of those two), then lowest weighted randomness
(``select_leader``, ``HUBId/chain:rpp/crypto-vrf/src/lib.rs``). An honest validator declares
its ledger tier and hours, so at height h its fair chance p(v, h) is 1/|top| when it is one of
the *top* members of that height's electorate (``electorates`` frame) — those with the
greatest (tier, hours) in their latest ``ledger`` row at the block's time — and 0 otherwise.
Its leads then follow a Poisson-binomial law over the heights. The verdict takes the 1, 2
and 3 validators with the most leads, sums each group's chances, and fails for a group whose
lead count L has an upper tail P(X ≥ L) ≤ ``ALPHA`` / G, G the number of groups of up to
``MAX_GROUP`` validators (a Bonferroni bound: the groups are picked after looking), so a
coalition that shares the lead among its members is caught as a whole. That catches a
validator whose declared tier or hours exceed its ledger's (``vrf-lie``) and one whose VRF
outputs are not what fair play would give. One that grinds by withholding unfavourable
submissions gains no share over all heights and is not caught
(``scenarios/attacks/vrf-grind.toml``).

``figure`` is the lead count of the smallest group over its bound (else of the top
validator), ``threshold`` the largest count its chances allow (the bound − 1); ``node`` names
its top validator and ``time_ms`` the block that reached the bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rppsim.checks.context import CheckContext
from rppsim.checks.verdict import Verdict
from rppsim.telemetry.scalars import to_int

__all__ = [
    "ALPHA",
    "ID",
    "MAX_GROUP",
    "NEEDS",
    "TITLE",
    "LeaderCount",
    "check_leader_share",
    "compute_fair_chances",
    "compute_group_counts",
    "compute_lead_bound",
    "compute_leader_counts",
]

ID = "leader-share"
TITLE = "no validator, nor group of up to 3, leads more heights than VRF chances allow"
NEEDS = ("blocks", "electorates", "ledger")
"""The frames ``check_leader_share`` reads (``rppsim.checks.needs``)."""
ALPHA = 1e-3
"""The false-alarm probability of the whole verdict on an honest run."""
MAX_GROUP = 3
"""The largest group of colluding validators whose combined leads are tested."""


@dataclass(frozen=True, slots=True)
class LeaderCount:
    """The leads of a group of validators, their fair expectation and the smallest count
    that fails."""

    nodes: tuple[int, ...]
    """The group, most leads first."""
    leads: int
    expected: float
    bound: int
    bound_ms: int | None
    """When the group's ``bound``-th lead was proposed (None below the bound)."""

    @property
    def is_excessive(self) -> bool:
        """Whether it led at least ``bound`` heights."""
        return self.leads >= self.bound


def compute_lead_bound(chances: np.ndarray, alpha: float) -> int:
    """The smallest k with P(X ≥ k) ≤ ``alpha`` for X a sum of Bernoulli(``chances``)."""
    dist = np.zeros(len(chances) + 1)
    dist[0] = 1.0
    for p in chances[chances > 0]:
        dist[1:] = dist[1:] * (1.0 - p) + dist[:-1] * p
        dist[0] *= 1.0 - p
    tails = np.cumsum(dist[::-1])[::-1]  # tails[k] = P(X >= k)
    below = np.nonzero(tails <= alpha)[0]
    return int(below[0]) if len(below) else len(chances) + 1


def _get_ledger_keys(ledger: pd.DataFrame) -> dict[int, tuple[np.ndarray, list[tuple[int, int]]]]:
    """Each node's ledger sample times and (tier, hours), by time."""
    out: dict[int, tuple[np.ndarray, list[tuple[int, int]]]] = {}
    known = ledger[ledger["tier"].notna() & ledger["timetoke_hours"].notna()]
    ordered = known.sort_values(["node", "now_ms"], kind="stable")
    for node, rows in ordered.groupby("node", sort=True):
        keys = list(zip(rows["tier"].astype(int), rows["timetoke_hours"].astype(int), strict=True))
        out[to_int(node)] = (rows["now_ms"].to_numpy(np.int64), keys)
    return out


def _get_key(
    keys: dict[int, tuple[np.ndarray, list[tuple[int, int]]]], node: int, t_ms: int
) -> tuple[int, int] | None:
    """``node``'s (tier, hours) at ``t_ms``: its latest sample then, else its first."""
    entry = keys.get(node)
    if entry is None:
        return None
    times, values = entry
    k = int(np.searchsorted(times, t_ms, side="right")) - 1
    return values[max(k, 0)]


def compute_fair_chances(
    frames: Mapping[str, pd.DataFrame], context: CheckContext
) -> tuple[pd.DataFrame, dict[int, np.ndarray]]:
    """The judged heights (one block each, the earliest) and each validator's fair chance of
    leading each of them. A height whose proposer is not in its recorded electorate is not
    judged: the record is one node's view (``electorate = "local-pool"``, where each node
    elects from its own pool) and does not describe that block's election."""
    blocks = frames["blocks"]
    blocks = blocks[blocks["proposer"].notna()].sort_values(["height", "proposed_ms"])
    blocks = blocks.drop_duplicates("height").reset_index(drop=True)
    electorates = frames["electorates"]
    electorates = electorates[electorates["member"].notna()]
    recorded = np.sort(electorates["height"].unique())
    members_of = {
        to_int(h): sorted(to_int(m) for m in rows["member"])
        for h, rows in electorates.groupby("height", sort=True)
    }
    keys = _get_ledger_keys(frames["ledger"])
    rows: list[int] = []
    columns: list[dict[int, float]] = []
    for k, (height, t_ms, proposer) in enumerate(
        zip(blocks["height"], blocks["proposed_ms"], blocks["proposer"], strict=True)
    ):
        at = int(np.searchsorted(recorded, int(height), side="right")) - 1
        members = members_of[int(recorded[at])] if at >= 0 else sorted(context.validators)
        if int(proposer) not in members:
            continue
        known = {m: _get_key(keys, m, int(t_ms)) for m in members}
        best = max((key for key in known.values() if key is not None), default=None)
        top = [m for m, key in known.items() if key is None or key == best]
        rows.append(k)
        columns.append({m: 1.0 / len(top) for m in top})
    judged = sorted(set(context.validators).union(*columns))
    chances = {v: np.array([c.get(v, 0.0) for c in columns]) for v in judged}
    return blocks.iloc[rows].reset_index(drop=True), chances


def compute_leader_counts(
    frames: Mapping[str, pd.DataFrame], context: CheckContext, alpha: float = ALPHA
) -> list[LeaderCount]:
    """The groups of the k = 1 .. ``MAX_GROUP`` validators with the most leads, each against
    its bound at ``alpha`` over every group of up to ``MAX_GROUP`` validators there is (the
    groups are chosen after looking, so each must pass the test of all of them)."""
    return compute_group_counts(*compute_fair_chances(frames, context), alpha)


def compute_group_counts(
    blocks: pd.DataFrame, chances: Mapping[int, np.ndarray], alpha: float = ALPHA
) -> list[LeaderCount]:
    """``compute_leader_counts`` over judged heights and chances."""
    proposers = blocks["proposer"].astype(int).to_numpy()
    times = blocks["proposed_ms"].astype(int).to_numpy()
    leads = {v: int((proposers == v).sum()) for v in chances}
    ranked = sorted(chances, key=lambda v: (-leads[v], v))
    sizes = range(1, min(MAX_GROUP, len(ranked)) + 1)
    tests = sum(math.comb(len(ranked), k) for k in sizes)
    counts = []
    for k in sizes:
        group = tuple(ranked[:k])
        p = np.minimum(sum(chances[v] for v in group), 1.0)
        led = np.nonzero(np.isin(proposers, group))[0]
        bound = compute_lead_bound(p, alpha / max(tests, 1))
        at = int(times[led[bound - 1]]) if 0 < bound <= len(led) else None
        counts.append(LeaderCount(group, len(led), float(p.sum()), bound, at))
    return counts


def check_leader_share(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> Verdict:
    """Fail when a validator leads at least the bound its fair chances set."""
    blocks, chances = compute_fair_chances(frames, context)
    counts = compute_group_counts(blocks, chances)
    heights = len(blocks)
    if not counts or heights == 0:
        message = "no block whose proposer is in its recorded electorate"
        return Verdict(ID, "checker", TITLE, None, "critical", None, None, message=message)
    worst = next((c for c in counts if c.is_excessive), counts[0])
    who = f"node {worst.nodes[0]}" if len(worst.nodes) == 1 else f"nodes {list(worst.nodes)}"
    text = (
        f"{who} led {worst.leads} of {heights} judged heights (fair expectation"
        f" {worst.expected:.1f}, at most {worst.bound - 1} allowed at P ≤ {ALPHA:g})"
    )
    if worst.is_excessive:
        return Verdict(
            ID,
            "checker",
            TITLE,
            False,
            "critical",
            worst.leads,
            worst.bound - 1,
            worst.nodes[0],
            worst.bound_ms,
            text,
        )
    return Verdict(
        ID, "checker", TITLE, True, "critical", worst.leads, worst.bound - 1, message=text
    )
