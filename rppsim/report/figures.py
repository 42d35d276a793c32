"""The report's figures: one pure function per figure, frames in, matplotlib Figure out.

Figures are built with the object API on the Agg canvas (never ``pyplot``), so no state is
shared between figures. Every figure has a title, axis labels with units and a legend when it
draws more than one series; a fleet of more than ``MANY_NODES`` nodes is drawn as thin grey
node lines under bold min / median / max lines, so 24 nodes stay readable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rppsim.telemetry.runfolder import get_run_info

Frames = Mapping[str, pd.DataFrame]
MANY_NODES = 6
"""Above this many nodes, node lines are grey and min / median / max are drawn bold."""
SIZE = (9.0, 4.2)
STAT_COLORS = {"min": "tab:blue", "median": "tab:green", "max": "tab:red"}
PENDING_QUEUES = ("transactions", "identities", "votes", "uptime_proofs")
QUEUE_STYLES = ("-", "--", "-.", ":")
FAULT_COLORS = (
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "gold",
    "tab:gray",
)
SEVERITY_COLORS = {"critical": "tab:red", "warning": "tab:orange", "info": "tab:blue"}


def get_duration_s(frames: Frames) -> float | None:
    """The simulated duration in seconds (``run_info`` ``duration_ms``), if recorded."""
    value = get_run_info(frames).get("duration_ms", "")
    return int(value) / 1000 if value.isdigit() else None


def get_max_proof_bytes(frames: Frames) -> int | None:
    """``max_proof_size_bytes`` of the node profile in ``run_info`` ``profile``, if any."""
    text = get_run_info(frames).get("profile")
    try:
        value = json.loads(text)["max_proof_size_bytes"] if text else None
    except (json.JSONDecodeError, KeyError, TypeError):
        return None
    return int(value) if isinstance(value, int) else None


def _new_figure(title: str, rows: int = 1) -> tuple[Figure, list[Axes]]:
    """A fresh Agg figure with ``rows`` stacked axes sharing x."""
    height = SIZE[1] if rows == 1 else SIZE[1] * 0.75 * rows
    fig = Figure(figsize=(SIZE[0], height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0].tolist()
    fig.suptitle(title, fontweight="bold")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig, axes


def _note(ax: Axes, text: str) -> None:
    """A centred grey note on ``ax`` (e.g. when there is nothing to draw)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _set_time_axis(ax: Axes, frames: Frames) -> None:
    """x label in seconds and x range 0 … the run's duration, when known."""
    ax.set_xlabel("simulated time (s)")
    duration = get_duration_s(frames)
    if duration:
        ax.set_xlim(0, duration)


def _plot_nodes(ax: Axes, wide: pd.DataFrame, unit: str, *, step: bool = False) -> None:
    """One line per node column of ``wide`` (index: time in s); many nodes as grey lines
    under bold min / median / max. Adds a legend."""
    wide = wide.sort_index().astype("float64").ffill()
    draw = "steps-post" if step else "default"
    if wide.shape[1] <= MANY_NODES:
        for node in wide.columns:
            series = wide[node].dropna()
            ax.plot(
                series.index, series.to_numpy(), drawstyle=draw, marker=".", label=f"node {node}"
            )
    else:
        for node in wide.columns:
            series = wide[node].dropna()
            ax.plot(series.index, series.to_numpy(), drawstyle=draw, color="0.75", lw=0.7)
        ax.plot([], [], color="0.75", lw=0.7, label=f"each of {wide.shape[1]} nodes")
        stats = {"max": wide.max(axis=1), "min": wide.min(axis=1), "median": wide.median(axis=1)}
        for name, series in stats.items():
            style = "--" if name == "median" else "-"
            ax.plot(series.index, series.to_numpy(), drawstyle=draw, lw=2.2, ls=style,
                    color=STAT_COLORS[name], label=f"{name} over nodes")  # fmt: skip
    ax.set_ylabel(unit)
    if len(ax.get_legend_handles_labels()[1]) > 6:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    else:
        ax.legend(loc="best", fontsize="small", ncols=2 if wide.shape[1] > 3 else 1)


