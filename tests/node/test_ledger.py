"""Ledger: epochs, transfers, rewards, slashing, uptime
(docs/protocol.md#epochs-and-replay-protection, docs/protocol.md#slashing,
docs/protocol.md#timetoke, docs/protocol.md#rewards-and-treasury; docs/protocol.md#test-vectors
items 3, 4)."""

import hashlib
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.genesis import GenesisAccount
from rppsim.node.ledger import (
    Account,
    Ledger,
    LedgerGenesisAccount,
    LedgerParams,
    Rejection,
    SlashingReason,
    Transfer,
    compute_epoch,
    compute_epoch_nonce,
    compute_leader_bonus,
)
from rppsim.node.merkle import EMPTY_ROOT
from rppsim.node.reputation import Tier
from rppsim.node.timetoke import TimetokeBalance, TimetokeRecord, compute_uptime_commitment


@dataclass(frozen=True)
class Payee:
    address: str
    tier: Tier
    timetoke_hours: int
    randomness: int


def _validator(address: str, stake: int = 1000, hours: int = 30, successes: int = 12):
    return LedgerGenesisAccount(address, 0, stake, True, hours, successes)


def _ledger(*accounts, params: LedgerParams | None = None, now: int = 0) -> Ledger:
    return Ledger.from_genesis(accounts, params, now)


# --- slashing -------------------------------------------------------------------------------


def test_slash_invalid_vote_cuts_a_quarter_and_resets_everything():
    ledger = _ledger(_validator("val", stake=1000, hours=720, successes=150))
    assert ledger.get_account("val").tier is Tier.Tl4
    event = ledger.process_slash("val", SlashingReason.InvalidVote, now=5000)
    account = ledger.get_account("val")
    assert account.stake == 750
    profile = account.reputation
    assert (profile.zsi_validated, profile.tier, profile.score) == (False, Tier.Tl0, 0.0)
    assert (profile.consensus_success, profile.peer_feedback) == (0, 0)
    assert profile.timetoke == TimetokeBalance()
    assert profile.last_decay_timestamp == 5000
    expected = hashlib.blake2s(b"val" + bytes([1, 25]) + (5000).to_bytes(8, "big")).digest()
    assert event.evidence_hash == expected
    assert (event.penalty_percent, ledger.slashing_log) == (25, [event])


def test_slash_percentages_and_unknown_account():
    assert [r.penalty_percent for r in SlashingReason] == [50, 25, 10]
    ledger = _ledger(_validator("val", stake=999))
    ledger.process_slash("val", SlashingReason.ConsensusFault, 1)
    assert ledger.get_account("val").stake == 899
    assert ledger.process_slash("ghost", SlashingReason.InvalidVote, 1) is Rejection.UNKNOWN_ACCOUNT


def test_slashed_validator_can_never_register_again():
    ledger = _ledger(_validator("val"))
    ledger.process_slash("val", SlashingReason.InvalidIdentity, 10)
    assert ledger.process_register_identity("val", "tag", 20) is Rejection.ADDRESS_EXISTS


# --- rewards ---------------------------------------------------------------------------------


def test_reward_split_with_leader_bonus():
    params = LedgerParams(base_block_reward=100)
    ledger = _ledger(
        LedgerGenesisAccount("treasury-validator", 10_000, 0),
        _validator("leader", successes=0),
        _validator("a", successes=0),
        _validator("b", successes=0),
        params=params,
    )
    validators = [
        Payee("a", Tier.Tl3, 30, 5),
        Payee("leader", Tier.Tl4, 30, 1),
        Payee("b", Tier.Tl3, 30, 9),
    ]
    outcome = ledger.process_consensus_rewards(validators, "leader", fees=0, now=100)
    assert [(a, paid) for a, _, paid in outcome.payouts] == [("leader", 54), ("b", 33), ("a", 33)]
    for address, balance in (("leader", 54), ("a", 33), ("b", 33)):
        account = ledger.get_account(address)
        assert account.balance == balance
        assert account.reputation.consensus_success == 1
        assert account.reputation.last_decay_timestamp == 100
    assert ledger.get_account("treasury-validator").balance == 10_000 - 120


