"""Status and telemetry payloads of a node, with the chain's JSON field names
(docs/operations.md#status-and-telemetry-payloads).

Pure functions of a ``NodeView``, which the node hands over (this module never imports the
node): ``/status/rollout`` (docs/operations.md#rollout-status), ``/status/node``
(docs/operations.md#node-status) with the consensus (docs/operations.md#consensus-status), mempool
(docs/operations.md#mempool-status) and timetoke_params sections, and the telemetry snapshot /
``/validator/telemetry`` view
(docs/operations.md#validator-telemetry, docs/operations.md#the-telemetry-loop). Powers are decimal
strings, as in the chain.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from rppsim.node.selection import VrfSelectionMetrics

if TYPE_CHECKING:
    from rppsim.node.blocks import RoundSet
    from rppsim.node.config import NodeConfig
    from rppsim.node.ledger import Ledger
    from rppsim.node.mempool import Mempool
    from rppsim.node.messages import Commit
    from rppsim.node.proofs import ProofService
    from rppsim.node.rounds import ConsensusMetrics, HeightState
    from rppsim.node.rules import Rules
    from rppsim.node.verifier import MeteredVerifier


@dataclass(frozen=True, slots=True)
class NodeView:
    """What the payloads read of a node, handed over by ``Node.view()``. The containers are
    the node's own (no copies): build a view per read and only read it."""

    address: str
    config: NodeConfig
    rules: Rules
    genesis_time_s: int
    height: int
    tip_hash: str
    chain: list[Commit]
    hs: HeightState
    voting: RoundSet
    """The set the current height's votes are counted against."""
    ledger: Ledger
    mempool: Mempool
    proofs: ProofService
    verifier: MeteredVerifier | None
    """The node's verifier counters and proof cache (None: not reported)."""
    consensus: ConsensusMetrics
    telemetry: Any
    vrf_metrics: VrfSelectionMetrics | None
    rejections: Counter[str]
    pruning: dict[str, Any] | None = None
    """The node's pruning status (``rppsim.node.pruning``; None: not reported)."""


def compute_rollout_status(view: NodeView) -> dict[str, Any]:
    """``RolloutStatus``: channel, the 7 gates, telemetry with ``last_observed_height``; plus
    ``rppsim_telemetry_emits`` (not a chain field): the loop's emit counters, failures by
    class (encode, transport, status)."""
    rollout = view.config.rollout
    telemetry = rollout.telemetry
    state = view.telemetry
    return {
        "release_channel": rollout.release_channel.value,
        "feature_gates": rollout.feature_gates.as_dict(),
        "telemetry": {
            "enabled": telemetry.enabled,
            "endpoint": telemetry.endpoint or None,
            "sample_interval_secs": max(telemetry.sample_interval_secs, 1),
            "last_observed_height": state.last_observed_height,
        },
        "rppsim_telemetry_emits": {
            "emitted": state.emitted,
            "succeeded": state.succeeded,
            "failed": {c: state.failed[c] for c in ("encode", "transport", "status")},
            "pending": len(state.pending),
            "abandoned": state.abandoned,
            "invalid_results": state.invalid_results,
        },
    }


def compute_block_metadata(view: NodeView) -> dict[str, Any] | None:
    """``BlockMetadata`` of the tip, or None at genesis."""
    if not view.chain:
        return None
    commit = view.chain[-1]
    header = commit.block.header
    previous = view.chain[-2].block.header.state_root.hex() if len(view.chain) > 1 else None
    proofs = [slot.digest().hex() for slot in commit.block.proofs]
    return {
        "height": header.height,
        "hash": commit.block.hash,
        "timestamp": view.genesis_time_s + header.timestamp_ms // 1000,
        "previous_state_root": previous,
        "new_state_root": header.state_root.hex(),
        "proof_hash": proofs[0] if proofs else None,
        "recursive_commitment": header.recursive_commitment.hex(),
        "recursive_previous_commitment": header.recursive_previous_commitment.hex(),
        "recursive_system": view.proofs.system,
        "round": commit.certificate.round,
        "proposer": header.proposer,
    }


