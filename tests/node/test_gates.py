"""Every feature gate's effect in the node, on and off (docs/operations.md#rollout,
docs/operations.md#pruning-and-storage).

pruning: payloads of h − 1 dropped after h, not served as full blocks. recursive_proofs:
identity proofs verified at admission, the proof chain walk. reconstruction: snapshots,
state sync and restarts from a snapshot. consensus_enforcement: vote signatures, and
evidence that slashes the proposer of an invalid identity, an invalid proof or a double spend.
malachite_consensus, timetoke_rewards, witness_network: advertised only.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rppsim.node.blocks import build_identity_request
from rppsim.node.building import compute_sealed_block
from rppsim.node.config import FEATURE_GATE_NAMES, NodeConfig, compute_announcement_problem
from rppsim.node.effects import Send
from rppsim.node.evidence import (
    compute_offence_kind,
    compute_proposal_evidence,
    compute_proposal_evidence_shape_problem,
    get_evidence_proposal,
    get_slashing_reason,
)
from rppsim.node.ledger import SlashingReason
from rppsim.node.messages import (
    BftVote,
    Block,
    Commit,
    EvidenceKind,
    IdentityRequest,
    SignedBftVote,
    SyncRequest,
    VoteKind,
    decode_message,
    is_valid_block_body,
    sign_identity_request,
    sign_proposal,
)
from rppsim.node.node import Node
from rppsim.node.persistence import PersistedState
from rppsim.node.pruning import compute_payload_bytes, compute_pruned_commit, is_pruned_block
from rppsim.node.signing import generate_keypair
from rppsim.node.state_sync import (
    REASON_GATE_DISABLED,
    StateSnapshot,
    StateSyncResponse,
    compute_snapshot_ledger,
)
from rppsim.sim.byzantine.rebuild import corrupt_block_proofs
from rppsim.testing.cluster import InMemoryCluster

RUN_MS = 40_000
"""Eight 5 s slots: enough heights for a pruning cycle (every 6) and pruned payloads."""


def _gates(**changes: bool) -> NodeConfig:
    base = NodeConfig()
    gates = replace(base.rollout.feature_gates, **changes)
    return replace(base, rollout=replace(base.rollout, feature_gates=gates))


def _cluster(make_cluster, rate: float = 2.0, **gates: bool) -> InMemoryCluster:
    c = make_cluster(validators=4, seed=11, tx_rate_per_s=rate, config=_gates(**gates))
    c.run(until_ms=RUN_MS)
    assert c.node(0).height >= 6
    return c


def _restart_from(c: InMemoryCluster, i: int, persisted: PersistedState) -> Node:
    """Replace node ``i`` by one restored from ``persisted`` and start it now."""
    node = Node(c.config, c.keys[i], rules=c.rules, proofs=c.proofs, restore=persisted)
    c._nodes[i] = node
    c.crashed.discard(i)
    c._apply(i, node.on_start(c.now))
    return node


# --- pruning ----------------------------------------------------------------------------------


@pytest.mark.parametrize("pruning", [True, False])
def test_pruning_gate_drops_the_payload_of_the_previous_block(make_cluster, pruning):
    c = _cluster(make_cluster, pruning=pruning)
    node = c.node(0)
    height = node.height
    stored = node.get_persisted().commits
    assert [commit.block.hash for commit in stored] == [h for _, h in node.finalized_chain()]
    assert not is_pruned_block(stored[-1].block)  # the tip keeps its payload
    status = node.metrics()["pruning"]
    if pruning:
        assert all(is_pruned_block(commit.block) for commit in stored[:-1])
        assert node.pruned_heights == set(range(1, height))
        assert status["retained_payloads"] == 1
        assert status["pruned_payloads"] == height - 1
        assert status["retained_payload_bytes"] == compute_payload_bytes(node.chain[-1].block)
    else:
        assert not any(is_pruned_block(commit.block) for commit in stored)
        assert status["retained_payloads"] == height
        assert status["pruned_payloads"] == 0
    total = sum(compute_payload_bytes(commit.block) for commit in node.chain)
    assert status["retained_payload_bytes"] + status["pruned_payload_bytes"] == total


@pytest.mark.parametrize("pruning", [True, False])
def test_a_pruned_block_is_not_served_as_a_full_block(make_cluster, pruning):
    c = _cluster(make_cluster, pruning=pruning)
    node = c.node(0)
    effects = node.on_message(c.now, c.keys[1].address, SyncRequest(1, 4))
    sent = [effect.message for effect in effects if isinstance(effect, Send)]
    if pruning:
        assert [type(m) for m in sent] == [StateSyncResponse]
        assert sent[0].snapshot.height == node.height
    else:
        assert [m.block.header.height for m in sent] == [1, 2, 3, 4]
        assert all(is_valid_block_body(m.block) for m in sent)
    tip = node.on_message(c.now, c.keys[1].address, SyncRequest(node.height, 1))
    assert [e.message for e in tip] == [node.chain[-1]]  # the tip's payload is kept


def test_pruning_does_not_change_what_is_finalized(make_cluster):
    on = _cluster(make_cluster, pruning=True)
    off = _cluster(make_cluster, pruning=False)
    assert on.finalized_chain(0) == off.finalized_chain(0)
    assert on.node(0).ledger.get_state_root() == off.node(0).ledger.get_state_root()


@pytest.fixture(scope="module")
def finalized() -> list[Commit]:
    """Commits of a short run with transfers (the payloads pruning drops)."""
    c = InMemoryCluster(validators=4, seed=11, tx_rate_per_s=2.0, config=_gates(pruning=False))
    c.run(until_ms=RUN_MS)
    return list(c.node(0).chain)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(index=st.integers(min_value=0, max_value=5))
def test_a_pruned_commit_keeps_header_and_certificate(finalized, index):
    commit = finalized[index]
    pruned = compute_pruned_commit(commit)
    assert pruned.block.header == commit.block.header
    assert pruned.block.hash == commit.block.hash
    assert pruned.certificate == commit.certificate
    assert compute_payload_bytes(pruned.block) == 0
    assert compute_payload_bytes(commit.block) == commit.size_bytes - pruned.size_bytes
    assert is_pruned_block(pruned.block) is (compute_payload_bytes(commit.block) > 0)
    assert not is_pruned_block(commit.block)


# --- reconstruction ---------------------------------------------------------------------------


@pytest.mark.parametrize("reconstruction", [True, False])
def test_a_lagging_node_catches_up_over_pruned_peers_only_by_state_sync(
    make_cluster, reconstruction
):
    c = make_cluster(
        validators=4, seed=11, tx_rate_per_s=2.0, config=_gates(reconstruction=reconstruction)
    )
    c.run(until_ms=12_000)
    c.crash(3)
    c.run(until_ms=50_000)
    behind = c.node(3).height
    assert c.node(0).height >= behind + 5
    c.restart(3)
    c.run(until_ms=80_000)
    lagging = c.node(3)
    served = sum(c.node(i).rejections["sync: " + REASON_GATE_DISABLED] for i in range(3))
    if reconstruction:
        assert lagging.height >= c.node(0).height - 1
        assert served == 0
        assert lagging.pruned_heights == set(range(1, lagging.height))
        log = c.persisted[3]  # the adopted commits are persisted too, header and certificate
        assert [commit.block.header.height for commit in log] == list(range(1, len(log) + 1))
        assert is_pruned_block(log[behind].block)
        c.crash(3)  # the adopted commits are pruned: replay stops at the first one
        c.restart(3)
        assert c.node(3).height == behind
        c.run(until_ms=100_000)
        assert c.node(3).height >= c.node(0).height - 1
    else:
        assert lagging.height == behind
        assert served > 0
    assert lagging.status_rollout()["feature_gates"]["reconstruction"] is reconstruction


def test_state_sync_is_refused_with_the_gate_off_and_checked_with_it_on(make_cluster):
    c = _cluster(make_cluster)
    snapshot = c.node(0).get_snapshot()
    off_config = replace(c.config, rollout=_gates(reconstruction=False).rollout)
    off = Node(off_config, c.keys[3], rules=c.rules, proofs=c.proofs)
    assert off.on_message(c.now, "peer", StateSyncResponse(snapshot)) == []
    assert off.rejections["state_sync: " + REASON_GATE_DISABLED] == 1
    assert off.height == 0
    fresh = Node(c.config, c.keys[3], rules=c.rules, proofs=c.proofs)
    gap = replace(snapshot, headers=snapshot.headers[:-1] + snapshot.headers[:1])
    assert fresh.on_message(c.now, "peer", StateSyncResponse(gap)) == []
    assert fresh.rejections["state_sync: snapshot header chain is incomplete"] == 1
    fresh.on_message(c.now, "peer", StateSyncResponse(replace(snapshot, tip_hash="ab" * 32)))
    assert fresh.rejections["state_sync: snapshot tip differs from its header chain"] == 1
    assert fresh.height == 0
    fresh.on_message(c.now, "peer", StateSyncResponse(snapshot))
    assert (fresh.height, fresh.tip_hash) == (snapshot.height, snapshot.tip_hash)
    assert fresh.ledger.get_state_root() == snapshot.headers[-1].block.header.state_root
    assert fresh.ledger is not snapshot.ledger  # the receiver works on a fork
    assert fresh.on_message(c.now, "peer", StateSyncResponse(snapshot)) == []
    assert fresh.rejections["state_sync: snapshot is not ahead of the tip"] == 1


def test_a_state_sync_response_is_its_canonical_bytes(snapshots):
    c, taken = snapshots
    response = StateSyncResponse(taken[max(taken)])
    data = response.to_bytes()
    assert response.size_bytes == len(data)
    assert decode_message(data) == response
    ledger = c.node(0).ledger
    assert len(response.snapshot.ledger.accounts) == len(ledger) > 0
    node = Node(c.config, c.keys[3], rules=c.rules, proofs=c.proofs)
    node.on_message(c.now, "peer", data[:-1])  # truncated bytes are a decode rejection
    assert node.height == 0
    assert sum(n for k, n in node.rejections.items() if k.startswith("decode: ")) == 1
    shuffled = replace(
        response.snapshot,
        ledger=replace(response.snapshot.ledger, accounts=response.snapshot.ledger.accounts[::-1]),
    )
    node.on_message(c.now, "peer", StateSyncResponse(shuffled).to_bytes())
    assert node.rejections["state_sync: snapshot accounts not sorted by address"] == 1
    assert node.height == 0


def test_state_sync_with_a_wrong_ledger_is_rejected(make_cluster):
    c = _cluster(make_cluster)
    snapshot = c.node(0).get_snapshot()
    older = c.node(0).snapshot
    assert older is not None and older.height < snapshot.height
    wrong = replace(snapshot, ledger=older.ledger)
    fresh = Node(c.config, c.keys[3], rules=c.rules, proofs=c.proofs)
    assert fresh.on_message(c.now, "peer", StateSyncResponse(wrong)) == []
    assert fresh.rejections["state_sync: snapshot state root mismatch"] == 1
    assert fresh.height == 0


@pytest.fixture(scope="module")
def snapshots() -> tuple[InMemoryCluster, dict[int, StateSnapshot]]:
    """A pruned run with transfers and node 0's tip snapshot at every height of it."""
    c = InMemoryCluster(validators=4, seed=11, tx_rate_per_s=2.0)
    taken: dict[int, StateSnapshot] = {}
    for until in range(1_000, RUN_MS, 500):
        c.run(until_ms=until)
        node = c.node(0)
        taken.setdefault(node.height, node.get_snapshot())
    return c, taken


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_state_sync_from_any_snapshot_to_any_later_one(snapshots, data):
    """A node restored at height a adopts the snapshot of b iff b > a, and then holds
    exactly the state and tip of b."""
    c, snapshots = snapshots
    heights = sorted(snapshots)
    a, b = data.draw(st.sampled_from(heights)), data.draw(st.sampled_from(heights))
    node = Node(c.config, c.keys[3], restore=PersistedState(tip_state=snapshots[a]) if a else None)
    assert node.height == a
    response = StateSyncResponse(snapshots[b])
    as_bytes = data.draw(st.booleans())  # a response decodes from its canonical bytes
    node.on_message(0, "peer", response.to_bytes() if as_bytes else response)
    if b > a:
        assert (node.height, node.tip_hash) == (b, snapshots[b].tip_hash)
        ledger = compute_snapshot_ledger(snapshots[b].ledger, node.ledger.params)
        assert node.ledger.get_state_root() == ledger.get_state_root()
        assert node.get_snapshot() == snapshots[b]  # the adopted state is the sent state
        assert node.finalized_chain() == [
            (c.block.header.height, c.block.hash) for c in snapshots[b].headers
        ]
    else:
        assert node.height == a
        assert node.rejections["state_sync: snapshot is not ahead of the tip"] == 1