def compute_fault_windows(frames: Frames) -> list[tuple[float, float, str]]:
    """(start s, end s, label) of every fault: a start pairs with the next end on the same
    nodes (an unmatched start lasts to the run's end); an instant fault is a zero window."""
    faults = frames["faults"].sort_values("at_ms", kind="stable")
    end_s = get_duration_s(frames) or float(faults["at_ms"].max() / 1000 if len(faults) else 0)
    windows: list[tuple[float, float, str]] = []
    used: set[int] = set()
    rows: list[Any] = list(faults.itertuples(index=False))  # namedtuples of the frame's columns
    for i, row in enumerate(rows):
        label = f"{row.kind} {row.nodes}".strip()
        if row.phase == "instant":
            windows.append((row.at_ms / 1000, row.at_ms / 1000, label))
        elif row.phase == "start":
            match = next(
                (j for j in range(i + 1, len(rows))
                 if j not in used and rows[j].phase == "end" and rows[j].nodes == row.nodes),
                None,
            )  # fmt: skip
            if match is not None:
                used.add(match)
            stop = end_s if match is None else rows[match].at_ms / 1000
            windows.append((row.at_ms / 1000, stop, label))
    return windows


def _shade_faults(ax: Axes, frames: Frames, max_notes: int = 6) -> None:
    """Shade fault windows, one colour and legend entry per fault kind; instant faults are
    dotted lines. Each window is named on the plot only when there are few of them."""
    windows = compute_fault_windows(frames)
    kinds = sorted({label.split()[0].removesuffix("_start") for _, _, label in windows})
    counts = {k: sum(w[2].split()[0].removesuffix("_start") == k for w in windows) for k in kinds}
    labelled: set[str] = set()
    for start, stop, label in windows:
        kind = label.split()[0].removesuffix("_start")
        color = FAULT_COLORS[kinds.index(kind) % len(FAULT_COLORS)]
        legend = None if kind in labelled else f"fault: {kind} ({counts[kind]})"
        labelled.add(kind)
        if stop > start:
            ax.axvspan(start, stop, color=color, alpha=0.12, label=legend)
        else:
            ax.axvline(start, color=color, alpha=0.6, ls=":", label=legend)
        if len(windows) <= max_notes:
            ax.annotate(label, (start, 1.0), xycoords=("data", "axes fraction"),
                        fontsize="x-small", color=color, va="top", rotation=90)  # fmt: skip


def plot_height(frames: Frames) -> Figure:
    """Finalized height over time per node, with fault windows shaded."""
    fig, (ax,) = _new_figure("Finalized height per node")
    finalized = frames["block_finalized"]
    if finalized.empty:
        _note(ax, "no block finalized")
        ax.set_ylabel("height")
    else:
        data = finalized.assign(t=finalized["finalized_ms"] / 1000)
        wide = data.pivot_table(index="t", columns="node", values="height", aggfunc="max")
        _shade_faults(ax, frames)
        _plot_nodes(ax, wide, "finalized height (height)", step=True)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _set_time_axis(ax, frames)
    return fig


def compute_finality_lag(frames: Frames) -> pd.DataFrame:
    """Per finalization: node, finalized time (s), height, lag (s) = finalized − proposed."""
    blocks = frames["blocks"][["height", "hash", "proposed_ms"]]
    finalized = frames["block_finalized"]
    joined = finalized.merge(blocks, on=["height", "hash"], how="inner")
    return pd.DataFrame(
        {
            "node": joined["node"],
            "t": joined["finalized_ms"] / 1000,
            "height": joined["height"],
            "lag_s": (joined["finalized_ms"] - joined["proposed_ms"]) / 1000,
        }
    )


def plot_finality_lag(frames: Frames) -> Figure:
    """Finality lag (finalized − proposed) over time per node."""
    fig, (ax,) = _new_figure("Finality lag per node (finalized − proposed)")
    lag = compute_finality_lag(frames)
    if lag.empty:
        _note(ax, "no finalized block to measure")
        ax.set_ylabel("finality lag (s)")
    else:
        wide = lag.pivot_table(index="t", columns="node", values="lag_s", aggfunc="max")
        _plot_nodes(ax, wide, "finality lag (s)")
    _set_time_axis(ax, frames)
    return fig


