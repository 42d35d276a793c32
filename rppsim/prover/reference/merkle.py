"""Blake2s Merkle trees with domain-separated leaves and nodes
(docs/proofs.md#hashing-and-encoding).

Leaf = BLAKE2s-256(person="rps-leaf")(leaf felts as u32 LE); node =
BLAKE2s-256(person="rps-node")(left ‖ right). The personalisation (the BLAKE2 parameter
block) separates the two domains without an extra tag byte, so a node is one compression.
A leaf holds ``group`` consecutive positions of a (columns, M) matrix, position-major:
[m[0, i·g], …, m[c−1, i·g], m[0, i·g+1], …]. Trees are complete binary trees over a power
of two leaves; a path is the sibling digests from the leaf level upwards, concatenated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEAF_PERSON = b"rps-leaf"
NODE_PERSON = b"rps-node"
DIGEST_BYTES = 32


_LEAF = hashlib.blake2s(person=LEAF_PERSON)
_NODE = hashlib.blake2s(person=NODE_PERSON)


def hash_leaf(data: bytes) -> bytes:
    """Digest of one leaf's bytes."""
    h = _LEAF.copy()  # copying a keyed-up state is cheaper than passing person= each time
    h.update(data)
    return h.digest()


def hash_node(left: bytes, right: bytes) -> bytes:
    """Digest of an inner node."""
    h = _NODE.copy()
    h.update(left + right)
    return h.digest()


def leaf_felts(matrix: np.ndarray, group: int, index: int) -> np.ndarray:
    """The felts of leaf ``index``: ``group`` positions × all columns, position-major."""
    return matrix[:, index * group : (index + 1) * group].T.reshape(-1)


def leaf_bytes(felts: Sequence[int] | np.ndarray) -> bytes:
    """Canonical leaf bytes: each felt as u32 LE."""
    return np.asarray(felts, dtype=np.uint64).astype("<u4").tobytes()


@dataclass(frozen=True)
class MerkleTree:
    """All levels of a tree: ``levels[0]`` are leaf digests, ``levels[-1]`` the root.

    Each level is a (count, 32) ``uint8`` array; the fast and reference builders return
    identical trees.
    """

    levels: tuple[np.ndarray, ...]

    @property
    def root(self) -> bytes:
        """The root digest."""
        return self.levels[-1][0].tobytes()

    @property
    def depth(self) -> int:
        """Number of levels above the leaves."""
        return len(self.levels) - 1

    def path(self, index: int) -> bytes:
        """Sibling digests from the leaf level up to just below the root, concatenated."""
        return b"".join(self.levels[d][(index >> d) ^ 1].tobytes() for d in range(self.depth))

    def paths(self, indices: Sequence[int]) -> list[bytes]:
        """``path`` for many leaves at once (gathered level by level)."""
        if self.depth == 0:
            return [b"" for _ in indices]
        idx = np.asarray(indices, dtype=np.int64)
        siblings = np.stack([self.levels[d][(idx >> d) ^ 1] for d in range(self.depth)], axis=1)
        return [row.tobytes() for row in siblings]


def build_levels(leaf_digests: np.ndarray) -> tuple[np.ndarray, ...]:
    """Hash a (count, 32) array of leaf digests up to the root."""
    levels = [leaf_digests]
    while levels[-1].shape[0] > 1:
        prev = levels[-1]
        parents = [
            hash_node(prev[i].tobytes(), prev[i + 1].tobytes()) for i in range(0, len(prev), 2)
        ]
        levels.append(np.frombuffer(b"".join(parents), dtype=np.uint8).reshape(-1, DIGEST_BYTES))
    return tuple(levels)


def build_tree(matrix: np.ndarray, group: int) -> MerkleTree:
    """Commit to a (columns, M) matrix with leaves of ``group`` consecutive positions."""
    count = matrix.shape[1] // group
    if count < 1 or count & (count - 1) or count * group != matrix.shape[1]:
        raise ValueError(f"{matrix.shape[1]} positions do not split into 2^k leaves of {group}")
    digests = b"".join(hash_leaf(leaf_bytes(leaf_felts(matrix, group, i))) for i in range(count))
    leaves = np.frombuffer(digests, dtype=np.uint8).reshape(count, DIGEST_BYTES)
    return MerkleTree(build_levels(leaves))


def compute_root(leaf: bytes, index: int, path: bytes) -> bytes:
    """The root implied by a leaf's bytes, its index and its path (32-byte siblings)."""
    node = hash_leaf(leaf)
    base = _NODE
    for offset in range(0, len(path), DIGEST_BYTES):
        sibling = path[offset : offset + DIGEST_BYTES]
        h = base.copy()
        h.update(sibling + node if index & 1 else node + sibling)
        node = h.digest()
        index >>= 1
    return node


def is_valid_path(root: bytes, leaf: bytes, index: int, path: bytes) -> bool:
    """True when ``leaf`` sits at ``index`` under ``root``."""
    return compute_root(leaf, index, path) == root
