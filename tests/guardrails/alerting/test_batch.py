"""The batch path of `evaluate_rules` (batch.py over grid.py) against the per-step path: the
same alert intervals and annotations, the same recorded and ALERTS series bit for bit, and
the same errors; on random run-shaped stores, on a real run, and expression by expression."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rppsim.bench.alerts import build_synthetic_store
from rppsim.guardrails.alerting import get_rule_groups
from rppsim.guardrails.alerting.batch import BatchUnsupportedError, evaluate_rules_batch
from rppsim.guardrails.alerting.engine import (
    RuleEvaluation,
    RuleEvaluationError,
    RuleGroup,
    evaluate_rules,
    evaluate_rules_stepwise,
    load_rule_files,
)
from rppsim.guardrails.alerting.grid import (
    GridContext,
    GridVector,
    _bucket_quantile_grid,
    _sliding_quantile_kernel,
    evaluate_grid,
)
from rppsim.guardrails.alerting.promql import (
    STALE,
    InstantVector,
    PromQLError,
    SeriesStore,
    _quantile_kernel,
    compute_bucket_quantile,
    evaluate_expr,
    parse_expr,
)
from rppsim.guardrails.alerting.series import (
    BACKENDS,
    CACHE_LABEL,
    METRICS,
    PROOF_BYTES_BUCKETS,
    SCRAPE_MS,
    VOTE_LATENCY_BUCKETS_S,
)

EXAMPLES = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
"""Each example also evaluates every rule at every step the slow way, so examples are few."""


# --------------------------------------------------------------------------------------------
# Comparing the two paths
# --------------------------------------------------------------------------------------------


def assert_same_store(got: SeriesStore, expected: SeriesStore) -> None:
    """The same series, sample times and value bits (stale markers and NaN payloads too)."""
    got_series, expected_series = got.get_series(), expected.get_series()
    assert [s[0] for s in got_series] == [s[0] for s in expected_series]
    for (labels, times, values), (_, want_times, want_values) in zip(
        got_series, expected_series, strict=True
    ):
        assert np.array_equal(times, want_times), labels
        assert np.array_equal(values.view(np.uint64), want_values.view(np.uint64)), labels


def run_both(
    groups: list[RuleGroup], store: SeriesStore, **window: int
) -> tuple[RuleEvaluation, SeriesStore, RuleEvaluation, SeriesStore]:
    """(per-step result, its store, batch result, its store); the batch must not fall back."""
    step_store, batch_store = store.copy(), store.copy()
    step = evaluate_rules_stepwise(groups, step_store, **window)
    batch = evaluate_rules_batch(groups, batch_store, **window)
    return step, step_store, batch, batch_store


def assert_batch_equals_steps(groups: list[RuleGroup], store: SeriesStore, **window: int) -> None:
    step, step_store, batch, batch_store = run_both(groups, store, **window)
    assert batch == step
    assert_same_store(batch_store, step_store)


# --------------------------------------------------------------------------------------------
# Random run-shaped stores: every metric the shipped rules read
# --------------------------------------------------------------------------------------------

HISTOGRAMS = {
    "rpp_runtime_consensus_vote_latency_bucket": VOTE_LATENCY_BUCKETS_S,
    "rpp_stark_proof_total_bytes_bucket": PROOF_BYTES_BUCKETS,
    "rpp_stark_proof_total_bytes_by_result_bucket": PROOF_BYTES_BUCKETS,
}
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_hits", "_misses", "_evictions")


def get_label_sets(name: str, instance: int) -> list[dict[str, str]]:
    """The label sets of one metric on one instance, as a run's series have them."""
    node = {"instance": str(instance)}
    if name == "consensus_proposer_deviation_pct":
        return [{"validator": str(instance)}]
    if name.startswith("rpp_runtime_proof_cache"):
        return [{**node, "cache": CACHE_LABEL}]
    if name == "rpp_runtime_proof_verification_outcomes_total":
        return [{**node, "proof_backend": b, "result": r} for b in BACKENDS[1:]
                for r in ("accepted", "rejected")]  # fmt: skip
    if name.startswith("rpp_stark_verify_duration_seconds"):
        return [{**node, "proof_backend": b} for b in BACKENDS[1:]]
    if name == "rpp_stark_stage_checks_total":
        return [{**node, "proof_backend": "rpp-stark", "result": r} for r in ("ok", "fail")]
    if name == "rppsim_vrf_threshold":
        thresholds = ("max_fallback_ratio", "max_rejection_rate", "min_participation_rate")
        return [{**node, "threshold": t} for t in thresholds]
    if name in ("consensus_vrf_verification_time_ms_count", "consensus_quorum_verifications_total"):
        return [{**node, "result": "failure"}]
    return [node]


