"""Runs as tidy frames with provenance: one run folder, many, or a run still in memory.

Every frame of a loaded run carries four provenance columns in front of its own:
``run`` (a label: the folder's name unless given), ``scenario_digest`` and ``seed`` (from
``summary.json``) and ``engine`` (``run_info`` ``engine``: ``fast`` for the fast model,
``full`` when absent). Frames of many runs are concatenated per name, so every derived series
(``rppsim.analysis.series``) groups by run without further bookkeeping
(docs/analysis.md#loading-runs).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rppsim.errors import UserError
from rppsim.telemetry.frames import FRAME_NAMES, STR_DTYPE, get_empty_frame
from rppsim.telemetry.runfolder import VERDICTS_FILE, get_run_info, read_run_folder

__all__ = [
    "PROVENANCE",
    "VERDICT_COLUMNS",
    "Provenance",
    "Run",
    "add_provenance",
    "build_run",
    "compute_provenance",
    "compute_verdict_frame",
    "concat_runs",
    "get_provenance_keys",
    "load_run",
    "load_runs",
]

PROVENANCE = ("run", "scenario_digest", "seed", "engine")
"""The provenance columns every loaded frame starts with."""
VERDICT_COLUMNS = (
    "id", "kind", "title", "status", "passed", "severity", "figure", "threshold", "node",
    "time_ms", "message",
)  # fmt: skip
"""The columns of a run's ``verdicts`` frame (after the provenance columns)."""
STATUS = {True: "pass", False: "fail", None: "n/a"}
"""A verdict's ``passed`` as the status text the sweep tables use."""


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a run's rows come from: its label, scenario digest, seed and engine."""

    run: str
    scenario_digest: str
    seed: int
    engine: str


@dataclass(frozen=True)
class Run:
    """One run: its frames (provenance columns first), its summary and its verdicts frame."""

    provenance: Provenance
    frames: dict[str, pd.DataFrame]
    summary: dict[str, Any] = field(default_factory=dict)
    verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def info(self) -> dict[str, str]:
        """The run's ``run_info`` as key → text."""
        return get_run_info(self.frames)


def compute_provenance(
    frames: Mapping[str, pd.DataFrame], summary: Mapping[str, Any], label: str
) -> Provenance:
    """A run's provenance from its summary (seed, scenario digest) and ``run_info`` (engine;
    seed and digest too when the summary lacks them)."""
    info = get_run_info(frames) if "run_info" in frames else {}
    seed = summary.get("seed", info.get("seed", 0))
    digest = summary.get("scenario_digest", info.get("scenario_digest", ""))
    return Provenance(label, str(digest), int(seed), info.get("engine", "full"))


def add_provenance(frame: pd.DataFrame, provenance: Provenance) -> pd.DataFrame:
    """``frame`` with the provenance columns in front (replacing any it had)."""
    own = frame.drop(columns=[c for c in PROVENANCE if c in frame.columns])
    rows = len(own)
    columns: dict[str, Any] = {
        "run": pd.array([provenance.run] * rows, dtype=STR_DTYPE),
        "scenario_digest": pd.array([provenance.scenario_digest] * rows, dtype=STR_DTYPE),
        "seed": np.full(rows, provenance.seed, np.uint64),
        "engine": pd.array([provenance.engine] * rows, dtype=STR_DTYPE),
    }
    front = pd.DataFrame(columns, index=own.index)
    return pd.concat([front, own], axis=1)


