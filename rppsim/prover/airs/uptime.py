"""Uptime AIR: heartbeat window accrual (docs/proofs.md#circuits item 5, docs/protocol.md#timetoke).

One row per heartbeat: time t, gap dt to the next heartbeat, flag ``on`` (the node was
online over the gap) and ``acc`` = online seconds before this row. The statement:

* t₀ = window_start and t_last = window_end (boundary constraints);
* every gap is in [0, 2^10) (10 bit columns), so time never runs backwards and the
  online total cannot wrap mod p: Σ gaps < 2^30, and with window_start ≤ window_end < p
  checked natively, Σ gaps = window_end − window_start exactly;
* acc₀ = 0, acc' = acc + on·dt, on ∈ {0, 1};
* credited_hours = min(⌊acc_last / 3600⌋, cap_remaining_hours): the remainder
  r = acc_last − 3600·credited is shown in [0, 2^30) by a 30-bit bit-lane in the last
  30 rows, and, unless the credit is capped, 3599 − r is shown in [0, 2^12) by a second
  12-bit lane in the last 12 rows.

The verifier checks natively what depends on public inputs only (docs/protocol.md#timetoke):
window_end − window_start ≥ 3600, node_clock ≥ window_end, epoch ≥ 1, credited ≤ cap.
``wallet`` and ``head_hash`` are 32-byte labels bound through the transcript only.
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

SECONDS_PER_HOUR = 3600
MINIMUM_WINDOW_SECS = 3600  # docs/operations.md#reputation-timetoke-and-governance-keys
# timetoke_params.minimum_window_secs
GAP_BITS = 10
MAX_GAP = (1 << GAP_BITS) - 1
LANE_A_BITS = 30
LANE_B_BITS = 12
TIME_LIMIT = P  # timestamps are canonical felts (Unix time fits until 2033)
MAX_CREDIT_HOURS = 1 << 16

T, DT, ON, ACC = 0, 1, 2, 3
BIT0 = 4
RA_BIT, RA_ACC, RB_BIT, RB_ACC = 14, 15, 16, 17
COLUMNS = (
    "t",
    "dt",
    "on",
    "acc",
    *(f"dt_bit{i}" for i in range(GAP_BITS)),
    "ra_bit",
    "ra_acc",
    "rb_bit",
    "rb_acc",
)


@check_layout
@dataclass(frozen=True, slots=True)
class UptimePublicInputs(PublicInputs):
    """The uptime claim (the chain's UptimeClaim fields, docs/proofs.md#circuit-statements)."""

    wallet: bytes
    head_hash: bytes
    epoch: int
    window_start: int
    window_end: int
    node_clock: int
    credited_hours: int
    cap_remaining_hours: int

    LAYOUT: ClassVar[tuple[tuple[str, str], ...]] = (
        ("wallet", "b32"),
        ("head_hash", "b32"),
        ("epoch", "u64"),
        ("window_start", "u64"),
        ("window_end", "u64"),
        ("node_clock", "u64"),
        ("credited_hours", "u64"),
        ("cap_remaining_hours", "u64"),
    )


@dataclass(frozen=True, slots=True)
class UptimeWitness:
    """Heartbeat times and, per gap between consecutive heartbeats, the online flag."""

    heartbeats: tuple[int, ...]
    online: tuple[int, ...]


CONSTRAINTS = (
    Constraint("time_step", TRANSITION, 1),
    Constraint("accrual_step", TRANSITION, 2),
    Constraint("lane_a_shift", TRANSITION, 1),
    Constraint("lane_b_shift", TRANSITION, 1),
    Constraint("on_boolean", ALL_ROWS, 2),
    *(Constraint(f"dt_bit{i}_boolean", ALL_ROWS, 2) for i in range(GAP_BITS)),
    Constraint("dt_bits_sum", ALL_ROWS, 1),
    Constraint("lane_a_bit_boolean", ALL_ROWS, 2),
    Constraint("lane_b_bit_boolean", ALL_ROWS, 2),
    Constraint("start_time", ROW, 1, 0),
    Constraint("start_accrual", ROW, 1, 0),
    Constraint("end_time", ROW, 1, -1),
    Constraint("lane_a_start", ROW, 1, -LANE_A_BITS),
    Constraint("lane_b_start", ROW, 1, -LANE_B_BITS),
    Constraint("remainder_nonnegative", ROW, 1, -1),
    Constraint("remainder_below_hour", ROW, 1, -1),
    Constraint("last_row_offline", ROW, 1, -1),
    Constraint("lane_a_idle_first", ROW, 1, 0),
    Constraint("lane_b_idle_first", ROW, 1, 0),
)


def is_capped(pi: UptimePublicInputs) -> bool:
    """The credit stops at the remaining accrual cap (docs/protocol.md#timetoke)."""
    return pi.credited_hours == pi.cap_remaining_hours


def public_constants(pi: UptimePublicInputs) -> tuple[int, ...]:
    """(start, end, credited, capped) as felts."""
    return (pi.window_start, pi.window_end, pi.credited_hours, int(is_capped(pi)))


def is_valid_public_inputs(pi: Any) -> bool:
    """The natively checked part of the claim (docs/protocol.md#timetoke uptime proofs)."""
    if not isinstance(pi, UptimePublicInputs) or not pi.is_well_typed():
        return False
    times = (pi.window_start, pi.window_end, pi.node_clock)
    return (
        all(v < TIME_LIMIT for v in times)
        and pi.epoch >= 1
        and pi.window_end - pi.window_start >= MINIMUM_WINDOW_SECS
        and pi.node_clock >= pi.window_end
        and pi.credited_hours <= pi.cap_remaining_hours <= MAX_CREDIT_HOURS
    )


def evaluate(cur: Sequence[Any], nxt: Sequence[Any], consts: Sequence[int]) -> list[Any]:
    """All constraint values at one point (ints or extension elements)."""
    start, end, credited, capped = consts
    t, dt, on, acc = cur[T], cur[DT], cur[ON], cur[ACC]
    bits = [cur[BIT0 + i] for i in range(GAP_BITS)]
    bit_sum = sum((bits[i] * (1 << i) for i in range(GAP_BITS)), 0)
    return [
        nxt[T] - t - dt,
        nxt[ACC] - acc - on * dt,
        nxt[RA_ACC] - 2 * cur[RA_ACC] - nxt[RA_BIT],
        nxt[RB_ACC] - 2 * cur[RB_ACC] - nxt[RB_BIT],
        on * (on - 1),
        *(b * (b - 1) for b in bits),
        dt - bit_sum,
        cur[RA_BIT] * (cur[RA_BIT] - 1),
        cur[RB_BIT] * (cur[RB_BIT] - 1),
        t - start,
        acc,
        t - end,
        cur[RA_ACC] - cur[RA_BIT],
        cur[RB_ACC] - cur[RB_BIT],
        cur[RA_ACC] - acc + SECONDS_PER_HOUR * credited,
        cur[RB_ACC] - (1 - capped) * (SECONDS_PER_HOUR - 1 - cur[RA_ACC]),
        on,
        cur[RA_BIT],
        cur[RB_BIT],
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
    start, end, credited, capped = consts[0], consts[1], consts[2], consts[3]
    for j in range(lo, hi):
        k = j - lo
        m = nx[j]
        t = np.int64(T_[T, j])
        dt = np.int64(T_[DT, j])
        on = np.int64(T_[ON, j])
        acc = np.int64(T_[ACC, j])
        ra_bit = np.int64(T_[RA_BIT, j])
        ra_acc = np.int64(T_[RA_ACC, j])
        rb_bit = np.int64(T_[RB_BIT, j])
        rb_acc = np.int64(T_[RB_ACC, j])
        out[k, 0] = (np.int64(T_[T, m]) - t - dt) % P
        out[k, 1] = (np.int64(T_[ACC, m]) - acc - on * dt % P) % P
        out[k, 2] = (np.int64(T_[RA_ACC, m]) - 2 * ra_acc - np.int64(T_[RA_BIT, m])) % P
        out[k, 3] = (np.int64(T_[RB_ACC, m]) - 2 * rb_acc - np.int64(T_[RB_BIT, m])) % P
        out[k, 4] = on * (on - 1) % P
        bit_sum = np.int64(0)
        for i in range(GAP_BITS):
            b = np.int64(T_[BIT0 + i, j])
            out[k, 5 + i] = b * (b - 1) % P
            bit_sum += b << i
        out[k, 15] = (dt - bit_sum) % P
        out[k, 16] = ra_bit * (ra_bit - 1) % P
        out[k, 17] = rb_bit * (rb_bit - 1) % P
        out[k, 18] = (t - start) % P
        out[k, 19] = acc
        out[k, 20] = (t - end) % P
        out[k, 21] = (ra_acc - ra_bit) % P
        out[k, 22] = (rb_acc - rb_bit) % P
        out[k, 23] = (ra_acc - acc + SECONDS_PER_HOUR * credited) % P
        out[k, 24] = (rb_acc - (1 - capped) * (SECONDS_PER_HOUR - 1 - ra_acc)) % P
        out[k, 25] = on
        out[k, 26] = ra_bit
        out[k, 27] = rb_bit


def _lane(value: int, bits: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Bit and accumulator columns proving 0 ≤ value < 2^bits in the last ``bits`` rows."""
    value = value if 0 <= value < 1 << bits else 0  # out of range: the lane cannot show it
    shifts = np.arange(bits - 1, -1, -1, dtype=np.int64)
    bit_col = np.zeros(n, dtype=np.uint64)
    acc_col = np.zeros(n, dtype=np.uint64)
    bit_col[n - bits :] = (value >> shifts) & 1
    acc_col[n - bits :] = value >> shifts
    return bit_col, acc_col


def build_trace(pi: UptimePublicInputs, witness: UptimeWitness, rows_log2: int) -> np.ndarray:
    """The (18, 2^rows_log2) trace; padding rows repeat the last heartbeat with dt = on = 0."""
    n = 1 << rows_log2
    hb = np.array([int(v) for v in witness.heartbeats], dtype=np.int64)
    online = np.array([int(v) for v in witness.online], dtype=np.int64)
    if not 2 <= hb.size <= n or online.size != hb.size - 1:
        raise WitnessError(f"uptime: need 2..{n} heartbeats and one online flag per gap")
    times = np.full(n, hb[-1], dtype=np.int64)
    times[: hb.size] = hb
    dts = np.zeros(n, dtype=np.int64)
    dts[: hb.size - 1] = np.diff(hb)
    ons = np.zeros(n, dtype=np.int64)
    ons[: online.size] = online
    accs = np.zeros(n, dtype=np.int64)
    accs[1:] = np.cumsum(ons[:-1] * dts[:-1])
    trace = np.zeros((len(COLUMNS), n), dtype=np.uint64)
    for col, values in ((T, times), (DT, dts), (ON, ons), (ACC, accs)):
        trace[col] = values % P
    in_range = (dts >= 0) & (dts <= MAX_GAP)
    for i in range(GAP_BITS):
        trace[BIT0 + i] = np.where(in_range, (dts >> i) & 1, 0)
    remainder = int(accs[-1]) - SECONDS_PER_HOUR * pi.credited_hours
    slack = 0 if is_capped(pi) else SECONDS_PER_HOUR - 1 - remainder
    trace[RA_BIT], trace[RA_ACC] = _lane(remainder, LANE_A_BITS, n)
    trace[RB_BIT], trace[RB_ACC] = _lane(slack, LANE_B_BITS, n)
    return trace


def make_statement(
    wallet: bytes,
    head_hash: bytes,
    epoch: int,
    heartbeats: Sequence[int],
    online: Sequence[int],
    node_clock: int,
    cap_remaining_hours: int,
) -> tuple[UptimePublicInputs, UptimeWitness]:
    """The claim for these heartbeats: credited = min(⌊online seconds / 3600⌋, cap)."""
    online_secs = sum(o * (heartbeats[i + 1] - heartbeats[i]) for i, o in enumerate(online))
    credited = min(online_secs // SECONDS_PER_HOUR, cap_remaining_hours)
    pi = UptimePublicInputs(
        wallet=wallet,
        head_hash=head_hash,
        epoch=epoch,
        window_start=heartbeats[0],
        window_end=heartbeats[-1],
        node_clock=node_clock,
        credited_hours=credited,
        cap_remaining_hours=cap_remaining_hours,
    )
    return pi, UptimeWitness(tuple(heartbeats), tuple(online))


def make_window_statement(
    wallet: bytes,
    head_hash: bytes,
    epoch: int,
    window_start: int,
    window_end: int,
    node_clock: int,
    cap_remaining_hours: int,
    cadence_secs: int = 600,
) -> tuple[UptimePublicInputs, UptimeWitness]:
    """The chain's window claim: online throughout, a heartbeat every ``cadence_secs``.

    Then credited = min(⌊(end − start)/3600⌋, cap), the chain's accrual rule
    (docs/protocol.md#timetoke); the uptime scheduler's cadence is 600 s.
    """
    if not 0 < cadence_secs <= MAX_GAP:
        raise ValueError(f"cadence must be in 1..{MAX_GAP} s")
    beats = [*range(window_start, window_end, cadence_secs), window_end]
    return make_statement(
        wallet, head_hash, epoch, beats, [1] * (len(beats) - 1), node_clock, cap_remaining_hours
    )


AIR = Air(
    name="uptime",
    circuit_id=6,
    columns=COLUMNS,
    constraints=CONSTRAINTS,
    public_inputs_type=UptimePublicInputs,
    min_rows_log2=5,
    max_rows_log2=20,
    evaluate=evaluate,
    kernel=_kernel,
    public_constants=public_constants,
    is_valid_public_inputs=is_valid_public_inputs,
    build_trace=build_trace,
    witness_rows=lambda witness: len(witness.heartbeats),
    description="heartbeat window accrual with 10-bit gaps and a capped hour credit",
)
