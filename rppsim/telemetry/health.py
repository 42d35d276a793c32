"""The short health summary ``rppsim run`` prints before the verdict table: pure functions of
a run's frames (docs/architecture.md#telemetry-reports-and-guardrails).

Heights and blocks per minute against the schedule (one block per ``block_time_ms``),
finality lag p50/p95 (a block's proposal to each honest node's finalization), message drops by
reason, alerts fired, and the most frequent rejection reasons at the end of the run. A frame
the run does not write (the fast engine writes no finalizations, messages or rejections) gives
"not recorded" instead of a figure.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

TOP_REASONS = 3


def compute_block_rate(frames: Mapping[str, pd.DataFrame], duration_ms: int) -> tuple[int, int]:
    """(distinct finalized heights, blocks = rows of the blocks frame); the blocks' heights
    when the run records no finalizations (the fast engine: every block it writes is final)."""
    finalized = frames.get("block_finalized", frames["blocks"])
    return int(finalized["height"].nunique()), len(frames["blocks"])


def compute_finality_lags(frames: Mapping[str, pd.DataFrame]) -> np.ndarray:
    """Milliseconds from each block's proposal to each finalization of it by an honest node."""
    finalized = frames["block_finalized"]
    nodes = frames["nodes"]
    byzantine = set(nodes.loc[nodes["byzantine"].astype(bool), "node"].astype(int))
    honest = finalized[~finalized["node"].isin(sorted(byzantine))]
    joined = honest.merge(
        frames["blocks"][["height", "hash", "proposed_ms"]], on=["height", "hash"]
    )
    return (joined["finalized_ms"] - joined["proposed_ms"]).to_numpy(dtype=np.int64)


def compute_drops(messages: pd.DataFrame) -> dict[str, int]:
    """Dropped message copies by reason, most first (empty when messages were not kept)."""
    dropped = messages[messages["dropped"].astype(bool)]
    counts = dropped["drop_reason"].astype(str).replace("", "lost").value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def compute_top_rejections(
    rejections: pd.DataFrame, top: int = TOP_REASONS
) -> list[tuple[str, int]]:
    """The most frequent rejection reasons over all nodes at the end of the run."""
    if rejections.empty:
        return []
    last = rejections.sort_values("now_ms", kind="stable").groupby(["node", "reason"]).tail(1)
    totals = last.groupby("reason")["count"].sum().sort_values(ascending=False, kind="stable")
    ordered = sorted(totals.items(), key=lambda item: (-int(item[1]), str(item[0])))
    return [(str(reason), int(count)) for reason, count in ordered[:top]]


def compute_health_lines(
    frames: Mapping[str, pd.DataFrame], duration_ms: int, block_time_ms: int
) -> list[str]:
    """The summary, one line per topic."""
    heights, blocks = compute_block_rate(frames, duration_ms)
    minutes = max(duration_ms, 1) / 60_000
    scheduled = duration_ms / max(block_time_ms, 1)
    lines = [
        f"heights {heights} ({blocks} blocks) in {duration_ms / 1000:.1f} s:"
        f" {heights / minutes:.1f} per minute against {scheduled / minutes:.1f} scheduled"
        f" (block time {block_time_ms} ms)"
    ]
    lags = compute_finality_lags(frames) if "block_finalized" in frames else None
    if lags is None:
        lines.append("finality lag: finalizations not recorded")
    elif len(lags):
        p50, p95 = np.percentile(lags, [50, 95])
        lines.append(f"finality lag p50 {p50:.0f} ms, p95 {p95:.0f} ms (proposal → finalized)")
    else:
        lines.append("finality lag: no block finalized")
    messages = frames.get("messages")
    if messages is None or messages.empty:
        lines.append("drops: messages not recorded")
    else:
        drops = compute_drops(messages)
        detail = ", ".join(f"{k} {v:,}" for k, v in drops.items()) or "none"
        lines.append(f"drops: {sum(drops.values()):,} of {len(messages):,} copies ({detail})")
    alerts = frames.get("alerts")
    lines.append("alerts fired: " + ("not recorded" if alerts is None else f"{len(alerts)}"))
    if "rejections" not in frames:
        lines.append("top rejections: not recorded")
        return lines
    top = compute_top_rejections(frames["rejections"])
    detail = "; ".join(f"{reason} ×{count:,}" for reason, count in top) or "none"
    lines.append(f"top rejections: {detail}")
    return lines
