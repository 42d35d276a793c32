"""``rppsim check DIR`` on a testnet folder (``rppsim.testnet.check``): the telemetry verdicts
plus storage migration, RPC availability and health probes decided from the nodes, here
against stand-in node servers on loopback (the live testnet is ``test_testnet.py``)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from rppsim.checks.verdict import Verdict
from rppsim.cli import main
from rppsim.node.genesis import build_genesis
from rppsim.node.node import NodeKeys
from rppsim.rng import SeedTree
from rppsim.scenario import parse_scenario
from rppsim.sim import run as run_module
from rppsim.sim.kernel import Simulation
from rppsim.sim.run import execute_run
from rppsim.telemetry.jsonl import write_telemetry_jsonl
from rppsim.testnet import check, orchestra
from rppsim.testnet.storage import SCHEMA_VERSION, Storage, create_legacy_store

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "node" / "profiles" / "testnet.toml"
SCENARIO: dict[str, Any] = {
    "run": {"seed": 3, "duration_ms": 8_000, "prover": "model", "name": "check"},
    "nodes": {"count": 2, "validators": 2, "profile": PROFILE.as_posix()},
    "network": {"topology": "complete", "link": {"latency_ms": [10, 20]}},
    "traffic": {"tx_per_s": 2.0},
    "telemetry": {"sample_interval_ms": 1_000},
}
HEALTHY: dict[str, tuple[int, object]] = {
    "/status/rollout": (200, {"release_channel": "testnet"}),
    "/status/node": (200, {"height": 3}),
    "/status/consensus": (200, {"height": 3}),
    "/status/mempool": (200, {"queue_weights": {"priority": 0.7, "fee": 0.3}}),
    "/validator/telemetry": (200, {"rollout": {}}),
    "/health/live": (200, {"status": "ok"}),
    "/health/ready": (200, {"status": "ok", "ready": True, "subsystems": {"node_ready": True}}),
    "/health": (200, {"status": "ok"}),
}


class FakeNode:
    """An HTTP server answering each route with a canned (status, JSON body)."""

    def __init__(self, routes: Mapping[str, tuple[int, object]]) -> None:
        self.routes = dict(routes)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = outer.routes.get(self.path, (404, {"error": "no route"}))
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _own_argv() -> list[str]:
    """This process's command line, so ``is_running(os.getpid(), argv)`` holds."""
    return Path("/proc/self/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")


@pytest.fixture(scope="module")
def telemetry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The snapshots a small simulated run's collector received, as collector lines."""
    folder = tmp_path_factory.mktemp("sim")
    lines: list[tuple[int, int, bytes]] = []

    class Collected(Simulation):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.collector = lambda node, at_ms, payload: lines.append((node, at_ms, payload))

    scenario = parse_scenario(SCENARIO, folder / "scenario.toml")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_module, "Simulation", Collected)
        execute_run(scenario, out_dir=folder / "run", record_messages=False)
    return write_telemetry_jsonl(lines, folder / "telemetry.jsonl")


def make_testnet(root: Path, telemetry: Path, ports: list[int]) -> orchestra.Testnet:
    """A testnet folder whose nodes are the servers at ``ports`` (this process's pid), with a
    current store each and the simulated telemetry."""
    tree = SeedTree(3)
    keys = [NodeKeys.from_seed(tree.seed_bytes("node", i, "keys")) for i in range(len(ports))]
    root.mkdir(parents=True)
    genesis = orchestra.compute_genesis_document(build_genesis(keys, []))
    (root / orchestra.GENESIS_FILE).write_text(tomli_w.dumps(genesis), encoding="utf-8")
    (root / orchestra.TELEMETRY_FILE).write_bytes(telemetry.read_bytes())
    nodes = []
    for i, port in enumerate(ports):
        (root / f"node-{i}").mkdir()
        document = orchestra.compute_node_config(PROFILE, {"block_time_ms": 1000}, 1)
        orchestra.write_node_config(root / f"node-{i}" / "node.toml", document)
        Storage.open(root / f"node-{i}" / "data").close()
        nodes.append(
            {
                "index": i,
                "address": keys[i].address,
                "role": "validator",
                "p2p_port": 1,
                "http_port": port,
                "data_dir": f"node-{i}/data",
                "config": f"node-{i}/node.toml",
                "log": f"node-{i}/node.log",
                "pid": os.getpid(),
                "argv": _own_argv(),
            }
        )
    collector = {"port": 1, "out": orchestra.TELEMETRY_FILE, "pid": None, "argv": ["none"]}
    testnet = orchestra.Testnet(root, {"nodes": nodes, "collector": collector, "params": {}})
    testnet.save()
    return testnet


@pytest.fixture
def fakes() -> Iterator[list[FakeNode]]:
    servers = [FakeNode(HEALTHY), FakeNode(HEALTHY)]
    try:
        yield servers
    finally:
        for server in servers:
            server.close()


def _by_id(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.id: v for v in verdicts}


