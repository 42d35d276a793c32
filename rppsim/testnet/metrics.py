"""A node process's ``/metrics``: the Prometheus series the chain's alert rules read.

Names follow the chain (docs/operations.md#metric-names: OTLP names with dots replaced by
underscores) and the rule files in ``rppsim/guardrails/alerting/rules/``; each series is the
one ``rppsim.guardrails.alerting.series`` derives from a simulated run, so the same rules
judge a live node and a simulated one (that module's ``METRICS`` says what each measures).
Values are read from the node at scrape time (a custom collector on a private
``CollectorRegistry``); the few that need history (VRF rounds, finalization times, RPC
requests) are counted by the driver through ``observe`` and ``on_rpc``.

Series a single node cannot answer are not exported: ``finalized_height_gap``,
``rpp_runtime_consensus_validator_height_lag`` and ``consensus_proposer_deviation_pct`` need
the other nodes' heights or blocks, and the vote-latency and proof-size histograms need the
senders' clocks and the prover.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from rppsim.node.node import Node
from rppsim.node.selection import VrfSelectionMetrics

CACHE_LABEL = "gossip-proof-cache"
"""The ``cache`` label of the proof-cache series (as ``rppsim.guardrails.alerting.series``)."""
BACKENDS = ("stwo", "plonky3", "rpp-stark")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

METRIC_NAMES: dict[str, str] = {
    "chain_block_height": "alert rules (consensus, telemetry): the finalized height",
    "rpp_runtime_chain_block_height": "rpp.runtime.chain.block_height: the finalized height",
    "consensus_block_schedule_slots_total": "alert rules (consensus): block slots so far",
    "finality_lag_slots": "alert rules (consensus): slots since the tip was finalized",
    "process_start_time_seconds": "alert rules (consensus): when the process started",
    "timetoke_epoch_age_seconds": "alert rules (timetoke): seconds since the epoch began",
    "rpp_runtime_backlog_blocks": "rpp.runtime.backlog.blocks: pending block proposals",
    "rpp_runtime_backlog_transactions": "rpp.runtime.backlog.transactions",
    "rpp_runtime_network_peer_count": "rpp.runtime.network.peer_count: connected peers",
    "rpp_runtime_proof_cache_hits": "rpp.runtime.proof.cache.hits",
    "rpp_runtime_proof_cache_misses": "rpp.runtime.proof.cache.misses",
    "rpp_runtime_proof_cache_evictions": "rpp.runtime.proof.cache.evictions",
    "rpp_runtime_proof_cache_queue_depth": "rpp.runtime.proof.cache.queue_depth",
    "rpp_runtime_proof_cache_max_queue_depth": "rpp.runtime.proof.cache.max_queue_depth",
    "rpp_runtime_proof_verification_outcomes_total": "rpp.runtime.proof.verification.outcomes",
    "rpp_stark_verify_duration_seconds": "rpp_stark_verify_duration_seconds (_sum, _count)",
    "rpp_stark_stage_checks_total": "rpp_stark_stage_checks_total{result}",
    "telemetry_otlp_failures_total": "alert rules (telemetry): failed telemetry emits",
    "rppsim_telemetry_last_observed_height": "rppsim's: the telemetry loop's last height",
    "rpp_crypto_vrf_selection_verified_total": "rpp.crypto_vrf.selection.verified_total",
    "rpp_crypto_vrf_selection_rejected_total": "rpp.crypto_vrf.selection.rejected_total",
    "rpp_crypto_vrf_selection_fallback_total": "rpp.crypto_vrf.selection.fallback_total",
    "rpp_crypto_vrf_selection_rounds_total": "alert rules (vrf): selection rounds",
    "rpp_crypto_vrf_selection_participation_rate": "rpp.crypto_vrf.selection.participation_rate",
    "rppsim_vrf_threshold": "rppsim's: rollout.telemetry.vrf_thresholds by threshold",
    "consensus_vrf_verification_time_ms_count": "alert rules (vrf): rounds' VRF rejections",
    "consensus_quorum_verifications_total": "alert rules (consensus): bad certificates",
    "rpp_node_pipeline_state_sync_tamper_total": "rpp_node_pipeline_state_sync_tamper_total",
    "rpp_runtime_rpc_request_total": "rpp.runtime.rpc.request.total{method, result}",
    "rpp_runtime_rpc_rate_limit_total": "rpp.runtime.rpc.rate_limit.total{status}",
}
"""Every metric family ``/metrics`` exports, with the name it follows."""


class MetricsSource(Protocol):
    """What the collector reads of a node process."""

    node: Node

    def now_ms(self) -> int: ...

    def get_peer_count(self) -> int: ...


@dataclass(slots=True)
class History:
    """What the driver counts between scrapes: VRF rounds, finalizations, RPC requests."""

    last_vrf: VrfSelectionMetrics | None = None
    vrf_rounds: int = 0
    vrf_verified: int = 0
    vrf_rejected: int = 0
    vrf_fallbacks: int = 0
    vrf_failures: int = 0
    """The rounds' ``rejections_by_reason`` counts, summed (the sim's ``vrf_rejections``)."""
    finalized_ms: dict[int, int] = field(default_factory=dict)
    """Node time each height was finalized (heights of the current epoch's start kept)."""
    rpc_requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)


