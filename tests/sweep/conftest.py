"""Sweep tests: a small sweep file over the research scenario, the code version pinned (other
edits to the package during a test must not change the run ids)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BASE = ROOT / "scenarios" / "research" / "skewed-stakes.toml"


def write_sweep(folder: Path, body: str, header: str = "") -> Path:
    """A sweep file in ``folder`` over the research scenario (``[sweep]`` header given)."""
    path = folder / "sweep.toml"
    text = f'[sweep]\nscenario = "{BASE.as_posix()}"\n{header}\n{body}'
    path.write_text(text, encoding="utf-8")
    return path


SMALL = """
[base]
"run.engine" = "fast"
"run.duration_ms" = 120_000

[axes]
"reputation.tier_thresholds.tier3_min_consensus_success" = [5, 10]
"nodes.validators" = [5, 7]
"""
"""2 × 2 points of 2-minute fast runs."""


@pytest.fixture(autouse=True)
def pinned_code_version(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RPPSIM_CODE_VERSION", "tests")
    yield
