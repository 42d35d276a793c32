"""The chain's VRF input and its digests (docs/protocol.md#vrf-input).

The VRF signs the 32-byte digest of ``PoseidonVrfInput``. The nightly build's digest is a
Poseidon sponge over Goldilocks (docs/architecture.md#departures-from-the-chain uses it); the
default build's is a SHA-256 stub.

The sponge runs as one serial numba kernel over uint64 (integers only, compiled lazily on first
call and cached on disk); the plain spec permutation and a pure-Python sparse one stay as oracles.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar, cast

import numpy as np
from numba import njit

__all__ = [
    "GOLDILOCKS_P",
    "PoseidonVrfInput",
    "compute_field_element",
    "compute_poseidon_hash",
    "compute_poseidon_permutation",
    "compute_poseidon_permutation_spec",
    "compute_stub_digest",
    "compute_vrf_input_digest",
    "derive_tier_seed",
]

GOLDILOCKS_P = 2**64 - 2**32 + 1
WIDTH = 3
RATE = 2
FULL_ROUNDS = 8  # rounds 0-3 and 61-64
PARTIAL_ROUNDS = 57
VRF_DOMAIN = b"chain.vrf.poseidon"
TIER_SEED_DOMAIN = b"chain.vrf.tier_seed"
_U64_MAX = 2**64 - 1
_HEX_DIGITS = frozenset(string.hexdigits)
_Row = tuple[int, ...]
_Matrix = tuple[_Row, ...]


def _blake2s(data: bytes) -> bytes:
    return hashlib.blake2s(data, digest_size=32).digest()


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


@dataclass(frozen=True, slots=True)
class PoseidonVrfInput:
    """(last_block_header[32], epoch u64, tier_seed[32]) (docs/protocol.md#vrf-input)."""

    last_block_header: bytes
    epoch: int
    tier_seed: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.last_block_header, bytes) or len(self.last_block_header) != 32:
            raise ValueError("last_block_header must be 32 bytes")
        if not isinstance(self.tier_seed, bytes) or len(self.tier_seed) != 32:
            raise ValueError("tier_seed must be 32 bytes")
        if not isinstance(self.epoch, int) or not 0 <= self.epoch <= _U64_MAX:
            raise ValueError("epoch must be a u64")

    def to_bytes(self) -> bytes:
        """Canonical 72 bytes: header ‖ epoch u64 big-endian ‖ tier seed."""
        return self.last_block_header + _u64(self.epoch) + self.tier_seed

    @classmethod
    def from_bytes(cls, data: bytes) -> PoseidonVrfInput:
        """Inverse of ``to_bytes``; ValueError unless exactly 72 bytes."""
        if len(data) != 72:
            raise ValueError("a PoseidonVrfInput encoding is 72 bytes")
        return cls(bytes(data[:32]), int.from_bytes(data[32:40], "big"), bytes(data[40:]))

    def elements(self) -> tuple[bytes, bytes, bytes, bytes]:
        """The four sponge elements in order: domain, header, epoch u64 BE, tier seed."""
        return (VRF_DOMAIN, self.last_block_header, _u64(self.epoch), self.tier_seed)


def compute_field_element(data: bytes) -> int:
    """The big-endian integer of the bytes, mod p (docs/protocol.md#vrf-input)."""
    return int.from_bytes(data, "big") % GOLDILOCKS_P


def _compute_round_constants() -> _Matrix:
    """Round constant (r, i) = BLAKE2s("STWO_POSEIDON_RC" ‖ r ‖ i) mod p
    (docs/protocol.md#vrf-input)."""
    return tuple(
        tuple(
            compute_field_element(_blake2s(b"STWO_POSEIDON_RC" + _u64(r) + _u64(i)))
            for i in range(WIDTH)
        )
        for r in range(FULL_ROUNDS + PARTIAL_ROUNDS)
    )


def _determinant(m: Sequence[Sequence[int]]) -> int:
    minors = (
        m[1][1] * m[2][2] - m[1][2] * m[2][1],
        m[1][0] * m[2][2] - m[1][2] * m[2][0],
        m[1][0] * m[2][1] - m[1][1] * m[2][0],
    )
    return (m[0][0] * minors[0] - m[0][1] * minors[1] + m[0][2] * minors[2]) % GOLDILOCKS_P


def _compute_mds() -> _Matrix:
    """MDS (row, col) = BLAKE2s("STWO_POSEIDON_MDS" ‖ attempt ‖ row ‖ col) mod p, first
    attempt with a non-zero determinant (docs/protocol.md#vrf-input)."""
    attempt = 0
    while True:
        mds = tuple(
            tuple(
                compute_field_element(
                    _blake2s(b"STWO_POSEIDON_MDS" + _u64(attempt) + _u64(row) + _u64(col))
                )
                for col in range(WIDTH)
            )
            for row in range(WIDTH)
        )
        if _determinant(mds) != 0:
            return mds
        attempt += 1


