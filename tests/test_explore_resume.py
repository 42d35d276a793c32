"""``rppsim explore`` keeps every finished run and shrink and resumes (rppsim/explore.py,
``cmd_explore``): records keyed by plan, files and code; an interrupted then resumed
exploration reports exactly what one uninterrupted exploration reports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

import rppsim.explore
from rppsim.cli import main
from rppsim.explore import (
    RECORDS_DIR,
    ExploreInterruptedError,
    ExploreReport,
    compute_outcome_table,
    compute_run_key,
    compute_run_plan,
    explore_one,
    get_explore_bounds,
    read_run_record,
    run_explore,
    write_run_record,
)
from rppsim.scenario import load_scenario, parse_scenario

PROFILE = Path(__file__).parents[1] / "node" / "profiles" / "testnet.toml"


def write_base(folder: Path, profile: Path = PROFILE) -> Path:
    """A small base whose byzantine draws fail the evidence checker now and then (so some
    runs are shrunk): 4–5 validators, 6–8 nodes, 20–25 s."""
    text = f"""
[run]
seed = 3
duration_ms = 20_000
prover = "model"
name = "small"

[nodes]
count = 6
validators = 4
profile = "{profile.as_posix()}"

[network]
topology = "complete"

[traffic]
tx_per_s = 2.0

[explore]
validators = [4, 5]
nodes = [6, 8]
duration_ms = [20_000, 25_000]
max_faults = 3
kinds = ["byzantine", "crash", "partition"]
byzantine_power = 0.5
byzantine_kinds = ["equivocate", "withhold-votes", "double-sign"]
"""
    path = folder / "small.toml"
    path.write_text(text, encoding="utf-8")
    return path


def get_written(report: ExploreReport) -> dict[str, str]:
    """What an exploration wrote and printed (its folder's path replaced by ``OUT``)."""
    out = report.out_dir
    texts = {"table": compute_outcome_table(report)}
    texts |= {p.name: p.read_text(encoding="utf-8") for p in sorted(out.glob("*.toml"))}
    texts["explore.json"] = (out / "explore.json").read_text(encoding="utf-8")
    return {name: text.replace(out.as_posix(), "OUT") for name, text in texts.items()}


def test_an_interrupted_exploration_resumes_to_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rppsim.explore, "compute_code_version", lambda: "this code")
    base = write_base(tmp_path)
    args: dict[str, Any] = {"runs": 4, "seed": 5, "jobs": 1, "shrink_budget": 2}
    whole = run_explore(base, out_dir=tmp_path / "whole", **args)
    assert len(whole.failures) >= 2 and whole.resumed == 0  # so a shrink can be interrupted
    out = tmp_path / "parts"
    seen: list[object] = []
    with pytest.raises(ExploreInterruptedError) as stopped:
        run_explore(base, out_dir=out, on_run=seen.append, stop=lambda: len(seen) >= 2, **args)
    assert stopped.value.runs == (2, 4) and stopped.value.shrinks == (0, 0)
    assert len(list((out / RECORDS_DIR).glob("run-*.json"))) == 2
    assert not (out / "explore.json").exists()

    calls = {"explore_one": 0, "shrink_one": 0}
    for name in calls:
        original = getattr(rppsim.explore, name)

        def counted(*a: Any, _f: Any = original, _n: str = name, **k: Any) -> Any:
            calls[_n] += 1
            return _f(*a, **k)

        monkeypatch.setattr(rppsim.explore, name, counted)
    shrunk: list[int] = []
    with pytest.raises(ExploreInterruptedError) as stopped:
        stop = lambda: sum(shrunk) >= 1  # noqa: E731
        run_explore(base, out_dir=out, on_shrunk=shrunk.append, stop=stop, **args)
    assert stopped.value.runs == (4, 4) and stopped.value.shrinks == (1, len(whole.failures))
    assert calls == {"explore_one": 2, "shrink_one": 1}  # the 2 recorded runs not run again
    resumed = run_explore(base, out_dir=out, **args)
    assert calls == {"explore_one": 2, "shrink_one": len(whole.failures)}
    assert resumed.resumed == 4 and resumed.outcomes == whole.outcomes
    assert get_written(resumed) == get_written(whole)


