"""VRF validator selection, leader, participants, voting power and quorum [RT].

docs/protocol.md#submissions-and-rejections to docs/protocol.md#epochs-and-replay-protection and
docs/protocol.md#rounds-and-quorum. The chain's VRF is schnorrkel; the port's is ECVRF
(docs/architecture.md#departures-from-the-chain), so a ``VrfProof`` carries the 64-byte beta as its
"preoutput" and the 80-byte
pi as its "proof"; randomness = the first 32 bytes of beta, big-endian.

Where the chain iterates a HashMap the port sorts by address (docs/protocol.md#known-weaknesses):
epochs are processed
in ascending order (so ``latest_epoch`` and ``active_epoch_threshold`` belong to the highest
epoch), the entropy beacon folds accepted submissions in address order, and ``audit`` is sorted
by address. Rejection reasons keep the chain's strings (metric keys, docs/operations.md#node-status)
and also
carry a bounded label (``RejectionKind``) because the threshold string has one key per
candidate (docs/protocol.md#known-weaknesses).

Per-submission results (``VerifiedSubmission``, ``RejectedSubmission``, ``RejectionReason``)
are NamedTuples rather than frozen dataclasses: a 10,000-submission selection must fit in
50 ms and a frozen dataclass costs about three times as much to build.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from itertools import compress, repeat
from operator import add, attrgetter, eq, itemgetter, lt, mod, not_
from typing import Any, Literal, NamedTuple, Protocol

from rppsim.node import vrf
from rppsim.node.reputation import ReputationProfile, Tier
from rppsim.node.vrf_input import PoseidonVrfInput, compute_vrf_input_digest, derive_tier_seed

__all__ = [
    "DEFAULT_ENTROPY_STATE",
    "MAX_TIMETOKE_HOURS",
    "TIER_WEIGHTS",
    "VRF_PREOUTPUT_LENGTH",
    "VRF_PROOF_LENGTH",
    "VRF_RANDOMNESS_DOMAIN",
    "EpochThresholdStrategy",
    "FallbackCandidate",
    "ObserverProfile",
    "RejectedSubmission",
    "RejectionKind",
    "RejectionReason",
    "ValidatorCandidate",
    "ValidatorProfile",
    "VerifiedSubmission",
    "VrfEpochManager",
    "VrfProof",
    "VrfSelectionMetrics",
    "VrfSelectionRecord",
    "VrfSelectionResult",
    "VrfSubmission",
    "classify_participants",
    "compute_capped_committee",
    "compute_entropy_update",
    "compute_epoch_threshold_strategy",
    "compute_quorum",
    "compute_round_half_away",
    "compute_round_validators",
    "compute_submission",
    "compute_submission_pool",
    "compute_submission_weight",
    "compute_threshold_for_seed",
    "compute_total_power",
    "compute_validation",
    "compute_voting_power",
    "compute_vrf_proof",
    "is_valid_vrf_proof",
    "parse_vrf_proof",
    "select_leader",
    "select_validators",
]

_BIG: Literal["big"] = "big"
"""The byte order of the chain's integers, typed for ``map(int.from_bytes, ...)``."""

VRF_RANDOMNESS_DOMAIN = 1 << 256
"""D = 2^256, the randomness domain (``VRF_RANDOMNESS_BITS`` = 256)."""
VRF_PREOUTPUT_LENGTH = 64
"""ECVRF beta (the chain's schnorrkel preoutput is 32 bytes)."""
VRF_PROOF_LENGTH = 80
"""ECVRF pi = Gamma ‖ c ‖ s (the chain's schnorrkel proof is 64 bytes)."""
MIN_VALIDATOR_TIER = Tier.Tl3
MAX_TIMETOKE_HOURS = 720
"""``MAX_TIMETOKE_HOURS``: the voting-power hour factor saturates at 720
(docs/protocol.md#rounds-and-quorum)."""
THRESHOLD_DOMAIN = b"chain.vrf.threshold"
ENTROPY_BEACON_DOMAIN = b"chain.vrf.entropy"
DEFAULT_ENTROPY_STATE = hashlib.blake2s(ENTROPY_BEACON_DOMAIN).digest()
"""state₀ of the entropy beacon = BLAKE2s("chain.vrf.entropy")."""
_blake2s = hashlib.blake2s
_address_of = attrgetter("address")
_submission_address_of = attrgetter("submission.address")
TIER_WEIGHTS: dict[Tier, int] = {tier: int(tier) + 1 for tier in Tier}
"""tier_weight: Tl0..Tl5 → 1..6 (docs/protocol.md#selection-weight-threshold-and-fallback)."""


# --- Messages --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VrfProof:
    """A VRF output as transported: randomness (natural), preoutput (beta) and proof (pi)."""

    randomness: int
    preoutput: bytes
    proof: bytes

    def to_json_dict(self) -> dict[str, str]:
        """The chain's JSON: randomness as a decimal string, the byte fields as hex."""
        return {
            "randomness": str(self.randomness),
            "preoutput": self.preoutput.hex(),
            "proof": self.proof.hex(),
        }


def compute_vrf_proof(beta: bytes, pi: bytes) -> VrfProof:
    """The transported proof of a VRF output (``VrfProof::from_output``)."""
    return VrfProof(int.from_bytes(beta[:32], "big"), bytes(beta), bytes(pi))


