"""Instant-query evaluation against answers worked out by hand from Prometheus 2.42's rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rppsim.guardrails.alerting.promql import (
    STALE,
    InstantVector,
    PromQLError,
    SeriesStore,
    compute_bucket_quantile,
    compute_go_log,
    compute_go_log2,
    compute_go_log10,
    compute_labels,
    compute_quantile,
    evaluate_expr,
    expand_go_template,
    format_go_float,
    format_go_float_f,
    is_stale,
    parse_expr,
    parse_go_float,
)

M = 60_000


def build_store(series: dict[str, list[tuple[int, float]]]) -> SeriesStore:
    """A store from {'name{a="b"}': [(t_ms, value), ...]} written with PromQL selectors."""
    store = SeriesStore()
    for text, samples in series.items():
        node = parse_expr(text)
        labels = {m.name: m.value for m in node.matchers}  # type: ignore[union-attr]
        store.add(labels, [t for t, _ in samples], [v for _, v in samples])
    return store


def query(store: SeriesStore, expr: object, t_ms: int) -> dict[str, float]:
    """The result as {'{a="b"}': value} (labels in Prometheus' notation)."""
    result = evaluate_expr(expr, store, t_ms)  # type: ignore[arg-type]
    assert isinstance(result, InstantVector), result
    return {_key(labels): value for labels, value in result}


def _key(labels: tuple[tuple[str, str], ...]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


# --------------------------------------------------------------------------------------------
# Selectors: lookback, staleness, windows
# --------------------------------------------------------------------------------------------


def test_instant_selector_looks_back_five_minutes_inclusive() -> None:
    store = build_store({"x": [(0, 1.0)]})
    assert query(store, "x", 0) == {'{__name__="x"}': 1.0}
    assert query(store, "x", 5 * M) == {'{__name__="x"}': 1.0}
    assert query(store, "x", 5 * M + 1) == {}
    assert query(store, "x", -1) == {}


def test_stale_marker_hides_series_until_next_sample() -> None:
    store = build_store({"x": [(0, 1.0), (M, STALE), (3 * M, 2.0)]})
    assert query(store, "x", 30_000) == {'{__name__="x"}': 1.0}
    assert query(store, "x", M) == {}
    assert query(store, "x", 2 * M) == {}
    assert query(store, "x", 3 * M) == {'{__name__="x"}': 2.0}


def test_range_window_is_closed_and_skips_stale_markers() -> None:
    store = build_store({"x": [(0, 1.0), (M, 2.0), (2 * M, STALE), (3 * M, 4.0)]})
    assert query(store, "count_over_time(x[3m])", 3 * M) == {"{}": 3.0}
    assert query(store, "count_over_time(x[3m])", 3 * M + 1) == {"{}": 2.0}
    assert query(store, "count_over_time(x[1m])", 2 * M) == {"{}": 1.0}
    assert query(store, "last_over_time(x[2m])", 2 * M) == {'{__name__="x"}': 2.0}


def test_offset_and_at_move_the_reference_time() -> None:
    store = build_store({"x": [(t * M, float(t)) for t in range(10)]})
    assert query(store, "x offset 3m", 9 * M) == {'{__name__="x"}': 6.0}
    assert query(store, "x @ 120", 9 * M) == {'{__name__="x"}': 2.0}
    assert query(store, "x offset -2m", 5 * M) == {'{__name__="x"}': 7.0}
    assert query(store, "x @ end()", 4 * M) == {'{__name__="x"}': 4.0}


def test_matchers_and_missing_labels() -> None:
    store = build_store(
        {'x{a="1"}': [(0, 1.0)], 'x{a="2", b="y"}': [(0, 2.0)], 'z{a="1"}': [(0, 3.0)]}
    )
    assert set(query(store, 'x{b=""}', 0)) == {'{__name__="x",a="1"}'}
    assert set(query(store, 'x{b!=""}', 0)) == {'{__name__="x",a="2",b="y"}'}
    assert set(query(store, '{a=~"1|2", __name__!~"z"}', 0)) == {
        '{__name__="x",a="1"}',
        '{__name__="x",a="2",b="y"}',
    }
    assert set(query(store, '{__name__=~"x|z", a="1"}', 0)) == {
        '{__name__="x",a="1"}',
        '{__name__="z",a="1"}',
    }
    assert query(store, 'x{a=~"."}', 0) == {
        '{__name__="x",a="1"}': 1.0,
        '{__name__="x",a="2",b="y"}': 2.0,
    }


# --------------------------------------------------------------------------------------------
# rate, increase, delta (extrapolatedRate)
# --------------------------------------------------------------------------------------------


def test_increase_over_window_aligned_with_samples_is_exact() -> None:
    store = build_store({"c": [(t * M, 60.0 * t) for t in range(6)]})
    assert query(store, "increase(c[5m])", 5 * M) == {"{}": 300.0}
    assert query(store, "rate(c[5m])", 5 * M)["{}"] == pytest.approx(1.0, rel=1e-15)


def test_rate_extrapolates_to_both_edges_within_threshold() -> None:
    # Samples at 1m..4m (10, 20, 30, 40) in [0, 5m]: 1m to each edge is below 1.1 × 1m, so
    # the 30 seen over 3m extrapolates to the full 5m: 50.
    store = build_store({"c": [(t * M, 10.0 * t) for t in range(1, 5)]})
    assert query(store, "increase(c[5m])", 5 * M) == {"{}": pytest.approx(50.0, rel=1e-15)}
    assert query(store, "rate(c[5m])", 5 * M) == {"{}": pytest.approx(50 / 300, rel=1e-15)}


def test_counter_extrapolation_stops_at_zero_and_gauge_takes_half_interval() -> None:
    # Samples 10 at 3m and 20 at 4m in [0, 5m]: 3m to the start is beyond the threshold.
    # A counter's zero point is 1m before the first sample (10 per minute from 10), below the
    # threshold, so it extrapolates 1m back: 1 + 1 + 1 minutes → 30. delta() has no zero
    # point: half an interval back, 1m forward: 2.5 minutes → 25.
    store = build_store({"c": [(3 * M, 10.0), (4 * M, 20.0)]})
    assert query(store, "increase(c[5m])", 5 * M) == {"{}": pytest.approx(30.0, rel=1e-15)}
    assert query(store, "delta(c[5m])", 5 * M) == {"{}": pytest.approx(25.0, rel=1e-15)}


def test_counter_reset_adds_the_value_before_the_reset() -> None:
    store = build_store({"c": [(0, 10.0), (M, 20.0), (2 * M, 5.0), (3 * M, 15.0)]})
    assert query(store, "increase(c[3m])", 3 * M) == {"{}": 25.0}
    assert query(store, "resets(c[3m])", 3 * M) == {"{}": 1.0}
    assert query(store, "delta(c[3m])", 3 * M) == {"{}": 5.0}
    assert query(store, "irate(c[3m])", 3 * M) == {"{}": pytest.approx(10 / 60)}
    assert query(store, "irate(c[3m])", 2 * M) == {"{}": pytest.approx(5 / 60)}
    assert query(store, "idelta(c[3m])", 2 * M) == {"{}": -15.0}


def test_rate_needs_two_samples() -> None:
    store = build_store({"c": [(0, 1.0), (10 * M, 2.0)]})
    assert query(store, "rate(c[5m])", 5 * M) == {}
    assert query(store, "rate(c[5m])", 10 * M) == {}
    assert query(store, "rate(c[10m])", 10 * M) == {"{}": pytest.approx(1 / 600)}


# --------------------------------------------------------------------------------------------
# *_over_time, quantiles, histograms
# --------------------------------------------------------------------------------------------


def test_over_time_family() -> None:
    values = [3.0, 1.0, 4.0, 1.0, 5.0]
    store = build_store({"g": [(t * M, v) for t, v in enumerate(values)]})
    at = 4 * M
    assert query(store, "sum_over_time(g[4m])", at) == {"{}": 14.0}
    assert query(store, "avg_over_time(g[4m])", at) == {"{}": pytest.approx(2.8)}
    assert query(store, "min_over_time(g[4m])", at) == {"{}": 1.0}
    assert query(store, "max_over_time(g[4m])", at) == {"{}": 5.0}
    assert query(store, "stdvar_over_time(g[4m])", at) == {"{}": pytest.approx(2.56)}
    assert query(store, "stddev_over_time(g[4m])", at) == {"{}": pytest.approx(1.6)}
    assert query(store, "quantile_over_time(0.5, g[4m])", at) == {"{}": 3.0}
    assert query(store, "quantile_over_time(0.75, g[4m])", at) == {"{}": 4.0}
    assert query(store, "changes(g[4m])", at) == {"{}": 4.0}
    assert query(store, "present_over_time(g[4m])", at) == {"{}": 1.0}


def test_sum_over_time_uses_kahan_summation() -> None:
    store = build_store({"g": [(0, 1e16), (M, 1.0), (2 * M, -1e16), (3 * M, 1.0)]})
    assert query(store, "sum_over_time(g[3m])", 3 * M) == {"{}": 2.0}  # naive order gives 1


def test_quantile_interpolates_and_sorts_nan_first() -> None:
    assert compute_quantile(0.5, [1.0, 2.0, 3.0, 4.0]) == 2.5
    assert compute_quantile(0.0, [3.0, 1.0]) == 1.0
    assert compute_quantile(1.5, [1.0]) == math.inf
    assert compute_quantile(-0.1, [1.0]) == -math.inf
    assert math.isnan(compute_quantile(0.5, []))
    assert compute_quantile(1.0, [math.nan, 2.0, 1.0]) == 2.0
    assert math.isnan(compute_quantile(0.0, [math.nan, 2.0, 1.0]))


def test_histogram_quantile_interpolates_within_buckets() -> None:
    buckets = [(0.5, 5.0), (1.0, 10.0), (math.inf, 10.0)]
    assert compute_bucket_quantile(0.5, buckets) == 0.5  # from 0 through the first bucket
    assert compute_bucket_quantile(0.25, buckets) == 0.25
    assert compute_bucket_quantile(0.75, buckets) == 0.75
    assert compute_bucket_quantile(1.0, buckets) == 1.0


def test_histogram_quantile_edge_cases() -> None:
    # A rank in the +Inf bucket gives the highest finite bound.
    assert compute_bucket_quantile(0.5, [(1.0, 2.0), (math.inf, 10.0)]) == 1.0
    # No +Inf bucket, or no observations: NaN.
    assert math.isnan(compute_bucket_quantile(0.5, [(1.0, 2.0), (2.0, 10.0)]))
    assert math.isnan(compute_bucket_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]))
    # A non-monotonic count is raised to the running maximum: (1: 5, 2: 5, 4: 10).
    assert (
        compute_bucket_quantile(0.5, [(1.0, 5.0), (2.0, 4.0), (4.0, 10.0), (math.inf, 10.0)]) == 1
    )
    # A first bucket with a bound at or below 0 is not interpolated from 0.
    assert compute_bucket_quantile(0.1, [(-1.0, 2.0), (0.0, 4.0), (math.inf, 8.0)]) == -1.0
    assert compute_bucket_quantile(-1, [(1.0, 1.0), (math.inf, 1.0)]) == -math.inf


