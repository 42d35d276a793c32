"""``invalid-block``: a byzantine leader proposes a block that breaks one rule.

When the node leads a round, the block of its proposal is replaced by one that differs in one
part (``mode``), every other part recomputed so that only that part is wrong
(``rppsim.sim.byzantine.rebuild``), and the proposal is re-signed:

* ``state-root``: the header's state root is not the one the block leads to → honest nodes
  reject the proposal with "state root mismatch";
* ``transaction``: the block also carries a transfer from a funded traffic wallet to the
  leader, signed with the leader's key instead of the wallet's (the state root, roots and
  proofs include it) → "transaction … rejected: invalid signature";
* ``certificate``: the certificate of the previous block it carries keeps a single
  precommit (roots, proofs and the participation detectors' effects follow it) →
  "certificate below quorum". At height 1 there is no certificate: the proposal stays honest.

The leader's own node keeps its honest block (it prevotes it, nobody else has it). The other
validators never prevote the bad block; the round times out, they precommit nil and move to
the next round. With ``[rules] rotate_leader_on_round_change = true`` another validator leads
it and the height is decided; with the chain's rule (one leader for every round of a height)
the height stalls for as long as the leader misbehaves.

Verdicts that notice it: the ``rejections`` frame counts "proposal: <reason>" at every honest
node; ``blocks`` shows rounds > 0 at the heights the byzantine node led; ``safety`` and
``agreement`` hold (no honest node finalizes the bad block); without rotation ``g18-liveness``
and the production alerts fail while it leads.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rppsim.node.messages import (
    Block,
    Proposal,
    Transaction,
    sign_proposal,
    sign_transaction,
)
from rppsim.sim.byzantine.base import Behaviour, Entry
from rppsim.sim.byzantine.rebuild import rebuild_block

if TYPE_CHECKING:
    from rppsim.node.node import Node
    from rppsim.sim.kernel import Simulation

INVALID_BLOCK = "invalid-block"


class InvalidBlock(Behaviour):
    """Replaces the node's proposals with invalid blocks of the entry's mode."""

    kind = INVALID_BLOCK

    def __init__(self, entry: Entry) -> None:
        super().__init__(entry)
        self.mode = entry.spec.mode
        self.made: dict[str, Block] = {}
        """Honest block hash → the invalid block sent instead (a re-proposal reuses it)."""

    def publish(self, sim: Simulation, i: int, at_ms: int, message: Any) -> list[Any] | None:
        """An own proposal is re-signed around the invalid block."""
        if not isinstance(message, Proposal) or message.proposer != sim.addresses[i]:
            return None
        node = sim.slots[i].node
        block = message.block
        bad = self.made.get(block.hash)
        if bad is None and node is not None:
            bad = self._build(sim, node, block)
            if bad is not None:
                self.made[block.hash] = bad
        if bad is None:
            return None
        return [sign_proposal(bad, message.round, sim.keys[i].keypair)]

    def _build(self, sim: Simulation, node: Node, block: Block) -> Block | None:
        if self.mode == "state-root":
            root = hashlib.blake2s(b"rppsim/invalid-state-root" + block.header.state_root)
            return replace(block, header=replace(block.header, state_root=root.digest()))
        if self.mode == "transaction":
            theft = build_forged_transfer(sim, node, block)
            if theft is None:
                return None
            return rebuild_block(node, block, transactions=(*block.transactions, theft))
        certificate = block.last_certificate
        if certificate is None or len(certificate.pre_commits) < 2:
            return None
        wrong = replace(certificate, pre_commits=certificate.pre_commits[:1])
        return rebuild_block(node, block, last_certificate=wrong)


FORGED_AMOUNT = 1000
"""What the forged transfer moves (a traffic-sized amount, within the proving range)."""


def build_forged_transfer(sim: Simulation, node: Node, block: Block) -> Transaction | None:
    """``FORGED_AMOUNT`` from the richest traffic wallet (in the leader's ledger; ties by
    address) to the leader, with the wallet's next nonce after the block's transfers, signed
    with the leader's key: valid in every respect but its signature."""
    ledger = node.ledger
    accounts = [ledger.get_account(w.address) for w in sim.wallets]
    funded = [a for a in accounts if a is not None and a.balance > 2 * FORGED_AMOUNT]
    if not funded:
        return None
    victim = max(funded, key=lambda a: (a.balance, a.address))
    nonce = victim.nonce + sum(1 for tx in block.transactions if tx.sender == victim.address)
    keypair = sim.keys[sim.index[node.address]].keypair
    forged = Transaction(
        victim.address, node.address, FORGED_AMOUNT, 0, nonce + 1, keypair.public_key
    )
    return sign_transaction(forged, keypair)
