"""promtool unit-test files, and our engine held to promtool 2.42 itself.

The tests marked ``promtool`` run Prometheus' real ``promtool test rules``: every fixture
under ``fixtures/`` must pass both promtool and `check_with_engine`; a deliberately wrong
file must fail both on the same checks; and on random series promtool must accept the
alerts our engine says fire.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.guardrails.alerting.engine import evaluate_rules, load_rule_files
from rppsim.guardrails.alerting.promql import STALE, SeriesStore, is_stale
from rppsim.guardrails.alerting.promtest import (
    build_store,
    check_with_engine,
    compress_values,
    compute_alert_checks,
    compute_series_values,
    format_series_labels,
    get_promtool,
    parse_metric,
    read_promtool_test,
    run_promtool,
    write_promtool_test,
)

FIXTURES = Path(__file__).with_name("fixtures")
AGREEING = sorted(
    p for p in FIXTURES.glob("*.test.yaml") if p.name != "wrong_expectation.test.yaml"
)
WRONG = FIXTURES / "wrong_expectation.test.yaml"
PROPERTY_RULES = FIXTURES / "property.rules.yaml"

needs_promtool = pytest.mark.skipif(
    get_promtool() is None, reason="promtool not on PATH (install Debian's prometheus package)"
)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-2+4x3", [-2.0, 2.0, 6.0, 10.0]),
        ("1-2x4", [1.0, -1.0, -3.0, -5.0, -7.0]),
        ("1x4", [1.0] * 5),
        ("1 _x3 stale", [1.0, None, None, None, STALE]),
        ("_ 1e3 -1.5e-1 .5 Inf -Inf", [None, 1000.0, -0.15, 0.5, np.inf, -np.inf]),
        ("0.1+0.1x2", [0.1, 0.2, 0.30000000000000004]),  # Go's repeated addition
    ],
)
def test_compute_series_values_expands_promtools_notation(text: str, expected: list) -> None:
    got = compute_series_values(text)
    assert len(got) == len(expected)
    for value, want in zip(got, expected, strict=True):
        if want is STALE:
            assert value is not None and is_stale(value)
        else:
            assert value == want


@pytest.mark.parametrize("bad", ["stalex2", "NaNx1", "1x", "abc", "1+x2"])
def test_compute_series_values_rejects_what_promtool_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        compute_series_values(bad)


def test_parse_metric() -> None:
    assert parse_metric("") == ()
    assert parse_metric("{}") == ()
    assert parse_metric('up{job="a", b="c"}') == (("__name__", "up"), ("b", "c"), ("job", "a"))
    assert parse_metric('{__name__="x:y"}') == (("__name__", "x:y"),)
    with pytest.raises(ValueError, match="only = matchers"):
        parse_metric('up{job=~"a"}')


def test_read_promtool_test_resolves_files_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "rule_files: [r.yaml, /abs/r.yaml]\n"
        "tests:\n"
        "  - input_series:\n"
        "      - series: up\n"
        "        values: 1 2\n"
        "    alert_rule_test:\n"
        "      - eval_time: 90s\n"
        "        alertname: A\n"
        "        exp_alerts:\n"
        "          - exp_labels: {alertname: A, b: c}\n"
        "    promql_expr_test:\n"
        "      - expr: up\n"
        "        exp_samples:\n"
        "          - labels: up\n"
        "            value: 2\n"
    )
    test = read_promtool_test(path)
    assert test.rule_files == (tmp_path / "r.yaml", Path("/abs/r.yaml"))
    assert test.evaluation_interval_ms == 60_000
    (group,) = test.tests
    assert group.interval_ms == 0  # no default: every sample at 0, the first one kept
    assert group.alert_rule_tests[0].eval_time_ms == 90_000
    assert group.alert_rule_tests[0].exp_alerts[0].labels == (("b", "c"),)
    assert group.promql_expr_tests[0].exp_samples[0].labels == (("__name__", "up"),)
    assert build_store(group).get_samples({"__name__": "up"})[1].tolist() == [1.0]
    spaced = replace(group, interval_ms=60_000)
    assert build_store(spaced).get_samples({"__name__": "up"})[0].tolist() == [0, 60_000]
    assert build_store(spaced, until_ms=59_999).get_samples({"__name__": "up"})[0].tolist() == [0]
    bad = tmp_path / "bad.yaml"
    bad.write_text("rule_files: []\nunknown: 1\n")
    with pytest.raises(ValueError, match="unknown"):
        read_promtool_test(bad)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def test_write_then_read_gives_back_the_store(tmp_path: Path) -> None:
    store = SeriesStore()
    store.add({"__name__": "c", "job": 'a b"c'}, [0, 15_000, 30_000, 60_000], [1.0, 1.0, 1.0, 0.1])
    store.add({"__name__": "g"}, [15_000, 30_000, 45_000], [STALE, np.nan, 1e-300])
    store.add({"__name__": "odd-name"}, [0], [-0.0])
    path = write_promtool_test(
        tmp_path / "t.yaml",
        rule_files=[FIXTURES / "rate.rules.yaml"],
        store=store,
        interval_ms=15_000,
        evaluation_interval_ms=30_000,
        alert_checks=[(90_000, "CounterReset", [{"instance": "1"}])],
        expr_checks=[(30_000, "g", [])],
    )
    test = read_promtool_test(path)
    assert test.rule_files[0].resolve() == (FIXTURES / "rate.rules.yaml").resolve()
    assert test.evaluation_interval_ms == 30_000
    (group,) = test.tests
    assert [s.values for s in group.input_series] == ["1x2 _ 0.1", "_ stale NaN 1e-300", "-0"]
    back = build_store(group)
    for (labels, times, values), (labels2, times2, values2) in zip(store, back, strict=True):
        assert labels == labels2
        assert times.tolist() == times2.tolist()
        assert values.view(np.uint64).tolist() == values2.view(np.uint64).tolist()
    assert group.alert_rule_tests[0].exp_alerts[0].labels == (("instance", "1"),)


def test_write_rejects_what_promtool_cannot_read(tmp_path: Path) -> None:
    kwargs = {
        "rule_files": [FIXTURES / "rate.rules.yaml"],
        "interval_ms": 15_000,
        "evaluation_interval_ms": 60_000,
        "alert_checks": [],
    }
    off_grid = SeriesStore()
    off_grid.add({"__name__": "x"}, [0, 20_000], [1.0, 2.0])
    with pytest.raises(ValueError, match="on the grid"):
        write_promtool_test(tmp_path / "a.yaml", store=off_grid, **kwargs)
    recorded = SeriesStore()
    recorded.add({"__name__": "job:requests:rate5m"}, [0], [1.0])
    with pytest.raises(ValueError, match="a rule produces job:requests:rate5m"):
        write_promtool_test(tmp_path / "b.yaml", store=recorded, **kwargs)


def test_compress_values_and_series_labels() -> None:
    assert compress_values(["1", "1", "1", "_", "_", "2", "stale", "stale"]) == (
        "1x2 _x2 2 stale stale"
    )
    assert format_series_labels((("__name__", "up"), ("a", 'x"y'))) == 'up{a="x\\"y"}'
    assert format_series_labels((("__name__", "a-b"),)) == '{__name__="a-b"}'
    with pytest.raises(ValueError, match="newline"):
        format_series_labels((("a", "x\ny"),))


# --------------------------------------------------------------------------------------------
# Our engine against the fixtures (no promtool needed)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", AGREEING, ids=lambda p: p.name)
def test_engine_passes_fixture(path: Path) -> None:
    assert check_with_engine(read_promtool_test(path)) == []


def _failed_checks(output: str) -> list[str]:
    """The (alert or expression, time) of each failure in promtool's or our wording."""
    pattern = r'(alertname: \S+|expr: ".*?"), time: (\S+?),'
    return sorted(f"{what} @ {when}" for what, when in re.findall(pattern, output))


