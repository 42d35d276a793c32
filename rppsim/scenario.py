"""Scenario files: TOML schema, validation and digest (docs/architecture.md#scenarios).

A scenario is validated completely before anything runs: unknown keys, wrong types and
out-of-range values are each a one-line ``UserError(file, key path, expected, found)``. Key
paths are dotted; arrays of tables are indexed from 0 (``fault[2].groups``). Unlike simnet
(which checks odd degrees and fault windows late or never, docs/simnet.md#validation), every check
happens here. The schema is documented in ``scenarios/README.md``.

Paths (``nodes.profile``, ``nodes.group[i].profile``, ``stage[i].profile``, ``network.edges``,
``genesis.file``) are tried relative to the scenario file first, then relative to the current
directory. The validated model is ``rppsim.sim.spec`` (re-exported here); the builders of a run
are ``rppsim.sim.builders``.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rppsim.errors import UserError, describe
from rppsim.node.config import OVERRIDE_PATHS, NodeConfig, is_override_path
from rppsim.node.genesis import DEFAULT_CHAIN_ID, U64_MAX, U128_MAX, VALIDATOR_BALANCE
from rppsim.node.rules import Rules, parse_rules
from rppsim.rng import SeedTree
from rppsim.sim.builders import (
    build_fault_schedule,
    build_node_config,
    build_sim_network,
    compute_byzantine_nodes,
    compute_group_nodes,
    load_profile,
)
from rppsim.sim.faults import (
    FAULT_KINDS,
    OUTAGE_MODES,
    Churn,
    ClockSkew,
    Crash,
    Degrade,
    FaultSpec,
    Heal,
    Partition,
    Pause,
    Restart,
    TelemetryOutage,
    check_pause_overlaps,
    compute_crash_windows,
    compute_pause_windows,
)
from rppsim.sim.genesis import (
    STAKE_SHAPES,
    AccountClass,
    AccountValue,
    Draw,
    GenesisSpec,
    build_run_genesis,
    compute_file_validators,
    load_genesis_file,
)
from rppsim.sim.gossip import DEFAULT_MESH, GOSSIP_MODES, MeshParams
from rppsim.sim.links import (
    ClassLatency,
    ClassParams,
    LinkParams,
    RegionParams,
    compute_node_regions,
)
from rppsim.sim.spec import (
    CHAIN_RECORDS,
    DURATION_MAX_MS,
    ENGINES,
    FAST_DURATION_MAX_MS,
    SEED_MAX,
    TRAFFIC_WALLETS,
    ByzantineSpec,
    CostsConfig,
    ExpectConfig,
    NetworkConfig,
    NodeGroup,
    NodesConfig,
    RunConfig,
    Scenario,
    StageSpec,
    TelemetryConfig,
    TrafficConfig,
    TrafficPhase,
    compute_canonical,
    get_duration_max_ms,
)
from rppsim.sim.stages import compute_stage_windows
from rppsim.sim.topology import TOPOLOGIES, TopologyParams, read_edge_list

if TYPE_CHECKING:
    from rppsim.explore import ExploreBounds

__all__ = [
    "BYZANTINE_KINDS",
    "BYZANTINE_MODES",
    "DURATION_MAX_MS",
    "ENGINES",
    "FAST_DURATION_MAX_MS",
    "PROVERS",
    "PUBLISHER_BIAS",
    "ROOT_KEYS",
    "RULE_PATHS",
    "SEED_MAX",
    "TRAFFIC_MODELS",
    "TRAFFIC_WALLETS",
    "ByzantineSpec",
    "CostsConfig",
    "ExpectConfig",
    "NetworkConfig",
    "NodeGroup",
    "NodesConfig",
    "RunConfig",
    "Scenario",
    "StageSpec",
    "Table",
    "TelemetryConfig",
    "TrafficConfig",
    "TrafficPhase",
    "build_fault_schedule",
    "build_node_config",
    "build_sim_network",
    "check_stage_overlaps",
    "compute_byzantine_nodes",
    "compute_canonical",
    "compute_group_nodes",
    "get_duration_max_ms",
    "load_profile",
    "load_scenario",
    "load_stage_profile",
    "parse_byzantine",
    "parse_classes",
    "parse_costs",
    "parse_expect",
    "parse_explore",
    "parse_faults",
    "parse_genesis",
    "parse_guardrails",
    "parse_link",
    "parse_mesh",
    "parse_network",
    "parse_nodes",
    "parse_params",
    "parse_regions",
    "parse_rules_with_params",
    "parse_run",
    "parse_scenario",
    "parse_stages",
    "parse_telemetry",
    "parse_traffic",
    "resolve_path",
]

PROVERS = ("real", "model")
BYZANTINE_KINDS = (
    "double-sign",
    "withhold-votes",
    "invalid-proof",
    "spam",
    "equivocate",
    "invalid-block",
    "vrf-lie",
    "censor",
    "replay",
    "eclipse",
    "sync-poison",
    "inflate-timetoke",
)
BYZANTINE_MODES: dict[str, tuple[str, ...]] = {
    "invalid-block": ("state-root", "transaction", "certificate"),
    "invalid-proof": ("tamper", "oversized"),
    "vrf-lie": ("inflate-tier", "inflate-hours", "forged-proof", "grind"),
    "sync-poison": ("mixed", "certificate", "minority", "outsiders", "parent"),
}
"""The ``mode`` values of the kinds that have one; the first is the default."""
TRAFFIC_MODELS = ("poisson", "on-off")


NODES_MAX = 10_000
INT_ABS_MAX = 2**40
"""Every integer of a scenario without an upper bound of its own is at most 2^40 in size (35
years of milliseconds): sums of a few such values stay far inside the int64 arithmetic of the
simulator's arrays (seeds have their own bound, 2^64 − 1)."""
"""``nodes.count`` at most 10,000 (``rppsim bench sim`` measures memory up to there)."""
RATE_MAX_PER_S = 10_000.0
"""Arrival rates (``traffic.tx_per_s``, phase and spam ``rate_per_s``) at most 10,000 per
simulated second: each arrival is a signed transaction every node processes."""
IDENTITY_MAX_PER_MIN = 6_000.0
"""``traffic.identity_per_min`` at most 6,000 (100 identity requests per simulated second)."""
PUBLISHER_BIAS = ("uniform", "zipf")
_MISSING: Any = object()


# --------------------------------------------------------------------------------------------
# A typed reader of one TOML table.


