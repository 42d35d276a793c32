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
    ]  # fmt: skip
    kinds = [v["kind"] for v in verdicts]
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "checker": 4, "guardrail": 27, "alert": 40, "promotion": 4,
    }  # fmt: skip
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    counts = summary["verdicts"]
    assert counts["failed"] == 0 and counts["passed"] + counts["not_applicable"] == 75


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
