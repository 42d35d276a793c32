"""``rppsim testnet``: a small live network of node processes and a collector on loopback.

``up`` writes a testnet folder (docs/testnet.md#the-testnet-folder): the genesis the simulator
would build for the same nodes and seed (with ``--scenario``: the scenario's, by the same
builders), one config per node (an overlay of a shipped channel profile with a short block
time and the collector as telemetry endpoint), each node's key in its store (``rppsim node
init``); then it starts the collector and the nodes as detached processes (logs to files,
pids in ``testnet.json``) and waits until every node answers ``/health/live``. ``status``,
``down``, ``kill``, ``restart`` and ``upgrade`` (a rolling restart onto another channel
profile) act on that folder, so a rollout drill runs live.

Only this package reads real clocks and starts processes; the folder's manifest is the one
place that says what runs where.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import tomli_w

from rppsim.argtypes import OneLineParser, natural, positive, positive_number
from rppsim.errors import UserError, compute_one_line
from rppsim.node.config import ReleaseChannel
from rppsim.node.genesis import GenesisConfig
from rppsim.node.rules import Rules
from rppsim.rng import SeedTree

MANIFEST: Final = "testnet.json"
RULES_FILE: Final = "rules.toml"
GENESIS_FILE: Final = "genesis.toml"
TELEMETRY_FILE: Final = "telemetry.jsonl"
COLLECTOR_LOG: Final = "collector.log"
NODE_CONFIG: Final = "node.toml"
NODE_LOG: Final = "node.log"
NODE_OUTPUT: Final = "process.log"
"""A node process's stdout and stderr (its JSON log goes to ``node.log``)."""
HOST: Final = "127.0.0.1"
SHIPPED_PROFILES: Final = Path(__file__).resolve().parents[2] / "node" / "profiles"
DEFAULT_PROFILE: Final = "testnet"
DEFAULT_BLOCK_TIME_MS: Final = 1000
"""A live drill's block time: ten blocks in seconds, not minutes."""
DEFAULT_SAMPLE_INTERVAL_S: Final = 1
"""Telemetry every second, so a short drill has many snapshots to judge."""
START_TIMEOUT_S: Final = 90.0
STOP_TIMEOUT_S: Final = 10.0
CATCH_UP_TIMEOUT_S: Final = 60.0
PROBE_TIMEOUT_S: Final = 2.0
POLL_S: Final = 1.0
"""How often ``up``, ``restart`` and ``upgrade`` ask a node: at most one request a second, the
rate the chain's RPC limiter refills (docs/operations.md#limits-and-queues), so waiting never
spends a node's burst and turns its answers into 429s."""


class TestnetError(Exception):
    """A testnet that did not do what was asked (a node died, never got healthy, never caught
    up): one line, exit 1 (the input was fine; the run was not)."""


# --------------------------------------------------------------------------------------------
# The manifest.


@dataclass(frozen=True, slots=True)
class Testnet:
    """A testnet folder and its manifest (``testnet.json``) as plain JSON data."""

    __test__ = False  # not a pytest test class, whatever its name

    root: Path
    data: dict[str, Any]

    @property
    def nodes(self) -> list[dict[str, Any]]:
        """The node entries, by index."""
        nodes: list[dict[str, Any]] = self.data["nodes"]
        return nodes

    @property
    def collector(self) -> dict[str, Any]:
        """The collector entry."""
        collector: dict[str, Any] = self.data["collector"]
        return collector

    def path(self, relative: str) -> Path:
        """A path the manifest records relative to the folder."""
        return self.root / relative

    def get_node(self, index: int) -> dict[str, Any]:
        """Node ``index``'s entry; a ``UserError`` naming the indices there are."""
        if not 0 <= index < len(self.nodes):
            expected = f"a node index in [0, {len(self.nodes) - 1}]"
            raise UserError(str(self.root / MANIFEST), "NODE", expected, str(index))
        return self.nodes[index]

    def save(self) -> None:
        """Write the manifest atomically (a reader never sees half a file)."""
        write_json_atomic(self.root / MANIFEST, self.data)


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """``data`` as indented JSON at ``path``, through a temporary file and a rename."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)


def load_testnet(folder: Path | str) -> Testnet:
    """The testnet of a folder ``rppsim testnet up`` wrote; a ``UserError`` when it is not one."""
    root = Path(folder)
    path = root / MANIFEST
    if not path.is_file():
        expected = "a testnet folder (written by rppsim testnet up)"
        raise UserError(str(root), "", expected, f"no {MANIFEST} in it")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UserError(str(path), "", "the testnet manifest (JSON)", str(error)) from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise UserError(str(path), "nodes", "a list of node entries", "none")
    if not isinstance(data.get("collector"), dict):
        raise UserError(str(path), "collector", "the collector entry", "none")
    return Testnet(root, data)


# --------------------------------------------------------------------------------------------
# Processes.


def _read_proc(pid: int, name: str) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return None


def is_running(pid: int | None, argv: Sequence[str] | None = None) -> bool:
    """Whether process ``pid`` is alive (not a zombie) and, where ``/proc`` tells, runs
    ``argv`` (so a pid the system reused for another program is not ours)."""
    if not pid:
        return False
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child that exited: reaped now
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return argv is None
    stat = _read_proc(pid, "stat")
    if stat is not None and stat.rpartition(b")")[2].split()[:1] == [b"Z"]:
        return False
    cmdline = _read_proc(pid, "cmdline")
    if argv is None or cmdline is None:
        return True
    return cmdline.rstrip(b"\0").split(b"\0") == [a.encode() for a in argv]


def start_process(argv: Sequence[str], cwd: Path, output: Path) -> int:
    """Start ``argv`` detached (own session, stdin closed, stdout and stderr appended to
    ``output``); its pid."""
    with output.open("ab") as sink:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout_s`` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def stop_processes(entries: Iterable[Mapping[str, Any]], sig: int, timeout_s: float) -> int:
    """Send ``sig`` to every running entry, wait up to ``timeout_s`` for them to exit, SIGKILL
    the stragglers; how many were running."""
    running = [e for e in entries if is_running(e.get("pid"), e.get("argv"))]
    for entry in running:
        _signal(entry["pid"], sig)
    if sig != signal.SIGKILL:
        alive = lambda: [e for e in running if is_running(e["pid"], e.get("argv"))]  # noqa: E731
        if not wait_until(lambda: not alive(), timeout_s):
            for entry in alive():
                _signal(entry["pid"], signal.SIGKILL)
    wait_until(lambda: not any(is_running(e["pid"], e.get("argv")) for e in running), timeout_s)
    return len(running)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def compute_free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 now (bound together, then released)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def rppsim_argv(*args: str) -> list[str]:
    """The command line running ``rppsim args...`` with this interpreter."""
    return [sys.executable, "-m", "rppsim", *args]


# --------------------------------------------------------------------------------------------
# HTTP probes.


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer: status code (0: no answer), body text, and the error if none."""

    status: int
    body: str
    error: str = ""

    def json(self) -> Any:
        """The body as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def fetch(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> Answer:
    """GET ``url``; any status is an answer, a refused or timed-out connection is status 0."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return Answer(response.status, response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read().decode("utf-8", "replace"))
    except (OSError, ValueError) as error:
        return Answer(0, "", str(getattr(error, "reason", error)))


