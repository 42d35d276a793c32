"""The prover cost model: the shipped calibration and exact, deterministic interpolation."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rppsim.prover import costmodel
from rppsim.prover.airs import AIRS

DOC = {
    "version": 1,
    "meta": {"machine": "test"},
    "entries": [
        {"circuit": "bench16", "profile": "sim", "rows_log2": r, "columns": 16,
         "prove_ms": ms, "verify_ms": v, "proof_bytes": b}
        for r, ms, v, b in ((10, 10.0, 5.0, 20000), (12, 30.0, 6.0, 26000), (14, 110.0, 7.0, 30000))
    ],
}  # fmt: skip


@pytest.fixture
def table(monkeypatch):
    """The cost model reading the synthetic table above."""
    calibration = costmodel.parse_calibration(DOC)
    monkeypatch.setattr(costmodel, "load_calibration", lambda path=None: calibration)
    return calibration


def test_shipped_calibration_covers_every_air():
    """costmodel.json holds every AIR under sim and standard with positive figures."""
    shipped = costmodel.load_calibration()
    for circuit in AIRS:
        for profile in ("sim", "standard"):
            points = shipped.points[(circuit, profile)]
            assert points and all(p.prove_ms > 0 and p.proof_bytes > 0 for p in points)
            assert all(p.columns == AIRS[circuit].width for p in points)
    assert costmodel.estimate_prove_ms("uptime", "sim", 1 << 10) > 0


def test_exact_at_calibrated_sizes(table):
    """A calibrated size returns the table's numbers."""
    assert costmodel.estimate_prove_ms("bench16", "sim", 1 << 12) == 30.0
    assert costmodel.estimate_verify_ms("bench16", "sim", 1 << 14) == 7.0
    assert costmodel.estimate_proof_bytes("bench16", "sim", 1 << 10) == 20000


def test_interpolates_linearly_in_log_rows(table):
    """2^11 sits halfway between 2^10 and 2^12; other rows round up to a power of two."""
    assert costmodel.estimate_prove_ms("bench16", "sim", 1 << 11) == 20.0
    assert costmodel.estimate_prove_ms("bench16", "sim", 1500) == 20.0
    assert costmodel.estimate_proof_bytes("bench16", "sim", 1 << 13) == 28000


def test_extrapolates_with_the_edge_ratio(table):
    """Above the table: ×(110/30) per two doublings; below: ×(10/30) per two halvings."""
    assert costmodel.estimate_prove_ms("bench16", "sim", 1 << 16) == pytest.approx(110 * 110 / 30)
    assert costmodel.estimate_prove_ms("bench16", "sim", 1 << 8) == pytest.approx(10 / 3)
    partial = costmodel.estimate_prove_ms("bench16", "sim", 1 << 15)
    assert partial == float(Fraction(110) * (1 + (Fraction(110, 30) - 1) / 2))


def test_columns_scale_and_unknown_circuits_fall_back(table):
    """Twice the columns, twice the time; an uncalibrated circuit uses bench16 per column."""
    assert costmodel.estimate_prove_ms("bench16", "sim", 1 << 10, cols=32) == 20.0
    assert costmodel.estimate_prove_ms("recursive-x", "sim", 1 << 10, cols=8) == 5.0
    with pytest.raises(KeyError):
        costmodel.estimate_prove_ms("bench16", "no-profile", 1 << 10)
    with pytest.raises(ValueError):
        costmodel.estimate_prove_ms("bench16", "sim", 0)


def test_estimates_are_monotone_and_repeatable(table):
    """More rows never cost less; the same question always gets the same answer."""
    values = [costmodel.estimate_prove_ms("bench16", "sim", 1 << r) for r in range(6, 20)]
    assert values == sorted(values)
    assert values == [costmodel.estimate_prove_ms("bench16", "sim", 1 << r) for r in range(6, 20)]
