"""Proof guardrails (docs/operations.md#guardrails rows 9, 11, 12, 13;
docs/operations.md#proof-systems-and-the-size-gate): proof cache, verifier SLA,
ProofSystemKind parity and the size gate — from ``proofs``, ``blocks``, ``snapshots``,
``rejections`` and ``run_info``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rppsim.checks.verdict import Verdict
from rppsim.guardrails.base import Frames, GuardrailContext, make_verdict, not_applicable, register
from rppsim.guardrails.workload import compute_rejection_count, get_last_snapshots
from rppsim.node.proofs import ModelProofService
from rppsim.telemetry.frames import CACHE_FIELDS, VERIFIER_BACKENDS, get_optional_int
from rppsim.telemetry.scalars import to_int

SERVED_SYSTEMS = {"model": ModelProofService.system, "real": "numba-stark"}
"""The proof system the verifier registry serves for each prover mode (``run_info.prover``):
the model service's label, and ``ProofSystemKind.NUMBA_STARK`` (rppsim/prover/kinds.py)."""
UNSUPPORTED = "unsupported proof system"
P90_ALL_BYTES = 1.5e6
"""ProofSizeRegression: p90 of all proof bytes (docs/operations.md#guardrails row 13,
docs/operations.md#alert-rules)."""
MAX_CACHE_UTILISATION = 1.0
"""The chain's proof-cache guardrail: utilisation = entries ÷ capacity must be ≤ 1."""