def test_histogram_quantile_groups_by_labels_without_le() -> None:
    store = build_store(
        {
            'h_bucket{job="a", le="1"}': [(0, 5.0)],
            'h_bucket{job="a", le="2"}': [(0, 10.0)],
            'h_bucket{job="a", le="+Inf"}': [(0, 10.0)],
            'h_bucket{job="b", le="+Inf"}': [(0, 4.0)],
            'h_bucket{job="b", le="2.0e0"}': [(0, 4.0)],
            'h_bucket{job="b", le="bogus"}': [(0, 1.0)],
        }
    )
    assert query(store, "histogram_quantile(0.75, h_bucket)", 0) == {
        '{job="a"}': 1.5,
        '{job="b"}': 1.5,
    }


# --------------------------------------------------------------------------------------------
# Operators and vector matching
# --------------------------------------------------------------------------------------------


@pytest.fixture
def http() -> SeriesStore:
    return build_store(
        {
            'req{path="/a", instance="1"}': [(0, 100.0)],
            'req{path="/b", instance="1"}': [(0, 40.0)],
            'err{path="/a", instance="1", code="500"}': [(0, 10.0)],
            'err{path="/a", instance="1", code="503"}': [(0, 5.0)],
            'meta{instance="1", team="t"}': [(0, 1.0)],
        }
    )


