"""Reference and numba backends produce byte-identical proofs (docs/architecture.md#code-style)."""

from __future__ import annotations

import pytest

from rppsim.prover import prove
from rppsim.prover.examples import example_statement

from .conftest import ALL_AIRS


@pytest.mark.parametrize("circuit", ALL_AIRS)
def test_reference_and_fast_proofs_are_identical(circuit):
    """Every circuit at 2^6 rows, sim profile: same bytes from both backends."""
    public_inputs, witness = example_statement(circuit, 6, seed=11)
    fast = prove(circuit, public_inputs, witness, "sim", rows_log2=6, backend="fast")
    reference = prove(circuit, public_inputs, witness, "sim", rows_log2=6, backend="reference")
    assert fast.to_bytes() == reference.to_bytes()


@pytest.mark.parametrize(
    ("circuit", "profile", "rows_log2"),
    [("uptime", "standard", 7), ("consensus", "chain-parity", 5)],
)
def test_identical_under_other_profiles(circuit, profile, rows_log2):
    """More FRI layers and a larger blowup do not separate the backends."""
    public_inputs, witness = example_statement(circuit, rows_log2, seed=5)
    fast = prove(circuit, public_inputs, witness, profile, rows_log2=rows_log2, backend="fast")
    reference = prove(
        circuit, public_inputs, witness, profile, rows_log2=rows_log2, backend="reference"
    )
    assert fast.to_bytes() == reference.to_bytes()
