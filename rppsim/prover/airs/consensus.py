"""Consensus AIR: weighted votes reach the quorum (docs/proofs.md#circuits item 6, docs/proofs.md
consensus).

One row per validator of the certificate: weight w (< 2^14, 14 bit columns), prevote and
precommit flags (a precommit needs a prevote), and exclusive running sums W, PV, PC of the
weights, prevote weights and precommit weights before this row. The last row is padding
(w = 0), so W_last, PV_last, PC_last are the totals. Boundary constraints bind
W₀ = PV₀ = PC₀ = 0 and W_last = total_power; two 30-bit bit-lanes in the last 30 rows show
PV_last − quorum ≥ 0 and PC_last − quorum ≥ 0 (no wrap: totals stay below 2^30).

The verifier checks natively that quorum = ⌈2T/3⌉ + 1 (docs/protocol.md#rounds-and-quorum [RT]).
VRF proofs and vote signatures stay native checks; ``block_hash`` is a transcript label.
Chain voting powers are large; the node maps them to 14-bit weights before proving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rppsim.prover.airs.base import (
    ALL_ROWS,
    ROW,
    TRANSITION,
    Air,
    Constraint,
    PublicInputs,
    check_layout,
)
from rppsim.prover.errors import WitnessError
from rppsim.prover.jit import kernel
from rppsim.prover.reference.field import P

WEIGHT_BITS = 14
MAX_WEIGHT = (1 << WEIGHT_BITS) - 1
LANE_BITS = 30
VALUE_LIMIT = 1 << 30
W_, PV, PC, W_SUM, PV_SUM, PC_SUM = range(6)
BIT0 = 6
LA_BIT, LA_ACC, LB_BIT, LB_ACC = 20, 21, 22, 23
COLUMNS = (
    "weight",
    "prevote",
    "precommit",
    "weight_sum",
    "prevote_sum",
    "precommit_sum",
    *(f"weight_bit{i}" for i in range(WEIGHT_BITS)),
    "la_bit",
    "la_acc",
    "lb_bit",
    "lb_acc",
)


@check_layout
@dataclass(frozen=True, slots=True)
class ConsensusPublicInputs(PublicInputs):
    """A consensus certificate's claim (docs/protocol.md#rounds-and-quorum ConsensusCertificate)."""

    block_hash: bytes
    height: int
    round: int
    epoch: int
    total_power: int
    quorum: int

    LAYOUT: ClassVar[tuple[tuple[str, str], ...]] = (
        ("block_hash", "b32"),
        ("height", "u64"),
        ("round", "u64"),
        ("epoch", "u64"),
        ("total_power", "u64"),
        ("quorum", "u64"),
    )


@dataclass(frozen=True, slots=True)
class ConsensusWitness:
    """Per validator: weight, prevoted, precommitted."""

    weights: tuple[int, ...]
    prevotes: tuple[int, ...]
    precommits: tuple[int, ...]


CONSTRAINTS = (
    Constraint("weight_sum_step", TRANSITION, 1),
    Constraint("prevote_sum_step", TRANSITION, 2),
    Constraint("precommit_sum_step", TRANSITION, 2),
    Constraint("lane_a_shift", TRANSITION, 1),
    Constraint("lane_b_shift", TRANSITION, 1),
    Constraint("prevote_boolean", ALL_ROWS, 2),
    Constraint("precommit_boolean", ALL_ROWS, 2),
    Constraint("precommit_needs_prevote", ALL_ROWS, 2),
    *(Constraint(f"weight_bit{i}_boolean", ALL_ROWS, 2) for i in range(WEIGHT_BITS)),
    Constraint("weight_bits_sum", ALL_ROWS, 1),
    Constraint("lane_a_bit_boolean", ALL_ROWS, 2),
    Constraint("lane_b_bit_boolean", ALL_ROWS, 2),
    Constraint("first_weight_sum", ROW, 1, 0),
    Constraint("first_prevote_sum", ROW, 1, 0),
    Constraint("first_precommit_sum", ROW, 1, 0),
    Constraint("last_row_padding", ROW, 1, -1),
    Constraint("total_power", ROW, 1, -1),
    Constraint("prevote_quorum", ROW, 1, -1),
    Constraint("precommit_quorum", ROW, 1, -1),
    Constraint("lane_a_start", ROW, 1, -LANE_BITS),
    Constraint("lane_b_start", ROW, 1, -LANE_BITS),
    Constraint("last_row_no_prevote", ROW, 1, -1),
    Constraint("lane_a_idle_first", ROW, 1, 0),
    Constraint("lane_b_idle_first", ROW, 1, 0),
)


