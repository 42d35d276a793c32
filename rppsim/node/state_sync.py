"""State snapshots and state sync: the ``reconstruction`` feature gate (docs/operations.md#rollout).

A ``StateSnapshot`` is what a node needs to continue from height h without the blocks up to
h: the ledger after h, the tip (hash and recursive commitment), what verifying block h + 1
needs (the electorate of h + 1, the validator set and epoch of h) and the node's header
window b+1..h as pruned commits (header and certificate, ``rppsim.node.pruning``): every header
from genesis (b = 0) when the node keeps them, else the last ``[pruning] retention_depth``
ones (docs/operations.md#pruning-and-storage).

A node persists a snapshot in its ``snapshot_dir`` at every pruning cycle and can restart
from one (``rppsim.node.persistence``). A node whose missing blocks a peer has pruned gets the
peer's snapshot of its tip in one ``StateSyncResponse`` — rppsim's single-message equivalent
of the chain's state-sync plan and chunks (``HUBId/chain:rpp/runtime/node.rs``). With the gate
off, serving, consuming and restoring fail with the chain's ``reconstruction feature gate
disabled`` (counted as a rejection).

Both are wire messages (``rppsim.node.messages``): their layouts declare the ledger state
(``LedgerState``: every account with its reputation and timetoke balance, the epoch, the
used VRF tags, the slashing and participation logs and counters), the electorate
(``ElectorateRecord``) and the validator set field by field, so ``size_bytes`` is the length
of the canonical encoding and a response decodes from bytes with the same rejections as any
message. rppsim's choices: the ledger's parameters are not sent (they are the receiver's
configuration), and the electorate travels without its VRF selection audit (a node that
adopts a snapshot ran no VRF round of its own for those heights; its electorate carries an
empty ``VrfSelectionResult``). The chain's snapshot chunks carry its own serde encoding.

Checks on receipt (``compute_state_sync_problem``): the records are in canonical order
(accounts, tags, counters, members, profiles and submissions by address, each once), the
header window is contiguous and extends the receiver's tip (hashes and recursive commitments
link, each certificate names its header), the first new certificate verifies against the
receiver's own electorate (``committed`` electorate rule; the pool rule needs the pruned VRF
submissions), and the snapshot's ledger has the state root of the last header. A window that
starts above the receiver's tip (the peer no longer retains the heights in between) links
within itself from its first header's parent, and no certificate is checked against the
receiver's electorate: the recursive commitment of that header stands for the pruned prefix
(the chain verifies its recursive proof; port limit). Later certificates are
checked for their block and height only: their validator sets follow from pruned payloads
(port limit; the chain checks its pruning proofs).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from rppsim.node.blocks import RoundSet, compute_certificate_problem
from rppsim.node.consensus import ValidatorSet
from rppsim.node.ledger import Account, Ledger, LedgerParams, SlashingEvent
from rppsim.node.messages import (
    AccountRecord,
    Commit,
    ElectorateRecord,
    LedgerState,
    MemberPower,
    MissesRecord,
    ParticipationRecord,
    ProfileRecord,
    SlashingRecord,
    StateSnapshot,
    StateSyncResponse,
    SubmissionRecord,
    ValidatorSetRecord,
)
from rppsim.node.participation import Detection, Misses, ParticipationEvent
from rppsim.node.reputation import ReputationProfile, Tier
from rppsim.node.selection import (
    ValidatorProfile,
    VerifiedSubmission,
    VrfProof,
    VrfSelectionResult,
)
from rppsim.node.timetoke import TimetokeBalance
from rppsim.node.vrf_input import PoseidonVrfInput

REASON_GATE_DISABLED = "reconstruction feature gate disabled"
"""The chain's ``ChainError::Config`` message of every gated reconstruction call."""

__all__ = [
    "REASON_GATE_DISABLED",
    "StateSnapshot",
    "StateSyncResponse",
    "compute_electorate",
    "compute_electorate_record",
    "compute_ledger_state",
    "compute_snapshot",
    "compute_snapshot_ledger",
    "compute_state_sync_problem",
    "compute_validator_set",
    "compute_validator_set_record",
]


# --- ledger state ------------------------------------------------------------------------------


def compute_account_record(account: Account) -> AccountRecord:
    """An account as its record, field for field."""
    profile = account.reputation
    balance = profile.timetoke
    return AccountRecord(
        account.address,
        account.balance,
        account.stake,
        account.nonce,
        profile.zsi_validated,
        balance.hours_online,
        balance.last_proof_timestamp,
        balance.last_decay_timestamp,
        balance.last_sync_timestamp,
        profile.consensus_success,
        profile.peer_feedback,
        profile.last_decay_timestamp,
        float(profile.score),
        int(profile.tier),
    )


