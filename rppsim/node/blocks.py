"""Blocks: the validator set of a height, block validation and application to the ledger.

Every node runs the same functions on the same inputs: the leader to build a block, followers
to check it, a lagging node to apply a commit. A block is applied to a fork of the ledger;
when the block is finalized the fork becomes the ledger, so no block is executed twice.

Timestamps inside the ledger are the block's (``genesis_time_s + timestamp_ms // 1000``), never
a node's own clock, so every node computes the same state root (docs/architecture.md#determinism).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypedDict, TypeVar

from rppsim.node import vrf
from rppsim.node.consensus import ValidatorSet
from rppsim.node.evidence import (
    PROPOSAL_KINDS,
    compute_offence_kind,
    compute_proposal_evidence_shape_problem,
    find_double_spend,
    get_evidence_proposal,
    get_slashing_reason,
)
from rppsim.node.ledger import Ledger, Rejection, Transfer
from rppsim.node.messages import (
    VRF_BETA_LEN,
    VRF_PI_LEN,
    VRF_PUBLIC_KEY_LEN,
    Block,
    ConsensusCertificate,
    Evidence,
    IdentityRequest,
    ProofSlot,
    Transaction,
    UptimeProof,
    VoteKind,
    VrfSubmissionMsg,
    is_valid_block_body,
    is_valid_double_sign_evidence,
    is_valid_identity_signature,
    is_valid_transaction_signature,
    is_valid_vote_signature,
    sign_identity_request,
)
from rppsim.node.proofs import (
    ConsensusStatement,
    ProofService,
    Statement,
    TransactionBatchStatement,
    TransferRow,
    UptimeStatement,
    compute_size_gate_error,
)
from rppsim.node.reputation import Tier
from rppsim.node.rules import Rules
from rppsim.node.selection import (
    ValidatorProfile,
    VerifiedSubmission,
    VrfProof,
    VrfSelectionResult,
    VrfSubmission,
    compute_capped_committee,
    compute_round_validators,
    is_valid_vrf_proof,
    select_validators,
)
from rppsim.node.signing import compute_address, generate_keypair
from rppsim.node.verifier import MeteredVerifier
from rppsim.node.vrf_input import PoseidonVrfInput, compute_vrf_input_digest, derive_tier_seed

SECONDS_PER_HOUR = 3600


@dataclass(frozen=True, slots=True)
class HeightContext:
    """What checking or building a block of ``height`` depends on, besides the ledger."""

    height: int
    tip_hash: str
    tip_commitment: bytes
    epoch: int
    genesis_time_s: int
    target_validator_count: int
    max_proof_size_bytes: int
    rules: Rules
    max_block_transactions: int = 512
    max_block_identities: int = 32
    tip_hash_bytes: bytes = field(init=False, default=b"", compare=False)
    """The tip hash as the VRF input's 32-byte ``last_block_header``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tip_hash_bytes", bytes.fromhex(self.tip_hash))


def compute_block_time_s(genesis_time_s: int, timestamp_ms: int) -> int:
    """The ledger time of a block: seconds since the epoch of the chain's genesis."""
    return genesis_time_s + timestamp_ms // 1000


# --- VRF submissions and the validator set ----------------------------------------------------


def compute_submission_message(
    submission: VrfSubmission, height: int, round_: int
) -> VrfSubmissionMsg:
    """The gossip form of a node's own submission."""
    return VrfSubmissionMsg(
        address=submission.address,
        public_key=submission.public_key or b"",
        last_block_header=submission.input.last_block_header,
        epoch=submission.input.epoch,
        tier_seed=submission.input.tier_seed,
        randomness=submission.proof.randomness,
        beta=submission.proof.preoutput,
        pi=submission.proof.proof,
        tier=int(submission.tier),
        timetoke_hours=submission.timetoke_hours,
        height=height,
        round=round_,
    )


_MEMO_SIZE = 2**16
_SUBMISSIONS: dict[bytes, VrfSubmission] = {}
_VRF_VERDICTS: dict[bytes, bool] = {}
_KEY_OWNERS: dict[bytes, str] = {}


