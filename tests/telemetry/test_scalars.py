"""to_int and to_float are int() and float() at run time: same values, same errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rppsim.telemetry.scalars import to_float, to_int


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_to_int_is_int_on_frame_cells(value: int) -> None:
    frame = pd.DataFrame({"a": pd.array([value], dtype="Int64"), "b": np.array([value])})
    for cell in (frame["a"].iloc[0], frame["b"].iloc[0], frame["b"].max(), value):
        assert to_int(cell) == int(cell) == value
        assert type(to_int(cell)) is int


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_to_float_is_float_on_frame_cells(value: float) -> None:
    cell = pd.Series([value], dtype="float64").iloc[0]
    assert to_float(cell) == float(cell) == value
    assert type(to_float(cell)) is float


def test_errors_are_those_of_int_and_float() -> None:
    with pytest.raises(TypeError):
        to_int(pd.NA)
    with pytest.raises(ValueError):
        to_int(float("nan"))
    with pytest.raises(ValueError):
        to_float("not a number")
    assert to_int(3.9) == int(3.9)
