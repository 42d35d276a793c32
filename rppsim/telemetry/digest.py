"""Canonical digest of a run's frames: BLAKE2s over a fixed byte encoding
(docs/architecture.md#determinism).

Same scenario + seed must give the same digest in any process and any PYTHONHASHSEED, so
the digest hashes values, never Parquet file bytes (those carry library versions and
metadata), never ``hash()``, never a dict's incidental order. The encoding:

- the domain tag ``rppsim/frames-digest/v1``, then the u32 number of frames;
- frames in sorted name order; per frame: its name, the u64 row count, the u32 column
  count, then each column in schema order (frames not in ``FRAME_SCHEMAS``: their own
  order): its name, its dtype tag, its values;
- a *text* is its u32 UTF-8 byte length followed by the bytes; all integers little-endian;
- values by dtype (tag): ``bool`` one byte 0/1 each; ``int8``..``int64`` / ``uint8``..
  ``uint64`` fixed width little-endian; ``float32`` / ``float64`` IEEE-754 little-endian
  after mapping -0.0 to +0.0 and every NaN to the one quiet NaN ``0x7ff8…`` (frame floats
  come from deterministic integer-ratio computations, so the bits are stable; no float is
  formatted or rounded); ``str`` (pandas ``str`` or ``object`` holding only strings) the
  u32 byte length of every value, then all the UTF-8 bytes concatenated; ``category`` the
  u32 number of distinct values present, those values sorted as a ``str`` column, then an
  int32 code per row into them (so unused or reordered categories do not matter).
- nullable columns (``Int16`` / ``Int32`` / ``Int64``, ``Float64``, ``boolean``, nullable
  ``string``; tag = the pandas dtype name): one validity byte per row (1 present, 0 null),
  then the values as above with every null written as 0, 0.0, False or "".
- The row index is not hashed; nulls in any other column are refused.

Values are hashed as typed: an int32 column and an int64 column with equal numbers differ.
Frames read back from Parquet are cast to their schema first (``coerce_frame``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from rppsim.telemetry.frames import FRAME_SCHEMAS, compute_canonical_categorical

DOMAIN = b"rppsim/frames-digest/v1"
CANONICAL_NAN64 = np.uint64(0x7FF8_0000_0000_0000)
CANONICAL_NAN32 = np.uint32(0x7FC0_0000)


class _Sink:
    """The BLAKE2s state being fed, with a helper for length-prefixed texts."""

    def __init__(self, hasher: hashlib.blake2s) -> None:
        # numpy arrays are buffers, which numpy's stubs declare from Python 3.12 on only
        self.update: Callable[[Any], None] = hasher.update

    def text(self, value: str) -> None:
        """A length-prefixed UTF-8 text."""
        data = value.encode("utf-8")
        self.update(len(data).to_bytes(4, "little") + data)


def _encode_strings(sink: _Sink, values: object, where: str) -> None:
    """All byte lengths (u32 LE), then all UTF-8 bytes concatenated."""
    try:
        array = pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise TypeError(f"{where}: string column holds a non-string: {error}") from None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        raise ValueError(f"{where}: null strings are not allowed (use '')")
    if len(array) == 0:
        return
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype="<i8")[
        array.offset : array.offset + len(array) + 1
    ]
    sink.update(np.diff(offsets).astype("<u4"))
    if data_buffer is not None and offsets[-1] > offsets[0]:
        sink.update(memoryview(data_buffer)[int(offsets[0]) : int(offsets[-1])])


def _encode_floats(sink: _Sink, values: np.ndarray) -> None:
    """IEEE-754 little-endian with -0.0 → +0.0 and every NaN → the canonical quiet NaN."""
    wide = values.dtype.itemsize == 8
    array = values.astype("<f8" if wide else "<f4", copy=True)
    is_nan = np.isnan(array)
    array[array == 0] = 0.0
    bits = array.view("<u8" if wide else "<u4")
    bits[is_nan] = CANONICAL_NAN64 if wide else CANONICAL_NAN32
    sink.update(bits)


def _encode_categorical(sink: _Sink, values: pd.Categorical, where: str) -> None:
    """The sorted distinct values present, then an int32 code per row into them."""
    try:
        canonical = compute_canonical_categorical(values)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    sink.update(len(canonical.categories).to_bytes(4, "little"))
    _encode_strings(sink, canonical.categories, where)
    sink.update(np.asarray(canonical.codes).astype("<i4"))


_NULLABLE_INTS = {"Int16": "<i2", "Int32": "<i4", "Int64": "<i8"}


def is_nullable_dtype(dtype: object) -> bool:
    """Whether ``dtype`` is a pandas nullable dtype with ``pd.NA`` as its missing value."""
    if isinstance(dtype, pd.StringDtype):
        return dtype.na_value is pd.NA
    return isinstance(dtype, (pd.BooleanDtype, pd.Float64Dtype)) or (
        isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.name in _NULLABLE_INTS
    )


def _encode_nullable(sink: _Sink, series: pd.Series, where: str) -> None:
    """Validity bytes, then the values with every null written as 0, 0.0, False or ""."""
    dtype = series.dtype
    missing = series.isna().to_numpy()
    sink.update((~missing).astype(np.uint8))
    if isinstance(dtype, pd.StringDtype):
        _encode_strings(sink, series.fillna(""), where)
    elif isinstance(dtype, pd.BooleanDtype):
        sink.update(series.to_numpy(dtype=np.uint8, na_value=0))
    elif isinstance(dtype, pd.Float64Dtype):
        _encode_floats(sink, series.to_numpy(dtype=np.float64, na_value=0.0))
    else:
        sink.update(series.to_numpy(dtype=_NULLABLE_INTS[dtype.name], na_value=0))


def _encode_column(sink: _Sink, series: pd.Series, where: str) -> None:
    """A column's dtype tag and values (see the module docstring)."""
    dtype = series.dtype
    if is_nullable_dtype(dtype):
        sink.text(dtype.name)
        _encode_nullable(sink, series, where)
    elif isinstance(dtype, pd.CategoricalDtype):
        sink.text("category")
        _encode_categorical(sink, series.array, where)
    elif isinstance(dtype, pd.StringDtype) or dtype == np.dtype(object):
        sink.text("str")
        _encode_strings(sink, series.array if isinstance(dtype, pd.StringDtype) else series, where)
    elif isinstance(dtype, np.dtype) and dtype.kind == "b":
        sink.text("bool")
        sink.update(series.to_numpy().astype(np.uint8))
    elif isinstance(dtype, np.dtype) and dtype.kind in "iu":
        sink.text(dtype.name)
        sink.update(np.ascontiguousarray(series.to_numpy(), dtype=dtype.newbyteorder("<")))
    elif isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize in (4, 8):
        sink.text(dtype.name)
        _encode_floats(sink, series.to_numpy())
    else:
        raise TypeError(f"{where}: dtype {dtype} has no canonical encoding")