def test_arithmetic_drops_the_metric_name_and_matches_on_labels(http: SeriesStore) -> None:
    assert query(http, "req - on (path) req", 0) == {'{path="/a"}': 0.0, '{path="/b"}': 0.0}
    assert query(http, "req * ignoring (path) group_left (team) meta", 0) == {}  # team differs
    assert query(http, "req * on (instance) group_left (team) meta", 0) == {
        '{instance="1",path="/a",team="t"}': 100.0,
        '{instance="1",path="/b",team="t"}': 40.0,
    }
    assert query(http, "err / ignoring (code) group_left req", 0) == {
        '{code="500",instance="1",path="/a"}': 0.1,
        '{code="503",instance="1",path="/a"}': 0.05,
    }
    assert query(http, "req / on (path, instance) group_right err", 0) == {
        '{code="500",instance="1",path="/a"}': 10.0,
        '{code="503",instance="1",path="/a"}': 20.0,
    }


def test_matching_errors_like_prometheus(http: SeriesStore) -> None:
    with pytest.raises(PromQLError, match="many-to-many matching not allowed"):
        evaluate_expr("req / ignoring (code) err", http, 0)
    with pytest.raises(PromQLError, match="multiple matches for labels"):
        evaluate_expr("err * on (instance) meta", http, 0)
    twins = build_store({'x{a="1"}': [(0, 1.0)], 'y{a="1"}': [(0, 2.0)]})
    with pytest.raises(PromQLError, match="same labelset"):
        evaluate_expr('-{__name__=~"x|y"}', twins, 0)
    assert query(twins, '{__name__=~"x|y"} > 0', 0) == {
        '{__name__="x",a="1"}': 1.0,
        '{__name__="y",a="1"}': 2.0,
    }


