"""A tiny, strict, canonical binary encoding for wire messages
(docs/architecture.md#the-node-is-sans-io).

Layout rules: integers are fixed-width little-endian (u8, u32, u64, u128), except ``u256``,
which is 32 bytes big-endian (the chain's arbitrary-precision naturals such as VRF randomness
and voting power). Byte strings are either fixed-length (no prefix) or prefixed by a u32
length. Strings are UTF-8 with a u32 byte-length prefix. Lists are a u32 count followed by
the items. Optionals and bools are one byte, 0 or 1. ``i64`` is 8 bytes two's complement
little-endian; ``nat`` an unbounded natural as a u32 length and its minimal big-endian bytes
(zero is empty, a leading zero byte is malformed). Floats appear only in state snapshots (the
chain's f64 reputation scores, ``rppsim.node.state_sync``): ``f64`` is the IEEE-754 binary64
bits little-endian, NaN excluded, so every other bit pattern is its own canonical encoding.

A record's bytes are declared once as a ``Layout``: its fields in order, each with a ``Codec``
(a field type: how a value is written and read, e.g. ``U64``, ``fixed(32)``,
``sequence(STRING)``); ``write_layout`` and ``read_layout`` derive both directions from it.

Every value has exactly one encoding, so ``encode(decode(b)) == b`` whenever ``decode(b)``
succeeds. A ``Reader`` reports every malformed input (truncation, trailing bytes, a bad flag,
a length larger than the remaining bytes, invalid UTF-8, a bad enum value) by raising
``DecodeError`` and nothing else; a ``Writer`` raises ``EncodeError`` on a value it cannot
encode (a programming error, never attacker input).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal, TypeVar

__all__ = [
    "BOOL",
    "BYTES",
    "F64",
    "I64",
    "NAT",
    "STRING",
    "U8",
    "U32",
    "U64",
    "U128",
    "U256",
    "Codec",
    "DecodeError",
    "EncodeError",
    "Layout",
    "Reader",
    "Writer",
    "constrained",
    "decode_exact",
    "enum",
    "fixed",
    "layout",
    "option",
    "read_layout",
    "sequence",
    "write_layout",
]

T = TypeVar("T")
E = TypeVar("E", bound=IntEnum)


class DecodeError(ValueError):
    """Malformed canonical bytes (the only error decoding raises)."""


class EncodeError(ValueError):
    """A value that has no canonical encoding (out of range, wrong type or length)."""


class Writer:
    """Appends canonical encodings to a buffer; ``to_bytes()`` returns the result."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def to_bytes(self) -> bytes:
        """The bytes written so far."""
        return bytes(self._buf)

    def raw(self, data: bytes) -> Writer:
        """Append bytes verbatim (a domain tag or an already canonical encoding)."""
        self._buf += _as_bytes(data)
        return self

    def u8(self, value: int) -> Writer:
        """One byte."""
        return self._uint(value, 1, "little")

    def u32(self, value: int) -> Writer:
        """4 bytes little-endian."""
        return self._uint(value, 4, "little")

    def u64(self, value: int) -> Writer:
        """8 bytes little-endian."""
        return self._uint(value, 8, "little")

    def u128(self, value: int) -> Writer:
        """16 bytes little-endian."""
        return self._uint(value, 16, "little")

    def u256(self, value: int) -> Writer:
        """32 bytes big-endian (an arbitrary-precision natural below 2^256)."""
        return self._uint(value, 32, "big")

    def i64(self, value: int) -> Writer:
        """8 bytes two's complement little-endian."""
        if not isinstance(value, int) or isinstance(value, bool):
            raise EncodeError(f"expected an int, got {type(value).__name__}")
        if not -(1 << 63) <= value < 1 << 63:
            raise EncodeError(f"{value} does not fit a signed 64-bit field")
        self._buf += value.to_bytes(8, "little", signed=True)
        return self

    def nat(self, value: int) -> Writer:
        """A u32 length, then the minimal big-endian bytes of a natural (0: no bytes)."""
        if not isinstance(value, int) or isinstance(value, bool):
            raise EncodeError(f"expected an int, got {type(value).__name__}")
        if value < 0:
            raise EncodeError(f"{value} is not a natural")
        return self.var_bytes(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    def f64(self, value: float) -> Writer:
        """IEEE-754 binary64 little-endian; NaN has no encoding."""
        if not isinstance(value, float):
            raise EncodeError(f"expected a float, got {type(value).__name__}")
        if math.isnan(value):
            raise EncodeError("NaN has no canonical encoding")
        self._buf += struct.pack("<d", value)
        return self

    def boolean(self, flag: bool) -> Writer:
        """One byte, 0 or 1."""
        if not isinstance(flag, bool):
            raise EncodeError(f"expected a bool, got {type(flag).__name__}")
        self._buf.append(1 if flag else 0)
        return self

    def fixed(self, data: bytes, length: int) -> Writer:
        """Exactly ``length`` bytes, no prefix."""
        data = _as_bytes(data)
        if len(data) != length:
            raise EncodeError(f"expected {length} bytes, got {len(data)}")
        self._buf += data
        return self

    def var_bytes(self, data: bytes) -> Writer:
        """A u32 length prefix, then the bytes."""
        data = _as_bytes(data)
        self.u32(len(data))
        self._buf += data
        return self

    def string(self, text: str) -> Writer:
        """A u32 byte-length prefix, then the strict UTF-8 bytes."""
        return self.var_bytes(_utf8(text))

    def text(self, text: str) -> Writer:
        """The strict UTF-8 bytes with no prefix (only inside signed bytes, never decoded)."""
        self._buf += _utf8(text)
        return self

    def option(self, value: T | None, write: Callable[[Writer, T], object]) -> Writer:
        """Flag 0 for None, else flag 1 followed by ``write(self, value)``."""
        if value is None:
            self._buf.append(0)
        else:
            self._buf.append(1)
            write(self, value)
        return self

    def sequence(self, items: Sequence[T], write: Callable[[Writer, T], object]) -> Writer:
        """A u32 count, then each item via ``write(self, item)``."""
        self.u32(len(items))
        for item in items:
            write(self, item)
        return self

    def enum(self, value: int, enum_type: type[IntEnum]) -> Writer:
        """A u8 member value of ``enum_type``."""
        try:
            member = enum_type(value)
        except ValueError:
            raise EncodeError(f"{value!r} is not a {enum_type.__name__}") from None
        return self.u8(int(member))

    def _uint(self, value: int, width: int, order: Literal["little", "big"]) -> Writer:
        if not isinstance(value, int) or isinstance(value, bool):
            raise EncodeError(f"expected an int, got {type(value).__name__}")
        if value < 0 or value.bit_length() > 8 * width:
            raise EncodeError(f"{value} does not fit an unsigned {8 * width}-bit field")
        self._buf += value.to_bytes(width, order)
        return self


class Reader:
    """Reads canonical encodings from bytes; every failure is a ``DecodeError``."""

    __slots__ = ("_data", "_pos", "_size")

    def __init__(self, data: bytes) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(f"expected bytes, got {type(data).__name__}")
        self._data = bytes(data)
        self._pos = 0
        self._size = len(self._data)

    @property
    def remaining(self) -> int:
        """Bytes not yet read."""
        return self._size - self._pos

    def finish(self) -> None:
        """Reject trailing bytes."""
        if self.remaining:
            raise DecodeError(f"{self.remaining} trailing bytes")

    def take(self, length: int) -> bytes:
        """The next ``length`` bytes, or DecodeError when fewer remain."""
        start = self._pos
        end = start + length
        if end > self._size:
            raise DecodeError(f"truncated: need {length} bytes, {self.remaining} remain")
        self._pos = end
        return self._data[start:end]

    def u8(self) -> int:
        """One byte."""
        return self.take(1)[0]

    def u32(self) -> int:
        """4 bytes little-endian."""
        return int.from_bytes(self.take(4), "little")

    def u64(self) -> int:
        """8 bytes little-endian."""
        return int.from_bytes(self.take(8), "little")

    def u128(self) -> int:
        """16 bytes little-endian."""
        return int.from_bytes(self.take(16), "little")

    def u256(self) -> int:
        """32 bytes big-endian."""
        return int.from_bytes(self.take(32), "big")

    def i64(self) -> int:
        """8 bytes two's complement little-endian."""
        return int.from_bytes(self.take(8), "little", signed=True)

    def nat(self) -> int:
        """A u32 length, then minimal big-endian bytes (no leading zero byte)."""
        data = self.var_bytes()
        if data[:1] == b"\x00":
            raise DecodeError("natural with a leading zero byte")
        return int.from_bytes(data, "big")

    def f64(self) -> float:
        """IEEE-754 binary64 little-endian; NaN is malformed."""
        value: float = struct.unpack("<d", self.take(8))[0]
        if math.isnan(value):
            raise DecodeError("NaN float")
        return value

    def boolean(self) -> bool:
        """One byte, 0 or 1 only."""
        flag = self.u8()
        if flag > 1:
            raise DecodeError(f"bool byte must be 0 or 1, got {flag}")
        return flag == 1

    def fixed(self, length: int) -> bytes:
        """Exactly ``length`` bytes."""
        return self.take(length)

    def var_bytes(self) -> bytes:
        """A u32 length prefix (bounded by the remaining bytes), then the bytes."""
        return self.take(self.u32())

    def string(self) -> str:
        """A u32 byte-length prefix, then strict UTF-8."""
        data = self.var_bytes()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DecodeError(f"invalid UTF-8: {error.reason}") from None

    def option(self, read: Callable[[Reader], T]) -> T | None:
        """Flag 0 → None; flag 1 → ``read(self)``; any other flag is an error."""
        flag = self.u8()
        if flag == 0:
            return None
        if flag != 1:
            raise DecodeError(f"option flag must be 0 or 1, got {flag}")
        return read(self)

    def sequence(self, read: Callable[[Reader], T], min_item_size: int = 1) -> tuple[T, ...]:
        """A u32 count, then the items; the count is bounded by the remaining bytes first."""
        count = self.u32()
        if count * max(min_item_size, 1) > self.remaining:
            raise DecodeError(f"list of {count} items cannot fit in {self.remaining} bytes")
        return tuple(read(self) for _ in range(count))

    def enum(self, enum_type: type[E]) -> E:
        """A u8 that must be a member value of ``enum_type``."""
        value = self.u8()
        member = enum_type._value2member_map_.get(value)
        if member is None:
            raise DecodeError(f"{value} is not a {enum_type.__name__}")
        return member  # type: ignore[return-value]  # an enum_type member


def decode_exact(data: bytes, read: Callable[[Reader], T]) -> T:
    """Decode all of ``data`` with ``read``; any failure (even a constructor's) is DecodeError."""
    reader = Reader(data)
    try:
        value = read(reader)
    except DecodeError:
        raise
    except (ValueError, TypeError, OverflowError) as error:
        raise DecodeError(f"malformed value: {error}") from None
    reader.finish()
    return value


# --- declarative layouts ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Codec:
    """A field type of a layout: how one value is written and read.

    ``min_size`` is a lower bound of its encoding, which bounds a list's count before reading;
    ``param`` is what the type is built from (a length, an enum, an element codec, …) so
    tests can derive values of every layout. ``read`` is None for a write-only type (one that
    appears only inside signed bytes).
    """

    label: str
    write: Callable[[Writer, Any], object]
    read: Callable[[Reader], Any] | None
    min_size: int = 1
    param: Any = None


Layout = tuple[tuple[str, Codec], ...]
"""The fields of a record in wire order, each with its codec."""


def layout(**fields: Codec) -> Layout:
    """A layout from keyword arguments, in the order given."""
    return tuple(fields.items())


def write_layout(writer: Writer, record: object, fields: Layout) -> Writer:
    """Write the ``fields`` of ``record`` (attributes of those names) in order."""
    for name, codec in fields:
        codec.write(writer, getattr(record, name))
    return writer


def read_layout(reader: Reader, fields: Layout) -> list[Any]:
    """Read the values of ``fields`` in order."""
    return [codec.read(reader) for _, codec in fields]  # type: ignore[misc]  # layout codecs read


U8 = Codec("u8", Writer.u8, Reader.u8, 1)
U32 = Codec("u32", Writer.u32, Reader.u32, 4)
U64 = Codec("u64", Writer.u64, Reader.u64, 8)
U128 = Codec("u128", Writer.u128, Reader.u128, 16)
U256 = Codec("u256", Writer.u256, Reader.u256, 32)
I64 = Codec("i64", Writer.i64, Reader.i64, 8)
NAT = Codec("nat", Writer.nat, Reader.nat, 4)
F64 = Codec("f64", Writer.f64, Reader.f64, 8)
BOOL = Codec("bool", Writer.boolean, Reader.boolean, 1)
STRING = Codec("string", Writer.string, Reader.string, 4)
BYTES = Codec("bytes", Writer.var_bytes, Reader.var_bytes, 4)


def fixed(length: int) -> Codec:
    """Exactly ``length`` bytes, no prefix."""
    return Codec(
        f"bytes[{length}]",
        lambda w, data: w.fixed(data, length),
        lambda r: r.fixed(length),
        length,
        length,
    )


def enum(enum_type: type[IntEnum]) -> Codec:
    """A u8 member value of ``enum_type``."""
    return Codec(
        enum_type.__name__,
        lambda w, value: w.enum(value, enum_type),
        lambda r: r.enum(enum_type),
        1,
        enum_type,
    )


def option(item: Codec) -> Codec:
    """Flag 0 for None, else flag 1 and the item."""
    return Codec(
        f"option<{item.label}>",
        lambda w, value: w.option(value, item.write),
        lambda r: r.option(item.read),  # type: ignore[arg-type]  # item reads
        1,
        item,
    )


def sequence(item: Codec) -> Codec:
    """A u32 count, then the items (the count bounded by ``item.min_size`` when read)."""
    return Codec(
        f"list<{item.label}>",
        lambda w, items: w.sequence(items, item.write),
        lambda r: r.sequence(item.read, min_item_size=item.min_size),  # type: ignore[arg-type]  # item reads
        4,
        item,
    )


def constrained(
    label: str,
    base: Codec,
    is_valid: Callable[[Any], bool],
    encode_error: str,
    decode_error: str,
) -> Codec:
    """``base`` restricted to values where ``is_valid`` holds; the errors are format strings
    of ``value`` (checked before writing, and after reading)."""

    def write(writer: Writer, value: Any) -> None:
        if not is_valid(value):
            raise EncodeError(encode_error.format(value=value))
        base.write(writer, value)

    def read(reader: Reader) -> Any:
        value = base.read(reader)  # type: ignore[misc]  # base reads
        if not is_valid(value):
            raise DecodeError(decode_error.format(value=value))
        return value

    return Codec(label, write, read, base.min_size, base)


def _utf8(text: str) -> bytes:
    if not isinstance(text, str):
        raise EncodeError(f"expected a str, got {type(text).__name__}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise EncodeError(f"string is not valid UTF-8: {error.reason}") from None


def _as_bytes(data: bytes) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise EncodeError(f"expected bytes, got {type(data).__name__}")
