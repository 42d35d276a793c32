"""promtool unit-test files: read them, check them with our engine, write them, run promtool.

The format is promtool 2.42's (``promtool test rules``), whose details we checked against
the real binary:

- ``input_series`` values use the expanding notation: ``a+bxn`` and ``a-bxn`` give n + 1
  values by repeated addition (so ``0.1+0.1x2`` accumulates rounding as Go does), ``axn``
  gives n + 1 copies, ``_`` is a missing sample and ``_xn`` n missing samples, ``stale`` a
  stale marker; sample i is at time i × ``interval``. ``evaluation_interval`` defaults to
  1m, but ``interval`` has no default: left out it is 0, every sample lands at time 0 and
  only the first is kept (so always give it);
- rules are evaluated at every ``evaluation_interval`` from 0 up to the largest
  ``eval_time`` of the group, and input samples after the last of those evaluations are
  never loaded (an expression test at 19m30s with a 1m interval sees samples up to 19m);
  an alert test at ``eval_time`` sees the evaluation at or just before it;
- groups run in ``group_eval_order``, and otherwise in Go's map order (random), so a rule
  reading another group's record at the same time needs ``group_eval_order``;
- ``exp_alerts`` compares only firing alerts, labels (``alertname`` added by promtool) and
  annotations both exactly, so every annotation the rule has must be listed;
- ``exp_samples`` compares label sets and values with exact float equality (NaN never
  matches); a scalar result is one sample with labels ``{}``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import promql_parser as pp
import yaml

from rppsim.guardrails.alerting.engine import (
    ALERT_NAME,
    ALERTS_FOR_STATE_METRIC,
    ALERTS_METRIC,
    RuleEvaluation,
    RuleGroup,
    evaluate_rules,
    format_duration,
    load_rule_files,
    parse_duration,
)
from rppsim.guardrails.alerting.promql import (
    METRIC_NAME,
    STALE,
    InstantVector,
    Labels,
    SeriesStore,
    compute_labels,
    evaluate_expr,
    format_labels,
    is_stale,
    is_valid_metric_name,
)

DEFAULT_EVALUATION_INTERVAL_MS = 60_000
PROMTOOL_TIMEOUT_S = 120

_UNSIGNED = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_ITEM_RE = re.compile(rf"(?P<a>[+-]?{_UNSIGNED})(?:(?P<b>[+-]{_UNSIGNED})?x(?P<n>\d+))?")
_SPECIAL_VALUES = {"stale": STALE, "NaN": math.nan, "Inf": math.inf, "+Inf": math.inf}
_SPECIAL_VALUES |= {"-Inf": -math.inf}
_BLANK_RE = re.compile(r"_(?:x(?P<n>\d+))?")
_FILE_KEYS = frozenset({"rule_files", "evaluation_interval", "group_eval_order", "tests"})
_GROUP_KEYS = frozenset(
    {"interval", "input_series", "alert_rule_test", "promql_expr_test", "external_labels", "name"}
    | {"external_url"}
)


# --------------------------------------------------------------------------------------------
# The file model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputSeries:
    """One input series: its labels and values in the expanding notation."""

    series: str
    values: str


@dataclass(frozen=True)
class ExpectedAlert:
    """One expected firing alert (labels without ``alertname``)."""

    labels: Labels
    annotations: Labels


@dataclass(frozen=True)
class AlertRuleTest:
    """The firing alerts one alert name should have at ``eval_time_ms``."""

    eval_time_ms: int
    alertname: str
    exp_alerts: tuple[ExpectedAlert, ...]


@dataclass(frozen=True)
class ExpectedSample:
    """One expected sample of a PromQL test."""

    labels: Labels
    value: float


@dataclass(frozen=True)
class PromqlExprTest:
    """The result an expression should have at ``eval_time_ms``."""

    expr: str
    eval_time_ms: int
    exp_samples: tuple[ExpectedSample, ...]


@dataclass(frozen=True)
class TestGroup:
    """One entry of ``tests``: input series and the checks over them."""

    interval_ms: int
    input_series: tuple[InputSeries, ...]
    alert_rule_tests: tuple[AlertRuleTest, ...] = ()
    promql_expr_tests: tuple[PromqlExprTest, ...] = ()
    external_labels: Labels = ()
    name: str = ""
    external_url: str = ""


@dataclass(frozen=True)
class PromtoolTest:
    """A promtool unit-test file; ``rule_files`` are resolved against the file's directory."""

    path: Path
    rule_files: tuple[Path, ...]
    evaluation_interval_ms: int
    tests: tuple[TestGroup, ...]
    group_eval_order: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_promtool_test(path: str | Path) -> PromtoolTest:
    """Read a promtool test file (ValueError naming the file and key when it is malformed)."""
    file = Path(path)
    raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict) or set(raw) - _FILE_KEYS:
        found = sorted(set(raw) - _FILE_KEYS) if isinstance(raw, dict) else raw
        raise ValueError(f"{file}: expected keys {sorted(_FILE_KEYS)}, found {found}")
    evaluation_ms = _get_duration(raw, "evaluation_interval", DEFAULT_EVALUATION_INTERVAL_MS, file)
    rule_files = tuple(_resolve(file.parent, str(p)) for p in raw.get("rule_files") or [])
    tests = tuple(
        _read_group(g, evaluation_ms, f"{file}: tests[{i}]")
        for i, g in enumerate(raw.get("tests") or [])
    )
    order = tuple(str(name) for name in raw.get("group_eval_order") or [])
    return PromtoolTest(file, rule_files, evaluation_ms, tests, order)