@pytest.mark.parametrize("reconstruction", [True, False])
def test_pruning_cycle_persists_a_snapshot_only_with_the_gate(make_cluster, reconstruction):
    c = _cluster(make_cluster, reconstruction=reconstruction)
    node = c.node(0)
    summary = node.run_pruning_cycle()
    if reconstruction:
        assert summary == {"completed": True, "snapshot_height": node.height}
        assert node.snapshot is not None and node.snapshot.height == node.height
        assert node.metrics()["pruning"]["cycles"] == node.height // node.snapshot_interval + 1
    else:
        assert summary == {"completed": True, "snapshot_height": None}
        assert node.snapshot is None
        assert node.metrics()["pruning"]["cycles"] == 0


def test_restart_keeping_everything_resumes_at_the_tip(make_cluster):
    c = _cluster(make_cluster)
    before = c.node(3)
    persisted = before.get_persisted()
    assert persisted.proof_cache
    height, tip, root = before.height, before.tip_hash, before.ledger.get_state_root()
    c.crash(3)
    node = _restart_from(c, 3, persisted)
    assert (node.height, node.tip_hash, node.ledger.get_state_root()) == (height, tip, root)
    assert node.verifier.cache.to_json_dict()["entries"] == len(persisted.proof_cache)
    c.run(until_ms=c.now + 20_000)
    assert node.height > height
    assert node.finalized_chain() == c.node(0).finalized_chain()[: node.height]


