"""The ledger of the runtime path [RT]: accounts, transfers, rewards, slashing, epochs, uptime.

docs/protocol.md#epochs-and-replay-protection, docs/protocol.md#slashing,
docs/protocol.md#reputation, docs/protocol.md#timetoke, docs/protocol.md#rewards-and-treasury.
Sans-IO and deterministic: time is an argument.

Every ``process_*`` method validates fully before it changes anything; a rejection returns a
``Rejection`` and leaves the ledger untouched. Accounts are frozen records replaced one at a
time in a dict, so an operation costs O(1) per account it touches and ledgers of different
nodes can share unchanged records.

Commitments (rppsim's canonical encodings; no floats in hashed bytes):

* state root: sorted-leaf Merkle (``merkle.py``) over BLAKE2s(``compute_account_leaf``):
  ``b"rpp-account-v1"`` ‖ u16 BE address length ‖ address UTF-8 ‖ balance u128 BE ‖ stake u128
  BE ‖ nonce u64 BE ‖ zsi_validated u8 ‖ tier u8 ‖ score in micro-units u32 BE (⌊score·10⁶ +
  ½⌋) ‖ consensus_success u64 BE ‖ peer_feedback i64 BE ‖ last_decay u64 BE ‖ hours_online u64
  BE ‖ last_proof, last_decay, last_sync of the timetoke balance, each as 0x00 (never) or 0x01 ‖
  u64 BE. The chain hashes serde_json of its ``Account``, which holds fields we do not model.
* timetoke root: the chain's own rule, BLAKE2s(serde_json(``TimetokeRecord``)) leaves.
* reputation root: BLAKE2s(``b"rpp-reputation-v1"`` ‖ address ‖ score micro-units ‖ tier ‖
  hours ‖ consensus_success ‖ peer_feedback ‖ zsi_validated), same widths as above.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum, StrEnum
from functools import lru_cache
from typing import Any, Protocol

from rppsim.node.merkle import EMPTY_ROOT, compute_leaf_hash, compute_merkle_root
from rppsim.node.participation import (
    NO_MISSES,
    Misses,
    ParticipationEvent,
    ParticipationParams,
    compute_misses,
)
from rppsim.node.reputation import (
    ReputationProfile,
    ReputationWeights,
    Tier,
    TierThresholds,
    compute_transaction_problem,
    process_consensus_success,
    process_recompute,
    process_score_penalty,
)
from rppsim.node.selection import (
    ObserverProfile,
    ValidatorCandidate,
    classify_participants,
    compute_round_half_away,
)
from rppsim.node.timetoke import (
    SECONDS_PER_HOUR,
    TimetokeBalance,
    TimetokeParams,
    TimetokeRecord,
    compute_timetoke_record,
    compute_timetoke_root,
    compute_uptime_commitment,
    is_sync_due,
    process_decay,
    process_mark_synced,
    process_merge,
    process_record_proof,
)

__all__ = [
    "BASE_BLOCK_REWARD",
    "DEFAULT_EPOCH_LENGTH",
    "LEADER_BONUS_PERCENT",
    "Account",
    "Ledger",
    "LedgerGenesisAccount",
    "LedgerParams",
    "Rejection",
    "RewardOutcome",
    "SlashingEvent",
    "SlashingReason",
    "Transfer",
    "compute_account_leaf",
    "compute_epoch",
    "compute_epoch_nonce",
    "compute_genesis_account",
    "compute_leader_bonus",
    "compute_payout_order",
    "compute_reputation_leaf",
    "compute_slashing_evidence_hash",
]

DEFAULT_EPOCH_LENGTH = 720
"""``DEFAULT_EPOCH_LENGTH`` blocks (the shipped node.toml sets 1440)."""
BASE_BLOCK_REWARD = 5
LEADER_BONUS_PERCENT = 20
EPOCH_NONCE_DOMAIN = b"rpp-epoch-nonce"
U128_LIMIT = 1 << 128
_U64_LIMIT = 1 << 64


class SlashingReason(IntEnum):
    """``SlashingReason``; the value is the discriminant hashed into the evidence
    (docs/protocol.md#slashing)."""

    InvalidIdentity = 0
    InvalidVote = 1
    ConsensusFault = 2

    @property
    def penalty_percent(self) -> int:
        """Stake slashed: 50 %, 25 %, 10 %."""
        return _PENALTY_PERCENT[self]


_PENALTY_PERCENT = {
    SlashingReason.InvalidIdentity: 50,
    SlashingReason.InvalidVote: 25,
    SlashingReason.ConsensusFault: 10,
}


class Rejection(StrEnum):
    """Why a ledger operation was refused; ``message`` is the chain's error text."""

    UNKNOWN_ACCOUNT = "unknown_account"
    INVALID_AMOUNT = "invalid_amount"
    ZSI_NOT_VALIDATED = "zsi_not_validated"
    INSUFFICIENT_UPTIME = "insufficient_uptime"
    TIER_TOO_LOW = "tier_too_low"
    INVALID_NONCE = "invalid_nonce"
    AMOUNT_OVERFLOW = "amount_overflow"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    INVALID_WINDOW = "invalid_window"
    WINDOW_TOO_SHORT = "window_too_short"
    COMMITMENT_MISMATCH = "commitment_mismatch"
    INVALID_UPTIME_PROOF = "invalid_uptime_proof"
    WINDOW_NOT_EXTENDED = "window_not_extended"
    ADDRESS_EXISTS = "address_exists"
    VRF_TAG_USED = "vrf_tag_used"

    @property
    def message(self) -> str:
        """The chain's ``ChainError::Transaction`` text for this rejection."""
        return _MESSAGES[self]


_MESSAGES = {
    Rejection.UNKNOWN_ACCOUNT: "account not found",
    Rejection.INVALID_AMOUNT: "transaction amount and fee must be natural numbers",
    Rejection.ZSI_NOT_VALIDATED: "wallet identity must be ZSI-validated",
    Rejection.INSUFFICIENT_UPTIME: "timetoke balance below required hours for transaction",
    Rejection.TIER_TOO_LOW: "transaction requires a higher tier",
    Rejection.INVALID_NONCE: "invalid nonce",
    Rejection.AMOUNT_OVERFLOW: "transaction amount overflow",
    Rejection.INSUFFICIENT_BALANCE: "insufficient balance",
    Rejection.INVALID_WINDOW: "uptime proof window end must be greater than start",
    Rejection.WINDOW_TOO_SHORT: "uptime proof must cover at least one hour",
    Rejection.COMMITMENT_MISMATCH: "uptime proof commitment mismatch",
    Rejection.INVALID_UPTIME_PROOF: "uptime proof failed verification",
    Rejection.WINDOW_NOT_EXTENDED: "uptime proof does not extend the recorded online window",
    Rejection.ADDRESS_EXISTS: "wallet address already associated with an identity",
    Rejection.VRF_TAG_USED: "VRF tag already registered for this epoch",
}
_TIER_PROBLEMS = {
    "zsi_not_validated": Rejection.ZSI_NOT_VALIDATED,
    "insufficient_uptime": Rejection.INSUFFICIENT_UPTIME,
    "tier_too_low": Rejection.TIER_TOO_LOW,
}


_NEW_PROFILE = ReputationProfile()
_DEFAULT_WEIGHTS = ReputationWeights()
_DEFAULT_THRESHOLDS = TierThresholds()
_DEFAULT_TIMETOKE = TimetokeParams()
_DEFAULT_PARTICIPATION = ParticipationParams()


@dataclass(frozen=True, slots=True)
class Account:
    """An account: balance, stake, nonce and its reputation (which holds its timetoke)."""

    address: str
    balance: int = 0
    stake: int = 0
    nonce: int = 0
    reputation: ReputationProfile = _NEW_PROFILE

    @property
    def timetoke(self) -> TimetokeBalance:
        """The account's timetoke balance (``reputation.timetokes``)."""
        return self.reputation.timetoke

    @property
    def tier(self) -> Tier:
        """The account's current tier."""
        return self.reputation.tier


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer's payload (signature checks happen before the ledger)."""

    sender: str
    recipient: str
    amount: int
    fee: int
    nonce: int


@dataclass(frozen=True, slots=True)
class SlashingEvent:
    """``SlashingEvent`` with its evidence hash (docs/protocol.md#slashing)."""

    address: str
    reason: SlashingReason
    penalty_percent: int
    timestamp: int
    evidence_hash: bytes
    signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class RewardOutcome:
    """What a reward distribution paid: (address, owed, paid) in payout order, and shortfall."""

    payouts: tuple[tuple[str, int, int], ...] = ()
    shortfall: int = 0


@dataclass(frozen=True, slots=True)
class LedgerGenesisAccount:
    """A genesis account plus rppsim's validator seeds
    (docs/architecture.md#departures-from-the-chain; docs/protocol.md#known-weaknesses)."""

    address: str
    balance: int
    stake: int
    zsi_validated: bool = False
    uptime_hours: int = 0
    consensus_success: int = 0


@dataclass(frozen=True, slots=True)
class LedgerParams:
    """The ledger's parameters; defaults are the chain's runtime constants."""

    epoch_length: int = DEFAULT_EPOCH_LENGTH
    weights: ReputationWeights = _DEFAULT_WEIGHTS
    thresholds: TierThresholds = _DEFAULT_THRESHOLDS
    timetoke: TimetokeParams = _DEFAULT_TIMETOKE
    base_block_reward: int = BASE_BLOCK_REWARD
    leader_bonus_percent: int = LEADER_BONUS_PERCENT
    treasury_validator: str = "treasury-validator"
    treasury_fees: str = "treasury-fees"
    treasury_witness: str = "treasury-witness"
    witness_pool_weights: tuple[float, float] = (0.7, 0.3)
    """(treasury, fees) split of witness payouts (malachite default 0.7 / 0.3)."""
    participation: ParticipationParams = _DEFAULT_PARTICIPATION
    """Thresholds and score factors of the participation detectors (``participation.py``)."""


class RewardProfile(Protocol):
    """What a reward needs of a validator (``ValidatorProfile`` and ``VerifiedSubmission`` fit)."""

    @property
    def address(self) -> str: ...
    @property
    def tier(self) -> Tier: ...
    @property
    def timetoke_hours(self) -> int: ...
    @property
    def randomness(self) -> int: ...


# --- Pure helpers ----------------------------------------------------------------------------


def compute_epoch(height: int, epoch_length: int) -> int:
    """epoch = ⌊height / epoch_length⌋ (docs/protocol.md#epochs-and-replay-protection; a length
    below 1 counts as 1)."""
    return height // max(epoch_length, 1)


def compute_epoch_nonce(epoch: int, state_root: bytes) -> bytes:
    """BLAKE2s("rpp-epoch-nonce" ‖ epoch u64 LE ‖ state_root)
    (docs/protocol.md#epochs-and-replay-protection)."""
    return hashlib.blake2s(EPOCH_NONCE_DOMAIN + epoch.to_bytes(8, "little") + state_root).digest()


def compute_slashing_evidence_hash(
    address: str, reason: SlashingReason, penalty_percent: int, timestamp: int
) -> bytes:
    """BLAKE2s(address ‖ reason byte ‖ percent byte ‖ timestamp u64 BE)
    (docs/protocol.md#slashing)."""
    data = address.encode() + bytes((int(reason), penalty_percent)) + timestamp.to_bytes(8, "big")
    return hashlib.blake2s(data).digest()


def compute_leader_bonus(reward: int, leader_bonus_percent: int) -> int:
    """⌈R·pct/100⌉, 0 when pct = 0 (docs/protocol.md#rewards-and-treasury)."""
    return 0 if leader_bonus_percent == 0 else (reward * leader_bonus_percent + 99) // 100


def compute_payout_order(validators: Iterable[RewardProfile]) -> list[RewardProfile]:
    """Tier desc, hours desc, randomness desc, address asc
    (docs/protocol.md#rewards-and-treasury)."""
    return sorted(
        validators, key=lambda v: (-int(v.tier), -v.timetoke_hours, -v.randomness, v.address)
    )


def _score_micro(score: float) -> int:
    return int(min(max(score, 0.0), 1.0) * 1_000_000 + 0.5)


def _optional_u64(value: int | None) -> bytes:
    return b"\x00" + bytes(8) if value is None else b"\x01" + value.to_bytes(8, "big")


@lru_cache(maxsize=1 << 12)
def compute_account_leaf(account: Account) -> bytes:
    """The state-root leaf of an account: BLAKE2s of its canonical bytes (module docstring).

    Memoized process-wide by the account's value (records are frozen): every node of a run
    re-hashes the same accounts after each block, and a hash is a pure function of its bytes.
    """
    profile, balance = account.reputation, account.reputation.timetoke
    address = account.address.encode()
    data = b"".join(
        (
            b"rpp-account-v1",
            len(address).to_bytes(2, "big"),
            address,
            account.balance.to_bytes(16, "big"),
            account.stake.to_bytes(16, "big"),
            account.nonce.to_bytes(8, "big"),
            bytes((int(profile.zsi_validated), int(profile.tier))),
            _score_micro(profile.score).to_bytes(4, "big"),
            profile.consensus_success.to_bytes(8, "big"),
            profile.peer_feedback.to_bytes(8, "big", signed=True),
            profile.last_decay_timestamp.to_bytes(8, "big"),
            balance.hours_online.to_bytes(8, "big"),
            _optional_u64(balance.last_proof_timestamp),
            _optional_u64(balance.last_decay_timestamp),
            _optional_u64(balance.last_sync_timestamp),
        )
    )
    return compute_leaf_hash(data)


def compute_reputation_leaf(account: Account) -> bytes:
    """The reputation-root leaf of an account (module docstring)."""
    profile = account.reputation
    address = account.address.encode()
    data = b"".join(
        (
            b"rpp-reputation-v1",
            len(address).to_bytes(2, "big"),
            address,
            _score_micro(profile.score).to_bytes(4, "big"),
            bytes((int(profile.tier),)),
            profile.timetoke.hours_online.to_bytes(8, "big"),
            profile.consensus_success.to_bytes(8, "big"),
            profile.peer_feedback.to_bytes(8, "big", signed=True),
            bytes((int(profile.zsi_validated),)),
        )
    )
    return compute_leaf_hash(data)


def _natural(value: object, limit: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        return None
    return value


def compute_genesis_account(entry: object) -> LedgerGenesisAccount:
    """A genesis account from a tuple or any object with its fields (stake may be a string).

    Accepts ``rppsim.node.genesis.GenesisAccount`` as is. ValueError on a malformed entry
    (the genesis loader reports user errors before this point).
    """
    if isinstance(entry, tuple):
        try:
            entry = LedgerGenesisAccount(*entry)
        except TypeError as error:
            raise ValueError(f"invalid genesis account {entry!r}: {error}") from None
    stake: Any = getattr(entry, "stake", None)
    if isinstance(stake, str) and stake.isascii() and stake.isdigit():
        stake = int(stake)
    account = LedgerGenesisAccount(
        address=getattr(entry, "address", None),  # type: ignore[arg-type]  # checked by the dataclass
        balance=getattr(entry, "balance", None),  # type: ignore[arg-type]  # checked by the dataclass
        stake=stake,
        zsi_validated=bool(getattr(entry, "zsi_validated", False)),
        uptime_hours=getattr(entry, "uptime_hours", 0),
        consensus_success=getattr(entry, "consensus_success", 0),
    )
    numbers = (
        _natural(account.balance, U128_LIMIT),
        _natural(account.stake, U128_LIMIT),
        _natural(account.uptime_hours, _U64_LIMIT),
        _natural(account.consensus_success, _U64_LIMIT),
    )
    if not isinstance(account.address, str) or not account.address or None in numbers:
        raise ValueError(f"invalid genesis account {account!r}")
    return account


# --- The ledger ------------------------------------------------------------------------------


Participants = tuple[tuple[ValidatorCandidate, ...], tuple[ObserverProfile, ...]]
"""(validator candidates, observers) of ``classify_participants``."""


class Ledger:
    """Accounts plus epoch state (``Ledger``, docs/protocol.md#epochs-and-replay-protection,
    docs/protocol.md#slashing, docs/protocol.md#timetoke, docs/protocol.md#rewards-and-treasury)."""

    __slots__ = (
        "_accounts",
        "_leaves",
        "_misses",
        "_participants",
        "_state_root",
        "_used_vrf_tags",
        "epoch",
        "epoch_nonce",
        "height",
        "params",
        "participation_log",
        "reward_shortfall",
        "slashing_log",
    )

    def __init__(self, params: LedgerParams | None = None) -> None:
        self.params = params or LedgerParams()
        self._accounts: dict[str, Account] = {}
        self._leaves: dict[str, bytes] = {}
        self._state_root: bytes | None = EMPTY_ROOT
        self._participants: Participants | None = None
        self._used_vrf_tags: set[str] = set()
        self.height = 0
        self.epoch = 0
        self.epoch_nonce = compute_epoch_nonce(0, EMPTY_ROOT)
        self.reward_shortfall = 0
        self.slashing_log: list[SlashingEvent] = []
        self._misses: dict[str, Misses] = {}
        self.participation_log: list[ParticipationEvent] = []

    @classmethod
    def from_genesis(
        cls, accounts: Iterable[object], params: LedgerParams | None = None, now: int = 0
    ) -> Ledger:
        """The ledger after genesis at time ``now`` (docs/protocol.md#rewards-and-treasury
        "Genesis").

        Seeded validators (validated, hours, successes) get their tier by a recompute at
        ``now``. The epoch-0 nonce is derived from the EMPTY state root, as on the chain
        (``Ledger::new`` fixes epoch 0 before ``load`` inserts the accounts).
        """
        ledger = cls(params)
        seen: set[str] = set()
        for entry in accounts:
            spec = compute_genesis_account(entry)
            if spec.address in seen:
                raise ValueError(f"duplicate genesis address {spec.address!r}")
            seen.add(spec.address)
            profile = ReputationProfile(
                zsi_validated=spec.zsi_validated,
                timetoke=TimetokeBalance(hours_online=spec.uptime_hours),
                consensus_success=spec.consensus_success,
                last_decay_timestamp=now,
            )
            account = Account(spec.address, spec.balance, spec.stake, 0, profile)
            ledger._put(replace(account, reputation=ledger._recompute(profile, now)))
        return ledger

    @classmethod
    def from_parts(
        cls,
        params: LedgerParams,
        accounts: Iterable[Account],
        *,
        height: int,
        epoch: int,
        epoch_nonce: bytes,
        reward_shortfall: int,
        used_vrf_tags: Iterable[str] = (),
        slashing_log: Iterable[SlashingEvent] = (),
        misses: Mapping[str, Misses] | None = None,
        participation_log: Iterable[ParticipationEvent] = (),
    ) -> Ledger:
        """A ledger holding exactly these parts (a state snapshot's, ``rppsim.node.state_sync``)."""
        ledger = cls(params)
        for account in accounts:
            ledger._put(account)
        ledger.height = height
        ledger.epoch = epoch
        ledger.epoch_nonce = epoch_nonce
        ledger.reward_shortfall = reward_shortfall
        ledger._used_vrf_tags = set(used_vrf_tags)
        ledger.slashing_log = list(slashing_log)
        ledger._misses = {a: m for a, m in (misses or {}).items() if m != NO_MISSES}
        ledger.participation_log = list(participation_log)
        return ledger

    def get_used_vrf_tags(self) -> list[str]:
        """The VRF tags registered in the current epoch, sorted."""
        return sorted(self._used_vrf_tags)

    def get_all_misses(self) -> list[tuple[str, Misses]]:
        """Every validator's non-zero consecutive misses, by address."""
        return sorted(self._misses.items())

    def fork(self) -> Ledger:
        """An independent copy to apply a block to; accounts are shared until replaced.

        Costs O(accounts) pointer copies; a block is applied to a fork and the fork becomes
        the ledger when the block is finalized.
        """
        other = Ledger.__new__(Ledger)
        other.params = self.params
        other._accounts = dict(self._accounts)
        other._leaves = dict(self._leaves)
        other._state_root = self._state_root
        other._participants = self._participants
        other._used_vrf_tags = set(self._used_vrf_tags)
        other.height = self.height
        other.epoch = self.epoch
        other.epoch_nonce = self.epoch_nonce
        other.reward_shortfall = self.reward_shortfall
        other.slashing_log = list(self.slashing_log)
        other._misses = dict(self._misses)
        other.participation_log = list(self.participation_log)
        return other

    # --- reads ---

    def get_account(self, address: str) -> Account | None:
        """The account at ``address``, if any."""
        return self._accounts.get(address)

    def get_accounts(self) -> list[Account]:
        """All accounts sorted by address (``accounts_snapshot``)."""
        return [self._accounts[a] for a in sorted(self._accounts)]

    def get_participants(self) -> Participants:
        """Tl3+ validator candidates and Tl1–Tl2 observers, by address
        (docs/protocol.md#rounds-and-quorum).

        Cached until an account changes: every node reads it at each height and round.
        """
        if self._participants is None:
            self._participants = classify_participants(self._accounts.values())
        return self._participants

    def __len__(self) -> int:
        return len(self._accounts)

    def is_vrf_tag_used(self, tag: str) -> bool:
        """Whether ``tag`` was registered in the current epoch."""
        return tag in self._used_vrf_tags

    def get_state_root(self) -> bytes:
        """The global state root (cached; only changed accounts are re-hashed)."""
        if self._state_root is None:
            leaves = self._leaves
            for address, account in self._accounts.items():
                if address not in leaves:
                    leaves[address] = compute_account_leaf(account)
            self._state_root = compute_merkle_root(leaves.values())
        return self._state_root

    def get_timetoke_root(self) -> bytes:
        """timetoke_root over every account's ``TimetokeRecord`` (docs/protocol.md#timetoke
        "Commitments")."""
        return compute_timetoke_root(
            [compute_timetoke_record(a.address, a.timetoke) for a in self._accounts.values()]
        )

    def get_reputation_root(self) -> bytes:
        """reputation_root over every account's reputation leaf."""
        return compute_merkle_root(compute_reputation_leaf(a) for a in self._accounts.values())

    # --- the one mutator every process_* goes through ---

    def _put(self, account: Account) -> None:
        self._accounts[account.address] = account
        self._leaves.pop(account.address, None)
        self._state_root = None
        self._participants = None

    def _recompute(self, profile: ReputationProfile, now: int) -> ReputationProfile:
        return process_recompute(profile, self.params.weights, self.params.thresholds, now)

    # --- epochs ---

    def process_epoch_change(self, height: int) -> bool:
        """Set the height; on a new epoch derive its nonce and clear VRF tags
        (docs/protocol.md#epochs-and-replay-protection)."""
        self.height = height
        epoch = compute_epoch(height, self.params.epoch_length)
        if epoch == self.epoch:
            return False
        self.epoch = epoch
        self.epoch_nonce = compute_epoch_nonce(epoch, self.get_state_root())
        self._used_vrf_tags.clear()
        return True

    # --- transfers ---

    def process_transfer(self, tx: Transfer, now: int) -> Rejection | None:
        """Apply a transfer: fee to the fee pool; None on success (docs/protocol.md#reputation,
        docs/protocol.md#rewards-and-treasury)."""
        sender = self._accounts.get(tx.sender)
        if sender is None:
            return Rejection.UNKNOWN_ACCOUNT
        amount, fee = _natural(tx.amount, U128_LIMIT), _natural(tx.fee, _U64_LIMIT)
        if amount is None or fee is None:
            return Rejection.INVALID_AMOUNT
        problem = compute_transaction_problem(sender.reputation, self.params.thresholds)
        if problem is not None:
            return _TIER_PROBLEMS[problem]
        if tx.nonce != sender.nonce + 1:
            return Rejection.INVALID_NONCE
        total = amount + fee
        if total >= U128_LIMIT:
            return Rejection.AMOUNT_OVERFLOW
        if sender.balance < total:
            return Rejection.INSUFFICIENT_BALANCE
        self._put(  # the constructor, not replace(): several times faster on this hot path
            Account(
                sender.address,
                sender.balance - total,
                sender.stake,
                sender.nonce + 1,
                self._recompute(sender.reputation, now),
            )
        )
        recipient = self._accounts.get(tx.recipient) or _new_account(tx.recipient, now)
        self._put(
            Account(
                recipient.address,
                min(recipient.balance + amount, U128_LIMIT - 1),
                recipient.stake,
                recipient.nonce,
                self._recompute(recipient.reputation, now),
            )
        )
        self._credit(self.params.treasury_fees, fee)
        return None

    def _credit(self, address: str, amount: int) -> None:
        """Add to an account without a recompute, creating it if absent (fee pool)."""
        if amount == 0 or not address:
            return
        account = self._accounts.get(address) or Account(address)
        balance = min(account.balance + amount, U128_LIMIT - 1)
        self._put(Account(address, balance, account.stake, account.nonce, account.reputation))

    # --- rewards ---

    def _reward(self, address: str, paid: int, now: int) -> None:
        """Credit ``paid``, one more consensus success, recompute (``reward_with_source``)."""
        account = self._accounts.get(address) or _new_account(address, now)
        params = self.params
        self._put(
            Account(
                address,
                min(account.balance + paid, U128_LIMIT - 1),
                account.stake,
                account.nonce,
                process_consensus_success(
                    account.reputation, params.weights, params.thresholds, now
                ),
            )
        )

    def process_consensus_rewards(
        self,
        validators: Sequence[RewardProfile],
        leader: str,
        fees: int,
        now: int,
        withheld: frozenset[str] = frozenset(),
    ) -> RewardOutcome:
        """R = base + fees split over the round's validators, plus the leader bonus
        (docs/protocol.md#rewards-and-treasury).

        The payouts of ``withheld`` addresses (flagged by the participation detectors) are
        computed but not paid: no credit, no consensus success (the crate's
        ``apply_penalty``); the treasury keeps them.
        """
        if not validators:
            return RewardOutcome()
        reward = self.params.base_block_reward + max(fees, 0)
        share, remainder = divmod(reward, len(validators))
        bonus = compute_leader_bonus(reward, self.params.leader_bonus_percent)
        owed: list[tuple[str, int]] = []
        for index, profile in enumerate(compute_payout_order(validators)):
            amount = share + (1 if index < remainder else 0)
            owed.append((profile.address, amount + (bonus if profile.address == leader else 0)))
        if bonus > 0 and all(address != leader for address, _ in owed):
            owed.append((leader, bonus))
        owed = [(address, amount) for address, amount in owed if address not in withheld]
        return self._pay(owed, now, self.params.treasury_validator, None)

    def process_witness_payouts(self, payouts: Mapping[str, int], now: int) -> RewardOutcome:
        """Witness rewards funded treasury-witness : fee pool by the pool weights
        (docs/protocol.md#rewards-and-treasury)."""
        owed = [(address, max(amount, 0)) for address, amount in sorted(payouts.items())]
        return self._pay(owed, now, self.params.treasury_witness, self.params.witness_pool_weights)

    def _pay(
        self,
        owed: list[tuple[str, int]],
        now: int,
        treasury: str,
        split: tuple[float, float] | None,
    ) -> RewardOutcome:
        """Fund each payout from ``treasury`` (its share), then the fee pool; shortfall counted.

        Payouts are funded in order, exactly as one withdrawal per payout would; the pool
        balances are kept in locals and written back once (docs/protocol.md#rewards-and-treasury
        "Funding").
        """
        fees = self.params.treasury_fees
        left = {name: self._balance(name) for name in (treasury, fees)}
        payouts: list[tuple[str, int, int]] = []
        shortfall = 0
        for address, amount in owed:
            treasury_share = amount if split is None else _treasury_share(amount, split)
            from_treasury = min(left[treasury], treasury_share) if treasury_share > 0 else 0
            left[treasury] -= from_treasury
            rest = amount - from_treasury
            from_fees = min(left[fees], rest) if rest > 0 else 0
            left[fees] -= from_fees
            paid = from_treasury + from_fees
            shortfall += amount - paid
            self._reward(address, paid, now)
            payouts.append((address, amount, paid))
        for name, balance in left.items():
            account = self._accounts.get(name)
            if account is not None and account.balance != balance:
                self._put(replace(account, balance=balance))
        self.reward_shortfall += shortfall
        return RewardOutcome(tuple(payouts), shortfall)

    def _balance(self, address: str) -> int:
        account = self._accounts.get(address)
        return 0 if account is None else account.balance

    # --- slashing ---

    def process_slash(
        self, address: str, reason: SlashingReason, now: int
    ) -> SlashingEvent | Rejection:
        """Cut stake by the reason's percentage and reset reputation and timetoke
        (docs/protocol.md#slashing)."""
        account = self._accounts.get(address)
        if account is None:
            return Rejection.UNKNOWN_ACCOUNT
        percent = SlashingReason(reason).penalty_percent
        self._put(
            replace(
                account,
                stake=account.stake * (100 - percent) // 100,
                reputation=ReputationProfile(last_decay_timestamp=now),
            )
        )
        event = SlashingEvent(
            address,
            SlashingReason(reason),
            percent,
            now,
            compute_slashing_evidence_hash(address, SlashingReason(reason), percent, now),
        )
        self.slashing_log.append(event)
        return event

    # --- participation ---

    def get_misses(self, address: str) -> Misses:
        """The participation detectors' consecutive misses of ``address``."""
        return self._misses.get(address, NO_MISSES)

    def process_participation(
        self,
        height: int,
        offense_height: int,
        round_: int,
        members: Iterable[str],
        voted: tuple[frozenset[str], frozenset[str]],
    ) -> frozenset[str]:
        """One round of the participation detectors (``participation.py``) over ``members``
        with ``voted`` = (prevoters, precommitters): count misses, log each detection,
        multiply the offender's score by the detection's factor; returns the offenders,
        whose reward of block ``height`` is withheld."""
        params = self.params.participation
        prevoters, precommitters = voted
        withheld: set[str] = set()
        for address in sorted(members):
            before = self._misses.get(address, NO_MISSES)
            misses, found = compute_misses(
                before, address in prevoters, address in precommitters, params
            )
            if misses != before:
                self._set_misses(address, misses)
            for kind, count in found:
                event = ParticipationEvent(height, offense_height, round_, address, kind, count)
                self.participation_log.append(event)
                self._penalize(address, params.get_score_factor(kind))
                withheld.add(address)
        return frozenset(withheld)

    def _set_misses(self, address: str, misses: Misses) -> None:
        if misses == NO_MISSES:
            self._misses.pop(address, None)
        else:
            self._misses[address] = misses

    def _penalize(self, address: str, factor: float) -> None:
        account = self._accounts.get(address)
        if account is None:
            return
        profile = process_score_penalty(account.reputation, factor, self.params.thresholds)
        if profile != account.reputation:
            self._put(replace(account, reputation=profile))

    # --- uptime and timetoke ---

    def process_uptime_proof(
        self,
        address: str,
        start: int,
        end: int,
        commitment: str,
        now: int,
        *,
        proof_verified: bool = True,
    ) -> int | Rejection:
        """Credit an uptime proof; the zk proof is verified by the caller
        (docs/protocol.md#timetoke)."""
        if end <= start:
            return Rejection.INVALID_WINDOW
        if end - start < SECONDS_PER_HOUR:
            return Rejection.WINDOW_TOO_SHORT
        if commitment != compute_uptime_commitment(address, start, end):
            return Rejection.COMMITMENT_MISMATCH
        if not proof_verified:
            return Rejection.INVALID_UPTIME_PROOF
        account = self._accounts.get(address)
        if account is None:
            return Rejection.UNKNOWN_ACCOUNT
        if not account.reputation.zsi_validated:
            return Rejection.ZSI_NOT_VALIDATED
        balance, credited = process_record_proof(account.timetoke, self.params.timetoke, start, end)
        if not credited:
            return Rejection.WINDOW_NOT_EXTENDED
        profile = self._recompute(replace(account.reputation, timetoke=balance), now)
        self._put(replace(account, reputation=profile))
        return credited

    def process_timetoke_snapshot(self, now: int) -> tuple[TimetokeRecord, ...]:
        """Decay every balance, then emit and mark the records due (``timetoke_snapshot``)."""
        records: list[TimetokeRecord] = []
        for address in sorted(self._accounts):
            account = self._accounts[address]
            profile = account.reputation
            balance, removed = process_decay(profile.timetoke, self.params.timetoke, now)
            profile = replace(profile, timetoke=balance)
            if removed is not None:
                profile = self._recompute(profile, now)
            if is_sync_due(balance, self.params.timetoke, now):
                profile = replace(profile, timetoke=process_mark_synced(balance, now))
                records.append(compute_timetoke_record(address, profile.timetoke))
            if profile != account.reputation:
                self._put(replace(account, reputation=profile))
        return tuple(records)

    def process_timetoke_merge(
        self, records: Iterable[TimetokeRecord], now: int
    ) -> tuple[str, ...]:
        """Merge peers' records into known accounts (``sync_timetoke_records``,
        docs/protocol.md#timetoke)."""
        updated: list[str] = []
        for record in records:
            account = self._accounts.get(record.identity)
            if account is None:
                continue
            balance, changed = process_merge(account.timetoke, record)
            if changed:
                profile = self._recompute(replace(account.reputation, timetoke=balance), now)
                self._put(replace(account, reputation=profile))
                updated.append(record.identity)
        return tuple(updated)

    # --- identities ---

    def process_register_identity(self, address: str, vrf_tag: str, now: int) -> Rejection | None:
        """A new validated account (stake 0, Tl1); the proof checks happen before
        (docs/protocol.md#rewards-and-treasury)."""
        if address in self._accounts:
            return Rejection.ADDRESS_EXISTS
        if vrf_tag in self._used_vrf_tags:
            return Rejection.VRF_TAG_USED
        self._used_vrf_tags.add(vrf_tag)
        profile = ReputationProfile(zsi_validated=True, last_decay_timestamp=now)
        self._put(Account(address, 0, 0, 0, self._recompute(profile, now)))
        return None


def _new_account(address: str, now: int) -> Account:
    """``Account::new``: unvalidated, zero balances, decay reference ``now``."""
    return Account(address, reputation=ReputationProfile(last_decay_timestamp=now))


def _treasury_share(amount: int, split: tuple[float, float]) -> int:
    """round(amount·t/(t+f)), within [0, amount] (``WitnessPoolWeights::split``)."""
    treasury, fees = split
    total = treasury + fees
    if total <= 0:
        return amount
    return min(max(compute_round_half_away(amount * treasury / total), 0), amount)