def compute_account(record: AccountRecord) -> Account:
    """The account a record describes."""
    timetoke = TimetokeBalance(
        record.hours_online,
        record.last_proof_timestamp,
        record.last_decay_timestamp,
        record.last_sync_timestamp,
    )
    profile = ReputationProfile(
        record.zsi_validated,
        timetoke,
        record.consensus_success,
        record.peer_feedback,
        record.reputation_last_decay,
        record.score,
        Tier(record.tier),
    )
    return Account(record.address, record.balance, record.stake, record.nonce, profile)


def compute_ledger_state(ledger: Ledger) -> LedgerState:
    """The whole state of ``ledger`` (its parameters excepted), in canonical order."""
    return LedgerState(
        ledger.height,
        ledger.epoch,
        ledger.epoch_nonce,
        ledger.reward_shortfall,
        tuple(compute_account_record(a) for a in ledger.get_accounts()),
        tuple(ledger.get_used_vrf_tags()),
        tuple(
            SlashingRecord(
                e.address, e.reason, e.penalty_percent, e.timestamp, e.evidence_hash, e.signature
            )
            for e in ledger.slashing_log
        ),
        tuple(
            MissesRecord(a, m.prevotes, m.precommits, m.inactive)
            for a, m in ledger.get_all_misses()
        ),
        tuple(
            ParticipationRecord(
                e.height, e.offense_height, e.round, e.address, str(e.kind), e.misses
            )
            for e in ledger.participation_log
        ),
    )


def _is_strictly_sorted(keys: Sequence[str]) -> bool:
    return all(a < b for a, b in pairwise(keys))


def compute_ledger_state_problem(state: LedgerState) -> str | None:
    """Why ``state`` is not in canonical order (None: it is)."""
    if not _is_strictly_sorted([a.address for a in state.accounts]):
        return "snapshot accounts not sorted by address"
    if not _is_strictly_sorted(state.used_vrf_tags):
        return "snapshot VRF tags not sorted"
    if not _is_strictly_sorted([m.address for m in state.misses]) or any(
        (m.prevotes, m.precommits, m.inactive) == (0, 0, 0) for m in state.misses
    ):
        return "snapshot miss counters not canonical"
    return None


def compute_snapshot_ledger(state: LedgerState, params: LedgerParams) -> Ledger:
    """The ledger ``state`` describes, with the receiver's ``params``."""
    return Ledger.from_parts(
        params,
        (compute_account(r) for r in state.accounts),
        height=state.height,
        epoch=state.epoch,
        epoch_nonce=state.epoch_nonce,
        reward_shortfall=state.reward_shortfall,
        used_vrf_tags=state.used_vrf_tags,
        slashing_log=(
            SlashingEvent(
                r.address, r.reason, r.penalty_percent, r.timestamp, r.evidence_hash, r.signature
            )
            for r in state.slashing_log
        ),
        misses={m.address: Misses(m.prevotes, m.precommits, m.inactive) for m in state.misses},
        participation_log=(
            ParticipationEvent(
                r.height, r.offense_height, r.round, r.address, Detection(r.kind), r.misses
            )
            for r in state.participation_log
        ),
    )


# --- validator sets and the electorate ---------------------------------------------------------


def compute_validator_set_record(validators: ValidatorSet) -> ValidatorSetRecord:
    """Powers by address and the leader order."""
    return ValidatorSetRecord(
        tuple(MemberPower(a, p) for a, p in validators.powers), validators.leader_order
    )


def compute_validator_set(record: ValidatorSetRecord) -> ValidatorSet:
    """The validator set a record describes (totals and quorum recomputed)."""
    return ValidatorSet.create(
        {m.address: m.power for m in record.powers}, list(record.leader_order)
    )


def _profile_record(profile: ValidatorProfile) -> ProfileRecord:
    proof = profile.proof
    return ProfileRecord(
        profile.address,
        profile.stake,
        float(profile.reputation_score),
        int(profile.tier),
        profile.timetoke_hours,
        proof.randomness,
        proof.preoutput,
        proof.proof,
        profile.randomness,
    )


def _submission_record(submission: VerifiedSubmission) -> SubmissionRecord:
    vrf_input, proof = submission.input, submission.proof
    return SubmissionRecord(
        submission.address,
        submission.public_key or b"",
        vrf_input.last_block_header,
        vrf_input.epoch,
        vrf_input.tier_seed,
        proof.randomness,
        proof.preoutput,
        proof.proof,
        int(submission.tier),
        submission.timetoke_hours,
        submission.randomness,
        submission.verified,
        submission.weight,
        submission.weighted_randomness,
    )


def compute_electorate_record(electorate: RoundSet) -> ElectorateRecord:
    """The electorate without its selection audit, members and submissions by address."""
    return ElectorateRecord(
        tuple(_profile_record(p) for p in sorted(electorate.profiles, key=lambda p: p.address)),
        compute_validator_set_record(electorate.validators),
        tuple(_submission_record(electorate.by_address[a]) for a in sorted(electorate.by_address)),
        electorate.observers,
    )


