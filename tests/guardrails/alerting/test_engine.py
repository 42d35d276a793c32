"""Rule files and rule-group evaluation: loading checks, the alert state machine, recording."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rppsim.guardrails.alerting.engine import (
    AlertInterval,
    RuleEvaluationError,
    TemplateData,
    compile_template,
    evaluate_rules,
    expand_template,
    format_duration,
    format_go_printf,
    humanize,
    humanize_duration,
    load_rule_files,
    parse_duration,
)
from rppsim.guardrails.alerting.promql import SeriesStore, evaluate_expr, is_stale

M = 60_000


def write_rules(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def gauge(values: list[float | None], step_ms: int = M, **labels: str) -> SeriesStore:
    """A store with one series ``g`` sampled every ``step_ms`` (None: no sample)."""
    store = SeriesStore()
    kept = [(i * step_ms, v) for i, v in enumerate(values) if v is not None]
    store.add({"__name__": "g", **labels}, [t for t, _ in kept], [v for _, v in kept])
    return store


def run(tmp_path: Path, rules: str, store: SeriesStore, end_ms: int, step_ms: int = M):
    groups = load_rule_files([write_rules(tmp_path, rules)])
    return evaluate_rules(groups, store, start_ms=0, end_ms=end_ms, interval_ms=step_ms)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def test_load_rule_files_reads_every_field(tmp_path: Path) -> None:
    path = write_rules(
        tmp_path,
        """
groups:
  - name: g
    interval: 30s
    limit: 5
    rules:
      - record: job:x:sum
        expr: sum by (job) (x)
        labels: {source: rec}
      - alert: XHigh
        expr: job:x:sum > 1
        for: 1h2m
        labels: {severity: page}
        annotations: {summary: "x is {{ $value }}"}
  - name: h
    rules: []
""",
    )
    first, second = load_rule_files([path])
    assert (first.name, first.interval_ms, first.limit, first.source) == ("g", 30_000, 5, str(path))
    record, alert = first.rules
    assert (record.kind, record.name, record.for_ms, record.labels) == (
        "record",
        "job:x:sum",
        0,
        (("source", "rec"),),
    )
    assert (alert.kind, alert.group, alert.for_ms, alert.annotations) == (
        "alert",
        "g",
        3_720_000,
        (("summary", "x is {{ $value }}"),),
    )
    assert (second.name, second.interval_ms, second.rules) == ("h", None, ())


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("alert: A\n        expr: rate(x)", "expr: bad PromQL 'rate(x)'"),
        (
            "alert: A\n        expr: x\n        for: 1.5m",
            "for: expected a duration like 90s or 1h30m",
        ),
        ("alert: A\n        expr: x\n        for: 5", 'in that order), found "5"'),
        ("record: bad name\n        expr: x", "record: expected a metric name"),
        ("alert: A\n        expr: x\n        labels: {severity: 1}", "expected a string value"),
        ("alert: A\n        expr: x\n        labels: {bad-name: x}", "expected a label name"),
        ("alert: A\n        expr: x\n        labels: {__name__: x}", "other than __name__"),
        (
            "alert: A\n        expr: x\n        keep_firing_for: 1m",
            "unknown field 'keep_firing_for'",
        ),
        ("alert: A\n        record: b\n        expr: x", "only one of 'record' and 'alert'"),
        ("record: r\n        expr: x\n        annotations: {a: b}", "annotations: expected none"),
        ("record: r\n        expr: x\n        for: 1m", "for: expected none in a recording rule"),
        ("alert: A", "expr: expected a PromQL expression string, found None"),
        ("alert: A\n        expr: x[5m]", "expected an instant vector or scalar expression"),
        ("alert: A\n        expr: x\n        labels: {a: '{{ $value | nope }}'}", "not supported"),
        ("alert: A\n        expr: x\n        annotations: {a: '{{ $value '}", "unclosed action"),
    ],
)
def test_load_rule_files_names_file_group_rule_and_problem(
    tmp_path: Path, rule: str, problem: str
) -> None:
    path = write_rules(tmp_path, f"groups:\n  - name: grp\n    rules:\n      - {rule}\n")
    with pytest.raises(ValueError) as raised:
        load_rule_files([path])
    message = str(raised.value)
    assert message.startswith(f"{path}: group grp rule ")
    assert problem in message


def test_load_rule_files_checks_groups(tmp_path: Path) -> None:
    repeated = write_rules(tmp_path, "groups:\n  - name: a\n  - name: a\n", "repeated.yaml")
    with pytest.raises(ValueError, match=r"group a: groupname \"a\" is repeated"):
        load_rule_files([repeated])
    unnamed = write_rules(tmp_path, "groups:\n  - rules: []\n", "unnamed.yaml")
    with pytest.raises(ValueError, match="expected a non-empty string name"):
        load_rule_files([unnamed])
    strange = write_rules(tmp_path, "foo: 1\n", "strange.yaml")
    with pytest.raises(ValueError, match="expected a mapping with only 'groups'"):
        load_rule_files([strange])
    empty = write_rules(tmp_path, "", "empty.yaml")
    assert load_rule_files([empty]) == []


def test_durations_follow_prometheus() -> None:
    assert parse_duration("0") == 0
    assert parse_duration(0) == 0
    assert parse_duration("1h30m") == 5_400_000
    assert parse_duration("1d2h3m4s5ms") == 93_784_005
    assert parse_duration("2w") == 14 * 86_400_000
    for bad in ("", "1m1h", "1.5s", "5", "-1m", "1 m"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert [format_duration(ms) for ms in (0, 90_000, 1_500, 86_400_000, 14 * 86_400_000)] == [
        "0s",
        "1m30s",
        "1s500ms",
        "1d",
        "2w",
    ]


# --------------------------------------------------------------------------------------------
# Alert states
# --------------------------------------------------------------------------------------------

HIGH = """
groups:
  - name: g
    rules:
      - alert: High
        expr: g > 5
        for: 2m
        labels: {severity: warning}
