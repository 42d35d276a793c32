"""``run_sweep``: every (point, seed) run of a sweep, resumable, into one folder of tables.

A run's id is a content hash of its point's scenario, the point's values, the seed, the engine,
the verdicts judged and the code version, so a sweep that was stopped (or killed) and started
again runs only what it has not recorded: each finished run is one row in
``runs/<run_id>.parquet``, written atomically as it arrives. A run writes no run folder: the
worker computes its metrics and verdicts from the frames and returns that row. The folder
(docs/sweeps.md#output) then gets ``runs.parquet`` (every row, by point and seed),
``summary.parquet`` (mean and 95 % Student-t interval per point and metric) and, for the
``sobol`` design, ``sobol.parquet`` (first-order and total indices per metric and axis).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rppsim.sweep.executors import Executor, build_executor
from rppsim.sweep.metrics import METRIC_NAMES, compute_metrics
from rppsim.sweep.spec import SweepSpec, apply_point, build_point_scenario, load_sweep

__all__ = [
    "DEFAULT_VERDICTS",
    "RunTask",
    "SweepInterruptedError",
    "compute_code_version",
    "compute_summary_table",
    "execute_task",
    "run_sweep",
]

SWEEPS_ROOT = Path("reports") / "sweeps"
STATUS = {True: "pass", False: "fail", None: "n/a"}
"""A verdict's cell in ``runs.parquet``."""
POLL_S = 0.2


def _default_verdicts() -> tuple[str, ...]:
    """Checkers, conduct and guardrails: not the alert rules and promotion gates (they read
    series a sweep's runs rarely have, and the alert rules cost seconds per simulated day),
    nor ``leader-share`` (seconds per simulated day; the ``leader_share_gini`` metric measures
    the same spread)."""
    from rppsim.checks import CHECKERS
    from rppsim.checks.conduct import CONDUCT_IDS
    from rppsim.guardrails import GUARDRAIL_IDS

    return tuple(v for v in (*CHECKERS, *CONDUCT_IDS, *GUARDRAIL_IDS) if v != "leader-share")


DEFAULT_VERDICTS = _default_verdicts()
"""The verdicts judged when the sweep file names none (``[sweep] verdicts``)."""


class SweepInterruptedError(Exception):
    """A sweep stopped by a signal: the runs recorded so far are kept."""

    def __init__(self, signum: int, done: int, total: int, out_dir: Path) -> None:
        super().__init__(f"interrupted after {done} of {total} runs")
        self.signum, self.done, self.total, self.out_dir = signum, done, total, out_dir


@dataclass(frozen=True, slots=True)
class RunTask:
    """One run of a sweep, as a worker receives it (plain data: it crosses processes)."""

    run_id: str
    point: int
    seed: int
    engine: str
    scenario_digest: str
    scenario: dict[str, Any]
    """The point's scenario document."""
    scenario_path: str
    values: tuple[tuple[str, Any], ...]
    verdicts: tuple[str, ...]


CODE_PARTS = (
    "checks", "guardrails", "model", "node", "prover", "sim", "telemetry", "rng.py",
    "scenario.py", "verdicts.py", "sweep/metrics.py", "sweep/runner.py",
)  # fmt: skip
"""The package's modules a run's row depends on (the code version hashes their sources)."""
CODE_VERSION_VARIABLE = "RPPSIM_CODE_VERSION"
_CODE_VERSION: list[str] = []


def compute_code_version() -> str:
    """The package's version and a BLAKE2s of the sources a run's row depends on
    (``CODE_PARTS``): a change there is a new run id, so no row of other code is reused.
    ``RPPSIM_CODE_VERSION`` in the environment pins it instead (for edits known not to change
    results: the rows recorded before them are then reused)."""
    pinned = os.environ.get(CODE_VERSION_VARIABLE)
    if pinned:
        return f"pinned:{pinned}"
    if not _CODE_VERSION:
        import rppsim

        root = Path(rppsim.__file__).resolve().parent
        digest = hashlib.blake2s()
        for part in CODE_PARTS:
            path = root / part
            for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
                digest.update(file.relative_to(root).as_posix().encode() + b"\0")
                digest.update(file.read_bytes() + b"\0")
        version = getattr(rppsim, "__version__", "0")
        _CODE_VERSION.append(f"{version}+{digest.hexdigest()[:16]}")
    return _CODE_VERSION[0]


