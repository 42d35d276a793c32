"""A run's verdict timeline: faults, alerts and failed verdicts on one time axis, the view a
rollout guardrail review reads (docs/analysis.md#verdict-timeline).

Verdicts name their first offender's time (``time_ms``); alerts have firing windows (still
firing at the end of the run: the window ends there); faults and rollout stages are windows
of the ``faults`` frame (a start paired with the next end on the same nodes,
``rppsim.report.figures.compute_fault_windows``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rppsim.analysis.runs import Run, add_provenance
from rppsim.report.figures import compute_fault_windows
from rppsim.telemetry.frames import STR_DTYPE

__all__ = ["LANES", "TIMELINE_COLUMNS", "compute_verdict_timeline", "get_duration_ms"]

LANES = ("fault", "alert", "verdict")
TIMELINE_COLUMNS = ("lane", "label", "start_ms", "end_ms", "severity", "status", "node")
STATUS_ORDER = {"fail": 0, "n/a": 1, "pass": 2}
"""Verdicts at one time (or none): failures first."""


def get_duration_ms(run: Run) -> int | None:
    """The run's simulated duration (``run_info`` ``duration_ms``), if recorded."""
    value = run.info.get("duration_ms", "")
    return int(value) if value.isdigit() else None


def compute_verdict_timeline(run: Run) -> pd.DataFrame:
    """One row per fault window, alert firing and verdict (lane, label, start_ms, end_ms,
    severity, status, node), by lane then start. Verdicts keep their status (``fail``,
    ``pass``, ``n/a``) and start at their ``time_ms``; those that name no time come last,
    failures first."""
    duration = get_duration_ms(run)
    rows: list[dict[str, object]] = []
    for start_s, end_s, label in compute_fault_windows(run.frames):
        start, end = round(start_s * 1000), round(end_s * 1000)
        rows.append({"lane": "fault", "label": label, "start_ms": start, "end_ms": end})
    alerts = run.frames.get("alerts")
    if alerts is not None:
        records: list[Any] = list(alerts.itertuples(index=False))  # namedtuples of columns
        for alert in records:
            place = "fleet" if pd.isna(alert.node) else f"node {alert.node}"
            until = duration if pd.isna(alert.end_ms) else int(alert.end_ms)
            rows.append(
                {
                    "lane": "alert",
                    "label": f"{alert.name} @ {place}",
                    "start_ms": int(alert.start_ms),
                    "end_ms": until,
                    "severity": alert.severity,
                    "status": "firing",
                    "node": None if pd.isna(alert.node) else int(alert.node),
                }
            )
    judged: list[Any] = list(run.verdicts.itertuples(index=False))
    for verdict in judged:
        time = None if pd.isna(verdict.time_ms) else int(verdict.time_ms)
        rows.append(
            {
                "lane": "verdict",
                "label": verdict.id,
                "start_ms": time,
                "end_ms": time,
                "severity": verdict.severity,
                "status": verdict.status,
                "node": None if pd.isna(verdict.node) else int(verdict.node),
            }
        )
    frame = pd.DataFrame(rows, columns=list(TIMELINE_COLUMNS))
    frame = frame.astype(
        {
            "lane": STR_DTYPE,
            "label": STR_DTYPE,
            "start_ms": "Int64",
            "end_ms": "Int64",
            "severity": "string",
            "status": "string",
            "node": "Int64",
        }
    )
    order = frame["lane"].map({lane: i for i, lane in enumerate(LANES)})
    status = frame["status"].map(STATUS_ORDER).fillna(len(STATUS_ORDER))
    frame = frame.assign(_order=order, _status=status).sort_values(
        ["_order", "start_ms", "_status", "label"], kind="stable", na_position="last",
        ignore_index=True,
    )  # fmt: skip
    return add_provenance(frame.drop(columns=["_order", "_status"]), run.provenance)
