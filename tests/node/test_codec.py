"""Canonical codec: layout, round trips, and every malformed input → DecodeError only."""

from enum import IntEnum
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.codec import (
    BOOL,
    BYTES,
    STRING,
    U8,
    U32,
    U64,
    U128,
    U256,
    DecodeError,
    EncodeError,
    Reader,
    Writer,
    constrained,
    decode_exact,
    enum,
    fixed,
    layout,
    option,
    read_layout,
    sequence,
    write_layout,
)


class Colour(IntEnum):
    RED = 0
    BLUE = 3


# One "field" = (kind, value); a record is a list of fields written and read in order.
FIELD = st.one_of(
    st.tuples(st.just("u8"), st.integers(0, 2**8 - 1)),
    st.tuples(st.just("u32"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("u64"), st.integers(0, 2**64 - 1)),
    st.tuples(st.just("u128"), st.integers(0, 2**128 - 1)),
    st.tuples(st.just("u256"), st.integers(0, 2**256 - 1)),
    st.tuples(st.just("boolean"), st.booleans()),
    st.tuples(st.just("fixed4"), st.binary(min_size=4, max_size=4)),
    st.tuples(st.just("var_bytes"), st.binary(max_size=40)),
    st.tuples(st.just("string"), st.text(max_size=20)),
    st.tuples(st.just("option"), st.none() | st.integers(0, 2**64 - 1)),
    st.tuples(st.just("sequence"), st.lists(st.text(max_size=5), max_size=5).map(tuple)),
    st.tuples(st.just("enum"), st.sampled_from(Colour)),
)
RECORD = st.lists(FIELD, max_size=8)
KINDS = ["u8", "u32", "u64", "u128", "u256", "boolean", "fixed4", "var_bytes", "string"]
KINDS += ["option", "sequence", "enum"]


def _write_field(writer: Writer, kind: str, value: object) -> None:
    if kind == "fixed4":
        writer.fixed(value, 4)
    elif kind == "option":
        writer.option(value, Writer.u64)
    elif kind == "sequence":
        writer.sequence(value, Writer.string)
    elif kind == "enum":
        writer.enum(value, Colour)
    else:
        getattr(writer, kind)(value)


def _read_field(reader: Reader, kind: str) -> object:
    if kind == "fixed4":
        return reader.fixed(4)
    if kind == "option":
        return reader.option(Reader.u64)
    if kind == "sequence":
        return reader.sequence(Reader.string, min_item_size=4)
    if kind == "enum":
        return reader.enum(Colour)
    return getattr(reader, kind)()


def _encode(record: list[tuple[str, object]]) -> bytes:
    writer = Writer()
    for kind, value in record:
        _write_field(writer, kind, value)
    return writer.to_bytes()


def _decode(data: bytes, kinds: list[str]) -> list[tuple[str, object]]:
    return decode_exact(data, lambda r: [(kind, _read_field(r, kind)) for kind in kinds])


def test_layout_is_fixed_little_endian_with_u32_prefixes():
    """A hand-built byte string pins the layout of each primitive."""
    data = (
        Writer()
        .u8(7)
        .u32(1)
        .u64(2)
        .u128(3)
        .u256(4)
        .boolean(True)
        .string("é")
        .var_bytes(b"\x00\xff")
        .option(None, Writer.u64)
        .option(5, Writer.u64)
        .sequence(["a", "bc"], Writer.string)
        .enum(Colour.BLUE, Colour)
        .to_bytes()
    )
    expected = (
        b"\x07"
        + b"\x01\x00\x00\x00"
        + b"\x02" + bytes(7)
        + b"\x03" + bytes(15)
        + bytes(31) + b"\x04"
        + b"\x01"
        + b"\x02\x00\x00\x00\xc3\xa9"
        + b"\x02\x00\x00\x00\x00\xff"
        + b"\x00"
        + b"\x01\x05" + bytes(7)
        + b"\x02\x00\x00\x00" + b"\x01\x00\x00\x00a" + b"\x02\x00\x00\x00bc"
        + b"\x03"
    )  # fmt: skip
    assert data == expected


@settings(max_examples=100)
@given(RECORD)
def test_round_trip(record):
    """decode(encode(x)) == x for every field type."""
    assert _decode(_encode(record), [kind for kind, _ in record]) == record


@settings(max_examples=60)
@given(RECORD.filter(lambda r: len(_encode(r)) > 0), st.data())
def test_truncation_and_trailing_bytes_are_rejected(record, data):
    """Every strict prefix and every extension of a valid encoding is a DecodeError."""
    encoded = _encode(record)
    kinds = [kind for kind, _ in record]
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        _decode(encoded[:cut], kinds)
    with pytest.raises(DecodeError, match="trailing"):
        _decode(encoded + data.draw(st.binary(min_size=1, max_size=4)), kinds)


@settings(max_examples=100)
@given(st.lists(st.sampled_from(KINDS), max_size=6), st.binary())
def test_random_bytes_raise_only_decode_error(kinds, garbage):
    """Decoding arbitrary bytes under any schema raises DecodeError or succeeds canonically."""
    try:
        decoded = _decode(garbage, kinds)
    except DecodeError:
        return
    assert _encode(decoded) == garbage


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("boolean", b"\x02"),
        ("option", b"\x02"),
        ("enum", b"\x01"),
        ("string", b"\x01\x00\x00\x00\xff"),
        ("string", b"\x03\x00\x00\x00\xed\xa0\x80"),  # an encoded UTF-16 surrogate
        ("var_bytes", b"\xff\xff\xff\xff\x00\x00"),  # claims 4 GiB, has 2 bytes
        ("sequence", b"\xff\xff\xff\xff" + bytes(40)),  # claims 2^32 items
        ("u64", b"\x01\x02"),
    ],
)
def test_malformed_inputs(kind, data):
    """Bad flags, enums, UTF-8, oversized prefixes and truncation are DecodeError."""
    with pytest.raises(DecodeError):
        _decode(data, [kind])


