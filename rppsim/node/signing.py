"""Ed25519 keys, signatures and addresses on libsodium via PyNaCl
(docs/protocol.md#two-consensus-implementations).

Vote, proposal, transaction and identity signatures are ed25519; an address is the hex
BLAKE2s-256 of the 32-byte public key. Verification is a pure function of its bytes, so the
simulator, which runs many nodes in one process, may share one memoized result per exact
(public key, message, signature) triple (``verify_signature_memoized``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache

from nacl import bindings
from nacl.exceptions import CryptoError

__all__ = [
    "PUBLIC_KEY_LEN",
    "SEED_LEN",
    "SIGNATURE_LEN",
    "Keypair",
    "clear_signature_cache",
    "compute_address",
    "generate_keypair",
    "sign",
    "verify_signature",
    "verify_signature_memoized",
]

SEED_LEN = 32
PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64
SIGNATURE_CACHE_SIZE = 2**12
"""Verifications remembered process-wide: every node checks a height's signatures within that
height, so a few dozen heights' worth is all that is reused; a larger memo only grows a long
run's memory (``rppsim bench sim --parts long``). The node's other value memos are sized alike."""
_BytesLike = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class Keypair:
    """An ed25519 key pair derived from a 32-byte seed (the secret is never shown in repr)."""

    public_key: bytes
    secret_key: bytes = field(repr=False)
    """libsodium's 64-byte secret key: seed ‖ public key."""

    @property
    def address(self) -> str:
        """hex BLAKE2s(public key) (docs/protocol.md#two-consensus-implementations)."""
        return compute_address(self.public_key)


def generate_keypair(seed: bytes) -> Keypair:
    """The deterministic ed25519 key pair of a 32-byte seed (RFC 8032); ValueError otherwise."""
    if not isinstance(seed, _BytesLike) or len(seed) != SEED_LEN:
        raise ValueError("ed25519 seed must be 32 bytes")
    public_key, secret_key = bindings.crypto_sign_seed_keypair(bytes(seed))
    return Keypair(public_key=public_key, secret_key=secret_key)


def sign(keypair: Keypair, message: bytes) -> bytes:
    """The 64-byte detached ed25519 signature of ``message``."""
    signed = bindings.crypto_sign(bytes(message), keypair.secret_key)
    return signed[:SIGNATURE_LEN]


def compute_address(public_key: bytes) -> str:
    """hex BLAKE2s-256 of the public key bytes (docs/protocol.md#two-consensus-implementations)."""
    return hashlib.blake2s(bytes(public_key), digest_size=32).hexdigest()


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is a valid ed25519 signature; never raises on malformed input."""
    if not (
        isinstance(public_key, _BytesLike)
        and isinstance(message, _BytesLike)
        and isinstance(signature, _BytesLike)
    ):
        return False
    if len(public_key) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    try:
        bindings.crypto_sign_open(bytes(signature) + bytes(message), bytes(public_key))
    except (CryptoError, ValueError, TypeError):
        return False
    return True


def verify_signature_memoized(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """verify_signature, memoized process-wide by the exact bytes verified (bounded LRU)."""
    if not (
        isinstance(public_key, _BytesLike)
        and isinstance(message, _BytesLike)
        and isinstance(signature, _BytesLike)
    ):
        return False
    return _verify_cached(bytes(public_key), bytes(message), bytes(signature))


def clear_signature_cache() -> None:
    """Forget every memoized verification (tests and benchmarks)."""
    _verify_cached.cache_clear()


@lru_cache(maxsize=SIGNATURE_CACHE_SIZE)
def _verify_cached(public_key: bytes, message: bytes, signature: bytes) -> bool:
    return verify_signature(public_key, message, signature)
