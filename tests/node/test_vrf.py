"""ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381): known answers, an independent slow reference of
the Edwards arithmetic as oracle, torsion handling, and rejection of malformed input."""

from __future__ import annotations

import hashlib
from functools import cache
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl import bindings
from nacl.signing import SigningKey

from rppsim.node import vrf

# RFC 9381 Appendix B.3, examples 16-18: (SK seed, PK, alpha, H, pi, beta). H is the
# intermediate encode_to_curve output listed with the examples.
RFC9381_B3 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "91bbed02a99461df1ad4c6564a5f5d829d0b90cfc7903e7a5797bd658abf3318",
        "8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f"
        "26f8a57ccaed74ee1b190bed1f479d9727d2d0f9b005a6e456a35d4fb0daab12"
        "68a1b0db10836d9826a528ca76567805",
        "90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff"
        "66b71dda49d2de59d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "5b659fc3d4e9263fd9a4ed1d022d75eaacc20df5e09f9ea937502396598dc551",
        "f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed593"
        "3bf0864a62558b3ed7f2fea45c92a465301b3bbf5e3e54ddf2d935be3b67926d"
        "a3ef39226bbc355bdc9850112c8f4b02",
        "eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb"
        "5e33821bc613efb94db5e5b54c70a848a0bef4553a41befc57663b56373a5031",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "bf4339376f5542811de615e3313d2b36f6f53c0acfebb482159711201192576a",
        "9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf80"
        "96bb474e53895c362d8628ee9f9ea3c0e52c7a5c691b6c18c9979866568add7a"
        "2d41b00b05081ed0f58ee5e31b3a970e",
        "645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c45"
        "2118fec1219202a0edcf038bb6373241578be7217ba85a2687f7a0310b2df19f",
    ),
]

# ---------------------------------------------------------------------------------------------
# Slow reference: RFC 8032 §5.1 / §6 edwards25519 arithmetic in extended coordinates, and the
# RFC 9381 §5 ECVRF steps written directly on it. No libsodium.
# ---------------------------------------------------------------------------------------------
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = b"\x01" + bytes(31)
Point = tuple[int, int, int, int]
ZERO: Point = (0, 1, 1, 0)


def ref_recover_x(y: int, sign: int) -> int | None:
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    return P - x if x & 1 != sign else x


def ref_decode(s: bytes) -> Point | None:
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    x = ref_recover_x(y & ((1 << 255) - 1), y >> 255)
    y &= (1 << 255) - 1
    return None if x is None else (x, y, 1, x * y % P)


def ref_encode(p: Point) -> bytes:
    zinv = pow(p[2], -1, P)
    x, y = p[0] * zinv % P, p[1] * zinv % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def ref_add(p: Point, q: Point) -> Point:
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = p[3] * 2 * D * q[3] % P
    d = p[2] * 2 * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def ref_neg(p: Point) -> Point:
    return (-p[0] % P, p[1], p[2], -p[3] % P)


def ref_mul(n: int, p: Point) -> Point:
    q = ZERO
    while n:
        if n & 1:
            q = ref_add(q, p)
        p, n = ref_add(p, p), n >> 1
    return q


BASE = ref_decode((4 * pow(5, -1, P) % P).to_bytes(32, "little"))
assert BASE is not None


def ref_encode_to_curve(pk: bytes, alpha: bytes) -> tuple[bytes, int]:
    for ctr in range(256):
        digest = hashlib.sha512(b"\x03\x01" + pk + alpha + bytes((ctr, 0))).digest()
        candidate = ref_decode(digest[:32])
        if candidate is not None and ref_encode(ref_mul(8, candidate)) != IDENTITY:
            return ref_encode(ref_mul(8, candidate)), ctr
    raise AssertionError("no point")


def ref_challenge(*points: bytes) -> bytes:
    return hashlib.sha512(b"\x03\x02" + b"".join(points) + b"\x00").digest()[:16]


def ref_secret_scalar(seed: bytes) -> tuple[int, bytes]:
    digest = hashlib.sha512(seed).digest()
    x = int.from_bytes(digest[:32], "little") & ~7 & ((1 << 254) - 1) | 1 << 254
    return x, digest