def compute_vrf_rounds(frames: Frames) -> pd.DataFrame:
    """Per (height, round): median participation rate, max rejected candidates, and whether
    any node fell back (``fallback_selected``)."""
    vrf = frames["vrf_rounds"]
    grouped = vrf.groupby(["height", "round"], sort=True)
    return pd.DataFrame(
        {
            "participation": grouped["participation_rate"].median().astype("float64"),
            "rejected": grouped["rejected_candidates"].max().fillna(0).astype("int64"),
            "fallback": grouped["fallback_selected"].any().fillna(False).astype(bool),
        }
    ).reset_index()


def plot_vrf(frames: Frames) -> Figure:
    """VRF participation rate, rejected candidates and fallback per height / round."""
    fig, (ax,) = _new_figure("VRF selection per height and round")
    rounds = compute_vrf_rounds(frames)
    ax.set_ylabel("participation rate (fraction)")
    ax.set_xlabel("height / round")
    if rounds.empty:
        _note(ax, "no VRF round recorded")
        return fig
    x = np.arange(len(rounds))
    right = ax.twinx()
    right.bar(x, rounds["rejected"], color="tab:orange", alpha=0.5, label="rejected candidates")
    right.set_ylabel("rejected candidates (count)")
    right.set_ylim(0, max(1, int(rounds["rejected"].max())) * 1.25)
    ax.plot(x, rounds["participation"], marker="o", color="tab:blue", label="participation rate")
    fallback = x[rounds["fallback"].to_numpy()]
    ax.scatter(fallback, np.full(len(fallback), 0.02), marker="X", s=80, color="tab:red",
               label=f"fallback selected ({len(fallback)} rounds)", zorder=3)  # fmt: skip
    ax.set_ylim(0, 1.05)
    ax.set_zorder(right.get_zorder() + 1)
    ax.patch.set_visible(False)
    step = max(1, len(x) // 20)
    ax.set_xticks(x[::step])
    labels = [f"h{h} r{r}" for h, r in zip(rounds["height"], rounds["round"], strict=True)]
    ax.set_xticklabels(labels[::step], rotation=45, ha="right", fontsize="small")
    handles = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="lower right", fontsize="small")
    return fig


def plot_tiers(frames: Frames) -> Figure:
    """Number of nodes in each reputation tier over time (stacked)."""
    fig, (ax,) = _new_figure("Reputation tier occupancy")
    ledger = frames["ledger"].dropna(subset=["tier"])
    ax.set_ylabel("nodes with an account (count)")
    if ledger.empty:
        _note(ax, "no ledger sample with a tier")
    else:
        counts = (
            ledger.assign(t=ledger["now_ms"] / 1000, tier=ledger["tier"].astype(int))
            .pivot_table(index="t", columns="tier", values="node", aggfunc="count")
            .fillna(0)
            .sort_index()
        )
        labels = [f"Tl{tier}" for tier in counts.columns]
        colors = [f"C{int(tier)}" for tier in counts.columns]
        ax.stackplot(counts.index, counts.T.to_numpy(), labels=labels, colors=colors, alpha=0.8)
        ax.legend(loc="upper left", fontsize="small", title="tier")
    _set_time_axis(ax, frames)
    return fig


def plot_timetoke(frames: Frames) -> Figure:
    """Timetoke hours over time per node (each node's own ledger account)."""
    fig, (ax,) = _new_figure("Timetoke per node")
    ledger = frames["ledger"].dropna(subset=["timetoke_hours"])
    if ledger.empty:
        _note(ax, "no ledger sample with timetoke")
        ax.set_ylabel("timetoke (hours)")
    else:
        data = ledger.assign(t=ledger["now_ms"] / 1000)
        wide = data.pivot_table(index="t", columns="node", values="timetoke_hours", aggfunc="max")
        _plot_nodes(ax, wide, "timetoke (hours)", step=True)
    _set_time_axis(ax, frames)
    return fig


