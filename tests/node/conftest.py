"""Fixtures of the node tests: clusters whose safety is checked after every test.

``assert_safety`` is the safety invariant (no two honest nodes finalized different blocks at
one height); every cluster made with the ``make_cluster`` fixture is checked again when the
test ends, so no cluster test can forget it. ``node_fingerprint`` captures a node's state
(not its metrics counters) for the "garbage never changes state" checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from rppsim.node.blocks import build_identity_request as make_identity_request
from rppsim.node.ledger import Ledger
from rppsim.node.messages import (
    IdentityRequest,
    ProofSlot,
    Proposal,
    compute_recursive_commitment,
    sign_proposal,
)
from rppsim.node.node import Node
from rppsim.node.proofs import ModelProofService, Statement, VerifyOutcome
from rppsim.testing.cluster import InMemoryCluster


def assert_safety(cluster: InMemoryCluster, honest: Iterable[int] | None = None) -> None:
    """No two honest nodes finalized different blocks at one height (and heights are 1..n)."""
    indices = list(range(len(cluster.keys))) if honest is None else list(honest)
    finalized: dict[int, tuple[str, int]] = {}
    for i in indices:
        chain = cluster.finalized_chain(i)
        assert [height for height, _ in chain] == list(range(1, len(chain) + 1)), i
        for height, block_hash in chain:
            first = finalized.setdefault(height, (block_hash, i))
            assert first[0] == block_hash, (
                f"height {height}: node {first[1]} finalized {first[0]}, node {i} {block_hash}"
            )


def node_fingerprint(node: Node) -> tuple[Any, ...]:
    """Everything that is a node's state, leaving out its rejection and failed-vote counters."""
    hs = node.hs
    votes = tuple(
        (round_, tuple(sorted(rv.by_voter[0].items())), tuple(sorted(rv.by_voter[1].items())))
        for round_, rv in sorted(hs.votes.items())
    )
    metrics = node.consensus
    return (
        tuple(node.finalized_chain()),
        node.tip_hash,
        node.ledger.get_state_root(),
        node.ledger.epoch_nonce,
        tuple(node.mempool.transactions()),
        tuple(node.mempool.identities()),
        tuple(node.mempool.uptime_proofs()),
        tuple(node.mempool.votes()),
        tuple(sorted(node.pool.items())),
        (hs.height, hs.round, votes, tuple(sorted(hs.proposals.items()))),
        (tuple(sorted(hs.applied)), tuple(sorted(hs.blocks)), hs.lock.block_hash, hs.lock.round),
        (
            tuple(sorted(hs.polka.items())),
            hs.step,
            hs.signed_round,
            tuple(sorted((r, tuple(sorted(v))) for r, v in hs.ahead.items())),
        ),
        tuple(sorted(node.pending_evidence)),
        tuple((h, tuple(q)) for h, q in sorted(node.future.items())),
        node.sync_requested_ms,
        (metrics.leader_changes, metrics.witness_events, metrics.slashing_events),
    )


@pytest.fixture
def make_cluster() -> Iterator[Callable[..., InMemoryCluster]]:
    """A factory of in-memory clusters; each one's safety is asserted at teardown."""
    made: list[InMemoryCluster] = []

    def factory(*args: Any, **kwargs: Any) -> InMemoryCluster:
        cluster = InMemoryCluster(*args, **kwargs)
        made.append(cluster)
        return cluster

    yield factory
    for cluster in made:
        assert_safety(cluster)


@pytest.fixture(scope="session")
def safety() -> Callable[..., None]:
    """The safety invariant, to call explicitly at the end of a cluster test."""
    return assert_safety


@pytest.fixture(scope="session")
def fingerprint() -> Callable[[Node], tuple[Any, ...]]:
    """``node_fingerprint`` as a fixture."""
    return node_fingerprint


class CountingProofService(ModelProofService):
    """The model proof service, recording the size of every proof it is asked to verify."""

    def __init__(self) -> None:
        super().__init__()
        self.verified_sizes: list[int] = []

    def verify(self, statement: Statement, system: str, data: bytes) -> VerifyOutcome:
        """Record ``len(data)``, then verify as the model service does."""
        self.verified_sizes.append(len(data))
        return super().verify(statement, system, data)


@pytest.fixture
def counting_proofs() -> CountingProofService:
    """A fresh counting proof service."""
    return CountingProofService()


@pytest.fixture
def identity_request() -> Callable[[Ledger, bytes], IdentityRequest]:
    """``make_identity_request`` as a fixture."""
    return make_identity_request


def make_tampered_proposal(
    cluster: InMemoryCluster, leader: int, proof_bytes: int, slot: int = -1
) -> Proposal:
    """The leader's real next block with proof ``slot`` replaced by ``proof_bytes`` zero
    bytes; header commitment recomputed and the proposal re-signed, so only the slot is off."""
    node = cluster.node(leader)
    block = node._build_block(cluster.now, node.hs.round)
    assert block is not None and block.proofs, "the leader has a payload to propose"
    proofs = list(block.proofs)
    proofs[slot] = ProofSlot(proofs[slot].system, proofs[slot].circuit, bytes(proof_bytes))
    header = replace(
        block.header,
        recursive_commitment=compute_recursive_commitment(
            block.header.recursive_previous_commitment, [p.digest() for p in proofs]
        ),
    )
    tampered = replace(block, header=header, proofs=tuple(proofs))
    return sign_proposal(tampered, node.hs.round, cluster.keys[leader].keypair)


@pytest.fixture
def tampered_proposal() -> Callable[..., Proposal]:
    """``make_tampered_proposal`` as a fixture."""
    return make_tampered_proposal


def run_to_fresh_height(cluster: InMemoryCluster, observer: int = 0) -> int:
    """Advance until ``observer`` has just started a new height and every submission for it
    has arrived (the PROPOSE timer is still ahead); that height."""
    node = cluster.node(observer)
    height = node.hs.height
    while node.hs.height == height:
        cluster.run(until_ms=cluster.now + 100)
        node = cluster.node(observer)
    cluster.run(until_ms=node.hs.started_ms + 200)
    return node.hs.height


@pytest.fixture(scope="session")
def fresh_height() -> Callable[..., int]:
    """``run_to_fresh_height`` as a fixture."""
    return run_to_fresh_height
