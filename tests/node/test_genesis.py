"""Genesis: dev keys and addresses, the shipped devnet genesis, parsing rules, the parity hash."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.errors import UserError
from rppsim.node.genesis import (
    DEFAULT_CHAIN_ID,
    TREASURY_ACCOUNTS,
    U128_MAX,
    GenesisAccount,
    GenesisConfig,
    compute_address,
    compute_genesis_hash,
    compute_genesis_preimage,
    compute_stake_value,
    derive_dev_keypair,
    is_address,
    load_genesis,
)

ROOT = Path(__file__).resolve().parents[2]
GENESIS_FILE = ROOT / "node" / "genesis.toml"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- Keys and addresses ----------------------------------------------------------------------


def test_dev_keypair_follows_the_documented_derivation():
    """seed = BLAKE2s(b"rppsim/dev-key/" ‖ key_seed); public key from libsodium's ed25519."""
    seed, public_key = derive_dev_keypair("validator-0")
    expected_seed = hashlib.blake2s(b"rppsim/dev-key/validator-0", digest_size=32).digest()
    assert seed == expected_seed
    assert public_key == bytes(nacl.signing.SigningKey(expected_seed).verify_key)
    assert len(public_key) == 32
    assert derive_dev_keypair("validator-0") == (seed, public_key)
    assert derive_dev_keypair("validator-1")[1] != public_key


def test_address_is_hex_blake2s_of_public_key():
    """docs/protocol.md#two-consensus-implementations: address = hex BLAKE2s-256(public key)."""
    public_key = bytes(range(32))
    address = compute_address(public_key)
    assert address == hashlib.blake2s(public_key).hexdigest()
    assert is_address(address)
    assert not is_address(address.upper()) and not is_address(address[:-1])


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1000", 1000),
        ("0", 0),
        ("0100", 100),
        (str(U128_MAX), U128_MAX),
        ("", None),
        ("-1", None),
        ("+1", None),
        ("1e3", None),
        (" 1", None),
        ("١", None),
        (str(U128_MAX + 1), None),
        ("1_000", None),
    ],
)
def test_stake_value_parses_decimal_integers_only(text: str, value: int | None):
    """A stake is ASCII decimal digits within u128; anything else is an invalid genesis stake."""
    assert compute_stake_value(text) == value


def test_stake_value_property_raises_on_invalid_stake():
    """GenesisAccount.stake_value raises the chain's message for an unparsable stake."""
    with pytest.raises(ValueError, match="invalid genesis stake"):
        _ = GenesisAccount("a" * 64, 0, "x").stake_value


# --- The shipped devnet genesis ----------------------------------------------------------------


def test_shipped_genesis_has_four_seeded_validators_and_a_funded_treasury():
    """node/genesis.toml: chain rpp-local, 4 Tl3 validators, 3 funded treasury accounts."""
    genesis, warnings = load_genesis(GENESIS_FILE)
    assert warnings == []
    assert genesis.chain_id == DEFAULT_CHAIN_ID
    validators = genesis.validators
    assert len(validators) == 4
    for account in validators:
        assert (account.balance, account.stake, account.stake_value) == (10**9, "1000", 1000)
        assert account.zsi_validated and account.uptime_hours >= 24
        assert account.consensus_success >= 10
        assert account.key_seed is not None
        assert account.address == compute_address(derive_dev_keypair(account.key_seed)[1])
    for name in TREASURY_ACCOUNTS:
        treasury = genesis.get_account(name)
        assert treasury is not None and treasury.balance > 0 and not treasury.validator
    assert genesis.get_account("nobody") is None
    assert [a.address for a in validators] == sorted(a.address for a in validators)


def test_standalone_genesis_rejects_unknown_keys_strict_and_warns_relaxed(tmp_path: Path):
    """Top-level keys other than [genesis], and unknown account keys, follow strict/relaxed."""
    text = GENESIS_FILE.read_text(encoding="utf-8")
    bad = _write(
        tmp_path / "g.toml",
        "note = 'x'\n" + text.replace('stake = "0"', 'stake = "0"\nmemo = 1', 1),
    )
    with pytest.raises(UserError) as caught:
        load_genesis(bad)
    assert (caught.value.file, caught.value.key) == (str(bad), "note")
    genesis, warnings = load_genesis(bad, strict=False)
    assert len(genesis.accounts) == 7
    assert [w.split(": ")[1] for w in warnings] == ["note", "genesis.accounts[4].memo"]


def test_standalone_genesis_needs_a_genesis_table(tmp_path: Path):
    """A genesis file without [genesis] names the missing table."""
    with pytest.raises(UserError) as caught:
        load_genesis(_write(tmp_path / "g.toml", ""))
    assert caught.value.key == "genesis" and "missing" in str(caught.value)