def test_records_are_keyed_by_plan_named_files_and_index(tmp_path: Path) -> None:
    shutil.copytree(PROFILE.parents[1], tmp_path / "node")  # the profile, its base, genesis
    profile = tmp_path / "node" / "profiles" / "testnet.toml"
    base = write_base(tmp_path, profile)
    scenario = load_scenario(base)
    data = tomllib.loads(base.read_text(encoding="utf-8"))
    bounds = get_explore_bounds(scenario)
    plans = [compute_run_plan(data, bounds, 5, i) for i in range(2)]
    keys = [compute_run_key(p, parse_scenario(p, str(base))) for p in plans]
    assert keys[0] != keys[1]
    assert compute_run_key(plans[0], parse_scenario(plans[0], str(base))) == keys[0]
    for edited in (profile, tmp_path / "node" / "node.toml", tmp_path / "node" / "genesis.toml"):
        before = compute_run_key(plans[0], parse_scenario(plans[0], str(base)))
        edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
        assert compute_run_key(plans[0], parse_scenario(plans[0], str(base))) != before

    report = run_explore(base, runs=1, seed=5, jobs=1, out_dir=tmp_path / "o", shrink_budget=1)
    folder = tmp_path / "r"
    write_run_record(folder, "k", report.outcomes[0])
    assert read_run_record(folder, "k", 0) == report.outcomes[0]
    assert read_run_record(folder, "k", 1) is None  # another run's index
    assert read_run_record(folder, "other", 0) is None
    (folder / "run-k.json").write_bytes(b"\xff garbage")
    assert read_run_record(folder, "k", 0) is None  # unreadable: run again
    assert not list(folder.glob(".*.tmp"))


def start_explore(args: list[str]) -> subprocess.Popen[bytes]:
    """``rppsim explore`` in a child process of its own process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "rppsim.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )


def interrupt_after(child: subprocess.Popen[bytes], records: Path, signum: int) -> str:
    """Send ``signum`` to the child's process group once 3 runs are recorded; its one line."""
    deadline = time.monotonic() + 60
    while len(list(records.glob("run-*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(child.pid, signum)  # the whole process group, as a Ctrl-C does
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum]
    assert stderr.decode() == ""  # no traceback from the parent or a worker
    (line,) = stdout.decode().splitlines()
    name = signal.Signals(signum).name
    assert line.startswith(f"rppsim explore: interrupted by {name}; ")
    assert line.endswith(f"kept in {records}; the same command resumes")
    return line


def test_sigint_stops_explore_and_keeps_only_finished_runs(tmp_path: Path) -> None:
    """Runs stopped in the middle are not recorded: every record is the run's whole outcome."""
    base = write_base(tmp_path)
    out = tmp_path / "out"
    args = ["explore", str(base), "--runs", "40", "--seed", "5", "--jobs", "2", "--quiet"]
    line = interrupt_after(start_explore([*args, "--out", str(out)]), out / RECORDS_DIR, 2)
    kept = {p.name for p in (out / RECORDS_DIR).glob("run-*.json")}
    assert f"; {len(kept)} of 40 runs finished, kept in" in line and 3 <= len(kept) < 40
    assert not list((out / RECORDS_DIR).glob(".*.tmp")) and not (out / "explore.json").exists()
    data = tomllib.loads(base.read_text(encoding="utf-8"))
    bounds = get_explore_bounds(load_scenario(base))
    for name in kept:  # (keyed by the code version the child saw)
        record = json.loads((out / RECORDS_DIR / name).read_text(encoding="utf-8"))
        recorded = read_run_record(out / RECORDS_DIR, record["key"], record["index"])
        plan = compute_run_plan(data, bounds, 5, record["index"])
        assert recorded == explore_one(plan, str(base), record["index"])


@pytest.mark.slow
def test_sigterm_stops_explore_and_the_same_command_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """(The code version is the one the child saw: other edits may land meanwhile.)"""
    base = write_base(tmp_path)
    out = tmp_path / "out"
    args = ["explore", str(base), "--runs", "24", "--seed", "5", "--jobs", "2"]
    args += ["--shrink-budget", "2", "--quiet", "--out", str(out)]
    interrupt_after(start_explore(args), out / RECORDS_DIR, signal.SIGTERM)
    kept = len(list((out / RECORDS_DIR).glob("run-*.json")))
    record = json.loads(next((out / RECORDS_DIR).glob("run-*.json")).read_text(encoding="utf-8"))
    monkeypatch.setattr(rppsim.explore, "compute_code_version", lambda: record["code"])
    code = main(args)
    printed = capsys.readouterr().out
    assert f"; {kept} runs recorded earlier)" in printed
    whole = run_explore(base, runs=24, seed=5, jobs=1, out_dir=tmp_path / "whole", shrink_budget=2)
    assert code == (1 if whole.failures else 0)
    report = json.loads((out / "explore.json").read_text(encoding="utf-8"))
    assert report == json.loads((whole.out_dir / "explore.json").read_text().replace(
        (tmp_path / "whole").as_posix(), out.as_posix()
    ))
    assert compute_outcome_table(whole).replace(str(tmp_path / "whole"), str(out)) in printed
