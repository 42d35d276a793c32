"""The sans-IO RPP node (DESIGN.md §2): inputs in, effects out, time always an argument.

Height h runs as follows (spec/consensus.md §2.1 with the knobs of ``Rules``):

1. When h − 1 is final, every Tl3+ candidate publishes its VRF submission for h (input: tip
   hash, ledger epoch, its tier seed) and the node sets the PROPOSE timer ``block_time_ms``
   later and the round timer ``round_timeout_ms`` after that.
2. At PROPOSE the leader of round 0 (selection over its pool ∩ ledger candidates, leader
   order §1.5) builds a block: ≤ 32 identities, ≤ 512 transactions by fee, all uptime proofs,
   pending evidence, the VRF submissions that define the validator set, the certificate of
   h − 1, a transfer-batch proof and a consensus proof of that certificate. No empty blocks
   unless ``allow_empty_blocks``.
3. A follower checks the proposal (signer = round leader, block valid and applied to a ledger
   fork, no better candidate it knows left out) and prevotes unless locked on another block;
   on a prevote quorum it locks and precommits; on a precommit quorum the fork becomes its
   ledger. Quorum = ⌈2T/3⌉ + 1 of the block's validator set.
4. A round that does not commit in ``round_timeout_ms`` moves to the next round: the same
   leader (the chain: a dead leader stalls the height) or the next in order when
   ``rotate_leader_on_round_change``.

Gossip admission: a VRF submission needs a key and a valid VRF (``verify_submission``); a
vote a valid signature (``consensus_enforcement``), a Tl3+ voter and room in the vote queue
(``mempool_limit``). Two votes of one voter, kind and round for different blocks become
double-sign evidence, also when the second arrives just after the height was finalized;
the next block applies it (10 % slash, ZSI revoked, out for good).

Invalid input never raises and never changes state: it is counted by reason in
``rejections`` (``metrics()["rejections"]``). An object handed over directly must have the
canonical encoding its bytes would have.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from rppsim.node import vrf
from rppsim.node.blocks import (
    AppliedBlock,
    HeightContext,
    RoundSet,
    compute_block_problem,
    compute_block_statements,
    compute_block_time_s,
    compute_certificate_problem,
    compute_evidence_key,
    compute_evidence_problem,
    compute_gossip_submission_problem,
    compute_identity_problem,
    compute_leader_key,
    compute_round_set,
    compute_submission_message,
    compute_submission_problem,
    compute_uptime_problem,
    compute_uptime_statement,
    process_block,
)
from rppsim.node.codec import DecodeError, EncodeError
from rppsim.node.config import NodeConfig
from rppsim.node.consensus import PRECOMMIT, PREVOTE, Lock, RoundVotes, ValidatorSet, VoteOutcome
from rppsim.node.effects import (
    Effect,
    EmitTelemetry,
    Persist,
    Publish,
    Send,
    SetTimer,
    Timer,
    TimerKind,
)
from rppsim.node.ledger import (
    Ledger,
    LedgerParams,
    Rejection,
    SlashingReason,
    Transfer,
    compute_epoch,
)
from rppsim.node.mempool import REASON_VOTE_FULL, Mempool
from rppsim.node.messages import (
    GENESIS_RECURSIVE_COMMITMENT,
    BftVote,
    Block,
    BlockHeader,
    Commit,
    ConsensusCertificate,
    Evidence,
    EvidenceKind,
    GossipTopic,
    IdentityRequest,
    ProofSlot,
    Proposal,
    SignedBftVote,
    SyncRequest,
    Transaction,
    UptimeProof,
    VoteKind,
    VoteRecord,
    VrfSubmissionMsg,
    compute_last_commit_hash,
    compute_list_root,
    compute_proof_digests,
    compute_recursive_commitment,
    compute_uptime_commitment,
    decode_message,
    is_valid_proposal_signature,
    is_valid_transaction_signature,
    is_valid_vote_signature,
    sign_proposal,
    sign_vote,
)
from rppsim.node.proofs import (
    ModelProofService,
    ProofService,
    TransferRow,
)
from rppsim.node.reputation import PUBLISH_TIERS, Tier, is_allowed_to_publish
from rppsim.node.rules import Rules
from rppsim.node.selection import VrfSelectionMetrics, compute_submission
from rppsim.node.signing import Keypair, generate_keypair
from rppsim.node.timetoke import compute_uptime_cadence_secs

GENESIS_TIME_S = 1_767_225_600
"""Ledger time of height 0 (2026-01-01T00:00:00Z); node time ``now`` counts ms from it."""
GENESIS_HASH = "00" * 32
SYNC_BATCH = 32
SYNC_RETRY_MS = 2000
MAX_ROUND_LATENCIES = 32
FUTURE_HEIGHT_WINDOW = 2
ROUND_SET_CACHE = 8


@dataclass(frozen=True, slots=True)
class NodeKeys:
    """A node's ed25519 key pair; the same 32-byte seed is its ECVRF key (RFC 9381 §5.1)."""

    keypair: Keypair
    vrf_secret: bytes

    @classmethod
    def from_seed(cls, seed: bytes) -> NodeKeys:
        """Keys of a 32-byte seed; the address is hex BLAKE2s(public key)."""
        return cls(generate_keypair(seed), vrf.keypair(seed)[0])

    @property
    def address(self) -> str:
        """hex BLAKE2s(public key) (spec/consensus.md §0)."""
        return self.keypair.address


