"""``rppsim node run | migrate | init``: one testnet node as a process.

``run`` loads the node config (``extends`` resolved) and the genesis, opens the store in
``--data-dir`` (``rppsim.testnet.storage``: keys, finalized blocks, state), and drives the
node (``rppsim.testnet.process``) until SIGTERM or SIGINT, then stops cleanly and exits 0.
``init`` writes a key seed into a new store; ``migrate`` brings an old store's schema to the
current version (a node refuses to start on an old schema and names this command).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING

from rppsim.argtypes import OneLineParser, natural
from rppsim.errors import UserError

if TYPE_CHECKING:
    from rppsim.node.config import NodeConfig
    from rppsim.node.rules import Rules
    from rppsim.testnet.process import NodeProcess

KEY_SEED_BYTES = 32


def host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (port 0: any free port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65_535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, found {text!r}")
    return host, int(port)


def peer_list(text: str) -> tuple[tuple[str, int], ...]:
    """Comma-separated ``HOST:PORT`` peers (empty: none)."""
    peers = []
    for item in text.split(","):
        if item.strip():
            host, port = host_port(item)
            if port == 0:
                raise argparse.ArgumentTypeError(f"expected a peer's HOST:PORT, found {item!r}")
            peers.append((host, port))
    return tuple(peers)


def key_seed(text: str) -> bytes:
    """A 32-byte key seed as 64 hex digits."""
    try:
        seed = bytes.fromhex(text.strip())
    except ValueError:
        seed = b""
    if len(seed) != KEY_SEED_BYTES:
        raise argparse.ArgumentTypeError(f"expected 64 hex digits (32 bytes), found {text!r}")
    return seed


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``node`` with ``run``, ``migrate`` and ``init``."""
    node = sub.add_parser("node", help="run one testnet node process, migrate or init its store")
    commands = node.add_subparsers(dest="node_command", required=True, parser_class=OneLineParser)

    run = commands.add_parser("run", help="run a node until SIGTERM or SIGINT")
    run.add_argument("--config", required=True, help="node config (TOML; extends resolved)")
    run.add_argument(
        "--genesis", help="genesis file; must be the genesis the config names (default: it)"
    )
    run.add_argument("--data-dir", required=True, help="the node's store folder")
    run.add_argument(
        "--listen", type=host_port, default=("127.0.0.1", 0), help="p2p HOST:PORT"
    )
    run.add_argument("--http", type=host_port, default=("127.0.0.1", 0), help="HTTP HOST:PORT")
    run.add_argument("--peers", type=peer_list, default=(), help="HOST:PORT,HOST:PORT,...")
    run.add_argument(
        "--time-origin-ms",
        type=natural,
        help="Unix ms of node time 0, the same for every node (default: the genesis time)",
    )
    run.add_argument("--log", help="JSON-lines log file (default: stderr)")
    run.add_argument(
        "--rules",
        help="a TOML file whose [rules] table sets the protocol rules, as a scenario's does"
        " (a scenario file works; default: the chain's)",
    )
    run.add_argument(
        "--index",
        type=natural,
        help="the node's index in the deployment: in telemetry log lines and the header of"
        " each POST (default: its position among the genesis validators for log lines, none"
        " sent to the collector)",
    )
    run.set_defaults(func=cmd_node_run)

    migrate = commands.add_parser("migrate", help="migrate a store to the current schema")
    migrate.add_argument("--data-dir", required=True, help="the node's store folder")
    migrate.set_defaults(func=cmd_node_migrate)

    init = commands.add_parser("init", help="write a key seed into a new store")
    init.add_argument("--data-dir", required=True, help="the node's store folder")
    init.add_argument("--key-seed", type=key_seed, required=True, help="64 hex digits")
    init.set_defaults(func=cmd_node_init)


