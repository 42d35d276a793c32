"""The Fiat–Shamir transcript: one object, Blake2s channel (docs/proofs.md#protocol,
docs/proofs.md#hashing-and-encoding).

``absorb(data)``: state ← H_absorb(state ‖ data), and the draw stream restarts.
Draws read a stream of u32 LE words from H_draw(state ‖ counter u32 LE), counter = 0, 1, …
A base element rejects words ≥ 2p (so the result is uniform) and reduces the rest mod p;
an extension element is four base elements; a query index takes the low bits of a word.
Absorbing and drawing use different BLAKE2s personalisations, so no absorbed string can
collide with a draw block. The transcript is the prover's only source of randomness.
"""

from __future__ import annotations

import hashlib

from rppsim.prover.reference.field import Ext, P

PROTOCOL_TAG = b"rpp-numba-stark/v1"
ABSORB_PERSON = b"rps-absb"
DRAW_PERSON = b"rps-draw"
POW_PERSON = b"rps-powg"


class Transcript:
    """A Blake2s duplex: absorb bytes, draw base/extension elements and indices."""

    def __init__(self, tag: bytes = PROTOCOL_TAG) -> None:
        self._state = hashlib.blake2s(tag, person=ABSORB_PERSON).digest()
        self._counter = 0
        self._words: list[int] = []

    @property
    def state(self) -> bytes:
        """The current 32-byte digest."""
        return self._state

    def absorb(self, data: bytes) -> None:
        """Mix ``data`` into the state; later draws depend on it."""
        self._state = hashlib.blake2s(self._state + data, person=ABSORB_PERSON).digest()
        self._counter = 0
        self._words = []

    def _next_word(self) -> int:
        """The next u32 of the draw stream."""
        if not self._words:
            block = hashlib.blake2s(
                self._state + self._counter.to_bytes(4, "little"), person=DRAW_PERSON
            ).digest()
            self._counter += 1
            self._words = [int.from_bytes(block[i : i + 4], "little") for i in range(28, -1, -4)]
        return self._words.pop()

    def draw_felt(self) -> int:
        """A uniform base element (words ≥ 2p are rejected)."""
        while True:
            word = self._next_word()
            if word < 2 * P:
                return word % P

    def draw_ext(self) -> Ext:
        """A uniform extension element: every challenge is drawn this way (docs/proofs.md#field)."""
        return Ext(self.draw_felt(), self.draw_felt(), self.draw_felt(), self.draw_felt())

    def draw_index(self, domain_size: int) -> int:
        """A uniform index in [0, domain_size) for a power-of-two size."""
        if domain_size < 1 or domain_size & (domain_size - 1) or domain_size > 1 << 32:
            raise ValueError(f"domain size {domain_size} is not a power of two ≤ 2^32")
        return self._next_word() & (domain_size - 1)


def pow_digest(state: bytes, nonce: int) -> bytes:
    """H_pow(state ‖ nonce u64 LE), the grinding hash."""
    return hashlib.blake2s(state + nonce.to_bytes(8, "little"), person=POW_PERSON).digest()


def is_valid_pow(state: bytes, nonce: int, bits: int) -> bool:
    """True when the grinding hash has ≥ ``bits`` trailing zero bits (LE u128, STWO rule)."""
    if not 0 <= nonce < 1 << 64:
        return False
    value = int.from_bytes(pow_digest(state, nonce)[:16], "little")
    return value & ((1 << bits) - 1) == 0


def grind(state: bytes, bits: int) -> int:
    """The smallest nonce meeting the grinding target (reference: a plain loop)."""
    nonce = 0
    while not is_valid_pow(state, nonce, bits):
        nonce += 1
    return nonce
