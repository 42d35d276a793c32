"""A node process's HTTP server (aiohttp): status, telemetry, health and metrics.

Routes and JSON shapes are the chain's (docs/operations.md#node-status and the sections after
it; ``HUBId/chain:rpp/rpc/api.rs``):

* ``GET /status/rollout``, ``/status/node``, ``/status/consensus``, ``/status/mempool`` and
  ``/validator/telemetry`` — the node's payloads (``rppsim.node.status``);
* ``GET /health/live`` — 200 while the node answers its status, else 503;
* ``GET /health/ready`` — 200 and ``"ok"`` when every subsystem is ready, else 503 and
  ``"unavailable"``: the node started and listens, consensus runs (validators), the proof
  backend answers, pruning and snapshots per their gates (docs/operations.md#health-endpoints);
* ``GET /health`` — ``"degraded"`` when a backend's verifier SLA (mean latency ≤ 8000 ms, error
  rate ≤ 0.02) fails or an SLO warns (more than 4 pending uptime proofs), else ``"ok"``; the
  warnings also go in the ``x-slo-warnings`` header;
* ``GET /metrics`` — the Prometheus text of ``rppsim.testnet.metrics``.

Network limits are the chain's RPC defaults (docs/operations.md#limits-and-queues): a token
bucket per client address (burst 120, 60 per minute) answers 429 with ``Retry-After`` when
empty; a body over ``max_body_bytes`` is refused with 413; header sizes are capped and a
handler that runs past the write timeout is answered 503. Every refusal is counted
(``rpp_runtime_rpc_rate_limit_total{status}``), every answer too
(``rpp_runtime_rpc_request_total{method, result}``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rppsim.node.status import compute_consensus_status
from rppsim.testnet.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from rppsim.testnet.process import NodeProcess

VERIFIER_LATENCY_BUDGET_MS = 8000.0
VERIFIER_ERROR_BUDGET = 0.02
UPTIME_PENDING_WARNING = 4
ACTIVE_BACKEND = "stwo"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class NetworkLimits:
    """The chain's ``network.limits`` and per-IP token bucket defaults."""

    header_read_timeout_ms: int = 5000
    read_timeout_ms: int = 15_000
    write_timeout_ms: int = 15_000
    max_header_bytes: int = 16_384
    max_body_bytes: int = 2_097_152
    burst: int = 120
    replenish_per_minute: int = 60


@dataclass(slots=True)
class TokenBucket:
    """One client's bucket: ``tokens`` refilled at ``rate`` per second up to ``burst``."""

    burst: float
    rate: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take a token: 0 when granted, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else math.inf


@dataclass(slots=True)
class RateLimiter:
    """Token buckets by client address."""

    limits: NetworkLimits
    clock: Callable[[], float] = time.monotonic
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def check(self, client: str) -> float:
        """0 when ``client`` may proceed, else the seconds to wait."""
        now = self.clock()
        bucket = self.buckets.get(client)
        if bucket is None:
            burst = float(self.limits.burst)
            rate = self.limits.replenish_per_minute / 60
            bucket = self.buckets[client] = TokenBucket(burst, rate, burst, now)
        return bucket.take(now)


# --- health -----------------------------------------------------------------------------------


def compute_backend_sla(counters: dict[str, int]) -> dict[str, Any]:
    """``BackendSlaStatus`` of one backend's verifier counters (healthy with no attempts)."""
    attempts = counters.get("accepted", 0) + counters.get("rejected", 0)
    if attempts == 0:
        return {"healthy": True}
    latency = counters.get("total_duration_ms", 0) / attempts
    error_rate = counters.get("rejected", 0) / attempts
    return {
        "latency_ms": latency,
        "latency_budget_ms": VERIFIER_LATENCY_BUDGET_MS,
        "error_rate": error_rate,
        "error_budget": VERIFIER_ERROR_BUDGET,
        "healthy": latency <= VERIFIER_LATENCY_BUDGET_MS and error_rate <= VERIFIER_ERROR_BUDGET,
    }


