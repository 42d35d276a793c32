"""What an AIR is: columns, constraints with their domains, public inputs (docs/proofs.md#circuits).

A constraint is a polynomial in the current row, the next row and public constants, with a
domain that names the rows where it must vanish:

* ``transition``: rows 0 … n−2 (zerofier (xⁿ − 1)/(x − ω^(n−1)));
* ``all``: every row (zerofier xⁿ − 1);
* ``row``: one row r (zerofier x − ω^r); a negative r counts from the end, so boundary
  constraints bind public inputs at the first, last or any fixed row.

Every AIR gives the same constraints twice: ``evaluate`` in plain Python (generic over ints
and extension elements; the verifier calls it at the out-of-domain point) and ``kernel``, a
numba kernel over the low-degree extension. tests/prover/test_airs.py checks they agree.
``evaluate`` sees the current row followed by the periodic columns' values (if any), and
the next row; ``kernel(T, per, nx, lo, hi, consts, out)`` gets the periodic values in
``per`` at the same positions as ``T`` and writes constraint i of position j to
out[j − lo, i] (position-major, so each point's values are contiguous).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

import numpy as np

from rppsim.prover.codec import ByteReader, ByteWriter
from rppsim.prover.reference.field import P

TRANSITION = "transition"
ALL_ROWS = "all"
ROW = "row"


@dataclass(frozen=True, slots=True)
class Constraint:
    """One constraint: a name, its domain, its degree in the trace columns."""

    name: str
    domain: str
    degree: int
    row: int = 0

    def domain_key(self, n: int) -> tuple[str, int]:
        """(kind, row) with the row resolved against a trace of n rows."""
        if self.domain == ROW:
            return (ROW, self.row % n)
        return (self.domain, 0)

    def quotient_chunks(self) -> int:
        """Chunks of degree < n its quotient needs: d − 1 for row sets, d for one row."""
        return self.degree if self.domain == ROW else max(self.degree - 1, 1)


class PublicInputs:
    """Base of the per-circuit public-input dataclasses: canonical bytes from ``LAYOUT``.

    ``LAYOUT`` lists (field, kind) with kind "u64" (an integer < 2^64), "b32" (32 raw
    bytes, e.g. an address digest, bound through the transcript only) or "f<N>" (a tuple
    of N canonical field elements).
    """

    LAYOUT: ClassVar[tuple[tuple[str, str], ...]] = ()

    def to_bytes(self) -> bytes:
        """Canonical bytes: the fields in ``LAYOUT`` order."""
        out = ByteWriter()
        for name, kind in self.LAYOUT:
            value = getattr(self, name)
            if kind == "u64":
                out.u64(value)
            elif kind == "b32":
                out.raw(value)
            else:
                out.felts(value)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Any:
        """Parse canonical bytes; ProofFormatError on any deviation."""
        reader = ByteReader(data, what=f"{cls.__name__}")
        values: dict[str, Any] = {}
        for name, kind in cls.LAYOUT:
            if kind == "u64":
                values[name] = reader.u64()
            elif kind == "b32":
                values[name] = reader.raw(32)
            else:
                values[name] = reader.felts(int(kind[1:]))
        reader.finish()
        return cls(**values)

    def is_well_typed(self) -> bool:
        """Every u64 field an int in range, every b32 field 32 bytes."""
        for name, kind in self.LAYOUT:
            value = getattr(self, name)
            if kind == "u64":
                if isinstance(value, bool) or not isinstance(value, int):
                    return False
                if not 0 <= value < 1 << 64:
                    return False
            elif kind == "b32":
                if not isinstance(value, bytes) or len(value) != 32:
                    return False
            elif not _is_felt_tuple(value, int(kind[1:])):
                return False
        return True


def _is_felt_tuple(value: Any, count: int) -> bool:
    """A tuple of ``count`` ints in [0, p)."""
    return (
        isinstance(value, tuple)
        and len(value) == count
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < P for v in value)
    )


_PI = TypeVar("_PI", bound=PublicInputs)


def check_layout(cls: type[_PI]) -> type[_PI]:
    """Class decorator: LAYOUT names exactly the dataclass fields, in order."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]  # PublicInputs are dataclasses
    if names != tuple(name for name, _ in cls.LAYOUT):
        raise TypeError(f"{cls.__name__}.LAYOUT does not match its fields {names}")
    return cls


@dataclass(frozen=True)
class Air:
    """An algebraic intermediate representation of one circuit."""

    name: str
    circuit_id: int
    columns: tuple[str, ...]
    constraints: tuple[Constraint, ...]
    public_inputs_type: type[PublicInputs]
    min_rows_log2: int
    max_rows_log2: int
    evaluate: Callable[[Sequence[Any], Sequence[Any], Sequence[int]], list[Any]]
    kernel: Callable[..., None]
    public_constants: Callable[[Any], tuple[int, ...]]
    is_valid_public_inputs: Callable[[Any], bool]
    build_trace: Callable[[Any, Any, int], np.ndarray]
    witness_rows: Callable[[Any], int]
    description: str = field(default="")
    periodic: tuple[tuple[int, ...], ...] = field(default=())

    @property
    def periodic_table(self) -> np.ndarray:
        """(periodic columns, period) table; (0, 1) when the AIR has none."""
        from rppsim.prover.reference.periodic import table_of

        return table_of(self.periodic)

    @property
    def width(self) -> int:
        """Number of trace columns."""
        return len(self.columns)

    @property
    def num_chunks(self) -> int:
        """Q: composition chunks of degree < n, a power of two (docs/proofs.md#protocol step 3)."""
        need = max(c.quotient_chunks() for c in self.constraints)
        return 1 << (need - 1).bit_length()

    def domains(self, n: int) -> tuple[tuple[str, int], ...]:
        """Distinct constraint domains in first-use order."""
        seen: dict[tuple[str, int], None] = {}
        for c in self.constraints:
            seen.setdefault(c.domain_key(n), None)
        return tuple(seen)

    def domain_indices(self, n: int) -> np.ndarray:
        """For each constraint, the index of its domain in ``domains(n)``."""
        order = {key: i for i, key in enumerate(self.domains(n))}
        return np.array([order[c.domain_key(n)] for c in self.constraints], dtype=np.int64)

    def supports_rows(self, rows_log2: int) -> bool:
        """True when a trace of 2^rows_log2 rows is within this AIR's range."""
        return self.min_rows_log2 <= rows_log2 <= self.max_rows_log2
