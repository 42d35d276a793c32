"""The electorate: who votes on height h, and with what power (``[rules] electorate``).

The chain counts the votes of a height against the validator set each node derives from its own
VRF pool (docs/protocol.md#rounds-and-quorum). Two honest nodes whose pools differ (a partition, one
restart, a leader that shows different submissions to different peers) then count against
different sets and can each see a quorum for a different block. rppsim's default rule,
``electorate = "committed"``, fixes the electorate by committed state instead: a lookahead by
one height.

* The VRF submissions made while height h is decided are seeded by the tip (block h − 1) and
  the ledger epoch, exactly as the chain makes them (docs/protocol.md#vrf-input,
  docs/protocol.md#epochs-and-replay-protection). The leader of h carries them
  in block h (its ``vrf_submissions``), as the chain does.
* When block h is finalized, every node runs the chain's selection over those submissions
  (docs/protocol.md#submissions-and-rejections to docs/protocol.md#leader: verification, weighting
  and threshold with jitter, fallback, leader order) and
  intersects it with the Tl3+ candidates of the ledger *after* block h, whose stake, score and
  hours give the voting powers (docs/protocol.md#rounds-and-quorum). The result is the electorate of
  h + 1: its members,
  powers, quorum ⌈2T/3⌉ + 1 and leader order.
* The electorate of height 1 is every Tl3+ candidate of the genesis ledger (no submission
  exists yet), in the order of ``compute_genesis_order``.
* When the selection over block h's submissions yields nobody (a leader that carried none, or
  none verified), the electorate of h is kept for h + 1: its members that are still Tl3+
  candidates after block h, with their powers recomputed from that ledger. Only when none is
  left do all Tl3+ candidates form it, as at genesis.

Safety argument. The electorate of h is a deterministic function of the finalized blocks
1..h − 1 and the chain's parameters (genesis, ``target_validator_count``, rules), which every
node of a network shares. By induction on h, honest nodes that agree on blocks 1..h − 1 count
the votes of h against the same members, powers and quorum Q = ⌈2T/3⌉ + 1 > 2T/3, with
byzantine power f < T/3; any two quorums overlap in honest power > T/3 − f > 0. Let r be the
first round of h in which some node sees a precommit quorum, for block B. Honest validators of
power ≥ Q − f > T/3 precommitted B in r, so they prevoted B in r and locked on B. In round r
no prevote quorum for B' ≠ B exists (an honest node prevotes once per round). Let r' > r be
the first round with a prevote quorum for some B' ≠ B: it contains one of the validators
locked on B, which prevotes B' only after a prevote quorum for B' in a round in (r, r') —
contradicting the choice of r'. So from round r on no honest node precommits B' (a precommit
needs a prevote quorum of its round) and no precommit quorum for B' forms, and before r none
forms by the choice of r. Hence no two blocks of one height are finalized. A leader cannot
choose the electorate of its own height: it was fixed when h − 1 was finalized; the leader only
carries the submissions that elect h + 1, and a follower rejects a proposal that leaves out a
better leader candidate it holds (``rppsim.node.rounds``). Restarts keep this: a validator
persists what it signed and its lock (``rppsim.node.rounds.SignState``).

A node that restarts or lags learns the electorate from the blocks it replays or syncs, never
from its own pool: ``compute_next_electorate`` is applied to each commit in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from rppsim.node.blocks import RoundSet
from rppsim.node.consensus import ValidatorSet
from rppsim.node.ledger import Ledger
from rppsim.node.selection import (
    ValidatorCandidate,
    ValidatorProfile,
    VerifiedSubmission,
    VrfProof,
    VrfSelectionResult,
)

NO_PROOF = VrfProof(0, b"", b"")
"""The VRF output of a member elected without a submission (genesis or a kept electorate)."""


def compute_genesis_order(candidates: Iterable[ValidatorCandidate]) -> list[str]:
    """Leader order without VRF outputs: tier, hours desc; then BLAKE2s of the address."""
    return [
        c.address
        for c in sorted(
            candidates,
            key=lambda c: (
                -c.tier,
                -c.timetoke_hours,
                hashlib.blake2s(b"rpp-genesis-leader" + c.address.encode()).digest(),
                c.address,
            ),
        )
    ]


def _profile(
    candidate: ValidatorCandidate, submission: VerifiedSubmission | None
) -> ValidatorProfile:
    proof = NO_PROOF if submission is None else submission.proof
    randomness = 0 if submission is None else submission.randomness
    return ValidatorProfile(
        candidate.address,
        candidate.stake,
        candidate.reputation_score,
        candidate.tier,
        candidate.timetoke_hours,
        proof,
        randomness,
    )


def _build(
    ledger: Ledger,
    members: list[ValidatorCandidate],
    order: list[str],
    submissions: dict[str, VerifiedSubmission],
    selection: VrfSelectionResult,
) -> RoundSet:
    profiles = tuple(
        _profile(c, submissions.get(c.address)) for c in sorted(members, key=lambda c: c.address)
    )
    powers = {p.address: p.voting_power for p in profiles}
    _, observers = ledger.get_participants()
    return RoundSet(
        selection,
        profiles,
        ValidatorSet.create(powers, [a for a in order if a in powers]),
        {a: s for a, s in submissions.items() if a in powers},
        len(observers),
    )


def compute_genesis_electorate(ledger: Ledger, cap: int | None = None) -> RoundSet:
    """The electorate of height 1: every Tl3+ candidate of the genesis ledger, or the first
    ``cap`` of them in genesis order (``threshold_caps_committee``)."""
    candidates, _ = ledger.get_participants()
    order = compute_genesis_order(candidates)
    if cap is not None:
        order = order[:cap]
    kept = set(order)
    members = [c for c in candidates if c.address in kept]
    return _build(ledger, members, order, {}, VrfSelectionResult())


def compute_next_electorate(
    selected: RoundSet, ledger_after: Ledger, current: RoundSet, cap: int | None = None
) -> RoundSet:
    """The electorate of the next height (see the module docstring).

    ``selected`` is ``compute_round_set`` over the finalized block's submissions, with the
    ledger and context the block was checked with (the submissions are validated as the pool
    validated them); ``ledger_after`` is the ledger the block produced, whose Tl3+ candidates
    and powers count; ``current`` is the electorate of the block's own height.
    """
    candidates, _ = ledger_after.get_participants()
    by_address = {c.address: c for c in candidates}
    for source in (selected, current):  # the new selection, else the electorate kept
        members = [by_address[a] for a, _ in source.validators.powers if a in by_address]
        if members:
            order = list(source.validators.leader_order)
            submissions = dict(source.by_address)
            return _build(ledger_after, members, order, submissions, selected.selection)
    genesis = compute_genesis_electorate(ledger_after, cap)
    return RoundSet(
        selected.selection,
        genesis.profiles,
        genesis.validators,
        genesis.by_address,
        genesis.observers,
    )
