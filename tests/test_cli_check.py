"""``rppsim check RUN_DIR`` judges a run folder again: the same verdicts as ``rppsim run``,
``verdicts.json`` and ``junit.xml`` written into the folder, exit 1 on a failed verdict;
``rppsim check TELEMETRY.jsonl`` judges live telemetry with the same functions."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rppsim.checks import Verdict
from rppsim.checks.junit import compute_junit_xml
from rppsim.cli import main
from rppsim.telemetry.jsonl import SHIPPED_PROFILES, write_telemetry_jsonl
from rppsim.telemetry.runfolder import read_run_folder, write_frame
from tests.sim.test_safety_regressions import PARTITION, _scenario
from tests.telemetry.test_jsonl import PROFILE, run_collected

from rppsim.sim.run import execute_run  # isort: skip

PROFILE_PATH = SHIPPED_PROFILES / "testnet.toml"


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


# --------------------------------------------------------------------------------------------
# rppsim check TELEMETRY.jsonl: the same functions judge the snapshots a collector received.

HEALTHY: dict[str, object] = {
    "run": {"seed": 3, "duration_ms": 30_000, "prover": "model", "name": "healthy"},
    "nodes": {"count": 10, "validators": 5, "profile": PROFILE},
    "network": {"topology": "complete", "link": {"latency_ms": [10, 30]}},
    "traffic": {"tx_per_s": 2.0},
    "telemetry": {"sample_interval_ms": 2_000},
}
DECIDED_BY_SNAPSHOTS = (
    "g01-config-valid", "g02-channel-advertised", "g04-gates-match-stage",
    "g05-telemetry-enabled", "g06-snapshot-cadence", "g07-telemetry-not-stalled",
    "g08-payload-emittable", "g09-proof-cache", "g10-vrf-health", "g11-verifier-sla",
    "g20-queues",
)  # fmt: skip
"""Guardrails the snapshots alone decide (g03 too, were a node to change channel)."""
NEED_OTHER_FRAMES = (
    "safety", "agreement", "liveness", "accountability", "g12-proof-system-parity",
    "g13-size-gate", "g14-recursive-commitment", "g15-smoke-tx", "g16-identity-genesis",
    "g17-consensus-availability", "g18-liveness", "g19-finality", "g21-timetoke-slo",
)  # fmt: skip


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, Path]:
    """A healthy run folder, the snapshots its collector accepted, and their JSONL file."""
    folder = tmp_path_factory.mktemp("live")
    result, lines = run_collected(HEALTHY, folder)
    return result.out_dir, lines, write_telemetry_jsonl(lines, folder / "telemetry.jsonl")


def _verdicts(path: Path) -> dict[str, dict]:
    return {v["id"]: v for v in json.loads(path.read_text(encoding="utf-8"))}


def test_check_telemetry_gives_the_run_folders_verdicts(capsys, live_run, tmp_path) -> None:
    """Every verdict the snapshots decide is the run folder's, to the message; every verdict
    needing blocks, votes or faults is not applicable and says which frames it needs."""
    run_dir, _, jsonl = live_run
    code, out, _ = _check(capsys, str(run_dir), "--out", str(tmp_path / "run"))
    assert code == 0, out
    code, out, err = _check(capsys, str(jsonl))
    assert code == 0 and err == "", out
    assert f"judged by the profile {PROFILE_PATH}" in out
    run, live = (
        _verdicts(tmp_path / "run" / "verdicts.json"),
        _verdicts(jsonl.parent / "verdicts.json"),
    )
    assert list(live) == list(run)
    for vid in DECIDED_BY_SNAPSHOTS:
        assert live[vid]["passed"] is True and live[vid] == run[vid], vid
    for vid in NEED_OTHER_FRAMES:
        assert live[vid]["passed"] is None, vid
        assert "frame" in live[vid]["message"] and "(not in live telemetry)" in live[vid]["message"]
    assert live["safety"]["message"] == "needs the block_finalized frame (not in live telemetry)"
    decided = [v for v in live.values() if v["passed"] is not None]
    assert all(v == run[v["id"]] for v in decided)
    suite = ET.parse(jsonl.parent / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "telemetry"
    assert suite.get("skipped") == str(sum(v["passed"] is None for v in live.values()))


def _edit(lines: list, node: int, edit) -> list:
    """The lines with ``edit(snapshot, k)`` applied to node ``node``'s k-th snapshot (a result
    None: the collector never received it)."""
    edited, k = [], 0
    for n, at_ms, payload in lines:
        snapshot = json.loads(payload)
        if n == node:
            snapshot, k = edit(snapshot, k), k + 1
        if snapshot is not None:
            edited.append((n, at_ms, snapshot))
    return edited


def test_a_stalled_node_in_telemetry_fails_g07(capsys, live_run, tmp_path) -> None:
    """Node 4's last_observed_height stops at its 5th sample while the others' advance."""
    _, lines, _ = live_run
    frozen: list[int] = []

    def stall(snapshot: dict, k: int) -> dict:
        telemetry = snapshot["rollout"]["telemetry"]
        if k == 4:
            frozen.append(telemetry["last_observed_height"])
        if k > 4:
            telemetry["last_observed_height"] = frozen[0]
        return snapshot

    path = write_telemetry_jsonl(_edit(lines, 4, stall), tmp_path / "stall.jsonl")
    code, out, _ = _check(capsys, str(path), "--only", "g07-telemetry-not-stalled")
    assert code == 1
    verdict = _verdicts(tmp_path / "verdicts.json")["g07-telemetry-not-stalled"]
    assert verdict["passed"] is False and verdict["node"] == 4
    assert verdict["message"].startswith(f"node 4: last_observed_height stuck at {frozen[0]}")
    assert out.splitlines()[1].split()[:2] == ["FAIL", "g07-telemetry-not-stalled"]


def test_an_outage_in_telemetry_fails_cadence_and_emits(capsys, live_run, tmp_path) -> None:
    """Node 3's 5th to 9th emits fail: the collector receives none of them, and its later
    snapshots count the failures (the node's own counters)."""
    _, lines, _ = live_run

    def outage(snapshot: dict, k: int) -> dict | None:
        if 4 <= k < 9:
            return None
        if k >= 9:
            snapshot["rollout"]["rppsim_telemetry_emits"]["failed"]["transport"] = 5
        return snapshot

    edited = _edit(lines, 3, outage)
    resumed = [t for n, t, _ in edited if n == 3][4]
    path = write_telemetry_jsonl(edited, tmp_path / "outage.jsonl")
    only = ("--only", "g06-snapshot-cadence", "g08-payload-emittable")
    code, _, _ = _check(capsys, str(path), *only)
    assert code == 1
    verdicts = _verdicts(tmp_path / "verdicts.json")
    cadence, emits = verdicts["g06-snapshot-cadence"], verdicts["g08-payload-emittable"]
    assert cadence["passed"] is False and (cadence["node"], cadence["figure"]) == (3, 5)
    assert emits["passed"] is False
    assert (emits["figure"], emits["node"], emits["time_ms"]) == (5, 3, resumed)
    assert "transport: 5" in emits["message"]


def test_check_telemetry_against_another_profile(capsys, live_run, tmp_path) -> None:
    """``--profile`` judges the same snapshots by the mainnet profile: the channel and the
    gates are wrong; ``--out`` takes the files."""
    _, _, jsonl = live_run
    mainnet = (Path(PROFILE).parent / "mainnet.toml").as_posix()
    out = tmp_path / "judged"
    code, stdout, _ = _check(capsys, str(jsonl), "--profile", mainnet, "--out", str(out))
    assert code == 1 and f"judged by the profile {mainnet}" in stdout
    verdicts = _verdicts(out / "verdicts.json")
    assert verdicts["g02-channel-advertised"]["passed"] is False
    assert "'testnet' ≠ 'mainnet'" in verdicts["g02-channel-advertised"]["message"]
    assert verdicts["g04-gates-match-stage"]["passed"] is False
    assert (out / "junit.xml").is_file()


EMPTY = '{"node": 0, "time_ms": 1, "snapshot": {}}\n'
BAD_TELEMETRY = [
    ("not json\n", ":1: expected a JSON object, found invalid JSON"),
    ('{"node": 0, "snapshot": {}}\n', ":1: expected the sample time in ms (an integer ≥ 0)"),
    (EMPTY + "[]\n", ":2: expected a JSON object, found [] (list)"),
    ('\n{"node": 0, "time_ms": "1", "snapshot": {}}\n', ":2: expected time_ms = the sample"),
    (
        '{"node": 0, "time_ms": 1, "snapshot": {"node": {"height": "h"}}}\n',
        ":1: snapshot node.height: expected an integer, found 'h'",
    ),
    (EMPTY * 2, ":2: expected one snapshot per (node, time_ms)"),
    ("\n", ": expected telemetry snapshot lines, found none"),
    (EMPTY, ": rollout.release_channel: expected snapshots advertising"),
]
"""Bad files, and what the one-line error says after the file name."""


@pytest.mark.parametrize(("text", "message"), BAD_TELEMETRY)
def test_bad_telemetry_is_one_line_and_exit_2(capsys, tmp_path, text, message) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text, encoding="utf-8")
    code, _, err = _check(capsys, str(path))
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"rppsim: error: {path}") and message in err, err
    assert "Traceback" not in err and not (tmp_path / "verdicts.json").exists()


def test_a_bad_profile_is_one_line_and_exit_2(capsys, live_run, tmp_path) -> None:
    _, _, jsonl = live_run
    code, _, err = _check(capsys, str(jsonl), "--profile", str(tmp_path / "none.toml"))
    assert code == 2 and "none.toml" in err and len(err.splitlines()) == 1


def test_check_a_run_folder_against_another_profile(capsys, forked_run, tmp_path) -> None:
    """``--profile`` replaces the profile a run folder recorded; ``--out`` keeps the folder's
    own ``verdicts.json``."""
    before = (forked_run / "verdicts.json").read_bytes()
    mainnet = (Path(PROFILE).parent / "mainnet.toml").as_posix()
    only = ("--only", "g02-channel-advertised", "g04-gates-match-stage")
    code, _, _ = _check(
        capsys, str(forked_run), "--profile", mainnet, "--out", str(tmp_path), *only
    )
    assert code == 1
    verdicts = _verdicts(tmp_path / "verdicts.json")
    assert "'testnet' ≠ 'mainnet'" in verdicts["g02-channel-advertised"]["message"]
    assert verdicts["g04-gates-match-stage"]["passed"] is False
    assert (forked_run / "verdicts.json").read_bytes() == before