class RandomSeries:
    """Sample times and values drawn from one numpy generator: counters with resets, gauges
    of several scales and signs, gaps, NaN, -0.0, stale markers and off-grid times (unless
    ``clean``: no gaps, NaN, -0.0 or stale markers)."""

    def __init__(
        self, rng: np.random.Generator, steps: int, jitter: bool, clean: bool = False
    ) -> None:
        self.rng, self.steps, self.jitter, self.clean = rng, steps, jitter, clean

    def get_times(self) -> np.ndarray:
        times = np.arange(self.steps, dtype=np.int64) * SCRAPE_MS
        if self.jitter:
            times += self.rng.integers(-7_000, 7_000, self.steps)
        return times

    def get_keep(self) -> np.ndarray:
        if self.clean:
            return np.ones(self.steps, bool)
        keep = self.rng.random(self.steps) > self.rng.choice([0.0, 0.05, 0.3])
        if self.rng.random() < 0.3:  # a node that is down for a while
            start = int(self.rng.integers(0, self.steps))
            keep[start : start + int(self.rng.integers(1, 40))] = False
        return keep

    def get_counter(self) -> np.ndarray:
        rate = self.rng.choice([0.0, 0.02, 0.5, 3.0, 40.0])
        total = np.cumsum(self.rng.poisson(rate, self.steps).astype(np.float64))
        for at in np.flatnonzero(self.rng.random(self.steps) < 0.03):
            total[at:] -= total[at] - self.rng.choice([0.0, 1.0])
        return total

    def get_gauge(self) -> np.ndarray:
        scale = self.rng.choice([0.1, 1.0, 5.0, 20.0, 3_000.0, 1e6])
        values = np.abs(np.cumsum(self.rng.normal(0, scale, self.steps))) * self.rng.choice([1, -1])
        return np.round(values, int(self.rng.integers(0, 3)))

    def spoil(self, values: np.ndarray) -> np.ndarray:
        """Now and then a NaN, a -0.0 or a stale marker."""
        if self.clean:
            return values
        values = values.copy()
        draw = self.rng.random(self.steps)
        values[draw < 0.01] = np.nan
        values[(draw >= 0.01) & (draw < 0.02)] = -0.0
        values[(draw >= 0.02) & (draw < 0.04)] = STALE
        return values

    def add(self, store: SeriesStore, labels: dict[str, str], values: np.ndarray,
            keep: np.ndarray | None = None) -> None:  # fmt: skip
        keep = self.get_keep() if keep is None else keep
        store.add(labels, self.get_times()[keep], self.spoil(values)[keep])


def add_histogram(
    series: RandomSeries, store: SeriesStore, labels: dict[str, str], bounds: tuple[float, ...]
) -> None:
    """Cumulative buckets; all of one scrape kept or dropped together, now and then one
    bucket missing (so the bucket set changes over time)."""
    rng, steps = series.rng, series.steps
    observed = rng.gamma(2.0, rng.choice([0.1, 0.5, 1e5, 1e6]), (steps, 8))
    keep = series.get_keep()
    for bound in (*bounds, np.inf):
        totals = np.cumsum((observed <= bound).sum(axis=1)).astype(np.float64)
        le = "+Inf" if bound == np.inf else f"{bound:g}"
        alone = keep & (series.clean | (rng.random(steps) > 0.02))
        series.add(store, {**labels, "le": le}, totals, alone)


