"""Building a block: what the leader of a round proposes (docs/protocol.md#rounds-and-quorum driver,
step 4).

≤ 32 identities, ≤ 512 transactions by fee, all uptime proofs and pending evidence that still
apply, the VRF submissions of this height's selection (they elect the next height under
``electorate = "committed"``, this one under ``"local-pool"``), the certificate of the previous
block (with every vote for it the leader holds by then), a transfer-batch proof and a consensus
proof of that certificate. No empty blocks unless
``allow_empty_blocks``. The payload stays queued until a finalized block includes it, so a
proposal that does not commit loses nothing; a drained transaction the ledger refuses
(a nonce gap included) is dropped, as the chain drops it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from rppsim.node.blocks import (
    AppliedBlock,
    RoundSet,
    compute_block_statements,
    compute_block_time_s,
    compute_evidence_problem,
    compute_header_vrf_fields,
    compute_identity_problem,
    process_block,
)
from rppsim.node.consensus import PRECOMMIT, PREVOTE, RoundVotes
from rppsim.node.evidence import get_slashing_reason
from rppsim.node.ledger import Ledger, Rejection, Transfer
from rppsim.node.messages import (
    Block,
    BlockHeader,
    ConsensusCertificate,
    Evidence,
    IdentityRequest,
    ProofSlot,
    Transaction,
    UptimeProof,
    compute_last_commit_hash,
    compute_list_root,
    compute_proof_digests,
    compute_recursive_commitment,
    is_valid_vote_signature,
)
from rppsim.node.proofs import TransferRow
from rppsim.node.rounds import compute_certificate

if TYPE_CHECKING:
    from rppsim.node.node import Node


def compute_sealed_block(draft: Block, state_root: bytes, proofs: tuple[ProofSlot, ...]) -> Block:
    """``draft`` with ``proofs``, the state root it leads to, and every header root and the
    recursive commitment computed over its payload (the last step of block building)."""
    header = replace(
        draft.header,
        state_root=state_root,
        tx_root=compute_list_root(draft.transactions),
        uptime_root=compute_list_root(draft.uptime_proofs),
        identity_root=compute_list_root(draft.identities),
        vrf_root=compute_list_root(draft.vrf_submissions),
        evidence_root=compute_list_root(draft.evidence),
        last_commit_hash=compute_last_commit_hash(draft.last_certificate),
        recursive_commitment=compute_recursive_commitment(
            draft.header.recursive_previous_commitment,
            compute_proof_digests(proofs, draft.uptime_proofs),
        ),
    )
    return replace(draft, header=header, proofs=proofs)


def compute_next_nonce(ledger: Ledger) -> Callable[[str], int]:
    """A sender's next nonce on ``ledger`` (1 for an unknown account)."""

    def next_nonce(address: str) -> int:
        account = ledger.get_account(address)
        return 1 if account is None else account.nonce + 1

    return next_nonce


