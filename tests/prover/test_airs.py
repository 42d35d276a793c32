"""AIRs: the numba kernel equals the Python evaluator, honest traces satisfy every constraint,
every column is constrained, the declared degrees hold, public inputs encode canonically."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rppsim.prover.airs import AIRS, consensus, get_air, recursive, synthetic, transaction, uptime
from rppsim.prover.errors import ProofFormatError, WitnessError
from rppsim.prover.examples import example_statement
from rppsim.prover.fast import composition as fast_comp
from rppsim.prover.fast.backend import FastBackend
from rppsim.prover.reference import composition as ref_comp
from rppsim.prover.reference.backend import ReferenceBackend
from rppsim.prover.reference.domain import next_positions
from rppsim.prover.reference.field import Ext, P
from rppsim.prover.reference.ntt import coset_interpolate
from rppsim.prover.reference.periodic import periodic_lde
from rppsim.prover.stark import check_trace

from .conftest import ALL_AIRS


@pytest.mark.parametrize("name", ALL_AIRS)
def test_kernel_equals_python_evaluator(name):
    """On random rows and constants, both codings give the same constraint values."""
    air = get_air(name)
    rng = np.random.default_rng(len(name))
    n = 64
    trace = rng.integers(0, P, size=(air.width, n)).astype(np.uint64)
    nx = rng.integers(0, n, size=n).astype(np.int64)
    pi, _ = example_statement(name, air.min_rows_log2 + 1, seed=2)
    consts = tuple(int(v) for v in rng.integers(0, P, size=len(air.public_constants(pi))))
    periodic = rng.integers(0, P, size=(air.periodic_table.shape[0], n)).astype(np.uint64)
    fast = FastBackend().constraint_values(air, trace, periodic, nx, consts, n)
    reference = ReferenceBackend().constraint_values(air, trace, periodic, nx, consts, n)
    assert fast.shape == (len(air.constraints), n)
    assert (fast == reference).all()


@pytest.mark.parametrize("name", ALL_AIRS)
@pytest.mark.parametrize("backend", [FastBackend(), ReferenceBackend()], ids=["fast", "reference"])
def test_example_traces_satisfy_their_air(name, backend):
    """An honest example trace passes the prover's self-check."""
    air = get_air(name)
    for rows_log2 in (air.min_rows_log2, 6):
        pi, witness = example_statement(name, rows_log2, seed=rows_log2)
        assert air.is_valid_public_inputs(pi)
        trace = air.build_trace(pi, witness, rows_log2)
        assert trace.shape == (air.width, 1 << rows_log2)
        check_trace(air, trace, air.public_constants(pi), backend)


@pytest.mark.parametrize("name", ALL_AIRS)
def test_every_column_is_constrained(name):
    """Changing any single cell of an honest trace breaks some constraint."""
    air = get_air(name)
    pi, witness = example_statement(name, 6, seed=4)
    trace = air.build_trace(pi, witness, 6)
    consts = air.public_constants(pi)
    for column in range(air.width):
        for row in (0, 31, 63):
            bad = trace.copy()
            bad[column, row] = (int(bad[column, row]) + 1) % P
            with pytest.raises(WitnessError):
                check_trace(air, bad, consts, FastBackend())


@pytest.mark.parametrize("name", ALL_AIRS)
def test_declared_degrees_bound_the_composition(name):
    """H computed on the whole LDE of an honest trace has degree < Q·n (Q from the degrees)."""
    air = get_air(name)
    rows_log2, log_blowup = 5, 2
    n, size = 1 << rows_log2, 1 << rows_log2 + log_blowup
    pi, witness = example_statement(name, rows_log2, seed=1)
    backend = FastBackend()
    lde = backend.coset_lde(
        backend.interpolate(air.build_trace(pi, witness, rows_log2)), log_blowup
    )
    periodic = periodic_lde(air.periodic_table, rows_log2, log_blowup, size)
    values = fast_comp.constraint_values(
        air, lde, periodic, next_positions(rows_log2, log_blowup), air.public_constants(pi), size
    )
    inv_z = fast_comp.zerofier_inverses(air, rows_log2, log_blowup, size)
    h = ref_comp.combine(values, Ext(3, 1, 4, 1), air.domain_indices(n), inv_z)
    coeffs = coset_interpolate(h)
    assert not coeffs[:, air.num_chunks * n :].any()
    assert coeffs[:, : air.num_chunks * n].any()


def test_zerofier_inverses_agree():
    """Fast and reference zerofier inverses are the same arrays."""
    for name in ALL_AIRS:
        air = get_air(name)
        from rppsim.prover.reference.domain import coset_points

        count = air.num_chunks * 32
        ref = ref_comp.zerofier_inverses(air, 5, coset_points(7)[:count])
        assert (fast_comp.zerofier_inverses(air, 5, 2, count) == ref).all()


@pytest.mark.parametrize("name", ALL_AIRS)
def test_public_inputs_round_trip_and_strictness(name):
    """Canonical bytes round-trip; a byte more or less is a ProofFormatError."""
    air = get_air(name)
    pi, _ = example_statement(name, air.min_rows_log2, seed=3)
    data = pi.to_bytes()
    assert air.public_inputs_type.from_bytes(data) == pi
    for bad in (data[:-1], data + b"\x00"):
        with pytest.raises(ProofFormatError):
            air.public_inputs_type.from_bytes(bad)


def test_uptime_native_checks():
    """Window ≥ 3600 s, node clock ≥ end, epoch ≥ 1, credit ≤ cap, timestamps < p."""
    pi, _ = example_statement("uptime", 6, seed=1)
    assert uptime.is_valid_public_inputs(pi)
    for change in (
        {"window_end": pi.window_start + 3599},
        {"node_clock": pi.window_end - 1},
        {"epoch": 0},
        {"credited_hours": pi.cap_remaining_hours + 1},
        {"window_start": 0, "window_end": P, "node_clock": P},
        {"wallet": b"short"},
    ):
        assert not uptime.is_valid_public_inputs(dataclasses.replace(pi, **change))
    assert not uptime.is_valid_public_inputs("not a claim")


