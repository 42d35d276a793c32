"""A run folder: one Parquet file per frame plus ``summary.json``
(docs/architecture.md#telemetry-reports-and-guardrails, docs/architecture.md#engines).

Layout of ``<out_dir>``: ``<frame>.parquet`` for every frame (pyarrow, explicit Arrow
schema, zstd, no index), ``verdicts.json`` when the run was judged (a list of verdict
objects, ``rppsim.checks.verdict``) and ``summary.json`` (sorted keys, indent 2, trailing
newline), written last, so a folder with a ``summary.json`` is complete; each file is written to a
temporary name and renamed. Parquet bytes are not hashed (they carry library versions):
the run's identity is ``summary["digest"]``, the frames digest (digest.py).

Every summary key is a deterministic function of (frames, seed, scenario digest) except
``wall``: wall-clock figures (e.g. ``wall_time_s``) live only there, are never part of a
digest, and ``compute_summary_digest`` leaves them out.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rppsim.errors import UserError
from rppsim.telemetry.digest import compute_frames_digest
from rppsim.telemetry.frames import FRAME_NAMES, FRAME_SCHEMAS, NULLABLE_DTYPES, coerce_frame
from rppsim.telemetry.scalars import to_int

SUMMARY_FILE = "summary.json"
VERDICTS_FILE = "verdicts.json"
SUMMARY_FORMAT = "rppsim-run/3"
"""The run folder format ``summary.json`` names; ``read_run_folder`` reads only this one.
Format 3: missing harness values are nulls (formats 1 and 2 wrote ``-1`` and ``""``
sentinels in the same columns, so their frames would read back as wrong values), alerts
carry ``labels`` and snapshots ``cache_entries``."""
WALL_KEY = "wall"
ARROW_TYPES = {
    "bool": pa.bool_(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "str": pa.large_string(),
    "category": pa.dictionary(pa.int32(), pa.string()),
    "Int16": pa.int16(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "Float64": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.large_string(),
}
NULLABLE_COLUMN_DTYPES = frozenset({"float64", *NULLABLE_DTYPES})
"""Schema dtypes whose Arrow field is nullable (pandas writes NaN and pd.NA as null)."""
PARQUET_OPTIONS: dict[str, object] = {
    "version": "2.6",
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 1 << 20,
}
"""Fixed writer options, so the same frames and library versions give the same files."""


def get_arrow_schema(name: str) -> pa.Schema:
    """The Arrow schema of frame ``name``; floats and nullable dtypes are nullable fields."""
    columns = FRAME_SCHEMAS[name].columns
    return pa.schema(
        [pa.field(c, ARROW_TYPES[d], nullable=d in NULLABLE_COLUMN_DTYPES) for c, d in columns]
    )


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp_path)`` then rename the file onto ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_frame(path: Path, name: str, frame: pd.DataFrame) -> None:
    """One frame as Parquet (schema frames with their explicit Arrow schema)."""
    schema = get_arrow_schema(name) if name in FRAME_SCHEMAS else None
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    _write_atomic(path, lambda tmp: pq.write_table(table, tmp, **PARQUET_OPTIONS))


def compute_summary_text(summary: Mapping[str, object] | Sequence[object]) -> str:
    """``summary.json`` (or ``verdicts.json``) text: sorted keys, indent 2, trailing newline,
    no NaN."""
    return json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_run_folder(
    out_dir: str | os.PathLike[str],
    frames: Mapping[str, pd.DataFrame],
    summary: Mapping[str, object],
    verdicts: Sequence[Mapping[str, object]] | None = None,
) -> Path:
    """Write every frame, ``verdicts.json`` (when given), then ``summary.json``, into
    ``out_dir`` (created if needed).

    Rewriting a run folder first removes its ``summary.json`` and ``verdicts.json``, so the
    folder never looks complete while files of two runs are mixed in it.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stale = sorted(p.stem for p in folder.glob("*.parquet") if p.stem not in frames)
    if stale:
        expected = "a new folder or a run folder of the same frames"
        raise UserError(str(folder), "", expected, f"other frames {stale}")
    text = compute_summary_text(summary)
    (folder / SUMMARY_FILE).unlink(missing_ok=True)
    (folder / VERDICTS_FILE).unlink(missing_ok=True)
    for name in sorted(frames):
        write_frame(folder / f"{name}.parquet", name, frames[name])
    if verdicts is not None:
        verdicts_text = compute_summary_text([dict(v) for v in verdicts])
        _write_atomic(
            folder / VERDICTS_FILE, lambda tmp: tmp.write_text(verdicts_text, encoding="utf-8")
        )
    _write_atomic(folder / SUMMARY_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return folder


# --------------------------------------------------------------------------------------------
# Placing a run folder: checked before the run, written aside, moved into place when complete.


def is_run_folder(folder: Path) -> bool:
    """A folder holding a run's files (``summary.json``, ``verdicts.json`` or a frame)."""
    return any((folder / name).exists() for name in (SUMMARY_FILE, VERDICTS_FILE)) or any(
        folder.glob("*.parquet")
    )


def check_run_target(target: Path, *, force: bool = False, flag: str = "--out") -> None:
    """Check, before a run starts, that its folder can be placed at ``target``: a new path or an
    empty folder, or (with ``force``) a folder of another run, in a place this process can
    write (its parent folders are made and a temporary folder is tried beside it). Anything
    else is a one-line ``UserError`` naming ``flag``."""
    if not str(target):
        raise UserError("rppsim run", flag, "a folder path", "''")
    for parent in reversed(target.parents):
        if parent.exists() and not parent.is_dir():
            raise UserError(str(target), flag, "a folder path", f"{parent} is a file")
    if target.exists():
        if not target.is_dir():
            raise UserError(str(target), flag, "a new or empty folder", "an existing file")
        if is_run_folder(target) and not force:
            expected = "a new or empty folder (--force replaces a run folder)"
            raise UserError(str(target), flag, expected, "a folder holding another run")
        if not is_run_folder(target) and any(target.iterdir()):
            expected = "a new or empty folder, or a run folder (with --force)"
            raise UserError(str(target), flag, expected, "a folder holding other files")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(make_temporary_folder(target))
    except OSError as error:
        expected = "a folder this process can write"
        raise UserError(str(target), flag, expected, error.strerror or str(error)) from None


def make_temporary_folder(target: Path) -> Path:
    """A new hidden folder beside ``target`` (same file system, so a rename moves it)."""
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))


