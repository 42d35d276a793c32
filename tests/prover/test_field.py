"""BabyBear and its quartic extension (docs/proofs.md#field, docs/proofs.md#tests-and-vectors known
answers)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.prover.fast import field as fast
from rppsim.prover.reference import field as ref
from rppsim.prover.reference.field import Ext, P

felts = st.integers(min_value=0, max_value=P - 1)
exts = st.tuples(felts, felts, felts, felts).map(lambda c: Ext(*c))


def test_babybear_constants():
    """p = 15·2^27 + 1, 31 generates F_p^*, ω_(2^27) = 31^15 = 0x1a427a41 of exact order 2^27."""
    assert P == 15 * 2**27 + 1 == 2013265921
    for q in (2, 3, 5):  # p − 1 = 2^27 · 3 · 5
        assert pow(31, (P - 1) // q, P) != 1
    assert ref.ROOT_2_27 == pow(31, 15, P) == 0x1A427A41
    assert pow(ref.ROOT_2_27, 2**27, P) == 1
    assert pow(ref.ROOT_2_27, 2**26, P) == P - 1


def test_roots_of_unity_have_their_order():
    """root_of_unity(k) has order exactly 2^k."""
    for k in range(0, 28):
        w = ref.root_of_unity(k)
        assert pow(w, 1 << k, P) == 1
        if k:
            assert pow(w, 1 << (k - 1), P) == P - 1


def test_extension_known_answers():
    """X⁴ = 11; (0, 0, 0, 124907976) generates the 2^29-torsion of the extension."""
    x = Ext.basis(1)
    assert x**4 == Ext(11)
    g = Ext(0, 0, 0, 124907976)
    assert g ** (2**29) == Ext(1)
    assert g ** (2**28) != Ext(1)


@settings(max_examples=60)
@given(exts, exts, exts)
def test_extension_field_axioms(a, b, c):
    """Commutative ring laws, and inverses for non-zero elements."""
    assert a * b == b * a
    assert (a * b) * c == a * (b * c)
    assert a * (b + c) == a * b + a * c
    assert a - a == Ext(0)
    if a != Ext(0):
        assert a * a.inverse() == Ext(1)


@settings(max_examples=40)
@given(exts)
def test_frobenius_is_pth_power(a):
    """frobenius(a) = a^p (used for the DEEP minimal polynomials)."""
    assert a.frobenius() == a**P


@settings(max_examples=40)
@given(st.lists(felts, min_size=1, max_size=40), st.lists(felts, min_size=1, max_size=40))
def test_vectorised_base_ops(xs, ys):
    """vmul/vadd/vsub/vinv agree with scalar arithmetic."""
    n = min(len(xs), len(ys))
    a = np.array(xs[:n], dtype=np.uint64)
    b = np.array(ys[:n], dtype=np.uint64)
    assert ref.vmul(a, b).tolist() == [x * y % P for x, y in zip(xs, ys, strict=False)]
    assert ref.vadd(a, b).tolist() == [(x + y) % P for x, y in zip(xs, ys, strict=False)]
    assert ref.vsub(a, b).tolist() == [(x - y) % P for x, y in zip(xs, ys, strict=False)]
    nonzero = a[a != 0]
    assert (ref.vmul(ref.vinv(nonzero), nonzero) == 1).all()


@settings(max_examples=30)
@given(st.lists(st.tuples(exts, exts), min_size=1, max_size=12))
def test_vectorised_extension_ops(pairs):
    """ext_vmul/ext_vinv agree with Ext, coordinate by coordinate."""
    a = np.array([p[0].c for p in pairs], dtype=np.uint64).T.copy()
    b = np.array([p[1].c for p in pairs], dtype=np.uint64).T.copy()
    product = ref.ext_vmul(a, b)
    for i, (x, y) in enumerate(pairs):
        assert ref.ext_from_array(product, i) == x * y
    nonzero = [i for i, (x, _) in enumerate(pairs) if x != Ext(0)]
    inverse = ref.ext_vinv(a[:, nonzero])
    for j, i in enumerate(nonzero):
        assert ref.ext_from_array(inverse, j) == pairs[i][0].inverse()


@settings(max_examples=30)
@given(exts, exts)
def test_numba_extension_matches_reference(a, b):
    """The numba ext_mul/mont_mul equal the reference formulas."""
    prod = fast.ext_mul(*(np.uint64(v) for v in (*a.c, *b.c)))
    assert tuple(int(v) for v in prod) == (a * b).c
    assert tuple(int(v) for v in ref.ext_mul_tuple(a.c, b.c)) == (a * b).c
    r = (1 << 32) % P
    assert int(fast.mont_mul(np.uint64(a.c[0]), np.uint64(b.c[0] * r % P))) == a.c[0] * b.c[0] % P


def test_numba_batch_inverses():
    """Montgomery's trick in numba equals elementwise inversion."""
    rng = np.random.default_rng(3)
    values = rng.integers(1, P, size=33).astype(np.uint64)
    out = np.empty_like(values)
    fast.batch_inverse(values, out)
    assert (ref.vmul(values, out) == 1).all()


def test_powers_and_bit_reversal():
    """powers() is [b^i]; bit_reverse_indices is an involution matching bit_reverse."""
    assert ref.powers(7, 10).tolist() == [pow(7, i, P) for i in range(10)]
    rev = ref.bit_reverse_indices(5)
    assert sorted(rev.tolist()) == list(range(32))
    assert rev[rev].tolist() == list(range(32))
    assert [ref.bit_reverse(i, 5) for i in range(32)] == rev.tolist()
