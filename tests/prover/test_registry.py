"""The verifier registry and the size gate (docs/operations.md#proof-systems-and-the-size-gate)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.prover import ProofSystemKind, prove
from rppsim.prover.examples import example_statement
from rppsim.prover.params import PROFILES, StarkParams
from rppsim.prover.proof import MAGIC
from rppsim.prover.registry import RegistryConfigError, VerifierRegistry
from rppsim.prover.sizegate import (
    ProofSizeGateError,
    check_proof_size,
    kib_ceil,
    size_bucket,
)

from .conftest import cached_proof

KIB = 1024


def _envelope(system: str, circuit: str = "uptime", rest: bytes = b"") -> bytes:
    """An envelope header naming ``system``, followed by arbitrary bytes."""
    return (
        MAGIC
        + (1).to_bytes(2, "little")
        + bytes([len(system)])
        + system.encode()
        + bytes([len(circuit)])
        + circuit.encode()
        + rest
    )


def test_kinds_and_labels():
    """The chain's five kinds and labels, plus ours; Debug names as in chain messages."""
    labels = [kind.label for kind in ProofSystemKind]
    assert labels == ["stwo", "plonky3", "plonky2", "halo2", "rpp-stark", "numba-stark"]
    assert ProofSystemKind.RPP_STARK.debug_name == "RppStark"
    assert ProofSystemKind.NUMBA_STARK.debug_name == "NumbaStark"
    assert ProofSystemKind.from_label("halo2") is ProofSystemKind.HALO2
    assert ProofSystemKind.from_label("mock") is None
    registry = VerifierRegistry()
    assert registry.advertised_backends() == ["numba-stark"]
    assert registry.fingerprint() == "numba-stark"


def test_accepts_a_valid_proof_and_counts_it():
    """Bytes or object: accepted, digest and bucket reported, duration from the cost model."""
    proof = cached_proof("uptime", "sim", 5)
    registry = VerifierRegistry()
    verdict = registry.verify(proof.to_bytes())
    assert verdict.accepted and verdict.reason == "accepted" and verdict.message == ""
    assert verdict.digest == proof.digest()
    assert verdict.size_bucket == "le_512_kib"
    assert verdict.proof_bytes == proof.size_bytes
    assert verdict.duration_ms > 0
    assert registry.verify(proof).accepted
    assert registry.metrics() == {
        "numba-stark": {
            "accepted": 2,
            "rejected": 0,
            "bypassed": 0,
            "total_duration_ms": 2 * verdict.duration_ms,
        }
    }
    assert registry.last is not None and registry.last.accepted


@pytest.mark.parametrize(
    "kind", [k for k in ProofSystemKind if k is not ProofSystemKind.NUMBA_STARK]
)
def test_other_systems_are_unsupported_never_accepted(kind):
    """stwo, plonky3, plonky2, halo2, rpp-stark: the chain's unsupported-system error."""
    registry = VerifierRegistry()
    verdict = registry.verify(_envelope(kind.label, rest=b"\x00" * 64))
    assert not verdict.accepted
    assert verdict.reason == "unsupported_system"
    assert verdict.message == f"unsupported proof system {kind.label} in verifier registry"
    assert registry.metrics()[kind.label]["rejected"] == 1
    assert registry.metrics()[kind.label]["bypassed"] == 0


@settings(max_examples=40)
@given(st.binary(max_size=200))
def test_garbage_is_rejected_without_raising(blob):
    """Any bytes: a rejection, never an exception."""
    verdict = VerifierRegistry().verify(blob)
    assert not verdict.accepted
    assert verdict.reason in {"malformed_proof", "unsupported_system"}


def test_wrong_circuit_and_tampered_bytes_are_rejected():
    """Asked for another circuit, or one flipped byte: rejected with a reason and message."""
    proof = cached_proof("consensus", "sim", 5)
    registry = VerifierRegistry()
    verdict = registry.verify(proof, circuit="uptime")
    assert not verdict.accepted and verdict.reason == "circuit_mismatch"
    assert verdict.message == "numba-stark uptime verification failed: circuit_mismatch"
    data = bytearray(proof.to_bytes())
    data[-1] ^= 1
    assert not registry.verify(bytes(data)).accepted
    restricted = VerifierRegistry(accepted_profiles=frozenset({"standard"}))
    assert restricted.verify(proof).reason == "unknown_params"