"""


def test_alert_is_pending_for_its_duration_then_fires_then_resolves(tmp_path: Path) -> None:
    #              0  1  2  3  4  5  6  7  8 (minutes)
    store = gauge([1, 9, 9, 9, 9, 1, 9, 9, 9])
    result = run(tmp_path, HIGH, store, 8 * M)
    labels = (("severity", "warning"),)
    # Active at 1m, firing from 3m (2m later), gone at 5m; active again at 6m, firing at 8m.
    assert result.intervals == (
        AlertInterval("High", labels, 1 * M, 3 * M, 5 * M, ((1 * M, ()),)),
        AlertInterval("High", labels, 6 * M, 8 * M, None, ((6 * M, ()),)),
    )
    assert result.eval_times_ms == tuple(range(0, 9 * M, M))
    assert result.firing_at(2 * M + 59_999) == set()
    assert result.firing_at(3 * M) == {("High", labels)}
    assert result.firing_at(4 * M + 59_999) == {("High", labels)}
    assert result.firing_at(5 * M) == set()
    assert result.firing_at(8 * M) == {("High", labels)}


def test_pending_alert_that_disappears_never_fires(tmp_path: Path) -> None:
    store = gauge([9, 9, 1, 9, 9, 1])
    assert run(tmp_path, HIGH, store, 5 * M).intervals == ()


def test_for_zero_fires_at_the_first_evaluation(tmp_path: Path) -> None:
    rules = HIGH.replace("for: 2m", "for: 0s")
    result = run(tmp_path, rules, gauge([9, 1, 1]), 2 * M)
    assert [(i.active_ms, i.start_ms, i.end_ms) for i in result.intervals] == [(0, 0, M)]


def test_series_labels_plus_rule_labels_make_the_alert(tmp_path: Path) -> None:
    rules = """
groups:
  - name: g
    rules:
      - alert: High
        expr: g > 5
        labels: {team: "t-{{ $labels.host }}", host: "", alertname: ignored}
        annotations:
          summary: "{{ $labels.host }} at {{ $value }}"
          empty: "{{ $labels.nope }}"
"""
    store = gauge([9, 7], host="a", zone="z")
    (interval,) = run(tmp_path, rules, store, M).intervals
    # __name__ goes, an empty rule label deletes, alertname is the rule's name (not a label).
    assert interval.labels == (("team", "t-a"), ("zone", "z"))
    assert interval.annotations == (
        (0, (("summary", "a at 9"),)),
        (M, (("summary", "a at 7"),)),
    )
    assert interval.get_annotations_at(30_000) == (("summary", "a at 9"),)


def test_value_in_a_label_makes_a_new_alert_each_time(tmp_path: Path) -> None:
    rules = HIGH.replace("severity: warning", "v: '{{ $value }}'")
    result = run(tmp_path, rules, gauge([9, 9, 8, 8, 8]), 4 * M)
    assert [(dict(i.labels)["v"], i.start_ms) for i in result.intervals] == [("8", 4 * M)]


def test_scalar_result_is_always_one_alert_without_series_labels(tmp_path: Path) -> None:
    rules = HIGH.replace("expr: g > 5", "expr: time() / 60")
    result = run(tmp_path, rules, SeriesStore(), 3 * M)
    assert [(i.labels, i.active_ms, i.start_ms, i.end_ms) for i in result.intervals] == [
        ((("severity", "warning"),), 0, 2 * M, None)
    ]


def test_duplicate_alert_labels_are_an_error(tmp_path: Path) -> None:
    rules = HIGH.replace("expr: g > 5", "expr: '{__name__=~\"g|h\"} > 5'")
    store = gauge([9])
    store.add({"__name__": "h"}, [0], [9.0])
    with pytest.raises(RuleEvaluationError, match=r"rule High: at 0 ms: .*same labelset"):
        run(tmp_path, rules, store, 0)


def test_group_limit_is_enforced(tmp_path: Path) -> None:
    rules = HIGH.replace("rules:", "limit: 1\n    rules:").replace("g > 5", "g > 5 or g * 0 + 6")
    store = gauge([9], a="1")
    store.add({"__name__": "g", "a": "2"}, [0], [9.0])
    with pytest.raises(RuleEvaluationError, match="exceeded limit of 1 with 2 alerts"):
        run(tmp_path, rules, store, 0)


def test_alerts_series_are_written(tmp_path: Path) -> None:
    store = gauge([9, 9, 9])
    run(tmp_path, HIGH, store, 2 * M)
    at = {
        state: evaluate_expr(f'ALERTS{{alertstate="{state}"}}', store, 2 * M)
        for state in ("pending", "firing")
    }
    assert [list(v) for v in at.values()] == [
        [],
        [(
            (("__name__", "ALERTS"), ("alertname", "High"), ("alertstate", "firing"),
             ("severity", "warning")),
            1.0,
        )],
    ]  # fmt: skip
    pending_times, pending_values = store.get_samples(
        {"__name__": "ALERTS", "alertname": "High", "alertstate": "pending", "severity": "warning"}
    )
    assert pending_times.tolist() == [0, M, 2 * M]
    assert is_stale(float(pending_values[-1]))
    assert evaluate_expr("ALERTS_FOR_STATE", store, 2 * M).as_dict() == {  # type: ignore[union-attr]
        (("__name__", "ALERTS_FOR_STATE"), ("alertname", "High"), ("severity", "warning")): 0.0
    }


# --------------------------------------------------------------------------------------------
# Recording rules
# --------------------------------------------------------------------------------------------


def test_recorded_samples_are_visible_to_later_rules_at_the_same_time(tmp_path: Path) -> None:
    rules = """
