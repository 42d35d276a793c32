"""The Fiat–Shamir transcript (docs/proofs.md#hashing-and-encoding channel)."""

from __future__ import annotations

import hashlib

import pytest

from rppsim.prover.reference.field import Ext, P
from rppsim.prover.reference.transcript import (
    ABSORB_PERSON,
    PROTOCOL_TAG,
    Transcript,
    is_valid_pow,
)


def test_initial_state_and_absorb_rule():
    """state₀ = H_absorb(tag); absorb: state ← H_absorb(state ‖ data)."""
    ts = Transcript()
    assert ts.state == hashlib.blake2s(PROTOCOL_TAG, person=ABSORB_PERSON).digest()
    before = ts.state
    ts.absorb(b"root")
    assert ts.state == hashlib.blake2s(before + b"root", person=ABSORB_PERSON).digest()


def test_draws_are_deterministic_and_depend_on_everything_absorbed():
    """Same absorbs, same draws; one different byte, different draws."""
    a, b, c = Transcript(), Transcript(), Transcript()
    for ts, data in ((a, b"x"), (b, b"x"), (c, b"y")):
        ts.absorb(data)
    draws = [(t.draw_ext(), t.draw_ext(), t.draw_index(1 << 20)) for t in (a, b, c)]
    assert draws[0] == draws[1]
    assert draws[0] != draws[2]
    assert Transcript(b"other tag").draw_ext() != Transcript().draw_ext()


def test_draw_ranges():
    """Felts are canonical, extension draws use all coordinates, indices are in range."""
    ts = Transcript()
    felts = [ts.draw_felt() for _ in range(2000)]
    assert all(0 <= f < P for f in felts)
    assert len(set(felts)) > 1990
    assert not ts.draw_ext().is_base() or not ts.draw_ext().is_base()
    assert all(0 <= ts.draw_index(64) < 64 for _ in range(500))
    assert len({ts.draw_index(8) for _ in range(200)}) == 8
    with pytest.raises(ValueError):
        ts.draw_index(12)


def test_words_above_two_p_are_rejected():
    """A word ≥ 2p is skipped, not reduced (uniform felts)."""
    ts = Transcript()
    ts._words = [5, 2 * P + 7]  # popped from the end: 2p + 7 first
    assert ts.draw_felt() == 5


def test_absorb_restarts_the_draw_stream():
    """Draws after an absorb do not continue the old stream."""
    a, b = Transcript(), Transcript()
    a.draw_ext()
    a.absorb(b"z")
    b.absorb(b"z")
    assert a.draw_ext() == b.draw_ext()
    assert isinstance(a.draw_ext(), Ext)


def test_proof_of_work_rule():
    """is_valid_pow counts trailing zero bits of the LE u128 digest; bits = 0 always holds."""
    state = bytes(32)
    assert is_valid_pow(state, 0, 0)
    assert not is_valid_pow(state, -1, 0)
    assert not is_valid_pow(state, 1 << 64, 0)
    found = next(n for n in range(10_000) if is_valid_pow(state, n, 8))
    assert is_valid_pow(state, found, 4)