def plot_proof_sizes(frames: Frames) -> Figure:
    """Proof size per circuit and height against the profile's ``max_proof_size_bytes``."""
    fig, (ax,) = _new_figure("Proof sizes per circuit")
    proofs = frames["proofs"]
    ax.set_xlabel("block height (height)")
    ax.set_ylabel("proof size (bytes, log scale)")
    limit = get_max_proof_bytes(frames)
    if proofs.empty:
        _note(ax, "no proof recorded")
    for index, (circuit, rows) in enumerate(proofs.groupby("circuit", sort=True)):
        ax.scatter(rows["height"], rows["bytes"], s=24, color=f"C{index}", label=circuit)
    rejected = proofs[proofs["error"].notna()]
    if len(rejected):
        ax.scatter(rejected["height"], rejected["bytes"], marker="x", s=60, color="black",
                   label=f"rejected ({len(rejected)})")  # fmt: skip
    if limit is not None:
        ax.axhline(limit, color="tab:red", ls="--", label=f"max_proof_size_bytes = {limit:,}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(proofs) or limit is not None:
        ax.set_yscale("log")
        ax.legend(loc="center right", fontsize="small", title="circuit")
    return fig


def plot_mempool(frames: Frames) -> Figure:
    """Pending queue lengths over time: median over nodes, min–max band shaded."""
    fig, (ax,) = _new_figure("Mempool queues (pending items per node)")
    snapshots = frames["snapshots"]
    ax.set_ylabel("pending items (count)")
    if snapshots.empty:
        _note(ax, "no telemetry sample")
    else:
        data = snapshots.assign(t=snapshots["now_ms"] / 1000)
        for index, queue in enumerate(PENDING_QUEUES):
            values = data[f"pending_{queue}"].astype("float64")
            stats = values.groupby(data["t"]).agg(["min", "median", "max"]).sort_index()
            color = f"C{index}"
            ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.15)
            ax.plot(stats.index, stats["median"], color=color, lw=2, ls=QUEUE_STYLES[index],
                    label=f"{queue} (median)")  # fmt: skip
        ax.plot([], [], color="0.5", lw=6, alpha=0.3, label="min–max over nodes")
        ax.legend(loc="upper left", fontsize="small")
    _set_time_axis(ax, frames)
    return fig


def compute_tip(finalized: pd.DataFrame, times_ms: np.ndarray) -> np.ndarray:
    """The fleet's highest finalized height at each of ``times_ms`` (0 before any)."""
    ordered = finalized.sort_values("finalized_ms", kind="stable")
    tip = np.maximum.accumulate(ordered["height"].to_numpy(dtype=np.int64))
    index = np.searchsorted(ordered["finalized_ms"].to_numpy(), times_ms, side="right") - 1
    return np.where(index >= 0, tip[np.clip(index, 0, None)] if len(tip) else 0, 0)


def compute_stalled_samples(
    snapshots: pd.DataFrame, finalized: pd.DataFrame, min_run: int = 2
) -> pd.DataFrame:
    """Samples ending a run of at least ``min_run`` successive samples whose
    ``last_observed_height`` did not increase while the fleet's tip advanced (guardrail 7)."""
    data = snapshots.sort_values(["node", "now_ms"], kind="stable").reset_index(drop=True)
    tip = compute_tip(finalized, data["now_ms"].to_numpy())
    observed = data["last_observed_height"].astype("float64").to_numpy()
    nodes = data["node"].to_numpy()
    keep = np.zeros(len(data), dtype=bool)
    run = 0
    for k in range(1, len(data)):
        if nodes[k] != nodes[k - 1]:
            run = 0
            continue
        increased = not np.isnan(observed[k]) and (
            np.isnan(observed[k - 1]) or observed[k] > observed[k - 1]
        )
        if increased:
            run = 0
        elif tip[k] > tip[k - 1]:
            run += 1
        keep[k] = run >= min_run
    return data[keep]


def compute_bin_s(snapshots: pd.DataFrame, duration_s: float) -> float:
    """Bar width for emit counts: the median gap between a node's samples (the sample
    interval), at least 1/100 of the run, in seconds."""
    gaps = snapshots.sort_values(["node", "now_ms"])["now_ms"].groupby(snapshots["node"]).diff()
    gap_s = float(gaps[gaps > 0].median() / 1000) if (gaps > 0).any() else duration_s / 20
    return max(gap_s, duration_s / 100)


