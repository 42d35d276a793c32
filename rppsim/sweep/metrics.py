"""A run's metrics for a sweep: one number each, computed from the run's frames alone, the same
code for both engines (docs/sweeps.md#metrics).

A metric that a run cannot have (no blocks, no validator with an account) is NaN, never a
made-up zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

__all__ = ["METRIC_NAMES", "TIERS", "compute_gini", "compute_metrics"]

Frames = Mapping[str, pd.DataFrame]
TIERS = tuple(range(6))
"""The reputation tiers tl0..tl5."""
NAN = float("nan")


def compute_gini(counts: np.ndarray) -> float:
    """The Gini coefficient of non-negative counts (0: all equal; (n − 1)/n: one has all);
    NaN for no counts or a zero total."""
    values = np.sort(np.asarray(counts, float))
    n, total = values.size, float(values.sum())
    if n == 0 or total <= 0:
        return NAN
    ranks = np.arange(1, n + 1)
    return float((2.0 * (ranks * values).sum()) / (n * total) - (n + 1.0) / n)


def _frame(frames: Frames, name: str) -> pd.DataFrame:
    frame = frames.get(name)
    return frame if frame is not None else pd.DataFrame()


def _validators(frames: Frames) -> list[int]:
    nodes = _frame(frames, "nodes")
    if nodes.empty:
        return []
    return sorted(int(i) for i in nodes.loc[nodes["role"] == "validator", "node"])


def get_finalization_times(frames: Frames) -> pd.Series:
    """Each finalized height's finalization time (ms), by height: the first honest node's
    ``block_finalized`` row (full engine), else the block's ``proposed_ms`` (the fast engine
    counts votes at once, so a block is final when it is proposed)."""
    finalized = _frame(frames, "block_finalized")
    if not finalized.empty:
        return finalized.groupby("height")["finalized_ms"].min().sort_index().astype(float)
    blocks = _frame(frames, "blocks")
    if blocks.empty:
        return pd.Series(dtype=float)
    return blocks.groupby("height")["proposed_ms"].min().sort_index().astype(float)


def _finality_lags(frames: Frames) -> np.ndarray:
    """Per finalized height, the time from the previous height's finalization (genesis: 0)
    to its own: the block time plus any rounds lost to timeouts."""
    times = get_finalization_times(frames).to_numpy(float)
    return np.diff(times, prepend=0.0)


def _ledger_end(frames: Frames) -> pd.DataFrame:
    """Each validator's last ledger row (the run's end state)."""
    ledger = _frame(frames, "ledger")
    if ledger.empty:
        return ledger
    ledger = ledger[ledger["node"].isin(_validators(frames))]
    return ledger.sort_values(["node", "now_ms"], kind="stable").groupby("node").tail(1)


def _mean(values: pd.Series | np.ndarray) -> float:
    array = np.asarray(pd.Series(values).dropna(), float)
    return float(array.mean()) if array.size else NAN


def _blocks_finalized(frames: Frames) -> float:
    return float(len(get_finalization_times(frames)))


def _lag_mean(frames: Frames) -> float:
    return _mean(_finality_lags(frames))


def _lag_p95(frames: Frames) -> float:
    lags = _finality_lags(frames)
    return float(np.percentile(lags, 95)) if lags.size else NAN


def _participation(frames: Frames) -> float:
    rounds = _frame(frames, "vrf_rounds")
    return _mean(rounds["participation_rate"]) if not rounds.empty else NAN


def _fallback_rate(frames: Frames) -> float:
    rounds = _frame(frames, "vrf_rounds")
    return _mean(rounds["fallback_selected"].astype(float)) if not rounds.empty else NAN


def _leader_gini(frames: Frames) -> float:
    blocks = _frame(frames, "blocks")
    validators = _validators(frames)
    if blocks.empty or not validators:
        return NAN
    counts = blocks["proposer"].value_counts()
    return compute_gini(np.array([counts.get(i, 0) for i in validators], float))


def _tier_share(tier: int) -> Callable[[Frames], float]:
    def share(frames: Frames) -> float:
        end = _ledger_end(frames)
        tiers = end["tier"].dropna() if not end.empty else pd.Series(dtype=float)
        return float(np.mean(tiers.to_numpy(int) == tier)) if len(tiers) else NAN

    return share


def _timetoke(statistic: str) -> Callable[[Frames], float]:
    def value(frames: Frames) -> float:
        end = _ledger_end(frames)
        hours = end["timetoke_hours"].dropna().astype(float) if not end.empty else pd.Series()
        if not len(hours):
            return NAN
        return float(hours.mean() if statistic == "mean" else hours.median())

    return value


def _rewards_total(frames: Frames) -> float:
    ledger = _frame(frames, "ledger")
    if ledger.empty:
        return NAN
    ledger = ledger[ledger["node"].isin(_validators(frames))].dropna(subset=["balance"])
    rows = ledger.sort_values(["node", "now_ms"], kind="stable").groupby("node")["balance"]
    gains = (rows.last() - rows.first()).astype(float)
    return float(gains.sum()) if len(gains) else NAN


def _slashes(frames: Frames) -> float:
    end = _ledger_end(frames)
    if end.empty:
        return NAN
    return float((end["slashed"].dropna().astype(float) > 0).sum())


METRICS: dict[str, Callable[[Frames], float]] = {
    "blocks_finalized": _blocks_finalized,
    "finality_lag_mean_ms": _lag_mean,
    "finality_lag_p95_ms": _lag_p95,
    "participation_rate": _participation,
    "leader_share_gini": _leader_gini,
    "fallback_rate": _fallback_rate,
    **{f"tier_share.tl{t}": _tier_share(t) for t in TIERS},
    "timetoke_mean_hours": _timetoke("mean"),
    "timetoke_median_hours": _timetoke("median"),
    "rewards_total": _rewards_total,
    "slashes_count": _slashes,
}
"""Every metric by name (docs/sweeps.md#metrics), in table order."""
METRIC_NAMES = tuple(METRICS)


def compute_metrics(frames: Frames) -> dict[str, float]:
    """Every metric of one run, by name."""
    return {name: float(metric(frames)) for name, metric in METRICS.items()}