def build_random_store(seed: int, instances: int, steps: int, jitter: bool) -> SeriesStore:
    """Every metric of METRICS on ``instances`` nodes over ``steps`` scrapes."""
    rng = np.random.default_rng(seed)
    series = RandomSeries(rng, steps, jitter)
    store = SeriesStore()
    for name in sorted(METRICS):
        if name.startswith("rpp_stark_proof_total_bytes"):
            continue
        for instance in range(instances):
            for extra in get_label_sets(name, instance):
                labels = {"__name__": name, "env": "sim", **extra}
                if name in HISTOGRAMS:
                    labels["validator"] = str(instance)
                    add_histogram(series, store, labels, HISTOGRAMS[name])
                elif name.endswith(COUNTER_SUFFIXES):
                    series.add(store, labels, series.get_counter())
                else:
                    series.add(store, labels, series.get_gauge())
    for kind in ("consensus", "transaction"):
        base = {"env": "sim", "proof_kind": kind}
        name = "rpp_stark_proof_total_bytes"
        add_histogram(series, store, {"__name__": f"{name}_bucket", **base}, PROOF_BYTES_BUCKETS)
        for result in ("ok", "fail"):
            labels = {"__name__": f"{name}_by_result_bucket", **base, "result": result}
            add_histogram(series, store, labels, PROOF_BYTES_BUCKETS)
    return store


@st.composite
def run_stores(draw: st.DrawFn) -> tuple[SeriesStore, dict[str, int]]:
    """A random run-shaped store and an evaluation window over it."""
    steps = draw(st.integers(8, 48))
    store = build_random_store(
        draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, 3)), steps, draw(st.booleans())
    )
    interval = draw(st.sampled_from([SCRAPE_MS, SCRAPE_MS, 10_000, 30_000]))
    start = draw(st.sampled_from([0, 0, 7_500, 60_000]))
    end = steps * SCRAPE_MS + draw(st.sampled_from([0, 300_000]))
    return store, {"start_ms": start, "end_ms": end, "interval_ms": interval}


@EXAMPLES
@given(run=run_stores())
def test_shipped_rules_batch_equals_steps_on_random_stores(run) -> None:
    """Every shipped group (recording rules feeding alerts): intervals, annotations, recorded
    and ALERTS series are the per-step path's, and the batch path needs no fallback."""
    store, window = run
    assert_batch_equals_steps(get_rule_groups(), store, **window)


def test_random_stores_make_the_shipped_rules_fire() -> None:
    """The random stores are not trivial: most alerts fire in a few of them."""
    fired: set[str] = set()
    for seed in range(3):
        store = build_random_store(seed, 3, 60, jitter=seed % 2 == 1)
        step, _, batch, _ = run_both(
            get_rule_groups(), store, start_ms=0, end_ms=60 * SCRAPE_MS, interval_ms=SCRAPE_MS
        )
        assert batch == step
        fired |= {i.name for i in batch.intervals}
    assert len(fired) >= 25, sorted(fired)  # of 40


# --------------------------------------------------------------------------------------------
# A real run
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stall_frames():
    """The stall drill shortened to 8 minutes: three of seven validators crash at 60 s."""
    from rppsim.scenario import load_scenario
    from rppsim.sim.run import execute_run

    scenario = load_scenario(Path(__file__).parents[3] / "scenarios" / "drills" / "stall.toml")
    return execute_run(scenario, duration_ms=480_000, write=False).frames


@pytest.mark.slow
def test_shipped_rules_batch_equals_steps_on_a_real_run(stall_frames) -> None:
    from rppsim.guardrails import build_guardrail_context
    from rppsim.guardrails.alerting.series import build_run_series

    ctx = build_guardrail_context(stall_frames, None)
    store = build_run_series(stall_frames, ctx)
    end_ms = ctx.checks.duration_ms
    step, step_store, batch, batch_store = run_both(
        get_rule_groups(), store, start_ms=0, end_ms=end_ms, interval_ms=SCRAPE_MS
    )
    assert batch == step
    assert "ConsensusFinalityLagCritical" in {i.name for i in batch.intervals}
    assert_same_store(batch_store, step_store)
    assert len(batch_store) > len(store)  # recorded and ALERTS series were written