def node_url(entry: Mapping[str, Any], route: str) -> str:
    """The URL of ``route`` on a node's HTTP server."""
    return f"http://{HOST}:{entry['http_port']}{route}"


def get_height(entry: Mapping[str, Any]) -> int | None:
    """A node's finalized height from ``/status/node`` (None when it does not answer)."""
    answer = fetch(node_url(entry, "/status/node"))
    body = answer.json() if answer.status == 200 else None
    height = body.get("height") if isinstance(body, dict) else None
    return height if isinstance(height, int) else None


def is_live(entry: Mapping[str, Any]) -> bool:
    """Whether a node answers ``/health/live`` with 200."""
    return fetch(node_url(entry, "/health/live")).status == 200


def compute_peer_count(metrics_text: str) -> int | None:
    """The node's connected peers from its ``/metrics`` (the chain's ``network.peer_count``)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        for family in text_string_to_metric_families(metrics_text):
            if family.name.endswith("network_peer_count"):
                return int(sum(sample.value for sample in family.samples))
    except ValueError:
        return None
    return None


# --------------------------------------------------------------------------------------------
# Writing the folder: keys, genesis, configs.


@dataclass(frozen=True, slots=True)
class Plan:
    """What ``up`` writes before it starts anything."""

    key_seeds: list[bytes]
    addresses: list[str]
    validators: int
    genesis: GenesisConfig
    profile: Path
    params: dict[str, Any]
    """Profile overrides (key path → value): the scenario's ``[params]``, then the drill's."""
    seed: int
    scenario: str | None
    tx_per_s: float
    """Transfers per second the traffic process sends (0: none)."""
    rules: dict[str, Any]
    """The ``[rules]`` the nodes run (a scenario's, else the chain's)."""
    group_profiles: dict[int, Path] = dataclasses.field(default_factory=dict)
    """Nodes of a scenario's ``[[nodes.group]]``: the group's profile instead of ``profile``."""

    def get_profile(self, index: int) -> Path:
        """The profile node ``index`` starts on."""
        return self.group_profiles.get(index, self.profile)


def resolve_profile(value: str) -> Path:
    """A release channel's shipped profile (``node/profiles/<channel>.toml``) or a profile file."""
    channels = [c.value for c in ReleaseChannel]
    if value in channels:
        return SHIPPED_PROFILES / f"{value}.toml"
    path = Path(value)
    if path.suffix == ".toml" and path.is_file():
        return path.resolve()
    expected = f"a release channel ({', '.join(channels)}) or a profile file"
    raise UserError("rppsim testnet", "--profile", expected, repr(value))


def compute_wallet_addresses(tree: SeedTree) -> list[str]:
    """The simulator's traffic wallets of the seed (genesis lists them, as a run's does)."""
    from rppsim.node.signing import generate_keypair
    from rppsim.sim.spec import TRAFFIC_WALLETS

    return [
        generate_keypair(tree.seed_bytes("wallet", j)).address for j in range(TRAFFIC_WALLETS)
    ]


