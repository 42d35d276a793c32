"""``run_sweep``: the documented tables, resuming by run id, the summary's intervals."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rppsim.sweep import DEFAULT_VERDICTS, load_sweep, run_sweep
from rppsim.sweep.metrics import METRIC_NAMES
from rppsim.sweep.runner import build_tasks, compute_interval
from tests.sweep.conftest import SMALL, write_sweep

AXES = ["reputation.tier_thresholds.tier3_min_consensus_success", "nodes.validators"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[tuple[int, int]]]:
    """The small sweep (4 points × 2 seeds) run in this process, and the resume's counts."""
    mp = pytest.MonkeyPatch()
    mp.setenv("RPPSIM_CODE_VERSION", "tests")
    folder = tmp_path_factory.mktemp("sweep")
    path = write_sweep(folder, SMALL, 'name = "small"\nseeds = 2')
    started: list[tuple[int, int]] = []
    out = run_sweep(path, folder / "out", jobs=1, on_start=lambda *a: started.append(a))
    run_sweep(path, folder / "out", jobs=1, on_start=lambda *a: started.append(a))
    mp.undo()
    return path, out, started


def test_tables_have_the_documented_columns(swept):
    path, out, _ = swept
    assert sorted(p.name for p in out.iterdir()) == [
        "points.parquet", "runs", "runs.parquet", "summary.parquet", "sweep.toml",
    ]  # fmt: skip
    assert (out / "sweep.toml").read_text() == path.read_text()
    points = pd.read_parquet(out / "points.parquet")
    assert list(points.columns) == ["point", *AXES] and points["point"].tolist() == [0, 1, 2, 3]
    runs = pd.read_parquet(out / "runs.parquet")
    metrics = [f"metric.{m}" for m in METRIC_NAMES]
    verdicts = [f"verdict.{v}" for v in DEFAULT_VERDICTS]
    head = ["run_id", "point", "seed", "engine", "scenario_digest"]
    assert list(runs.columns) == [*head, *AXES, *metrics, *verdicts]
    expected = [[p, s] for p in range(4) for s in (8020, 8021)]
    assert runs[["point", "seed"]].values.tolist() == expected
    assert (runs[metrics].dtypes == "float64").all()
    assert set(runs[verdicts].stack()) <= {"pass", "fail", "n/a"}
    assert (runs["verdict.evidence"] == "pass").all() and (runs["engine"] == "fast").all()
    assert runs["run_id"].is_unique and len(list((out / "runs").iterdir())) == 8
    assert runs.loc[runs["point"] == 1, "nodes.validators"].eq(7).all()


def test_same_point_and_seed_gives_the_same_row_whatever_else_runs(swept, tmp_path: Path):
    """A point run alone (zip of one value each) reproduces its row of the grid."""
    _, out, _ = swept
    body = SMALL.replace("= [5, 10]", "= [10]").replace("= [5, 7]", "= [7]")
    alone = run_sweep(write_sweep(tmp_path, body, "seeds = [8021]"), tmp_path / "o", jobs=1)
    row = pd.read_parquet(alone / "runs.parquet").drop(columns="point")
    grid = pd.read_parquet(out / "runs.parquet")
    expected = grid[(grid["point"] == 3) & (grid["seed"] == 8021)].drop(columns="point")
    pd.testing.assert_frame_equal(row.reset_index(drop=True), expected.reset_index(drop=True))


def test_a_second_run_resumes_with_nothing_left(swept):
    _, _, started = swept
    assert started == [(8, 8), (0, 8)]


def test_a_lost_row_is_the_only_run_again(swept, monkeypatch: pytest.MonkeyPatch):
    path, out, _ = swept
    runs_dir = out / "runs"
    before = {p.name: p.stat().st_mtime_ns for p in runs_dir.iterdir()}
    lost = sorted(before)[3]
    (runs_dir / lost).unlink()
    started: list[tuple[int, int]] = []
    run_sweep(path, out, jobs=1, on_start=lambda *a: started.append(a))
    after = {p.name: p.stat().st_mtime_ns for p in runs_dir.iterdir()}
    assert started == [(1, 8)] and set(after) == set(before)
    assert all(after[k] == before[k] for k in before if k != lost)


def test_run_ids_change_with_the_code_version(swept, monkeypatch: pytest.MonkeyPatch):
    spec = load_sweep(swept[0])
    ids = [t.run_id for t in build_tasks(spec)]
    monkeypatch.setenv("RPPSIM_CODE_VERSION", "other")
    assert not set(ids) & {t.run_id for t in build_tasks(spec)}


def test_summary_is_mean_and_student_interval_per_point_and_metric(swept):
    _, out, _ = swept
    summary = pd.read_parquet(out / "summary.parquet")
    assert list(summary.columns) == [
        "point", *AXES, "metric", "n", "mean", "std", "ci_low", "ci_high",
    ]  # fmt: skip
    assert len(summary) == 4 * len(METRIC_NAMES)
    runs = pd.read_parquet(out / "runs.parquet")
    row = summary[(summary["point"] == 2) & (summary["metric"] == "rewards_total")].iloc[0]
    values = runs.loc[runs["point"] == 2, "metric.rewards_total"].to_numpy()
    low, high = stats.t.interval(0.95, 1, loc=values.mean(), scale=stats.sem(values))
    assert (row["n"], row["mean"]) == (2, values.mean())
    assert math.isclose(row["ci_low"], low) and math.isclose(row["ci_high"], high)


def test_interval_edge_cases():
    assert compute_interval(np.array([3.0]))[:2] == (1, 3.0)
    assert all(math.isnan(x) for x in compute_interval(np.array([3.0]))[2:])
    assert compute_interval(np.array([np.nan, np.nan]))[0] == 0
    n, mean, std, low, high = compute_interval(np.array([1.0, 1.0, 1.0, np.nan]))
    assert (n, mean, std, low, high) == (3, 1.0, 0.0, 1.0, 1.0)


def test_sobol_design_writes_indices(tmp_path: Path):
    body = """
[base]
"run.engine" = "fast"
"run.duration_ms" = 60_000

[axes]
"nodes.validators" = { low = 4, high = 7 }
"genesis.zipf_s" = { low = 0.5, high = 2.0 }
"""
    path = write_sweep(tmp_path, body, 'design = "sobol"\nsamples = 2')
    out = run_sweep(path, tmp_path / "out", jobs=1)
    sobol = pd.read_parquet(out / "sobol.parquet")
    assert list(sobol.columns) == ["metric", "axis", "S1", "S1_conf", "ST", "ST_conf"]
    assert len(sobol) == 2 * len(METRIC_NAMES)
    assert set(sobol["axis"]) == {"nodes.validators", "genesis.zipf_s"}