def commit_run_folder(folder: Path, target: Path, *, force: bool = False) -> Path:
    """Move the complete run ``folder`` onto ``target`` (one rename); a run folder already
    there is replaced only with ``force`` (moved aside, then removed). ``target`` again."""
    if target.is_dir() and is_run_folder(target):
        if not force:
            expected = "a new or empty folder (--force replaces a run folder)"
            found = f"another run written there meanwhile (this run is in {folder})"
            raise UserError(str(target), "--out", expected, found)
        old = make_temporary_folder(target)
        os.replace(target, old)
        os.replace(folder, target)
        shutil.rmtree(old, ignore_errors=True)
        return target
    try:
        os.replace(folder, target)
    except OSError as error:
        expected = "a new or empty folder"
        found = f"{error.strerror or error} (this run is in {folder})"
        raise UserError(str(target), "--out", expected, found) from None
    return target


def read_run_folder(
    run_dir: str | os.PathLike[str],
) -> tuple[dict[str, pd.DataFrame], dict[str, object]]:
    """Frames (schema frames cast back to their dtypes) and summary of a run folder; a folder
    of another format (``summary["format"]`` ≠ SUMMARY_FORMAT) is refused."""
    folder = Path(run_dir)
    summary_path = folder / SUMMARY_FILE
    if not summary_path.is_file():
        raise UserError(str(folder), "", f"a run folder holding {SUMMARY_FILE}", "none")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(str(summary_path), "", "JSON", f"invalid JSON ({error})") from None
    found = summary.get("format") if isinstance(summary, dict) else None
    if found != SUMMARY_FORMAT:
        expected = f"{SUMMARY_FORMAT!r} (a folder of an older rppsim: run the scenario again)"
        raise UserError(str(summary_path), "format", expected, repr(found))
    paths = {p.stem: p for p in sorted(folder.glob("*.parquet"))}
    missing = [name for name in FRAME_NAMES if name not in paths]
    if missing:
        raise UserError(str(folder), "", "one .parquet file per frame", f"missing {missing}")
    frames: dict[str, pd.DataFrame] = {}
    for name, path in paths.items():
        try:
            frame = pq.read_table(path).to_pandas()
        except (pa.ArrowException, OSError) as error:
            raise UserError(str(path), "", "a Parquet file", str(error)) from None
        try:
            frames[name] = coerce_frame(name, frame) if name in FRAME_SCHEMAS else frame
        except ValueError as error:
            expected = f"the {name} frame schema"
            raise UserError(str(path), name, expected, str(error)) from None
    return frames, summary


