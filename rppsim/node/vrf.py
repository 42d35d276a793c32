"""ECVRF-EDWARDS25519-SHA512-TAI of RFC 9381 on libsodium
(docs/architecture.md#departures-from-the-chain).

The chain uses a schnorrkel VRF (docs/protocol.md#vrf); the port uses RFC 9381 instead, with
randomness = the first 32 bytes of beta as a big-endian integer
(docs/architecture.md#departures-from-the-chain).

Keys: ``keypair(seed)`` returns libsodium's 64-byte Ed25519 secret key (seed ‖ public key) and
the 32-byte RFC 8032 public key. Points are handled as their 32-byte RFC 8032 encodings.

libsodium's variable-base scalar multiplication refuses points outside the prime-order subgroup,
while RFC 9381 allows any curve point for try-and-increment candidates, Gamma and (if not of
small order) the public key. ``crypto_core_ed25519_add`` accepts every curve point, so cofactor
clearing is three doublings, and n·P for a point with a torsion part is computed as
(n mod L)·A + (n mod 8)·T with A = 8⁻¹·(8P) and T = P − A. Honest inputs never take that path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache

from nacl import bindings
from nacl.exceptions import RuntimeError as SodiumError

__all__ = [
    "keypair",
    "proof_to_hash",
    "prove",
    "randomness",
    "verify",
    "verify_memoized",
]

SUITE = b"\x03"  # RFC 9381 §5.5: ECVRF-EDWARDS25519-SHA512-TAI
P = 2**255 - 19  # field prime of edwards25519 (RFC 8032 §5.1)
L = 2**252 + 27742317777372353535851937790883648493  # prime subgroup order q
PT_LEN = 32
C_LEN = 16
PI_LEN = PT_LEN + C_LEN + 32
BETA_LEN = 64
IDENTITY = b"\x01" + bytes(31)
_INV8 = pow(8, -1, L)
_Y_MASK = (1 << 255) - 1
_BytesLike = bytes | bytearray | memoryview


def keypair(seed: bytes) -> tuple[bytes, bytes]:
    """(64-byte libsodium secret seed ‖ pk, 32-byte RFC 8032 public key) of a 32-byte seed."""
    if not isinstance(seed, _BytesLike) or len(seed) != 32:
        raise ValueError("VRF seed must be 32 bytes")
    public_key, secret = bindings.crypto_sign_seed_keypair(bytes(seed))
    return secret, public_key


def prove(secret: bytes, alpha: bytes) -> bytes:
    """The 80-byte proof pi = Gamma ‖ c ‖ s of alpha (RFC 9381 §5.1).

    ValueError unless secret is the 64-byte seed ‖ public key of ``keypair`` (both halves match).
    """
    if not isinstance(secret, _BytesLike) or len(secret) != 64:
        raise ValueError("VRF secret must be the 64-byte secret returned by keypair")
    secret, alpha = bytes(secret), bytes(alpha)
    public_key = secret[32:]
    digest = hashlib.sha512(secret[:32]).digest()
    x = _clamp(digest[:32]) % L
    if _base_mul(x) != public_key:
        raise ValueError("VRF secret: public key half does not match the seed")
    found = _encode_to_curve(public_key, alpha)
    if found is None:
        raise ValueError("encode_to_curve found no point in 256 tries")
    h = found[0]
    gamma = bindings.crypto_scalarmult_ed25519_noclamp(_scalar(x), h)
    k = _compute_nonce(digest, h)
    u = _base_mul(k)
    v = bindings.crypto_scalarmult_ed25519_noclamp(_scalar(k), h)
    c = _compute_challenge(public_key, h, gamma, u, v)
    s = (k + int.from_bytes(c, "little") * x) % L
    return gamma + c + _scalar(s)


def verify(public_key: bytes, alpha: bytes, pi: bytes) -> bytes | None:
    """beta if pi proves alpha under public_key, else None; never raises (RFC 9381 §5.3)."""
    if not _is_all_bytes(public_key, alpha, pi):
        return None
    public_key, alpha, pi = bytes(public_key), bytes(alpha), bytes(pi)
    decoded = _decode_proof(pi)
    if decoded is None or not _is_point_encoding(public_key):
        return None
    gamma, c_bytes, s = decoded
    c = int.from_bytes(c_bytes, "little")
    c_y = _mul_subgroup(c, public_key)
    if c_y is None:
        if _times8(public_key) in (None, IDENTITY):  # RFC 9381 §5.4.5 ECVRF_validate_key
            return None
        c_y = _mul_any(c, public_key)
    c_gamma = _mul_subgroup(c, gamma) or _mul_any(c, gamma)
    found = _encode_to_curve(public_key, alpha)
    if c_y is None or c_gamma is None or found is None:
        return None
    h = found[0]
    u = _sub(_base_mul(s), c_y)
    v = _sub(_mul_subgroup(s, h) or IDENTITY, c_gamma)
    if _compute_challenge(public_key, h, gamma, u, v) != c_bytes:
        return None
    return _hash_gamma(gamma)


def proof_to_hash(pi: bytes) -> bytes:
    """The 64-byte beta of a proof (RFC 9381 §5.2); ValueError if pi does not decode (§5.4.4)."""
    if not isinstance(pi, _BytesLike):
        raise ValueError("VRF proof must be bytes")
    decoded = _decode_proof(bytes(pi))
    beta = None if decoded is None else _hash_gamma(decoded[0])
    if beta is None:
        raise ValueError("VRF proof does not decode")
    return beta


def randomness(beta: bytes) -> int:
    """The first 32 bytes of a 64-byte beta as a big-endian integer
    (docs/architecture.md#departures-from-the-chain)."""
    if not isinstance(beta, _BytesLike) or len(beta) != BETA_LEN:
        raise ValueError("VRF output beta must be 64 bytes")
    return int.from_bytes(bytes(beta[:32]), "big")


def verify_memoized(public_key: bytes, alpha: bytes, pi: bytes) -> bytes | None:
    """verify, memoized process-wide by the exact bytes verified (bounded LRU)."""
    if not _is_all_bytes(public_key, alpha, pi):
        return None
    return _verify_cached(bytes(public_key), bytes(alpha), bytes(pi))


@lru_cache(maxsize=2**12)
def _verify_cached(public_key: bytes, alpha: bytes, pi: bytes) -> bytes | None:
    return verify(public_key, alpha, pi)


def _is_all_bytes(*values: object) -> bool:
    return all(isinstance(value, _BytesLike) for value in values)


def _encode_to_curve(public_key: bytes, alpha: bytes) -> tuple[bytes, int] | None:
    """(H, ctr) by try-and-increment, or None after 256 tries (RFC 9381 §5.4.1.1)."""
    prefix = SUITE + b"\x01" + public_key + alpha
    for ctr in range(256):
        candidate = hashlib.sha512(prefix + bytes((ctr, 0))).digest()[:PT_LEN]
        if not _is_point_encoding(candidate):
            continue
        h = _times8(candidate)
        if h is not None and h != IDENTITY:
            return h, ctr
    return None


def _is_point_encoding(s: bytes) -> bool:
    """The RFC 8032 §5.1.3 checks libsodium skips: y < p, and x = 0 only with sign bit 0.

    Whether (x, y) is on the curve is left to libsodium (every caller decodes the point).
    """
    if len(s) != PT_LEN:
        return False
    y = int.from_bytes(s, "little") & _Y_MASK
    return y < P and not (s[31] >> 7 and y in (1, P - 1))


def _decode_proof(pi: bytes) -> tuple[bytes, bytes, int] | None:
    """(Gamma, c, s) with Gamma an RFC 8032 encoding and s < L, else None (RFC 9381 §5.4.4)."""
    if len(pi) != PI_LEN:
        return None
    gamma, c_bytes = pi[:PT_LEN], pi[PT_LEN : PT_LEN + C_LEN]
    s = int.from_bytes(pi[PT_LEN + C_LEN :], "little")
    if s >= L or not _is_point_encoding(gamma):
        return None
    return gamma, c_bytes, s


def _compute_challenge(y: bytes, h: bytes, gamma: bytes, u: bytes, v: bytes) -> bytes:
    """c: the first 16 bytes of SHA-512 over the five points (RFC 9381 §5.4.3)."""
    data = SUITE + b"\x02" + y + h + gamma + u + v + b"\x00"
    return hashlib.sha512(data).digest()[:C_LEN]


def _compute_nonce(sk_digest: bytes, h: bytes) -> int:
    """k = SHA-512(second half of SHA-512(SK) ‖ H) mod q (RFC 9381 §5.4.2.2)."""
    return int.from_bytes(hashlib.sha512(sk_digest[32:] + h).digest(), "little") % L


def _hash_gamma(gamma: bytes) -> bytes | None:
    """beta = SHA-512(suite ‖ 0x03 ‖ 8·Gamma ‖ 0x00), None if Gamma is off the curve (RFC 9381
    §5.2)."""
    gamma8 = _times8(gamma)
    if gamma8 is None:
        return None
    return hashlib.sha512(SUITE + b"\x03" + gamma8 + b"\x00").digest()


def _clamp(half: bytes) -> int:
    """The RFC 8032 §5.1.5 secret scalar of the first half of SHA-512(seed)."""
    x = int.from_bytes(half, "little")
    return (x & ~7 & ((1 << 254) - 1)) | (1 << 254)


def _scalar(n: int) -> bytes:
    return n.to_bytes(32, "little")


def _sodium(fn: Callable[..., bytes], *args: bytes) -> bytes | None:
    """libsodium's result, or None where it returns -1 (off-curve, small order, identity)."""
    try:
        return fn(*args)
    except SodiumError:
        return None


def _times8(point: bytes) -> bytes | None:
    """8·point by three doublings, for any curve point; None if off the curve."""
    for _ in range(3):
        doubled = _sodium(bindings.crypto_core_ed25519_add, point, point)
        if doubled is None:
            return None
        point = doubled
    return point


def _sub(a: bytes, b: bytes) -> bytes:
    return bindings.crypto_core_ed25519_sub(a, b)


def _add(a: bytes, b: bytes) -> bytes:
    return bindings.crypto_core_ed25519_add(a, b)


def _base_mul(n: int) -> bytes:
    """n·B for 0 ≤ n < L (libsodium refuses the identity result of n = 0)."""
    if n == 0:
        return IDENTITY
    return bindings.crypto_scalarmult_ed25519_base_noclamp(_scalar(n))


def _mul_subgroup(n: int, point: bytes) -> bytes | None:
    """n·point if point is in the prime-order subgroup and the product is not the identity."""
    n %= L
    if n == 0:
        return None
    return _sodium(bindings.crypto_scalarmult_ed25519_noclamp, _scalar(n), point)


def _mul_any(n: int, point: bytes) -> bytes | None:
    """n·point for any curve point, None if off the curve: (n mod L)·A + (n mod 8)·T."""
    point8 = _times8(point)
    if point8 is None:
        return None
    prime_part = IDENTITY
    if point8 != IDENTITY:
        prime_part = bindings.crypto_scalarmult_ed25519_noclamp(_scalar(_INV8), point8)
    torsion = _sub(point, prime_part)
    result = IDENTITY if prime_part == IDENTITY else _mul_subgroup(n, prime_part) or IDENTITY
    for _ in range(n % 8):
        result = _add(result, torsion)
    return result
