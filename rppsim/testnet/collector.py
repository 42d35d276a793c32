"""The telemetry collector: ``rppsim collector --port P --out FILE.jsonl`` receives the
snapshots the nodes' telemetry loops POST and appends them to ``FILE.jsonl`` as collector
lines (``rppsim.telemetry.jsonl``), which ``rppsim check FILE.jsonl`` judges; it serves the
live dashboard over what it has collected (``rppsim.testnet.dashboard``).

Endpoints (aiohttp, 127.0.0.1 unless ``--host`` says otherwise):

- ``POST /telemetry`` (and ``POST /``): one snapshot, the node's canonical JSON
  (docs/operations.md#the-telemetry-loop). The line records the sender's node index and the
  sample time:

  - node index: the ``X-Rppsim-Node`` header (or ``?node=``); else the index of the
    snapshot's ``node.address`` in ``--manifest`` (a testnet's ``testnet.json``); else the
    address's index in order of first appearance in the file (the lowest free index);
  - time: the ``X-Rppsim-Time-Ms`` header (or ``?time_ms=``), the node's ``now`` when it took
    the snapshot; else the receipt time, Unix ms − ``--time-origin-ms``.

  A (node, time) already written with the same snapshot is a retry: answered 200, not written
  again; with another snapshot, the time moves on to the next free millisecond, so the file
  never holds a key twice. Answers: 200 ``{"node", "time_ms", "written"}``; 413 for a body
  over ``--max-body-bytes``; 400 for anything else that is no snapshot (invalid JSON, not an
  object, a payload ``rppsim check`` would refuse, a node index that disagrees with the
  address it had). Each refusal is counted by reason; none stops the server.
- ``GET /health``: ``{"status": "ok", ...}`` with the counters.
- ``GET /``: the dashboard page; ``GET /api/figures``: its JSON (the three dashboards with the
  verdicts ``rppsim check`` gives on the file so far), recomputed at most every
  ``--refresh-s`` seconds and only when lines were added.

Each line is flushed as written; an existing file is appended to, after its lines are read
(a bad one stops the collector before it starts, with one line naming it).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from rppsim.argtypes import OneLineParser, natural, positive, positive_number
from rppsim.errors import UserError, describe
from rppsim.node.effects import TELEMETRY_MAX_PAYLOAD_BYTES
from rppsim.telemetry.frames import compute_canonical_json
from rppsim.telemetry.jsonl import (
    TelemetryFileError,
    TelemetryRecord,
    build_telemetry_frames,
    compute_live_facts,
    parse_telemetry_line,
    replace_run_info,
)

__all__ = [
    "DEFAULT_HOST",
    "NODE_HEADER",
    "TIME_HEADER",
    "BodyError",
    "Collector",
    "FiguresCache",
    "add_parser",
    "build_app",
    "compute_collector_line",
    "compute_figures",
    "parse_snapshot_body",
    "read_collected_records",
]

DEFAULT_HOST = "127.0.0.1"
NODE_HEADER = "X-Rppsim-Node"
TIME_HEADER = "X-Rppsim-Time-Ms"
MAX_BODY_BYTES = TELEMETRY_MAX_PAYLOAD_BYTES + 64 * 1024
"""Default body limit: the node's encoded-snapshot limit and some room."""
REFRESH_S = 3.0
"""Default: the dashboard's figures are recomputed at most this often."""
POLL_MS = 2000
"""How often the page asks for the figures."""
PATHS = ("/telemetry", "/")


class BodyError(ValueError):
    """A POST that is no snapshot: the HTTP status, the counted reason and the problem."""

    def __init__(self, status: int, reason: str, problem: str) -> None:
        super().__init__(problem)
        self.status = status
        self.reason = reason
        self.problem = problem


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_snapshot_body(body: bytes) -> dict[str, Any]:
    """The snapshot a POST carries: a UTF-8 JSON object (no NaN or Infinity)."""
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as error:
        raise BodyError(400, "malformed", f"expected UTF-8 JSON, found {error}") from None
    except ValueError as error:
        raise BodyError(400, "malformed", f"expected JSON, found invalid JSON ({error})") from None
    if not isinstance(value, dict):
        raise BodyError(400, "not-object", f"expected a JSON object, found {describe(value)}")
    return value


def compute_collector_line(node: int, time_ms: int, snapshot_json: str) -> str:
    """One collector line, as ``write_telemetry_jsonl`` writes it (with its newline)."""
    return f'{{"node":{int(node)},"snapshot":{snapshot_json},"time_ms":{int(time_ms)}}}\n'


def _get_address(snapshot: Mapping[str, Any]) -> str | None:
    node = snapshot.get("node")
    address = node.get("address") if isinstance(node, dict) else None
    return address if isinstance(address, str) and address else None