def build_plan(args: argparse.Namespace) -> Plan:
    """Keys, genesis and profile of the testnet: the simulator's for the same seed (with
    ``--scenario``, built by the simulator's builders from the scenario)."""
    from rppsim.node.node import NodeKeys

    drill = {"block_time_ms": args.block_time_ms}
    if args.scenario is None:
        from rppsim.node.genesis import build_genesis

        nodes = args.nodes or 4
        validators = nodes if args.validators is None else args.validators
        if validators > nodes:
            raise UserError("rppsim testnet", "--validators", f"at most --nodes ({nodes})",
                            str(validators))
        seed = args.seed or 0
        tree = SeedTree(seed)
        seeds = [tree.seed_bytes("node", i, "keys") for i in range(nodes)]
        keys = [NodeKeys.from_seed(s) for s in seeds]
        wallets = [_Addressed(w) for w in compute_wallet_addresses(tree)]
        genesis = build_genesis(keys[:validators], wallets)
        profile = resolve_profile(args.profile or DEFAULT_PROFILE)
        tx_per_s = DEFAULT_TX_PER_S if args.tx_per_s is None else args.tx_per_s
        return Plan(seeds, [k.address for k in keys], validators, genesis, profile, drill, seed,
                    None, tx_per_s, compute_rules_table(Rules()))
    return _build_scenario_plan(args, drill)


@dataclass(frozen=True, slots=True)
class _Addressed:
    address: str


