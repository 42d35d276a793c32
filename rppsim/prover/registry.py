"""The verifier registry: dispatch by proof system, size gate, per-backend metrics.

Shaped like the chain's ProofVerifierRegistry (docs/operations.md#proof-systems-and-the-size-gate):
``verifiers`` maps each
``ProofSystemKind`` that has a verifier to it (only ``numba-stark`` today); any other
system is rejected with "unsupported proof system X in verifier registry": never accepted, never
bypassed. Every call counts accepted/rejected/bypassed and a duration per backend, like
``verifier_metrics.per_backend``. The duration comes from the deterministic cost model
unless a clock is given (the testnet), so simulated telemetry stays reproducible.
Verification is a pure function of the proof bytes: ``Verdict.digest`` lets a simulator
reuse one result for every node that sees the same proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rppsim.prover import costmodel
from rppsim.prover.errors import ProofFormatError
from rppsim.prover.kinds import ProofSystemKind
from rppsim.prover.proof import Proof, peek_params, read_envelope_header
from rppsim.prover.sizegate import (
    DEFAULT_MAX_PROOF_SIZE_BYTES,
    U32_MAX,
    ProofSizeGateError,
    check_proof_size,
    size_bucket,
)
from rppsim.prover.verifier import Reason, verify_reason

UNSUPPORTED_REASON = "unsupported_system"
SIZE_GATE_REASON = "proof_size_gate"
MALFORMED_REASON = "malformed_proof"


class RegistryConfigError(ValueError):
    """A registry limit the chain would refuse (docs/operations.md#proof-systems-and-the-size-gate
    size limits, layer 1)."""


@dataclass
class BackendMetrics:
    """Counters of one backend (the chain's ``verifier_metrics.per_backend`` entry)."""

    accepted: int = 0
    rejected: int = 0
    bypassed: int = 0
    total_duration_ms: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        """The JSON shape."""
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "bypassed": self.bypassed,
            "total_duration_ms": self.total_duration_ms,
        }


@dataclass(frozen=True)
class Verdict:
    """The outcome of one verification, with a typed reason."""

    accepted: bool
    backend: str
    circuit: str
    reason: str
    message: str
    proof_bytes: int
    size_bucket: str
    digest: bytes
    duration_ms: float
    size_gate_error: ProofSizeGateError | None = field(default=None)


def _digest(data: bytes) -> bytes:
    """BLAKE2s-256 of the canonical bytes (same as Proof.digest)."""
    return hashlib.blake2s(data).digest()


