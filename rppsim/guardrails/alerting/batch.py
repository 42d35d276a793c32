"""Rule groups evaluated over every step at once: the batch path of `engine.evaluate_rules`.

`engine.evaluate_rules_stepwise` evaluates every rule at every step, as Prometheus' rule
manager does. Here each rule's expression is evaluated once for all evaluation times
(`grid.evaluate_grid`, bit for bit promql's values at each time); a recording rule then
yields whole series, and an alerting rule's ``for`` states follow from the runs of times
its elements are present.

Rule by rule over all times equals step by step when no rule reads a series that it or a
later rule writes, and no selector reads past its evaluation time (no ``@``, no negative
offset): rule i at time t then reads the input and the earlier rules' samples at t and
before, as the per-step path has them. `check_rules` checks this before anything runs (the
shipped rules read recorded series of earlier groups only).

What the store receives is what the per-step path writes: each recorded series with a
stale marker at the first evaluation after each run of presence, and the ``ALERTS`` and
``ALERTS_FOR_STATE`` series of every alert. Alerts whose labels or annotations are templates
with actions are expanded step by step (`engine.update_alerts`). An expression `grid` does
not support, or an input on which the per-step path would raise an error (two elements with
one label set, a group's limit exceeded, ...), raises `BatchUnsupportedError` before the store is
written to, and `engine.evaluate_rules` evaluates step by step instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rppsim.guardrails.alerting.engine import (
    ALERT_NAME,
    ALERTS_FOR_STATE_METRIC,
    ALERTS_METRIC,
    AlertInterval,
    Rule,
    RuleEvaluation,
    RuleGroup,
    RuleState,
    TemplateData,
    compute_alert_series,
    get_open_intervals,
    make_alert_series,
    make_rule_state,
    update_alerts,
    write_output,
)
from rppsim.guardrails.alerting.grid import (
    BatchUnsupportedError,
    GridContext,
    GridVector,
    ensure_supported,
    evaluate_grid,
    iter_selectors,
    make_scalar_vector,
)
from rppsim.guardrails.alerting.promql import (
    METRIC_NAME,
    STALE,
    Labels,
    Matcher,
    Selector,
    SeriesStore,
    compute_with_labels,
    drop_metric_name,
    get_label,
    parse_expr,
)

__all__ = ["BatchUnsupportedError", "check_rules", "evaluate_rules_batch"]

Span = tuple[int, int, float, int | None]
"""Samples of one value at times[first:stop], then a stale marker at times[stale] (or none)."""


@dataclass
class Written:
    """The series the rules write: all go to the store at the end; those of metric names a
    rule reads are readable by later rules meanwhile."""

    read_names: frozenset[str]
    readable: SeriesStore = field(default_factory=SeriesStore)
    series: dict[Labels, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def add(self, labels: Labels, times: np.ndarray, values: np.ndarray) -> None:
        """One whole series (two alerts whose labels differ only in ``alertstate`` share an
        ALERTS series: the per-step path interleaves their samples)."""
        ensure_supported(labels not in self.series, "two alerts write one series")
        self.series[labels] = (times, values)
        if get_label(labels, METRIC_NAME) in self.read_names:
            self.readable.add(labels, times, values)


def get_written_names(rule: Rule) -> frozenset[str]:
    """The metric names a rule writes into the store."""
    if rule.kind == "record":
        return frozenset({rule.name})
    return frozenset({ALERTS_METRIC, ALERTS_FOR_STATE_METRIC})


def get_read_names(rule: Rule) -> frozenset[str | None]:
    """The metric names a rule's selectors read (None: a selector without one)."""
    return frozenset(selector.name for selector in iter_selectors(parse_expr(rule.expr)))


def check_rules(rules: Sequence[Rule], store: SeriesStore) -> None:
    """BatchUnsupportedError unless evaluating rule by rule over all times equals step by step:
    no rule reads what it or a later rule writes, or reads past its evaluation time, and
    every written series is new and has one writer."""
    recorded = [r.name for r in rules if r.kind == "record"]
    alerts = [r.name for r in rules if r.kind == "alert"]
    ensure_supported(len(set(recorded)) == len(recorded), "two rules record one name")
    ensure_supported(len(set(alerts)) == len(alerts), "two alerting rules share a name")
    ensure_supported(
        not {ALERTS_METRIC, ALERTS_FOR_STATE_METRIC} & set(recorded), "a rule records ALERTS"
    )
    later: set[str] = set()
    for rule in reversed(rules):
        later |= get_written_names(rule)
        for selector in iter_selectors(parse_expr(rule.expr)):
            ensure_supported(selector.name is not None, "a selector without a metric name")
            ensure_supported(
                selector.at is None and selector.offset_ms >= 0, "@ or a negative offset"
            )
            ensure_supported(
                selector.name not in later, "a rule reads what it or a later rule writes"
            )
    for name in later:
        ensure_supported(not has_series(store, name), f"{name} in the input")


