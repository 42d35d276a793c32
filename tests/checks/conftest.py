"""Hand-made frames for the checker tests: rows as dicts, every other frame empty."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pandas as pd
import pytest

from rppsim.checks.context import CheckContext
from rppsim.telemetry.frames import (
    FRAME_NAMES,
    FRAME_SCHEMAS,
    NULLABLE_DTYPES,
    build_frame,
    get_empty_frame,
)

_DEFAULTS = {"str": "", "category": "", "bool": False, "float64": 0.0}

Frames = dict[str, pd.DataFrame]


def build_rows(name: str, rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Frame ``name`` from row dicts; a missing column takes 0, "" or False (None if
    nullable)."""
    rows = list(rows)
    columns = {
        column: [
            row.get(column, None if dtype in NULLABLE_DTYPES else _DEFAULTS.get(dtype, 0))
            for row in rows
        ]
        for column, dtype in FRAME_SCHEMAS[name].columns
    }
    return build_frame(name, columns)


def build_frames(
    nodes: int = 4,
    byzantine: Iterable[int] = (),
    validators: int | None = None,
    **rows: Iterable[Mapping[str, object]],
) -> Frames:
    """Every frame: ``nodes`` nodes (the first ``validators`` validators), ``rows`` by frame."""
    bad = set(byzantine)
    count = nodes if validators is None else validators
    node_rows = [
        {"node": i, "address": f"addr{i}", "role": "validator" if i < count else "full",
         "byzantine": i in bad}
        for i in range(nodes)
    ]  # fmt: skip
    frames = {name: get_empty_frame(name) for name in FRAME_NAMES}
    frames["nodes"] = build_rows("nodes", node_rows)
    for name, given in rows.items():
        frames[name] = build_rows(name, given)
    return frames


def build_context(frames: Frames, **overrides: object) -> CheckContext:
    """A context over ``frames``' nodes: 1 s blocks, 1 s round timeout (W = 6 s), 60 s run."""
    nodes = frames["nodes"]
    values: dict[str, object] = {
        "nodes": tuple(int(n) for n in nodes["node"]),
        "byzantine": frozenset(int(n) for n in nodes.loc[nodes["byzantine"], "node"]),
        "validators": frozenset(int(n) for n in nodes.loc[nodes["role"] == "validator", "node"]),
        "block_time_ms": 1000,
        "round_timeout_ms": 1000,
        "allow_empty_blocks": False,
        "has_work": True,
        "duration_ms": 60_000,
    }
    values.update(overrides)
    return CheckContext(**values)  # type: ignore[arg-type]


def permute(frames: Frames, order: Callable[[int], list[int]]) -> Frames:
    """Every frame with its rows reordered by ``order(len)`` (as live data could arrive)."""
    return {
        name: frame.iloc[order(len(frame))].reset_index(drop=True) for name, frame in frames.items()
    }


@pytest.fixture(scope="session")
def make_frames() -> Callable[..., Frames]:
    """``build_frames``."""
    return build_frames


@pytest.fixture(scope="session")
def make_context() -> Callable[..., CheckContext]:
    """``build_context``."""
    return build_context


@pytest.fixture(scope="session")
def reorder() -> Callable[[Frames, Callable[[int], list[int]]], Frames]:
    """``permute``."""
    return permute
