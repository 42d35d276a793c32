"""The node process: effects carried out over real sockets and a real store, the telemetry
loop, the ``rppsim node`` commands, and 4 node processes finalizing on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from rppsim.cli import main
from rppsim.node.config import NodeConfig, load_config
from rppsim.node.genesis import GenesisConfig, build_genesis, derive_dev_keypair
from rppsim.node.node import NodeKeys
from rppsim.node.rules import Rules
from rppsim.telemetry.jsonl import parse_telemetry_line
from rppsim.testnet.process import JsonLog, NodeProcess
from rppsim.testnet.storage import SCHEMA_VERSION, Storage, create_legacy_store

ROOT = Path(__file__).resolve().parents[2]
NODE_TOML = ROOT / "node" / "node.toml"
TESTNET_PROFILE = ROOT / "node" / "profiles" / "testnet.toml"
FAST_RULES = Rules(allow_empty_blocks=True)
"""Empty blocks keep the height moving without a workload (the chain's leader waits for one)."""


def fast_config(**overrides: Any) -> NodeConfig:
    """The shipped devnet config with a 200 ms block time (as a scenario's [params] does)."""
    config, _ = load_config(NODE_TOML, overrides={"block_time_ms": 200, **overrides})
    return config


def dev_keys(index: int) -> NodeKeys:
    """Keys of the shipped genesis's validator ``index`` (its ``key_seed``)."""
    return NodeKeys.from_seed(derive_dev_keypair(f"validator-{index}")[0])


def build_node(
    data_dir: Path, index: int, config: NodeConfig, *, log: io.StringIO | None = None
) -> NodeProcess:
    return NodeProcess(
        config,
        dev_keys(index),
        Storage.open(data_dir),
        http=None,
        log=JsonLog(log or io.StringIO()),
        index=index,
        rules=FAST_RULES,
    )


async def wait_for(condition: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def test_four_nodes_in_one_loop_finalize_persist_and_restart(tmp_path: Path) -> None:
    config = fast_config(**{"rollout.telemetry.enabled": True,
                            "rollout.telemetry.sample_interval_secs": 1})  # fmt: skip
    logs = [io.StringIO() for _ in range(4)]

    async def scenario() -> int:
        nodes = [build_node(tmp_path / f"n{i}", i, config, log=logs[i]) for i in range(4)]
        try:
            for node in nodes:  # started before they know each other: the replayed gossip
                await node.start()  # of the first height reaches the peers that join later
            for i, node in enumerate(nodes):  # a full mesh: each dials the ones before it
                for other in nodes[:i]:
                    node.transport.dial("127.0.0.1", other.transport.port)
            await wait_for(lambda: min(n.node.height for n in nodes) >= 5, 60)
            # the telemetry loop ticks every second, however fast the blocks came
            await wait_for(lambda: '"target":"telemetry"' in logs[0].getvalue(), 30)
            heights = [n.node.height for n in nodes]
            for node in nodes:
                assert node.store.get_height() >= node.node.height - 1  # type: ignore[attr-defined]
            common = min(heights)
            chains = {tuple(n.node.finalized_chain()[:common]) for n in nodes}
            assert len(chains) == 1
            assert all(n.failure is None for n in nodes)
            first = nodes[0]
            samples = {
                (sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(first.metrics.render().decode())
                for sample in family.samples
            }
            assert samples["chain_block_height", ()] == first.node.height
            assert samples["rpp_crypto_vrf_selection_rounds_total", ()] >= 5  # one per block
            assert samples["rpp_crypto_vrf_selection_verified_total", ()] >= 5 * 4
            assert samples["rpp_runtime_network_peer_count", ()] == 3
            assert samples["finality_lag_slots", ()] <= 10
            return first.node.height
        finally:
            for node in nodes:
                await node.stop()

    height = asyncio.run(asyncio.wait_for(scenario(), 90))
    restarted = build_node(tmp_path / "n0", 0, config)
    assert restarted.restored_height >= height - 1  # every commit it saved, back from disk
    restarted.store.close()
    lines = [json.loads(line) for line in logs[0].getvalue().splitlines()]
    assert lines[0]["message"] == "listening" and lines[-1]["message"] == "stopped"
    telemetry = [line for line in logs[0].getvalue().splitlines() if '"target":"telemetry"' in line]
    assert telemetry, "log-only telemetry mode writes a line per snapshot"
    record = parse_telemetry_line(telemetry[0], 1)
    assert record is not None and record.node == 0 and "consensus" in record.snapshot


@pytest.mark.parametrize("answer", [200, 500])
def test_telemetry_is_posted_and_answered(tmp_path: Path, answer: int) -> None:
    received: list[tuple[str, dict[str, Any]]] = []
    headers: list[Any] = []

    async def collect(request: web.Request) -> web.Response:
        received.append((request.content_type, await request.json()))
        headers.append(request.headers)
        return web.Response(status=answer)

    async def scenario() -> NodeProcess:
        app = web.Application()
        app.router.add_post("/telemetry", collect)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        config = fast_config(**{
            "rollout.telemetry.enabled": True,
            "rollout.telemetry.sample_interval_secs": 1,
            "rollout.telemetry.endpoint": f"http://127.0.0.1:{port}/telemetry",
        })  # fmt: skip
        process = build_node(tmp_path, 0, config)
        await process.start()
        try:
            telemetry = process.node.telemetry
            await wait_for(lambda: telemetry.succeeded + telemetry.emit_errors >= 1, 10)
        finally:
            await process.stop()
            await runner.cleanup()
        return process

    process = asyncio.run(asyncio.wait_for(scenario(), 30))
    content_type, snapshot = received[0]
    assert content_type == "application/json"
    assert snapshot["node"]["address"] == process.keys.address
    assert headers[0]["X-Rppsim-Node"] == "0" and int(headers[0]["X-Rppsim-Time-Ms"]) > 0
    telemetry = process.node.telemetry
    if answer == 200:
        assert telemetry.succeeded >= 1 and telemetry.last_observed_height == 0
    else:
        assert telemetry.failed["status"] >= 1 and telemetry.last_observed_height is None


# --- the commands ---------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_node_init_stores_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed = bytes(range(32))
    code, out, _ = run_cli(capsys, "node", "init", "--data-dir", str(tmp_path / "d"),
                           "--key-seed", seed.hex())  # fmt: skip
    assert code == 0 and out.strip() == NodeKeys.from_seed(seed).address
    with Storage.open(tmp_path / "d", create=False) as store:
        assert store.load_keys() == seed
    code, _, err = run_cli(capsys, "node", "init", "--data-dir", str(tmp_path), "--key-seed", "ab")
    assert code == 2 and "64 hex digits" in err and len(err.strip().splitlines()) == 1


def test_node_migrate_upgrades_a_legacy_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create_legacy_store(tmp_path, 1, key_seed=bytes(32))
    code, _, err = run_cli(capsys, "node", "run", "--config", str(NODE_TOML),
                           "--data-dir", str(tmp_path))  # fmt: skip
    assert code == 2 and "rppsim node migrate --data-dir" in err
    assert len(err.strip().splitlines()) == 1
    code, out, _ = run_cli(capsys, "node", "migrate", "--data-dir", str(tmp_path))
    assert code == 0 and f"1 → {SCHEMA_VERSION}" in out
    code, out, _ = run_cli(capsys, "node", "migrate", "--data-dir", str(tmp_path))
    assert code == 0 and "already current" in out


def test_node_run_refuses_bad_inputs_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "genesis.toml"
    write_genesis(other, build_genesis([dev_keys(0)], []))
    cases = [
        (["--config", str(tmp_path / "missing.toml")], "missing.toml"),
        (["--config", str(NODE_TOML), "--genesis", str(other)], "genesis"),
        (["--config", str(NODE_TOML), "--listen", "nowhere"], "--listen"),
        (["--config", str(NODE_TOML), "--rules", str(NODE_TOML)], "rules"),
    ]
    (tmp_path / "rules.toml").write_text("[rules]\nno_such_rule = true\n")
    cases[3] = (["--config", str(NODE_TOML), "--rules", str(tmp_path / "rules.toml")], "rules")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for flag in ("--listen", "--http"):
            cases.append((["--config", str(NODE_TOML), flag, f"127.0.0.1:{port}"], flag))
        for argv, needle in cases:
            code, _, err = run_cli(capsys, "node", "run", "--data-dir", str(tmp_path / "d"), *argv)
            assert code == 2, argv
            assert needle in err and len(err.strip().splitlines()) == 1, err


# --- 4 processes on loopback ----------------------------------------------------------------


def write_genesis(path: Path, genesis: GenesisConfig) -> None:
    """A genesis file in ``node/genesis.toml``'s form."""
    accounts = []
    for a in genesis.accounts:
        entry: dict[str, Any] = {"address": a.address, "balance": a.balance, "stake": a.stake}
        if a.validator:
            entry |= {"validator": True, "zsi_validated": True, "uptime_hours": a.uptime_hours,
                      "consensus_success": a.consensus_success}  # fmt: skip
        accounts.append(entry)
    path.write_text(tomli_w.dumps({"genesis": {"chain_id": genesis.chain_id,
                                               "accounts": accounts}}))  # fmt: skip


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def get_json(port: int, route: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{route}", timeout=2) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_four_node_processes_finalize_agreeing_blocks(tmp_path: Path) -> None:
    seeds = [hashlib.blake2s(b"rppsim/test-process/%d" % i).digest() for i in range(4)]
    write_genesis(tmp_path / "genesis.toml", build_genesis([NodeKeys.from_seed(s) for s in seeds],
                                                           []))  # fmt: skip
    (tmp_path / "node.toml").write_text(
        f'extends = "{TESTNET_PROFILE.as_posix()}"\ngenesis_path = "genesis.toml"\n'
        "block_time_ms = 250\n"
    )
    (tmp_path / "rules.toml").write_text("[rules]\nallow_empty_blocks = true\n")
    ports = free_ports(8)
    p2p, http = ports[:4], ports[4:]
    origin_ms = int(time.time() * 1000)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    children: list[subprocess.Popen[bytes]] = []
    try:
        for i, seed in enumerate(seeds):
            data_dir = tmp_path / f"node-{i}"
            init = ["node", "init", "--data-dir", str(data_dir), "--key-seed", seed.hex()]
            assert main(init) == 0
            peers = ",".join(f"127.0.0.1:{p}" for j, p in enumerate(p2p) if j != i)
            argv = [sys.executable, "-m", "rppsim.cli", "node", "run",
                    "--config", "node.toml", "--genesis", "genesis.toml", "--rules", "rules.toml",
                    "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{p2p[i]}",
                    "--http", f"127.0.0.1:{http[i]}", "--peers", peers,
                    "--time-origin-ms", str(origin_ms), "--index", str(i),
                    "--log", str(tmp_path / f"node-{i}.log")]  # fmt: skip
            with (tmp_path / f"stderr-{i}").open("wb") as stderr:
                children.append(subprocess.Popen(argv, cwd=tmp_path, env=env, stderr=stderr))
        deadline = time.monotonic() + 60
        statuses: list[Any] = []
        while time.monotonic() < deadline:
            assert all(c.poll() is None for c in children), "a node process exited"
            with contextlib.suppress(OSError, ValueError):
                statuses = [get_json(port, "/status/node") for port in http]
                if min(s["height"] for s in statuses) >= 10:
                    break
            time.sleep(0.5)
        assert statuses and min(s["height"] for s in statuses) >= 10, statuses
        consensus = [get_json(port, "/status/consensus") for port in http]
        assert all(c["height"] >= 11 for c in consensus)
        chains = [get_json(port, "/validator/telemetry")["node"] for port in http]
        assert {c["address"] for c in chains} == {NodeKeys.from_seed(s).address for s in seeds}
        # the same block at a height every node has finalized, read from each store
        height = min(s["height"] for s in statuses)
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            assert child.wait(timeout=20) == 0
        for i in range(4):  # stopped cleanly: nothing on stderr, the log ends with "stopped"
            assert (tmp_path / f"stderr-{i}").read_text() == ""
            last = (tmp_path / f"node-{i}.log").read_text().splitlines()[-1]
            assert json.loads(last)["message"] == "stopped"
        blocks = set()
        for i in range(4):
            with Storage.open(tmp_path / f"node-{i}", create=False) as store:
                commits = store.load().commits
                blocks.add(commits[height - 1].block.hash)
                assert store.get_height() >= height
        assert len(blocks) == 1
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)
