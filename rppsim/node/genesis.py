"""Genesis: the chain's ``[genesis]`` plus seeded validators and a funded treasury.

The chain's table is ``chain_id`` and ``accounts[{address, balance, stake}]``
(docs/operations.md#genesis).
rppsim adds, per docs/architecture.md#departures-from-the-chain and
docs/protocol.md#known-weaknesses items 7 and 14, optional per-account
fields that seed a genesis validator's reputation profile (``validator``, ``zsi_validated``,
``uptime_hours``, ``consensus_success``), a ``key_seed`` that derives a development key pair, and
treasury accounts by name. The genesis hash of the parity guardrail (docs/operations.md#guardrails
row 22) is
``compute_genesis_hash``.

This module also holds ``TableReader``, the typed TOML access shared with ``config.py``: every
error it raises is one ``UserError(file, dotted key, expected, found)``.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

import nacl.signing

from rppsim.errors import UserError, describe
from rppsim.node.reputation import TierThresholds
from rppsim.node.timetoke import TimetokeParams

U32_MAX: Final = 2**32 - 1
U64_MAX: Final = 2**64 - 1
U128_MAX: Final = 2**128 - 1

DEFAULT_CHAIN_ID: Final = "rpp-local"
TREASURY_VALIDATOR: Final = "treasury-validator"
TREASURY_FEES: Final = "treasury-fees"
TREASURY_WITNESS: Final = "treasury-witness"
TREASURY_ACCOUNTS: Final = (TREASURY_VALIDATOR, TREASURY_FEES, TREASURY_WITNESS)

DEV_KEY_DOMAIN: Final = b"rppsim/dev-key/"
GENESIS_HASH_DOMAIN: Final = b"rppsim/genesis-parity/v1"

ACCOUNT_KEYS: Final = (
    "address",
    "balance",
    "stake",
    "validator",
    "zsi_validated",
    "uptime_hours",
    "consensus_success",
    "key_seed",
)

_ADDRESS_RE: Final = re.compile(r"[0-9a-f]{64}")
_STAKE_RE: Final = re.compile(r"[0-9]+")
_INDEX_RE: Final = re.compile(r"\[\d+\]")
REQUIRED: Final[Any] = object()
"""Sentinel default of the ``TableReader`` getters: the key must be present."""


# --- Typed TOML access ---------------------------------------------------------------------


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file; a missing file or a syntax error is a ``UserError`` with line/column."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UserError(str(path), "", "an existing TOML file", "nothing at that path") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(str(path), "", "valid TOML", str(error)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(str(path), "", "a readable UTF-8 TOML file", str(error)) from None


def join_key(path: str, key: str) -> str:
    """The dotted key path of ``key`` inside the table at ``path`` ("" is the root)."""
    return f"{path}.{key}" if path else key


def _table_name(path: str) -> str:
    return f"[{path}]" if path else "the root table"


@dataclass
class TableReader:
    """Typed, located reads from one parsed TOML document (a node config, profile or genesis).

    ``origins`` maps dotted key paths to the file that set them (profiles merge several files),
    so an error names the file the user has to edit. Unknown keys fail in strict mode and become
    ``warnings`` otherwise (docs/operations.md#loading-and-rejection).
    """

    source: str
    strict: bool = True
    warnings: list[str] = field(default_factory=list)
    origins: Mapping[str, str] = field(default_factory=dict)
    root_keys: Collection[str] = ()
    misplaced: dict[str, str] = field(default_factory=dict)

    def locate(self, path: str) -> str:
        """The file that set ``path`` or its closest enclosing table, else ``source``."""
        parts = _INDEX_RE.sub("", path).split(".")
        for end in range(len(parts), 0, -1):
            found = self.origins.get(".".join(parts[:end]))
            if found is not None:
                return found
        return self.source

    def fail(self, path: str, expected: str, found: str | None = None) -> NoReturn:
        """Raise the one-line ``UserError`` for ``path``."""
        raise UserError(self.locate(path), path, expected, found)

    def check_keys(
        self,
        table: Mapping[str, Any],
        path: str,
        known: Collection[str],
        *,
        always_strict: bool = False,
    ) -> None:
        """Reject (strict) or warn about (relaxed) keys of ``table`` not in ``known``.

        ``always_strict`` mirrors serde's deny-unknown-fields (feature gates fail even in relaxed
        mode); a key named in ``self.root_keys`` gets the hint that it belongs at the root (the
        chain's templates mis-nest root keys, docs/operations.md#sources).
        """
        for key, value in table.items():
            if key in known:
                continue
            key_path = join_key(path, key)
            if path and key in self.root_keys:
                self.misplaced.setdefault(key, path)
            expected, found = _describe_unknown(key, value, path, known, self.root_keys)
            if self.strict or always_strict:
                self.fail(key_path, expected, found)
            error = UserError(self.locate(key_path), key_path, expected, found)
            self.warnings.append(f"{error} (ignored in relaxed mode)")

    def _value(self, table: Mapping[str, Any], path: str, key: str, kind: str, default: Any) -> Any:
        if key in table:
            return table[key]
        if default is REQUIRED:
            found = "nothing: the key is missing"
            if not path and key in self.misplaced:
                found = f"it under [{self.misplaced[key]}]; root keys go above the first [table]"
            self.fail(join_key(path, key), f"{kind} (required)", found)
        return default

    def get_int(
        self,
        table: Mapping[str, Any],
        path: str,
        key: str,
        default: Any = REQUIRED,
        *,
        maximum: int = U64_MAX,
    ) -> int:
        """An unsigned integer in [0, maximum] (u64 unless told), as serde reads it."""
        kind = "a non-negative integer"
        if maximum != U64_MAX:
            kind += " ≤ u128::MAX" if maximum == U128_MAX else f" ≤ {maximum}"
        value = self._value(table, path, key, kind, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
            self.fail(join_key(path, key), kind, describe(value))
        return value

    def get_float(
        self, table: Mapping[str, Any], path: str, key: str, default: Any = REQUIRED
    ) -> float:
        """A number (an integer is accepted, as serde's f64 does)."""
        value = self._value(table, path, key, "a number", default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(join_key(path, key), "a number", describe(value))
        return float(value)

    def get_bool(
        self, table: Mapping[str, Any], path: str, key: str, default: Any = REQUIRED
    ) -> bool:
        """``true`` or ``false``."""
        value = self._value(table, path, key, "true or false", default)
        if not isinstance(value, bool):
            self.fail(join_key(path, key), "true or false", describe(value))
        return value

    def get_str(
        self,
        table: Mapping[str, Any],
        path: str,
        key: str,
        default: Any = REQUIRED,
        *,
        non_empty: bool = False,
    ) -> Any:
        """A string (``default`` may be ``None`` for an optional one)."""
        kind = "a non-empty string" if non_empty else "a string"
        value = self._value(table, path, key, kind, default)
        if value is None and default is None:
            return None
        if not isinstance(value, str) or (non_empty and not value.strip()):
            self.fail(join_key(path, key), kind, describe(value))
        return value

    def get_table(
        self, table: Mapping[str, Any], path: str, key: str, default: Any = REQUIRED
    ) -> Any:
        """A TOML table (``default`` may be ``None`` for an optional one)."""
        value = self._value(table, path, key, "a table", default)
        if value is None and default is None:
            return None
        if not isinstance(value, dict):
            self.fail(join_key(path, key), "a table", describe(value))
        return value

    def get_array(self, table: Mapping[str, Any], path: str, key: str) -> list[Any]:
        """A required TOML array."""
        value = self._value(table, path, key, "an array", REQUIRED)
        if not isinstance(value, list):
            self.fail(join_key(path, key), "an array", describe(value))
        return value


def _describe_unknown(
    key: str, value: Any, path: str, known: Collection[str], root_keys: Collection[str]
) -> tuple[str, str]:
    """(expected, found) for an unknown key, with a root-key or did-you-mean hint."""
    if path and key in root_keys:
        return f"{key} at the root, above the first [table]", f"it under {_table_name(path)}"
    found = f"unknown key '{key}'"
    if isinstance(value, dict):
        misplaced = [name for name in value if name in root_keys]
        if misplaced:
            expected = "root keys above the first [table]"
            return expected, f"unknown table [{join_key(path, key)}] holding {', '.join(misplaced)}"
    close = difflib.get_close_matches(key, sorted(known), n=1)
    if close:
        return f"a known key of {_table_name(path)} (did you mean '{close[0]}'?)", found
    return f"one of the keys of {_table_name(path)}: {', '.join(sorted(known))}", found


# --- Keys and addresses (docs/protocol.md#two-consensus-implementations)
# ---------------------------------------------


def derive_dev_keypair(key_seed: str) -> tuple[bytes, bytes]:
    """Development ed25519 key pair: seed = BLAKE2s(b"rppsim/dev-key/" ‖ UTF-8 key_seed)."""
    seed = hashlib.blake2s(DEV_KEY_DOMAIN + key_seed.encode("utf-8"), digest_size=32).digest()
    public_key = nacl.signing.SigningKey(seed).verify_key.encode()
    return seed, public_key


def compute_address(public_key: bytes) -> str:
    """Account address = hex BLAKE2s-256(ed25519 public key)
    (docs/protocol.md#two-consensus-implementations)."""
    return hashlib.blake2s(public_key, digest_size=32).hexdigest()


def is_address(text: str) -> bool:
    """Whether ``text`` has the shape of an address: 64 lowercase hex digits."""
    return _ADDRESS_RE.fullmatch(text) is not None


def compute_stake_value(stake: str) -> int | None:
    """The decimal-integer stake string as an int (≤ u128::MAX), or None ("invalid genesis stake").

    Only ASCII digits are accepted (docs/operations.md#genesis).
    """
    if _STAKE_RE.fullmatch(stake) is None:
        return None
    value = int(stake)
    return value if value <= U128_MAX else None


# --- Genesis dataclasses -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GenesisAccount:
    """One ``[[genesis.accounts]]`` entry: the chain's three fields plus rppsim's seeds."""

    address: str
    balance: int
    stake: str
    validator: bool = False
    zsi_validated: bool = False
    uptime_hours: int = 0
    consensus_success: int = 0
    key_seed: str | None = None

    @property
    def stake_value(self) -> int:
        """The parsed stake; ValueError("invalid genesis stake") if it does not parse."""
        value = compute_stake_value(self.stake)
        if value is None:
            raise ValueError("invalid genesis stake")
        return value


@dataclass(frozen=True, slots=True)
class GenesisConfig:
    """The chain's ``GenesisConfig`` (defaults: chain_id "rpp-local", no accounts)."""

    chain_id: str = DEFAULT_CHAIN_ID
    accounts: tuple[GenesisAccount, ...] = ()

    def get_account(self, address: str) -> GenesisAccount | None:
        """The account with ``address``, if genesis lists it."""
        return next((a for a in self.accounts if a.address == address), None)

    @property
    def validators(self) -> tuple[GenesisAccount, ...]:
        """Seeded genesis validators, sorted by address."""
        return tuple(sorted((a for a in self.accounts if a.validator), key=lambda a: a.address))


# --- Genesis hash (docs/operations.md#guardrails row 22)
# --------------------------------------------------


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def compute_genesis_preimage(genesis: GenesisConfig) -> bytes:
    """The canonical bytes hashed by ``compute_genesis_hash``.

    Layout (all lengths and counts u32 big-endian, "lp(x)" = u32 byte length ‖ x):
    lp(b"rppsim/genesis-parity/v1") ‖ lp(UTF-8 chain_id) ‖ u32 account count ‖ then, for each
    account in ascending order of its UTF-8 address bytes: lp(UTF-8 address) ‖ balance as u128
    big-endian (16 bytes) ‖ stake value as u128 big-endian (16 bytes). The stake is the parsed
    integer, so "0100" and "100" encode alike; no floats, no JSON. Only the chain's fields
    (chain_id, address, balance, stake) are covered, as the guardrail defines parity.
    """
    parts = [_length_prefixed(GENESIS_HASH_DOMAIN), _length_prefixed(genesis.chain_id.encode())]
    accounts = sorted(genesis.accounts, key=lambda a: a.address.encode("utf-8"))
    parts.append(len(accounts).to_bytes(4, "big"))
    for account in accounts:
        parts.append(_length_prefixed(account.address.encode("utf-8")))
        parts.append(account.balance.to_bytes(16, "big"))
        parts.append(account.stake_value.to_bytes(16, "big"))
    return b"".join(parts)


def compute_genesis_hash(genesis: GenesisConfig) -> str:
    """Hex BLAKE2s-256 of ``compute_genesis_preimage``: equal on every node of one chain."""
    return hashlib.blake2s(compute_genesis_preimage(genesis), digest_size=32).hexdigest()


# --- Parsing and validation ----------------------------------------------------------------


def _parse_account(entry: Any, reader: TableReader, path: str) -> GenesisAccount:
    """Types of one account table (the chain's serde step)."""
    if not isinstance(entry, dict):
        reader.fail(path, "a table {address, balance, stake}", describe(entry))
    reader.check_keys(entry, path, ACCOUNT_KEYS)
    return GenesisAccount(
        address=reader.get_str(entry, path, "address"),
        balance=reader.get_int(entry, path, "balance", maximum=U128_MAX),
        stake=reader.get_str(entry, path, "stake"),
        validator=reader.get_bool(entry, path, "validator", False),
        zsi_validated=reader.get_bool(entry, path, "zsi_validated", False),
        uptime_hours=reader.get_int(entry, path, "uptime_hours", 0),
        consensus_success=reader.get_int(entry, path, "consensus_success", 0),
        key_seed=reader.get_str(entry, path, "key_seed", None, non_empty=True),
    )


def parse_genesis(
    table: Mapping[str, Any],
    reader: TableReader,
    path: str = "genesis",
    *,
    thresholds: TierThresholds | None = None,
    timetoke: TimetokeParams | None = None,
) -> GenesisConfig:
    """Typed ``GenesisConfig`` from a ``[genesis]`` table, then ``check_genesis``."""
    reader.check_keys(table, path, ("chain_id", "accounts"))
    chain_id = reader.get_str(table, path, "chain_id")
    entries = reader.get_array(table, path, "accounts")
    accounts_path = join_key(path, "accounts")
    accounts = tuple(
        _parse_account(entry, reader, f"{accounts_path}[{index}]")
        for index, entry in enumerate(entries)
    )
    genesis = GenesisConfig(chain_id=chain_id, accounts=accounts)
    check_genesis(genesis, reader, path, thresholds=thresholds, timetoke=timetoke)
    return genesis


def check_genesis(
    genesis: GenesisConfig,
    reader: TableReader,
    path: str = "genesis",
    *,
    thresholds: TierThresholds | None = None,
    timetoke: TimetokeParams | None = None,
) -> None:
    """Semantic rules of a typed genesis; the first violation raises a ``UserError``.

    Seeded validators must reach Tl3 under ``thresholds`` (docs/protocol.md#reputation: validated,
    hours ≥ tier2, successes ≥ tier3, stake > 0) and stay within the timetoke accrual cap.
    """
    thresholds = thresholds or TierThresholds()
    timetoke = timetoke or TimetokeParams()
    if not genesis.chain_id.strip():
        reader.fail(join_key(path, "chain_id"), "a non-empty chain id", describe(genesis.chain_id))
    seen: set[str] = set()
    for index, account in enumerate(genesis.accounts):
        account_path = f"{join_key(path, 'accounts')}[{index}]"
        _check_account(account, reader, account_path)
        if account.address in seen:
            reader.fail(f"{account_path}.address", "an address listed once", account.address)
        seen.add(account.address)
        if account.validator:
            _check_validator(account, reader, account_path, thresholds, timetoke)


def _check_account(account: GenesisAccount, reader: TableReader, path: str) -> None:
    """Address shape, stake, treasury and dev-key rules of one account."""
    treasury = account.address in TREASURY_ACCOUNTS
    if not (treasury or is_address(account.address)):
        expected = "64 lowercase hex digits (BLAKE2s of the public key) or a treasury account name"
        reader.fail(f"{path}.address", expected, describe(account.address))
    if compute_stake_value(account.stake) is None:
        expected = "a decimal-integer string ≤ u128::MAX (invalid genesis stake)"
        reader.fail(f"{path}.stake", expected, describe(account.stake))
    if treasury and (account.validator or account.key_seed is not None):
        found = "validator = true" if account.validator else f"key_seed = {account.key_seed!r}"
        reader.fail(f"{path}.address", "a treasury account without validator or key_seed", found)
    if account.key_seed is not None:
        derived = compute_address(derive_dev_keypair(account.key_seed)[1])
        if derived != account.address:
            expected = f"the address derived from key_seed {account.key_seed!r}: {derived}"
            reader.fail(f"{path}.address", expected, account.address)


def _check_validator(
    account: GenesisAccount,
    reader: TableReader,
    path: str,
    thresholds: TierThresholds,
    timetoke: TimetokeParams,
) -> None:
    """A seeded genesis validator is Tl3+ with stake
    (docs/architecture.md#departures-from-the-chain)."""
    if not account.zsi_validated:
        reader.fail(f"{path}.zsi_validated", "true for a validator (tier ≥ Tl1)", "false")
    hours = account.uptime_hours
    if not thresholds.tier2_min_uptime_hours <= hours <= timetoke.accrual_cap_hours:
        expected = (
            f"an integer in [{thresholds.tier2_min_uptime_hours}, {timetoke.accrual_cap_hours}]"
            " for a validator (tier2_min_uptime_hours .. accrual_cap_hours)"
        )
        reader.fail(f"{path}.uptime_hours", expected, describe(hours))
    if account.consensus_success < thresholds.tier3_min_consensus_success:
        expected = (
            f"≥ {thresholds.tier3_min_consensus_success} for a validator"
            " (tier3_min_consensus_success)"
        )
        reader.fail(f"{path}.consensus_success", expected, describe(account.consensus_success))
    if account.stake_value == 0:
        reader.fail(f"{path}.stake", "a stake > 0 for a validator", describe(account.stake))


def load_genesis(
    path: Path,
    strict: bool = True,
    *,
    thresholds: TierThresholds | None = None,
    timetoke: TimetokeParams | None = None,
    warnings: list[str] | None = None,
    standalone: bool = False,
) -> tuple[GenesisConfig, list[str]]:
    """Load a standalone genesis file: one top-level ``[genesis]`` table (``standalone``, as
    ``rppsim validate`` reads it: also ``check_genesis_file``)."""
    reader = TableReader(str(path), strict, warnings if warnings is not None else [])
    document = read_toml(path)
    reader.check_keys(document, "", ("genesis",))
    table = reader.get_table(document, "", "genesis")
    genesis = parse_genesis(table, reader, thresholds=thresholds, timetoke=timetoke)
    if standalone:
        check_genesis_file(genesis, reader)
    return genesis, reader.warnings


def check_genesis_file(genesis: GenesisConfig, reader: TableReader, path: str = "genesis") -> None:
    """A genesis file a chain can start from: accounts listed with at least one seeded
    validator among them (else none could propose or vote; an empty list stays valid, as the
    chain allows it) and a total stake that fits the chain's u128 (stakes are summed into
    voting power)."""
    if genesis.accounts and not genesis.validators:
        expected = "at least one account with validator = true (no one could propose)"
        found = f"{len(genesis.accounts)} accounts, no validator"
        reader.fail(join_key(path, "accounts"), expected, found)
    total = sum(account.stake_value for account in genesis.accounts)
    if total > U128_MAX:
        expected = "stakes summing to at most u128::MAX (the voting power total)"
        reader.fail(join_key(path, "accounts"), expected, f"a total of {total}")


# --- Development genesis of a run (the kernel and the in-memory cluster) --------------------

VALIDATOR_BALANCE: Final = 1_000_000_000
WALLET_BALANCE: Final = 100_000_000
"""Below 2^30 with room to receive: the transaction circuit range-checks balances to 30 bits."""
TREASURY_BALANCE: Final = 1_000_000_000_000


def build_genesis(
    validator_keys: Collection[Any], wallets: Collection[Any], chain_id: str = DEFAULT_CHAIN_ID
) -> GenesisConfig:
    """Seeded validators (validated, 24 h, 10 successes, stake 1000), Tl2 wallets and a
    funded treasury (docs/architecture.md#departures-from-the-chain); both lists hold anything with
    an ``address``."""
    accounts = [
        GenesisAccount(keys.address, VALIDATOR_BALANCE, "1000", True, True, 24, 10)
        for keys in validator_keys
    ]
    accounts += [
        GenesisAccount(w.address, WALLET_BALANCE, "0", False, True, 24, 0) for w in wallets
    ]
    accounts += [GenesisAccount(name, TREASURY_BALANCE, "0") for name in TREASURY_ACCOUNTS]
    return GenesisConfig(chain_id, tuple(sorted(accounts, key=lambda a: a.address)))