def _resolve(base: Path, rule_file: str) -> Path:
    path = Path(rule_file)
    return path if path.is_absolute() else base / path


def _get_duration(raw: Mapping[str, object], key: str, default: int, where: object) -> int:
    value = raw.get(key)
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError as error:
        raise ValueError(f"{where}: {key}: {error}") from None


def _read_group(raw: object, evaluation_ms: int, where: str) -> TestGroup:
    if not isinstance(raw, dict) or set(raw) - _GROUP_KEYS:
        found = sorted(set(raw) - _GROUP_KEYS) if isinstance(raw, dict) else raw
        raise ValueError(f"{where}: expected keys {sorted(_GROUP_KEYS)}, found {found}")
    interval = _get_duration(raw, "interval", 0, where)
    series = tuple(
        InputSeries(str(s["series"]), str(s.get("values", "")))
        for s in raw.get("input_series") or []
    )
    alerts = tuple(_read_alert_test(a, where) for a in raw.get("alert_rule_test") or [])
    exprs = tuple(_read_expr_test(e, where) for e in raw.get("promql_expr_test") or [])
    external = compute_labels(
        {str(k): str(v) for k, v in (raw.get("external_labels") or {}).items()}
    )
    name, url = str(raw.get("name") or ""), str(raw.get("external_url") or "")
    return TestGroup(interval, series, alerts, exprs, external, name, url)


def _read_alert_test(raw: Mapping[str, object], where: str) -> AlertRuleTest:
    alertname = raw.get("alertname")
    if not alertname:
        raise ValueError(f"{where}: alert_rule_test: expected an alertname, found none")
    expected = []
    for item in raw.get("exp_alerts") or []:  # type: ignore[attr-defined]  # a YAML list
        labels = {str(k): str(v) for k, v in (item.get("exp_labels") or {}).items()}
        labels.pop(ALERT_NAME, None)
        annotations = {str(k): str(v) for k, v in (item.get("exp_annotations") or {}).items()}
        expected.append(ExpectedAlert(_sorted(labels), _sorted(annotations)))
    eval_ms = _get_duration(raw, "eval_time", 0, where)
    return AlertRuleTest(eval_ms, str(alertname), tuple(expected))


def _sorted(mapping: Mapping[str, str]) -> Labels:
    return tuple(sorted(mapping.items()))


def _read_expr_test(raw: Mapping[str, object], where: str) -> PromqlExprTest:
    samples = tuple(
        ExpectedSample(parse_metric(str(s.get("labels") or "")), float(s.get("value", 0)))
        for s in raw.get("exp_samples") or []  # type: ignore[attr-defined]  # a YAML list
    )
    eval_ms = _get_duration(raw, "eval_time", 0, where)
    return PromqlExprTest(str(raw["expr"]), eval_ms, samples)


def parse_metric(text: str) -> Labels:
    """parser.ParseMetric: ``name{a="b"}``, ``{a="b"}``, ``{}`` or empty (no labels)."""
    stripped = text.strip()
    if stripped in ("", "{}"):
        return ()
    try:
        node = pp.parse(stripped)
    except ValueError as error:
        raise ValueError(f"labels {text!r}: {error}") from None
    if not isinstance(node, pp.VectorSelector) or node.offset or node.at:
        raise ValueError(f"labels {text!r}: expected a series description")
    labels = {METRIC_NAME: node.name} if node.name else {}
    for matcher in node.matchers.matchers:
        if str(matcher.op).rpartition(".")[2] != "Equal":
            raise ValueError(f"labels {text!r}: expected only = matchers")
        labels[matcher.name] = matcher.value
    return tuple(sorted(labels.items()))


