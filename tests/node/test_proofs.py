"""The model proof service: a statement digest padded with zeros (rppsim/node/proofs.py)."""

from __future__ import annotations

import pytest

from rppsim.node.proofs import ModelProofService, TransactionBatchStatement, TransferRow

STATEMENT = TransactionBatchStatement(bytes(32), (TransferRow(5, 1, 100, 94, 0, 5, 0),))


@pytest.mark.parametrize("size", [32, 64, 20_000])
def test_model_proof_verifies_at_any_padded_size(size):
    """The prover's digest plus zero padding verifies, whatever the modelled size."""
    data = ModelProofService(size).prove(STATEMENT)
    assert len(data) == size
    assert ModelProofService().verify(STATEMENT, "model", data).ok


@pytest.mark.parametrize("position", [32, 33, 10_000, 19_999])
def test_model_proof_with_a_nonzero_padding_byte_is_invalid(position):
    """Any byte after the digest must be zero: one flipped byte anywhere fails."""
    data = bytearray(ModelProofService(20_000).prove(STATEMENT))
    data[position] = 1
    outcome = ModelProofService().verify(STATEMENT, "model", bytes(data))
    assert not outcome.ok
    assert outcome.reason == "invalid proof"


def test_model_proof_binds_the_statement_and_the_system():
    """Another statement's digest, a short proof, or a foreign system are rejected."""
    proofs = ModelProofService()
    data = proofs.prove(STATEMENT)
    other = TransactionBatchStatement(bytes(32), (TransferRow(6, 1, 100, 93, 0, 6, 0),))
    assert not proofs.verify(other, "model", data).ok
    assert not proofs.verify(STATEMENT, "model", data[:31]).ok
    assert proofs.verify(STATEMENT, "stwo", data).reason.startswith("unsupported proof system")