def ref_prove(seed: bytes, alpha: bytes) -> bytes:
    x, digest = ref_secret_scalar(seed)
    pk = ref_encode(ref_mul(x, BASE))
    h, _ = ref_encode_to_curve(pk, alpha)
    hp = ref_decode(h)
    assert hp is not None
    gamma = ref_encode(ref_mul(x, hp))
    k = int.from_bytes(hashlib.sha512(digest[32:] + h).digest(), "little") % L
    c = ref_challenge(pk, h, gamma, ref_encode(ref_mul(k, BASE)), ref_encode(ref_mul(k, hp)))
    s = (k + int.from_bytes(c, "little") * x) % L
    return gamma + c + s.to_bytes(32, "little")


def ref_verify(pk: bytes, alpha: bytes, pi: bytes, validate_key: bool = True) -> bytes | None:
    y, gamma = ref_decode(pk), ref_decode(pi[:32])
    s = int.from_bytes(pi[48:], "little")
    if y is None or gamma is None or len(pi) != 80 or s >= L:
        return None
    if validate_key and ref_encode(ref_mul(8, y)) == IDENTITY:
        return None
    c = int.from_bytes(pi[32:48], "little")
    h, _ = ref_encode_to_curve(pk, alpha)
    hp = ref_decode(h)
    assert hp is not None
    u = ref_add(ref_mul(s, BASE), ref_neg(ref_mul(c, y)))
    v = ref_add(ref_mul(s, hp), ref_neg(ref_mul(c, gamma)))
    if ref_challenge(pk, h, pi[:32], ref_encode(u), ref_encode(v)) != pi[32:48]:
        return None
    return hashlib.sha512(b"\x03\x03" + ref_encode(ref_mul(8, gamma)) + b"\x00").digest()


@cache
def torsion_points() -> tuple[Point, ...]:
    """The 8 points of order dividing 8, derived as multiples of L·Q for a mixed-order Q."""
    for i in count():
        q = ref_decode(hashlib.sha512(b"torsion" + bytes([i])).digest()[:32])
        if q is None:
            continue
        t = ref_mul(L, q)
        if ref_encode(ref_mul(4, t)) != IDENTITY:  # order exactly 8
            return tuple(ref_mul(i, t) for i in range(8))
    raise AssertionError("unreachable")


def forge_with_torsion(x: int, alpha: bytes, key_t: Point, gamma_t: Point) -> tuple[bytes, bytes]:
    """(pk, pi) that the RFC equations accept for Y = x·B + key_t, Gamma = x·H + gamma_t.

    The verifier's U and V pick up -c·key_t and -c·gamma_t; the nonce is ground until the
    challenge's residue mod 8 matches the guess baked into U and V.
    """
    pk = ref_encode(ref_add(ref_mul(x, BASE), key_t))
    h, _ = ref_encode_to_curve(pk, alpha)
    hp = ref_decode(h)
    assert hp is not None
    gamma = ref_encode(ref_add(ref_mul(x, hp), gamma_t))
    for k in count(1):
        k_base, k_h = ref_mul(k, BASE), ref_mul(k, hp)
        for t in range(8):
            u = ref_encode(ref_add(k_base, ref_neg(ref_mul(t, key_t))))
            v = ref_encode(ref_add(k_h, ref_neg(ref_mul(t, gamma_t))))
            c = ref_challenge(pk, h, gamma, u, v)
            if int.from_bytes(c, "little") % 8 == t:
                s = (k + int.from_bytes(c, "little") * x) % L
                return pk, gamma + c + s.to_bytes(32, "little")
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------------------
# Known answers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", RFC9381_B3)
def test_rfc9381_known_answers(vector: tuple[str, ...]):
    """prove, verify, proof_to_hash and encode_to_curve match RFC 9381 Appendix B.3."""
    seed, pk, alpha, h, pi, beta = vector
    secret, public_key = vrf.keypair(bytes.fromhex(seed))
    alpha_bytes = bytes.fromhex(alpha)
    assert public_key.hex() == pk
    encoded = vrf._encode_to_curve(public_key, alpha_bytes)
    assert encoded is not None and encoded[0].hex() == h
    assert vrf.prove(secret, alpha_bytes).hex() == pi
    assert vrf.proof_to_hash(bytes.fromhex(pi)).hex() == beta
    assert vrf.verify(public_key, alpha_bytes, bytes.fromhex(pi)) == bytes.fromhex(beta)
    assert vrf.randomness(bytes.fromhex(beta)) == int(beta[:64], 16)


