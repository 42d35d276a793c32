"""Sorted-leaf BLAKE2s Merkle root (docs/protocol.md#timetoke "Commitments")."""

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.merkle import EMPTY_ROOT, compute_leaf_hash, compute_merkle_root


def _h(data: bytes) -> bytes:
    return hashlib.blake2s(data).digest()


LEAVES = [bytes([i]) * 32 for i in (7, 3, 9)]


def test_empty_root_is_blake2s_of_rpp_empty():
    assert compute_merkle_root([]) == EMPTY_ROOT == _h(b"rpp-empty")


def test_single_leaf_is_its_own_root():
    assert compute_merkle_root([LEAVES[0]]) == LEAVES[0]


def test_two_leaves_hash_in_sorted_order():
    a, b = LEAVES[0], LEAVES[1]  # b < a
    assert compute_merkle_root([a, b]) == _h(b + a)


def test_odd_leaf_pairs_with_itself():
    low, mid, high = sorted(LEAVES)
    expected = _h(_h(low + mid) + _h(high + high))
    assert compute_merkle_root(LEAVES) == expected


def test_leaf_hash_is_plain_blake2s():
    assert compute_leaf_hash(b"record") == _h(b"record")


def test_different_leaf_sets_give_different_roots():
    assert compute_merkle_root(LEAVES) != compute_merkle_root(LEAVES[:2])


@settings(max_examples=60)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=20), st.randoms())
def test_root_does_not_depend_on_leaf_order(leaves, rng):
    shuffled = list(leaves)
    rng.shuffle(shuffled)
    assert compute_merkle_root(shuffled) == compute_merkle_root(leaves)
