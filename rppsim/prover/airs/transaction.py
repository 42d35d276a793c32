"""Transaction AIR: a batch of transfers (docs/proofs.md#circuits item 1,
docs/proofs.md#circuit-statements transaction).

One row per transfer: amount, fee, sender balance before/after, receiver balance
before/after, sender nonce before/after, plus ``active`` (1 for transfers, 0 for padding),
a running count and a running fee total. Per active row:

* s_before = s_after + amount + fee, r_after = r_before + amount, n_after = n_before + 1;
* amount < 2^28, fee < 2^14 and s_after < 2^30 by bit decomposition (72 bit columns), so
  no balance can go negative through wrap-around mod p, and Σ fee < 2^30 for ≤ 2^16 rows;
* padding rows follow every active row and carry no amount or fee.

Boundary constraints bind the public inputs: count₀ = 1, count_last = tx_count,
fee_total_last = total_fees. ``batch_digest`` is a label bound through the transcript only.
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

AMOUNT_BITS, FEE_BITS, BALANCE_BITS = 28, 14, 30
VALUE_LIMIT = 1 << 30
AMOUNT, FEE, S_BEFORE, S_AFTER, R_BEFORE, R_AFTER, N_BEFORE, N_AFTER = range(8)
ACTIVE, COUNT, FEE_TOTAL = 8, 9, 10
AMOUNT_BIT0 = 11
FEE_BIT0 = AMOUNT_BIT0 + AMOUNT_BITS
SAFTER_BIT0 = FEE_BIT0 + FEE_BITS
WIDTH = SAFTER_BIT0 + BALANCE_BITS
RANGES = (
    (AMOUNT, AMOUNT_BIT0, AMOUNT_BITS),
    (FEE, FEE_BIT0, FEE_BITS),
    (S_AFTER, SAFTER_BIT0, BALANCE_BITS),
)
_RANGES = np.array(RANGES, dtype=np.int64)  # the kernel's copy
_SUMS_ROW = 9 + AMOUNT_BITS + FEE_BITS + BALANCE_BITS
COLUMNS = (
    "amount",
    "fee",
    "s_before",
    "s_after",
    "r_before",
    "r_after",
    "n_before",
    "n_after",
    "active",
    "count",
    "fee_total",
    *(f"amount_bit{i}" for i in range(AMOUNT_BITS)),
    *(f"fee_bit{i}" for i in range(FEE_BITS)),
    *(f"s_after_bit{i}" for i in range(BALANCE_BITS)),
)


@check_layout
@dataclass(frozen=True, slots=True)
class TransactionPublicInputs(PublicInputs):
    """What a block states about its transfer batch."""

    batch_digest: bytes
    tx_count: int
    total_fees: int

    LAYOUT: ClassVar[tuple[tuple[str, str], ...]] = (
        ("batch_digest", "b32"),
        ("tx_count", "u64"),
        ("total_fees", "u64"),
    )


@dataclass(frozen=True, slots=True)
class Transfer:
    """One transfer with the balances and nonce it starts from."""

    amount: int
    fee: int
    sender_balance: int
    receiver_balance: int
    sender_nonce: int


@dataclass(frozen=True, slots=True)
class TransactionWitness:
    """The transfers of the batch, in order."""

    transfers: tuple[Transfer, ...]


CONSTRAINTS = (
    Constraint("active_monotone", TRANSITION, 2),
    Constraint("count_step", TRANSITION, 1),
    Constraint("fee_total_step", TRANSITION, 1),
    Constraint("active_boolean", ALL_ROWS, 2),
    Constraint("sender_balance", ALL_ROWS, 1),
    Constraint("receiver_balance", ALL_ROWS, 1),
    Constraint("nonce_step", ALL_ROWS, 1),
    Constraint("padding_amount", ALL_ROWS, 2),
    Constraint("padding_fee", ALL_ROWS, 2),
    *(
        Constraint(f"{COLUMNS[col]}_bit{i}_boolean", ALL_ROWS, 2)
        for col, _, bits in RANGES
        for i in range(bits)
    ),
    *(Constraint(f"{COLUMNS[col]}_bits_sum", ALL_ROWS, 1) for col, _, _ in RANGES),
    Constraint("first_active", ROW, 1, 0),
    Constraint("first_count", ROW, 1, 0),
    Constraint("first_fee_total", ROW, 1, 0),
    Constraint("tx_count", ROW, 1, -1),
    Constraint("total_fees", ROW, 1, -1),
)


def public_constants(pi: TransactionPublicInputs) -> tuple[int, ...]:
    """(tx_count, total_fees)."""
    return (pi.tx_count, pi.total_fees)


def is_valid_public_inputs(pi: Any) -> bool:
    """At least one transfer; counts and totals below 2^30."""
    return (
        isinstance(pi, TransactionPublicInputs)
        and pi.is_well_typed()
        and 1 <= pi.tx_count < VALUE_LIMIT
        and pi.total_fees < VALUE_LIMIT
    )


def evaluate(cur: Sequence[Any], nxt: Sequence[Any], consts: Sequence[int]) -> list[Any]:
    """All constraint values at one point (ints or extension elements)."""
    tx_count, total_fees = consts
    active = cur[ACTIVE]
    booleans, sums = [], []
    for col, bit0, bits in RANGES:
        booleans += [cur[bit0 + i] * (cur[bit0 + i] - 1) for i in range(bits)]
        sums.append(cur[col] - sum((cur[bit0 + i] * (1 << i) for i in range(bits)), 0))
    return [
        nxt[ACTIVE] * (1 - active),
        nxt[COUNT] - cur[COUNT] - nxt[ACTIVE],
        nxt[FEE_TOTAL] - cur[FEE_TOTAL] - nxt[FEE],
        active * (active - 1),
        cur[S_BEFORE] - cur[S_AFTER] - cur[AMOUNT] - cur[FEE],
        cur[R_AFTER] - cur[R_BEFORE] - cur[AMOUNT],
        cur[N_AFTER] - cur[N_BEFORE] - active,
        (1 - active) * cur[AMOUNT],
        (1 - active) * cur[FEE],
        *booleans,
        *sums,
        active - 1,
        cur[COUNT] - 1,
        cur[FEE_TOTAL] - cur[FEE],
        cur[COUNT] - tx_count,
        cur[FEE_TOTAL] - total_fees,
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
    tx_count, total_fees = consts[0], consts[1]
    for j in range(lo, hi):
        k = j - lo
        m = nx[j]
        amount, fee = np.int64(T_[AMOUNT, j]), np.int64(T_[FEE, j])
        s_after, active = np.int64(T_[S_AFTER, j]), np.int64(T_[ACTIVE, j])
        count, fee_total = np.int64(T_[COUNT, j]), np.int64(T_[FEE_TOTAL, j])
        active_next = np.int64(T_[ACTIVE, m])
        out[k, 0] = active_next * (1 - active) % P
        out[k, 1] = (np.int64(T_[COUNT, m]) - count - active_next) % P
        out[k, 2] = (np.int64(T_[FEE_TOTAL, m]) - fee_total - np.int64(T_[FEE, m])) % P
        out[k, 3] = active * (active - 1) % P
        out[k, 4] = (np.int64(T_[S_BEFORE, j]) - s_after - amount - fee) % P
        out[k, 5] = (np.int64(T_[R_AFTER, j]) - np.int64(T_[R_BEFORE, j]) - amount) % P
        out[k, 6] = (np.int64(T_[N_AFTER, j]) - np.int64(T_[N_BEFORE, j]) - active) % P
        out[k, 7] = (1 - active) * amount % P
        out[k, 8] = (1 - active) * fee % P
        row = 9
        for r in range(3):
            col, bit0, bits = _RANGES[r, 0], _RANGES[r, 1], _RANGES[r, 2]
            total = np.int64(0)
            for i in range(bits):
                b = np.int64(T_[bit0 + i, j])
                out[k, row] = b * (b - 1) % P
                total = (total + (b << i)) % P
                row += 1
            out[k, _SUMS_ROW + r] = (np.int64(T_[col, j]) - total) % P
        row = _SUMS_ROW + 3
        out[k, row] = (active - 1) % P
        out[k, row + 1] = (count - 1) % P
        out[k, row + 2] = (fee_total - fee) % P
        out[k, row + 3] = (count - tx_count) % P
        out[k, row + 4] = (fee_total - total_fees) % P


def build_trace(
    pi: TransactionPublicInputs, witness: TransactionWitness, rows_log2: int
) -> np.ndarray:
    """The (83, 2^rows_log2) trace; padding rows are all zero except the running totals."""
    n = 1 << rows_log2
    transfers = witness.transfers
    if not 1 <= len(transfers) <= n:
        raise WitnessError(f"transaction: need 1..{n} transfers")
    m = len(transfers)
    cols = np.zeros((WIDTH, n), dtype=np.int64)
    fields = np.array(
        [
            [t.amount, t.fee, t.sender_balance, t.receiver_balance, t.sender_nonce]
            for t in transfers
        ],
        dtype=object,
    )
    amount, fee, s_before, r_before, nonce = (fields[:, i] for i in range(5))
    for col, values in (
        (AMOUNT, amount),
        (FEE, fee),
        (S_BEFORE, s_before),
        (S_AFTER, s_before - amount - fee),
        (R_BEFORE, r_before),
        (R_AFTER, r_before + amount),
        (N_BEFORE, nonce),
        (N_AFTER, nonce + 1),
    ):
        cols[col, :m] = np.array([v % P for v in values], dtype=np.int64)
    cols[ACTIVE, :m] = 1
    cols[COUNT] = np.minimum(np.arange(1, n + 1), m)
    cols[FEE_TOTAL] = np.cumsum(cols[FEE]) % P
    for col, bit0, bits in RANGES:
        values = cols[col]
        in_range = values < (1 << bits)
        for i in range(bits):
            cols[bit0 + i] = np.where(in_range, (values >> i) & 1, 0)
    return cols.astype(np.uint64)


def make_statement(
    batch_digest: bytes, transfers: Sequence[Transfer]
) -> tuple[TransactionPublicInputs, TransactionWitness]:
    """The public inputs of a batch: its count and total fees."""
    pi = TransactionPublicInputs(batch_digest, len(transfers), sum(t.fee for t in transfers))
    return pi, TransactionWitness(tuple(transfers))


AIR = Air(
    name="transaction",
    circuit_id=1,
    columns=COLUMNS,
    constraints=CONSTRAINTS,
    public_inputs_type=TransactionPublicInputs,
    min_rows_log2=2,
    max_rows_log2=16,
    evaluate=evaluate,
    kernel=_kernel,
    public_constants=public_constants,
    is_valid_public_inputs=is_valid_public_inputs,
    build_trace=build_trace,
    witness_rows=lambda witness: len(witness.transfers),
    description="batch transfer: balance, fee and nonce arithmetic with 28/14/30-bit ranges",
)