def compute_consensus_status(view: NodeView) -> dict[str, Any]:
    """``ConsensusStatus`` of the height being decided (docs/operations.md#consensus-status)."""
    hs = view.hs
    metrics = view.consensus
    round_set = view.voting
    validators = round_set.validators
    block_hash = hs.proposals.get(hs.round)
    votes = hs.votes.get(hs.round)
    prevote = precommit = 0
    if block_hash is not None and votes is not None:
        prevote = votes.prevote_power(block_hash, validators)
        precommit = votes.precommit_power(block_hash, validators)
    status: dict[str, Any] = {
        "height": hs.height,
        "block_hash": block_hash,
        "proposer": validators.get_leader(hs.round, view.rules.rotate_leader_on_round_change),
        "round": hs.round,
        "total_power": str(validators.total_power),
        "quorum_threshold": str(validators.quorum),
        "pre_vote_power": str(prevote),
        "pre_commit_power": str(precommit),
        "commit_power": str(precommit if precommit >= validators.quorum > 0 else 0),
        "quorum_reached": validators.quorum > 0 and precommit >= validators.quorum,
        "observers": round_set.observers,
        "epoch": view.ledger.epoch,
        "epoch_nonce": view.ledger.epoch_nonce.hex(),
        "pending_votes": _pending_votes(view),
        "leader_changes": metrics.leader_changes,
        "quorum_latency_ms": metrics.quorum_latency_ms,
        "witness_events": metrics.witness_events,
        "slashing_events": metrics.slashing_events,
        "failed_votes": metrics.failed_votes,
    }
    if metrics.round_latencies_ms:
        status["round_latencies_ms"] = list(metrics.round_latencies_ms)
    return status


def compute_consensus_telemetry(view: NodeView) -> dict[str, Any]:
    """The snapshot's ``consensus`` object: the docs/operations.md#consensus-status keys that
    docs/operations.md#validator-telemetry allows, in that order."""
    hs = view.hs
    metrics = view.consensus
    section: dict[str, Any] = {
        "height": hs.height,
        "round": hs.round,
        "pending_votes": _pending_votes(view),
        "quorum_reached": _is_quorum_reached(view),
        "leader_changes": metrics.leader_changes,
    }
    if metrics.round_latencies_ms:
        section["round_latencies_ms"] = list(metrics.round_latencies_ms)
    section["quorum_latency_ms"] = metrics.quorum_latency_ms
    section["witness_events"] = metrics.witness_events
    section["slashing_events"] = metrics.slashing_events
    section["failed_votes"] = metrics.failed_votes
    return section


def _is_quorum_reached(view: NodeView) -> bool:
    """``quorum_reached`` of docs/operations.md#consensus-status; without a proposal of the round no
    power is counted, so
    the pool's validator set is computed only when there is one."""
    hs = view.hs
    block_hash = hs.proposals.get(hs.round)
    votes = hs.votes.get(hs.round)
    if block_hash is None or votes is None:
        return False
    validators = view.voting.validators
    return votes.precommit_power(block_hash, validators) >= validators.quorum > 0


def _pending_votes(view: NodeView) -> int:
    """Votes held for the undecided height (the chain's vote queue)."""
    return sum(
        len(round_votes.by_voter[0]) + len(round_votes.by_voter[1])
        for round_votes in view.hs.votes.values()
    )


def compute_mempool_counts(view: NodeView) -> dict[str, int]:
    """The telemetry ``mempool`` object: queue lengths (docs/operations.md#validator-telemetry)."""
    counts = view.mempool.pending_counts()
    return {
        "transactions": counts["pending_transactions"],
        "identities": counts["pending_identities"],
        "votes": _pending_votes(view),
        "uptime_proofs": counts["pending_uptime_proofs"],
    }


