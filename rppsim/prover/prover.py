"""``prove``: build the trace, self-check it, run the protocol on a backend."""

from __future__ import annotations

from typing import Any

from rppsim.prover.airs import get_air
from rppsim.prover.backend import Backend
from rppsim.prover.errors import WitnessError
from rppsim.prover.params import StarkParams, get_profile
from rppsim.prover.proof import Proof
from rppsim.prover.stark import check_trace, prove_trace


def get_backend(name: str) -> Backend:
    """``"fast"`` (numba, the default) or ``"reference"`` (plain Python/numpy)."""
    if name == "reference":
        from rppsim.prover.reference.backend import ReferenceBackend

        return ReferenceBackend()
    if name == "fast":
        from rppsim.prover.fast.backend import FastBackend

        return FastBackend()
    raise ValueError(f"unknown prover backend {name!r}; expected 'fast' or 'reference'")


def prove(
    circuit: str,
    public_inputs: Any,
    witness: Any,
    profile: str | StarkParams = "sim",
    rows_log2: int | None = None,
    backend: str = "fast",
) -> Proof:
    """A proof of ``circuit`` for these public inputs; WitnessError if the witness fails.

    ``rows_log2`` defaults to the smallest trace the witness fits in.
    """
    air = get_air(circuit)
    params = profile if isinstance(profile, StarkParams) else get_profile(profile)
    if not air.is_valid_public_inputs(public_inputs):
        raise WitnessError(f"{circuit}: public inputs fail the native checks")
    if rows_log2 is None:
        rows_log2 = max(air.min_rows_log2, (max(air.witness_rows(witness), 2) - 1).bit_length())
    if not air.supports_rows(rows_log2):
        raise WitnessError(
            f"{circuit}: 2^{rows_log2} rows outside {air.min_rows_log2}..{air.max_rows_log2}"
        )
    engine = get_backend(backend)
    trace = air.build_trace(public_inputs, witness, rows_log2)
    check_trace(air, trace, air.public_constants(public_inputs), engine)
    return prove_trace(air, public_inputs, trace, params, engine)
