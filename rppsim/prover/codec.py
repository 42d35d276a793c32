"""Canonical little-endian encoding of proofs and public inputs
(docs/proofs.md#hashing-and-encoding).

Integers are little-endian; variable-length sequences carry a u32 count; felts are u32
values < p; extension elements are four felts. No floats, dicts or pickle. The reader is
strict, so every accepted byte string re-encodes to itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rppsim.prover.errors import ProofFormatError
from rppsim.prover.reference.field import Ext, P


class ByteWriter:
    """Appends canonical fields to a buffer."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def u8(self, value: int) -> None:
        """One byte."""
        self._buf += value.to_bytes(1, "little")

    def u16(self, value: int) -> None:
        """Two bytes LE."""
        self._buf += value.to_bytes(2, "little")

    def u32(self, value: int) -> None:
        """Four bytes LE."""
        self._buf += value.to_bytes(4, "little")

    def u64(self, value: int) -> None:
        """Eight bytes LE."""
        self._buf += value.to_bytes(8, "little")

    def raw(self, data: bytes) -> None:
        """Bytes as they are (fixed-length fields)."""
        self._buf += data

    def blob(self, data: bytes) -> None:
        """u32 length, then the bytes."""
        self.u32(len(data))
        self._buf += data

    def short_str(self, text: str) -> None:
        """u8 length, then ASCII."""
        data = text.encode("ascii")
        self.u8(len(data))
        self._buf += data

    def felts(self, values: Iterable[int]) -> None:
        """Felts as u32 LE, no count."""
        self._buf += np.fromiter(values, dtype=np.uint64).astype("<u4").tobytes()

    def exts(self, values: Iterable[Ext]) -> None:
        """Extension elements, 16 bytes each, no count."""
        for v in values:
            self._buf += v.to_bytes()

    def getvalue(self) -> bytes:
        """The bytes written so far."""
        return bytes(self._buf)

    def __len__(self) -> int:
        return len(self._buf)


class ByteReader:
    """Reads canonical fields; any deviation raises ProofFormatError."""

    def __init__(self, data: bytes, what: str = "proof") -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ProofFormatError(f"{what}: expected bytes, found {type(data).__name__}")
        self._data = bytes(data)
        self._pos = 0
        self._what = what

    @property
    def position(self) -> int:
        """Offset of the next unread byte."""
        return self._pos

    def raw(self, count: int) -> bytes:
        """Exactly ``count`` bytes."""
        end = self._pos + count
        if count < 0 or end > len(self._data):
            raise ProofFormatError(f"{self._what}: truncated at byte {self._pos}")
        out = self._data[self._pos : end]
        self._pos = end
        return out

    def uint(self, size: int) -> int:
        """An unsigned LE integer of ``size`` bytes."""
        return int.from_bytes(self.raw(size), "little")

    def u8(self) -> int:
        """One byte."""
        return self.uint(1)

    def u16(self) -> int:
        """Two bytes LE."""
        return self.uint(2)

    def u32(self) -> int:
        """Four bytes LE."""
        return self.uint(4)

    def u64(self) -> int:
        """Eight bytes LE."""
        return self.uint(8)

    def count(self, limit: int, what: str) -> int:
        """A u32 count that must not exceed ``limit``."""
        value = self.u32()
        if value > limit:
            raise ProofFormatError(f"{self._what}: {what} count {value} exceeds {limit}")
        return value

    def blob(self, limit: int, what: str) -> bytes:
        """A u32 length and that many bytes."""
        return self.raw(self.count(limit, what))

    def short_str(self, what: str) -> str:
        """A u8 length and that many printable ASCII bytes."""
        data = self.raw(self.u8())
        if not data or not all(0x21 <= b <= 0x7E for b in data):
            raise ProofFormatError(f"{self._what}: {what} is not printable ASCII")
        return data.decode("ascii")

    def felt(self) -> int:
        """A canonical base element."""
        value = self.u32()
        if value >= P:
            raise ProofFormatError(
                f"{self._what}: non-canonical field element at byte {self._pos - 4}"
            )
        return value

    def felts(self, count: int) -> tuple[int, ...]:
        """``count`` canonical base elements."""
        start = self._pos
        values = np.frombuffer(self.raw(4 * count), dtype="<u4")
        if (values >= P).any():
            bad = start + 4 * int(np.argmax(values >= P))
            raise ProofFormatError(f"{self._what}: non-canonical field element at byte {bad}")
        return tuple(values.tolist())

    def ext(self) -> Ext:
        """A canonical extension element."""
        return Ext(self.felt(), self.felt(), self.felt(), self.felt())

    def exts(self, count: int) -> tuple[Ext, ...]:
        """``count`` canonical extension elements."""
        flat = self.felts(4 * count)
        return tuple(Ext(*flat[i : i + 4]) for i in range(0, 4 * count, 4))

    def finish(self) -> None:
        """Fail unless every byte was consumed."""
        if self._pos != len(self._data):
            raise ProofFormatError(f"{self._what}: {len(self._data) - self._pos} trailing bytes")