def _build_scenario_plan(args: argparse.Namespace, drill: dict[str, Any]) -> Plan:
    """The plan of ``--scenario``: its node count, validators, profile, ``[params]`` and
    genesis, keys and genesis as ``rppsim run`` builds them for the seed."""
    from rppsim.scenario import load_scenario
    from rppsim.sim.builders import build_node_keys, build_run_configs, compute_group_nodes
    from rppsim.sim.spec import TRAFFIC_WALLETS

    scenario = load_scenario(Path(args.scenario))
    for flag, given, own in (
        ("--nodes", args.nodes, scenario.nodes.count),
        ("--validators", args.validators, scenario.nodes.validators),
    ):
        if given is not None and given != own:
            raise UserError("rppsim testnet", flag, f"the scenario's {own} (or leave it out)",
                            str(given))
    seed = scenario.run.seed if args.seed is None else args.seed
    tree = SeedTree(seed)
    keys = build_node_keys(scenario, tree)
    from rppsim.node.signing import generate_keypair

    wallets = [generate_keypair(tree.seed_bytes("wallet", j)) for j in range(TRAFFIC_WALLETS)]
    configs = build_run_configs(scenario, keys, wallets, tree)
    profile = (
        resolve_profile(args.profile) if args.profile else scenario.nodes.profile_path.resolve()
    )
    params = dict(scenario.params)
    interval_ms = scenario.telemetry.sample_interval_ms
    if interval_ms is not None:
        params["rollout.telemetry.sample_interval_secs"] = max(interval_ms // 1000, 1)
    if "block_time_ms" not in params:
        params.update(drill)
    seeds = [k.keypair.secret_key[:32] for k in keys]  # libsodium's secret: seed ‖ public key
    tx_per_s = scenario.traffic.tx_per_s if args.tx_per_s is None else args.tx_per_s
    groups = compute_group_nodes(scenario.nodes, tree)
    group_profiles = {
        i: group.profile_path.resolve()
        for group, nodes in zip(scenario.nodes.groups, groups, strict=True)
        for i in nodes
    }
    return Plan(seeds, [k.address for k in keys], scenario.nodes.validators, configs[0].genesis,
                profile, params, seed, str(Path(args.scenario).resolve()), tx_per_s,
                compute_rules_table(scenario.rules), group_profiles)


def compute_rules_table(rules: Rules) -> dict[str, Any]:
    """``rules`` as the ``[rules]`` table ``rppsim node run --rules`` reads."""
    return {k: v for k, v in dataclasses.asdict(rules).items() if v is not None}


def compute_genesis_document(genesis: GenesisConfig) -> dict[str, Any]:
    """``genesis`` as the TOML document ``node/genesis.toml`` is (unset seeds left out)."""
    accounts = []
    for account in genesis.accounts:
        entry: dict[str, Any] = {
            "address": account.address,
            "balance": account.balance,
            "stake": account.stake,
        }
        if account.validator:
            entry["validator"] = True
        if account.zsi_validated:
            entry["zsi_validated"] = True
        if account.uptime_hours:
            entry["uptime_hours"] = account.uptime_hours
        if account.consensus_success:
            entry["consensus_success"] = account.consensus_success
        if account.key_seed is not None:
            entry["key_seed"] = account.key_seed
        accounts.append(entry)
    return {"genesis": {"chain_id": genesis.chain_id, "accounts": accounts}}


def compute_node_config(
    profile: Path, params: Mapping[str, Any], collector_port: int
) -> dict[str, Any]:
    """A node's config: an overlay of ``profile`` with the overrides, the testnet's genesis
    and data dir, and telemetry on, POSTed to the collector."""
    from rppsim.node.config import apply_overrides

    document: dict[str, Any] = {
        "extends": str(profile),
        "data_dir": "./data",
        "genesis_path": f"../{GENESIS_FILE}",
    }
    telemetry = {
        "rollout.telemetry.enabled": True,
        "rollout.telemetry.endpoint": f"http://{HOST}:{collector_port}/telemetry",
        "rollout.telemetry.sample_interval_secs": DEFAULT_SAMPLE_INTERVAL_S,
    }
    return apply_overrides(document, {**telemetry, **params})


def write_node_config(path: Path, document: Mapping[str, Any]) -> None:
    """Write a node config (``extends`` first, as the shipped profiles have it)."""
    head = {k: v for k, v in document.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in document.items() if isinstance(v, dict)}
    path.write_text(
        "# Written by rppsim testnet up: an overlay of a shipped channel profile.\n"
        + tomli_w.dumps({**head, **tables}),
        encoding="utf-8",
    )


def check_node_config(path: Path) -> None:
    """The written config loads by the node's own rules (a bad scenario override shows here)."""
    from rppsim.node.config import load_config

    load_config(path)


def check_target(root: Path, *, force: bool) -> None:
    """``up`` may write into ``root``: it does not exist, is empty, or (with ``--force``) holds
    a testnet that is not running (replaced whole); a running testnet is refused in one line,
    and so is a folder holding anything else (``--force`` never deletes a stranger's files)."""
    if not root.exists():
        return
    if not root.is_dir():
        raise UserError(str(root), "", "a folder", "a file")
    has_testnet = (root / MANIFEST).is_file()
    if has_testnet:
        testnet = load_testnet(root)
        running = [e for e in _entries(testnet) if is_running(e.get("pid"), e.get("argv"))]
        if running:
            expected = "a folder without a running testnet (rppsim testnet down it first)"
            raise UserError(str(root), "", expected, f"{len(running)} of its processes running")
    if not any(root.iterdir()):
        return
    if not has_testnet:
        expected = "a new or empty folder (or a stopped testnet, with --force)"
        raise UserError(str(root), "", expected, f"files and no {MANIFEST}")
    if not force:
        expected = "a new or empty folder (--force replaces a stopped testnet)"
        raise UserError(str(root), "", expected, "a stopped testnet")


def _entries(testnet: Testnet) -> list[dict[str, Any]]:
    traffic = testnet.data.get("traffic")
    return [*testnet.nodes, testnet.collector, *([traffic] if traffic else [])]


def write_testnet(root: Path, plan: Plan, ports: Sequence[int]) -> Testnet:
    """The folder (docs/testnet.md#the-testnet-folder) and its manifest; keys go into each
    node's store through ``rppsim node init``."""
    import shutil

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / GENESIS_FILE).write_text(
        "# Written by rppsim testnet up: the testnet's genesis.\n"
        + tomli_w.dumps(compute_genesis_document(plan.genesis)),
        encoding="utf-8",
    )
    (root / RULES_FILE).write_text(
        "# Written by rppsim testnet up: the protocol rules every node runs.\n"
        + tomli_w.dumps({"rules": plan.rules}),
        encoding="utf-8",
    )
    collector_port, node_ports = ports[0], ports[1:]
    origin_ms = time.time_ns() // 1_000_000
    count = len(plan.addresses)
    p2p = [node_ports[2 * i] for i in range(count)]
    nodes = []
    for i, address in enumerate(plan.addresses):
        folder = root / f"node-{i}"
        (folder / "data").mkdir(parents=True)
        config = folder / NODE_CONFIG
        profile = plan.get_profile(i)
        write_node_config(config, compute_node_config(profile, plan.params, collector_port))
        if i == 0 or profile != plan.profile:
            check_node_config(config)
        entry: dict[str, Any] = {
            "index": i,
            "address": address,
            "role": "validator" if i < plan.validators else "full",
            "p2p_port": p2p[i],
            "http_port": node_ports[2 * i + 1],
            "data_dir": f"node-{i}/data",
            "config": f"node-{i}/{NODE_CONFIG}",
            "log": f"node-{i}/{NODE_LOG}",
            "output": f"node-{i}/{NODE_OUTPUT}",
            "profile": str(profile),
            "pid": None,
        }
        peers = ",".join(f"{HOST}:{p}" for j, p in enumerate(p2p) if j != i)
        entry["argv"] = rppsim_argv(
            "node", "run",
            "--config", entry["config"],
            "--genesis", GENESIS_FILE,
            "--data-dir", entry["data_dir"],
            "--listen", f"{HOST}:{entry['p2p_port']}",
            "--http", f"{HOST}:{entry['http_port']}",
            "--peers", peers,
            "--time-origin-ms", str(origin_ms),
            "--log", entry["log"],
            "--index", str(i),
            "--rules", RULES_FILE,
        )  # fmt: skip
        nodes.append(entry)
    collector = {
        "port": collector_port,
        "out": TELEMETRY_FILE,
        "log": COLLECTOR_LOG,
        "pid": None,
        "argv": rppsim_argv(
            "collector",
            "--port", str(collector_port),
            "--out", TELEMETRY_FILE,
            "--host", HOST,
            "--manifest", MANIFEST,
            "--time-origin-ms", str(origin_ms),
        ),
    }
    traffic = {
        "tx_per_s": plan.tx_per_s,
        "log": TRAFFIC_LOG,
        "pid": None,
        "argv": rppsim_argv("testnet", "traffic", ".", "--tx-per-s", str(plan.tx_per_s)),
    }
    data = {
        "time_origin_ms": origin_ms,
        "seed": plan.seed,
        "scenario": plan.scenario,
        "profile": str(plan.profile),
        "params": plan.params,
        "genesis": GENESIS_FILE,
        "nodes": nodes,
        "collector": collector,
        "traffic": traffic if plan.tx_per_s > 0 else None,
    }
    testnet = Testnet(root, data)
    testnet.save()
    for i, seed in enumerate(plan.key_seeds):
        init_keys(testnet, i, seed)
    return testnet


