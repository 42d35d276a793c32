"""Small frame builders for the proof, VRF, rollout, workload and live guardrail tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rppsim.checks.context import CheckContext
from rppsim.guardrails.base import GuardrailContext
from rppsim.node.config import load_config
from rppsim.telemetry.frames import (
    FRAME_NAMES,
    FRAME_SCHEMAS,
    NULLABLE_DTYPES,
    build_frame,
    get_empty_frame,
)

ROOT = Path(__file__).parents[2]
TESTNET = ROOT / "node/profiles/testnet.toml"
_DEFAULTS = {"str": "", "category": "", "bool": False, "float64": 0.0}
_NULLABLE = tuple(NULLABLE_DTYPES)
TESTNET_GATES = {
    "pruning": True,
    "recursive_proofs": True,
    "reconstruction": True,
    "consensus_enforcement": True,
    "malachite_consensus": True,
    "timetoke_rewards": False,
    "witness_network": False,
}


def build_rows(name: str, rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Frame ``name`` from row dicts; a missing column takes 0, "", False or null."""
    rows = list(rows)
    columns = {}
    for column, dtype in FRAME_SCHEMAS[name].columns:
        default = None if dtype in _NULLABLE else _DEFAULTS.get(dtype, 0)
        columns[column] = [row.get(column, default) for row in rows]
    return build_frame(name, columns)


def build_frames(nodes: int = 4, **rows: Iterable[Mapping[str, object]]) -> dict[str, pd.DataFrame]:
    """Every frame: ``nodes`` honest validators, ``rows`` by frame, the rest empty."""
    frames = {name: get_empty_frame(name) for name in FRAME_NAMES}
    node_rows = [{"node": i, "address": f"a{i}", "role": "validator"} for i in range(nodes)]
    frames["nodes"] = build_rows("nodes", node_rows)
    for name, given in rows.items():
        frames[name] = build_rows(name, given)
    return frames


def build_snapshot(node: int, now_ms: int, **values: object) -> dict[str, object]:
    """A testnet snapshot row: channel, gates and empty queues unless given."""
    row: dict[str, object] = {"node": node, "now_ms": now_ms, "release_channel": "testnet"}
    row |= {f"gate_{g}": v for g, v in TESTNET_GATES.items()}
    row |= {f"pending_{q}": 0 for q in ("transactions", "identities", "votes", "uptime_proofs")}
    row |= {"pending_block_proposals": 0}
    return row | values


def build_context(
    frames: Mapping[str, pd.DataFrame],
    config: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Mapping[str, float]] | None = None,
    has_work: bool = True,
) -> GuardrailContext:
    """A guardrail context over ``frames``' nodes with the testnet profile unless given."""
    nodes = tuple(int(n) for n in frames["nodes"]["node"])
    checks = CheckContext(
        nodes=nodes,
        byzantine=frozenset(),
        validators=frozenset(nodes),
        block_time_ms=5000,
        round_timeout_ms=6000,
        allow_empty_blocks=False,
        has_work=has_work,
        duration_ms=60_000,
    )
    profile = load_config(TESTNET)[0].as_dict() if config is None else config
    return GuardrailContext(checks, profile, overrides or {})


def get_testnet_config(**changes: object) -> dict[str, Any]:
    """The testnet profile as JSON data with root keys replaced."""
    return load_config(TESTNET)[0].as_dict() | changes