def parse_vrf_proof(data: object) -> VrfProof | None:
    """A proof from its JSON form, or None if a field is missing or not decimal/hex."""
    if not isinstance(data, Mapping):
        return None
    randomness, preoutput, proof = (data.get(k) for k in ("randomness", "preoutput", "proof"))
    if not (isinstance(randomness, str) and randomness.isdigit() and randomness.isascii()):
        return None
    if not (isinstance(preoutput, str) and isinstance(proof, str)):
        return None
    try:
        return VrfProof(int(randomness), bytes.fromhex(preoutput), bytes.fromhex(proof))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class VrfSubmission:
    """A candidate's VRF output for a round (``VrfSubmission``,
    docs/protocol.md#submissions-and-rejections).

    Tier and hours are self-declared and never checked against the ledger
    (docs/protocol.md#known-weaknesses).
    """

    address: str
    public_key: bytes | None
    input: PoseidonVrfInput
    proof: VrfProof
    tier: Tier
    timetoke_hours: int


class RejectionKind(StrEnum):
    """Bounded label of a rejection reason (``RejectionReason`` variants,
    docs/protocol.md#submissions-and-rejections)."""

    TIER_TOO_LOW = "tier_too_low"
    INSUFFICIENT_TIMETOKE = "insufficient_timetoke"
    MALFORMED_PROOF = "malformed_proof"
    INVALID_PROOF = "invalid_proof"
    MISSING_PUBLIC_KEY = "missing_public_key"
    THRESHOLD_NOT_MET = "threshold_not_met"


class RejectionReason(NamedTuple):
    """Why a submission was rejected; ``str()`` is the chain's ``Display`` (a metric key)."""

    kind: RejectionKind
    detail: str = ""
    threshold: int | None = None

    @property
    def label(self) -> str:
        """The normalised reason label, e.g. ``threshold_not_met``."""
        return self.kind.value

    def __str__(self) -> str:
        kind = self.kind
        if kind is RejectionKind.TIER_TOO_LOW:
            return f"tier too low (required Committed, received {self.detail})"
        if kind is RejectionKind.INSUFFICIENT_TIMETOKE:
            return f"insufficient timetoke (minimum 1h, received {self.detail}h)"
        if kind is RejectionKind.MALFORMED_PROOF:
            return f"malformed proof: {self.detail}"
        if kind is RejectionKind.INVALID_PROOF:
            return f"invalid proof: {self.detail}"
        if kind is RejectionKind.MISSING_PUBLIC_KEY:
            return "missing VRF public key"
        return f"randomness above threshold {self.threshold}"


_MISSING_PUBLIC_KEY = RejectionReason(RejectionKind.MISSING_PUBLIC_KEY)
_ENCODING_MISMATCH = RejectionReason(RejectionKind.INVALID_PROOF, "randomness encoding mismatch")
_VERIFICATION_FAILED = RejectionReason(RejectionKind.INVALID_PROOF, "VRF verification failed")


class VerifiedSubmission(NamedTuple):
    """A submission that passed validation, with its weight (``VerifiedSubmission``)."""

    address: str
    public_key: bytes | None
    input: PoseidonVrfInput
    proof: VrfProof
    tier: Tier
    timetoke_hours: int
    randomness: int
    verified: bool
    weight: int
    weighted_randomness: int

    def as_submission(self) -> VrfSubmission:
        """The original submission."""
        return VrfSubmission(
            self.address, self.public_key, self.input, self.proof, self.tier, self.timetoke_hours
        )


class RejectedSubmission(NamedTuple):
    """A rejection; ``randomness`` is set only for threshold misses (as on the chain)."""

    submission: VrfSubmission
    randomness: int | None
    reason: RejectionReason


@dataclass(frozen=True, slots=True)
class FallbackCandidate:
    """The best threshold-rejected submission
    (docs/protocol.md#selection-weight-threshold-and-fallback "Fallback")."""

    submission: VerifiedSubmission
    reason: RejectionReason


@dataclass(frozen=True, slots=True)
class VrfSelectionRecord:
    """One audit row (``VrfSelectionRecord``); weight fields only for verified submissions."""

    epoch: int
    address: str
    tier: Tier
    timetoke_hours: int
    public_key: str | None
    proof: VrfProof
    verified: bool
    accepted: bool
    threshold: int | None
    rejection_reason: RejectionReason | None
    weight: int | None
    weighted_randomness: int | None

    def to_json_dict(self) -> dict[str, Any]:
        """The chain's JSON shape: tier as its variant, numbers as decimal strings."""

        def text(value: object) -> str | None:
            return None if value is None else str(value)

        return {
            "epoch": self.epoch,
            "address": self.address,
            "tier": self.tier.name,
            "timetoke_hours": self.timetoke_hours,
            "public_key": self.public_key,
            "proof": self.proof.to_json_dict(),
            "verified": self.verified,
            "accepted": self.accepted,
            "threshold": text(self.threshold),
            "rejection_reason": text(self.rejection_reason),
            "weight": text(self.weight),
            "weighted_randomness": text(self.weighted_randomness),
        }