def has_series(store: SeriesStore, name: str) -> bool:
    """Whether ``store`` holds a series of metric ``name``."""
    key = ((METRIC_NAME, "=", name),)
    selector = Selector(name, (Matcher(METRIC_NAME, "=", name),), 0, None, key)
    return bool(store.get_block(selector).labels)


def record_grid(state: RuleState, vector: GridVector, written: Written,
                times: np.ndarray) -> None:  # fmt: skip
    """A recording rule's series (engine.compute_recorded and write_output at every time)."""
    vector = drop_absent_rows(vector)
    updates = {METRIC_NAME: state.rule.name, **dict(state.rule.labels)}
    keys = [compute_with_labels(labels, updates) for labels in vector.labels]
    series = merge_rows(keys, vector)
    check_limit(state.limit, [present for _, present in series.values()])
    for labels, (values, present) in series.items():
        written.add(labels, *compute_written_samples(times, values, present))


def drop_absent_rows(vector: GridVector) -> GridVector:
    """The rows present at some time (a rule writes nothing for the others)."""
    live = np.flatnonzero(vector.present.any(axis=1))
    if len(live) == len(vector.labels):
        return vector
    labels = tuple(vector.labels[i] for i in live.tolist())
    return GridVector(labels, vector.values[live], vector.present[live], vector.ordered)


def merge_rows(
    keys: Sequence[Labels], vector: GridVector
) -> dict[Labels, tuple[np.ndarray, np.ndarray]]:
    """(values, present) per new label set; two rows present at once under one label set
    make the per-step path raise."""
    merged: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}
    for key, values, present in zip(keys, vector.values, vector.present, strict=True):
        if key not in merged:
            merged[key] = (values, present)
            continue
        old_values, old_present = merged[key]
        ensure_supported(not (old_present & present).any(), "two elements share a label set")
        merged[key] = (np.where(present, values, old_values), old_present | present)
    return merged


def check_limit(limit: int, presents: Sequence[np.ndarray]) -> None:
    """The group's ``limit`` on series (alerts) per evaluation: the per-step path raises."""
    if limit and presents:
        ensure_supported(not (np.sum(presents, axis=0) > limit).any(), "the group's limit exceeded")


