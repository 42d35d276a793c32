"""Workload guardrails (docs/operations.md#guardrails rows 15, 16, 20, 21): smoke transaction,
identity
genesis, queues and backlog, timetoke accrual — from ``blocks``, ``block_finalized``,
``snapshots``, ``ledger`` and ``rejections``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from rppsim.checks.verdict import Verdict
from rppsim.guardrails.base import Frames, GuardrailContext, make_verdict, register
from rppsim.node.mempool import REASON_TRANSACTION_DUPLICATE, REASON_TRANSACTION_FULL
from rppsim.telemetry.frames import get_optional_int

TX_REJECTIONS = (f"transaction: {REASON_TRANSACTION_FULL}", REASON_TRANSACTION_DUPLICATE)
"""Rejection reasons (``kind: reason``) a smoke transaction must not meet
(docs/operations.md#limits-and-queues)."""
QUEUES = ("transactions", "identities", "votes")
"""The queues bounded by ``mempool_limit`` (docs/operations.md#limits-and-queues)."""


@dataclass(frozen=True, slots=True)
class Offence:
    """A counted offence and its first offender."""

    count: int
    node: int | None
    time_ms: int | None


def compute_rejection_count(rejections: pd.DataFrame, is_match: Callable[[str], bool]) -> Offence:
    """Rejections whose reason matches, summed over nodes from each node's cumulative count
    (its largest), and the first sample reporting one (docs/architecture.md#the-node-is-sans-io,
    ``rejections`` frame)."""
    rows = rejections[[is_match(str(r)) for r in rejections["reason"]]]
    if rows.empty:
        return Offence(0, None, None)
    count = int(rows.groupby(["node", "reason"])["count"].max().sum())
    first = rows.sort_values(["now_ms", "node"], kind="stable").iloc[0]
    return Offence(count, int(first["node"]), int(first["now_ms"]))


def get_last_snapshots(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Each node's last snapshot, by node."""
    ordered = snapshots.sort_values(["node", "now_ms"], kind="stable")
    return ordered.groupby("node", sort=True).tail(1)


def get_unfinalized_blocks(blocks: pd.DataFrame, finalized: pd.DataFrame) -> pd.DataFrame:
    """Blocks with transactions that no node recorded as finalized, by height."""
    with_tx = blocks[blocks["tx_count"] > 0]
    keys = set(zip(finalized["height"].astype(int), finalized["hash"].astype(str), strict=True))
    seen = [
        (int(h), str(x)) in keys for h, x in zip(with_tx["height"], with_tx["hash"], strict=True)
    ]
    return with_tx[[not s for s in seen]].sort_values("height", kind="stable")


@register(
    15,
    "smoke-tx",
    "Smoke: transactions included, finalized, mempool drained",
    needs=("blocks", "block_finalized", "snapshots", "rejections"),
)
def check_smoke_tx(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 15: blocks carry the offered transactions and are
    finalized; the last snapshot
    of every node holds at most one block's worth of transactions (the next block drains
    it); no "mempool full" or duplicate transaction rejections."""
    gid = "g15-smoke-tx"
    blocks = frames["blocks"]
    if not ctx.checks.has_work:
        return make_verdict(15, None, None, None, "the scenario submits no transactions")
    included = int(blocks["tx_count"].sum())
    if included == 0:
        return make_verdict(15, False, 0, 1, "work was offered but no block carries a transaction")
    missing = get_unfinalized_blocks(blocks, frames["block_finalized"])
    if not missing.empty:
        first = missing.iloc[0]
        message = f"{len(missing)} block(s) with transactions never finalized, first height "
        message += f"{int(first['height'])}"
        node, at = get_optional_int(first["proposer"]), int(first["proposed_ms"])
        return make_verdict(15, False, len(missing), 0, message, node, at)
    limit = ctx.threshold(gid, "max_pending_at_end", ctx.get_config("max_block_transactions"))
    last = get_last_snapshots(frames["snapshots"])
    pending = last["pending_transactions"].fillna(0)
    if not last.empty and int(pending.max()) > limit:
        worst = last.loc[pending.idxmax()]  # type: ignore[call-overload]  # pandas-stubs: a label
        message = f"mempool not drained: node {int(worst['node'])} ends with "
        message += f"{int(pending.max())} pending transactions > {limit:g}"
        return make_verdict(
            15, False, int(pending.max()), limit, message, int(worst["node"]), int(worst["now_ms"])
        )
    bad = compute_rejection_count(frames["rejections"], lambda r: r.endswith(TX_REJECTIONS))
    if bad.count:
        message = f"{bad.count} mempool-full or duplicate transaction rejection(s)"
        return make_verdict(15, False, bad.count, 0, message, bad.node, bad.time_ms)
    figure = int(pending.max()) if not last.empty else 0
    message = f"{included} transactions in {int((blocks['tx_count'] > 0).sum())} finalized "
    message += f"blocks; at most {figure} pending at the end; no full/duplicate rejections"
    return make_verdict(15, True, figure, limit, message)


@register(16, "identity-genesis", "Smoke: identity genesis", needs=("blocks", "snapshots"))
def check_identity_genesis(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 16: at most ``max_block_identity_registrations`` (32)
    identities per block and,
    if identity requests were queued, at least one included. The new identity's tier is not
    judged: the ledger frame holds only the nodes' own accounts."""
    gid = "g16-identity-genesis"
    limit = ctx.threshold(gid, "max_per_block", ctx.get_config("max_block_identity_registrations"))
    blocks = frames["blocks"].sort_values("height", kind="stable")
    over = blocks[blocks["identity_count"] > limit]
    worst = int(blocks["identity_count"].max()) if not blocks.empty else 0
    if not over.empty:
        first = over.iloc[0]
        message = f"block {int(first['height'])} includes {int(first['identity_count'])} "
        message += f"identities > {limit:g}"
        node, at = get_optional_int(first["proposer"]), int(first["proposed_ms"])
        return make_verdict(16, False, worst, limit, message, node, at)
    offered = bool((frames["snapshots"]["pending_identities"].fillna(0) > 0).any())
    included = int(blocks["identity_count"].sum())
    if offered and included == 0:
        message = "identity requests were queued but no block includes one"
        return make_verdict(16, False, worst, limit, message)
    if not offered and included == 0:
        return make_verdict(16, None, None, None, "the run has no identity traffic")
    message = f"{included} identities included, at most {worst} per block"
    return make_verdict(16, True, worst, limit, message)


@dataclass(frozen=True, slots=True)
class QueueBreach:
    """A queue measure above its limit."""

    figure: float
    threshold: float
    message: str
    node: int | None
    time_ms: int | None


def compute_queue_breaches(snapshots: pd.DataFrame, ctx: GuardrailContext) -> list[QueueBreach]:
    """Every docs/operations.md#guardrails row 20 limit the snapshots exceed: per-queue max <
    mempool_limit, average
    transaction backlog ≤ 4096, average block backlog ≤ 16, pending uptime proofs ≤ 4."""
    gid = "g20-queues"
    found = []
    limit = ctx.threshold(gid, "mempool_limit", ctx.get_config("mempool_limit"))
    maxima = [(f"pending_{q}", limit, f"{q} queue reaches") for q in QUEUES]
    maxima.append(("pending_uptime_proofs", ctx.threshold(gid, "max_uptime", 4), "uptime queue"))
    for column, bound, what in maxima:
        values = snapshots[column].fillna(0)
        breached = values >= bound if column != "pending_uptime_proofs" else values > bound
        if breached.any():
            row = snapshots[breached].sort_values(["now_ms", "node"], kind="stable").iloc[0]
            message = f"{what} {int(values.max())} pending (limit {bound:g})"
            node, at = int(row["node"]), int(row["now_ms"])
            found.append(QueueBreach(float(values.max()), bound, message, node, at))
    averages = (
        ("pending_transactions", "avg_tx", 4096),
        ("pending_block_proposals", "avg_block", 16),
    )
    for column, name, default in averages:
        bound = ctx.threshold(gid, name, default)
        mean = float(snapshots[column].fillna(0).mean())
        if mean > bound:
            found.append(
                QueueBreach(mean, bound, f"average {column} {mean:.1f} > {bound:g}", None, None)
            )
    return found


@register(20, "queues", "Queues and backlog within limits", "warning", needs=("snapshots",))
def check_queues(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 20 from the snapshots' ``pending_*`` columns (pruning
    pacing: no pruning job)."""
    snapshots = frames["snapshots"]
    if snapshots.empty:
        return make_verdict(20, None, None, None, "the run has no telemetry snapshots")
    breaches = compute_queue_breaches(snapshots, ctx)
    if breaches:
        first = breaches[0]
        message = "; ".join(b.message for b in breaches)
        return make_verdict(
            20, False, first.figure, first.threshold, message, first.node, first.time_ms
        )
    mean = float(snapshots["pending_transactions"].fillna(0).mean())
    limit = ctx.threshold("g20-queues", "avg_tx", 4096)
    peak = int(snapshots[[f"pending_{q}" for q in QUEUES]].fillna(0).max().max())
    message = f"average tx backlog {mean:.1f}, largest queue {peak}, uptime queue ≤ 4"
    return make_verdict(20, True, round(mean, 3), limit, message)


@register(
    21,
    "timetoke-slo",
    "Timetoke accrual and uptime inclusion",
    "warning",
    needs=("ledger", "snapshots", "blocks"),
)
def check_timetoke_slo(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 21, the decidable part: no account credited above
    ``accrual_cap_hours`` (720)
    and queued uptime proofs reach blocks. Replay success, p95/p99 latencies and
    last-success ages need the chain's replay timings, which the simulator does not model."""
    gid = "g21-timetoke-slo"
    cap = ctx.threshold(
        gid, "accrual_cap_hours", ctx.get_config("reputation", "timetoke", "accrual_cap_hours")
    )
    ledger = frames["ledger"].dropna(subset=["timetoke_hours"])
    if ledger.empty:
        return make_verdict(21, None, None, None, "the ledger frame has no timetoke balances")
    hours = ledger["timetoke_hours"].astype(int)
    worst = int(hours.max())
    not_modelled = "replay success/latency/age SLOs not modelled (need replay timings)"
    if worst > cap:
        row = ledger[hours > cap].sort_values(["now_ms", "node"], kind="stable").iloc[0]
        message = f"node {int(row['node'])} holds {worst} timetoke hours > cap {cap:g}"
        return make_verdict(21, False, worst, cap, message, int(row["node"]), int(row["now_ms"]))
    queued = bool((frames["snapshots"]["pending_uptime_proofs"].fillna(0) > 0).any())
    included = int(frames["blocks"]["uptime_count"].sum())
    if queued and included == 0:
        message = f"uptime proofs were queued but no block includes one; {not_modelled}"
        return make_verdict(21, False, worst, cap, message)
    message = f"largest timetoke balance {worst} h ≤ {cap:g} h; {included} uptime proofs "
    message += f"included; {not_modelled}"
    return make_verdict(21, True, worst, cap, message)
