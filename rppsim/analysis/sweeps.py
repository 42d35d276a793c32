"""A sweep folder (``rppsim sweep``) as tidy frames, and confidence bands over runs
(docs/analysis.md#sweeps).

The folder holds ``points.parquet`` (``point`` and one column per axis, named by its key
path), ``runs.parquet`` (``run_id``, ``point``, ``seed``, ``engine``, ``scenario_digest``, the
axes, ``metric.<name>`` and ``verdict.<id>`` columns) and ``summary.parquet`` (per point and
metric: ``n``, ``mean``, ``std`` and the 95 % Student-t interval ``ci_low`` … ``ci_high``).
``load_sweep_folder`` reads them; ``compute_mean_ci`` computes the same interval over any
runs, e.g. frames of runs loaded with ``load_runs``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rppsim.errors import UserError

__all__ = [
    "CONFIDENCE",
    "METRIC_PREFIX",
    "RUN_COLUMNS",
    "SUMMARY_COLUMNS",
    "VERDICT_PREFIX",
    "SweepResult",
    "compute_mean_ci",
    "compute_verdict_rates",
    "get_metric_band",
    "get_metric_runs",
    "load_sweep_folder",
]

METRIC_PREFIX = "metric."
VERDICT_PREFIX = "verdict."
RUN_COLUMNS = ("run_id", "point", "seed", "engine", "scenario_digest")
"""The provenance columns of ``runs.parquet``, before the axes."""
SUMMARY_COLUMNS = ("point", "metric", "n", "mean", "std", "ci_low", "ci_high")
CONFIDENCE = 0.95


@dataclass(frozen=True)
class SweepResult:
    """A sweep folder's tables, with the names of its axes, metrics and verdicts."""

    folder: Path
    points: pd.DataFrame
    runs: pd.DataFrame
    summary: pd.DataFrame
    axes: tuple[str, ...]
    metrics: tuple[str, ...]
    """Metric names without the ``metric.`` prefix."""
    verdicts: tuple[str, ...]
    """Verdict ids without the ``verdict.`` prefix."""


def _read(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """A Parquet table holding the ``required`` columns, or a one-line ``UserError``."""
    if not path.is_file():
        raise UserError(str(path.parent), "", f"a sweep folder holding {path.name}", "none")
    try:
        frame = pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError) as error:
        raise UserError(str(path), "", "a Parquet file", str(error)) from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UserError(str(path), "", f"columns {list(required)}", f"missing {missing}")
    return frame


def load_sweep_folder(folder: str | os.PathLike[str]) -> SweepResult:
    """The tables of a sweep folder (``run_sweep``'s result). ``summary.parquet`` is
    recomputed from the runs (``compute_mean_ci``) when the folder has none yet (a sweep
    still running or stopped)."""
    root = Path(folder)
    points = _read(root / "points.parquet", ("point",))
    axes = tuple(c for c in points.columns if c != "point")
    runs = _read(root / "runs.parquet", (*RUN_COLUMNS, *axes))
    metrics = tuple(c[len(METRIC_PREFIX) :] for c in runs.columns if c.startswith(METRIC_PREFIX))
    verdicts = tuple(
        c[len(VERDICT_PREFIX) :] for c in runs.columns if c.startswith(VERDICT_PREFIX)
    )
    if (root / "summary.parquet").is_file():
        summary = _read(root / "summary.parquet", (*SUMMARY_COLUMNS, *axes))
    else:
        columns = [f"{METRIC_PREFIX}{m}" for m in metrics]
        long = runs.melt(
            id_vars=["point", *axes], value_vars=columns, var_name="metric", value_name="value"
        )
        long["metric"] = long["metric"].str.slice(len(METRIC_PREFIX))
        summary = compute_mean_ci(long, "value", ["point", *axes, "metric"])
    runs = runs.sort_values(["point", "seed"], kind="stable", ignore_index=True)
    summary = summary.sort_values(["metric", "point"], kind="stable", ignore_index=True)
    return SweepResult(root, points, runs, summary, axes, metrics, verdicts)


def compute_mean_ci(
    frame: pd.DataFrame, value: str, by: Sequence[str], confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Per group of ``by``: ``n`` (non-null values of ``value``), ``mean``, ``std`` (ddof 1)
    and the Student-t interval ``ci_low`` … ``ci_high`` at ``confidence`` (NaN bounds when
    n < 2)."""
    from scipy.stats import t as student_t

    values = frame[[*by, value]].assign(**{value: frame[value].astype("float64")})
    grouped = values.groupby(list(by), sort=True, dropna=False)[value]
    result = grouped.agg(n="count", mean="mean", std="std").reset_index()
    n = result["n"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = student_t.ppf(0.5 + confidence / 2, n - 1) * result["std"].to_numpy() / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    return result.assign(
        n=result["n"].astype("int64"),
        ci_low=result["mean"] - half,
        ci_high=result["mean"] + half,
    )


def get_metric_band(sweep: SweepResult, metric: str) -> pd.DataFrame:
    """The summary rows of ``metric`` (point, axes, n, mean, std, ci_low, ci_high), by point;
    an unknown metric is a ``UserError`` naming the known ones."""
    if metric not in sweep.metrics:
        known = ", ".join(sweep.metrics) or "none"
        raise UserError(str(sweep.folder), "metric", f"one of {known}", repr(metric))
    rows = sweep.summary[sweep.summary["metric"] == metric]
    return rows.drop(columns="metric").sort_values("point", kind="stable", ignore_index=True)


def get_metric_runs(sweep: SweepResult, metric: str) -> pd.DataFrame:
    """One row per run of ``metric``: the run's provenance, axes and ``value``."""
    get_metric_band(sweep, metric)  # checks the name
    columns = [*RUN_COLUMNS, *sweep.axes]
    return sweep.runs[columns].assign(value=sweep.runs[f"{METRIC_PREFIX}{metric}"].astype(float))


def compute_verdict_rates(sweep: SweepResult) -> pd.DataFrame:
    """Per point and verdict: ``runs`` judged and the ``fail_rate`` among those that applied
    (NaN when none did) — where in the parameter space a guardrail starts to fail."""
    rows = []
    for verdict in sweep.verdicts:
        status = sweep.runs[f"{VERDICT_PREFIX}{verdict}"].astype(str)
        applied = status.isin(["pass", "fail"])
        frame = sweep.runs[["point"]].assign(
            applied=applied.to_numpy(), failed=(status == "fail").to_numpy()
        )
        counts = frame.groupby("point", sort=True).agg(
            runs=("applied", "size"), applied=("applied", "sum"), failed=("failed", "sum")
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(counts["applied"] > 0, counts["failed"] / counts["applied"], np.nan)
        rows.append(counts.reset_index().assign(verdict=verdict, fail_rate=rate))
    if not rows:
        return pd.DataFrame(columns=["point", "verdict", "runs", "applied", "failed", "fail_rate"])
    result = pd.concat(rows, ignore_index=True)
    return result[["point", "verdict", "runs", "applied", "failed", "fail_rate"]]
