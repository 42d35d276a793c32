"""The node's HTTP server: every route's shape and status, the network limits, /metrics."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rppsim.node.config import load_config
from rppsim.node.genesis import derive_dev_keypair
from rppsim.node.node import NodeKeys
from rppsim.testnet.http import (
    NetworkLimits,
    RateLimiter,
    TokenBucket,
    compute_backend_sla,
    compute_slo,
)
from rppsim.testnet.metrics import METRIC_NAMES
from rppsim.testnet.process import JsonLog, NodeProcess
from rppsim.testnet.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
NODE_TOML = ROOT / "node" / "node.toml"


def build_process(data_dir: Path, limits: NetworkLimits | None = None) -> NodeProcess:
    """Validator 0 of the shipped devnet genesis, alone (it serves, it does not finalize)."""
    config, _ = load_config(NODE_TOML)
    seed, _ = derive_dev_keypair("validator-0")
    store = Storage.open(data_dir)
    return NodeProcess(
        config,
        NodeKeys.from_seed(seed),
        store,
        listen=("127.0.0.1", 0),
        http=("127.0.0.1", 0),
        log=JsonLog(io.StringIO()),
        limits=limits,
    )


Client = Callable[[str, str], Awaitable[tuple[int, dict[str, str], bytes]]]


def serve(
    tmp_path: Path, body: Callable[[NodeProcess, Client], Awaitable[None]], **kwargs: Any
) -> None:
    """Start a node process, run ``body`` with a client for its HTTP server, stop it."""

    async def scenario() -> None:
        process = build_process(tmp_path, **kwargs)
        await process.start()
        try:
            async with aiohttp.ClientSession() as session:

                async def request(method: str, path: str, data: bytes | None = None) -> Any:
                    url = f"http://127.0.0.1:{process.http_port}{path}"
                    async with session.request(method, url, data=data) as response:
                        return response.status, dict(response.headers), await response.read()

                await body(process, request)  # type: ignore[arg-type]
        finally:
            await process.stop()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_status_routes_have_the_chains_shapes(tmp_path: Path) -> None:
    async def body(process: NodeProcess, request: Client) -> None:
        status, _, raw = await request("GET", "/status/rollout")
        rollout = json.loads(raw)
        assert status == 200
        assert set(rollout) >= {"release_channel", "feature_gates", "telemetry"}
        assert set(rollout["feature_gates"]) == {
            "pruning", "recursive_proofs", "reconstruction", "consensus_enforcement",
            "malachite_consensus", "timetoke_rewards", "witness_network",
        }  # fmt: skip
        assert set(rollout["telemetry"]) >= {
            "enabled", "endpoint", "sample_interval_secs", "last_observed_height"
        }  # fmt: skip

        status, _, raw = await request("GET", "/status/node")
        node = json.loads(raw)
        assert status == 200
        assert node["address"] == process.keys.address
        for key in ("height", "last_hash", "epoch", "epoch_nonce", "pending_block_proposals",
                    "pending_transactions", "pending_identities", "pending_votes",
                    "pending_uptime_proofs", "vrf_metrics", "tip"):  # fmt: skip
            assert key in node

        status, _, raw = await request("GET", "/status/consensus")
        consensus = json.loads(raw)
        assert status == 200
        for key in ("height", "round", "total_power", "quorum_threshold", "pre_vote_power",
                    "pre_commit_power", "commit_power", "quorum_reached", "observers", "epoch",
                    "epoch_nonce", "pending_votes", "leader_changes", "witness_events",
                    "slashing_events", "failed_votes"):  # fmt: skip
            assert key in consensus
        assert isinstance(consensus["total_power"], str)

        status, _, raw = await request("GET", "/status/mempool")
        assert status == 200
        assert json.loads(raw) == {"queue_weights": {"priority": 0.7, "fee": 0.3}}

        status, _, raw = await request("GET", "/validator/telemetry")
        telemetry = json.loads(raw)
        assert status == 200
        assert set(telemetry) >= {"rollout", "node", "consensus", "mempool", "timetoke_params",
                                  "verifier_metrics", "vrf_threshold"}  # fmt: skip
        assert set(telemetry["mempool"]) == {"transactions", "identities", "votes",
                                             "uptime_proofs"}  # fmt: skip

        status, _, _ = await request("GET", "/no/such/route")
        assert status == 404

    serve(tmp_path, body)


def test_health_routes(tmp_path: Path) -> None:
    async def body(process: NodeProcess, request: Client) -> None:
        status, _, raw = await request("GET", "/health/live")
        assert (status, json.loads(raw)) == (200, {"status": "ok"})

        status, _, raw = await request("GET", "/health/ready")
        ready = json.loads(raw)
        assert status == 200
        assert ready["status"] == "ok" and ready["ready"] is True
        assert ready["role"] == "validator"
        assert set(ready["subsystems"]) == {"node_ready", "zk_ready", "pruning_available",
                                            "snapshots_available", "orchestrator"}  # fmt: skip
        assert set(ready["backend"]) >= {"active_backend", "cache", "sla"}

        status, headers, raw = await request("GET", "/health")
        health = json.loads(raw)
        assert status == 200 and health["status"] == "ok"
        assert "x-slo-warnings" not in {k.lower() for k in headers}

        process.stopping.set()  # shutting down: no longer ready
        status, _, raw = await request("GET", "/health/ready")
        assert status == 503 and json.loads(raw)["status"] == "unavailable"

    serve(tmp_path, body)


def test_metrics_parse_and_name_the_alert_rule_series(tmp_path: Path) -> None:
    async def body(process: NodeProcess, request: Client) -> None:
        await request("GET", "/status/node")
        status, headers, raw = await request("GET", "/metrics")
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain")
        samples = {
            sample.name: sample
            for family in text_string_to_metric_families(raw.decode())
            for sample in family.samples
        }
        assert samples["chain_block_height"].value == 0
        assert samples["rpp_runtime_chain_block_height"].value == 0
        assert samples["consensus_block_schedule_slots_total"].value > 0
        assert samples["process_start_time_seconds"].value > 0
        exported = {name for name in METRIC_NAMES}
        missing = {
            name
            for name in exported - {"rpp_stark_verify_duration_seconds",
                                    "rppsim_telemetry_last_observed_height",
                                    "rpp_crypto_vrf_selection_participation_rate"}
            if name not in samples
        }  # fmt: skip
        assert missing == set()
        key = ("/status/node", "success")
        requests = [
            s for name, s in samples.items() if name == "rpp_runtime_rpc_request_total"
        ]
        assert requests and (requests[0].labels["method"], requests[0].labels["result"]) == key

    serve(tmp_path, body)


def test_rate_limit_answers_429_and_is_counted(tmp_path: Path) -> None:
    async def body(process: NodeProcess, request: Client) -> None:
        answers = [(await request("GET", "/health/live"))[0] for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        _, headers, _ = await request("GET", "/health/live")
        assert int(headers["Retry-After"]) >= 1
        assert process.metrics.history.rate_limited["429"] == 2

    serve(tmp_path, body, limits=NetworkLimits(burst=3, replenish_per_minute=1))


def test_body_over_the_limit_answers_413(tmp_path: Path) -> None:
    async def body(process: NodeProcess, request: Client) -> None:
        status, _, _ = await request("POST", "/status/node", b"x" * 101)  # type: ignore[call-arg]
        assert status == 413
        status, _, _ = await request("POST", "/status/node", b"x" * 100)  # type: ignore[call-arg]
        assert status == 405  # within the limit: the route answers GET only
        assert process.metrics.history.rate_limited["413"] == 1

    serve(tmp_path, body, limits=NetworkLimits(max_body_bytes=100))


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(NetworkLimits(burst=2, replenish_per_minute=60), lambda: now[0])
    assert [limiter.check("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(1.0)]
    assert limiter.check("b") == 0.0  # per client
    now[0] = 1.0
    assert limiter.check("a") == 0.0
    bucket = TokenBucket(5, 1.0, 0.0, 0.0)
    assert bucket.take(100.0) == 0.0 and bucket.tokens == 4  # capped at the burst


def test_backend_sla_and_slo_budgets() -> None:
    assert compute_backend_sla({}) == {"healthy": True}
    ok = compute_backend_sla({"accepted": 99, "rejected": 1, "total_duration_ms": 1000})
    assert ok["healthy"] and ok["error_rate"] == pytest.approx(0.01)
    slow = compute_backend_sla({"accepted": 1, "rejected": 0, "total_duration_ms": 9000})
    assert not slow["healthy"]
    failing = compute_backend_sla({"accepted": 97, "rejected": 3, "total_duration_ms": 0})
    assert not failing["healthy"]
    assert compute_slo({"node": {"pending_uptime_proofs": 4}})[1] == []
    assert len(compute_slo({"node": {"pending_uptime_proofs": 5}})[1]) == 1