def get_column_order(name: str, frame: pd.DataFrame) -> tuple[str, ...]:
    """Columns in schema order for a known frame (which must have exactly those columns)."""
    schema = FRAME_SCHEMAS.get(name)
    if schema is None:
        return tuple(str(c) for c in frame.columns)
    if sorted(map(str, frame.columns)) != sorted(schema.column_names):
        raise ValueError(f"frame {name}: columns {list(frame.columns)} differ from its schema")
    return schema.column_names


def _encode_frame(sink: _Sink, name: str, frame: pd.DataFrame) -> None:
    """One frame: name, row count, column count, then every column."""
    columns = get_column_order(name, frame)
    sink.text(name)
    sink.update(len(frame).to_bytes(8, "little") + len(columns).to_bytes(4, "little"))
    for column in columns:
        sink.text(column)
        _encode_column(sink, frame[column], f"{name}.{column}")


def _new_hasher() -> hashlib.blake2s:
    hasher = hashlib.blake2s()
    hasher.update(DOMAIN)
    return hasher


def compute_frames_digest(frames: Mapping[str, pd.DataFrame]) -> str:
    """Hex BLAKE2s of the canonical encoding of ``frames`` (sorted by name)."""
    run = _new_hasher()
    run.update(len(frames).to_bytes(4, "little"))
    sink = _Sink(run)
    for name in sorted(frames):
        _encode_frame(sink, name, frames[name])
    return run.hexdigest()


def compute_frame_digests(frames: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Each frame's own digest: ``compute_frames_digest({name: frame})``, to see which differs."""
    return {name: compute_frames_digest({name: frames[name]}) for name in sorted(frames)}
