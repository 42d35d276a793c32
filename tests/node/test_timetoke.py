"""Timetoke accrual, decay, sync and merge (docs/protocol.md#timetoke; vectors of
docs/protocol.md#test-vectors items 2, 3, 10)."""

import hashlib
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from rppsim.node.timetoke import (
    TimetokeBalance,
    TimetokeParams,
    TimetokeRecord,
    compute_merge_problem,
    compute_timetoke_record,
    compute_timetoke_record_bytes,
    compute_timetoke_root,
    compute_uptime_cadence_secs,
    compute_uptime_commitment,
    is_sync_due,
    process_debit,
    process_decay,
    process_mark_synced,
    process_merge,
    process_record_proof,
    validate_params,
)

DEFAULT = TimetokeParams()


def test_accrual_trims_overlap_and_rejects_replay():
    balance, credited = process_record_proof(TimetokeBalance(), DEFAULT, 0, 7200)
    assert (credited, balance.hours_online) == (2, 2)
    balance, credited = process_record_proof(balance, DEFAULT, 3600, 10800)
    assert (credited, balance.hours_online) == (1, 3)
    again, credited = process_record_proof(balance, DEFAULT, 0, 7200)
    assert credited is None
    assert again == balance


def test_first_credit_sets_last_decay_and_later_ones_keep_it():
    balance, _ = process_record_proof(TimetokeBalance(), DEFAULT, 0, 7200)
    assert (balance.last_proof_timestamp, balance.last_decay_timestamp) == (7200, 7200)
    balance, _ = process_record_proof(balance, DEFAULT, 7200, 14400)
    assert (balance.last_proof_timestamp, balance.last_decay_timestamp) == (14400, 7200)


def test_accrual_cap_then_zero():
    params = replace(DEFAULT, accrual_cap_hours=5)
    balance, credited = process_record_proof(TimetokeBalance(), params, 0, 21600)
    assert (credited, balance.hours_online) == (5, 5)
    balance, credited = process_record_proof(balance, params, 21600, 28800)
    assert (credited, balance.hours_online) == (0, 5)
    assert balance.last_proof_timestamp == 28800


def test_window_shorter_than_minimum_or_reversed_credits_nothing():
    assert process_record_proof(TimetokeBalance(), DEFAULT, 0, 3599)[1] is None
    assert process_record_proof(TimetokeBalance(), DEFAULT, 100, 100)[1] is None
    assert process_record_proof(TimetokeBalance(), DEFAULT, 200, 100)[1] is None


def test_decay_consumes_multiple_intervals():
    balance = TimetokeBalance(10, 3600, 3600, None)
    params = replace(DEFAULT, decay_interval_secs=3600, decay_step_hours=2)
    balance, removed = process_decay(balance, params, 14400)
    assert (removed, balance.hours_online, balance.last_decay_timestamp) == (6, 4, 14400)


def test_first_decay_only_initialises():
    balance, removed = process_decay(TimetokeBalance(hours_online=5), DEFAULT, 1000)
    assert removed is None
    assert (balance.hours_online, balance.last_decay_timestamp) == (5, 1000)


def test_decay_is_bounded_by_the_balance_and_forfeits_partial_intervals():
    balance = TimetokeBalance(1, None, 0, None)
    balance, removed = process_decay(balance, DEFAULT, 3 * 86400 + 500)
    assert (removed, balance.hours_online, balance.last_decay_timestamp) == (1, 0, 259700)
    balance, removed = process_decay(balance, DEFAULT, 259700 + 86399)
    assert removed is None
    assert balance.last_decay_timestamp == 259700


def test_should_sync_toggles():
    balance = TimetokeBalance()
    assert not is_sync_due(balance, DEFAULT, 0)
    balance = replace(balance, hours_online=1)
    assert is_sync_due(balance, DEFAULT, 0)
    balance = process_mark_synced(balance, 100)
    assert not is_sync_due(balance, DEFAULT, 100)
    assert not is_sync_due(balance, DEFAULT, 100 + DEFAULT.sync_interval_secs - 1)
    assert is_sync_due(balance, DEFAULT, 100 + DEFAULT.sync_interval_secs)
    assert not is_sync_due(balance, replace(DEFAULT, sync_interval_secs=0), 1000)


