"""The telemetry collector (``rppsim.testnet.collector``): snapshots POSTed to it become the
collector lines ``rppsim check FILE.jsonl`` reads, with the verdicts the same snapshots give
when written directly; garbage is refused (400 / 413), counted, and never stops the server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rppsim.cli import main
from rppsim.errors import UserError
from rppsim.telemetry.jsonl import read_telemetry_jsonl, write_telemetry_jsonl
from rppsim.testnet.collector import (
    NODE_HEADER,
    TIME_HEADER,
    BodyError,
    Collector,
    build_app,
    compute_figures,
)
from tests.telemetry.test_jsonl import run_collected

ROOT = Path(__file__).resolve().parents[2]
PROFILE = (ROOT / "node" / "profiles" / "testnet.toml").as_posix()
SCENARIO: dict[str, Any] = {
    "run": {"seed": 11, "duration_ms": 12_000, "prover": "model", "name": "collected"},
    "nodes": {"count": 4, "validators": 3, "profile": PROFILE},
    "network": {"topology": "complete", "link": {"latency_ms": [10, 30]}},
    "traffic": {"tx_per_s": 2.0},
    "telemetry": {"sample_interval_ms": 1_000},
}
"""Three validators and a full node, a snapshot a second each."""

Line = tuple[int, int, bytes]


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[Line]:
    """The snapshots a simulated run's collector received: (node, time, canonical JSON)."""
    _, collected = run_collected(SCENARIO, tmp_path_factory.mktemp("sim"))
    assert len(collected) > 20
    return collected


