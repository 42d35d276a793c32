"""Telemetry guardrails 5–8 (docs/operations.md#guardrails): telemetry enabled, snapshot cadence, no
stalled
``last_observed_height``, payload emittable — judged from the ``snapshots`` frame (one row per
node per telemetry tick, docs/operations.md#validator-telemetry to
docs/operations.md#the-telemetry-loop) and the node profile.

Snapshot values are nullable: ``pd.NA`` is read as missing, never as a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from rppsim.checks.verdict import Verdict
from rppsim.guardrails.base import (
    Frames,
    GuardrailContext,
    compute_unsampled_nodes,
    get_restart_times,
    is_sample_due,
    make_verdict,
    not_applicable,
    register,
)
from rppsim.guardrails.consensus import compute_tip, get_tip_at
from rppsim.telemetry.scalars import to_int

__all__ = [
    "Offender",
    "Stall",
    "check_snapshot_cadence",
    "check_telemetry_enabled",
    "check_telemetry_not_stalled",
    "check_telemetry_payload_emittable",
    "compute_counted_emit_failures",
    "compute_emit_errors",
    "compute_stall",
    "get_error_class",
    "is_endpoint_valid",
]

NO_SNAPSHOTS = "telemetry off: no snapshots"


@dataclass(frozen=True, slots=True)
class Offender:
    """A node breaking a guardrail: when (None: from the start of the run) and why."""

    node: int
    time_ms: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Stall:
    """A node's longest run of equal ``last_observed_height`` while the chain tip advanced."""

    node: int
    samples: int
    start_ms: int
    end_ms: int
    height: int | None
    tip_from: int
    tip_to: int


def _get_value(value: Any) -> Any:
    """A frame cell, or None when it is missing (``pd.NA`` / NaN)."""
    return None if value is None or value is pd.NA or pd.isna(value) else value