def compute_node_status(view: NodeView) -> dict[str, Any]:
    """``NodeStatus`` (docs/operations.md#node-status) plus ``consensus``, ``mempool``,
    ``timetoke_params``."""
    return {
        **_compute_node_fields(view),
        "consensus": compute_consensus_status(view),
        "mempool": view.mempool.status_json(asdict(view.config.queue_weights)),
        "timetoke_params": asdict(view.config.reputation.timetoke),
        "reputation": compute_own_reputation(view),
    }


def _compute_node_fields(view: NodeView) -> dict[str, Any]:
    """The ``NodeStatus`` fields up to ``tip``, shared by the status and the telemetry view."""
    counts = compute_mempool_counts(view)
    metrics = view.vrf_metrics or VrfSelectionMetrics()
    return {
        "address": view.address,
        "height": view.height,
        "last_hash": view.tip_hash,
        "epoch": view.ledger.epoch,
        "epoch_nonce": view.ledger.epoch_nonce.hex(),
        "pending_block_proposals": len(view.hs.proposals),
        "pending_transactions": counts["transactions"],
        "pending_identities": counts["identities"],
        "pending_votes": counts["votes"],
        "pending_uptime_proofs": counts["uptime_proofs"],
        "vrf_metrics": metrics.to_json_dict(),
        "tip": compute_block_metadata(view),
    }


NO_ACCOUNT_REPUTATION: dict[str, Any] = {
    "tier": "Tl0", "score": 0.0, "timetoke_hours": 0, "balance": 0, "stake": "0",
}  # fmt: skip
"""The ``reputation`` of a node without an account in its own ledger (a full node): zeros and
no ``consensus_success``, which an account always reports."""


def compute_own_reputation(view: NodeView) -> dict[str, Any]:
    """The node's own account: tier, score, timetoke hours, balance and stake
    (``NO_ACCOUNT_REPUTATION`` when it has none)."""
    account = view.ledger.get_account(view.address)
    if account is None:
        return dict(NO_ACCOUNT_REPUTATION)
    return {
        "tier": account.tier.name,
        "score": account.reputation.score,
        "timetoke_hours": account.timetoke.hours_online,
        "consensus_success": account.reputation.consensus_success,
        "balance": account.balance,
        "stake": str(account.stake),
    }


def compute_vrf_threshold(view: NodeView) -> dict[str, Any]:
    """The ``vrf_threshold`` object (docs/operations.md#validator-telemetry)."""
    metrics = view.vrf_metrics or VrfSelectionMetrics()
    return {
        "epoch": metrics.latest_epoch,
        "threshold": metrics.active_epoch_threshold,
        "committee_target": view.config.target_validator_count,
        "pool_entries": metrics.pool_entries,
        "accepted_validators": metrics.accepted_validators,
        "participation_rate": metrics.participation_rate,
    }


def compute_telemetry_snapshot(view: NodeView) -> dict[str, Any]:
    """The telemetry snapshot (docs/operations.md#the-telemetry-loop) in the
    ``/validator/telemetry`` shape."""
    return {
        "rollout": compute_rollout_status(view),
        "node": {**_compute_node_fields(view), "reputation": compute_own_reputation(view)},
        "consensus": compute_consensus_telemetry(view),
        "mempool": compute_mempool_counts(view),
        "timetoke_params": asdict(view.config.reputation.timetoke),
        "verifier_metrics": compute_verifier_metrics(view),
        "pruning": view.pruning,
        "vrf_threshold": compute_vrf_threshold(view),
        "rejections": dict(sorted(view.rejections.items())),
    }


def compute_verifier_metrics(view: NodeView) -> dict[str, Any]:
    """``verifier_metrics``: the node's ``per_backend`` counters (the chain's three backends
    pre-seeded), ``per_circuit`` (backend → circuit, not a chain field) and ``cache``."""
    if view.verifier is None:
        return {"per_backend": {}}
    return view.verifier.to_json_dict()
