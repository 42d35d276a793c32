"""Rollout guardrails (docs/operations.md#guardrails rows 1–4, 22–24;
docs/operations.md#node-configuration, docs/operations.md#promotion-and-rollout-checks): config
validity, channel
advertisement and promotion order, feature gates, genesis parity, storage migration, soak."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from rppsim.checks.verdict import Verdict
from rppsim.errors import UserError
from rppsim.guardrails.base import (
    Frames,
    GuardrailContext,
    compute_unsampled_nodes,
    is_sample_due,
    make_verdict,
    not_applicable,
    register,
)
from rppsim.node.config import FEATURE_GATE_NAMES, ReleaseChannel, compute_stage_gates, parse_config
from rppsim.telemetry.runfolder import get_run_info

CHANNELS = tuple(c.value for c in ReleaseChannel)
"""development → testnet → canary → mainnet (docs/operations.md#rollout,
docs/operations.md#guardrails row 3)."""


def get_config_error(config: Mapping[str, Any]) -> str | None:
    """The first error ``rppsim validate`` reports for a profile given as JSON data (strict
    mode; the resolved genesis stands in for ``genesis_path``), or None when it is valid."""
    data = dict(config)
    if "genesis" in data:
        data.pop("genesis_path", None)
    try:
        parse_config(data, "profile", strict=True)
    except UserError as error:
        return str(error).splitlines()[0]
    return None


@register(1, "config-valid", "Config valid")
def check_config_valid(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 1 / docs/operations.md#loading-and-rejection: every config
    rule in the chain's order; the first error wins (exit
    code class 2). Every profile of the run is checked, the run's first."""
    profiles = ctx.get_profiles()
    for profile in profiles:
        error = get_config_error(profile)
        if error is not None:
            return make_verdict(1, False, 1, 0, f"exit code 2: {error}")
    if len(profiles) > 1:
        return make_verdict(1, True, 0, 0, f"all {len(profiles)} profiles pass every rule")
    return make_verdict(1, True, 0, 0, "the profile passes every rule (strict mode)")


def _get_node_values(snapshots: pd.DataFrame, ctx: GuardrailContext, *path: str) -> pd.Series:
    """Per snapshot row, the value at ``path`` of the profile its node runs then."""
    rows = zip(snapshots["node"], snapshots["now_ms"], strict=True)
    return pd.Series(
        [ctx.get_node_config_at(int(n), int(t), *path) for n, t in rows],
        index=snapshots.index,
        dtype=object,
    )


@register(2, "channel-advertised", "Channel advertised and correct", needs=("snapshots",))
def check_channel_advertised(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 2: every honest node's snapshots report the release channel
    of the profile it
    runs (a ``[[nodes.group]]``'s, else the run's), one of the 4; an honest node with no
    snapshot advertised nothing (unless it never ran for a whole sample interval)."""
    target = str(ctx.get_config("rollout", "release_channel"))
    snapshots = frames["snapshots"].sort_values(["now_ms", "node"], kind="stable")
    for profile in ctx.get_profiles():
        own = str(profile["rollout"]["release_channel"])
        if own not in CHANNELS:
            return make_verdict(2, False, 1, 0, f"profile channel {own!r} is not one of {CHANNELS}")
    expected = _get_node_values(snapshots, ctx, "rollout", "release_channel").astype("string")
    channel = snapshots["release_channel"].astype("string").fillna("<null>")
    wrong = snapshots[channel != expected]
    if not wrong.empty:
        row, label = wrong.iloc[0], wrong.index[0]
        message = f"{wrong['node'].nunique()} node(s) advertise another channel, first node "
        message += f"{int(row['node'])}: {channel[label]!r} ≠ {expected[label]!r}"
        return make_verdict(2, False, len(wrong), 0, message, int(row["node"]), int(row["now_ms"]))
    heard = {int(n) for n in snapshots["node"]} | compute_unsampled_nodes(frames, ctx)
    silent = sorted(set(ctx.checks.honest) - heard)
    if silent and not is_sample_due(ctx):
        return not_applicable(
            2,
            "no telemetry sample was due in this run (telemetry off or a run"
            " shorter than one sample interval)",
        )
    if silent:
        message = f"{len(silent)} honest node(s) never advertised a channel, first node {silent[0]}"
        return make_verdict(2, False, len(silent), 0, message, silent[0])
    nodes = snapshots["node"].nunique()
    advertised = ", ".join(repr(c) for c in sorted(set(expected)) or [target])
    message = f"{nodes} nodes advertise {advertised} in all {len(snapshots)} snapshots"
    if ctx.node_configs or ctx.node_stages:
        message += " (each its own profile's)"
    return make_verdict(2, True, 0, 0, message)


def get_channel_changes(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Rows where a node's advertised channel differs from its previous snapshot's."""
    ordered = snapshots.dropna(subset=["release_channel"]).sort_values(
        ["node", "now_ms"], kind="stable"
    )
    previous = ordered.groupby("node")["release_channel"].shift()
    changed = ordered.assign(previous=previous)
    return changed[previous.notna() & (previous != changed["release_channel"])]


def is_promotion_step(previous: str, target: str) -> bool:
    """One stage forward (no skipping), or any step back (a rollback)."""
    if previous not in CHANNELS or target not in CHANNELS:
        return False
    step = CHANNELS.index(target) - CHANNELS.index(previous)
    return step <= 1


@register(3, "promotion-order", "Channel promotion order", needs=("snapshots",))
def check_promotion_order(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 3: a promotion goes to the next stage only; a rollback may
    go back."""
    changes = get_channel_changes(frames["snapshots"])
    if changes.empty:
        return not_applicable(3, "the run has no stages (no node changes channel)")
    bad = changes[
        [
            not is_promotion_step(p, t)
            for p, t in zip(changes["previous"], changes["release_channel"], strict=True)
        ]
    ].sort_values(["now_ms", "node"], kind="stable")
    if not bad.empty:
        row = bad.iloc[0]
        message = f"node {int(row['node'])} moved {row['previous']} → {row['release_channel']}"
        return make_verdict(3, False, len(bad), 0, message, int(row["node"]), int(row["now_ms"]))
    return make_verdict(3, True, 0, 0, f"{len(changes)} channel change(s), each one stage")


@register(4, "gates-match-stage", "Feature gates match the stage profile", needs=("snapshots",))
def check_gates_match_stage(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 4 / docs/operations.md#rollout: each profile's 7 gates
    equal its stage's bundle, and every node's
    snapshot gates equal those of the profile it runs (hence equality within each group)."""
    channel = str(ctx.get_config("rollout", "release_channel"))
    profile = {g: bool(v) for g, v in ctx.get_config("rollout", "feature_gates").items()}
    for config in ctx.get_profiles():
        stage = str(config["rollout"]["release_channel"])
        gates = {g: bool(v) for g, v in config["rollout"]["feature_gates"].items()}
        if stage in CHANNELS:
            bundle = compute_stage_gates(stage)
            differ = [g for g in FEATURE_GATE_NAMES if gates.get(g) != bundle[g]]
            if differ:
                message = f"profile gates differ from the {stage} bundle: {', '.join(differ)}"
                return make_verdict(4, False, len(differ), 0, message)
    snapshots = frames["snapshots"].sort_values(["now_ms", "node"], kind="stable")
    own = _get_node_values(snapshots, ctx, "rollout", "feature_gates")
    mismatch = pd.Series(False, index=snapshots.index)
    for gate in FEATURE_GATE_NAMES:
        expected = own.map(lambda gates, gate=gate: bool(gates[gate])).astype("boolean")
        column = snapshots[f"gate_{gate}"].astype("boolean")
        mismatch |= (column != expected).fillna(True).astype(bool)
    if mismatch.any():
        row, label = snapshots[mismatch].iloc[0], snapshots[mismatch].index[0]
        differing = [
            g
            for g in FEATURE_GATE_NAMES
            if row[f"gate_{g}"] is pd.NA or bool(row[f"gate_{g}"]) != bool(own[label][g])
        ]
        message = f"{snapshots[mismatch]['node'].nunique()} node(s) run other gates, first node "
        message += f"{int(row['node'])}: {', '.join(differing)}"
        return make_verdict(
            4, False, int(mismatch.sum()), 0, message, int(row["node"]), int(row["now_ms"])
        )
    on = [g for g in FEATURE_GATE_NAMES if profile[g]]
    message = f"all snapshots run the {channel} gates ({', '.join(on)})"
    if ctx.node_configs or ctx.node_stages:
        message = "all snapshots run the gates of their node's profile"
    return make_verdict(4, True, 0, 0, message)


@register(22, "genesis-parity", "Genesis parity")
def check_genesis_parity(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 22: one genesis hash on every node, when a frame carries it
    per node (or
    ``run_info`` ``genesis_hashes``: a run whose node groups ship their own genesis)."""
    recorded = get_run_info(frames).get("genesis_hashes") if "run_info" in frames else None
    if recorded is not None:
        pairs = [(int(node), str(value)) for node, value in json.loads(recorded)]
        count = len({value for _, value in pairs})
        if count > 1:
            node = next(node for node, value in pairs if value != pairs[0][1])
            message = f"{count} genesis hashes in run_info, node {node} differs"
            return make_verdict(22, False, count, 1, message, node)
        return make_verdict(22, True, count, 1, f"one genesis hash on all {len(pairs)} nodes")
    for name, frame in sorted(frames.items()):
        if "genesis_hash" in frame.columns and "node" in frame.columns:
            hashes = frame.dropna(subset=["genesis_hash"])
            count = int(hashes["genesis_hash"].nunique())
            if count > 1:
                first = hashes.iloc[0]["genesis_hash"]
                row = hashes[hashes["genesis_hash"] != first].iloc[0]
                message = f"{count} genesis hashes in {name}, node {int(row['node'])} differs"
                return make_verdict(22, False, count, 1, message, int(row["node"]))
            return make_verdict(22, True, count, 1, f"one genesis hash in {name}")
    why = "all nodes of a simulated run share one genesis by construction; no frame carries "
    return not_applicable(22, why + "per-node genesis hashes")


@register(23, "storage-migration", "Storage migration")
def check_storage_migration(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 23 needs a storage schema version per node."""
    return not_applicable(23, "the simulator has no storage schema (no Firewood database)")


@register(24, "soak-windows", "Soak windows before promotion")
def check_soak_windows(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 24: the soak of the run's own stage before promotion, as
    the promotion gate
    (``rppsim.guardrails.promotion``) decides it for the transition leaving its channel."""
    from rppsim.guardrails.promotion import PROMOTIONS, evaluate_promotion

    channel = str(ctx.get_config("rollout", "release_channel"))
    promotion = next((p for p in PROMOTIONS if p.source == channel), None)
    if promotion is None:
        return not_applicable(24, f"channel {channel!r} has no promotion stage")
    gate = evaluate_promotion(promotion, frames, ctx)
    message = f"{gate.id}: {gate.message}"
    if gate.passed is None:
        return not_applicable(24, message)
    return make_verdict(
        24, gate.passed, gate.figure, gate.threshold, message, gate.node, gate.time_ms
    )
