"""Vote bookkeeping of one height: tallies, quorum, locks and double-sign detection.

The runtime path [RT] (docs/protocol.md#rounds-and-quorum) counts a prevote when the voter is a
validator
of the round and a precommit only when the voter already prevoted in that round; commit is
reached when precommit power ≥ ⌈2T/3⌉ + 1. The chain has no round timer and no locking; we
add Tendermint-style locking: a node that precommitted block B in round r prevotes only B in
later rounds, unless it saw a prevote quorum for another block in a round > r. Locking keeps
a round change (``Rules.round_timeout_ms``) from finalizing two blocks at one height only
when every honest node counts against the same validator set and byzantine power is below
a third of it: the committed electorate (``rppsim.node.electorate``) makes that so; under
the chain's ``local-pool`` rule it does not hold, and honest nodes can fork.

A nil precommit (``NIL`` as block hash) says "this round is over for me": it never counts
towards a block, only towards the round-change rules of ``rppsim.node.rounds``.

Votes are stored raw by (round, kind, voter); their power is counted against the validator
set of the block they name, which may arrive after the votes (votes are buffered).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from itertools import islice
from typing import Any

from rppsim.node.selection import compute_quorum

__all__ = [
    "NIL",
    "PRECOMMIT",
    "PREVOTE",
    "Lock",
    "RoundVotes",
    "ValidatorSet",
    "VoteOutcome",
    "compute_quorum",
]

PREVOTE = 0
PRECOMMIT = 1
NIL = ""
"""The block hash of a nil precommit: "this round is over for me" (Tendermint's nil vote)."""


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """The voting set of a height: address → power, and the leader order of the round."""

    powers: tuple[tuple[str, int], ...]
    leader_order: tuple[str, ...]
    total_power: int = 0
    quorum: int = 0
    _lookup: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def create(cls, powers: dict[str, int], leader_order: list[str]) -> ValidatorSet:
        """Build a set; powers are sorted by address, leader order is kept as given."""
        items = tuple(sorted(powers.items()))
        total = sum(p for _, p in items)
        return cls(items, tuple(leader_order), total, compute_quorum(total), dict(items))

    def power_of(self, address: str) -> int:
        """Voting power of ``address``; 0 for a non-member."""
        return self._lookup.get(address, 0)

    def is_member(self, address: str) -> bool:
        """Whether ``address`` may vote in this set."""
        return address in self._lookup

    def get_leader(self, round_: int, rotate: bool) -> str | None:
        """Leader of ``round_``: the first in order, or the (round mod n)-th when rotating."""
        if not self.leader_order:
            return None
        index = round_ % len(self.leader_order) if rotate else 0
        return self.leader_order[index]


class VoteOutcome(Enum):
    """Result of registering one vote; rejections carry the metric reason."""

    ADDED = "added"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(slots=True)
class _Tally:
    """A running power sum over a voter list that only grows (votes are never removed)."""

    validators: ValidatorSet
    scanned: int = 0
    power: int = 0
    waiting: list[str] = field(default_factory=list)
    """Precommitters not (yet) known to have prevoted the block: re-checked on every read."""


@dataclass(slots=True)
class RoundVotes:
    """All votes of one (height, round), raw and by block hash.

    Power sums are kept per (kind, block hash, validator set) and extended by the votes that
    arrived since the last read, so counting a vote costs O(1) instead of O(voters).
    """

    by_voter: tuple[dict[str, Any], dict[str, Any]] = field(default_factory=lambda: ({}, {}))
    by_hash: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]] = field(
        default_factory=lambda: ({}, {})
    )
    _tallies: dict[tuple[int, str, int], _Tally] = field(default_factory=dict, repr=False)

    def _tally(self, kind: int, block_hash: str, validators: ValidatorSet) -> _Tally:
        key = (kind, block_hash, id(validators))
        tally = self._tallies.get(key)
        if tally is None or tally.validators is not validators:
            tally = self._tallies[key] = _Tally(validators)
        return tally

    def add(self, kind: int, voter: str, block_hash: str, vote: Any) -> tuple[VoteOutcome, Any]:
        """Register a vote; a different hash from the same voter and kind is a conflict."""
        seen = self.by_voter[kind].get(voter)
        if seen is not None:
            if seen.vote.block_hash == block_hash:
                return VoteOutcome.DUPLICATE, None
            return VoteOutcome.CONFLICT, seen
        self.by_voter[kind][voter] = vote
        self.by_hash[kind].setdefault(block_hash, {})[voter] = vote
        return VoteOutcome.ADDED, None

    def prevote_power(self, block_hash: str, validators: ValidatorSet) -> int:
        """Power of the members of ``validators`` that prevoted ``block_hash``."""
        voters = self.by_hash[PREVOTE].get(block_hash)
        if not voters:
            return 0
        tally = self._tally(PREVOTE, block_hash, validators)
        if tally.scanned < len(voters):
            power_of = validators.power_of
            tally.power += sum(power_of(v) for v in islice(voters, tally.scanned, None))
            tally.scanned = len(voters)
        return tally.power

    def precommit_power(self, block_hash: str, validators: ValidatorSet) -> int:
        """Power of the members that precommitted ``block_hash`` after prevoting it.

        A precommit counts only when its voter prevoted this block in this round ([RT] rule:
        the round context fixes the block hash), exactly as the certificate counts it.
        """
        voters = self.by_hash[PRECOMMIT].get(block_hash)
        if not voters:
            return 0
        prevoted = self.by_hash[PREVOTE].get(block_hash, {})
        tally = self._tally(PRECOMMIT, block_hash, validators)
        power_of = validators.power_of
        if tally.waiting:
            still = [v for v in tally.waiting if v not in prevoted]
            tally.power += sum(power_of(v) for v in tally.waiting if v in prevoted)
            tally.waiting = still
        if tally.scanned < len(voters):
            for voter in islice(voters, tally.scanned, None):
                if voter in prevoted:
                    tally.power += power_of(voter)
                else:
                    tally.waiting.append(voter)
            tally.scanned = len(voters)
        return tally.power

    def voter_power(self, kind: int, validators: ValidatorSet) -> int:
        """Power of the members that cast a vote of ``kind`` in this round, for any block or
        nil (the round-change rules count presence, not agreement)."""
        power_of = validators.power_of
        return sum(power_of(voter) for voter in self.by_voter[kind])

    def votes_for(self, kind: int, block_hash: str) -> list[Any]:
        """The signed votes of ``kind`` for ``block_hash``, sorted by voter."""
        voters = self.by_hash[kind].get(block_hash, {})
        return [voters[v] for v in sorted(voters)]


@dataclass(slots=True)
class Lock:
    """The block a node precommitted, and the round it did so (Tendermint's lockedValue)."""

    block_hash: str | None = None
    round: int = -1

    def is_prevote_allowed(self, block_hash: str, polka_round: int) -> bool:
        """Prevote ``block_hash`` unless locked on another block without a newer polka for it."""
        if self.block_hash is None or self.block_hash == block_hash:
            return True
        return polka_round > self.round

    def set(self, block_hash: str, round_: int) -> None:
        """Lock on ``block_hash`` at ``round_``."""
        self.block_hash = block_hash
        self.round = round_