def test_validator_rewards_debit_the_validator_treasury_first():
    params = LedgerParams(base_block_reward=30, leader_bonus_percent=0)
    ledger = _ledger(
        LedgerGenesisAccount("treasury-validator", 120, 0),
        LedgerGenesisAccount("treasury-fees", 50, 0),
        params=params,
    )
    ledger.process_consensus_rewards([Payee("validator-a", Tier.Tl3, 1, 1)], "validator-a", 0, 1)
    assert ledger.get_account("treasury-validator").balance == 90
    assert ledger.get_account("treasury-fees").balance == 50
    assert ledger.get_account("validator-a").balance == 30


def test_reward_shortfall_counts_uncovered_amounts():
    params = LedgerParams(base_block_reward=10, leader_bonus_percent=0)
    ledger = _ledger(
        LedgerGenesisAccount("treasury-validator", 5, 0),
        LedgerGenesisAccount("treasury-fees", 3, 0),
        params=params,
    )
    outcome = ledger.process_consensus_rewards([Payee("validator-b", Tier.Tl3, 1, 1)], "x", 0, 1)
    assert ledger.get_account("treasury-validator").balance == 0
    assert ledger.get_account("treasury-fees").balance == 0
    assert (outcome.shortfall, ledger.reward_shortfall) == (2, 2)
    account = ledger.get_account("validator-b")
    assert (account.balance, account.reputation.consensus_success) == (8, 1)


def test_without_treasuries_every_reward_is_shortfall_but_still_counts():
    ledger = _ledger(_validator("v", successes=0))
    outcome = ledger.process_consensus_rewards([Payee("v", Tier.Tl3, 30, 1)], "v", fees=2, now=1)
    owed = 5 + 2 + compute_leader_bonus(7, 20)
    assert outcome.payouts == (("v", owed, 0),)
    assert ledger.reward_shortfall == owed
    assert ledger.get_account("v").reputation.consensus_success == 1


def test_leader_outside_the_set_gets_the_bonus_separately():
    ledger = _ledger(LedgerGenesisAccount("treasury-validator", 1000, 0))
    outcome = ledger.process_consensus_rewards(
        [Payee("a", Tier.Tl3, 1, 1), Payee("b", Tier.Tl3, 1, 2)], "outsider", fees=0, now=1
    )
    assert [(a, o) for a, o, _ in outcome.payouts] == [("b", 3), ("a", 2), ("outsider", 1)]
    assert ledger.get_account("outsider").tier is Tier.Tl0  # created unvalidated
    assert ledger.process_consensus_rewards([], "a", 5, 1).payouts == ()


def test_witness_payouts_follow_pool_weights():
    params = LedgerParams(witness_pool_weights=(0.4, 0.6))
    ledger = _ledger(
        LedgerGenesisAccount("treasury-witness", 80, 0),
        LedgerGenesisAccount("treasury-fees", 100, 0),
        params=params,
    )
    outcome = ledger.process_witness_payouts({"witness-1": 50}, now=1)
    assert ledger.get_account("treasury-witness").balance == 60
    assert ledger.get_account("treasury-fees").balance == 70
    assert ledger.get_account("witness-1").balance == 50
    assert outcome.shortfall == 0


# --- epochs ----------------------------------------------------------------------------------


def test_epoch_formula():
    assert [compute_epoch(h, 720) for h in (0, 719, 720, 1439, 1440)] == [0, 0, 1, 1, 2]
    assert compute_epoch(5, 0) == 5


