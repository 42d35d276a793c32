"""A run's frames as the Prometheus series the chain's alert rules read.

The simulator has no Prometheus, so we scrape the run after the fact: every node that is up
is scraped every ``SCRAPE_MS`` of simulated time from 0. Consensus series come from the exact
event frames (``block_finalized``, ``blocks``, ``faults``, ``messages``); the node's own
counters come from its telemetry snapshots, each taken at the scrape nearest to it (a node
that samples less often than the scrape leaves gaps, as a slow target does). A crashed node
is not scraped, so its series have no samples while it is down. A frame the source lacks
(live telemetry has snapshots only; the fast model writes no finalizations, rejections or
snapshots) yields no series, so the rules reading them do not apply: an absent frame is not
read as an empty one.

Metric names are the chain's (``HUBId/chain:rpp/runtime/telemetry/metrics.rs`` and the rule
files under ``HUBId/chain:ops/alerts``); the few series the chain does not export but a rule
of ours reads are named ``rppsim_*``. ``METRICS`` lists every name with what it measures.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from rppsim.checks.liveness import get_up_down
from rppsim.guardrails.alerting.promql import SeriesStore
from rppsim.guardrails.base import Frames, GuardrailContext
from rppsim.telemetry.frames import FRAME_NAMES, get_empty_frame
from rppsim.telemetry.runfolder import get_run_info
from rppsim.telemetry.scalars import to_int

SCRAPE_MS = 15_000
"""Scrape interval of the simulated Prometheus (its common default), also the rule
evaluation interval."""
ENV = "sim"
VOTE_LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)
PROOF_BYTES_BUCKETS = (4_096, 16_384, 65_536, 262_144, 1_048_576, 1_500_000, 4_194_304, 5e6)
PROPOSER_WINDOW_BLOCKS = 180
"""Blocks ``consensus_proposer_deviation_pct`` counts: the last 180 finalized, the window of
the chain's proposer-fairness test (``HUBId/chain:tests/proposer_fairness.rs``); no sample
before there are that many."""
CACHE_LABEL = "gossip-proof-cache"

METRICS: dict[str, str] = {
    "chain_block_height": "gauge: the node's finalized height",
    "consensus_block_schedule_slots_total": "counter: block slots the schedule has had",
    "finality_lag_slots": "gauge: slots since the slot of the node's finalized block",
    "finalized_height_gap": "gauge: honest tip − the node's finalized height",
    "rpp_runtime_consensus_validator_height_lag": "gauge (validators): as finalized_height_gap",
    "process_start_time_seconds": "gauge: when the node last (re)started",
    "consensus_proposer_deviation_pct": (
        "gauge per validator: observed − expected share of the last 180 blocks, in points"
    ),
    "rpp_runtime_consensus_vote_latency_bucket": "histogram (s): vote send → receive",
    "rpp_runtime_backlog_blocks": "gauge: pending block proposals",
    "rpp_runtime_backlog_transactions": "gauge: pending transactions",
    "rpp_runtime_proof_verification_outcomes_total": "counter by proof_backend and result",
    "rpp_stark_stage_checks_total": "counter by result (ok, fail) of the rpp-stark verifier",
    "rpp_stark_verify_duration_seconds_sum": "counter: seconds spent verifying, by proof_backend",
    "rpp_stark_verify_duration_seconds_count": "counter: verifications, by proof_backend",
    "rpp_stark_proof_total_bytes_bucket": "histogram (bytes) of block proofs by proof_kind",
    "rpp_stark_proof_total_bytes_by_result_bucket": "the same by result (ok, fail)",
    "rpp_runtime_proof_cache_hits": "counter",
    "rpp_runtime_proof_cache_misses": "counter",
    "rpp_runtime_proof_cache_evictions": "counter",
    "rpp_runtime_proof_cache_queue_depth": "gauge",
    "rpp_runtime_proof_cache_max_queue_depth": "gauge",
    "telemetry_otlp_failures_total": "counter: failed telemetry emits (every class)",
    "rppsim_telemetry_last_observed_height": "gauge: the telemetry loop's last observed height",
    "rpp_crypto_vrf_selection_verified_total": "counter: verified VRF submissions",
    "rpp_crypto_vrf_selection_rejected_total": "counter: rejected VRF candidates",
    "rpp_crypto_vrf_selection_fallback_total": "counter: rounds that used the fallback",
    "rpp_crypto_vrf_selection_rounds_total": "counter: selection rounds",
    "rpp_crypto_vrf_selection_participation_rate": "gauge: the last round's participation",
    "rppsim_vrf_threshold": "gauge by threshold: rollout.telemetry.vrf_thresholds",
    "consensus_vrf_verification_time_ms_count": "counter by result=failure: VRF rejections",
    "consensus_quorum_verifications_total": "counter by result=failure: bad certificates",
    "rpp_node_pipeline_state_sync_tamper_total": "counter: commits rejected on apply",
    "timetoke_epoch_age_seconds": "gauge: seconds since the node's current epoch began",
}
"""Every series the run yields, by metric name."""


def compute_span(frames: Frames, ctx: GuardrailContext) -> tuple[int, int]:
    """(first, last) scrape time: 0 to the run's duration for a simulated run; for live
    telemetry, from its first sample (``run_info`` ``first_ms``, on the scrape grid) on."""
    first = int(get_run_info(frames).get("first_ms", 0)) if "run_info" in frames else 0
    start = first - first % SCRAPE_MS
    return start, first + ctx.checks.duration_ms


def compute_grid(start_ms: int, end_ms: int) -> np.ndarray:
    """Scrape times start_ms, start_ms + SCRAPE_MS, … ≤ ``end_ms``."""
    return np.arange(start_ms, end_ms + 1, SCRAPE_MS, dtype=np.int64)


def compute_up_mask(faults: pd.DataFrame, nodes: tuple[int, ...], grid: np.ndarray) -> np.ndarray:
    """bool[node position, scrape]: the node is up (not crashed or churned down) then."""
    up = np.ones((len(nodes), len(grid)), dtype=bool)
    position = {n: i for i, n in enumerate(nodes)}
    down_since: dict[int, int] = {}
    for at_ms, is_down, members in get_up_down(faults):
        for node in sorted(members & position.keys()):
            if is_down:
                down_since.setdefault(node, at_ms)
            elif node in down_since:
                since = down_since.pop(node)
                up[position[node], (grid >= since) & (grid < at_ms)] = False
    for node, since in down_since.items():
        up[position[node], grid >= since] = False
    return up


def compute_restarts(faults: pd.DataFrame) -> dict[int, list[int]]:
    """Per node, the times it came back up (restart or churn-up)."""
    starts: dict[int, list[int]] = {}
    for at_ms, is_down, members in get_up_down(faults):
        for node in sorted(members) if not is_down else ():
            starts.setdefault(node, []).append(at_ms)
    return starts


def get_step_values(
    times: np.ndarray, values: np.ndarray, grid: np.ndarray, default: float
) -> np.ndarray:
    """A step function (``values`` from ``times`` on, sorted) sampled at ``grid``."""
    if len(times) == 0:
        return np.full(len(grid), default, dtype=np.float64)
    index = np.searchsorted(times, grid, side="right") - 1
    out = np.where(index >= 0, np.asarray(values, np.float64)[np.maximum(index, 0)], default)
    return out.astype(np.float64)


class _Builder:
    """Collects series into a SeriesStore, dropping the scrapes of nodes that are down."""

    def __init__(self, frames: Frames, ctx: GuardrailContext) -> None:
        self.frames = {n: frames[n] if n in frames else get_empty_frame(n) for n in FRAME_NAMES}
        self.present = frozenset(n for n in FRAME_NAMES if n in frames)
        self.ctx = ctx
        self.store = SeriesStore()
        self.grid = compute_grid(*compute_span(frames, ctx))
        self.nodes = ctx.checks.nodes
        self.position = {n: i for i, n in enumerate(self.nodes)}
        self.up = compute_up_mask(self.frames["faults"], self.nodes, self.grid)

    def has(self, *names: str) -> bool:
        """The source has every frame of ``names`` (an absent one is not an empty one: a run
        that finalized nothing has an empty ``block_finalized``, live telemetry and the fast
        model have none)."""
        return all(n in self.present for n in names)

    def add(
        self, name: str, labels: Mapping[str, str], mask: np.ndarray, values: ArrayLike
    ) -> None:
        """One series on the grid where ``mask`` holds."""
        floats = np.asarray(values, dtype=np.float64)
        if bool(mask.any()):
            self.store.add({"__name__": name, "env": ENV, **labels}, self.grid[mask], floats[mask])

    def add_node(
        self, name: str, node: int, values: ArrayLike, labels: Mapping[str, str] | None = None
    ) -> None:
        """A node's series, scraped while it is up."""
        mask = self.up[self.position[node]]
        self.add(name, {"instance": str(node), **(labels or {})}, mask, values)