_V = TypeVar("_V")


def _remember(memo: dict[bytes, _V], key: bytes, value: _V) -> None:
    """Store in a process-wide memo, emptied when it reaches ``_MEMO_SIZE`` entries."""
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    memo[key] = value


def compute_submission_from_message(message: VrfSubmissionMsg) -> VrfSubmission:
    """The selection's view of a gossiped submission (a missing key stays missing).

    A pure conversion, memoized process-wide by the message's exact bytes.
    """
    key = message.to_bytes()
    submission = _SUBMISSIONS.get(key)
    if submission is None:
        submission = _convert_submission(message)
        _remember(_SUBMISSIONS, key, submission)
    return submission


def _get_key_owner(public_key: bytes) -> str:
    """The address of a VRF key (hex BLAKE2s of it), memoized process-wide by the key."""
    owner = _KEY_OWNERS.get(public_key)
    if owner is None:
        owner = compute_address(public_key)
        _remember(_KEY_OWNERS, public_key, owner)
    return owner


def is_valid_submission_proof(message: VrfSubmissionMsg) -> bool:
    """The submission's VRF verifies (``verify_submission``), memoized process-wide by the
    message's exact bytes (which include key, input, randomness, beta and pi)."""
    key = message.to_bytes()
    verdict = _VRF_VERDICTS.get(key)
    if verdict is None:
        verdict = is_valid_vrf_proof(compute_submission_from_message(message))
        _remember(_VRF_VERDICTS, key, verdict)
    return verdict


def _convert_submission(message: VrfSubmissionMsg) -> VrfSubmission:
    return VrfSubmission(
        address=message.address,
        public_key=message.public_key or None,
        input=PoseidonVrfInput(message.last_block_header, message.epoch, message.tier_seed),
        proof=VrfProof(message.randomness, message.beta, message.pi),
        tier=Tier(message.tier),
        timetoke_hours=message.timetoke_hours,
    )


def compute_submission_problem(
    message: VrfSubmissionMsg, ctx: HeightContext, ledger: Ledger
) -> str | None:
    """Why a submission cannot count for ``ctx.height``, before the chain's checks
    (docs/protocol.md#submissions-and-rejections, docs/protocol.md#epochs-and-replay-protection).

    The VRF input must name the tip and the ledger epoch ([RT] ``gather_vrf_submissions``); the
    key must belong to the address (a port rule: the chain never binds the VRF key); with
    ``check_declared_tier`` the declared tier and hours must be the ledger's
    (docs/protocol.md#known-weaknesses).
    """
    if message.height != ctx.height:
        return "submission for another height"
    if message.last_block_header != ctx.tip_hash_bytes:
        return "submission for another tip"
    if message.epoch != ctx.epoch:
        return "submission for another epoch"
    if message.public_key and _get_key_owner(message.public_key) != message.address:
        return "VRF key does not belong to the address"
    if ctx.rules.check_declared_tier:
        account = ledger.get_account(message.address)
        if account is None or (
            message.tier != account.tier or message.timetoke_hours != account.timetoke.hours_online
        ):
            return "declared tier or hours differ from the ledger"
        if message.tier_seed != derive_tier_seed(message.address, message.timetoke_hours):
            return "tier seed does not match the declared hours"
    return None


def compute_gossip_submission_problem(message: VrfSubmissionMsg) -> str | None:
    """The gossip check ``verify_submission``: a public key and a valid VRF
    (docs/protocol.md#submissions-and-rejections)."""
    if not message.public_key:
        return "missing VRF public key"
    if not is_valid_submission_proof(message):
        return "invalid VRF proof"
    return None


def compute_leader_key(submission: VerifiedSubmission) -> tuple[int, int, int, int, int, str]:
    """[RT] leader order: tier, hours, weight desc; weighted randomness, address asc
    (docs/protocol.md#leader)."""
    return (
        not submission.verified,
        -submission.tier,
        -submission.timetoke_hours,
        -submission.weight,
        submission.weighted_randomness,
        submission.address,
    )