ROUND_CONSTANTS = _compute_round_constants()
MDS = _compute_mds()


def compute_poseidon_permutation_spec(state: Sequence[int]) -> tuple[int, int, int]:
    """Width-3 Poseidon as the spec states it: per round add constants, x^5 (every lane in
    rounds 0-3 and 61-64, lane 0 otherwise), MDS (docs/protocol.md#vrf-input)."""
    p = GOLDILOCKS_P
    s = list(state)
    for r, constants in enumerate(ROUND_CONSTANTS):
        s = [(x + c) % p for x, c in zip(s, constants, strict=True)]
        full = r < FULL_ROUNDS // 2 or r >= FULL_ROUNDS // 2 + PARTIAL_ROUNDS
        s = [pow(x, 5, p) if full or i == 0 else x for i, x in enumerate(s)]
        s = [sum(m * x for m, x in zip(row, s, strict=True)) % p for row in MDS]
    return s[0], s[1], s[2]


def _mat_mul(a: _Matrix, b: _Matrix) -> _Matrix:
    p = GOLDILOCKS_P
    return tuple(
        tuple(sum(a[i][k] * b[k][j] for k in range(WIDTH)) % p for j in range(WIDTH))
        for i in range(WIDTH)
    )


def _compute_fast_rounds() -> tuple[_Matrix, _Matrix, _Matrix]:
    """Constants and matrices for partial rounds that add to lane 0 only and mix sparsely.

    Lane-1/2 constants of a partial round pass the S-box unchanged, so they are carried through
    the MDS into the next round and finally into round 61's constants. Each MDS A = Q·P with
    P = diag(1, A11) commuting with a lane-0 S-box and Q = [[a00, a_v·A11⁻¹], [a_w, I]] sparse;
    P is pushed into the round before, so round 3 ends with a dense P·MDS.
    """
    p = GOLDILOCKS_P
    half = FULL_ROUNDS // 2
    constants = [list(c) for c in ROUND_CONSTANTS]
    carry = [0, 0, 0]
    for r in range(half, half + PARTIAL_ROUNDS):
        d = [(c + k) % p for c, k in zip(constants[r], carry, strict=True)]
        constants[r] = [d[0], 0, 0]
        carry = [(row[1] * d[1] + row[2] * d[2]) % p for row in MDS]
    constants[half + PARTIAL_ROUNDS] = [
        (c + k) % p for c, k in zip(constants[half + PARTIAL_ROUNDS], carry, strict=True)
    ]
    sparse: list[_Row] = []
    a = MDS
    for _ in range(PARTIAL_ROUNDS):
        (a00, a01, a02), (a10, a11, a12), (a20, a21, a22) = a
        det = (a11 * a22 - a12 * a21) % p
        if det == 0:
            raise ArithmeticError("Poseidon MDS lower block is singular")
        inv = pow(det, -1, p)
        v1 = (a01 * a22 - a02 * a21) * inv % p  # (a01, a02) · A11⁻¹
        v2 = (a02 * a11 - a01 * a12) * inv % p
        sparse.append((a00, v1, v2, a10, a20))
        a = _mat_mul(((1, 0, 0), (0, a11, a12), (0, a21, a22)), MDS)
    sparse.reverse()
    partial = tuple((constants[half + r][0], *sparse[r]) for r in range(PARTIAL_ROUNDS))
    full = tuple(tuple(c) for c in constants[:half] + constants[half + PARTIAL_ROUNDS :])
    return partial, a, full


