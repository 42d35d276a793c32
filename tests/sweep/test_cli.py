"""``rppsim sweep`` as a user runs it: the same table on every executor, and a sweep killed
mid-way (SIGKILL, or SIGINT: exit 130 and one line) resumes without re-running a finished run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.sweep.conftest import write_sweep

LONGER = """
[base]
"run.engine" = "fast"
"run.duration_ms" = 3_600_000

[axes]
"nodes.validators" = [4, 5, 6, 7]
"genesis.zipf_s" = [1.1, 1.5]
"""
"""8 one-hour fast runs (about a second each): long enough to stop a sweep mid-way."""
TOTAL = 8


def _start(path: Path, out: Path, *flags: str) -> subprocess.Popen:
    env = {**os.environ, "RPPSIM_CODE_VERSION": "tests"}
    argv = [sys.executable, "-m", "rppsim", "sweep", str(path), "--out", str(out), "--quiet"]
    return subprocess.Popen(
        [*argv, *flags], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _rows(out: Path) -> dict[str, int]:
    runs = out / "runs"
    if not runs.exists():
        return {}
    return {p.name: p.stat().st_mtime_ns for p in runs.glob("*.parquet")}


def _stop_after_first_row(process: subprocess.Popen, out: Path, signum: int) -> None:
    deadline = time.monotonic() + 240
    while not _rows(out) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signum)


def _resume(path: Path, out: Path, before: dict[str, int]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "rppsim", "sweep", str(path), "--out", str(out), "--quiet",
         "--jobs", "1"],
        env={**os.environ, "RPPSIM_CODE_VERSION": "tests"}, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    after = _rows(out)
    assert len(after) == TOTAL and set(before) <= set(after)
    assert all(after[name] == mtime for name, mtime in before.items())  # not run again
    assert f"resuming: {len(before)} of {TOTAL} runs recorded already" in done.stdout
    return done.stdout


@pytest.mark.slow
def test_killed_sweep_resumes_without_rerunning_finished_runs(tmp_path: Path):
    path = write_sweep(tmp_path, LONGER)
    out = tmp_path / "out"
    process = _start(path, out, "--jobs", "1")
    _stop_after_first_row(process, out, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    before = _rows(out)
    assert 1 <= len(before) < TOTAL
    _resume(path, out, before)
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == TOTAL and runs["run_id"].is_unique


@pytest.mark.slow
def test_sigint_keeps_finished_runs_prints_one_line_and_exits_130(tmp_path: Path):
    path = write_sweep(tmp_path, LONGER)
    out = tmp_path / "out"
    process = _start(path, out, "--jobs", "2")
    _stop_after_first_row(process, out, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    before = _rows(out)
    lines = [line for line in stdout.splitlines() if "interrupted" in line]
    assert lines == [
        f"rppsim sweep: interrupted by SIGINT after {len(before)} of {TOTAL} runs; they are kept"
        f" in {out}; run the same command to resume"
    ]
    assert "Traceback" not in stderr and 1 <= len(before) < TOTAL
    _resume(path, out, before)


@pytest.mark.slow
def test_same_sweep_same_table_on_every_executor(tmp_path: Path):
    path = write_sweep(tmp_path, LONGER.replace("3_600_000", "300_000"), "seeds = 2")
    tables = {}
    for name, flags in {
        "serial": ("--jobs", "1"),
        "local": ("--jobs", "2"),
        "dask": ("--executor", "dask", "--jobs", "2"),
    }.items():
        process = _start(path, tmp_path / name, *flags)
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        tables[name] = pd.read_parquet(tmp_path / name / "runs.parquet")
        assert len(tables[name]) == 2 * TOTAL
    pd.testing.assert_frame_equal(tables["serial"], tables["local"])
    pd.testing.assert_frame_equal(tables["serial"], tables["dask"])
    raw = {name: (tmp_path / name / "summary.parquet").read_bytes() for name in tables}
    assert raw["serial"] == raw["local"] == raw["dask"]
