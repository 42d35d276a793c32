"""The seed tree (docs/architecture.md#determinism): named, stable random streams from one root
seed.

A stream is named by a path of strings and integers, for example ``("net", "latency")``
or ``("node", 17, "keys")``. The path is encoded canonically and hashed with BLAKE2s;
the digest becomes the ``spawn_key`` of a numpy ``SeedSequence`` whose entropy is the
root seed. So a stream depends only on (root seed, name): never on PYTHONHASHSEED, on
the order in which streams are created, or on how many other streams exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

NamePart = str | int
_DOMAIN = b"rppsim/seed-tree/v1"


def encode_name(name: Iterable[NamePart]) -> bytes:
    """Canonical bytes of a stream name: each part tagged with its type and length."""
    out = bytearray()
    for part in name:
        if isinstance(part, bool) or not isinstance(part, (str, int)):
            raise TypeError(f"stream name parts must be str or int, got {part!r}")
        if isinstance(part, str):
            data = part.encode("utf-8")
            out += b"s" + len(data).to_bytes(4, "little") + data
        else:
            data = part.to_bytes((part.bit_length() + 8) // 8 or 1, "little", signed=True)
            out += b"i" + len(data).to_bytes(4, "little") + data
    return bytes(out)


def compute_spawn_key(name: Iterable[NamePart]) -> tuple[int, ...]:
    """The SeedSequence spawn key of a name: BLAKE2s of its encoding as eight u32 words."""
    digest = hashlib.blake2s(_DOMAIN + encode_name(name)).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4))


class SeedTree:
    """All randomness of a run, derived from one root seed by stable names."""

    def __init__(self, root_seed: int) -> None:
        if isinstance(root_seed, bool) or not isinstance(root_seed, int) or root_seed < 0:
            raise ValueError(f"root seed must be a non-negative integer, got {root_seed!r}")
        self.root_seed = root_seed

    def seed_sequence(self, *name: NamePart) -> np.random.SeedSequence:
        """The SeedSequence of stream ``name``."""
        return np.random.SeedSequence(entropy=self.root_seed, spawn_key=compute_spawn_key(name))

    def generator(self, *name: NamePart) -> np.random.Generator:
        """A fresh numpy Generator (PCG64) for stream ``name``; same name, same numbers."""
        return np.random.Generator(np.random.PCG64(self.seed_sequence(*name)))

    def integer(self, *name: NamePart) -> int:
        """A 64-bit integer drawn from stream ``name`` (for seeding other components)."""
        words = self.seed_sequence(*name).generate_state(2, dtype=np.uint32)
        return int(words[0]) | (int(words[1]) << 32)

    def seed_bytes(self, *name: NamePart, length: int = 32) -> bytes:
        """``length`` bytes from stream ``name`` (key seeds for the sans-IO node)."""
        words = self.seed_sequence(*name).generate_state((length + 3) // 4, dtype=np.uint32)
        return words.astype("<u4").tobytes()[:length]