class Table:
    """Typed reads from one TOML table; every read key is remembered for ``finish``."""

    def __init__(self, data: Mapping[str, Any], source: str, path: str = "") -> None:
        self.data, self.source, self.path = data, source, path
        self.known: set[str] = set()

    def key(self, name: str) -> str:
        """Dotted path of ``name`` in this table."""
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, expected: str, found: str | None = None) -> NoReturn:
        """Raise the user error for key ``name`` ("" for the table itself)."""
        raise UserError(self.source, self.key(name) if name else self.path, expected, found)

    def has(self, name: str) -> bool:
        """Whether the key is present (and mark it known)."""
        self.known.add(name)
        return name in self.data

    def raw(self, name: str, default: Any = _MISSING, what: str = "a value") -> Any:
        """The value, the default, or a 'missing' error."""
        if self.has(name):
            return self.data[name]
        if default is _MISSING:
            self.fail(name, f"{what} (required)", "nothing: the key is missing")
        return default

    def absent(self, name: str, default: Any) -> bool:
        """True when the key is missing and has a default (which the caller returns)."""
        return not self.has(name) and default is not _MISSING

    def integer(
        self, name: str, default: Any = _MISSING, lo: int | None = None, hi: int | None = None
    ) -> Any:
        """An integer in [lo, hi] (either bound optional)."""
        what = _describe_range("an integer", lo, hi)
        if self.absent(name, default):
            return default
        value = self.raw(name, default, what)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, what, describe(value))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.fail(name, what, describe(value))
        if (hi is None and value > INT_ABS_MAX) or (lo is None and value < -INT_ABS_MAX):
            self.fail(name, f"{what}, at most {INT_ABS_MAX} in size", describe(value))
        return value

    def number(
        self, name: str, default: Any = _MISSING, lo: float = 0.0, hi: float = math.inf
    ) -> Any:
        """A finite number (int or float) in [lo, hi], returned as float."""
        what = _describe_range("a number", lo, None if hi == math.inf else hi)
        if self.absent(name, default):
            return default
        value = self.raw(name, default, what)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(name, what, describe(value))
        if not math.isfinite(value) or not lo <= value <= hi:
            self.fail(name, what, describe(value))
        return float(value)

    def boolean(self, name: str, default: Any = _MISSING) -> Any:
        """A boolean."""
        if self.absent(name, default):
            return default
        value = self.raw(name, default, "a boolean")
        if not isinstance(value, bool):
            self.fail(name, "a boolean", describe(value))
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: Any = _MISSING) -> Any:
        """A string from ``choices``."""
        what = "one of " + ", ".join(f'"{c}"' for c in choices)
        if self.absent(name, default):
            return default
        value = self.raw(name, default, what)
        if not isinstance(value, str) or value not in choices:
            self.fail(name, what, describe(value))
        return value

    def string(self, name: str, default: Any = _MISSING) -> Any:
        """A string."""
        if self.absent(name, default):
            return default
        value = self.raw(name, default, "a string")
        if not isinstance(value, str):
            self.fail(name, "a string", describe(value))
        return value

    def int_list(
        self, name: str, default: Any = _MISSING, lo: int = 0, hi: int | None = None
    ) -> Any:
        """A list of integers in [lo, hi], as a tuple."""
        what = "a list of " + _describe_range("integers", lo, hi)
        if self.absent(name, default):
            return default
        value = self.raw(name, default, what)
        if not isinstance(value, list):
            self.fail(name, what, describe(value))
        return tuple(
            _check_int(self, f"{name}[{i}]", v, lo=lo, hi=hi, what=what)
            for i, v in enumerate(value)
        )

    def table(self, name: str) -> Table | None:
        """A sub-table, or None when absent."""
        if not self.has(name):
            return None
        value = self.data[name]
        if not isinstance(value, dict):
            self.fail(name, "a table", describe(value))
        return Table(value, self.source, self.key(name))

    def tables(self, name: str) -> list[Table]:
        """An array of tables (``[[name]]``), each with path ``name[i]``."""
        value = self.raw(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(name, f"an array of tables [[{self.key(name)}]]", describe(value))
        return [Table(v, self.source, f"{self.key(name)}[{i}]") for i, v in enumerate(value)]

    def forbid(self, name: str, reason: str) -> None:
        """Fail if ``name`` is present: it does not apply here."""
        if name in self.data:
            self.fail(name, f"no {name} {reason}", describe(self.data[name]))
        self.known.add(name)

    def finish(self) -> None:
        """Fail on the first key (in document order) no read asked for."""
        for name in self.data:
            if name not in self.known:
                hint = difflib.get_close_matches(name, sorted(self.known), n=1)
                expected = "one of " + ", ".join(sorted(self.known)) if self.known else "no keys"
                if hint:
                    expected = f'"{hint[0]}" (did you mean it?) or {expected}'
                self.fail(name, expected, "unknown key")


def _describe_range(kind: str, lo: float | None, hi: float | None) -> str:
    """'an integer in [lo, hi]' / '≥ lo' / '≤ hi'."""
    if lo is not None and hi is not None:
        return f"{kind} in [{lo}, {hi}]"
    if lo is not None:
        return f"{kind} ≥ {lo}"
    return f"{kind} ≤ {hi}" if hi is not None else kind


def _check_int(table: Table, name: str, value: Any, *, lo: int, hi: int | None, what: str) -> int:
    """One integer element of a list."""
    if isinstance(value, bool) or not isinstance(value, int):
        table.fail(name, what, describe(value))
    if value < lo or (hi is not None and value > hi):
        table.fail(name, what, describe(value))
    if hi is None and value > INT_ABS_MAX:
        table.fail(name, f"{what}, at most {INT_ABS_MAX} in size", describe(value))
    return value


def _check_window(table: Table, duration_ms: int, at_default: Any = _MISSING) -> tuple[int, Any]:
    """``at_ms`` in [0, duration) and optional ``until_ms`` in (at_ms, duration]."""
    at = table.integer("at_ms", at_default, 0, duration_ms - 1)
    until = table.integer("until_ms", None)
    if until is not None and not at < until <= duration_ms:
        table.fail(
            "until_ms",
            f"an integer in ({at}, {duration_ms}] (after at_ms, in the run)",
            describe(until),
        )
    return at, until


def resolve_path(raw: str, scenario_dir: Path) -> Path | None:
    """``raw`` relative to the scenario's folder, else to the current directory, if a file."""
    for candidate in (scenario_dir / raw, Path.cwd() / raw):
        if candidate.is_file():
            return candidate
    return None


def _keys(given: list[str]) -> str:
    """'none' or the given keys, for 'exactly one of' errors."""
    return " and ".join(given) if given else "none"


def _required_table(root: Table, name: str) -> Table:
    """A table the scenario must have."""
    table = root.table(name)
    if table is None:
        root.fail(name, f"a [{name}] table (required)", "nothing: the table is missing")
    return table


def _positive(table: Table, name: str, default: Any = _MISSING, hi: float = math.inf) -> Any:
    """A finite number in (0, hi]."""
    value = table.number(name, default, hi=hi)
    if value is not None and value <= 0:
        table.fail(name, "a number > 0", describe(value))
    return value


# --------------------------------------------------------------------------------------------
# [run], [nodes], [network]


def parse_run(root: Table) -> RunConfig:
    """``[run]``."""
    t = _required_table(root, "run")
    engine = t.choice("engine", ENGINES, "full")
    run = RunConfig(
        seed=t.integer("seed", lo=0, hi=SEED_MAX),
        duration_ms=t.integer("duration_ms", lo=1, hi=get_duration_max_ms(engine)),
        prover=t.choice("prover", PROVERS, "real"),
        name=t.string("name", ""),
        description=t.string("description", ""),
        tags=_parse_tags(t),
        engine=engine,
    )
    t.finish()
    return run


def _parse_tags(t: Table) -> tuple[str, ...]:
    """``tags``: a list of distinct tags (a-z, 0-9 and -), such as ``["ci", "attack"]``."""
    from rppsim.library import TAG_PATTERN

    raw = t.raw("tags", [], "a list of tags")
    expected = 'a list of distinct tags such as ["ci"] (a-z, 0-9, -)'
    if not isinstance(raw, list):
        t.fail("tags", expected, describe(raw))
    for tag in raw:
        if not isinstance(tag, str) or not TAG_PATTERN.fullmatch(tag):
            t.fail("tags", expected, describe(tag))
    if len(set(raw)) != len(raw):
        t.fail("tags", expected, "a repeated tag")
    return tuple(raw)


def _parse_profile(t: Table, scenario_dir: Path) -> tuple[str, Path]:
    """``profile``: an existing file."""
    profile = t.string("profile")
    path = resolve_path(profile, scenario_dir)
    if path is None:
        expected = "a node profile file (relative to the scenario file or the current directory)"
        t.fail("profile", expected, describe(profile))
    return profile, path


def parse_nodes(root: Table, scenario_dir: Path) -> NodesConfig:
    """``[nodes]`` and its ``[[nodes.group]]``; every profile must be an existing file."""
    t = _required_table(root, "nodes")
    count = t.integer("count", lo=1, hi=NODES_MAX)
    validators = t.integer("validators", lo=1, hi=count)
    profile, path = _parse_profile(t, scenario_dir)
    groups = tuple(_parse_node_group(g, count, scenario_dir) for g in t.tables("group"))
    _check_node_groups(t, groups, count)
    t.finish()
    return NodesConfig(count, validators, profile, path, groups)


def _parse_node_group(t: Table, n: int, scenario_dir: Path) -> NodeGroup:
    """One ``[[nodes.group]]``: ``profile`` and exactly one of ``nodes`` and ``count``."""
    given = [k for k in ("nodes", "count") if t.has(k)]
    if len(given) != 1:
        t.fail("nodes", "exactly one of nodes and count", _keys(given))
    profile, path = _parse_profile(t, scenario_dir)
    group = NodeGroup(
        profile=profile,
        profile_path=path,
        nodes=_parse_node_set(t, n, default=None),
        count=t.integer("count", None, lo=1, hi=n),
        name=t.string("name", path.stem),
        genesis_chain_id=_parse_group_genesis(t.table("genesis")),
    )
    t.finish()
    return group


def _parse_group_genesis(t: Table | None) -> str | None:
    """``[nodes.group.genesis]``: the ``chain_id`` the group's genesis carries instead."""
    if t is None:
        return None
    chain_id = t.string("chain_id")
    if not chain_id.strip():
        t.fail("chain_id", "a non-empty chain id", describe(chain_id))
    t.finish()
    return chain_id


def _check_node_groups(t: Table, groups: tuple[NodeGroup, ...], n: int) -> None:
    """Groups are disjoint: listed nodes once, and the counts fit in the nodes left."""
    owner: dict[int, int] = {}
    for i, group in enumerate(groups):
        for v in group.nodes or ():
            if v in owner:
                found = f"node {v} in groups {owner[v]} and {i}"
                t.fail(f"group[{i}].nodes", "groups without a common node", found)
            owner[v] = i
    drawn = sum(g.count or 0 for g in groups)
    if drawn > n - len(owner):
        expected = f"group counts of at most {n - len(owner)} in total (the nodes no group lists)"
        t.fail("group", expected, str(drawn))


def _parse_degree(t: Table, kind: str, n: int) -> int | None:
    """``degree`` with the generator's constraints (docs/simnet.md#topologies; checked up front)."""
    if kind in ("complete", "edge-list"):
        t.forbid("degree", f'with topology "{kind}"')
        return None
    if kind == "erdos-renyi" and not t.has("degree"):
        return None
    if n < 2:
        t.fail("degree", f'nodes.count ≥ 2 for topology "{kind}" (no peer to link)', f"{n} node")
    degree = t.integer("degree", lo=1, hi=n - 1)
    if kind in ("ring", "small-world") and degree % 2:
        t.fail(
            "degree", f'an even integer (topology "{kind}" links degree/2 per side)', str(degree)
        )
    if kind == "k-regular" and (n * degree) % 2:
        t.fail("degree", f"a degree with nodes.count × degree even ({n} × {degree})", str(degree))
    return degree


def _parse_topology(
    t: Table, kind: str, n: int, scenario_dir: Path
) -> tuple[TopologyParams, str | None, Path | None]:
    """Topology parameters; keys that do not apply to ``kind`` are errors."""
    degree = _parse_degree(t, kind, n)
    for key, owner in (("rewire", "small-world"), ("p", "erdos-renyi"), ("edges", "edge-list")):
        if kind != owner:
            t.forbid(key, f'unless topology = "{owner}"')
    rewire = t.number("rewire", 0.1, 0.0, 1.0) if kind == "small-world" else None
    p = t.number("p", None, 0.0, 1.0) if kind == "erdos-renyi" else None
    if kind == "erdos-renyi" and (p is None) == (degree is None):
        t.fail("p", "exactly one of p and degree", "both" if p is not None else "neither")
    if kind != "edge-list":
        return TopologyParams(kind, degree, rewire, p), None, None
    edges = t.string("edges")
    path = resolve_path(edges, scenario_dir)
    if path is None:
        expected = "an edge-list CSV file (relative to the scenario file or the current directory)"
        t.fail("edges", expected, describe(edges))
    edge_list = read_edge_list(path, n)
    return TopologyParams(kind, edge_list=edge_list), edges, path


def parse_link(t: Table | None) -> LinkParams:
    """``[network.link]``."""
    if t is None:
        return LinkParams()
    latency = t.int_list("latency_ms", (20, 80), lo=0)
    if len(latency) != 2 or latency[0] > latency[1]:
        t.fail("latency_ms", "[lo, hi] with 0 ≤ lo ≤ hi", describe(list(latency)))
    link = LinkParams(
        latency_ms=(latency[0], latency[1]),
        jitter_ms=t.integer("jitter_ms", 0, lo=0),
        loss=t.number("loss", 0.0, 0.0, 1.0),
        bandwidth_mbps=t.integer("bandwidth_mbps", 0, lo=0),
    )
    t.finish()
    return link


def _parse_names(t: Table) -> tuple[str, ...]:
    """``names``: unique non-empty region names."""
    names = t.raw("names", what="a list of region names")
    expected = "a non-empty list of distinct, non-empty region names"
    if not isinstance(names, list) or not names:
        t.fail("names", expected, describe(names))
    if not all(isinstance(x, str) and x for x in names) or len(set(names)) != len(names):
        t.fail("names", expected, describe(names))
    return tuple(names)


def _parse_matrix(
    t: Table, name: str, size: int, *, lo: float, hi: float | None, integer: bool
) -> Any:
    """A symmetric size×size matrix of integers (or numbers) in [lo, hi]; None when absent."""
    kind = "integers" if integer else "numbers"
    what = f"a symmetric {size}×{size} matrix of {_describe_range(kind, lo, hi)}"
    value = t.raw(name, None, what)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != size:
        t.fail(name, what, describe(value))
    for a, row in enumerate(value):
        if not isinstance(row, list) or len(row) != size:
            t.fail(f"{name}[{a}]", what, describe(row))
        for b, x in enumerate(row):
            ok_type = isinstance(x, int) if integer else isinstance(x, int | float)
            if isinstance(x, bool) or not ok_type or x < lo or (hi is not None and x > hi):
                t.fail(f"{name}[{a}][{b}]", what, describe(x))
            if hi is None and x > INT_ABS_MAX:
                t.fail(f"{name}[{a}][{b}]", f"{what}, at most {INT_ABS_MAX}", describe(x))
    for a in range(size):
        for b in range(a):
            if value[a][b] != value[b][a]:
                t.fail(
                    f"{name}[{a}][{b}]",
                    f"{value[b][a]} (the matrix is symmetric)",
                    str(value[a][b]),
                )
    cast = int if integer else float
    return tuple(tuple(cast(x) for x in row) for row in value)


def parse_regions(t: Table, n: int) -> RegionParams:
    """``[network.regions]``: names, assignment and per-region-pair matrices."""
    names = _parse_names(t)
    assignment = t.raw("assignment", "round-robin")
    expected = f'"round-robin" or a list of {n} region names (one per node)'
    if assignment == "round-robin":
        assignment = None
    elif not isinstance(assignment, list) or len(assignment) != n:
        t.fail("assignment", expected, describe(assignment))
    else:
        for i, name in enumerate(assignment):
            if name not in names:
                t.fail(f"assignment[{i}]", "one of " + ", ".join(names), describe(name))
        assignment = tuple(assignment)
    size = len(names)
    latency = _parse_matrix(t, "latency_ms", size, lo=0, hi=None, integer=True)
    if latency is None:
        t.fail("latency_ms", f"a symmetric {size}×{size} matrix (required)", "nothing")
    regions = RegionParams(
        names=names,
        latency_ms=latency,
        assignment=assignment,
        jitter_ms=_parse_matrix(t, "jitter_ms", size, lo=0, hi=None, integer=True),
        loss=_parse_matrix(t, "loss", size, lo=0.0, hi=1.0, integer=False),
    )
    t.finish()
    return regions


def _parse_class_latency(t: Table | None) -> ClassLatency:
    """``[network.classes.trusted]`` / ``untrusted``."""
    if t is None:
        return ClassLatency()
    out = ClassLatency(t.integer("extra_delay_ms", 0, lo=0), t.integer("jitter_ms", 0, lo=0))
    t.finish()
    return out


def parse_classes(t: Table, n: int) -> ClassParams:
    """``[network.classes]``: trusted nodes (listed or a seeded fraction) and overlays."""
    given = [k for k in ("trusted_nodes", "trusted_fraction") if t.has(k)]
    if len(given) != 1:
        t.fail("trusted_nodes", "exactly one of trusted_nodes and trusted_fraction", _keys(given))
    classes = ClassParams(
        trusted_nodes=t.int_list("trusted_nodes", None, 0, n - 1),
        trusted_fraction=t.number("trusted_fraction", None, 0.0, 1.0),
        trusted=_parse_class_latency(t.table("trusted")),
        untrusted=_parse_class_latency(t.table("untrusted")),
    )
    t.finish()
    return classes


def parse_mesh(t: Table) -> tuple[tuple[str, MeshParams], ...]:
    """``[network.mesh.<topic>]`` overrides: ``n``, ``low``, ``high`` with low ≤ n ≤ high."""
    out = []
    for topic, default in DEFAULT_MESH.items():
        sub = t.table(topic)
        if sub is None:
            continue
        n = sub.integer("n", default.n, lo=1)
        low = sub.integer("low", min(default.low, n), lo=0, hi=n)
        high = sub.integer("high", max(default.high, n), lo=n)
        sub.finish()
        out.append((topic, MeshParams(n, low, high)))
    t.finish()
    return tuple(out)


def parse_network(root: Table, n: int, scenario_dir: Path) -> NetworkConfig:
    """``[network]`` and its sub-tables."""
    t = _required_table(root, "network")
    kind = t.choice("topology", TOPOLOGIES)
    gossip = t.choice("gossip", GOSSIP_MODES, "flood")
    topology, edges, edges_path = _parse_topology(t, kind, n, scenario_dir)
    regions_table, classes_table = t.table("regions"), t.table("classes")
    mesh_table = t.table("mesh")
    if mesh_table is not None and gossip != "mesh":
        t.fail("mesh", 'no [network.mesh] unless gossip = "mesh"', "a [network.mesh] table")
    network = NetworkConfig(
        topology=topology,
        gossip=gossip,
        link=parse_link(t.table("link")),
        regions=None if regions_table is None else parse_regions(regions_table, n),
        classes=None if classes_table is None else parse_classes(classes_table, n),
        mesh=() if mesh_table is None else parse_mesh(mesh_table),
        edges=edges,
        edges_path=edges_path,
    )
    t.finish()
    return network


# --------------------------------------------------------------------------------------------
# [traffic], [costs], [telemetry], [[byzantine]]


def _parse_phase(t: Table) -> TrafficPhase:
    """One ``[[traffic.phase]]``."""
    model = t.choice("model", TRAFFIC_MODELS, "poisson")
    if model == "poisson":
        t.forbid("on_ms", 'unless model = "on-off"')
        t.forbid("off_ms", 'unless model = "on-off"')
    phase = TrafficPhase(
        duration_ms=t.integer("duration_ms", lo=1),
        model=model,
        rate_per_s=_positive(t, "rate_per_s", hi=RATE_MAX_PER_S),
        on_ms=t.integer("on_ms", lo=1) if model == "on-off" else 0,
        off_ms=t.integer("off_ms", lo=1) if model == "on-off" else 0,
    )
    t.finish()
    return phase


def parse_traffic(t: Table | None, duration_ms: int) -> TrafficConfig:
    """``[traffic]``; phases must fit in the run (simnet check 6, docs/simnet.md#validation)."""
    if t is None:
        return TrafficConfig()
    phases = tuple(_parse_phase(p) for p in t.tables("phase"))
    if phases:
        t.forbid("tx_per_s", "when [[traffic.phase]] gives the rates")
    total = sum(p.duration_ms for p in phases)
    if total > duration_ms:
        expected = f"phases lasting at most run.duration_ms = {duration_ms} in total"
        t.fail("phase", expected, f"{total} ms")
    publisher = t.choice("publisher", PUBLISHER_BIAS, "uniform")
    if publisher != "zipf":
        t.forbid("zipf_s", 'unless publisher = "zipf"')
    traffic = TrafficConfig(
        tx_per_s=t.number("tx_per_s", 0.0, hi=RATE_MAX_PER_S),
        identity_per_min=t.number("identity_per_min", 0.0, hi=IDENTITY_MAX_PER_MIN),
        publisher=publisher,
        zipf_s=_positive(t, "zipf_s", 1.0),
        phases=phases,
    )
    t.finish()
    return traffic


def parse_costs(t: Table | None) -> CostsConfig:
    """``[costs]``."""
    if t is None:
        return CostsConfig()
    costs = CostsConfig(enabled=t.boolean("enabled", True))
    t.finish()
    return costs


def parse_telemetry(t: Table | None) -> TelemetryConfig:
    """``[telemetry]``."""
    if t is None:
        return TelemetryConfig()
    interval = t.integer("sample_interval_ms", None, lo=1_000, hi=DURATION_MAX_MS)
    if interval is not None and interval % 1_000:
        expected = "whole seconds (a multiple of 1000: the node samples every N s)"
        t.fail("sample_interval_ms", expected, str(interval))
    rate = t.number("message_sample_rate", 1.0, lo=0.0, hi=1.0)
    if rate == 0.0:
        expected = "a number in (0, 1] (record_messages = false keeps no message rows)"
        t.fail("message_sample_rate", expected, str(rate))
    telemetry = TelemetryConfig(
        record_messages=t.boolean("record_messages", True),
        sample_interval_ms=interval,
        message_sample_rate=rate,
        chain_record=t.choice("chain_record", CHAIN_RECORDS, "full"),
    )
    t.finish()
    return telemetry


def _parse_node_set(t: Table, n: int, name: str = "nodes", default: Any = _MISSING) -> Any:
    """A non-empty list of distinct node ids."""
    nodes = t.int_list(name, default, 0, n - 1)
    if nodes is None or nodes is default:
        return nodes
    if not nodes or len(set(nodes)) != len(nodes):
        t.fail(name, f"a non-empty list of distinct node ids in [0, {n - 1}]", str(list(nodes)))
    return nodes


_BYZANTINE_KEYS = {
    "spam": ("rate_per_s", "invalid_fraction"),
    "censor": ("senders", "sender_fraction"),
    "replay": ("delay_ms",),
    "eclipse": ("victims",),
}
"""The parameter keys only one kind takes."""


def _parse_fraction(t: Table, name: str) -> float | None:
    """An optional number in (0, 1]."""
    fraction = t.number(name, None, 0.0, 1.0)
    if fraction is not None and fraction <= 0:
        t.fail(name, "a number in (0, 1]", describe(fraction))
    return fraction


def _parse_senders(t: Table) -> tuple[tuple[int, ...] | None, float | None]:
    """``censor``: ``senders`` (wallet indices) or ``sender_fraction`` (default 0.25)."""
    if t.has("senders") and t.has("sender_fraction"):
        t.fail("senders", "at most one of senders and sender_fraction", "both")
    senders = t.int_list("senders", None, 0, TRAFFIC_WALLETS - 1)
    if senders is not None and (not senders or len(set(senders)) != len(senders)):
        expected = f"a non-empty list of distinct wallet indices in [0, {TRAFFIC_WALLETS - 1}]"
        t.fail("senders", expected, str(list(senders)))
    fraction = _parse_fraction(t, "sender_fraction")
    if senders is None and fraction is None:
        fraction = 0.25
    return senders, fraction


def parse_byzantine(t: Table, n: int, duration_ms: int) -> ByzantineSpec:
    """One ``[[byzantine]]``: schema only (the behaviours live in ``rppsim.sim.byzantine``)."""
    kind = t.choice("kind", BYZANTINE_KINDS)
    given = [k for k in ("nodes", "fraction") if t.has(k)]
    if len(given) != 1:
        t.fail("nodes", "exactly one of nodes and fraction", _keys(given))
    fraction = _parse_fraction(t, "fraction")
    for other, keys in _BYZANTINE_KEYS.items():
        if other != kind:
            for key in keys:
                t.forbid(key, f'unless kind = "{other}"')
    modes = BYZANTINE_MODES.get(kind)
    if modes is None:
        t.forbid("mode", "for this kind (only " + ", ".join(BYZANTINE_MODES) + " have one)")
    at, until = _check_window(t, duration_ms, 0)
    senders, sender_fraction = _parse_senders(t) if kind == "censor" else (None, None)
    spec = ByzantineSpec(
        kind=kind,
        nodes=_parse_node_set(t, n, default=None),
        fraction=fraction,
        at_ms=at,
        until_ms=until,
        mode="" if modes is None else t.choice("mode", modes, modes[0]),
        rate_per_s=_positive(t, "rate_per_s", 20.0, RATE_MAX_PER_S) if kind == "spam" else 0.0,
        invalid_fraction=t.number("invalid_fraction", 0.25, 0.0, 1.0) if kind == "spam" else 0.0,
        senders=senders,
        sender_fraction=sender_fraction,
        delay_ms=t.integer("delay_ms", 10_000, lo=1) if kind == "replay" else 0,
        victims=_parse_node_set(t, n, "victims") if kind == "eclipse" else (),
        coalition=t.string("coalition", ""),
    )
    t.finish()
    return spec


def _parse_bounds(t: Table, name: str, default: tuple[int, int], lo: int) -> tuple[int, int]:
    """A ``[lo, hi]`` pair of integers ≥ ``lo`` with lo ≤ hi."""
    pair = t.int_list(name, default, lo)
    if len(pair) != 2 or pair[0] > pair[1]:
        t.fail(name, f"a pair [lo, hi] of integers ≥ {lo} with lo ≤ hi", str(list(pair)))
    return (pair[0], pair[1])


def parse_explore(t: Table | None) -> ExploreBounds | None:
    """``[explore]``: what ``rppsim explore`` may draw (``rppsim.explore``); None if absent."""
    from rppsim.explore import DEFAULT_BOUNDS, EXPLORE_KINDS, ExploreBounds

    if t is None:
        return None
    d = DEFAULT_BOUNDS
    validators = _parse_bounds(t, "validators", d.validators, 1)
    nodes = _parse_bounds(t, "nodes", d.nodes, 1)
    if nodes[0] < validators[0] + 2 or nodes[1] < validators[1] + 2:
        expected = f"node bounds ≥ validator bounds + 2 ({[v + 2 for v in validators]})"
        t.fail("nodes", expected, str(list(nodes)))
    kinds = {}
    for name, choices, default in (
        ("kinds", EXPLORE_KINDS, d.kinds),
        ("byzantine_kinds", BYZANTINE_KINDS, d.byzantine_kinds),
    ):
        value = t.raw(name, list(default))
        what = "a non-empty list of distinct names from " + ", ".join(choices)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v in choices for v in value)
            or len(set(value)) != len(value)
        ):
            t.fail(name, what, describe(value))
        kinds[name] = tuple(value)
    bounds = ExploreBounds(
        validators=validators,
        nodes=nodes,
        duration_ms=_parse_bounds(t, "duration_ms", d.duration_ms, 2_000),
        max_faults=t.integer("max_faults", d.max_faults, lo=0),
        kinds=kinds["kinds"],
        byzantine_kinds=kinds["byzantine_kinds"],
        byzantine_power=t.number("byzantine_power", d.byzantine_power, 0.0, 1.0),
        quiet_tail_ms=t.integer("quiet_tail_ms", d.quiet_tail_ms, lo=0),
    )
    t.finish()
    return bounds