def test_comparisons_filter_and_keep_the_vector_side(http: SeriesStore) -> None:
    assert query(http, "req > 50", 0) == {'{__name__="req",instance="1",path="/a"}': 100.0}
    assert query(http, "50 < req", 0) == {'{__name__="req",instance="1",path="/a"}': 100.0}
    assert query(http, "req > bool 50", 0) == {
        '{instance="1",path="/a"}': 1.0,
        '{instance="1",path="/b"}': 0.0,
    }
    # 100 > 15 × 6 keeps /a; /b has no errors to match; on() keeps only its labels.
    assert query(http, "req > on (path, instance) sum without (code) (err) * 6", 0) == {
        '{instance="1",path="/a"}': 100.0,
    }
    assert evaluate_expr("1 < bool 2", http, 0) == 1.0
    assert evaluate_expr("2 ^ 10 % 7 - -1", http, 0) == 3.0


def test_set_operators(http: SeriesStore) -> None:
    assert set(query(http, "req and on (instance) meta", 0)) == {
        '{__name__="req",instance="1",path="/a"}',
        '{__name__="req",instance="1",path="/b"}',
    }
    assert query(http, "req unless on (path) err", 0) == {
        '{__name__="req",instance="1",path="/b"}': 40.0
    }
    assert set(query(http, "meta or req", 0)) == {
        '{__name__="meta",instance="1",team="t"}',
        '{__name__="req",instance="1",path="/a"}',
        '{__name__="req",instance="1",path="/b"}',
    }
    assert query(http, "req and nothing", 0) == {}


# --------------------------------------------------------------------------------------------
# Aggregation and functions
# --------------------------------------------------------------------------------------------