def compute_verdict_frame(verdicts: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Verdict objects (``verdicts.json``, or ``Verdict.to_json_dict()``) as a frame: one row
    per verdict in their order, ``status`` "pass" / "fail" / "n/a", nullable ``passed``,
    ``node`` and ``time_ms``, and ``figure`` / ``threshold`` as floats."""
    rows = [dict(v) for v in verdicts]
    text = {c: [str(r.get(c, "")) for r in rows] for c in ("id", "kind", "title", "severity")}
    data: dict[str, Any] = {name: pd.array(v, dtype=STR_DTYPE) for name, v in text.items()}
    data["status"] = pd.array([STATUS[r.get("passed")] for r in rows], dtype=STR_DTYPE)
    data["passed"] = pd.array([r.get("passed") for r in rows], dtype="boolean")
    for name in ("figure", "threshold"):
        data[name] = pd.array([r.get(name) for r in rows], dtype="Float64")
    for name in ("node", "time_ms"):
        data[name] = pd.array([r.get(name) for r in rows], dtype="Int64")
    data["message"] = pd.array([str(r.get("message", "")) for r in rows], dtype=STR_DTYPE)
    return pd.DataFrame({c: data[c] for c in VERDICT_COLUMNS})


def build_run(
    frames: Mapping[str, pd.DataFrame],
    summary: Mapping[str, Any] | None = None,
    verdicts: Iterable[Any] = (),
    *,
    label: str = "run",
    keep: Sequence[str] | None = None,
) -> Run:
    """A ``Run`` from frames in memory (``execute_run(..., write=False)``, or the fast model's
    ``run_model(...).frames``): ``verdicts`` are ``Verdict`` objects or their JSON dicts;
    ``keep`` names the frames to keep (all if None). A run frame the engine did not write is
    empty with its schema, as in a run folder."""
    summary = dict(summary or {})
    provenance = compute_provenance(frames, summary, label)
    complete = {n: get_empty_frame(n) for n in FRAME_NAMES if n not in frames} | dict(frames)
    names = sorted(complete) if keep is None else [n for n in keep if n in complete]
    tidy = {name: add_provenance(complete[name], provenance) for name in names}
    dicts = [v.to_json_dict() if hasattr(v, "to_json_dict") else v for v in verdicts]
    return Run(provenance, tidy, summary, add_provenance(compute_verdict_frame(dicts), provenance))


def load_run(
    run_dir: str | os.PathLike[str],
    *,
    label: str | None = None,
    keep: Sequence[str] | None = None,
) -> Run:
    """The run folder ``run_dir`` (``rppsim run --out``) as a ``Run``; ``label`` defaults to
    the folder's name, ``keep`` names the frames to keep (all if None). A folder that is no
    complete run folder, or of another format, is a one-line ``UserError``."""
    folder = Path(run_dir)
    frames, summary = read_run_folder(folder)
    verdicts_path = folder / VERDICTS_FILE
    verdicts: list[Any] = []
    if verdicts_path.is_file():
        try:
            verdicts = json.loads(verdicts_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise UserError(str(verdicts_path), "", "JSON", f"invalid JSON ({error})") from None
        if not isinstance(verdicts, list):
            found = type(verdicts).__name__
            raise UserError(str(verdicts_path), "", "a list of verdicts", found)
    return build_run(frames, summary, verdicts, label=label or folder.name, keep=keep)


def concat_runs(runs: Iterable[Run]) -> dict[str, pd.DataFrame]:
    """The frames of ``runs`` concatenated per name (``verdicts`` included), in run order;
    a frame some run lacks is left out of that run's rows."""
    chunks: dict[str, list[pd.DataFrame]] = {}
    for run in runs:
        for name, frame in (*run.frames.items(), ("verdicts", run.verdicts)):
            chunks.setdefault(name, []).append(frame)
    return {
        name: pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        for name, parts in sorted(chunks.items())
    }


def load_runs(
    run_dirs: Iterable[str | os.PathLike[str]], *, keep: Sequence[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Many run folders as one frame per name, rows labelled by run (each folder's path as
    given); two folders with the same label are a ``UserError``."""
    runs: list[Run] = []
    seen: set[str] = set()
    for run_dir in run_dirs:
        label = str(run_dir)
        if label in seen:
            raise UserError(label, "", "each run folder once", "it twice")
        seen.add(label)
        runs.append(load_run(run_dir, label=label, keep=keep))
    if not runs:
        raise UserError("load_runs", "run_dirs", "at least one run folder", "none")
    return concat_runs(runs)


def get_provenance_keys(frame: pd.DataFrame) -> list[str]:
    """The provenance columns ``frame`` has (none for a frame read without them)."""
    return [c for c in PROVENANCE if c in frame.columns]
