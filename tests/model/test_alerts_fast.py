"""The chain's alert rules over fast-model runs: the model writes no finalizations,
rejections, snapshots or messages, so the rules reading those series are not applicable (they
are not read as every node stuck at height 0), and the rules over what it does write pass on
a healthy run, from minutes to hours."""

from __future__ import annotations

from pathlib import Path

import pytest

from rppsim.guardrails.alerting import get_rule_metrics
from rppsim.model.run import execute_fast_run
from tests.model.test_engine import scenario

MINUTE_MS = 60_000
FROM_FINALIZATIONS = (
    "ConsensusLivenessStall", "ConsensusBlockProductionLagWarning",
    "ConsensusBlockProductionLagCritical", "ConsensusMissedSlotsWarning",
    "ConsensusMissedSlotsCritical", "ConsensusFinalityLagWarning", "ConsensusFinalityLagCritical",
    "ConsensusFinalizedHeightGapWarning", "ConsensusFinalizedHeightGapCritical",
    "ConsensusRestartFinalityCorrelation", "ConsensusValidatorHeightLagWarning",
    "ConsensusValidatorHeightLagCritical", "ConsensusProposerShareDriftWarning",
    "ConsensusProposerShareDriftCritical", "TimetokeEpochDelayWarning",
    "TimetokeEpochDelayCritical", "TelemetrySnapshotStalled",
)  # fmt: skip
"""Rules over the finalization series (``block_finalized``), which a fast run lacks."""
FROM_REJECTIONS = ("ConsensusQuorumVerificationFailure", "StateSyncTamperDetected")
FROM_VRF_ROUNDS = ("VrfParticipationLow", "VrfRejectionRateHigh", "VrfFallbackRatioHigh")
DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("duration_ms", [30 * MINUTE_MS, 6 * 60 * MINUTE_MS])
def test_a_healthy_fast_run_passes_every_alert_that_applies(duration_ms: int) -> None:
    """Past the ~4 simulated minutes after which finality lag and missed slots fired when the
    absent ``block_finalized`` read as empty: no alert fires, g25 passes."""
    result = execute_fast_run(scenario(duration_ms), write=False)
    assert len(result.frames["blocks"]) == duration_ms // 5000 - 1  # a block every 5 s
    verdicts = {v.id: v for v in result.verdicts}
    alerts = [v for v in result.verdicts if v.kind == "alert"]
    assert [v.id for v in alerts if v.passed is False] == []
    assert result.frames["alerts"].empty
    assert verdicts["g25-alert-evaluation"].passed is True
    for name in (*FROM_FINALIZATIONS, *FROM_REJECTIONS):
        assert verdicts[name].passed is None, name
        assert verdicts[name].message.startswith("the run has none of the series it reads"), name
    for name in FROM_VRF_ROUNDS:
        assert verdicts[name].passed is True, (name, verdicts[name].message)


@pytest.mark.parametrize("name", ["crash", "churn", "stall"])
def test_fast_runs_with_faults_fire_no_alert_from_absent_frames(name: str) -> None:
    """Crashes, churn and a stall for 30 simulated minutes: the up mask comes from the
    ``faults`` frame the model writes; no rule fires from series the model does not feed."""
    from rppsim.scenario import load_scenario

    loaded = load_scenario(DATA / f"fidelity-{name}.toml")
    result = execute_fast_run(loaded, duration_ms=30 * MINUTE_MS, write=False)
    fired = set(result.frames["alerts"]["name"])
    absent = {"block_finalized", "rejections", "snapshots", "messages"}
    assert not absent & set(result.frames)
    assert fired == set(), fired
    verdicts = {v.id: v for v in result.verdicts}
    for rule in (*FROM_FINALIZATIONS, *FROM_REJECTIONS):
        assert verdicts[rule].passed is None, rule


def test_the_rule_lists_here_cover_every_consensus_rule_over_finalizations() -> None:
    """Every rule reading a finalization or rejection series is in the lists above."""
    from rppsim.guardrails.alerting import ALERT_IDS

    finalization_metrics = {
        "chain_block_height", "consensus_block_schedule_slots_total", "finality_lag_slots",
        "finalized_height_gap", "rpp_runtime_consensus_validator_height_lag",
        "process_start_time_seconds", "consensus_proposer_deviation_pct",
        "timetoke_epoch_age_seconds", "consensus_quorum_verifications_total",
        "rpp_node_pipeline_state_sync_tamper_total",
    }  # fmt: skip
    reading = {r for r in ALERT_IDS if get_rule_metrics(r) & finalization_metrics}
    assert reading == set(FROM_FINALIZATIONS) | set(FROM_REJECTIONS)
