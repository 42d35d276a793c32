"""The prover cost model: simulated time and size of a proof (docs/architecture.md#determinism,
docs/architecture.md#prover-modes).

A simulation never charges wall-clock time: it charges what ``rppsim bench prover``
measured on the calibration machine, stored in costmodel.json next to this module. The
table holds, per (circuit, profile, log₂ rows, columns), prove_ms, verify_ms and
proof_bytes. Estimates interpolate linearly in log₂ rows between calibrated sizes and
extrapolate with the ratio of the nearest calibrated step; a different column count
scales linearly. All arithmetic is exact (fractions), so the same question gives the same
answer on every machine and Python build. Rows round up to a power of two (the trace is
padded to one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

CALIBRATION_PATH = Path(__file__).with_name("costmodel.json")
FALLBACK_CIRCUIT = "bench16"
FIELDS = ("prove_ms", "verify_ms", "proof_bytes")


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    """One measured configuration."""

    rows_log2: int
    columns: int
    prove_ms: Fraction
    verify_ms: Fraction
    proof_bytes: Fraction


@dataclass(frozen=True)
class Calibration:
    """The measured table: (circuit, profile) → points sorted by rows."""

    points: dict[tuple[str, str], tuple[CalibrationPoint, ...]]
    meta: dict[str, str]


def parse_calibration(document: dict) -> Calibration:
    """Build a Calibration from the JSON document written by ``rppsim bench prover``."""
    grouped: dict[tuple[str, str], list[CalibrationPoint]] = {}
    for entry in document["entries"]:
        point = CalibrationPoint(
            int(entry["rows_log2"]),
            int(entry["columns"]),
            *(Fraction(str(entry[name])) for name in FIELDS),
        )
        grouped.setdefault((entry["circuit"], entry["profile"]), []).append(point)
    points = {key: tuple(sorted(v, key=lambda p: p.rows_log2)) for key, v in grouped.items()}
    meta = {str(k): str(v) for k, v in document.get("meta", {}).items()}
    return Calibration(points, meta)


@lru_cache(maxsize=8)
def load_calibration(path: Path = CALIBRATION_PATH) -> Calibration:
    """The calibration file (cached)."""
    return parse_calibration(json.loads(Path(path).read_text(encoding="utf-8")))


def rows_log2_for(rows: int) -> int:
    """⌈log₂ rows⌉: the padded trace length."""
    if rows < 1:
        raise ValueError(f"rows must be positive, got {rows}")
    return (rows - 1).bit_length()


def _extrapolate(value: Fraction, ratio: Fraction, distance: int, span: int) -> Fraction:
    """value·ratio per ``span`` doublings, linear within a partial span (distance ≥ 0)."""
    whole, part = divmod(distance, span)
    return value * ratio**whole * (1 + (ratio - 1) * Fraction(part, span))


def _interpolate(points: tuple[CalibrationPoint, ...], name: str, x: int) -> Fraction:
    """Linear in log₂ rows inside the table, geometric with the edge step's ratio outside."""
    xs = [p.rows_log2 for p in points]
    values = [getattr(p, name) for p in points]
    if x in xs:
        return values[xs.index(x)]
    if len(points) == 1:
        factor = Fraction(2) ** (x - xs[0])
        return values[0] * factor
    if xs[0] < x < xs[-1]:
        i = next(i for i in range(len(xs) - 1) if xs[i] < x < xs[i + 1])
        t = Fraction(x - xs[i], xs[i + 1] - xs[i])
        return values[i] + (values[i + 1] - values[i]) * t
    if x > xs[-1]:
        near, far = -1, -2
    else:
        near, far = 0, 1
    ratio = values[near] / values[far] if values[far] else Fraction(2)
    return _extrapolate(values[near], ratio, abs(x - xs[near]), abs(xs[near] - xs[far]))


def _estimate(circuit: str, profile: str, rows: int, columns: int | None, name: str) -> Fraction:
    """One field of the model, scaled to ``columns`` when given."""
    table = load_calibration()
    key = (circuit, profile)
    if key not in table.points:
        key = (FALLBACK_CIRCUIT, profile)
        if key not in table.points:
            raise KeyError(f"no calibration for profile {profile!r}")
    points = table.points[key]
    value = _interpolate(points, name, rows_log2_for(rows))
    calibrated = points[0].columns
    if columns is not None and columns != calibrated:
        value = value * Fraction(columns, calibrated)
    return value


def estimate_prove_ms(circuit: str, profile: str, rows: int, cols: int | None = None) -> float:
    """Milliseconds to prove ``rows`` trace rows (deterministic)."""
    return float(_estimate(circuit, profile, rows, cols, "prove_ms"))


def estimate_verify_ms(circuit: str, profile: str, rows: int, cols: int | None = None) -> float:
    """Milliseconds to verify such a proof (deterministic)."""
    return float(_estimate(circuit, profile, rows, cols, "verify_ms"))


def estimate_proof_bytes(circuit: str, profile: str, rows: int, cols: int | None = None) -> int:
    """Size of such a proof in bytes (rounded half up)."""
    value = _estimate(circuit, profile, rows, cols, "proof_bytes")
    return int(value + Fraction(1, 2))
