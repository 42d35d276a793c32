"""Command-line value types shared by ``rppsim`` and its benches: each bad value is one line
naming the flag, what was expected and what was found, with exit 2 (no usage dump, no
traceback), and every check happens before any work starts."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from typing import NoReturn

from rppsim.errors import EXIT_USER_ERROR, compute_one_line


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (no usage dump) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {compute_one_line(message)}\n")


def _integer(text: str, expected: str) -> int:
    try:
        return int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, found {text!r}") from None


def natural(text: str) -> int:
    """An integer ≥ 0 (``1_000`` allowed)."""
    value = _integer(text, "a non-negative integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, found {text!r}")
    return value


def bounded_int(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An integer in [lo, hi] (no upper bound when ``hi`` is None)."""
    expected = f"an integer ≥ {lo}" if hi is None else f"an integer in [{lo}, {hi}]"

    def parse(text: str) -> int:
        value = _integer(text, expected)
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected {expected}, found {text!r}")
        return value

    return parse


positive = bounded_int(1)
"""An integer ≥ 1."""


def positive_number(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number > 0, found {text!r}")
    return value


def int_list(lo: int, hi: int | None = None) -> Callable[[str], list[int]]:
    """A comma-separated, non-empty list of integers in [lo, hi]."""
    one = bounded_int(lo, hi)
    expected = "comma-separated integers " + (f"≥ {lo}" if hi is None else f"in [{lo}, {hi}]")

    def parse(text: str) -> list[int]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        try:
            values = [one(item) for item in items]
        except argparse.ArgumentTypeError:
            values = []
        if not values:
            raise argparse.ArgumentTypeError(f"expected {expected}, found {text!r}")
        return values

    return parse


def subset(choices: Sequence[str]) -> Callable[[str], list[str]]:
    """A comma-separated, non-empty subset of ``choices`` (in the order given)."""
    expected = f"a comma-separated subset of {', '.join(choices)}"

    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items or any(item not in choices for item in items):
            raise argparse.ArgumentTypeError(f"expected {expected}, found {text!r}")
        return list(dict.fromkeys(items))

    return parse