# --------------------------------------------------------------------------------------------
# Every feature of the grid, expression by expression and as rules
# --------------------------------------------------------------------------------------------


def build_feature_store(seed: int, steps: int, jitter: bool, clean: bool = False) -> SeriesStore:
    """Counters, gauges and odd histograms (buckets missing now and then, and unless
    ``clean`` a repeated bound) of two jobs on up to three instances, and an info series
    per job."""
    rng = np.random.default_rng(seed)
    series = RandomSeries(rng, steps, jitter, clean)
    store = SeriesStore()
    for job in ("a", "b"):
        for instance in range(int(rng.integers(1, 4))):
            labels = {"job": job, "instance": str(instance)}
            series.add(store, {"__name__": "ctr", **labels}, series.get_counter())
            series.add(store, {"__name__": "gauge", **labels}, series.get_gauge())
            bounds = (0.1, 0.5, 1.0) if rng.random() < 0.7 else (0.1, 1.0)
            add_histogram(series, store, {"__name__": "hist_bucket", **labels}, bounds)
            if not clean and rng.random() < 0.3:  # "1" beside "1.0": promql adds them up
                series.add(store, {"__name__": "hist_bucket", **labels, "le": "1.0"},
                           series.get_counter())  # fmt: skip
        grid = np.arange(steps, dtype=np.int64) * SCRAPE_MS
        store.add({"__name__": "info", "job": job, "team": f"t{job}"}, grid, np.ones(steps))
    return store


EXPRESSIONS = (
    "gauge",
    "gauge offset 1m",
    "rate(ctr[1m])",
    "increase(ctr[90s] offset 30s)",
    "delta(gauge[2m])",
    "irate(ctr[1m]) + idelta(gauge[1m])",
    "deriv(gauge[2m])",
    "sum_over_time(gauge[2m]) - avg_over_time(gauge[2m])",
    "min_over_time(gauge[2m]) * max_over_time(gauge[2m])",
    "stddev_over_time(gauge[3m]) / stdvar_over_time(gauge[3m])",
    "changes(gauge[5m]) + resets(ctr[5m])",
    "count_over_time(gauge[2m]) % present_over_time(gauge[2m])",
    "last_over_time(gauge[1m])",
    "quantile_over_time(0.3, gauge[3m])",
    "quantile_over_time(0.9, gauge[1h])",
    "abs(-gauge) + ceil(gauge / 3) - floor(sqrt(abs(gauge))) + sgn(gauge)",
    "round(gauge, 5) > bool clamp(gauge, 10, 90)",
    "clamp_min(gauge, 1) <= clamp_max(gauge, 50)",
    "clamp(gauge, 5, 1)",
    "histogram_quantile(0.5, rate(hist_bucket[2m]))",
    "histogram_quantile(0.9, sum by (job, le) (rate(hist_bucket[2m])))",
    "sum by (job) (gauge)",
    "avg without (instance) (gauge)",
    "max by (job) (gauge) - min by (job) (gauge)",
    "count by (job) (gauge) + group by (job) (gauge)",
    "stddev by (job) (gauge) * stdvar by (job) (gauge)",
    "sum(sum by (job) (rate(ctr[1m])))",
    "gauge > 10 or ctr",
    "gauge and on (job) (ctr > 5)",
    "gauge unless ignoring (instance) ctr",
    "gauge * on (job) group_left (team) info",
    "info * on (job) group_right gauge",
    "gauge > on (instance, job) ctr",
    "gauge == bool ignoring (instance) group_left sum by (job) (gauge)",
    "absent(gauge{job='c'})",
    "absent_over_time(ctr{job='c', env=~'x'}[1m])",
    "vector(time() % 120) < 30",
    "scalar(sum(gauge)) * gauge",
    "2 ^ 3 - gauge",
    "-(gauge)",
)