_PARTIAL, _MDS_INTO_PARTIAL, _FULL_CONSTANTS = _compute_fast_rounds()
_FIRST_FULL = _FULL_CONSTANTS[: FULL_ROUNDS // 2]
_LAST_FULL = _FULL_CONSTANTS[FULL_ROUNDS // 2 :]


def _full_round(s: tuple[int, int, int], c: Sequence[int], m: _Matrix) -> tuple[int, int, int]:
    p = GOLDILOCKS_P
    a, b, d = pow(s[0] + c[0], 5, p), pow(s[1] + c[1], 5, p), pow(s[2] + c[2], 5, p)
    return (
        (m[0][0] * a + m[0][1] * b + m[0][2] * d) % p,
        (m[1][0] * a + m[1][1] * b + m[1][2] * d) % p,
        (m[2][0] * a + m[2][1] * b + m[2][2] * d) % p,
    )


def _compute_poseidon_permutation_python(state: Sequence[int]) -> tuple[int, int, int]:
    """Pure-Python sparse-round permutation of docs/protocol.md#vrf-input (the oracle the numba
    kernel is tested on)."""
    p = GOLDILOCKS_P
    s = (state[0], state[1], state[2])
    for i, c in enumerate(_FIRST_FULL):
        s = _full_round(s, c, _MDS_INTO_PARTIAL if i == len(_FIRST_FULL) - 1 else MDS)
    s0, s1, s2 = s
    for c0, q00, v1, v2, w1, w2 in _PARTIAL:
        a = pow(s0 + c0, 5, p)
        # Lanes 1 and 2 only accumulate (< 2^135 after 57 rounds): reduce them once at the end.
        s0, s1, s2 = (q00 * a + v1 * s1 + v2 * s2) % p, w1 * a + s1, w2 * a + s2
    s = (s0, s1 % p, s2 % p)
    for c in _LAST_FULL:
        s = _full_round(s, c, MDS)
    return s


# numba kernels (docs/protocol.md#vrf-input). Every constant is a np.uint64 so no expression mixes
# signed and unsigned integers (numba would turn that into a float); uint64 arithmetic wraps.
_JIT_OPTIONS: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "fastmath": False,
    "error_model": "numpy",
}
_P = np.uint64(GOLDILOCKS_P)
_EPSILON = np.uint64(2**32 - 1)  # 2^64 mod p
_MASK32 = np.uint64(2**32 - 1)
_SHIFT32 = np.uint64(32)
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_HALF = FULL_ROUNDS // 2
_FULL_C = np.array(_FULL_CONSTANTS, dtype=np.uint64)  # (8, 3)
_FULL_M = np.array(  # (8, 3, 3): round 3 mixes with P·MDS into the sparse partial rounds
    [MDS] * (_HALF - 1) + [_MDS_INTO_PARTIAL] + [MDS] * _HALF, dtype=np.uint64
)
_PARTIAL_U64 = np.array(_PARTIAL, dtype=np.uint64)  # (57, 6): c0, q00, v1, v2, w1, w2


_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(func: _F) -> _F:
    """``njit(**_JIT_OPTIONS)``, typed as keeping ``func``'s signature (numba's is untyped)."""
    return cast(_F, njit(**_JIT_OPTIONS)(func))


@_jit
def _add_mod(a: np.uint64, b: np.uint64) -> np.uint64:
    """a + b mod p for a, b < p, never leaving 64 bits."""
    t = _P - b
    return a - t if a >= t else a + b


@_jit
def _reduce_u128(hi: np.uint64, lo: np.uint64) -> np.uint64:
    """hi·2^64 + lo mod p, canonical, by 2^64 ≡ 2^32 − 1 and 2^96 ≡ −1 (mod p)."""
    hi_hi = hi >> _SHIFT32
    hi_lo = hi & _MASK32
    t0 = lo - hi_hi
    if lo < hi_hi:  # the wrap added 2^64 ≡ ε: take ε off (t0 ≥ 2^64 − 2^32 + 1 here)
        t0 -= _EPSILON
    t1 = hi_lo * _EPSILON  # < 2^64
    t2 = t0 + t1
    if t2 < t1:  # the wrap dropped 2^64 ≡ ε: add it back (t2 < t1 < 2^64 − ε)
        t2 += _EPSILON
    return t2 - _P if t2 >= _P else t2


@_jit
def _mul_mod(a: np.uint64, b: np.uint64) -> np.uint64:
    """a·b mod p for any a, b < 2^64: the 128-bit product from 32-bit halves, then reduced."""
    a_lo, a_hi = a & _MASK32, a >> _SHIFT32
    b_lo, b_hi = b & _MASK32, b >> _SHIFT32
    ll = a_lo * b_lo
    mid = a_lo * b_hi + (ll >> _SHIFT32)  # ≤ (2^32 − 1)^2 + 2^32 − 1 < 2^64
    mid2 = (mid & _MASK32) + a_hi * b_lo  # same bound
    lo = (mid2 << _SHIFT32) | (ll & _MASK32)
    hi = a_hi * b_hi + (mid >> _SHIFT32) + (mid2 >> _SHIFT32)
    return _reduce_u128(hi, lo)


@_jit
def _sbox(x: np.uint64) -> np.uint64:
    """x^5 mod p."""
    x2 = _mul_mod(x, x)
    return _mul_mod(_mul_mod(x2, x2), x)


@_jit
def _dot3(row: np.ndarray, a: np.uint64, b: np.uint64, d: np.uint64) -> np.uint64:
    """row · (a, b, d) mod p."""
    return _add_mod(_add_mod(_mul_mod(row[0], a), _mul_mod(row[1], b)), _mul_mod(row[2], d))


@_jit
def _full_round_kernel(
    s0: np.uint64, s1: np.uint64, s2: np.uint64, r: int
) -> tuple[np.uint64, np.uint64, np.uint64]:
    """Full round r of the fast schedule: add constants, x^5 on every lane, dense mix."""
    c, m = _FULL_C[r], _FULL_M[r]
    a, b, d = _sbox(_add_mod(s0, c[0])), _sbox(_add_mod(s1, c[1])), _sbox(_add_mod(s2, c[2]))
    return _dot3(m[0], a, b, d), _dot3(m[1], a, b, d), _dot3(m[2], a, b, d)


@_jit
def _permute_kernel(
    s0: np.uint64, s1: np.uint64, s2: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64]:
    """The permutation of docs/protocol.md#vrf-input on reduced lanes, sparse partial rounds reduced
    every step."""
    for r in range(_HALF):
        s0, s1, s2 = _full_round_kernel(s0, s1, s2, r)
    for r in range(PARTIAL_ROUNDS):
        c0, q00, v1, v2, w1, w2 = _PARTIAL_U64[r]
        a = _sbox(_add_mod(s0, c0))
        s0, s1, s2 = (
            _add_mod(_add_mod(_mul_mod(q00, a), _mul_mod(v1, s1)), _mul_mod(v2, s2)),
            _add_mod(_mul_mod(w1, a), s1),
            _add_mod(_mul_mod(w2, a), s2),
        )
    for r in range(_HALF, FULL_ROUNDS):
        s0, s1, s2 = _full_round_kernel(s0, s1, s2, r)
    return s0, s1, s2


@_jit
def _permute_lanes_kernel(lanes: np.ndarray) -> tuple[np.uint64, np.uint64, np.uint64]:
    """The permutation of three reduced lanes given as a uint64 array (one typed entry point)."""
    return _permute_kernel(lanes[0], lanes[1], lanes[2])


@_jit
def _hash_kernel(elements: np.ndarray) -> np.uint64:
    """The rate-2 sponge of docs/protocol.md#vrf-input over reduced elements, squeezing lane 0."""
    s0, s1, s2 = _ZERO, _ZERO, _ZERO
    pos = 0
    for e in elements:
        if pos == 0:
            s0 = _add_mod(s0, e)
        else:
            s1 = _add_mod(s1, e)
        pos += 1
        if pos == RATE:
            s0, s1, s2 = _permute_kernel(s0, s1, s2)
            pos = 0
    # Finish: the chain permutes first when pos == RATE; absorb has already done so here.
    if pos == 0:
        s0 = _add_mod(s0, _ONE)
    else:
        s1 = _add_mod(s1, _ONE)
    return _permute_kernel(s0, s1, s2)[0]


def compute_poseidon_permutation(state: Sequence[int]) -> tuple[int, int, int]:
    """The Poseidon permutation of docs/protocol.md#vrf-input (numba kernel; equal to the _spec
    one). Lanes are
    reduced mod p first."""
    p = GOLDILOCKS_P
    lanes = np.array((state[0] % p, state[1] % p, state[2] % p), dtype=np.uint64)
    s0, s1, s2 = _permute_lanes_kernel(lanes)
    return int(s0), int(s1), int(s2)


def compute_poseidon_hash(elements: Sequence[int]) -> int:
    """Sponge of rate 2, capacity 1: absorb, finish with a 1 at the position, squeeze
    (docs/protocol.md#vrf-input).

    One numba call per hash; elements are reduced mod p first."""
    reduced = np.array([e % GOLDILOCKS_P for e in elements], dtype=np.uint64)
    return int(_hash_kernel(reduced))


@lru_cache(maxsize=2**12)
def compute_vrf_input_digest(inp: PoseidonVrfInput) -> bytes:
    """The nightly build's Poseidon digest of the input, 32 bytes big-endian
    (docs/protocol.md#vrf-input).

    Memoized (bounded LRU) by the input: every verifier recomputes each submission's digest.
    """
    elements = [compute_field_element(e) for e in inp.elements()]
    return compute_poseidon_hash(elements).to_bytes(32, "big")


def compute_stub_digest(inp: PoseidonVrfInput) -> bytes:
    """The default build's stub: SHA-256 of the elements, each left-padded to 32 bytes
    (docs/protocol.md#vrf-input)."""
    blocks = (e[-32:].rjust(32, b"\x00") for e in inp.elements())
    return hashlib.sha256(b"".join(blocks)).digest()


def derive_tier_seed(address: str, hours: int) -> bytes:
    """BLAKE2s("chain.vrf.tier_seed" ‖ addr32 ‖ hours u64 BE) (docs/protocol.md#vrf-input).

    addr32 is the decoded address if it is 64 hex digits, else BLAKE2s of its UTF-8 bytes.
    """
    if not 0 <= hours <= _U64_MAX:
        raise ValueError("hours must be a u64")
    if len(address) == 64 and _HEX_DIGITS.issuperset(address):
        addr32 = bytes.fromhex(address)
    else:
        addr32 = _blake2s(address.encode("utf-8"))
    return _blake2s(TIER_SEED_DOMAIN + addr32 + _u64(hours))