groups:
  - name: g
    rules:
      - alert: SeesPrevious
        expr: doubled > 10
      - record: doubled
        expr: g * 2
        labels: {source: rec}
      - alert: SeesCurrent
        expr: doubled > 10
"""
    store = gauge([1, 6, 6])
    result = run(tmp_path, rules, store, 2 * M)
    starts = {i.name: i.start_ms for i in result.intervals}
    assert starts == {"SeesCurrent": M, "SeesPrevious": 2 * M}
    times, values = store.get_samples({"__name__": "doubled", "source": "rec"})
    assert times.tolist() == [0, M, 2 * M]
    assert values.tolist() == [2.0, 12.0, 12.0]


def test_recorded_series_that_disappears_gets_a_stale_marker(tmp_path: Path) -> None:
    rules = """
groups:
  - name: g
    rules:
      - record: positive
        expr: g > 0
"""
    store = gauge([1, 2, -1, 3])
    run(tmp_path, rules, store, 3 * M)
    times, values = store.get_samples({"__name__": "positive"})
    assert times.tolist() == [0, M, 2 * M, 3 * M]
    assert is_stale(float(values[2])) and values[3] == 3.0
    # Without the marker the 5-minute lookback would still show 2 at 2m.
    assert list(evaluate_expr("positive", store, 2 * M)) == []


def test_recording_scalar_and_rule_labels(tmp_path: Path) -> None:
    rules = """
groups:
  - name: g
    rules:
      - record: now
        expr: time()
        labels: {kind: clock}
"""
    store = SeriesStore()
    run(tmp_path, rules, store, M)
    assert store.get_samples({"__name__": "now", "kind": "clock"})[1].tolist() == [0.0, 60.0]


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


def expand(text: str, value: float = 0.0, **labels: str) -> str:
    return expand_template(compile_template(text), TemplateData(labels, value))


def test_templates_print_like_go() -> None:
    assert expand("{{ $value }}", 1234567.0) == "1.234567e+06"
    assert expand("{{ .Value }}/{{ .Labels.a }}", 0.5, a="x") == "0.5/x"
    assert expand("[{{ $labels.missing }}]") == "[]"
    assert expand("{{ $value | humanize }}", 0.00123) == "1.23m"
    assert expand("{{ humanizePercentage $value }}", 0.256) == "25.6%"
    assert expand("{{ $value | humanizeDuration }}", 93784.0) == "1d 2h 3m 4s"
    assert expand('{{ printf "%.2f%%" $value }}', 3.14159) == "3.14%"
    assert expand('{{ $labels.a | printf "<%s>" }}', a="q") == "<q>"
    assert expand("{{ $labels.a | toUpper }}", a="q") == "Q"
    assert expand("a  {{- $value -}}  b", 1.0) == "a1b"
    assert expand("{{ $value }}", math.nan) == "NaN"


def test_go_formatting_helpers() -> None:
    assert [humanize(v) for v in (0.0, 1000.0, 1234567.0, -0.5)] == ["0", "1k", "1.235M", "-500m"]
    assert humanize_duration(0.5) == "500ms"
    assert humanize_duration(59.5) == "59.5s"
    assert format_go_printf("%d", [1.0]) == "%!d(float64=1)"
    assert format_go_printf("%v %v", [1.0]) == "1 %!v(MISSING)"
    assert format_go_printf("%5.1f|%-4s|", [2.25, "ab"]) == "  2.2|ab  |"


@pytest.mark.parametrize(
    "text", ["{{ $x := 1 }}", "{{ range .Labels }}", "{{ $value", "{{ len $labels }}"]
)
def test_unsupported_templates_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="template"):
        compile_template(text)
