"""Sweep folders: a folder built here in the agreed layout, read back; confidence intervals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from rppsim.analysis.sweeps import (
    compute_mean_ci,
    compute_verdict_rates,
    get_metric_band,
    get_metric_runs,
    load_sweep_folder,
)
from rppsim.errors import UserError

AXIS = "reputation.tier_thresholds.tier5_min_score"


def _write_sweep(folder: Path, *, summary: bool) -> pd.DataFrame:
    """Two points × three seeds; returns the runs table."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"point": [0, 1], AXIS: [0.7, 0.75]}).to_parquet(folder / "points.parquet")
    rows = []
    for point, value in enumerate((0.7, 0.75)):
        for seed in (1, 2, 3):
            rows.append(
                {
                    "run_id": f"r{point}{seed}", "point": point, "seed": seed, "engine": "fast",
                    "scenario_digest": f"d{point}", AXIS: value,
                    "metric.blocks_finalized": float(100 + seed + 10 * point),
                    "metric.tier_share.tl5": 0.5 - point * 0.25 + seed * 0.01,
                    "verdict.safety": "pass",
                    "verdict.liveness": "fail" if point == 1 and seed < 3 else "n/a",
                }
            )  # fmt: skip
    runs = pd.DataFrame(rows)
    runs.to_parquet(folder / "runs.parquet")
    if summary:
        long = runs.melt(id_vars=["point", AXIS], value_vars=["metric.blocks_finalized",
                         "metric.tier_share.tl5"], var_name="metric")  # fmt: skip
        long["metric"] = long["metric"].str.removeprefix("metric.")
        compute_mean_ci(long, "value", ["point", AXIS, "metric"]).to_parquet(
            folder / "summary.parquet"
        )
    return runs


def test_a_sweep_folder_reads_back_with_its_axes_metrics_and_verdicts(tmp_path: Path) -> None:
    _write_sweep(tmp_path, summary=True)
    sweep = load_sweep_folder(tmp_path)
    assert sweep.axes == (AXIS,)
    assert sweep.metrics == ("blocks_finalized", "tier_share.tl5")
    assert sweep.verdicts == ("safety", "liveness")
    band = get_metric_band(sweep, "blocks_finalized")
    assert band["point"].tolist() == [0, 1]
    assert band["mean"].tolist() == pytest.approx([102.0, 112.0])
    runs = get_metric_runs(sweep, "tier_share.tl5")
    assert list(runs.columns[:5]) == ["run_id", "point", "seed", "engine", "scenario_digest"]
    assert len(runs) == 6


def test_without_a_summary_it_is_computed_from_the_runs(tmp_path: Path) -> None:
    _write_sweep(tmp_path / "a", summary=True)
    _write_sweep(tmp_path / "b", summary=False)
    written = load_sweep_folder(tmp_path / "a").summary
    computed = load_sweep_folder(tmp_path / "b").summary
    pd.testing.assert_frame_equal(written, computed[written.columns], check_dtype=False)


def test_unknown_metric_and_missing_tables_are_user_errors(tmp_path: Path) -> None:
    _write_sweep(tmp_path, summary=False)
    with pytest.raises(UserError, match="blocks_finalized"):
        get_metric_band(load_sweep_folder(tmp_path), "blocks")
    (tmp_path / "runs.parquet").unlink()
    with pytest.raises(UserError, match=r"runs\.parquet"):
        load_sweep_folder(tmp_path)
    (tmp_path / "runs.parquet").write_text("not parquet", encoding="utf-8")
    with pytest.raises(UserError, match="a Parquet file"):
        load_sweep_folder(tmp_path)


def test_verdict_rates_count_only_the_runs_a_verdict_applied_to(tmp_path: Path) -> None:
    _write_sweep(tmp_path, summary=False)
    rates = compute_verdict_rates(load_sweep_folder(tmp_path)).set_index(["verdict", "point"])
    liveness = rates.xs("liveness")["fail_rate"].to_numpy()
    assert np.isnan(liveness[0]) and liveness[1] == 1.0  # point 1: two fails, one n/a
    assert rates.loc[("safety", 0), "fail_rate"] == 0.0
    assert rates.loc[("safety", 0), "runs"] == 3


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30))
def test_mean_ci_is_the_student_t_interval(values: list[float]) -> None:
    frame = pd.DataFrame({"g": 0, "v": values})
    row = compute_mean_ci(frame, "v", ["g"]).iloc[0]
    assert row["n"] == len(values)
    if len(values) < 2:
        assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
        return
    sem = np.std(values, ddof=1) / np.sqrt(len(values))
    if sem == 0:
        assert row["ci_low"] == row["ci_high"] == pytest.approx(np.mean(values))
    else:
        low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sem)
        assert row["ci_low"] == pytest.approx(low, rel=1e-9, abs=1e-6)
        assert row["ci_high"] == pytest.approx(high, rel=1e-9, abs=1e-6)