def test_decode_error_is_a_value_error_and_reader_rejects_non_bytes():
    """DecodeError subclasses ValueError; a non-bytes input is a DecodeError too."""
    assert issubclass(DecodeError, ValueError)
    with pytest.raises(DecodeError):
        Reader("text")  # type: ignore[arg-type]


def test_decode_exact_turns_constructor_errors_into_decode_error():
    """A reader callback that raises ValueError surfaces as DecodeError."""

    def read(reader: Reader) -> int:
        value = reader.u8()
        raise ValueError(f"bad {value}")

    with pytest.raises(DecodeError, match="malformed"):
        decode_exact(b"\x01", read)


@pytest.mark.parametrize(
    "write",
    [
        lambda w: w.u8(256),
        lambda w: w.u32(2**32),
        lambda w: w.u64(-1),
        lambda w: w.u64(2**64),
        lambda w: w.u256(2**256),
        lambda w: w.u64(True),
        lambda w: w.u64(1.0),
        lambda w: w.boolean(1),
        lambda w: w.fixed(b"abc", 4),
        lambda w: w.var_bytes("abc"),
        lambda w: w.string("\ud800"),
        lambda w: w.string(b"abc"),
        lambda w: w.enum(2, Colour),
    ],
)
def test_writer_rejects_unencodable_values(write):
    """Out-of-range ints, wrong lengths, lone surrogates and wrong types are EncodeError."""
    with pytest.raises(EncodeError):
        write(Writer())


# --- declared layouts ------------------------------------------------------------------------

CODECS = {
    "u8": U8,
    "u32": U32,
    "u64": U64,
    "u128": U128,
    "u256": U256,
    "boolean": BOOL,
    "fixed4": fixed(4),
    "var_bytes": BYTES,
    "string": STRING,
    "option": option(U64),
    "sequence": sequence(STRING),
    "enum": enum(Colour),
}


def _as_layout(record: list[tuple[str, object]]):
    """The record as a layout with fields f0, f1, … and an object carrying its values."""
    fields = layout(**{f"f{i}": CODECS[kind] for i, (kind, _) in enumerate(record)})
    values = SimpleNamespace(**{f"f{i}": value for i, (_, value) in enumerate(record)})
    return fields, values


@settings(max_examples=100)
@given(RECORD)
def test_a_layout_writes_and_reads_what_the_writer_and_reader_do(record):
    """Each codec is exactly its Writer/Reader method: same bytes, same values back."""
    fields, values = _as_layout(record)
    assert [name for name, _ in fields] == [f"f{i}" for i in range(len(record))]
    data = write_layout(Writer(), values, fields).to_bytes()
    assert data == _encode(record)
    assert decode_exact(data, lambda r: read_layout(r, fields)) == [v for _, v in record]


@settings(max_examples=100)
@given(st.lists(st.sampled_from(KINDS), max_size=6), st.binary(max_size=60))
def test_a_layout_rejects_garbage_as_the_reader_does(kinds, garbage):
    """Same input, same outcome: the same values or a DecodeError with the same text."""
    fields = layout(**{f"f{i}": CODECS[kind] for i, kind in enumerate(kinds)})
    try:
        expected = [value for _, value in _decode(garbage, kinds)]
    except DecodeError as error:
        with pytest.raises(DecodeError) as caught:
            decode_exact(garbage, lambda r: read_layout(r, fields))
        assert str(caught.value) == str(error)
        return
    assert decode_exact(garbage, lambda r: read_layout(r, fields)) == expected


def test_a_list_bounds_its_count_by_the_item_size():
    """sequence() checks count × item.min_size against the remaining bytes before reading."""
    assert (U8.min_size, U64.min_size, STRING.min_size, fixed(7).min_size) == (1, 8, 4, 7)
    data = b"\x03\x00\x00\x00" + bytes(20)
    with pytest.raises(DecodeError, match="list of 3 items cannot fit in 20 bytes"):
        decode_exact(data, sequence(U64).read)
    assert decode_exact(data[:16], sequence(STRING).read) == ("", "", "")


EVEN = constrained(
    "even u8", U8, lambda v: isinstance(v, int) and v % 2 == 0, "odd {value!r}", "odd byte {value}"
)


def test_a_constrained_codec_checks_before_writing_and_after_reading():
    """The predicate guards both directions, with its own error text each way."""
    EVEN.write(writer := Writer(), 4)
    assert writer.to_bytes() == b"\x04"
    assert decode_exact(b"\x04", EVEN.read) == 4
    with pytest.raises(EncodeError, match=r"^odd 3$"):
        EVEN.write(Writer(), 3)
    with pytest.raises(DecodeError, match=r"^odd byte 5$"):
        decode_exact(b"\x05", EVEN.read)
    with pytest.raises(DecodeError, match="truncated"):
        decode_exact(b"", EVEN.read)


def test_text_is_utf8_without_a_prefix():
    """Writer.text (signed bytes only) is the string's UTF-8 bytes; lone surrogates fail."""
    assert Writer().text("é").text("").to_bytes() == "é".encode()
    with pytest.raises(EncodeError, match="not valid UTF-8"):
        Writer().text("\ud800")
    with pytest.raises(EncodeError, match="expected a str"):
        Writer().text(b"x")  # type: ignore[arg-type]
