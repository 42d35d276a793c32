"""Rebuilding a leader's block with one part changed, and corrupting proofs.

A byzantine leader's node builds an honest block; a behaviour that wants to send a bad one
changes one part of it and recomputes every other part from the node's own state, exactly as
the node's builder does (``process_block`` on a fork of its ledger, the block's proofs,
``compute_sealed_block``). So the block is consistent in everything but the change, and an
honest node rejects it for the change alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rppsim.node.blocks import compute_block_statements, process_block
from rppsim.node.building import compute_sealed_block
from rppsim.node.messages import Block, ProofSlot, UptimeProof

if TYPE_CHECKING:
    from rppsim.node.node import Node

CORRUPTION_MODES = ("tamper", "oversized")


def rebuild_block(node: Node, block: Block, **changes: Any) -> Block | None:
    """``block`` (built by ``node``, of its current height) with ``changes`` to its fields,
    re-applied on the node's ledger and sealed; None when the node no longer holds the block
    or the changed block does not apply (``process_block`` trusts signatures, so a forged
    transfer still applies)."""
    applied = node.hs.applied.get(block.hash)
    if applied is None or block.header.height != node.hs.height:
        return None
    draft = replace(block, **changes)
    fork = node.ledger.fork()
    result = process_block(
        fork,
        draft,
        applied.round_set,
        node.genesis_time_s,
        node.ledger.params.timetoke.accrual_cap_hours,
        node.previous_set,
    )
    if isinstance(result, str):
        return None
    statements = compute_block_statements(
        draft, result[0], node.previous_set, node.previous_epoch, node.proofs
    )
    proofs = tuple(
        ProofSlot(node.proofs.system, s.circuit, node.proofs.prove(s)) for s in statements
    )
    return compute_sealed_block(draft, fork.get_state_root(), proofs)


def corrupt_slot(slot: ProofSlot, mode: str, max_proof_size_bytes: int) -> ProofSlot:
    """``tamper``: one bit of the proof flipped (the verifier rejects it); ``oversized``: the
    proof padded to one byte above ``max_proof_size_bytes`` (the size gate rejects it)."""
    data = bytearray(slot.data)
    if mode == "oversized":
        data += bytes(max(max_proof_size_bytes + 1 - len(data), 0))
    elif data:
        data[len(data) // 2] ^= 0x01
    else:
        data = bytearray(hashlib.blake2s(b"rppsim/tampered-proof").digest())
    return ProofSlot(slot.system, slot.circuit, bytes(data))


def corrupt_uptime_proof(proof: UptimeProof, mode: str, max_proof_size_bytes: int) -> UptimeProof:
    """An uptime proof with its zk proof corrupted (``corrupt_slot``); unchanged without one."""
    if proof.proof is None:
        return proof
    return replace(proof, proof=corrupt_slot(proof.proof, mode, max_proof_size_bytes))


def corrupt_block_proofs(block: Block, mode: str, max_proof_size_bytes: int) -> Block:
    """``block`` with every proof it carries corrupted (its transfer-batch and consensus
    proofs, and the proofs of its uptime claims), the header's uptime root and recursive
    commitment recomputed over them: only the proofs are wrong."""
    proofs = tuple(corrupt_slot(s, mode, max_proof_size_bytes) for s in block.proofs)
    uptime = tuple(corrupt_uptime_proof(u, mode, max_proof_size_bytes) for u in block.uptime_proofs)
    draft = replace(block, uptime_proofs=uptime)
    return compute_sealed_block(draft, block.header.state_root, proofs)