def init_keys(testnet: Testnet, index: int, seed: bytes) -> None:
    """``rppsim node init``: node ``index``'s key seed into its store."""
    entry = testnet.nodes[index]
    argv = rppsim_argv("node", "init", "--data-dir", entry["data_dir"], "--key-seed", seed.hex())
    done = subprocess.run(argv, cwd=testnet.root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise TestnetError(f"rppsim node init for node {index} failed: {last[0]}")


# --------------------------------------------------------------------------------------------
# Starting and stopping.


def start_collector(testnet: Testnet) -> None:
    """Start the collector and wait until it answers ``/health``."""
    entry = testnet.collector
    entry["pid"] = start_process(entry["argv"], testnet.root, testnet.path(entry["log"]))
    testnet.save()
    url = f"http://{HOST}:{entry['port']}/health"
    if not wait_until(lambda: _healthy_or_dead(entry, url), START_TIMEOUT_S):
        raise TestnetError(f"the collector never answered {url} (log: {entry['log']})")
    if not is_running(entry["pid"], entry["argv"]):
        raise TestnetError(_died("the collector", testnet.path(entry["log"])))


def _healthy_or_dead(entry: Mapping[str, Any], url: str) -> bool:
    return fetch(url).status == 200 or not is_running(entry["pid"], entry["argv"])


def start_node(testnet: Testnet, index: int) -> None:
    """Start node ``index`` (detached) and record its pid."""
    entry = testnet.nodes[index]
    entry["pid"] = start_process(entry["argv"], testnet.root, testnet.path(entry["output"]))
    testnet.save()


def wait_live(testnet: Testnet, indices: Sequence[int], timeout_s: float) -> None:
    """Wait until each node answers ``/health/live``; a node that exits first, or the timeout,
    is a ``TestnetError`` naming its log."""
    waiting = list(indices)

    def done() -> bool:
        for index in list(waiting):
            entry = testnet.nodes[index]
            if not is_running(entry["pid"], entry["argv"]):
                raise TestnetError(_died(f"node {index}", testnet.path(entry["output"])))
            if is_live(entry):
                waiting.remove(index)
        return not waiting

    if not wait_until(done, timeout_s):
        names = ", ".join(f"node {i} ({testnet.nodes[i]['log']})" for i in waiting)
        raise TestnetError(f"no /health/live answer within {timeout_s:.0f} s from {names}")


def _died(what: str, log: Path) -> str:
    """What exited, with the last line of its output."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        lines = []
    last = compute_one_line(lines[-1][:300]) if lines else "no output"
    return f"{what} exited; last line of {log}: {last}"


def stop_node(testnet: Testnet, index: int, sig: int, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Signal node ``index`` and wait until it exits (SIGKILL after ``timeout_s``); whether it
    was running."""
    entry = testnet.nodes[index]
    was = stop_processes([entry], sig, timeout_s) > 0
    entry["pid"] = None
    testnet.save()
    return was


def stop_testnet(testnet: Testnet, timeout_s: float = STOP_TIMEOUT_S) -> int:
    """SIGTERM every process, wait, SIGKILL stragglers; the nodes first, then the collector
    (so their last snapshots reach it); how many were running."""
    traffic = testnet.data.get("traffic")
    stopped = stop_processes([traffic] if traffic else [], signal.SIGTERM, timeout_s)
    stopped += stop_processes(testnet.nodes, signal.SIGTERM, timeout_s)
    stopped += stop_processes([testnet.collector], signal.SIGTERM, timeout_s)
    for entry in _entries(testnet):
        entry["pid"] = None
    testnet.save()
    return stopped


def wait_caught_up(testnet: Testnet, index: int, timeout_s: float) -> int:
    """Wait until node ``index`` reaches the height the other running nodes had when it
    became live; that height."""
    others = [
        h
        for j, e in enumerate(testnet.nodes)
        if j != index and is_running(e.get("pid"), e.get("argv"))
        for h in [get_height(e)]
        if h is not None
    ]
    target = max(others, default=0)
    entry = testnet.nodes[index]

    def reached() -> bool:
        if not is_running(entry["pid"], entry["argv"]):
            raise TestnetError(_died(f"node {index}", testnet.path(entry["output"])))
        height = get_height(entry)
        return height is not None and height >= target

    if not wait_until(reached, timeout_s):
        found = get_height(entry)
        raise TestnetError(
            f"node {index} did not catch up within {timeout_s:.0f} s: height {found}, the"
            f" others were at {target}"
        )
    return target


# --------------------------------------------------------------------------------------------
# Traffic: the scenario's transfers between the genesis wallets, sent to the nodes over P2P.

TRAFFIC_ADDRESS: Final = "rppsim-traffic"
"""The traffic client's name in its hello (a wallet client, not a node: it listens nowhere)."""
DEFAULT_TX_PER_S: Final = 2.0
"""Transfers per second without a scenario (the chain's leader makes no empty block, so a
live chain advances only with payload: docs/protocol.md#rounds-and-quorum)."""
TRAFFIC_LOG: Final = "traffic.log"
RECONNECT_S: Final = 1.0


@dataclass(slots=True)
class TrafficState:
    """The wallets, their next nonces, and the transfer draws (``("testnet", "traffic")``)."""

    wallets: list[Any]
    nonces: list[int]
    rng: Any
    sent: int = 0

    @classmethod
    def of_seed(cls, seed: int) -> TrafficState:
        """The simulator's traffic wallets of ``seed`` (those the genesis funds)."""
        from rppsim.node.signing import generate_keypair
        from rppsim.sim.spec import TRAFFIC_WALLETS

        tree = SeedTree(seed)
        wallets = [generate_keypair(tree.seed_bytes("wallet", j)) for j in range(TRAFFIC_WALLETS)]
        return cls(wallets, [0] * len(wallets), tree.generator("testnet", "traffic"))

    def next_gap_s(self, tx_per_s: float) -> float:
        """Seconds to the next transfer (Poisson arrivals)."""
        return float(self.rng.exponential(1.0 / tx_per_s))

    def next_transfer(self) -> bytes:
        """The canonical bytes of the next signed transfer between two distinct wallets (the
        simulator's draws: amount 1..999, fee 1..10, the sender's next nonce)."""
        from rppsim.node.messages import Transaction, sign_transaction

        sender, recipient = (int(k) for k in self.rng.choice(len(self.wallets), 2, replace=False))
        self.nonces[sender] += 1
        wallet = self.wallets[sender]
        tx = Transaction(
            wallet.address,
            self.wallets[recipient].address,
            int(self.rng.integers(1, 1000)),
            int(self.rng.integers(1, 11)),
            self.nonces[sender],
            b"",
            b"",
        )
        self.sent += 1
        return bytes(sign_transaction(tx, wallet).to_bytes())


_DRAINING: set[Any] = set()
"""The reading tasks of the traffic connections (kept referenced while they run)."""


async def _connect(port: int) -> Any:
    """A P2P connection to a node after the hello both ways (its writer), or None."""
    import asyncio

    from rppsim.testnet.transport import encode_frame, encode_hello

    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 2.0)
    except (OSError, TimeoutError):
        return None
    writer.write(encode_frame(encode_hello(TRAFFIC_ADDRESS, 0)))

    async def drain() -> None:  # the node floods its gossip here too: read and drop it
        with contextlib.suppress(OSError, ConnectionError):
            while await reader.read(65_536):
                pass
        writer.close()

    task = asyncio.ensure_future(drain())
    _DRAINING.add(task)
    task.add_done_callback(_DRAINING.discard)
    return writer