def compute_backend_health(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The ``backend`` object of the health payloads from a telemetry snapshot."""
    verifier = snapshot.get("verifier_metrics") or {}
    per_backend = verifier.get("per_backend") or {}
    backend: dict[str, Any] = {
        "active_backend": ACTIVE_BACKEND,
        "cache": verifier.get("cache") or {},
        "sla": {label: compute_backend_sla(c) for label, c in sorted(per_backend.items())},
    }
    if "last" in verifier:
        backend["last_verification"] = verifier["last"]
    return backend


def compute_slo(snapshot: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The ``slo`` object and its warnings: the uptime SLO's pending proofs (the node keeps
    no timetoke replay telemetry, so the replay SLOs are not reported)."""
    pending = int(snapshot["node"]["pending_uptime_proofs"])
    warnings = []
    if pending > UPTIME_PENDING_WARNING:
        warnings.append(f"uptime: {pending} pending uptime proofs > {UPTIME_PENDING_WARNING}")
    return {"uptime": {"pending_uptime_proofs": pending}}, warnings


def compute_subsystems(process: NodeProcess) -> dict[str, bool]:
    """Readiness of each subsystem a node without a wallet has."""
    gates = process.config.rollout.feature_gates
    subsystems = {
        "node_ready": process.started and not process.stopping.is_set(),
        "zk_ready": process.node.proofs is not None,
        "pruning_available": True,
        "snapshots_available": gates.reconstruction or process.node.snapshot is None,
    }
    if process.is_validator:
        subsystems["orchestrator"] = process.started and process.inputs > 0
    return subsystems


# --- the application --------------------------------------------------------------------------


class NodeApi:
    """The route handlers of one node process."""

    def __init__(self, process: NodeProcess) -> None:
        self.process = process

    def _json(self, payload: Any, status: int = 200) -> web.Response:
        return web.json_response(payload, status=status)

    async def status_rollout(self, request: web.Request) -> web.Response:
        """``GET /status/rollout``."""
        return self._json(self.process.node.status_rollout())

    async def status_node(self, request: web.Request) -> web.Response:
        """``GET /status/node``."""
        return self._json(self.process.node.status_node())

    async def status_consensus(self, request: web.Request) -> web.Response:
        """``GET /status/consensus``."""
        return self._json(compute_consensus_status(self.process.node.view()))

    async def status_mempool(self, request: web.Request) -> web.Response:
        """``GET /status/mempool``."""
        node = self.process.node
        weights = asdict(node.config.queue_weights)
        return self._json(node.mempool.status_json(weights))

    async def validator_telemetry(self, request: web.Request) -> web.Response:
        """``GET /validator/telemetry``."""
        return self._json(self.process.node.metrics())

    async def health_live(self, request: web.Request) -> web.Response:
        """``GET /health/live``: 200 while the node answers its status."""
        try:
            self.process.node.status_node()
        except Exception:  # the chain answers 503 when node_status fails
            return self._json({"status": "unavailable"}, 503)
        return self._json({"status": "ok"})

    def _role(self) -> str:
        return "validator" if self.process.is_validator else "full"

    async def health_ready(self, request: web.Request) -> web.Response:
        """``GET /health/ready``: 200 when every subsystem is ready, else 503."""
        process = self.process
        snapshot = process.node.metrics()
        subsystems = compute_subsystems(process)
        ready = all(subsystems.values())
        slo, _ = compute_slo(snapshot)
        payload = {
            "status": "ok" if ready else "unavailable",
            "ready": ready,
            "role": self._role(),
            "backend": compute_backend_health(snapshot),
            "subsystems": subsystems,
            "slo": slo,
        }
        return self._json(payload, 200 if ready else 503)

    async def health(self, request: web.Request) -> web.Response:
        """``GET /health``: ok, or degraded on an unhealthy SLA or an SLO warning."""
        process = self.process
        snapshot = process.node.metrics()
        backend = compute_backend_health(snapshot)
        slo, warnings = compute_slo(snapshot)
        unhealthy = [label for label, sla in backend["sla"].items() if not sla["healthy"]]
        degraded = bool(unhealthy or warnings)
        payload = {
            "status": "degraded" if degraded else "ok",
            "address": process.keys.address,
            "role": self._role(),
            "height": process.node.height,
            "peers": process.get_peer_count(),
            "backend": backend,
            "slo": slo,
        }
        response = self._json(payload)
        if warnings:
            response.headers["x-slo-warnings"] = "; ".join(warnings)
        return response

    async def metrics(self, request: web.Request) -> web.Response:
        """``GET /metrics``: Prometheus text."""
        body = self.process.metrics.render()
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE
        return response


ROUTES = (
    ("/status/rollout", "status_rollout"),
    ("/status/node", "status_node"),
    ("/status/consensus", "status_consensus"),
    ("/status/mempool", "status_mempool"),
    ("/validator/telemetry", "validator_telemetry"),
    ("/health", "health"),
    ("/health/live", "health_live"),
    ("/health/ready", "health_ready"),
    ("/metrics", "metrics"),
)


def build_app(
    process: NodeProcess,
    limits: NetworkLimits | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> web.Application:
    """The node's aiohttp application with its limits."""
    limits = limits or NetworkLimits()
    limiter = RateLimiter(limits, clock)
    metrics = process.metrics

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        method = request.path
        wait_s = limiter.check(request.remote or "")
        if wait_s > 0:
            metrics.on_rate_limit(429)
            metrics.on_rpc(method, "error")
            headers = {"Retry-After": str(max(1, math.ceil(wait_s)))}
            raise web.HTTPTooManyRequests(text="rate limit exceeded", headers=headers)
        length = request.content_length
        if length is not None and length > limits.max_body_bytes:
            metrics.on_rate_limit(413)
            metrics.on_rpc(method, "error")
            raise web.HTTPRequestEntityTooLarge(
                max_size=limits.max_body_bytes, actual_size=length
            )
        try:
            response = await asyncio.wait_for(handler(request), limits.write_timeout_ms / 1000)
        except TimeoutError:
            metrics.on_rpc(method, "error")
            raise web.HTTPServiceUnavailable(text="handler timed out") from None
        except web.HTTPException as error:
            metrics.on_rpc(method, "success" if error.status < 400 else "error")
            raise
        metrics.on_rpc(method, "success" if response.status < 400 else "error")
        return response

    app = web.Application(middlewares=[limit], client_max_size=limits.max_body_bytes)
    api = NodeApi(process)
    for path, name in ROUTES:
        app.router.add_get(path, getattr(api, name), allow_head=False)
    return app


async def start_http(
    process: NodeProcess,
    host: str = "127.0.0.1",
    port: int = 0,
    limits: NetworkLimits | None = None,
) -> tuple[web.AppRunner, int]:
    """Serve the node's application on ``host:port`` (0: a free port); (runner, port)."""
    limits = limits or NetworkLimits()
    runner = web.AppRunner(
        build_app(process, limits),
        access_log=None,
        max_line_size=limits.max_header_bytes,
        max_field_size=limits.max_header_bytes,
        keepalive_timeout=limits.read_timeout_ms / 1000,
        handle_signals=False,
        shutdown_timeout=1.0,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])
