"""A node's verifier counters and proof cache in its telemetry (rppsim/node/verifier.py)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.blocks import compute_block_problem
from rppsim.node.config import NodeConfig, ProofCacheConfig
from rppsim.node.messages import Transaction, sign_transaction
from rppsim.node.proofs import ModelProofService, UptimeStatement
from rppsim.node.rules import Rules
from rppsim.node.status import compute_telemetry_snapshot, compute_verifier_metrics
from rppsim.node.verifier import (
    MeteredVerifier,
    compute_backend_label,
    compute_node_cache_capacity,
)
from rppsim.testing.cluster import InMemoryCluster


def _metrics(cluster: InMemoryCluster, i: int) -> dict:
    return compute_verifier_metrics(cluster.node(i).view())


def _transfer(cluster: InMemoryCluster, wallet: int, recipient: str) -> Transaction:
    sender = cluster.wallets[wallet]
    cluster.nonces[sender.address] += 1
    tx = Transaction(sender.address, recipient, 5, 1, cluster.nonces[sender.address], b"", b"")
    return sign_transaction(tx, sender)


def _leader(cluster: InMemoryCluster) -> int:
    proposer = cluster.node(0).status_node()["consensus"]["proposer"]
    return next(i for i, k in enumerate(cluster.keys) if k.address == proposer)


def _quiet_cluster(make_cluster, fresh_height) -> InMemoryCluster:
    c = make_cluster(validators=4, seed=5, tx_rate_per_s=0.0, rules=Rules(allow_empty_blocks=True))
    c.run(until_ms=12_000)
    fresh_height(c)
    return c


def test_backend_labels_and_cache_capacity() -> None:
    assert compute_backend_label("model") == "stwo"
    assert compute_backend_label("numba-stark") == "rpp-stark"
    assert compute_backend_label("plonky3") == "plonky3"
    cache = ProofCacheConfig(default_retain=7, per_backend_retain={"stwo": 3})
    assert compute_node_cache_capacity(cache, "model") == 3
    assert compute_node_cache_capacity(cache, "numba-stark") == 7
    assert compute_node_cache_capacity(ProofCacheConfig(), "model") == 1024


def test_accepted_grows_with_blocks_and_the_snapshot_carries_the_counters(make_cluster) -> None:
    c = make_cluster(validators=4, seed=3, tx_rate_per_s=2.0)
    c.run(until_ms=15_000)
    early = _metrics(c, 1)["per_backend"]["stwo"]["accepted"]
    c.run(until_ms=30_000)
    metrics = _metrics(c, 1)
    stwo = metrics["per_backend"]["stwo"]
    assert c.node(1).height > 2 and stwo["accepted"] > early > 0
    assert (stwo["rejected"], stwo["bypassed"]) == (0, 0)
    assert stwo["total_duration_ms"] >= stwo["accepted"]  # ≥ 1 ms per model verification
    assert set(metrics["per_backend"]) == {"stwo", "plonky3", "rpp-stark"}
    assert metrics["per_backend"]["rpp-stark"]["accepted"] == 0
    circuits = metrics["per_circuit"]["stwo"]
    assert "consensus" in circuits and "transaction" in circuits
    assert sum(v["accepted"] for v in circuits.values()) == stwo["accepted"]
    cache = metrics["cache"]
    assert cache["misses"] == stwo["accepted"] + stwo["rejected"]
    assert (cache["capacity"], cache["queue_depth"], cache["max_queue_depth"]) == (1024, 0, 0)
    assert cache["entries"] == stwo["accepted"] and cache["evictions"] == 0
    snapshot = compute_telemetry_snapshot(c.node(1).view())
    assert snapshot["verifier_metrics"] == metrics


def test_counters_are_deterministic(make_cluster) -> None:
    runs = []
    for _ in range(2):
        c = make_cluster(validators=4, seed=9, tx_rate_per_s=1.0)
        c.run(until_ms=12_000)
        runs.append([_metrics(c, i) for i in range(4)])
    assert runs[0] == runs[1]


def test_a_tampered_proof_counts_as_rejected(make_cluster, fresh_height, tampered_proposal):
    c = _quiet_cluster(make_cluster, fresh_height)
    leader = _leader(c)
    target = (leader + 1) % 4
    before = _metrics(c, target)
    proposal = tampered_proposal(c, leader, 64)
    c.node(target).on_message(c.now, c.keys[leader].address, proposal)
    after = _metrics(c, target)
    assert c.node(target).rejections["proposal: consensus proof: invalid proof"] == 1
    delta = {
        k: after["per_backend"]["stwo"][k] - before["per_backend"]["stwo"][k]
        for k in ("accepted", "rejected")
    }
    assert delta == {"accepted": 0, "rejected": 1}
    assert after["per_circuit"]["stwo"]["consensus"]["rejected"] == 1
    assert after["cache"]["entries"] == before["cache"]["entries"]  # rejections are not cached


def test_a_redelivered_block_hits_the_cache(make_cluster, fresh_height) -> None:
    c = _quiet_cluster(make_cluster, fresh_height)
    c.submit(0, _transfer(c, 0, c.wallets[1].address))
    c.run(until_ms=c.now + 100)
    leader = _leader(c)
    block = c.node(leader)._build_block(c.now, c.node(leader).hs.round)
    assert block is not None and len(block.proofs) == 2
    node = c.node((leader + 1) % 4)
    before = _metrics(c, (leader + 1) % 4)

    def validate():
        return compute_block_problem(
            node.ledger, block, node._context(), node.verifier, node.previous_set,
            node.previous_epoch, round_set=node._voting_set_of(block),
        )  # fmt: skip

    assert not isinstance(validate(), str)
    first = compute_verifier_metrics(node.view())
    assert not isinstance(validate(), str)
    second = compute_verifier_metrics(node.view())
    accepted = before["per_backend"]["stwo"]["accepted"]
    assert first["per_backend"]["stwo"]["accepted"] == accepted + 2
    assert second["per_backend"]["stwo"] == first["per_backend"]["stwo"]
    assert second["cache"]["hits"] == first["cache"]["hits"] + 2
    assert second["cache"]["misses"] == first["cache"]["misses"]


def test_capacity_one_evicts(make_cluster) -> None:
    config = replace(NodeConfig(), proof_cache=ProofCacheConfig(default_retain=1))
    c = make_cluster(validators=4, seed=3, tx_rate_per_s=2.0, config=config)
    c.run(until_ms=30_000)
    evictions = 0
    for i in range(4):
        metrics = _metrics(c, i)
        accepted = metrics["per_backend"]["stwo"]["accepted"]
        cache = metrics["cache"]
        assert accepted >= 1 and (cache["capacity"], cache["entries"]) == (1, 1)
        assert cache["evictions"] == accepted - 1
        evictions += cache["evictions"]
    assert evictions > 0


class _NoCost:
    """A proof service without a cost model."""

    system = "model"

    def __init__(self) -> None:
        self.inner = ModelProofService()

    def is_provable(self, statement):
        return True

    def prove(self, statement):
        return self.inner.prove(statement)

    def verify(self, statement, system, data):
        return self.inner.verify(statement, system, data)


STATEMENT = UptimeStatement("w", 0, 3600, 3600, 0, b"", 1)


@settings(max_examples=60, deadline=None)
@given(system=st.sampled_from(["model", "stwo", "", "\x00"]) | st.text(max_size=8),
       data=st.binary(max_size=200))  # fmt: skip
def test_garbage_never_raises_and_counts_as_rejected(system, data) -> None:
    verifier = MeteredVerifier(ModelProofService(), capacity=2)
    outcome = verifier.verify(STATEMENT, system, data)
    assert not outcome.ok and outcome.reason
    metrics = verifier.to_json_dict()
    backend = compute_backend_label(system)
    assert metrics["per_backend"][backend]["rejected"] == 1
    assert metrics["cache"]["entries"] == 0 and metrics["cache"]["misses"] == 1


def test_durations_come_from_the_service_model_or_are_zero() -> None:
    proof = ModelProofService(proof_bytes=40_000).prove(STATEMENT)
    metered = MeteredVerifier(ModelProofService(proof_bytes=40_000), capacity=4)
    assert metered.verify(STATEMENT, "model", proof).ok
    assert metered.per_backend["stwo"].total_duration_ms == 3  # 40 000 B: 3 started 16 KiB
    bare = MeteredVerifier(_NoCost(), capacity=4)  # type: ignore[arg-type]
    assert bare.verify(STATEMENT, "model", ModelProofService().prove(STATEMENT)).ok
    assert bare.per_backend["stwo"].total_duration_ms == 0
