"""The chain's VRF input digests (docs/protocol.md#vrf-input): vectors and properties."""

from __future__ import annotations

import hashlib
import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.vrf_input import (
    GOLDILOCKS_P,
    MDS,
    ROUND_CONSTANTS,
    PoseidonVrfInput,
    _add_mod,
    _compute_poseidon_permutation_python,
    _hash_kernel,
    _mul_mod,
    _permute_lanes_kernel,
    _reduce_u128,
    compute_field_element,
    compute_poseidon_hash,
    compute_poseidon_permutation,
    compute_poseidon_permutation_spec,
    compute_stub_digest,
    compute_vrf_input_digest,
    derive_tier_seed,
)

P = GOLDILOCKS_P
U64 = 2**64 - 1
# Edge lanes: 0, 1, p − 1, p − 2, 2^63, 2^32 (= ε + 1) and two fixed values below p.
EDGE_VALUES = (0, 1, P - 1, P - 2, 2**63, 2**32, 0x0123456789ABCDEF, 0xFEDCBA9876543210 % P)
EDGE_U64 = (0, 1, 2**32 - 1, 2**32, 2**63, P - 1, P, P + 1, U64 - 1, U64)
u64s = st.one_of(st.sampled_from(EDGE_U64), st.integers(min_value=0, max_value=U64))
lanes = st.integers(min_value=0, max_value=P - 1)

VECTOR_INPUT = PoseidonVrfInput(
    last_block_header=bytes.fromhex("0123456789abcdef" * 4),
    epoch=7,
    tier_seed=bytes.fromhex("abcdef0123456789" * 4),
)

inputs = st.builds(
    PoseidonVrfInput,
    last_block_header=st.binary(min_size=32, max_size=32),
    epoch=st.integers(min_value=0, max_value=2**64 - 1),
    tier_seed=st.binary(min_size=32, max_size=32),
)


def test_poseidon_digest_matches_expected_vector():
    """Nightly Poseidon vector of docs/protocol.md#vrf-input (repo test
    poseidon_digest_matches_expected_vector)."""
    assert compute_vrf_input_digest(VECTOR_INPUT) == bytes(24) + bytes.fromhex("82814949c7cd6907")


def test_poseidon_digest_uncached_matches_vector():
    """The same vector through the uncached function (the LRU must not hide a wrong result)."""
    digest = compute_vrf_input_digest.__wrapped__(VECTOR_INPUT)
    assert digest.hex() == "0" * 48 + "82814949c7cd6907"


def test_stub_digest_matches_vector():
    """Default-build SHA-256 stub for the same input (docs/protocol.md#vrf-input)."""
    assert compute_stub_digest(VECTOR_INPUT).hex() == (
        "872e47e63b6e761eb8652b0145ae169f94c84ea646418def0bf95802c7703df2"
    )


def test_derive_tier_seed_vector():
    assert derive_tier_seed("addr", 12).hex() == (
        "fbcd7861f2ea93d3a6d46b213e724b9b847321c4cf58d767b2e932d50d6cc841"
    )


def test_derive_tier_seed_decodes_hex_addresses():
    """A 64-hex-digit address contributes its 32 decoded bytes (either case), others their
    BLAKE2s; the two paths give different seeds for the same string."""
    address = hashlib.blake2s(b"validator").hexdigest()
    decoded = hashlib.blake2s(
        b"chain.vrf.tier_seed" + bytes.fromhex(address) + (24).to_bytes(8, "big")
    ).digest()
    assert derive_tier_seed(address, 24) == decoded
    assert derive_tier_seed(address.upper(), 24) == decoded
    not_hex = "g" + address[1:]
    hashed = hashlib.blake2s(not_hex.encode()).digest()
    assert (
        derive_tier_seed(not_hex, 24)
        == hashlib.blake2s(b"chain.vrf.tier_seed" + hashed + (24).to_bytes(8, "big")).digest()
    )
    assert derive_tier_seed(address[:63], 24) != derive_tier_seed(address, 24)
    assert derive_tier_seed("addr", 12) != derive_tier_seed("addr", 13)