def test_rfc9381_example_17_needs_a_second_candidate():
    """Example 17's first try-and-increment candidate does not decode; the reference agrees."""
    _, public_key = vrf.keypair(bytes.fromhex(RFC9381_B3[1][0]))
    assert vrf._encode_to_curve(public_key, b"\x72") == ref_encode_to_curve(public_key, b"\x72")
    assert ref_encode_to_curve(public_key, b"\x72")[1] == 1


def test_slow_reference_reproduces_the_known_answers():
    """The test oracle itself reproduces RFC 9381 B.3 (so agreeing with it means something)."""
    for seed, pk, alpha, _, pi, beta in RFC9381_B3:
        assert ref_prove(bytes.fromhex(seed), bytes.fromhex(alpha)).hex() == pi
        assert ref_verify(bytes.fromhex(pk), bytes.fromhex(alpha), bytes.fromhex(pi)) == (
            bytes.fromhex(beta)
        )


def test_keypair_is_rfc8032_ed25519():
    """The public key is the RFC 8032 Ed25519 key of the seed; the secret is seed ‖ pk."""
    seed = bytes(range(32))
    secret, public_key = vrf.keypair(seed)
    assert public_key == bytes(SigningKey(seed).verify_key)
    assert secret == seed + public_key


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33), "x" * 32, None])
def test_keypair_rejects_bad_seed(seed: object):
    with pytest.raises(ValueError, match="32 bytes"):
        vrf.keypair(seed)  # type: ignore[arg-type]


def test_prove_rejects_bad_secret():
    """A secret of the wrong length, or whose public half does not match the seed, is refused."""
    secret, _ = vrf.keypair(bytes(32))
    _, other_pk = vrf.keypair(bytes([1]) * 32)
    with pytest.raises(ValueError):
        vrf.prove(secret[:32], b"a")
    with pytest.raises(ValueError):
        vrf.prove(secret[:32] + other_pk, b"a")


def test_randomness_rejects_bad_length():
    with pytest.raises(ValueError):
        vrf.randomness(bytes(32))


# ---------------------------------------------------------------------------------------------
# encode_to_curve: the try-and-increment loop
# ---------------------------------------------------------------------------------------------


def test_encode_to_curve_loop_matches_reference():
    """Over 48 alphas the counter advances past undecodable candidates exactly like the
    reference, and every output is a non-identity point of the prime-order subgroup."""
    _, public_key = vrf.keypair(bytes([9]) * 32)
    counters = []
    for i in range(48):
        alpha = bytes([i])
        found = vrf._encode_to_curve(public_key, alpha)
        assert found == ref_encode_to_curve(public_key, alpha)
        assert found is not None
        assert bindings.crypto_core_ed25519_is_valid_point(found[0])
        counters.append(found[1])
    assert max(counters) >= 2 and counters.count(0) < len(counters)


def test_times8_accepts_points_with_a_torsion_part():
    """Cofactor clearing works on any curve point (libsodium's add accepts mixed order)."""
    a = ref_mul(123456789, BASE)
    for t in torsion_points():
        mixed = ref_encode(ref_add(a, t))
        assert vrf._times8(mixed) == ref_encode(ref_mul(8, a))
        assert vrf._times8(ref_encode(t)) == IDENTITY


@settings(max_examples=25)
@given(n=st.integers(min_value=0, max_value=2**256), a=st.integers(1, L - 1), i=st.integers(0, 7))
def test_mul_any_matches_reference(n: int, a: int, i: int):
    """n·P for P = A + T with any torsion T equals the reference product."""
    point = ref_add(ref_mul(a, BASE), torsion_points()[i])
    assert vrf._mul_any(n, ref_encode(point)) == ref_encode(ref_mul(n, point))


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@settings(max_examples=50)
@given(seed=st.binary(min_size=32, max_size=32), alpha=st.binary(max_size=64))
def test_verify_accepts_proofs_and_returns_their_hash(seed: bytes, alpha: bytes):
    secret, public_key = vrf.keypair(seed)
    pi = vrf.prove(secret, alpha)
    assert len(pi) == 80
    beta = vrf.verify(public_key, alpha, pi)
    assert beta is not None and beta == vrf.proof_to_hash(pi) and len(beta) == 64


@settings(max_examples=10)
@given(seed=st.binary(min_size=32, max_size=32), alpha=st.binary(max_size=16))
def test_prove_matches_reference(seed: bytes, alpha: bytes):
    """libsodium-backed prove equals the pure-Python reference, which verifies it."""
    secret, public_key = vrf.keypair(seed)
    pi = vrf.prove(secret, alpha)
    assert pi == ref_prove(seed, alpha)
    assert ref_verify(public_key, alpha, pi) == vrf.verify(public_key, alpha, pi)