# --------------------------------------------------------------------------------------------
# [[fault]]


@dataclass(frozen=True, slots=True)
class _FaultContext:
    """What fault parsers need to know about the rest of the scenario."""

    n: int
    duration_ms: int
    regions: RegionParams | None


def _parse_crash(t: Table, c: _FaultContext) -> FaultSpec:
    node = t.integer("node", lo=0, hi=c.n - 1)
    at, until = _check_window(t, c.duration_ms)
    return Crash(node, at, until)


def _parse_restart(t: Table, c: _FaultContext) -> FaultSpec:
    return Restart(
        t.integer("node", lo=0, hi=c.n - 1),
        t.integer("at_ms", lo=0, hi=c.duration_ms - 1),
        t.boolean("keep_data", True),
    )


def _parse_pause(t: Table, c: _FaultContext) -> FaultSpec:
    node = t.integer("node", lo=0, hi=c.n - 1)
    at, until = _check_window(t, c.duration_ms)
    return Pause(node, at, until)


def _parse_heal(t: Table, c: _FaultContext) -> FaultSpec:
    return Heal(t.integer("at_ms", lo=0, hi=c.duration_ms - 1))


def _parse_groups(t: Table, c: _FaultContext) -> tuple[tuple[int, ...], ...]:
    """``groups`` (lists of node ids), ``isolate`` (one node) or ``regions`` (region names)."""
    given = [k for k in ("groups", "isolate", "regions") if t.has(k)]
    if len(given) != 1:
        t.fail("groups", "exactly one of groups, isolate and regions", _keys(given))
    if given == ["isolate"]:
        return ((t.integer("isolate", lo=0, hi=c.n - 1),),)
    if given == ["regions"]:
        if c.regions is None:
            t.fail("regions", "a [network.regions] table to name regions from", "none")
        names = t.raw("regions")
        if not isinstance(names, list) or not all(x in c.regions.names for x in names):
            t.fail("regions", "a list of names from network.regions.names", describe(names))
        region = compute_node_regions(c.regions, c.n).tolist()
        index = {name: i for i, name in enumerate(c.regions.names)}
        return tuple(tuple(v for v in range(c.n) if region[v] == index[x]) for x in names)
    groups = t.raw("groups")
    what = f"a list of non-empty lists of node ids in [0, {c.n - 1}]"
    if not isinstance(groups, list) or not groups:
        t.fail("groups", what, describe(groups))
    out = []
    for i, group in enumerate(groups):
        if not isinstance(group, list) or not group:
            t.fail(f"groups[{i}]", what, describe(group))
        out.append(
            tuple(_check_int(t, f"groups[{i}]", v, lo=0, hi=c.n - 1, what=what) for v in group)
        )
    return tuple(out)