@dataclass(frozen=True, slots=True)
class RoundSet:
    """The voting set of a height, derived from a list of VRF submissions and the ledger."""

    selection: VrfSelectionResult
    profiles: tuple[ValidatorProfile, ...]
    validators: ValidatorSet
    by_address: dict[str, VerifiedSubmission] = field(compare=False)
    observers: int = 0

    def get_submission(self, address: str) -> VerifiedSubmission | None:
        """The verified submission of a member."""
        return self.by_address.get(address)


def compute_round_set(
    ledger: Ledger, messages: Iterable[VrfSubmissionMsg], ctx: HeightContext
) -> RoundSet:
    """Selection over the submissions ∩ the ledger's Tl3+ candidates
    (docs/protocol.md#selection-weight-threshold-and-fallback, docs/protocol.md#rounds-and-quorum).

    Submissions that fail ``compute_submission_problem`` are left out before selection.
    """
    kept = [m for m in messages if compute_submission_problem(m, ctx, ledger) is None]
    verdicts = {m.address: is_valid_submission_proof(m) for m in kept if m.public_key}
    pool = [compute_submission_from_message(m) for m in kept]
    selection = select_validators(
        pool, ctx.target_validator_count, verify=lambda s: verdicts.get(s.address, False)
    )
    candidates, observers = ledger.get_participants()
    profiles = compute_round_validators(selection, candidates)
    if ctx.rules.normalise_vrf_metrics:
        accepted = {s.address for s in selection.validators}
        used = bool(profiles) and all(p.address not in accepted for p in profiles)
        selection = replace(selection, metrics=selection.metrics.normalised(used))
    by_address = {s.address: s for s in selection.validators}
    if selection.fallback is not None:
        by_address.setdefault(selection.fallback.submission.address, selection.fallback.submission)
    if ctx.rules.threshold_caps_committee:
        capped = {
            s.address
            for s in compute_capped_committee(selection.validators, ctx.target_validator_count)
        }
        profiles = tuple(p for p in profiles if p.address in capped)
    members = [by_address[p.address] for p in profiles]
    order = [s.address for s in sorted(members, key=compute_leader_key)]
    powers = {p.address: p.voting_power for p in profiles}
    return RoundSet(
        selection,
        profiles,
        ValidatorSet.create(powers, order),
        {a: by_address[a] for a in powers},
        len(observers),
    )


# --- identities, uptime and evidence ----------------------------------------------------------


def compute_identity_problem(
    request: IdentityRequest, ledger: Ledger, *, verify_proof: bool = True
) -> str | None:
    """Why an identity request cannot be registered now (docs/protocol.md#rewards-and-treasury
    "Identity onboarding").

    The chain's attestation quorum (≥ 3 precommit votes, ≥ 2 gossip confirmations) is replaced
    by the block's own commit certificate, which carries ≥ ⌈2T/3⌉ + 1 of voting power.
    ``verify_proof`` False skips the identity's VRF proof: mempool admission with the
    ``recursive_proofs`` gate off (docs/operations.md#rollout); blocks always verify it.
    """
    if not is_valid_identity_signature(request):
        return "invalid identity signature"
    if ledger.get_account(request.wallet_address) is not None:
        return "address already registered"
    if request.epoch_nonce != ledger.epoch_nonce:
        return "stale epoch nonce"
    if ledger.is_vrf_tag_used(request.vrf_tag):
        return "vrf tag already used in this epoch"
    if not verify_proof:
        return None
    vrf_input = PoseidonVrfInput(
        request.epoch_nonce, 0, derive_tier_seed(request.wallet_address, 0)
    )
    if (
        vrf.verify_memoized(
            request.vrf_public_key, compute_vrf_input_digest(vrf_input), request.vrf_pi
        )
        is None
    ):
        return "invalid identity VRF proof"
    return None