def test_aggregations(http: SeriesStore) -> None:
    assert query(http, "sum by (path) (err)", 0) == {'{path="/a"}': 15.0}
    assert query(http, "sum without (code) (err)", 0) == {'{instance="1",path="/a"}': 15.0}
    assert query(http, "avg(req)", 0) == {"{}": 70.0}
    assert query(http, "count by (instance) (req)", 0) == {'{instance="1"}': 2.0}
    assert query(http, "max(req)", 0) == {"{}": 100.0}
    assert query(http, "quantile(0.5, req)", 0) == {"{}": 70.0}
    assert query(http, "topk(1, req)", 0) == {'{__name__="req",instance="1",path="/a"}': 100.0}
    assert query(http, "bottomk(1, err)", 0) == {
        '{__name__="err",code="503",instance="1",path="/a"}': 5.0
    }
    assert query(http, "stddev(req)", 0) == {"{}": 30.0}
    assert query(http, "group by (code) (err)", 0) == {'{code="500"}': 1.0, '{code="503"}': 1.0}
    assert query(http, 'count_values("n", err)', 0) == {'{n="10"}': 1.0, '{n="5"}': 1.0}


def test_avg_uses_the_incremental_mean() -> None:
    store = build_store({'x{i="1"}': [(0, 1e308)], 'x{i="2"}': [(0, 1e308)]})
    assert query(store, "avg(x)", 0) == {"{}": 1e308}  # a plain sum would overflow
    assert query(store, "sum(x)", 0) == {"{}": math.inf}


def test_instant_functions(http: SeriesStore) -> None:
    store = build_store({'x{k="a"}': [(0, -2.5)], 'x{k="b"}': [(0, 0.5)]})
    assert query(store, "abs(x)", 0) == {'{k="a"}': 2.5, '{k="b"}': 0.5}
    assert query(store, "clamp_min(x, 0)", 0) == {'{k="a"}': 0.0, '{k="b"}': 0.5}
    assert query(store, "clamp_max(x, 0)", 0) == {'{k="a"}': -2.5, '{k="b"}': 0.0}
    assert query(store, "round(x)", 0) == {'{k="a"}': -2.0, '{k="b"}': 1.0}
    assert query(store, "vector(time())", 90_000) == {"{}": 90.0}
    assert evaluate_expr("scalar(x)", store, 0) != evaluate_expr("scalar(x)", store, 0)  # NaN
    assert evaluate_expr('scalar(x{k="b"}) * 2', store, 0) == 1.0
    assert query(store, "timestamp(x)", 60_000) == {'{k="a"}': 0.0, '{k="b"}': 0.0}
    assert query(store, 'label_replace(x, "y", "$1-$1", "k", "(a)")', 0) == {
        '{__name__="x",k="a",y="a-a"}': -2.5,
        '{__name__="x",k="b"}': 0.5,
    }


def test_absent_takes_labels_from_equality_matchers() -> None:
    store = build_store({"x": [(0, 1.0)]})
    assert query(store, "absent(x)", 0) == {}
    assert query(store, 'absent(nope{job="a", env=~"b", env="c"})', 0) == {'{job="a"}': 1.0}
    assert query(store, 'absent_over_time(nope{job="a"}[5m])', 0) == {'{job="a"}': 1.0}


def test_subquery_evaluates_on_aligned_steps() -> None:
    store = build_store({"x": [(t * M, float(t)) for t in range(10)]})
    # Steps at 5m, 6m, ..., 9m (aligned to 1m, inside [9m - 4m, 9m]).
    assert query(store, "sum_over_time(x[4m:1m])", 9 * M) == {"{}": 35.0}
    assert query(store, "count_over_time(x[4m:90s])", 9 * M) == {"{}": 3.0}


