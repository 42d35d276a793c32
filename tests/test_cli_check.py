"""``rppsim check RUN_DIR`` judges a run folder again: the same verdicts as ``rppsim run``,
``verdicts.json`` and ``junit.xml`` written into the folder, exit 1 on a failed verdict."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rppsim.checks import Verdict
from rppsim.checks.junit import compute_junit_xml
from rppsim.cli import main
from rppsim.telemetry.runfolder import read_run_folder, write_frame
from tests.sim.test_safety_regressions import PARTITION, _scenario

from rppsim.sim.run import execute_run  # isort: skip


@pytest.fixture(scope="module")
def forked_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder of the chain's local-pool rule under a partition: safety fails."""
    folder = tmp_path_factory.mktemp("forked")
    scenario = _scenario(folder, electorate="local-pool", faults=PARTITION)
    execute_run(scenario, out_dir=folder / "run", record_messages=False)
    return folder / "run"


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["check", *argv])
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_reproduces_the_runs_verdicts(capsys, forked_run: Path) -> None:
    written = json.loads((forked_run / "verdicts.json").read_text(encoding="utf-8"))
    (forked_run / "verdicts.json").unlink()
    code, out, _ = _check(capsys, str(forked_run))
    assert code == 1
    again = json.loads((forked_run / "verdicts.json").read_text(encoding="utf-8"))
    assert again == written
    failed = [v["id"] for v in again if v["passed"] is False]
    assert failed[:2] == ["safety", "agreement"]
    assert out.splitlines()[1].split()[:2] == ["FAIL", "safety"]
    suite = ET.parse(forked_run / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(len(again))
    assert suite.get("failures") == str(len(failed))
    assert [c.get("name") for c in suite if c.find("failure") is not None] == failed


def test_check_only_some_ids(capsys, forked_run: Path) -> None:
    code, _, _ = _check(capsys, str(forked_run), "--only", "liveness", "accountability")
    assert code == 0
    ids = [v["id"] for v in json.loads((forked_run / "verdicts.json").read_text("utf-8"))]
    assert ids == ["liveness", "accountability"]


def test_bad_input_is_one_line_and_exit_2(capsys, forked_run: Path, tmp_path: Path) -> None:
    code, _, err = _check(capsys, str(tmp_path / "missing"))
    assert code == 2 and "expected a run folder" in err and len(err.splitlines()) == 1
    code, _, err = _check(capsys, str(forked_run), "--only", "nope")
    assert code == 2 and "--only" in err and "nope" in err
    frames, _ = read_run_folder(forked_run)
    old = tmp_path / "old"
    old.mkdir()
    for item in forked_run.iterdir():
        (old / item.name).write_bytes(item.read_bytes())
    info = frames["run_info"]
    write_frame(old / "run_info.parquet", "run_info", info[info["key"] != "has_work"])
    code, _, err = _check(capsys, str(old))
    assert code == 2 and "has_work" in err and len(err.splitlines()) == 1


def test_junit_has_a_case_per_verdict() -> None:
    verdicts = [
        Verdict("safety", "checker", "one block", True, "critical", 0, 0, message="fine"),
        Verdict("liveness", "checker", "moves", None, "critical", None, 33_000, message="short"),
        Verdict("agreement", "checker", "roots", False, "critical", 2, 0, 3, 4_500, "height 2"),
    ]
    root = ET.fromstring(compute_junit_xml(verdicts, "demo"))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("skipped")) == (
        "demo", "3", "1", "1",
    )  # fmt: skip
    cases = {c.get("name"): c for c in suite}
    assert cases["liveness"].find("skipped").get("message") == "short"
    failure = cases["agreement"].find("failure")
    assert failure.get("message") == "height 2" and "node 3, at 4500 ms" in failure.text
    assert cases["safety"].find("failure") is None and cases["safety"].find("skipped") is None