@pytest.mark.parametrize("reconstruction", [True, False])
def test_restart_from_the_snapshot_dir_alone_needs_the_gate(make_cluster, reconstruction):
    c = _cluster(make_cluster, reconstruction=reconstruction, pruning=False)
    persisted = c.node(3).get_persisted().without_data_dir()
    c.crash(3)
    node = _restart_from(c, 3, persisted)
    if reconstruction:
        snapshot = persisted.snapshot
        assert snapshot is not None and snapshot.height % node.snapshot_interval == 0
        assert node.height == snapshot.height
        assert node.ledger.get_state_root() == snapshot.headers[-1].block.header.state_root
    else:
        assert persisted.snapshot is None  # no cycle ran: nothing in snapshot_dir
        assert node.height == 0
    c.run(until_ms=c.now + 20_000)  # pruning off: the peers serve whole commits
    assert node.height >= c.node(0).height - 1


def test_restoring_a_snapshot_with_the_gate_off_is_refused(make_cluster):
    c = _cluster(make_cluster)
    persisted = c.node(3).get_persisted().without_data_dir()
    assert persisted.snapshot is not None
    config = replace(c.config, rollout=_gates(reconstruction=False).rollout)
    node = Node(config, c.keys[3], rules=c.rules, proofs=c.proofs, restore=persisted)
    assert node.height == 0
    assert node.rejections["restore: " + REASON_GATE_DISABLED] == 1