def plot_telemetry(frames: Frames) -> Figure:
    """Telemetry emits per sample time (ok / failed) and the last observed height per node,
    with stalled samples (guardrail 7: not advancing while the tip does) marked."""
    fig, (top, bottom) = _new_figure("Telemetry emits and stalls", rows=2)
    snapshots = frames["snapshots"]
    top.set_ylabel("emits (count)")
    if snapshots.empty:
        _note(top, "no telemetry sample")
        bottom.set_ylabel("last observed height (height)")
        _set_time_axis(bottom, frames)
        return fig
    t = snapshots["now_ms"] / 1000
    ok = snapshots["emit_ok"].astype(bool).to_numpy()
    bin_s = compute_bin_s(snapshots, get_duration_s(frames) or float(t.max()) + 1)
    edges = np.arange(0.0, float(t.max()) + bin_s, bin_s)
    ok_counts, _ = np.histogram(t[ok], edges)
    failed_counts, _ = np.histogram(t[~ok], edges)
    width = 0.9 * bin_s
    top.bar(edges[:-1], ok_counts, width=width, align="edge", color="tab:green", label="emit ok")
    top.bar(edges[:-1], failed_counts, width=width, align="edge", bottom=ok_counts,
            color="tab:red", label=f"emit failed ({int(failed_counts.sum())})")  # fmt: skip
    top.set_ylabel(f"emits per {bin_s:g} s (count)")
    top.set_ylim(0, max(1, int((ok_counts + failed_counts).max())) * 1.4)
    top.legend(loc="upper right", fontsize="small", ncols=2)
    data = snapshots.assign(t=t)
    wide = data.pivot_table(
        index="t", columns="node", values="last_observed_height", aggfunc="max", dropna=False
    )
    if wide.dropna(how="all").empty:
        _note(bottom, "no last observed height reported")
        bottom.set_ylabel("last observed height (height)")
    else:
        stalled = compute_stalled_samples(snapshots, frames["block_finalized"])
        bottom.scatter(stalled["now_ms"] / 1000, stalled["last_observed_height"].astype("float64"),
                       marker="x", s=50, color="black", zorder=4,
                       label=f"stalled sample ({len(stalled)})")  # fmt: skip
        _plot_nodes(bottom, wide, "last observed height (height)", step=True)
        bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    _set_time_axis(bottom, frames)
    return fig


def plot_alerts(frames: Frames) -> Figure:
    """Fired alerts as bars on the run's timeline, coloured by severity; a note when none."""
    fig, (ax,) = _new_figure("Alerts fired")
    alerts = frames["alerts"]
    _set_time_axis(ax, frames)
    if alerts.empty:
        ax.set_ylabel("alert")
        ax.set_yticks([])
        _note(ax, "no alert fired")
        return fig
    latest_ms = int(pd.concat([alerts["start_ms"], alerts["end_ms"].dropna()]).max())
    end_s = get_duration_s(frames) or latest_ms / 1000
    places = ["fleet" if pd.isna(n) else str(n) for n in alerts["node"]]  # null: fleet-wide
    rows = [f"{name} @ {place}" for name, place in zip(alerts["name"], places, strict=True)]
    names = sorted(set(rows))
    seen: set[str] = set()
    records: list[Any] = list(alerts.itertuples(index=False))  # namedtuples of its columns
    for alert, row_name in zip(records, rows, strict=True):
        row = names.index(row_name)
        start = alert.start_ms / 1000
        stop = end_s if pd.isna(alert.end_ms) else alert.end_ms / 1000  # null: still firing
        color = SEVERITY_COLORS.get(alert.severity, "tab:gray")
        label = None if alert.severity in seen else alert.severity
        seen.add(alert.severity)
        ax.barh(row, max(stop - start, end_s / 200), left=start, color=color, label=label)
    ax.set_yticks(range(len(names)), names, fontsize="small")
    ax.set_ylabel("alert @ node")
    ax.legend(loc="upper right", fontsize="small", title="severity")
    return fig


FIGURES: tuple[tuple[str, str, Callable[[Frames], Figure]], ...] = (
    ("height", "Finalized height per node, fault windows shaded", plot_height),
    ("finality_lag", "Finality lag per node (finalized − proposed)", plot_finality_lag),
    ("vrf", "VRF participation, rejections and fallback per round", plot_vrf),
    ("tiers", "Reputation tier occupancy over time", plot_tiers),
    ("timetoke", "Timetoke per node over time", plot_timetoke),
    ("proof_sizes", "Proof sizes per circuit against the limit", plot_proof_sizes),
    ("mempool", "Mempool queues over time", plot_mempool),
    ("telemetry", "Telemetry emits and stalls", plot_telemetry),
    ("alerts", "Alerts fired on the timeline", plot_alerts),
)
"""(slug, title, function) of every report figure, in report order."""
