"""The shipped alert rules (rppsim/guardrails/alerting/rules): they load, each fires on its
firing fixture and stays quiet on its quiet one, in our evaluator and in promtool alike, and
promtool agrees with our evaluator over the series of real runs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from rppsim.guardrails import build_guardrail_context
from rppsim.guardrails.alerting import (
    ALERT_IDS,
    AlertEvaluation,
    evaluate_alert_rules,
    get_alert_rules,
    get_rule_files,
    get_rule_groups,
    get_rule_metrics,
    is_fireable,
)
from rppsim.guardrails.alerting.engine import evaluate_rules
from rppsim.guardrails.alerting.promql import parse_expr
from rppsim.guardrails.alerting.promtest import (
    compute_alert_checks,
    read_promtool_test,
    run_promtool,
    write_promtool_test,
)
from rppsim.guardrails.alerting.series import METRICS, SCRAPE_MS, build_run_series
from tests.guardrails.alerting.rule_fixtures import FIXTURES, RuleFixture

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing (apt-get install prometheus; required under CI)"
)


def test_the_rule_files_hold_45_rules_or_more_with_severity_and_summary() -> None:
    rules = [r for g in get_rule_groups() for r in g.rules]
    alerts = get_alert_rules()
    assert len(rules) >= 45 and len(alerts) == len(ALERT_IDS) == len(set(ALERT_IDS)) == 40
    for rule in alerts:
        labels, annotations = dict(rule.labels), dict(rule.annotations)
        assert labels.get("severity") in {"page", "critical", "warning", "info"}, rule.name
        assert annotations.get("summary"), rule.name


def test_every_series_a_rule_reads_is_one_the_run_scrapes() -> None:
    """A rule over a metric no run yields would never apply: a typo in a rule file."""
    for name in ALERT_IDS:
        assert get_rule_metrics(name) <= set(METRICS), name


@needs_promtool
def test_promtool_checks_the_rule_files() -> None:
    done = subprocess.run(
        [PROMTOOL, "check", "rules", *map(str, get_rule_files())],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_rule_has_a_fixture() -> None:
    assert set(FIXTURES) == set(ALERT_IDS)


def _values(values: str | list[float]) -> str:
    return values if isinstance(values, str) else " ".join(f"{v:g}" for v in values)


def _group(series: dict[str, str | list[float]], name: str, fixture: RuleFixture, fires: bool):
    rule = next(r for r in get_alert_rules() if r.name == name)
    expected = [{"exp_labels": fixture.labels, "exp_annotations": dict(rule.annotations)}]
    return {
        "interval": fixture.interval,
        "input_series": [
            {"series": s, "values": _values(v)} for s, v in {**fixture.common, **series}.items()
        ],
        "alert_rule_test": [{
            "eval_time": fixture.eval_time,
            "alertname": name,
            "exp_alerts": expected if fires else [],
        }],
    }  # fmt: skip


def write_fixture(tmp_path: Path, name: str, *, swap: bool = False) -> Path:
    """The promtool test file of one rule: firing input fires, quiet input does not (with
    ``swap``, the opposite, which must fail)."""
    fixture = FIXTURES[name]
    source = next(r.source for r in get_alert_rules() if r.name == name)
    document = {
        "rule_files": [str(source)],  # each file holds the recording rules its alerts read
        "evaluation_interval": fixture.interval,
        "group_eval_order": [g.name for g in get_rule_groups() if g.source == source],
        "tests": [
            _group(fixture.firing, name, fixture, not swap),
            _group(fixture.quiet, name, fixture, swap),
        ],
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ALERT_IDS)
def test_each_rule_fires_on_its_firing_input_only(tmp_path: Path, name: str) -> None:
    """Our evaluator: the fixture passes, and the swapped fixture fails for both groups."""
    assert read_promtool_test(write_fixture(tmp_path, name)).tests
    from rppsim.guardrails.alerting.promtest import check_with_engine

    assert check_with_engine(read_promtool_test(write_fixture(tmp_path, name))) == []
    failures = check_with_engine(read_promtool_test(write_fixture(tmp_path, name, swap=True)))
    assert len(failures) == 2, failures


@needs_promtool
@pytest.mark.promtool
@pytest.mark.parametrize("name", ALERT_IDS)
def test_promtool_agrees_on_each_rules_fixture(tmp_path: Path, name: str) -> None:
    passed, output = run_promtool(write_fixture(tmp_path, name))
    assert passed, output
    passed, output = run_promtool(write_fixture(tmp_path, name, swap=True))
    assert not passed and name in output


@pytest.fixture(scope="module")
def stall_run(tmp_path_factory: pytest.TempPathFactory):
    """The stall drill shortened to 8 minutes: three of seven validators crash at 60 s."""
    from rppsim.scenario import load_scenario
    from rppsim.sim.run import execute_run

    scenario = load_scenario(Path(__file__).parents[3] / "scenarios" / "drills" / "stall.toml")
    result = execute_run(scenario, duration_ms=480_000, write=False)
    return result.frames


@needs_promtool
@pytest.mark.promtool
@pytest.mark.slow
def test_promtool_agrees_over_a_real_runs_series(tmp_path: Path, stall_run) -> None:
    """Every rule at every evaluation of a stalled run: promtool sees exactly the alerts
    our evaluator fires (finality and stall alerts among them)."""
    frames = stall_run
    ctx = build_guardrail_context(frames, None)
    evaluation = evaluate_rules(
        get_rule_groups(), build_run_series(frames, ctx),
        start_ms=0, end_ms=ctx.checks.duration_ms, interval_ms=SCRAPE_MS,
    )  # fmt: skip
    times = list(evaluation.eval_times_ms)
    checks = compute_alert_checks(evaluation, times, ALERT_IDS)
    assert any(expected for _, name, expected in checks if name == "ConsensusFinalityLagCritical")
    path = write_promtool_test(
        tmp_path / "run.yaml", rule_files=get_rule_files(),
        store=build_run_series(frames, ctx), interval_ms=SCRAPE_MS,
        evaluation_interval_ms=SCRAPE_MS, alert_checks=checks,
    )  # fmt: skip
    passed, output = run_promtool(path)
    assert passed, output[-3000:]


def test_the_run_alerts_frame_is_what_the_rules_fire(stall_run) -> None:
    """The run's alerts frame holds one row per firing; the verdicts follow it."""
    frames = stall_run
    alerts = frames["alerts"]
    evaluation = evaluate_alert_rules(frames, build_guardrail_context(frames, None))
    assert len(alerts) == len(evaluation.intervals) > 0
    lag = alerts[alerts["name"] == "ConsensusFinalityLagCritical"]
    assert set(lag["node"]) == set(range(3, 16))  # every node that is up; 0–2 crashed
    assert lag["end_ms"].isna().all() and (lag["start_ms"] == 300_000).all()
    assert lag["labels"].iloc[0].startswith('{env="sim",instance="')
    verdicts = {v.id: v for v in evaluation.get_verdicts()}
    assert verdicts["ConsensusFinalityLagCritical"].passed is False
    assert verdicts["ConsensusFinalityLagCritical"].node == 3
    assert verdicts["ZkRppStarkLargeFailingProofs"].passed is True
    assert verdicts["ConsensusVRFFailureBurst"].passed is None


