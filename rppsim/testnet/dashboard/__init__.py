"""The collector's live dashboard: the playbook's three dashboards (rollout status, proof
pipeline health, consensus availability) as JSON figures over the telemetry collected so far,
and the page (``index.html``, package data) that polls them.

The figures are those ``rppsim check FILE.jsonl`` judges by: the frames of
``rppsim.telemetry.jsonl`` and the verdicts of ``rppsim.verdicts`` (checkers, guardrails, the
alert rules of ``rppsim/guardrails/alerting/rules/*.yaml`` and the promotion gate), each
verdict shown on the dashboard it belongs to with its id and, for an alert, its rule file
(docs/operations.md#guardrails).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from rppsim.checks.verdict import Verdict, get_status
from rppsim.node.config import FEATURE_GATE_NAMES

__all__ = [
    "DASHBOARDS",
    "compute_dashboards",
    "get_dashboard_of",
    "get_page",
]

DASHBOARDS = (
    ("rollout", "Rollout status"),
    ("proofs", "Proof pipeline health"),
    ("consensus", "Consensus availability"),
)
"""(id, title) of the playbook's dashboards, in page order."""

ROLLOUT_GUARDRAILS = (1, 2, 3, 4, 5, 6, 8, 22, 23, 24, 25, 26, 27)
"""Guardrails of the rollout status dashboard: channel, gates, telemetry runtime, soak."""
PROOF_GUARDRAILS = (7, 9, 11, 12, 13)
"""Proof pipeline health: stalled snapshot height, cache utilisation, verifiers, size gate."""
RULE_FILE_DASHBOARD = {
    "telemetry": "rollout",
    "proofs": "proofs",
    "consensus": "consensus",
    "vrf": "consensus",
    "timetoke": "consensus",
}
"""The dashboard of each alert rule file (``rules/<stem>.yaml``)."""
GATES = FEATURE_GATE_NAMES
BACKENDS = ("stwo", "plonky3", "rpp_stark")
_STATUS_ORDER = {"FAIL": 0, "N/A": 1, "PASS": 2}


def get_page() -> str:
    """The dashboard page (``index.html``): inline CSS and JS, no external assets."""
    return resources.files(__name__).joinpath("index.html").read_text(encoding="utf-8")


def _get_rule_files() -> dict[str, str]:
    """Alert rule name → its rule file's stem."""
    from rppsim.guardrails.alerting import get_alert_rules

    return {rule.name: Path(rule.source).stem for rule in get_alert_rules()}


def get_dashboard_of(verdict_id: str, kind: str) -> str:
    """The dashboard a verdict is shown on (``rollout``, ``proofs`` or ``consensus``)."""
    if kind == "alert":
        return RULE_FILE_DASHBOARD.get(_get_rule_files().get(verdict_id, ""), "consensus")
    if kind == "promotion":
        return "rollout"
    if kind == "guardrail" and verdict_id[1:3].isdigit():
        number = int(verdict_id[1:3])
        if number in ROLLOUT_GUARDRAILS:
            return "rollout"
        if number in PROOF_GUARDRAILS:
            return "proofs"
    return "consensus"


def _get_reference(verdict: Verdict) -> str:
    """Where a verdict's rule is written: the alert's rule file or the docs heading."""
    if verdict.kind == "alert":
        return f"rppsim/guardrails/alerting/rules/{_get_rule_files()[verdict.id]}.yaml"
    if verdict.kind == "guardrail":
        return "docs/operations.md#guardrails"
    if verdict.kind == "promotion":
        return "docs/operations.md#promotion-and-rollout-checks"
    return "rppsim/checks/README.md"


def _to_json(value: object) -> object:
    """A frame cell as JSON: numpy scalars as Python numbers, NaN / NA as null."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _number(value: object) -> float:
    """A frame cell as a float, 0 when null."""
    found = _to_json(value)
    return float(found) if isinstance(found, int | float) else 0.0


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if not denominator else numerator / denominator


def compute_verdict_rows(verdicts: Sequence[Verdict], dashboard: str) -> list[dict[str, Any]]:
    """The verdicts shown on ``dashboard``: failed first, then not applicable, then passed."""
    rows = [
        {
            "id": v.id,
            "kind": v.kind,
            "status": get_status(v),
            "severity": v.severity,
            "title": v.title,
            "figure": _to_json(v.figure),
            "threshold": _to_json(v.threshold),
            "message": v.message,
            "rule": _get_reference(v),
        }
        for v in verdicts
        if get_dashboard_of(v.id, v.kind) == dashboard
    ]
    return sorted(rows, key=lambda r: _STATUS_ORDER[str(r["status"])])


def get_latest(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Each node's latest snapshot row, by node."""
    ordered = snapshots.sort_values(["node", "now_ms"], kind="stable")
    return ordered.groupby("node", sort=True).tail(1).reset_index(drop=True)


def _sum(frame: pd.DataFrame, columns: Sequence[str]) -> float:
    return float(sum(frame[c].fillna(0).astype("float64").sum() for c in columns))