@pytest.mark.parametrize("hours", [-1, 2**64])
def test_derive_tier_seed_rejects_hours_outside_u64(hours: int):
    with pytest.raises(ValueError):
        derive_tier_seed("addr", hours)


def test_field_element_is_big_endian_mod_p():
    assert compute_field_element(GOLDILOCKS_P.to_bytes(8, "big")) == 0
    assert compute_field_element(b"\xff" * 8) == 2**32 - 2
    assert compute_field_element(b"\x01\x00") == 256
    assert compute_field_element(b"") == 0


def test_constants_shape():
    """65 rounds of 3 constants, a 3×3 MDS, all reduced mod p; the MDS is invertible."""
    assert len(ROUND_CONSTANTS) == 65
    assert all(len(row) == 3 and all(0 <= c < GOLDILOCKS_P for c in row) for row in ROUND_CONSTANTS)
    assert len(MDS) == 3 and all(len(row) == 3 for row in MDS)
    (a, b, c), (d, e, f), (g, h, i) = MDS
    assert (a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)) % GOLDILOCKS_P


@settings(max_examples=100)
@given(a=u64s, b=u64s)
def test_mul_mod_matches_python(a: int, b: int):
    """The 32-bit-halves product and Goldilocks reduction equal (a·b) mod p for any u64
    inputs, and for the same inputs reduced first."""
    assert _mul_mod(np.uint64(a), np.uint64(b)) == a * b % P
    assert _mul_mod(np.uint64(a % P), np.uint64(b % P)) == a * b % P


@settings(max_examples=100)
@given(hi=u64s, lo=u64s)
def test_reduce_u128_matches_python(hi: int, lo: int):
    """hi·2^64 + lo mod p, canonical, across the borrow and carry corrections."""
    assert _reduce_u128(np.uint64(hi), np.uint64(lo)) == (hi << 64 | lo) % P


@settings(max_examples=100)
@given(
    a=st.one_of(st.sampled_from(EDGE_VALUES), lanes),
    b=st.one_of(st.sampled_from(EDGE_VALUES), lanes),
)
def test_add_mod_matches_python(a: int, b: int):
    assert _add_mod(np.uint64(a), np.uint64(b)) == (a + b) % P


def test_permutation_on_edge_lanes_equals_spec():
    """The numba permutation equals the spec one and the pure-Python sparse one on every
    state made of edge lanes."""
    for state in itertools.product(EDGE_VALUES, repeat=3):
        expected = compute_poseidon_permutation_spec(state)
        assert compute_poseidon_permutation(state) == expected, state
        assert _compute_poseidon_permutation_python(state) == expected, state


@settings(max_examples=100)
@given(state=st.tuples(lanes, lanes, lanes))
def test_fast_permutation_equals_spec_permutation(state: tuple[int, int, int]):
    """Sparse partial rounds (numba and pure Python) give exactly the spec's permutation."""
    expected = compute_poseidon_permutation_spec(state)
    assert compute_poseidon_permutation(state) == expected
    assert _compute_poseidon_permutation_python(state) == expected


def test_permutation_reduces_unreduced_lanes():
    """Lanes ≥ p (and negative ones) enter as their residues, as in the spec permutation."""
    state = (P, P + 5, U64)
    assert compute_poseidon_permutation(state) == compute_poseidon_permutation_spec(state)
    assert compute_poseidon_permutation((-1, 0, 2**70)) == compute_poseidon_permutation(
        (P - 1, 0, 2**70 % P)
    )


def _spec_sponge(elements: list[int]) -> int:
    """The sponge exactly as docs/protocol.md#vrf-input words it, over the spec permutation."""
    state, pos = [0, 0, 0], 0
    for element in elements:
        state[pos] = (state[pos] + element) % P
        pos += 1
        if pos == 2:
            state, pos = list(compute_poseidon_permutation_spec(state)), 0
    if pos == 2:
        state, pos = list(compute_poseidon_permutation_spec(state)), 0
    state[pos] = (state[pos] + 1) % P
    return compute_poseidon_permutation_spec(state)[0]