# --------------------------------------------------------------------------------------------
# Applicable: a rule is judged when the run has the series it needs to fire.

OR_RULES = {"ConsensusRestartFinalityCorrelation", "ProofCacheQueueSaturation"}
"""The rules with an ``or``: one side's series can be enough."""


METRIC_SETS = st.frozensets(st.sampled_from(sorted(METRICS)))


@given(METRIC_SETS, METRIC_SETS)
def test_a_rule_can_fire_with_its_series_and_more_series_never_hurt(has, more) -> None:
    """Without ``or``, a rule can fire exactly when the run has every series it reads; and
    with ``or`` too, adding series never makes a fireable rule unfireable."""
    for rule in get_alert_rules():
        expr = parse_expr(rule.expr)
        fireable = is_fireable(expr, has)
        if rule.name not in OR_RULES:
            assert fireable == (get_rule_metrics(rule.name) <= has), rule.name
        assert not fireable or is_fireable(expr, has | more), rule.name


def test_or_rules_need_one_side() -> None:
    rules = {r.name: r for r in get_alert_rules()}
    restart = parse_expr(rules["ConsensusRestartFinalityCorrelation"].expr)
    start = "process_start_time_seconds"
    assert is_fireable(restart, frozenset({start, "finality_lag_slots"}))
    assert is_fireable(restart, frozenset({start, "finalized_height_gap"}))
    assert not is_fireable(restart, frozenset({"finality_lag_slots", "finalized_height_gap"}))


def test_a_rule_missing_a_series_it_needs_is_not_applicable() -> None:
    """Snapshots without the chain height (live telemetry): TelemetrySnapshotStalled cannot
    fire, so it is not applicable rather than passing; an ``or`` rule with one side passes."""
    has = frozenset(
        {"rppsim_telemetry_last_observed_height", "rpp_runtime_proof_cache_queue_depth"}
    )
    verdicts = {v.id: v for v in AlertEvaluation((), has).get_verdicts()}
    stalled = verdicts["TelemetrySnapshotStalled"]
    assert stalled.passed is None
    assert stalled.message == "the run lacks series it needs to fire (chain_block_height)"
    saturation = verdicts["ProofCacheQueueSaturation"]
    assert saturation.passed is True and saturation.message == "never fired over 1 of its 2 series"
    assert verdicts["OtlpExporterFailure"].message.startswith("the run has none of the series")
