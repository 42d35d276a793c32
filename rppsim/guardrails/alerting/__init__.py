"""The chain's alert rules as Prometheus rule files, evaluated over a run's simulated series.

``rules/*.yaml`` hold the rules (plain Prometheus ``groups``, recording rules included), with
the chain's names, thresholds and ``for`` durations; each file says which of the chain's rule
files it follows and where it departs. ``series`` scrapes a run's frames into the series the
rules read; ``engine`` evaluates the rule groups every ``SCRAPE_MS`` like a Prometheus rule
manager (``promql`` evaluates one expression; ``promtest`` reads and writes promtool unit
tests, so the tests hold our evaluator to Prometheus' own).

``evaluate_alert_rules`` gives the ``alerts`` frame (one row per firing: name, severity,
labels, node, start, end) and one verdict of kind ``alert`` per rule: failed when it fired
(an ``info`` rule never fails), not applicable when the run lacks the series it needs to fire
(none of those it reads, or one an ``and`` needs, e.g. the chain height beside the snapshots').
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rppsim.checks.verdict import Verdict
from rppsim.guardrails.alerting.batch import get_read_names
from rppsim.guardrails.alerting.engine import (
    AlertInterval,
    Rule,
    RuleGroup,
    evaluate_rules,
    load_rule_files,
)
from rppsim.guardrails.alerting.promql import (
    Aggregate,
    Binary,
    Call,
    Matrix,
    Negation,
    Node,
    Selector,
    Subquery,
    parse_expr,
)
from rppsim.guardrails.alerting.series import SCRAPE_MS, build_run_series, compute_span
from rppsim.guardrails.base import Frames, GuardrailContext
from rppsim.telemetry.frames import build_frame, compute_labels_text

__all__ = [
    "ALERT_IDS",
    "RULES_DIR",
    "AlertEvaluation",
    "evaluate_alert_rules",
    "get_alert_rules",
    "get_rule_files",
]

RULES_DIR = Path(__file__).with_name("rules")
SEVERITY = {"page": "critical", "critical": "critical", "warning": "warning", "info": "info"}
"""Verdict severity of a rule's ``severity`` label (the chain pages as critical)."""


def get_rule_files() -> list[Path]:
    """The shipped rule files, by name."""
    return sorted(RULES_DIR.glob("*.yaml"))


@functools.cache
def _load() -> tuple[RuleGroup, ...]:
    return tuple(load_rule_files(get_rule_files()))


def get_rule_groups() -> list[RuleGroup]:
    """The shipped rule groups, in file order (loaded and checked once)."""
    return list(_load())


def get_alert_rules() -> list[Rule]:
    """Every alerting rule, in file order."""
    return [r for g in get_rule_groups() for r in g.rules if r.kind == "alert"]


ALERT_IDS = tuple(r.name for r in get_alert_rules())
"""Every alert verdict id (the rule names), in file order."""


@functools.cache
def get_rule_metrics(name: str) -> frozenset[str]:
    """The raw metric names a rule reads, through the recording rules it uses."""
    rules = {r.name: r for g in get_rule_groups() for r in g.rules}
    raw: set[str] = set()
    for metric in filter(None, get_read_names(rules[name])):
        raw |= get_rule_metrics(metric) if metric in rules and metric != name else {metric}
    return frozenset(raw)


@functools.cache
def _get_recorded_exprs() -> dict[str, Node]:
    """The shipped recording rules' expressions, by the name they record."""
    return {r.name: parse_expr(r.expr) for g in get_rule_groups() for r in g.rules
            if r.kind == "record"}  # fmt: skip


def is_fireable(node: Node, metrics: frozenset[str]) -> bool:
    """Whether an expression can yield a sample over a run with series of ``metrics``: a
    selector needs its metric (a recording rule's name: that its expression can), ``or``
    either side, ``unless`` its left side, any other operator both sides; a literal always
    can. The shipped rules use no ``absent``, ``vector`` or ``time``."""
    if isinstance(node, Selector):
        recorded = _get_recorded_exprs()
        if node.name in recorded:
            return is_fireable(recorded[node.name], metrics)
        return node.name in metrics
    if isinstance(node, Matrix):
        return is_fireable(node.selector, metrics)
    if isinstance(node, Subquery | Negation | Aggregate):
        return is_fireable(node.expr, metrics)
    if isinstance(node, Call):
        return all(is_fireable(arg, metrics) for arg in node.args)
    if isinstance(node, Binary):
        lhs, rhs = is_fireable(node.lhs, metrics), is_fireable(node.rhs, metrics)
        return {"or": lhs or rhs, "unless": lhs}.get(node.op, lhs and rhs)
    return True


