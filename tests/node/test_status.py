"""Status payloads carry the chain's field names (docs/operations.md#rollout-status to
docs/operations.md#consensus-status, docs/operations.md#validator-telemetry)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from rppsim.node.config import NodeConfig
from rppsim.node.rules import Rules
from rppsim.testing.cluster import InMemoryCluster

GATES = {
    "pruning",
    "recursive_proofs",
    "reconstruction",
    "consensus_enforcement",
    "malachite_consensus",
    "timetoke_rewards",
    "witness_network",
}
NODE_FIELDS = {
    "address",
    "height",
    "last_hash",
    "epoch",
    "epoch_nonce",
    "pending_block_proposals",
    "pending_transactions",
    "pending_identities",
    "pending_votes",
    "pending_uptime_proofs",
    "vrf_metrics",
    "tip",
}
VRF_METRICS_FIELDS = {
    "pool_entries",
    "target_validator_count",
    "verified_submissions",
    "accepted_validators",
    "rejected_candidates",
    "fallback_selected",
    "unique_addresses",
    "participation_rate",
    "success_rate",
    "total_weight",
    "entropy_beacon",
    "latest_epoch",
    "latest_round",
}
CONSENSUS_FIELDS = {
    "height",
    "block_hash",
    "proposer",
    "round",
    "total_power",
    "quorum_threshold",
    "pre_vote_power",
    "pre_commit_power",
    "commit_power",
    "quorum_reached",
    "observers",
    "epoch",
    "epoch_nonce",
    "pending_votes",
    "leader_changes",
    "quorum_latency_ms",
    "witness_events",
    "slashing_events",
    "failed_votes",
}
TELEMETRY_CONSENSUS_ALLOWED = {
    "height",
    "round",
    "pending_votes",
    "quorum_reached",
    "leader_changes",
    "round_latencies_ms",
    "quorum_latency_ms",
    "witness_events",
    "slashing_events",
    "failed_votes",
}
TELEMETRY_CONSENSUS_ORDER = (
    "height",
    "round",
    "pending_votes",
    "quorum_reached",
    "leader_changes",
    "round_latencies_ms",
    "quorum_latency_ms",
    "witness_events",
    "slashing_events",
    "failed_votes",
)
TIP_FIELDS = {
    "height",
    "hash",
    "timestamp",
    "previous_state_root",
    "new_state_root",
    "proof_hash",
    "recursive_commitment",
    "recursive_previous_commitment",
    "recursive_system",
}
TIMETOKE_PARAMS = {
    "minimum_window_secs",
    "accrual_cap_hours",
    "decay_interval_secs",
    "decay_step_hours",
    "sync_interval_secs",
}


@pytest.fixture(scope="module")
def cluster(safety) -> InMemoryCluster:
    base = NodeConfig()
    telemetry = replace(base.rollout.telemetry, enabled=True, sample_interval_secs=10)
    config = replace(base, rollout=replace(base.rollout, telemetry=telemetry))
    c = InMemoryCluster(validators=4, seed=31, tx_rate_per_s=2.0, config=config)
    c.run(until_ms=32_000)
    yield c
    safety(c)


def test_rollout_status(cluster):
    """docs/operations.md#rollout-status: channel, the seven gates, telemetry with
    last_observed_height."""
    status = cluster.node(0).status_rollout()
    assert set(status) == {
        "release_channel", "feature_gates", "telemetry", "rppsim_telemetry_emits",
    }  # fmt: skip
    emits = status["rppsim_telemetry_emits"]  # the emit counters the chain's loop logged
    assert emits["emitted"] == emits["succeeded"] + emits["pending"] > 0
    assert emits["failed"] == {"encode": 0, "transport": 0, "status": 0}
    assert status["release_channel"] == "development"
    assert set(status["feature_gates"]) == GATES
    assert all(isinstance(v, bool) for v in status["feature_gates"].values())
    telemetry = status["telemetry"]
    assert set(telemetry) == {"enabled", "endpoint", "sample_interval_secs", "last_observed_height"}
    assert telemetry["enabled"] is True
    assert telemetry["sample_interval_secs"] == 10
    last = [snapshot for i, _, snapshot in cluster.telemetry if i == 0][-1]
    assert telemetry["last_observed_height"] == last["node"]["height"] >= 4


def test_node_status(cluster):
    """docs/operations.md#node-status NodeStatus, its vrf_metrics and tip BlockMetadata;
    docs/operations.md#consensus-status ConsensusStatus."""
    node = cluster.node(0)
    status = node.status_node()
    assert set(status) >= NODE_FIELDS
    assert status["height"] == node.height >= 4
    assert status["last_hash"] == node.finalized_chain()[-1][1]
    assert set(status["vrf_metrics"]) >= VRF_METRICS_FIELDS
    assert status["vrf_metrics"]["pool_entries"] == 4
    assert status["vrf_metrics"]["accepted_validators"] == 4
    assert set(status["tip"]) >= TIP_FIELDS
    assert status["tip"]["height"] == node.height
    assert status["tip"]["hash"] == status["last_hash"]
    consensus = status["consensus"]
    assert set(consensus) >= CONSENSUS_FIELDS
    assert consensus["height"] == node.height + 1
    for power in ("total_power", "quorum_threshold", "pre_vote_power", "commit_power"):
        assert isinstance(consensus[power], str) and consensus[power].isdigit()
    assert int(consensus["quorum_threshold"]) == -(-2 * int(consensus["total_power"]) // 3) + 1
    assert consensus["observers"] == len(cluster.wallets)
    assert len(consensus["round_latencies_ms"]) == min(node.height, 32)
    assert set(status["timetoke_params"]) == TIMETOKE_PARAMS
    assert "queue_weights" in status["mempool"]
    json.dumps(status)


def test_telemetry_snapshot_shape(cluster):
    """docs/operations.md#validator-telemetry: the required keys; consensus and mempool allow no
    additional properties."""
    node = cluster.node(1)
    snapshot = node.metrics()
    required = {
        "rollout",
        "node",
        "consensus",
        "mempool",
        "timetoke_params",
        "verifier_metrics",
        "vrf_threshold",
    }
    assert required <= set(snapshot)
    assert set(snapshot["consensus"]) <= TELEMETRY_CONSENSUS_ALLOWED
    assert set(snapshot["mempool"]) == {"transactions", "identities", "votes", "uptime_proofs"}
    assert set(snapshot["vrf_threshold"]) == {
        "epoch",
        "threshold",
        "committee_target",
        "pool_entries",
        "accepted_validators",
        "participation_rate",
    }
    assert snapshot["vrf_threshold"]["committee_target"] == 100
    assert set(snapshot["node"]) >= NODE_FIELDS
    assert "per_backend" in snapshot["verifier_metrics"]
    assert isinstance(snapshot["rejections"], dict)
    json.dumps(snapshot)


def test_telemetry_loop_emits_every_sample_interval(cluster):
    """docs/operations.md#the-telemetry-loop: one snapshot per node every sample_interval_secs; last
    height tracked."""
    emitted = [(i, now) for i, now, _ in cluster.telemetry]
    assert sorted(emitted) == sorted((i, t) for i in range(4) for t in (10_000, 20_000, 30_000))
    for _, _, snapshot in cluster.telemetry:
        assert set(snapshot) >= {"rollout", "node", "consensus", "mempool"}
    for i in range(4):
        heights = [snapshot["node"]["height"] for j, _, snapshot in cluster.telemetry if j == i]
        assert heights == sorted(heights) and heights[-1] > heights[0]


def test_status_payloads_are_deterministic(safety):
    """Two runs of one seed give equal status payloads on every node."""
    payloads = []
    for _ in range(2):
        c = InMemoryCluster(validators=4, seed=32, tx_rate_per_s=1.0)
        c.run(until_ms=25_000)
        payloads.append(
            [json.dumps(c.node(i).status_node(), sort_keys=True) for i in range(4)]
            + [json.dumps(c.node(i).metrics(), sort_keys=True) for i in range(4)]
        )
        safety(c)
    assert payloads[0] == payloads[1]


def test_telemetry_node_view_is_the_node_status_without_its_sections(cluster):
    """docs/operations.md#validator-telemetry: the snapshot's ``node`` is ``/status/node`` minus
    consensus, mempool, params."""
    node = cluster.node(2)
    status = node.status_node()
    view = node.metrics()["node"]
    sections = ("consensus", "mempool", "timetoke_params")
    assert list(view) == [key for key in status if key not in sections]
    assert view == {key: value for key, value in status.items() if key not in sections}


def test_status_reads_leave_the_selection_metrics_alone():
    """Under the chain's ``local-pool`` rule, a status read of a pool whose set is not computed
    yet records no selection metrics, and shows the set the pool defines in any order."""
    from rppsim.node.blocks import compute_round_set

    c = InMemoryCluster(
        validators=4, seed=33, tx_rate_per_s=1.0, rules=Rules(electorate="local-pool")
    )
    c.run(until_ms=7_000)
    node = c.node(1)
    assert len(node.pool) == 4
    node.round_set = None
    metrics = node.vrf_metrics
    consensus = node.status_node()["consensus"]
    assert node.vrf_metrics is metrics and node.round_set is None
    expected = compute_round_set(node.ledger, reversed(node.pool.values()), node._context())
    assert node.get_voting_set().validators == expected.validators
    assert consensus["total_power"] == str(expected.validators.total_power)
    assert consensus["proposer"] == expected.validators.get_leader(
        node.hs.round, node.rules.rotate_leader_on_round_change
    )


@pytest.mark.parametrize("until_ms", [4_000, 5_030, 5_200, 12_000])
def test_telemetry_consensus_is_the_status_restricted_to_its_keys(until_ms):
    """docs/operations.md#validator-telemetry: the snapshot's consensus object is ConsensusStatus
    cut to the allowed keys (in
    the snapshot's order), before a proposal (no set computed), with one and after a commit."""
    c = InMemoryCluster(validators=4, seed=34, tx_rate_per_s=2.0)
    c.run(until_ms=until_ms)
    for i in range(4):
        node = c.node(i)
        snapshot = node.metrics()["consensus"]
        status = node.status_node()["consensus"]
        expected = [(key, status[key]) for key in TELEMETRY_CONSENSUS_ORDER if key in status]
        assert list(snapshot.items()) == expected
