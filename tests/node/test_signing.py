"""Ed25519 signing on PyNaCl: RFC 8032 vector, addresses, tamper and malformed inputs."""

import hashlib

import pytest

from rppsim.node import signing
from rppsim.node.signing import (
    compute_address,
    generate_keypair,
    sign,
    verify_signature,
    verify_signature_memoized,
)

# RFC 8032 §7.1, TEST 1 (empty message).
RFC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_rfc8032_known_answer():
    """Seed → public key and the signature of the empty message match RFC 8032 TEST 1."""
    keypair = generate_keypair(RFC_SEED)
    assert keypair.public_key == RFC_PUBLIC
    assert sign(keypair, b"") == RFC_SIGNATURE
    assert verify_signature(RFC_PUBLIC, b"", RFC_SIGNATURE)


def test_address_is_hex_blake2s_of_public_key():
    """address = hex BLAKE2s-256(public key) (docs/protocol.md#two-consensus-implementations)."""
    keypair = generate_keypair(RFC_SEED)
    expected = hashlib.blake2s(RFC_PUBLIC).hexdigest()
    assert compute_address(RFC_PUBLIC) == expected == keypair.address
    assert len(expected) == 64


def test_keypair_is_deterministic_and_hides_secret():
    """One seed gives one key pair; the secret key is not in the repr."""
    assert generate_keypair(bytes(32)) == generate_keypair(bytes(32))
    assert generate_keypair(bytes(32)) != generate_keypair(b"\x01" * 32)
    assert generate_keypair(RFC_SEED).secret_key.hex() not in repr(generate_keypair(RFC_SEED))


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33), "x" * 32])
def test_bad_seed_is_value_error(seed):
    """A seed that is not 32 bytes is rejected."""
    with pytest.raises(ValueError):
        generate_keypair(seed)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


@pytest.mark.parametrize("verify", [verify_signature, verify_signature_memoized])
def test_tampering_fails(verify):
    """Flipping a bit of the message, signature or key makes verification fail."""
    keypair = generate_keypair(bytes(range(32)))
    message = b"rpp message"
    signature = sign(keypair, message)
    assert verify(keypair.public_key, message, signature)
    assert not verify(keypair.public_key, _flip(message, 0), signature)
    assert not verify(keypair.public_key, message, _flip(signature, 5))
    assert not verify(keypair.public_key, message, _flip(signature, 63))
    assert not verify(_flip(keypair.public_key, 0), message, signature)


@pytest.mark.parametrize("verify", [verify_signature, verify_signature_memoized])
@pytest.mark.parametrize(
    ("public_key", "signature"),
    [
        (b"\xff" * 32, bytes(64)),  # not a curve point
        (bytes(32), bytes(64)),  # small-order point
        (bytes(31), bytes(64)),
        (bytes(32), bytes(63)),
        ("00" * 32, bytes(64)),
        (None, None),
    ],
)
def test_malformed_keys_and_signatures_return_false(verify, public_key, signature):
    """Bad keys, lengths and types give False and never raise."""
    assert verify(public_key, b"m", signature) is False


def test_memoized_verification_reuses_results():
    """The memo returns the same verdict as the plain check and hits on repeated bytes."""
    signing.clear_signature_cache()
    keypair = generate_keypair(bytes(range(1, 33)))
    signature = sign(keypair, b"x")
    assert verify_signature_memoized(keypair.public_key, b"x", signature)
    assert verify_signature_memoized(bytearray(keypair.public_key), b"x", signature)
    info = signing._verify_cached.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    assert not verify_signature_memoized(keypair.public_key, b"y", signature)