def compute_series_values(text: str) -> list[float | None]:
    """Expand promtool's value notation; None is a missing sample, STALE a stale marker."""
    out: list[float | None] = []
    for token in text.split():
        blank = _BLANK_RE.fullmatch(token)
        if blank is not None:
            out.extend([None] * (int(blank.group("n")) if blank.group("n") else 1))
            continue
        if token in _SPECIAL_VALUES:
            out.append(_SPECIAL_VALUES[token])
            continue
        item = _ITEM_RE.fullmatch(token)
        if item is None:
            raise ValueError(f"series values {text!r}: cannot read {token!r}")
        first = float(item.group("a"))
        if item.group("n") is None:
            out.append(first)
            continue
        step = float(item.group("b")) if item.group("b") else 0.0
        value = first
        for _ in range(int(item.group("n")) + 1):
            out.append(value)
            value += step
    return out


def build_store(group: TestGroup, until_ms: int | None = None) -> SeriesStore:
    """The group's input series as a store: sample i at i × interval, up to ``until_ms``.

    promtool loads samples only up to its last evaluation step (the largest ``eval_time``
    rounded down to the evaluation interval), so no query sees later samples.
    """
    store = SeriesStore()
    for series in group.input_series:
        labels = parse_metric(series.series)
        values = compute_series_values(series.values)
        kept = [
            (i * group.interval_ms, v)
            for i, v in enumerate(values)
            if v is not None and (until_ms is None or i * group.interval_ms <= until_ms)
        ]
        if group.interval_ms == 0:
            kept = kept[:1]  # the rest repeat time 0 and are dropped as duplicates
        store.add(labels, [t for t, _ in kept], [v for _, v in kept])
    return store


# --------------------------------------------------------------------------------------------
# Checking with our engine
# --------------------------------------------------------------------------------------------


def check_with_engine(test: PromtoolTest) -> list[str]:
    """The failures our engine finds in ``test``, worded like promtool's (empty: passes)."""
    groups = order_groups(load_rule_files(test.rule_files), test.group_eval_order)
    failures = []
    for group in test.tests:
        failures.extend(check_group(group, groups, test.evaluation_interval_ms))
    return failures


def order_groups(groups: list[RuleGroup], order: Sequence[str]) -> list[RuleGroup]:
    """Groups named in ``group_eval_order`` first, in that order, then the rest as loaded."""
    rank = {name: i for i, name in enumerate(order)}
    return sorted(groups, key=lambda g: rank.get(g.name, len(rank)))


def check_group(group: TestGroup, rule_groups: list[RuleGroup], evaluation_ms: int) -> list[str]:
    """The failures of one test group."""
    max_ms = max(
        [a.eval_time_ms for a in group.alert_rule_tests]
        + [e.eval_time_ms for e in group.promql_expr_tests]
        + [0]
    )
    store = build_store(group, max_ms - max_ms % evaluation_ms)
    try:
        evaluation = evaluate_rules(
            rule_groups, store, start_ms=0, end_ms=max_ms, interval_ms=evaluation_ms,
            external_labels=dict(group.external_labels), external_url=group.external_url,
        )  # fmt: skip
    except ValueError as error:
        return [f"    rule evaluation failed: {error}"]
    failures = [f for t in group.alert_rule_tests if (f := check_alerts(t, evaluation))]
    failures += [f for t in group.promql_expr_tests if (f := check_expr(t, store, evaluation_ms))]
    prefix = f"    name: {group.name},\n" if group.name else ""
    return [prefix + f for f in failures]


def check_alerts(test: AlertRuleTest, evaluation: RuleEvaluation) -> str:
    """The failure message of one alert test ("" when it passes)."""
    got = sorted(
        (i.labels, i.get_annotations_at(test.eval_time_ms))
        for i in evaluation.get_firing_intervals(test.eval_time_ms)
        if i.name == test.alertname
    )
    expected = sorted((a.labels, a.annotations) for a in test.exp_alerts)
    if got == expected:
        return ""
    return (
        f"    alertname: {test.alertname}, time: {format_duration(test.eval_time_ms)},\n"
        f"        exp: {_format_alerts(test.alertname, expected)},\n"
        f"        got: {_format_alerts(test.alertname, got)}"
    )