@asynccontextmanager
async def serving(collector: Collector, **options: Any) -> AsyncIterator[str]:
    """The collector's app on a free loopback port; its base URL."""
    runner = web.AppRunner(build_app(collector, **options), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def post_all(
    url: str, lines: Iterable[Line], *, path: str = "/telemetry", headers: bool = True
) -> list[tuple[int, dict[str, Any]]]:
    """POST each snapshot (with its node and time headers); the (status, answer) of each."""
    answers = []
    async with aiohttp.ClientSession() as session:
        for node, time_ms, payload in lines:
            sent = {"Content-Type": "application/json"}
            if headers:
                sent |= {NODE_HEADER: str(node), TIME_HEADER: str(time_ms)}
            async with session.post(url + path, data=payload, headers=sent) as answer:
                answers.append((answer.status, await answer.json()))
    return answers


def check_verdicts(path: Path, out: Path) -> list[dict[str, Any]]:
    """``rppsim check FILE.jsonl --out OUT``: its verdicts.json."""
    assert main(["check", str(path), "--out", str(out)]) in (0, 1)
    return json.loads((out / "verdicts.json").read_text())


def test_posted_snapshots_are_judged_as_the_same_snapshots_written(lines, tmp_path) -> None:
    direct = write_telemetry_jsonl(lines, tmp_path / "direct.jsonl")
    collected = tmp_path / "collected.jsonl"
    half = len(lines) // 2

    async def run() -> list[tuple[int, dict[str, Any]]]:
        collector = Collector.open(collected)
        async with serving(collector) as url:
            first = await post_all(url, lines[:half])
            return first + await post_all(url, lines[half:], path="/")

    answers = asyncio.run(run())
    assert [status for status, _ in answers] == [200] * len(lines)
    assert [(a["node"], a["time_ms"]) for _, a in answers] == [(n, t) for n, t, _ in lines]
    assert collected.read_bytes() == direct.read_bytes()
    expected = check_verdicts(direct, tmp_path / "direct")
    found = check_verdicts(collected, tmp_path / "collected")
    assert found == expected
    assert {v["passed"] for v in found} >= {True, None}


def test_without_headers_the_address_and_the_clock_decide(lines, tmp_path) -> None:
    clock = iter(range(1_000_000, 2_000_000, 500))
    collector = Collector.open(tmp_path / "t.jsonl", time_origin_ms=1_000_000)
    collector.clock = lambda: next(clock) / 1000
    for _, _, payload in lines:
        answer = collector.accept(payload, None, None)
        assert answer["written"]
    collector.close()
    frames = read_telemetry_jsonl(tmp_path / "t.jsonl")
    addresses = {n: json.loads(p)["node"]["address"] for n, _, p in lines}
    first_seen = list(dict.fromkeys(json.loads(p)["node"]["address"] for _, _, p in lines))
    assert frames["nodes"]["address"].tolist() == first_seen
    assert sorted(first_seen) == sorted(addresses.values())
    times = sorted(frames["snapshots"]["now_ms"].tolist())
    assert times == list(range(0, 500 * len(lines), 500))


def test_a_manifest_names_the_node_index(lines, tmp_path) -> None:
    _, time_ms, payload = lines[0]
    address = json.loads(payload)["node"]["address"]
    manifest = tmp_path / "testnet.json"
    manifest.write_text(json.dumps({"nodes": [{"index": 7, "address": address}]}))
    collector = Collector.open(tmp_path / "t.jsonl", manifest=manifest)
    assert collector.accept(payload, None, str(time_ms)) == {
        "node": 7, "time_ms": time_ms, "written": True,
    }  # fmt: skip


def test_a_retry_is_written_once_and_a_clash_moves_on(lines, tmp_path) -> None:
    node, time_ms, payload = lines[0]
    later = next(p for n, t, p in lines if n == node and t > time_ms)
    collector = Collector.open(tmp_path / "t.jsonl")
    assert collector.accept(payload, str(node), str(time_ms))["written"]
    assert collector.accept(payload, str(node), str(time_ms)) == {
        "node": node, "time_ms": time_ms, "written": False,
    }  # fmt: skip
    assert collector.accept(later, str(node), str(time_ms)) == {
        "node": node, "time_ms": time_ms + 1, "written": True,
    }  # fmt: skip
    health = collector.get_health()
    assert (health["duplicates"], health["retimed"], health["lines"]) == (1, 1, 2)
    collector.close()
    assert len(read_telemetry_jsonl(collector.out)["snapshots"]) == 2


def test_a_node_index_keeps_its_address(lines, tmp_path) -> None:
    by_address = {json.loads(p)["node"]["address"]: p for _, _, p in lines}
    first, second = list(by_address.values())[:2]
    collector = Collector.open(tmp_path / "t.jsonl")
    collector.accept(first, "0", "10")
    with pytest.raises(BodyError, match="address") as error:
        collector.accept(second, "0", "20")
    assert error.value.status == 400 and error.value.reason == "address-mismatch"


def test_a_restarted_collector_appends_and_remembers(lines, tmp_path) -> None:
    out = tmp_path / "t.jsonl"
    collector = Collector.open(out)
    for node, time_ms, payload in lines[:10]:
        collector.accept(payload, str(node), str(time_ms))
    collector.close()
    again = Collector.open(out)
    assert again.lines == 10 and again.size == out.stat().st_size
    node, time_ms, payload = lines[0]
    assert not again.accept(payload, str(node), str(time_ms))["written"]
    for node, time_ms, payload in lines[10:]:
        assert again.accept(payload, None, str(time_ms))["node"] == node  # by address
    again.close()
    assert out.read_bytes() == write_telemetry_jsonl(lines, tmp_path / "d.jsonl").read_bytes()


def test_a_bad_existing_file_stops_the_collector_in_one_line(tmp_path) -> None:
    out = tmp_path / "t.jsonl"
    out.write_text('{"node": 0, "time_ms": 5, "snapshot": {}}\n[1, 2]\n')
    with pytest.raises(UserError, match=r"t\.jsonl:2: expected telemetry JSONL lines"):
        Collector.open(out)


GARBAGE = [
    (b"", 400, "malformed"),
    (b"{not json", 400, "malformed"),
    (b"\xff\xfe{}", 400, "malformed"),
    (b"[1, 2, 3]", 400, "not-object"),
    (b'{"node": {"address": "a"}, "x": NaN}', 400, "malformed"),
    (b'{"rollout": {}}', 400, "no-node"),
    (b'{"node": {"address": "a", "reputation": {"stake": "lots"}}}', 400, "bad-snapshot"),
    (b'{"node": {"address": "a"}, "rejections": {"x": -1}}', 400, "bad-snapshot"),
]


def test_garbage_is_refused_counted_and_the_server_stays_up(lines, tmp_path) -> None:
    out = tmp_path / "t.jsonl"

    async def run() -> tuple[list[int], int, dict[str, Any], list[int]]:
        collector = Collector.open(out)
        async with serving(collector, max_body_bytes=64 * 1024) as url:
            statuses = []
            async with aiohttp.ClientSession() as session:
                for body, _, _ in GARBAGE:
                    async with session.post(url + "/telemetry", data=body) as answer:
                        statuses.append(answer.status)
                        assert "expected" in (await answer.json())["error"]
                async with session.post(url + "/telemetry", data=b"{" * 70_000) as answer:
                    too_large = answer.status
                async with session.post(url + "/telemetry?node=x", data=lines[0][2]) as answer:
                    statuses.append(answer.status)
                async with session.get(url + "/health") as answer:
                    health = await answer.json()
            good = await post_all(url, lines[:3])
        return statuses, too_large, health, [status for status, _ in good]

    statuses, too_large, health, good = asyncio.run(run())
    assert statuses == [status for _, status, _ in GARBAGE] + [400]
    assert too_large == 413
    reasons: dict[str, int] = {}
    for _, _, reason in GARBAGE:
        reasons[reason] = reasons.get(reason, 0) + 1
    assert health["rejected"] == dict(sorted({**reasons, "too-large": 1, "bad-node": 1}.items()))
    assert health["status"] == "ok" and health["lines"] == 0
    assert good == [200, 200, 200]
    assert len(read_telemetry_jsonl(out)["snapshots"]) == 3


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_any_body_is_written_readable_or_refused(tmp_path_factory, body: bytes) -> None:
    out = tmp_path_factory.mktemp("any") / "t.jsonl"
    collector = Collector.open(out)
    try:
        collector.accept(body, "0", "0")
    except BodyError as error:
        assert error.status == 400 and error.problem.startswith("expected")
    else:
        assert len(read_telemetry_jsonl(out)["snapshots"]) == 1
    finally:
        collector.close()


def test_figures_follow_the_file(lines, tmp_path) -> None:
    collector = Collector.open(tmp_path / "t.jsonl")
    assert compute_figures(collector.out, collector.size)["error"] == "no snapshot received yet"
    for node, time_ms, payload in lines[:8]:
        collector.accept(payload, str(node), str(time_ms))
    early = compute_figures(collector.out, collector.size)
    for node, time_ms, payload in lines[8:]:
        collector.accept(payload, str(node), str(time_ms))
    late = compute_figures(collector.out, collector.size)
    assert (early["snapshots"], late["snapshots"]) == (8, len(lines))
    assert early["error"] is None and late["error"] is None
    assert [d["id"] for d in late["dashboards"]] == ["rollout", "proofs", "consensus"]
    assert late["duration_ms"] > early["duration_ms"]


def test_figures_are_cached_between_refreshes(lines, tmp_path) -> None:
    async def run() -> list[int]:
        collector = Collector.open(tmp_path / "t.jsonl")
        seen = []
        async with serving(collector, refresh_s=3600) as url, aiohttp.ClientSession() as session:
            for batch in (lines[:4], lines[4:8]):
                await post_all(url, batch)
                async with session.get(url + "/api/figures") as answer:
                    seen.append((await answer.json())["snapshots"])
        return seen

    assert asyncio.run(run()) == [4, 4]


def test_the_command_serves_until_sigterm(lines, tmp_path) -> None:
    out = tmp_path / "telemetry.jsonl"
    command = [sys.executable, "-m", "rppsim", "collector", "--port", "0", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)

    async def talk(url: str) -> tuple[list[int], dict[str, Any]]:
        answers = await post_all(url, lines[:2])
        async with aiohttp.ClientSession() as session, session.get(url + "/health") as answer:
            return [status for status, _ in answers], await answer.json()

    try:
        assert process.stdout is not None
        listening = json.loads(process.stdout.readline())
        assert listening["message"] == "listening" and listening["host"] == "127.0.0.1"
        statuses, health = asyncio.run(talk(f"http://127.0.0.1:{listening['port']}"))
        assert statuses == [200, 200] and health["lines"] == 2
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert len(read_telemetry_jsonl(out)["snapshots"]) == 2


def test_line_separators_inside_strings_stay_inside_the_line(lines, tmp_path) -> None:
    node, time_ms, payload = lines[0]
    snapshot = {**json.loads(payload), "note": "a\u2028b\u0085c"}
    collector = Collector.open(tmp_path / "t.jsonl")
    collector.accept(json.dumps(snapshot).encode(), str(node), str(time_ms))
    collector.close()
    assert compute_figures(collector.out, collector.size)["snapshots"] == 1
    assert Collector.open(collector.out).lines == 1
    assert len(read_telemetry_jsonl(collector.out)["snapshots"]) == 1


def test_a_bad_flag_is_one_line(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["collector", "--port", "-3", "--out", str(tmp_path / "t.jsonl")])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--port" in error and "'-3'" in error


def test_an_out_that_is_a_folder_is_one_line(tmp_path, capsys) -> None:
    assert main(["collector", "--port", "0", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "expected a telemetry JSONL file to append to" in error