def test_epoch_nonce_changes_with_the_state_root():
    root_a, root_b = bytes(32), bytes([1]) * 32
    expected = hashlib.blake2s(b"rpp-epoch-nonce" + (3).to_bytes(8, "little") + root_a).digest()
    assert compute_epoch_nonce(3, root_a) == expected
    assert compute_epoch_nonce(3, root_a) != compute_epoch_nonce(3, root_b)
    first = _ledger(_validator("a"), params=LedgerParams(epoch_length=10))
    second = _ledger(_validator("b"), params=LedgerParams(epoch_length=10))
    assert first.epoch_nonce == second.epoch_nonce == compute_epoch_nonce(0, EMPTY_ROOT)
    assert first.process_epoch_change(10) and second.process_epoch_change(10)
    assert first.epoch == 1
    assert first.epoch_nonce == compute_epoch_nonce(1, first.get_state_root())
    assert first.epoch_nonce != second.epoch_nonce


def test_vrf_tags_are_unique_per_epoch():
    ledger = _ledger(params=LedgerParams(epoch_length=10))
    assert ledger.process_register_identity("one", "tag", 1) is None
    assert ledger.process_register_identity("two", "tag", 1) is Rejection.VRF_TAG_USED
    assert not ledger.process_epoch_change(9)
    assert ledger.process_epoch_change(10)
    assert not ledger.is_vrf_tag_used("tag")
    assert ledger.process_register_identity("two", "tag", 2) is None


def test_registration_creates_a_validated_tier1_account():
    ledger = _ledger()
    assert ledger.process_register_identity("new", "t", 100) is None
    account = ledger.get_account("new")
    assert (account.balance, account.stake, account.tier) == (0, 0, Tier.Tl1)
    assert account.reputation.zsi_validated


# --- transfers -------------------------------------------------------------------------------


def _rich(address: str = "alice") -> LedgerGenesisAccount:
    return LedgerGenesisAccount(address, 1000, 0, True, 30, 0)


def test_transfer_moves_amount_and_fee():
    ledger = _ledger(_rich())
    assert ledger.process_transfer(Transfer("alice", "bob", 100, 7, 1), now=10) is None
    assert ledger.get_account("alice").balance == 893
    assert ledger.get_account("alice").nonce == 1
    assert ledger.get_account("bob").balance == 100
    assert ledger.get_account("bob").tier is Tier.Tl0
    assert ledger.get_account("treasury-fees").balance == 7
    assert ledger.process_transfer(Transfer("alice", "bob", 1, 0, 1), now=11) is (
        Rejection.INVALID_NONCE
    )


@pytest.mark.parametrize(
    ("tx", "sender", "rejection"),
    [
        (Transfer("nobody", "bob", 1, 0, 1), _rich(), Rejection.UNKNOWN_ACCOUNT),
        (Transfer("alice", "bob", 1, 0, 2), _rich(), Rejection.INVALID_NONCE),
        (Transfer("alice", "bob", 995, 6, 1), _rich(), Rejection.INSUFFICIENT_BALANCE),
        (Transfer("alice", "bob", -1, 0, 1), _rich(), Rejection.INVALID_AMOUNT),
        (Transfer("alice", "bob", 2**128 - 1, 1, 1), _rich(), Rejection.AMOUNT_OVERFLOW),
        (
            Transfer("alice", "bob", 1, 0, 1),
            LedgerGenesisAccount("alice", 1000, 0, False, 30),
            Rejection.ZSI_NOT_VALIDATED,
        ),
        (
            Transfer("alice", "bob", 1, 0, 1),
            LedgerGenesisAccount("alice", 1000, 0, True, 5),
            Rejection.INSUFFICIENT_UPTIME,
        ),
    ],
)
def test_rejected_transfers_change_nothing(tx, sender, rejection):
    ledger = _ledger(sender)
    root, accounts = ledger.get_state_root(), ledger.get_accounts()
    assert ledger.process_transfer(tx, now=10) is rejection
    assert ledger.get_state_root() == root
    assert ledger.get_accounts() == accounts


# --- uptime and timetoke ---------------------------------------------------------------------


def _uptime(ledger: Ledger, address: str, start: int, end: int, **kwargs):
    commitment = compute_uptime_commitment(address, start, end)
    return ledger.process_uptime_proof(address, start, end, commitment, end, **kwargs)


