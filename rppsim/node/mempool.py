"""The node's four pending queues and block-payload selection (docs/operations.md#limits-and-queues,
docs/operations.md#mempool-status).

Each queue is an insertion-ordered dict (FIFO with O(1) lookup and removal), keyed by what the
chain deduplicates on: transaction hash, identity wallet address, vote hash; uptime proofs by
digest. Transactions, identities and votes reject a new entry once ``len >= limit`` without
evicting anything; the uptime queue has no limit. A rejected add never mutates the pool and
returns the chain's reason string; a successful add returns None.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from rppsim.node.messages import Block, IdentityRequest, SignedBftVote, Transaction, UptimeProof

__all__ = [
    "DEFAULT_MAX_BLOCK_IDENTITIES",
    "DEFAULT_MAX_BLOCK_TRANSACTIONS",
    "DEFAULT_MEMPOOL_LIMIT",
    "REASON_IDENTITY_DUPLICATE",
    "REASON_IDENTITY_FULL",
    "REASON_TRANSACTION_DUPLICATE",
    "REASON_TRANSACTION_FULL",
    "REASON_UPTIME_DUPLICATE",
    "REASON_VOTE_DUPLICATE",
    "REASON_VOTE_FINALIZED_HEIGHT",
    "REASON_VOTE_FULL",
    "BlockPayload",
    "Mempool",
    "compute_nonce_ordered",
]

DEFAULT_MEMPOOL_LIMIT = 8192
DEFAULT_MAX_BLOCK_TRANSACTIONS = 512
DEFAULT_MAX_BLOCK_IDENTITIES = 32

REASON_TRANSACTION_FULL = "mempool full"
REASON_IDENTITY_FULL = "identity mempool full"
REASON_VOTE_FULL = "vote mempool full"
REASON_TRANSACTION_DUPLICATE = "transaction already queued"
REASON_IDENTITY_DUPLICATE = "identity for this wallet already queued"
REASON_VOTE_DUPLICATE = "vote already queued"
REASON_VOTE_FINALIZED_HEIGHT = "vote references an already finalized height"
REASON_UPTIME_DUPLICATE = "uptime proof already queued"
"""Not a chain string: the chain's ledger rejects a duplicate proof before it is queued."""


@dataclass(frozen=True, slots=True)
class BlockPayload:
    """What a proposer takes from the mempool for one block
    (docs/operations.md#limits-and-queues)."""

    transactions: tuple[Transaction, ...]
    identities: tuple[IdentityRequest, ...]
    uptime_proofs: tuple[UptimeProof, ...]

    @property
    def is_empty(self) -> bool:
        """True when nothing is pending: the chain then produces no block."""
        return not (self.transactions or self.identities or self.uptime_proofs)


def _transaction_order(item: tuple[str, Transaction]) -> tuple[int, int, str]:
    """Fee descending, then nonce ascending, then hash (a total order)."""
    tx_hash, tx = item
    return (-tx.fee, tx.nonce, tx_hash)


def compute_nonce_ordered(
    items: Iterable[tuple[str, Transaction]], limit: int, next_nonce: Callable[[str], int]
) -> list[tuple[str, Transaction]]:
    """Up to ``limit`` transfers that apply in sequence: each sender's transfers from its
    ``next_nonce`` on, without a gap, the best fee among the senders' next ones first
    (``Rules.nonce_ordered_payload``; the chain takes the top fees whatever their nonce)."""
    by_sender: dict[str, dict[int, tuple[str, Transaction]]] = {}
    for item in sorted(items, key=_transaction_order):  # the best fee wins a nonce
        by_sender.setdefault(item[1].sender, {}).setdefault(item[1].nonce, item)
    heads: list[tuple[int, int, str, str]] = []
    for sender, queued in by_sender.items():
        head = queued.get(next_nonce(sender))
        if head is not None:
            heads.append((*_transaction_order(head), sender))
    heapq.heapify(heads)
    chosen: list[tuple[str, Transaction]] = []
    while heads and len(chosen) < limit:
        _, nonce, _, sender = heapq.heappop(heads)
        queued = by_sender[sender]
        chosen.append(queued[nonce])
        following = queued.get(nonce + 1)
        if following is not None:
            heapq.heappush(heads, (*_transaction_order(following), sender))
    return chosen


