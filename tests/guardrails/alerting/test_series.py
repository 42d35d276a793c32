"""A run's frames as series: a frame the source lacks yields no series (the rules reading it do
not apply), while an empty frame is read as it is (a chain that finalized nothing stalls)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rppsim.guardrails import build_guardrail_context
from rppsim.guardrails.alerting import evaluate_alert_rules
from rppsim.guardrails.alerting.series import SCRAPE_MS, build_run_series
from rppsim.model import run_model
from rppsim.sim.spec import Scenario
from rppsim.telemetry.frames import get_empty_frame
from tests.model.test_engine import scenario

DURATION_MS = 20 * 60_000
FROM_FINALIZATIONS = {
    "chain_block_height", "consensus_block_schedule_slots_total", "finality_lag_slots",
    "finalized_height_gap", "rpp_runtime_consensus_validator_height_lag",
    "process_start_time_seconds", "consensus_proposer_deviation_pct", "timetoke_epoch_age_seconds",
}  # fmt: skip
FROM_REJECTIONS = {
    "consensus_quorum_verifications_total", "rpp_node_pipeline_state_sync_tamper_total",
}  # fmt: skip


@pytest.fixture(scope="module")
def fast_run() -> tuple[dict[str, pd.DataFrame], Scenario]:
    """Frames of a 20-minute fast-model run (no block_finalized, rejections or snapshots)."""
    loaded = scenario(DURATION_MS)
    return run_model(loaded).frames, loaded


def _series(frames: dict[str, pd.DataFrame], loaded: Scenario) -> dict[str, list[np.ndarray]]:
    store = build_run_series(frames, build_guardrail_context(frames, loaded))
    found: dict[str, list[np.ndarray]] = {}
    for labels, _, values in store.get_series():
        found.setdefault(dict(labels)["__name__"], []).append(np.asarray(values))
    return found


def test_absent_frames_yield_no_series(fast_run) -> None:
    frames, loaded = fast_run
    assert not {"block_finalized", "rejections", "snapshots", "messages"} & set(frames)
    found = _series(frames, loaded)
    assert not (FROM_FINALIZATIONS | FROM_REJECTIONS) & set(found)
    assert "rpp_crypto_vrf_selection_rounds_total" in found  # from vrf_rounds, which it has


def test_empty_frames_are_a_chain_that_finalized_nothing(fast_run) -> None:
    """The same run with empty ``block_finalized`` and ``rejections``: every node scraped at
    height 0 on every scrape, and the stall and finality alerts fire."""
    frames, loaded = fast_run
    empty = {name: get_empty_frame(name) for name in ("block_finalized", "rejections")}
    found = _series({**frames, **empty}, loaded)
    assert set(found) >= FROM_REJECTIONS
    heights = found["chain_block_height"]
    assert len(heights) == 9 and all(len(h) == DURATION_MS // SCRAPE_MS + 1 for h in heights)
    assert all((h == 0).all() for h in heights)
    ctx = build_guardrail_context({**frames, **empty}, loaded)
    fired = {i.name for i in evaluate_alert_rules({**frames, **empty}, ctx).intervals}
    assert {"ConsensusLivenessStall", "ConsensusFinalityLagCritical"} <= fired


@pytest.mark.parametrize("absent", ["block_finalized", "blocks"])
def test_finalization_series_need_both_frames(fast_run, absent: str) -> None:
    """Heights need ``block_finalized``, finality lag the ``blocks`` it points to: without
    either frame there is no consensus series, rather than half of them."""
    frames, loaded = fast_run
    given = {**frames, "block_finalized": get_empty_frame("block_finalized")}
    given.pop(absent)
    assert not FROM_FINALIZATIONS & set(_series(given, loaded))
