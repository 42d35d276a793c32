"""The ``equivocate`` attack: a coalition shows two valid blocks to two halves of the network.

The byzantine nodes of every ``[[byzantine]] kind = "equivocate"`` entry form one coalition.
When a member (as the leader) publishes a ``Proposal`` of block A for (height, round), the
kernel builds a second valid block B for the same height and round: A with
``header.timestamp_ms`` moved by 1 ms within the same second. The ledger time of a block is
its timestamp's whole second (``rppsim.node.blocks.compute_block_time_s``) and nothing else in
the header, body, proofs or state root depends on the timestamp, so B passes
``compute_block_problem`` exactly as A does, with the same state root; only its hash differs.

Instead of flooding A, the leader unicasts A to one half of the honest nodes and B (re-signed)
to the other half; coalition members get both. At the same instant every running coalition
validator sends signed prevotes and precommits for A to the A half and for B to the B half,
and its own (honest) votes of that height and round are dropped. The halves are drawn once per
run from ``("byzantine", "equivocate")``: honest validators and honest full nodes are each
shuffled and dealt alternately, so both halves hold (about) half the honest power.

With coalition power f·T and each half holding about (1 − f)·T/2 honest power, a half reaches
the quorum ⌈2T/3⌉ + 1 when f + (1 − f)/2 > 2/3, that is f > 1/3: both halves finalize different
blocks of one height, a safety violation. With f < 1/3 at most one half can reach a quorum, and
the BFT locks keep every honest node on one block (the other half syncs it).

The coalition's votes are recorded in the ``votes`` frame (with the number of their
receivers), so the double signs stay visible to the checkers even though no honest node sees
both of a member's votes.

Verdicts: at f ≥ 1/3 ``safety`` and ``agreement`` fail (``scenarios/explore-equivocate.toml``
lets ``rppsim explore`` find such forks). Below 1/3 the chain stays safe, and the honest nodes
turn the members' vote pairs into double-sign evidence once a certificate carries one half's
votes to the other (``rppsim.node.rounds``): the ``evidence`` frame names them, the ``ledger``
frame shows the 10 % stake cut, and ``accountability`` passes only if that happens within 10
heights of each offense.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rppsim.node.messages import (
    BftVote,
    Block,
    Proposal,
    SignedBftVote,
    VoteKind,
    sign_proposal,
    sign_vote,
)
from rppsim.rng import SeedTree
from rppsim.sim.byzantine.base import Behaviour, Entry

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation
    from rppsim.sim.spec import NodesConfig

EQUIVOCATE = "equivocate"
VOTE_LABELS = ((VoteKind.PRE_VOTE, "prevote"), (VoteKind.PRE_COMMIT, "precommit"))


def compute_variant_timestamp(timestamp_ms: int) -> int:
    """The timestamp 1 ms away within the same second (so the ledger time is unchanged)."""
    return timestamp_ms - 1 if timestamp_ms % 1000 == 999 else timestamp_ms + 1


def build_variant_block(block: Block) -> Block:
    """A second valid block for the same height and round: same payload, timestamp ± 1 ms."""
    timestamp_ms = compute_variant_timestamp(block.header.timestamp_ms)
    return replace(block, header=replace(block.header, timestamp_ms=timestamp_ms))


def compute_halves(
    honest: Iterable[int], validators: int, rng: np.random.Generator
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Honest nodes split in two halves: validators (ids below ``validators``) and full nodes
    are each shuffled and dealt alternately, so each half gets about half of either."""
    nodes = sorted(honest)
    halves: tuple[list[int], list[int]] = ([], [])
    for group in ([v for v in nodes if v < validators], [v for v in nodes if v >= validators]):
        for k, index in enumerate(rng.permutation(len(group))):
            halves[k % 2].append(group[int(index)])
    return tuple(sorted(halves[0])), tuple(sorted(halves[1]))


class Equivocation(Behaviour):
    """The run's equivocating coalition, its honest halves and the rounds it attacked."""

    kind = EQUIVOCATE

    def __init__(
        self,
        entries: tuple[Entry, ...],
        validators: int,
        half_a: tuple[int, ...],
        half_b: tuple[int, ...],
    ) -> None:
        super().__init__(entries[0])
        self.entries = entries
        self.members = frozenset().union(*(e.nodes for e in entries))
        self.nodes = self.members
        self.validators = validators
        self.half_a = half_a
        self.half_b = half_b
        self.attacked: set[tuple[int, int]] = set()
        """(height, round) pairs where the coalition equivocated (its own votes there are
        dropped)."""

    def is_active(self, node: int, t_ms: int) -> bool:
        """Whether ``node`` equivocates at ``t_ms`` (any of its equivocate entries is active)."""
        return any(e.is_active(node, t_ms) for e in self.entries)

    def publish(self, sim: Simulation, i: int, at_ms: int, message: Any) -> list[Any] | None:
        """What node ``i`` publishes instead of ``message``: [] when the attack replaces it,
        None when the coalition leaves it alone (the other behaviours then apply)."""
        if i not in self.members or not self.is_active(i, at_ms):
            return None
        if isinstance(message, Proposal):
            self._equivocate(sim, i, at_ms, message)
            return []
        if isinstance(message, SignedBftVote):
            vote = message.vote
            if (vote.height, vote.round) in self.attacked:
                return []
        return None

    def _equivocate(self, sim: Simulation, i: int, at_ms: int, proposal: Proposal) -> None:
        """Proposal A to one half, B to the other; the coalition votes for both."""
        block_a = proposal.block
        block_b = build_variant_block(block_a)
        height, round_ = block_a.header.height, proposal.round
        proposal_b = sign_proposal(block_b, round_, sim.keys[i].keypair)
        self.attacked.add((height, round_))
        others = [m for m in sorted(self.members) if m != i]
        for j in (*self.half_a, *others):
            sim._send(i, at_ms, sim.addresses[j], proposal)
        for j in (*self.half_b, *others):
            sim._send(i, at_ms, sim.addresses[j], proposal_b)
        for m in sorted(self.members):
            if m >= self.validators or sim.slots[m].node is None or not self.is_active(m, at_ms):
                continue
            for block, half in ((block_a, self.half_a), (block_b, self.half_b)):
                self._vote(sim, m, at_ms, height, round_, block.hash, half)

    def _vote(
        self,
        sim: Simulation,
        m: int,
        at_ms: int,
        height: int,
        round_: int,
        block_hash: str,
        half: Sequence[int],
    ) -> None:
        """Member ``m``'s prevote and precommit for ``block_hash``, unicast to ``half``."""
        for kind, label in VOTE_LABELS:
            vote = BftVote(round_, height, block_hash, sim.addresses[m], kind)
            signed = sign_vote(vote, sim.keys[m].keypair)
            for j in half:
                sim._send(m, at_ms, sim.addresses[j], signed)
            sim.recorder.record_vote(height, round_, label, m, block_hash, at_ms, len(half))


def build_equivocation(
    entries: Sequence[Entry], nodes: NodesConfig, tree: SeedTree
) -> Equivocation | None:
    """The coalition of the ``equivocate`` entries, or None when there is none."""
    n, validators = nodes.count, nodes.validators
    coalition = tuple(e for e in entries if e.kind == EQUIVOCATE)
    if not coalition:
        return None
    members = frozenset().union(*(e.nodes for e in coalition))
    honest = [v for v in range(n) if v not in members]
    half_a, half_b = compute_halves(honest, validators, tree.generator("byzantine", EQUIVOCATE))
    return Equivocation(coalition, validators, half_a, half_b)