class VerifierRegistry:
    """Verifies proofs of every supported system and keeps the chain's counters."""

    def __init__(
        self,
        max_proof_size_bytes: int = DEFAULT_MAX_PROOF_SIZE_BYTES,
        accepted_profiles: frozenset[str] | None = None,
        clock: Callable[[], float] | None = None,
        strict_limit_match: bool = True,
    ) -> None:
        if max_proof_size_bytes > U32_MAX:
            raise RegistryConfigError(
                "max_proof_size_bytes exceeds u32::MAX and cannot be forwarded to rpp-stark"
            )
        if max_proof_size_bytes <= 0:
            raise RegistryConfigError("max_proof_size_bytes must be greater than zero")
        self.max_proof_size_bytes = max_proof_size_bytes
        self.accepted_profiles = accepted_profiles
        self._clock = clock
        self.strict_limit_match = strict_limit_match
        self._metrics: dict[str, BackendMetrics] = {}
        self.last: Verdict | None = None
        self.verifiers: dict[ProofSystemKind, Callable[[ProofSystemKind, bytes, Any, str], Verdict]]
        self.verifiers = {ProofSystemKind.NUMBA_STARK: self._verify_numba_stark}

    def advertised_backends(self) -> list[str]:
        """Sorted labels of the systems this registry verifies."""
        return sorted(kind.label for kind in self.verifiers)

    def fingerprint(self) -> str:
        """The comma-joined advertised labels (gossiped as ``proof_backends``)."""
        return ",".join(self.advertised_backends())

    def metrics(self) -> dict[str, dict[str, float | int]]:
        """``per_backend`` counters, keyed by label, sorted."""
        return {label: self._metrics[label].as_dict() for label in sorted(self._metrics)}

    def verify(self, proof: Proof | bytes, circuit: str | None = None) -> Verdict:
        """Verify a proof object or its bytes; never raises on any input."""
        data = proof.to_bytes() if isinstance(proof, Proof) else proof
        if not isinstance(data, (bytes, bytearray)):
            return self._record(
                _reject(
                    "unknown", circuit or "", MALFORMED_REASON, "malformed proof: not bytes", b""
                )
            )
        data = bytes(data)
        try:
            label, named_circuit = read_envelope_header(data)
        except ProofFormatError as error:
            return self._record(
                _reject(
                    "unknown", circuit or "", MALFORMED_REASON, f"malformed proof: {error}", data
                )
            )
        kind = ProofSystemKind.from_label(label)
        verifier = self.verifiers.get(kind) if kind is not None else None
        if verifier is None:
            message = f"unsupported proof system {label} in verifier registry"
            return self._record(_reject(label, named_circuit, UNSUPPORTED_REASON, message, data))
        assert kind is not None
        return self._record(verifier(kind, data, proof, circuit or named_circuit))

    def _verify_numba_stark(
        self, kind: ProofSystemKind, data: bytes, proof: Any, circuit: str
    ) -> Verdict:
        """Size gate, parse, verify (the numba-stark path)."""
        try:
            params = peek_params(data)
            check_proof_size(
                len(data), params.max_proof_kib, self.max_proof_size_bytes, kind.debug_name,
                circuit, self.strict_limit_match,
            )  # fmt: skip
            parsed = proof if isinstance(proof, Proof) else Proof.from_bytes(data)
        except ProofSizeGateError as error:
            verdict = _reject(kind.label, circuit, SIZE_GATE_REASON, str(error), data)
            return _with_gate(verdict, error)
        except ProofFormatError as error:
            return _reject(kind.label, circuit, MALFORMED_REASON, f"malformed proof: {error}", data)
        start = self._clock() if self._clock is not None else 0.0
        reason = verify_reason(parsed, circuit, self.accepted_profiles)
        if self._clock is not None:
            duration = (self._clock() - start) * 1000.0
        else:
            duration = _modelled_verify_ms(parsed)
        accepted = reason is Reason.ACCEPTED
        message = "" if accepted else f"numba-stark {circuit} verification failed: {reason.value}"
        return Verdict(
            accepted, kind.label, circuit, reason.value, message, len(data), size_bucket(len(data)),
            _digest(data), duration,
        )  # fmt: skip

    def _record(self, verdict: Verdict) -> Verdict:
        """Count a verdict under its backend and remember it as ``last``."""
        entry = self._metrics.setdefault(verdict.backend, BackendMetrics())
        if verdict.accepted:
            entry.accepted += 1
        else:
            entry.rejected += 1
        entry.total_duration_ms += verdict.duration_ms
        self.last = verdict
        return verdict


def _modelled_verify_ms(proof: Proof) -> float:
    """The cost model's verify time; 0 for a profile it was not calibrated on."""
    try:
        return costmodel.estimate_verify_ms(
            proof.circuit, proof.params.name, 1 << min(proof.body.rows_log2, 30)
        )
    except KeyError:
        return 0.0


def _reject(backend: str, circuit: str, reason: str, message: str, data: bytes) -> Verdict:
    """A rejection before verification (nothing was verified, no duration)."""
    return Verdict(
        False,
        backend,
        circuit,
        reason,
        message,
        len(data),
        size_bucket(len(data)),
        _digest(data),
        0.0,
    )


def _with_gate(verdict: Verdict, error: ProofSizeGateError) -> Verdict:
    """Attach the size-gate error to a verdict."""
    return Verdict(**{**verdict.__dict__, "size_gate_error": error})
