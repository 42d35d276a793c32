"""A firing and a quiet input per shipped alert rule, as promtool unit-test series.

Series are sampled every ``interval`` (15 s unless given) from 0 (``values`` in promtool's
expanding notation, or a list of numbers); the rule must fire at ``eval_time`` with
``labels`` on the firing series and must not fire on the quiet ones. Every series carries
``env="sim"`` like a run's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Series = dict[str, str | list[float]]


@dataclass(frozen=True)
class RuleFixture:
    """A firing and a quiet input of one alert rule."""

    eval_time: str
    labels: dict[str, str]
    firing: Series
    quiet: Series
    common: Series = field(default_factory=dict)
    """Series both inputs share."""
    interval: str = "15s"
    """Scrape and evaluation interval."""


def _s(name: str, **labels: str) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in sorted({"env": "sim", **labels}.items()))
    return f"{name}{{{body}}}"


def _epoch_ages(cycles: int, stall: int, after: int = 0) -> list[float]:
    """Scraped every minute: epochs of 10 minutes (ages 0 … 540 s), then one of ``stall``
    scrapes, then a new one of ``after`` scrapes."""
    ages = [60.0 * i for _ in range(cycles) for i in range(10)]
    return ages + [60.0 * i for i in range(stall)] + [60.0 * i for i in range(after)]


HEIGHT, SLOTS = (
    _s("chain_block_height", instance="0"),
    _s("consensus_block_schedule_slots_total", instance="0"),
)
LAG, GAP = _s("finality_lag_slots", instance="1"), _s("finalized_height_gap", instance="1")
VLAG = _s("rpp_runtime_consensus_validator_height_lag", instance="3")
DRIFT = _s("consensus_proposer_deviation_pct", validator="4")


def _votes(bucket: str) -> Series:
    """Vote latency buckets with every observation (10 per scrape) in ``bucket``."""
    bounds = ("0.5", "1", "2.5", "+Inf")
    start = bounds.index(bucket)
    return {
        _s("rpp_runtime_consensus_vote_latency_bucket", validator="5", le=b): (
            "0+10x60" if k >= start else "0x60"
        )
        for k, b in enumerate(bounds)
    }


def _sizes(name: str, bucket: str, **labels: str) -> Series:
    bounds = ("1e+06", "5e+06", "1e+07", "+Inf")
    start = bounds.index(bucket)
    return {
        _s(name, le=b, proof_kind="tx", **labels): ("0+1x80" if k >= start else "0x80")
        for k, b in enumerate(bounds)
    }


CACHE = {"cache": "gossip-proof-cache", "instance": "12"}
HITS = _s("rpp_runtime_proof_cache_hits", **CACHE)
MISSES = _s("rpp_runtime_proof_cache_misses", **CACHE)
EVICTIONS = _s("rpp_runtime_proof_cache_evictions", **CACHE)
VERIFY = {"instance": "11", "proof_backend": "stwo"}
STARK = {"instance": "9", "proof_backend": "rpp-stark", "result": "fail"}
VRF = {"instance": "15"}


def _vrf(threshold: str, value: float) -> str:
    return _s("rppsim_vrf_threshold", instance="15", threshold=threshold), f"{value}x80"


FIXTURES: dict[str, RuleFixture] = {
    "ConsensusLivenessStall": RuleFixture(
        "25m", {"severity": "critical", "env": "sim"},
        {HEIGHT: "0+1x20 20x100"}, {HEIGHT: "0+1x120"},
    ),
    "ConsensusBlockProductionLagWarning": RuleFixture(
        "25m", {"severity": "warning", "env": "sim"},
        {HEIGHT: "0+2.5x120"}, {HEIGHT: "0+3x120"}, {SLOTS: "0+3x120"},
    ),
    "ConsensusBlockProductionLagCritical": RuleFixture(
        "25m", {"severity": "critical", "env": "sim"},
        {HEIGHT: "0+2x120"}, {HEIGHT: "0+2.5x120"}, {SLOTS: "0+3x120"},
    ),
    "ConsensusMissedSlotsWarning": RuleFixture(
        "25m", {"severity": "warning", "env": "sim"},
        {HEIGHT: "0+2.85x120"}, {HEIGHT: "0+2.95x120"}, {SLOTS: "0+3x120"},
    ),
    "ConsensusMissedSlotsCritical": RuleFixture(
        "25m", {"severity": "critical", "env": "sim"},
        {HEIGHT: "0+2.75x120"}, {HEIGHT: "0+2.85x120"}, {SLOTS: "0+3x120"},
    ),
    "ConsensusFinalityLagWarning": RuleFixture(
        "10m", {"severity": "warning", "env": "sim", "instance": "1"},
        {LAG: "13x60"}, {LAG: "2x60"},
    ),
    "ConsensusFinalityLagCritical": RuleFixture(
        "10m", {"severity": "critical", "env": "sim", "instance": "1"},
        {LAG: "25x60"}, {LAG: "20x60"},
    ),
    "ConsensusFinalizedHeightGapWarning": RuleFixture(
        "10m", {"severity": "warning", "env": "sim", "instance": "1"},
        {GAP: "5x60"}, {GAP: "1x60"},
    ),
    "ConsensusFinalizedHeightGapCritical": RuleFixture(
        "10m", {"severity": "critical", "env": "sim", "instance": "1"},
        {GAP: "9x60"}, {GAP: "6x60"},
    ),
    "ConsensusRestartFinalityCorrelation": RuleFixture(
        "12m", {"severity": "warning", "env": "sim", "instance": "2"},
        {_s("process_start_time_seconds", instance="2"): "0x20 300x60"},
        {_s("process_start_time_seconds", instance="2"): "0x80"},
        {_s("finality_lag_slots", instance="2"): "20x80"},
    ),
    "ConsensusValidatorHeightLagWarning": RuleFixture(
        "15m", {"severity": "warning", "env": "sim", "instance": "3"},
        {VLAG: "10x80"}, {VLAG: "1x80"},
    ),
    "ConsensusValidatorHeightLagCritical": RuleFixture(
        "10m", {"severity": "critical", "env": "sim", "instance": "3"},
        {VLAG: "20x80"}, {VLAG: "10x80"},
    ),
    "ConsensusProposerShareDriftWarning": RuleFixture(
        "20m", {"severity": "warning", "env": "sim", "validator": "4"},
        {DRIFT: "7x100"}, {DRIFT: "2x100"},
    ),
    "ConsensusProposerShareDriftCritical": RuleFixture(
        "20m", {"severity": "critical", "env": "sim", "validator": "4"},
        {DRIFT: "-12+0x100"}, {DRIFT: "-7+0x100"},
    ),
    "ConsensusVoteLatencyWarning": RuleFixture(
        "12m", {"severity": "warning", "env": "sim", "validator": "5"},
        _votes("1"), _votes("0.5"),
    ),
    "ConsensusVoteLatencyCritical": RuleFixture(
        "12m", {"severity": "critical", "env": "sim", "validator": "5"},
        _votes("2.5"), _votes("1"),
    ),
    "ConsensusQuorumVerificationFailure": RuleFixture(
        "3m", {"severity": "page", "env": "sim", "instance": "6", "result": "failure"},
        {_s("consensus_quorum_verifications_total", instance="6", result="failure"): "0x10 1x30"},
        {_s("consensus_quorum_verifications_total", instance="6", result="failure"): "0x40"},
    ),
    "StateSyncTamperDetected": RuleFixture(
        "7m", {"severity": "critical", "env": "sim", "instance": "7"},
        {_s("rpp_node_pipeline_state_sync_tamper_total", instance="7"): "0x4 1+1x40"},
        {_s("rpp_node_pipeline_state_sync_tamper_total", instance="7"): "0x44"},
    ),
    "BlockBacklogCritical": RuleFixture(
        "10m", {"severity": "critical", "env": "sim", "instance": "8"},
        {_s("rpp_runtime_backlog_blocks", instance="8"): "20x60"},
        {_s("rpp_runtime_backlog_blocks", instance="8"): "3x60"},
    ),
    "TransactionBacklogCritical": RuleFixture(
        "10m", {"severity": "critical", "env": "sim", "instance": "8"},
        {_s("rpp_runtime_backlog_transactions", instance="8"): "5000x60"},
        {_s("rpp_runtime_backlog_transactions", instance="8"): "100x60"},
    ),
    "ZkRppStarkVerificationFailuresWarning": RuleFixture(
        "15m", {"severity": "warning", "env": "sim", **STARK},
        {_s("rpp_stark_stage_checks_total", **STARK): "0+0.01x80"},
        {_s("rpp_stark_stage_checks_total", **STARK): "0x80"},
    ),
    "ZkRppStarkVerificationFailuresCritical": RuleFixture(
        "15m", {"severity": "critical", "env": "sim", **STARK},
        {_s("rpp_stark_stage_checks_total", **STARK): "0+0.2x80"},
        {_s("rpp_stark_stage_checks_total", **STARK): "0+0.01x80"},
    ),
    "ZkRppStarkLargeFailingProofs": RuleFixture(
        "15m", {"severity": "warning", "env": "sim", "proof_kind": "tx"},
        _sizes("rpp_stark_proof_total_bytes_by_result_bucket", "1e+07", result="fail"),
        _sizes("rpp_stark_proof_total_bytes_by_result_bucket", "1e+06", result="fail"),
    ),
    "ZkRppStarkVerifierLatencyCritical": RuleFixture(
        "25m",
        {"severity": "critical", "env": "sim", "instance": "10", "proof_backend": "rpp-stark"},
        {_s("rpp_stark_verify_duration_seconds_sum", instance="10", proof_backend="rpp-stark"):
         "0+40x120"},
        {_s("rpp_stark_verify_duration_seconds_sum", instance="10", proof_backend="rpp-stark"):
         "0+10x120"},
        {_s("rpp_stark_verify_duration_seconds_count", instance="10", proof_backend="rpp-stark"):
         "0+10x120"},
    ),
    "ProofVerificationCircuitRegression": RuleFixture(
        "15m", {"severity": "warning", "env": "sim", **VERIFY},
        {_s("rpp_runtime_proof_verification_outcomes_total", result="rejected", **VERIFY):
         "0+1x80"},
        {_s("rpp_runtime_proof_verification_outcomes_total", result="rejected", **VERIFY):
         "0x80"},
        {_s("rpp_runtime_proof_verification_outcomes_total", result="accepted", **VERIFY):
         "0+9x80"},
    ),
    "ZkProofCacheThrash": RuleFixture(
        "22m", {"severity": "warning", "env": "sim", **CACHE},
        {HITS: "0+1x100", MISSES: "0+9x100"}, {HITS: "0+9x100", MISSES: "0+1x100"},
        {EVICTIONS: "0+10x100"},
    ),
    "ProofCacheThrash": RuleFixture(
        "22m", {"severity": "warning", "env": "sim", **CACHE},
        {HITS: "0+1x100", MISSES: "0+9x100"}, {HITS: "0+9x100", MISSES: "0+1x100"},
        {EVICTIONS: "0+10x100"},
    ),
    "CacheMissSpike": RuleFixture(
        "15m", {"severity": "warning", "env": "sim", **CACHE},
        {HITS: "0+6x80", MISSES: "0+4x80"}, {HITS: "0+8x80", MISSES: "0+2x80"},
        {EVICTIONS: "0+1x80"},
    ),
    "CacheEvictionSpike": RuleFixture(
        "15m", {"severity": "warning", "env": "sim", **CACHE},
        {EVICTIONS: "0+15x80"}, {EVICTIONS: "0+5x80"},
    ),
    "ProofCacheQueueSaturation": RuleFixture(
        "15m", {"severity": "warning", "env": "sim", **CACHE},
        {_s("rpp_runtime_proof_cache_queue_depth", **CACHE): "600x80"},
        {_s("rpp_runtime_proof_cache_queue_depth", **CACHE): "10x80"},
        {_s("rpp_runtime_proof_cache_max_queue_depth", **CACHE): "0x80"},
    ),
    "ProofSizeRegression": RuleFixture(
        "15m", {"severity": "warning", "env": "sim", "proof_kind": "tx"},
        _sizes("rpp_stark_proof_total_bytes_bucket", "5e+06"),
        _sizes("rpp_stark_proof_total_bytes_bucket", "1e+06"),
    ),
    "OtlpExporterFailure": RuleFixture(
        "15m", {"severity": "warning", "env": "sim", "instance": "13"},
        {_s("telemetry_otlp_failures_total", instance="13"): "0+1x80"},
        {_s("telemetry_otlp_failures_total", instance="13"): "0x80"},
    ),
    "OtlpExporterFailureCleared": RuleFixture(
        "27m", {"severity": "info", "env": "sim", "instance": "13"},
        {_s("telemetry_otlp_failures_total", instance="13"): "0x4 5x110"},
        {_s("telemetry_otlp_failures_total", instance="13"): "0x115"},
    ),
    "TelemetrySnapshotStalled": RuleFixture(
        "8m", {"severity": "critical", "env": "sim", "instance": "14"},
        {_s("rppsim_telemetry_last_observed_height", instance="14"): "5x40"},
        {_s("rppsim_telemetry_last_observed_height", instance="14"): "0+1x40"},
        {_s("chain_block_height", instance="14"): "0+1x40"},
    ),
    "VrfParticipationLow": RuleFixture(
        "10m", {"severity": "warning", "env": "sim", **VRF},
        {_s("rpp_crypto_vrf_selection_participation_rate", **VRF): "0.5x80"},
        {_s("rpp_crypto_vrf_selection_participation_rate", **VRF): "0.9x80"},
        dict([_vrf("min_participation_rate", 0.66)]),
    ),
    "VrfRejectionRateHigh": RuleFixture(
        "10m", {"severity": "warning", "env": "sim", **VRF},
        {_s("rpp_crypto_vrf_selection_rejected_total", **VRF): "0+1x80"},
        {_s("rpp_crypto_vrf_selection_rejected_total", **VRF): "0x80"},
        {_s("rpp_crypto_vrf_selection_verified_total", **VRF): "0+2x80",
         **dict([_vrf("max_rejection_rate", 0.25)])},
    ),
    "VrfFallbackRatioHigh": RuleFixture(
        "10m", {"severity": "warning", "env": "sim", **VRF},
        {_s("rpp_crypto_vrf_selection_fallback_total", **VRF): "0+1x80"},
        {_s("rpp_crypto_vrf_selection_fallback_total", **VRF): "0x80"},
        {_s("rpp_crypto_vrf_selection_rounds_total", **VRF): "0+3x80",
         **dict([_vrf("max_fallback_ratio", 0.1)])},
    ),
    "ConsensusVRFFailureBurst": RuleFixture(
        "5m", {"severity": "page", "env": "sim", "instance": "16", "result": "failure"},
        {_s("consensus_vrf_verification_time_ms_count", instance="16", result="failure"):
         "0+1x40"},
        {_s("consensus_vrf_verification_time_ms_count", instance="16", result="failure"):
         "0x40"},
    ),
    "TimetokeEpochDelayWarning": RuleFixture(
        "7h59m", {"severity": "warning", "env": "sim", "instance": "17"},
        {_s("timetoke_epoch_age_seconds", instance="17"): _epoch_ages(40, 80)},
        {_s("timetoke_epoch_age_seconds", instance="17"): _epoch_ages(48, 0)},
        interval="1m",
    ),
    "TimetokeEpochDelayCritical": RuleFixture(
        "15h19m", {"severity": "critical", "env": "sim", "instance": "17"},
        {_s("timetoke_epoch_age_seconds", instance="17"): _epoch_ages(80, 120)},
        {_s("timetoke_epoch_age_seconds", instance="17"): _epoch_ages(80, 85, 35)},
        interval="1m",
    ),
}  # fmt: skip
"""Every shipped alert rule's fixture, by rule name."""
