"""The round step machine of one height: propose, prevote, precommit, commit (Tendermint).

The runtime path [RT] has no round timer and no locking (docs/protocol.md#rounds-and-quorum,
docs/protocol.md#known-weaknesses); rppsim
runs each height as Tendermint does, counted against the height's electorate
(``rppsim.node.electorate``):

* ``NEW_HEIGHT``: the previous height is final; the PROPOSE timer fires at the next block slot
  (``compute_propose_at``).
* ``PROPOSE``: round r has started; its leader proposes (its locked block, else a new one).
* ``PREVOTE``: the node prevoted the round's proposal; on a prevote quorum it locks and
  precommits.
* ``PRECOMMIT``: the node precommitted; a precommit quorum for a block in *any* round commits it.
* ``COMMIT``: the block is final; the next height starts.

Round changes: a node leaves round r only on its own round timeout (``round_timeout_ms``), or
when it holds messages of a higher round r' from validators with more than 1/3 of the
electorate's power (f + 1: at least one of them is honest, so r' is real). A single proposal
or vote of a higher round is kept for when the node gets there, never obeyed.

Locking (Tendermint's lockedValue): a node that precommitted B in round r prevotes only B
in later rounds, unless it saw a prevote quorum for another block in a round > r. Because
every honest node counts against the same electorate, this means a round change can never
finalize two blocks at one height (the safety argument is in ``rppsim.node.electorate``).

A validator persists its ``SignState`` whenever it signs: a restart resumes the height at the
round after the last one it signed in, with its lock, so an honest node never signs two
different blocks in one round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from rppsim.node.blocks import (
    AppliedBlock,
    HeightContext,
    RoundSet,
    compute_block_problem,
    compute_evidence_key,
    compute_evidence_problem,
    compute_leader_key,
)
from rppsim.node.consensus import (
    NIL,
    PRECOMMIT,
    PREVOTE,
    Lock,
    RoundVotes,
    ValidatorSet,
    VoteOutcome,
)
from rppsim.node.effects import Effect, Persist, Publish, SetTimer, Timer, TimerKind
from rppsim.node.mempool import REASON_VOTE_FULL
from rppsim.node.messages import (
    BftVote,
    Block,
    Commit,
    ConsensusCertificate,
    Evidence,
    EvidenceKind,
    GossipTopic,
    Proposal,
    SignedBftVote,
    VoteKind,
    VoteRecord,
    is_valid_proposal_signature,
    is_valid_vote_signature,
    sign_proposal,
    sign_vote,
)
from rppsim.node.reputation import is_allowed_to_publish

if TYPE_CHECKING:
    from rppsim.node.node import Node

MAX_ROUND_LATENCIES = 32


class RoundStep(IntEnum):
    """Where a height is (CometBFT's ``RoundStepType``, reduced to the steps we act on)."""

    NEW_HEIGHT = 1
    PROPOSE = 2
    PREVOTE = 3
    PRECOMMIT = 4
    COMMIT = 5


@dataclass(frozen=True, slots=True)
class SignState:
    """What a validator signed at the height being decided: persisted at every signature."""

    height: int
    round: int
    lock_hash: str | None = None
    lock_round: int = -1
    locked_block: Block | None = None


@dataclass(slots=True)
class HeightState:
    """Consensus state of the height being decided; replaced when it is finalized."""

    height: int
    round: int = 0
    step: RoundStep = RoundStep.NEW_HEIGHT
    started_ms: int = 0
    votes: dict[int, RoundVotes] = field(default_factory=dict)
    proposals: dict[int, str] = field(default_factory=dict)
    proposal_msgs: dict[int, Proposal] = field(default_factory=dict)
    blocks: dict[str, Block] = field(default_factory=dict)
    applied: dict[str, AppliedBlock] = field(default_factory=dict)
    polka: dict[str, int] = field(default_factory=dict)
    lock: Lock = field(default_factory=Lock)
    proposal_ms: int | None = None
    proposed_rounds: set[int] = field(default_factory=set)
    signed_round: int = -1
    """The highest round this node signed a proposal or vote in (persisted in ``SignState``)."""
    ahead: dict[int, set[str]] = field(default_factory=dict)
    """Round r > ``round`` → validators whose votes or proposal of r we hold (the f+1 rule)."""
    round_sets: dict[tuple[bytes, ...], RoundSet] = field(default_factory=dict)
    """Validator sets computed at this height, by their submission list (a cache)."""
    context: HeightContext | None = None
    vote_count: int = 0

    def round_votes(self, round_: int) -> RoundVotes:
        """The votes of ``round_``, created on first use."""
        votes = self.votes.get(round_)
        if votes is None:
            votes = self.votes[round_] = RoundVotes()
        return votes


@dataclass(slots=True)
class ConsensusMetrics:
    """The counters of ``/status/consensus`` (docs/operations.md#consensus-status)."""

    leader_changes: int = 0
    round_latencies_ms: list[int] = field(default_factory=list)
    quorum_latency_ms: int | None = None
    witness_events: int = 0
    slashing_events: int = 0
    failed_votes: int = 0
    round_skips: int = 0


def is_more_than_third(power: int, validators: ValidatorSet) -> bool:
    """power > T/3: at least one honest member among them while byzantine power < T/3."""
    return validators.total_power > 0 and 3 * power > validators.total_power


def compute_propose_at(now: int, block_time_ms: int) -> int:
    """The first block slot (a multiple of ``block_time_ms``) at least half a block time after
    ``now``. The chain's driver ticks ``produce_block`` every ``block_time_ms``
    (``HUBId/chain:rpp/runtime/node.rs``), so a height starts on the slot grid, not a block time
    after the last commit (which would miss a slot every few blocks); a tick that comes less
    than half a block time after the commit is skipped so the new height's VRF submissions can
    spread before the block that carries them is proposed (an rppsim choice)."""
    block_time = max(block_time_ms, 1)
    earliest = now + (block_time + 1) // 2
    return -(-earliest // block_time) * block_time


VOTE_RECORD_MEMO = 8192
"""Vote records the process shares between certificates before it starts a fresh table."""
_vote_records: dict[tuple[SignedBftVote, int], VoteRecord] = {}


def get_vote_record(vote: SignedBftVote, weight: int) -> VoteRecord:
    """``VoteRecord(vote, weight)``, one object per equal value across the nodes of a process
    (every node of a run certifies the same gossiped votes): a retained certificate then costs
    each node its tuples, not its own records. A memo by value: no behaviour depends on it."""
    key = (vote, weight)
    record = _vote_records.get(key)
    if record is None:
        if len(_vote_records) >= VOTE_RECORD_MEMO:
            _vote_records.clear()
        record = _vote_records[key] = VoteRecord(vote, weight)
    return record


def compute_certificate(
    height: int,
    round_: int,
    block_hash: str,
    votes: RoundVotes,
    validators: ValidatorSet,
    observers: int,
) -> ConsensusCertificate:
    """The certificate of ``block_hash`` from the round's ``votes``: the members' prevotes
    for it and the precommits of those prevoters, with their powers."""
    prevotes = [
        v for v in votes.votes_for(PREVOTE, block_hash) if validators.is_member(v.vote.voter)
    ]
    prevoters = {v.vote.voter for v in prevotes}
    precommits = [v for v in votes.votes_for(PRECOMMIT, block_hash) if v.vote.voter in prevoters]
    pre_vote_power = sum(validators.power_of(v.vote.voter) for v in prevotes)
    pre_commit_power = sum(validators.power_of(v.vote.voter) for v in precommits)
    return ConsensusCertificate(
        height=height,
        round=round_,
        block_hash=block_hash,
        total_power=validators.total_power,
        quorum_threshold=validators.quorum,
        pre_vote_power=pre_vote_power,
        pre_commit_power=pre_commit_power,
        commit_power=pre_commit_power,
        observers=observers,
        pre_votes=tuple(get_vote_record(v, validators.power_of(v.vote.voter)) for v in prevotes),
        pre_commits=tuple(
            get_vote_record(v, validators.power_of(v.vote.voter)) for v in precommits
        ),
    )


class RoundMachine:
    """The round steps of ``Node`` (a mixin: it reads and writes the node's state).

    Its methods take ``self: Node``, which mypy cannot relate to the mixin (hence their
    ``type: ignore[misc]``); the attributes the mixin assigns are declared here.
    """

    hs: HeightState
    consensus: ConsensusMetrics
    round_set: RoundSet | None

    # --- heights and rounds ------------------------------------------------------------------

    def _start_height(self: Node, now: int) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        """Publish the own submission and set the height's timers."""
        hs = self.hs
        hs.started_ms = now
        hs.step = RoundStep.NEW_HEIGHT
        effects: list[Effect] = []
        own = self._own_submission()
        if own is not None:
            self.pool[own.address] = own
            self.round_set = None
            effects.append(Publish(GossipTopic.VRF_PROOFS, own))
        if hs.round > 0:  # resumed after a restart: the round after the last one signed in
            effects += self._enter_round(now, hs.round)
        else:
            propose_at = compute_propose_at(now, self.config.block_time_ms)
            effects.append(SetTimer(Timer(TimerKind.PROPOSE, hs.height, 0), propose_at))
            effects.append(
                SetTimer(
                    Timer(TimerKind.ROUND_TIMEOUT, hs.height, 0),
                    propose_at + self.rules.round_timeout_ms,
                )
            )
        for sender, msg in self.future.pop(hs.height, []):
            effects += self.on_message(now, sender, msg)
        return effects

    def _on_propose(self: Node, now: int, timer: Timer) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        hs = self.hs
        if timer.height != hs.height or hs.round != 0 or hs.step is not RoundStep.NEW_HEIGHT:
            return []
        hs.step = RoundStep.PROPOSE
        return self._propose_if_leader(now, 0)

    def _on_round_timeout(self: Node, now: int, timer: Timer) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        """Round r is over for this node: precommit nil unless it precommitted, move on."""
        hs = self.hs
        if timer.height != hs.height or timer.round != hs.round:
            return []
        effects: list[Effect] = []
        own = self.pool.get(self.address)
        if own is not None and hs.round not in hs.proposals:
            # a round without a proposal we took: a submission lost on the way (which makes
            # followers reject a leader's block as omitting a better candidate) gets re-gossiped
            effects.append(Publish(GossipTopic.VRF_PROOFS, own))
        effects += self._lock_evidence()
        member = self.get_voting_set().validators.is_member(self.address)
        if member and hs.step < RoundStep.PRECOMMIT:
            hs.step = RoundStep.PRECOMMIT
            effects += self._cast(now, hs.round, NIL, VoteKind.PRE_COMMIT)
        if self.hs is hs and hs.round == timer.round:  # the nil may have ended the round
            effects += self._enter_round(now, hs.round + 1)
        return effects

    def _check_round_over(self: Node, now: int, round_: int) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        """Precommits of ``round_`` (any block or nil) from a quorum: the round is over for
        everyone who counts, so move to the next one now (keeps rounds aligned)."""
        hs = self.hs
        votes = hs.votes.get(round_)
        validators = self.get_voting_set().validators
        if round_ < hs.round or votes is None:
            return []
        if votes.voter_power(PRECOMMIT, validators) < validators.quorum or validators.quorum == 0:
            return []
        return self._enter_round(now, round_ + 1)

    def _enter_round(self: Node, now: int, round_: int) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        hs = self.hs
        leaders = self.get_voting_set().validators
        rotate = self.rules.rotate_leader_on_round_change
        if rotate and leaders.get_leader(round_, True) != leaders.get_leader(hs.round, True):
            self.consensus.leader_changes += 1
        hs.round = round_
        hs.step = RoundStep.PROPOSE
        for stale in [r for r in hs.ahead if r <= round_]:
            del hs.ahead[stale]
        effects: list[Effect] = [
            SetTimer(
                Timer(TimerKind.ROUND_TIMEOUT, hs.height, round_), now + self.rules.round_timeout_ms
            )
        ]
        effects += self._propose_if_leader(now, round_)
        proposed = hs.proposals.get(round_)
        if proposed is not None and self.hs is hs:
            effects += self._consider_prevote(now, round_, proposed)
            if self.hs is hs:
                effects += self._check_quorums(now, round_, proposed)
        return effects

    def _note_ahead(self: Node, now: int, round_: int, member: str) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        """A message of a higher round from ``member``: enter that round on f + 1 power."""
        hs = self.hs
        validators = self.get_voting_set().validators
        if round_ <= hs.round or not validators.is_member(member):
            return []
        senders = hs.ahead.setdefault(round_, set())
        if member in senders:
            return []
        senders.add(member)
        power = sum(validators.power_of(a) for a in senders)
        if not is_more_than_third(power, validators):
            return []
        self.consensus.round_skips += 1
        return self._enter_round(now, round_)

    def _propose_if_leader(self: Node, now: int, round_: int) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        hs = self.hs
        if round_ in hs.proposed_rounds or round_ <= hs.signed_round:
            return []
        voting = self.get_voting_set() if self._committed else self._pool_set()
        rotate = self.rules.rotate_leader_on_round_change
        if voting.validators.get_leader(round_, rotate) != self.address:
            return []
        block = self._block_to_repropose()
        if block is None:
            built = self._assemble_block(now, round_)
            if built is None:
                return []
            block = built[0]
            hs.applied[block.hash] = built[1]  # our own block: applied while building it
            hs.blocks[block.hash] = block
        hs.proposed_rounds.add(round_)
        proposal = sign_proposal(block, round_, self.keys.keypair)
        effects: list[Effect] = [self._signed(round_), Publish(GossipTopic.BLOCKS, proposal)]
        return effects + self._on_proposal(now, self.address, proposal)

    def _block_to_repropose(self: Node) -> Block | None:  # type: ignore[misc]  # mixin: self is the Node
        """Tendermint's validValue: the block of the latest prevote quorum this node saw (a
        locked block has one) is proposed again, keeping its hash."""
        hs = self.hs
        known = [(r, h) for h, r in hs.polka.items() if h in hs.blocks]
        if known:
            return hs.blocks[max(known)[1]]
        locked = hs.lock.block_hash
        return None if locked is None else hs.blocks.get(locked)

    def _lock_evidence(self: Node) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        """A locked node whose round failed re-gossips its lock's proposal and prevote quorum,
        so a leader that missed them learns the block to propose again (lost messages would
        otherwise leave the locked power refusing every other block forever)."""
        hs = self.hs
        lock = hs.lock
        if lock.block_hash is None:
            return []
        effects: list[Effect] = []
        proposal = hs.proposal_msgs.get(lock.round)
        if proposal is not None and proposal.block.hash == lock.block_hash:
            effects.append(Publish(GossipTopic.BLOCKS, proposal))
        votes = hs.votes.get(lock.round)
        if votes is not None:
            effects += [
                Publish(GossipTopic.VOTES, v) for v in votes.votes_for(PREVOTE, lock.block_hash)
            ]
        return effects

    def _signed(self: Node, round_: int) -> Persist:  # type: ignore[misc]  # mixin: self is the Node
        """Record a signature in ``round_`` (and the lock) before it leaves the node."""
        hs = self.hs
        hs.signed_round = max(hs.signed_round, round_)
        lock = hs.lock
        return Persist(
            "sign-state",
            SignState(
                hs.height,
                hs.signed_round,
                lock.block_hash,
                lock.round,
                None if lock.block_hash is None else hs.blocks.get(lock.block_hash),
            ),
        )

    def _resume_sign_state(self: Node, state: SignState | None) -> None:  # type: ignore[misc]  # mixin: self is the Node
        """After a restart: skip the rounds already signed in, keep the lock and its block."""
        hs = self.hs
        if state is None or state.height != hs.height:
            return
        hs.round = state.round + 1
        hs.signed_round = state.round
        if state.lock_hash is not None and state.locked_block is not None:
            hs.lock.set(state.lock_hash, state.lock_round)
            hs.blocks[state.lock_hash] = state.locked_block

    # --- proposals -----------------------------------------------------------------------------

    def _on_proposal(self: Node, now: int, sender: str, proposal: Proposal) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        hs = self.hs
        height = proposal.block.header.height
        if height < hs.height:
            return self._reject("proposal", "for a finalized height")
        if not is_valid_proposal_signature(proposal):
            return self._reject("proposal", "invalid signature")
        if not is_allowed_to_publish(self._tier_of(proposal.proposer), GossipTopic.BLOCKS):
            return self._reject("proposal", "publish tier too low")
        if height > hs.height:
            return self._on_future(now, sender, height, proposal)
        block = proposal.block
        if hs.proposals.get(proposal.round) == block.hash:
            return self._reject("proposal", "duplicate proposal")
        if proposal.round in hs.proposals:
            return self._reject("proposal", "conflicting proposal for the round")
        applied = self._apply_candidate(block)
        if isinstance(applied, str):
            return self._reject("proposal", applied) + self._on_invalid_proposal(proposal, applied)
        leader = applied.round_set.validators.get_leader(
            proposal.round, self.rules.rotate_leader_on_round_change
        )
        if leader != proposal.proposer:
            return self._reject("proposal", "not from the round's leader")
        if block.hash not in hs.polka and self._better_candidate_omitted(block) is not None:
            return self._reject("proposal", "omits a better leader candidate")
        hs.proposals[proposal.round] = block.hash
        hs.proposal_msgs[proposal.round] = proposal
        hs.applied[block.hash] = applied
        hs.blocks[block.hash] = block
        if hs.proposal_ms is None:
            hs.proposal_ms = now
        effects = self._carried_conflicts(now, block)
        if proposal.round > hs.round:
            return effects + self._note_ahead(now, proposal.round, proposal.proposer)
        effects += self._consider_prevote(now, proposal.round, block.hash)
        if self.hs is hs:
            effects += self._check_quorums(now, proposal.round, block.hash)
        return effects

    def _apply_candidate(self: Node, block: Block) -> AppliedBlock | str:  # type: ignore[misc]  # mixin: self is the Node
        """The applied fork of a block already accepted, else validate and apply it now.

        The block is applied with the height's voting set: the electorate (``committed``) or
        the set its own submissions define (``local-pool``, the chain). Nothing is stored
        here: the caller keeps the fork only once the message is accepted, so a rejected
        message leaves no trace (docs/architecture.md#the-node-is-sans-io).
        """
        known = self.hs.applied.get(block.hash)
        if known is not None:
            return known
        return compute_block_problem(
            self.ledger,
            block,
            self._context(),
            self.verifier,
            self.previous_set,
            self.previous_epoch,
            round_set=self._voting_set_of(block),
        )

    def _better_candidate_omitted(self: Node, block: Block) -> str | None:  # type: ignore[misc]  # mixin: self is the Node
        """A valid candidate in this node's pool that would lead the set the block's
        submissions elect, missing from the block (the leader may not drop rivals)."""
        included = {m.address for m in block.vrf_submissions}
        missing = [m for m in self.pool.values() if m.address not in included]
        if not missing:
            return None
        elected = self._round_set_of(block.vrf_submissions)
        order = elected.validators.leader_order
        if not order:
            return None
        best = elected.get_submission(order[0])
        mine = self._pool_set()
        for message in missing:
            candidate = mine.get_submission(message.address)
            if (
                candidate is not None
                and best is not None
                and compute_leader_key(candidate) < compute_leader_key(best)
            ):
                return candidate.address
        return None

    # --- votes ---------------------------------------------------------------------------------

    def _consider_prevote(self: Node, now: int, round_: int, block_hash: str) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        hs = self.hs
        if round_ != hs.round or hs.step >= RoundStep.PREVOTE or block_hash not in hs.applied:
            return []
        if hs.proposals.get(round_) != block_hash:
            return []
        if not hs.lock.is_prevote_allowed(block_hash, hs.polka.get(block_hash, -1)):
            return []
        if not hs.applied[block_hash].round_set.validators.is_member(self.address):
            return []
        hs.step = RoundStep.PREVOTE
        return self._cast(now, round_, block_hash, VoteKind.PRE_VOTE)

    def _cast(self: Node, now: int, round_: int, block_hash: str, kind: VoteKind) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        vote = sign_vote(
            BftVote(round_, self.hs.height, block_hash, self.address, kind), self.keys.keypair
        )
        effects: list[Effect] = [self._signed(round_), Publish(GossipTopic.VOTES, vote)]
        return effects + self._on_vote(now, self.address, vote)

    def _on_vote(self: Node, now: int, sender: str, signed: SignedBftVote) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        vote = signed.vote
        hs = self.hs
        if vote.height < hs.height:
            if vote.height == hs.height - 1:
                earlier = self._late_conflict(signed)
                if earlier is not None and is_valid_vote_signature(signed):
                    return self._on_double_sign(now, earlier, signed)
                self._keep_late_vote(signed)
            return self._reject_vote("vote references an already finalized height")
        problem = self._vote_problem(signed)
        if problem is not None:
            return self._reject_vote(problem)
        if vote.height > hs.height:
            return self._on_future(now, sender, vote.height, signed)
        kind = PREVOTE if vote.kind is VoteKind.PRE_VOTE else PRECOMMIT
        if hs.vote_count >= self.config.mempool_limit:
            round_votes = hs.votes.get(vote.round)
            if round_votes is None or vote.voter not in round_votes.by_voter[kind]:
                return self._reject("vote", REASON_VOTE_FULL)  # the chain's vote queue limit
        outcome, earlier = hs.round_votes(vote.round).add(kind, vote.voter, vote.block_hash, signed)
        if outcome is not VoteOutcome.ADDED:
            if outcome is VoteOutcome.DUPLICATE:
                return self._reject("vote", "duplicate vote")
            return self._on_double_sign(now, earlier, signed)
        hs.vote_count += 1
        effects = self._check_quorums(now, vote.round, vote.block_hash)
        if self.hs is hs and vote.round > hs.round:
            effects += self._note_ahead(now, vote.round, vote.voter)
        if self.hs is hs and kind == PRECOMMIT:
            effects += self._check_round_over(now, vote.round)
        return effects

    def _reject_vote(self: Node, reason: str) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        self.consensus.failed_votes += 1
        return self._reject("vote", reason)

    def _vote_problem(self: Node, signed: SignedBftVote) -> str | None:  # type: ignore[misc]  # mixin: self is the Node
        """Why a vote at the current height or above is not admitted ([RT] ``submit_vote``,
        docs/protocol.md#rounds-and-quorum); the finalized-height check comes first, in
        ``_on_vote``."""
        if self._enforce_votes and not is_valid_vote_signature(signed):
            return "invalid signature"
        account = self.ledger.get_account(signed.vote.voter)
        if account is None or account.reputation.tier < self._vote_tier:
            return "publish tier too low"
        return None

    def _late_conflict(self: Node, signed: SignedBftVote) -> SignedBftVote | None:  # type: ignore[misc]  # mixin: self is the Node
        """The vote we counted at the height just finalized that ``signed`` contradicts.

        Port rule: the chain prunes its evidence pool at finalization, so a double sign whose
        second vote arrives after the commit would go unpunished (docs/protocol.md#rounds-and-quorum
        "Vote ingestion").
        """
        vote = signed.vote
        round_votes = self.last_votes.get(vote.round)
        if round_votes is None:
            return None
        kind = PREVOTE if vote.kind is VoteKind.PRE_VOTE else PRECOMMIT
        earlier = round_votes.by_voter[kind].get(vote.voter)
        if earlier is None or earlier.vote.block_hash == vote.block_hash:
            return None
        return earlier  # type: ignore[no-any-return]  # by_voter holds signed votes

    def _keep_late_vote(self: Node, signed: SignedBftVote) -> None:  # type: ignore[misc]  # mixin: self is the Node
        """Keep a valid vote of the height just finalized that arrived after the commit (it
        still counts as rejected): the certificate the next block carries names every
        validator whose vote arrived (``rppsim.node.participation``)."""
        vote = signed.vote
        previous = self.previous_set
        if previous is None or not previous.is_member(vote.voter):
            return
        if not is_valid_vote_signature(signed):
            return
        kind = PREVOTE if vote.kind is VoteKind.PRE_VOTE else PRECOMMIT
        round_votes = self.last_votes.get(vote.round)
        if round_votes is None:
            round_votes = self.last_votes[vote.round] = RoundVotes()
        round_votes.add(kind, vote.voter, vote.block_hash, signed)

    def _on_double_sign(  # type: ignore[misc]  # mixin: self is the Node
        self: Node, now: int, earlier: SignedBftVote, later: SignedBftVote
    ) -> list[Effect]:
        vote = later.vote
        kind = (
            EvidenceKind.DOUBLE_SIGN_PREVOTE
            if vote.kind is VoteKind.PRE_VOTE
            else EvidenceKind.DOUBLE_SIGN_PRECOMMIT
        )
        pair = sorted([earlier, later], key=lambda s: s.vote.block_hash)
        evidence = Evidence(
            kind,
            vote.voter,
            vote.height,
            vote.round,
            vote.kind,
            tuple(s.vote.block_hash for s in pair),
            tuple(pair),
        )
        key = compute_evidence_key(evidence)
        if key in self.pending_evidence:
            return self._reject("vote", "double sign already in evidence")
        problem = compute_evidence_problem(evidence, self.ledger)
        if problem is not None:
            return self._reject("vote", f"double sign: {problem}")
        self.pending_evidence[key] = evidence
        self.consensus.witness_events += 1
        return [Publish(GossipTopic.WITNESS_META, evidence)]

    def _check_quorums(self: Node, now: int, round_: int, block_hash: str) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        """Lock and precommit on a prevote quorum of the current round; commit on a
        precommit quorum of any round (Tendermint's commit rule)."""
        hs = self.hs
        applied = hs.applied.get(block_hash)
        votes = hs.votes.get(round_)
        if applied is None or votes is None:
            return []
        validators = applied.round_set.validators
        effects: list[Effect] = []
        if votes.prevote_power(block_hash, validators) >= validators.quorum > 0:
            hs.polka[block_hash] = max(hs.polka.get(block_hash, -1), round_)
            if round_ == hs.round and hs.step is RoundStep.PREVOTE:
                hs.lock.set(block_hash, round_)
                hs.step = RoundStep.PRECOMMIT
                effects += self._cast(now, round_, block_hash, VoteKind.PRE_COMMIT)
                if self.hs is not hs:  # our own precommit completed the quorum
                    return effects
        if votes.precommit_power(block_hash, validators) >= validators.quorum > 0:
            effects += self._finalize(now, round_, block_hash)
        return effects

    # --- finality ------------------------------------------------------------------------------

    def _certificate(  # type: ignore[misc]  # mixin: self is the Node
        self: Node, round_: int, block_hash: str, validators: ValidatorSet, observers: int
    ) -> ConsensusCertificate:
        votes = self.hs.votes[round_]
        return compute_certificate(self.hs.height, round_, block_hash, votes, validators, observers)

    def _finalize(self: Node, now: int, round_: int, block_hash: str) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        hs = self.hs
        applied = hs.applied[block_hash]
        certificate = self._certificate(
            round_, block_hash, applied.round_set.validators, applied.round_set.observers
        )
        if hs.proposal_ms is not None:
            self.consensus.quorum_latency_ms = now - hs.proposal_ms
        self._record_round_latency(now - hs.started_ms)
        return self._commit(now, Commit(hs.blocks[block_hash], certificate), applied)

    def _commit(self: Node, now: int, commit: Commit, applied: AppliedBlock) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        """Adopt the applied fork as the ledger, fix the next electorate, start the next height."""
        block = commit.block
        self.hs.step = RoundStep.COMMIT
        effects: list[Effect] = [Persist("commit", commit)]
        effects += self._certificate_conflicts(now, commit.certificate, self.hs.votes)
        self._advance_chain(commit, applied)
        self.consensus.slashing_events += len(block.evidence)
        self.pending_evidence = {
            key: evidence
            for key, evidence in self.pending_evidence.items()
            if compute_evidence_problem(evidence, self.ledger) is None
        }
        self.mempool.remove_included(block)
        self.last_votes = self.hs.votes
        self.hs = HeightState(block.header.height + 1)
        return effects + self._start_height(now)

    def _certificate_conflicts(  # type: ignore[misc]  # mixin: self is the Node
        self: Node, now: int, certificate: ConsensusCertificate, held: dict[int, RoundVotes]
    ) -> list[Effect]:
        """Double signs a certificate reveals: its votes against the ones this node holds in
        ``held`` (the votes of the certificate's height, by round).

        A voter that sent different blocks' votes to different peers is seen twice by nobody
        on the wire; the certificate of the block that won carries one of its votes to every
        node, at the commit (``_commit``) or in the next block (``_carried_conflicts``), and
        a node that holds the other one turns the pair into evidence.
        """
        effects: list[Effect] = []
        for records, kind in (
            (certificate.pre_votes, PREVOTE),
            (certificate.pre_commits, PRECOMMIT),
        ):
            votes = held.get(certificate.round)
            if votes is None:
                return effects
            for record in records:
                signed = record.vote
                earlier = votes.by_voter[kind].get(signed.vote.voter)
                if earlier is not None and earlier.vote.block_hash != signed.vote.block_hash:
                    effects += self._on_double_sign(now, earlier, signed)
        return effects

    def _carried_conflicts(self: Node, now: int, block: Block) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        """Double signs the certificate a block of the current height carries reveals against
        the votes this node kept of the previous height."""
        certificate = block.last_certificate
        if certificate is None or certificate.height != self.hs.height - 1:
            return []
        return self._certificate_conflicts(now, certificate, self.last_votes)

    def _record_round_latency(self: Node, latency: int) -> None:  # type: ignore[misc]  # mixin: self is the Node
        latencies = self.consensus.round_latencies_ms
        latencies.append(latency)
        del latencies[:-MAX_ROUND_LATENCIES]
