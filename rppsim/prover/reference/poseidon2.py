"""Poseidon2 over BabyBear, width 16: the hash the AIRs can prove
(docs/proofs.md#poseidon2-and-plonky3, docs/proofs.md#circuits).

Structure as in Plonky3's Poseidon2 (docs/proofs.md#poseidon2-and-plonky3): an initial external
linear
layer, 4 full rounds, 13 partial rounds, 4 full rounds; S-box x⁷ (7 ∤ p − 1, so it is a
permutation). External layer: the 4×4 matrix [[2,3,1,1],[1,2,3,1],[1,1,2,3],[3,1,1,2]] on
each block of four lanes, then each lane adds the sum of the same-index lanes of all
blocks. Internal layer: s_i ← Σ s + V_i·s_i with Plonky3's BabyBear diagonal V16.

The round constants are our own, derived by BLAKE2s(person="rps-p2rc")(round ‖ lane)
mod p (Plonky3's Horizon Labs constants are not reproduced here), so this instance is
not interoperable with other Poseidon2-BabyBear implementations; it is a Poseidon2
permutation with independent constants. Compression of two 8-element digests is the
truncated permutation (first 8 lanes of P(left ‖ right)), as Plonky3's Merkle trees use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from rppsim.prover.reference.field import P, inv

WIDTH = 16
DIGEST = 8
FULL_ROUNDS = 8
PARTIAL_ROUNDS = 13
ALPHA = 7
M4 = ((2, 3, 1, 1), (1, 2, 3, 1), (1, 1, 2, 3), (3, 1, 1, 2))
_HALF, _QUARTER, _EIGHTH = inv(2), inv(4), inv(8)
V16 = tuple(
    v % P
    for v in (
        -2, 1, 2, _HALF, 3, 4, -_HALF, -3, -4,
        inv(1 << 8), _QUARTER, _EIGHTH, inv(1 << 27), -inv(1 << 8), -inv(16), -inv(1 << 27),
    )
)  # fmt: skip
CONSTANT_PERSON = b"rps-p2rc"


def _constant(round_index: int, lane: int) -> int:
    """Round constant: BLAKE2s(person)(round u8 ‖ lane u8), first 8 bytes LE mod p."""
    digest = hashlib.blake2s(bytes([round_index, lane]), person=CONSTANT_PERSON).digest()
    return int.from_bytes(digest[:8], "little") % P


FULL_CONSTANTS = tuple(
    tuple(_constant(r, lane) for lane in range(WIDTH)) for r in range(FULL_ROUNDS)
)
PARTIAL_CONSTANTS = tuple(_constant(FULL_ROUNDS + r, 0) for r in range(PARTIAL_ROUNDS))


def sbox(x: int) -> int:
    """x⁷ mod p."""
    return pow(x, ALPHA, P)


def external_layer(state: Sequence[int]) -> list[int]:
    """M_E: M4 on each block of four lanes, plus the per-index sum over blocks."""
    blocks = []
    for b in range(0, WIDTH, 4):
        x = state[b : b + 4]
        blocks.append([sum(M4[r][c] * x[c] for c in range(4)) % P for r in range(4)])
    sums = [sum(block[r] for block in blocks) % P for r in range(4)]
    return [(blocks[i // 4][i % 4] + sums[i % 4]) % P for i in range(WIDTH)]


def internal_layer(state: Sequence[int]) -> list[int]:
    """M_I: s_i ← Σ s + V_i·s_i."""
    total = sum(state) % P
    return [(total + V16[i] * state[i]) % P for i in range(WIDTH)]


def full_round(state: Sequence[int], constants: Sequence[int]) -> list[int]:
    """Add constants to every lane, S-box every lane, external layer."""
    return external_layer([sbox((s + c) % P) for s, c in zip(state, constants, strict=True)])


def partial_round(state: Sequence[int], constant: int) -> list[int]:
    """Add the constant to lane 0, S-box lane 0, internal layer."""
    return internal_layer([sbox((state[0] + constant) % P), *state[1:]])


def permute(state: Sequence[int]) -> list[int]:
    """The Poseidon2 permutation of 16 field elements."""
    if len(state) != WIDTH:
        raise ValueError(f"Poseidon2 state has {WIDTH} lanes")
    s = external_layer([v % P for v in state])
    half = FULL_ROUNDS // 2
    for r in range(half):
        s = full_round(s, FULL_CONSTANTS[r])
    for r in range(PARTIAL_ROUNDS):
        s = partial_round(s, PARTIAL_CONSTANTS[r])
    for r in range(half, FULL_ROUNDS):
        s = full_round(s, FULL_CONSTANTS[r])
    return s


def compress(left: Sequence[int], right: Sequence[int]) -> tuple[int, ...]:
    """Two 8-element digests → one: the first 8 lanes of P(left ‖ right)."""
    return tuple(permute([*left, *right])[:DIGEST])


def fold(previous: Sequence[int], items: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """acc₀ = previous; acc_(i+1) = compress(acc_i, item_i) (the recursive hash chain)."""
    acc = tuple(previous)
    for item in items:
        acc = compress(acc, item)
    return acc


def digest_to_felts(digest: bytes) -> tuple[int, ...]:
    """A 32-byte digest as 8 field elements (each LE u32 reduced mod p)."""
    if len(digest) != 32:
        raise ValueError("expected a 32-byte digest")
    return tuple(int.from_bytes(digest[i : i + 4], "little") % P for i in range(0, 32, 4))