async def run_traffic(ports: Sequence[int], tx_per_s: float, seed: int) -> None:
    """Send transfers to the nodes in turn (each floods it on) until cancelled; a node that is
    down is skipped and redialled."""
    import asyncio

    from rppsim.testnet.transport import encode_frame

    state = TrafficState.of_seed(seed)
    writers: dict[int, Any] = {}
    redial = 0.0
    turn = 0
    while True:
        await asyncio.sleep(state.next_gap_s(tx_per_s))
        loop_now = asyncio.get_running_loop().time()
        for port in [p for p, w in writers.items() if w.is_closing()]:
            del writers[port]
        if loop_now >= redial and len(writers) < len(ports):
            redial = loop_now + RECONNECT_S
            for port in ports:
                if port not in writers and (writer := await _connect(port)) is not None:
                    writers[port] = writer
        if not writers:
            continue
        live = [p for p in ports if p in writers]
        port = live[turn % len(live)]
        turn += 1
        writers[port].write(encode_frame(state.next_transfer()))


def cmd_traffic(args: argparse.Namespace) -> int:
    """Run the testnet's traffic in the foreground until SIGTERM or SIGINT (``up`` starts it
    detached)."""
    import asyncio

    testnet = load_testnet(args.dir)
    ports = [e["p2p_port"] for e in testnet.nodes]
    seed = int(testnet.data.get("seed", 0))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(run_traffic(ports, args.tx_per_s, seed))
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    return 0


def start_traffic(testnet: Testnet) -> None:
    """Start the traffic process (when the testnet has a rate) and record its pid."""
    entry = testnet.data.get("traffic")
    if not entry:
        return
    entry["pid"] = start_process(entry["argv"], testnet.root, testnet.path(entry["log"]))
    testnet.save()


# --------------------------------------------------------------------------------------------
# Commands.