def test_restart_losing_everything_starts_from_genesis_and_catches_up(make_cluster):
    c = _cluster(make_cluster)
    c.crash(3)
    node = _restart_from(c, 3, PersistedState())
    assert node.height == 0
    c.run(until_ms=c.now + 20_000)
    assert node.height >= c.node(0).height - 1


def test_replay_stops_at_the_first_pruned_commit(make_cluster):
    c = _cluster(make_cluster)
    commits = c.node(0).get_persisted().commits
    node = Node(
        c.config, c.keys[3], rules=c.rules, proofs=c.proofs, restore=PersistedState(commits)
    )
    assert node.height == 0  # block 1 is pruned: nothing to re-execute
    whole = tuple(c.persisted[0])
    node = Node(c.config, c.keys[3], rules=c.rules, proofs=c.proofs, restore=PersistedState(whole))
    assert node.finalized_chain() == c.node(0).finalized_chain()


# --- recursive_proofs -------------------------------------------------------------------------


def _wrong_vrf_identity(identity_request, ledger) -> IdentityRequest:
    seed = bytes([12]) * 32
    request = identity_request(ledger, seed)
    other = identity_request(ledger, bytes([13]) * 32)
    return sign_identity_request(replace(request, vrf_pi=other.vrf_pi), generate_keypair(seed))


