"""The node's knobs: where the chain has no rule we add one (DESIGN.md §8, spec/consensus.md §7).

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
    counts against the set its own VRF pool defines (spec/consensus.md §2.1), which lets a
    partition or one restart fork honest nodes (DESIGN.md §8)."""

    round_timeout_ms: int = 6000
    """Round timer. The runtime path has none (spec/consensus.md §2.1 "Rounds", §7.8); 6000 ms
    is malachite's configured but unused ``round_timeout_ms``."""

    rotate_leader_on_round_change: bool = False
    """False = the chain: the VRF input never mixes in the round, so the leader of a height is the
    same in every round and a dead leader stalls the height (§1.2, §7.2). True: round r is led by
    the (r mod n)-th candidate in leader order."""

    check_declared_tier: bool = False
    """False = the chain: declared tier and hours of a VRF submission are never checked against
    the ledger, and the leader choice uses them (§1.3, §7.5). True: a submission whose declared
    tier or hours differ from the ledger's is rejected."""

    allow_empty_blocks: bool = False
    """False = the chain: the leader aborts when no identity, transaction or uptime proof is
    pending (§2.1 driver, step 4). True: empty blocks keep the chain's height moving."""

    threshold_caps_committee: bool = False
    """False = the chain: the per-epoch VRF threshold barely binds (§1.4, §7.6). True: at most
    ``target_validator_count`` accepted submissions form the committee (lowest weighted
    randomness first)."""

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
    return Rules(**values)  # type: ignore[arg-type]
