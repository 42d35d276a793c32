"""The verdict timeline: fault windows, alert firings and verdicts on one axis."""

from __future__ import annotations

import pandas as pd

from rppsim.analysis.runs import PROVENANCE, Run, build_run
from rppsim.analysis.timeline import TIMELINE_COLUMNS, compute_verdict_timeline
from rppsim.checks.verdict import Verdict


def _run() -> Run:
    faults = pd.DataFrame(
        {"at_ms": [1000, 4000, 2000], "kind": ["crash", "restart", "partition_instant"],
         "phase": ["start", "end", "instant"], "nodes": ["0", "0", ""], "detail": ["", "", ""]}
    )  # fmt: skip
    alerts = pd.DataFrame(
        {
            "name": ["Stall", "Lag"],
            "severity": ["critical", "warning"],
            "node": pd.array([None, 3], dtype="Int32"),
            "start_ms": [5000, 3000],
            "end_ms": pd.array([None, 3500], dtype="Int64"),
        }
    )
    info = pd.DataFrame({"key": ["duration_ms", "seed"], "value": ["9000", "7"]})
    verdicts = [
        Verdict("safety", "checker", "t", True, "critical", 0, 0),
        Verdict("g18-liveness", "guardrail", "t", False, "critical", 1, 0, time_ms=6000),
        Verdict("g03", "guardrail", "t", None, "critical", None, None, message="no stages"),
    ]
    frames = {"faults": faults, "alerts": alerts, "run_info": info}
    return build_run(frames, None, verdicts, label="drill")


def test_lanes_in_order_with_windows_and_verdict_times() -> None:
    timeline = compute_verdict_timeline(_run())
    assert tuple(timeline.columns) == (*PROVENANCE, *TIMELINE_COLUMNS)
    assert set(timeline["seed"]) == {7} and set(timeline["run"]) == {"drill"}
    chosen = timeline[["lane", "label", "start_ms", "end_ms", "status"]].astype(object)
    rows = chosen.where(chosen.notna(), None).values.tolist()
    assert rows == [
        ["fault", "crash 0", 1000, 4000, None],
        ["fault", "partition_instant", 2000, 2000, None],
        ["alert", "Lag @ node 3", 3000, 3500, "firing"],
        ["alert", "Stall @ fleet", 5000, 9000, "firing"],  # still firing: ends with the run
        ["verdict", "g18-liveness", 6000, 6000, "fail"],
        ["verdict", "g03", None, None, "n/a"],
        ["verdict", "safety", None, None, "pass"],
    ]