@pytest.mark.parametrize("recursive", [True, False])
def test_recursive_proofs_gate_checks_identity_proofs_at_admission(
    make_cluster, identity_request, recursive
):
    c = make_cluster(
        validators=4, seed=1, tx_rate_per_s=0.0, config=_gates(recursive_proofs=recursive)
    )
    node = c.node(0)
    wrong = _wrong_vrf_identity(identity_request, node.ledger)
    c.submit(0, wrong)
    if recursive:
        assert node.rejections["identity: invalid identity VRF proof"] == 1
        assert node.mempool.identities() == ()
    else:
        assert "identity: invalid identity VRF proof" not in node.rejections
        assert node.mempool.identities() == (wrong,)
    c.run(until_ms=30_000)
    assert all(c.node(i).ledger.get_account(wrong.wallet_address) is None for i in range(4))
    caught = sum(
        c.node(i).rejections["propose: identity invalid identity VRF proof"] for i in range(4)
    )
    assert (caught > 0) is not recursive  # off: only block building catches it


@pytest.mark.parametrize("recursive", [True, False])
def test_recursive_proofs_gate_on_the_proof_chain_walk(make_cluster, recursive):
    c = _cluster(make_cluster, recursive_proofs=recursive)
    node = c.node(0)
    if recursive:
        assert node.verify_proof_chain() is None
        honest = node.chain[2]
        header = replace(honest.block.header, recursive_commitment=bytes(32))
        node.chain[2] = replace(honest, block=replace(honest.block, header=header))
        assert node.verify_proof_chain() == "recursive commitment breaks at height 4"
        node.chain[2] = honest
    else:
        assert node.verify_proof_chain() == "recursive proof verification disabled by rollout"
        assert node.rejections["proof_chain: recursive proof verification disabled by rollout"] == 1


# --- consensus_enforcement --------------------------------------------------------------------


@pytest.mark.parametrize("enforcement", [True, False])
def test_consensus_enforcement_gate_verifies_vote_signatures(
    make_cluster, fresh_height, enforcement
):
    c = make_cluster(
        validators=4, seed=4, tx_rate_per_s=0.0, config=_gates(consensus_enforcement=enforcement)
    )
    height = fresh_height(c)
    node, voter = c.node(0), c.keys[2]
    vote = SignedBftVote(
        BftVote(0, height, "cd" * 32, voter.address, VoteKind.PRE_VOTE),
        voter.keypair.public_key,
        bytes(64),
    )
    node.on_message(c.now, voter.address, vote)
    stored = node.hs.votes.get(0)
    counted = stored is not None and stored.by_voter[0].get(voter.address) == vote
    assert counted is not enforcement
    assert (node.rejections["vote: invalid signature"] == 1) is enforcement


def _bad_identity(c: InMemoryCluster, node: Node) -> IdentityRequest:
    """A well-signed identity request the ledger refuses (a stale epoch nonce)."""
    seed = c.tree.seed_bytes("gates", "identity")
    request = replace(build_identity_request(node.ledger, seed), epoch_nonce=bytes(32))
    return sign_identity_request(request, generate_keypair(seed))


