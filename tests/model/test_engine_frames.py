"""The fast model's vectorised frame building (``rppsim.model.engine``) writes what the plain
Python conversions and ``build_frame`` write."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.model import engine, run_fast
from rppsim.node.selection import VRF_RANDOMNESS_DOMAIN
from rppsim.telemetry.frames import coerce_frame

from .test_engine import scenario

SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(st.lists(st.floats(0.0, 1.0, allow_subnormal=True), max_size=50))
def test_threshold_strings_equal_the_integers_of_the_fractions(fractions):
    base = np.array(fractions, float)
    got = engine._threshold_strings(base).to_pylist()
    assert got == [str(int(x * VRF_RANDOMNESS_DOMAIN)) for x in base]


def test_threshold_strings_of_tiny_and_edge_fractions():
    base = np.array([0.0, 1.0, 0.5, 2.0**-256, 2.0**-300, 5e-324, 0.25 + 2.0**-54, 1.0 - 2.0**-53])
    got = engine._threshold_strings(base).to_pylist()
    assert got == [str(int(x * VRF_RANDOMNESS_DOMAIN)) for x in base]
    odd = np.array([-0.5, 2.0, 1e50])  # not fractions: the plain conversion
    assert engine._threshold_strings(odd).to_pylist() == [str(int(x * 2**256)) for x in odd]
    with pytest.raises(OverflowError):  # and its errors
        engine._threshold_strings(np.array([0.5, np.inf]))


@SETTINGS
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50), st.booleans())
def test_int_strings_equal_str(values, non_negative):
    array = np.array([abs(v) if non_negative and v > -(2**63) else v for v in values], np.int64)
    assert engine._int_strings(array).to_pylist() == [str(int(x)) for x in array]


@SETTINGS
@given(st.integers(0, 2**64 - 1), st.lists(st.integers(0, 2**40), max_size=20))
def test_block_hashes_and_hex_equal_the_block_hash(seed, heights):
    rows = engine._block_hashes(seed, np.array(heights, np.int64))
    got = engine._hex_strings(rows).to_pylist()
    assert got == [engine._block_hash(seed, h).hex() for h in heights]


def test_repeated_strings():
    assert engine._repeat_string("none", 3).to_pylist() == ["none"] * 3
    assert engine._repeat_string("", 2).to_pylist() == ["", ""]
    assert engine._repeat_string("x", 0).to_pylist() == []


FAULTY = {
    "fault": [{"kind": "crash", "node": i, "at_ms": 20_000, "until_ms": 50_000} for i in (0, 1)],
    "byzantine": [{"kind": "double-sign", "nodes": [4], "at_ms": 20_000}],
    "rules": {"rotate_leader_on_round_change": True},
}


@pytest.mark.parametrize("tables", [{}, FAULTY], ids=["healthy", "faulty"])
def test_model_frames_equal_build_frame_of_their_columns(tables):
    """The frames built from columns in key order and the pre-sorted ``vrf_rounds`` are what
    ``build_frame`` makes of the same columns: values, dtypes, Arrow types and order."""
    frames = run_fast(scenario(120_000, **tables))
    assert len(frames["evidence"]) > 0 or not tables
    for name, frame in frames.items():
        rebuilt = coerce_frame(name, frame)
        pd.testing.assert_frame_equal(frame, rebuilt, check_exact=True)
        for column in frame.columns:
            values = frame[column].array
            if hasattr(values, "_pa_array"):
                assert values._pa_array.type == rebuilt[column].array._pa_array.type, column
