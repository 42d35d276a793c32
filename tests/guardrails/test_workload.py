"""Workload guardrails g15, g16, g20, g21 (rppsim/guardrails/workload.py), and one real run
judged by every decidable guardrail of the proof, VRF, rollout and workload modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from rppsim.guardrails.base import GuardrailContext
from rppsim.guardrails.proofs import check_proof_system_parity, check_size_gate
from rppsim.guardrails.rollout import (
    check_channel_advertised,
    check_config_valid,
    check_gates_match_stage,
)
from rppsim.guardrails.vrf import check_vrf_health
from rppsim.guardrails.workload import (
    check_identity_genesis,
    check_queues,
    check_smoke_tx,
    check_timetoke_slo,
)
from rppsim.scenario import parse_scenario
from rppsim.sim.run import execute_run
from tests.guardrails.frames_b import (
    TESTNET,
    build_context,
    build_frames,
    build_snapshot,
    get_testnet_config,
)

BLOCKS = [
    {"height": h, "hash": f"h{h}", "proposer": h % 4, "proposed_ms": 5000 * h, "tx_count": 2,
     "identity_count": 1}
    for h in (1, 2, 3)
]  # fmt: skip
FINALIZED = [{"height": h, "node": n, "hash": f"h{h}"} for h in (1, 2, 3) for n in range(4)]
SNAPSHOTS = [build_snapshot(n, t, pending_transactions=3) for t in (2000, 4000) for n in range(4)]


def test_smoke_tx_passes() -> None:
    frames = build_frames(blocks=BLOCKS, block_finalized=FINALIZED, snapshots=SNAPSHOTS)
    verdict = check_smoke_tx(frames, build_context(frames))
    assert verdict.passed is True, verdict.message
    assert (verdict.figure, verdict.threshold) == (3, 512)


def test_smoke_tx_fails_on_an_unfinalized_block() -> None:
    finalized = [r for r in FINALIZED if r["height"] != 2]
    frames = build_frames(blocks=BLOCKS, block_finalized=finalized, snapshots=SNAPSHOTS)
    verdict = check_smoke_tx(frames, build_context(frames))
    assert verdict.passed is False
    assert "first height 2" in verdict.message
    assert (verdict.node, verdict.time_ms) == (2, 10_000)


def test_smoke_tx_fails_when_the_mempool_is_not_drained() -> None:
    snapshots = [*SNAPSHOTS[:-1], build_snapshot(3, 4000, pending_transactions=900)]
    frames = build_frames(blocks=BLOCKS, block_finalized=FINALIZED, snapshots=snapshots)
    verdict = check_smoke_tx(frames, build_context(frames))
    assert verdict.passed is False
    assert "not drained" in verdict.message
    assert (verdict.figure, verdict.node, verdict.time_ms) == (900, 3, 4000)


def test_smoke_tx_fails_on_full_or_duplicate_rejections() -> None:
    rejections = [{"node": 1, "now_ms": 4000, "reason": "transaction: mempool full", "count": 2},
                  {"node": 2, "now_ms": 2000, "reason": "identity: identity mempool full",
                   "count": 9}]  # fmt: skip
    frames = build_frames(
        blocks=BLOCKS, block_finalized=FINALIZED, snapshots=SNAPSHOTS, rejections=rejections
    )
    verdict = check_smoke_tx(frames, build_context(frames))
    assert verdict.passed is False
    assert (verdict.figure, verdict.node, verdict.time_ms) == (2, 1, 4000)


def test_smoke_tx_fails_without_included_transactions() -> None:
    blocks = [b | {"tx_count": 0} for b in BLOCKS]
    frames = build_frames(blocks=blocks, block_finalized=FINALIZED, snapshots=SNAPSHOTS)
    assert check_smoke_tx(frames, build_context(frames)).passed is False
    assert check_smoke_tx(frames, build_context(frames, has_work=False)).passed is None


def test_identity_genesis_passes_and_fails() -> None:
    none = [b | {"identity_count": 0} for b in BLOCKS]
    frames = build_frames(blocks=none, snapshots=SNAPSHOTS)
    assert check_identity_genesis(frames, build_context(frames)).passed is None
    queued = [*SNAPSHOTS, build_snapshot(0, 6000, pending_identities=1)]
    frames = build_frames(blocks=BLOCKS, snapshots=queued)
    assert check_identity_genesis(frames, build_context(frames)).passed is True
    frames = build_frames(blocks=none, snapshots=queued)
    verdict = check_identity_genesis(frames, build_context(frames))
    assert verdict.passed is False
    assert "no block includes one" in verdict.message
    crowded = [*BLOCKS[:2], BLOCKS[2] | {"identity_count": 33}]
    frames = build_frames(blocks=crowded, snapshots=queued)
    verdict = check_identity_genesis(frames, build_context(frames))
    assert verdict.passed is False
    assert (verdict.figure, verdict.node, verdict.time_ms) == (33, 3, 15_000)


def test_queues_pass_and_fail() -> None:
    frames = build_frames(snapshots=SNAPSHOTS)
    assert check_queues(frames, build_context(frames)).passed is True
    full = [*SNAPSHOTS, build_snapshot(2, 6000, pending_votes=8192)]
    frames = build_frames(snapshots=full)
    verdict = check_queues(frames, build_context(frames))
    assert verdict.passed is False
    assert "votes queue reaches 8192" in verdict.message
    assert (verdict.node, verdict.time_ms) == (2, 6000)
    uptime = [*SNAPSHOTS, build_snapshot(1, 6000, pending_uptime_proofs=5)]
    frames = build_frames(snapshots=uptime)
    verdict = check_queues(frames, build_context(frames))
    assert verdict.passed is False
    assert (verdict.figure, verdict.threshold, verdict.node) == (5, 4, 1)


def test_timetoke_passes_and_fails_on_the_cap() -> None:
    ledger = [{"node": n, "now_ms": 2000, "timetoke_hours": 24} for n in range(4)]
    frames = build_frames(ledger=ledger, snapshots=SNAPSHOTS, blocks=BLOCKS)
    verdict = check_timetoke_slo(frames, build_context(frames))
    assert verdict.passed is True
    assert "not modelled" in verdict.message
    over = [*ledger, {"node": 2, "now_ms": 4000, "timetoke_hours": 721}]
    frames = build_frames(ledger=over, snapshots=SNAPSHOTS, blocks=BLOCKS)
    verdict = check_timetoke_slo(frames, build_context(frames))
    assert verdict.passed is False
    assert (verdict.figure, verdict.threshold, verdict.node, verdict.time_ms) == (721, 720, 2, 4000)


def test_timetoke_fails_when_queued_uptime_proofs_never_land() -> None:
    ledger = [{"node": 0, "now_ms": 2000, "timetoke_hours": 24}]
    queued = [*SNAPSHOTS, build_snapshot(0, 6000, pending_uptime_proofs=1)]
    frames = build_frames(ledger=ledger, snapshots=queued, blocks=BLOCKS)
    verdict = check_timetoke_slo(frames, build_context(frames))
    assert verdict.passed is False
    assert "uptime proofs were queued" in verdict.message


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 20 s model-prover run: 16 nodes, 7 validators, samples every 2 s."""
    scenario = {
        "run": {"seed": 7, "duration_ms": 20_000, "prover": "model", "name": "guardrails-b"},
        "nodes": {"count": 16, "validators": 7, "profile": str(TESTNET)},
        "network": {"topology": "small-world", "degree": 4, "rewire": 0.1, "gossip": "flood"},
        "telemetry": {"sample_interval_ms": 2000},
        "traffic": {"tx_per_s": 2.0, "identity_per_min": 6},
    }
    path = tmp_path_factory.mktemp("scenario") / "s.toml"
    return dict(execute_run(parse_scenario(scenario, path), write=False).frames)


def test_a_real_run_passes_every_decidable_guardrail(real_run: dict) -> None:
    from rppsim.checks.context import build_check_context

    context = GuardrailContext(build_check_context(real_run, None), get_testnet_config(), {})
    checks = (check_config_valid, check_channel_advertised, check_gates_match_stage,
              check_vrf_health, check_proof_system_parity, check_size_gate, check_smoke_tx,
              check_identity_genesis, check_queues, check_timetoke_slo)  # fmt: skip
    for check in checks:
        verdict = check(real_run, context)
        assert verdict.passed is True, (verdict.id, verdict.message)


def test_a_real_run_fails_the_size_gate_under_a_low_limit(real_run: dict) -> None:
    from rppsim.checks.context import build_check_context

    config = get_testnet_config(max_proof_size_bytes=1000)
    verdict = check_size_gate(
        real_run, GuardrailContext(build_check_context(real_run, None), config)
    )
    assert verdict.passed is False
    assert verdict.threshold == 1000
    assert "first: " in verdict.message
    assert verdict.node is not None
    assert Path(TESTNET).is_file()
