"""BLAKE2s-256 (RFC 7693) in numba, bit-identical to hashlib (tests/prover/test_merkle.py).

One compression is written out round by round with the message schedule σ already
applied (the 80 G calls below are generated from RFC 7693's σ table; keeping the words in
scalar locals lets LLVM hold the state in registers: ~4× faster than a looped version).
One kernel hashes a batch of messages; leaves, tree levels and grinding are built on it.
The BLAKE2 parameter block sets digest length 32, no key, fanout/depth 1 and an 8-byte
personalisation, which is how leaves, nodes and grinding are domain-separated.
"""

from __future__ import annotations

import numpy as np

from rppsim.prover.jit import inline_kernel, kernel

M32 = 0xFFFFFFFF
IV0, IV1, IV2, IV3 = 0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A
IV4, IV5, IV6, IV7 = 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19
IV = (IV0, IV1, IV2, IV3, IV4, IV5, IV6, IV7)
PARAM_WORD0 = 0x01010020  # digest length 32, key length 0, fanout 1, depth 1


def initial_state(person: bytes) -> np.ndarray:
    """h₀ = IV ⊕ parameter block, for an 8-byte personalisation: eight int64 words."""
    if len(person) != 8:
        raise ValueError("BLAKE2s personalisation must be 8 bytes")
    words = list(IV)
    words[0] ^= PARAM_WORD0
    words[6] ^= int.from_bytes(person[:4], "little")
    words[7] ^= int.from_bytes(person[4:], "little")
    return np.array(words, dtype=np.int64)


@inline_kernel
def _g(a: int, b: int, c: int, d: int, x: int, y: int) -> tuple[int, int, int, int]:
    """The G mixing function on 32-bit words held in int64."""
    a = (a + b + x) & M32
    d ^= a
    d = ((d >> 16) | (d << 16)) & M32
    c = (c + d) & M32
    b ^= c
    b = ((b >> 12) | (b << 20)) & M32
    a = (a + b + y) & M32
    d ^= a
    d = ((d >> 8) | (d << 24)) & M32
    c = (c + d) & M32
    b ^= c
    b = ((b >> 7) | (b << 25)) & M32
    return a, b, c, d


@inline_kernel
def compress(h: np.ndarray, m: np.ndarray, t: int, last: bool) -> None:  # noqa: PLR0915
    """h ← F(h, m, t, last): one compression of the 16 words in ``m`` (RFC 7693 §3.2)."""
    m0, m1, m2, m3, m4, m5, m6, m7 = m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]
    m8, m9, m10, m11, m12, m13, m14, m15 = m[8], m[9], m[10], m[11], m[12], m[13], m[14], m[15]
    v0, v1, v2, v3, v4, v5, v6, v7 = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    v8, v9, v10, v11 = IV0, IV1, IV2, IV3
    v12 = IV4 ^ (t & M32)
    v13 = IV5 ^ ((t >> 32) & M32)
    v14 = IV6 ^ M32 if last else IV6
    v15 = IV7
    # round 0
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m0, m1)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m2, m3)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m4, m5)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m6, m7)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m8, m9)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m10, m11)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m12, m13)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m14, m15)
    # round 1
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m14, m10)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m4, m8)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m9, m15)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m13, m6)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m1, m12)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m0, m2)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m11, m7)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m5, m3)
    # round 2
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m11, m8)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m12, m0)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m5, m2)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m15, m13)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m10, m14)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m3, m6)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m7, m1)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m9, m4)
    # round 3
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m7, m9)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m3, m1)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m13, m12)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m11, m14)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m2, m6)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m5, m10)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m4, m0)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m15, m8)
    # round 4
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m9, m0)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m5, m7)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m2, m4)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m10, m15)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m14, m1)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m11, m12)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m6, m8)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m3, m13)
    # round 5
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m2, m12)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m6, m10)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m0, m11)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m8, m3)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m4, m13)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m7, m5)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m15, m14)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m1, m9)
    # round 6
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m12, m5)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m1, m15)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m14, m13)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m4, m10)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m0, m7)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m6, m3)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m9, m2)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m8, m11)
    # round 7
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m13, m11)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m7, m14)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m12, m1)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m3, m9)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m5, m0)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m15, m4)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m8, m6)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m2, m10)
    # round 8
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m6, m15)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m14, m9)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m11, m3)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m0, m8)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m12, m2)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m13, m7)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m1, m4)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m10, m5)
    # round 9
    v0, v4, v8, v12 = _g(v0, v4, v8, v12, m10, m2)
    v1, v5, v9, v13 = _g(v1, v5, v9, v13, m8, m4)
    v2, v6, v10, v14 = _g(v2, v6, v10, v14, m7, m6)
    v3, v7, v11, v15 = _g(v3, v7, v11, v15, m1, m5)
    v0, v5, v10, v15 = _g(v0, v5, v10, v15, m15, m11)
    v1, v6, v11, v12 = _g(v1, v6, v11, v12, m9, m14)
    v2, v7, v8, v13 = _g(v2, v7, v8, v13, m3, m12)
    v3, v4, v9, v14 = _g(v3, v4, v9, v14, m13, m0)
    h[0] ^= v0 ^ v8
    h[1] ^= v1 ^ v9
    h[2] ^= v2 ^ v10
    h[3] ^= v3 ^ v11
    h[4] ^= v4 ^ v12
    h[5] ^= v5 ^ v13
    h[6] ^= v6 ^ v14
    h[7] ^= v7 ^ v15