def test_zero_parameters_short_circuit():
    assert (
        process_record_proof(TimetokeBalance(), replace(DEFAULT, minimum_window_secs=0), 0, 3600)[1]
        is None
    )
    assert (
        process_record_proof(TimetokeBalance(), replace(DEFAULT, accrual_cap_hours=0), 0, 7200)[1]
        is None
    )
    balance = TimetokeBalance(hours_online=5, last_decay_timestamp=1)
    assert process_decay(balance, replace(DEFAULT, decay_interval_secs=0), 10) == (balance, None)
    no_step = replace(DEFAULT, decay_interval_secs=100, decay_step_hours=0)
    assert process_decay(balance, no_step, 200) == (balance, None)


def test_uptime_windows_from_the_ledger_vectors():
    balance, credited = process_record_proof(TimetokeBalance(), DEFAULT, 3600, 10800)
    assert credited == 2
    balance, _ = process_record_proof(TimetokeBalance(), DEFAULT, 0, 3600)
    balance, credited = process_record_proof(balance, DEFAULT, 1800, 10800)
    assert (credited, balance.hours_online) == (2, 3)
    assert process_record_proof(balance, DEFAULT, 1800, 10800)[1] is None


def test_tier3_start_plus_six_hour_window():
    start = TimetokeBalance(hours_online=72, last_proof_timestamp=1000)
    balance, credited = process_record_proof(start, DEFAULT, 1000, 1000 + 6 * 3600)
    assert (credited, balance.hours_online) == (6, 78)


def test_merge_adopts_newer_remote_balance():
    local = TimetokeBalance(hours_online=2, last_proof_timestamp=500)
    remote = TimetokeRecord("addr", 8, last_update=1000, last_sync=1200, last_decay=900)
    merged, changed = process_merge(local, remote)
    assert changed
    assert merged == TimetokeBalance(8, 1000, 900, 1200)


def test_merge_equal_update_takes_the_higher_balance_only():
    local = TimetokeBalance(hours_online=5, last_proof_timestamp=1000, last_sync_timestamp=50)
    lower = TimetokeRecord("addr", 3, last_update=1000, last_sync=10)
    assert process_merge(local, lower) == (local, False)
    higher = TimetokeRecord("addr", 9, last_update=1000)
    assert process_merge(local, higher)[0].hours_online == 9
    assert process_merge(local, TimetokeRecord("addr", 99, last_update=999))[0] == local


def test_merge_ignores_negative_fields():
    local = TimetokeBalance(hours_online=5)
    assert process_merge(local, TimetokeRecord("addr", -1, last_update=10)) == (local, False)


def test_bounded_merge_accepts_what_the_node_could_have_observed():
    local = TimetokeBalance(24, last_proof_timestamp=10_000, last_decay_timestamp=10_000)
    now = 10_000 + 3 * 3600 + 59  # three whole hours since the last credited proof
    assert (
        compute_merge_problem(local, TimetokeRecord("a", 27, last_update=now), DEFAULT, now) is None
    )
    assert (
        compute_merge_problem(local, TimetokeRecord("a", 24, last_update=9_000), DEFAULT, now)
        is None
    )


def test_bounded_merge_refuses_inflation_the_future_and_undue_decay():
    local = TimetokeBalance(24, last_proof_timestamp=10_000, last_decay_timestamp=10_000)
    now = 10_000 + 3 * 3600
    problem = compute_merge_problem(local, TimetokeRecord("a", 28, last_update=now), DEFAULT, now)
    assert problem == "hours above the observed uptime"
    forged = TimetokeRecord("a", 720, last_update=now)
    assert compute_merge_problem(local, forged, DEFAULT, now) == "hours above the observed uptime"
    future = TimetokeRecord("a", 24, last_update=now + 1)
    assert compute_merge_problem(local, future, DEFAULT, now) == "record updated in the future"
    lower = TimetokeRecord("a", 23, last_update=now)
    assert compute_merge_problem(local, lower, DEFAULT, now) == "hours below the observed decay"
    a_day_later = now + DEFAULT.decay_interval_secs
    assert compute_merge_problem(local, lower, DEFAULT, a_day_later) is None


def test_bounded_merge_without_a_proof_allows_no_increase():
    local = TimetokeBalance(24)  # a genesis balance: no credited proof, no decay yet
    record = TimetokeRecord("a", 25, last_update=5)
    assert compute_merge_problem(local, record, DEFAULT, 10**9) == "hours above the observed uptime"


