"""Timetoke: credited online hours (docs/protocol.md#timetoke).

Pure functions over a frozen ``TimetokeBalance``; each ``process_*`` returns the new balance and
its result. Timestamps are integer seconds. The chain stores 0 for "never"; the port uses None,
and writes 0 only in the wire record (``TimetokeRecord``), as the chain does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from rppsim.node.merkle import compute_leaf_hash, compute_merkle_root

__all__ = [
    "MIN_UPTIME_CADENCE_SECS",
    "SECONDS_PER_HOUR",
    "TimetokeBalance",
    "TimetokeParams",
    "TimetokeRecord",
    "compute_merge_problem",
    "compute_timetoke_record",
    "compute_timetoke_record_bytes",
    "compute_timetoke_root",
    "compute_uptime_cadence_secs",
    "compute_uptime_commitment",
    "is_sync_due",
    "process_debit",
    "process_decay",
    "process_mark_synced",
    "process_merge",
    "process_record_proof",
    "validate_params",
]

SECONDS_PER_HOUR = 3600
MIN_UPTIME_CADENCE_SECS = 600
"""The uptime scheduler never ticks faster than this (docs/protocol.md#timetoke "Producer
cadence")."""


@dataclass(frozen=True)
class TimetokeParams:
    """The five ``timetoke_params`` of docs/operations.md#reputation-timetoke-and-governance-keys
    (malachite ``[reputation.timetoke]``)."""

    minimum_window_secs: int = 3600
    accrual_cap_hours: int = 720
    decay_interval_secs: int = 86400
    decay_step_hours: int = 1
    sync_interval_secs: int = 600


@dataclass(frozen=True, slots=True)
class TimetokeBalance:
    """An account's credited hours and the times of its last proof, decay and sync
    (docs/protocol.md#timetoke)."""

    hours_online: int = 0
    last_proof_timestamp: int | None = None
    last_decay_timestamp: int | None = None
    last_sync_timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class TimetokeRecord:
    """The gossiped/committed record (``TimetokeRecord``, docs/protocol.md#timetoke "Sync and
    snapshots").

    Field order is the chain's serde order; 0 stands for "never" as on the chain.
    """

    identity: str
    balance: int
    epoch_accrual: int = 0
    decay_rate: float = 1.0
    last_update: int = 0
    last_sync: int = 0
    last_decay: int = 0


def validate_params(params: TimetokeParams) -> str | None:
    """The first problem with ``params`` (all five must be integers > 0,
    docs/operations.md#reputation-timetoke-and-governance-keys)."""
    for name in (
        "minimum_window_secs",
        "accrual_cap_hours",
        "decay_interval_secs",
        "decay_step_hours",
        "sync_interval_secs",
    ):
        value = getattr(params, name)
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name} must be an integer, got {value!r}"
        if value <= 0:
            return f"{name} must be > 0, got {value}"
    return None


def compute_uptime_cadence_secs(params: TimetokeParams) -> int:
    """The uptime scheduler's period: max(sync_interval_secs, 600) (docs/protocol.md#timetoke
    "Producer cadence")."""
    return max(params.sync_interval_secs, MIN_UPTIME_CADENCE_SECS)