@dataclass(frozen=True, slots=True)
class VrfSelectionMetrics:
    """``VrfSelectionMetrics`` with the chain's field names
    (docs/protocol.md#selection-weight-threshold-and-fallback, docs/operations.md#node-status).

    ``rejections_by_label`` is rppsim's bounded-cardinality twin of ``rejections_by_reason``;
    it is not part of the chain's JSON.
    """

    pool_entries: int = 0
    unique_addresses: int = 0
    target_validator_count: int = 0
    verified_submissions: int = 0
    accepted_validators: int = 0
    rejected_candidates: int = 0
    fallback_selected: bool = False
    rejections_by_reason: dict[str, int] = field(default_factory=dict)
    participation_rate: float = 0.0
    success_rate: float = 0.0
    total_weight: str = "0"
    active_epoch_threshold: str | None = None
    active_threshold_ratio: float | None = None
    entropy_beacon: str = DEFAULT_ENTROPY_STATE.hex()
    latest_epoch: int | None = None
    latest_round: int | None = None
    rejections_by_label: dict[str, int] = field(default_factory=dict)

    @property
    def rejection_rate(self) -> float:
        """rejected / verified, 0 if none verified; can exceed 1
        (docs/operations.md#vrf-telemetry)."""
        if self.verified_submissions == 0:
            return 0.0
        return self.rejected_candidates / self.verified_submissions

    def with_round(self, round_: int) -> VrfSelectionMetrics:
        """The metrics with ``latest_round`` set, as ``ConsensusRound`` does."""
        return replace(self, latest_round=round_)

    def normalised(self, fallback_used: bool) -> VrfSelectionMetrics:
        """``[rules] normalise_vrf_metrics``: ``fallback_selected`` = the fallback was used,
        reasons by their bounded labels (docs/protocol.md#known-weaknesses)."""
        labels = dict(self.rejections_by_label)
        return replace(self, fallback_selected=fallback_used, rejections_by_reason=labels)

    def to_json_dict(self) -> dict[str, Any]:
        """The ``vrf_metrics`` object of ``/status/node`` (docs/operations.md#node-status), serde
        order."""
        data: dict[str, Any] = {
            "pool_entries": self.pool_entries,
            "target_validator_count": self.target_validator_count,
            "verified_submissions": self.verified_submissions,
            "accepted_validators": self.accepted_validators,
            "rejected_candidates": self.rejected_candidates,
            "fallback_selected": self.fallback_selected,
            "unique_addresses": self.unique_addresses,
            "participation_rate": self.participation_rate,
            "success_rate": self.success_rate,
            "total_weight": self.total_weight,
            "entropy_beacon": self.entropy_beacon,
            "latest_epoch": self.latest_epoch,
            "latest_round": self.latest_round,
        }
        if self.active_epoch_threshold is not None:
            data["active_epoch_threshold"] = self.active_epoch_threshold
        if self.active_threshold_ratio is not None:
            data["active_threshold_ratio"] = self.active_threshold_ratio
        if self.rejections_by_reason:
            data["rejections_by_reason"] = dict(self.rejections_by_reason)
        return data


@dataclass(frozen=True)
class VrfSelectionResult:
    """``ValidatorSelection``: validators and rejected sorted by address, plus metrics.

    ``verified`` (all verified submissions, by address) and ``thresholds`` (theirs, aligned)
    keep what ``audit`` is built from; ``audit`` is computed on first access.
    """

    validators: tuple[VerifiedSubmission, ...] = ()
    rejected: tuple[RejectedSubmission, ...] = ()
    fallback: FallbackCandidate | None = None
    metrics: VrfSelectionMetrics = field(default_factory=VrfSelectionMetrics)
    verified: tuple[VerifiedSubmission, ...] = ()
    thresholds: tuple[int, ...] = ()

    @cached_property
    def audit(self) -> tuple[VrfSelectionRecord, ...]:
        """One record per pool entry, sorted by address (the chain's order is a HashMap's)."""
        records = [
            _verified_record(v, t) for v, t in zip(self.verified, self.thresholds, strict=True)
        ]
        records += [_rejected_record(r) for r in self.rejected if r.randomness is None]
        records.sort(key=lambda record: record.address)
        return tuple(records)


def _key_hex(public_key: bytes | None) -> str | None:
    return None if public_key is None else public_key.hex()


def _verified_record(submission: VerifiedSubmission, threshold: int) -> VrfSelectionRecord:
    accepted = submission.weighted_randomness < threshold
    reason = None if accepted else _threshold_reason(threshold)
    return VrfSelectionRecord(
        submission.input.epoch,
        submission.address,
        submission.tier,
        submission.timetoke_hours,
        _key_hex(submission.public_key),
        submission.proof,
        submission.verified,
        accepted,
        threshold,
        reason,
        submission.weight,
        submission.weighted_randomness,
    )


def _rejected_record(rejected: RejectedSubmission) -> VrfSelectionRecord:
    submission = rejected.submission
    return VrfSelectionRecord(
        submission.input.epoch,
        submission.address,
        submission.tier,
        submission.timetoke_hours,
        _key_hex(submission.public_key),
        submission.proof,
        False,
        False,
        None,
        rejected.reason,
        None,
        None,
    )


def _threshold_reason(threshold: int) -> RejectionReason:
    return RejectionReason(RejectionKind.THRESHOLD_NOT_MET, "", threshold)


# --- Validation ------------------------------------------------------------------------------

_WEIGHT_BY_TIER = tuple(int(tier) + 1 for tier in Tier)  # indexable by a Tier without hashing


def compute_submission_weight(tier: Tier, timetoke_hours: int) -> int:
    """weight = tier_weight × max(hours, 1)
    (docs/protocol.md#selection-weight-threshold-and-fallback "Weight")."""
    return _WEIGHT_BY_TIER[tier] * max(timetoke_hours, 1)


def is_valid_vrf_proof(submission: VrfSubmission) -> bool:
    """ECVRF verification of a submission: beta and randomness must match
    (docs/architecture.md#departures-from-the-chain).

    alpha is the VRF input digest; verification is memoized process-wide by its bytes.
    """
    if submission.public_key is None:
        return False
    alpha = compute_vrf_input_digest(submission.input)
    beta = vrf.verify_memoized(submission.public_key, alpha, submission.proof.proof)
    return (
        beta is not None
        and beta == submission.proof.preoutput
        and int.from_bytes(beta[:32], "big") == submission.proof.randomness
    )