def _check_disjoint(t: Table, groups: tuple[tuple[int, ...], ...]) -> None:
    """Partition groups must not share a node."""
    owner: dict[int, int] = {}
    for i, group in enumerate(groups):
        for v in group:
            if v in owner:
                found = f"node {v} in groups {owner[v]} and {i}"
                t.fail("groups", "disjoint groups (each node in at most one)", found)
            owner[v] = i


def _parse_partition(t: Table, c: _FaultContext) -> FaultSpec:
    groups = _parse_groups(t, c)
    _check_disjoint(t, groups)
    unlisted = t.choice("unlisted", ("group", "bridge"), "group")
    if unlisted == "bridge" and len(groups) < 2:
        t.fail("groups", 'at least two groups when unlisted = "bridge"', f"{len(groups)}")
    at, until = _check_window(t, c.duration_ms)
    return Partition(groups, at, until, unlisted, t.boolean("oneway", False))


def _parse_links(t: Table, c: _FaultContext) -> tuple[tuple[int, int], ...]:
    """``links``: pairs [u, v] of distinct node ids."""
    links = t.raw("links", [])
    what = f"a list of [u, v] pairs of distinct node ids in [0, {c.n - 1}]"
    if not isinstance(links, list):
        t.fail("links", what, describe(links))
    out = []
    for i, pair in enumerate(links):
        if not isinstance(pair, list) or len(pair) != 2:
            t.fail(f"links[{i}]", what, describe(pair))
        u, v = (_check_int(t, f"links[{i}]", x, lo=0, hi=c.n - 1, what=what) for x in pair)
        if u == v:
            t.fail(f"links[{i}]", what, describe(pair))
        out.append((u, v))
    return tuple(out)