def compare_at_every_time(expr: str, store: SeriesStore, times: np.ndarray) -> bool:
    """The grid's value at each time is promql's there (the rows in promql's order when the
    grid says so); False when the grid declines, which it must where promql raises."""
    try:
        grid = evaluate_grid(parse_expr(expr), GridContext(store, times))
    except BatchUnsupportedError:
        return False
    for k, t in enumerate(times.tolist()):
        step = evaluate_expr(expr, store, t)
        if not isinstance(step, InstantVector):
            assert not isinstance(grid, GridVector)
            value = grid if isinstance(grid, float) else grid[k]
            assert np.float64(value).view(np.uint64) == np.float64(step).view(np.uint64)
            continue
        assert isinstance(grid, GridVector)
        rows = np.flatnonzero(grid.present[:, k]).tolist()
        got = [(grid.labels[i], grid.values[i, k]) for i in rows]
        want = list(zip(step.labels, step.values, strict=True))
        if not grid.ordered:
            got.sort(key=lambda item: item[0])
            want.sort(key=lambda item: item[0])
        assert [g[0] for g in got] == [w[0] for w in want], (expr, t)
        got_bits = np.array([g[1] for g in got], np.float64).view(np.uint64)
        want_bits = np.array([w[1] for w in want], np.float64).view(np.uint64)
        assert np.array_equal(got_bits, want_bits), (expr, t)
    return True


@EXAMPLES
@given(
    seed=st.integers(0, 2**32 - 1),
    steps=st.integers(4, 30),
    jitter=st.booleans(),
    interval=st.sampled_from([10_000, 15_000, 45_000]),
)
def test_every_expression_equals_promql_at_every_time(seed, steps, jitter, interval) -> None:
    store = build_feature_store(seed, steps, jitter)
    times = np.arange(0, steps * SCRAPE_MS + 120_000, interval, dtype=np.int64)
    for expr in EXPRESSIONS:
        try:
            [evaluate_expr(expr, store, t) for t in times.tolist()]
        except (PromQLError, ZeroDivisionError):
            assert not compare_at_every_time(expr, store, times), expr
            continue
        compare_at_every_time(expr, store, times)


def test_the_grid_evaluates_every_expression_of_a_clean_store() -> None:
    """Without gaps or duplicate bounds the grid declines none of them."""
    store = build_feature_store(3, 30, jitter=True, clean=True)
    times = np.arange(0, 30 * SCRAPE_MS, SCRAPE_MS, dtype=np.int64)
    declined = [e for e in EXPRESSIONS if not compare_at_every_time(e, store, times)]
    assert declined == []


FEATURE_RULES = """
groups:
  - name: features-recording
    rules:
      - record: job:ctr:rate1m
        expr: sum by (job) (rate(ctr[1m]))
      - record: job:hist:p50
        expr: histogram_quantile(0.5, sum by (job, le) (rate(hist_bucket[2m])))
        labels: {source: hist}
      - record: clock
        expr: time() - 60
      - record: instance:gauge:high
        expr: gauge > 20
  - name: features-alerts
    rules:
      - alert: RateHigh
        expr: job:ctr:rate1m > 0.5 or on (job) job:hist:p50 > 0.4
        for: 1m
        labels: {severity: warning}
        annotations: {summary: "fast"}
      - alert: GaugeHigh
        expr: instance:gauge:high * on (job) group_left (team) info
        for: 45s
      - alert: Templated
        expr: abs(gauge) > 1 unless on (job) rate(ctr[1m]) > 30
        for: 30s
        labels: {team: "t{{ $labels.job }}"}
        annotations: {summary: "{{ $labels.instance }} at {{ $value | humanize }}"}
      - alert: Clock
        expr: clock % 120 < 40
      - alert: Absent
        expr: absent(gauge{job="a", instance="0"})
        for: 2m
"""


@pytest.fixture(scope="module")
def feature_groups(tmp_path_factory: pytest.TempPathFactory) -> list[RuleGroup]:
    path = tmp_path_factory.mktemp("rules") / "features.yaml"
    path.write_text(FEATURE_RULES)
    return load_rule_files([path])