def test_prove_is_deterministic():
    secret, _ = vrf.keypair(bytes([3]) * 32)
    assert vrf.prove(secret, b"epoch-7") == vrf.prove(secret, b"epoch-7")
    assert vrf.prove(secret, b"epoch-7") != vrf.prove(secret, b"epoch-8")


@cache
def sample_proof() -> tuple[bytes, bytes, bytes]:
    secret, public_key = vrf.keypair(bytes([5]) * 32)
    return public_key, b"sample alpha", vrf.prove(secret, b"sample alpha")


@settings(max_examples=100)
@given(bit=st.integers(min_value=0, max_value=80 * 8 - 1))
def test_any_flipped_bit_in_pi_is_rejected(bit: int):
    public_key, alpha, pi = sample_proof()
    flipped = bytearray(pi)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert vrf.verify(public_key, alpha, bytes(flipped)) is None


@settings(max_examples=50)
@given(bit=st.integers(min_value=0, max_value=32 * 8 - 1))
def test_any_flipped_bit_in_public_key_is_rejected(bit: int):
    public_key, alpha, pi = sample_proof()
    flipped = bytearray(public_key)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert vrf.verify(bytes(flipped), alpha, pi) is None


def test_wrong_alpha_or_key_is_rejected():
    public_key, alpha, pi = sample_proof()
    _, other_key = vrf.keypair(bytes([6]) * 32)
    assert vrf.verify(public_key, alpha, pi) is not None
    assert vrf.verify(public_key, alpha + b"\x00", pi) is None
    assert vrf.verify(public_key, b"", pi) is None
    assert vrf.verify(other_key, alpha, pi) is None


# ---------------------------------------------------------------------------------------------
# Malformed input: None from verify, ValueError from proof_to_hash, never anything else
# ---------------------------------------------------------------------------------------------


def with_s(pi: bytes, s: int) -> bytes:
    return pi[:48] + s.to_bytes(32, "little")


def test_s_not_below_group_order_is_rejected():
    """s and s + L give the same U and V; only s < L is accepted (RFC 9381 §5.4.4)."""
    public_key, alpha, pi = sample_proof()
    s = int.from_bytes(pi[48:], "little")
    for bad in (with_s(pi, s + L), with_s(pi, L), with_s(pi, 2**256 - 1)):
        assert vrf.verify(public_key, alpha, bad) is None
        with pytest.raises(ValueError):
            vrf.proof_to_hash(bad)


def non_canonical_encodings() -> list[bytes]:
    """y ≥ p encodings of curve points, and x = 0 points with the sign bit set."""
    encodings = []
    for y in range(19):
        for sign in (0, 1):
            if ref_recover_x(y, 0) is not None:  # y + p would decode if taken mod p
                encodings.append((y + P | sign << 255).to_bytes(32, "little"))
    encodings += [(1 | 1 << 255).to_bytes(32, "little"), (P - 1 | 1 << 255).to_bytes(32, "little")]
    return encodings


def test_non_canonical_encodings_are_rejected():
    """Encodings RFC 8032 §5.1.3 rejects (libsodium alone would reduce them) give None."""
    public_key, alpha, pi = sample_proof()
    encodings = non_canonical_encodings()
    assert len(encodings) >= 4
    for bad in encodings:
        assert not vrf._is_point_encoding(bad)
        assert vrf.verify(bad, alpha, pi) is None
        assert vrf.verify(public_key, alpha, bad + pi[32:]) is None
        with pytest.raises(ValueError):
            vrf.proof_to_hash(bad + pi[32:])


def test_off_curve_gamma_and_key_are_rejected():
    public_key, alpha, pi = sample_proof()
    off_curve = next(
        e
        for i in count()
        if ref_decode(e := hashlib.sha512(bytes([i])).digest()[:32]) is None
        and vrf._is_point_encoding(e)
    )
    assert vrf.verify(off_curve, alpha, pi) is None
    assert vrf.verify(public_key, alpha, off_curve + pi[32:]) is None
    with pytest.raises(ValueError):
        vrf.proof_to_hash(off_curve + pi[32:])


def test_small_order_public_keys_are_rejected():
    """All eight torsion points (identity, order 2, 4, 8) fail ECVRF_validate_key."""
    _, alpha, pi = sample_proof()
    for t in torsion_points():
        assert vrf.verify(ref_encode(t), alpha, pi) is None