def _format_alerts(name: str, alerts: list[tuple[Labels, Labels]]) -> str:
    shown = [
        f"Labels:{format_labels(tuple(sorted((*labels, (ALERT_NAME, name)))))} "
        f"Annotations:{format_labels(annotations)}"
        for labels, annotations in alerts
    ]
    return "[" + "; ".join(shown) + "]"


def check_expr(test: PromqlExprTest, store: SeriesStore, evaluation_ms: int) -> str:
    """The failure message of one PromQL test ("" when it passes).

    A subquery without a step steps by the evaluation interval, as in promtool.
    """
    where = f"    expr: {json.dumps(test.expr)}, time: {format_duration(test.eval_time_ms)},"
    try:
        result = evaluate_expr(test.expr, store, test.eval_time_ms, subquery_step_ms=evaluation_ms)
    except ValueError as error:
        return f"{where} err: {error}"
    got: list[tuple[Labels, float]] = (
        list(result) if isinstance(result, InstantVector) else [((), result)]
    )
    got.sort(key=lambda s: s[0])
    expected = sorted(((s.labels, s.value) for s in test.exp_samples), key=lambda s: s[0])
    same = len(got) == len(expected) and all(
        g[0] == e[0] and g[1] == e[1] for g, e in zip(got, expected, strict=True)
    )
    if same:
        return ""
    return f"{where}\n        exp: {_format_samples(expected)}\n        got: {_format_samples(got)}"


def _format_samples(samples: list[tuple[Labels, float]]) -> str:
    if not samples:
        return "nil"
    return ", ".join(f"{format_labels(labels)} {value!r}" for labels, value in samples)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

ExpectedItem = Mapping[str, str] | tuple[Mapping[str, str], Mapping[str, str]]


def write_promtool_test(
    path: str | Path,
    *,
    rule_files: Sequence[str | Path],
    store: SeriesStore,
    interval_ms: int,
    evaluation_interval_ms: int,
    alert_checks: Sequence[tuple[int, str, Sequence[ExpectedItem]]],
    expr_checks: Sequence[tuple[int, str, Sequence[tuple[Mapping[str, str], float]]]] = (),
) -> Path:
    """Write ``store`` (the input series, before `evaluate_rules` adds to it) and the checks.

    Series are sampled on the ``interval_ms`` grid from 0 (a missing sample is ``_``); a
    sample off the grid or before 0 raises ValueError, as does a series a rule records
    (promtool would record it again). Each expected alert is its labels (without
    ``alertname``) or a (labels, annotations) pair. ``group_eval_order`` lists the groups
    in file order (when their names are unique), so promtool evaluates them in our order
    rather than in Go's map order.
    """
    file = Path(path)
    if interval_ms <= 0 or evaluation_interval_ms <= 0:
        raise ValueError("interval_ms and evaluation_interval_ms must be positive")
    groups = load_rule_files(rule_files)
    produced = get_produced_names(groups)
    series = [_format_input_series(s, interval_ms, produced) for s in store.get_series()]
    names = [g.name for g in groups]
    document: dict[str, object] = {
        "rule_files": [_relative_path(Path(p), file.parent) for p in rule_files],
        "evaluation_interval": format_duration(evaluation_interval_ms),
    }
    if len(set(names)) == len(names):
        document["group_eval_order"] = names
    document |= {
        "tests": [
            {
                "interval": format_duration(interval_ms),
                "input_series": series,
                "alert_rule_test": [_format_alert_check(*c) for c in alert_checks],
                "promql_expr_test": [_format_expr_check(*c) for c in expr_checks],
            }
        ],
    }
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    file.write_text(text, encoding="utf-8")
    return file


def get_produced_names(groups: Sequence[RuleGroup]) -> frozenset[str]:
    """Metric names the rules write: recorded names, plus ALERTS when there are alerts."""
    names = {r.name for g in groups for r in g.rules if r.kind == "record"}
    if any(r.kind == "alert" for g in groups for r in g.rules):
        names |= {ALERTS_METRIC, ALERTS_FOR_STATE_METRIC}
    return frozenset(names)


def _relative_path(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), base.resolve())
    except ValueError:
        return str(path.resolve())