class BlockBuilder:
    """Block assembly of ``Node`` (a mixin: it reads the node's ledger, pool and mempool)."""

    def _build_block(self: Node, now: int, round_: int) -> Block | None:  # type: ignore[misc]  # mixin: self is the Node
        """The block this node would propose now, or None (see ``_assemble_block``)."""
        built = self._assemble_block(now, round_)
        return None if built is None else built[0]

    def _assemble_block(self: Node, now: int, round_: int) -> tuple[Block, AppliedBlock] | None:  # type: ignore[misc]  # mixin: self is the Node
        """Seal a block of what the ledger still accepts, with the block applied to a fork;
        None when there is nothing to propose (no empty blocks by default).

        The block carries the submissions of this node's pool selection and is applied with
        the height's voting set, exactly as every follower applies it.
        """
        pool_set = self._pool_set()
        submissions = tuple(
            sorted((self.pool[a] for a in pool_set.by_address), key=lambda m: m.address)
        )
        round_set = self._voting_set_of_submissions(submissions)
        leader = round_set.validators.get_leader(round_, self.rules.rotate_leader_on_round_change)
        if leader != self.address:
            self._reject("propose", "not the leader of the block's validator set")
            return None
        now_s = compute_block_time_s(self.genesis_time_s, now)
        evidence, transactions, identities, uptime_proofs = self._select_payload(now_s)
        has_payload = transactions or identities or uptime_proofs or evidence
        if not has_payload and not self.rules.allow_empty_blocks:
            return None
        draft = Block(
            header=self._draft_header(now, round_, round_set),
            transactions=tuple(transactions),
            identities=tuple(identities),
            uptime_proofs=tuple(uptime_proofs),
            vrf_submissions=submissions,
            evidence=tuple(evidence),
            last_certificate=self._carried_certificate(),
        )
        fork = self.ledger.fork()
        applied = process_block(
            fork, draft, round_set, self.genesis_time_s, self._cap_hours(), self.previous_set
        )
        if isinstance(applied, str):
            self._reject("propose", applied)
            return None
        proofs = tuple(self._block_proofs(draft, applied[0]))
        block = compute_sealed_block(draft, fork.get_state_root(), proofs)
        return block, AppliedBlock(fork, round_set, applied[0], applied[1])

    def _carried_certificate(self: Node) -> ConsensusCertificate | None:  # type: ignore[misc]  # mixin: self is the Node
        """The certificate of the previous block this node's block carries: its commit
        certificate plus every other vote for that block in the deciding round the node holds
        now, late ones included, so the participation detectors see every validator whose
        vote arrived (``rppsim.node.participation``); None at height 1."""
        if not self.chain:
            return None
        certificate = self.chain[-1].certificate
        held = self.last_votes.get(certificate.round)
        if held is None or self.previous_set is None:
            return certificate
        votes = RoundVotes()
        block_hash = certificate.block_hash
        for records, kind in (
            (certificate.pre_votes, PREVOTE),
            (certificate.pre_commits, PRECOMMIT),
        ):
            extra = [v for v in held.votes_for(kind, block_hash) if is_valid_vote_signature(v)]
            for signed in [r.vote for r in records] + extra:
                votes.add(kind, signed.vote.voter, block_hash, signed)
        return compute_certificate(
            certificate.height,
            certificate.round,
            block_hash,
            votes,
            self.previous_set,
            certificate.observers,
        )

    def _draft_header(self: Node, now: int, round_: int, round_set: RoundSet) -> BlockHeader:  # type: ignore[misc]  # mixin: self is the Node
        """The header fields known before the payload is applied; roots are filled in later."""
        account = self.ledger.get_account(self.address)
        assert account is not None and round_set.validators.is_member(self.address)
        zero = bytes(32)
        return BlockHeader(
            height=self.hs.height,
            previous_hash=self.tip_hash,
            timestamp_ms=now,
            state_root=zero,
            tx_root=zero,
            uptime_root=zero,
            identity_root=zero,
            vrf_root=zero,
            evidence_root=zero,
            last_commit_hash=zero,
            proposer=self.address,
            **compute_header_vrf_fields(round_set.get_submission(self.address)),
            leader_tier=int(account.tier),
            leader_timetoke=account.timetoke.hours_online,
            round=round_,
            recursive_previous_commitment=self.tip_commitment,
            recursive_commitment=zero,
        )

    def _select_payload(  # type: ignore[misc]  # mixin: self is the Node
        self: Node, now_s: int
    ) -> tuple[list[Evidence], list[Transaction], list[IdentityRequest], list[UptimeProof]]:
        """Evidence, ≤ 512 transfers, ≤ 32 identities and uptime proofs that apply, in
        ``process_block`` order on one ledger fork (docs/protocol.md#rounds-and-quorum driver, step
        4).

        What does not apply is dropped (counted), as the chain does; the rest goes back to the
        mempool.
        """
        fork = self.ledger.fork()
        evidence: list[Evidence] = []
        for item in self.pending_evidence.values():
            if compute_evidence_problem(item, fork) is None:
                fork.process_slash(item.address, get_slashing_reason(item.kind), now_s)
                evidence.append(item)
        payload = self.mempool.take_block_payload(
            self.config.max_block_transactions,
            self.config.max_block_identity_registrations,
            compute_next_nonce(fork) if self.rules.nonce_ordered_payload else None,
        )
        transactions = self._applicable_transactions(fork, payload.transactions, now_s)
        identities: list[IdentityRequest] = []
        for request in payload.identities:
            problem = compute_identity_problem(request, fork) or fork.process_register_identity(
                request.wallet_address, request.vrf_tag, now_s
            )
            if problem is None:
                identities.append(request)
            else:
                self.rejections[f"propose: identity {problem}"] += 1
        uptime_proofs: list[UptimeProof] = []
        for proof in payload.uptime_proofs:
            credited = fork.process_uptime_proof(
                proof.wallet_address,
                proof.window_start,
                proof.window_end,
                proof.proof_commitment,
                now_s,
            )
            if isinstance(credited, int):
                uptime_proofs.append(proof)
            else:
                self.rejections[f"propose: uptime {credited.value}"] += 1
        for tx in transactions:
            self.mempool.add_transaction(tx)
        for request in identities:
            self.mempool.add_identity(request)
        for proof in uptime_proofs:
            self.mempool.add_uptime_proof(proof)
        return evidence, transactions, identities, uptime_proofs

    def _applicable_transactions(  # type: ignore[misc]  # mixin: self is the Node
        self: Node, fork: Ledger, candidates: Iterable[Transaction], now_s: int
    ) -> list[Transaction]:
        """The transfers ``fork`` accepts, fee order first; a transfer waiting for a nonce
        is retried after the others (an rppsim choice) and dropped if it still waits.

        The chain drops every drained transfer its ledger refuses ("dropping invalid
        transaction", ``produce_block``, HUBId/chain:rpp/runtime/node.rs). Keeping the waiting
        ones queued instead livelocks a backlog: the next-nonce transfers left behind are the
        low-fee ones, below the fee cut of every later drain, so nothing applies again."""
        kept: list[Transaction] = []
        waiting = list(candidates)
        progress = True
        while waiting and progress:
            progress, retry = False, []
            for tx in waiting:
                transfer = Transfer(tx.sender, tx.recipient, tx.amount, tx.fee, tx.nonce)
                rejection = fork.process_transfer(transfer, now_s)
                account = fork.get_account(tx.sender)
                if rejection is None:
                    kept.append(tx)
                    progress = True
                elif (
                    rejection is Rejection.INVALID_NONCE
                    and account is not None
                    and tx.nonce > account.nonce + 1
                ):
                    retry.append(tx)
                else:
                    self.rejections[f"propose: transaction {rejection.value}"] += 1
            waiting = retry
        if waiting:
            self.rejections[f"propose: transaction {Rejection.INVALID_NONCE.value}"] += len(waiting)
        return kept

    def _block_proofs(self: Node, block: Block, rows: tuple[TransferRow, ...]) -> list[ProofSlot]:  # type: ignore[misc]  # mixin: self is the Node
        """The transfer-batch proof and the consensus proof of the carried certificate."""
        statements = compute_block_statements(
            block, rows, self.previous_set, self.previous_epoch, self.proofs
        )
        return [ProofSlot(self.proofs.system, s.circuit, self.proofs.prove(s)) for s in statements]