def _is_timestamp(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def process_record_proof(
    balance: TimetokeBalance, params: TimetokeParams, start: int, end: int
) -> tuple[TimetokeBalance, int | None]:
    """Credit an uptime window [start, end]; credited hours, or None (docs/protocol.md#timetoke
    "Accrual")."""
    if params.minimum_window_secs <= 0 or params.accrual_cap_hours <= 0:
        return balance, None
    if not (_is_timestamp(start) and _is_timestamp(end)) or end <= start:
        return balance, None
    last_proof = balance.last_proof_timestamp
    if last_proof is not None and end <= last_proof:
        return balance, None
    effective_start = start if last_proof is None else max(start, last_proof)
    duration = end - effective_start
    if duration < params.minimum_window_secs:
        return balance, None
    earned = duration // SECONDS_PER_HOUR
    if earned == 0:
        return balance, None
    remaining = max(params.accrual_cap_hours - balance.hours_online, 0)
    if remaining == 0:
        return replace(balance, last_proof_timestamp=end), 0
    credited = min(earned, remaining)
    last_decay = end if balance.last_decay_timestamp is None else balance.last_decay_timestamp
    updated = TimetokeBalance(
        hours_online=balance.hours_online + credited,
        last_proof_timestamp=end,
        last_decay_timestamp=last_decay,
        last_sync_timestamp=balance.last_sync_timestamp,
    )
    return updated, credited


def process_decay(
    balance: TimetokeBalance, params: TimetokeParams, now: int
) -> tuple[TimetokeBalance, int | None]:
    """Remove ``decay_step_hours`` per full interval since the last decay (docs/protocol.md#timetoke
    "Decay").

    The first call only initialises ``last_decay``; a partial interval is forfeited because
    ``last_decay`` moves to ``now`` (the chain's ``apply_decay``). Returns the hours removed.
    """
    if params.decay_interval_secs <= 0 or params.decay_step_hours <= 0:
        return balance, None
    last_decay = balance.last_decay_timestamp
    if last_decay is None:
        return replace(balance, last_decay_timestamp=now), None
    if now <= last_decay:
        return balance, None
    periods = (now - last_decay) // params.decay_interval_secs
    if periods == 0:
        return balance, None
    removed = min(params.decay_step_hours * periods, balance.hours_online)
    if removed == 0:
        return replace(balance, last_decay_timestamp=now), None
    return replace(
        balance, hours_online=balance.hours_online - removed, last_decay_timestamp=now
    ), (removed)


def process_debit(balance: TimetokeBalance, hours: int) -> tuple[TimetokeBalance, int]:
    """Remove up to ``hours`` as a penalty, bounded by the balance (``debit_penalty``)."""
    removed = min(max(hours, 0), balance.hours_online)
    return replace(balance, hours_online=balance.hours_online - removed), removed


def is_sync_due(balance: TimetokeBalance, params: TimetokeParams, now: int) -> bool:
    """Whether the balance goes into the next snapshot (``should_sync``,
    docs/protocol.md#timetoke)."""
    if params.sync_interval_secs <= 0:
        return False
    if balance.last_sync_timestamp is None:
        return balance.hours_online > 0
    return max(now - balance.last_sync_timestamp, 0) >= params.sync_interval_secs


def process_mark_synced(balance: TimetokeBalance, now: int) -> TimetokeBalance:
    """Record that the balance was included in a snapshot at ``now`` (``mark_synced``)."""
    return replace(balance, last_sync_timestamp=now)


def compute_timetoke_record(identity: str, balance: TimetokeBalance) -> TimetokeRecord:
    """The wire record of a balance (``as_record``): None timestamps become 0."""
    return TimetokeRecord(
        identity=identity,
        balance=balance.hours_online,
        last_update=balance.last_proof_timestamp or 0,
        last_sync=balance.last_sync_timestamp or 0,
        last_decay=balance.last_decay_timestamp or 0,
    )


def _or_zero(value: int | None) -> int:
    return 0 if value is None else value


def _none_if_zero(value: int) -> int | None:
    return None if value == 0 else value


def process_merge(local: TimetokeBalance, remote: TimetokeRecord) -> tuple[TimetokeBalance, bool]:
    """Merge a peer's record (``merge_snapshot``, docs/protocol.md#timetoke); returns (balance,
    changed).

    Remote hours win when remote last_update is newer, or equal with more hours; the larger
    last_sync and last_decay are kept. Unauthenticated, as on the chain
    (docs/protocol.md#known-weaknesses): a remote
    balance above the accrual cap is adopted. A record with a negative field is ignored.
    """
    fields = (remote.balance, remote.last_update, remote.last_sync, remote.last_decay)
    if not all(_is_timestamp(value) for value in fields):
        return local, False
    hours, last_proof = local.hours_online, local.last_proof_timestamp
    last_sync, last_decay = local.last_sync_timestamp, local.last_decay_timestamp
    local_update = _or_zero(last_proof)
    if remote.last_update > local_update or (
        remote.last_update == local_update and remote.balance > hours
    ):
        hours, last_proof = remote.balance, _none_if_zero(remote.last_update)
    if remote.last_sync > _or_zero(last_sync):
        last_sync = remote.last_sync
    if remote.last_decay > _or_zero(last_decay):
        last_decay = remote.last_decay
    merged = TimetokeBalance(hours, last_proof, last_decay, last_sync)
    return merged, merged != local


def compute_merge_problem(
    local: TimetokeBalance, remote: TimetokeRecord, params: TimetokeParams, now: int
) -> str | None:
    """Why an observation-bounded merge refuses ``remote`` (rppsim's fix of
    docs/protocol.md#known-weaknesses), or None.

    The node merges only what it could have observed itself: a ``last_update`` not after
    ``now``, hours at most its own plus one per whole hour since the account's last credited
    proof (none before a first proof) and at least its own minus the decay due since the last
    decay. Honest records stay within these bounds; a forged balance does not.
    """
    if remote.last_update > now:
        return "record updated in the future"
    last_proof = local.last_proof_timestamp
    earnable = 0 if last_proof is None else max(now - last_proof, 0) // SECONDS_PER_HOUR
    if remote.balance > min(local.hours_online + earnable, params.accrual_cap_hours):
        return "hours above the observed uptime"
    last_decay = local.last_decay_timestamp
    periods = 0 if last_decay is None else max(now - last_decay, 0) // params.decay_interval_secs
    if remote.balance < local.hours_online - params.decay_step_hours * periods:
        return "hours below the observed decay"
    return None


def compute_uptime_commitment(address: str, start: int, end: int) -> str:
    """hex BLAKE2s(address UTF-8 ‖ start u64 BE ‖ end u64 BE) (docs/protocol.md#timetoke "Uptime
    proofs")."""
    data = address.encode() + start.to_bytes(8, "big") + end.to_bytes(8, "big")
    return hashlib.blake2s(data).hexdigest()


def compute_timetoke_record_bytes(record: TimetokeRecord) -> bytes:
    """serde_json bytes of a record, key order and ``1.0`` as the chain writes them."""
    body = json.dumps(record.identity, ensure_ascii=False)
    return (
        f'{{"identity":{body},"balance":{record.balance},'
        f'"epoch_accrual":{record.epoch_accrual},"decay_rate":{record.decay_rate!r},'
        f'"last_update":{record.last_update},"last_sync":{record.last_sync},'
        f'"last_decay":{record.last_decay}}}'
    ).encode()


def compute_timetoke_root(records: list[TimetokeRecord]) -> bytes:
    """timetoke_root: sorted-leaf Merkle over BLAKE2s(serde_json(record))
    (docs/protocol.md#timetoke)."""
    return compute_merkle_root(
        compute_leaf_hash(compute_timetoke_record_bytes(record)) for record in records
    )