def _parse_degrade(t: Table, c: _FaultContext) -> FaultSpec:
    links = _parse_links(t, c)
    nodes = _parse_node_set(t, c.n, default=())
    if not links and not nodes:
        t.fail("links", "links or nodes to degrade (at least one)", "neither")
    at, until = _check_window(t, c.duration_ms)
    return Degrade(
        at_ms=at,
        until_ms=until,
        links=links,
        nodes=nodes,
        extra_delay_ms=t.integer("extra_delay_ms", 0, lo=0),
        extra_loss=t.number("extra_loss", 0.0, 0.0, 1.0),
    )


def _parse_skew(t: Table, c: _FaultContext) -> FaultSpec:
    given = [k for k in ("node", "nodes") if t.has(k)]
    if len(given) != 1:
        t.fail("node", "exactly one of node and nodes", _keys(given))
    node = t.integer("node", None, lo=0, hi=c.n - 1)
    nodes = (node,) if node is not None else _parse_node_set(t, c.n)
    at, until = _check_window(t, c.duration_ms, 0)
    return ClockSkew(
        nodes=nodes,
        at_ms=at,
        until_ms=until,
        offset_ms=t.integer("offset_ms", 0),
        drift_ppm=t.integer("drift_ppm", 0, lo=-999_999, hi=1_000_000),
    )