def compute_electorate_problem(record: ElectorateRecord) -> str | None:
    """Why an electorate record is not canonical (None: it is)."""
    members = [m.address for m in record.validators.powers]
    if not _is_strictly_sorted(members):
        return "snapshot electorate members not sorted"
    if not _is_strictly_sorted([p.address for p in record.profiles]):
        return "snapshot electorate profiles not sorted"
    submitters = [s.address for s in record.submissions]
    if not _is_strictly_sorted(submitters) or not set(submitters) <= set(members):
        return "snapshot electorate submissions not canonical"
    return None


def compute_electorate(record: ElectorateRecord) -> RoundSet:
    """The electorate a record describes (with an empty selection audit)."""
    profiles = tuple(
        ValidatorProfile(
            r.address,
            r.stake,
            r.reputation_score,
            Tier(r.tier),
            r.timetoke_hours,
            VrfProof(r.proof_randomness, r.preoutput, r.proof),
            r.randomness,
        )
        for r in record.profiles
    )
    submissions = {
        r.address: VerifiedSubmission(
            r.address,
            r.public_key or None,
            PoseidonVrfInput(r.last_block_header, r.epoch, r.tier_seed),
            VrfProof(r.proof_randomness, r.preoutput, r.proof),
            Tier(r.tier),
            r.timetoke_hours,
            r.randomness,
            r.verified,
            r.weight,
            r.weighted_randomness,
        )
        for r in record.submissions
    }
    validators = compute_validator_set(record.validators)
    return RoundSet(VrfSelectionResult(), profiles, validators, submissions, record.observers)


# --- snapshots -----------------------------------------------------------------------------------


def compute_snapshot(
    height: int,
    tip_hash: str,
    tip_commitment: bytes,
    ledger: Ledger,
    elected: RoundSet,
    previous_set: ValidatorSet | None,
    previous_epoch: int,
    headers: Sequence[Commit],
) -> StateSnapshot:
    """A node's state at its tip as a snapshot."""
    return StateSnapshot(
        height,
        tip_hash,
        tip_commitment,
        compute_ledger_state(ledger),
        compute_electorate_record(elected),
        None if previous_set is None else compute_validator_set_record(previous_set),
        previous_epoch,
        tuple(headers),
    )


def compute_state_sync_problem(
    snapshot: StateSnapshot,
    ledger: Ledger | None,
    height: int,
    tip_hash: str,
    tip_commitment: bytes,
    electorate: ValidatorSet | None,
) -> str | None:
    """Why a node at ``height`` (tip ``tip_hash``) must not adopt ``snapshot`` (None: it may).

    ``ledger`` is ``compute_snapshot_ledger`` of the snapshot's state (None: not built yet,
    the state root is then not checked); ``electorate`` is the receiver's validator set of
    height + 1, or None when it cannot know it without the block's payload (pool rule).
    """
    problem = compute_ledger_state_problem(snapshot.ledger) or compute_electorate_problem(
        snapshot.elected
    )
    if problem is not None:
        return problem
    headers = snapshot.headers
    if snapshot.height <= height:
        return "snapshot is not ahead of the tip"
    base = headers[0].block.header.height - 1 if headers else -1
    if (
        base < 0
        or base + len(headers) != snapshot.height
        or any(c.block.header.height != h for h, c in enumerate(headers, start=base + 1))
    ):
        return "snapshot header chain is incomplete"
    if base > height:  # the window starts above the tip: it links within itself
        first = headers[0].block.header
        previous_hash = first.previous_hash
        previous_commitment = first.recursive_previous_commitment
        electorate = None  # the receiver has not got the electorate of the window's first height
        new = headers
    else:
        if height > base and headers[height - base - 1].block.hash != tip_hash:
            return "snapshot forks from the local chain"
        previous_hash, previous_commitment = tip_hash, tip_commitment
        new = headers[height - base :]
    for commit in new:
        header = commit.block.header
        if (
            header.previous_hash != previous_hash
            or header.recursive_previous_commitment != previous_commitment
        ):
            return "snapshot header chain does not link"
        certificate = commit.certificate
        if certificate.height != header.height or certificate.block_hash != header.hash:
            return "snapshot certificate for another block"
        previous_hash, previous_commitment = header.hash, header.recursive_commitment
    if electorate is not None:
        problem = compute_certificate_problem(
            new[0].certificate, electorate, height + 1, new[0].block.hash
        )
        if problem is not None:
            return f"snapshot {problem}"
    if previous_hash != snapshot.tip_hash or previous_commitment != snapshot.tip_commitment:
        return "snapshot tip differs from its header chain"
    if ledger is not None and ledger.get_state_root() != headers[-1].block.header.state_root:
        return "snapshot state root mismatch"
    return None