def build_identity_request(ledger: Ledger, seed: bytes) -> IdentityRequest:
    """A new wallet's signed identity request against ``ledger``, one that
    ``compute_identity_problem`` accepts (docs/protocol.md#epochs-and-replay-protection)."""
    wallet = generate_keypair(seed)
    vrf_secret, vrf_public = vrf.keypair(seed)
    vrf_input = PoseidonVrfInput(ledger.epoch_nonce, 0, derive_tier_seed(wallet.address, 0))
    request = IdentityRequest(
        wallet_address=wallet.address,
        public_key=wallet.public_key,
        vrf_public_key=vrf_public,
        vrf_pi=vrf.prove(vrf_secret, compute_vrf_input_digest(vrf_input)),
        epoch_nonce=ledger.epoch_nonce,
        state_root=ledger.get_state_root(),
        identity_root=bytes(32),
        commitment=hashlib.blake2s(wallet.public_key).digest(),
    )
    return sign_identity_request(request, wallet)


def compute_uptime_statement(proof: UptimeProof, accrual_cap_hours: int) -> UptimeStatement:
    """The public statement an uptime proof must prove (docs/protocol.md#timetoke;
    docs/proofs.md#circuits item 5)."""
    hours = max(proof.window_end - proof.window_start, 0) // SECONDS_PER_HOUR
    return UptimeStatement(
        wallet_address=proof.wallet_address,
        window_start=proof.window_start,
        window_end=proof.window_end,
        node_clock=proof.node_clock or 0,
        epoch=proof.epoch or 0,
        head_hash=bytes.fromhex(proof.head_hash) if proof.head_hash else b"",
        credited_hours=min(hours, accrual_cap_hours),
    )


def compute_uptime_problem(
    proof: UptimeProof, proofs: ProofService, max_proof_size_bytes: int, cap_hours: int
) -> str | None:
    """Why an uptime proof is not acceptable regardless of ledger state
    (docs/protocol.md#timetoke)."""
    if proof.window_end <= proof.window_start:
        return "invalid window"
    if proof.window_end - proof.window_start < SECONDS_PER_HOUR:
        return "window too short"
    if not proof.is_commitment_valid():
        return "commitment mismatch"
    if proof.node_clock is None or proof.node_clock < proof.window_end:
        return "node clock behind the window"
    if proof.head_hash is not None and not _is_hex32(proof.head_hash):
        return "malformed head hash"
    if proof.proof is None:
        return "missing uptime proof"
    return compute_proof_problem(
        proof.proof, compute_uptime_statement(proof, cap_hours), proofs, max_proof_size_bytes
    )


def _is_hex32(text: str) -> bool:
    try:
        return len(bytes.fromhex(text)) == 32
    except ValueError:
        return False


def compute_evidence_problem(evidence: Evidence, ledger: Ledger) -> str | None:
    """Why evidence cannot be applied: it must verify and its offender still be validated.

    Double-sign evidence verifies on its own; proposal evidence (``rppsim.node.evidence``)
    only for its shape here: that its block is invalid is ``compute_proposal_evidence_problem``,
    which ``compute_block_problem`` runs on every block that carries it.
    """
    if evidence.kind in PROPOSAL_KINDS:
        problem = compute_proposal_evidence_shape_problem(evidence, ledger.height + 1)
        if problem is not None:
            return problem
    elif not is_valid_double_sign_evidence(evidence):
        return "invalid evidence"
    account = ledger.get_account(evidence.address)
    if account is None or not account.reputation.zsi_validated:
        return "offender already slashed"
    return None


def compute_proposal_evidence_problem(
    evidence: Evidence,
    ledger: Ledger,
    ctx: HeightContext,
    proofs: ProofService,
    previous_set: ValidatorSet | None,
    previous_epoch: int,
    electorate: RoundSet | None,
) -> str | None:
    """Why proposal evidence does not hold at the height ``ctx`` decides (None: it holds):
    its proposal's block, checked as ``compute_block_problem`` checks any block against
    ``ledger`` (the state before the height), must fail with the fault the evidence names.
    ``electorate`` is the height's voting set under the ``committed`` rule, else None."""
    problem = compute_evidence_problem(evidence, ledger)
    if problem is not None:
        return problem
    proposal = get_evidence_proposal(evidence)
    assert proposal is not None  # the shape check decoded it
    block = proposal.block
    verdict = compute_block_problem(
        ledger, block, ctx, proofs, previous_set, previous_epoch, round_set=electorate
    )
    if not isinstance(verdict, str):
        return "the accused proposal is valid"
    kind = compute_offence_kind(verdict, find_double_spend(block, ledger) is not None)
    if kind != evidence.kind:
        return "the accused proposal fails otherwise"
    return None


