"""Recursive AIR: the block's proofs folded into the recursive commitment (docs/proofs.md#circuits
item 7, docs/operations.md#proof-systems-and-the-size-gate recursive chain invariant).

acc₀ = previous commitment; acc_(i+1) = Poseidon2-compress(acc_i, c_i), where c_i is the
i-th inner proof's digest as 8 field elements; the public commitment is the last acc.
This is aggregation, not recursion: the inner proofs are verified natively by the node,
this proof shows that the commitment chain was folded correctly over them. The list is
padded with zero digests to one 32-row block per entry (n/32 entries).

Layout, one Poseidon2 permutation per 32-row block, one round per row: state s (16),
cubes c = (s + rc)³ (16) and x⁷ values y = c²·(s + rc) (16), so every constraint has
degree ≤ 3. Periodic columns (period 32) select the step of each row — row 0 the initial
external layer, rows 1–4 and 18–21 full rounds, rows 5–17 partial rounds, rows 22–30
copy, row 31 carries lanes 0–7 (the new acc) into the next block — and hold the round
constants. Lanes 8–15 of each block's first row are the private input c_i. Boundary
constraints bind the previous commitment (row 0) and the new one (last row).
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
from rppsim.prover.reference import poseidon2 as p2
from rppsim.prover.reference.field import P

WIDTH, DIGEST = p2.WIDTH, p2.DIGEST
PERIOD = 32
S0, C0, Y0 = 0, WIDTH, 2 * WIDTH
TRACE_WIDTH = 3 * WIDTH
LIN, FULL, PART, COPY, END = range(5)
RC0 = 5
COLUMNS = (
    *(f"s{i}" for i in range(WIDTH)),
    *(f"c{i}" for i in range(WIDTH)),
    *(f"y{i}" for i in range(WIDTH)),
)
_M4 = np.array(p2.M4, dtype=np.int64)
_V16 = np.array(p2.V16, dtype=np.int64)


def _schedule() -> tuple[tuple[int, ...], ...]:
    """The 21 periodic columns: lin, full, part, copy, end selectors and 16 round constants."""
    cols = [[0] * PERIOD for _ in range(5 + WIDTH)]
    cols[LIN][0] = 1
    half = p2.FULL_ROUNDS // 2
    for r in range(p2.FULL_ROUNDS):
        row = 1 + r if r < half else 1 + half + p2.PARTIAL_ROUNDS + (r - half)
        cols[FULL][row] = 1
        for lane in range(WIDTH):
            cols[RC0 + lane][row] = p2.FULL_CONSTANTS[r][lane]
    for r in range(p2.PARTIAL_ROUNDS):
        cols[PART][1 + half + r] = 1
        cols[RC0][1 + half + r] = p2.PARTIAL_CONSTANTS[r]
    for row in range(1 + p2.FULL_ROUNDS + p2.PARTIAL_ROUNDS, PERIOD - 1):
        cols[COPY][row] = 1
    cols[END][PERIOD - 1] = 1
    return tuple(tuple(col) for col in cols)


PERIODIC = _schedule()
_SCHEDULE = np.array(PERIODIC, dtype=np.int64)  # the trace builder's copy


@check_layout
@dataclass(frozen=True, slots=True)
class RecursivePublicInputs(PublicInputs):
    """Previous and new recursive commitment (8 felts each), height and proof count labels."""

    previous: tuple[int, ...]
    commitment: tuple[int, ...]
    height: int
    proof_count: int

    LAYOUT: ClassVar[tuple[tuple[str, str], ...]] = (
        ("previous", "f8"),
        ("commitment", "f8"),
        ("height", "u64"),
        ("proof_count", "u64"),
    )


@dataclass(frozen=True, slots=True)
class RecursiveWitness:
    """The folded items: each inner proof's digest as 8 felts, in block order."""

    items: tuple[tuple[int, ...], ...]


CONSTRAINTS = (
    *(Constraint(f"lane{j}_step", TRANSITION, 2) for j in range(WIDTH)),
    *(Constraint(f"lane{j}_cube", ALL_ROWS, 3) for j in range(WIDTH)),
    *(Constraint(f"lane{j}_pow7", ALL_ROWS, 3) for j in range(WIDTH)),
    *(Constraint(f"previous{j}", ROW, 1, 0) for j in range(DIGEST)),
    *(Constraint(f"commitment{j}", ROW, 1, -1) for j in range(DIGEST)),
)