def test_uptime_credits_hours_and_rejects_replays():
    ledger = _ledger(LedgerGenesisAccount("w", 0, 0, True))
    assert _uptime(ledger, "w", 3600, 10800) == 2
    other = _ledger(LedgerGenesisAccount("w", 0, 0, True))
    assert _uptime(other, "w", 0, 3600) == 1
    assert _uptime(other, "w", 1800, 10800) == 2
    assert other.get_account("w").timetoke.hours_online == 3
    assert _uptime(other, "w", 1800, 10800) is Rejection.WINDOW_NOT_EXTENDED


def test_uptime_checks_in_order():
    ledger = _ledger(LedgerGenesisAccount("w", 0, 0, True), LedgerGenesisAccount("u", 0, 0))
    assert _uptime(ledger, "w", 100, 100) is Rejection.INVALID_WINDOW
    assert _uptime(ledger, "w", 0, 3599) is Rejection.WINDOW_TOO_SHORT
    assert ledger.process_uptime_proof("w", 0, 3600, "00", 3600) is Rejection.COMMITMENT_MISMATCH
    assert _uptime(ledger, "w", 0, 3600, proof_verified=False) is Rejection.INVALID_UPTIME_PROOF
    assert _uptime(ledger, "ghost", 0, 3600) is Rejection.UNKNOWN_ACCOUNT
    assert _uptime(ledger, "u", 0, 3600) is Rejection.ZSI_NOT_VALIDATED


def test_uptime_promotes_to_tier2_at_24_hours():
    ledger = _ledger(LedgerGenesisAccount("w", 0, 0, True, 23))
    assert ledger.get_account("w").tier is Tier.Tl1
    assert _uptime(ledger, "w", 0, 3600) == 1
    assert ledger.get_account("w").tier is Tier.Tl2


def test_timetoke_snapshot_marks_sync_and_merge_adopts_newer_records():
    ledger = _ledger(LedgerGenesisAccount("w", 0, 0, True, 5), LedgerGenesisAccount("z", 0, 0))
    records = ledger.process_timetoke_snapshot(now=100)
    assert [r.identity for r in records] == ["w"]
    assert ledger.get_account("w").timetoke.last_sync_timestamp == 100
    assert ledger.process_timetoke_snapshot(now=200) == ()
    updated = ledger.process_timetoke_merge(
        [TimetokeRecord("z", 8, last_update=1000), TimetokeRecord("ghost", 9)], now=300
    )
    assert updated == ("z",)
    assert ledger.get_account("z").timetoke.hours_online == 8


# --- genesis and commitments -----------------------------------------------------------------


def test_genesis_accepts_tuples_and_config_accounts():
    from_tuple = _ledger(("a", 10, 5, True, 30, 12))
    from_config = _ledger(GenesisAccount("a", 10, "5", True, True, 30, 12))
    assert from_tuple.get_accounts() == from_config.get_accounts()
    assert from_tuple.get_account("a").tier is Tier.Tl3
    with pytest.raises(ValueError, match="duplicate"):
        _ledger(("a", 1, 1), ("a", 2, 2))
    with pytest.raises(ValueError, match="invalid genesis"):
        _ledger(("a", -1, 1))
    with pytest.raises(ValueError, match="invalid genesis"):
        _ledger(("a",))


def test_state_root_tracks_changes_and_ignores_insertion_order():
    accounts = [_rich("alice"), _validator("v1"), _validator("v2")]
    ledger = _ledger(*accounts)
    assert ledger.get_state_root() == _ledger(*reversed(accounts)).get_state_root()
    before = ledger.get_state_root()
    assert ledger.process_transfer(Transfer("alice", "v1", 1, 0, 1), now=0) is None
    after = ledger.get_state_root()
    assert after != before
    fresh = Ledger.from_genesis([])
    for account in ledger.get_accounts():
        fresh._put(account)
    assert fresh.get_state_root() == after
    assert ledger.get_timetoke_root() != ledger.get_reputation_root()


