"""Payload pruning: the ``pruning`` feature gate (docs/operations.md#rollout,
docs/operations.md#pruning-and-storage).

With the gate on, storing block h (h > 0) prunes the payload of block h − 1, as
``HUBId/chain:rpp/runtime/node.rs`` does after local and external finalisation: the header
(hence the hash, the state root and the recursive commitment) and the commit certificate
stay, the lists the header's roots commit to go (transactions, identities, uptime proofs,
proofs, VRF submissions, evidence, the carried certificate). A pruned block can still be
named and linked, but it can no longer be served or replayed as a full block: a peer that
misses it catches up by state sync (``rppsim.node.state_sync``, the ``reconstruction`` gate).

A node that keeps only what its config retains (``Node(keep_chain=False)``) also forgets
the headers and certificates below its last ``[pruning] retention_depth`` heights
(``Node.base`` counts them); its snapshots carry that window, not every header since genesis.

``PruningStatus`` is the node's account of what it retains and of its pruning cycles (the
telemetry ``pruning`` object; the chain reports its pruning job status there).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rppsim.node.messages import Block, Commit, is_valid_block_body

PRUNING_CADENCE_SECS = 30
"""``[pruning].cadence_secs`` (the chain's default, ``PruningConfig``): a pruning cycle runs
this often."""

__all__ = [
    "PRUNING_CADENCE_SECS",
    "PruningStatus",
    "compute_payload_bytes",
    "compute_pruned_commit",
    "compute_snapshot_interval",
    "is_pruned_block",
]


def compute_snapshot_interval(block_time_ms: int, cadence_secs: int = PRUNING_CADENCE_SECS) -> int:
    """Heights between pruning cycles: the cadence in block slots, at least 1 (5 s blocks and
    the 30 s default cadence: every 6 heights). rppsim runs the cycle at a height, not on a
    timer, so every node of a run snapshots the same heights."""
    return max(1, cadence_secs * 1000 // max(block_time_ms, 1))


PRUNED_BLOCK_MEMO = 1024
"""Header-only blocks the process shares between nodes before it starts a fresh table."""
_pruned_blocks: dict[str, Block] = {}


def get_pruned_block(block: Block) -> Block:
    """``Block(block.header)``, one object per block hash across the nodes of a process
    (every node prunes the same blocks). A memo by value: no behaviour depends on it."""
    pruned = _pruned_blocks.get(block.hash)
    if pruned is None or (pruned.header is not block.header and pruned.header != block.header):
        if len(_pruned_blocks) >= PRUNED_BLOCK_MEMO:
            _pruned_blocks.clear()
        pruned = _pruned_blocks[block.hash] = Block(block.header)
    return pruned


def compute_pruned_commit(commit: Commit) -> Commit:
    """``commit`` with its block's payload dropped: header and certificate kept."""
    return replace(commit, block=get_pruned_block(commit.block))


def compute_payload_bytes(block: Block) -> int:
    """Bytes pruning frees: the block's encoding minus its header-only encoding."""
    return block.size_bytes - Block(block.header).size_bytes


def is_pruned_block(block: Block) -> bool:
    """Whether ``block`` lacks the payload its header commits to (pruned, or stripped)."""
    return not is_valid_block_body(block)


@dataclass(slots=True)
class PruningStatus:
    """Retained and pruned payloads, and the pruning cycles run (each persists a snapshot)."""

    retained_payloads: int = 0
    retained_payload_bytes: int = 0
    pruned_payloads: int = 0
    pruned_payload_bytes: int = 0
    cycles: int = 0
    last_snapshot_height: int | None = None

    def on_stored(self, payload_bytes: int) -> None:
        """A full block was stored."""
        self.retained_payloads += 1
        self.retained_payload_bytes += payload_bytes

    def on_pruned(self, payload_bytes: int) -> None:
        """A stored payload was pruned."""
        self.retained_payloads -= 1
        self.retained_payload_bytes -= payload_bytes
        self.pruned_payloads += 1
        self.pruned_payload_bytes += payload_bytes

    def to_json_dict(self) -> dict[str, Any]:
        """The telemetry ``pruning`` object (rppsim's field names)."""
        return {
            "retained_payloads": self.retained_payloads,
            "retained_payload_bytes": self.retained_payload_bytes,
            "pruned_payloads": self.pruned_payloads,
            "pruned_payload_bytes": self.pruned_payload_bytes,
            "cycles": self.cycles,
            "last_snapshot_height": self.last_snapshot_height,
        }