def compute_run_id(
    scenario_digest: str, values: Mapping[str, Any], seed: int, engine: str,
    verdicts: Sequence[str], code: str,
) -> str:  # fmt: skip
    """A run's content hash (module docstring), 32 hex digits."""
    content = {
        "scenario": scenario_digest,
        "point": sorted(values.items()),
        "seed": seed,
        "engine": engine,
        "verdicts": list(verdicts),
        "code": code,
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.blake2s(text.encode("utf-8"), digest_size=16).hexdigest()


def build_tasks(spec: SweepSpec) -> list[RunTask]:
    """Every run of the sweep: points in order, each point's seeds in order."""
    code = compute_code_version()
    verdicts = spec.verdicts if spec.verdicts is not None else DEFAULT_VERDICTS
    tasks = []
    for point in range(len(spec.points)):
        values = spec.get_point_values(point)
        digest = build_point_scenario(spec, point).digest()
        data = apply_point(spec.base, values, spec.source)
        for seed in spec.seeds:
            run_id = compute_run_id(digest, values, seed, spec.engine, verdicts, code)
            tasks.append(RunTask(
                run_id, point, seed, spec.engine, digest, data, str(spec.scenario_path),
                tuple(values.items()), verdicts,
            ))  # fmt: skip
    return tasks


def _judge_fast(frames: dict[str, Any], scenario: Any, ids: Sequence[str]) -> dict[str, str]:
    """The verdicts of a fast run: those the model cannot judge are "n/a" (``run.py``)."""
    from rppsim.guardrails.alerting import ALERT_IDS, AlertEvaluation
    from rppsim.model.run import SKIPPED_VERDICTS
    from rppsim.verdicts import evaluate_verdicts

    wanted = [v for v in ids if v not in SKIPPED_VERDICTS]
    alerts = None if any(v in ALERT_IDS for v in wanted) else AlertEvaluation((), frozenset())
    judged = evaluate_verdicts(frames, scenario, only=wanted, alerts=alerts) if wanted else []
    status = {v.id: STATUS[v.passed] for v in judged}
    return {v: status.get(v, "n/a") for v in ids}


def execute_task(task: RunTask) -> dict[str, Any]:
    """Run one task and return its row (a top-level function: workers call it)."""
    from rppsim.scenario import parse_scenario

    scenario = parse_scenario(task.scenario, task.scenario_path)
    if task.engine == "fast":
        from rppsim.model.engine import run_model

        run = run_model(scenario, seed=task.seed)
        effective = replace(scenario, run=replace(scenario.run, duration_ms=run.duration_ms))
        frames = run.frames
        verdicts = _judge_fast(frames, effective, task.verdicts)
    else:
        from rppsim.sim.run import execute_run

        result = execute_run(scenario, seed=task.seed, write=False)
        frames = result.frames
        status = {v.id: STATUS[v.passed] for v in result.verdicts}
        verdicts = {v: status.get(v, "n/a") for v in task.verdicts}
    row: dict[str, Any] = {
        "run_id": task.run_id,
        "point": task.point,
        "seed": task.seed,
        "engine": task.engine,
        "scenario_digest": task.scenario_digest,
        **dict(task.values),
    }
    row |= {f"metric.{name}": value for name, value in compute_metrics(frames).items()}
    row |= {f"verdict.{name}": value for name, value in verdicts.items()}
    return row


def write_row(runs_dir: Path, row: Mapping[str, Any]) -> Path:
    """One run's row as ``runs/<run_id>.parquet``, atomically (a temporary file renamed)."""
    target = runs_dir / f"{row['run_id']}.parquet"
    temporary = runs_dir / f".{row['run_id']}.{os.getpid()}.tmp"
    pd.DataFrame([dict(row)]).to_parquet(temporary, index=False)
    os.replace(temporary, target)
    return target


def _build_points_frame(spec: SweepSpec) -> pd.DataFrame:
    columns: dict[str, Any] = {"point": np.arange(len(spec.points), dtype=np.int64)}
    for k, axis in enumerate(spec.axes):
        columns[axis.key] = [values[k] for values in spec.points]
    return pd.DataFrame(columns)


def build_runs_table(spec: SweepSpec, tasks: Sequence[RunTask], runs_dir: Path) -> pd.DataFrame:
    """Every run's row, by point and seed, in the documented column order and types."""
    rows = [pd.read_parquet(runs_dir / f"{task.run_id}.parquet") for task in tasks]
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    axes = [axis.key for axis in spec.axes]
    metrics = [f"metric.{name}" for name in METRIC_NAMES]
    verdicts = [f"verdict.{v}" for v in (tasks[0].verdicts if tasks else ())]
    table = table[["run_id", "point", "seed", "engine", "scenario_digest", *axes, *metrics,
                   *verdicts]]  # fmt: skip
    table = table.astype({"run_id": "string", "point": "int64", "seed": "int64",
                          "engine": "string", "scenario_digest": "string"})  # fmt: skip
    table = table.astype({m: "float64" for m in metrics} | {v: "string" for v in verdicts})
    return table.sort_values(["point", "seed"], kind="stable").reset_index(drop=True)


def compute_interval(values: np.ndarray) -> tuple[int, float, float, float, float]:
    """(n, mean, std, ci_low, ci_high) of the non-NaN values: the 95 % Student-t interval of
    the mean (NaN bounds for fewer than two values, NaN everything for none)."""
    from scipy.stats import t as student

    array = values[~np.isnan(values)]
    n = int(array.size)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(array.mean())
    if n == 1:
        return 1, mean, math.nan, math.nan, math.nan
    std = float(array.std(ddof=1))
    half = float(student.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return n, mean, std, mean - half, mean + half


def compute_summary_table(spec: SweepSpec, runs: pd.DataFrame) -> pd.DataFrame:
    """Per point and metric: n, mean, std and the 95 % interval over the point's seeds."""
    points = _build_points_frame(spec)
    rows = []
    for point, group in runs.groupby("point", sort=True):
        values = points.loc[points["point"] == point].iloc[0].to_dict()
        for name in METRIC_NAMES:
            n, mean, std, low, high = compute_interval(group[f"metric.{name}"].to_numpy(float))
            rows.append({**values, "metric": name, "n": n, "mean": mean, "std": std,
                         "ci_low": low, "ci_high": high})  # fmt: skip
    columns = ["point", *(a.key for a in spec.axes), "metric", "n", "mean", "std", "ci_low",
               "ci_high"]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    return table.astype({"point": "int64", "metric": "string", "n": "int64"})


def compute_sobol_table(spec: SweepSpec, runs: pd.DataFrame) -> pd.DataFrame:
    """Sobol' first-order and total indices (with their 95 % bootstrap half-widths) of each
    metric's per-point mean, per axis; a metric that is NaN at some point or constant has
    NaN indices."""
    from SALib.analyze import sobol

    from rppsim.sweep.designs import get_sobol_problem

    problem = get_sobol_problem(spec)
    means = runs.groupby("point", sort=True)[[f"metric.{m}" for m in METRIC_NAMES]].mean()
    rows = []
    for name in METRIC_NAMES:
        y = means[f"metric.{name}"].to_numpy(float)
        indices: dict[str, Any] = {}
        if len(y) == len(spec.points) and np.isfinite(y).all() and y.std() > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                indices = sobol.analyze(
                    problem, y, calc_second_order=False, seed=spec.design_seed
                )
        for k, axis in enumerate(spec.axes):
            rows.append({
                "metric": name,
                "axis": axis.key,
                **{key: float(indices[key][k]) if indices else math.nan
                   for key in ("S1", "S1_conf", "ST", "ST_conf")},
            })  # fmt: skip
    return pd.DataFrame(rows).astype({"metric": "string", "axis": "string"})


def _write_table(table: pd.DataFrame, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    table.to_parquet(temporary, index=False)
    os.replace(temporary, path)


def run_sweep(
    spec_or_path: SweepSpec | Path | str,
    out_dir: Path | None = None,
    *,
    executor: str = "local",
    jobs: int | None = None,
    scheduler: str | None = None,
    quiet: bool = True,
    on_start: Callable[[int, int], None] | None = None,
) -> Path:
    """Run every unrecorded run of a sweep and write its tables; the sweep folder.

    ``on_start(pending, total)`` is told how many runs remain before they start. A SIGINT or
    SIGTERM stops the sweep at the next finished run: the recorded runs stay, the workers
    end, and ``SweepInterruptedError`` is raised (running the sweep again resumes)."""
    from rppsim.cli import catch_stop_signals

    spec = spec_or_path if isinstance(spec_or_path, SweepSpec) else load_sweep(Path(spec_or_path))
    out = Path(out_dir) if out_dir is not None else SWEEPS_ROOT / spec.name
    runs_dir = out / "runs"
    tasks = build_tasks(spec)
    pending = [t for t in tasks if not (runs_dir / f"{t.run_id}.parquet").exists()]
    runner = build_executor(executor, jobs, scheduler) if pending else None  # before any write
    runs_dir.mkdir(parents=True, exist_ok=True)
    (out / "sweep.toml").write_text(spec.text, encoding="utf-8")
    _write_table(_build_points_frame(spec), out / "points.parquet")
    if on_start is not None:
        on_start(len(pending), len(tasks))
    if runner is not None:
        _execute(runner, pending, len(tasks), runs_dir, out, quiet, catch_stop_signals)
    runs = build_runs_table(spec, tasks, runs_dir)
    _write_table(runs, out / "runs.parquet")
    _write_table(compute_summary_table(spec, runs), out / "summary.parquet")
    if spec.design == "sobol":
        _write_table(compute_sobol_table(spec, runs), out / "sobol.parquet")
    return out


def _execute(
    runner: Executor, pending: Sequence[RunTask], total: int, runs_dir: Path, out: Path,
    quiet: bool, catch_stop_signals: Any,
) -> None:  # fmt: skip
    """Run the pending tasks, recording each row as it arrives, with a progress bar."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    done = total - len(pending)
    with catch_stop_signals() as caught, Progress(*columns, disable=quiet) as bar:
        task = bar.add_task("sweep", total=total, completed=done)
        try:
            runner.submit(execute_task, pending)
            left = len(pending)
            while left and not caught:
                for row in runner.wait_some(POLL_S):
                    write_row(runs_dir, row)
                    left -= 1
                    done += 1
                    bar.update(task, advance=1)
        finally:
            runner.close()
    if caught:
        raise SweepInterruptedError(caught[0], done, total, out)
