"""Sorted-leaf BLAKE2s Merkle root of the ledger commitments (docs/protocol.md#timetoke
"Commitments").

The chain's rule (``rpp/storage/state/merkle.rs``): sort the 32-byte leaves once, then hash
pairs level by level, an odd last node pairing with itself; parent = BLAKE2s(left ‖ right).
The empty tree's root is BLAKE2s("rpp-empty"). A single leaf is its own root: the pairing loop
never runs, so the leaf is returned unhashed (kept as the chain has it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["EMPTY_ROOT", "compute_leaf_hash", "compute_merkle_root"]

EMPTY_ROOT = hashlib.blake2s(b"rpp-empty").digest()
"""Root of a tree without leaves: BLAKE2s("rpp-empty")."""


def compute_leaf_hash(payload: bytes) -> bytes:
    """A leaf: the plain unkeyed BLAKE2s-256 of a record's canonical bytes
    (docs/protocol.md#two-consensus-implementations)."""
    return hashlib.blake2s(payload).digest()


def compute_merkle_root(leaves: Iterable[bytes]) -> bytes:
    """Root over ``leaves`` in any order: sorted once, then paired upward
    (docs/protocol.md#timetoke)."""
    level = sorted(leaves)
    if not level:
        return EMPTY_ROOT
    blake2s = hashlib.blake2s
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [blake2s(level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]
