"""BLAKE2s kernels and Merkle trees: numba bit-identical to hashlib, paths sound."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.prover.fast import blake2s
from rppsim.prover.fast.merkle import build_tree as fast_tree
from rppsim.prover.reference import merkle
from rppsim.prover.reference.field import P
from rppsim.prover.reference.transcript import POW_PERSON, grind, is_valid_pow


def test_hashlib_blake2s_known_answer():
    """RFC 7693 Appendix B: BLAKE2s-256("abc") (pins the library the reference uses)."""
    expected = "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"
    assert hashlib.blake2s(b"abc").hexdigest() == expected


@settings(max_examples=30)
@given(st.integers(1, 40), st.sampled_from([1, 2, 4, 8]), st.integers(0, 10**6))
def test_numba_leaf_hash_equals_hashlib(columns, group, seed):
    """Leaves of any width (1 or more compression blocks) hash like hashlib with person=."""
    matrix = np.random.default_rng(seed).integers(0, P, size=(columns, 4 * group)).astype(np.uint64)
    words = blake2s.hash_leaves(matrix, group, blake2s.initial_state(merkle.LEAF_PERSON))
    digests = blake2s.words_to_digests(words)
    for i in range(4):
        assert digests[i].tobytes() == merkle.hash_leaf(
            merkle.leaf_bytes(merkle.leaf_felts(matrix, group, i))
        )


def test_numba_messages_of_any_length_equal_hashlib():
    """hash_messages on 0…70 words (empty, partial, exact and multi-block messages)."""
    rng = np.random.default_rng(8)
    h0 = blake2s.initial_state(b"anything")
    for length in (0, 1, 15, 16, 17, 32, 70):
        msgs = rng.integers(0, 2**32, size=(3, length)).astype(np.int64)
        out = np.empty((3, 8), dtype=np.int64)
        blake2s.hash_messages(msgs, h0, out)
        for i in range(3):
            expected = hashlib.blake2s(msgs[i].astype("<u4").tobytes(), person=b"anything").digest()
            assert blake2s.words_to_digests(out)[i].tobytes() == expected


def test_numba_tree_and_grinding_equal_hashlib():
    """hash_tree levels are BLAKE2s(left ‖ right); grinding finds the reference's nonce."""
    rng = np.random.default_rng(5)
    matrix = rng.integers(0, P, size=(3, 16)).astype(np.uint64)
    words = blake2s.hash_tree(
        matrix,
        2,
        blake2s.initial_state(merkle.LEAF_PERSON),
        blake2s.initial_state(merkle.NODE_PERSON),
    )
    flat = blake2s.words_to_digests(words)
    assert flat.shape == (15, 32)
    for i in range(8):
        leaf = merkle.leaf_bytes(merkle.leaf_felts(matrix, 2, i))
        assert flat[i].tobytes() == merkle.hash_leaf(leaf)
    for i in range(4):
        expected = merkle.hash_node(flat[2 * i].tobytes(), flat[2 * i + 1].tobytes())
        assert flat[8 + i].tobytes() == expected
    assert flat[14].tobytes() == merkle.hash_node(flat[12].tobytes(), flat[13].tobytes())
    state = bytes(range(32))
    for bits in (0, 3, 9):
        nonce = blake2s.grind(blake2s.digest_words(state), blake2s.initial_state(POW_PERSON), bits)
        assert nonce == grind(state, bits)
        assert is_valid_pow(state, nonce, bits)
        assert all(not is_valid_pow(state, smaller, bits) for smaller in range(nonce))


def test_personalisation_must_be_eight_bytes():
    """The parameter block holds exactly 8 personalisation bytes."""
    with pytest.raises(ValueError):
        blake2s.initial_state(b"short")


@pytest.mark.parametrize(
    ("columns", "positions", "group"), [(1, 1, 1), (5, 16, 1), (4, 64, 8), (18, 32, 1)]
)
def test_fast_tree_equals_reference(columns, positions, group):
    """Every level of the numba tree equals the hashlib tree."""
    matrix = (
        np.random.default_rng(columns).integers(0, P, size=(columns, positions)).astype(np.uint64)
    )
    a, b = fast_tree(matrix, group), merkle.build_tree(matrix, group)
    assert len(a.levels) == len(b.levels)
    assert all((x == y).all() for x, y in zip(a.levels, b.levels, strict=True))


def test_paths_verify_and_tampering_fails():
    """A path proves its leaf at its index; another leaf, index or sibling fails."""
    matrix = np.random.default_rng(9).integers(0, P, size=(3, 16)).astype(np.uint64)
    tree = merkle.build_tree(matrix, 1)
    for index in range(16):
        leaf = merkle.leaf_bytes(merkle.leaf_felts(matrix, 1, index))
        path = tree.path(index)
        assert merkle.is_valid_path(tree.root, leaf, index, path)
        assert not merkle.is_valid_path(tree.root, leaf, index ^ 1, path)
        assert not merkle.is_valid_path(tree.root, leaf[:-1] + bytes([leaf[-1] ^ 1]), index, path)
        bad = bytes(32) + path[32:]
        assert not merkle.is_valid_path(tree.root, leaf, index, bad)
        assert merkle.is_valid_path(tree.root, leaf, index, tree.paths([index])[0])


def test_leaves_and_nodes_are_domain_separated():
    """The same 64 bytes hash differently as a leaf and as a node."""
    data = bytes(range(64))
    assert merkle.hash_leaf(data) != merkle.hash_node(data[:32], data[32:])
    assert merkle.hash_node(data[:32], data[32:]) != hashlib.blake2s(data).digest()


def test_bad_leaf_counts_are_refused():
    """Trees need a power-of-two number of whole leaves."""
    with pytest.raises(ValueError):
        merkle.build_tree(np.zeros((1, 12), dtype=np.uint64), 1)
    with pytest.raises(ValueError):
        fast_tree(np.zeros((1, 12), dtype=np.uint64), 8)
