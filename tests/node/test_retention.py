"""``Node(keep_chain=False)``: the node keeps only what its pruning config retains, and does
exactly what a node keeping every commit whole does
(rppsim/sim/README.md#long-runs-in-bounded-memory)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rppsim.node.config import NodeConfig
from rppsim.node.messages import Block, SyncRequest, VoteRecord
from rppsim.node.node import Node
from rppsim.node.pruning import get_pruned_block, is_pruned_block
from rppsim.node.rounds import get_vote_record
from rppsim.testing.cluster import InMemoryCluster

RUN_MS = 40_000
"""Eight 5 s slots: pruned payloads and a pruning cycle (every 6 heights)."""


def _config(pruning: bool) -> NodeConfig:
    base = NodeConfig()
    gates = replace(base.rollout.feature_gates, pruning=pruning)
    return replace(base, rollout=replace(base.rollout, feature_gates=gates))


@pytest.fixture(scope="module", params=[True, False], ids=["pruning", "no-pruning"])
def cluster(request) -> InMemoryCluster:
    c = InMemoryCluster(validators=4, seed=11, tx_rate_per_s=2.0, config=_config(request.param))
    c.run(until_ms=RUN_MS)
    assert c.node(0).height >= 6
    return c


def _pair(c: InMemoryCluster) -> tuple[Node, Node]:
    """Node 1 replayed from node 0's whole chain, keeping it, and keeping what it retains."""
    commits = list(c.node(0).chain)
    whole = Node(c.config, c.keys[1], rules=c.rules, proofs=c.proofs, commits=commits)
    kept = Node(
        c.config, c.keys[1], rules=c.rules, proofs=c.proofs, commits=commits, keep_chain=False
    )
    return whole, kept


def test_retained_chain_is_what_the_node_stores(cluster):
    whole, kept = _pair(cluster)
    assert kept.chain is kept.stored
    assert kept.height == whole.height
    assert kept.finalized_chain() == whole.finalized_chain()
    assert not any(is_pruned_block(c.block) for c in whole.chain)
    pruning = cluster.config.rollout.feature_gates.pruning
    assert all(is_pruned_block(c.block) for c in kept.chain[:-1]) is pruning
    assert not is_pruned_block(kept.chain[-1].block)  # the tip's payload stays


def test_retained_chain_changes_nothing_the_node_shows_or_serves(cluster):
    whole, kept = _pair(cluster)
    assert kept.stored == whole.stored
    assert kept.metrics() == whole.metrics()
    assert kept.status_node() == whole.status_node()
    assert kept.get_snapshot().to_bytes() == whole.get_snapshot().to_bytes()
    assert kept.verify_proof_chain() == whole.verify_proof_chain()
    peer = cluster.keys[2].address
    for first in range(1, whole.height + 1):
        request = SyncRequest(first, 4)
        assert kept.on_message(cluster.now, peer, request) == whole.on_message(
            cluster.now, peer, request
        )


def test_retained_chain_runs_on_like_the_whole_one(cluster):
    """Both nodes take the next height's inputs alike: their start effects are equal."""
    whole, kept = _pair(cluster)
    assert kept.on_start(cluster.now) == whole.on_start(cluster.now)
    assert kept.get_persisted().commits == whole.get_persisted().commits


def test_nodes_certifying_the_same_votes_share_the_records(cluster):
    """``get_vote_record``: a record per equal (vote, weight) value, whichever node asks."""
    first, second = cluster.node(0).chain[-1].certificate, cluster.node(1).chain[-1].certificate
    records = {(r.vote, r.weight): r for r in first.pre_votes + first.pre_commits}
    shared = [r for r in second.pre_votes + second.pre_commits if (r.vote, r.weight) in records]
    assert shared
    assert all(records[(r.vote, r.weight)] is r for r in shared)
    vote = shared[0].vote
    assert get_vote_record(vote, shared[0].weight) is shared[0]
    assert get_vote_record(vote, shared[0].weight + 1) == VoteRecord(vote, shared[0].weight + 1)


def test_nodes_pruning_the_same_block_share_the_header_only_block(cluster):
    if not cluster.config.rollout.feature_gates.pruning:
        pytest.skip("nothing pruned")
    first, second = cluster.node(0).stored[0].block, cluster.node(1).stored[0].block
    assert is_pruned_block(first) and first is second
    whole = cluster.node(0).chain[0].block
    assert get_pruned_block(whole) is first and first == Block(whole.header)
