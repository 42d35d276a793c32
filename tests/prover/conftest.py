"""Shared helpers for the prover tests: cached example proofs (proving is the slow part)."""

from __future__ import annotations

from functools import lru_cache

import pytest

from rppsim.prover import Proof, prove
from rppsim.prover.examples import example_statement

CHAIN_AIRS = ("uptime", "transaction", "consensus", "recursive")
ALL_AIRS = (*CHAIN_AIRS, "bench16")


@lru_cache(maxsize=64)
def cached_proof(circuit: str, profile: str, rows_log2: int, seed: int = 1) -> Proof:
    """One example proof per (circuit, profile, rows, seed), built once per test session."""
    public_inputs, witness = example_statement(circuit, rows_log2, seed)
    return prove(circuit, public_inputs, witness, profile=profile, rows_log2=rows_log2)


@pytest.fixture
def proof_for():
    """The cached-proof builder."""
    return cached_proof
