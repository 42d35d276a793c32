"""The sans-IO RPP node (docs/architecture.md#the-node-is-sans-io): inputs in, effects out, time
always an argument.

One concept per module; ``Node`` wires them over one state:

* ``rppsim.node.electorate``: who votes on a height (``[rules] electorate``; by default fixed
  by committed state, a lookahead by one height).
* ``rppsim.node.rounds``: the round step machine of a height (propose, prevote, precommit,
  commit), Tendermint round changes and locking, the node's sign state.
* ``rppsim.node.building``: the block a leader proposes.
* ``rppsim.node.sync``: messages of later heights, sync and replay.
* ``rppsim.node.status``: the status and telemetry payloads, from a ``NodeView``.

Height h: when h − 1 is final, every Tl3+ candidate publishes its VRF submission (input: tip
hash, ledger epoch, its tier seed) and the node sets the PROPOSE timer for the next block slot.
The leader of round 0 (first in the electorate's leader order, docs/protocol.md#leader) proposes;
the rounds
run as ``rppsim.node.rounds`` describes.

Gossip admission: a VRF submission needs a key and a valid VRF (``verify_submission``); a vote
a valid signature (``consensus_enforcement``), a Tl3+ voter and room in the vote queue
(``mempool_limit``). Two votes of one voter, kind and round for different blocks become
double-sign evidence, also when the second arrives just after the height was finalized or
comes in a certificate (the commit's, or the one the next block carries); the next block
applies it (10 % slash, ZSI revoked, out for good). Applying a block also runs the
participation detectors over the certificate it carries (``rppsim.node.participation``).

Feature gates (docs/operations.md#rollout): ``consensus_enforcement`` verifies vote signatures and
turns a signed proposal with an invalid identity, an invalid proof or a double spend into
evidence that slashes its proposer (``rppsim.node.evidence``);
``recursive_proofs`` verifies identity proofs at admission (blocks always verify them) and
allows ``verify_proof_chain``; ``pruning`` drops the payload of block h − 1 once h is stored
(``rppsim.node.pruning``); ``reconstruction`` runs the pruning cycles that persist snapshots,
serves and adopts state sync and restores from a snapshot (``rppsim.node.state_sync``,
``rppsim.node.persistence``). ``malachite_consensus``, ``timetoke_rewards`` and
``witness_network`` are only advertised (status and telemetry ``feature_gates``).

Invalid input never raises and never changes state: it is counted by reason in
``rejections`` (``metrics()["rejections"]``). An object handed over directly must have the
canonical encoding its bytes would have.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from rppsim.node import vrf
from rppsim.node.blocks import (
    AppliedBlock,
    HeightContext,
    RoundSet,
    compute_evidence_key,
    compute_evidence_problem,
    compute_gossip_submission_problem,
    compute_identity_problem,
    compute_proposal_evidence_problem,
    compute_round_set,
    compute_submission_message,
    compute_submission_problem,
    compute_uptime_problem,
    compute_uptime_statement,
    get_unmetered,
)
from rppsim.node.building import BlockBuilder
from rppsim.node.codec import DecodeError, EncodeError
from rppsim.node.config import NodeConfig
from rppsim.node.consensus import RoundVotes, ValidatorSet
from rppsim.node.effects import (
    TELEMETRY_MAX_PAYLOAD_BYTES,
    Effect,
    EmitResult,
    EmitTelemetry,
    Persist,
    Publish,
    Send,
    SetTimer,
    Timer,
    TimerKind,
    compute_emit_result_problem,
    encode_telemetry_payload,
)
from rppsim.node.electorate import compute_genesis_electorate, compute_next_electorate
from rppsim.node.evidence import (
    PROPOSAL_KINDS,
    compute_offence_kind,
    compute_proposal_evidence,
    find_double_spend,
)
from rppsim.node.ledger import Ledger, LedgerParams, compute_epoch
from rppsim.node.mempool import Mempool
from rppsim.node.messages import (
    GENESIS_RECURSIVE_COMMITMENT,
    Block,
    Commit,
    Evidence,
    GossipTopic,
    IdentityRequest,
    Message,
    ProofSlot,
    Proposal,
    SignedBftVote,
    SyncRequest,
    TimetokeDeltaBroadcast,
    Transaction,
    UptimeProof,
    VrfSubmissionMsg,
    decode_message,
    is_valid_transaction_signature,
)
from rppsim.node.persistence import PersistedState
from rppsim.node.proofs import ModelProofService, ProofService
from rppsim.node.pruning import (
    PruningStatus,
    compute_payload_bytes,
    compute_pruned_commit,
    compute_snapshot_interval,
    is_pruned_block,
)
from rppsim.node.reputation import PUBLISH_TIERS, Tier, is_allowed_to_publish
from rppsim.node.rounds import ConsensusMetrics, HeightState, RoundMachine, SignState
from rppsim.node.rules import Rules
from rppsim.node.selection import VrfSelectionMetrics, compute_submission
from rppsim.node.signing import Keypair, generate_keypair
from rppsim.node.state_sync import (
    REASON_GATE_DISABLED,
    StateSnapshot,
    StateSyncResponse,
    compute_electorate,
    compute_snapshot,
    compute_snapshot_ledger,
    compute_state_sync_problem,
    compute_validator_set,
)
from rppsim.node.status import NodeView
from rppsim.node.sync import Sync
from rppsim.node.timetoke import (
    TimetokeRecord,
    compute_merge_problem,
    compute_uptime_cadence_secs,
    compute_uptime_commitment,
)
from rppsim.node.verifier import MeteredVerifier, compute_node_cache_capacity

GENESIS_TIME_S = 1_767_225_600
"""Ledger time of height 0 (2026-01-01T00:00:00Z); node time ``now`` counts ms from it."""
GENESIS_HASH = "00" * 32
ROUND_SET_CACHE = 8
MAX_PENDING_EMITS = 64
"""Emits a node keeps awaiting an answer; older ones are abandoned (counted)."""
REASON_RECURSIVE_DISABLED = "recursive proof verification disabled by rollout"
"""The chain's ``verify_proof_chain`` error with the ``recursive_proofs`` gate off."""
REASON_ENFORCEMENT_DISABLED = "consensus enforcement disabled"
REASON_WINDOW_ABOVE_TIP = "snapshot header window starts above the tip of a whole chain"
"""Why a node that keeps its whole chain (``keep_chain``) refuses a retained header window
that skips heights it has not got."""
"""Why a node with the ``consensus_enforcement`` gate off refuses gossiped proposal evidence."""