def _parse_index(text: str | None, what: str) -> int | None:
    """A header or query value as an integer ≥ 0 (None when absent)."""
    if text is None or text == "":
        return None
    if not text.isdigit():
        raise BodyError(400, f"bad-{what}", f"expected {what} = an integer ≥ 0, found {text!r}")
    return int(text)


def _read_manifest(path: Path) -> dict[str, int]:
    """Address → node index of a testnet manifest (``nodes[].address`` and ``index``); an
    unreadable or partial manifest gives what it can (it may be being written)."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found: dict[str, int] = {}
    nodes = manifest.get("nodes") if isinstance(manifest, dict) else None
    for entry in nodes if isinstance(nodes, list) else []:
        if isinstance(entry, dict):
            index, address = entry.get("index"), entry.get("address")
            if type(index) is int and index >= 0 and isinstance(address, str) and address:
                found[address] = index
    return found


@dataclass
class Collector:
    """The file being written and what it holds: keys, node addresses, counters."""

    out: Path
    time_origin_ms: int = 0
    manifest: Path | None = None
    clock: Callable[[], float] = time.time
    digests: dict[tuple[int, int], bytes] = field(default_factory=dict)
    address_of: dict[int, str] = field(default_factory=dict)
    index_of: dict[str, int] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    size: int = 0
    lines: int = 0
    handle: IO[str] | None = None

    @classmethod
    def open(
        cls, out: Path, *, time_origin_ms: int = 0, manifest: Path | None = None
    ) -> Collector:
        """A collector appending to ``out`` (created with its folder if missing) after reading
        its lines; a bad line is a ``UserError``."""
        collector = cls(out, time_origin_ms, manifest)
        collector.restore()
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            collector.handle = out.open("a", encoding="utf-8", newline="\n")
        except OSError as error:
            expected = "a telemetry JSONL file to append to"
            raise UserError(str(out), "", expected, str(error)) from None
        return collector

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def restore(self) -> None:
        """Learn the keys and addresses of the lines ``out`` already holds."""
        if not self.out.is_file():
            return
        try:
            data = self.out.read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(str(self.out), "", "a UTF-8 telemetry JSONL file", str(error)) from None
        if text and not text.endswith("\n"):
            with self.out.open("a", encoding="utf-8") as handle:
                handle.write("\n")
            text += "\n"
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = parse_telemetry_line(line, number)
                if record is not None:
                    self.remember(record.node, _get_address(record.snapshot))
            except (ValueError, BodyError) as error:
                where = f"{self.out}:{number}"
                raise UserError(where, "", "telemetry JSONL lines", str(error)) from None
            if record is not None:
                key = (record.node, record.time_ms)
                self.digests[key] = _digest(compute_canonical_json(record.snapshot))
            self.lines += 1
        self.size = len(text.encode("utf-8"))

    def remember(self, node: int, address: str | None) -> None:
        """Record that ``node`` reports ``address``; a node changing address (or an address
        moving to another node) is a ``BodyError``."""
        if address is None:
            return
        known = self.address_of.get(node)
        if known is not None and known != address:
            problem = f"expected node {node}'s address {known!r}, found {address!r}"
            raise BodyError(400, "address-mismatch", problem)
        owner = self.index_of.get(address)
        if owner is not None and owner != node:
            problem = f"expected address {address!r} as node {owner}, found it as node {node}"
            raise BodyError(400, "address-mismatch", problem)
        self.address_of[node] = address
        self.index_of[address] = node

    def get_node(self, snapshot: Mapping[str, Any], given: int | None) -> int:
        """The sender's node index (module docstring)."""
        address = _get_address(snapshot)
        if given is not None:
            return given
        if address is None:
            problem = f"expected the {NODE_HEADER} header or a snapshot node.address, found neither"
            raise BodyError(400, "no-node", problem)
        if address in self.index_of:
            return self.index_of[address]
        if self.manifest is not None:
            listed = _read_manifest(self.manifest).get(address)
            if listed is not None:
                return listed
        used = set(self.address_of) | {node for node, _ in self.digests}
        return next(i for i in range(len(used) + 1) if i not in used)

    def get_time(self, given: int | None) -> int:
        """The sample time: as given, else the receipt time since the origin (≥ 0)."""
        if given is not None:
            return given
        return max(int(self.clock() * 1000) - self.time_origin_ms, 0)

    def accept(self, body: bytes, node_text: str | None, time_text: str | None) -> dict[str, Any]:
        """Write one POSTed snapshot (module docstring); a ``BodyError`` when it is none."""
        snapshot = parse_snapshot_body(body)
        node = self.get_node(snapshot, _parse_index(node_text, "node"))
        time_ms = self.get_time(_parse_index(time_text, "time_ms"))
        text = compute_canonical_json(snapshot)
        digest = _digest(text)
        while (node, time_ms) in self.digests:
            if self.digests[(node, time_ms)] == digest:
                self.counts["duplicates"] += 1
                return {"node": node, "time_ms": time_ms, "written": False}
            time_ms += 1
            self.counts["retimed"] += 1
        line = compute_collector_line(node, time_ms, text)
        check_snapshot_line(line, self.lines + 1)
        self.remember(node, _get_address(snapshot))
        assert self.handle is not None, "the collector is closed"
        self.handle.write(line)
        self.handle.flush()
        self.digests[(node, time_ms)] = digest
        self.size += len(line.encode("utf-8"))
        self.lines += 1
        self.counts["written"] += 1
        return {"node": node, "time_ms": time_ms, "written": True}

    def refuse(self, reason: str) -> None:
        self.rejected[reason] += 1

    def get_health(self) -> dict[str, Any]:
        """``GET /health``: status, file, lines and counters."""
        return {
            "status": "ok",
            "out": str(self.out),
            "lines": self.lines,
            "nodes": len({node for node, _ in self.digests}),
            "written": self.counts["written"],
            "duplicates": self.counts["duplicates"],
            "retimed": self.counts["retimed"],
            "rejected": dict(sorted(self.rejected.items())),
        }


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def check_snapshot_line(line: str, number: int) -> None:
    """Refuse (``BodyError``) a line whose snapshot ``rppsim check`` would refuse: the line
    read back and the frames of its one record built."""
    try:
        record = parse_telemetry_line(line, number)
        assert record is not None
        build_telemetry_frames([record], "POST")
    except (ValueError, TypeError) as error:
        problem = error.problem if isinstance(error, TelemetryFileError) else str(error)
        raise BodyError(400, "bad-snapshot", problem) from None