def get_snapshots_by_node(snapshots: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Each node's snapshots in time order, split in one pass (a mask per node costs a copy
    of the whole frame per node)."""
    ordered = snapshots.sort_values(["node", "now_ms"], kind="stable")
    return {
        to_int(node): rows.reset_index(drop=True)
        for node, rows in ordered.groupby("node", sort=True, observed=True)
    }


def _get_first(offenders: list[Offender]) -> Offender:
    """The earliest offender (one failing from the start first), then by node."""
    return min(offenders, key=lambda o: (o.time_ms is not None, o.time_ms or 0, o.node))


def is_endpoint_valid(endpoint: str) -> bool:
    """Whether a telemetry endpoint is an http(s) URI with a host
    (docs/operations.md#node-configuration.x URI rules)."""
    parsed = urlparse(endpoint)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _get_profile_offence(telemetry: Mapping[str, object]) -> str | None:
    """Why the profile's ``rollout.telemetry`` breaks docs/operations.md#guardrails row 5 for
    validators, or None."""
    if not telemetry.get("enabled"):
        return "the profile has rollout.telemetry.enabled = false"
    interval = telemetry.get("sample_interval_secs")
    if not isinstance(interval, int) or interval < 1:
        return f"the profile has rollout.telemetry.sample_interval_secs = {interval!r} (< 1)"
    for key in ("endpoint", "http_endpoint"):
        endpoint = telemetry.get(key)
        if endpoint and not is_endpoint_valid(str(endpoint)):
            return f"the profile has an invalid rollout.telemetry.{key} {endpoint!r}"
    return None


def _get_node_offence(rows: pd.DataFrame, node: int) -> Offender | None:
    """The first snapshot of ``node`` saying telemetry disabled or an interval < 1, or None."""
    if rows.empty:
        return Offender(node, None, "emitted no snapshot although the profile enables telemetry")
    for now_ms, enabled, interval in zip(
        rows["now_ms"], rows["telemetry_enabled"], rows["sample_interval_secs"], strict=True
    ):
        if _get_value(enabled) is None or not bool(enabled):
            return Offender(node, int(now_ms), f"telemetry_enabled = {_get_value(enabled)}")
        value = _get_value(interval)
        if value is None or int(value) < 1:
            return Offender(node, int(now_ms), f"sample_interval_secs = {value} (< 1)")
    return None


@register(
    5, "telemetry-enabled", "telemetry enabled where required", "critical", needs=("snapshots",)
)
def check_telemetry_enabled(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 5: every validator reports telemetry enabled with
    sample_interval ≥ 1 in each of
    its snapshots, and the profile enables it (valid endpoint if set). The run has only
    validator and full roles: hybrid and prod presets are not modelled."""
    validators = sorted(ctx.checks.validators)
    if not validators:
        return not_applicable(5, "the run has no validator")
    limit = ctx.threshold("g05-telemetry-enabled", "max_offenders", 0)
    profile = _get_profile_offence(ctx.get_config("rollout", "telemetry"))
    if profile is not None:
        message = f"{profile}: all {len(validators)} validators must emit telemetry (guardrail 5)"
        return make_verdict(5, False, len(validators), limit, message, validators[0])
    snapshots = frames["snapshots"]
    if snapshots.empty and not is_sample_due(ctx):
        return not_applicable(
            5, "no telemetry sample was due: the run is shorter than one interval"
        )
    by_node, empty = get_snapshots_by_node(snapshots), snapshots.iloc[:0]
    unsampled = compute_unsampled_nodes(frames, ctx)
    judged = [n for n in validators if n in by_node or n not in unsampled]
    found = [_get_node_offence(by_node.get(n, empty), n) for n in judged]
    offenders = [o for o in found if o is not None]
    if len(offenders) > limit:
        first = _get_first(offenders)
        at = "" if first.time_ms is None else f" at {first.time_ms} ms"
        message = (
            f"{len(offenders)} of {len(validators)} validators without telemetry; first:"
            f" node {first.node}{at}: {first.reason}"
        )
        return make_verdict(5, False, len(offenders), limit, message, first.node, first.time_ms)
    message = (
        f"all {len(validators)} validators report telemetry enabled with sample_interval ≥ 1"
        f" in all their snapshots"
    )
    return make_verdict(5, True, len(offenders), limit, message)


def _get_interval_ms(rows: pd.DataFrame, ctx: GuardrailContext) -> int:
    """max(interval, 1) s: the node's reported sample_interval_secs, else the profile's."""
    reported = [int(v) for v in rows["sample_interval_secs"] if _get_value(v) is not None]
    seconds = (
        reported[-1]
        if reported
        else int(ctx.get_config("rollout", "telemetry")["sample_interval_secs"])
    )
    return max(seconds, 1) * 1000


def _get_cadence_offender(
    rows: pd.DataFrame,
    node: int,
    interval_ms: int,
    tolerance: float,
    limit: float,
    restarts: list[int],
) -> tuple[int, Offender | None]:
    """(missed ticks, first offence) of one node's successful emits: a gap off a multiple of
    the interval by more than ``tolerance`` of it, or the gap where missed ticks pass
    ``limit``; a node with no successful emit misses every tick. A gap across a restart is
    no gap: the node was down, and the new node's loop starts over."""
    ok = rows[rows["emit_ok"].astype(bool)]
    times = [int(t) for t in ok["now_ms"]]
    if not times:
        reason = f"no successful emit in {len(rows)} ticks"
        return len(rows), Offender(node, int(rows["now_ms"].iloc[0]), reason)
    missed = 0
    offender = None
    for before, after in pairwise(times):
        if any(before < r <= after for r in restarts):
            continue
        gap = after - before
        ticks = max(round(gap / interval_ms), 1)
        missed += ticks - 1
        off_grid = abs(gap - ticks * interval_ms) > tolerance * interval_ms
        if offender is None and (off_grid or missed > limit):
            reason = f"successful emits {gap} ms apart (interval {interval_ms} ms)"
            offender = Offender(node, after, reason)
    return missed, offender


@register(6, "snapshot-cadence", "telemetry snapshot cadence", "warning", needs=("snapshots",))
def check_snapshot_cadence(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 6 (docs/operations.md#the-telemetry-loop loop): a node's
    consecutive successful emits are max(interval, 1) s
    apart (± ``tolerance`` of the interval); figure = the most ticks one node missed,
    threshold ``max_missed_ticks`` (default 0)."""
    snapshots = frames["snapshots"]
    if snapshots.empty:
        return not_applicable(6, NO_SNAPSHOTS)
    limit = ctx.threshold("g06-snapshot-cadence", "max_missed_ticks", 0)
    tolerance = ctx.threshold("g06-snapshot-cadence", "tolerance", 0.25)
    missed: dict[int, int] = {}
    offenders = []
    by_node = get_snapshots_by_node(snapshots)
    for node in sorted(by_node):
        rows = by_node[node]
        interval_ms = _get_interval_ms(rows, ctx)
        restarts = get_restart_times(frames, node, ctx.checks.duration_ms)
        missed[node], offender = _get_cadence_offender(
            rows, node, interval_ms, tolerance, limit, restarts
        )
        if offender is not None:
            offenders.append(offender)
    worst = max(missed.values())
    total = sum(missed.values())
    if offenders:
        first = _get_first(offenders)
        message = (
            f"{total} missed ticks over {len(missed)} nodes (worst {worst}); first: node"
            f" {first.node} at {first.time_ms} ms: {first.reason}"
        )
        return make_verdict(6, False, worst, limit, message, first.node, first.time_ms)
    message = f"successful emits of {len(missed)} nodes on cadence; {total} missed ticks"
    return make_verdict(6, True, worst, limit, message)


def compute_stall(
    rows: pd.DataFrame, node: int, tip: pd.Series, restarts: Sequence[int] = ()
) -> Stall | None:
    """The node's longest run of successive snapshots whose ``last_observed_height`` did not
    increase (missing counts as unchanged) while the tip advanced between them; the run
    restarts when the observed height increases, and at a restart of the node (a new node
    observes nothing yet). None without any such sample."""
    best: Stall | None = None
    current: Stall | None = None
    times = [int(t) for t in rows["now_ms"]]
    heights = [_get_value(h) for h in rows["last_observed_height"]]
    for k in range(1, len(times)):
        if any(times[k - 1] < r <= times[k] for r in restarts):
            current = None
            continue
        before, after = heights[k - 1], heights[k]
        if after is not None and (before is None or int(after) > int(before)):
            current = None
            continue
        tip_from, tip_to = get_tip_at(tip, times[k - 1]), get_tip_at(tip, times[k])
        if tip_to <= tip_from:
            continue
        observed = None if after is None else int(after)
        if current is None:
            current = Stall(node, 1, times[k], times[k], observed, tip_from, tip_to)
        else:
            current = Stall(
                node, current.samples + 1, current.start_ms, times[k], observed,
                current.tip_from, tip_to,
            )  # fmt: skip
        if best is None or current.samples > best.samples:
            best = current
    return best


@register(
    7,
    "telemetry-not-stalled",
    "telemetry not stalled at a prior height",
    "critical",
    needs=("snapshots",),
)
def check_telemetry_not_stalled(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 7 (playbook guardrail 3): per node,
    ``last_observed_height`` increases between
    successive snapshots whenever the chain tip advanced; fails when a node's longest such
    run of equal heights reaches ``stall_samples`` (default 2). The tip is the fleet's
    highest honest finalized height, so a chain stall is not blamed on telemetry."""
    snapshots = frames["snapshots"]
    if snapshots.empty:
        return not_applicable(7, NO_SNAPSHOTS)
    limit = int(ctx.threshold("g07-telemetry-not-stalled", "stall_samples", 2))
    tip = compute_tip(frames, ctx)
    by_node = get_snapshots_by_node(snapshots)
    end_ms = ctx.checks.duration_ms
    found = [
        compute_stall(by_node[n], n, tip, get_restart_times(frames, n, end_ms))
        for n in sorted(by_node)
    ]
    stalls = [s for s in found if s is not None]
    worst = max((s.samples for s in stalls), default=0)
    failing = [s for s in stalls if s.samples >= limit]
    if failing:
        first = min(failing, key=lambda s: (s.start_ms, s.node))
        message = (
            f"node {first.node}: last_observed_height stuck at {first.height} for"
            f" {first.samples} samples ({first.start_ms}–{first.end_ms} ms) while the chain"
            f" tip advanced {first.tip_from} → {first.tip_to}; {len(failing)} node(s) stalled"
        )
        return make_verdict(7, False, worst, limit, message, first.node, first.start_ms)
    message = (
        f"longest run of unchanged last_observed_height while the tip advanced: {worst}"
        f" sample(s) over {len(by_node)} nodes"
    )
    return make_verdict(7, True, worst, limit, message)


def get_error_class(emit_error: str) -> str:
    """The class of an ``emit_error`` "<class>: <detail>" (encode, transport, status)."""
    return emit_error.split(":", 1)[0].strip() or "unknown"


def compute_emit_errors(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Snapshots whose emit failed (``emit_ok`` False or an ``emit_error``), by time, with
    their error ``class``."""
    texts = [_get_value(e) for e in snapshots["emit_error"]]
    flagged = [not ok or bool(t) for ok, t in zip(snapshots["emit_ok"], texts, strict=True)]
    failed = snapshots[flagged]
    failed = failed.sort_values(["now_ms", "node"], kind="stable").reset_index(drop=True)
    texts = [str(_get_value(e) or "unknown: no error text") for e in failed["emit_error"]]
    return failed.assign(error_class=[get_error_class(t) for t in texts], error_text=texts)


EMIT_FAILURE_CLASSES = ("encode", "transport", "status")
"""The classes of ``rollout.rppsim_telemetry_emits.failed`` (``emits_failed_<class>``)."""


def compute_counted_emit_failures(snapshots: pd.DataFrame) -> pd.DataFrame:
    """The emit failures the nodes counted themselves: each rise of a node's cumulative
    ``emits_failed_<class>`` between its successive snapshots (the first snapshot's value
    counts whole; a fall is a restart, so the new value counts whole), as rows (now_ms, node,
    error_class, count) by time, node and class."""
    ordered = snapshots.sort_values(["node", "now_ms"], kind="stable")
    parts = []
    for error_class in EMIT_FAILURE_CLASSES:
        column = f"emits_failed_{error_class}"
        rows = ordered[ordered[column].notna()]
        count = rows[column].astype("int64")
        previous = count.groupby(rows["node"]).shift(fill_value=0)
        rise = count.where(count < previous, count - previous)
        rises = rows.loc[rise > 0, ["now_ms", "node"]].assign(
            error_class=error_class, count=rise[rise > 0].astype("int64")
        )
        parts.append(rises)
    counted = pd.concat(parts, ignore_index=True).astype({"now_ms": "int64", "node": "int64"})
    order = ["now_ms", "node", "error_class"]
    return counted.sort_values(order, kind="stable").reset_index(drop=True)


def _judge_counted_failures(counted: pd.DataFrame, samples: int, limit: float) -> Verdict:
    """Guardrail 8 from the nodes' own failure counters (``compute_counted_emit_failures``)."""
    total = int(counted["count"].sum())
    totals = counted.groupby("error_class")["count"].sum().sort_index()
    by_class = ", ".join(f"{c}: {int(n)}" for c, n in totals.items())
    summary = f"{total} emit errors counted by the nodes ({by_class}), {samples} emits received"
    if total > limit:
        first = counted.iloc[0]
        node, at_ms = int(first["node"]), int(first["now_ms"])
        message = (
            f"{summary}; first: node {node} reported {int(first['count'])}"
            f" {first['error_class']} failure(s) by {at_ms} ms"
        )
        return make_verdict(8, False, total, limit, message, node, at_ms)
    return make_verdict(8, True, total, limit, summary)


@register(8, "payload-emittable", "telemetry payload emittable", "critical", needs=("snapshots",))
def check_telemetry_payload_emittable(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 8 (docs/operations.md#the-telemetry-loop): emit errors
    (encode, transport, non-2xx status) == 0, counted per
    class; names the first failing node and time. The errors are the failed emits of the
    ``snapshots`` frame, or, when the nodes' own counters report more (live telemetry: a
    collector receives only the emits that succeed), those counters."""
    snapshots = frames["snapshots"]
    if snapshots.empty:
        return not_applicable(8, NO_SNAPSHOTS)
    limit = ctx.threshold("g08-payload-emittable", "max_emit_errors", 0)
    errors = compute_emit_errors(snapshots)
    counted = compute_counted_emit_failures(snapshots)
    if int(counted["count"].sum()) > len(errors):
        return _judge_counted_failures(counted, len(snapshots), limit)
    counts = errors["error_class"].value_counts().sort_index()
    by_class = ", ".join(f"{c}: {int(n)}" for c, n in counts.items()) or "none"
    if len(errors) > limit:
        first = errors.iloc[0]
        node, at_ms = int(first["node"]), int(first["now_ms"])
        message = (
            f"{len(errors)} emit errors of {len(snapshots)} emits ({by_class}); first: node"
            f" {node} at {at_ms} ms: {first['error_text']}"
        )
        return make_verdict(8, False, len(errors), limit, message, node, at_ms)
    return make_verdict(8, True, len(errors), limit, f"{len(snapshots)} emits, errors: {by_class}")