__all__ = ["GENESIS_HASH", "GENESIS_TIME_S", "HeightState", "Node", "NodeKeys", "SignState"]


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
        """hex BLAKE2s(public key) (docs/protocol.md#two-consensus-implementations)."""
        return self.keypair.address


@dataclass(slots=True)
class TelemetryState:
    """The telemetry loop's state (docs/operations.md#the-telemetry-loop): emits taken, their
    outcomes by class,
    the emits awaiting an answer (seq → height) and ``last_observed_height``, the height of
    the newest snapshot the endpoint accepted. ``max_payload_bytes`` bounds an encoded
    snapshot (the chain's ``[rollout.telemetry]`` names no limit; this is rppsim's)."""

    last_observed_height: int | None = None
    emitted: int = 0
    succeeded: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    pending: dict[int, int] = field(default_factory=dict)
    abandoned: int = 0
    """Emits dropped from ``pending`` unanswered (more than ``MAX_PENDING_EMITS`` in flight)."""
    invalid_results: int = 0
    last_ok_seq: int = 0
    max_payload_bytes: int = TELEMETRY_MAX_PAYLOAD_BYTES

    @property
    def emit_errors(self) -> int:
        """Failed emits, every class."""
        return sum(self.failed.values())


class Node(RoundMachine, BlockBuilder, Sync):
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
        sign_state: SignState | None = None,
        restore: PersistedState | None = None,
        snapshot_interval: int | None = None,
        keep_chain: bool = True,
    ) -> None:
        self.config = config
        self.gates = config.rollout.feature_gates
        self._enforce_votes = self.gates.consensus_enforcement
        self._vote_tier = PUBLISH_TIERS[GossipTopic.VOTES]
        self.keys = keys
        self.address = keys.address
        self.rules = rules or Rules()
        self._committed = self.rules.electorate == "committed"
        self.proofs: ProofService = proofs or ModelProofService()
        capacity = compute_node_cache_capacity(config.proof_cache, self.proofs.system)
        self.verifier = MeteredVerifier(self.proofs, capacity)
        """This node's verifications: counters and proof cache (``rppsim.node.verifier``)."""
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
        self.tip_hash = GENESIS_HASH
        self.tip_commitment = GENESIS_RECURSIVE_COMMITMENT
        self.elected: RoundSet = compute_genesis_electorate(self.ledger, self._cap())
        """The electorate of the height being decided (``rppsim.node.electorate``)."""
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
        self.pruning = PruningStatus()
        self.stored: list[Commit] = []
        """The data_dir's commits: ``chain`` with the payloads the ``pruning`` gate pruned
        dropped. With ``keep_chain`` (the default) ``chain`` stays whole: it is the record of
        the run that tests and drivers read back; the node itself serves, snapshots and
        persists only ``stored``. Without it ``chain`` is ``stored`` (the same list): the node
        keeps only what its config retains, and a long run's blocks do not pile up."""
        self.chain: list[Commit] = [] if keep_chain else self.stored
        self.base = 0  # heights 1..base are no longer in ``stored`` (``retention_depth``)
        self.payload_bytes: dict[int, int] = {}
        """Payload bytes of every stored height whose payload is retained: every other height
        up to the tip is pruned (``is_pruned``)."""
        self.snapshot: StateSnapshot | None = None
        """The snapshot_dir: the state the latest pruning cycle persisted."""
        self.snapshot_interval = snapshot_interval or compute_snapshot_interval(
            config.block_time_ms, config.pruning.cadence_secs
        )
        if restore is not None:
            self._restore(restore)
        self._replay_all(commits)
        self.hs = HeightState(self.height + 1)
        self._resume_sign_state(sign_state)

    # --- reads ---------------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Height of the last finalized block (0 at genesis)."""
        return self.base + len(self.chain)

    @property
    def retention_depth(self) -> int | None:
        """``[pruning] retention_depth``: the newest heights ``stored`` keeps (header and
        certificate; the tip's payload too); older ones are dropped (``base`` counts them).
        None: every height (``keep_chain``, the full record, or the ``pruning`` gate off)."""
        if self.chain is not self.stored or not self.gates.pruning:
            return None
        return self.config.pruning.retention_depth

    @property
    def pruned_heights(self) -> set[int]:
        """Every height up to the tip without its payload (pruned, or no longer stored)."""
        return {h for h in range(1, self.height + 1) if self.is_pruned(h)}

    def is_pruned(self, height: int) -> bool:
        """Whether finalized block ``height`` can no longer be served whole."""
        return height <= self.base or height not in self.payload_bytes

    @property
    def electorate(self) -> ValidatorSet:
        """The set the votes of height ``height + 1`` are counted against: the committed
        electorate, or (``local-pool``) the set of this node's pool."""
        return self.get_voting_set().validators

    def finalized_chain(self) -> list[tuple[int, str]]:
        """(height, block hash) of every finalized block, height ascending."""
        return [(c.block.header.height, c.block.hash) for c in self.chain]

    def view(self) -> NodeView:
        """The read-only view the status and telemetry payloads are computed from."""
        return NodeView(
            address=self.address,
            config=self.config,
            rules=self.rules,
            genesis_time_s=self.genesis_time_s,
            height=self.height,
            tip_hash=self.tip_hash,
            chain=self.chain,
            hs=self.hs,
            voting=self.get_voting_set(),
            ledger=self.ledger,
            mempool=self.mempool,
            proofs=self.proofs,
            verifier=self.verifier,
            consensus=self.consensus,
            telemetry=self.telemetry,
            vrf_metrics=self.vrf_metrics,
            rejections=self.rejections,
            pruning=self.pruning.to_json_dict(),
        )

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

    def _cap(self) -> int | None:
        """The committee cap of ``threshold_caps_committee`` (None: the chain, no cap)."""
        return self.config.target_validator_count if self.rules.threshold_caps_committee else None

    def _cap_hours(self) -> int:
        return self.config.reputation.timetoke.accrual_cap_hours

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
            # an object must have the canonical encoding decoded bytes have (a handler's key
            # is a wire message type, which mypy cannot see through the table)
            cast("Message", msg).to_bytes()
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
        problem = compute_identity_problem(
            request, self.ledger, verify_proof=self.gates.recursive_proofs
        )
        if problem is not None:
            return self._reject("identity", problem)
        reason = self.mempool.add_identity(request)
        return self._reject("identity", reason) if reason else []

    def _on_uptime_proof(self, now: int, sender: str, proof: UptimeProof) -> list[Effect]:
        if not is_allowed_to_publish(self._tier_of(proof.wallet_address), GossipTopic.PROOFS):
            return self._reject("uptime", "publish tier too low")
        problem = compute_uptime_problem(
            proof,
            self.verifier,
            self.config.max_proof_size_bytes,
            self._cap_hours(),
        )
        if problem is not None:
            return self._reject("uptime", problem)
        reason = self.mempool.add_uptime_proof(proof)
        return self._reject("uptime", reason) if reason else []

    def _on_evidence(self, now: int, sender: str, evidence: Evidence) -> list[Effect]:
        if evidence.kind in PROPOSAL_KINDS:
            if not self.gates.consensus_enforcement:
                return self._reject("evidence", REASON_ENFORCEMENT_DISABLED)
            problem = compute_proposal_evidence_problem(
                evidence,
                self.ledger,
                self._context(),
                get_unmetered(self.verifier),
                self.previous_set,
                self.previous_epoch,
                self.elected if self._committed else None,
            )
        else:
            problem = compute_evidence_problem(evidence, self.ledger)
        if problem is not None:
            return self._reject("evidence", problem)
        key = compute_evidence_key(evidence)
        if key in self.pending_evidence:
            return self._reject("evidence", "already pending")
        self.pending_evidence[key] = evidence
        self.consensus.witness_events += 1
        return []

    def _on_invalid_proposal(self, proposal: Proposal, problem: str) -> list[Effect]:
        """Turn a signed proposal whose block fails with a punishable fault into evidence
        (``consensus_enforcement``; ``rppsim.node.evidence``) and gossip it; a later round's
        block of this height carries it."""
        if not self.gates.consensus_enforcement:
            return []
        double_spend = find_double_spend(proposal.block, self.ledger) is not None
        kind = compute_offence_kind(problem, double_spend)
        if kind is None:
            return []
        evidence = compute_proposal_evidence(proposal, kind)
        key = compute_evidence_key(evidence)
        if key in self.pending_evidence or compute_evidence_problem(evidence, self.ledger):
            return []
        self.pending_evidence[key] = evidence
        self.consensus.witness_events += 1
        return [Publish(GossipTopic.WITNESS_META, evidence)]

    def _on_timetoke_delta(
        self, now: int, sender: str, msg: TimetokeDeltaBroadcast
    ) -> list[Effect]:
        """Merge a peer's timetoke records (``sync_timetoke_records``, docs/protocol.md#timetoke):
        unauthenticated
        as on the chain, or only within what this node observed (``authenticate_timetoke_merge``,
        refusals counted by reason). Records of unknown accounts are skipped, as on the chain."""
        now_s = self._now_s(now)
        params = self.config.reputation.timetoke
        records = []
        for r in msg.records:
            record = TimetokeRecord(
                r.identity,
                r.balance,
                r.epoch_accrual,
                1.0,
                r.last_update,
                r.last_sync,
                r.last_decay,
            )
            account = self.ledger.get_account(r.identity)
            if account is not None and self.rules.authenticate_timetoke_merge:
                problem = compute_merge_problem(account.timetoke, record, params, now_s)
                if problem is not None:
                    self._reject("timetoke", problem)
                    continue
            records.append(record)
        if self.ledger.process_timetoke_merge(records, now_s):
            self.hs.round_sets.clear()  # the ledger changed within the height
            self.round_set = None
        return []

    # --- VRF submissions and voting sets -------------------------------------------------------

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
            return []  # a duplicate is ignored silently
            # (docs/protocol.md#epochs-and-replay-protection); round timeouts re-gossip
        self.pool[msg.address] = msg  # the chain's pool: last insert wins
        # (docs/protocol.md#submissions-and-rejections)
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
        """The set this node's pool selects at the current height (cached). Under
        ``local-pool`` it is the height's voting set and its metrics are the VRF round's."""
        if self.round_set is None:
            self.round_set = self._round_set_of(self._sorted_pool())
            if not self._committed:
                self.vrf_metrics = self.round_set.selection.metrics.with_round(self.hs.round)
        return self.round_set

    def get_voting_set(self) -> RoundSet:
        """The set the current height's votes are counted against, and its leader order: the
        electorate, or (``local-pool``) the pool's set (cached; no metrics recorded)."""
        if self._committed:
            return self.elected
        return self.round_set or self._round_set_of(self._sorted_pool())

    def _voting_set_of(self, block: Block) -> RoundSet:
        """The set ``block``'s votes are counted against and its rewards paid to."""
        return self._voting_set_of_submissions(block.vrf_submissions)

    def _voting_set_of_submissions(self, submissions: Iterable[VrfSubmissionMsg]) -> RoundSet:
        if self._committed:
            return self.elected
        return self._round_set_of(submissions)  # the chain: the block's own submissions decide

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

    def _advance_chain(self, commit: Commit, applied: AppliedBlock) -> None:
        """Adopt a finalized block: ledger, tip, the next height's electorate and metrics."""
        block = commit.block
        height = block.header.height
        if self._committed:
            selected = self._round_set_of(block.vrf_submissions)
            self.elected = compute_next_electorate(
                selected, applied.ledger, applied.round_set, self._cap()
            )
            self.vrf_metrics = selected.selection.metrics.with_round(commit.certificate.round)
        else:
            metrics = applied.round_set.selection.metrics
            self.vrf_metrics = metrics.with_round(commit.certificate.round)
        self.ledger = applied.ledger
        self._store(commit)
        self.tip_hash = block.hash
        self.tip_commitment = block.header.recursive_commitment
        self.previous_set = applied.round_set.validators
        self.previous_epoch = compute_epoch(height, self.config.epoch_length)
        self.pool = {}
        self.round_set = None
        self.payload_bytes[height] = payload = compute_payload_bytes(block)
        self.pruning.on_stored(payload)
        if self.gates.pruning and height > 1:
            self._prune(height - 1)
        if height % self.snapshot_interval == 0:
            self.run_pruning_cycle()

    # --- pruning, snapshots, state sync and restarts -------------------------------------------

    def _store(self, commit: Commit) -> None:
        """Append a finalized commit to ``chain`` and ``stored`` (once when they are one), then
        drop what falls out of the retention window."""
        self.stored.append(commit)
        if self.chain is not self.stored:
            self.chain.append(commit)
        depth = self.retention_depth
        if depth is not None and len(self.stored) > depth:
            self._drop_below(self.height - depth + 1)

    def _drop_below(self, height: int) -> None:
        """Forget the stored heights below ``height`` (retained record only: ``chain`` is
        ``stored``); a payload still retained there counts as pruned."""
        drop = min(height - 1 - self.base, len(self.stored))
        if drop <= 0:
            return
        for h in range(self.base + 1, self.base + drop + 1):
            if h in self.payload_bytes:
                self.pruning.on_pruned(self.payload_bytes.pop(h))
        del self.stored[:drop]
        self.base += drop

    def _prune(self, height: int) -> None:
        """Drop the payload of finalized block ``height`` (header and certificate stay)."""
        if self.is_pruned(height):
            return
        i = height - 1 - self.base
        self.stored[i] = compute_pruned_commit(self.stored[i])
        self.pruning.on_pruned(self.payload_bytes.pop(height))

    def get_snapshot(self) -> StateSnapshot:
        """The node's state at its tip as a snapshot (``rppsim.node.state_sync``)."""
        return compute_snapshot(
            self.height,
            self.tip_hash,
            self.tip_commitment,
            self.ledger,
            self.elected,
            self.previous_set,
            self.previous_epoch,
            self.stored,
        )

    def run_pruning_cycle(self) -> dict[str, Any]:
        """A pruning cycle: persist a snapshot of the tip into the snapshot_dir. With the
        ``reconstruction`` gate off it is the chain's empty "completed" summary."""
        if not self.gates.reconstruction:
            return {"completed": True, "snapshot_height": None}
        self.snapshot = self.get_snapshot()
        self.pruning.cycles += 1
        self.pruning.last_snapshot_height = self.height
        return {"completed": True, "snapshot_height": self.height}

    def get_persisted(self) -> PersistedState:
        """What the node has on disk now (``rppsim.node.persistence``)."""
        return PersistedState(
            commits=tuple(self.stored),
            tip_state=self.get_snapshot() if self.chain else None,
            snapshot=self.snapshot,
            proof_cache=tuple(self.verifier.cache.entries),
        )

    def _restore(self, persisted: PersistedState) -> None:
        """Start from the data_dir's tip state, else the snapshot (reconstruction gate), then
        replay the full commits that follow; stop at the first pruned or missing one."""
        for key in persisted.proof_cache:
            self.verifier.cache.insert(key)
        self.snapshot = persisted.snapshot
        base = persisted.tip_state
        if base is None and persisted.snapshot is not None:
            if self.gates.reconstruction:
                base = persisted.snapshot
            else:
                self._reject("restore", REASON_GATE_DISABLED)
        if base is not None and self._is_gap_refused(base):
            self._reject("restore", REASON_WINDOW_ABOVE_TIP)
            base = None
        if base is not None:
            self._adopt_snapshot(base, compute_snapshot_ledger(base.ledger, self.ledger.params))
        self._replay_all(persisted.commits)

    def _replay_all(self, commits: Iterable[Commit]) -> None:
        """Replay the persisted commits above the height, in order, up to the first gap
        (heights adopted by state sync are not in a driver's commit log) or pruned payload;
        the node catches up on the rest from its peers."""
        for commit in commits:
            height = commit.block.header.height
            if height <= self.height:
                continue
            if height != self.height + 1 or is_pruned_block(commit.block):
                break
            self._replay(commit)

    def _adopt_snapshot(self, snapshot: StateSnapshot, ledger: Ledger) -> None:
        """Continue from ``snapshot``: its ``ledger`` (built from its state), tip, electorate
        and the headers above this node's own chain; messages of the heights it covers are
        dropped."""
        height = snapshot.height
        first = snapshot.headers[0].block.header.height
        if first > self.height + 1:  # the window starts above the tip: the store starts there
            self._drop_below(self.height + 1)
            self.base = first - 1
        for commit in self.get_new_headers(snapshot):
            h = commit.block.header.height
            self._store(commit)
            if not is_pruned_block(commit.block) and h > self.base:
                self.payload_bytes[h] = payload = compute_payload_bytes(commit.block)
                self.pruning.on_stored(payload)
        if self.gates.pruning:
            for h in [h for h in self.payload_bytes if h < height]:
                self._prune(h)
        self.ledger = ledger
        self.tip_hash = snapshot.tip_hash
        self.tip_commitment = snapshot.tip_commitment
        self.elected = compute_electorate(snapshot.elected)
        previous = snapshot.previous_set
        self.previous_set = None if previous is None else compute_validator_set(previous)
        self.previous_epoch = snapshot.previous_epoch
        self.pool = {}
        self.round_set = None
        self.last_votes = {}
        self.future = {h: q for h, q in self.future.items() if h > height + 1}
        self.pending_evidence = {
            key: evidence
            for key, evidence in self.pending_evidence.items()
            if compute_evidence_problem(evidence, self.ledger) is None
        }
        self.hs = HeightState(height + 1)

    def get_new_headers(self, snapshot: StateSnapshot) -> tuple[Commit, ...]:
        """The headers of ``snapshot`` above this node's tip (its whole window when the window
        starts above the tip)."""
        first = snapshot.headers[0].block.header.height
        return snapshot.headers[max(self.height + 1 - first, 0) :]

    def _is_gap_refused(self, snapshot: StateSnapshot) -> bool:
        """Whether ``snapshot``'s window starts above the tip while this node keeps its whole
        chain (``keep_chain``): it cannot hold the heights in between."""
        first = snapshot.headers[0].block.header.height if snapshot.headers else 1
        return self.chain is not self.stored and first > self.height + 1

    def _on_state_sync(self, now: int, sender: str, response: StateSyncResponse) -> list[Effect]:
        """Adopt a peer's snapshot that extends this node's chain, persist the adopted commits
        (header and certificate: what the data_dir now holds) and start the next height."""
        if not self.gates.reconstruction:
            return self._reject("state_sync", REASON_GATE_DISABLED)
        electorate = self.elected.validators if self._committed else None
        snapshot = response.snapshot
        args = (self.height, self.tip_hash, self.tip_commitment, electorate)
        problem = compute_state_sync_problem(snapshot, None, *args)
        ledger = None
        if problem is None:
            ledger = compute_snapshot_ledger(snapshot.ledger, self.ledger.params)
            problem = compute_state_sync_problem(snapshot, ledger, *args)
        if problem is None and self._is_gap_refused(snapshot):
            problem = REASON_WINDOW_ABOVE_TIP
        if problem is not None or ledger is None:
            return self._reject("state_sync", str(problem))
        adopted = self.get_new_headers(snapshot)
        self._adopt_snapshot(snapshot, ledger)
        self.vrf_metrics = None  # no VRF round of this node's own for the adopted heights
        self.sync_requested_ms = None
        effects: list[Effect] = [Persist("commit", commit) for commit in adopted]
        return effects + self._start_height(now)

    def _serve_pruned(self, sender: str) -> list[Effect]:
        """Answer a request for pruned blocks: the tip snapshot (reconstruction gate)."""
        if not self.gates.reconstruction:
            return self._reject("sync", REASON_GATE_DISABLED)
        return [Send(sender, StateSyncResponse(self.get_snapshot()))]

    def verify_proof_chain(self) -> str | None:
        """Walk the recursive commitments from genesis to the tip: None when every header
        extends the previous one, else the first break. With ``recursive_proofs`` off it is
        the chain's error (counted as a rejection)."""
        if not self.gates.recursive_proofs:
            self._reject("proof_chain", REASON_RECURSIVE_DISABLED)
            return REASON_RECURSIVE_DISABLED
        previous = GENESIS_RECURSIVE_COMMITMENT
        if self.base and self.chain:  # the retained window: its first header stands for the rest
            previous = self.chain[0].block.header.recursive_previous_commitment
        for commit in self.chain:
            header = commit.block.header
            if header.recursive_previous_commitment != previous:
                return f"recursive commitment breaks at height {header.height}"
            previous = header.recursive_commitment
        return None

    # --- uptime and telemetry ------------------------------------------------------------------

    def _on_uptime(self, now: int) -> list[Effect]:
        cadence_ms = compute_uptime_cadence_secs(self.config.reputation.timetoke) * 1000
        effects: list[Effect] = [SetTimer(Timer(TimerKind.UPTIME), now + cadence_ms)]
        if any(p.wallet_address == self.address for p in self.mempool.uptime_proofs()):
            return effects  # the scheduler skips while proofs are pending
            # (docs/protocol.md#timetoke)
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
        commitment = compute_uptime_commitment(self.address, start, end)
        trial = self.ledger.fork().process_uptime_proof(self.address, start, end, commitment, end)
        if not isinstance(trial, int):
            return None
        claim = UptimeProof(
            self.address,
            start,
            end,
            commitment,
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
        """Take, encode and emit a snapshot; an encode failure is counted and nothing sent."""
        from rppsim.node.status import compute_telemetry_snapshot

        state = self.telemetry
        snapshot = compute_telemetry_snapshot(self.view())
        state.emitted += 1
        seq = state.emitted
        encoded = encode_telemetry_payload(snapshot, state.max_payload_bytes)
        timer = SetTimer(Timer(TimerKind.TELEMETRY), now + self._telemetry_ms())
        if isinstance(encoded, str):
            state.failed["encode"] += 1
            return [EmitTelemetry(now, snapshot, seq, self.height, None, encoded), timer]
        state.pending[seq] = self.height
        if len(state.pending) > MAX_PENDING_EMITS:
            del state.pending[min(state.pending)]
            state.abandoned += 1
        return [EmitTelemetry(now, snapshot, seq, self.height, encoded), timer]

    def on_emit_result(self, now: int, result: object) -> list[Effect]:
        """The driver's answer to an emit: on ok, ``last_observed_height`` becomes the height
        the snapshot carried (never older than an earlier ok); failures are counted by class.
        A malformed or unexpected answer is rejected and counted, never raised."""
        state = self.telemetry
        problem = compute_emit_result_problem(result)
        if problem is None and isinstance(result, EmitResult) and result.seq not in state.pending:
            problem = "no emit awaits this seq"
        if problem is not None:
            state.invalid_results += 1
            return self._reject("telemetry", problem)
        assert isinstance(result, EmitResult)
        height = state.pending.pop(result.seq)
        if not result.ok:
            state.failed[str(result.error_class)] += 1
            return []
        state.succeeded += 1
        if result.seq > state.last_ok_seq:
            state.last_ok_seq = result.seq
            state.last_observed_height = height
        return []

    # --- queries -------------------------------------------------------------------------------

    def status_rollout(self) -> dict[str, Any]:
        """``GET /status/rollout`` (docs/operations.md#rollout-status)."""
        from rppsim.node.status import compute_rollout_status

        return compute_rollout_status(self.view())

    def status_node(self) -> dict[str, Any]:
        """``GET /status/node`` plus consensus, mempool and timetoke_params sections
        (docs/operations.md#node-status)."""
        from rppsim.node.status import compute_node_status

        return compute_node_status(self.view())

    def metrics(self) -> dict[str, Any]:
        """``GET /validator/telemetry`` (docs/operations.md#validator-telemetry) plus rejection
        counters."""
        from rppsim.node.status import compute_telemetry_snapshot

        return compute_telemetry_snapshot(self.view())

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
    TimetokeDeltaBroadcast: Node._on_timetoke_delta,
    StateSyncResponse: Node._on_state_sync,
}
