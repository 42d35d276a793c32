"""Typed errors of the prover package.

``ProofFormatError`` is the only exception ``Proof.from_bytes`` raises on malformed bytes;
``WitnessError`` is what ``prove`` raises when a witness does not satisfy its circuit.
"""

from __future__ import annotations


class ProofFormatError(ValueError):
    """Bytes that are not a canonical proof encoding (docs/proofs.md#hashing-and-encoding)."""


class WitnessError(ValueError):
    """A statement or witness the circuit rejects; the prover's self-check found it."""