@dataclass(frozen=True, slots=True)
class AlertEvaluation:
    """The rules' outcome over one run."""

    intervals: tuple[AlertInterval, ...]
    metrics: frozenset[str]
    """The metric names the run's series have."""

    def get_frame(self) -> pd.DataFrame:
        """The ``alerts`` frame."""
        rules = {r.name: r for r in get_alert_rules()}
        rows = [_get_row(i, rules[i.name]) for i in self.intervals]
        columns = ("name", "severity", "node", "start_ms", "end_ms", "detail", "labels")
        return build_frame("alerts", {c: [row[c] for row in rows] for c in columns})

    def get_verdicts(self) -> list[Verdict]:
        """One verdict per alert rule, in file order."""
        return [self._judge(rule) for rule in get_alert_rules()]

    def _judge(self, rule: Rule) -> Verdict:
        labels = dict(rule.labels)
        severity = SEVERITY.get(labels.get("severity", "warning"), "warning")
        title = dict(rule.annotations).get("summary", rule.name)
        needs = get_rule_metrics(rule.name)
        firings = [i for i in self.intervals if i.name == rule.name]
        if not firings and not needs & self.metrics:
            why = f"the run has none of the series it reads ({', '.join(sorted(needs))})"
            return Verdict(rule.name, "alert", title, None, severity, None, 0, message=why)
        if not firings and not is_fireable(parse_expr(rule.expr), self.metrics):
            lacking = ", ".join(sorted(needs - self.metrics))
            why = f"the run lacks series it needs to fire ({lacking})"
            return Verdict(rule.name, "alert", title, None, severity, None, 0, message=why)
        if not firings:
            message = f"never fired over {len(needs & self.metrics)} of its {len(needs)} series"
            return Verdict(rule.name, "alert", title, True, severity, 0, 0, message=message)
        first = min(firings, key=lambda i: (i.start_ms, get_node(i.labels) or -1, i.labels))
        where = _format_labels(first.labels)
        message = f"fired {len(firings)} time(s), first {where} at {first.start_ms} ms"
        passed = severity == "info"
        if passed:
            message += " (info: not a failure)"
        node = get_node(first.labels)
        return Verdict(
            rule.name, "alert", title, passed, severity, len(firings), 0, node, first.start_ms,
            message,
        )  # fmt: skip


def get_node(labels: Sequence[tuple[str, str]]) -> int | None:
    """The node an alert is about: its ``instance`` or ``validator`` label (None: fleet)."""
    found = dict(labels)
    for key in ("instance", "validator"):
        value = found.get(key, "")
        if value.isdigit():
            return int(value)
    return None


def _format_labels(labels: Sequence[tuple[str, str]]) -> str:
    return compute_labels_text(dict(labels))


def _get_row(interval: AlertInterval, rule: Rule) -> dict[str, object]:
    labels = dict(interval.labels)
    return {
        "name": interval.name,
        "severity": labels.get("severity", "warning"),
        "node": get_node(interval.labels),
        "start_ms": interval.start_ms,
        "end_ms": interval.end_ms,
        "detail": dict(rule.annotations).get("summary", ""),
        "labels": _format_labels(interval.labels),
    }


def evaluate_alert_rules(frames: Frames, ctx: GuardrailContext) -> AlertEvaluation:
    """Scrape the run and evaluate every rule group every SCRAPE_MS over its duration."""
    store = build_run_series(frames, ctx)
    metrics = frozenset(dict(labels)["__name__"] for labels, _, _ in store.get_series())
    start_ms, end_ms = compute_span(frames, ctx)
    evaluation = evaluate_rules(
        get_rule_groups(), store, start_ms=start_ms, end_ms=end_ms, interval_ms=SCRAPE_MS
    )
    return AlertEvaluation(tuple(evaluation.intervals), metrics)