def public_constants(pi: RecursivePublicInputs) -> tuple[int, ...]:
    """Previous then new commitment."""
    return (*pi.previous, *pi.commitment)


def is_valid_public_inputs(pi: Any) -> bool:
    """Two 8-felt commitments and two u64 labels."""
    return isinstance(pi, RecursivePublicInputs) and pi.is_well_typed()


def _external(x: Sequence[Any]) -> list[Any]:
    """M_E on generic elements (ints or extension elements)."""
    blocks = [
        [sum((p2.M4[r][c] * x[b + c] for c in range(4)), 0) for r in range(4)]
        for b in range(0, WIDTH, 4)
    ]
    sums = [sum((block[r] for block in blocks), 0) for r in range(4)]
    return [blocks[i // 4][i % 4] + sums[i % 4] for i in range(WIDTH)]


def _internal(x: Sequence[Any]) -> list[Any]:
    """M_I on generic elements."""
    total = sum(x, 0)
    return [total + p2.V16[i] * x[i] for i in range(WIDTH)]


def evaluate(cur: Sequence[Any], nxt: Sequence[Any], consts: Sequence[int]) -> list[Any]:
    """All constraint values at one point: cur = trace row then the 21 periodic values."""
    s, c, y = cur[S0 : S0 + WIDTH], cur[C0 : C0 + WIDTH], cur[Y0 : Y0 + WIDTH]
    per = cur[TRACE_WIDTH:]
    rc = per[RC0 : RC0 + WIDTH]
    after_lin, after_full = _external(s), _external(y)
    after_part = _internal([y[0], *s[1:]])
    steps = []
    for j in range(WIDTH):
        step = (
            per[LIN] * (nxt[j] - after_lin[j])
            + per[FULL] * (nxt[j] - after_full[j])
            + per[PART] * (nxt[j] - after_part[j])
            + per[COPY] * (nxt[j] - s[j])
        )
        steps.append(step + per[END] * (nxt[j] - s[j]) if j < DIGEST else step)
    cubes = [c[j] - (s[j] + rc[j]) * (s[j] + rc[j]) * (s[j] + rc[j]) for j in range(WIDTH)]
    pows = [y[j] - c[j] * c[j] * (s[j] + rc[j]) for j in range(WIDTH)]
    first = [s[j] - consts[j] for j in range(DIGEST)]
    last = [s[j] - consts[DIGEST + j] for j in range(DIGEST)]
    return steps + cubes + pows + first + last


@kernel
def _external_into(x: np.ndarray, out: np.ndarray) -> None:
    """out = M_E·x for int64 lanes in [0, p)."""
    sums = np.zeros(4, dtype=np.int64)
    for b in range(0, WIDTH, 4):
        for r in range(4):
            acc = np.int64(0)
            for c in range(4):
                acc += _M4[r, c] * x[b + c]
            out[b + r] = acc % P
            sums[r] += out[b + r]
    for i in range(WIDTH):
        out[i] = (out[i] + sums[i % 4]) % P


@kernel
def _internal_into(x: np.ndarray, out: np.ndarray) -> None:
    """out = M_I·x for int64 lanes in [0, p)."""
    total = np.int64(0)
    for i in range(WIDTH):
        total += x[i]
    total %= P
    for i in range(WIDTH):
        out[i] = (total + _V16[i] * x[i] % P) % P


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
    s, y, tmp = np.empty(WIDTH, np.int64), np.empty(WIDTH, np.int64), np.empty(WIDTH, np.int64)
    e_lin, e_full, e_part = (
        np.empty(WIDTH, np.int64),
        np.empty(WIDTH, np.int64),
        np.empty(WIDTH, np.int64),
    )
    for j in range(lo, hi):
        k, m = j - lo, nx[j]
        for i in range(WIDTH):
            s[i] = np.int64(T_[S0 + i, j])
            y[i] = np.int64(T_[Y0 + i, j])
        _external_into(s, e_lin)
        _external_into(y, e_full)
        tmp[:] = s
        tmp[0] = y[0]
        _internal_into(tmp, e_part)
        lin, full, part = np.int64(per[LIN, j]), np.int64(per[FULL, j]), np.int64(per[PART, j])
        copy, end = np.int64(per[COPY, j]), np.int64(per[END, j])
        for i in range(WIDTH):
            nxt = np.int64(T_[S0 + i, m])
            step = lin * ((nxt - e_lin[i]) % P) % P + full * ((nxt - e_full[i]) % P) % P
            step += part * ((nxt - e_part[i]) % P) % P + copy * ((nxt - s[i]) % P) % P
            if i < DIGEST:
                step += end * ((nxt - s[i]) % P) % P
            out[k, i] = step % P
            x = (s[i] + np.int64(per[RC0 + i, j])) % P
            cube = np.int64(T_[C0 + i, j])
            out[k, WIDTH + i] = (cube - x * x % P * x) % P
            out[k, 2 * WIDTH + i] = (y[i] - cube * cube % P * x) % P
        for i in range(DIGEST):
            out[k, 3 * WIDTH + i] = (s[i] - consts[i]) % P
            out[k, 3 * WIDTH + DIGEST + i] = (s[i] - consts[DIGEST + i]) % P


@kernel
def _fill(previous: np.ndarray, items: np.ndarray, out: np.ndarray) -> None:
    """Run the fold: one permutation per 32-row block, one round per row."""
    s, c, y = np.empty(WIDTH, np.int64), np.empty(WIDTH, np.int64), np.empty(WIDTH, np.int64)
    nxt, tmp = np.empty(WIDTH, np.int64), np.empty(WIDTH, np.int64)
    s[:DIGEST] = previous
    for b in range(items.shape[0]):
        s[DIGEST:] = items[b]
        for r in range(PERIOD):
            row = b * PERIOD + r
            for i in range(WIDTH):
                x = (s[i] + _SCHEDULE[RC0 + i, r]) % P
                c[i] = x * x % P * x % P
                y[i] = c[i] * c[i] % P * x % P
                out[S0 + i, row], out[C0 + i, row], out[Y0 + i, row] = s[i], c[i], y[i]
            if _SCHEDULE[LIN, r]:
                _external_into(s, nxt)
            elif _SCHEDULE[FULL, r]:
                _external_into(y, nxt)
            elif _SCHEDULE[PART, r]:
                tmp[:] = s
                tmp[0] = y[0]
                _internal_into(tmp, nxt)
            else:
                nxt[:] = s
            s[:] = nxt


def run_fold(previous: Sequence[int], items: Sequence[Sequence[int]], blocks: int) -> np.ndarray:
    """The (48, 32·blocks) trace of the fold over ``items`` padded with zero digests."""
    if not 0 <= len(items) <= blocks:
        raise WitnessError(f"recursive: {len(items)} items do not fit {blocks} blocks")
    padded = np.zeros((blocks, DIGEST), dtype=np.int64)
    for i, item in enumerate(items):
        padded[i] = [v % P for v in item]
    out = np.zeros((TRACE_WIDTH, blocks * PERIOD), dtype=np.int64)
    _fill(np.array([v % P for v in previous], dtype=np.int64), padded, out)
    return out


def build_trace(pi: RecursivePublicInputs, witness: RecursiveWitness, rows_log2: int) -> np.ndarray:
    """The (48, 2^rows_log2) trace; unused blocks fold zero digests."""
    return run_fold(pi.previous, witness.items, (1 << rows_log2) // PERIOD).astype(np.uint64)


def blocks_for(count: int) -> int:
    """Blocks (one per item) of the smallest trace holding ``count`` items."""
    return 1 << max(count - 1, 0).bit_length()


def make_statement(
    previous: Sequence[int], proof_digests: Sequence[bytes], height: int, blocks: int | None = None
) -> tuple[RecursivePublicInputs, RecursiveWitness]:
    """Fold 32-byte proof digests onto ``previous``: the new commitment and the witness."""
    items = tuple(p2.digest_to_felts(d) for d in proof_digests)
    blocks = blocks or blocks_for(len(items))
    trace = run_fold(previous, items, blocks)
    commitment = tuple(int(v) for v in trace[S0 : S0 + DIGEST, -1])
    prev = tuple(v % P for v in previous)
    pi = RecursivePublicInputs(prev, commitment, height, len(items))
    return pi, RecursiveWitness(items)


AIR = Air(
    name="recursive",
    circuit_id=5,
    columns=COLUMNS,
    constraints=CONSTRAINTS,
    public_inputs_type=RecursivePublicInputs,
    min_rows_log2=5,
    max_rows_log2=20,
    evaluate=evaluate,
    kernel=_kernel,
    public_constants=public_constants,
    is_valid_public_inputs=is_valid_public_inputs,
    build_trace=build_trace,
    witness_rows=lambda witness: PERIOD * blocks_for(len(witness.items)),
    description="Poseidon2 hash-chain fold of the block's proof digests, 32 rows each",
    periodic=PERIODIC,
)