def get_unmetered(proofs: ProofService) -> ProofService:
    """The proof service behind a node's ``MeteredVerifier``: re-checking the accused block of
    proposal evidence is rppsim's (the chain never re-verifies a proof as evidence), so it
    stays out of the node's verifier counters and cache."""
    return proofs.service if isinstance(proofs, MeteredVerifier) else proofs


def compute_evidence_key(evidence: Evidence) -> tuple[str, int, int, int]:
    """One offence = one (offender, height, round, kind)."""
    return (evidence.address, evidence.height, evidence.round, int(evidence.kind))


# --- proofs -----------------------------------------------------------------------------------


def compute_proof_problem(
    slot: ProofSlot, statement: Statement, proofs: ProofService, max_proof_size_bytes: int
) -> str | None:
    """Size gate first, then the verifier registry
    (docs/operations.md#proof-systems-and-the-size-gate)."""
    if slot.circuit != statement.circuit:
        return f"proof for circuit {slot.circuit}, expected {statement.circuit}"
    too_large = compute_size_gate_error(len(slot.data), max_proof_size_bytes)
    if too_large is not None:
        return f"proof size gate failed for {slot.system}/{slot.circuit}: {too_large}"
    outcome = proofs.verify(statement, slot.system, slot.data)
    return None if outcome.ok else outcome.reason or "invalid proof"


def compute_consensus_statement(
    certificate: ConsensusCertificate, validators: ValidatorSet, epoch: int
) -> ConsensusStatement:
    """The consensus circuit's statement: one row per validator of the certified height."""
    prevoted = {r.vote.vote.voter for r in certificate.pre_votes}
    precommitted = {r.vote.vote.voter for r in certificate.pre_commits}
    members = [address for address, _ in validators.powers]
    return ConsensusStatement(
        block_hash=certificate.block_hash,
        height=certificate.height,
        round=certificate.round,
        epoch=epoch,
        quorum=validators.quorum,
        weights=tuple(validators.power_of(a) for a in members),
        prevoted=tuple(a in prevoted for a in members),
        precommitted=tuple(a in precommitted for a in members),
    )


def compute_certificate_problem(
    certificate: ConsensusCertificate, validators: ValidatorSet, height: int, block_hash: str
) -> str | None:
    """Certificate checks of ``verify_consensus_certificate`` (docs/protocol.md#rounds-and-quorum
    "External-block").

    Every vote verifies and names this height, round and block; no voter twice per phase;
    every precommit voter also prevoted; recorded weights are the voters' powers; both sums
    reach the quorum.
    """
    if certificate.height != height or certificate.block_hash != block_hash:
        return "certificate for another block"
    phases = (
        (certificate.pre_votes, VoteKind.PRE_VOTE),
        (certificate.pre_commits, VoteKind.PRE_COMMIT),
    )
    voters: list[set[str]] = []
    for records, kind in phases:
        seen: set[str] = set()
        for record in records:
            vote = record.vote.vote
            if (
                vote.kind != kind
                or vote.height != height
                or vote.round != certificate.round
                or vote.block_hash != block_hash
                or vote.voter in seen
                or record.weight != validators.power_of(vote.voter)
                or record.weight == 0
                or not is_valid_vote_signature(record.vote)
            ):
                return "invalid vote in certificate"
            seen.add(vote.voter)
        voters.append(seen)
    if not voters[1] <= voters[0]:
        return "precommit without prevote in certificate"
    prevote_power = sum(validators.power_of(v) for v in voters[0])
    precommit_power = sum(validators.power_of(v) for v in voters[1])
    if min(prevote_power, precommit_power) < validators.quorum or validators.quorum == 0:
        return "certificate below quorum"
    return None