def cmd_up(args: argparse.Namespace) -> int:
    """Write the folder, start the collector and the nodes, wait until all are live, print
    the endpoints."""
    root = Path(args.dir)
    check_target(root, force=args.force)
    plan = build_plan(args)
    ports = compute_free_ports(1 + 2 * len(plan.addresses))
    testnet = write_testnet(root, plan, ports)
    try:
        start_collector(testnet)
        for index in range(len(testnet.nodes)):
            start_node(testnet, index)
        wait_live(testnet, range(len(testnet.nodes)), args.timeout)
        start_traffic(testnet)
    except BaseException:
        stop_testnet(testnet)
        raise
    print(f"testnet up in {root}: {len(testnet.nodes)} nodes, {plan.validators} validators,"
          f" profile {plan.profile.stem}, seed {plan.seed}")
    for entry in testnet.nodes:
        print(
            f"node {entry['index']}  {entry['role']:<9}  http://{HOST}:{entry['http_port']}"
            f"  p2p {HOST}:{entry['p2p_port']}  pid {entry['pid']}  {entry['address'][:16]}"
        )
    collector = testnet.collector
    print(f"collector  http://{HOST}:{collector['port']}/  pid {collector['pid']}"
          f"  telemetry {root / collector['out']}")
    traffic = testnet.data["traffic"]
    if traffic:
        print(f"traffic    {traffic['tx_per_s']} transfers/s  pid {traffic['pid']}")
    return 0