class Mempool:
    """Four FIFO queues with the chain's limits, dedupe rules and reason strings."""

    __slots__ = ("_identities", "_transactions", "_uptime", "_vote_heights", "_votes", "limit")

    def __init__(self, limit: int = DEFAULT_MEMPOOL_LIMIT) -> None:
        if not isinstance(limit, int) or limit < 0:
            raise ValueError(f"mempool limit must be an int >= 0, got {limit!r}")
        self.limit = limit
        self._transactions: dict[str, Transaction] = {}
        self._identities: dict[str, IdentityRequest] = {}
        self._votes: dict[str, SignedBftVote] = {}
        self._vote_heights: dict[int, dict[str, None]] = {}
        self._uptime: dict[bytes, tuple[UptimeProof, int]] = {}

    # --- admission -------------------------------------------------------------------------

    def add_transaction(self, tx: Transaction) -> str | None:
        """Queue a transaction: full, then duplicate hash (docs/operations.md#limits-and-queues)."""
        if len(self._transactions) >= self.limit:
            return REASON_TRANSACTION_FULL
        tx_hash = tx.hash
        if tx_hash in self._transactions:
            return REASON_TRANSACTION_DUPLICATE
        self._transactions[tx_hash] = tx
        return None

    def add_identity(self, request: IdentityRequest) -> str | None:
        """Queue an identity request: full, then one pending request per wallet."""
        if len(self._identities) >= self.limit:
            return REASON_IDENTITY_FULL
        if request.wallet_address in self._identities:
            return REASON_IDENTITY_DUPLICATE
        self._identities[request.wallet_address] = request
        return None

    def add_vote(self, vote: SignedBftVote, next_height: int) -> str | None:
        """Queue a vote: finalized height, then full, then duplicate
        (docs/protocol.md#rounds-and-quorum)."""
        height = vote.vote.height
        if height < next_height:
            return REASON_VOTE_FINALIZED_HEIGHT
        if len(self._votes) >= self.limit:
            return REASON_VOTE_FULL
        vote_hash = vote.hash
        if vote_hash in self._votes:
            return REASON_VOTE_DUPLICATE
        self._votes[vote_hash] = vote
        self._vote_heights.setdefault(height, {})[vote_hash] = None
        return None

    def add_uptime_proof(self, proof: UptimeProof, credited_hours: int = 0) -> str | None:
        """Queue an uptime proof the ledger credited (no limit; exact duplicates rejected)."""
        key = proof.digest()
        if key in self._uptime:
            return REASON_UPTIME_DUPLICATE
        self._uptime[key] = (proof, credited_hours)
        return None

    # --- block assembly and pruning --------------------------------------------------------

    def take_block_payload(
        self,
        max_transactions: int = DEFAULT_MAX_BLOCK_TRANSACTIONS,
        max_identities: int = DEFAULT_MAX_BLOCK_IDENTITIES,
        next_nonce: Callable[[str], int] | None = None,
    ) -> BlockPayload:
        """Identities FIFO, top transactions by (fee desc, nonce asc, hash), all uptime proofs;
        with ``next_nonce`` (a sender's next nonce), the transactions of
        ``compute_nonce_ordered`` instead.

        The transactions not taken stay queued in their original FIFO order
        (docs/operations.md#limits-and-queues).
        """
        limit = max(max_transactions, 0)
        if next_nonce is None:
            chosen = heapq.nsmallest(limit, self._transactions.items(), key=_transaction_order)
        else:
            chosen = compute_nonce_ordered(self._transactions.items(), limit, next_nonce)
        for tx_hash, _ in chosen:
            del self._transactions[tx_hash]
        wallets = list(islice(self._identities, max(max_identities, 0)))
        identities = tuple(self._identities.pop(wallet) for wallet in wallets)
        uptime_proofs = tuple(proof for proof, _ in self._uptime.values())
        self._uptime.clear()
        return BlockPayload(
            transactions=tuple(tx for _, tx in chosen),
            identities=identities,
            uptime_proofs=uptime_proofs,
        )

    def prune_votes_below(self, height: int) -> int:
        """Drop every vote for a height below ``height``; returns how many were dropped."""
        dropped = 0
        for stale in [h for h in self._vote_heights if h < height]:
            for vote_hash in self._vote_heights.pop(stale):
                del self._votes[vote_hash]
                dropped += 1
        return dropped

    def take_votes(self, height: int, block_hash: str | None = None) -> list[SignedBftVote]:
        """Remove and return, FIFO, the votes for ``height`` (and ``block_hash`` if given)."""
        bucket = self._vote_heights.get(height)
        if not bucket:
            return []
        taken = [
            vote_hash
            for vote_hash in bucket
            if block_hash is None or self._votes[vote_hash].vote.block_hash == block_hash
        ]
        return [self._pop_vote(vote_hash) for vote_hash in taken]

    def remove_votes_of(self, voter: str, height: int, round: int, kind: int) -> int:
        """Drop an offender's queued votes for (height, round, kind) (docs/protocol.md#evidence)."""
        bucket = self._vote_heights.get(height, {})
        doomed = [
            vote_hash
            for vote_hash in bucket
            if (vote := self._votes[vote_hash].vote).voter == voter
            and vote.round == round
            and vote.kind == kind
        ]
        for vote_hash in doomed:
            self._pop_vote(vote_hash)
        return len(doomed)

    def remove_included(self, block: Block) -> None:
        """Drop what a finalized block included: its transactions, identities, uptime proofs."""
        for tx in block.transactions:
            self._transactions.pop(tx.hash, None)
        for request in block.identities:
            self._identities.pop(request.wallet_address, None)
        for proof in block.uptime_proofs:
            self._uptime.pop(proof.digest(), None)

    def _pop_vote(self, vote_hash: str) -> SignedBftVote:
        vote = self._votes.pop(vote_hash)
        height = vote.vote.height
        bucket = self._vote_heights[height]
        del bucket[vote_hash]
        if not bucket:
            del self._vote_heights[height]
        return vote

    # --- queries ---------------------------------------------------------------------------

    def transactions(self) -> tuple[Transaction, ...]:
        """Queued transactions in FIFO order."""
        return tuple(self._transactions.values())

    def identities(self) -> tuple[IdentityRequest, ...]:
        """Queued identity requests in FIFO order."""
        return tuple(self._identities.values())

    def votes(self) -> tuple[SignedBftVote, ...]:
        """Queued votes in FIFO order."""
        return tuple(self._votes.values())

    def uptime_proofs(self) -> tuple[UptimeProof, ...]:
        """Queued uptime proofs in FIFO order."""
        return tuple(proof for proof, _ in self._uptime.values())

    def has_transaction(self, tx_hash: str) -> bool:
        """True if a transaction with this hash is queued."""
        return tx_hash in self._transactions

    def pending_counts(self) -> dict[str, int]:
        """Queue lengths under the chain's NodeStatus names (docs/operations.md#node-status)."""
        return {
            "pending_transactions": len(self._transactions),
            "pending_identities": len(self._identities),
            "pending_votes": len(self._votes),
            "pending_uptime_proofs": len(self._uptime),
        }

    def status_json(
        self,
        queue_weights: Mapping[str, float],
        identity_attestations: Mapping[str, tuple[int, int]] | None = None,
    ) -> dict[str, Any]:
        """The /status/mempool payload; empty lists omitted (docs/operations.md#mempool-status).

        ``identity_attestations`` maps a wallet to (attested_votes, gossip_confirmations),
        which the node tracks; a wallet missing from it shows (0, 0).
        """
        attestations = identity_attestations or {}
        lists: dict[str, list[dict[str, Any]]] = {
            "transactions": [tx.to_json_dict() for tx in self._transactions.values()],
            "identities": [
                request.to_json_dict(*attestations.get(wallet, (0, 0)))
                for wallet, request in self._identities.items()
            ],
            "votes": [vote.to_json_dict() for vote in self._votes.values()],
            "uptime_proofs": [
                proof.to_json_dict(credited_hours)
                for proof, credited_hours in self._uptime.values()
            ],
        }
        status: dict[str, Any] = {name: entries for name, entries in lists.items() if entries}
        status["queue_weights"] = {
            "priority": queue_weights["priority"],
            "fee": queue_weights["fee"],
        }
        return status
