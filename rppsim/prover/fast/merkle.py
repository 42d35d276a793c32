"""Merkle trees and path checks on the numba BLAKE2s kernel (same rules as reference/merkle.py)."""

from __future__ import annotations

import numpy as np

from rppsim.prover.fast.blake2s import hash_messages, hash_tree, initial_state, words_to_digests
from rppsim.prover.reference.merkle import LEAF_PERSON, NODE_PERSON, MerkleTree

_LEAF_H0 = initial_state(LEAF_PERSON)
_NODE_H0 = initial_state(NODE_PERSON)


def build_tree(matrix: np.ndarray, group: int) -> MerkleTree:
    """Commit to a (columns, M) matrix with leaves of ``group`` consecutive positions."""
    count = matrix.shape[1] // group
    if count < 1 or count & (count - 1) or count * group != matrix.shape[1]:
        raise ValueError(f"{matrix.shape[1]} positions do not split into 2^k leaves of {group}")
    digests = words_to_digests(hash_tree(matrix, group, _LEAF_H0, _NODE_H0))
    levels, start = [], 0
    while count >= 1:
        levels.append(digests[start : start + count])
        start, count = start + count, count // 2
    return MerkleTree(tuple(levels))


def compute_roots(leaves: np.ndarray, indices: np.ndarray, paths: np.ndarray) -> np.ndarray:
    """Roots implied by many openings at once: (q, L) leaf felts, (q,) leaf indices,
    (q, depth, 8) sibling words → (q, 32) root digests (same rule as merkle.compute_root)."""
    count, depth = paths.shape[0], paths.shape[1]
    node = np.empty((count, 8), dtype=np.int64)
    hash_messages(np.ascontiguousarray(leaves, dtype=np.int64), _LEAF_H0, node)
    idx = np.asarray(indices, dtype=np.int64)
    for level in range(depth):
        sibling = paths[:, level, :]
        right = ((idx >> level) & 1).astype(bool)[:, None]
        msgs = np.concatenate(
            [np.where(right, sibling, node), np.where(right, node, sibling)], axis=1
        )
        hash_messages(msgs, _NODE_H0, node)
    return words_to_digests(node)


def is_valid_paths(root: bytes, leaves: list, indices: list[int], paths: list[bytes]) -> bool:
    """True when every (leaf, index, path) opens ``root`` (vectorised numba BLAKE2s)."""
    if not leaves:
        return True
    depth = len(paths[0]) // 32
    words = np.frombuffer(b"".join(paths), dtype="<u4").astype(np.int64)
    roots = compute_roots(
        np.array(leaves, dtype=np.int64), np.array(indices), words.reshape(len(leaves), depth, 8)
    )
    return bool((roots == np.frombuffer(root, dtype=np.uint8)[None, :]).all())