# --- applying a block -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppliedBlock:
    """A block applied to a ledger fork: the fork, the set it was voted with, the tx rows."""

    ledger: Ledger
    round_set: RoundSet
    transfer_rows: tuple[TransferRow, ...]
    fees: int


def _balance(ledger: Ledger, address: str) -> int:
    account = ledger.get_account(address)
    return 0 if account is None else account.balance


def _nonce(ledger: Ledger, address: str) -> int:
    account = ledger.get_account(address)
    return 0 if account is None else account.nonce


def process_block_transactions(
    ledger: Ledger, block: Block, now_s: int
) -> tuple[tuple[TransferRow, ...], int] | str:
    """Apply every transfer in order; any rejection makes the block invalid."""
    rows: list[TransferRow] = []
    fees = 0
    for tx in block.transactions:
        if tx.sender == tx.recipient:
            return f"transaction {tx.hash[:16]} rejected: self transfer"
        before = (_balance(ledger, tx.sender), _balance(ledger, tx.recipient))
        nonce = _nonce(ledger, tx.sender)
        rejection = ledger.process_transfer(
            Transfer(tx.sender, tx.recipient, tx.amount, tx.fee, tx.nonce), now_s
        )
        if rejection is not None:
            return f"transaction {tx.hash[:16]} rejected: {rejection.value}"
        after = (_balance(ledger, tx.sender), _balance(ledger, tx.recipient))
        rows.append(TransferRow(tx.amount, tx.fee, before[0], after[0], before[1], after[1], nonce))
        fees += tx.fee
    return tuple(rows), fees


def process_block(
    ledger: Ledger,
    block: Block,
    round_set: RoundSet,
    genesis_time_s: int,
    cap_hours: int,
    previous_set: ValidatorSet | None = None,
) -> tuple[tuple[TransferRow, ...], int] | str:
    """Apply a block's evidence, transfers, identities, uptime credits, rewards and epoch.

    Order: slashing first (an offender is not paid), then transfers, identities and uptime
    credits, then the participation detectors over the carried certificate and
    ``previous_set``, the validator set of the previous block (``process_participation``),
    then the consensus reward (5 + fees, docs/protocol.md#rewards-and-treasury) to the block's
    validator set, except the
    slashed and the detected.
    """
    now_s = compute_block_time_s(genesis_time_s, block.header.timestamp_ms)
    for evidence in block.evidence:
        problem = compute_evidence_problem(evidence, ledger)
        if problem is not None:
            return problem
        ledger.process_slash(evidence.address, get_slashing_reason(evidence.kind), now_s)
    applied = process_block_transactions(ledger, block, now_s)
    if isinstance(applied, str):
        return applied
    for request in block.identities:
        problem = compute_identity_problem(request, ledger)
        rejection = problem or ledger.process_register_identity(
            request.wallet_address, request.vrf_tag, now_s
        )
        if rejection is not None:
            return f"identity rejected: {rejection}"
    for proof in block.uptime_proofs:
        result = ledger.process_uptime_proof(
            proof.wallet_address,
            proof.window_start,
            proof.window_end,
            proof.proof_commitment,
            now_s,
        )
        if isinstance(result, Rejection) and result is not Rejection.WINDOW_NOT_EXTENDED:
            return f"uptime proof rejected: {result.value}"
    withheld = process_participation(ledger, block, previous_set)
    slashed = {e.address for e in block.evidence}
    paid = [p for p in round_set.profiles if p.address not in slashed]
    ledger.process_consensus_rewards(paid, block.header.proposer, applied[1], now_s, withheld)
    ledger.process_epoch_change(block.header.height)
    return applied


def compute_voters(certificate: ConsensusCertificate) -> tuple[frozenset[str], frozenset[str]]:
    """(prevoters, precommitters) a certificate names."""
    return (
        frozenset(r.vote.vote.voter for r in certificate.pre_votes),
        frozenset(r.vote.vote.voter for r in certificate.pre_commits),
    )


