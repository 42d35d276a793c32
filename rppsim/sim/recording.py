"""What the kernel records about the chain beside the traffic: the nodes, each finalization,
the first commit of every block (with its evidence and proofs), the electorate of each height,
telemetry samples of a node's own account and the nodes' rejection counts
(``rppsim.telemetry.frames.RunRecorder`` holds the rows)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rppsim.node.messages import Commit, ProofSlot
from rppsim.node.node import Node
from rppsim.telemetry.frames import RunRecorder

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation


def is_verified(slot: ProofSlot) -> bool:
    """A proof counts as verified only when a real verifier checked it (never in model mode)."""
    return slot.system != "model"


class ChainRecording:
    """Records ``sim``'s chain into ``recorder``; ``blocks_seen`` are the blocks whose first
    commit was recorded."""

    def __init__(self, sim: Simulation, recorder: RunRecorder) -> None:
        self.sim = sim
        self.recorder = recorder
        self.blocks_seen: set[str] = set()
        self.electorate_heights: set[int] = set()

    def record_nodes(self, regions: list[str], byzantine: frozenset[int]) -> None:
        """One row per node: address, role, region, whether it is byzantine."""
        sim = self.sim
        for i, address in enumerate(sim.addresses):
            role = "validator" if i < sim.scenario.nodes.validators else "full"
            self.recorder.record_node(i, address, role, regions[i], byzantine=i in byzantine)

    def on_commit(self, i: int, node: Node, at_ms: int, commit: Commit) -> None:
        """Node ``i`` finalized ``commit``: its finalization, VRF round and next electorate;
        the block itself the first time any node commits it."""
        block = commit.block
        header = block.header
        self.recorder.record_block_finalized(header.height, i, block.hash, at_ms)
        if node.vrf_metrics is not None:
            self.recorder.record_vrf_round(
                i, at_ms, header.height, commit.certificate.round, node.vrf_metrics.to_json_dict()
            )
        if node.height == header.height:
            self.record_electorate(header.height + 1, node)
        if block.hash in self.blocks_seen:
            return
        self.blocks_seen.add(block.hash)
        self.record_block(commit, node)

    def record_first_electorate(self) -> None:
        """The electorate of height 1, from the first running node once every node started."""
        node = next((s.node for s in self.sim.slots if s.node is not None), None)
        if node is not None:
            self.record_electorate(1, node)

    def record_electorate(self, height: int, node: Node) -> None:
        """The set counting the votes of ``height`` as ``node`` holds it (first one seen)."""
        if height in self.electorate_heights:
            return
        electorate = node.electorate
        self.electorate_heights.add(height)
        index = self.sim.index
        members = [(index.get(a), a, p) for a, p in electorate.powers]
        self.recorder.record_electorate(height, members, electorate.total_power, electorate.quorum)

    def record_block(self, commit: Commit, node: Node) -> None:
        """The first commit of a block: its row, its evidence rows (the double signs it
        carries, and what the participation detectors found when ``node`` applied it) and
        its proofs' rows."""
        block = commit.block
        header = block.header
        index = self.sim.index
        self.recorder.record_block(
            height=header.height,
            block_hash=block.hash,
            proposer=index.get(header.proposer),
            round=commit.certificate.round,
            proposed_ms=header.timestamp_ms,
            previous_hash=header.previous_hash,
            tx_count=len(block.transactions),
            identity_count=len(block.identities),
            uptime_count=len(block.uptime_proofs),
            consensus_proof=any(s.circuit == "consensus" for s in block.proofs),
            proof_system=self.sim.proofs.system,
            proof_bytes_total=sum(len(s.data) for s in block.proofs),
            state_root=header.state_root.hex(),
            recursive_commitment=header.recursive_commitment.hex(),
            recursive_previous_commitment=header.recursive_previous_commitment.hex(),
        )
        for item in block.evidence:
            offender = index.get(item.address)
            kind = item.kind.name.lower()
            self.recorder.record_evidence(
                header.height, block.hash, offender, item.height, item.round, kind
            )
        for event in node.ledger.participation_log:
            if event.height == header.height:
                self.recorder.record_evidence(
                    header.height,
                    block.hash,
                    index.get(event.address),
                    event.offense_height,
                    event.round,
                    str(event.kind),
                )
        self.record_proofs(commit)

    def record_proofs(self, commit: Commit) -> None:
        """One row per proof of a block (its own, then its uptime proofs'), indexed per circuit."""
        block = commit.block
        slots = list(block.proofs) + [u.proof for u in block.uptime_proofs if u.proof is not None]
        per_circuit: dict[str, int] = {}
        for slot in slots:
            index = per_circuit.get(slot.circuit, 0)
            per_circuit[slot.circuit] = index + 1
            self.recorder.record_proof(
                block.header.height,
                slot.circuit,
                slot.system,
                len(slot.data),
                is_verified(slot),
                index=index,
            )

    def get_rejections(self, i: int) -> Counter[str]:
        """Node ``i``'s cumulative rejection counts, with those lost in its crashes."""
        slot = self.sim.slots[i]
        counts = Counter(slot.lost_rejections)
        if slot.node is not None:
            counts.update(slot.node.rejections)
        return counts

    def record_sample(self, i: int, node: Node, at_ms: int) -> None:
        """At a telemetry sample of node ``i``: its own account in its own ledger and its
        cumulative rejections (with those lost in its crashes), as ``record_final`` does."""
        address = node.address
        genesis = node.config.genesis.get_account(address)
        stake = None if genesis is None else genesis.stake_value
        self.recorder.record_ledger(i, at_ms, address, node.ledger.get_account(address), stake)
        counts = Counter(self.sim.slots[i].lost_rejections)
        counts.update(node.rejections)
        self.recorder.record_rejections(i, at_ms, dict(counts))

    def record_final(self, end_ms: int) -> None:
        """Each node's cumulative rejections at the end of the run."""
        for i in range(len(self.sim.slots)):
            counts = self.get_rejections(i)
            if counts:
                self.recorder.record_rejections(i, end_ms, dict(counts))