def _decoding_problem(proof: VrfProof) -> str | None:
    """Why the proof does not decode (``to_vrf_output``; lengths here 64/80), else None."""
    randomness, preoutput, pi = proof.randomness, proof.preoutput, proof.proof
    if type(randomness) is not int or randomness < 0:
        return "invalid VRF input: VRF randomness must be a natural number"
    if type(preoutput) is not bytes or len(preoutput) != VRF_PREOUTPUT_LENGTH:
        return f"invalid VRF input: VRF preoutput must be exactly {VRF_PREOUTPUT_LENGTH} bytes"
    if type(pi) is not bytes or len(pi) != VRF_PROOF_LENGTH:
        return f"invalid VRF input: VRF proof must be exactly {VRF_PROOF_LENGTH} bytes"
    return None


def _compute_precheck(submission: VrfSubmission) -> RejectionReason | None:
    """Checks 1–5 of ``validate_submission`` (all but ``verify_vrf``), first failure wins
    (docs/protocol.md#submissions-and-rejections)."""
    tier = submission.tier
    if tier < MIN_VALIDATOR_TIER:
        return RejectionReason(RejectionKind.TIER_TOO_LOW, Tier(tier).display_name)
    hours = submission.timetoke_hours
    if hours <= 0:
        return RejectionReason(RejectionKind.INSUFFICIENT_TIMETOKE, str(hours))
    problem = _decoding_problem(submission.proof)
    if problem is not None:
        return RejectionReason(RejectionKind.MALFORMED_PROOF, problem)
    if submission.proof.randomness >= VRF_RANDOMNESS_DOMAIN:  # re-encoding keeps 32 bytes
        return _ENCODING_MISMATCH
    if submission.public_key is None:
        return _MISSING_PUBLIC_KEY
    return None


def compute_validation(
    submission: VrfSubmission, verify: Callable[[VrfSubmission], bool] = is_valid_vrf_proof
) -> VerifiedSubmission | RejectionReason:
    """``validate_submission``: the chain's seven checks in order, first failure wins
    (docs/protocol.md#submissions-and-rejections)."""
    reason = _compute_precheck(submission)
    if reason is not None:
        return reason
    if not verify(submission):
        return _VERIFICATION_FAILED
    tier, hours, proof = submission.tier, submission.timetoke_hours, submission.proof
    weight = _WEIGHT_BY_TIER[tier] * hours
    return VerifiedSubmission(
        submission.address,
        submission.public_key,
        submission.input,
        proof,
        tier,
        hours,
        proof.randomness,
        True,
        weight,
        proof.randomness // weight,
    )


# --- Threshold -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EpochThresholdStrategy:
    """Per-epoch acceptance threshold (``EpochThresholdStrategy``,
    docs/protocol.md#selection-weight-threshold-and-fallback)."""

    epoch: int
    base_threshold: int
    quantile_threshold: int
    adjustment_span: int
    randomness_domain: int = VRF_RANDOMNESS_DOMAIN
    jitter_prefix: bytes = field(init=False, repr=False, compare=False)
    """"chain.vrf.threshold" ‖ epoch u64 BE, hashed with each candidate's tier seed."""

    def __post_init__(self) -> None:
        prefix = THRESHOLD_DOMAIN + self.epoch.to_bytes(8, "big")
        object.__setattr__(self, "jitter_prefix", prefix)

    def threshold_for_seed(self, tier_seed: bytes) -> int:
        """The candidate's jittered threshold (``threshold_for_seed``)."""
        return compute_threshold_for_seed(self, tier_seed)


