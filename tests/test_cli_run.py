"""``rppsim run`` judges every run (rppsim/cli.py ``cmd_run``): verdict table and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rppsim.sim.run
from rppsim.checks import Verdict
from rppsim.cli import main

PROFILE = Path(__file__).parents[1] / "node" / "profiles" / "testnet.toml"
TINY = f"""
[run]
seed = 5
duration_ms = 8_000
prover = "model"
name = "tiny"

[nodes]
count = 4
validators = 4
profile = "{PROFILE.as_posix()}"

[network]
topology = "complete"

[network.link]
latency_ms = [10, 30]

[traffic]
tx_per_s = 2.0
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A 4-node, 8 s scenario with the model prover."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["run", *argv, "--quiet"])
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_run_prints_the_verdict_table_and_writes_verdicts(capsys, tiny, tmp_path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = _run(capsys, str(tiny), "--out", str(out))
    assert code == 0, stdout + stderr
    table = stdout[stdout.index("status  id") :].splitlines()
    rows = [line.split() for line in table[1:] if line.split()[0] in ("PASS", "N/A", "FAIL")]
    checkers = {"accountability", "agreement", "liveness", "safety"}
    assert sorted(r[1] for r in rows if r[1] in checkers) == sorted(checkers)
    assert all(r[0] in ("PASS", "N/A") for r in rows)
    verdicts = json.loads((out / "verdicts.json").read_text(encoding="utf-8"))
    assert [v["id"] for v in verdicts if v["kind"] == "checker"] == [
        "safety", "agreement", "liveness", "accountability",
        "evidence", "leader-share", "censorship", "lag",
    ]  # fmt: skip
    kinds = [v["kind"] for v in verdicts]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "checker": 8, "guardrail": 27, "alert": 40, "promotion": 4,
    }  # fmt: skip
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    counts = summary["verdicts"]
    assert counts["failed"] == 0 and counts["passed"] + counts["not_applicable"] == 79


def test_a_fast_engine_run_prints_its_health_and_verdicts(capsys, tmp_path) -> None:
    """The fast engine writes no finalizations, messages or rejections: the health lines say
    so instead of failing, and the run is judged."""
    path = tmp_path / "fast.toml"
    path.write_text(
        TINY.replace('name = "tiny"', 'name = "fast"\nengine = "fast"').replace(
            "duration_ms = 8_000", "duration_ms = 600_000"
        ),
        encoding="utf-8",
    )
    code, stdout, stderr = _run(capsys, str(path), "--out", str(tmp_path / "out"))
    assert code == 0, stdout + stderr
    assert "finality lag: finalizations not recorded" in stdout
    assert "heights 119 (119 blocks) in 600.0 s" in stdout
    assert "final height 119 " in stdout
    assert "FAIL" not in stdout