def test_engine_fails_the_wrong_expectations() -> None:
    failures = check_with_engine(read_promtool_test(WRONG))
    assert _failed_checks("\n".join(failures)) == [
        "alertname: RequestRateHigh @ 16m",
        "alertname: RequestRateHigh @ 18m",
        'expr: "increase(requests_total{instance=\\"1\\"}[5m])" @ 10m',
    ]


# --------------------------------------------------------------------------------------------
# promtool itself
# --------------------------------------------------------------------------------------------


@pytest.mark.promtool
@needs_promtool
def test_fixtures_cover_enough() -> None:
    assert len(AGREEING) >= 8
    for path in AGREEING:
        test = read_promtool_test(path)
        alerts = [a for g in test.tests for a in g.alert_rule_tests]
        exprs = [e for g in test.tests for e in g.promql_expr_tests]
        assert len({a.eval_time_ms for a in alerts}) >= 3, path.name
        assert any(a.exp_alerts for a in alerts), path.name
        assert exprs, path.name


@pytest.mark.promtool
@needs_promtool
@pytest.mark.parametrize("path", AGREEING, ids=lambda p: p.name)
def test_promtool_and_engine_both_pass_fixture(path: Path) -> None:
    passed, output = run_promtool(path)
    assert passed, output
    assert check_with_engine(read_promtool_test(path)) == []