def compute_commit_rejections(rejections: Counter[str]) -> tuple[int, int]:
    """(certificate failures, commits rejected on apply) of the node's rejection counters,
    as ``rppsim.guardrails.alerting.series`` splits them."""
    certificate = tamper = 0
    for reason, count in rejections.items():
        if reason.startswith("commit: ") and reason != "commit: for a finalized height":
            if "certificate" in reason:
                certificate += count
            else:
                tamper += count
    return certificate, tamper


class NodeCollector(Collector):
    """Reads the node's series at every scrape."""

    def __init__(self, source: MetricsSource, history: History) -> None:
        self.source = source
        self.history = history

    def collect(self) -> Iterator[Metric]:
        """Every family of ``METRIC_NAMES`` but the process collector's."""
        node = self.source.node
        yield from self._chain(node)
        yield from self._snapshot(node)
        yield from self._vrf(node)
        yield from self._rejections(node)
        yield from self._rpc()

    def _gauge(self, name: str, value: float, help_text: str = "") -> GaugeMetricFamily:
        return GaugeMetricFamily(name, help_text or METRIC_NAMES[name], value=value)

    def _chain(self, node: Node) -> Iterator[Metric]:
        now = self.source.now_ms()
        block_time = node.config.block_time_ms
        yield self._gauge("chain_block_height", node.height)
        yield self._gauge("rpp_runtime_chain_block_height", node.height)
        slots = max(now, 0) // block_time
        yield CounterMetricFamily(
            "consensus_block_schedule_slots", METRIC_NAMES[
                "consensus_block_schedule_slots_total"], value=slots
        )
        tip_ms = self.history.finalized_ms.get(node.height, 0) if node.height else 0
        yield self._gauge("finality_lag_slots", max(slots - tip_ms // block_time, 0))
        epoch_length = max(node.config.epoch_length, 1)
        first = (node.height // epoch_length) * epoch_length
        epoch_ms = self.history.finalized_ms.get(first, 0) if first else 0
        yield self._gauge("timetoke_epoch_age_seconds", max(now - epoch_ms, 0) / 1000)
        yield self._gauge("rpp_runtime_network_peer_count", self.source.get_peer_count())

    def _snapshot(self, node: Node) -> Iterator[Metric]:
        snapshot = node.metrics()
        status = snapshot["node"]
        yield self._gauge("rpp_runtime_backlog_blocks", status["pending_block_proposals"])
        yield self._gauge("rpp_runtime_backlog_transactions", status["pending_transactions"])
        verifier = snapshot.get("verifier_metrics") or {}
        cache = verifier.get("cache") or {}
        for key in ("hits", "misses", "evictions", "queue_depth", "max_queue_depth"):
            name = f"rpp_runtime_proof_cache_{key}"
            family = GaugeMetricFamily(name, METRIC_NAMES[name], labels=["cache"])
            family.add_metric([CACHE_LABEL], float(cache.get(key, 0)))
            yield family
        telemetry = node.telemetry
        yield CounterMetricFamily(
            "telemetry_otlp_failures",
            METRIC_NAMES["telemetry_otlp_failures_total"],
            value=telemetry.emit_errors,
        )
        if telemetry.last_observed_height is not None:
            name = "rppsim_telemetry_last_observed_height"
            yield self._gauge(name, telemetry.last_observed_height)
        yield from self._verifier(verifier.get("per_backend") or {})

    def _verifier(self, per_backend: dict[str, dict[str, int]]) -> Iterator[Metric]:
        outcomes = CounterMetricFamily(
            "rpp_runtime_proof_verification_outcomes",
            METRIC_NAMES["rpp_runtime_proof_verification_outcomes_total"],
            labels=["proof_backend", "result"],
        )
        durations = SummaryMetricFamily(
            "rpp_stark_verify_duration_seconds",
            METRIC_NAMES["rpp_stark_verify_duration_seconds"],
            labels=["proof_backend"],
        )
        checks = CounterMetricFamily(
            "rpp_stark_stage_checks",
            METRIC_NAMES["rpp_stark_stage_checks_total"],
            labels=["proof_backend", "result"],
        )
        for backend in BACKENDS:
            counts = per_backend.get(backend) or {}
            accepted, rejected = counts.get("accepted", 0), counts.get("rejected", 0)
            outcomes.add_metric([backend, "accepted"], accepted)
            outcomes.add_metric([backend, "rejected"], rejected)
            seconds = counts.get("total_duration_ms", 0) / 1000
            durations.add_metric([backend], accepted + rejected, seconds)
            if backend == "rpp-stark":
                checks.add_metric([backend, "ok"], accepted)
                checks.add_metric([backend, "fail"], rejected)
        yield outcomes
        yield durations
        yield checks

    def _vrf(self, node: Node) -> Iterator[Metric]:
        h = self.history
        prefix = "rpp_crypto_vrf_selection"
        for key, value in (
            ("verified", h.vrf_verified),
            ("rejected", h.vrf_rejected),
            ("fallback", h.vrf_fallbacks),
            ("rounds", h.vrf_rounds),
        ):
            name = f"{prefix}_{key}"
            yield CounterMetricFamily(name, METRIC_NAMES[f"{name}_total"], value=value)
        if h.last_vrf is not None:
            name = f"{prefix}_participation_rate"
            yield self._gauge(name, h.last_vrf.participation_rate)
        thresholds = node.config.rollout.telemetry.vrf_thresholds
        family = GaugeMetricFamily(
            "rppsim_vrf_threshold", METRIC_NAMES["rppsim_vrf_threshold"], labels=["threshold"]
        )
        for threshold in ("max_fallback_ratio", "max_rejection_rate", "min_participation_rate"):
            family.add_metric([threshold], float(getattr(thresholds, threshold)))
        yield family

    def _rejections(self, node: Node) -> Iterator[Metric]:
        certificate, tamper = compute_commit_rejections(node.rejections)
        name = "consensus_vrf_verification_time_ms_count"
        vrf_family = GaugeMetricFamily(name, METRIC_NAMES[name], labels=["result"])
        vrf_family.add_metric(["failure"], self.history.vrf_failures)
        yield vrf_family
        family = CounterMetricFamily(
            "consensus_quorum_verifications",
            METRIC_NAMES["consensus_quorum_verifications_total"],
            labels=["result"],
        )
        family.add_metric(["failure"], certificate)
        yield family
        yield CounterMetricFamily(
            "rpp_node_pipeline_state_sync_tamper",
            METRIC_NAMES["rpp_node_pipeline_state_sync_tamper_total"],
            value=tamper,
        )

    def _rpc(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "rpp_runtime_rpc_request",
            METRIC_NAMES["rpp_runtime_rpc_request_total"],
            labels=["method", "result"],
        )
        for (method, result), count in sorted(self.history.rpc_requests.items()):
            requests.add_metric([method, result], count)
        yield requests
        limited = CounterMetricFamily(
            "rpp_runtime_rpc_rate_limit",
            METRIC_NAMES["rpp_runtime_rpc_rate_limit_total"],
            labels=["status"],
        )
        for status in sorted({"413", "429", *self.history.rate_limited}):
            limited.add_metric([status], self.history.rate_limited[status])
        yield limited


class NodeMetrics:
    """The registry of one node process: the node's series and the process collector's."""

    def __init__(self, source: MetricsSource) -> None:
        self.history = History()
        self.registry = CollectorRegistry()
        self.registry.register(NodeCollector(source, self.history))
        ProcessCollector(registry=self.registry)

    def observe(self, node: Node, now_ms: int) -> None:
        """After every input: count a new VRF round, note a new finalized height's time."""
        h = self.history
        metrics = node.vrf_metrics
        if metrics is not None and metrics is not h.last_vrf:
            h.last_vrf = metrics
            h.vrf_rounds += 1
            h.vrf_verified += metrics.verified_submissions
            h.vrf_rejected += metrics.rejected_candidates
            h.vrf_fallbacks += int(metrics.fallback_selected)
            h.vrf_failures += sum(metrics.rejections_by_reason.values())
        if node.height and node.height not in h.finalized_ms:
            h.finalized_ms[node.height] = now_ms
            epoch_length = max(node.config.epoch_length, 1)
            for height in [k for k in h.finalized_ms if k < node.height - 1]:
                if height % epoch_length:
                    del h.finalized_ms[height]

    def on_rpc(self, method: str, result: str) -> None:
        """One HTTP request answered: ``method`` is the route, ``result`` success or error
        (the chain's ``rpc:availability_ratio:5m`` counts ``success``)."""
        self.history.rpc_requests[method, result] += 1

    def on_rate_limit(self, status: int) -> None:
        """One HTTP request refused by a network limit (429 or 413)."""
        self.history.rate_limited[str(status)] += 1

    def render(self) -> bytes:
        """The Prometheus text exposition of every series."""
        return generate_latest(self.registry)