@EXAMPLES
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(4, 40), jitter=st.booleans())
def test_feature_rules_batch_equals_steps(feature_groups, seed, steps, jitter) -> None:
    """Recording rules read by later groups, group_left, templates, for, absent, time()."""
    groups = feature_groups
    store = build_feature_store(seed, steps, jitter)
    window = {"start_ms": 0, "end_ms": steps * SCRAPE_MS, "interval_ms": SCRAPE_MS}
    step_store, auto_store = store.copy(), store.copy()
    step = evaluate_rules_stepwise(groups, step_store, **window)
    assert evaluate_rules(groups, auto_store, **window) == step
    assert_same_store(auto_store, step_store)


def test_feature_rules_need_no_fallback_on_a_clean_store(feature_groups) -> None:
    store = build_feature_store(5, 40, jitter=True, clean=True)
    window = {"start_ms": 0, "end_ms": 40 * SCRAPE_MS, "interval_ms": SCRAPE_MS}
    step, _, batch, _ = run_both(feature_groups, store, **window)
    assert batch == step
    assert {i.name for i in batch.intervals} >= {"GaugeHigh", "Templated", "Clock"}


# --------------------------------------------------------------------------------------------
# The grid's own kernels against promql's
# --------------------------------------------------------------------------------------------

SAMPLE_VALUES = st.sampled_from([0.0, 1.0, 1.0, 2.5, -3.0, 7.0, np.inf, -np.inf, np.nan, 1e300])


@EXAMPLES
@given(
    values=st.lists(SAMPLE_VALUES, min_size=1, max_size=60),
    bounds=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 12)), min_size=1, max_size=30),
    q=st.sampled_from([0.0, 0.3, 0.5, 0.9, 1.0, -0.5, 2.0, np.nan]),
)
def test_sliding_quantile_equals_sorting_each_window(values, bounds, q) -> None:
    """Windows that only move forward, over values with NaN, ±Inf and repeats (no -0.0)."""
    samples = np.array(values, np.float64)
    lo = np.minimum(np.cumsum([b[0] for b in bounds]), len(samples))
    hi = np.minimum(np.maximum.accumulate(lo + [b[1] for b in bounds]), len(samples))
    expected = _quantile_kernel(q, samples, lo, hi)
    got = _sliding_quantile_kernel(q, samples, lo[None, :], hi[None, :])[0]
    assert np.array_equal(got.view(np.uint64), expected.view(np.uint64))


BUCKET_COUNTS = st.sampled_from([0.0, 0.0, 1.0, 2.0, 3.5, 10.0, -1.0, np.nan, np.inf])
BUCKET_BOUNDS = st.sampled_from([-1.0, -0.0, 0.0, 0.5, 1.0, 2.0, 10.0, np.inf])


@EXAMPLES
@given(
    buckets=st.lists(st.tuples(BUCKET_BOUNDS, BUCKET_COUNTS), min_size=1, max_size=8),
    q=st.sampled_from([0.0, 0.25, 0.5, 0.95, 1.0, -1.0, 1.5, np.nan]),
)
def test_bucket_quantile_equals_promql(buckets, q) -> None:
    """Unsorted, repeated and negative bounds, NaN and negative counts; where promql's Python
    division by an empty bucket raises, the grid says so (and declines)."""
    bounds = np.array([b for b, _ in buckets], np.float64)
    counts = np.array([[c] for _, c in buckets], np.float64)
    order = np.argsort(bounds, kind="stable")
    starts = np.array([0, len(buckets)], np.int64)
    present = np.ones(counts.shape, bool)
    got, seen, divided_by_zero = _bucket_quantile_grid(q, order, starts, bounds, counts, present)
    assert seen[0, 0]
    try:
        expected = compute_bucket_quantile(q, list(buckets))
    except ZeroDivisionError:
        assert divided_by_zero
        return
    assert not divided_by_zero
    assert np.float64(got[0, 0]).view(np.uint64) == np.float64(expected).view(np.uint64)


def test_the_bench_store_needs_no_fallback() -> None:
    """A small store of `rppsim bench alerts`: the batch path gives the per-step result."""
    store = build_synthetic_store(instances=6, steps=120)
    assert_batch_equals_steps(
        get_rule_groups(), store, start_ms=0, end_ms=119 * SCRAPE_MS, interval_ms=SCRAPE_MS
    )


