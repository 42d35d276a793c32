"""``Node(keep_chain=False)``: the node keeps only what its pruning config retains, and does
exactly what a node keeping every commit whole does
(rppsim/sim/README.md#long-runs-in-bounded-memory)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.config import NodeConfig, PruningConfig
from rppsim.node.effects import Persist, Send
from rppsim.node.messages import (
    GENESIS_RECURSIVE_COMMITMENT,
    Block,
    StateSyncResponse,
    SyncRequest,
    VoteRecord,
)
from rppsim.node.node import REASON_WINDOW_ABOVE_TIP, Node
from rppsim.node.pruning import get_pruned_block, is_pruned_block
from rppsim.node.rounds import get_vote_record
from rppsim.node.state_sync import compute_state_sync_problem
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


# --- [pruning] retention_depth: the retained header window ---------------------------------------


def _retaining(c: InMemoryCluster, depth: int) -> NodeConfig:
    return replace(c.config, pruning=PruningConfig(retention_depth=depth))


def _windowed(c: InMemoryCluster, depth: int, i: int = 1) -> Node:
    """Node ``i`` replayed from node 0's whole chain, keeping the last ``depth`` heights."""
    return Node(
        _retaining(c, depth),
        c.keys[i],
        rules=c.rules,
        proofs=c.proofs,
        commits=list(c.node(0).chain),
        keep_chain=False,
    )


@pytest.fixture(scope="module")
def pruned() -> InMemoryCluster:
    c = InMemoryCluster(validators=4, seed=11, tx_rate_per_s=2.0, config=_config(True))
    c.run(until_ms=RUN_MS)
    assert c.node(0).height >= 6
    return c


@given(depth=st.integers(1, 12))
@settings(max_examples=12, deadline=None)
def test_a_retained_node_stores_only_its_window(pruned, depth):
    whole, _ = _pair(pruned)
    kept = _windowed(pruned, depth)
    window = min(depth, whole.height)
    assert kept.height == whole.height and kept.tip_hash == whole.tip_hash
    assert kept.base == whole.height - window
    assert kept.stored == whole.stored[-window:]
    assert kept.finalized_chain() == whole.finalized_chain()[-window:]
    assert kept.pruned_heights == set(range(1, kept.height))
    assert kept.pruning.retained_payloads == 1
    assert kept.verify_proof_chain() is None
    assert kept.get_snapshot().headers == tuple(whole.stored[-window:])
    assert kept.get_persisted().commits == tuple(whole.stored[-window:])


def test_retention_depth_needs_the_pruning_gate_and_the_retained_record(pruned):
    commits = list(pruned.node(0).chain)
    config = _retaining(pruned, 2)
    keys = pruned.keys[1]
    whole = Node(config, keys, rules=pruned.rules, proofs=pruned.proofs, commits=commits)
    assert whole.retention_depth is None and whole.base == 0
    assert len(whole.stored) == whole.height
    gates = replace(config.rollout.feature_gates, pruning=False)
    off = replace(config, rollout=replace(config.rollout, feature_gates=gates))
    kept = Node(
        off, keys, rules=pruned.rules, proofs=pruned.proofs, commits=commits, keep_chain=False
    )
    assert kept.retention_depth is None and len(kept.stored) == kept.height


def test_a_retained_node_serves_its_window_and_state_sync_below_it(pruned):
    whole, _ = _pair(pruned)
    kept = _windowed(pruned, 3)
    peer = pruned.keys[2].address
    tip = kept.height
    assert kept.on_message(pruned.now, peer, SyncRequest(tip, 4)) == whole.on_message(
        pruned.now, peer, SyncRequest(tip, 4)
    )
    for first in (1, tip - 1):
        (sent,) = kept.on_message(pruned.now, peer, SyncRequest(first, 4))
        assert isinstance(sent, Send) and isinstance(sent.message, StateSyncResponse)
        assert sent.message.snapshot == kept.get_snapshot()
        assert [c.block.header.height for c in sent.message.snapshot.headers] == [
            tip - 2,
            tip - 1,
            tip,
        ]


def test_a_node_joining_after_the_window_passed_catches_up_by_state_sync():
    """A fresh node whose peers retain only the last 3 heights adopts their snapshot (a window
    that starts above its genesis tip), then follows the chain by ordinary sync."""
    c = InMemoryCluster(validators=4, seed=11, tx_rate_per_s=2.0, config=_config(True))
    c.run(until_ms=RUN_MS)
    server = _windowed(c, 3)
    snapshot = server.get_snapshot()
    assert snapshot.headers[0].block.header.height > 1
    fresh = Node(_retaining(c, 3), c.keys[3], rules=c.rules, proofs=c.proofs, keep_chain=False)
    effects = fresh.on_message(c.now, server.address, StateSyncResponse(snapshot))
    assert not fresh.rejections
    assert (fresh.height, fresh.tip_hash) == (server.height, server.tip_hash)
    assert fresh.base == server.base > 0
    assert fresh.ledger.get_state_root() == server.ledger.get_state_root()
    persisted = [e.value for e in effects if isinstance(e, Persist)]
    assert persisted == list(snapshot.headers)
    height = fresh.height
    c.run(until_ms=RUN_MS + 20_000)
    following = c.node(0).chain[height : height + 3]
    assert following
    for commit in following:
        fresh.on_message(c.now, server.address, commit)
    assert not fresh.rejections
    assert fresh.height == height + len(following) and len(fresh.stored) == 3
    assert fresh.finalized_chain() == c.node(0).finalized_chain()[fresh.height - 3 : fresh.height]
    restarted = Node(
        _retaining(c, 3),
        c.keys[3],
        rules=c.rules,
        proofs=c.proofs,
        restore=fresh.get_persisted(),
        keep_chain=False,
    )
    assert (restarted.height, restarted.tip_hash) == (fresh.height, fresh.tip_hash)
    assert restarted.stored == fresh.stored


def test_a_node_keeping_its_whole_chain_refuses_a_window_above_its_tip(pruned):
    snapshot = _windowed(pruned, 3).get_snapshot()
    whole = Node(pruned.config, pruned.keys[3], rules=pruned.rules, proofs=pruned.proofs)
    assert whole.on_message(pruned.now, "peer", StateSyncResponse(snapshot)) == []
    assert whole.rejections["state_sync: " + REASON_WINDOW_ABOVE_TIP] == 1
    assert whole.height == 0


def test_a_window_must_be_contiguous_and_end_at_the_snapshot_height(pruned):
    snapshot = _windowed(pruned, 4).get_snapshot()
    headers = snapshot.headers
    args = (None, 0, "00" * 32, GENESIS_RECURSIVE_COMMITMENT, None)
    assert compute_state_sync_problem(snapshot, *args) is None
    holed = replace(snapshot, headers=headers[:1] + headers[2:])
    short = replace(snapshot, headers=headers[:-1])
    for bad in (holed, short, replace(snapshot, headers=())):
        assert compute_state_sync_problem(bad, *args) == "snapshot header chain is incomplete"
    inside = headers[1].block.header.height  # a receiver whose tip lies in the window
    forked = (None, inside, "ab" * 32, GENESIS_RECURSIVE_COMMITMENT, None)
    assert compute_state_sync_problem(snapshot, *forked) == "snapshot forks from the local chain"
    tip = headers[1].block
    linked = (None, inside, tip.hash, tip.header.recursive_commitment, None)
    assert compute_state_sync_problem(snapshot, *linked) is None