# --------------------------------------------------------------------------------------------
# Summary.


def get_run_info(frames: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """The ``run_info`` frame as a key → text mapping."""
    info = frames["run_info"]
    return dict(zip(info["key"].astype(str), info["value"].astype(str), strict=True))


def compute_final_heights(frames: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    """Highest finalized height per node ("node index" → height; 0 if none finalized)."""
    nodes = set(frames["nodes"]["node"].tolist()) | set(frames["snapshots"]["node"].tolist())
    finalized = frames["block_finalized"]
    heights = finalized.groupby("node", sort=True)["height"].max()
    result = dict.fromkeys(sorted(nodes | set(heights.index.tolist())), 0)
    result.update({to_int(n): to_int(h) for n, h in heights.items()})
    return {str(node): height for node, height in sorted(result.items())}


def compute_rejection_totals(rejections: pd.DataFrame) -> dict[str, int]:
    """Rejections by reason over the fleet: each node's last cumulative count, summed."""
    if rejections.empty:
        return {}
    last = rejections.groupby(["node", "reason"], sort=True)["count"].last()
    totals = last.groupby(level="reason", sort=True).sum()
    return {str(reason): int(count) for reason, count in totals.items()}


def compute_counts(frames: Mapping[str, pd.DataFrame]) -> dict[str, object]:
    """Totals of a run: messages (the recorder's seen counters, so also when sampled), blocks
    (rows of ``blocks``: distinct (height, hash), so fork siblings count), heights (distinct
    heights), votes, failed telemetry emits, rejections by reason (end-of-run counts)."""
    info = get_run_info(frames)
    messages = frames["messages"]
    dropped_rows = int(messages["dropped"].sum())
    delivered = info.get("recorder.messages_delivered_seen", str(len(messages) - dropped_rows))
    dropped = info.get("recorder.messages_dropped_seen", str(dropped_rows))
    snapshots = frames["snapshots"]
    return {
        "messages_delivered": int(delivered),
        "messages_dropped": int(dropped),
        "blocks": len(frames["blocks"]),
        "heights": int(frames["blocks"]["height"].nunique()),
        "votes": len(frames["votes"]),
        "snapshot_emit_errors": int((~snapshots["emit_ok"]).sum()),
        "rejections_by_reason": compute_rejection_totals(frames["rejections"]),
    }


def compute_summary(
    frames: Mapping[str, pd.DataFrame],
    *,
    seed: int,
    scenario_digest: str,
    wall: Mapping[str, float] | None = None,
    verdicts: Sequence[Mapping[str, object]] | None = None,
) -> dict[str, object]:
    """The run summary: seed, scenario digest, frames digest, simulated duration (``run_info``
    ``duration_ms``; None when not recorded), final heights, counts, row count per frame,
    verdict counts (when judged; ``passed`` True / False / None), and the wall-clock figures
    under ``wall`` (outside every digest)."""
    info = get_run_info(frames)
    duration = info.get("duration_ms")
    summary: dict[str, object] = {
        "format": SUMMARY_FORMAT,
        "seed": seed,
        "scenario_digest": scenario_digest,
        "digest": compute_frames_digest(frames),
        "duration_ms": None if duration is None else int(duration),
        "messages_mode": info.get("recorder.messages", "all"),
        "final_heights": compute_final_heights(frames),
        "counts": compute_counts(frames),
        "frames": {name: len(frames[name]) for name in sorted(frames)},
    }
    if verdicts is not None:
        passed = [v["passed"] for v in verdicts]
        summary["verdicts"] = {
            "passed": passed.count(True),
            "failed": passed.count(False),
            "not_applicable": passed.count(None),
        }
    if wall is not None:
        summary[WALL_KEY] = dict(wall)
    return summary


def compute_summary_digest(summary: Mapping[str, object]) -> str:
    """Hex BLAKE2s of the summary's canonical JSON without its ``wall`` part."""
    kept = {key: value for key, value in summary.items() if key != WALL_KEY}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.blake2s(text.encode("utf-8")).hexdigest()
