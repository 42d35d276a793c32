"""Canonical proof bytes: round trip, digest, named sections, and ProofFormatError only."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.prover import Proof, ProofFormatError
from rppsim.prover.proof import proof_sections, read_envelope_header

from .conftest import ALL_AIRS, cached_proof


@pytest.mark.parametrize("circuit", ALL_AIRS)
def test_round_trip_is_canonical(circuit):
    """from_bytes(to_bytes(p)) == p and re-encodes to the same bytes; digest is BLAKE2s."""
    proof = cached_proof(circuit, "sim", 5)
    data = proof.to_bytes()
    again = Proof.from_bytes(data)
    assert again == proof
    assert again.to_bytes() == data
    assert proof.digest() == hashlib.blake2s(data).digest()
    assert proof.size_bytes == len(data)
    assert read_envelope_header(data) == ("numba-stark", circuit)


def test_sections_tile_the_bytes():
    """The named sections are contiguous and cover every byte exactly once."""
    data = cached_proof("uptime", "standard", 7).to_bytes()
    sections = proof_sections(data)
    names = [name for name, _, _ in sections]
    for expected in ("header", "params", "public_inputs", "trace_openings", "fri_openings_0"):
        assert expected in names
    assert sections[0][1] == 0
    assert all(a[2] == b[1] for a, b in itertools.pairwise(sections))
    assert sections[-1][2] == len(data)


def test_truncated_or_extended_bytes_are_format_errors():
    """Cutting at any section boundary, or appending a byte, is a ProofFormatError."""
    data = cached_proof("consensus", "sim", 5).to_bytes()
    for _, start, end in proof_sections(data):
        for cut in (start, end - 1):
            with pytest.raises(ProofFormatError):
                Proof.from_bytes(data[:cut])
    with pytest.raises(ProofFormatError):
        Proof.from_bytes(data + b"\x00")


def test_envelope_errors():
    """Bad magic, another system, an unknown circuit, non-bytes: ProofFormatError."""
    data = cached_proof("uptime", "sim", 5).to_bytes()
    with pytest.raises(ProofFormatError):
        Proof.from_bytes(b"XXXX" + data[4:])
    stwo = data[:6] + bytes([4]) + b"stwo" + data[6 + 1 + len("numba-stark") :]
    with pytest.raises(ProofFormatError, match="not numba-stark"):
        Proof.from_bytes(stwo)
    other = data[:18] + bytes([6]) + b"nocirc" + data[18 + 1 + len("uptime") :]
    with pytest.raises(ProofFormatError, match="unknown circuit"):
        Proof.from_bytes(other)
    with pytest.raises(ProofFormatError):
        Proof.from_bytes("text")  # type: ignore[arg-type]


def test_non_canonical_field_elements_are_rejected():
    """A felt ≥ p in any opened leaf is a ProofFormatError, not a different value."""
    data = bytearray(cached_proof("bench16", "sim", 5).to_bytes())
    start = dict((name, (s, e)) for name, s, e in proof_sections(bytes(data)))["trace_openings"][0]
    leaf = start + 4 + 1 + 4  # width, depth, count
    data[leaf : leaf + 4] = (2013265921).to_bytes(4, "little")
    with pytest.raises(ProofFormatError, match="non-canonical"):
        Proof.from_bytes(bytes(data))


@settings(max_examples=60)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_format_errors(blob):
    """Random bytes never raise anything but ProofFormatError."""
    with pytest.raises(ProofFormatError):
        Proof.from_bytes(blob)


@settings(max_examples=60)
@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_random_corruption_raises_only_format_errors(position, xor):
    """One corrupted byte: either a ProofFormatError or a parsed (different) proof."""
    data = bytearray(cached_proof("uptime", "sim", 5).to_bytes())
    data[position % len(data)] ^= xor
    try:
        proof = Proof.from_bytes(bytes(data))
    except ProofFormatError:
        return
    assert proof.to_bytes() == bytes(data)