def test_uptime_window_statement_follows_the_chain_rule():
    """All online, heartbeats every 600 s: credit = min(⌊duration/3600⌋, cap)."""
    start = 1_700_000_000  # Unix time: timestamps are felts below p
    args = (bytes(32), bytes(32), 3, start, start + 3 * 3600 + 1799, start + 4 * 3600)
    pi, witness = uptime.make_window_statement(*args, cap_remaining_hours=720)
    assert pi.credited_hours == 3
    capped, _ = uptime.make_window_statement(*args, cap_remaining_hours=2)
    assert capped.credited_hours == 2
    air = get_air("uptime")
    for claim in (pi, capped):
        trace = air.build_trace(claim, witness, 5)
        check_trace(air, trace, air.public_constants(claim), FastBackend())


def test_uptime_overclaim_is_caught_by_the_self_check():
    """Claiming one hour more than the heartbeats earned breaks the remainder lane."""
    pi, witness = example_statement("uptime", 6, seed=2)
    air = get_air("uptime")
    greedy = dataclasses.replace(
        pi, credited_hours=pi.credited_hours + 1, cap_remaining_hours=pi.cap_remaining_hours + 2
    )
    with pytest.raises(WitnessError):
        check_trace(
            air, air.build_trace(greedy, witness, 6), air.public_constants(greedy), FastBackend()
        )


def test_transaction_overdraft_is_caught():
    """A transfer larger than the sender's balance cannot be range-checked."""
    transfers = [
        transaction.Transfer(amount=10, fee=1, sender_balance=5, receiver_balance=0, sender_nonce=0)
    ]
    pi, witness = transaction.make_statement(bytes(32), transfers)
    air = get_air("transaction")
    with pytest.raises(WitnessError, match="s_after"):
        check_trace(air, air.build_trace(pi, witness, 2), air.public_constants(pi), FastBackend())


def test_consensus_quorum_rules():
    """The [RT] quorum ⌈2T/3⌉+1; a certificate short of it cannot be proved."""
    assert consensus.quorum_threshold(0) == 0
    assert consensus.quorum_threshold(3) == 3
    assert consensus.quorum_threshold(1_442_000_000) == 961_333_335
    assert consensus.scale_weights([10, 5, 0]) == (consensus.MAX_WEIGHT, 8192, 0)
    air = get_air("consensus")
    weights = [100, 100, 100]
    pi, witness = consensus.make_statement(bytes(32), 1, 0, 1, weights, [1, 1, 1], [1, 1, 1])
    assert pi.quorum == 201
    check_trace(air, air.build_trace(pi, witness, 5), air.public_constants(pi), FastBackend())
    for votes in ([1, 1, 0], [1, 0, 0]):  # 200 and 100 < 201
        short, witness_short = consensus.make_statement(bytes(32), 1, 0, 1, weights, votes, votes)
        with pytest.raises(WitnessError):
            trace = air.build_trace(short, witness_short, 5)
            check_trace(air, trace, air.public_constants(short), FastBackend())
    bad_quorum = dataclasses.replace(pi, quorum=pi.quorum - 1)
    assert not consensus.is_valid_public_inputs(bad_quorum)


def test_bench16_is_deterministic_iteration():
    """The synthetic AIR's end state is the iterated lane map."""
    pi, _ = synthetic.make_statement(list(range(16)), 3)
    state = list(range(16))
    for _ in range(7):
        state = [(state[i] ** 3 + state[(i + 1) % 16] + i + 1) % P for i in range(16)]
    assert list(pi.end) == state


def test_registry_of_airs():
    """Circuit ids are distinct and every AIR names its columns."""
    ids = [air.circuit_id for air in AIRS.values()]
    assert len(set(ids)) == len(ids)
    for air in AIRS.values():
        assert len(set(air.columns)) == air.width
        assert air.num_chunks & (air.num_chunks - 1) == 0
    with pytest.raises(KeyError):
        get_air("nope")


def test_recursive_fold_matches_poseidon2():
    """The AIR's last row is the native Poseidon2 fold over the zero-padded digests."""
    from rppsim.prover.reference import poseidon2

    previous = list(range(1, 9))
    digests = [bytes([i]) * 32 for i in range(3)]
    pi, witness = recursive.make_statement(previous, digests, height=7)
    items = [poseidon2.digest_to_felts(d) for d in digests]
    assert pi.commitment == poseidon2.fold(previous, [*items, (0,) * 8])
    assert pi.proof_count == 3 and len(witness.items) == 3
    air = get_air("recursive")
    trace = air.build_trace(pi, witness, 7)
    check_trace(air, trace, air.public_constants(pi), FastBackend())
    wrong = dataclasses.replace(pi, commitment=(pi.commitment[0] + 1, *pi.commitment[1:]))
    with pytest.raises(WitnessError, match="commitment0"):
        check_trace(air, trace, air.public_constants(wrong), FastBackend())


@pytest.mark.parametrize("name", ALL_AIRS)
def test_example_statements_hold_for_many_seeds(name):
    """example_statement never builds a false statement (it feeds benchmarks and tests)."""
    air = get_air(name)
    rows_log2 = max(air.min_rows_log2, 5)
    for seed in range(40):
        pi, witness = example_statement(name, rows_log2, seed)
        trace = air.build_trace(pi, witness, rows_log2)
        check_trace(air, trace, air.public_constants(pi), FastBackend())