def test_account_defaults():
    account = Account("x")
    assert (account.balance, account.stake, account.nonce, account.tier) == (0, 0, 0, Tier.Tl0)


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from("abcd"), st.integers(0, 400)),
        max_size=12,
    )
)
def test_transfers_conserve_value(moves):
    """Balances plus the fee pool always sum to the genesis total."""
    ledger = _ledger(_rich("a"), _rich("b"), _rich("c"))
    for sender, recipient, amount in moves:
        nonce = ledger.get_account(sender).nonce + 1
        ledger.process_transfer(Transfer(sender, recipient, amount, amount % 7, nonce), now=1)
    assert sum(account.balance for account in ledger.get_accounts()) == 3000


def test_fork_is_independent_of_its_origin():
    """A fork starts equal; changing it leaves the origin's accounts and root untouched."""
    ledger = Ledger.from_genesis([("a" * 64, 100, 10, True, 24, 10), ("b" * 64, 0, 0)])
    root = ledger.get_state_root()
    fork = ledger.fork()
    assert fork.get_state_root() == root
    fork.process_slash("a" * 64, SlashingReason.ConsensusFault, 1)
    assert fork.get_account("a" * 64).stake == 9
    assert ledger.get_account("a" * 64).stake == 10
    assert ledger.get_state_root() == root
    assert fork.get_state_root() != root
    assert ledger.slashing_log == []


def test_participants_follow_every_account_change_and_forks():
    """The cached candidates/observers equal a fresh classification after each change."""
    from rppsim.node.selection import classify_participants

    ledger = _ledger(_validator("val"), _validator("obs", hours=30, successes=0))
    candidates, observers = ledger.get_participants()
    assert [c.address for c in candidates] == ["val"]
    assert [o.address for o in observers] == ["obs"]
    fork = ledger.fork()
    fork.process_slash("val", SlashingReason.ConsensusFault, 1)
    assert fork.get_participants() == classify_participants(fork.get_accounts())
    assert fork.get_participants()[0] == ()
    assert [c.address for c in ledger.get_participants()[0]] == ["val"]  # origin untouched
    for _ in range(10):  # consensus successes lift the observer to Tl3
        ledger.process_consensus_rewards(
            [Payee("obs", Tier.Tl2, 30, 1)], leader="obs", fees=0, now=2
        )
    assert ledger.get_participants() == classify_participants(ledger.get_accounts())
    assert "obs" in [c.address for c in ledger.get_participants()[0]]


# --- a ledger from its parts (state snapshots) ----------------------------------------------


def test_a_ledger_rebuilt_from_its_parts_is_the_same_ledger():
    ledger = _ledger(_validator("a"), _validator("b"), _validator("c"), _rich("d"))
    ledger.process_slash("a", SlashingReason.InvalidIdentity, now=10)
    assert ledger.process_register_identity("new", "tag-1", 11) is None
    ledger.process_participation(3, 2, 0, ["b", "c"], (frozenset({"c"}), frozenset({"c"})))
    ledger.process_epoch_change(3)
    rebuilt = Ledger.from_parts(
        ledger.params,
        ledger.get_accounts(),
        height=ledger.height,
        epoch=ledger.epoch,
        epoch_nonce=ledger.epoch_nonce,
        reward_shortfall=ledger.reward_shortfall,
        used_vrf_tags=ledger.get_used_vrf_tags(),
        slashing_log=ledger.slashing_log,
        misses=dict(ledger.get_all_misses()),
        participation_log=ledger.participation_log,
    )
    assert ledger.get_all_misses() == [("b", ledger.get_misses("b"))]
    assert rebuilt.get_state_root() == ledger.get_state_root()
    assert rebuilt.get_accounts() == ledger.get_accounts()
    assert rebuilt.get_used_vrf_tags() == ["tag-1"]
    assert rebuilt.is_vrf_tag_used("tag-1")
    assert rebuilt.slashing_log == ledger.slashing_log
    assert rebuilt.get_all_misses() == ledger.get_all_misses()
    assert rebuilt.get_participants() == ledger.get_participants()
    rebuilt.process_slash("b", SlashingReason.ConsensusFault, now=12)
    assert rebuilt.get_state_root() != ledger.get_state_root()  # independent of its source