def compute_status_rows(testnet: Testnet) -> list[tuple[str, ...]]:
    """One row per node and one for the collector: what ``status`` prints."""
    rows: list[tuple[str, ...]] = [
        ("node", "role", "pid", "http", "height", "hash", "peers", "live", "ready")
    ]
    for entry in testnet.nodes:
        running = is_running(entry.get("pid"), entry.get("argv"))
        node = fetch(node_url(entry, "/status/node")) if running else Answer(0, "")
        body = node.json() if node.status == 200 else None
        body = body if isinstance(body, dict) else {}
        metrics = fetch(node_url(entry, "/metrics")) if running else Answer(0, "")
        peers = compute_peer_count(metrics.body) if metrics.status == 200 else None
        live = fetch(node_url(entry, "/health/live")).status if running else 0
        ready = fetch(node_url(entry, "/health/ready")).status if running else 0
        rows.append(
            (
                str(entry["index"]),
                entry["role"],
                str(entry["pid"]) if running else "stopped",
                str(entry["http_port"]),
                _text(body.get("height")),
                _text(body.get("last_hash"))[:12],
                _text(peers),
                _text(live or None),
                _text(ready or None),
            )
        )
    collector = testnet.collector
    running = is_running(collector.get("pid"), collector.get("argv"))
    health = fetch(f"http://{HOST}:{collector['port']}/health").status if running else 0
    out = testnet.path(collector["out"])
    lines = sum(1 for _ in out.open("rb")) if out.is_file() else 0
    pid = str(collector["pid"]) if running else "stopped"
    rows.append(("collector", "-", pid, str(collector["port"]), "-", f"{lines} lines", "-",
                 _text(health or None), "-"))
    return rows


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def format_rows(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def cmd_status(args: argparse.Namespace) -> int:
    """Print heights, peers and health of every node and the collector."""
    print(format_rows(compute_status_rows(load_testnet(args.dir))), end="")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Stop every process of the testnet (idempotent)."""
    testnet = load_testnet(args.dir)
    stopped = stop_testnet(testnet, args.timeout)
    print(f"testnet down in {testnet.root}: stopped {stopped} processes" if stopped else
          f"testnet down in {testnet.root}: nothing was running")
    return 0


SIGNALS: Final = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM}


def cmd_kill(args: argparse.Namespace) -> int:
    """Send one node SIGKILL (default) or SIGTERM and wait until it is gone."""
    testnet = load_testnet(args.dir)
    testnet.get_node(args.node)
    was = stop_node(testnet, args.node, SIGNALS[args.signal])
    print(f"node {args.node}: {'SIG' + args.signal + ' sent, exited' if was else 'not running'}")
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    """Stop one node (SIGTERM) if it runs, start it again, wait until it is live."""
    testnet = load_testnet(args.dir)
    testnet.get_node(args.node)
    restart_node(testnet, args.node, args.timeout)
    print(f"node {args.node}: restarted, pid {testnet.nodes[args.node]['pid']}, live")
    return 0


def restart_node(testnet: Testnet, index: int, timeout_s: float) -> None:
    """SIGTERM node ``index`` if it runs, start it with its recorded command, wait until live."""
    stop_node(testnet, index, signal.SIGTERM)
    start_node(testnet, index)
    wait_live(testnet, [index], timeout_s)


def switch_profile(testnet: Testnet, index: int, profile: Path) -> None:
    """Rewrite node ``index``'s config onto ``profile`` (its overrides kept)."""
    entry = testnet.nodes[index]
    document = compute_node_config(profile, testnet.data["params"], testnet.collector["port"])
    write_node_config(testnet.path(entry["config"]), document)
    entry["profile"] = str(profile)
    testnet.save()


def cmd_upgrade(args: argparse.Namespace) -> int:
    """Move every node onto another channel profile: ``--rolling`` one at a time (each live
    and caught up before the next), else all stopped, switched and started together."""
    testnet = load_testnet(args.dir)
    profile = resolve_profile(args.profile)
    scratch = testnet.root / "node-0" / "upgrade-check.toml"
    write_node_config(scratch, compute_node_config(profile, testnet.data["params"],
                                                   testnet.collector["port"]))
    try:
        check_node_config(scratch)
    finally:
        scratch.unlink()
    indices = range(len(testnet.nodes))
    if args.rolling:
        for index in indices:
            switch_profile(testnet, index, profile)
            restart_node(testnet, index, args.timeout)
            height = wait_caught_up(testnet, index, args.timeout)
            print(f"node {index}: on {profile.stem}, live, caught up at height {height}",
                  flush=True)
    else:
        for index in indices:
            stop_node(testnet, index, signal.SIGTERM)
            switch_profile(testnet, index, profile)
        for index in indices:
            start_node(testnet, index)
        wait_live(testnet, indices, args.timeout)
        print(f"{len(testnet.nodes)} nodes restarted together on {profile.stem}, live")
    testnet.data["profile"] = str(profile)
    testnet.save()
    return 0


def _run(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A command whose ``TestnetError`` is one line on stderr and exit 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except TestnetError as failure:
            print(f"rppsim testnet {args.testnet_command}: {compute_one_line(str(failure))}",
                  file=sys.stderr)
            return 1

    return run


def _rate(text: str) -> float:
    """A rate ≥ 0 (0: no traffic)."""
    return 0.0 if text.strip() in ("0", "0.0") else positive_number(text)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``rppsim testnet up|status|down|kill|restart|upgrade``."""
    testnet = sub.add_parser(
        "testnet", help="a live testnet of node processes on loopback (up, status, down, ...)"
    )
    commands = testnet.add_subparsers(
        dest="testnet_command", required=True, parser_class=OneLineParser
    )
    up = commands.add_parser("up", help="write configs, genesis and keys; start the collector"
                             " and the nodes; print their endpoints")
    up.add_argument("--dir", required=True, help="the testnet folder (new or empty)")
    up.add_argument("--nodes", type=positive, help="node processes (default 4; a scenario's)")
    up.add_argument("--validators", type=positive,
                    help="seeded genesis validators, nodes 0.. (default: every node)")
    up.add_argument("--scenario", metavar="FILE",
                    help="take nodes, validators, profile, [params] and genesis from a scenario")
    up.add_argument("--profile", metavar="CHANNEL",
                    help="release channel profile (development, testnet, canary, mainnet) or a"
                    f" profile file (default {DEFAULT_PROFILE}; a scenario's)")
    up.add_argument("--seed", type=natural,
                    help="seed of keys and genesis (default 0; a scenario's)")
    up.add_argument("--block-time-ms", type=positive, default=DEFAULT_BLOCK_TIME_MS,
                    help=f"block time (default {DEFAULT_BLOCK_TIME_MS}; a scenario's [params]"
                    " win)")
    up.add_argument("--tx-per-s", type=_rate, metavar="RATE",
                    help=f"transfers per second between the genesis wallets (default"
                    f" {DEFAULT_TX_PER_S}; a scenario's [traffic]; 0: none)")
    up.add_argument("--timeout", type=positive, default=int(START_TIMEOUT_S),
                    help="seconds to wait for every node to be live"
                    f" (default {START_TIMEOUT_S:.0f})")
    up.add_argument("--force", action="store_true",
                    help="replace a stopped testnet already in the folder")
    up.set_defaults(func=_run(cmd_up))

    status = commands.add_parser("status", help="heights, peers and health of every node")
    status.add_argument("dir", metavar="DIR")
    status.set_defaults(func=_run(cmd_status))

    down = commands.add_parser("down", help="stop every process (SIGTERM, then SIGKILL)")
    down.add_argument("dir", metavar="DIR")
    down.add_argument("--timeout", type=positive, default=int(STOP_TIMEOUT_S),
                      help=f"seconds before SIGKILL (default {STOP_TIMEOUT_S:.0f})")
    down.set_defaults(func=_run(cmd_down))

    kill = commands.add_parser("kill", help="send one node SIGKILL or SIGTERM")
    kill.add_argument("dir", metavar="DIR")
    kill.add_argument("node", metavar="NODE", type=natural, help="node index")
    kill.add_argument("--signal", choices=sorted(SIGNALS), default="KILL")
    kill.set_defaults(func=_run(cmd_kill))

    restart = commands.add_parser("restart", help="restart one node and wait until it is live")
    restart.add_argument("dir", metavar="DIR")
    restart.add_argument("node", metavar="NODE", type=natural, help="node index")
    restart.add_argument("--timeout", type=positive, default=int(START_TIMEOUT_S))
    restart.set_defaults(func=_run(cmd_restart))

    traffic = commands.add_parser(
        "traffic", help="send transfers to the nodes until stopped (up starts it detached)"
    )
    traffic.add_argument("dir", metavar="DIR")
    traffic.add_argument("--tx-per-s", type=positive_number, default=DEFAULT_TX_PER_S)
    traffic.set_defaults(func=_run(cmd_traffic))

    upgrade = commands.add_parser("upgrade", help="move every node onto another channel profile")
    upgrade.add_argument("dir", metavar="DIR")
    upgrade.add_argument("--profile", required=True, metavar="CHANNEL",
                         help="release channel (development, testnet, canary, mainnet) or file")
    upgrade.add_argument("--rolling", action="store_true",
                         help="one node at a time, each live and caught up before the next")
    upgrade.add_argument("--timeout", type=positive, default=int(CATCH_UP_TIMEOUT_S),
                         help="seconds each node may take to be live and caught up")
    upgrade.set_defaults(func=_run(cmd_upgrade))