@settings(max_examples=200)
@given(
    hours=st.integers(0, 720),
    last_proof=st.one_of(st.none(), st.integers(1, 10**6)),
    remote_hours=st.integers(0, 2000),
    last_update=st.integers(0, 2 * 10**6),
    elapsed=st.integers(0, 10**6),
)
def test_a_bounded_merge_never_credits_more_than_elapsed_hours(
    hours, last_proof, remote_hours, last_update, elapsed
):
    local = TimetokeBalance(hours, last_proof_timestamp=last_proof)
    now = (last_proof or 0) + elapsed
    remote = TimetokeRecord("a", remote_hours, last_update=last_update)
    if compute_merge_problem(local, remote, DEFAULT, now) is None:
        merged, _ = process_merge(local, remote)
        earnable = 0 if last_proof is None else elapsed // 3600
        assert merged.hours_online <= max(hours, min(hours + earnable, DEFAULT.accrual_cap_hours))
        assert remote.last_update <= now


def test_debit_is_bounded():
    balance, removed = process_debit(TimetokeBalance(hours_online=3), 10)
    assert (removed, balance.hours_online) == (3, 0)


def test_uptime_commitment_layout():
    expected = hashlib.blake2s(
        b"addr" + (3600).to_bytes(8, "big") + (7200).to_bytes(8, "big")
    ).hexdigest()
    assert compute_uptime_commitment("addr", 3600, 7200) == expected


def test_record_json_matches_serde_layout():
    record = compute_timetoke_record("abc", TimetokeBalance(8, 1000, None, 1200))
    assert compute_timetoke_record_bytes(record) == (
        b'{"identity":"abc","balance":8,"epoch_accrual":0,"decay_rate":1.0,'
        b'"last_update":1000,"last_sync":1200,"last_decay":0}'
    )
    leaf = hashlib.blake2s(compute_timetoke_record_bytes(record)).digest()
    assert compute_timetoke_root([record]) == leaf


def test_params_validation_and_cadence():
    assert validate_params(DEFAULT) is None
    assert "decay_step_hours" in validate_params(replace(DEFAULT, decay_step_hours=0))
    assert "sync_interval_secs" in validate_params(replace(DEFAULT, sync_interval_secs=1.5))
    assert compute_uptime_cadence_secs(DEFAULT) == 600
    assert compute_uptime_cadence_secs(replace(DEFAULT, sync_interval_secs=60)) == 600
    assert compute_uptime_cadence_secs(replace(DEFAULT, sync_interval_secs=900)) == 900


CAP = 48
PARAMS = TimetokeParams(
    minimum_window_secs=3600,
    accrual_cap_hours=CAP,
    decay_interval_secs=7200,
    decay_step_hours=3,
    sync_interval_secs=600,
)


class TimetokeMachine(RuleBasedStateMachine):
    """Any sequence of proofs, decays and (honest) merges keeps 0 ≤ hours ≤ cap."""

    def __init__(self) -> None:
        super().__init__()
        self.balance = TimetokeBalance()
        self.now = 0

    @rule(advance=st.integers(0, 30 * 3600), length=st.integers(0, 40 * 3600))
    def record_proof(self, advance: int, length: int) -> None:
        self.now += advance
        before = self.balance
        self.balance, credited = process_record_proof(
            self.balance, PARAMS, max(self.now - length, 0), self.now
        )
        if credited is None:
            assert self.balance == before
        else:
            assert self.balance.hours_online == before.hours_online + credited

    @rule(advance=st.integers(0, 10 * 7200))
    def decay(self, advance: int) -> None:
        self.now += advance
        before = self.balance.hours_online
        self.balance, removed = process_decay(self.balance, PARAMS, self.now)
        assert self.balance.hours_online == before - (removed or 0)

    @rule(hours=st.integers(0, CAP), back=st.integers(-3600, 3600))
    def merge(self, hours: int, back: int) -> None:
        record = TimetokeRecord("peer", hours, last_update=max(self.now + back, 0))
        self.balance, _ = process_merge(self.balance, record)

    @invariant()
    def within_bounds(self) -> None:
        assert 0 <= self.balance.hours_online <= CAP


TimetokeMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30)
TestTimetokeMachine = TimetokeMachine.TestCase