def test_a_healthy_testnet_passes_the_live_guardrails(tmp_path, telemetry, fakes, capsys) -> None:
    testnet = make_testnet(tmp_path / "t", telemetry, [f.port for f in fakes])
    assert main(["check", str(testnet.root)]) == 0
    out = capsys.readouterr().out
    assert "node 0's node.toml" in out
    written = {v["id"]: v for v in json.loads((testnet.root / "verdicts.json").read_text())}
    for verdict_id in check.LIVE_IDS:
        assert written[verdict_id]["passed"] is True, written[verdict_id]
    assert written["g26-rpc-availability"]["figure"] == 1.0
    assert written["g23-storage-migration"]["message"].endswith(f"version {SCHEMA_VERSION}")
    assert (testnet.root / "junit.xml").is_file()
    # the telemetry verdicts are those rppsim check gives the JSONL file by the same profile
    plain = tmp_path / "plain"
    assert main(["check", str(telemetry), "--profile", str(testnet.root / "node-0/node.toml"),
                 "--out", str(plain)]) == 0  # fmt: skip
    alone = {v["id"]: v for v in json.loads((plain / "verdicts.json").read_text())}
    assert set(alone) == set(written)
    differ = [i for i in alone if i not in check.LIVE_IDS and alone[i] != written[i]]
    assert differ == []
    assert {alone[i]["passed"] for i in check.LIVE_IDS} == {None}


def test_an_unready_node_fails_health_probes_and_names_it(tmp_path, telemetry, fakes) -> None:
    fakes[1].routes["/health/ready"] = (503, {"status": "unavailable", "ready": False})
    testnet = make_testnet(tmp_path / "t", telemetry, [f.port for f in fakes])
    verdict = check.evaluate_health_probes(testnet)
    assert verdict.passed is False
    assert verdict.node == 1
    assert "/health/ready 503" in verdict.message
    fakes[1].routes["/health/ready"] = HEALTHY["/health/ready"]
    fakes[0].routes["/health"] = (200, {"status": "degraded"})
    verdict = check.evaluate_health_probes(testnet)
    assert (verdict.passed, verdict.node) == (False, 0)
    assert "status degraded" in verdict.message


def test_a_silent_route_fails_rpc_availability(tmp_path, telemetry, fakes) -> None:
    del fakes[0].routes["/status/mempool"]
    testnet = make_testnet(tmp_path / "t", telemetry, [f.port for f in fakes])
    verdict = check.evaluate_rpc_availability(testnet)
    assert verdict.passed is False
    assert verdict.figure == pytest.approx(9 / 10)
    assert verdict.threshold == check.MIN_RPC_AVAILABILITY
    assert "node 0 /status/mempool: 404" in verdict.message
    assert main(["check", str(testnet.root)]) == 1


def test_requests_the_nodes_served_count_toward_rpc_availability(tmp_path, telemetry, fakes):
    served = (
        '# TYPE rpp_runtime_rpc_request counter\n'
        'rpp_runtime_rpc_request_total{method="GET /status/node",result="success"} 97.0\n'
        'rpp_runtime_rpc_request_total{method="GET /health/ready",result="error"} 3.0\n'
    )
    fakes[0].routes["/metrics"] = (200, served)
    testnet = make_testnet(tmp_path / "t", telemetry, [f.port for f in fakes])
    verdict = check.evaluate_rpc_availability(testnet)
    assert (verdict.passed, verdict.figure) == (False, pytest.approx(0.97))
    assert "answered 97 of 100 requests since they started" in verdict.message
    assert "10 of 10 status requests answered now" in verdict.message
    fakes[1].routes["/metrics"] = (200, served.replace("97.0", "9997.0"))
    verdict = check.evaluate_rpc_availability(testnet)
    assert verdict.passed is True and verdict.figure == pytest.approx(10094 / 10100)


def test_a_stopped_testnet_cannot_be_probed(tmp_path, telemetry, fakes) -> None:
    testnet = make_testnet(tmp_path / "t", telemetry, [f.port for f in fakes])
    for entry in testnet.nodes:
        entry["pid"] = None
    verdicts = _by_id(check.evaluate_live_verdicts(testnet))
    assert verdicts["g26-rpc-availability"].passed is None
    assert verdicts["g27-health-probes"].passed is None
    assert verdicts["g23-storage-migration"].passed is True  # the stores are still there


def test_an_old_store_fails_storage_migration_naming_the_command(tmp_path, telemetry, fakes):
    testnet = make_testnet(tmp_path / "t", telemetry, [f.port for f in fakes])
    data_dir = testnet.path(testnet.nodes[1]["data_dir"])
    for name in os.listdir(data_dir):
        (data_dir / name).unlink()
    create_legacy_store(data_dir, 1)
    verdict = check.evaluate_storage_migration(testnet)
    assert (verdict.passed, verdict.node, verdict.figure) == (False, 1, 1)
    assert f"rppsim node migrate --data-dir {data_dir}" in verdict.message
    for name in os.listdir(data_dir):
        (data_dir / name).unlink()
    verdict = check.evaluate_storage_migration(testnet)
    assert verdict.passed is False
    assert "no store" in verdict.message


def test_only_limits_the_live_verdicts(tmp_path, telemetry, fakes) -> None:
    testnet = make_testnet(tmp_path / "t", telemetry, [f.port for f in fakes])
    verdicts = check.judge_testnet(testnet, only=["g27-health-probes", "safety"])
    assert [v.id for v in verdicts] == ["safety", "g27-health-probes"]


def test_a_testnet_without_telemetry_is_one_line(tmp_path, telemetry, fakes, capsys) -> None:
    testnet = make_testnet(tmp_path / "t", telemetry, [f.port for f in fakes])
    (testnet.root / orchestra.TELEMETRY_FILE).write_text("", encoding="utf-8")
    assert main(["check", str(testnet.root)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "telemetry.jsonl" in err and "expected telemetry snapshot lines" in err