# --------------------------------------------------------------------------------------------
# Figures over the file so far.


def read_collected_records(path: Path, size: int) -> list[TelemetryRecord]:
    """The records of the first ``size`` bytes of ``path`` (whole lines the collector wrote),
    sorted as ``read_telemetry_records`` sorts them."""
    with path.open("rb") as handle:
        text = handle.read(size).decode("utf-8")
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                record = parse_telemetry_line(line, number)
            except ValueError as error:
                raise TelemetryFileError(path, number, str(error)) from None
            if record is not None:
                records.append(record)
    return sorted(records, key=lambda r: (r.node, r.time_ms, r.line))


def compute_figures(path: Path, size: int) -> dict[str, Any]:
    """The dashboard's JSON over the first ``size`` bytes of ``path``: the run facts, the
    verdict counts and the three dashboards; ``error`` says why there are none yet."""
    from rppsim.checks.verdict import compute_verdict_counts
    from rppsim.telemetry.runfolder import get_run_info
    from rppsim.testnet.dashboard import compute_dashboards
    from rppsim.verdicts import evaluate_verdicts

    records = read_collected_records(path, size) if size else []
    if not records:
        return {"snapshots": 0, "error": "no snapshot received yet", "dashboards": []}
    try:
        frames = build_telemetry_frames(records, path)
        frames = replace_run_info(frames, compute_live_facts(frames))
        verdicts = evaluate_verdicts(frames, None)
    except (TelemetryFileError, UserError, ValueError) as error:
        return {"snapshots": len(records), "error": str(error), "dashboards": []}
    info = get_run_info(frames)
    return {
        "snapshots": len(records),
        "nodes": len(frames["nodes"]),
        "first_ms": int(info["first_ms"]),
        "last_ms": int(info["last_ms"]),
        "duration_ms": int(info["duration_ms"]),
        "profile": Path(info["profile_path"]).name,
        "verdicts": compute_verdict_counts(verdicts),
        "error": None,
        "dashboards": compute_dashboards(frames, verdicts),
    }


@dataclass
class FiguresCache:
    """The last figures and the file size they were computed at; recomputed (in a worker
    thread, one at a time) only when the file grew, at most every ``refresh_s`` and never
    more often than every two computing times (a long file does not starve the server)."""

    refresh_s: float
    figures: dict[str, Any] | None = None
    size: int = -1
    at: float = float("-inf")
    took: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self, collector: Collector) -> dict[str, Any]:
        """The figures over the file, recomputed when due (class docstring)."""
        async with self.lock:
            stale = self.size != collector.size
            due = time.monotonic() - self.at >= max(self.refresh_s, 2 * self.took)
            if self.figures is None or (stale and due):
                size, start = collector.size, time.monotonic()
                self.figures = await asyncio.to_thread(compute_figures, collector.out, size)
                self.size, self.at = size, time.monotonic()
                self.took = self.at - start
        return {**self.figures, "collector": collector.get_health(), "poll_ms": POLL_MS}


# --------------------------------------------------------------------------------------------
# The server.