# --------------------------------------------------------------------------------------------
# Falling back
# --------------------------------------------------------------------------------------------


def load_rules(tmp_path: Path, text: str) -> list[RuleGroup]:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return load_rule_files([path])


def gauge_store() -> SeriesStore:
    store = SeriesStore()
    for job in ("a", "b"):
        store.add({"__name__": "g", "job": job}, [0, 60_000, 120_000], [1.0, 5.0, 9.0])
    return store


@pytest.mark.parametrize(
    ("rules", "why"),
    [
        ("- alert: A\n        expr: topk(1, g)", "aggregation topk"),
        ("- alert: A\n        expr: g @ 60", "@ or a negative offset"),
        ("- alert: A\n        expr: max_over_time(g[5m:1m]) > 1", "not a range selector"),
        ("- alert: A\n        expr: '{__name__=~\"g\", job=\"a\"} > 1'",
         "a selector without a metric name"),
        ("- alert: A\n        expr: r > 1\n      - record: r\n        expr: g",
         "a rule reads what it or a later rule writes"),
        ("- alert: A\n        expr: count(ALERTS) > 0", "a rule reads what it"),
    ],
)  # fmt: skip
def test_unsupported_rules_fall_back_to_the_per_step_path(
    tmp_path: Path, rules: str, why: str
) -> None:
    groups = load_rules(tmp_path, f"groups:\n  - name: g\n    rules:\n      {rules}\n")
    window = {"start_ms": 0, "end_ms": 600_000, "interval_ms": 60_000}
    with pytest.raises(BatchUnsupportedError, match=why):
        evaluate_rules_batch(groups, gauge_store(), **window)
    auto, step = gauge_store(), gauge_store()
    assert evaluate_rules(groups, auto, **window) == evaluate_rules_stepwise(groups, step, **window)
    assert_same_store(auto, step)


def test_a_store_holding_a_recorded_name_falls_back(tmp_path: Path) -> None:
    groups = load_rules(tmp_path, "groups:\n  - name: g\n    rules:\n      - record: g\n"
                                  "        expr: vector(1)\n")  # fmt: skip
    with pytest.raises(BatchUnsupportedError, match="g in the input"):
        evaluate_rules_batch(groups, gauge_store(), start_ms=0, end_ms=0, interval_ms=60_000)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("- record: r\n        expr: g\n        labels: {job: x}", "same labelset"),
        ("- alert: A\n        expr: g > on () g", "duplicate series for the match group"),
        ("- alert: A\n        expr: g > 4\n    limit: 1", "exceeded limit of 1"),
    ],
)
def test_errors_are_the_per_step_paths(tmp_path: Path, rules: str, message: str) -> None:
    """Where the per-step path raises, evaluate_rules raises the same error at the same
    step, leaving the same partial store."""
    body, _, limit = rules.partition("\n    limit")
    limit_line = f"    limit{limit}\n" if limit else ""
    text = f"groups:\n  - name: g\n{limit_line}    rules:\n      {body}\n"
    groups = load_rules(tmp_path, text)
    window = {"start_ms": 0, "end_ms": 600_000, "interval_ms": 60_000}
    auto, step = gauge_store(), gauge_store()
    with pytest.raises(RuleEvaluationError, match=message) as expected:
        evaluate_rules_stepwise(groups, step, **window)
    with pytest.raises(RuleEvaluationError) as got:
        evaluate_rules(groups, auto, **window)
    assert str(got.value) == str(expected.value)
    assert_same_store(auto, step)


def test_the_batch_path_leaves_the_store_untouched_when_it_declines(tmp_path: Path) -> None:
    groups = load_rules(
        tmp_path,
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: g * 2\n"
        "      - alert: A\n        expr: topk(1, r)\n",
    )
    store = gauge_store()
    with pytest.raises(BatchUnsupportedError):
        evaluate_rules_batch(groups, store, start_ms=0, end_ms=600_000, interval_ms=60_000)
    assert_same_store(store, gauge_store())