def test_empty_account_list_is_valid(tmp_path: Path):
    """The chain allows no accounts (the node then funds itself, docs/operations.md#genesis)."""
    path = _write(tmp_path / "g.toml", '[genesis]\nchain_id = "c"\naccounts = []\n')
    assert load_genesis(path)[0] == GenesisConfig("c", ())


def test_account_entry_must_be_a_table(tmp_path: Path):
    """accounts = [1] is a type error on accounts[0]."""
    path = _write(tmp_path / "g.toml", '[genesis]\nchain_id = "c"\naccounts = [1]\n')
    with pytest.raises(UserError) as caught:
        load_genesis(path)
    assert caught.value.key == "genesis.accounts[0]"


def test_non_validator_may_carry_partial_reputation_seeds(tmp_path: Path):
    """A validated wallet below Tl3 is allowed when it is not marked validator."""
    seed = "wallet-0"
    address = compute_address(derive_dev_keypair(seed)[1])
    path = _write(
        tmp_path / "g.toml",
        f'[genesis]\nchain_id = "c"\n[[genesis.accounts]]\naddress = "{address}"\n'
        f'key_seed = "{seed}"\nbalance = 5\nstake = "0"\nzsi_validated = true\nuptime_hours = 3\n',
    )
    account = load_genesis(path)[0].accounts[0]
    assert (account.zsi_validated, account.uptime_hours, account.validator) == (True, 3, False)


# --- The genesis parity hash (docs/operations.md#guardrails row 22)
# ------------------------------------------


def test_preimage_matches_the_documented_byte_layout():
    """Length-prefixed domain and chain id, u32 count, accounts by address with u128 fields."""
    genesis = GenesisConfig(
        "rpp-x",
        (GenesisAccount("bb", 7, "300"), GenesisAccount("a", 2**100, "0042")),
    )

    def lp(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    expected = (
        lp(b"rppsim/genesis-parity/v1")
        + lp(b"rpp-x")
        + (2).to_bytes(4, "big")
        + lp(b"a")
        + (2**100).to_bytes(16, "big")
        + (42).to_bytes(16, "big")
        + lp(b"bb")
        + (7).to_bytes(16, "big")
        + (300).to_bytes(16, "big")
    )
    assert compute_genesis_preimage(genesis) == expected
    assert compute_genesis_hash(genesis) == hashlib.blake2s(expected).hexdigest()


def test_hash_ignores_reputation_seeds_and_key_seeds():
    """Parity covers the chain's fields only: chain_id, address, balance, stake."""
    genesis = load_genesis(GENESIS_FILE)[0]
    first = genesis.accounts[0]
    changed = dataclasses.replace(first, uptime_hours=100, key_seed=None, consensus_success=50)
    other = dataclasses.replace(genesis, accounts=(changed, *genesis.accounts[1:]))
    assert compute_genesis_hash(other) == compute_genesis_hash(genesis)


_addresses = st.lists(
    st.text(alphabet="0123456789abcdef", min_size=1, max_size=8),
    min_size=1,
    max_size=6,
    unique=True,
)


@st.composite
def _genesis(draw: st.DrawFn) -> GenesisConfig:
    addresses = draw(_addresses)
    accounts = tuple(
        GenesisAccount(
            address,
            draw(st.integers(0, U128_MAX)),
            str(draw(st.integers(0, U128_MAX))),
        )
        for address in addresses
    )
    return GenesisConfig(draw(st.text(max_size=12)), accounts)


@settings(max_examples=60)
@given(genesis=_genesis(), data=st.data())
def test_hash_is_stable_under_account_order(genesis: GenesisConfig, data: st.DataObject):
    """Any permutation of the accounts gives the same hash."""
    shuffled = data.draw(st.permutations(genesis.accounts))
    assert compute_genesis_hash(dataclasses.replace(genesis, accounts=tuple(shuffled))) == (
        compute_genesis_hash(genesis)
    )


@settings(max_examples=60)
@given(genesis=_genesis(), data=st.data())
def test_hash_changes_with_any_balance_stake_or_chain_id(
    genesis: GenesisConfig, data: st.DataObject
):
    """Changing one balance, one stake or the chain id changes the hash."""
    index = data.draw(st.integers(0, len(genesis.accounts) - 1))
    account = genesis.accounts[index]
    field = data.draw(st.sampled_from(["balance", "stake", "chain_id"]))
    if field == "chain_id":
        new_id = data.draw(st.text(max_size=12).filter(lambda s: s != genesis.chain_id))
        changed = dataclasses.replace(genesis, chain_id=new_id)
    else:
        old = account.balance if field == "balance" else account.stake_value
        new = data.draw(st.integers(0, U128_MAX).filter(lambda v: v != old))
        value: int | str = new if field == "balance" else str(new)
        accounts = list(genesis.accounts)
        accounts[index] = dataclasses.replace(account, **{field: value})
        changed = dataclasses.replace(genesis, accounts=tuple(accounts))
    assert compute_genesis_hash(changed) != compute_genesis_hash(genesis)