def scale_weights(powers: Sequence[int]) -> tuple[int, ...]:
    """Chain voting powers mapped to 14-bit weights: ⌈power·(2^14 − 1)/max power⌉.

    The quorum is then taken over the scaled weights; rounding up keeps every non-zero
    power non-zero. The node uses this before proving (powers exceed the field).
    """
    top = max(powers, default=0)
    if top <= 0:
        return tuple(0 for _ in powers)
    return tuple(-(-p * MAX_WEIGHT // top) for p in powers)


def quorum_threshold(total_power: int) -> int:
    """⌈2T/3⌉ + 1, and 0 when T = 0 (docs/protocol.md#rounds-and-quorum [RT])."""
    return 0 if total_power == 0 else (2 * total_power + 2) // 3 + 1


def public_constants(pi: ConsensusPublicInputs) -> tuple[int, ...]:
    """(total_power, quorum)."""
    return (pi.total_power, pi.quorum)


def is_valid_public_inputs(pi: Any) -> bool:
    """Power below 2^30 and the [RT] quorum of it."""
    return (
        isinstance(pi, ConsensusPublicInputs)
        and pi.is_well_typed()
        and 1 <= pi.total_power < VALUE_LIMIT
        and pi.quorum == quorum_threshold(pi.total_power)
    )


def evaluate(cur: Sequence[Any], nxt: Sequence[Any], consts: Sequence[int]) -> list[Any]:
    """All constraint values at one point (ints or extension elements)."""
    total_power, quorum = consts
    w, pv, pc = cur[W_], cur[PV], cur[PC]
    bits = [cur[BIT0 + i] for i in range(WEIGHT_BITS)]
    return [
        nxt[W_SUM] - cur[W_SUM] - w,
        nxt[PV_SUM] - cur[PV_SUM] - pv * w,
        nxt[PC_SUM] - cur[PC_SUM] - pc * w,
        nxt[LA_ACC] - 2 * cur[LA_ACC] - nxt[LA_BIT],
        nxt[LB_ACC] - 2 * cur[LB_ACC] - nxt[LB_BIT],
        pv * (pv - 1),
        pc * (pc - 1),
        pc * (1 - pv),
        *(b * (b - 1) for b in bits),
        w - sum((bits[i] * (1 << i) for i in range(WEIGHT_BITS)), 0),
        cur[LA_BIT] * (cur[LA_BIT] - 1),
        cur[LB_BIT] * (cur[LB_BIT] - 1),
        cur[W_SUM],
        cur[PV_SUM],
        cur[PC_SUM],
        w,
        cur[W_SUM] - total_power,
        cur[LA_ACC] - cur[PV_SUM] + quorum,
        cur[LB_ACC] - cur[PC_SUM] + quorum,
        cur[LA_ACC] - cur[LA_BIT],
        cur[LB_ACC] - cur[LB_BIT],
        pv,
        cur[LA_BIT],
        cur[LB_BIT],
    ]


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
    total_power, quorum = consts[0], consts[1]
    for j in range(lo, hi):
        k = j - lo
        m = nx[j]
        w, pv, pc = np.int64(T_[W_, j]), np.int64(T_[PV, j]), np.int64(T_[PC, j])
        ws, pvs, pcs = np.int64(T_[W_SUM, j]), np.int64(T_[PV_SUM, j]), np.int64(T_[PC_SUM, j])
        la_bit, la_acc = np.int64(T_[LA_BIT, j]), np.int64(T_[LA_ACC, j])
        lb_bit, lb_acc = np.int64(T_[LB_BIT, j]), np.int64(T_[LB_ACC, j])
        out[k, 0] = (np.int64(T_[W_SUM, m]) - ws - w) % P
        out[k, 1] = (np.int64(T_[PV_SUM, m]) - pvs - pv * w % P) % P
        out[k, 2] = (np.int64(T_[PC_SUM, m]) - pcs - pc * w % P) % P
        out[k, 3] = (np.int64(T_[LA_ACC, m]) - 2 * la_acc - np.int64(T_[LA_BIT, m])) % P
        out[k, 4] = (np.int64(T_[LB_ACC, m]) - 2 * lb_acc - np.int64(T_[LB_BIT, m])) % P
        out[k, 5] = pv * (pv - 1) % P
        out[k, 6] = pc * (pc - 1) % P
        out[k, 7] = pc * (1 - pv) % P
        total = np.int64(0)
        for i in range(WEIGHT_BITS):
            b = np.int64(T_[BIT0 + i, j])
            out[k, 8 + i] = b * (b - 1) % P
            total += b << i
        row = 8 + WEIGHT_BITS
        out[k, row] = (w - total) % P
        out[k, row + 1] = la_bit * (la_bit - 1) % P
        out[k, row + 2] = lb_bit * (lb_bit - 1) % P
        out[k, row + 3] = ws
        out[k, row + 4] = pvs
        out[k, row + 5] = pcs
        out[k, row + 6] = w
        out[k, row + 7] = (ws - total_power) % P
        out[k, row + 8] = (la_acc - pvs + quorum) % P
        out[k, row + 9] = (lb_acc - pcs + quorum) % P
        out[k, row + 10] = (la_acc - la_bit) % P
        out[k, row + 11] = (lb_acc - lb_bit) % P
        out[k, row + 12] = pv
        out[k, row + 13] = la_bit
        out[k, row + 14] = lb_bit


def _lane(value: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Bit and accumulator columns proving 0 ≤ value < 2^30 in the last 30 rows."""
    value = value if 0 <= value < 1 << LANE_BITS else 0  # the lane cannot show it
    shifts = np.arange(LANE_BITS - 1, -1, -1, dtype=np.int64)
    bit_col = np.zeros(n, dtype=np.int64)
    acc_col = np.zeros(n, dtype=np.int64)
    bit_col[n - LANE_BITS :] = (value >> shifts) & 1
    acc_col[n - LANE_BITS :] = value >> shifts
    return bit_col, acc_col


def build_trace(pi: ConsensusPublicInputs, witness: ConsensusWitness, rows_log2: int) -> np.ndarray:
    """The (24, 2^rows_log2) trace; the last row and any rows after the voters are padding."""
    n = 1 << rows_log2
    m = len(witness.weights)
    if not 1 <= m < n or len(witness.prevotes) != m or len(witness.precommits) != m:
        raise WitnessError(f"consensus: need 1..{n - 1} validators with both vote flags")
    cols = np.zeros((len(COLUMNS), n), dtype=np.int64)
    cols[W_, :m] = [w % P for w in witness.weights]
    cols[PV, :m] = [int(v) % P for v in witness.prevotes]
    cols[PC, :m] = [int(v) % P for v in witness.precommits]
    for total, flag in ((W_SUM, None), (PV_SUM, PV), (PC_SUM, PC)):
        weighted = cols[W_] if flag is None else cols[W_] * cols[flag] % P
        cols[total, 1:] = np.cumsum(weighted[:-1]) % P
    in_range = cols[W_] <= MAX_WEIGHT
    for i in range(WEIGHT_BITS):
        cols[BIT0 + i] = np.where(in_range, (cols[W_] >> i) & 1, 0)
    cols[LA_BIT], cols[LA_ACC] = _lane(int(cols[PV_SUM, -1]) - pi.quorum, n)
    cols[LB_BIT], cols[LB_ACC] = _lane(int(cols[PC_SUM, -1]) - pi.quorum, n)
    return cols.astype(np.uint64)


def make_statement(
    block_hash: bytes,
    height: int,
    round_: int,
    epoch: int,
    weights: Sequence[int],
    prevotes: Sequence[int],
    precommits: Sequence[int],
) -> tuple[ConsensusPublicInputs, ConsensusWitness]:
    """The claim of a certificate with these validators and votes."""
    total = sum(weights)
    pi = ConsensusPublicInputs(block_hash, height, round_, epoch, total, quorum_threshold(total))
    return pi, ConsensusWitness(tuple(weights), tuple(prevotes), tuple(precommits))


AIR = Air(
    name="consensus",
    circuit_id=7,
    columns=COLUMNS,
    constraints=CONSTRAINTS,
    public_inputs_type=ConsensusPublicInputs,
    min_rows_log2=5,
    max_rows_log2=16,
    evaluate=evaluate,
    kernel=_kernel,
    public_constants=public_constants,
    is_valid_public_inputs=is_valid_public_inputs,
    build_trace=build_trace,
    witness_rows=lambda witness: len(witness.weights) + 1,
    description="weighted prevote/precommit sums reach ⌈2T/3⌉+1 (14-bit weights)",
)