@dataclass(slots=True)
class HeightState:
    """Consensus state of the height being decided; replaced when it is finalized."""

    height: int
    round: int = 0
    started_ms: int = 0
    votes: dict[int, RoundVotes] = field(default_factory=dict)
    proposals: dict[int, str] = field(default_factory=dict)
    blocks: dict[str, Block] = field(default_factory=dict)
    applied: dict[str, AppliedBlock] = field(default_factory=dict)
    prevoted: set[int] = field(default_factory=set)
    precommitted: set[int] = field(default_factory=set)
    polka: dict[str, int] = field(default_factory=dict)
    lock: Lock = field(default_factory=Lock)
    proposal_ms: int | None = None
    proposed_rounds: set[int] = field(default_factory=set)
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
    """The counters of ``/status/consensus`` (spec/ops.md §2.3)."""

    leader_changes: int = 0
    round_latencies_ms: list[int] = field(default_factory=list)
    quorum_latency_ms: int | None = None
    witness_events: int = 0
    slashing_events: int = 0
    failed_votes: int = 0


@dataclass(slots=True)
class TelemetryState:
    """The telemetry loop's state (spec/ops.md §2.6)."""

    last_observed_height: int | None = None
    emitted: int = 0
    emit_errors: int = 0


class Node:
    """One RPP node as a state machine; see the module docstring for the protocol."""

    def __init__(
        self,
        config: NodeConfig,
        keys: NodeKeys,
        *,
        rules: Rules | None = None,
        proofs: ProofService | None = None,
        genesis_time_s: int = GENESIS_TIME_S,
        commits: Iterable[Commit] = (),
    ) -> None:
        self.config = config
        self._enforce_votes = config.rollout.feature_gates.consensus_enforcement
        self._vote_tier = PUBLISH_TIERS[GossipTopic.VOTES]
        self.keys = keys
        self.address = keys.address
        self.rules = rules or Rules()
        self.proofs: ProofService = proofs or ModelProofService()
        self.genesis_time_s = genesis_time_s
        reputation = config.reputation
        params = LedgerParams(
            epoch_length=config.epoch_length,
            weights=reputation.weights,
            thresholds=reputation.tier_thresholds,
            timetoke=reputation.timetoke,
        )
        self.ledger = Ledger.from_genesis(config.genesis.accounts, params, now=genesis_time_s)
        self.mempool = Mempool(config.mempool_limit)
        self.chain: list[Commit] = []
        self.tip_hash = GENESIS_HASH
        self.tip_commitment = GENESIS_RECURSIVE_COMMITMENT
        self.previous_set: ValidatorSet | None = None
        self.previous_epoch = 0
        self.pool: dict[str, VrfSubmissionMsg] = {}
        self.hs = HeightState(1)
        self.pending_evidence: dict[tuple[str, int, int, int], Evidence] = {}
        self.rejections: Counter[str] = Counter()
        self.rejected_total = 0
        self.consensus = ConsensusMetrics()
        self.telemetry = TelemetryState()
        self.vrf_metrics: VrfSelectionMetrics | None = None
        self.round_set: RoundSet | None = None
        self.sync_requested_ms: int | None = None
        self.future: dict[int, list[tuple[str, Any]]] = {}
        self.last_votes: dict[int, RoundVotes] = {}
        for commit in commits:
            self._replay(commit)
        self.hs = HeightState(self.height + 1)

    # --- reads ---------------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Height of the last finalized block (0 at genesis)."""
        return len(self.chain)

    def finalized_chain(self) -> list[tuple[int, str]]:
        """(height, block hash) of every finalized block, height ascending."""
        return [(c.block.header.height, c.block.hash) for c in self.chain]

    def _context(self) -> HeightContext:
        hs = self.hs
        if hs.context is None:
            hs.context = self._new_context(hs.height)
        return hs.context

    def _new_context(self, height: int) -> HeightContext:
        return HeightContext(
            height=height,
            tip_hash=self.tip_hash,
            tip_commitment=self.tip_commitment,
            epoch=compute_epoch(height, self.config.epoch_length),
            genesis_time_s=self.genesis_time_s,
            target_validator_count=self.config.target_validator_count,
            max_proof_size_bytes=self.config.max_proof_size_bytes,
            rules=self.rules,
            max_block_transactions=self.config.max_block_transactions,
            max_block_identities=self.config.max_block_identity_registrations,
        )

    def _reject(self, kind: str, reason: str) -> list[Effect]:
        self.rejections[f"{kind}: {reason}"] += 1
        self.rejected_total += 1
        return []

    def _tier_of(self, address: str) -> Tier:
        account = self.ledger.get_account(address)
        return Tier.Tl0 if account is None else account.tier

    def _now_s(self, now: int) -> int:
        return self.genesis_time_s + now // 1000

    # --- inputs --------------------------------------------------------------------------------

    def on_start(self, now: int) -> list[Effect]:
        """Start (or restart): timers of the current height, uptime and telemetry loops."""
        effects = self._start_height(now)
        cadence_ms = compute_uptime_cadence_secs(self.config.reputation.timetoke) * 1000
        effects.append(SetTimer(Timer(TimerKind.UPTIME), now + cadence_ms))
        if self.config.rollout.telemetry.enabled:
            effects.append(SetTimer(Timer(TimerKind.TELEMETRY), now + self._telemetry_ms()))
        return effects

    def on_message(self, now: int, sender: str, msg: object) -> list[Effect]:
        """Handle one message (object or canonical bytes) from peer ``sender``."""
        handler = self._HANDLERS.get(type(msg))
        if handler is None and isinstance(msg, bytes | bytearray | memoryview):
            try:
                msg = decode_message(bytes(msg))
            except DecodeError as error:
                return self._reject("decode", str(error).split(":")[0])
            handler = self._HANDLERS.get(type(msg))
        if handler is None:
            return self._reject("message", f"unexpected {type(msg).__name__}")
        try:
            msg.to_bytes()  # an object must have the canonical encoding decoded bytes have
            return handler(self, now, sender, msg)
        except (DecodeError, EncodeError) as error:
            return self._reject("message", f"malformed {type(msg).__name__}: {error}")

    def on_timer(self, now: int, timer: Timer) -> list[Effect]:
        """A timer the node set has fired."""
        kind = timer.kind
        if kind is TimerKind.PROPOSE:
            return self._on_propose(now, timer)
        if kind is TimerKind.ROUND_TIMEOUT:
            return self._on_round_timeout(now, timer)
        if kind is TimerKind.UPTIME:
            return self._on_uptime(now)
        if kind is TimerKind.TELEMETRY:
            return self._on_telemetry(now)
        if kind is TimerKind.SYNC:
            self.sync_requested_ms = None
        return []

    def submit(self, now: int, request: object) -> list[Effect]:
        """A local wallet's transaction or identity request: admit it and gossip it."""
        if not isinstance(request, Transaction | IdentityRequest):
            return self._reject("submit", f"unsupported request {type(request).__name__}")
        rejected = self.rejected_total
        effects = self.on_message(now, self.address, request)
        if self.rejected_total == rejected:
            effects.append(Publish(GossipTopic.PROOFS, request))
        return effects

    # --- mempool items -------------------------------------------------------------------------

    def _on_transaction(self, now: int, sender: str, tx: Transaction) -> list[Effect]:
        if tx.sender == tx.recipient:
            return self._reject("transaction", "self transfer")
        if not is_valid_transaction_signature(tx):
            return self._reject("transaction", "invalid signature")
        if not is_allowed_to_publish(self._tier_of(tx.sender), GossipTopic.PROOFS):
            return self._reject("transaction", "publish tier too low")
        reason = self.mempool.add_transaction(tx)
        return self._reject("transaction", reason) if reason else []

    def _on_identity(self, now: int, sender: str, request: IdentityRequest) -> list[Effect]:
        problem = compute_identity_problem(request, self.ledger)
        if problem is not None:
            return self._reject("identity", problem)
        reason = self.mempool.add_identity(request)
        return self._reject("identity", reason) if reason else []

    def _on_uptime_proof(self, now: int, sender: str, proof: UptimeProof) -> list[Effect]:
        if not is_allowed_to_publish(self._tier_of(proof.wallet_address), GossipTopic.PROOFS):
            return self._reject("uptime", "publish tier too low")
        problem = compute_uptime_problem(
            proof,
            self.proofs,
            self.config.max_proof_size_bytes,
            self._cap_hours(),
        )
        if problem is not None:
            return self._reject("uptime", problem)
        reason = self.mempool.add_uptime_proof(proof)
        return self._reject("uptime", reason) if reason else []

    def _on_evidence(self, now: int, sender: str, evidence: Evidence) -> list[Effect]:
        problem = compute_evidence_problem(evidence, self.ledger)
        if problem is not None:
            return self._reject("evidence", problem)
        key = compute_evidence_key(evidence)
        if key in self.pending_evidence:
            return self._reject("evidence", "already pending")
        self.pending_evidence[key] = evidence
        self.consensus.witness_events += 1
        return []

    # --- VRF submissions -----------------------------------------------------------------------

    def _on_vrf_submission(self, now: int, sender: str, msg: VrfSubmissionMsg) -> list[Effect]:
        if msg.height < self.hs.height:
            return self._reject("vrf", "submission for another height")
        if not is_allowed_to_publish(self._tier_of(msg.address), GossipTopic.VRF_PROOFS):
            return self._reject("vrf", "publish tier too low")
        problem = compute_gossip_submission_problem(msg)
        if problem is not None:
            return self._reject("vrf", problem)
        if msg.height > self.hs.height:
            return self._on_future(now, sender, msg.height, msg)
        problem = compute_submission_problem(msg, self._context(), self.ledger)
        if problem is not None:
            return self._reject("vrf", problem)
        if self.pool.get(msg.address) == msg:
            return self._reject("vrf", "duplicate submission")
        self.pool[msg.address] = msg  # the chain's pool: last insert wins (spec §1.3)
        self.round_set = None
        return []

    def _own_submission(self) -> VrfSubmissionMsg | None:
        account = self.ledger.get_account(self.address)
        if account is None or account.tier < Tier.Tl3:
            return None
        ctx = self._context()
        submission = compute_submission(
            address=self.address,
            secret=self.keys.vrf_secret,
            public_key=self.keys.keypair.public_key,
            last_block_header=ctx.tip_hash_bytes,
            epoch=ctx.epoch,
            tier=account.tier,
            timetoke_hours=account.timetoke.hours_online,
        )
        return compute_submission_message(submission, ctx.height, 0)

    def _pool_set(self) -> RoundSet:
        """The validator set of the current height as this node's pool defines it (cached)."""
        if self.round_set is None:
            self.round_set = self._round_set_of(self._sorted_pool())
            self.vrf_metrics = self.round_set.selection.metrics.with_round(self.hs.round)
        return self.round_set

    def get_pool_set(self) -> RoundSet:
        """The same set for status reads: cached like ``_pool_set``, but no metrics recorded."""
        return self.round_set or self._round_set_of(self._sorted_pool())

    def _sorted_pool(self) -> list[VrfSubmissionMsg]:
        """The pool by address (the selection does not depend on order; one cache key)."""
        return sorted(self.pool.values(), key=lambda m: m.address)

    def _round_set_of(self, messages: Iterable[VrfSubmissionMsg]) -> RoundSet:
        """The set a submission list defines at this height, computed once per list (the
        ledger and the context are fixed within a height)."""
        ordered = tuple(messages)
        key = tuple(m.to_bytes() for m in ordered)
        cache = self.hs.round_sets
        round_set = cache.get(key)
        if round_set is None:
            if len(cache) >= ROUND_SET_CACHE:
                cache.clear()
            round_set = cache[key] = compute_round_set(self.ledger, ordered, self._context())
        return round_set

    # --- heights and rounds --------------------------------------------------------------------

    def _start_height(self, now: int) -> list[Effect]:
        """Publish the own submission and set the height's timers."""
        self.hs.started_ms = now
        effects: list[Effect] = []
        own = self._own_submission()
        if own is not None:
            self.pool[own.address] = own
            self.round_set = None
            effects.append(Publish(GossipTopic.VRF_PROOFS, own))
        propose_at = now + self.config.block_time_ms
        height = self.hs.height
        effects.append(SetTimer(Timer(TimerKind.PROPOSE, height, 0), propose_at))
        effects.append(
            SetTimer(
                Timer(TimerKind.ROUND_TIMEOUT, height, 0), propose_at + self.rules.round_timeout_ms
            )
        )
        for sender, msg in self.future.pop(height, []):
            effects += self.on_message(now, sender, msg)
        return effects

    def _on_propose(self, now: int, timer: Timer) -> list[Effect]:
        if timer.height != self.hs.height or self.hs.round != 0:
            return []
        return self._propose_if_leader(now, 0)

    def _on_round_timeout(self, now: int, timer: Timer) -> list[Effect]:
        hs = self.hs
        if timer.height != hs.height or timer.round != hs.round:
            return []
        return self._enter_round(now, hs.round + 1)

    def _enter_round(self, now: int, round_: int) -> list[Effect]:
        hs = self.hs
        leaders = self._pool_set().validators
        if self.rules.rotate_leader_on_round_change and leaders.get_leader(
            round_, True
        ) != leaders.get_leader(hs.round, True):
            self.consensus.leader_changes += 1
        hs.round = round_
        effects: list[Effect] = [
            SetTimer(
                Timer(TimerKind.ROUND_TIMEOUT, hs.height, round_), now + self.rules.round_timeout_ms
            )
        ]
        effects += self._propose_if_leader(now, round_)
        proposed = hs.proposals.get(round_)
        if proposed is not None:
            effects += self._consider_prevote(now, round_, proposed)
        return effects

    def _propose_if_leader(self, now: int, round_: int) -> list[Effect]:
        hs = self.hs
        round_set = self._pool_set()
        if round_ in hs.proposed_rounds:
            return []
        if (
            round_set.validators.get_leader(round_, self.rules.rotate_leader_on_round_change)
            != self.address
        ):
            return []
        block = self._block_to_repropose()
        if block is None:
            built = self._assemble_block(now, round_, round_set)
            if built is None:
                return []
            block = built[0]
            hs.applied[block.hash] = built[1]  # our own block: applied while building it
            hs.blocks[block.hash] = block
        hs.proposed_rounds.add(round_)
        proposal = sign_proposal(block, round_, self.keys.keypair)
        effects: list[Effect] = [Publish(GossipTopic.BLOCKS, proposal)]
        return effects + self._on_proposal(now, self.address, proposal)

    def _block_to_repropose(self) -> Block | None:
        """A locked block is proposed again (Tendermint's validValue), keeping its hash."""
        locked = self.hs.lock.block_hash
        return None if locked is None else self.hs.blocks.get(locked)

    # --- building a block ----------------------------------------------------------------------

    def _build_block(self, now: int, round_: int, pool_set: RoundSet) -> Block | None:
        """The block this node would propose now, or None (see ``_assemble_block``)."""
        built = self._assemble_block(now, round_, pool_set)
        return None if built is None else built[0]

    def _assemble_block(
        self, now: int, round_: int, pool_set: RoundSet
    ) -> tuple[Block, AppliedBlock] | None:
        """Seal a block of what the ledger still accepts, with the block applied to a fork;
        None when there is nothing to propose (no empty blocks by default).

        The block carries the submissions of the pool set's members, and is applied with the
        set those submissions define, as every follower computes it. The payload stays queued
        until a finalized block includes it, so a proposal that does not commit loses nothing.
        """
        submissions = tuple(
            sorted((self.pool[a] for a in pool_set.by_address), key=lambda m: m.address)
        )
        round_set = self._round_set_of(submissions)
        leader = round_set.validators.get_leader(round_, self.rules.rotate_leader_on_round_change)
        if leader != self.address:
            return self._reject("propose", "not the leader of the block's validator set") or None
        now_s = compute_block_time_s(self.genesis_time_s, now)
        evidence, transactions, identities, uptime_proofs = self._select_payload(now_s)
        has_payload = transactions or identities or uptime_proofs or evidence
        if not has_payload and not self.rules.allow_empty_blocks:
            return None
        draft = Block(
            header=self._draft_header(now, round_, round_set),
            transactions=tuple(transactions),
            identities=tuple(identities),
            uptime_proofs=tuple(uptime_proofs),
            vrf_submissions=submissions,
            evidence=tuple(evidence),
            last_certificate=self.chain[-1].certificate if self.chain else None,
        )
        fork = self.ledger.fork()
        applied = process_block(fork, draft, round_set, self.genesis_time_s, self._cap_hours())
        if isinstance(applied, str):
            return self._reject("propose", applied) or None
        proofs = tuple(self._block_proofs(draft, applied[0]))
        header = replace(
            draft.header,
            state_root=fork.get_state_root(),
            tx_root=compute_list_root(draft.transactions),
            uptime_root=compute_list_root(draft.uptime_proofs),
            identity_root=compute_list_root(draft.identities),
            vrf_root=compute_list_root(draft.vrf_submissions),
            evidence_root=compute_list_root(draft.evidence),
            last_commit_hash=compute_last_commit_hash(draft.last_certificate),
            recursive_commitment=compute_recursive_commitment(
                self.tip_commitment, compute_proof_digests(proofs, draft.uptime_proofs)
            ),
        )
        block = replace(draft, header=header, proofs=proofs)
        return block, AppliedBlock(fork, round_set, applied[0], applied[1])

    def _draft_header(self, now: int, round_: int, round_set: RoundSet) -> BlockHeader:
        """The header fields known before the payload is applied; roots are filled in later."""
        own = round_set.get_submission(self.address)
        account = self.ledger.get_account(self.address)
        assert own is not None and account is not None, "only a member leads"
        zero = bytes(32)
        return BlockHeader(
            height=self.hs.height,
            previous_hash=self.tip_hash,
            timestamp_ms=now,
            state_root=zero,
            tx_root=zero,
            uptime_root=zero,
            identity_root=zero,
            vrf_root=zero,
            evidence_root=zero,
            last_commit_hash=zero,
            proposer=self.address,
            vrf_public_key=own.public_key or b"",
            vrf_randomness=own.proof.randomness,
            vrf_beta=own.proof.preoutput,
            vrf_pi=own.proof.proof,
            vrf_epoch=own.input.epoch,
            vrf_tier_seed=own.input.tier_seed,
            leader_tier=int(account.tier),
            leader_timetoke=account.timetoke.hours_online,
            round=round_,
            recursive_previous_commitment=self.tip_commitment,
            recursive_commitment=zero,
        )

    def _select_payload(
        self, now_s: int
    ) -> tuple[list[Evidence], list[Transaction], list[IdentityRequest], list[UptimeProof]]:
        """Evidence, ≤ 512 transfers, ≤ 32 identities and uptime proofs that apply, in
        ``process_block`` order on one ledger fork (spec/consensus.md §2.1 driver, step 4).

        What no longer applies is dropped (counted); the rest goes back to the mempool.
        """
        fork = self.ledger.fork()
        evidence: list[Evidence] = []
        for item in self.pending_evidence.values():
            if compute_evidence_problem(item, fork) is None:
                fork.process_slash(item.address, SlashingReason.ConsensusFault, now_s)
                evidence.append(item)
        payload = self.mempool.take_block_payload(
            self.config.max_block_transactions, self.config.max_block_identity_registrations
        )
        transactions = self._applicable_transactions(fork, payload.transactions, now_s)
        identities: list[IdentityRequest] = []
        for request in payload.identities:
            problem = compute_identity_problem(request, fork) or fork.process_register_identity(
                request.wallet_address, request.vrf_tag, now_s
            )
            if problem is None:
                identities.append(request)
            else:
                self.rejections[f"propose: identity {problem}"] += 1
        uptime_proofs: list[UptimeProof] = []
        for proof in payload.uptime_proofs:
            credited = fork.process_uptime_proof(
                proof.wallet_address,
                proof.window_start,
                proof.window_end,
                proof.proof_commitment,
                now_s,
            )
            if isinstance(credited, int):
                uptime_proofs.append(proof)
            else:
                self.rejections[f"propose: uptime {credited.value}"] += 1
        for tx in transactions:
            self.mempool.add_transaction(tx)
        for request in identities:
            self.mempool.add_identity(request)
        for proof in uptime_proofs:
            self.mempool.add_uptime_proof(proof)
        return evidence, transactions, identities, uptime_proofs

    def _applicable_transactions(
        self, fork: Ledger, candidates: Iterable[Transaction], now_s: int
    ) -> list[Transaction]:
        """The transfers ``fork`` accepts, fee order first; a transfer waiting for a nonce
        is retried after the others and stays queued if it still waits."""
        kept: list[Transaction] = []
        waiting = list(candidates)
        progress = True
        while waiting and progress:
            progress, retry = False, []
            for tx in waiting:
                transfer = Transfer(tx.sender, tx.recipient, tx.amount, tx.fee, tx.nonce)
                rejection = fork.process_transfer(transfer, now_s)
                account = fork.get_account(tx.sender)
                if rejection is None:
                    kept.append(tx)
                    progress = True
                elif (
                    rejection is Rejection.INVALID_NONCE
                    and account is not None
                    and tx.nonce > account.nonce + 1
                ):
                    retry.append(tx)
                else:
                    self.rejections[f"propose: transaction {rejection.value}"] += 1
            waiting = retry
        for tx in waiting:
            self.mempool.add_transaction(tx)
        return kept

    def _block_proofs(self, block: Block, rows: tuple[TransferRow, ...]) -> list[ProofSlot]:
        """The transfer-batch proof and the consensus proof of the carried certificate."""
        statements = compute_block_statements(
            block, rows, self.previous_set, self.previous_epoch, self.proofs
        )
        return [ProofSlot(self.proofs.system, s.circuit, self.proofs.prove(s)) for s in statements]

    def _cap_hours(self) -> int:
        return self.config.reputation.timetoke.accrual_cap_hours

    # --- proposals and votes -------------------------------------------------------------------

    def _on_proposal(self, now: int, sender: str, proposal: Proposal) -> list[Effect]:
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
        applied = self._apply_candidate(block)
        if isinstance(applied, str):
            return self._reject("proposal", applied)
        leader = applied.round_set.validators.get_leader(
            proposal.round, self.rules.rotate_leader_on_round_change
        )
        if leader != proposal.proposer:
            return self._reject("proposal", "not from the round's leader")
        omitted = self._better_candidate_omitted(block, applied.round_set)
        if omitted is not None:
            return self._reject("proposal", "omits a better leader candidate")
        if proposal.round in hs.proposals:
            return self._reject("proposal", "conflicting proposal for the round")
        hs.proposals[proposal.round] = block.hash
        hs.applied[block.hash] = applied
        hs.blocks[block.hash] = block
        if hs.proposal_ms is None:
            hs.proposal_ms = now
        effects: list[Effect] = []
        if proposal.round > hs.round:
            effects += self._enter_round(now, proposal.round)
        effects += self._consider_prevote(now, proposal.round, block.hash)
        effects += self._check_quorums(now, proposal.round, block.hash)
        return effects

    def _apply_candidate(self, block: Block) -> AppliedBlock | str:
        """The applied fork of a block already accepted, else validate and apply it now.

        Nothing is stored here: the caller keeps the fork only once the message is accepted,
        so a rejected message leaves no trace (DESIGN.md §2).
        """
        known = self.hs.applied.get(block.hash)
        if known is not None:
            return known
        return compute_block_problem(
            self.ledger,
            block,
            self._context(),
            self.proofs,
            self.previous_set,
            self.previous_epoch,
            round_set=self._round_set_of(block.vrf_submissions),
        )

    def _better_candidate_omitted(self, block: Block, round_set: RoundSet) -> str | None:
        """A valid candidate in this node's pool that would lead, missing from the block."""
        included = {m.address for m in block.vrf_submissions}
        missing = [m for m in self.pool.values() if m.address not in included]
        if not missing:
            return None
        mine = self._pool_set()
        order = round_set.validators.leader_order
        if not order:
            return None
        best = round_set.get_submission(order[0])
        for message in missing:
            candidate = mine.get_submission(message.address)
            if (
                candidate is not None
                and best is not None
                and compute_leader_key(candidate) < compute_leader_key(best)
            ):
                return candidate.address
        return None

    def _consider_prevote(self, now: int, round_: int, block_hash: str) -> list[Effect]:
        hs = self.hs
        if round_ != hs.round or round_ in hs.prevoted or block_hash not in hs.applied:
            return []
        if hs.proposals.get(round_) != block_hash:
            return []
        if not hs.lock.is_prevote_allowed(block_hash, hs.polka.get(block_hash, -1)):
            return []
        if not hs.applied[block_hash].round_set.validators.is_member(self.address):
            return []
        hs.prevoted.add(round_)
        return self._cast(now, round_, block_hash, VoteKind.PRE_VOTE)

    def _cast(self, now: int, round_: int, block_hash: str, kind: VoteKind) -> list[Effect]:
        vote = sign_vote(
            BftVote(round_, self.hs.height, block_hash, self.address, kind), self.keys.keypair
        )
        effects: list[Effect] = [Publish(GossipTopic.VOTES, vote)]
        return effects + self._on_vote(now, self.address, vote)

    def _on_vote(self, now: int, sender: str, signed: SignedBftVote) -> list[Effect]:
        vote = signed.vote
        hs = self.hs
        if vote.height < hs.height:
            if vote.height == hs.height - 1:
                earlier = self._late_conflict(signed)
                if earlier is not None and is_valid_vote_signature(signed):
                    return self._on_double_sign(now, earlier, signed)
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
        return self._check_quorums(now, vote.round, vote.block_hash)

    def _reject_vote(self, reason: str) -> list[Effect]:
        self.consensus.failed_votes += 1
        return self._reject("vote", reason)

    def _vote_problem(self, signed: SignedBftVote) -> str | None:
        """Why a vote at the current height or above is not admitted ([RT] ``submit_vote``,
        spec/consensus.md §2.1); the finalized-height check comes first, in ``_on_vote``."""
        if self._enforce_votes and not is_valid_vote_signature(signed):
            return "invalid signature"
        account = self.ledger.get_account(signed.vote.voter)
        if account is None or account.reputation.tier < self._vote_tier:
            return "publish tier too low"
        return None

    def _late_conflict(self, signed: SignedBftVote) -> SignedBftVote | None:
        """The vote we counted at the height just finalized that ``signed`` contradicts.

        Port rule: the chain prunes its evidence pool at finalization, so a double sign whose
        second vote arrives after the commit would go unpunished (spec §2.1 "Vote ingestion").
        """
        vote = signed.vote
        round_votes = self.last_votes.get(vote.round)
        if round_votes is None:
            return None
        kind = PREVOTE if vote.kind is VoteKind.PRE_VOTE else PRECOMMIT
        earlier = round_votes.by_voter[kind].get(vote.voter)
        if earlier is None or earlier.vote.block_hash == vote.block_hash:
            return None
        return earlier  # type: ignore[no-any-return]

    def _on_double_sign(
        self, now: int, earlier: SignedBftVote, later: SignedBftVote
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

    def _check_quorums(self, now: int, round_: int, block_hash: str) -> list[Effect]:
        hs = self.hs
        applied = hs.applied.get(block_hash)
        votes = hs.votes.get(round_)
        if applied is None or votes is None:
            return []
        validators = applied.round_set.validators
        effects: list[Effect] = []
        if votes.prevote_power(block_hash, validators) >= validators.quorum > 0:
            hs.polka[block_hash] = max(hs.polka.get(block_hash, -1), round_)
            if round_ == hs.round and round_ not in hs.precommitted and round_ in hs.prevoted:
                hs.lock.set(block_hash, round_)
                hs.precommitted.add(round_)
                effects += self._cast(now, round_, block_hash, VoteKind.PRE_COMMIT)
                if self.hs is not hs:  # our own precommit completed the quorum
                    return effects
        if votes.precommit_power(block_hash, validators) >= validators.quorum > 0:
            effects += self._finalize(now, round_, block_hash)
        return effects

    # --- finality ------------------------------------------------------------------------------

    def _certificate(
        self, round_: int, block_hash: str, validators: ValidatorSet, observers: int
    ) -> ConsensusCertificate:
        votes = self.hs.votes[round_]
        prevotes = [
            v for v in votes.votes_for(PREVOTE, block_hash) if validators.is_member(v.vote.voter)
        ]
        prevoters = {v.vote.voter for v in prevotes}
        precommits = [
            v for v in votes.votes_for(PRECOMMIT, block_hash) if v.vote.voter in prevoters
        ]
        pre_vote_power = sum(validators.power_of(v.vote.voter) for v in prevotes)
        pre_commit_power = sum(validators.power_of(v.vote.voter) for v in precommits)
        return ConsensusCertificate(
            height=self.hs.height,
            round=round_,
            block_hash=block_hash,
            total_power=validators.total_power,
            quorum_threshold=validators.quorum,
            pre_vote_power=pre_vote_power,
            pre_commit_power=pre_commit_power,
            commit_power=pre_commit_power,
            observers=observers,
            pre_votes=tuple(VoteRecord(v, validators.power_of(v.vote.voter)) for v in prevotes),
            pre_commits=tuple(VoteRecord(v, validators.power_of(v.vote.voter)) for v in precommits),
        )

    def _finalize(self, now: int, round_: int, block_hash: str) -> list[Effect]:
        hs = self.hs
        applied = hs.applied[block_hash]
        certificate = self._certificate(
            round_, block_hash, applied.round_set.validators, applied.round_set.observers
        )
        started = hs.started_ms
        if hs.proposal_ms is not None:
            self.consensus.quorum_latency_ms = now - hs.proposal_ms
        self._record_round_latency(now - started)
        return self._commit(now, Commit(hs.blocks[block_hash], certificate), applied)

    def _commit(self, now: int, commit: Commit, applied: AppliedBlock) -> list[Effect]:
        """Adopt the applied fork as the ledger and move to the next height."""
        block = commit.block
        self.ledger = applied.ledger
        self.chain.append(commit)
        self.tip_hash = block.hash
        self.tip_commitment = block.header.recursive_commitment
        self.previous_set = applied.round_set.validators
        self.previous_epoch = compute_epoch(block.header.height, self.config.epoch_length)
        self.consensus.slashing_events += len(block.evidence)
        self.pending_evidence = {
            key: evidence
            for key, evidence in self.pending_evidence.items()
            if compute_evidence_problem(evidence, self.ledger) is None
        }
        self.mempool.remove_included(block)
        self.pool = {}
        self.round_set = None
        self.vrf_metrics = applied.round_set.selection.metrics.with_round(commit.certificate.round)
        self.last_votes = self.hs.votes
        self.hs = HeightState(block.header.height + 1)
        effects: list[Effect] = [Persist("commit", commit)]
        return effects + self._start_height(now)

    def _record_round_latency(self, latency: int) -> None:
        latencies = self.consensus.round_latencies_ms
        latencies.append(latency)
        del latencies[:-MAX_ROUND_LATENCIES]

    def _replay(self, commit: Commit) -> None:
        """Re-apply a persisted commit on restart (our own durable record: no re-verification)."""
        self.hs = HeightState(self.height + 1)
        ctx = self._context()
        round_set = compute_round_set(self.ledger, commit.block.vrf_submissions, ctx)
        fork = self.ledger.fork()
        result = process_block(
            fork,
            commit.block,
            round_set,
            self.genesis_time_s,
            self._cap_hours(),
        )
        if isinstance(result, str):
            raise ValueError(
                f"persisted block {commit.block.header.height} does not apply: {result}"
            )
        self.ledger = fork
        self.chain.append(commit)
        self.tip_hash = commit.block.hash
        self.tip_commitment = commit.block.header.recursive_commitment
        self.previous_set = round_set.validators
        self.previous_epoch = ctx.epoch

    # --- catching up ---------------------------------------------------------------------------

    def _on_future(self, now: int, sender: str, height: int, msg: Any) -> list[Effect]:
        """Keep a message of the next heights for later; ask ``sender`` for missing commits."""
        if height <= self.hs.height + FUTURE_HEIGHT_WINDOW:
            queue = self.future.setdefault(height, [])
            if len(queue) >= 4 * max(1, len(self.pool)) + 64:
                return self._reject("future", "queue of a future height full")
            queue.append((sender, msg))
        if height > self.hs.height and sender != self.address and self.sync_requested_ms is None:
            self.sync_requested_ms = now
            return [
                Send(sender, SyncRequest(self.hs.height, SYNC_BATCH)),
                SetTimer(Timer(TimerKind.SYNC, height), now + SYNC_RETRY_MS),
            ]
        return []

    def _on_sync_request(self, now: int, sender: str, request: SyncRequest) -> list[Effect]:
        first = max(request.from_height, 1)
        last = min(first + min(request.count, SYNC_BATCH), self.height + 1)
        return [Send(sender, self.chain[h - 1]) for h in range(first, last)]

    def _on_commit(self, now: int, sender: str, commit: Commit) -> list[Effect]:
        height = commit.block.header.height
        if height <= self.height:
            return self._reject("commit", "for a finalized height")
        if height > self.hs.height:
            return self._on_future(now, sender, height, commit)
        applied = self._apply_candidate(commit.block)
        if isinstance(applied, str):
            return self._reject("commit", applied)
        problem = compute_certificate_problem(
            commit.certificate, applied.round_set.validators, height, commit.block.hash
        )
        if problem is not None:
            return self._reject("commit", problem)
        self.sync_requested_ms = None
        return self._commit(now, commit, applied)

    # --- uptime and telemetry ------------------------------------------------------------------

    def _on_uptime(self, now: int) -> list[Effect]:
        cadence_ms = compute_uptime_cadence_secs(self.config.reputation.timetoke) * 1000
        effects: list[Effect] = [SetTimer(Timer(TimerKind.UPTIME), now + cadence_ms)]
        if any(p.wallet_address == self.address for p in self.mempool.uptime_proofs()):
            return effects  # the scheduler skips while proofs are pending (spec §4)
        proof = self._uptime_claim(now)
        if proof is not None and self.mempool.add_uptime_proof(proof) is None:
            effects.append(Publish(GossipTopic.PROOFS, proof))
        return effects

    def _uptime_claim(self, now: int) -> UptimeProof | None:
        """Claim [now − 3600, now] if the ledger would credit it (the node checks first)."""
        account = self.ledger.get_account(self.address)
        if account is None or not account.reputation.zsi_validated:
            return None
        end = self._now_s(now)
        start = end - 3600
        trial = self.ledger.fork().process_uptime_proof(
            self.address, start, end, compute_uptime_commitment(self.address, start, end), end
        )
        if not isinstance(trial, int):
            return None
        claim = UptimeProof(
            self.address,
            start,
            end,
            compute_uptime_commitment(self.address, start, end),
            node_clock=end,
            epoch=self.ledger.epoch,
            head_hash=self.tip_hash,
        )
        statement = compute_uptime_statement(
            claim, self.config.reputation.timetoke.accrual_cap_hours
        )
        if not self.proofs.is_provable(statement):
            return None
        slot = ProofSlot(self.proofs.system, "uptime", self.proofs.prove(statement))
        return UptimeProof(
            claim.wallet_address,
            claim.window_start,
            claim.window_end,
            claim.proof_commitment,
            claim.node_clock,
            claim.epoch,
            claim.head_hash,
            slot,
        )

    def _telemetry_ms(self) -> int:
        return max(self.config.rollout.telemetry.sample_interval_secs, 1) * 1000

    def _on_telemetry(self, now: int) -> list[Effect]:
        from rppsim.node.status import compute_telemetry_snapshot

        snapshot = compute_telemetry_snapshot(self)
        self.telemetry.emitted += 1
        self.telemetry.last_observed_height = self.height
        return [
            EmitTelemetry(now, snapshot),
            SetTimer(Timer(TimerKind.TELEMETRY), now + self._telemetry_ms()),
        ]

    # --- queries -------------------------------------------------------------------------------

    def status_rollout(self) -> dict[str, Any]:
        """``GET /status/rollout`` (spec/ops.md §2.1)."""
        from rppsim.node.status import compute_rollout_status

        return compute_rollout_status(self)

    def status_node(self) -> dict[str, Any]:
        """``GET /status/node`` plus consensus, mempool and timetoke_params sections (§2.2)."""
        from rppsim.node.status import compute_node_status

        return compute_node_status(self)

    def metrics(self) -> dict[str, Any]:
        """``GET /validator/telemetry`` (spec/ops.md §2.5) plus rejection counters."""
        from rppsim.node.status import compute_telemetry_snapshot

        return compute_telemetry_snapshot(self)

    _HANDLERS: ClassVar[dict[type, Callable[[Node, int, str, Any], list[Effect]]]] = {}


Node._HANDLERS = {
    Transaction: Node._on_transaction,
    IdentityRequest: Node._on_identity,
    UptimeProof: Node._on_uptime_proof,
    Evidence: Node._on_evidence,
    VrfSubmissionMsg: Node._on_vrf_submission,
    Proposal: Node._on_proposal,
    SignedBftVote: Node._on_vote,
    SyncRequest: Node._on_sync_request,
    Commit: Node._on_commit,
}
