"""Typed node configuration: the chain's ``NodeConfig`` keys the harness uses
(docs/operations.md#node-configuration).

Loading runs in three steps, each stopping at its first error (the chain's rule,
docs/operations.md#loading-and-rejection):

1. parse (the chain's serde step): first unknown keys in document order (strict: error,
   relaxed: warning; an unknown feature gate fails in both modes), then types, required keys,
   enum values, reputation weights and tier thresholds;
2. ``validate_config`` in the chain's ``validate()`` order: timetoke (malachite's table in the
   chain), config_version, root > 0 checks, proof_cache, rollout.telemetry, queue_weights;
3. genesis (the chain parses stakes only when it applies genesis): the ``[genesis]`` table or the
   file named by ``genesis_path``, checked against this config's tier thresholds.

Unlike the chain, unknown keys are reported before any type error, so a misspelt
required key reads "unknown key ... did you mean" rather than "missing". ``key_path`` and
``vrf_key_path`` are optional here: the harness derives keys from seeds.

Profiles are overlays: ``extends = "../node.toml"`` (relative to the overlay) plus the keys they
change; tables merge, scalars and arrays replace (``load_config`` resolves the chain of files).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Final

from rppsim.errors import UserError, describe
from rppsim.node.genesis import (
    REQUIRED,
    U32_MAX,
    GenesisConfig,
    TableReader,
    check_genesis,
    join_key,
    load_genesis,
    parse_genesis,
    read_toml,
)
from rppsim.node.reputation import ReputationWeights, TierThresholds
from rppsim.node.timetoke import TimetokeParams

CONFIG_VERSION: Final = "1.0"
SUM_TOLERANCE: Final = 1e-6


class ReleaseChannel(Enum):
    """``rollout.release_channel`` (docs/operations.md#rollout); ``order`` is the promotion
    order."""

    DEVELOPMENT = "development"
    TESTNET = "testnet"
    CANARY = "canary"
    MAINNET = "mainnet"

    @property
    def order(self) -> int:
        """Index in development → testnet → canary → mainnet (docs/operations.md#guardrails row
        3)."""
        return list(ReleaseChannel).index(self)


FEATURE_GATE_NAMES: Final = (
    "pruning",
    "recursive_proofs",
    "reconstruction",
    "consensus_enforcement",
    "malachite_consensus",
    "timetoke_rewards",
    "witness_network",
)

# The gate each stage switches on, in order (docs/operations.md#rollout, staged rollout bundles).
_STAGE_GATE: Final = {
    ReleaseChannel.TESTNET: "malachite_consensus",
    ReleaseChannel.CANARY: "timetoke_rewards",
    ReleaseChannel.MAINNET: "witness_network",
}


@dataclass(frozen=True, slots=True)
class FeatureGates:
    """``[rollout.feature_gates]``: 7 bools at the chain's code defaults
    (docs/operations.md#rollout)."""

    pruning: bool = True
    recursive_proofs: bool = True
    reconstruction: bool = True
    consensus_enforcement: bool = True
    malachite_consensus: bool = False
    timetoke_rewards: bool = False
    witness_network: bool = False

    def as_dict(self) -> dict[str, bool]:
        """The gates by name, in the chain's order (the ``feature_gates`` JSON object)."""
        return {name: getattr(self, name) for name in FEATURE_GATE_NAMES}


def compute_announcement_problem(announced: Mapping[str, object]) -> str | None:
    """Why a peer's feature-gate announcement (gate name → bool) is refused, None when it is
    not: the chain rejects a name outside the 7 gates (docs/operations.md#rollout)."""
    for name, value in announced.items():
        if name not in FEATURE_GATE_NAMES:
            return f"unknown feature gate `{name}` in announcement"
        if not isinstance(value, bool):
            return f"feature gate `{name}` in announcement is not a bool"
    return None


@dataclass(frozen=True, slots=True)
class VrfThresholds:
    """``[rollout.telemetry.vrf_thresholds]`` (docs/operations.md#telemetry-configuration), each in
    [0, 1]."""

    min_participation_rate: float = 0.66
    max_rejection_rate: float = 0.25
    max_fallback_ratio: float = 0.10


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    """``[rollout.telemetry]`` (docs/operations.md#telemetry-configuration); an empty endpoint is
    stored as None."""

    enabled: bool = False
    endpoint: str | None = None
    http_endpoint: str | None = None
    sample_interval_secs: int = 30
    timeout_ms: int = 5000
    retry_max: int = 3
    redact_logs: bool = True
    vrf_thresholds: VrfThresholds = field(default_factory=VrfThresholds)


@dataclass(frozen=True, slots=True)
class RolloutConfig:
    """``[rollout]`` (docs/operations.md#rollout)."""

    release_channel: ReleaseChannel = ReleaseChannel.DEVELOPMENT
    feature_gates: FeatureGates = field(default_factory=FeatureGates)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)


@dataclass(frozen=True, slots=True)
class ProofCacheConfig:
    """``[proof_cache]`` (docs/operations.md#root-keys): retain counts, per backend fingerprint."""

    default_retain: int = 1024
    per_backend_retain: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PruningConfig:
    """``[pruning]`` (docs/operations.md#pruning-and-storage): how often the pruning worker
    runs and how many of the newest blocks it keeps (the chain's defaults; its production
    profile keeps 512 every 20 s). Both must be > 0."""

    cadence_secs: int = 30
    retention_depth: int = 128


@dataclass(frozen=True, slots=True)
class ReputationConfig:
    """``[reputation]``: weights, tier thresholds and timetoke params
    (docs/operations.md#reputation-timetoke-and-governance-keys)."""

    weights: ReputationWeights = field(default_factory=ReputationWeights)
    tier_thresholds: TierThresholds = field(default_factory=TierThresholds)
    timetoke: TimetokeParams = field(default_factory=TimetokeParams)


@dataclass(frozen=True, slots=True)
class QueueWeights:
    """``[queue_weights]``: shown by /status/mempool, not used for ordering
    (docs/operations.md#limits-and-queues)."""

    priority: float = 0.7
    fee: float = 0.3


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The node configuration; defaults are the chain's code defaults
    (docs/operations.md#root-keys).

    ``genesis_path`` (rppsim's) names a genesis file relative to the config file that sets it;
    ``genesis`` then holds that file's content. A file has either it or a ``[genesis]`` table.
    """

    config_version: str = CONFIG_VERSION
    data_dir: str = "./data"
    key_path: str = "./keys/node.toml"
    vrf_key_path: str = "./keys/vrf.toml"
    snapshot_dir: str = "./data/snapshots"
    proof_cache_dir: str = "./data/proofs"
    block_time_ms: int = 5000
    max_block_transactions: int = 512
    max_block_identity_registrations: int = 32
    mempool_limit: int = 8192
    epoch_length: int = 720
    target_validator_count: int = 100
    max_proof_size_bytes: int = 4 * 1024 * 1024
    proof_cache: ProofCacheConfig = field(default_factory=ProofCacheConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    reputation: ReputationConfig = field(default_factory=ReputationConfig)
    queue_weights: QueueWeights = field(default_factory=QueueWeights)
    pruning: PruningConfig = field(default_factory=PruningConfig)
    genesis: GenesisConfig = field(default_factory=GenesisConfig)
    genesis_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view with the chain's key names (enums as their values). A
        ``[pruning]`` table at the chain's defaults is left out: the view (a run's ``profile``
        fact) of a profile that does not set it reads as it did before rppsim modelled it."""
        view: dict[str, Any] = _jsonable(dataclasses.asdict(self))
        if self.pruning == PruningConfig():
            del view["pruning"]
        return view


DEFAULT: Final = NodeConfig()

PATH_KEYS: Final = ("data_dir", "key_path", "vrf_key_path", "snapshot_dir", "proof_cache_dir")
POSITIVE_ROOT_KEYS: Final = (
    "block_time_ms",
    "max_block_transactions",
    "max_block_identity_registrations",
    "mempool_limit",
    "epoch_length",
    "target_validator_count",
    "max_proof_size_bytes",
)
REQUIRED_ROOT_KEYS: Final = ("data_dir", "block_time_ms", "max_block_transactions", "mempool_limit")
ROOT_SCALAR_KEYS: Final = ("config_version", *PATH_KEYS, *POSITIVE_ROOT_KEYS, "genesis_path")
ROOT_TABLE_KEYS: Final = (
    "proof_cache",
    "rollout",
    "reputation",
    "queue_weights",
    "pruning",
    "genesis",
)
ROOT_KEYS: Final = (*ROOT_SCALAR_KEYS, *ROOT_TABLE_KEYS)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


# --- Stage bundles (docs/operations.md#rollout; guardrail 4)
# -----------------------------------------


def compute_stage_gates(channel: ReleaseChannel | str) -> dict[str, bool]:
    """The 7 gates of a stage's rollout bundle: each stage adds one gate to the previous one."""
    stage = ReleaseChannel(channel)
    gates = FeatureGates().as_dict()
    for earlier, gate in _STAGE_GATE.items():
        if earlier.order <= stage.order:
            gates[gate] = True
    return gates


def compute_gate_regressions(earlier: Mapping[str, bool], later: Mapping[str, bool]) -> list[str]:
    """Gates on in the earlier stage but off in the later one (docs/operations.md#guardrails row
    4)."""
    return [name for name in FEATURE_GATE_NAMES if earlier.get(name) and not later.get(name)]


def is_monotone_gate_sequence(stages: Sequence[Mapping[str, bool]]) -> bool:
    """Whether gates graduate monotonically along ``stages`` (no gate switches back off)."""
    return all(not compute_gate_regressions(a, b) for a, b in itertools.pairwise(stages))


def compute_cache_capacity(proof_cache: ProofCacheConfig, fingerprint: str) -> int:
    """Retain count for a backend fingerprint, else ``default_retain``
    (docs/operations.md#root-keys)."""
    return proof_cache.per_backend_retain.get(fingerprint, proof_cache.default_retain)


# --- Step 1: parse -------------------------------------------------------------------------


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(item.name for item in dataclasses.fields(cls))


# Known keys per table path; "proof_cache.per_backend_retain" is free-form and "genesis" is
# checked by the genesis parser in step 3.
SCHEMA: Final[dict[str, tuple[str, ...]]] = {
    "": ROOT_KEYS,
    "proof_cache": ("default_retain", "per_backend_retain"),
    "rollout": ("release_channel", "feature_gates", "telemetry"),
    "rollout.feature_gates": FEATURE_GATE_NAMES,
    "rollout.telemetry": _field_names(TelemetryConfig),
    "rollout.telemetry.vrf_thresholds": _field_names(VrfThresholds),
    "reputation": ("weights", "tier_thresholds", "timetoke"),
    "reputation.weights": _field_names(ReputationWeights),
    "reputation.tier_thresholds": _field_names(TierThresholds),
    "reputation.timetoke": _field_names(TimetokeParams),
    "queue_weights": _field_names(QueueWeights),
    "pruning": _field_names(PruningConfig),
}


def _check_unknown_keys(table: Mapping[str, Any], reader: TableReader, path: str = "") -> None:
    """Unknown keys of every schema table, in document order (strict: error, relaxed: warning).

    Runs before any type check, so a root key nested under a table by a misplaced header gets
    its "belongs at the root" hint instead of a "missing" error (docs/operations.md#sources).
    """
    gates = path == "rollout.feature_gates"
    reader.check_keys(table, path, SCHEMA[path], always_strict=gates)
    for key, value in table.items():
        child = join_key(path, key)
        if isinstance(value, dict) and child in SCHEMA:
            _check_unknown_keys(value, reader, child)


def _parse_root_scalars(doc: Mapping[str, Any], reader: TableReader) -> dict[str, Any]:
    """Root keys: version string, path strings and unsigned integers."""
    values: dict[str, Any] = {
        "config_version": reader.get_str(doc, "", "config_version", CONFIG_VERSION)
    }
    for key in PATH_KEYS:
        default = REQUIRED if key in REQUIRED_ROOT_KEYS else getattr(DEFAULT, key)
        values[key] = reader.get_str(doc, "", key, default, non_empty=True)
    for key in POSITIVE_ROOT_KEYS:
        default = REQUIRED if key in REQUIRED_ROOT_KEYS else getattr(DEFAULT, key)
        values[key] = reader.get_int(doc, "", key, default)
    values["genesis_path"] = reader.get_str(doc, "", "genesis_path", None, non_empty=True)
    return values


def _parse_proof_cache(doc: Mapping[str, Any], reader: TableReader) -> ProofCacheConfig:
    """``[proof_cache]``: retain counts (range checks in step 2)."""
    path = "proof_cache"
    table = reader.get_table(doc, "", path, {})
    default_retain = reader.get_int(
        table, path, "default_retain", DEFAULT.proof_cache.default_retain
    )
    retain_path = join_key(path, "per_backend_retain")
    retain = reader.get_table(table, path, "per_backend_retain", {})
    per_backend = {key: reader.get_int(retain, retain_path, key) for key in retain}
    return ProofCacheConfig(default_retain=default_retain, per_backend_retain=per_backend)


def _parse_channel(table: Mapping[str, Any], reader: TableReader) -> ReleaseChannel:
    """``rollout.release_channel``: a snake_case enum value."""
    value = reader.get_str(table, "rollout", "release_channel", ReleaseChannel.DEVELOPMENT.value)
    try:
        return ReleaseChannel(value)
    except ValueError:
        expected = f"one of {', '.join(c.value for c in ReleaseChannel)}"
        reader.fail("rollout.release_channel", expected, describe(value))


def _parse_gates(table: Mapping[str, Any], reader: TableReader) -> FeatureGates:
    """``[rollout.feature_gates]``: booleans, missing ones at the code defaults."""
    path = "rollout.feature_gates"
    defaults = FeatureGates()
    values = {n: reader.get_bool(table, path, n, getattr(defaults, n)) for n in FEATURE_GATE_NAMES}
    return FeatureGates(**values)


def _parse_telemetry(table: Mapping[str, Any], reader: TableReader) -> TelemetryConfig:
    """``[rollout.telemetry]``: missing values take the defaults (docs/operations.md#sources)."""
    path = "rollout.telemetry"
    base = TelemetryConfig()
    vrf_path = join_key(path, "vrf_thresholds")
    vrf_table = reader.get_table(table, path, "vrf_thresholds", {})
    vrf_values = {
        key: reader.get_float(vrf_table, vrf_path, key, getattr(base.vrf_thresholds, key))
        for key in _field_names(VrfThresholds)
    }
    interval = reader.get_int(table, path, "sample_interval_secs", base.sample_interval_secs)
    return TelemetryConfig(
        enabled=reader.get_bool(table, path, "enabled", base.enabled),
        endpoint=reader.get_str(table, path, "endpoint", None) or None,
        http_endpoint=reader.get_str(table, path, "http_endpoint", None) or None,
        sample_interval_secs=interval,
        timeout_ms=reader.get_int(table, path, "timeout_ms", base.timeout_ms),
        retry_max=reader.get_int(table, path, "retry_max", base.retry_max),
        redact_logs=reader.get_bool(table, path, "redact_logs", base.redact_logs),
        vrf_thresholds=VrfThresholds(**vrf_values),
    )


def _parse_rollout(doc: Mapping[str, Any], reader: TableReader) -> RolloutConfig:
    """``[rollout]``: channel, gates, telemetry."""
    table = reader.get_table(doc, "", "rollout", {})
    channel = _parse_channel(table, reader)
    gates = _parse_gates(reader.get_table(table, "rollout", "feature_gates", {}), reader)
    telemetry = _parse_telemetry(reader.get_table(table, "rollout", "telemetry", {}), reader)
    return RolloutConfig(release_channel=channel, feature_gates=gates, telemetry=telemetry)


def _parse_weights(table: Mapping[str, Any], reader: TableReader) -> ReputationWeights:
    """``[reputation.weights]``: each in [0, 1], sum 1 ± 1e-6, checked while parsing
    (docs/operations.md#reputation-timetoke-and-governance-keys)."""
    path = "reputation.weights"
    names = _field_names(ReputationWeights)
    defaults = ReputationWeights()
    values = {name: reader.get_float(table, path, name, getattr(defaults, name)) for name in names}
    for name, value in values.items():
        if not 0.0 <= value <= 1.0:
            reader.fail(join_key(path, name), "a weight in [0, 1]", describe(value))
    total = sum(values.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        found = f"sum {total!r} of {', '.join(names)}"
        reader.fail(path, "weights summing to 1 within 1e-6", found)
    return ReputationWeights(**values)


def _parse_tier_thresholds(table: Mapping[str, Any], reader: TableReader) -> TierThresholds:
    """``[reputation.tier_thresholds]``: all four keys once the table is present
    (docs/operations.md#reputation-timetoke-and-governance-keys)."""
    path = "reputation.tier_thresholds"
    return TierThresholds(
        tier2_min_uptime_hours=reader.get_int(table, path, "tier2_min_uptime_hours"),
        tier3_min_consensus_success=reader.get_int(table, path, "tier3_min_consensus_success"),
        tier4_min_consensus_success=reader.get_int(table, path, "tier4_min_consensus_success"),
        tier5_min_score=reader.get_float(table, path, "tier5_min_score"),
    )


def _parse_timetoke(table: Mapping[str, Any], reader: TableReader) -> TimetokeParams:
    """``[reputation.timetoke]``: the five params, missing ones at their defaults."""
    path = "reputation.timetoke"
    defaults = TimetokeParams()
    names = _field_names(TimetokeParams)
    return TimetokeParams(
        **{n: reader.get_int(table, path, n, getattr(defaults, n)) for n in names}
    )


def _parse_reputation(doc: Mapping[str, Any], reader: TableReader) -> ReputationConfig:
    """``[reputation]``: weights, tier_thresholds, timetoke."""
    table = reader.get_table(doc, "", "reputation", {})
    weights = _parse_weights(reader.get_table(table, "reputation", "weights", {}), reader)
    tiers_table = reader.get_table(table, "reputation", "tier_thresholds", None)
    tiers = TierThresholds() if tiers_table is None else _parse_tier_thresholds(tiers_table, reader)
    timetoke = _parse_timetoke(reader.get_table(table, "reputation", "timetoke", {}), reader)
    return ReputationConfig(weights=weights, tier_thresholds=tiers, timetoke=timetoke)


def _parse_queue_weights(doc: Mapping[str, Any], reader: TableReader) -> QueueWeights:
    """``[queue_weights]``: priority and fee numbers (range checks in step 2)."""
    table = reader.get_table(doc, "", "queue_weights", {})
    defaults = DEFAULT.queue_weights
    return QueueWeights(
        priority=reader.get_float(table, "queue_weights", "priority", defaults.priority),
        fee=reader.get_float(table, "queue_weights", "fee", defaults.fee),
    )


def _parse_pruning(doc: Mapping[str, Any], reader: TableReader) -> PruningConfig:
    """``[pruning]``: cadence and retention depth, unsigned integers (> 0 checked in step 2)."""
    table = reader.get_table(doc, "", "pruning", {})
    defaults = DEFAULT.pruning
    return PruningConfig(
        cadence_secs=reader.get_int(table, "pruning", "cadence_secs", defaults.cadence_secs),
        retention_depth=reader.get_int(
            table, "pruning", "retention_depth", defaults.retention_depth
        ),
    )


def _parse_document(doc: Mapping[str, Any], reader: TableReader) -> NodeConfig:
    """Step 1 on a merged document; genesis is left at its default for step 3."""
    if "extends" in doc:
        expected = "extends only in a file given to load_config"
        reader.fail("extends", expected, describe(doc["extends"]))
    _check_unknown_keys(doc, reader)
    scalars = _parse_root_scalars(doc, reader)
    return NodeConfig(
        **scalars,
        proof_cache=_parse_proof_cache(doc, reader),
        rollout=_parse_rollout(doc, reader),
        reputation=_parse_reputation(doc, reader),
        queue_weights=_parse_queue_weights(doc, reader),
        pruning=_parse_pruning(doc, reader),
    )


# --- Step 2: validate (the chain's validate() order) ---------------------------------------


def _check_positive(reader: TableReader, path: str, value: int) -> None:
    if value <= 0:
        reader.fail(path, "an integer > 0", describe(value))


def _check_root(config: NodeConfig, reader: TableReader) -> None:
    """config_version "1.0", then the root > 0 checks and the u32 proof-size limit
    (docs/operations.md#loading-and-rejection to docs/operations.md#root-keys)."""
    version = config.config_version.strip()
    if version != CONFIG_VERSION:
        expected = f'"{CONFIG_VERSION}" (config_version {version or "<empty>"} is not supported)'
        reader.fail("config_version", expected, describe(config.config_version))
    for key in POSITIVE_ROOT_KEYS:
        _check_positive(reader, key, getattr(config, key))
    if config.max_proof_size_bytes > U32_MAX:
        expected = (
            f"≤ {U32_MAX} (max_proof_size_bytes exceeds u32::MAX and cannot be forwarded"
            " to rpp-stark)"
        )
        reader.fail("max_proof_size_bytes", expected, describe(config.max_proof_size_bytes))


def _check_proof_cache(proof_cache: ProofCacheConfig, reader: TableReader) -> None:
    """default_retain > 0 and every per-backend retain > 0 (docs/operations.md#root-keys)."""
    _check_positive(reader, "proof_cache.default_retain", proof_cache.default_retain)
    for backend, retain in sorted(proof_cache.per_backend_retain.items()):
        _check_positive(reader, f"proof_cache.per_backend_retain.{backend}", retain)


def is_endpoint_uri(text: str) -> bool:
    """An http(s) URI with a host (docs/operations.md#telemetry-configuration endpoint rule)."""
    try:
        parts = urllib.parse.urlsplit(text.strip())
        _ = parts.port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check_telemetry(telemetry: TelemetryConfig, reader: TableReader) -> None:
    """Endpoint URIs, sample interval ≥ 1, VRF thresholds in [0, 1]
    (docs/operations.md#telemetry-configuration)."""
    path = "rollout.telemetry"
    for key in ("endpoint", "http_endpoint"):
        value = getattr(telemetry, key)
        if value is not None and not is_endpoint_uri(value):
            expected = "an http(s) URI with a host, or empty for none"
            reader.fail(join_key(path, key), expected, describe(value))
    if telemetry.sample_interval_secs < 1:
        value = telemetry.sample_interval_secs
        reader.fail(f"{path}.sample_interval_secs", "an integer ≥ 1", describe(value))
    for item in dataclasses.fields(VrfThresholds):
        value = getattr(telemetry.vrf_thresholds, item.name)
        if not 0.0 <= value <= 1.0:
            reader.fail(f"{path}.vrf_thresholds.{item.name}", "a ratio in [0, 1]", describe(value))


def _check_queue_weights(weights: QueueWeights, reader: TableReader) -> None:
    """Not NaN, each ≥ 0, sum 1 within 1e-6 (docs/operations.md#limits-and-queues)."""
    for key in ("priority", "fee"):
        value = getattr(weights, key)
        if not value >= 0.0:
            reader.fail(f"queue_weights.{key}", "a number ≥ 0 (not NaN)", describe(value))
    total = weights.priority + weights.fee
    if abs(total - 1.0) > SUM_TOLERANCE:
        reader.fail("queue_weights", "priority + fee = 1 within 1e-6", f"sum {total!r}")


def _check_timetoke(timetoke: TimetokeParams, reader: TableReader) -> None:
    """All five timetoke params > 0 (docs/operations.md#reputation-timetoke-and-governance-keys)."""
    for item in dataclasses.fields(TimetokeParams):
        _check_positive(reader, f"reputation.timetoke.{item.name}", getattr(timetoke, item.name))


def _check_pruning(pruning: PruningConfig, reader: TableReader) -> None:
    """cadence_secs > 0 and retention_depth > 0 (docs/operations.md#pruning-and-storage)."""
    _check_positive(reader, "pruning.cadence_secs", pruning.cadence_secs)
    _check_positive(reader, "pruning.retention_depth", pruning.retention_depth)


def _validate(config: NodeConfig, reader: TableReader) -> None:
    """Step 2 in the chain's order: malachite (timetoke), version, root, cache, telemetry, queue,
    then pruning."""
    _check_timetoke(config.reputation.timetoke, reader)
    _check_root(config, reader)
    _check_proof_cache(config.proof_cache, reader)
    _check_telemetry(config.rollout.telemetry, reader)
    _check_queue_weights(config.queue_weights, reader)
    _check_pruning(config.pruning, reader)


def validate_config(config: NodeConfig, source: str = "node config") -> None:
    """Run every rule on a typed config (e.g. one built with ``dataclasses.replace``)."""
    reader = TableReader(source)
    _validate(config, reader)
    reputation = config.reputation
    check_genesis(
        config.genesis,
        reader,
        thresholds=reputation.tier_thresholds,
        timetoke=reputation.timetoke,
    )


# --- Step 3: genesis, and the entry points -------------------------------------------------


def _load_genesis_for(
    doc: Mapping[str, Any], config: NodeConfig, reader: TableReader, base_dir: Path | None
) -> GenesisConfig:
    """The embedded ``[genesis]`` table or the file named by ``genesis_path`` (exactly one)."""
    reputation = config.reputation
    thresholds, timetoke = reputation.tier_thresholds, reputation.timetoke
    has_table = "genesis" in doc
    if has_table == (config.genesis_path is not None):
        expected = 'either a [genesis] table or genesis_path = "genesis.toml", not both'
        found = "both" if has_table else "neither"
        reader.fail("genesis", expected, found)
    if has_table:
        table = reader.get_table(doc, "", "genesis")
        return parse_genesis(table, reader, thresholds=thresholds, timetoke=timetoke)
    path = Path(os.path.normpath((base_dir or Path()) / (config.genesis_path or "")))
    if not path.is_file():
        expected = "a genesis file, relative to the file setting genesis_path"
        reader.fail("genesis_path", expected, f"nothing at {path}")
    genesis, _ = load_genesis(
        path, reader.strict, warnings=reader.warnings, thresholds=thresholds, timetoke=timetoke
    )
    return genesis


def parse_config(
    data: Mapping[str, Any],
    source: str,
    strict: bool = True,
    *,
    base_dir: Path | None = None,
    origins: Mapping[str, str] | None = None,
) -> tuple[NodeConfig, list[str]]:
    """A typed, validated ``NodeConfig`` from a parsed document, and the warnings.

    ``base_dir`` resolves ``genesis_path`` (default: the working directory); ``origins`` maps
    dotted keys to the file that set them, for error messages about merged profiles.
    """
    reader = TableReader(source, strict, [], origins or {}, ROOT_KEYS)
    config = _parse_document(data, reader)
    _validate(config, reader)
    genesis = _load_genesis_for(data, config, reader, base_dir)
    return dataclasses.replace(config, genesis=genesis), reader.warnings


def merge_overlay(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: tables merge key by key, scalars and arrays of the overlay replace."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


def _key_paths(table: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in table.items():
        path = join_key(prefix, key)
        paths.append(path)
        if isinstance(value, dict):
            paths.extend(_key_paths(value, path))
    return paths


@dataclass(frozen=True, slots=True)
class _Document:
    """A node config after resolving ``extends``: merged data and where each key came from."""

    data: dict[str, Any]
    origins: dict[str, str]
    genesis_dir: Path | None


def _load_document(path: Path, chain: tuple[Path, ...] = ()) -> _Document:
    """Read ``path`` and, recursively, the base it ``extends``; a cycle is a ``UserError``."""
    resolved = [p.resolve() for p in chain]
    if path.resolve() in resolved:
        cycle = " -> ".join(str(p) for p in (*chain[resolved.index(path.resolve()) :], path))
        raise UserError(str(chain[-1]), "extends", "a chain of base files without a cycle", cycle)
    data = read_toml(path)
    extends = data.pop("extends", None)
    origins = dict.fromkeys(_key_paths(data), str(path))
    genesis_dir = path.parent if "genesis_path" in data else None
    if extends is None:
        return _Document(data, origins, genesis_dir)
    if not isinstance(extends, str) or not extends.strip():
        raise UserError(str(path), "extends", "a path to the base file", describe(extends))
    base_path = Path(os.path.normpath(path.parent / extends))
    if not base_path.is_file():
        expected = "a base file, relative to the overlay"
        raise UserError(str(path), "extends", expected, f"nothing at {base_path}")
    base = _load_document(base_path, (*chain, path))
    return _Document(
        merge_overlay(base.data, data), base.origins | origins, genesis_dir or base.genesis_dir
    )


def load_config(
    path: Path | str, strict: bool = True, *, overrides: Mapping[str, Any] | None = None
) -> tuple[NodeConfig, list[str]]:
    """Load a node config or a profile (``extends`` resolved), validated; returns warnings too.

    ``overrides`` (``OVERRIDE_PATHS`` → value) replace values of the merged document before it
    is parsed, so the config's own rules check them like any value of the file.
    """
    path = Path(path)
    document = _load_document(path)
    data = apply_overrides(document.data, overrides) if overrides else document.data
    return parse_config(
        data,
        str(path),
        strict,
        base_dir=document.genesis_dir or path.parent,
        origins=document.origins,
    )


# --- Overrides by key path (a scenario's [params]) -----------------------------------------

_FREE_FORM: Final = "proof_cache.per_backend_retain"

OVERRIDE_PATHS: Final = tuple(
    sorted(
        join_key(table, key)
        for table, keys in SCHEMA.items()
        for key in keys
        if join_key(table, key) not in (*SCHEMA, _FREE_FORM, "genesis", "genesis_path")
    )
)
"""Every value a key-path override may set: the leaves of ``SCHEMA`` except genesis (a run's
genesis is the scenario's), plus ``proof_cache.per_backend_retain.<backend>``."""


def is_override_path(path: str) -> bool:
    """Whether ``path`` names a value ``apply_overrides`` may set."""
    backend = path.removeprefix(_FREE_FORM + ".")
    return path in OVERRIDE_PATHS or (backend != path and bool(backend) and "." not in backend)


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a config document with each ``OVERRIDE_PATHS`` value set (tables created).

    ``[reputation.tier_thresholds]`` needs all four keys once present (the chain's rule), so a
    table the document lacks is first filled with the defaults the node uses without it.
    """
    out = dict(data)
    for path, value in overrides.items():
        if not is_override_path(path):
            raise ValueError(f"{path!r} is not an override path")
        *tables, key = path.split(".")
        table = out
        for depth, name in enumerate(tables):
            child = table.get(name)
            if child is None and ".".join(tables[: depth + 1]) == "reputation.tier_thresholds":
                child = dataclasses.asdict(TierThresholds())
            if child is not None and not isinstance(child, dict):
                break  # the document's own type error, which the parser reports
            table[name] = child = dict(child or {})  # copied along the path: data stays intact
            table = child
        else:
            table[key] = value
    return out