def compute_epoch_threshold_strategy(
    epoch: int, target_validator_count: int, weighted_randomness: Sequence[int]
) -> EpochThresholdStrategy:
    """base from the smoothed target and the k-th smallest weighted value
    (docs/protocol.md#selection-weight-threshold-and-fallback)."""
    D = VRF_RANDOMNESS_DOMAIN
    n = len(weighted_randomness)
    if target_validator_count <= 0 or n == 0:
        return EpochThresholdStrategy(epoch, 0, 0, 1)
    k = min(target_validator_count, n)
    if k >= n:
        return EpochThresholdStrategy(epoch, D, D, 1)
    smoothed = D * (k + 1) // (n + 2)
    quantile = _compute_kth_smallest(weighted_randomness, k)
    base = min(max((smoothed + quantile) // 2, quantile), D)
    span = max(D // max(4 * n, 1), 1)
    return EpochThresholdStrategy(epoch, base, quantile, span)


def _compute_kth_smallest(values: Sequence[int], k: int) -> int:
    """The k-th smallest value (1-based, ``sorted(values)[k - 1]``): a heap when k ≪ n."""
    if 8 * k < len(values):
        return heapq.nsmallest(k, values)[-1]
    return sorted(values)[k - 1]


def compute_threshold_for_seed(strategy: EpochThresholdStrategy, tier_seed: bytes) -> int:
    """base ± (BLAKE2s("chain.vrf.threshold" ‖ epoch BE ‖ seed) mod span), capped at D."""
    base = strategy.base_threshold
    if base == 0:
        return 0
    jitter_bytes = _blake2s(strategy.jitter_prefix + tier_seed).digest()
    offset = int.from_bytes(jitter_bytes, "big") % strategy.adjustment_span
    if jitter_bytes[0] & 1 == 0:
        threshold = base + offset
    elif base > offset:
        threshold = base - offset
    else:
        threshold = 0
    return min(threshold, strategy.randomness_domain)


def compute_entropy_update(state: bytes, randomness: int, tier_seed: bytes) -> bytes:
    """state' = BLAKE2s("chain.vrf.entropy" ‖ state ‖ randomness32 ‖ tier_seed)
    (docs/protocol.md#selection-weight-threshold-and-fallback)."""
    data = ENTROPY_BEACON_DOMAIN + state + randomness.to_bytes(32, "big") + tier_seed
    return _blake2s(data).digest()


# --- Selection -------------------------------------------------------------------------------
#
# ``select_validators`` is written for speed (target: 10,000 submissions in 50 ms, measured by
# ``rppsim bench vrf``): one Python pass over the pool in address order does all the work that
# must touch each submission (checks, VRF verdict, row, jitter hash); the rest runs mostly in C
# over lists (map, zip, compress). The per-submission functions above (``compute_validation``,
# ``compute_epoch_threshold_strategy``, ``compute_threshold_for_seed``,
# ``compute_entropy_update``) are the readable rules; tests/node/test_selection.py checks the
# selection against one written with them alone.

_new_tuple = tuple.__new__  # builds a NamedTuple without its Python-level __new__
_input_at = itemgetter(2)
_epoch_of = attrgetter("epoch")
_tier_seed_of = attrgetter("tier_seed")
_randomness_at = itemgetter(6)  # VerifiedSubmission.randomness
_weighted_at = itemgetter(9)  # VerifiedSubmission.weighted_randomness
_tier_at = itemgetter(4)
_hours_at = itemgetter(5)
_weight_at = itemgetter(8)


def compute_submission_pool(
    submissions: Mapping[str, VrfSubmission] | Iterable[VrfSubmission],
) -> dict[str, VrfSubmission]:
    """The pool keyed by address; the last insert wins (``VrfSubmissionPool::insert``)."""
    values = submissions.values() if isinstance(submissions, Mapping) else submissions
    return {submission.address: submission for submission in values}


class _Validated(NamedTuple):
    """Pass 1: the verified rows with their jitter hashes, and the validation rejections."""

    rows: list[VerifiedSubmission]
    jitters: list[bytes]
    """BLAKE2s("chain.vrf.threshold" ‖ epoch BE ‖ tier_seed) of each row
    (docs/protocol.md#selection-weight-threshold-and-fallback)."""
    epochs: list[int] | None
    """Each row's epoch, or None when all rows share one."""
    invalid: list[RejectedSubmission]


def _validate_pool(
    entries: list[VrfSubmission], verify: Callable[[VrfSubmission], bool]
) -> _Validated:
    """Checks 1–6 of ``validate_submission`` in address order, and each row's jitter hash.

    The inline test implies that ``_compute_precheck`` passes; where it fails, the reference
    decides. ``verify`` runs exactly where ``compute_validation`` would call it.
    """
    rows: list[VerifiedSubmission] = []
    jitters: list[bytes] = []
    invalid: list[RejectedSubmission] = []
    weights, domain, min_tier = _WEIGHT_BY_TIER, VRF_RANDOMNESS_DOMAIN, int(MIN_VALIDATOR_TIER)
    last_epoch, start, epoch_changes = None, _blake2s().copy, 0
    for submission in entries:
        tier, hours, proof = submission.tier, submission.timetoke_hours, submission.proof
        randomness, preoutput, pi = proof.randomness, proof.preoutput, proof.proof
        if not (
            tier >= min_tier
            and hours > 0
            and type(randomness) is int
            and 0 <= randomness < domain
            and type(preoutput) is bytes
            and len(preoutput) == VRF_PREOUTPUT_LENGTH
            and type(pi) is bytes
            and len(pi) == VRF_PROOF_LENGTH
            and submission.public_key is not None
        ):
            reason = _compute_precheck(submission)
            if reason is not None:
                invalid.append(_new_tuple(RejectedSubmission, (submission, None, reason)))
                continue
        if not verify(submission):
            invalid.append(_new_tuple(RejectedSubmission, (submission, None, _VERIFICATION_FAILED)))
            continue
        vrf_input = submission.input
        epoch = vrf_input.epoch
        if epoch != last_epoch:
            last_epoch, start = epoch, _blake2s(THRESHOLD_DOMAIN + epoch.to_bytes(8, "big")).copy
            epoch_changes += 1
        jitter = start()
        jitter.update(vrf_input.tier_seed)
        jitters.append(jitter.digest())
        weight = weights[tier] * hours
        row = (
            submission.address,
            submission.public_key,
            vrf_input,
            proof,
            tier,
            hours,
            randomness,
            True,
            weight,
            randomness // weight,
        )
        rows.append(_new_tuple(VerifiedSubmission, row))
    epochs = None if epoch_changes <= 1 else list(map(_epoch_of, map(_input_at, rows)))
    return _Validated(rows, jitters, epochs, invalid)


def _compute_originals(
    entries: list[VrfSubmission], invalid: list[RejectedSubmission]
) -> list[VrfSubmission]:
    """The submissions of the verified rows: the entries that were not rejected."""
    if not invalid:
        return entries
    rejected = {r.submission.address for r in invalid}
    return [submission for submission in entries if submission.address not in rejected]


def _compute_epoch_thresholds(strategy: EpochThresholdStrategy, jitters: list[bytes]) -> list[int]:
    """``compute_threshold_for_seed`` from each candidate's jitter hash
    (docs/protocol.md#selection-weight-threshold-and-fallback)."""
    base = strategy.base_threshold
    if base == 0:
        return [0] * len(jitters)
    span, domain = strategy.adjustment_span, strategy.randomness_domain
    offsets = list(map(mod, map(int.from_bytes, jitters, repeat(_BIG)), repeat(span)))
    if span <= base and base + span - 1 <= domain:  # no offset reaches 0 or the cap
        return [base - o if j[0] & 1 else base + o for j, o in zip(jitters, offsets, strict=True)]
    return [
        min(base - o if base > o else 0, domain) if j[0] & 1 else min(base + o, domain)
        for j, o in zip(jitters, offsets, strict=True)
    ]


def _compute_thresholds(
    validated: _Validated, weighted: list[int], target_validator_count: int
) -> tuple[dict[int, EpochThresholdStrategy], list[int]]:
    """Strategies by ascending epoch and every verified row's threshold
    (docs/protocol.md#selection-weight-threshold-and-fallback)."""
    rows, epochs, jitters = validated.rows, validated.epochs, validated.jitters
    if not rows:
        return {}, []
    if epochs is None:
        epoch = rows[0].input.epoch
        strategy = compute_epoch_threshold_strategy(epoch, target_validator_count, weighted)
        return {epoch: strategy}, _compute_epoch_thresholds(strategy, jitters)
    rows_by_epoch: dict[int, list[int]] = {}
    for row, epoch in enumerate(epochs):
        rows_by_epoch.setdefault(epoch, []).append(row)
    strategies: dict[int, EpochThresholdStrategy] = {}
    thresholds = [0] * len(epochs)
    for epoch, epoch_rows in sorted(rows_by_epoch.items()):
        values = [weighted[row] for row in epoch_rows]
        strategy = compute_epoch_threshold_strategy(epoch, target_validator_count, values)
        strategies[epoch] = strategy
        epoch_thresholds = _compute_epoch_thresholds(strategy, [jitters[row] for row in epoch_rows])
        for row, threshold in zip(epoch_rows, epoch_thresholds, strict=True):
            thresholds[row] = threshold
    return strategies, thresholds


def _compute_entropy(randomness: Iterable[int], seeds: Iterable[bytes]) -> bytes:
    """The beacon folded over the accepted rows in address order
    (docs/protocol.md#selection-weight-threshold-and-fallback,
    docs/protocol.md#known-weaknesses)."""
    state, start = DEFAULT_ENTROPY_STATE, _blake2s(ENTROPY_BEACON_DOMAIN).copy
    for tail in map(add, map(int.to_bytes, randomness, repeat(32), repeat(_BIG)), seeds):
        hasher = start()
        hasher.update(state + tail)
        state = hasher.digest()
    return state


class _Misses(NamedTuple):
    """Threshold misses as rejections (address order), their thresholds, and the fallback."""

    rejected: list[RejectedSubmission]
    thresholds: list[int]
    fallback: FallbackCandidate | None


def _compute_fallback_index(rows: list[VerifiedSubmission]) -> int:
    """The best row: max by (tier, hours, weight), then min weighted randomness, then first.

    Equal to the min of (−tier, −hours, −weight, weighted randomness, address) for rows in
    address order (docs/protocol.md#selection-weight-threshold-and-fallback "Fallback"), found by
    narrowing one field at a time.
    """
    tiers = list(map(_tier_at, rows))
    best = list(compress(range(len(rows)), map(eq, tiers, repeat(max(tiers)))))
    for field_at in (_hours_at, _weight_at):
        values = list(map(field_at, map(rows.__getitem__, best)))
        best = list(compress(best, map(eq, values, repeat(max(values)))))
    values = list(map(_weighted_at, map(rows.__getitem__, best)))
    return best[values.index(min(values))]


def _compute_misses(
    validated: _Validated, originals: list[VrfSubmission], thresholds: list[int], missed: list[bool]
) -> _Misses:
    """``ThresholdNotMet`` rejections and the fallback, the best miss
    (docs/protocol.md#selection-weight-threshold-and-fallback "Fallback")."""
    rows = list(compress(validated.rows, missed))
    if not rows:
        return _Misses([], [], None)
    missed_thresholds = list(compress(thresholds, missed))
    kinds = repeat(RejectionKind.THRESHOLD_NOT_MET)
    reasons = list(
        map(_new_tuple, repeat(RejectionReason), zip(kinds, repeat(""), missed_thresholds))
    )
    fields = zip(compress(originals, missed), map(_randomness_at, rows), reasons, strict=True)
    rejected = list(map(_new_tuple, repeat(RejectedSubmission), fields))
    best = _compute_fallback_index(rows)
    return _Misses(rejected, missed_thresholds, FallbackCandidate(rows[best], reasons[best]))


def select_validators(
    pool: Mapping[str, VrfSubmission] | Iterable[VrfSubmission],
    target_validator_count: int,
    verify: Callable[[VrfSubmission], bool] = is_valid_vrf_proof,
) -> VrfSelectionResult:
    """``select_validators``: validate, threshold per epoch, fallback, metrics
    (docs/protocol.md#selection-weight-threshold-and-fallback).

    ``verify`` checks one submission's VRF proof; pass precomputed results to time the
    selection alone. The result does not depend on the pool's order.
    """
    by_address = compute_submission_pool(pool)
    entries = sorted(by_address.values(), key=_address_of)
    validated = _validate_pool(entries, verify)
    rows, invalid = validated.rows, validated.invalid
    weighted = list(map(_weighted_at, rows))
    strategies, thresholds = _compute_thresholds(validated, weighted, target_validator_count)
    accepted_mask = list(map(lt, weighted, thresholds))
    accepted = list(compress(rows, accepted_mask))
    originals = _compute_originals(entries, invalid)
    misses = _compute_misses(validated, originals, thresholds, list(map(not_, accepted_mask)))
    if not invalid or not misses.rejected:
        rejected = invalid or misses.rejected
    else:
        rejected = sorted(invalid + misses.rejected, key=_submission_address_of)
    entropy = _compute_entropy(
        map(_randomness_at, accepted), map(_tier_seed_of, map(_input_at, accepted))
    )
    metrics = _compute_metrics(
        pool_entries=len(by_address),
        target=target_validator_count,
        accepted=accepted,
        verified_count=len(rows),
        invalid=invalid,
        missed_thresholds=misses.thresholds,
        strategies=strategies,
        entropy=entropy,
    )
    return VrfSelectionResult(
        validators=tuple(accepted),
        rejected=tuple(rejected),
        fallback=misses.fallback,
        metrics=metrics,
        verified=tuple(rows),
        thresholds=tuple(thresholds),
    )


def _compute_reason_counts(
    invalid: list[RejectedSubmission], missed_thresholds: list[int]
) -> dict[str, int]:
    """``rejections_by_reason``: the chain's ``Display`` strings counted, sorted
    (docs/protocol.md#submissions-and-rejections)."""
    reasons = [str(r.reason) for r in invalid]
    reasons += [f"randomness above threshold {t}" for t in missed_thresholds]
    reasons.sort()
    counts = dict.fromkeys(reasons, 1)
    if len(counts) < len(reasons):  # some reasons repeat; the keys stay in sorted order
        counts = dict(Counter(reasons))
    return counts


def _compute_metrics(
    *,
    pool_entries: int,
    target: int,
    accepted: list[VerifiedSubmission],
    verified_count: int,
    invalid: list[RejectedSubmission],
    missed_thresholds: list[int],
    strategies: dict[int, EpochThresholdStrategy],
    entropy: bytes,
) -> VrfSelectionMetrics:
    """The metrics of a selection (``VrfSelectionMetrics`` bookkeeping,
    docs/protocol.md#selection-weight-threshold-and-fallback).

    ``fallback_selected`` is true as soon as one verified submission missed its threshold,
    even when others were accepted (the chain's quirk,
    docs/protocol.md#selection-weight-threshold-and-fallback "Fallback").
    """
    latest = strategies[max(strategies)] if strategies else None
    base = None if latest is None else latest.base_threshold
    misses = len(missed_thresholds)
    labels = Counter(r.reason.kind.value for r in invalid)
    if misses:
        labels[RejectionKind.THRESHOLD_NOT_MET.value] = misses
    return VrfSelectionMetrics(
        pool_entries=pool_entries,
        unique_addresses=pool_entries,
        target_validator_count=target,
        verified_submissions=verified_count,
        accepted_validators=len(accepted),
        rejected_candidates=len(invalid) + misses,
        fallback_selected=bool(misses),
        rejections_by_reason=_compute_reason_counts(invalid, missed_thresholds),
        participation_rate=len(accepted) / pool_entries if pool_entries else 0.0,
        success_rate=min(len(accepted) / target, 1.0) if target > 0 else 0.0,
        total_weight=str(sum(map(_weight_at, accepted))),
        active_epoch_threshold=None if base is None else str(base),
        active_threshold_ratio=None if base is None else min(base / VRF_RANDOMNESS_DOMAIN, 1.0),
        entropy_beacon=entropy.hex(),
        latest_epoch=None if latest is None else latest.epoch,
        rejections_by_label=dict(sorted(labels.items())),
    )


def select_leader(validators: Iterable[VerifiedSubmission]) -> VerifiedSubmission | None:
    """[RT] leader: max by (verified, tier, hours, weight, lowest wr, smallest address)
    docs/protocol.md#leader."""
    return min(
        validators,
        key=lambda v: (
            not v.verified,
            -v.tier,
            -v.timetoke_hours,
            -v.weight,
            v.weighted_randomness,
            v.address,
        ),
        default=None,
    )


def compute_capped_committee(
    validators: Sequence[VerifiedSubmission], target_validator_count: int
) -> tuple[VerifiedSubmission, ...]:
    """At most ``target`` validators, lowest weighted randomness first; sorted by address.

    For the ``Rules.threshold_caps_committee`` knob (docs/protocol.md#known-weaknesses); the chain
    has no cap.
    """
    ranked = sorted(validators, key=lambda v: (v.weighted_randomness, v.address))
    return tuple(sorted(ranked[: max(target_validator_count, 0)], key=lambda v: v.address))


# --- Replay protection -----------------------------------------------------------------------


class VrfEpochManager:
    """Replay protection and the latest entropy beacon (``VrfEpochManager``,
    docs/protocol.md#epochs-and-replay-protection)."""

    __slots__ = ("_seen", "active_epoch", "epoch_length", "latest_entropy")

    def __init__(self, epoch_length: int, active_epoch: int) -> None:
        self.epoch_length = max(epoch_length, 1)
        self.active_epoch = active_epoch
        self._seen: set[tuple[int, str, int]] = set()
        self.latest_entropy = DEFAULT_ENTROPY_STATE

    def _rotate(self, epoch: int) -> None:
        if epoch > self.active_epoch:
            self.active_epoch = epoch
            self._seen.clear()

    def process_submission(self, submission: VrfSubmission) -> bool:
        """False for an older epoch or a repeat of (epoch, address, randomness)."""
        epoch = submission.input.epoch
        if epoch < self.active_epoch:
            return False
        self._rotate(epoch)
        key = (epoch, submission.address, submission.proof.randomness)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def process_entropy(self, epoch: int, beacon: bytes) -> None:
        """Record a selection's entropy beacon (``record_entropy``)."""
        if epoch >= self.active_epoch:
            self._rotate(epoch)
        self.latest_entropy = beacon

    @property
    def entropy_hex(self) -> str:
        """The latest beacon as hex."""
        return self.latest_entropy.hex()


# --- Participants, voting power, quorum ------------------------------------------------------


class _AccountLike(Protocol):
    @property
    def address(self) -> str: ...
    @property
    def stake(self) -> int: ...
    @property
    def reputation(self) -> ReputationProfile: ...


@dataclass(frozen=True, slots=True)
class ValidatorCandidate:
    """A Tl3+ account (``ValidatorCandidate``, docs/protocol.md#rounds-and-quorum)."""

    address: str
    stake: int
    reputation_score: float
    tier: Tier
    timetoke_hours: int


@dataclass(frozen=True, slots=True)
class ObserverProfile:
    """A Tl1/Tl2 account: counted in the certificate, never votes
    (docs/protocol.md#rounds-and-quorum)."""

    address: str
    tier: Tier


@dataclass(frozen=True, slots=True)
class ValidatorProfile:
    """A round validator: the ledger's candidate plus its VRF output (``ValidatorProfile``)."""

    address: str
    stake: int
    reputation_score: float
    tier: Tier
    timetoke_hours: int
    proof: VrfProof
    randomness: int

    @property
    def voting_power(self) -> int:
        """stake × max(1, round(score·1000) + 1000) × (min(hours, 720) + 1)
        (docs/protocol.md#rounds-and-quorum)."""
        return compute_voting_power(self.stake, self.reputation_score, self.timetoke_hours)


def classify_participants(
    accounts: Iterable[_AccountLike],
) -> tuple[tuple[ValidatorCandidate, ...], tuple[ObserverProfile, ...]]:
    """Tl3–Tl5 → candidates, Tl1–Tl2 → observers, Tl0 ignored; by address
    (docs/protocol.md#rounds-and-quorum)."""
    candidates: list[ValidatorCandidate] = []
    observers: list[ObserverProfile] = []
    for account in sorted(accounts, key=lambda a: a.address):
        profile = account.reputation
        if profile.tier >= Tier.Tl3:
            candidates.append(
                ValidatorCandidate(
                    account.address,
                    account.stake,
                    profile.score,
                    profile.tier,
                    profile.timetoke.hours_online,
                )
            )
        elif profile.tier >= Tier.Tl1:
            observers.append(ObserverProfile(account.address, profile.tier))
    return tuple(candidates), tuple(observers)


def _profile(candidate: ValidatorCandidate, submission: VerifiedSubmission) -> ValidatorProfile:
    return ValidatorProfile(
        candidate.address,
        candidate.stake,
        candidate.reputation_score,
        candidate.tier,
        candidate.timetoke_hours,
        submission.proof,
        submission.randomness,
    )


def compute_round_validators(
    selection: VrfSelectionResult, candidates: Iterable[ValidatorCandidate]
) -> tuple[ValidatorProfile, ...]:
    """VRF-accepted ∩ candidates, else the verified fallback if a candidate
    (docs/protocol.md#rounds-and-quorum)."""
    by_address = {candidate.address: candidate for candidate in candidates}
    profiles = [
        _profile(by_address[v.address], v)
        for v in selection.validators
        if v.verified and v.address in by_address
    ]
    fallback = selection.fallback
    if not profiles and fallback is not None and fallback.submission.verified:
        candidate = by_address.get(fallback.submission.address)
        if candidate is not None:
            profiles.append(_profile(candidate, fallback.submission))
    return tuple(sorted(profiles, key=lambda p: p.address))


def compute_round_half_away(value: float) -> int:
    """Rust's ``f64::round``: to nearest, ties away from zero (Python rounds ties to even)."""
    magnitude = abs(value)
    whole = math.floor(magnitude)
    if magnitude - whole >= 0.5:
        whole += 1
    return int(math.copysign(whole, value)) if value < 0 else int(whole)


def compute_voting_power(stake: int, reputation_score: float, timetoke_hours: int) -> int:
    """stake × max(1, round(score·1000) + 1000) × (min(hours, 720) + 1)
    (docs/protocol.md#rounds-and-quorum)."""
    multiplier = max(1, compute_round_half_away(reputation_score * 1000.0) + 1000)
    return stake * multiplier * (min(timetoke_hours, MAX_TIMETOKE_HOURS) + 1)


def compute_total_power(profiles: Iterable[ValidatorProfile]) -> int:
    """T = Σ voting power of the round's validators."""
    return sum(profile.voting_power for profile in profiles)


def compute_quorum(total_power: int) -> int:
    """⌈2T/3⌉ + 1, and 0 when T = 0 (docs/protocol.md#rounds-and-quorum "Quorum")."""
    if total_power <= 0:
        return 0
    return -(-2 * total_power // 3) + 1


# --- Producing a submission ------------------------------------------------------------------


def compute_submission(
    *,
    address: str,
    secret: bytes,
    public_key: bytes,
    last_block_header: bytes,
    epoch: int,
    tier: Tier,
    timetoke_hours: int,
) -> VrfSubmission:
    """A candidate's own submission (``evaluate_vrf``): prove the VRF input digest
    (docs/protocol.md#vrf-input)."""
    vrf_input = PoseidonVrfInput(
        last_block_header, epoch, derive_tier_seed(address, timetoke_hours)
    )
    pi = vrf.prove(secret, compute_vrf_input_digest(vrf_input))
    proof = compute_vrf_proof(vrf.proof_to_hash(pi), pi)
    return VrfSubmission(address, public_key, vrf_input, proof, tier, timetoke_hours)
