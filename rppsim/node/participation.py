"""Participation detectors: validators that stop voting lose rewards and score.

The chain's ``rpp-consensus`` crate runs these detectors at every round change and commit
(``HUBId/chain:rpp/consensus/src/state.rs``, ``finalize_round_detectors``), per validator of
the set:

* missed prevotes and missed precommits are counted separately and reset by participating; at
  ``censorship_vote_threshold`` (3) consecutive misses the counter resets and a
  ``Censorship{stage}`` record is made: the reputation score is multiplied by 0.9
  (``record_censorship``) and the validator's reward is withheld at the commit;
* a round with neither a prevote nor a precommit is inactive; at ``inactivity_threshold`` (4)
  consecutive inactive rounds the counter resets and an ``Inactivity`` record is made: score
  × 0.8 and the reward withheld.

A threshold of 0 disables its detector. The crate's third detector (a leader without a proof)
is not ported: here a block without its proofs is invalid, so a leader cannot omit them.

The runtime path has no detector, and the crate runs them at each node over the votes that
node happened to receive, which differ between nodes. rppsim runs them where every node has
the same input, when a block is applied (``rppsim.node.blocks.process_block``): over the
certificate of the previous block it carries, against that block's validator set, one round
per height (the round that decided it). The leader fills the certificate it carries with every
vote for the block it holds when it proposes, late ones included (``rppsim.node.rounds``), so
an honest validator whose vote merely arrived after the quorum is not counted as missing. The
counters and the records live in the ledger (``Ledger.process_participation``); they are a
function of the finalized blocks, so every node holds the same ones (they are not in the state
root; the penalties they cause are).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "NO_MISSES",
    "Detection",
    "Misses",
    "ParticipationEvent",
    "ParticipationParams",
    "compute_misses",
]


class Detection(StrEnum):
    """What a detector found (the crate's ``EvidenceType`` and censorship stage)."""

    CENSORSHIP_PREVOTE = "censorship_prevote"
    CENSORSHIP_PRECOMMIT = "censorship_precommit"
    INACTIVITY = "inactivity"


@dataclass(frozen=True, slots=True)
class ParticipationParams:
    """The crate's ``ConsensusConfig`` thresholds and ``MalachiteReputationManager`` factors."""

    censorship_vote_threshold: int = 3
    inactivity_threshold: int = 4
    censorship_score_factor: float = 0.9
    inactivity_score_factor: float = 0.8

    def get_score_factor(self, kind: Detection) -> float:
        """The factor a detection multiplies the offender's score by."""
        if kind is Detection.INACTIVITY:
            return self.inactivity_score_factor
        return self.censorship_score_factor


@dataclass(frozen=True, slots=True)
class Misses:
    """A validator's consecutive misses (``participation_counters``)."""

    prevotes: int = 0
    precommits: int = 0
    inactive: int = 0


NO_MISSES = Misses()


@dataclass(frozen=True, slots=True)
class ParticipationEvent:
    """A detection: made when block ``height`` was applied, about round ``round`` of
    ``offense_height`` (the certified block), against validator ``address``."""

    height: int
    offense_height: int
    round: int
    address: str
    kind: Detection
    misses: int


def _count(misses: int, participated: bool, threshold: int) -> tuple[int, bool]:
    """The next counter value and whether it reached ``threshold`` (then it resets)."""
    if participated or threshold <= 0:
        return 0, False
    misses += 1
    if misses >= threshold:
        return 0, True
    return misses, False


def compute_misses(
    misses: Misses, prevoted: bool, precommitted: bool, params: ParticipationParams
) -> tuple[Misses, tuple[tuple[Detection, int], ...]]:
    """One round of one validator: its new counters and the detections, each with the count
    of consecutive misses that triggered it (``finalize_round_detectors``)."""
    votes = params.censorship_vote_threshold
    prevotes, prevote_hit = _count(misses.prevotes, prevoted, votes)
    precommits, precommit_hit = _count(misses.precommits, precommitted, votes)
    inactive, inactive_hit = _count(
        misses.inactive, prevoted or precommitted, params.inactivity_threshold
    )
    found: list[tuple[Detection, int]] = []
    if prevote_hit:
        found.append((Detection.CENSORSHIP_PREVOTE, votes))
    if precommit_hit:
        found.append((Detection.CENSORSHIP_PRECOMMIT, votes))
    if inactive_hit:
        found.append((Detection.INACTIVITY, params.inactivity_threshold))
    return Misses(prevotes, precommits, inactive), tuple(found)