COLLECTOR_KEY = web.AppKey("collector", Collector)
FIGURES_KEY = web.AppKey("figures", FiguresCache)
LIMIT_KEY = web.AppKey("max_body_bytes", int)


async def post_telemetry(request: web.Request) -> web.Response:
    """``POST /telemetry``: write one snapshot (module docstring)."""
    collector = request.app[COLLECTOR_KEY]
    collector.counts["received"] += 1
    try:
        limit = request.app[LIMIT_KEY]
        if request.content_length is not None and request.content_length > limit:
            raise BodyError(413, "too-large", f"expected at most {limit} bytes")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise BodyError(413, "too-large", f"expected at most {limit} bytes") from None
        node = request.headers.get(NODE_HEADER, request.query.get("node"))
        time_ms = request.headers.get(TIME_HEADER, request.query.get("time_ms"))
        answer = collector.accept(body, node, time_ms)
    except BodyError as error:
        collector.refuse(error.reason)
        return web.json_response({"error": error.problem}, status=error.status)
    return web.json_response(answer)


async def get_health(request: web.Request) -> web.Response:
    """``GET /health``."""
    return web.json_response(request.app[COLLECTOR_KEY].get_health())


async def get_figures(request: web.Request) -> web.Response:
    """``GET /api/figures``: the dashboard's JSON."""
    figures = await request.app[FIGURES_KEY].get(request.app[COLLECTOR_KEY])
    return web.json_response(figures, dumps=compute_canonical_json)


async def get_page(request: web.Request) -> web.Response:
    """``GET /``: the dashboard page."""
    from rppsim.testnet.dashboard import get_page as read_page

    return web.Response(text=read_page(), content_type="text/html", charset="utf-8")


def build_app(
    collector: Collector, *, refresh_s: float = REFRESH_S, max_body_bytes: int = MAX_BODY_BYTES
) -> web.Application:
    """The collector's aiohttp application (closes the file on cleanup)."""
    app = web.Application(client_max_size=max_body_bytes)
    app[COLLECTOR_KEY] = collector
    app[FIGURES_KEY] = FiguresCache(refresh_s)
    app[LIMIT_KEY] = max_body_bytes
    for path in PATHS:
        app.router.add_post(path, post_telemetry)
    app.router.add_get("/", get_page)
    app.router.add_get("/health", get_health)
    app.router.add_get("/api/figures", get_figures)

    async def close(_: web.Application) -> None:
        collector.close()

    app.on_cleanup.append(close)
    return app


async def serve(args: argparse.Namespace) -> None:
    """Run the collector until SIGTERM or SIGINT."""
    manifest = Path(args.manifest) if args.manifest else None
    collector = Collector.open(
        Path(args.out), time_origin_ms=args.time_origin_ms, manifest=manifest
    )
    app = build_app(collector, refresh_s=args.refresh_s, max_body_bytes=args.max_body_bytes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port)
        try:
            await site.start()
        except OSError as error:
            where = f"{args.host}:{args.port}"
            expected = f"a free port at {where}"
            raise UserError("rppsim collector", "--port", expected, str(error)) from None
        port = runner.addresses[0][1] if runner.addresses else args.port
        listening = {"message": "listening", "host": args.host, "port": port, "out": args.out}
        print(json.dumps(listening), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def cmd_collector(args: argparse.Namespace) -> int:
    """``rppsim collector``: serve until stopped; exit 0."""
    asyncio.run(serve(args))
    print(json.dumps({"message": "stopped", "out": args.out}), file=sys.stderr, flush=True)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``rppsim collector``."""
    parser: OneLineParser = sub.add_parser(
        "collector",
        help="receive the nodes' telemetry snapshots into a JSONL file; live dashboard",
        description=(
            "Receive the telemetry snapshots nodes POST (/telemetry) into a JSONL file that"
            " `rppsim check FILE.jsonl` judges; serve a live dashboard of it at /."
        ),
    )
    parser.add_argument("--port", type=natural, required=True, help="HTTP port (0: any free)")
    parser.add_argument("--out", required=True, metavar="FILE", help="telemetry JSONL to append")
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"bind address (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--time-origin-ms",
        type=natural,
        default=0,
        help=f"Unix ms of time 0, for snapshots sent without {TIME_HEADER} (default 0)",
    )
    parser.add_argument(
        "--manifest",
        metavar="FILE",
        help="testnet.json naming each node's index and address (default: by first appearance)",
    )
    parser.add_argument(
        "--refresh-s",
        type=positive_number,
        default=REFRESH_S,
        help=f"recompute the dashboard's figures at most this often (default {REFRESH_S:g} s)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=positive,
        default=MAX_BODY_BYTES,
        help=f"largest snapshot body accepted, else 413 (default {MAX_BODY_BYTES})",
    )
    parser.set_defaults(func=cmd_collector)
