"""The electorate (``rppsim.node.electorate``): fixed by committed state under the default
rule, from each node's pool under the chain's ``local-pool`` rule — and what that changes when
a leader equivocates."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.node.blocks import compute_round_set
from rppsim.node.electorate import (
    compute_genesis_electorate,
    compute_genesis_order,
    compute_next_electorate,
)
from rppsim.node.messages import (
    BftVote,
    Transaction,
    VoteKind,
    sign_proposal,
    sign_transaction,
    sign_vote,
)
from rppsim.node.node import Node
from rppsim.node.rules import Rules
from rppsim.testing.cluster import InMemoryCluster

LOCAL_POOL = Rules(electorate="local-pool")


def test_genesis_electorate_is_every_seeded_validator(make_cluster):
    c = make_cluster(validators=5, seed=2, tx_rate_per_s=0.0)
    node = c.node(0)
    electorate = compute_genesis_electorate(node.ledger)
    members = [address for address, _ in electorate.validators.powers]
    assert members == sorted(k.address for k in c.keys)
    assert electorate.validators.quorum > 2 * electorate.validators.total_power // 3
    candidates, _ = node.ledger.get_participants()
    assert list(electorate.validators.leader_order) == compute_genesis_order(candidates)
    assert node.electorate == electorate.validators  # the node starts with it
    assert all(c.node(i).electorate == node.electorate for i in range(5))


def test_every_node_holds_the_same_electorate_at_every_height(make_cluster):
    """The electorate of h + 1 is the selection over block h's submissions ∩ the Tl3+
    candidates after h; every node derives it from the chain, a replaying node too."""
    c = make_cluster(validators=4, seed=5, tx_rate_per_s=2.0)
    c.run(until_ms=40_000)
    chains = [c.finalized_chain(i) for i in range(4)]
    height = min(len(chain) for chain in chains)
    assert height >= 5
    at = [c.node(i) for i in range(4) if c.node(i).height == height]
    assert len({n.electorate for n in at}) == 1
    replayed = Node(c.config, c.keys[0], commits=c.node(0).chain[:height])
    assert replayed.electorate == at[0].electorate
    # and it is the selection over the last block's submissions
    before = Node(c.config, c.keys[0], commits=c.node(0).chain[: height - 1])
    block = c.node(0).chain[height - 1].block
    selected = compute_round_set(before.ledger, block.vrf_submissions, before._context())
    expected = compute_next_electorate(selected, replayed.ledger, before.elected)
    assert replayed.electorate == expected.validators
    assert set(dict(expected.validators.powers)) <= {m.address for m in block.vrf_submissions}


def test_a_block_without_submissions_keeps_the_electorate(make_cluster):
    """Selection over nobody: the electorate of h is kept for h + 1 (its members that are
    still candidates, powers from the new ledger)."""
    c = make_cluster(validators=4, seed=6, tx_rate_per_s=0.0)
    node = c.node(0)
    empty = compute_round_set(node.ledger, (), node._context())
    assert not empty.validators.powers
    kept = compute_next_electorate(empty, node.ledger, node.elected)
    assert kept.validators == node.elected.validators


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_genesis_order_is_a_pure_function_of_the_candidates(seed):
    c = InMemoryCluster(validators=4, seed=seed, tx_rate_per_s=0.0)
    candidates, _ = c.node(0).ledger.get_participants()
    order = compute_genesis_order(candidates)
    assert order == compute_genesis_order(reversed(candidates))
    assert sorted(order) == sorted(k.address for k in c.keys)


# --- one byzantine leader of 4 equal validators -------------------------------------------------


def _give_payload(c: InMemoryCluster, i: int) -> None:
    """A fresh transfer in node ``i``'s mempool, so that it has something to propose."""
    node = c.node(i)
    sender, recipient = c.wallets[0], c.wallets[1]
    nonce = (
        max(
            [node.ledger.get_account(sender.address).nonce]
            + [tx.nonce for tx in node.mempool.transactions() if tx.sender == sender.address]
        )
        + 1
    )
    tx = Transaction(sender.address, recipient.address, 10, 1, nonce, b"", b"")
    node.submit(c.now, sign_transaction(tx, sender))