def _format_input_series(
    series: tuple[Labels, np.ndarray, np.ndarray], interval_ms: int, produced: frozenset[str]
) -> dict[str, str]:
    labels, times, values = series
    name = dict(labels).get(METRIC_NAME, "")
    if name in produced:
        raise ValueError(f"series {format_labels(labels)}: a rule produces {name}; pass the input")
    if len(times) and (int(times.min()) < 0 or bool(np.any(times % interval_ms))):
        raise ValueError(f"series {format_labels(labels)}: times must lie on the grid from 0")
    slots: list[str] = ["_"] * (int(times.max()) // interval_ms + 1 if len(times) else 0)
    for t, v in zip(times.tolist(), values.tolist(), strict=True):
        slots[t // interval_ms] = format_series_value(v)
    return {"series": format_series_labels(labels), "values": compress_values(slots)}


def format_series_labels(labels: Labels) -> str:
    """A series description promtool reads back: ``name{a="b"}`` or ``{__name__="x"}``."""
    mapping = dict(labels)
    for value in mapping.values():
        if "\n" in value:
            raise ValueError(f"series {format_labels(labels)}: promtool cannot read a newline")
    name = mapping.get(METRIC_NAME, "")
    if name and is_valid_metric_name(name):
        rest = tuple(i for i in labels if i[0] != METRIC_NAME)
        return name + (format_labels(rest) if rest else "")
    return format_labels(labels)


def format_series_value(value: float) -> str:
    """One value in the notation: shortest round-trip repr, ``stale``, ``NaN``, ``±Inf``."""
    if is_stale(value):
        return "stale"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return repr(float(value)).removesuffix(".0") if float(value).is_integer() else repr(value)


def compress_values(slots: list[str]) -> str:
    """Runs of a number as ``vxn`` (n + 1 copies), of blanks as ``_xn`` (n blanks).

    promtool repeats numbers only: ``stale``, ``NaN`` and ``Inf`` are written out each time.
    """
    out = []
    i = 0
    while i < len(slots):
        j = i
        while j + 1 < len(slots) and slots[j + 1] == slots[i]:
            j += 1
        run = j - i + 1
        if slots[i] == "_":
            out.append("_" if run == 1 else f"_x{run}")
        elif slots[i] in _SPECIAL_VALUES:
            out.extend([slots[i]] * run)
        else:
            out.append(slots[i] if run == 1 else f"{slots[i]}x{run - 1}")
        i = j + 1
    return " ".join(out)


def _format_alert_check(
    t_ms: int, alertname: str, expected: Sequence[ExpectedItem]
) -> dict[str, object]:
    if t_ms < 0:
        raise ValueError(f"alert check at {t_ms} ms: promtool times start at 0")
    items = []
    for item in expected:
        labels, annotations = (item, {}) if isinstance(item, Mapping) else item
        entry: dict[str, object] = {
            "exp_labels": {k: v for k, v in sorted(labels.items()) if k != ALERT_NAME}
        }
        if annotations:
            entry["exp_annotations"] = dict(sorted(annotations.items()))
        items.append(entry)
    return {"eval_time": format_duration(t_ms), "alertname": alertname, "exp_alerts": items}


def _format_expr_check(
    t_ms: int, expr: str, expected: Sequence[tuple[Mapping[str, str], float]]
) -> dict[str, object]:
    samples = [
        {"labels": format_series_labels(compute_labels(labels)), "value": float(value)}
        for labels, value in expected
    ]
    return {"expr": expr, "eval_time": format_duration(t_ms), "exp_samples": samples}


def compute_alert_checks(
    evaluation: RuleEvaluation, times_ms: Sequence[int], alertnames: Sequence[str]
) -> list[tuple[int, str, list[tuple[dict[str, str], dict[str, str]]]]]:
    """Alert checks for `write_promtool_test` from an evaluation: what fires, with annotations."""
    checks = []
    for t in times_ms:
        firing = evaluation.get_firing_intervals(t)
        for name in alertnames:
            expected = [
                (dict(i.labels), dict(i.get_annotations_at(t))) for i in firing if i.name == name
            ]
            checks.append((t, name, expected))
    return checks


# --------------------------------------------------------------------------------------------
# Running promtool
# --------------------------------------------------------------------------------------------


def get_promtool() -> str | None:
    """The promtool on PATH, or None."""
    return shutil.which("promtool")


def run_promtool(path: str | Path) -> tuple[bool, str]:
    """``promtool test rules <path>``: (passed, stdout and stderr)."""
    promtool = get_promtool()
    if promtool is None:
        raise FileNotFoundError("promtool is not on PATH (Debian package prometheus)")
    done = subprocess.run(
        [promtool, "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT_S,
        check=False,
    )
    return done.returncode == 0, done.stdout + done.stderr
