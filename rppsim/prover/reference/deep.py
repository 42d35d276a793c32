"""The DEEP codeword, FRI's layer 0 (docs/proofs.md#protocol step 5).

DEEP(x) = [Σ_j γ^j (T_j(x) − T_j(z)) + Σ_m γ^(2w+m) (C_m(x) − C_m(z))] / (x − z)
        + [Σ_j γ^(w+j) (T_j(x) − T_j(ω·z))] / (x − ω·z)
with w trace columns T_j and 4Q composition columns C_m, over the whole LDE.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rppsim.prover.reference.field import P64, Ext, ext_vinv, ext_vmul


def linear_combination(columns: np.ndarray, coeffs: Sequence[Ext]) -> np.ndarray:
    """Σ_j coeffs_j·columns_j for base columns and extension coefficients: (4, m)."""
    out = np.zeros((4, columns.shape[1]), dtype=np.uint64)
    for column, coeff in zip(columns, coeffs, strict=True):
        for c in range(4):
            out[c] = (out[c] + column * np.uint64(coeff.c[c]) % P64) % P64
    return out


def scalar_combination(values: Sequence[Ext], coeffs: Sequence[Ext]) -> Ext:
    """Σ_j coeffs_j·values_j for extension values."""
    total = Ext(0)
    for value, coeff in zip(values, coeffs, strict=True):
        total = total + coeff * value
    return total


def sub_const(a: np.ndarray, value: Ext) -> np.ndarray:
    """a − value for a (4, m) extension array."""
    return (a + (P64 - np.array(value.c, dtype=np.uint64))[:, None]) % P64


def deep_coefficients(gamma: Ext, count: int) -> list[Ext]:
    """γ⁰ … γ^(count−1)."""
    out, power = [], Ext(1)
    for _ in range(count):
        out.append(power)
        power = power * gamma
    return out


def conjugate_polynomials(z: Ext) -> tuple[list[int], list[Ext]]:
    """(M_z, R_z) with M_z the minimal polynomial of z (base coefficients, low → high) and
    R_z = M_z/(t − z) (extension coefficients), so 1/(x − z) = R_z(x)/M_z(x) for base x."""
    poly, root = [Ext(1)], z
    for _ in range(4):  # roots z, z^p, z^(p²), z^(p³)
        shifted = [Ext(0), *poly]
        poly = [
            shifted[j] - root * (poly[j] if j < len(poly) else Ext(0)) for j in range(len(shifted))
        ]
        root = root.frobenius()
    if not all(c.is_base() for c in poly):
        raise ArithmeticError("minimal polynomial with extension coefficients")
    quotient = [Ext(0)] * 4  # synthetic division by (t − z)
    carry = Ext(0)
    for j in range(4, 0, -1):
        carry = poly[j] + carry * z
        quotient[j - 1] = carry
    return [c.c[0] for c in poly], quotient


def deep_codeword(
    trace_lde: np.ndarray,
    comp_lde: np.ndarray,
    ood: Sequence[Ext],
    z: Ext,
    zw: Ext,
    gamma: Ext,
    points: np.ndarray,
) -> np.ndarray:
    """DEEP(x) at every point of the LDE (same order as ``points``): (4, N)."""
    w, mc = trace_lde.shape[0], comp_lde.shape[0]
    g = deep_coefficients(gamma, 2 * w + mc)
    at_z, at_zw, comp_z = ood[:w], ood[w : 2 * w], ood[2 * w :]
    s1 = (linear_combination(trace_lde, g[:w]) + linear_combination(comp_lde, g[2 * w :])) % P64
    c1 = scalar_combination(at_z, g[:w]) + scalar_combination(comp_z, g[2 * w :])
    s2 = linear_combination(trace_lde, g[w : 2 * w])
    c2 = scalar_combination(at_zw, g[w : 2 * w])
    x = np.zeros((4, points.shape[0]), dtype=np.uint64)
    x[0] = points
    d1 = ext_vinv(sub_const(x, z))
    d2 = ext_vinv(sub_const(x, zw))
    return (ext_vmul(sub_const(s1, c1), d1) + ext_vmul(sub_const(s2, c2), d2)) % P64