def test_go_number_formatting_and_parsing() -> None:
    assert [format_go_float(v) for v in (1e6, 123456.0, 1e-5, 1e-4, -0.5, math.inf)] == [
        "1e+06",
        "123456",
        "1e-05",
        "0.0001",
        "-0.5",
        "+Inf",
    ]
    assert format_go_float_f(1e21) == "1000000000000000000000"
    assert format_go_float_f(0.1) == "0.1"
    assert parse_go_float("+Inf") == math.inf
    assert parse_go_float("0x1p-2") == 0.25
    assert parse_go_float("1e400") is None
    assert parse_go_float(" 1") is None


def test_go_log_matches_gos_results() -> None:
    values = np.array([1.0, 2.0, 10.0, 0.5, 1e-300, 7.25])
    assert compute_go_log(values)[:2].tolist() == [0.0, math.log(2)]
    assert compute_go_log2(values)[:4].tolist() == [0.0, 1.0, math.log2(10), -1.0]
    # Go's Log10 is Log × (1/Ln10): -0.9999999999999999 where C's log10 gives -1 (promtool
    # agrees with Go, see the functions fixture).
    assert compute_go_log10(np.array([0.1]))[0] == -0.9999999999999999
    assert np.isnan(compute_go_log(np.array([-1.0])))[0]
    assert compute_go_log(np.array([0.0]))[0] == -math.inf


def test_go_regexp_expansion_rules() -> None:
    import re

    match = re.fullmatch(r"(?P<host>[a-z]+)-(\d+)", "db-12")
    assert match is not None
    assert expand_go_template("$1/${2}/$host/$$/$3/$2x", match) == "db/12/db/$//"


# --------------------------------------------------------------------------------------------
# Storage and parsing
# --------------------------------------------------------------------------------------------


def test_store_validates_and_iterates_in_label_order() -> None:
    store = SeriesStore()
    store.add({"__name__": "b"}, [0, 10], [1.0, 2.0])
    store.add({"__name__": "a", "x": "1"}, np.array([5]), np.array([3.0]))
    store.add_sample({"__name__": "a", "x": "1"}, 7, 4.0)
    store.add_sample({"__name__": "a", "x": "1"}, 7, 4.0)  # an identical repeat is ignored
    assert [labels for labels, _, _ in store] == [
        (("__name__", "a"), ("x", "1")),
        (("__name__", "b"),),
    ]
    assert store.get_samples({"__name__": "a", "x": "1"})[0].tolist() == [5, 7]
    with pytest.raises(ValueError, match="strictly increasing"):
        store.add({"__name__": "c"}, [2, 1], [1.0, 1.0])
    with pytest.raises(ValueError, match="out-of-order"):
        store.add_sample({"__name__": "b"}, 5, 1.0)
    with pytest.raises(ValueError, match="duplicate"):
        store.add_sample({"__name__": "b"}, 10, 9.0)
    with pytest.raises(ValueError, match="label name"):
        store.add({"bad-name": "x"}, [0], [1.0])
    copy = store.copy()
    copy.add_sample({"__name__": "b"}, 20, 3.0)
    assert len(store.get_samples({"__name__": "b"})[0]) == 2
    assert len(store) == 2
    assert is_stale(STALE) and not is_stale(math.nan)
    assert compute_labels({"a": "1", "b": ""}) == (("a", "1"),)


def test_evaluate_expr_takes_text_plans_and_parser_asts() -> None:
    import promql_parser

    store = build_store({"x": [(0, 2.0)]})
    for expr in ("x * 3", parse_expr("x * 3"), promql_parser.parse("x * 3")):
        assert query(store, expr, 0) == {"{}": 6.0}  # type: ignore[arg-type]


def test_parse_errors_name_the_expression() -> None:
    with pytest.raises(ValueError, match=r"bad PromQL 'rate\(x\)'"):
        parse_expr("rate(x)")
    with pytest.raises(ValueError, match="not supported"):
        parse_expr("sort_by_label(x)")
    with pytest.raises(ValueError, match=r"newer than Prometheus 2\.42"):
        parse_expr('x{a="1" or b="2"}')
    with pytest.raises(PromQLError, match="not a vector or scalar"):
        evaluate_expr("x[5m]", SeriesStore(), 0)