def test_a_failed_verdict_exits_1_and_is_listed_first(capsys, tiny, tmp_path, monkeypatch) -> None:
    broken = Verdict(
        "safety", "checker", "one block per height", False, "critical", 1, 0, 2, 4321,
        "height 3: node 2 finalized another block",
    )  # fmt: skip
    fine = Verdict("liveness", "checker", "finalizes", True, "critical", 10, 33_000)
    monkeypatch.setattr(rppsim.sim.run, "evaluate_verdicts", lambda frames, sc, **_: [fine, broken])
    code, stdout, _ = _run(capsys, str(tiny), "--out", str(tmp_path / "out"))
    assert code == 1
    table = stdout[stdout.index("status  id") :].splitlines()
    assert table[1].split()[:6] == ["FAIL", "safety", "1", "0", "2", "4321"]
    assert table[2].split()[:2] == ["PASS", "liveness"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["verdicts"] == {"passed": 1, "failed": 1, "not_applicable": 0}


def test_bad_input_still_exits_2(capsys, tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace('name = "tiny"', 'name = "tiny"\nspeed = 3'), encoding="utf-8")
    code, stdout, stderr = _run(capsys, str(bad))
    assert code == 2 and "run.speed" in stderr and "status" not in stdout


def test_a_real_fork_exits_1(capsys, tmp_path) -> None:
    """The chain's ``local-pool`` electorate under a partition forks honest nodes: the run's
    own safety verdict fails and ``rppsim run`` exits 1 (no stub)."""
    forked = TINY.replace("count = 4\nvalidators = 4", "count = 8\nvalidators = 7")
    forked = forked.replace("duration_ms = 8_000", "duration_ms = 20_000")
    forked += """
[rules]
electorate = "local-pool"

[[fault]]
kind = "partition"
groups = [[0, 1, 2]]
at_ms = 0
until_ms = 20_000
"""
    path = tmp_path / "forked.toml"
    path.write_text(forked, encoding="utf-8")
    code, stdout, _ = _run(capsys, str(path), "--out", str(tmp_path / "out"))
    assert code == 1
    table = stdout[stdout.index("status  id") :].splitlines()
    assert ["FAIL", "safety"] in [line.split()[:2] for line in table]
    assert "NOT AS EXPECTED  safety: failed and [expect] does not list it" in stdout
    committed = forked.replace('electorate = "local-pool"', 'electorate = "committed"')
    # no side holds > 2/3 for the whole run: safe, and no block at all (the drill says so)
    committed += '\n[expect]\nfail = ["g15-smoke-tx", "g18-liveness"]\n'
    path.write_text(committed, encoding="utf-8")
    code, stdout, _ = _run(capsys, str(path), "--out", str(tmp_path / "out2"))
    assert code == 0, stdout
    assert ["PASS", "safety"] in [line.split()[:2] for line in stdout.splitlines()]


FORKED_EXPECT = """
[rules]
electorate = "local-pool"

[[fault]]
kind = "partition"
groups = [[0, 1, 2]]
at_ms = 0
until_ms = 20_000
"""


@pytest.mark.parametrize(
    ("expect", "code", "line"),
    [
        ('["safety", "agreement"]', 0, "as expected: safety, agreement failed"),
        ('["safety"]', 1, "NOT AS EXPECTED  agreement: failed and [expect] does not list it"),
        ('["safety", "agreement", "liveness"]', 1, "liveness: expected to fail, but it is"),
    ],
)
def test_expect_names_the_verdicts_that_must_fail(capsys, tmp_path, expect, code, line) -> None:
    """A drill: ``[expect] fail`` lists what must fail; anything else failing, or a listed
    verdict passing (or not applicable), exits 1; ``rppsim check`` honours it too."""
    text = TINY.replace("count = 4\nvalidators = 4", "count = 8\nvalidators = 7")
    text = text.replace("duration_ms = 8_000", "duration_ms = 20_000")
    text += FORKED_EXPECT + f"\n[expect]\nfail = {expect}\n"
    path = tmp_path / "drill.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    got, stdout, _ = _run(capsys, str(path), "--out", str(out))
    assert got == code and line in stdout
    try:
        again = main(["check", str(out)])
    except SystemExit as stop:
        again = int(stop.code or 0)
    assert again == code and line in capsys.readouterr().out


def test_expect_rejects_unknown_ids(capsys, tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(TINY + '\n[expect]\nfail = ["g99-nothing"]\n', encoding="utf-8")
    code, stdout, stderr = _run(capsys, str(path))
    assert code == 2 and "expect.fail" in stderr and "g99-nothing" in stderr
    assert len(stderr.strip().splitlines()) == 1 and "status" not in stdout


# --- output folders (issue 13): checked before the run, written aside, never mixed ---------


def _no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any simulation started from here on fails the test: the check must come first."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the simulation ran before the --out check")

    monkeypatch.setattr(rppsim.sim.run, "Simulation", refuse)


@pytest.mark.parametrize(
    ("where", "found"),
    [
        ("file", "an existing file"),
        ("file/sub", "is a file"),
        ("/proc/rppsim-out", "expected a folder this process can write"),
        ("", "''"),
    ],
)
def test_a_bad_out_is_refused_before_the_run(
    capsys, tiny, tmp_path, monkeypatch, where, found
) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    _no_simulation(monkeypatch)
    out = where if where.startswith("/") or not where else str(tmp_path / where)
    code, _, stderr = _run(capsys, str(tiny), "--out", out)
    assert code == 2 and found in stderr and "--out" in stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def test_a_finished_run_is_not_overwritten_without_force(capsys, tiny, tmp_path) -> None:
    out = tmp_path / "out"
    assert _run(capsys, str(tiny), "--out", str(out))[0] == 0
    first = (out / "summary.json").read_text(encoding="utf-8")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    code, _, stderr = _run(capsys, str(tiny), "--out", str(out), "--seed", "6")
    assert code == 2 and "a folder holding another run" in stderr and "--force" in stderr
    assert (out / "summary.json").read_text(encoding="utf-8") == first
    code, stdout, _ = _run(capsys, str(tiny), "--out", str(out), "--seed", "6", "--force")
    assert code == 0 and f"run folder {out}" in stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["seed"] == 6 and not (out / "notes.txt").exists()  # replaced, not mixed
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_folder_of_other_files_is_refused_even_with_force(capsys, tiny, tmp_path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x", encoding="utf-8")
    code, _, stderr = _run(capsys, str(tiny), "--out", str(tmp_path / "mine"), "--force")
    assert code == 2 and "a folder holding other files" in stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.tex"]
    (tmp_path / "empty").mkdir()
    assert _run(capsys, str(tiny), "--out", str(tmp_path / "empty"))[0] == 0
    assert (tmp_path / "empty" / "summary.json").is_file()


def test_the_default_folder_keeps_durations_apart_and_stays_in_reports(
    capsys, tiny, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _run(capsys, str(tiny))[0] == 0
    assert _run(capsys, str(tiny), "--duration-ms", "3000")[0] != 2  # too short to judge: 1
    assert sorted(p.name for p in (tmp_path / "reports" / "tiny").iterdir()) == ["5", "5-3000ms"]
    escaping = tmp_path / "escaping.toml"
    escaping.write_text(TINY.replace('"tiny"', f'"{tmp_path}/abs/../x"'), encoding="utf-8")
    code, _, _ = _run(capsys, str(escaping), "--duration-ms", "2000")
    assert code != 2
    folders = [p for p in (tmp_path / "reports").iterdir() if p.name != "tiny"]
    assert len(folders) == 1 and "/" not in folders[0].name
    assert (folders[0] / "5-2000ms" / "summary.json").is_file()
    assert not (tmp_path / "abs").exists() and not (tmp_path / "x").exists()


# --- overrides go through the file's validation -------------------------------------------


def test_duration_override_rechecks_the_windows(capsys, tmp_path, monkeypatch) -> None:
    path = tmp_path / "faults.toml"
    fault = '\n[[fault]]\nkind = "crash"\nnode = 1\nat_ms = 6_000\n'
    path.write_text(TINY + fault, encoding="utf-8")
    _no_simulation(monkeypatch)
    code, _, stderr = _run(capsys, str(path), "--duration-ms", "5000", "--out", str(tmp_path / "o"))
    assert code == 2 and "fault[0].at_ms" in stderr and "(with --duration-ms 5000)" in stderr
    assert len(stderr.strip().splitlines()) == 1
    phases = TINY.replace(
        "tx_per_s = 2.0", "[[traffic.phase]]\nduration_ms = 7_000\nrate_per_s = 1"
    )
    path.write_text(phases, encoding="utf-8")
    code, _, stderr = _run(capsys, str(path), "--duration-ms", "5000")
    assert code == 2 and "traffic.phase" in stderr and "--duration-ms 5000" in stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--seed", str(2**64)], "--seed: expected an integer in [0, "),
        (["--duration-ms", str(10**30)], "--duration-ms: expected an integer in [1, 86400000]"),
    ],
)
def test_overrides_out_of_range_name_the_flag(capsys, tiny, monkeypatch, flags, message) -> None:
    _no_simulation(monkeypatch)
    code, _, stderr = _run(capsys, str(tiny), *flags)
    assert code == 2 and message in stderr and "run.seed" not in stderr


def test_a_folder_named_as_one_scenario_is_a_library_and_a_dir_toml_is_one_line(
    capsys, tmp_path
) -> None:
    (tmp_path / "odd.toml").mkdir()
    code, _, stderr = _run(capsys, str(tmp_path / "odd.toml"))
    assert code == 2 and "Errno" not in stderr and len(stderr.strip().splitlines()) == 1


# --- interruption: stop at the next step, keep what ran, exit 130 / 143 -------------------


@pytest.mark.parametrize(("signum", "code"), [(2, 130), (15, 143)])
def test_a_signal_stops_the_run_and_keeps_it_marked_interrupted(tmp_path, signum, code) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "long.toml"
    path.write_text(TINY.replace("duration_ms = 8_000", "duration_ms = 3_600_000"), "utf-8")
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "rppsim.cli", "run", str(path), "--quiet", "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert child.stdout is not None
    assert child.stdout.readline().startswith(b"rppsim run ")  # loaded, checked: running
    time.sleep(2.0)
    child.send_signal(signum)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == code, stderr.decode()
    assert b"Traceback" not in stderr
    assert f"interrupted by {signal.Signals(signum).name}".encode() in stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["interrupted"] is True and 0 < summary["duration_ms"] < 3_600_000
    from rppsim.telemetry.runfolder import get_run_info, read_run_folder

    frames, _ = read_run_folder(out)
    assert get_run_info(frames)["interrupted"] == "true"


def test_a_library_run_checks_every_folder_first_and_force_replaces(capsys, tmp_path) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    for name, seed in (("a", 5), ("b", 6)):
        text = TINY.replace("seed = 5", f"seed = {seed}").replace('"tiny"', f'"{name}"')
        (library / f"{name}.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert _run(capsys, str(library), "--out", str(out))[0] == 0
    (out / "b" / "summary.json").write_text("{}", encoding="utf-8")
    code, stdout, stderr = _run(capsys, str(library), "--out", str(out))
    assert code == 2 and "a folder holding another run" in stderr and "scenarios" not in stdout
    assert (out / "b" / "summary.json").read_text(encoding="utf-8") == "{}"
    code, stdout, _ = _run(capsys, str(library), "--out", str(out), "--force")
    assert code == 0 and "2 of 2 as expected" in stdout
    assert json.loads((out / "b" / "summary.json").read_text(encoding="utf-8"))["seed"] == 6
