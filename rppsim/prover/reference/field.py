"""BabyBear and its quartic extension F_p[X]/(X⁴ − 11) (docs/proofs.md#field,
docs/proofs.md#tests-and-vectors).

Base elements are Python ints in [0, p); extension elements are :class:`Ext` values with
four base coordinates (a₀ + a₁X + a₂X² + a₃X³). Every verifier challenge lives in the
extension. Vectorised helpers work on ``uint64`` numpy arrays whose entries are < p, so a
product of two entries (< 2⁶²) never overflows.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np

P = 2013265921  # 15 · 2²⁷ + 1
GENERATOR = 31  # generates the multiplicative group
TWO_ADICITY = 27
ROOT_2_27 = 0x1A427A41  # 31^15, a primitive 2²⁷-th root of unity
W = 11  # X⁴ = W in the extension
INV2 = (P + 1) // 2
FROBENIUS = tuple(pow(W, i * (P - 1) // 4, P) for i in range(4))
FELT_BYTES = 4
EXT_BYTES = 16


def inv(a: int) -> int:
    """Inverse of a non-zero base element (Fermat)."""
    return pow(a, P - 2, P)


def root_of_unity(log_n: int) -> int:
    """A primitive 2^log_n-th root of unity, ω_{2^27}^(2^(27 − log_n))."""
    if not 0 <= log_n <= TWO_ADICITY:
        raise ValueError(f"no 2^{log_n}-th root of unity in BabyBear")
    return pow(ROOT_2_27, 1 << (TWO_ADICITY - log_n), P)


def bit_reverse(i: int, bits: int) -> int:
    """``i`` with its lowest ``bits`` bits reversed."""
    out = 0
    for _ in range(bits):
        out = (out << 1) | (i & 1)
        i >>= 1
    return out


class Ext:
    """An element of F_p[X]/(X⁴ − 11); mixes with ints (base elements) in + − ×."""

    __slots__ = ("c",)

    def __init__(self, c0: int = 0, c1: int = 0, c2: int = 0, c3: int = 0) -> None:
        self.c = (c0 % P, c1 % P, c2 % P, c3 % P)

    @classmethod
    def lift(cls, value: Ext | int) -> Ext:
        """``value`` as an extension element."""
        return value if isinstance(value, Ext) else cls(value)

    @classmethod
    def basis(cls, i: int) -> Ext:
        """The basis element X^i, i in 0..3."""
        coords = [0, 0, 0, 0]
        coords[i] = 1
        return cls(*coords)

    def __add__(self, other: Ext | int) -> Ext:
        o = Ext.lift(other).c
        a = self.c
        return Ext(a[0] + o[0], a[1] + o[1], a[2] + o[2], a[3] + o[3])

    __radd__ = __add__

    def __neg__(self) -> Ext:
        a = self.c
        return Ext(-a[0], -a[1], -a[2], -a[3])

    def __sub__(self, other: Ext | int) -> Ext:
        return self + (-Ext.lift(other))

    def __rsub__(self, other: Ext | int) -> Ext:
        return Ext.lift(other) - self

    def __mul__(self, other: Ext | int) -> Ext:
        if isinstance(other, int):
            a = self.c
            return Ext(a[0] * other, a[1] * other, a[2] * other, a[3] * other)
        a0, a1, a2, a3 = self.c
        b0, b1, b2, b3 = other.c
        return Ext(
            a0 * b0 + W * (a1 * b3 + a2 * b2 + a3 * b1),
            a0 * b1 + a1 * b0 + W * (a2 * b3 + a3 * b2),
            a0 * b2 + a1 * b1 + a2 * b0 + W * (a3 * b3),
            a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0,
        )

    __rmul__ = __mul__

    def __pow__(self, exponent: int) -> Ext:
        result, base = Ext(1), self
        while exponent:
            if exponent & 1:
                result = result * base
            base = base * base
            exponent >>= 1
        return result

    def frobenius(self) -> Ext:
        """self^p: coordinate i times W^(i(p−1)/4), since X^p = X·(X⁴)^((p−1)/4)."""
        return Ext(*(c * f for c, f in zip(self.c, FROBENIUS, strict=True)))

    def inverse(self) -> Ext:
        """a⁻¹ = a(−X)·c̄ / N, with c = a(X)a(−X) ∈ F_p[X²] and N = c·c̄ ∈ F_p."""
        a0, a1, a2, a3 = self.c
        conj = Ext(a0, -a1, a2, -a3)
        c = self * conj
        c0, c2 = c.c[0], c.c[2]
        norm = (c0 * c0 - W * c2 * c2) % P
        if norm == 0:
            raise ZeroDivisionError("inverse of zero in the extension field")
        return conj * Ext(c0, 0, -c2, 0) * inv(norm)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, int):
            return self.c == (other % P, 0, 0, 0)
        return isinstance(other, Ext) and self.c == other.c

    def __hash__(self) -> int:
        return hash(self.c)

    def __repr__(self) -> str:
        return f"Ext{self.c}"

    def is_base(self) -> bool:
        """True when the element lies in the base field."""
        return self.c[1] == self.c[2] == self.c[3] == 0

    def to_bytes(self) -> bytes:
        """Four canonical u32 LE coordinates (docs/proofs.md#hashing-and-encoding)."""
        return b"".join(x.to_bytes(4, "little") for x in self.c)


def ext_mul_tuple(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Ext product on plain coordinate tuples (the verifier's hot path; same formula)."""
    a0, a1, a2, a3 = a
    b0, b1, b2, b3 = b
    return (
        (a0 * b0 + W * (a1 * b3 + a2 * b2 + a3 * b1)) % P,
        (a0 * b1 + a1 * b0 + W * (a2 * b3 + a3 * b2)) % P,
        (a0 * b2 + a1 * b1 + a2 * b0 + W * (a3 * b3)) % P,
        (a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0) % P,
    )


def exts_to_bytes(values: Iterable[Ext]) -> bytes:
    """Canonical bytes of extension elements: 16 bytes each."""
    return b"".join(v.to_bytes() for v in values)


# ---- vectorised base-field helpers (uint64 arrays with entries < p) ----

P64 = np.uint64(P)


def vmul(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """Elementwise product mod p (``b`` an array or a base element)."""
    return a * (np.uint64(b) if isinstance(b, int) else b) % P64


def vadd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise sum mod p."""
    return (a + b) % P64


def vsub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise difference mod p."""
    return (a + (P64 - b)) % P64


def vpow(a: np.ndarray, exponent: int) -> np.ndarray:
    """Elementwise a^exponent mod p by square-and-multiply over the whole array."""
    result = np.ones_like(a, dtype=np.uint64)
    base = np.asarray(a, dtype=np.uint64) % P64
    while exponent:
        if exponent & 1:
            result = result * base % P64
        base = base * base % P64
        exponent >>= 1
    return result


def vinv(a: np.ndarray) -> np.ndarray:
    """Elementwise inverse of non-zero entries."""
    return vpow(a, P - 2)


def powers(base: int, count: int) -> np.ndarray:
    """[1, base, base², …] of length ``count`` (doubling, vectorised)."""
    out = np.ones(max(count, 1), dtype=np.uint64)
    filled, step = 1, base % P
    while filled < count:
        take = min(filled, count - filled)
        out[filled : filled + take] = out[:take] * np.uint64(step) % P64
        filled += take
        step = step * step % P
    return out[:count]


@lru_cache(maxsize=64)
def bit_reverse_indices(log_n: int) -> np.ndarray:
    """The permutation i ↦ rev(i) on log_n bits, as a read-only int64 array (cached)."""
    n = 1 << log_n
    rev = np.zeros(n, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    for bit in range(log_n):
        rev |= ((idx >> bit) & 1) << (log_n - 1 - bit)
    rev.setflags(write=False)
    return rev


# ---- vectorised extension arrays: shape (4, m), coordinate-major ----


def ext_array(value: Ext, count: int) -> np.ndarray:
    """A (4, count) array holding ``value`` everywhere."""
    return np.tile(np.array(value.c, dtype=np.uint64)[:, None], (1, count))


def ext_vmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise product of two (4, m) extension arrays."""
    a0, a1, a2, a3 = a
    b0, b1, b2, b3 = b

    def dot(*pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        acc = np.zeros(a.shape[1], dtype=np.uint64)
        for x, y in pairs:
            acc = (acc + x * y % P64) % P64
        return acc

    w = np.uint64(W)
    return np.stack(
        [
            (dot((a0, b0)) + w * dot((a1, b3), (a2, b2), (a3, b1))) % P64,
            (dot((a0, b1), (a1, b0)) + w * dot((a2, b3), (a3, b2))) % P64,
            (dot((a0, b2), (a1, b1), (a2, b0)) + w * dot((a3, b3))) % P64,
            dot((a0, b3), (a1, b2), (a2, b1), (a3, b0)),
        ]
    )


def ext_vscale(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(4, m) extension array times a (m,) base array, elementwise."""
    return a * b[None, :] % P64


def ext_vinv(a: np.ndarray) -> np.ndarray:
    """Elementwise inverse of a (4, m) extension array (same formula as Ext.inverse)."""
    zero = np.zeros_like(a[0])
    conj = np.stack([a[0], vsub(zero, a[1]), a[2], vsub(zero, a[3])])
    c = ext_vmul(a, conj)
    norm = vsub(c[0] * c[0] % P64, np.uint64(W) * (c[2] * c[2] % P64) % P64)
    cbar = np.stack([c[0], zero, vsub(zero, c[2]), zero])
    return ext_vscale(ext_vmul(conj, cbar), vinv(norm))


def ext_from_array(a: np.ndarray, i: int) -> Ext:
    """Element ``i`` of a (4, m) extension array."""
    return Ext(int(a[0, i]), int(a[1, i]), int(a[2, i]), int(a[3, i]))