@pytest.mark.promtool
@needs_promtool
def test_promtool_and_engine_fail_the_same_wrong_expectations() -> None:
    passed, output = run_promtool(WRONG)
    assert not passed
    ours = check_with_engine(read_promtool_test(WRONG))
    assert _failed_checks(output) == _failed_checks("\n".join(ours))
    assert len(_failed_checks(output)) == 3


ALERT_NAMES = [
    r.name for g in load_rule_files([PROPERTY_RULES]) for r in g.rules if r.kind == "alert"
]
STEPS_MS = (15_000, 30_000, 60_000)


@st.composite
def random_runs(draw: st.DrawFn) -> tuple[SeriesStore, int, int, list[int]]:
    """Counters (with resets) and gauges for jobs a and b with gaps and stale markers."""
    interval = draw(st.sampled_from(STEPS_MS))
    evaluation = draw(st.sampled_from(STEPS_MS))
    n = draw(st.integers(4, 40))
    store = SeriesStore()
    kinds = st.sampled_from(["sample"] * 8 + ["gap", "stale"])
    for job in ("a", "b"):
        steps = draw(st.lists(st.sampled_from([0, 0, 0.5, 1, 2, 3, 7, -1]), min_size=n, max_size=n))
        counter, total = [], 0.0
        for step in steps:
            total = 0.0 if step < 0 else total + step  # -1 marks a counter reset
            counter.append(total)
        levels = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n))
        for name, values in (("ctr", counter), ("gauge", [float(v) for v in levels])):
            marks = draw(st.lists(kinds, min_size=n, max_size=n))
            kept = [
                (i * interval, STALE if mark == "stale" else v)
                for i, (v, mark) in enumerate(zip(values, marks, strict=True))
                if mark != "gap"
            ]
            store.add({"__name__": name, "job": job}, [t for t, _ in kept], [v for _, v in kept])
    end = (n - 1) * interval + draw(st.integers(0, 5)) * 60_000
    times = draw(st.lists(st.integers(0, end // 1000), min_size=1, max_size=6))
    return store, interval, evaluation, sorted({t * 1000 for t in times} | {end})


@pytest.mark.promtool
@needs_promtool
@settings(max_examples=20, deadline=None)
@given(run=random_runs())
def test_promtool_agrees_with_engine_on_random_series(
    run: tuple[SeriesStore, int, int, list[int]],
) -> None:
    store, interval, evaluation, times = run
    groups = load_rule_files([PROPERTY_RULES])
    result = evaluate_rules(
        groups, store.copy(), start_ms=0, end_ms=max(times), interval_ms=evaluation
    )
    checks = compute_alert_checks(result, times, ALERT_NAMES)
    with tempfile.TemporaryDirectory() as directory:
        path = write_promtool_test(
            Path(directory) / "random.test.yaml",
            rule_files=[PROPERTY_RULES],
            store=store,
            interval_ms=interval,
            evaluation_interval_ms=evaluation,
            alert_checks=checks,
        )
        passed, output = run_promtool(path)
        assert passed, output + "\n" + path.read_text()
        assert check_with_engine(read_promtool_test(path)) == []
