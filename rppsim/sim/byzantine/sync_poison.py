"""``sync-poison``: a peer answers a lagging node's ``SyncRequest`` with forged commits.

A node that sees a message of a later height asks the peer that relayed it for the commits it
missed (``rppsim.node.sync``). A poisoning node answers such a request honestly in number and
heights, but every ``Commit`` it sends is forged, by ``mode``:

* ``certificate``: the finalized block with its certificate's signatures corrupted;
* ``minority``: a rival block of the height (``build_variant_block``: valid, never voted on)
  certified by the poisoning nodes' own prevotes and precommits only — real signatures of
  real members, far below the quorum (a block the electorate did not finalize);
* ``outsiders``: the rival block certified by votes of keys outside the electorate, each
  claiming the power of the member it replaces;
* ``parent``: the finalized block with another parent hash (its certificate no longer names
  it either);
* ``mixed`` (default): the four in turn, one per forged commit.

The lagging node checks a synced commit like a proposal — the block against its tip and
ledger, then the certificate against the electorate its own chain defines
(``compute_certificate_problem``) — and rejects each forgery by reason ("commit: invalid vote
in certificate", "commit: certificate below quorum", "commit: previous hash mismatch" or the
like in the ``rejections`` frame); nothing of it is applied. It then asks the next peer that
relays it a later message, and catches up from an honest one. The poisoner otherwise runs
honestly.

Verdicts that notice it: the ``rejections`` frame of the lagging node. ``safety``,
``agreement`` and ``liveness`` hold: no forged commit is ever adopted.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rppsim.node.messages import (
    BftVote,
    Commit,
    ConsensusCertificate,
    SignedBftVote,
    VoteKind,
    VoteRecord,
    sign_vote,
)
from rppsim.node.signing import Keypair, generate_keypair
from rppsim.sim.byzantine.base import Behaviour, Entry
from rppsim.sim.byzantine.equivocate import build_variant_block

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

SYNC_POISON = "sync-poison"
FORGERIES = ("certificate", "minority", "outsiders", "parent")
"""The forgeries ``mixed`` cycles through."""


def corrupt_signature(signed: SignedBftVote) -> SignedBftVote:
    """The vote with the first byte of its signature flipped."""
    signature = bytes([signed.signature[0] ^ 1]) + signed.signature[1:]
    return replace(signed, signature=signature)


def build_certificate(
    certificate: ConsensusCertificate,
    block_hash: str,
    signers: list[tuple[Keypair, int]],
) -> ConsensusCertificate:
    """``certificate`` for ``block_hash`` with one prevote and one precommit per (key, claimed
    weight) of ``signers``."""
    records: dict[VoteKind, list[VoteRecord]] = {VoteKind.PRE_VOTE: [], VoteKind.PRE_COMMIT: []}
    for keypair, weight in signers:
        for kind, out in records.items():
            vote = BftVote(certificate.round, certificate.height, block_hash, keypair.address, kind)
            out.append(VoteRecord(sign_vote(vote, keypair), weight))
    power = sum(weight for _, weight in signers)
    return replace(
        certificate,
        block_hash=block_hash,
        pre_votes=tuple(records[VoteKind.PRE_VOTE]),
        pre_commits=tuple(records[VoteKind.PRE_COMMIT]),
        pre_vote_power=power,
        pre_commit_power=power,
        commit_power=power,
    )


class SyncPoison(Behaviour):
    """Forges every commit the entry's nodes send in answer to a sync request."""

    kind = SYNC_POISON

    def __init__(self, entry: Entry, outsiders: list[Keypair]) -> None:
        super().__init__(entry)
        self.mode = entry.spec.mode or "mixed"
        self.outsiders = outsiders
        """Keys outside every electorate (``outsiders`` certificates)."""
        self.forged: dict[str, int] = {}
        """Forged commits sent, by forgery."""

    def send(self, sim: Simulation, i: int, at_ms: int, message: Any) -> Any | None:
        """A commit served to a peer leaves forged."""
        if not isinstance(message, Commit):
            return None
        forgery = self.mode
        if forgery == "mixed":
            forgery = FORGERIES[sum(self.forged.values()) % len(FORGERIES)]
        self.forged[forgery] = self.forged.get(forgery, 0) + 1
        return self._forge(sim, forgery, message)

    def _forge(self, sim: Simulation, forgery: str, commit: Commit) -> Commit:
        certificate = commit.certificate
        if forgery == "certificate":
            return replace(
                commit,
                certificate=replace(
                    certificate,
                    pre_votes=tuple(
                        replace(r, vote=corrupt_signature(r.vote)) for r in certificate.pre_votes
                    ),
                    pre_commits=tuple(
                        replace(r, vote=corrupt_signature(r.vote)) for r in certificate.pre_commits
                    ),
                ),
            )
        if forgery == "parent":
            header = replace(commit.block.header, previous_hash="f" * 64)
            return replace(commit, block=replace(commit.block, header=header))
        rival = build_variant_block(commit.block)
        if forgery == "minority":
            weights = {r.vote.vote.voter: r.weight for r in certificate.pre_votes}
            signers = [
                (sim.keys[m].keypair, weights.get(sim.addresses[m], 1)) for m in sorted(self.nodes)
            ]
        else:
            claimed = [r.weight for r in certificate.pre_votes]
            signers = list(zip(self.outsiders, claimed, strict=False))
        return Commit(rival, build_certificate(certificate, rival.hash, signers))


def build_sync_poison(sim: Simulation, entry: Entry) -> SyncPoison:
    """Entry ``entry``'s poisoner, with outsider keys from ``("byzantine", kind, index, k)``."""
    outsiders = [
        generate_keypair(sim.tree.seed_bytes("byzantine", SYNC_POISON, entry.index, k))
        for k in range(sim.scenario.nodes.count)
    ]
    return SyncPoison(entry, outsiders)