def load_node_config(config_path: str, genesis_path: str | None) -> NodeConfig:
    """The config, checked against ``--genesis`` (same genesis hash) when one is given."""
    from rppsim.node.config import load_config
    from rppsim.node.genesis import compute_genesis_hash, load_genesis

    if not Path(config_path).is_file():
        raise UserError(config_path, "", "a node config file", "nothing at that path")
    config, _ = load_config(config_path)
    if genesis_path is not None:
        if not Path(genesis_path).is_file():
            raise UserError(genesis_path, "", "a genesis file", "nothing at that path")
        reputation = config.reputation
        genesis, _ = load_genesis(
            Path(genesis_path),
            thresholds=reputation.tier_thresholds,
            timetoke=reputation.timetoke,
        )
        expected, found = compute_genesis_hash(genesis), compute_genesis_hash(config.genesis)
        if expected != found:
            raise UserError(
                config_path,
                "genesis_path",
                f"the genesis of --genesis {genesis_path} (hash {expected[:16]}…)",
                f"another genesis (hash {found[:16]}…)",
            )
    return config


def load_rules(path: str | None) -> Rules:
    """The ``[rules]`` table of ``path`` (the chain's rules without a file)."""
    from rppsim.node.genesis import read_toml
    from rppsim.node.rules import Rules, parse_rules

    if path is None:
        return Rules()
    if not Path(path).is_file():
        raise UserError(path, "", "a TOML file with a [rules] table", "nothing at that path")
    table = read_toml(Path(path)).get("rules", {})
    if not isinstance(table, dict):
        raise UserError(path, "rules", "a table", type(table).__name__)
    return parse_rules(table, path)


def cmd_node_run(args: argparse.Namespace) -> int:
    """Run one node until a signal; exit 0 on a clean stop, 1 when the driver failed."""
    from rppsim.node.node import NodeKeys
    from rppsim.testnet.process import JsonLog, NodeProcess
    from rppsim.testnet.storage import Storage

    config = load_node_config(args.config, args.genesis)
    rules = load_rules(args.rules)
    data_dir = Path(args.data_dir)
    with ExitStack() as stack:
        stream: IO[str] = sys.stderr
        if args.log:
            Path(args.log).parent.mkdir(parents=True, exist_ok=True)
            stream = stack.enter_context(open(args.log, "a", encoding="utf-8"))
        store = Storage.open(data_dir, create=True)
        stack.callback(store.close)  # idempotent: a clean stop has closed it already
        seed = store.load_keys()
        if seed is None:
            seed = os.urandom(KEY_SEED_BYTES)
            store.save_keys(seed)
        keys = NodeKeys.from_seed(seed)
        process = NodeProcess(
            config,
            keys,
            store,
            listen=args.listen,
            http=args.http,
            peers=args.peers,
            time_origin_ms=args.time_origin_ms,
            log=JsonLog(stream),
            index=args.index,
            rules=rules,
        )
        asyncio.run(_run(process))
    return 1 if process.failure is not None else 0


async def _run(process: NodeProcess) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, process.stopping.set)
    await process.run_until_stopped()


def cmd_node_migrate(args: argparse.Namespace) -> int:
    """Migrate the store in ``--data-dir``; print what changed."""
    from rppsim.testnet.storage import migrate

    data_dir = Path(args.data_dir)
    if not data_dir.is_dir():
        raise UserError(args.data_dir, "--data-dir", "a node's store folder", "no such folder")
    before, after = migrate(data_dir)
    if before == after:
        print(f"rppsim node migrate: {data_dir}: schema version {after}, already current")
    else:
        print(f"rppsim node migrate: {data_dir}: schema version {before} → {after}")
    return 0


def cmd_node_init(args: argparse.Namespace) -> int:
    """Write the key seed into the store in ``--data-dir``; print the node's address."""
    from rppsim.node.node import NodeKeys
    from rppsim.testnet.storage import Storage

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Storage.open(data_dir, create=True)
    try:
        store.save_keys(args.key_seed)
    finally:
        store.close()
    print(NodeKeys.from_seed(args.key_seed).address)
    return 0
