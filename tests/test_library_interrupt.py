"""A library run stopped by SIGINT / SIGTERM (rppsim/library.py, rppsim/parallel.py,
``cmd_run_library``): finished runs kept, running ones written marked interrupted, nothing
half-written, one line, exit 130 / 143; ``--resume`` runs only what is missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rppsim.cli import main
from rppsim.library import find_entries, plan_resume, run_entry, run_library

PROFILE = Path(__file__).parents[1] / "node" / "profiles" / "testnet.toml"
HOUR_MS = 3_600_000


def _scenario(seed: int, duration_ms: int = 6_000) -> str:
    """A 4-node scenario with the model prover."""
    return f"""
[run]
seed = {seed}
duration_ms = {duration_ms}
prover = "model"

[nodes]
count = 4
validators = 4
profile = "{PROFILE.as_posix()}"

[network]
topology = "complete"

[traffic]
tx_per_s = 1.0
"""


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGINT, 130), pytest.param(signal.SIGTERM, 143, marks=pytest.mark.slow)],
)
def test_a_signal_stops_a_pooled_library_run_gracefully(
    tmp_path: Path, signum: int, code: int
) -> None:
    """Two short runs finish; the two hour-long ones that follow are running when the signal
    comes (a Ctrl-C reaches the whole process group, a SIGTERM only the parent) and the last
    two are queued."""
    library = tmp_path / "lib"
    library.mkdir()
    for name, seed, duration in (("a", 1, 6_000), ("b", 2, 6_000)):
        (library / f"{name}.toml").write_text(_scenario(seed, duration), encoding="utf-8")
    for name, seed in (("c", 3), ("d", 4), ("e", 5), ("f", 6)):
        (library / f"{name}.toml").write_text(_scenario(seed, HOUR_MS), encoding="utf-8")
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "rppsim.cli", "run", str(library), "--jobs", "2"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [*argv, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    watchdog = threading.Timer(90, child.kill)
    watchdog.start()
    try:
        assert child.stdout is not None
        lines = [child.stdout.readline().decode() for _ in range(3)]
        assert lines[0].startswith("rppsim run: 6 scenarios")
        assert sorted(line.split()[:2] for line in lines[1:]) == [["ok", "a"], ["ok", "b"]]
        time.sleep(1.0)  # c and d are running
        if signum == signal.SIGINT:
            os.killpg(child.pid, signum)  # as a Ctrl-C in a terminal does
        else:
            child.send_signal(signum)
        stdout, stderr = child.communicate(timeout=60)
    finally:
        watchdog.cancel()
    assert child.returncode == code, stderr.decode()
    assert stderr.decode() == ""  # no traceback from the parent or a worker
    said = stdout.decode().splitlines()
    name = signal.Signals(signum).name
    assert said[-1] == (
        f"rppsim run: interrupted by {name}; 2 of 6 runs finished (kept), 2 stopped early"
        " (kept, marked interrupted), 2 not started; --resume runs the rest"
    )
    assert sorted(line.split()[:2] for line in said[:-1]) == [["stop", "c"], ["stop", "d"]]
    for label in ("a", "b"):
        assert "interrupted" not in _summary(out / label)
    for label in ("c", "d"):
        summary = _summary(out / label)
        assert summary["interrupted"] is True and 0 < summary["duration_ms"] < HOUR_MS
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "c", "d"]  # no temporary folder


def test_resume_keeps_finished_runs_and_replaces_interrupted_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    for name, seed in (("a", 1), ("b", 2), ("c", 3)):
        (library / f"{name}.toml").write_text(_scenario(seed), encoding="utf-8")
    out = tmp_path / "out"
    entries = find_entries([str(library)])
    polls = [0]

    def stop_soon() -> bool:
        polls[0] += 1
        return polls[0] > 50  # 50 steps into the run

    (finished,) = run_library(entries[:1], out_root=out)
    assert finished is not None and not finished.interrupted
    stopped = run_entry(str(entries[1].path), "b", str(out), stop=stop_soon)
    assert stopped.interrupted and _summary(out / "b")["interrupted"] is True
    before = (out / "a" / "summary.json").stat().st_mtime_ns
    resume = plan_resume(entries, out)
    assert list(resume.finished) == ["a"] and resume.replacing == {"b"}
    assert [e.label for e in resume.to_run] == ["b", "c"]

    code = main(["run", str(library), "--out", str(out)])  # without --resume: refused
    assert code == 2 and "--force replaces a run folder" in capsys.readouterr().err
    code = main(["run", str(library), "--out", str(out), "--resume"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "3 scenarios, 1 finished earlier" in printed and "(finished earlier)" in printed
    assert "3 of 3 as expected" in printed
    assert (out / "a" / "summary.json").stat().st_mtime_ns == before  # not run again
    alone = run_library(entries[1:2], out_root=tmp_path / "alone")[0]
    assert alone is not None
    assert _summary(out / "b")["digest"] == alone.digest
    assert "interrupted" not in _summary(out / "b")
    assert (out / "c" / "summary.json").is_file()
    code = main(["run", str(library), "--out", str(out), "--resume"])
    assert code == 0 and capsys.readouterr().out.count("(finished earlier)") == 3


def test_resume_refuses_another_run_and_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    (library / "a.toml").write_text(_scenario(1), encoding="utf-8")
    (library / "b.toml").write_text(_scenario(2), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(library), "--out", str(out)]) == 0
    (library / "a.toml").write_text(_scenario(7), encoding="utf-8")  # another seed now
    capsys.readouterr()
    assert main(["run", str(library), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--resume: expected a finished or interrupted run of this scenario and seed" in err
    assert main(["run", str(library), "--out", str(out), "--resume", "--force"]) == 2
    assert "--resume: expected either --resume or --force, found both" in capsys.readouterr().err
    assert main(["run", str(library / "a.toml"), "--resume"]) == 2
    assert "--resume: expected a library run" in capsys.readouterr().err