def process_participation(
    ledger: Ledger, block: Block, previous_set: ValidatorSet | None
) -> frozenset[str]:
    """The participation detectors over the certificate ``block`` carries: every member of
    the certified block's validator set that it does not name missed that vote
    (``rppsim.node.participation``). Returns the validators whose reward is withheld."""
    certificate = block.last_certificate
    if certificate is None or previous_set is None:
        return frozenset()
    members = [address for address, _ in previous_set.powers]
    return ledger.process_participation(
        block.header.height,
        certificate.height,
        certificate.round,
        members,
        compute_voters(certificate),
    )


def compute_transactions_problem(block: Block) -> str | None:
    """The first transaction whose signature does not verify (a block must not spend from an
    account without its key; ``process_block`` trusts the signatures it is given)."""
    for tx in block.transactions:
        if not is_valid_transaction_signature(tx):
            return f"transaction {tx.hash[:16]} rejected: invalid signature"
    return None


def compute_block_problem(
    ledger: Ledger,
    block: Block,
    ctx: HeightContext,
    proofs: ProofService,
    previous_set: ValidatorSet | None,
    previous_epoch: int,
    round_set: RoundSet | None = None,
) -> AppliedBlock | str:
    """Check a block against the tip and ledger, and apply it to a fork
    (docs/protocol.md#rounds-and-quorum).

    Returns the applied fork, or the reason the block is invalid. Proof slots are checked
    against statements this node computes itself, so a proof over other public inputs fails.
    ``round_set`` is the caller's ``compute_round_set`` of the block's submissions, if known.
    """
    header = block.header
    if header.height != ctx.height or header.previous_hash != ctx.tip_hash:
        return "block does not extend the tip"
    if len(block.transactions) > ctx.max_block_transactions:
        return "too many transactions in block"
    if len(block.identities) > ctx.max_block_identities:
        return "too many identity registrations in block"
    if header.recursive_previous_commitment != ctx.tip_commitment:
        return "recursive commitment does not extend the tip"
    if not is_valid_block_body(block):
        return "block body does not match its header"
    if round_set is None:
        round_set = compute_round_set(ledger, block.vrf_submissions, ctx)
    problem = _header_problem(block, round_set, ledger)
    if problem is None and ctx.height > 1:
        problem = _last_commit_problem(block, ctx, previous_set)
    if problem is not None:
        return problem
    problem = compute_transactions_problem(block)
    if problem is not None:
        return problem
    electorate = round_set if ctx.rules.electorate == "committed" else None
    for evidence in block.evidence:
        if evidence.kind in PROPOSAL_KINDS:
            problem = compute_proposal_evidence_problem(
                evidence,
                ledger,
                ctx,
                get_unmetered(proofs),
                previous_set,
                previous_epoch,
                electorate,
            )
            if problem is not None:
                return f"evidence: {problem}"
    for uptime in block.uptime_proofs:
        problem = compute_uptime_problem(
            uptime, proofs, ctx.max_proof_size_bytes, ledger.params.timetoke.accrual_cap_hours
        )
        if problem is not None:
            return f"uptime proof: {problem}"
    fork = ledger.fork()
    applied = process_block(
        fork,
        block,
        round_set,
        ctx.genesis_time_s,
        ledger.params.timetoke.accrual_cap_hours,
        previous_set,
    )
    if isinstance(applied, str):
        return applied
    rows, fees = applied
    problem = _proof_slots_problem(block, ctx, proofs, rows, previous_set, previous_epoch)
    if problem is not None:
        return problem
    if fork.get_state_root() != header.state_root:
        return "state root mismatch"
    return AppliedBlock(fork, round_set, rows, fees)


class HeaderVrfFields(TypedDict):
    """The VRF fields of a ``BlockHeader``, as keyword arguments."""

    vrf_public_key: bytes
    vrf_randomness: int
    vrf_beta: bytes
    vrf_pi: bytes
    vrf_epoch: int
    vrf_tier_seed: bytes