def _iter_groups(frame: pd.DataFrame, column: str) -> Iterator[tuple[int, pd.DataFrame]]:
    for key, group in frame.groupby(column, sort=True):
        yield to_int(key), group


def add_consensus_series(b: _Builder) -> None:
    """Heights, schedule, finality lag, height gap, restarts of every node; none when the
    source has no finalizations (``block_finalized`` and ``blocks``), which would read as
    every node stuck at height 0."""
    if not b.has("block_finalized", "blocks"):
        return
    ctx, grid = b.ctx, b.grid
    block_time = ctx.checks.block_time_ms
    finalized = b.frames["block_finalized"].sort_values(["finalized_ms", "height"], kind="stable")
    honest = finalized[~finalized["node"].isin(sorted(ctx.checks.byzantine))]
    tip = get_step_values(
        honest["finalized_ms"].to_numpy(np.int64),
        np.maximum.accumulate(honest["height"].to_numpy(np.int64)) if len(honest) else np.zeros(0),
        grid,
        0.0,
    )
    proposed = b.frames["blocks"].drop_duplicates("hash").set_index("hash")["proposed_ms"]
    by_node = dict(_iter_groups(finalized, "node"))
    restarts = compute_restarts(b.frames["faults"])
    slots = grid // block_time
    validators = ctx.checks.validators
    epoch_length = max(int(ctx.get_config("epoch_length")), 1)
    for node in b.nodes:
        rows = by_node.get(node, finalized.iloc[:0])
        times = rows["finalized_ms"].to_numpy(np.int64)
        heights = np.maximum.accumulate(rows["height"].to_numpy(np.int64)) if len(rows) else rows
        height = get_step_values(times, np.asarray(heights), grid, 0.0)
        b.add_node("chain_block_height", node, height)
        b.add_node("consensus_block_schedule_slots_total", node, slots)
        slot_of: np.ndarray | list[float] = (
            (rows["hash"].map(proposed).to_numpy(np.float64) // block_time) if len(rows) else []
        )
        final_slot = get_step_values(times, np.asarray(slot_of, np.float64), grid, 0.0)
        b.add_node("finality_lag_slots", node, np.maximum(slots - final_slot, 0))
        gap = np.maximum(tip - height, 0)
        b.add_node("finalized_height_gap", node, gap)
        if node in validators:
            b.add_node("rpp_runtime_consensus_validator_height_lag", node, gap)
        starts = np.array([0, *restarts.get(node, [])], np.int64)
        b.add_node(
            "process_start_time_seconds", node, get_step_values(starts, starts / 1000, grid, 0)
        )
        epoch_first = (height // epoch_length) * epoch_length
        first_ms = dict(zip(rows["height"].to_numpy(np.int64), times, strict=True))
        epoch_start = np.array([first_ms.get(int(h), 0) if h else 0 for h in epoch_first])
        b.add_node("timetoke_epoch_age_seconds", node, (grid - epoch_start) / 1000)


def add_proposer_series(b: _Builder) -> None:
    """Per validator: observed − expected proposer share of the last 180 finalized blocks."""
    if not b.has("blocks", "block_finalized", "electorates"):
        return
    blocks = b.frames["blocks"]
    finalized = b.frames["block_finalized"][["hash"]].drop_duplicates()
    blocks = blocks[blocks["hash"].isin(finalized["hash"])].sort_values("proposed_ms")
    electorates = b.frames["electorates"]
    if blocks.empty or electorates.empty:
        return
    electorates = electorates[electorates["member"].notna() & (electorates["member"] >= 0)]
    power = electorates["power"].astype(float) / electorates["total_power"].astype(float)
    share = pd.DataFrame(
        {
            "height": electorates["height"].to_numpy(np.int64),
            "member": electorates["member"].to_numpy(np.int64),
            "share": power.to_numpy(),
        }
    ).drop_duplicates(["height", "member"])
    times = blocks["proposed_ms"].to_numpy(np.int64)
    heights = blocks["height"].to_numpy(np.int64)
    proposers = blocks["proposer"].astype("Int64").fillna(-1).to_numpy(np.int64)
    expected = share.pivot(index="height", columns="member", values="share").fillna(0.0)
    expected = expected.reindex(heights).fillna(0.0)
    hi = np.searchsorted(times, b.grid, side="right")
    lo = np.maximum(hi - PROPOSER_WINDOW_BLOCKS, 0)
    count = hi - lo
    mask = count >= PROPOSER_WINDOW_BLOCKS
    for validator in expected.columns:
        observed = np.concatenate([[0], np.cumsum(proposers == validator)])
        want = np.concatenate([[0.0], np.cumsum(expected[validator].to_numpy())])
        safe = np.maximum(count, 1)
        deviation = 100 * ((observed[hi] - observed[lo]) - (want[hi] - want[lo])) / safe
        b.add("consensus_proposer_deviation_pct", {"validator": str(validator)}, mask, deviation)


def add_vote_latency_series(b: _Builder) -> None:
    """Per receiving node: a cumulative histogram of vote delivery latency (seconds)."""
    messages = b.frames.get("messages")
    if messages is None or messages.empty:
        return
    votes = messages[(messages["topic"].astype(str).str.contains("/votes/")) & ~messages["dropped"]]
    votes = votes[votes["recv_ms"].notna() & (votes["recv_ms"] >= 0)]
    for node, rows in _iter_groups(votes, "receiver"):
        if node not in b.position:
            continue
        order = np.argsort(rows["recv_ms"].to_numpy(np.int64), kind="stable")
        recv = rows["recv_ms"].to_numpy(np.int64)[order]
        latency = (recv - rows["sent_ms"].to_numpy(np.int64)[order]) / 1000
        upto = np.searchsorted(recv, b.grid, side="right")
        for le in (*VOTE_LATENCY_BUCKETS_S, np.inf):
            cumulative = np.concatenate([[0], np.cumsum(latency <= le)])
            label = "+Inf" if le == np.inf else f"{le:g}"
            name = "rpp_runtime_consensus_vote_latency_bucket"
            b.add_node(name, node, cumulative[upto], {"le": label, "validator": str(node)})


def _snapshot_grid(b: _Builder, now_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grid positions, row positions) of one node's sorted samples: each at its nearest
    scrape (the later one wins a tie of two samples)."""
    slots = np.rint((now_ms - b.grid[0]) / SCRAPE_MS).astype(np.int64)
    keep = (slots >= 0) & (slots < len(b.grid))
    slots, index = slots[keep], np.flatnonzero(keep)
    last = np.ones(len(slots), bool)
    last[:-1] = slots[1:] != slots[:-1]
    return slots[last], index[last]


def _as_floats(frame: pd.DataFrame, columns: Iterable[str]) -> dict[str, np.ndarray]:
    """Columns as float arrays, nulls as NaN (converted once per frame)."""
    return {c: frame[c].astype("Float64").to_numpy(np.float64, na_value=np.nan) for c in columns}


def _node_slices(nodes: np.ndarray) -> dict[int, slice]:
    """Row ranges of each node in a frame sorted by node."""
    if len(nodes) == 0:
        return {}
    values, starts = np.unique(nodes, return_index=True)
    ends = [*starts[1:], len(nodes)]
    return {int(v): slice(int(a), int(z)) for v, a, z in zip(values, starts, ends, strict=True)}


SNAPSHOT_GAUGES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("rpp_runtime_backlog_blocks", "pending_block_proposals", {}),
    ("rpp_runtime_backlog_transactions", "pending_transactions", {}),
    ("rpp_runtime_proof_cache_hits", "cache_hits", {"cache": CACHE_LABEL}),
    ("rpp_runtime_proof_cache_misses", "cache_misses", {"cache": CACHE_LABEL}),
    ("rpp_runtime_proof_cache_evictions", "cache_evictions", {"cache": CACHE_LABEL}),
    ("rpp_runtime_proof_cache_queue_depth", "cache_queue_depth", {"cache": CACHE_LABEL}),
    ("rpp_runtime_proof_cache_max_queue_depth", "cache_max_queue_depth", {"cache": CACHE_LABEL}),
    ("rppsim_telemetry_last_observed_height", "last_observed_height", {}),
)
BACKENDS = ("stwo", "plonky3", "rpp-stark")
EMIT_FAILURES = ("emits_failed_encode", "emits_failed_transport", "emits_failed_status")


def _snapshot_columns() -> list[str]:
    columns = [c for _, c, _ in SNAPSHOT_GAUGES] + list(EMIT_FAILURES)
    for backend in BACKENDS:
        prefix = f"verifier_{backend.replace('-', '_')}"
        columns += [f"{prefix}_{c}" for c in ("accepted", "rejected", "total_duration_ms")]
    return columns


def add_snapshot_series(b: _Builder) -> None:
    """The node's own counters and gauges from its telemetry snapshots."""
    snapshots = b.frames["snapshots"].sort_values(["node", "now_ms"], kind="stable")
    data = _as_floats(snapshots, _snapshot_columns())
    now_ms = snapshots["now_ms"].to_numpy(np.int64)
    for node, rows in _node_slices(snapshots["node"].to_numpy(np.int64)).items():
        if node not in b.position:
            continue
        slots, index = _snapshot_grid(b, now_ms[rows])
        mask = np.zeros(len(b.grid), bool)
        mask[slots] = True
        mask &= b.up[b.position[node]]

        def get(column: str, rows: slice = rows, index: np.ndarray = index) -> np.ndarray:
            return np.asarray(data[column][rows][index])

        def put(
            name: str,
            values: np.ndarray,
            labels: Mapping[str, str],
            node: int = node,
            slots: np.ndarray = slots,
            mask: np.ndarray = mask,
        ) -> None:
            full = np.full(len(b.grid), np.nan)
            full[slots] = values
            b.add(name, {"instance": str(node), **labels}, mask & ~np.isnan(full), full)

        for name, column, labels in SNAPSHOT_GAUGES:
            put(name, get(column), labels)
        failures = sum(np.nan_to_num(get(c)) for c in EMIT_FAILURES)
        put("telemetry_otlp_failures_total", np.asarray(failures, np.float64), {})
        for backend in BACKENDS:
            prefix = f"verifier_{backend.replace('-', '_')}"
            accepted, rejected = get(f"{prefix}_accepted"), get(f"{prefix}_rejected")
            if not np.nansum(accepted + rejected):
                continue
            labels = {"proof_backend": backend}
            name = "rpp_runtime_proof_verification_outcomes_total"
            put(name, accepted, {**labels, "result": "accepted"})
            put(name, rejected, {**labels, "result": "rejected"})
            put("rpp_stark_verify_duration_seconds_sum", get(f"{prefix}_total_duration_ms") / 1000,
                labels)  # fmt: skip
            put("rpp_stark_verify_duration_seconds_count", accepted + rejected, labels)
            if backend == "rpp-stark":
                put("rpp_stark_stage_checks_total", accepted, {**labels, "result": "ok"})
                put("rpp_stark_stage_checks_total", rejected, {**labels, "result": "fail"})


def add_vrf_series(b: _Builder) -> None:
    """VRF selection counters per node (from its rounds) and the profile's thresholds."""
    rounds = b.frames["vrf_rounds"].sort_values(["node", "now_ms"], kind="stable")
    thresholds = b.ctx.get_config("rollout", "telemetry", "vrf_thresholds")
    data = _as_floats(rounds, ("verified_submissions", "rejected_candidates", "participation_rate"))
    fallback = rounds["fallback_selected"].astype("boolean").fillna(False).to_numpy(bool)
    now_ms = rounds["now_ms"].to_numpy(np.int64)
    prefix = "rpp_crypto_vrf_selection"
    for node, rows in _node_slices(rounds["node"].to_numpy(np.int64)).items():
        if node not in b.position:
            continue
        times = now_ms[rows]

        def step(values: np.ndarray, times: np.ndarray = times) -> np.ndarray:
            return get_step_values(times, np.cumsum(np.nan_to_num(values)), b.grid, 0.0)

        b.add_node(f"{prefix}_verified_total", node, step(data["verified_submissions"][rows]))
        b.add_node(f"{prefix}_rejected_total", node, step(data["rejected_candidates"][rows]))
        b.add_node(f"{prefix}_fallback_total", node, step(fallback[rows].astype(np.float64)))
        b.add_node(f"{prefix}_rounds_total", node, step(np.ones(len(times))))
        rate = get_step_values(times, data["participation_rate"][rows], b.grid, np.nan)
        seen = b.up[b.position[node]] & (b.grid >= times[0]) & ~np.isnan(rate)
        b.add(f"{prefix}_participation_rate", {"instance": str(node)}, seen, rate)
        for name, value in sorted(thresholds.items()):
            b.add_node("rppsim_vrf_threshold", node, np.full(len(b.grid), float(value)),
                       {"threshold": name})  # fmt: skip
    when = rounds[["node", "height", "round", "now_ms"]].drop_duplicates(
        ["node", "height", "round"]
    )
    rejections = b.frames["vrf_rejections"].merge(when, on=["node", "height", "round"])
    for node, group in _iter_groups(rejections.sort_values("now_ms", kind="stable"), "node"):
        if node in b.position:
            counts = np.cumsum(group["count"].to_numpy(np.float64))
            failures = get_step_values(group["now_ms"].to_numpy(np.int64), counts, b.grid, 0.0)
            name = "consensus_vrf_verification_time_ms_count"
            b.add_node(name, node, failures, {"result": "failure"})


def add_rejection_series(b: _Builder) -> None:
    """Certificate failures and commits rejected on apply, per node (cumulative); none when
    the source has no ``rejections``."""
    if not b.has("rejections"):
        return
    rejections = b.frames["rejections"].sort_values(["node", "now_ms"], kind="stable")
    reason = rejections["reason"].astype(str)
    commit = reason.str.startswith("commit: ") & (reason != "commit: for a finalized height")
    kinds: tuple[tuple[str, pd.Series, dict[str, str]], ...] = (
        ("consensus_quorum_verifications_total", commit & reason.str.contains("certificate"),
         {"result": "failure"}),
        ("rpp_node_pipeline_state_sync_tamper_total", commit & ~reason.str.contains("certificate"),
         {}),
    )  # fmt: skip
    for name, selected, labels in kinds:
        rows = rejections[selected]
        counts = rows.groupby(["node", "now_ms"], sort=True)["count"].sum()
        for node in b.nodes:
            # rejections are sampled as running totals per reason; their sum is a counter
            if node in counts.index.get_level_values(0):
                per = counts.loc[node]
                values = get_step_values(per.index.to_numpy(np.int64), per.to_numpy(), b.grid, 0)
            else:
                values = np.zeros(len(b.grid))
            b.add_node(name, node, values, labels)


def add_proof_size_series(b: _Builder) -> None:
    """Fleet histograms of block proof sizes by circuit, and by result, over block time."""
    proofs = b.frames["proofs"].merge(
        b.frames["blocks"][["height", "proposed_ms"]].drop_duplicates("height"), on="height"
    )
    if proofs.empty:
        return
    proofs = proofs.sort_values("proposed_ms", kind="stable")
    all_mask = np.ones(len(b.grid), bool)
    for labels, rows in _iter_proof_groups(proofs):
        times = rows["proposed_ms"].to_numpy(np.int64)
        upto = np.searchsorted(times, b.grid, side="right")
        sizes = rows["bytes"].to_numpy(np.float64)
        name = labels.pop("__name__")
        for le in (*PROOF_BYTES_BUCKETS, np.inf):
            cumulative = np.concatenate([[0], np.cumsum(sizes <= le)])
            bound = "+Inf" if le == np.inf else f"{le:g}"
            b.add(name, {**labels, "le": bound}, all_mask, cumulative[upto])


def _iter_proof_groups(proofs: pd.DataFrame) -> Iterator[tuple[dict[str, str], pd.DataFrame]]:
    for circuit, rows in proofs.groupby("circuit", sort=True):
        yield {"__name__": "rpp_stark_proof_total_bytes_bucket", "proof_kind": str(circuit)}, rows
        verified = rows["verified"].astype(bool)
        for result, part in (("ok", rows[verified]), ("fail", rows[~verified])):
            if len(part):
                name = "rpp_stark_proof_total_bytes_by_result_bucket"
                yield {"__name__": name, "proof_kind": str(circuit), "result": result}, part


def build_run_series(frames: Frames, ctx: GuardrailContext) -> SeriesStore:
    """Every series of ``METRICS`` a run yields, scraped on the SCRAPE_MS grid."""
    builder = _Builder(frames, ctx)
    add_consensus_series(builder)
    add_proposer_series(builder)
    add_vote_latency_series(builder)
    add_snapshot_series(builder)
    add_vrf_series(builder)
    add_rejection_series(builder)
    add_proof_size_series(builder)
    return builder.store