def _parse_churn(t: Table, c: _FaultContext) -> FaultSpec:
    at, until = _check_window(t, c.duration_ms, 0)
    return Churn(
        rate_per_min=_positive(t, "rate_per_min"),
        downtime_ms=t.integer("downtime_ms", lo=1),
        at_ms=at,
        until_ms=until,
        downtime=t.choice("downtime", ("fixed", "exponential"), "fixed"),
        process=t.choice("process", ("poisson", "sequential"), "poisson"),
        nodes=_parse_node_set(t, c.n, default=None),
    )


def _parse_telemetry_outage(t: Table, c: _FaultContext) -> FaultSpec:
    nodes = _parse_node_set(t, c.n)
    at, until = _check_window(t, c.duration_ms)
    return TelemetryOutage(nodes, at, until, t.choice("mode", OUTAGE_MODES))


_FAULT_PARSERS: dict[str, Callable[[Table, _FaultContext], FaultSpec]] = {
    "crash": _parse_crash,
    "restart": _parse_restart,
    "pause": _parse_pause,
    "partition": _parse_partition,
    "heal": _parse_heal,
    "degrade": _parse_degrade,
    "clock-skew": _parse_skew,
    "churn": _parse_churn,
    "telemetry-outage": _parse_telemetry_outage,
}


def parse_faults(root: Table, context: _FaultContext) -> tuple[FaultSpec, ...]:
    """Every ``[[fault]]``, then the cross-fault checks (crash/restart/pause consistency; a
    pause must not overlap a crash window of its node)."""
    faults = []
    for t in root.tables("fault"):
        kind = t.choice("kind", tuple(FAULT_KINDS))
        faults.append(_FAULT_PARSERS[kind](t, context))
        t.finish()
    crashes = compute_crash_windows(tuple(faults), root.source)
    pauses = compute_pause_windows(tuple(faults), root.source)
    check_pause_overlaps(crashes, pauses, root.source)
    return tuple(faults)


# --------------------------------------------------------------------------------------------
# [[stage]]


def load_stage_profile(
    stage: StageSpec, params: tuple[tuple[str, Any], ...], source: str, key: str = "stage"
) -> NodeConfig:
    """A stage's profile with the scenario's ``[params]`` and its own on top; an error one of
    its own overrides causes names ``<key>.params."<path>"``."""
    merged = tuple(sorted((dict(params) | dict(stage.params)).items(), key=lambda kv: kv[0]))
    try:
        return load_profile(stage.profile_path, merged, source)
    except UserError as error:
        own = {path for path, _ in stage.params}
        path = error.key.removeprefix('params."').removesuffix('"')
        if error.key.startswith('params."') and path in own:
            blamed = f'{key}.params."{path}"'
            raise UserError(source, blamed, error.expected, error.found) from None
        raise


def _parse_stage(
    t: Table, n: int, duration_ms: int, params: tuple[tuple[str, Any], ...], scenario_dir: Path
) -> StageSpec:
    """One ``[[stage]]``: a profile (and channel) the nodes move to, batches and timing."""
    profile, path = _parse_profile(t, scenario_dir)
    stage_params, rules = parse_params(t.table("params"))
    if rules:
        knob = sorted(rules)[0]
        expected = "a key path of the node profile ([rules] apply to the whole run)"
        t.fail(f'params."rules.{knob}"', expected, "a rules knob")
    stage = StageSpec(
        at_ms=t.integer("at_ms", lo=0, hi=duration_ms - 1),
        profile=profile,
        profile_path=path,
        name=t.string("name", path.stem),
        channel=t.string("channel", None),
        batch=t.integer("batch", None, lo=1),
        interval_ms=t.integer("interval_ms", 0, lo=0),
        downtime_ms=t.integer("downtime_ms", 1000, lo=1),
        nodes=_parse_node_set(t, n, default=None),
        keep_data=t.boolean("keep_data", True),
        params=stage_params,
    )
    t.finish()
    config = load_stage_profile(stage, params, t.source, t.path)
    actual = config.rollout.release_channel.value
    if stage.channel is not None and stage.channel != actual:
        t.fail("channel", f'"{actual}" (the release_channel of {profile})', describe(stage.channel))
    return stage


def parse_stages(
    root: Table, n: int, duration_ms: int, params: tuple[tuple[str, Any], ...], scenario_dir: Path
) -> tuple[StageSpec, ...]:
    """Every ``[[stage]]``, in file order (their restarts must not overlap:
    ``check_stage_overlaps``)."""
    return tuple(
        _parse_stage(t, n, duration_ms, params, scenario_dir) for t in root.tables("stage")
    )


def check_stage_overlaps(
    stages: tuple[StageSpec, ...], faults: tuple[FaultSpec, ...], n: int, source: str
) -> None:
    """A staged node must be up when its batch goes down: its down window may not overlap one
    of its crash or pause windows, nor its window of another stage."""
    busy = compute_crash_windows(faults, source) + compute_pause_windows(faults, source)
    for w in compute_stage_windows(stages, n):
        for other in busy:
            if other.node == w.node and other.start_ms < w.end_ms and w.start_ms < other.end_ms:
                where = (
                    f"stage[{other.fault}]" if other.cause == "upgrade" else f"fault[{other.fault}]"
                )
                end = "end of run" if other.end_ms >= 2**62 else str(other.end_ms)
                expected = (
                    f"restarts of node {w.node} outside its {other.cause} window"
                    f" [{other.start_ms}, {end}) ({where})"
                )
                found = f"node {w.node} down [{w.start_ms}, {w.end_ms})"
                raise UserError(source, f"stage[{w.fault}].at_ms", expected, found)
        busy.append(w)