def compute_header_vrf_fields(submission: VerifiedSubmission | None) -> HeaderVrfFields:
    """The header's VRF fields: the proposer's electing submission, or zeros for a member
    elected without one (the genesis electorate, ``rppsim.node.electorate``)."""
    if submission is None:
        return {
            "vrf_public_key": bytes(VRF_PUBLIC_KEY_LEN),
            "vrf_randomness": 0,
            "vrf_beta": bytes(VRF_BETA_LEN),
            "vrf_pi": bytes(VRF_PI_LEN),
            "vrf_epoch": 0,
            "vrf_tier_seed": bytes(32),
        }
    proof = submission.proof
    return {
        "vrf_public_key": submission.public_key or b"",
        "vrf_randomness": proof.randomness,
        "vrf_beta": proof.preoutput,
        "vrf_pi": proof.proof,
        "vrf_epoch": submission.input.epoch,
        "vrf_tier_seed": submission.input.tier_seed,
    }


def _header_problem(block: Block, round_set: RoundSet, ledger: Ledger) -> str | None:
    """The proposer is a member and the header's VRF and leader fields are its own."""
    header = block.header
    if not round_set.validators.is_member(header.proposer):
        return "proposer is not in the block's validator set"
    expected = compute_header_vrf_fields(round_set.get_submission(header.proposer))
    if any(getattr(header, name) != value for name, value in expected.items()):
        return "header VRF fields do not match the proposer's submission"
    account = ledger.get_account(header.proposer)
    if account is None or (
        header.leader_tier != int(account.tier)
        or header.leader_timetoke != account.timetoke.hours_online
    ):
        return "header leader tier or timetoke differ from the ledger"
    return None


def _last_commit_problem(
    block: Block, ctx: HeightContext, previous_set: ValidatorSet | None
) -> str | None:
    """Block h carries a valid certificate of block h − 1 (port rule, like a LastCommit)."""
    certificate = block.last_certificate
    if certificate is None or previous_set is None:
        return "missing certificate of the previous block"
    return compute_certificate_problem(certificate, previous_set, ctx.height - 1, ctx.tip_hash)


def compute_block_statements(
    block: Block,
    rows: Sequence[TransferRow],
    previous_set: ValidatorSet | None,
    previous_epoch: int,
    proofs: ProofService,
) -> list[Statement]:
    """What a block's proofs must state, in order: its transfer batch (when it has transfers)
    and the certificate it carries (docs/operations.md#guardrails rows 14 and 17). A statement the
    proof
    service cannot express is left out; every node agrees on that (``is_provable``)."""
    statements: list[Statement] = []
    if rows:
        statements.append(
            TransactionBatchStatement(compute_batch_digest(block.transactions), tuple(rows))
        )
    if block.last_certificate is not None and previous_set is not None:
        statements.append(
            compute_consensus_statement(block.last_certificate, previous_set, previous_epoch)
        )
    return [s for s in statements if proofs.is_provable(s)]


def _proof_slots_problem(
    block: Block,
    ctx: HeightContext,
    proofs: ProofService,
    rows: Sequence[TransferRow],
    previous_set: ValidatorSet | None,
    previous_epoch: int,
) -> str | None:
    """Exactly the expected proofs, each passing the size gate and the verifier."""
    expected = compute_block_statements(block, rows, previous_set, previous_epoch, proofs)
    if len(block.proofs) != len(expected):
        return "unexpected number of block proofs"
    for slot, statement in zip(block.proofs, expected, strict=True):
        problem = compute_proof_problem(slot, statement, proofs, ctx.max_proof_size_bytes)
        if problem is not None:
            return f"{statement.circuit} proof: {problem}"
    return None


def compute_batch_digest(transactions: Iterable[Transaction]) -> bytes:
    """Digest of a block's transfer list in block order (the batch proof's public input)."""
    hasher = hashlib.blake2s(b"rpp-tx-batch")
    for tx in transactions:
        hasher.update(tx.digest())
    return hasher.digest()
