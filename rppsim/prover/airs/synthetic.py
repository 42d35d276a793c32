"""A synthetic 16-column AIR for benchmarks: ``bench16`` (not a chain circuit).

Sixteen lanes iterate a degree-3 map, x_i' = x_i³ + x_(i+1 mod 16) + (i + 1), from a
public start state to a public end state (both bound by boundary constraints). It exists
to measure the prover at exactly 16 columns with degree-3 constraints
(docs/architecture.md#prover-modes,
the issue's 16-column target); its statement has no meaning for the chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rppsim.prover.airs.base import ROW, TRANSITION, Air, Constraint, PublicInputs, check_layout
from rppsim.prover.errors import WitnessError
from rppsim.prover.jit import kernel
from rppsim.prover.reference.field import P

LANES = 16
COLUMNS = tuple(f"x{i}" for i in range(LANES))


@check_layout
@dataclass(frozen=True, slots=True)
class Bench16PublicInputs(PublicInputs):
    """Start and end state of the 16 lanes."""

    start: tuple[int, ...]
    end: tuple[int, ...]

    LAYOUT: ClassVar[tuple[tuple[str, str], ...]] = (("start", "f16"), ("end", "f16"))


@dataclass(frozen=True, slots=True)
class Bench16Witness:
    """Nothing beyond the public start state: the trace is the iteration itself."""

    rows: int


CONSTRAINTS = (
    *(Constraint(f"lane{i}_step", TRANSITION, 3) for i in range(LANES)),
    *(Constraint(f"lane{i}_start", ROW, 1, 0) for i in range(LANES)),
    *(Constraint(f"lane{i}_end", ROW, 1, -1) for i in range(LANES)),
)


def public_constants(pi: Bench16PublicInputs) -> tuple[int, ...]:
    """Start state then end state."""
    return (*pi.start, *pi.end)


def is_valid_public_inputs(pi: Any) -> bool:
    """Two states of 16 canonical felts."""
    return isinstance(pi, Bench16PublicInputs) and pi.is_well_typed()


def evaluate(cur: Sequence[Any], nxt: Sequence[Any], consts: Sequence[int]) -> list[Any]:
    """All constraint values at one point (ints or extension elements)."""
    steps = [
        nxt[i] - cur[i] * cur[i] * cur[i] - cur[(i + 1) % LANES] - (i + 1) for i in range(LANES)
    ]
    starts = [cur[i] - consts[i] for i in range(LANES)]
    ends = [cur[i] - consts[LANES + i] for i in range(LANES)]
    return steps + starts + ends


@kernel
def _kernel(
    T_: np.ndarray,
    per: np.ndarray,
    nx: np.ndarray,
    lo: int,
    hi: int,
    consts: np.ndarray,
    out: np.ndarray,
) -> None:
    """numba twin of :func:`evaluate` over positions lo..hi of the LDE."""
    for j in range(lo, hi):
        k = j - lo
        m = nx[j]
        for i in range(LANES):
            x = np.int64(T_[i, j])
            cube = x * x % P * x % P
            right = np.int64(T_[(i + 1) % LANES, j])
            out[k, i] = (np.int64(T_[i, m]) - cube - right - (i + 1)) % P
            out[k, LANES + i] = (x - consts[i]) % P
            out[k, 2 * LANES + i] = (x - consts[LANES + i]) % P


@kernel
def _iterate(trace: np.ndarray) -> None:
    """Fill rows 1.. from row 0 with the lane map."""
    for r in range(1, trace.shape[1]):
        for i in range(LANES):
            x = trace[i, r - 1]
            trace[i, r] = (x * x % P * x % P + trace[(i + 1) % LANES, r - 1] + i + 1) % P


def run(start: Sequence[int], rows: int) -> np.ndarray:
    """The (16, rows) iteration from ``start``."""
    trace = np.zeros((LANES, rows), dtype=np.int64)
    trace[:, 0] = [v % P for v in start]
    _iterate(trace)
    return trace


def build_trace(pi: Bench16PublicInputs, witness: Bench16Witness, rows_log2: int) -> np.ndarray:
    """The (16, 2^rows_log2) trace of the iteration."""
    if witness.rows != 1 << rows_log2:
        raise WitnessError(f"bench16: the witness is for {witness.rows} rows, not 2^{rows_log2}")
    return run(pi.start, 1 << rows_log2).astype(np.uint64)


def make_statement(
    start: Sequence[int], rows_log2: int
) -> tuple[Bench16PublicInputs, Bench16Witness]:
    """Start state → end state after 2^rows_log2 − 1 steps."""
    end = run(start, 1 << rows_log2)[:, -1]
    pi = Bench16PublicInputs(tuple(int(v) % P for v in start), tuple(int(v) for v in end))
    return pi, Bench16Witness(1 << rows_log2)


AIR = Air(
    name="bench16",
    circuit_id=100,
    columns=COLUMNS,
    constraints=CONSTRAINTS,
    public_inputs_type=Bench16PublicInputs,
    min_rows_log2=2,
    max_rows_log2=22,
    evaluate=evaluate,
    kernel=_kernel,
    public_constants=public_constants,
    is_valid_public_inputs=is_valid_public_inputs,
    build_trace=build_trace,
    witness_rows=lambda witness: witness.rows,
    description="synthetic benchmark: 16 lanes of a degree-3 map (not a chain circuit)",
)
