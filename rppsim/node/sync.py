"""Catching up: messages of later heights, ``SyncRequest``/``Commit``, and replay on restart.

A node that sees a message of a height above its own keeps it (a bounded queue per height, at
most ``FUTURE_HEIGHT_WINDOW`` heights ahead) and asks the sender for the commits it misses.
Each synced commit is checked like a proposal (the block against the tip and ledger) and its
certificate against the electorate that the node's own synced chain defines — never against
the node's pool — then adopted. A restart replays the node's persisted commits in order, which
rebuilds the same ledger and electorates (``rppsim.node.electorate``). A forged commit — a
corrupted or minority certificate, votes of outsiders, another parent — is rejected by reason
and changes nothing (``rppsim.sim.byzantine.sync_poison`` serves them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rppsim.node.blocks import AppliedBlock, compute_certificate_problem, process_block
from rppsim.node.effects import Effect, Send, SetTimer, Timer, TimerKind
from rppsim.node.messages import Commit, SyncRequest
from rppsim.node.rounds import HeightState

if TYPE_CHECKING:
    from rppsim.node.node import Node

SYNC_BATCH = 32
SYNC_RETRY_MS = 2000
FUTURE_HEIGHT_WINDOW = 2


class Sync:
    """Catching up of ``Node`` (a mixin: it reads and writes the node's chain)."""

    sync_requested_ms: int | None

    def _on_future(self: Node, now: int, sender: str, height: int, msg: Any) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        """Keep a message of the next heights for later; ask ``sender`` for missing commits."""
        if height <= self.hs.height + FUTURE_HEIGHT_WINDOW:
            queue = self.future.setdefault(height, [])
            if len(queue) >= 4 * max(1, len(self.pool)) + 64:
                return self._reject("future", "queue of a future height full")
            queue.append((sender, msg))
        if height > self.hs.height and sender != self.address and self.sync_requested_ms is None:
            self.sync_requested_ms = now
            return [
                Send(sender, SyncRequest(self.hs.height, SYNC_BATCH)),
                SetTimer(Timer(TimerKind.SYNC, height), now + SYNC_RETRY_MS),
            ]
        return []

    def _on_sync_request(self: Node, now: int, sender: str, request: SyncRequest) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        first = max(request.from_height, 1)
        last = min(first + min(request.count, SYNC_BATCH), self.height + 1)
        if any(self.is_pruned(h) for h in range(first, last)):
            return self._serve_pruned(sender)  # pruned payloads: state sync (rppsim.node.pruning)
        return [Send(sender, self.chain[h - 1 - self.base]) for h in range(first, last)]

    def _on_commit(self: Node, now: int, sender: str, commit: Commit) -> list[Effect]:  # type: ignore[misc]  # mixin: self is the Node
        height = commit.block.header.height
        if height <= self.height:
            return self._reject("commit", "for a finalized height")
        if height > self.hs.height:
            return self._on_future(now, sender, height, commit)
        applied = self._apply_candidate(commit.block)
        if isinstance(applied, str):
            return self._reject("commit", applied)
        problem = compute_certificate_problem(
            commit.certificate, applied.round_set.validators, height, commit.block.hash
        )
        if problem is not None:
            return self._reject("commit", problem)
        self.sync_requested_ms = None
        return self._commit(now, commit, applied)

    def _replay(self: Node, commit: Commit) -> None:  # type: ignore[misc]  # mixin: self is the Node
        """Re-apply a persisted commit on restart (our own durable record: no re-verification)."""
        self.hs = HeightState(self.height + 1)
        round_set = self._voting_set_of(commit.block)
        fork = self.ledger.fork()
        result = process_block(
            fork,
            commit.block,
            round_set,
            self.genesis_time_s,
            self._cap_hours(),
            self.previous_set,
        )
        if isinstance(result, str):
            raise ValueError(
                f"persisted block {commit.block.header.height} does not apply: {result}"
            )
        self._advance_chain(commit, AppliedBlock(fork, round_set, *result))
