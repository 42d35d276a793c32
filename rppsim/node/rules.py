"""The node's knobs: where the chain has no rule we add one
(docs/architecture.md#departures-from-the-chain, docs/protocol.md#known-weaknesses).

Each knob's default is the chain's behaviour; flipping it applies our fix, so a scenario can
show a quirk's effect both ways.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from rppsim.errors import UserError, describe

ELECTORATES = ("committed", "local-pool")


@dataclass(frozen=True, slots=True)
class Rules:
    """Rule set ``rpp-v1``: the runtime path [RT] plus named departures from it."""

    electorate: str = "committed"
    """Who counts votes of height h. ``"committed"`` (the default, a departure from the chain):
    the validator set and powers of h are fixed by the blocks finalized below h (block h − 1
    commits the VRF submissions that elect the voters of h; ``rppsim.node.electorate``), so
    every honest node counts against the same set. ``"local-pool"`` = the chain: each node
    counts against the set its own VRF pool defines (docs/protocol.md#rounds-and-quorum), which lets
    a
    partition or one restart fork honest nodes (docs/architecture.md#departures-from-the-chain)."""

    round_timeout_ms: int = 6000
    """Round timer. The runtime path has none (docs/protocol.md#rounds-and-quorum "Rounds",
    docs/protocol.md#known-weaknesses); 6000 ms
    is malachite's configured but unused ``round_timeout_ms``."""

    rotate_leader_on_round_change: bool = False
    """False = the chain: the VRF input never mixes in the round, so the leader of a height is the
    same in every round and a dead leader stalls the height (docs/protocol.md#vrf-input,
    docs/protocol.md#known-weaknesses). True: round r is led by
    the (r mod n)-th candidate in leader order."""

    check_declared_tier: bool = False
    """False = the chain: declared tier and hours of a VRF submission are never checked against
    the ledger, and the leader choice uses them (docs/protocol.md#submissions-and-rejections,
    docs/protocol.md#known-weaknesses). True: a submission whose declared
    tier or hours differ from the ledger's is rejected."""

    allow_empty_blocks: bool = False
    """False = the chain: the leader aborts when no identity, transaction or uptime proof is
    pending (docs/protocol.md#rounds-and-quorum driver, step 4). True: empty blocks keep the chain's
    height moving."""

    nonce_ordered_payload: bool = False
    """False = the chain: the leader drains the top ``max_block_transactions`` pending
    transfers by fee, then nonce, whatever their sender's next nonce, and drops what its
    ledger refuses (``produce_block``, HUBId/chain:rpp/runtime/node.rs). Once the backlog
    exceeds a block, each sender's next transfer is a low-fee one below the cut, nothing
    applies, and the leader aborts at every slot while the mempools fill. True: it takes, best
    fee first, only transfers that apply in sequence (each sender's from its next nonce on)."""

    threshold_caps_committee: bool = False
    """False = the chain: the per-epoch VRF threshold barely binds
    (docs/protocol.md#selection-weight-threshold-and-fallback, docs/protocol.md#known-weaknesses).
    True: at most
    ``target_validator_count`` accepted submissions form the committee (lowest weighted
    randomness first)."""

    authenticate_timetoke_merge: bool = False
    """False = the chain: a peer's timetoke record is merged unauthenticated, last writer wins
    on ``last_update`` (``merge_snapshot``, HUBId/chain:rpp/reputation/mod.rs, called by
    ``sync_timetoke_records``, HUBId/chain:rpp/storage/ledger.rs), so any peer can set any
    account's hours (docs/protocol.md#timetoke, docs/protocol.md#known-weaknesses). True: a record
    is merged only within what
    the node observed itself: hours at most its ledger's plus the whole hours since the
    account's last credited proof, at least its ledger's minus the decay due, and no
    ``last_update`` in the node's future (``rppsim.node.timetoke.compute_merge_problem``)."""

    normalise_vrf_metrics: bool = False
    """False = the chain: ``fallback_selected`` is set on the first threshold miss, even when
    others were accepted ("someone missed", not "fallback used"), and ``rejections_by_reason``
    keys embed each per-seed threshold, so every miss is its own metric label
    (``select_validators``, HUBId/chain:rpp/crypto-vrf/src/lib.rs;
    docs/protocol.md#selection-weight-threshold-and-fallback, docs/protocol.md#known-weaknesses).
    True:
    ``fallback_selected`` means the fallback became the committee, and the reasons are the
    bounded labels of ``rejections_by_label``."""

    def __post_init__(self) -> None:
        if self.electorate not in ELECTORATES:
            raise ValueError(f"electorate must be one of {', '.join(ELECTORATES)}")
        if self.round_timeout_ms <= 0:
            raise ValueError("round_timeout_ms must be positive")


def parse_rules(data: dict[str, object], source: str, prefix: str = "rules") -> Rules:
    """Rules from a TOML table; unknown keys and wrong types are user errors."""
    known = {f.name: f for f in fields(Rules)}
    values: dict[str, object] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}"
        if key not in known:
            raise UserError(source, path, f"one of {', '.join(sorted(known))}", "unknown key")
        default = getattr(Rules(), key)
        if key == "electorate":
            if value not in ELECTORATES:
                expected = " or ".join(f'"{e}"' for e in ELECTORATES)
                raise UserError(source, path, expected, describe(value))
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise UserError(source, path, "a boolean", describe(value))
        elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise UserError(source, path, "a positive integer (milliseconds)", describe(value))
        values[key] = value
    return Rules(**values)  # type: ignore[arg-type]  # each value checked above
