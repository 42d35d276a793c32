"""Shared helpers of the guardrail tests: small hand-made frames, a guardrail context from a
tiny ``CheckContext`` and the testnet profile, and short real runs of the simulator."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rppsim.checks.context import build_check_context
from rppsim.guardrails.base import GuardrailContext
from rppsim.node.config import load_config
from rppsim.scenario import parse_scenario
from rppsim.sim.run import execute_run
from rppsim.telemetry.frames import (
    FRAME_NAMES,
    FRAME_SCHEMAS,
    NULLABLE_DTYPES,
    build_frame,
    get_empty_frame,
)
from tests.checks.conftest import build_context as build_test_checks

PROFILE = Path(__file__).parents[2] / "node" / "profiles" / "testnet.toml"
_DEFAULTS = {"str": "", "category": "", "bool": False, "float64": 0.0}
_NULLABLE = tuple(NULLABLE_DTYPES)

Frames = dict[str, pd.DataFrame]


def build_rows(name: str, rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Frame ``name`` from row dicts; a missing column takes 0, "" or False (None if nullable)."""
    rows = list(rows)
    columns = {
        column: [row.get(column, None if dtype in _NULLABLE else _DEFAULTS.get(dtype, 0))
                 for row in rows]
        for column, dtype in FRAME_SCHEMAS[name].columns
    }  # fmt: skip
    return build_frame(name, columns)


def build_frames(nodes: int = 4, validators: int = 3, **rows: Iterable[Mapping[str, object]]):
    """Every frame: ``nodes`` honest nodes (the first ``validators`` validators), ``rows``."""
    node_rows = [
        {"node": i, "address": f"addr{i}", "role": "validator" if i < validators else "full"}
        for i in range(nodes)
    ]
    frames = {name: get_empty_frame(name) for name in FRAME_NAMES}
    frames["nodes"] = build_rows("nodes", node_rows)
    for name, given in rows.items():
        frames[name] = build_rows(name, given)
    return frames


def load_profile() -> dict[str, Any]:
    """The testnet profile as JSON data (telemetry on, 15 s interval, 5 s blocks)."""
    return load_config(PROFILE)[0].as_dict()


def build_context(
    frames: Frames,
    config: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Mapping[str, float]] | None = None,
    **values: object,
) -> GuardrailContext:
    """A guardrail context over ``frames``' nodes: the checkers' test context (1 s blocks,
    60 s run), the testnet profile."""
    checks = build_test_checks(frames, **values)
    return GuardrailContext(checks, config or load_profile(), overrides or {})


def build_snapshot(node: int, now_ms: int, **values: object) -> dict[str, object]:
    """A healthy snapshot row: telemetry on, 1 s interval, emitted without error."""
    row: dict[str, object] = {
        "node": node, "now_ms": now_ms, "emit_ok": True, "telemetry_enabled": True,
        "sample_interval_secs": 1,
    }  # fmt: skip
    row.update(values)
    return row


def build_chain(count: int, block_ms: int = 1000, nodes: int = 4) -> dict[str, list[dict]]:
    """Rows of a healthy chain: block h proposed at h × block_ms, finalized 100 ms later by
    every node, commitments chained."""
    blocks, finalized = [], []
    for h in range(1, count + 1):
        blocks.append({
            "height": h, "hash": f"h{h}", "previous_hash": f"h{h - 1}" if h > 1 else "",
            "proposer": h % nodes, "proposed_ms": h * block_ms, "tx_count": 1,
            "uptime_count": h % 2, "consensus_proof": h > 1, "recursive_commitment": f"c{h}",
            "recursive_previous_commitment": f"c{h - 1}" if h > 1 else "0" * 8,
        })  # fmt: skip
        finalized += [
            {"height": h, "node": n, "hash": f"h{h}", "finalized_ms": h * block_ms + 100}
            for n in range(nodes)
        ]
    return {"blocks": blocks, "block_finalized": finalized}


NETWORK = {
    "topology": "small-world", "degree": 4, "rewire": 0.2,
    "link": {"latency_ms": [20, 60], "jitter_ms": 5, "bandwidth_mbps": 100},
}  # fmt: skip


def run_scenario(tmp_path: Path, faults: list[dict] | None = None, duration_ms: int = 40_000):
    """Frames and guardrail context of a short real run: 16 nodes, 7 validators, model
    prover, telemetry every 2 s."""
    data: dict[str, Any] = {
        "run": {"seed": 7, "duration_ms": duration_ms, "prover": "model", "name": "guardrails"},
        "nodes": {"count": 16, "validators": 7, "profile": PROFILE.as_posix()},
        "network": NETWORK,
        "traffic": {"tx_per_s": 2.0},
        "telemetry": {"sample_interval_ms": 2000},
    }
    if faults:
        data["fault"] = faults
    scenario = parse_scenario(data, tmp_path / "s.toml")
    frames = execute_run(scenario, write=False).frames
    config = load_config(scenario.nodes.profile_path)[0].as_dict()
    return frames, GuardrailContext(build_check_context(frames, scenario), config)


OUTAGE = {
    "kind": "telemetry-outage", "nodes": [3], "at_ms": 10_000, "until_ms": 30_000,
    "mode": "down",
}  # fmt: skip
