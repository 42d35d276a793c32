"""The tamper matrix (docs/proofs.md#tests-and-vectors): every circuit × profile ≥ sim.

Any single flipped byte in any section of the proof bytes gives a ProofFormatError or a
rejection; so do changed public inputs, a proof presented as another circuit, and
duplicated, unsorted, out-of-range or missing query openings.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from rppsim.prover import Proof, ProofFormatError, Reason
from rppsim.prover.airs import get_air
from rppsim.prover.params import PROFILES
from rppsim.prover.proof import proof_sections
from rppsim.prover.protocol import public_digest
from rppsim.prover.verifier import check_proof

from .conftest import CHAIN_AIRS, cached_proof

PROFILES_UNDER_TEST = ("sim", "standard", "chain-parity")
MATRIX = [(c, p) for c in (*CHAIN_AIRS, "bench16") for p in PROFILES_UNDER_TEST]


def _is_rejected(data: bytes) -> bool:
    """True when the bytes do not parse, or parse to a proof that does not verify."""
    try:
        proof = Proof.from_bytes(data)
    except ProofFormatError:
        return True
    return check_proof(proof) is not Reason.ACCEPTED


def _sample_offsets(start: int, end: int, rng: random.Random) -> list[int]:
    """First, last, middle and two random bytes of a section."""
    picks = {start, end - 1, (start + end) // 2}
    picks.update(rng.randrange(start, end) for _ in range(2))
    return sorted(picks)


@pytest.mark.parametrize(("circuit", "profile"), MATRIX)
def test_byte_flips_in_every_section_are_rejected(circuit, profile):
    """A flipped bit at sampled offsets of every named section never verifies."""
    proof = cached_proof(circuit, profile, 5)
    data = proof.to_bytes()
    assert check_proof(proof) is Reason.ACCEPTED
    rng = random.Random(f"{circuit}/{profile}")
    for name, start, end in proof_sections(data):
        for offset in _sample_offsets(start, end, rng):
            flipped = bytearray(data)
            flipped[offset] ^= 1 << rng.randrange(8)
            assert _is_rejected(bytes(flipped)), f"{name} byte {offset} accepted"


@pytest.mark.parametrize(("circuit", "profile"), MATRIX)
def test_changed_public_inputs_are_rejected(circuit, profile):
    """Each public field changed, with or without a recomputed public digest: False."""
    proof = cached_proof(circuit, profile, 5)
    air = get_air(circuit)
    pi = proof.public_inputs
    for name, kind in type(pi).LAYOUT:
        value = getattr(pi, name)
        if kind == "u64":
            changed = value + 1
        elif kind == "b32":
            changed = bytes([value[0] ^ 1]) + value[1:]
        else:
            changed = ((value[0] + 1) % 2013265921, *value[1:])
        new_pi = dataclasses.replace(pi, **{name: changed})
        tampered = dataclasses.replace(proof, public_inputs=new_pi)
        assert check_proof(tampered) is not Reason.ACCEPTED, name
        digest = public_digest(air, new_pi.to_bytes())
        rebound = dataclasses.replace(
            tampered, body=dataclasses.replace(proof.body, public_digest=digest)
        )
        assert check_proof(rebound) is not Reason.ACCEPTED, name


@pytest.mark.parametrize("profile", PROFILES_UNDER_TEST)
def test_proof_presented_as_another_circuit_is_rejected(profile):
    """Asked for another circuit, relabelled, or checked against an AIR with another id."""
    proof = cached_proof("uptime", profile, 5)
    assert check_proof(proof, circuit="transaction") is Reason.CIRCUIT_MISMATCH
    relabelled = dataclasses.replace(proof, circuit="consensus")
    assert check_proof(relabelled) is not Reason.ACCEPTED
    twin = dataclasses.replace(get_air("uptime"), name="uptime-twin", circuit_id=99)
    assert check_proof(proof, air=twin) is not Reason.ACCEPTED
    data = proof.to_bytes()
    renamed = data[:18] + bytes([len("consensus")]) + b"consensus" + data[18 + 1 + len("uptime") :]
    assert _is_rejected(renamed)


def _with_body(proof: Proof, **changes: object) -> Proof:
    return dataclasses.replace(proof, body=dataclasses.replace(proof.body, **changes))


@pytest.mark.parametrize(("circuit", "profile"), MATRIX)
def test_bad_query_openings_are_rejected(circuit, profile):
    """Duplicated, unsorted, out-of-range, missing or swapped openings: specific reasons."""
    proof = cached_proof(circuit, profile, 5)
    body = proof.body
    idx = list(body.query_indices)
    size = 1 << (body.rows_log2 + proof.params.log_blowup)
    duplicate = _with_body(proof, query_indices=(idx[0], idx[0], *idx[2:]))
    assert check_proof(duplicate) is Reason.INDICES_DUPLICATE
    unsorted = _with_body(proof, query_indices=(idx[1], idx[0], *idx[2:]))
    assert check_proof(unsorted) is Reason.INDICES_NOT_SORTED
    out_of_range = _with_body(proof, query_indices=(*idx[:-1], size))
    assert check_proof(out_of_range) is Reason.INDICES_OUT_OF_RANGE
    shifted = _with_body(proof, query_indices=(*idx[:-1], (idx[-1] + 1) % size))
    assert check_proof(shifted) is not Reason.ACCEPTED
    t = body.trace_openings
    other = next(j for j, leaf in enumerate(t.leaves) if leaf != t.leaves[0])
    leaves = list(t.leaves)
    leaves[other] = t.leaves[0]  # one query's opening answered with another's
    copied = dataclasses.replace(t, leaves=tuple(leaves))
    assert check_proof(_with_body(proof, trace_openings=copied)) is Reason.MERKLE_VERIFY_FAILED
    fewer = dataclasses.replace(t, leaves=t.leaves[1:], paths=t.paths[1:])
    assert check_proof(_with_body(proof, trace_openings=fewer)) is Reason.SHAPE_MISMATCH
    missing = _with_body(proof, query_indices=tuple(idx[1:]))
    assert check_proof(missing) is not Reason.ACCEPTED


@pytest.mark.parametrize("profile", PROFILES_UNDER_TEST)
def test_nonce_params_and_version_tampering(profile):
    """Another nonce, another profile's params, another version: rejected."""
    proof = cached_proof("consensus", profile, 5)
    assert check_proof(_with_body(proof, pow_nonce=proof.body.pow_nonce + 1)) is not Reason.ACCEPTED
    assert check_proof(_with_body(proof, version=2)) is Reason.VERSION_MISMATCH
    for other in PROFILES.values():
        if other != proof.params:
            swapped = dataclasses.replace(proof, params=other)
            assert check_proof(swapped) is Reason.PARAMS_HASH_MISMATCH
            rehashed = _with_body(swapped, params_hash=other.digest())
            assert check_proof(rehashed) is not Reason.ACCEPTED


@pytest.mark.slow
def test_every_byte_flip_of_one_proof_is_rejected():
    """Exhaustive: each byte of a small sim proof (bench16, 2^3 rows) flipped in turn."""
    data = cached_proof("bench16", "sim", 3).to_bytes()
    for offset in range(len(data)):
        flipped = bytearray(data)
        flipped[offset] ^= 0x80 >> (offset % 8)
        assert _is_rejected(bytes(flipped)), f"byte {offset} accepted"
