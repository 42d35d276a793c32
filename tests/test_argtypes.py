"""Command-line value types (``rppsim/argtypes.py``) and the benches' bad flags: one line
naming the flag, what was expected and what was found, exit 2, before any work starts."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rppsim.argtypes import bounded_int, int_list, natural, positive, positive_number, subset
from rppsim.cli import main


@given(st.integers(min_value=0, max_value=10**30))
def test_natural_reads_every_non_negative_integer(value: int) -> None:
    assert natural(str(value)) == value
    assert natural(f"{value:_}") == value


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        (natural, "-1", "expected a non-negative integer, found '-1'"),
        (natural, "abc", "expected a non-negative integer, found 'abc'"),
        (positive, "0", "expected an integer ≥ 1, found '0'"),
        (bounded_int(2, 5), "6", "expected an integer in [2, 5], found '6'"),
        (positive_number, "-1", "expected a number > 0, found '-1'"),
        (positive_number, "nan", "expected a number > 0, found 'nan'"),
        (positive_number, "inf", "expected a number > 0, found 'inf'"),
        (int_list(2), "abc", "expected comma-separated integers ≥ 2, found 'abc'"),
        (int_list(2), "4,1", "expected comma-separated integers ≥ 2, found '4,1'"),
        (int_list(2), ",", "expected comma-separated integers ≥ 2, found ','"),
        (subset(("a", "b")), "a,c", "expected a comma-separated subset of a, b, found 'a,c'"),
        (subset(("a", "b")), "", "expected a comma-separated subset of a, b, found ''"),
    ],
)
def test_bad_values_say_what_was_expected_and_found(parse, text: str, expected: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as error:
        parse(text)
    assert str(error.value) == expected


def test_good_lists_keep_their_order_and_drop_repeats() -> None:
    assert int_list(1)("3, 1,2") == [3, 1, 2]
    assert subset(("flood", "ratio", "memory"))("memory,flood,memory") == ["memory", "flood"]
    assert positive_number("0.5") == 0.5


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        ("vrf --repeat 0", "--repeat"),
        ("vrf --seconds -1", "--seconds"),
        ("vrf --target x", "--target"),
        ("node --validators 0", "--validators"),
        ("node --simulated-s -3", "--simulated-s"),
        ("sim --memory-nodes abc", "--memory-nodes"),
        ("sim --messages -5", "--messages"),
        ("sim --parts bogus", "--parts"),
        ("sim --sim-ms 0", "--sim-ms"),
        ("alerts --steps 1", "--steps"),
        ("alerts --instances 0", "--instances"),
        ("prover --repeats x", "--repeats"),
    ],
)
def test_a_bad_bench_flag_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: str, flag: str
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["bench", *argv.split()])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.count("\n") == 1 and f"argument {flag}: expected" in err and ", found " in err