def _equivocate(c: InMemoryCluster, fresh_height) -> tuple[int, int, int, str, str]:
    """The round-0 leader L proposes B1 (every submission) to two peers and B2 (only the
    submissions of L and x) to the third, votes for both, and goes silent.
    (L, x, height, B1, B2)."""
    height = fresh_height(c)
    leader_address = c.node(0).get_voting_set().validators.get_leader(0, False)
    leader = next(i for i, k in enumerate(c.keys) if k.address == leader_address)
    others = [i for i in range(4) if i != leader]
    x = others[-1]
    node = c.node(leader)
    _give_payload(c, leader)
    b1 = node._build_block(c.now, 0)
    pool = dict(node.pool)
    node.pool = {a: m for a, m in pool.items() if a in (leader_address, c.keys[x].address)}
    node.round_set = None
    b2 = node._build_block(c.now, 0)
    node.pool, node.round_set = pool, None
    assert b1 is not None and b2 is not None and b1.hash != b2.hash
    assert len(b2.vrf_submissions) == 2 and b2.header.height == height
    c.crash(leader)
    keypair = c.keys[leader].keypair
    for block, receivers in ((b1, others[:2]), (b2, [x])):
        c.inject(leader, sign_proposal(block, 0, keypair), receivers)
        for kind in (VoteKind.PRE_VOTE, VoteKind.PRE_COMMIT):
            vote = BftVote(0, height, block.hash, leader_address, kind)
            c.inject(leader, sign_vote(vote, keypair), receivers)
    c.run(until_ms=c.now + 20_000)
    return leader, x, height, b1.hash, b2.hash


def test_equivocating_leader_forks_the_chains_local_pool_rule(fresh_height):
    """The chain's rule: each block's own submissions decide who votes on it, so B2 (the set
    {L, x}) reaches quorum at x while B1 reaches it at the other two: two finalized blocks."""
    c = InMemoryCluster(validators=4, seed=11, tx_rate_per_s=2.0, rules=LOCAL_POOL)
    leader, x, height, b1, b2 = _equivocate(c, fresh_height)
    finalized = {c.node(i).finalized_chain()[height - 1][1] for i in range(4) if i != leader}
    assert finalized == {b1, b2}
    assert c.node(x).finalized_chain()[height - 1] == (height, b2)  # x counted {L, x}


def test_equivocating_leader_cannot_fork_a_committed_electorate(fresh_height, safety):
    """Counted against the committed electorate, B2 has 2 of 4 equal powers: no quorum."""
    c = InMemoryCluster(validators=4, seed=11, tx_rate_per_s=2.0)
    leader, _, height, b1, b2 = _equivocate(c, fresh_height)
    honest = [i for i in range(4) if i != leader]
    safety(c, honest)
    hashes = {h for i in honest for _, h in c.finalized_chain(i)}
    assert b2 not in hashes
    for i in honest:  # B1 (L + two peers, 3 of 4) is the block of the height, x syncs to it
        assert c.finalized_chain(i)[height - 1] == (height, b1)


# --- one proposal of a far round ---------------------------------------------------------------


@pytest.mark.parametrize("rules", [Rules(rotate_leader_on_round_change=True), Rules()])
def test_a_single_far_round_proposal_is_buffered_not_obeyed(fresh_height, safety, rules):
    """A validator that signs a proposal for round 4003 (it leads that round under rotation)
    moves nobody there: a round is entered on a timeout or on f + 1 power of that round."""
    c = InMemoryCluster(validators=4, seed=12, tx_rate_per_s=2.0, rules=rules)
    fresh_height(c)
    validators = c.node(0).get_voting_set().validators
    far = 4003
    rogue_address = validators.get_leader(far, rules.rotate_leader_on_round_change)
    rogue = next(i for i, k in enumerate(c.keys) if k.address == rogue_address)
    if not rules.rotate_leader_on_round_change:
        assert rogue_address == validators.get_leader(0, False)
    _give_payload(c, rogue)
    block = c.node(rogue)._build_block(c.now, far)
    assert block is not None
    c.inject(rogue, sign_proposal(block, far, c.keys[rogue].keypair))
    c.run(until_ms=c.now + 500)
    for i in range(4):
        if i != rogue:
            assert c.node(i).hs.round < far
    c.run(until_ms=c.now + 30_000)
    safety(c)
    assert all(block.hash not in {h for _, h in c.finalized_chain(i)} for i in range(4))
    assert all(c.node(i).height >= block.header.height for i in range(4))


def test_f_plus_one_messages_of_a_higher_round_move_a_node_there(make_cluster, fresh_height):
    """Votes of round r from validators with > 1/3 of the power: the node enters r."""
    c = make_cluster(validators=4, seed=13, tx_rate_per_s=0.0)
    height = fresh_height(c)
    node = c.node(0)
    fake = "ab" * 32
    for sender in (1, 2):
        vote = BftVote(7, height, fake, c.keys[sender].address, VoteKind.PRE_VOTE)
        before = node.hs.round
        node.on_message(c.now, c.keys[sender].address, sign_vote(vote, c.keys[sender].keypair))
        if sender == 1:
            assert node.hs.round == before  # one of four: not more than a third
    assert node.hs.round == 7
    assert node.consensus.round_skips == 1