@pytest.mark.parametrize("torsion_index", [0, 1, 2, 5])
def test_forged_proof_for_small_order_key_is_rejected_by_validate_key(torsion_index: int):
    """With Y of small order (x = 0) anyone satisfies the proof equations; only
    ECVRF_validate_key stops it: the reference without it accepts, verify returns None."""
    t = torsion_points()[torsion_index]
    pk, pi = forge_with_torsion(0, b"forged", t, ZERO)
    assert ref_verify(pk, b"forged", pi, validate_key=False) is not None
    assert ref_verify(pk, b"forged", pi) is None
    assert vrf.verify(pk, b"forged", pi) is None


@pytest.mark.parametrize(("key_index", "gamma_index"), [(0, 3), (1, 0), (5, 0), (7, 6)])
def test_mixed_order_key_and_gamma_follow_the_rfc(key_index: int, gamma_index: int):
    """A public key or Gamma with a torsion part (not small order) is allowed by RFC 9381;
    such a proof verifies, and beta is the honest 8·Gamma hash."""
    key_t, gamma_t = torsion_points()[key_index], torsion_points()[gamma_index]
    x, _ = ref_secret_scalar(bytes([key_index, gamma_index]) * 16)
    pk, pi = forge_with_torsion(x, b"mixed", key_t, gamma_t)
    expected = ref_verify(pk, b"mixed", pi)
    assert expected is not None
    assert vrf.verify(pk, b"mixed", pi) == expected == vrf.proof_to_hash(pi)
    libsodium_accepts = bindings.crypto_core_ed25519_is_valid_point
    assert not (libsodium_accepts(pk) and libsodium_accepts(pi[:32]))


@pytest.mark.parametrize(
    ("public_key", "alpha", "pi"),
    [
        (b"", b"", b""),
        (bytes(31), b"", bytes(80)),
        (bytes(33), b"", bytes(80)),
        (bytes(32), b"", bytes(80)),
        (b"\xff" * 32, b"", b"\xff" * 80),
        ("not bytes", b"", bytes(80)),
        (bytes(32), None, bytes(80)),
        (bytes(32), b"", 12345),
    ],
)
def test_garbage_gives_none(public_key: object, alpha: object, pi: object):
    assert vrf.verify(public_key, alpha, pi) is None  # type: ignore[arg-type]
    assert vrf.verify_memoized(public_key, alpha, pi) is None  # type: ignore[arg-type]


def test_wrong_proof_lengths_are_rejected():
    public_key, alpha, pi = sample_proof()
    for bad in (pi[:79], pi + b"\x00", pi[:32], b""):
        assert vrf.verify(public_key, alpha, bad) is None
        with pytest.raises(ValueError):
            vrf.proof_to_hash(bad)


@settings(max_examples=100)
@given(
    public_key=st.one_of(st.binary(max_size=40), st.binary(min_size=32, max_size=32)),
    alpha=st.binary(max_size=40),
    pi=st.one_of(st.binary(max_size=100), st.binary(min_size=80, max_size=80)),
)
def test_verify_never_raises(public_key: bytes, alpha: bytes, pi: bytes):
    beta = vrf.verify(public_key, alpha, pi)
    assert beta is None or len(beta) == 64


@settings(max_examples=50)
@given(data=st.binary(min_size=0, max_size=100))
def test_proof_to_hash_raises_only_value_error(data: bytes):
    try:
        beta = vrf.proof_to_hash(data)
    except ValueError:
        return
    assert len(data) == 80 and len(beta) == 64


# ---------------------------------------------------------------------------------------------
# Memoized verifier
# ---------------------------------------------------------------------------------------------


def test_verify_memoized_returns_what_verify_returns():
    public_key, alpha, pi = sample_proof()
    before = vrf._verify_cached.cache_info().hits
    assert vrf.verify_memoized(public_key, alpha, pi) == vrf.verify(public_key, alpha, pi)
    assert vrf.verify_memoized(bytearray(public_key), alpha, memoryview(pi)) is not None
    assert vrf._verify_cached.cache_info().hits >= before + 1
    assert vrf.verify_memoized(public_key, alpha + b"!", pi) is None
    assert vrf.verify_memoized(public_key, alpha + b"!", pi) is None
    assert vrf._verify_cached.cache_info().maxsize == 2**12