# --------------------------------------------------------------------------------------------
# [params], [genesis]


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key path, value) of every leaf: ``a.b = 1`` and ``"a.b" = 1`` read alike."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        out += _flatten(value, path) if isinstance(value, dict) else [(path, value)]
    return out


RULE_PATHS = tuple(f"rules.{f.name}" for f in dataclasses.fields(Rules))


def parse_params(t: Table | None) -> tuple[tuple[tuple[str, Any], ...], dict[str, Any]]:
    """``[params]``: the node-profile overrides (``OVERRIDE_PATHS`` → value, sorted by path)
    and the ``rules.<knob>`` values; an unknown path fails here, the values where they are
    applied (``load_profile``, ``parse_rules_with_params``)."""
    if t is None:
        return (), {}
    overrides: list[tuple[str, Any]] = []
    rules: dict[str, Any] = {}
    for path, value in _flatten(t.data):
        if path in RULE_PATHS:
            rules[path.removeprefix("rules.")] = value
        elif is_override_path(path):
            overrides.append((path, value))
        else:
            close = difflib.get_close_matches(path, OVERRIDE_PATHS + RULE_PATHS, n=1)
            expected = (
                "a key path of the node profile (such as target_validator_count) or rules.<knob>"
            )
            if close:
                expected = f"{expected}; did you mean {close[0]}?"
            t.fail(f'"{path}"', expected, "unknown key path")
    t.known.update(t.data)
    return tuple(sorted(overrides, key=lambda item: item[0])), rules


def parse_rules_with_params(t: Table | None, params: Mapping[str, Any], source: str) -> Rules:
    """``[rules]`` plus the ``rules.<knob>`` values of ``[params]`` (a knob set in both is an
    error naming the ``[params]`` one)."""
    data = {} if t is None else dict(t.data)
    for knob in params:
        if knob in data:
            expected = "a knob set once: in [rules] or in [params]"
            raise UserError(source, f'params."rules.{knob}"', expected, "both")
    try:
        return parse_rules({**data, **params}, source)
    except UserError as error:
        if error.key.removeprefix("rules.") in params:
            raise UserError(source, f'params."{error.key}"', error.expected, error.found) from None
        raise


def _parse_account_value(t: Table, name: str, n: int, lo: int, hi: int) -> AccountValue | None:
    """A class's per-account value: one integer, a list of ``n``, or a draw table
    ``{values, weights}`` / ``{range = [lo, hi]}``; None when absent."""
    what = _describe_range("integers", lo, hi)
    if not t.has(name):
        return None
    value = t.data[name]
    if isinstance(value, list):
        if len(value) != n:
            t.fail(name, f"a list of {n} {what} (one per account)", f"{len(value)} items")
        return tuple(
            _check_int(t, f"{name}[{i}]", v, lo=lo, hi=hi, what=what) for i, v in enumerate(value)
        )
    if isinstance(value, dict):
        return _parse_draw(_required_table(t, name), lo, hi)
    if isinstance(value, bool) or not isinstance(value, int):
        expected = f"an integer, a list of {n} (one per account) or a draw {{values}} / {{range}}"
        t.fail(name, expected, describe(value))
    return _check_int(t, name, value, lo=lo, hi=hi, what=_describe_range("an integer", lo, hi))


def _parse_draw(t: Table, lo: int, hi: int) -> Draw:
    """``{values = [...], weights = [...]}`` or ``{range = [a, b]}``, drawn per account."""
    given = [k for k in ("values", "range") if t.has(k)]
    if len(given) != 1:
        t.fail("values", "exactly one of values (with optional weights) and range", _keys(given))
    if given == ["range"]:
        t.forbid("weights", "with range")
        pair = t.int_list("range", lo=lo, hi=hi)
        if len(pair) != 2 or pair[0] > pair[1]:
            t.fail(
                "range", f"a pair [a, b] of integers in [{lo}, {hi}] with a ≤ b", str(list(pair))
            )
        t.finish()
        return Draw(range=(pair[0], pair[1]))
    values = t.int_list("values", lo=lo, hi=hi)
    if not values:
        t.fail("values", "a non-empty list", "[]")
    weights = t.raw("weights", [1.0] * len(values))
    expected = f"a list of {len(values)} numbers ≥ 0 (one per value) with a positive sum"
    if (
        not isinstance(weights, list)
        or len(weights) != len(values)
        or not all(isinstance(w, int | float) and not isinstance(w, bool) for w in weights)
        or not all(math.isfinite(w) and w >= 0 for w in weights)
        or sum(weights) <= 0
    ):
        t.fail("weights", expected, describe(weights))
    t.finish()
    return Draw(values=values, weights=tuple(float(w) for w in weights))


def _parse_account_class(t: Table | None, n: int, lowest_tier: int) -> AccountClass:
    """``[genesis.validators]`` / ``[genesis.others]``: ``tier`` and ``timetoke_hours``."""
    if t is None:
        return AccountClass()
    spec = AccountClass(
        tier=_parse_account_value(t, "tier", n, lowest_tier, 5),
        timetoke_hours=_parse_account_value(t, "timetoke_hours", n, 0, U64_MAX),
    )
    t.finish()
    return spec


def _parse_stake(t: Table, n: int) -> str | tuple[int, ...]:
    """``stake``: a shape, or one integer per account (then no shape parameters)."""
    value = t.raw("stake", "equal")
    if isinstance(value, list):
        what = f"a list of {n} integers in [0, 2^128 − 1] (one per account)"
        if len(value) != n:
            t.fail("stake", what, f"{len(value)} items")
        for key in ("stake_total", "zipf_s", "pareto_alpha"):
            t.forbid(key, "with an explicit stake list")
        return tuple(
            _check_int(t, f"stake[{i}]", v, lo=0, hi=U128_MAX, what=what)
            for i, v in enumerate(value)
        )
    if value not in STAKE_SHAPES:
        expected = "one of " + ", ".join(f'"{c}"' for c in STAKE_SHAPES)
        t.fail("stake", f"{expected} or a list of {n} integers ≥ 0", describe(value))
    for key, shape in (("zipf_s", "zipf"), ("pareto_alpha", "pareto")):
        if value != shape:
            t.forbid(key, f'unless stake = "{shape}"')
    return value


def _parse_genesis_file(
    t: Table, nodes: NodesConfig, configs: list[NodeConfig], scenario_dir: Path
) -> GenesisSpec:
    """``[genesis] file``: the chain's genesis format; its validators are the validator nodes."""
    for key in ("accounts", "stake", "stake_total", "zipf_s", "pareto_alpha", "balance"):
        t.forbid(key, "with file (the file lists the accounts)")
    for key in ("chain_id", "validators", "others"):
        t.forbid(key, "with file (the file lists the accounts)")
    raw = t.string("file")
    path = resolve_path(raw, scenario_dir)
    if path is None:
        expected = "a genesis file (relative to the scenario file or the current directory)"
        t.fail("file", expected, describe(raw))
    spec = GenesisSpec(file=raw, file_path=path, wallets=t.boolean("wallets", True))
    t.finish()
    genesis = load_genesis_file(spec, configs[0], t.source)
    count = len(compute_file_validators(genesis))
    if count != nodes.validators:
        expected = f"{count} (the validator accounts of genesis file {raw})"
        raise UserError(t.source, "nodes.validators", expected, str(nodes.validators))
    text = json.dumps(compute_canonical(genesis), sort_keys=True, separators=(",", ":"))
    return dataclasses.replace(spec, file_digest=hashlib.blake2s(text.encode()).hexdigest())