def _faulty_block(c: InMemoryCluster, leader: Node, fault: EvidenceKind) -> Block:
    """The leader's honest block of its height with one punishable fault."""
    built = leader._assemble_block(c.now, 0)
    assert built is not None
    block = built[0]
    if fault is EvidenceKind.INVALID_PROOF:
        return corrupt_block_proofs(block, "tamper", leader.config.max_proof_size_bytes)
    if fault is EvidenceKind.INVALID_IDENTITY:
        draft = replace(block, identities=(_bad_identity(c, leader),))
    else:  # a transfer already finalized, spent again
        spent = next(tx for commit in leader.chain for tx in commit.block.transactions)
        draft = replace(block, transactions=(*block.transactions, spent))
    return compute_sealed_block(draft, block.header.state_root, block.proofs)


PROPOSER_FAULTS = {
    EvidenceKind.INVALID_IDENTITY: SlashingReason.InvalidIdentity,
    EvidenceKind.INVALID_PROOF: SlashingReason.InvalidVote,
    EvidenceKind.INVALID_PROPOSAL: SlashingReason.ConsensusFault,
}


@pytest.mark.parametrize("enforcement", [True, False])
@pytest.mark.parametrize("fault", sorted(PROPOSER_FAULTS))
def test_consensus_enforcement_gate_slashes_the_proposer_of_an_invalid_block(
    make_cluster, fresh_height, fault, enforcement
):
    c = make_cluster(
        validators=4, seed=4, tx_rate_per_s=2.0, config=_gates(consensus_enforcement=enforcement)
    )
    height = fresh_height(c)
    while not any(commit.block.transactions for commit in c.node(0).chain):
        height = fresh_height(c)
    leader_address = c.node(0).get_voting_set().validators.get_leader(0, False)
    i = next(j for j, keys in enumerate(c.keys) if keys.address == leader_address)
    leader = c.node(i)
    stake = leader.ledger.get_account(leader_address).stake
    block = _faulty_block(c, leader, fault)
    c.inject(i, sign_proposal(block, 0, leader.keys.keypair))
    c.run(until_ms=c.now + 2 * leader.config.block_time_ms)
    node = c.node((i + 1) % 4)
    assert node.height > height
    rejected = sum(n for key, n in node.rejections.items() if key.startswith("proposal: "))
    assert rejected >= 1  # the faulty block is refused either way
    carried = [e for commit in node.chain for e in commit.block.evidence if e.kind == fault]
    slashed = [e for e in node.ledger.slashing_log if e.address == leader_address]
    if enforcement:
        assert [(e.address, e.height) for e in carried] == [(leader_address, height)]
        reason = PROPOSER_FAULTS[fault]
        assert [e.reason for e in slashed] == [reason]
        account = node.ledger.get_account(leader_address)
        assert account.stake == stake * (100 - reason.penalty_percent) // 100
        assert not account.reputation.zsi_validated
    else:
        assert carried == [] and slashed == []
        assert node.ledger.get_account(leader_address).stake == stake


@pytest.mark.parametrize("enforcement", [True, False])
def test_gossiped_proposal_evidence_needs_the_gate_and_an_invalid_block(
    make_cluster, fresh_height, enforcement
):
    c = make_cluster(
        validators=4, seed=4, tx_rate_per_s=2.0, config=_gates(consensus_enforcement=enforcement)
    )
    fresh_height(c)
    leader_address = c.node(0).get_voting_set().validators.get_leader(0, False)
    i = next(j for j, keys in enumerate(c.keys) if keys.address == leader_address)
    leader, node = c.node(i), c.node((i + 1) % 4)
    built = leader._assemble_block(c.now, 0)
    assert built is not None
    honest = sign_proposal(built[0], 0, leader.keys.keypair)
    bad = sign_proposal(
        _faulty_block(c, leader, EvidenceKind.INVALID_PROOF), 0, leader.keys.keypair
    )
    framed = compute_proposal_evidence(honest, EvidenceKind.INVALID_PROOF)
    mislabelled = compute_proposal_evidence(bad, EvidenceKind.INVALID_IDENTITY)
    valid = compute_proposal_evidence(bad, EvidenceKind.INVALID_PROOF)
    for evidence in (framed, mislabelled, valid):
        node.on_message(c.now, c.keys[2].address, evidence.to_bytes())
    pending = [e for e in node.pending_evidence.values() if e.address == leader_address]
    if enforcement:
        assert node.rejections["evidence: the accused proposal is valid"] == 1
        assert node.rejections["evidence: the accused proposal fails otherwise"] == 1
        assert pending == [valid]
    else:
        assert node.rejections["evidence: consensus enforcement disabled"] == 3
        assert pending == []