@register(
    9, "proof-cache", "Proof pipeline health / cache utilisation", "warning", needs=("snapshots",)
)
def check_proof_cache(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """The proof pipeline's cache: utilisation = entries ÷ capacity ≤ 1 (``max_utilisation``)
    in every node sample that reports both; the first offending sample (by time, then node)
    names the node and time, the figure is the worst utilisation (None when the worst is
    entries on a capacity of 0). Hit, miss and eviction counts and queue depths are in the
    snapshots but not judged: the chain sets no bound on them that a run can decide."""
    gid = "g09-proof-cache"
    limit = ctx.threshold(gid, "max_utilisation", MAX_CACHE_UTILISATION)
    snapshots = frames["snapshots"]
    if not snapshots[[f"cache_{f}" for f in CACHE_FIELDS]].notna().any().any():
        return not_applicable(9, "the node reports no proof-cache counters (cache_* columns null)")
    samples = compute_cache_utilisation(snapshots)
    if samples.empty:
        why = "cache_* columns are reported, but no sample has both cache_entries and capacity"
        return not_applicable(9, why)
    utilisation = samples["utilisation"]
    worst = float(utilisation.max())
    figure = worst if np.isfinite(worst) else None
    over = samples[utilisation > limit]
    if not over.empty:
        first = over.iloc[0]
        node, at_ms = int(first["node"]), int(first["now_ms"])
        entries, capacity = int(first["cache_entries"]), int(first["cache_capacity"])
        message = (
            f"{len(over)} of {len(samples)} samples over cache utilisation {limit:g}; first: node"
            f" {node} at {at_ms} ms holds {entries} entries for a capacity of {capacity}"
        )
        return make_verdict(9, False, figure, limit, message, node, at_ms)
    nodes = samples["node"].nunique()
    message = f"cache utilisation at most {worst:.2f} over {len(samples)} samples of {nodes} nodes"
    return make_verdict(9, True, figure, limit, message)


def compute_cache_utilisation(snapshots: pd.DataFrame) -> pd.DataFrame:
    """The snapshots reporting both ``cache_entries`` and ``cache_capacity``, by (now_ms,
    node), with ``utilisation`` = entries ÷ capacity (infinite for entries on a capacity of
    0, and 0 for none)."""
    rows = snapshots.dropna(subset=["cache_entries", "cache_capacity"])
    rows = rows.sort_values(["now_ms", "node"], kind="stable").reset_index(drop=True)
    entries = rows["cache_entries"].to_numpy(dtype=np.float64)
    capacity = rows["cache_capacity"].to_numpy(dtype=np.float64)
    utilisation = np.where(entries > 0, np.inf, 0.0)
    np.divide(entries, capacity, out=utilisation, where=capacity > 0)
    return rows.assign(utilisation=utilisation)


def get_verifier_totals(snapshots: pd.DataFrame, backend: str) -> dict[str, int] | None:
    """A backend's cumulative counters summed over each node's last reporting snapshot, or
    None when no node reports them."""
    label = backend.replace("-", "_")
    columns = [
        f"verifier_{label}_{c}" for c in ("accepted", "rejected", "bypassed", "total_duration_ms")
    ]
    rows = snapshots.dropna(subset=columns, how="all")
    if rows.empty:
        return None
    last = get_last_snapshots(rows)[columns].fillna(0).astype(int).sum()
    return {str(c).removeprefix(f"verifier_{label}_"): int(v) for c, v in last.items()}


@register(11, "verifier-sla", "Verifier health / SLA", needs=("snapshots",))
def check_verifier_sla(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 11 per backend: mean latency = total_ms/(acc+rej) ≤ 8000
    ms, error rate =
    rej/(acc+rej) ≤ 0.02, bypassed = 0 on mainnet. Per-circuit fail ratios: not computed."""
    gid = "g11-verifier-sla"
    max_ms = ctx.threshold(gid, "max_mean_ms", 8000)
    max_error = ctx.threshold(gid, "max_error_rate", 0.02)
    totals = {b: get_verifier_totals(frames["snapshots"], b) for b in VERIFIER_BACKENDS}
    reported = {b: t for b, t in totals.items() if t is not None}
    if not reported:
        return not_applicable(11, "the node reports no verifier counters (verifier_* null)")
    mainnet = ctx.get_config("rollout", "release_channel") == "mainnet"
    worst = 0.0
    for backend, t in sorted(reported.items()):
        done = t["accepted"] + t["rejected"]
        mean = t["total_duration_ms"] / done if done else 0.0
        error = t["rejected"] / done if done else 0.0
        worst = max(worst, error)
        if mean > max_ms:
            return make_verdict(11, False, mean, max_ms, f"{backend} mean latency {mean:.0f} ms")
        if error > max_error:
            return make_verdict(11, False, error, max_error, f"{backend} error rate {error:.3f}")
        if mainnet and t["bypassed"] > 0:
            message = f"{backend} bypassed {t['bypassed']} verifications on mainnet"
            return make_verdict(11, False, t["bypassed"], 0, message)
    message = f"backends {', '.join(sorted(reported))} within latency and error limits"
    return make_verdict(11, True, worst, max_error, message)


def get_mixed_heights(proofs: pd.DataFrame, blocks: pd.DataFrame) -> list[int]:
    """Heights whose proofs are not all of the block's ``proof_system``, ascending."""
    systems = blocks.set_index("height")["proof_system"].astype(str).to_dict()
    mixed = set()
    for height, group in proofs.groupby("height", sort=True):
        found = set(group["system"].astype(str))
        if len(found) > 1 or (to_int(height) in systems and found != {systems[to_int(height)]}):
            mixed.add(to_int(height))
    return sorted(mixed)


def get_run_prover(frames: Frames) -> str | None:
    """``run_info.prover`` (model or real), or None when the run folder does not record it."""
    info = frames["run_info"]
    values = info.loc[info["key"] == "prover", "value"]
    return str(values.iloc[0]) if not values.empty else None


@register(
    12, "proof-system-parity", "ProofSystemKind parity", needs=("proofs", "blocks", "rejections")
)
def check_proof_system_parity(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 12 / docs/operations.md#promotion-and-rollout-checks item
    1: every block bundle is single-system, the prover's system is
    the one the verifier registry serves, no "unsupported proof system" rejections."""
    proofs, blocks = frames["proofs"], frames["blocks"].sort_values("height", kind="stable")
    mixed = get_mixed_heights(proofs, blocks)
    if mixed:
        row = blocks[blocks["height"] == mixed[0]]
        node, at = (
            (get_optional_int(row["proposer"].iloc[0]), int(row["proposed_ms"].iloc[0]))
            if not row.empty
            else (None, None)
        )
        message = f"{len(mixed)} block(s) mix proof systems, first height {mixed[0]}"
        return make_verdict(12, False, len(mixed), 0, message, node, at)
    prover = get_run_prover(frames)
    used = sorted(set(proofs["system"].astype(str)) | set(blocks["proof_system"].astype(str)))
    used = [s for s in used if s]
    served = SERVED_SYSTEMS.get(prover) if prover is not None else None
    if served is not None and any(s != served for s in used):
        message = f"proofs of {', '.join(used)} but the registry serves {served}"
        return make_verdict(12, False, len(used), 1, message)
    bad = compute_rejection_count(frames["rejections"], lambda r: UNSUPPORTED in r)
    if bad.count:
        message = f"{bad.count} unsupported-proof-system rejection(s)"
        return make_verdict(12, False, bad.count, 0, message, bad.node, bad.time_ms)
    registry = served or "unknown (run_info has no prover)"
    message = f"{len(blocks)} blocks single-system ({', '.join(used) or 'none'}); registry "
    message += f"serves {registry}; no unsupported-system rejections"
    return make_verdict(12, True, 0, 0, message)


@register(13, "size-gate", "Proof size gate", needs=("proofs", "blocks", "rejections"))
def check_size_gate(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 13 / docs/operations.md#proof-systems-and-the-size-gate:
    max serialised proof bytes per circuit ≤ ``max_proof_size_bytes``,
    p90 of all proof bytes ≤ 1.5e6, no size-gate rejections. Rejections are not split by
    error code (the reason text is counted, not parsed)."""
    gid = "g13-size-gate"
    limit = ctx.threshold(gid, "max_proof_size_bytes", ctx.get_config("max_proof_size_bytes"))
    p90_limit = ctx.threshold(gid, "p90_bytes", P90_ALL_BYTES)
    proofs = frames["proofs"].sort_values(["height", "circuit", "index"], kind="stable")
    if proofs.empty:
        return not_applicable(13, "the run has no proofs")
    per_circuit = proofs.groupby("circuit")["bytes"].max()
    worst = int(per_circuit.max())
    over = proofs[proofs["bytes"] > limit]
    if not over.empty:
        first = over.iloc[0]
        height = int(first["height"])
        block = frames["blocks"][frames["blocks"]["height"] == height]
        node = get_optional_int(block["proposer"].iloc[0]) if not block.empty else None
        at = int(block["proposed_ms"].iloc[0]) if not block.empty else None
        circuits = ", ".join(f"{c} {int(b)}" for c, b in per_circuit[per_circuit > limit].items())
        message = f"{len(over)} proof(s) over {int(limit)} bytes (max per circuit: {circuits}); "
        message += f"first: {first['circuit']} at height {height}, proposer {node}"
        return make_verdict(13, False, worst, limit, message, node, at)
    p90 = float(proofs["bytes"].quantile(0.9))
    if p90 > p90_limit:
        return make_verdict(13, False, p90, p90_limit, f"p90 proof bytes {p90:.0f} > {p90_limit:g}")
    gated = compute_rejection_count(frames["rejections"], lambda r: "size" in r)
    if gated.count:
        message = f"{gated.count} size-gate rejection(s)"
        return make_verdict(13, False, gated.count, 0, message, gated.node, gated.time_ms)
    message = f"largest proof {worst} bytes ≤ {int(limit)}; p90 {p90:.0f} bytes; no size rejections"
    return make_verdict(13, True, worst, limit, message)