def compute_written_samples(
    times: np.ndarray, values: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A rule's series as the per-step path writes it: its values where present, and a stale
    marker at the first evaluation after each run of presence."""
    stale = np.zeros_like(present)
    stale[1:] = present[:-1] & ~present[1:]
    keep = present | stale
    return times[keep], np.where(present, values, STALE)[keep]


def evaluate_alerts_grid(
    state: RuleState,
    vector: GridVector,
    written: Written,
    times: np.ndarray,
    externals: TemplateData,
) -> list[AlertInterval]:
    """An alerting rule's firings and ALERTS series (engine.update_alerts at every time)."""
    if state.literal_labels is None or state.literal_annotations is None:
        return evaluate_alerts_stepwise(state, vector, written, times, externals)
    vector = drop_absent_rows(vector)
    literal = state.literal_labels
    keys = [compute_with_labels(drop_metric_name(labels), literal) for labels in vector.labels]
    alerts = merge_rows(keys, vector)
    check_limit(state.limit, [present for _, present in alerts.values()])
    intervals = []
    for key, (_, present) in alerts.items():
        intervals.extend(process_alert_runs(state, key, present, written, times))
    return intervals


def find_runs(present: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of every run of True."""
    padded = np.concatenate(([False], present, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])  # a run's first index, then its end
    return list(zip(edges[0::2].tolist(), (edges[1::2] - 1).tolist(), strict=True))


def process_alert_runs(
    state: RuleState, key: Labels, present: np.ndarray, written: Written, times: np.ndarray
) -> list[AlertInterval]:
    """One alert over the grid: each run of presence is pending from its first time, fires
    once active for ``for`` and resolves at the first evaluation after the run."""
    annotations = state.literal_annotations
    assert annotations is not None
    labels = tuple(item for item in key if item[0] != ALERT_NAME)
    pending: list[Span] = []
    firing: list[Span] = []
    for_state: list[Span] = []
    intervals = []
    steps = len(times)
    for first, last in find_runs(present):
        active_ms = int(times[first])
        fire = int(np.searchsorted(times, active_ms + state.rule.for_ms, side="left"))
        after = last + 1 if last + 1 < steps else None
        for_state.append((first, last + 1, float(active_ms // 1000), after))
        if fire > last:
            pending.append((first, last + 1, 1.0, after))
            continue
        if fire > first:
            pending.append((first, fire, 1.0, fire))
        firing.append((fire, last + 1, 1.0, after))
        end_ms = None if after is None else int(times[after])
        interval = AlertInterval(state.rule.name, labels, active_ms, int(times[fire]), end_ms,
                                 ((active_ms, annotations),))  # fmt: skip
        intervals.append(interval)
    for series, spans in zip(make_alert_series(state, key), (pending, firing, for_state),
                             strict=True):  # fmt: skip
        if spans:
            written.add(series, *compute_span_samples(times, spans))
    return intervals


def compute_span_samples(times: np.ndarray, spans: Sequence[Span]) -> tuple[np.ndarray, np.ndarray]:
    """The samples of a series written in spans (see `Span`)."""
    out_times: list[np.ndarray] = []
    out_values: list[np.ndarray] = []
    for first, stop, value, stale in spans:
        out_times.append(times[first:stop])
        out_values.append(np.full(stop - first, value))
        if stale is not None:
            out_times.append(times[stale : stale + 1])
            out_values.append(np.array([STALE]))
    return np.concatenate(out_times), np.concatenate(out_values)


def evaluate_alerts_stepwise(
    state: RuleState,
    vector: GridVector,
    written: Written,
    times: np.ndarray,
    externals: TemplateData,
) -> list[AlertInterval]:
    """The per-step state machine over the grid's elements (templates expanded each step)."""
    intervals = []
    series = SeriesStore()
    try:
        for k, t in enumerate(times.tolist()):
            rows = np.flatnonzero(vector.present[:, k]).tolist()
            samples = [(vector.labels[i], float(vector.values[i, k])) for i in rows]
            intervals.extend(update_alerts(state, samples, t, externals))
            write_output(state, series, compute_alert_series(state, t), t)
    except ValueError as error:
        raise BatchUnsupportedError(str(error)) from error
    for labels, series_times, values in series.get_series():
        written.add(labels, series_times, values)
    return intervals + get_open_intervals(state)


def evaluate_rules_batch(
    groups: Sequence[RuleGroup],
    store: SeriesStore,
    *,
    start_ms: int,
    end_ms: int,
    interval_ms: int,
    external_labels: Mapping[str, str] | None = None,
    external_url: str = "",
) -> RuleEvaluation:
    """`engine.evaluate_rules` rule by rule over all times, with the per-step result; raises
    BatchUnsupportedError, with the store untouched, where it cannot promise that."""
    times = np.arange(start_ms, end_ms + 1, interval_ms, dtype=np.int64)
    ensure_supported(len(times) > 0, "no evaluation time")
    states = [make_rule_state(rule, group.limit) for group in groups for rule in group.rules]
    rules = [state.rule for state in states]
    check_rules(rules, store)
    read = frozenset().union(*map(get_read_names, rules))
    written = Written(frozenset(n for n in read if n is not None))
    names = frozenset().union(*map(get_written_names, rules))
    ctx = GridContext(store, times, written.readable, names)
    ctx.plan(state.node for state in states)
    externals = TemplateData({}, 0.0, dict(external_labels or {}), external_url)
    intervals: list[AlertInterval] = []
    for state in states:
        result = evaluate_grid(state.node, ctx)
        vector = (
            result if isinstance(result, GridVector) else make_scalar_vector(result, len(times))
        )
        if state.rule.kind == "record":
            record_grid(state, vector, written, times)
        else:
            intervals.extend(evaluate_alerts_grid(state, vector, written, times, externals))
    for labels, (series_times, values) in written.series.items():
        store.add(labels, series_times, values)
    intervals.sort(key=lambda i: (i.start_ms, i.name, i.labels))
    return RuleEvaluation(tuple(intervals), tuple(times.tolist()))