@settings(max_examples=50)
@given(elements=st.lists(u64s, max_size=5))
def test_poseidon_hash_equals_spec_sponge(elements: list[int]):
    """One numba sponge call equals docs/protocol.md#vrf-input's sponge for 0-5 elements, odd and
    even counts."""
    assert compute_poseidon_hash(elements) == _spec_sponge(elements)


def test_kernels_compile_one_signature():
    """Every call reaches the kernels as uint64 arrays: one compiled specialization each."""
    compute_poseidon_permutation((0, 2**63, P - 1))
    compute_poseidon_permutation((1, 2, 3))
    compute_poseidon_hash([])
    compute_poseidon_hash([1, U64, 2**63])
    assert len(_permute_lanes_kernel.signatures) == 1
    assert len(_hash_kernel.signatures) == 1


def test_import_is_lazy_and_thread_count_independent():
    """Importing compiles nothing; with one numba thread the vector is unchanged."""
    code = (
        "import rppsim.node.vrf_input as v\n"
        "print(len(v._hash_kernel.signatures), len(v._permute_lanes_kernel.signatures))\n"
        "inp = v.PoseidonVrfInput(bytes.fromhex('0123456789abcdef' * 4), 7,"
        " bytes.fromhex('abcdef0123456789' * 4))\n"
        "print(v.compute_vrf_input_digest(inp).hex())\n"
    )
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["0", "0", "0" * 48 + "82814949c7cd6907"]


@settings(max_examples=50)
@given(inp=inputs)
def test_digests_are_deterministic_32_bytes(inp: PoseidonVrfInput):
    digest = compute_vrf_input_digest.__wrapped__(inp)
    assert len(digest) == 32 and digest[:24] == bytes(24)
    assert compute_vrf_input_digest.__wrapped__(inp) == digest == compute_vrf_input_digest(inp)
    assert len(compute_stub_digest(inp)) == 32
    assert compute_stub_digest(inp) == compute_stub_digest(inp)


@settings(max_examples=50)
@given(a=inputs, b=inputs)
def test_digests_are_input_sensitive(a: PoseidonVrfInput, b: PoseidonVrfInput):
    """Different inputs give different digests (a collision would be a 2^-64 event here)."""
    same_elements = [compute_field_element(x) for x in a.elements()] == [
        compute_field_element(x) for x in b.elements()
    ]
    if a != b and not same_elements:
        assert compute_vrf_input_digest(a) != compute_vrf_input_digest(b)
    if a != b:
        assert compute_stub_digest(a) != compute_stub_digest(b)


@pytest.mark.parametrize("field", ["last_block_header", "epoch", "tier_seed"])
def test_each_field_changes_the_digest(field: str):
    changed = {
        "last_block_header": bytes(32),
        "epoch": 8,
        "tier_seed": bytes(32),
    }
    other = PoseidonVrfInput(
        **{
            "last_block_header": VECTOR_INPUT.last_block_header,
            "epoch": VECTOR_INPUT.epoch,
            "tier_seed": VECTOR_INPUT.tier_seed,
            field: changed[field],
        }
    )
    assert compute_vrf_input_digest(other) != compute_vrf_input_digest(VECTOR_INPUT)
    assert compute_stub_digest(other) != compute_stub_digest(VECTOR_INPUT)


@settings(max_examples=25)
@given(inp=inputs)
def test_canonical_bytes_round_trip(inp: PoseidonVrfInput):
    data = inp.to_bytes()
    assert len(data) == 72
    assert PoseidonVrfInput.from_bytes(data) == inp


@pytest.mark.parametrize(
    ("header", "epoch", "seed"),
    [
        (bytes(31), 0, bytes(32)),
        (bytes(32), 0, bytes(33)),
        (bytes(32), -1, bytes(32)),
        (bytes(32), 2**64, bytes(32)),
        ("00" * 32, 0, bytes(32)),
    ],
)
def test_input_rejects_malformed_fields(header: object, epoch: int, seed: bytes):
    with pytest.raises(ValueError):
        PoseidonVrfInput(header, epoch, seed)  # type: ignore[arg-type]


def test_from_bytes_rejects_wrong_length():
    with pytest.raises(ValueError):
        PoseidonVrfInput.from_bytes(bytes(71))
