"""The scenario model the simulator consumes: validated, frozen, plain data
(docs/architecture.md#scenarios).

``rppsim.scenario`` reads and checks the TOML into these dataclasses; everything under
``rppsim.sim`` takes them as they are and never imports the scenario layer back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rppsim.node.rules import Rules
from rppsim.sim.faults import FAULT_KINDS, FaultSpec, get_fault_kind
from rppsim.sim.genesis import GenesisSpec
from rppsim.sim.gossip import MeshParams
from rppsim.sim.links import ClassParams, LinkParams, RegionParams
from rppsim.sim.topology import TopologyParams

TRAFFIC_WALLETS = 32
"""The run's traffic wallets (``censor`` names senders by wallet index)."""
SEED_MAX = 2**64 - 1
DURATION_MAX_MS = 86_400_000
"""``run.duration_ms`` (and ``--duration-ms``) at most one simulated day: a 10-node run simulates
about a minute per wall second with the model prover, so a day is roughly half an hour of
wall time (``rppsim run`` stops cleanly on Ctrl-C and keeps what it has)."""
FAST_DURATION_MAX_MS = 400 * 86_400_000
"""With ``engine = "fast"`` at most 400 simulated days: 30 days of 1,000 validators take under
a minute (``rppsim bench model``), so 400 days of them about ten minutes."""
ENGINES = ("full", "fast")


def get_duration_max_ms(engine: str) -> int:
    """The longest run an engine accepts (``DURATION_MAX_MS``, ``FAST_DURATION_MAX_MS``)."""
    return FAST_DURATION_MAX_MS if engine == "fast" else DURATION_MAX_MS


@dataclass(frozen=True, slots=True)
class RunConfig:
    """``[run]``: seed, simulated duration, prover mode, labels."""

    seed: int
    duration_ms: int
    prover: str = "real"
    name: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    """Labels that pick the scenario out of the library (``rppsim run --tag ci scenarios/``);
    they change nothing in the run and are left out of the scenario's digest."""
    engine: str = "full"
    """``"full"`` (the simulator) or ``"fast"`` (the per-height protocol model,
    ``rppsim.model``); left out of the digest when ``"full"``."""


@dataclass(frozen=True, slots=True)
class NodeGroup:
    """One ``[[nodes.group]]``: nodes (listed, or ``count`` drawn from the seed) that run their
    own profile."""

    profile: str
    profile_path: Path
    nodes: tuple[int, ...] | None = None
    count: int | None = None
    name: str = ""
    """A label (default: the profile file's stem)."""
    genesis_chain_id: str | None = None
    """``[nodes.group.genesis] chain_id``: the group's nodes ship the run's genesis under this
    chain id (a different genesis hash: what guardrail g22 looks for); None: the run's."""


@dataclass(frozen=True, slots=True)
class NodesConfig:
    """``[nodes]``: how many nodes, how many seeded genesis validators, which profile (the
    nodes of a ``[[nodes.group]]`` run the group's)."""

    count: int
    validators: int
    profile: str
    profile_path: Path
    groups: tuple[NodeGroup, ...] = ()


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """``[network]``: topology, gossip mode, link model, regions, classes, mesh overrides."""

    topology: TopologyParams
    gossip: str = "flood"
    link: LinkParams = dataclasses.field(default_factory=LinkParams)
    regions: RegionParams | None = None
    classes: ClassParams | None = None
    mesh: tuple[tuple[str, MeshParams], ...] = ()
    edges: str | None = None
    edges_path: Path | None = None


@dataclass(frozen=True, slots=True)
class TrafficPhase:
    """One ``[[traffic.phase]]``: Poisson at ``rate_per_s`` or on/off bursts
    (docs/simnet.md#traffic)."""

    duration_ms: int
    model: str = "poisson"
    rate_per_s: float = 0.0
    on_ms: int = 0
    off_ms: int = 0


@dataclass(frozen=True, slots=True)
class TrafficConfig:
    """``[traffic]``: transaction and identity-request rates, publisher choice, phases."""

    tx_per_s: float = 0.0
    identity_per_min: float = 0.0
    publisher: str = "uniform"
    zipf_s: float = 1.0
    phases: tuple[TrafficPhase, ...] = ()


@dataclass(frozen=True, slots=True)
class CostsConfig:
    """``[costs]``: charge the prover cost model's simulated time."""

    enabled: bool = True


CHAIN_RECORDS = ("full", "retained")
"""``[telemetry] chain_record``: what each node keeps of its finalized commits."""


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    """``[telemetry]``: what the harness records."""

    record_messages: bool = True
    sample_interval_ms: int | None = None
    message_sample_rate: float = 1.0
    """The share of messages whose rows the ``messages`` frame keeps (1.0: every message;
    a message is kept when BLAKE2s of its id falls below the rate, the same in any process)."""
    chain_record: str = "full"
    """``full``: every node keeps every finalized commit whole (``Node.chain``, what tests and
    drivers read back); ``retained``: only what its pruning config retains (long runs)."""


