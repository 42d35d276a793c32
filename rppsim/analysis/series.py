"""Derived series of one or many runs: finality lag, VRF participation, rejection reasons,
tier occupancy and timetoke trajectories (docs/analysis.md#derived-series).

Each function takes a run's frames (``Run.frames``, or ``load_runs``' concatenated frames)
and returns a tidy frame that keeps the provenance columns it found, so one call covers many
runs. Frames read without provenance (``read_run_folder``) work too: then there is one run.
The full engine records each node's view (``vrf_rounds`` per node); the fast model one row
per height (``node`` = the proposer) and no finalizations, so its finality lag is empty.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from rppsim.analysis.runs import get_provenance_keys
from rppsim.node.selection import RejectionKind

__all__ = [
    "REASON_PREFIXES",
    "TIERS",
    "compute_bin_ms",
    "compute_finality_lag",
    "compute_participation",
    "compute_reason_label",
    "compute_rejections",
    "compute_tier_occupancy",
    "compute_timetoke",
    "compute_timetoke_band",
    "compute_vrf_rejections",
    "get_validators",
]

Frames = Mapping[str, pd.DataFrame]
TIERS = tuple(range(6))
"""Reputation tiers Tl0..Tl5 (docs/protocol.md#reputation)."""
REASON_PREFIXES: tuple[tuple[str, RejectionKind], ...] = (
    ("tier too low", RejectionKind.TIER_TOO_LOW),
    ("insufficient timetoke", RejectionKind.INSUFFICIENT_TIMETOKE),
    ("malformed proof", RejectionKind.MALFORMED_PROOF),
    ("invalid proof", RejectionKind.INVALID_PROOF),
    ("missing VRF public key", RejectionKind.MISSING_PUBLIC_KEY),
    ("randomness above threshold", RejectionKind.THRESHOLD_NOT_MET),
)
"""The chain's reason texts (one key per threshold value for a threshold miss) by the
bounded label they fall under (docs/protocol.md#submissions-and-rejections)."""
_LABELS = frozenset(kind.value for kind in RejectionKind)


def compute_reason_label(reason: str) -> str:
    """The bounded label of a VRF rejection reason (``threshold_not_met``, ...), from the
    chain's text or a label already normalised (``[rules] normalise_vrf_metrics``);
    ``other`` for anything else."""
    if reason in _LABELS:
        return reason
    for prefix, kind in REASON_PREFIXES:
        if reason.startswith(prefix):
            return kind.value
    return "other"


def get_validators(frames: Frames) -> pd.DataFrame:
    """The validator rows of ``nodes`` (provenance columns and ``node``)."""
    nodes = frames["nodes"]
    return nodes.loc[nodes["role"] == "validator", [*get_provenance_keys(nodes), "node"]]


def _keys(frame: pd.DataFrame, *more: str) -> list[str]:
    return [*get_provenance_keys(frame), *more]


def compute_finality_lag(frames: Frames) -> pd.DataFrame:
    """Per finalization (run, node, height): ``proposed_ms``, ``finalized_ms`` and
    ``lag_ms`` = finalized − proposed of the block the node finalized (matched by hash)."""
    blocks = frames["blocks"]
    finalized = frames["block_finalized"]
    on = _keys(finalized, "height", "hash")
    joined = finalized.merge(blocks[[*on, "proposed_ms"]], on=on, how="inner")
    keys = _keys(finalized, "node", "height")
    joined = joined.sort_values(keys, kind="stable", ignore_index=True)
    lag = joined["finalized_ms"].astype("int64") - joined["proposed_ms"].astype("int64")
    return joined[[*keys, "proposed_ms", "finalized_ms"]].assign(lag_ms=lag)


def compute_participation(frames: Frames) -> pd.DataFrame:
    """Per VRF selection (run, height, round), over the nodes that report it: ``now_ms``
    (first report), ``nodes``, the median ``pool_entries``, ``accepted_validators``,
    ``rejected_candidates`` and ``participation_rate`` (accepted ÷ pool), and
    ``fallback_share`` (the share of reports with ``fallback_selected``; the chain sets it on
    any threshold miss unless ``normalise_vrf_metrics``)."""
    vrf = frames["vrf_rounds"]
    keys = _keys(vrf, "height", "round")
    numbers = vrf[["pool_entries", "accepted_validators", "rejected_candidates"]].astype("Float64")
    data = vrf[keys].assign(
        now_ms=vrf["now_ms"],
        node=vrf["node"],
        pool_entries=numbers["pool_entries"],
        accepted_validators=numbers["accepted_validators"],
        rejected_candidates=numbers["rejected_candidates"],
        participation_rate=vrf["participation_rate"].astype("Float64"),
        fallback=vrf["fallback_selected"].astype("Float64"),
    )
    grouped = data.groupby(keys, sort=True, observed=True)
    result = grouped.agg(
        now_ms=("now_ms", "min"),
        nodes=("node", "size"),
        pool_entries=("pool_entries", "median"),
        accepted_validators=("accepted_validators", "median"),
        rejected_candidates=("rejected_candidates", "median"),
        participation_rate=("participation_rate", "median"),
        fallback_share=("fallback", "mean"),
    )
    return result.reset_index().astype({"nodes": "int64"})


def compute_vrf_rejections(frames: Frames) -> pd.DataFrame:
    """VRF rejections by bounded reason (run, label): ``count`` summed over every node's
    report of every round, ``reports`` (node-rounds that name the label) and ``share`` of the
    run's rejections; the chain's reason texts are grouped by ``compute_reason_label``."""
    rejections = frames["vrf_rejections"]
    prov = get_provenance_keys(rejections)
    labels = [compute_reason_label(str(r)) for r in rejections["reason"]]
    data = rejections[prov].assign(label=labels, count=rejections["count"].astype("int64"))
    result = (
        data.groupby([*prov, "label"], sort=True, observed=True)
        .agg(count=("count", "sum"), reports=("count", "size"))
        .reset_index()
    )
    totals = result.groupby(prov, sort=False)["count"].transform("sum") if prov else None
    total = totals if totals is not None else result["count"].sum()
    return result.assign(share=result["count"] / np.maximum(total, 1))


def compute_rejections(frames: Frames) -> pd.DataFrame:
    """Invalid inputs the nodes rejected (``rejections``), by run and reason: each node's
    last cumulative count, summed over the fleet, largest first."""
    rejections = frames["rejections"]
    prov = get_provenance_keys(rejections)
    last = rejections.groupby([*prov, "node", "reason"], sort=True)["count"].last()
    totals = last.groupby(level=[*prov, "reason"], sort=True).sum().reset_index()
    order = [*prov, "count"]
    ascending = [True] * len(prov) + [False]
    return totals.sort_values(order, ascending=ascending, kind="stable", ignore_index=True)


def _ledger_of(frames: Frames, role: str | None) -> pd.DataFrame:
    """Ledger rows with an account (a tier), of the nodes of ``role`` (all if None)."""
    ledger = frames["ledger"].dropna(subset=["tier"])
    if role is not None:
        nodes = frames["nodes"]
        chosen = nodes.loc[nodes["role"] == role, _keys(nodes, "node")]
        ledger = ledger.merge(chosen, on=_keys(ledger, "node"), how="inner")
    return ledger.sort_values(_keys(ledger, "node", "now_ms"), kind="stable", ignore_index=True)


def compute_bin_ms(ledger: pd.DataFrame) -> int:
    """The ledger's sample interval: the median gap between one node's successive samples
    (1000 ms when no node has two)."""
    keys = _keys(ledger, "node")
    gaps = ledger.sort_values([*keys, "now_ms"])["now_ms"].groupby(
        [ledger[k] for k in keys]
    ).diff()
    gaps = gaps.dropna()
    return max(int(gaps.median()), 1) if len(gaps) else 1000


def compute_tier_occupancy(
    frames: Frames, *, role: str | None = "validator", bin_ms: int | None = None
) -> pd.DataFrame:
    """Nodes per tier over time (run, time_ms, tier): each node's last ledger sample in each
    bin of ``bin_ms`` (default: the sample interval) counts in its tier; ``nodes`` and
    ``share`` of the nodes sampled in the bin, every tier Tl0..Tl5 present (zeros included).
    ``role`` picks the nodes (``validator``; None: every node with an account)."""
    ledger = _ledger_of(frames, role)
    prov = get_provenance_keys(ledger)
    step = bin_ms or compute_bin_ms(ledger)
    binned = ledger.assign(time_ms=(ledger["now_ms"] // step) * step)
    last = binned.groupby([*prov, "time_ms", "node"], sort=True).tail(1)
    counts = (
        last.assign(tier=last["tier"].astype("int64"))
        .groupby([*prov, "time_ms", "tier"], sort=True)
        .size()
        .unstack("tier", fill_value=0)
        .reindex(columns=list(TIERS), fill_value=0)
    )
    tidy = counts.reset_index().melt(
        id_vars=[*prov, "time_ms"], var_name="tier", value_name="nodes"
    )
    tidy = tidy.sort_values([*prov, "time_ms", "tier"], kind="stable", ignore_index=True)
    sampled = tidy.groupby([*prov, "time_ms"], sort=False)["nodes"].transform("sum")
    return tidy.assign(nodes=tidy["nodes"].astype("int64"), share=tidy["nodes"] / sampled)


def compute_timetoke(frames: Frames, *, role: str | None = "validator") -> pd.DataFrame:
    """Timetoke trajectories (run, node, now_ms): ``timetoke_hours``, ``tier`` and
    ``score`` of each node's own account at each ledger sample."""
    ledger = _ledger_of(frames, role)
    columns = _keys(ledger, "node", "now_ms", "timetoke_hours", "tier", "score")
    return ledger[columns]


def compute_timetoke_band(
    frames: Frames, *, role: str | None = "validator", bin_ms: int | None = None
) -> pd.DataFrame:
    """Timetoke over the nodes per time bin (run, time_ms): ``nodes``, ``mean``, ``min``,
    ``q25``, ``median``, ``q75``, ``max`` of their hours (each node's last sample in the bin)."""
    ledger = _ledger_of(frames, role).dropna(subset=["timetoke_hours"])
    prov = get_provenance_keys(ledger)
    step = bin_ms or compute_bin_ms(ledger)
    binned = ledger.assign(time_ms=(ledger["now_ms"] // step) * step)
    last = binned.groupby([*prov, "time_ms", "node"], sort=True).tail(1)
    hours = last.assign(hours=last["timetoke_hours"].astype("float64"))
    grouped = hours.groupby([*prov, "time_ms"], sort=True)["hours"]
    return grouped.agg(
        nodes="size",
        mean="mean",
        min="min",
        q25=lambda s: s.quantile(0.25),
        median="median",
        q75=lambda s: s.quantile(0.75),
        max="max",
    ).reset_index()