def compute_rollout(snapshots: pd.DataFrame, nodes: pd.DataFrame) -> dict[str, Any]:
    """Rollout status: channel, gates and the telemetry loop per node."""
    latest = get_latest(snapshots)
    roles = dict(zip(nodes["node"].tolist(), nodes["role"].tolist(), strict=True))
    addresses = dict(zip(nodes["node"].tolist(), nodes["address"].tolist(), strict=True))
    failures = ["emits_failed_encode", "emits_failed_transport", "emits_failed_status"]
    rows = []
    for _, row in latest.iterrows():
        gates = [g for g in GATES if row[f"gate_{g}"] is True]
        rows.append(
            {
                "node": int(row["node"]),
                "address": addresses.get(int(row["node"]), ""),
                "role": roles.get(int(row["node"]), ""),
                "release_channel": _to_json(row["release_channel"]),
                "gates": ", ".join(gates),
                "telemetry_enabled": _to_json(row["telemetry_enabled"]),
                "last_observed_height": _to_json(row["last_observed_height"]),
                "emits_succeeded": _to_json(row["emits_succeeded"]),
                "emits_failed": int(sum(_number(row[c]) for c in failures)),
            }
        )
    channels = sorted({str(c) for c in latest["release_channel"].dropna()})
    emitted = _sum(latest, ["emits_emitted"])
    figures = {
        "nodes": len(latest),
        "snapshots": len(snapshots),
        "channels": ", ".join(channels),
        "emit_success_ratio": _ratio(_sum(latest, ["emits_succeeded"]), emitted),
    }
    return {"figures": figures, "nodes": rows}


def compute_proofs(snapshots: pd.DataFrame) -> dict[str, Any]:
    """Proof pipeline health: stalled snapshot height, cache utilisation, verifier health."""
    latest = get_latest(snapshots)
    rows = []
    rates: list[tuple[float, float | None]] = []
    for _, row in latest.iterrows():
        done = sum(
            _number(row[f"verifier_{b}_{r}"]) for b in BACKENDS for r in ("accepted", "rejected")
        )
        rejected = sum(_number(row[f"verifier_{b}_rejected"]) for b in BACKENDS)
        duration = sum(_number(row[f"verifier_{b}_total_duration_ms"]) for b in BACKENDS)
        entries, capacity = row["cache_entries"], row["cache_capacity"]
        rates.append((done, _ratio(rejected, done)))
        rows.append(
            {
                "node": int(row["node"]),
                "height": _to_json(row["height"]),
                "last_observed_height": _to_json(row["last_observed_height"]),
                "cache_utilisation": _ratio(_number(entries), _number(capacity)),
                "cache_hits": _to_json(row["cache_hits"]),
                "cache_misses": _to_json(row["cache_misses"]),
                "cache_evictions": _to_json(row["cache_evictions"]),
                "cache_queue_depth": _to_json(row["cache_queue_depth"]),
                "verified": int(done),
                "verifier_error_rate": _ratio(rejected, done),
                "verifier_mean_ms": _ratio(duration, done),
            }
        )
    verified = [int(done) for done, _ in rates]
    error_rates = [rate for _, rate in rates if rate is not None]
    capacity = snapshots["cache_capacity"].astype("float64")
    entries = snapshots["cache_entries"].astype("float64")
    utilisation = (entries / capacity.where(capacity > 0)).max()
    lag = (latest["height"] - latest["last_observed_height"]).astype("float64").max()
    figures = {
        "max_cache_utilisation": _to_json(utilisation),
        "max_observed_height_lag": _to_json(lag),
        "verified": sum(verified),
        "max_verifier_error_rate": max(error_rates, default=None),
    }
    return {"figures": figures, "nodes": rows}


def compute_consensus(snapshots: pd.DataFrame) -> dict[str, Any]:
    """Consensus availability: heights, rounds, quorum and VRF participation per node."""
    latest = get_latest(snapshots)
    columns = (
        "height",
        "consensus_height",
        "round",
        "quorum_reached",
        "leader_changes",
        "failed_votes",
        "quorum_latency_ms",
        "pending_uptime_proofs",
        "vrf_participation_rate",
        "consensus_success",
    )
    rows = [
        {"node": int(row["node"]), **{c: _to_json(row[c]) for c in columns}}
        for _, row in latest.iterrows()
    ]
    heights = latest["height"].dropna().astype("int64")
    span_ms = int(snapshots["now_ms"].max() - snapshots["now_ms"].min())
    first = snapshots.loc[snapshots["now_ms"] == snapshots["now_ms"].min(), "height"].max()
    grown = float(heights.max() - first) if len(heights) and not pd.isna(first) else 0.0
    figures = {
        "max_height": int(heights.max()) if len(heights) else None,
        "height_spread": int(heights.max() - heights.min()) if len(heights) else None,
        "blocks_per_minute": _ratio(grown * 60_000, span_ms),
        "min_vrf_participation": _to_json(latest["vrf_participation_rate"].astype("float64").min()),
    }
    return {"figures": figures, "nodes": rows}


def compute_dashboards(
    frames: Mapping[str, pd.DataFrame], verdicts: Sequence[Verdict]
) -> list[dict[str, Any]]:
    """The three dashboards: id, title, headline figures, a row per node and the verdicts
    (id, status, figure, threshold, rule reference) that belong to each."""
    snapshots, nodes = frames["snapshots"], frames["nodes"]
    parts = {
        "rollout": compute_rollout(snapshots, nodes),
        "proofs": compute_proofs(snapshots),
        "consensus": compute_consensus(snapshots),
    }
    dashboards = []
    for key, title in DASHBOARDS:
        rows = compute_verdict_rows(verdicts, key)
        counts = {s: sum(r["status"] == s for r in rows) for s in ("PASS", "FAIL", "N/A")}
        dashboards.append({"id": key, "title": title, **parts[key], "verdicts": rows, **counts})
    return dashboards