def parse_genesis(
    t: Table | None, nodes: NodesConfig, configs: list[NodeConfig], seed: int, scenario_dir: Path
) -> GenesisSpec | None:
    """``[genesis]``: a file, or generated accounts; ``configs`` are the run's profiles (the
    ``[nodes]`` one first). The genesis is built once with the scenario's seed and checked under
    every profile, so a draw no profile accepts fails here (a ``--seed`` run checks again)."""
    if t is None:
        return None
    if t.has("file"):
        spec = _parse_genesis_file(t, nodes, configs, scenario_dir)
    else:
        accounts = t.integer("accounts", None, lo=nodes.validators)
        n = nodes.validators if accounts is None else accounts
        stake = _parse_stake(t, n)
        chain_id = t.string("chain_id", DEFAULT_CHAIN_ID)
        if not chain_id.strip():
            t.fail("chain_id", "a non-empty chain id", describe(chain_id))
        spec = GenesisSpec(
            chain_id=chain_id,
            accounts=accounts,
            stake=stake,
            stake_total=t.integer("stake_total", None, lo=1, hi=U128_MAX),
            zipf_s=_positive(t, "zipf_s", 1.0),
            pareto_alpha=_positive(t, "pareto_alpha", 1.16),
            balance=t.integer("balance", VALIDATOR_BALANCE, lo=0, hi=U128_MAX),
            validators=_parse_account_class(t.table("validators"), nodes.validators, 3),
            others=_parse_account_class(t.table("others"), n - nodes.validators, 0),
            wallets=t.boolean("wallets", True),
        )
        t.finish()
    placeholders = [f"{i:064x}" for i in range(1, nodes.validators + 1)]
    build_run_genesis(spec, placeholders, (), configs, SeedTree(seed), t.source)
    return spec


# --------------------------------------------------------------------------------------------
# The whole file


ROOT_KEYS = (
    "run",
    "rules",
    "nodes",
    "network",
    "traffic",
    "costs",
    "telemetry",
    "fault",
    "byzantine",
    "explore",
    "expect",
    "guardrails",
    "genesis",
    "params",
    "stage",
)


def parse_guardrails(t: Table | None) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    """``[guardrails.<id>]``: tables of numeric threshold overrides, one per guardrail id
    (``rppsim.guardrails.GUARDRAIL_IDS``) or promotion id (``PROMOTION_IDS``); the names a
    verdict reads are checked when it runs (``rppsim.sim.run``)."""
    from rppsim.guardrails import GUARDRAIL_IDS
    from rppsim.guardrails.promotion import PROMOTION_IDS

    if t is None:
        return ()
    out = []
    for guardrail_id in sorted(t.data):
        if guardrail_id not in GUARDRAIL_IDS + PROMOTION_IDS:
            expected = "a guardrail or promotion id such as g18-liveness or promote-canary"
            t.fail(guardrail_id, expected, repr(guardrail_id))
        table = t.table(guardrail_id)
        assert table is not None
        values = []
        for name in sorted(table.data):
            value = table.data[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                table.fail(name, "a number (a threshold)", describe(value))
            values.append((name, float(value)))
        out.append((guardrail_id, tuple(values)))
    return tuple(out)


def parse_expect(t: Table | None) -> ExpectConfig:
    """``[expect]``: ``fail`` lists distinct verdict ids (``rppsim.verdicts.VERDICT_IDS``)."""
    from rppsim.verdicts import VERDICT_IDS

    if t is None:
        return ExpectConfig()
    value = t.raw("fail", [])
    expected = "a list of distinct verdict ids from " + ", ".join(VERDICT_IDS)
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) and v in VERDICT_IDS for v in value)
        or len(set(value)) != len(value)
    ):
        t.fail("fail", expected, describe(value))
    t.finish()
    return ExpectConfig(tuple(value))


def parse_scenario(data: Mapping[str, Any], source_path: Path | str) -> Scenario:
    """Validate a parsed TOML document; paths resolve against ``source_path``'s folder."""
    source_path = Path(source_path)
    root = Table(data, str(source_path))
    root.known.update(ROOT_KEYS)
    root.finish()
    run = parse_run(root)
    params, params_rules = parse_params(root.table("params"))
    nodes = parse_nodes(root, source_path.parent)
    rules = parse_rules_with_params(root.table("rules"), params_rules, root.source)
    stages = parse_stages(root, nodes.count, run.duration_ms, params, source_path.parent)
    genesis = None
    if params or nodes.groups or root.has("genesis") or stages:  # else read when it runs
        profiles = [nodes.profile_path, *(g.profile_path for g in nodes.groups)]
        configs = [load_profile(path, params, root.source) for path in profiles]
        configs += [load_stage_profile(stage, params, root.source) for stage in stages]
        genesis = parse_genesis(root.table("genesis"), nodes, configs, run.seed, source_path.parent)
    network = parse_network(root, nodes.count, source_path.parent)
    context = _FaultContext(nodes.count, run.duration_ms, network.regions)
    faults = parse_faults(root, context)
    check_stage_overlaps(stages, faults, nodes.count, root.source)
    return Scenario(
        source=root.source,
        run=run,
        rules=rules,
        nodes=nodes,
        network=network,
        traffic=parse_traffic(root.table("traffic"), run.duration_ms),
        costs=parse_costs(root.table("costs")),
        telemetry=parse_telemetry(root.table("telemetry")),
        faults=faults,
        byzantine=tuple(
            parse_byzantine(t, nodes.count, run.duration_ms) for t in root.tables("byzantine")
        ),
        explore=parse_explore(root.table("explore")),
        expect=parse_expect(root.table("expect")),
        guardrails=parse_guardrails(root.table("guardrails")),
        genesis=genesis,
        params=params,
        stages=stages,
    )


def load_scenario(path: Path | str, *, duration_ms: int | None = None) -> Scenario:
    """Read and validate a scenario file; every problem is a one-line ``UserError``.

    ``duration_ms`` (``--duration-ms``) replaces ``run.duration_ms`` before validation, so the
    fault, traffic and stage windows are checked against it as if the file said so; a problem
    it causes names the flag.
    """
    path = Path(path)
    if duration_ms is None:
        return parse_scenario(read_scenario_data(path), path)
    data = read_scenario_data(path)
    run = data.get("run")
    engine = run.get("engine", "full") if isinstance(run, dict) else "full"
    limit = get_duration_max_ms(engine if engine in ENGINES else "full")
    if not 1 <= duration_ms <= limit:
        days = limit // 86_400_000
        expected = f"an integer in [1, {limit}] (simulated ms: at most {days} day(s))"
        raise UserError("rppsim run", "--duration-ms", expected, str(duration_ms))
    if isinstance(run, dict):
        data = {**data, "run": {**run, "duration_ms": duration_ms}}
    try:
        return parse_scenario(data, path)
    except UserError as error:
        expected = f"{error.expected} (with --duration-ms {duration_ms})"
        raise dataclasses.replace(error, expected=expected) from None


def read_toml_document(path: Path, kind: str) -> tuple[dict[str, Any], str]:
    """A ``kind`` file's TOML document and its text (a scenario, a sweep); an unreadable or
    invalid file is a ``UserError``."""
    try:
        text = path.read_text(encoding="utf-8")
        return tomllib.loads(text), text
    except FileNotFoundError:
        raise UserError(str(path), "", f"an existing {kind} file", "nothing at that path") from None
    except IsADirectoryError:
        raise UserError(str(path), "", f"a {kind} file (TOML)", "a folder") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(str(path), "", "valid TOML", str(error)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(str(path), "", "a readable UTF-8 TOML file", str(error)) from None


def read_scenario_data(path: Path) -> dict[str, Any]:
    """A scenario file's TOML document; an unreadable or invalid file is a ``UserError``."""
    return read_toml_document(path, "scenario")[0]