@kernel
def hash_batch(
    msgs: np.ndarray, leaf_h0: np.ndarray, node_h0: np.ndarray, out: np.ndarray, tree: bool
) -> None:
    """Hash every message (row of ``msgs``: L u32 words in int64) with ``leaf_h0`` into
    out[:count]; with ``tree``, also every Merkle level above them with ``node_h0`` into
    out[count : 2·count − 1] (each level after the one below, the root last).

    The only kernel that compiles the compression (it takes long to compile), with a
    single call site: leaves, whole trees, path checks and grinding all come here.
    """
    count, length = msgs.shape
    total = 2 * count - 1 if tree else count
    h = np.empty(8, dtype=np.int64)
    m = np.zeros(16, dtype=np.int64)
    read, write, level = 0, count, count // 2  # the level being written and its children
    for job in range(total):
        leaf = job < count
        if not leaf:
            if job == write + level:
                read, write, level = write, write + level, level // 2
            child = read + 2 * (job - write)
            m[:8] = out[child]
            m[8:] = out[child + 1]
        size = length if leaf else 16
        blocks = max((size + 15) // 16, 1)
        h[:] = leaf_h0 if leaf else node_h0
        for b in range(blocks):
            start = 16 * b
            if leaf and start + 16 <= length:  # a whole block of a message, read in place
                src = msgs[job, start : start + 16]
            elif leaf:  # the zero-padded tail of a message
                m[:] = 0
                m[: length - start] = msgs[job, start:length]
                src = m
            else:
                src = m
            compress(h, src, 4 * min(start + 16, size), b == blocks - 1)
        out[job, :] = h


def hash_messages(msgs: np.ndarray, h0: np.ndarray, out: np.ndarray) -> None:
    """out[i] = BLAKE2s words of message i (rows of L u32 words held in int64)."""
    hash_batch(np.ascontiguousarray(msgs, dtype=np.int64), h0, h0, out, False)


def hash_leaves(matrix: np.ndarray, group: int, h0: np.ndarray) -> np.ndarray:
    """(count, 8) words of the leaves of ``group`` positions × all columns, position-major."""
    columns, positions = matrix.shape
    count = positions // group
    msgs = np.ascontiguousarray(matrix.T, dtype=np.int64).reshape(count, group * columns)
    out = np.empty((count, 8), dtype=np.int64)
    hash_batch(msgs, h0, h0, out, False)
    return out


def hash_tree(
    matrix: np.ndarray, group: int, leaf_h0: np.ndarray, node_h0: np.ndarray
) -> np.ndarray:
    """Leaves and every level above them, stacked (2·count − 1, 8): leaves first, root last."""
    columns, positions = matrix.shape
    count = positions // group
    msgs = np.ascontiguousarray(matrix.T, dtype=np.int64).reshape(count, group * columns)
    out = np.empty((2 * count - 1, 8), dtype=np.int64)
    hash_batch(msgs, leaf_h0, node_h0, out, True)
    return out


GRIND_BATCH = 1 << 14


def grind(state: np.ndarray, h0: np.ndarray, bits: int, start: int = 0) -> int:
    """The smallest nonce ≥ start whose BLAKE2s(state ‖ nonce LE u64) has ``bits`` low zeros.

    Nonces are hashed in batches that grow from 2^bits/4 up to 2^14 messages.
    """
    if bits == 0:
        return start
    mask0 = (1 << min(bits, 32)) - 1
    mask1 = (1 << max(bits - 32, 0)) - 1
    batch = min(max(1 << max(bits - 2, 0), 64), GRIND_BATCH)
    base = start
    while True:
        nonces = base + np.arange(batch, dtype=np.int64)
        msgs = np.zeros((batch, 10), dtype=np.int64)
        msgs[:, :8] = state
        msgs[:, 8] = nonces & M32
        msgs[:, 9] = (nonces >> 32) & M32
        out = np.empty((batch, 8), dtype=np.int64)
        hash_batch(msgs, h0, h0, out, False)
        hits = np.flatnonzero(((out[:, 0] & mask0) == 0) & ((out[:, 1] & mask1) == 0))
        if hits.size:
            return int(nonces[hits[0]])
        base += batch
        batch = min(2 * batch, GRIND_BATCH)


def words_to_digests(words: np.ndarray) -> np.ndarray:
    """(count, 8) int64 words → (count, 32) uint8 digests (LE words)."""
    return words.astype("<u4").view(np.uint8).reshape(words.shape[0], 32)


def digest_words(digest: bytes) -> np.ndarray:
    """32 bytes → eight int64 words (LE)."""
    return np.frombuffer(digest, dtype="<u4").astype(np.int64)
