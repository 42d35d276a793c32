"""Consensus guardrails 14, 17, 18, 19 (docs/operations.md#guardrails): recursive commitment,
consensus
availability, liveness over sliding windows and finality — judged from the ``blocks``,
``block_finalized`` and ``snapshots`` frames with the docs/operations.md#alert-rules alert
thresholds.

Guardrails 18 and 19 pass or fail on the critical thresholds; a warning-level breach is
stated in the message of a passing verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rppsim.checks.verdict import Verdict
from rppsim.guardrails.base import Frames, GuardrailContext, make_verdict, not_applicable, register
from rppsim.telemetry.frames import get_optional_int
from rppsim.telemetry.scalars import to_int

__all__ = [
    "Window",
    "check_consensus_availability",
    "check_finality",
    "check_liveness",
    "check_recursive_commitment",
    "compute_commitment_breaks",
    "compute_finality_lags",
    "compute_height_gaps",
    "compute_tip",
    "compute_windows",
    "get_tip_at",
]

NO_BLOCKS = "no block was committed"


@dataclass(frozen=True, slots=True)
class Break:
    """A block breaking the recursive-commitment chain, and how."""

    height: int
    proposer: int | None
    time_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class Window:
    """One liveness window (docs/operations.md#alert-rules): height delta against scheduled
    slots."""

    start_ms: int
    end_ms: int
    height_delta: int
    slots: float

    @property
    def production_ratio(self) -> float:
        """height_delta / max(slots, 1)."""
        return self.height_delta / max(self.slots, 1.0)

    @property
    def missed_slots(self) -> float:
        """max(slots − height_delta, 0)."""
        return max(self.slots - self.height_delta, 0.0)


def _get_blocks(frames: Frames) -> pd.DataFrame:
    return frames["blocks"].sort_values(["height", "proposed_ms"], kind="stable")


def compute_commitment_breaks(blocks: pd.DataFrame) -> list[Break]:
    """Blocks above the lowest height whose parent (``previous_hash``) is missing, whose
    previous commitment is not the parent's commitment, or whose commitment repeats it."""
    by_hash = {str(h): row for h, row in zip(blocks["hash"], blocks.itertuples(), strict=True)}
    lowest = int(blocks["height"].min())
    breaks = []
    for row in blocks.itertuples():
        height = to_int(row.height)
        if height == lowest:
            continue
        parent = by_hash.get(str(row.previous_hash))
        where = (height, get_optional_int(row.proposer), to_int(row.proposed_ms))
        if parent is None or to_int(parent.height) != height - 1:
            breaks.append(Break(*where, f"height {height} has no parent at height {height - 1}"))
        elif row.recursive_previous_commitment != parent.recursive_commitment:  # type: ignore[operator]  # pandas-stubs: a field is any scalar
            reason = f"height {height}: previous commitment ≠ commitment of height {height - 1}"
            breaks.append(Break(*where, reason))
        elif row.recursive_commitment == parent.recursive_commitment:  # type: ignore[operator]  # pandas-stubs: a field is any scalar
            reason = f"height {height}: commitment equals that of height {height - 1}"
            breaks.append(Break(*where, reason))
    return breaks


@register(
    14, "recursive-commitment", "recursive commitment advances", "critical", needs=("blocks",)
)
def check_recursive_commitment(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 14: for every h above the first, prev_commitment(h) ==
    commitment(h − 1) and
    commitment(h) ≠ commitment(h − 1), heights contiguous. The playbook's smoke tx "raises the
    tip" by the block that carries it, whose commitment is checked like any other; a chain
    that stops after it is g18's finding, not this one's."""
    blocks = _get_blocks(frames)
    if blocks.empty:
        return not_applicable(14, NO_BLOCKS)
    limit = ctx.threshold("g14-recursive-commitment", "max_breaks", 0)
    breaks = compute_commitment_breaks(blocks)
    tip = int(blocks["height"].max())
    with_tx = blocks[blocks["tx_count"] > 0]
    if len(breaks) > limit:
        first = breaks[0]
        message = f"{len(breaks)} break(s) of the commitment chain; first: {first.reason}"
        return make_verdict(14, False, len(breaks), limit, message, first.proposer, first.time_ms)
    tx_note = (
        "no block carries transactions"
        if with_tx.empty
        else f"the first transactions raised the tip to {int(with_tx['height'].iloc[0])}"
    )
    message = f"commitments chain over heights {int(blocks['height'].min())}–{tip}; {tx_note}"
    return make_verdict(14, True, len(breaks), limit, message)


@register(17, "consensus-availability", "consensus availability", "critical", needs=("blocks",))
def check_consensus_availability(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 17 (dashboard 4): every block above height 1 carries a
    consensus proof (the
    first block has none, by design); blocks with 0 uptime proofs and the uptime-proof trend
    (mean per block, first vs second half of the blocks; lowest mean per proposing
    validator) are reported, not judged."""
    blocks = _get_blocks(frames)
    if blocks.empty:
        return not_applicable(17, NO_BLOCKS)
    limit = ctx.threshold("g17-consensus-availability", "max_missing_proofs", 0)
    later = blocks[blocks["height"] > 1]
    missing = later[~later["consensus_proof"].astype(bool)]
    half = len(blocks) // 2
    counts = blocks["uptime_count"].astype(float)
    early = counts.iloc[:half].mean() if half else 0.0
    late = counts.iloc[half:].mean()
    per_proposer = blocks[blocks["proposer"].isin(sorted(ctx.checks.validators))]
    means = per_proposer.groupby("proposer")["uptime_count"].mean()
    lowest = (
        f"; lowest per proposer: node {to_int(means.idxmin())} {means.min():.2f}"
        if len(means)
        else ""
    )
    zero = int((blocks["uptime_count"] == 0).sum())
    trend = (
        f"{zero} of {len(blocks)} blocks without uptime proofs; uptime proofs per block"
        f" {early:.2f} → {late:.2f}{lowest}"
    )
    if len(missing) > limit:
        row = missing.iloc[0]
        message = (
            f"{len(missing)} block(s) above height 1 without a consensus proof, first height"
            f" {int(row['height'])}; {trend}"
        )
        node, at_ms = get_optional_int(row["proposer"]), int(row["proposed_ms"])
        return make_verdict(17, False, len(missing), limit, message, node, at_ms)
    message = f"all {len(later)} blocks above height 1 carry a consensus proof; {trend}"
    return make_verdict(17, True, len(missing), limit, message)


def compute_tip(frames: Frames, ctx: GuardrailContext) -> pd.Series:
    """Chain tip over time: the highest height an honest node finalized by each time
    (``blocks.proposed_ms`` when nothing is finalized), a non-decreasing series by time. A
    source without ``block_finalized`` (live telemetry) gives the tip as sampled: the highest
    ``height`` an honest node's snapshot reported by each time."""
    if "block_finalized" not in frames:
        snapshots = frames["snapshots"].dropna(subset=["height"])
        honest = snapshots[~snapshots["node"].isin(sorted(ctx.checks.byzantine))]
        sampled = honest["height"].astype("int64").to_numpy()
        return pd.Series(sampled, index=honest["now_ms"].to_numpy()).sort_index().cummax()
    finalized = frames["block_finalized"]
    honest = finalized[~finalized["node"].isin(sorted(ctx.checks.byzantine))]
    if honest.empty:
        times, heights = frames["blocks"]["proposed_ms"], frames["blocks"]["height"]
    else:
        times, heights = honest["finalized_ms"], honest["height"]
    return pd.Series(heights.to_numpy(), index=times.to_numpy()).sort_index().cummax()


def get_tip_at(tip: pd.Series, t_ms: int) -> int:
    """The tip height at ``t_ms`` (0 before any block)."""
    index = int(tip.index.searchsorted(t_ms, side="right"))
    return int(tip.iloc[index - 1]) if index else 0


def compute_windows(
    tip: pd.Series, duration_ms: int, window_ms: int, block_time_ms: int
) -> list[Window]:
    """Windows of ``window_ms`` sliding by one block time over the run; a run shorter than
    one window gives one window over the run after a warm-up of one block time."""
    if duration_ms < window_ms:
        starts, length = [block_time_ms], duration_ms - block_time_ms
    else:
        starts = list(range(0, duration_ms - window_ms + 1, block_time_ms))
        length = window_ms
    return [
        Window(s, s + length, get_tip_at(tip, s + length) - get_tip_at(tip, s),
               length / block_time_ms)
        for s in starts
    ]  # fmt: skip


@register(
    18, "liveness", "liveness over sliding windows", "critical", needs=("blocks", "block_finalized")
)
def check_liveness(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 18, docs/operations.md#alert-rules: over sliding 5-min
    windows, height_delta > 0, production ratio =
    height_delta / (window / block_time_ms) ≥ 0.75 (warning < 0.9) and missed slots ≤ 4
    (warning > 2). figure = worst ratio, threshold = ``ratio_crit``."""
    gid = "g18-liveness"
    window_ms = int(ctx.threshold(gid, "window_ms", 300_000))
    ratio_warn, ratio_crit = (
        ctx.threshold(gid, "ratio_warn", 0.9),
        ctx.threshold(gid, "ratio_crit", 0.75),
    )
    missed_warn, missed_crit = (
        ctx.threshold(gid, "missed_warn", 2),
        ctx.threshold(gid, "missed_crit", 4),
    )
    block_ms, duration = ctx.checks.block_time_ms, ctx.checks.duration_ms
    if not ctx.checks.has_work and not ctx.checks.allow_empty_blocks:
        return not_applicable(18, "nothing is submitted and empty blocks are off")
    if duration <= 2 * block_ms:
        return not_applicable(18, f"the run ({duration} ms) is not longer than 2 block times")
    windows = compute_windows(compute_tip(frames, ctx), duration, window_ms, block_ms)
    span = (
        f"whole run after a {block_ms} ms warm-up (run {duration} ms < window {window_ms} ms)"
        if duration < window_ms
        else f"{len(windows)} windows of {window_ms} ms"
    )
    worst = min(windows, key=lambda w: (w.production_ratio, w.start_ms))
    most_missed = max(w.missed_slots for w in windows)
    bad = [
        w for w in windows
        if w.height_delta <= 0 or w.production_ratio < ratio_crit or w.missed_slots > missed_crit
    ]  # fmt: skip
    summary = (
        f"{span}: worst production ratio {worst.production_ratio:.3f}"
        f" ({worst.height_delta} blocks in {worst.slots:g} slots, {worst.start_ms}–"
        f"{worst.end_ms} ms), most missed slots {most_missed:g}"
    )
    if bad:
        stalls = [w for w in bad if w.height_delta <= 0]
        first = (stalls or bad)[0]
        what = "stall (height delta 0)" if first.height_delta <= 0 else "critical breach"
        message = f"{what} in {first.start_ms}–{first.end_ms} ms; {summary}"
        figure = round(worst.production_ratio, 6)
        return make_verdict(18, False, figure, ratio_crit, message, None, first.end_ms)
    warn = worst.production_ratio < ratio_warn or most_missed > missed_warn
    note = f" (warning: below {ratio_warn} or above {missed_warn:g} missed)" if warn else ""
    return make_verdict(18, True, round(worst.production_ratio, 6), ratio_crit, summary + note)


def compute_finality_lags(frames: Frames, ctx: GuardrailContext) -> pd.DataFrame:
    """Per honest (height, node) finalization: lag_slots = (finalized_ms − the block's
    proposed_ms) / block_time_ms, by time."""
    finalized = frames["block_finalized"]
    honest = finalized[~finalized["node"].isin(sorted(ctx.checks.byzantine))]
    proposed = frames["blocks"][["hash", "proposed_ms"]].drop_duplicates("hash")
    rows = honest.merge(proposed, on="hash", how="inner")
    lag = (rows["finalized_ms"] - rows["proposed_ms"]) / ctx.checks.block_time_ms
    rows = rows.assign(lag_slots=lag)
    return rows.sort_values(["finalized_ms", "node"], kind="stable").reset_index(drop=True)


def compute_height_gaps(frames: Frames, ctx: GuardrailContext) -> pd.DataFrame:
    """finalized_height_gap = tip − the node's finalized height, at each honest node's
    snapshot (at each finalization when there are no snapshots), by time."""
    finalized = frames["block_finalized"]
    byzantine = sorted(ctx.checks.byzantine)
    honest = finalized[~finalized["node"].isin(byzantine)]
    snapshots = frames["snapshots"]
    samples = snapshots[~snapshots["node"].isin(byzantine)][["node", "now_ms"]]
    if samples.empty:
        samples = honest[["node", "finalized_ms"]].rename(columns={"finalized_ms": "now_ms"})
    tip = compute_tip(frames, ctx)
    own = {
        to_int(n): pd.Series(g["height"].to_numpy(), index=g["finalized_ms"].to_numpy())
        .sort_index()
        .cummax()
        for n, g in honest.groupby("node")
    }
    empty = pd.Series([], dtype="int64")
    gaps = [
        get_tip_at(tip, int(t)) - get_tip_at(own.get(int(n), empty), int(t))
        for n, t in zip(samples["node"], samples["now_ms"], strict=True)
    ]
    rows = samples.assign(gap=gaps).sort_values(["now_ms", "node"], kind="stable")
    return rows.reset_index(drop=True)


@register(
    19,
    "finality",
    "finality lag and finalized height gap",
    "critical",
    needs=("blocks", "block_finalized", "snapshots"),
)
def check_finality(frames: Frames, ctx: GuardrailContext) -> Verdict:
    """docs/operations.md#guardrails row 19, docs/operations.md#alert-rules: finality_lag_slots ≤ 24
    (warning > 12) and finalized_height_gap ≤ 8
    (warning > 4) for every honest node. figure = worst lag in slots, threshold
    ``lag_crit``; the worst gap is in the message."""
    gid = "g19-finality"
    lag_warn, lag_crit = ctx.threshold(gid, "lag_warn", 12), ctx.threshold(gid, "lag_crit", 24)
    gap_warn, gap_crit = ctx.threshold(gid, "gap_warn", 4), ctx.threshold(gid, "gap_crit", 8)
    lags = compute_finality_lags(frames, ctx)
    if lags.empty:
        return not_applicable(19, "no honest node finalized a block")
    gaps = compute_height_gaps(frames, ctx)
    worst_lag = float(lags["lag_slots"].max())
    worst_gap = int(gaps["gap"].max()) if len(gaps) else 0
    summary = (
        f"worst finality lag {worst_lag:.2f} slots over {len(lags)} finalizations, worst"
        f" finalized height gap {worst_gap} over {len(gaps)} samples"
    )
    late = lags[lags["lag_slots"] > lag_crit]
    behind = gaps[gaps["gap"] > gap_crit]
    offenders = []
    if not late.empty:
        row = late.iloc[0]
        what = f"height {int(row['height'])} finalized {row['lag_slots']:.2f} slots after proposal"
        offenders.append((int(row["finalized_ms"]), int(row["node"]), what))
    if not behind.empty:
        row = behind.iloc[0]
        what = f"finalized height {int(row['gap'])} below the tip"
        offenders.append((int(row["now_ms"]), int(row["node"]), what))
    if offenders:
        at_ms, node, what = min(offenders)
        message = f"node {node} at {at_ms} ms: {what}; {summary}"
        return make_verdict(19, False, round(worst_lag, 6), lag_crit, message, node, at_ms)
    warn = worst_lag > lag_warn or worst_gap > gap_warn
    note = f" (warning: lag above {lag_warn:g} or gap above {gap_warn:g})" if warn else ""
    return make_verdict(19, True, round(worst_lag, 6), lag_crit, summary + note)