@dataclass(frozen=True, slots=True)
class ByzantineSpec:
    """One ``[[byzantine]]`` behaviour: kind, nodes (or a seeded fraction), window, and the
    parameters of its kind (``rppsim.sim.byzantine``)."""

    kind: str
    nodes: tuple[int, ...] | None
    fraction: float | None
    at_ms: int
    until_ms: int | None
    mode: str = ""
    """``invalid-block``, ``invalid-proof``, ``vrf-lie``: the variant (``BYZANTINE_MODES``)."""
    rate_per_s: float = 0.0
    """``spam``: distinct transactions per second per node."""
    invalid_fraction: float = 0.0
    """``spam``: the share of them sent with a bad signature."""
    senders: tuple[int, ...] | None = None
    """``censor``: the traffic wallets (by index) whose transactions are dropped."""
    sender_fraction: float | None = None
    """``censor``: or a seeded fraction of the wallets."""
    delay_ms: int = 0
    """``replay``: how long after sending a message it is sent again."""
    victims: tuple[int, ...] = ()
    """``eclipse``: the nodes its nodes cut off."""
    coalition: str = ""
    """Entries naming one coalition coordinate (``rppsim.sim.byzantine.coalition``)."""


@dataclass(frozen=True, slots=True)
class ExpectConfig:
    """``[expect]``: the verdict ids that must fail (a drill that demonstrates a failure);
    every other applicable verdict must pass."""

    fail: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StageSpec:
    """One ``[[stage]]`` of a rollout: at ``at_ms`` the selected nodes restart onto
    ``profile`` in batches of ``batch`` (None: all at once), each node down for
    ``downtime_ms``, the next batch ``interval_ms`` after the previous one is back up
    (``rppsim.sim.stages``)."""

    at_ms: int
    profile: str
    profile_path: Path
    name: str
    """A label (default: the profile file's stem)."""
    channel: str | None = None
    """The release channel the profile must advertise (checked when the scenario loads)."""
    batch: int | None = None
    interval_ms: int = 0
    downtime_ms: int = 1000
    nodes: tuple[int, ...] | None = None
    """The nodes that move (None: every node), in this order."""
    keep_data: bool = True
    """False: the restart loses what the node persisted and starts from genesis."""
    params: tuple[tuple[str, Any], ...] = ()
    """``[stage.params]`` profile overrides on top of the scenario's ``[params]``."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario."""

    source: str
    run: RunConfig
    rules: Rules
    nodes: NodesConfig
    network: NetworkConfig
    traffic: TrafficConfig
    costs: CostsConfig
    telemetry: TelemetryConfig
    faults: tuple[FaultSpec, ...] = ()
    byzantine: tuple[ByzantineSpec, ...] = ()
    explore: Any = None
    """``[explore]``: an ``rppsim.explore.ExploreBounds``, the bounds of ``rppsim explore``
    (``rppsim run`` ignores them; the simulator never reads them), or None."""
    expect: ExpectConfig = ExpectConfig()
    guardrails: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()
    """``[guardrails.<id>]`` threshold overrides: (guardrail id, ((name, value), ...))."""
    genesis: GenesisSpec | None = None
    """``[genesis]``: a genesis file or generated accounts (None: the development genesis)."""
    params: tuple[tuple[str, Any], ...] = ()
    """``[params]`` node-profile overrides: (key path, value), by path (``rules.*`` ones are
    in ``rules``)."""
    stages: tuple[StageSpec, ...] = ()
    """``[[stage]]``: the rollout's rolling restarts, by ``at_ms``."""

    def canonical(self) -> dict[str, Any]:
        """The scenario as plain JSON data (no source, no resolved paths). Tables a scenario
        leaves out that older rppsim did not know (``genesis``, ``params``, node groups,
        ``stages``, a restart's ``keep_data = true``) are left out, so the digests of scenarios
        without them stay as they were."""
        data = {k: v for k, v in compute_canonical(self).items() if k != "source"}
        del data["run"]["tags"]
        if data["run"]["engine"] == "full":
            del data["run"]["engine"]
        for fault in data["faults"]:
            if fault.get("keep_data") is True:
                del fault["keep_data"]
        for key in ("genesis", "params", "stages"):
            if not data[key]:
                del data[key]
        knobs = ("authenticate_timetoke_merge", "normalise_vrf_metrics", "nonce_ordered_payload")
        for knob in knobs:
            if data["rules"][knob] is False:  # newer [rules] knobs, left out at the default
                del data["rules"][knob]
        for group in data["nodes"]["groups"]:
            if group["genesis_chain_id"] is None:
                del group["genesis_chain_id"]
        for entry in data["byzantine"]:  # newer [[byzantine]] keys, left out at the default
            for key, default in (("victims", []), ("coalition", "")):
                if entry.get(key) == default:
                    del entry[key]
        if not data["nodes"]["groups"]:
            del data["nodes"]["groups"]
        telemetry = data["telemetry"]  # newer [telemetry] keys, left out at the default
        for name, value in (("message_sample_rate", 1.0), ("chain_record", "full")):
            if telemetry[name] == value:
                del telemetry[name]
        return data

    def digest(self) -> str:
        """Hex BLAKE2s of the canonical JSON (sorted keys, floats as Python's shortest repr)."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.blake2s(text.encode("utf-8")).hexdigest()


def compute_canonical(value: Any) -> Any:
    """JSON data of a (nested) dataclass; ``*_path`` fields dropped, fault specs get ``kind``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {
            f.name: compute_canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.name.endswith("_path")
        }
        if type(value) in FAULT_KINDS.values():
            out["kind"] = get_fault_kind(value)  # type: ignore[arg-type]  # a FaultSpec, checked above
        return out
    if isinstance(value, tuple | list):
        return [compute_canonical(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    return value
