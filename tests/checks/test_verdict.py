"""The verdict type (rppsim/checks/verdict.py), the context and ``evaluate_checkers``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rppsim.checks import CHECKERS, Verdict, build_check_context, evaluate_checkers
from rppsim.checks.context import is_work_offered
from rppsim.checks.verdict import (
    compute_verdict_counts,
    compute_verdict_table,
    write_verdicts,
)
from rppsim.scenario import TrafficConfig, TrafficPhase, load_scenario

KEYS = [
    "figure", "id", "kind", "message", "node", "passed", "severity", "threshold", "time_ms",
    "title",
]  # fmt: skip
BASE = Path(__file__).parents[1] / "sim" / "data" / "base.toml"


def _verdict(id_: str, passed: bool | None, **fields: object) -> Verdict:
    values: dict[str, object] = {
        "id": id_, "kind": "checker", "title": f"{id_} title", "passed": passed,
        "severity": "critical", "figure": 0, "threshold": 0, "message": f"{id_} says",
    }  # fmt: skip
    return Verdict(**(values | fields))  # type: ignore[arg-type]


def test_the_json_object_has_the_shared_keys() -> None:
    verdict = _verdict("liveness", False, figure=7001, threshold=6000, node=2, time_ms=11_000)
    data = verdict.to_json_dict()
    assert sorted(data) == KEYS
    assert data["passed"] is False and data["node"] == 2 and data["time_ms"] == 11_000


def test_bad_kinds_severities_and_silent_not_applicable_are_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        _verdict("x", True, kind="rumour")
    with pytest.raises(ValueError, match="severity"):
        _verdict("x", True, severity="dire")
    with pytest.raises(ValueError, match="not applicable"):
        _verdict("x", None, message="")


def test_the_table_lists_failures_first_then_not_applicable() -> None:
    verdicts = [
        _verdict("safety", True),
        _verdict("liveness", None, figure=None),
        _verdict("accountability", False, figure=1, node=3, time_ms=210),
        _verdict("agreement", True, figure=2.5),
    ]
    lines = compute_verdict_table(verdicts).splitlines()
    assert lines[0].split() == [
        "status", "id", "figure", "threshold", "node", "time_ms", "message",
    ]  # fmt: skip
    assert [line.split()[:2] for line in lines[1:]] == [
        ["FAIL", "accountability"], ["N/A", "liveness"], ["PASS", "safety"], ["PASS", "agreement"],
    ]  # fmt: skip
    assert lines[1].split()[2:] == ["1", "0", "3", "210", "accountability", "says"]
    assert lines[2].split()[2:5] == ["-", "0", "-"] and lines[4].split()[2] == "2.5"
    assert compute_verdict_counts(verdicts) == {"passed": 2, "failed": 1, "not_applicable": 1}


def test_write_verdicts_writes_a_json_list(tmp_path) -> None:
    verdicts = [_verdict("safety", True), _verdict("liveness", None)]
    path = write_verdicts(tmp_path / "verdicts.json", verdicts)
    assert json.loads(path.read_text(encoding="utf-8")) == [v.to_json_dict() for v in verdicts]
    assert [p.name for p in tmp_path.iterdir()] == ["verdicts.json"]


def test_work_is_transactions_phases_or_identities() -> None:
    assert not is_work_offered(TrafficConfig())
    assert is_work_offered(TrafficConfig(tx_per_s=0.5))
    assert is_work_offered(TrafficConfig(identity_per_min=1.0))
    idle = TrafficPhase(duration_ms=1000)
    assert not is_work_offered(TrafficConfig(phases=(idle,)))
    assert is_work_offered(TrafficConfig(phases=(idle, replace(idle, rate_per_s=3.0))))


def test_the_context_comes_from_the_scenario_and_the_nodes_frame(make_frames) -> None:
    scenario = load_scenario(BASE)
    frames = make_frames(nodes=8, validators=4, byzantine=[5])
    context = build_check_context(frames, scenario)
    assert context.nodes == tuple(range(8)) and context.honest == (0, 1, 2, 3, 4, 6, 7)
    assert context.validators == {0, 1, 2, 3} and context.validator_count == 4
    assert context.block_time_ms == 5000 and context.round_timeout_ms == 6000
    assert context.allow_empty_blocks is False and context.has_work is True
    assert context.duration_ms == scenario.run.duration_ms


def test_evaluate_checkers_runs_every_checker_or_those_named(make_frames) -> None:
    scenario = load_scenario(BASE)
    frames = make_frames(nodes=8, validators=4)
    verdicts = evaluate_checkers(frames, scenario)
    assert [v.id for v in verdicts] == list(CHECKERS)
    assert [v.id for v in evaluate_checkers(frames, scenario, only={"liveness", "safety"})] == [
        "safety", "liveness",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown checkers"):
        evaluate_checkers(frames, scenario, only=["sanity"])


def test_unexpected_lists_every_way_verdicts_differ_from_expect() -> None:
    from rppsim.checks import compute_unexpected

    failed = Verdict("safety", "checker", "t", False, "critical", 1, 0, 2, 10, "fork")
    passed = Verdict("agreement", "checker", "t", True, "critical", 0, 0, message="ok")
    skipped = Verdict("liveness", "checker", "t", None, "critical", None, 1, message="short")
    verdicts = [failed, passed, skipped]
    assert compute_unexpected(verdicts, ["safety"]) == []
    assert compute_unexpected(verdicts, []) == ["safety: failed and [expect] does not list it"]
    assert compute_unexpected(verdicts, ["safety", "agreement", "liveness", "g07"]) == [
        "agreement: expected to fail, but it is PASS",
        "liveness: expected to fail, but it is N/A",
        "g07: expected to fail, but it was not evaluated",
    ]