def test_proposal_evidence_shape_is_checked(finalized):
    keys = generate_keypair(bytes(32))
    other = generate_keypair(bytes([1]) * 32)
    header_only = Block(replace(finalized[4].block.header, proposer=keys.address))
    proposal = sign_proposal(header_only, 1, keys)
    evidence = compute_proposal_evidence(proposal, EvidenceKind.INVALID_PROOF)
    assert get_evidence_proposal(evidence) == proposal
    assert compute_proposal_evidence_shape_problem(evidence, 5) is None
    assert compute_proposal_evidence_shape_problem(evidence, 6) == (
        "proposal evidence for another height or round"
    )
    forged = replace(evidence, address=other.address)
    assert compute_proposal_evidence_shape_problem(forged, 5) == (
        "proposal not signed by the accused"
    )
    garbage = replace(evidence, proposal=b"\x07garbage")
    assert compute_proposal_evidence_shape_problem(garbage, 5) == "evidence carries no proposal"
    nested = sign_proposal(replace(header_only, evidence=(evidence,)), 1, keys)
    assert compute_proposal_evidence_shape_problem(
        compute_proposal_evidence(nested, EvidenceKind.INVALID_PROOF), 5
    ) == ("nested proposal evidence")


def test_offence_kinds_and_their_slashing_reasons():
    assert compute_offence_kind("identity rejected: stale epoch nonce", False) is (
        EvidenceKind.INVALID_IDENTITY
    )
    assert compute_offence_kind("transaction proof: invalid proof", False) is (
        EvidenceKind.INVALID_PROOF
    )
    assert compute_offence_kind("uptime proof: invalid proof", True) is EvidenceKind.INVALID_PROOF
    nonce = "transaction 0123456789abcdef rejected: invalid_nonce"
    assert compute_offence_kind(nonce, True) is EvidenceKind.INVALID_PROPOSAL
    assert compute_offence_kind(nonce, False) is None  # a nonce gap is no double spend
    assert compute_offence_kind("state root mismatch", True) is None
    for kind, reason in PROPOSER_FAULTS.items():
        assert get_slashing_reason(kind) is reason
    assert get_slashing_reason(EvidenceKind.DOUBLE_SIGN_PREVOTE) is SlashingReason.ConsensusFault


# --- advertised-only gates --------------------------------------------------------------------

ADVERTISED = ("malachite_consensus", "timetoke_rewards", "witness_network")


@pytest.mark.parametrize("gate", ADVERTISED)
def test_advertised_gates_change_nothing_but_the_advertisement(make_cluster, gate):
    on = _cluster(make_cluster, **{gate: True})
    off = _cluster(make_cluster, **{gate: False})
    assert on.finalized_chain(0) == off.finalized_chain(0)
    assert on.node(0).ledger.get_state_root() == off.node(0).ledger.get_state_root()
    assert on.node(0).rejections == off.node(0).rejections
    for c, value in ((on, True), (off, False)):
        assert c.node(0).status_rollout()["feature_gates"][gate] is value
        assert c.node(0).metrics()["rollout"]["feature_gates"][gate] is value


@given(
    gates=st.dictionaries(st.sampled_from(FEATURE_GATE_NAMES), st.booleans()),
    unknown=st.text(min_size=1, max_size=12).filter(lambda s: s not in FEATURE_GATE_NAMES),
)
def test_an_announcement_naming_an_unknown_gate_is_rejected(gates, unknown):
    assert compute_announcement_problem(gates) is None
    announced = {**gates, unknown: True}
    assert compute_announcement_problem(announced) == (
        f"unknown feature gate `{unknown}` in announcement"
    )
