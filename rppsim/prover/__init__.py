"""The numba STARK prover, its verifier registry and the proof-size gate
(docs/architecture.md#prover-modes).

A univariate STARK over BabyBear with every challenge in F_p[X]/(X⁴ − 11), Blake2s Merkle
trees and Fiat–Shamir transcript, DEEP-ALI composition, FRI folding by 8 and grinding
(docs/proofs.md#the-numba-prover). The proofs are sound but **not zero-knowledge**: no blinding is
added and openings reveal trace values at the queried points.

    from rppsim.prover import prove, verify, Proof, PROFILES
    from rppsim.prover.examples import example_statement
    public_inputs, witness = example_statement("uptime", rows_log2=10, seed=1)
    proof = prove("uptime", public_inputs, witness, profile="sim")
    assert verify(Proof.from_bytes(proof.to_bytes()))
"""

from __future__ import annotations

from rppsim.prover.errors import ProofFormatError, WitnessError
from rppsim.prover.kinds import ProofSystemKind
from rppsim.prover.params import PROFILES, StarkParams
from rppsim.prover.proof import Proof
from rppsim.prover.prover import prove
from rppsim.prover.verifier import Reason, verify, verify_reason

__all__ = [
    "PROFILES",
    "Proof",
    "ProofFormatError",
    "ProofSystemKind",
    "Reason",
    "StarkParams",
    "WitnessError",
    "prove",
    "verify",
    "verify_reason",
]