def test_gate_rounds_kib_up():
    """A proof passes iff len ≤ max_kib·1024; reported sizes are ⌈len/1024⌉."""
    check_proof_size(512 * KIB, 512, 512 * KIB, "NumbaStark", "uptime")
    with pytest.raises(ProofSizeGateError) as error:
        check_proof_size(512 * KIB + 1, 512, 512 * KIB, "NumbaStark", "uptime")
    assert error.value.code == "ProofTooLarge"
    assert (error.value.max_kib, error.value.got_kib) == (512, 513)
    assert str(error.value) == (
        "proof size gate failed for NumbaStark/uptime: proof too large: limit 512 KiB, got 513 KiB"
    )
    assert kib_ceil(511 * KIB + 1) == 512


def test_gate_limit_mismatch_and_overflow():
    """Params limit ≠ node limit (strict, the chain's rule) and limits that overflow u32."""
    with pytest.raises(ProofSizeGateError) as error:
        check_proof_size(10, 4096, 1024 * KIB, "NumbaStark", "state")
    assert error.value.code == "LimitMismatch"
    assert error.value.detail == "parameter limit mismatch: params=4096 KiB, node=1024 KiB"
    check_proof_size(10, 4096, 1024 * KIB, "NumbaStark", "state", strict_limit_match=False)
    with pytest.raises(ProofSizeGateError) as relaxed:
        check_proof_size(
            2048 * KIB, 4096, 1024 * KIB, "NumbaStark", "state", strict_limit_match=False
        )
    assert relaxed.value.code == "ProofTooLarge" and relaxed.value.max_kib == 1024
    with pytest.raises(ProofSizeGateError) as overflow:
        check_proof_size(10, 1 << 22, 4096 * KIB, "NumbaStark", "state")
    assert overflow.value.code == "LimitOverflow"
    assert (
        overflow.value.detail
        == "parameter limit overflow: max 4194304 KiB cannot be mapped to bytes"
    )


def test_registry_gates_before_verifying():
    """A proof over a small limit is rejected by the gate with the chain's error code."""
    tiny = StarkParams("tiny-limit", log_blowup=2, num_queries=12, pow_bits=0, max_proof_kib=4)
    public_inputs, witness = example_statement("uptime", 5, seed=1)
    proof = prove("uptime", public_inputs, witness, profile=tiny)
    assert proof.size_bytes > 4 * KIB
    verdict = VerifierRegistry(max_proof_size_bytes=4 * KIB).verify(proof.to_bytes())
    assert not verdict.accepted and verdict.reason == "proof_size_gate"
    assert verdict.size_gate_error is not None and verdict.size_gate_error.code == "ProofTooLarge"
    assert verdict.message.startswith(
        "proof size gate failed for NumbaStark/uptime: proof too large"
    )
    mismatch = VerifierRegistry(max_proof_size_bytes=1024 * KIB).verify(
        cached_proof("uptime", "sim", 5)
    )
    assert mismatch.size_gate_error is not None and mismatch.size_gate_error.code == "LimitMismatch"


def test_registry_limits_must_fit_u32():
    """The chain refuses to forward a limit above u32::MAX to the verifier."""
    with pytest.raises(RegistryConfigError, match="exceeds u32::MAX"):
        VerifierRegistry(max_proof_size_bytes=1 << 32)
    with pytest.raises(RegistryConfigError):
        VerifierRegistry(max_proof_size_bytes=0)


def test_size_buckets():
    """le_512_kib … gt_4_mib boundaries (docs/operations.md#proof-systems-and-the-size-gate)."""
    assert size_bucket(512 * KIB) == "le_512_kib"
    assert size_bucket(512 * KIB + 1) == "le_1_mib"
    assert size_bucket(2048 * KIB) == "le_2_mib"
    assert size_bucket(4096 * KIB) == "le_4_mib"
    assert size_bucket(4096 * KIB + 1) == "gt_4_mib"


def test_clock_measures_duration():
    """With a clock (the testnet), the duration is measured rather than modelled."""
    ticks = iter([1.0, 1.25])
    registry = VerifierRegistry(clock=lambda: next(ticks))
    verdict = registry.verify(cached_proof("uptime", "sim", 5))
    assert verdict.accepted and verdict.duration_ms == pytest.approx(250.0)


def test_profiles_all_carry_the_chain_limit():
    """Every profile's params header holds the node default, 4 MiB."""
    assert {p.max_proof_kib for p in PROFILES.values()} == {4096}
