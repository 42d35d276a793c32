"""Node configuration: defaults, every docs/operations.md#node-configuration rule, strict/relaxed,
profiles, stages."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.errors import UserError
from rppsim.node.config import (
    DEFAULT,
    FEATURE_GATE_NAMES,
    POSITIVE_ROOT_KEYS,
    NodeConfig,
    ProofCacheConfig,
    ReleaseChannel,
    compute_cache_capacity,
    compute_gate_regressions,
    compute_stage_gates,
    is_endpoint_uri,
    is_monotone_gate_sequence,
    load_config,
    merge_overlay,
    parse_config,
    validate_config,
)
from rppsim.node.genesis import compute_genesis_hash, read_toml
from rppsim.node.reputation import ReputationWeights, TierThresholds
from rppsim.node.timetoke import TimetokeParams

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "node"
PROFILES = ("development", "testnet", "canary", "mainnet")
SOURCE = "test.toml"


def _base_doc() -> dict[str, Any]:
    """The shipped node.toml with the shipped genesis embedded as a [genesis] table."""
    doc = read_toml(NODE_DIR / "node.toml")
    del doc["genesis_path"]
    doc["genesis"] = read_toml(NODE_DIR / "genesis.toml")["genesis"]
    return doc


BASE_DOC = _base_doc()


def _steps(dotted: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in dotted.split("."):
        name, *indexes = re.split(r"\[(\d+)\]", part)
        steps.append(name)
        steps.extend(int(i) for i in indexes if i)
    return steps


def _with(changes: dict[str, Any], removed: tuple[str, ...] = ()) -> dict[str, Any]:
    """A deep copy of BASE_DOC with dotted keys set (tables created) or removed."""
    doc = copy.deepcopy(BASE_DOC)
    for dotted, value in changes.items():
        *parents, last = _steps(dotted)
        table: Any = doc
        for step in parents:
            table = table.setdefault(step, {}) if isinstance(step, str) else table[step]
        table[last] = value
    for dotted in removed:
        *parents, last = _steps(dotted)
        table = doc
        for step in parents:
            table = table[step]
        del table[last]
    return doc


def _error(doc: dict[str, Any], strict: bool = True) -> UserError:
    with pytest.raises(UserError) as caught:
        parse_config(doc, SOURCE, strict)
    return caught.value


# --- Defaults ------------------------------------------------------------------------------


def test_default_config_has_the_chains_code_defaults():
    """NodeConfig() equals the chain's Default impls (docs/operations.md#root-keys to
    docs/operations.md#reputation-timetoke-and-governance-keys,
    docs/operations.md#proof-systems-and-the-size-gate)."""
    assert (DEFAULT.config_version, DEFAULT.block_time_ms, DEFAULT.max_block_transactions) == (
        "1.0",
        5000,
        512,
    )
    assert DEFAULT.max_block_identity_registrations == 32
    assert (DEFAULT.mempool_limit, DEFAULT.epoch_length, DEFAULT.target_validator_count) == (
        8192,
        720,
        100,
    )
    assert DEFAULT.max_proof_size_bytes == 4194304
    assert DEFAULT.proof_cache == ProofCacheConfig(1024, {})
    assert DEFAULT.rollout.release_channel is ReleaseChannel.DEVELOPMENT
    gates = DEFAULT.rollout.feature_gates.as_dict()
    assert [name for name, on in gates.items() if on] == list(FEATURE_GATE_NAMES[:4])
    telemetry = DEFAULT.rollout.telemetry
    assert (telemetry.enabled, telemetry.endpoint, telemetry.sample_interval_secs) == (
        False,
        None,
        30,
    )
    assert (telemetry.timeout_ms, telemetry.retry_max, telemetry.redact_logs) == (5000, 3, True)
    vrf = telemetry.vrf_thresholds
    assert (vrf.min_participation_rate, vrf.max_rejection_rate, vrf.max_fallback_ratio) == (
        0.66,
        0.25,
        0.10,
    )
    assert (DEFAULT.queue_weights.priority, DEFAULT.queue_weights.fee) == (0.7, 0.3)
    assert DEFAULT.reputation.weights == ReputationWeights(0.4, 0.2, 0.2, 0.15, 0.05)
    assert DEFAULT.reputation.tier_thresholds == TierThresholds(24, 10, 100, 0.75)
    assert DEFAULT.reputation.timetoke == TimetokeParams(3600, 720, 86400, 1, 600)
    assert (DEFAULT.genesis.chain_id, DEFAULT.genesis.accounts) == ("rpp-local", ())


def test_default_config_passes_validation():
    """The chain's own test: defaults validate."""
    validate_config(DEFAULT)


def test_config_is_frozen():
    """NodeConfig and its tables are immutable."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT.block_time_ms = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT.rollout.feature_gates.pruning = False  # type: ignore[misc]


def test_as_dict_is_json_with_the_chains_names():
    """as_dict gives plain JSON: enum values, gate names, timetoke_params field names."""
    view = json.loads(json.dumps(DEFAULT.as_dict()))
    assert view["rollout"]["release_channel"] == "development"
    assert list(view["rollout"]["feature_gates"]) == list(FEATURE_GATE_NAMES)
    assert set(view["reputation"]["timetoke"]) == {
        "minimum_window_secs",
        "accrual_cap_hours",
        "decay_interval_secs",
        "decay_step_hours",
        "sync_interval_secs",
    }
    assert view["queue_weights"] == {"priority": 0.7, "fee": 0.3}


def test_validate_config_rejects_a_replaced_value():
    """validate_config checks configs built in code, e.g. by dataclasses.replace."""
    with pytest.raises(UserError) as caught:
        validate_config(dataclasses.replace(DEFAULT, mempool_limit=0), "override")
    assert (caught.value.file, caught.value.key) == ("override", "mempool_limit")


def test_release_channel_order():
    """development < testnet < canary < mainnet (docs/operations.md#guardrails row 3)."""
    assert [c.order for c in ReleaseChannel] == [0, 1, 2, 3]
    assert [c.value for c in sorted(ReleaseChannel, key=lambda c: c.order)] == list(PROFILES)


# --- Every rule: one bad value each -----------------------------------------------------------

NAN = math.nan
BAD_VALUES: list[tuple[str, Any, str, str]] = [
    ("config_version", "2.0", "config_version", "not supported"),
    ("config_version", "", "config_version", "not supported"),
    ("config_version", 1.0, "config_version", "a string"),
    ("data_dir", "", "data_dir", "non-empty"),
    ("data_dir", 7, "data_dir", "a non-empty string"),
    ("snapshot_dir", ["a"], "snapshot_dir", "a non-empty string"),
    *[(key, 0, key, "> 0") for key in POSITIVE_ROOT_KEYS],
    ("block_time_ms", -1, "block_time_ms", "non-negative integer"),
    ("block_time_ms", "5000", "block_time_ms", "non-negative integer"),
    ("block_time_ms", 5000.0, "block_time_ms", "non-negative integer"),
    ("mempool_limit", True, "mempool_limit", "non-negative integer"),
    ("max_proof_size_bytes", 2**32, "max_proof_size_bytes", "exceeds u32::MAX"),
    ("proof_cache", 5, "proof_cache", "a table"),
    ("proof_cache.default_retain", 0, "proof_cache.default_retain", "> 0"),
    ("proof_cache.per_backend_retain", {"stwo": 0}, "proof_cache.per_backend_retain.stwo", "> 0"),
    ("proof_cache.per_backend_retain", {"stwo": "x"}, "proof_cache.per_backend_retain.stwo", "int"),
    ("rollout.release_channel", "stable", "rollout.release_channel", "canary, mainnet"),
    ("rollout.release_channel", 1, "rollout.release_channel", "a string"),
    ("rollout.feature_gates.pruning", "yes", "rollout.feature_gates.pruning", "true or false"),
    ("rollout.telemetry.enabled", "true", "rollout.telemetry.enabled", "true or false"),
    ("rollout.telemetry.sample_interval_secs", 0, "rollout.telemetry.sample_interval_secs", "≥ 1"),
    ("rollout.telemetry.timeout_ms", -5, "rollout.telemetry.timeout_ms", "non-negative"),
    ("rollout.telemetry.retry_max", 1.5, "rollout.telemetry.retry_max", "non-negative"),
    ("rollout.telemetry.redact_logs", 1, "rollout.telemetry.redact_logs", "true or false"),
    ("rollout.telemetry.endpoint", "ftp://otel:4317", "rollout.telemetry.endpoint", "http(s)"),
    ("rollout.telemetry.endpoint", "http://", "rollout.telemetry.endpoint", "with a host"),
    ("rollout.telemetry.endpoint", "otel:4317", "rollout.telemetry.endpoint", "http(s)"),
    ("rollout.telemetry.endpoint", "http://[::1", "rollout.telemetry.endpoint", "http(s)"),
    ("rollout.telemetry.endpoint", 4317, "rollout.telemetry.endpoint", "a string"),
    ("rollout.telemetry.http_endpoint", "https:///v1", "rollout.telemetry.http_endpoint", "host"),
    *[
        (
            f"rollout.telemetry.vrf_thresholds.{key}",
            bad,
            f"rollout.telemetry.vrf_thresholds.{key}",
            "[0, 1]",
        )
        for key, bad in (
            ("min_participation_rate", 1.5),
            ("max_rejection_rate", -0.1),
            ("max_fallback_ratio", NAN),
        )
    ],
    ("reputation.weights.validation", 1.5, "reputation.weights.validation", "[0, 1]"),
    ("reputation.weights.decay", -0.05, "reputation.weights.decay", "[0, 1]"),
    ("reputation.weights.uptime", NAN, "reputation.weights.uptime", "[0, 1]"),
    ("reputation.weights.validation", 0.5, "reputation.weights", "summing to 1"),
    ("reputation.weights.consensus", "0.2", "reputation.weights.consensus", "a number"),
    (
        "reputation.tier_thresholds",
        {"tier2_min_uptime_hours": 24},
        "reputation.tier_thresholds.tier3_min_consensus_success",
        "required",
    ),
    (
        "reputation.tier_thresholds.tier2_min_uptime_hours",
        "24",
        "reputation.tier_thresholds.tier2_min_uptime_hours",
        "non-negative integer",
    ),
    (
        "reputation.tier_thresholds.tier5_min_score",
        "high",
        "reputation.tier_thresholds.tier5_min_score",
        "a number",
    ),
    *[
        (f"reputation.timetoke.{f.name}", 0, f"reputation.timetoke.{f.name}", "> 0")
        for f in dataclasses.fields(TimetokeParams)
    ],
    ("queue_weights.priority", 0.8, "queue_weights", "= 1 within 1e-6"),
    ("queue_weights.priority", -0.1, "queue_weights.priority", "≥ 0"),
    ("queue_weights.fee", NAN, "queue_weights.fee", "NaN"),
    ("queue_weights.fee", "0.3", "queue_weights.fee", "a number"),
    ("genesis.chain_id", 5, "genesis.chain_id", "a string"),
    ("genesis.chain_id", " ", "genesis.chain_id", "non-empty"),
    ("genesis.accounts", "none", "genesis.accounts", "an array"),
    ("genesis.accounts[0].stake", "12x", "genesis.accounts[0].stake", "invalid genesis stake"),
    ("genesis.accounts[0].stake", "-5", "genesis.accounts[0].stake", "invalid genesis stake"),
    ("genesis.accounts[0].stake", 1000, "genesis.accounts[0].stake", "a string"),
    ("genesis.accounts[0].stake", "0", "genesis.accounts[0].stake", "> 0 for a validator"),
    ("genesis.accounts[0].balance", -1, "genesis.accounts[0].balance", "non-negative"),
    ("genesis.accounts[0].balance", 2**128, "genesis.accounts[0].balance", "u128::MAX"),
    ("genesis.accounts[0].address", "xyz", "genesis.accounts[0].address", "hex"),
    ("genesis.accounts[0].key_seed", "validator-9", "genesis.accounts[0].address", "key_seed"),
    ("genesis.accounts[0].key_seed", "", "genesis.accounts[0].key_seed", "non-empty"),
    ("genesis.accounts[0].zsi_validated", False, "genesis.accounts[0].zsi_validated", "Tl1"),
    ("genesis.accounts[0].uptime_hours", 23, "genesis.accounts[0].uptime_hours", "[24, 720]"),
    ("genesis.accounts[0].uptime_hours", 721, "genesis.accounts[0].uptime_hours", "[24, 720]"),
    ("genesis.accounts[0].consensus_success", 9, "genesis.accounts[0].consensus_success", "≥ 10"),
    ("genesis.accounts[0].validator", "yes", "genesis.accounts[0].validator", "true or false"),
    ("genesis.accounts[4].validator", True, "genesis.accounts[4].address", "validator = true"),
    ("pruning.retention_depth", 0, "pruning.retention_depth", "> 0"),
    ("pruning.retention_depth", -1, "pruning.retention_depth", "non-negative integer"),
    ("pruning.cadence_secs", 0, "pruning.cadence_secs", "> 0"),
    ("pruning", 5, "pruning", "a table"),
    ("genesis.accounts[1].address", "treasury-fees", "genesis.accounts[1].address", "validator"),
    ("genesis.accounts[5].key_seed", "fees", "genesis.accounts[5].address", "key_seed = 'fees'"),
    ("genesis.accounts[6].address", "treasury-fees", "genesis.accounts[6].address", "listed once"),
]


@pytest.mark.parametrize(
    ("dotted", "value", "key", "fragment"), BAD_VALUES, ids=[f"{c[0]}={c[1]!r}" for c in BAD_VALUES]
)
def test_bad_value_is_one_line_user_error(dotted: str, value: Any, key: str, fragment: str):
    """Each rule rejects its bad value naming file, key, what was expected and what was found."""
    error = _error(_with({dotted: value}))
    assert (error.file, error.key) == (SOURCE, key)
    message = str(error)
    assert fragment in message
    assert "expected" in message and "found" in message and "\n" not in message


@pytest.mark.parametrize(
    "missing",
    [
        "data_dir",
        "block_time_ms",
        "max_block_transactions",
        "mempool_limit",
        "genesis.chain_id",
        "genesis.accounts",
        "genesis.accounts[0].address",
        "genesis.accounts[0].stake",
        "genesis.accounts[0].balance",
    ],
)
def test_missing_required_key(missing: str):
    """The chain's required keys (docs/operations.md#root-keys, docs/operations.md#genesis) are
    reported as missing."""
    error = _error(_with({}, removed=(missing,)))
    assert error.key == missing
    assert "required" in str(error) and "missing" in str(error)


def test_pruning_table_sets_cadence_and_retention_depth():
    """``[pruning]``: the chain's defaults (30 s, 128 blocks) unless set; the as_dict view (a
    run's profile fact) names the table only when it differs from them."""
    config, _ = parse_config(copy.deepcopy(BASE_DOC), SOURCE)
    assert (config.pruning.cadence_secs, config.pruning.retention_depth) == (30, 128)
    assert "pruning" not in config.as_dict()
    changed = {"pruning.retention_depth": 512, "pruning.cadence_secs": 20}
    config, _ = parse_config(_with(changed), SOURCE)
    assert (config.pruning.cadence_secs, config.pruning.retention_depth) == (20, 512)
    assert config.as_dict()["pruning"] == {"cadence_secs": 20, "retention_depth": 512}
    assert "unknown key" in str(_error(_with({"pruning.depth": 3})))


def test_optional_root_keys_take_code_defaults():
    """key_path, vrf_key_path, epoch_length ... are optional; missing ones take the defaults."""
    removed = ("key_path", "vrf_key_path", "epoch_length", "rollout", "reputation", "queue_weights")
    config, warnings = parse_config(_with({}, removed), SOURCE)
    assert warnings == []
    assert (config.key_path, config.epoch_length) == (DEFAULT.key_path, 720)
    assert config.rollout == DEFAULT.rollout
    assert config.reputation == DEFAULT.reputation


def test_missing_genesis_and_both_genesis_forms_are_errors():
    """Exactly one of [genesis] and genesis_path."""
    assert "neither" in str(_error(_with({}, removed=("genesis",))))
    error = _error(_with({"genesis_path": "genesis.toml"}))
    assert (error.key, error.found) == ("genesis", "both")


def test_genesis_validators_checked_against_config_thresholds():
    """Seeded validators must reach Tl3 under this config's tier thresholds."""
    error = _error(_with({"reputation.tier_thresholds.tier2_min_uptime_hours": 48}))
    assert error.key == "genesis.accounts[0].uptime_hours"
    assert "[48, 720]" in str(error)


def test_first_error_wins_in_the_chains_order():
    """Step 1 (types) before step 2 (validate), and validate() in the chain's order."""
    two = {"config_version": "2.0", "block_time_ms": 0}
    assert _error(_with(two)).key == "config_version"
    assert _error(_with({**two, "reputation.timetoke.decay_step_hours": 0})).key == (
        "reputation.timetoke.decay_step_hours"
    )
    assert _error(_with({**two, "queue_weights.fee": "x"})).key == "queue_weights.fee"
    later_unknown = {"queue_weights.fees": 0.3, "block_time_ms": "x"}
    assert _error(_with(later_unknown)).key == "queue_weights.fees"


# --- Unknown keys: strict and relaxed -------------------------------------------------------


@pytest.mark.parametrize(
    "dotted",
    ["p2p_key_path", "rollout.channel", "rollout.telemetry.failover_enabled", "reputation.w_v"],
)
def test_unknown_key_strict_error_relaxed_warning(dotted: str):
    """Strict mode fails on an unknown key; relaxed mode loads and warns
    (docs/operations.md#loading-and-rejection)."""
    doc = _with({dotted: "x"})
    error = _error(doc)
    assert error.key == dotted and "unknown key" in str(error)
    config, warnings = parse_config(doc, SOURCE, strict=False)
    assert config.block_time_ms == 5000
    assert len(warnings) == 1 and dotted in warnings[0] and "ignored" in warnings[0]


def test_unknown_key_suggests_a_close_name():
    """A misspelt key gets a did-you-mean hint."""
    assert "did you mean 'mempool_limit'" in str(_error(_with({"mempool_limt": 1})))


def test_unknown_feature_gate_fails_even_when_relaxed():
    """FeatureGates denies unknown fields in both modes."""
    doc = _with({"rollout.feature_gates.sharding": True})
    for strict in (True, False):
        error = _error(doc, strict)
        assert error.key == "rollout.feature_gates.sharding"


def test_root_key_under_proof_cache_gets_root_hint():
    """The chain template's mis-nesting (docs/operations.md#sources): strict names the root as its
    place."""
    doc = _with({"proof_cache.block_time_ms": 5000}, removed=("block_time_ms",))
    error = _error(doc)
    assert error.key == "proof_cache.block_time_ms"
    assert "at the root" in str(error) and "under [proof_cache]" in str(error)
    relaxed = _error(doc, strict=False)
    assert relaxed.key == "block_time_ms" and "under [proof_cache]" in str(relaxed)


def test_unknown_table_holding_root_keys_gets_root_hint():
    """[secrets] holding snapshot_dir (the chain template) names the root keys it holds."""
    error = _error(_with({"secrets": {"backend": "filesystem", "snapshot_dir": "./s"}}))
    assert error.key == "secrets" and "snapshot_dir" in str(error)
    assert "above the first [table]" in str(error)


def test_extends_is_only_for_load_config():
    """A merged document passed to parse_config may not carry extends."""
    assert _error(_with({"extends": "../node.toml"})).key == "extends"


# --- Properties of the sum rules ------------------------------------------------------------


@settings(max_examples=50)
@given(priority=st.floats(0.0, 1.0))
def test_queue_weights_summing_to_one_pass(priority: float):
    """Any priority in [0, 1] with fee = 1 - priority is accepted."""
    config, _ = parse_config(
        _with({"queue_weights.priority": priority, "queue_weights.fee": 1.0 - priority}), SOURCE
    )
    assert config.queue_weights.priority == priority


@settings(max_examples=50)
@given(priority=st.floats(0.0, 1.0), delta=st.floats(2e-6, 0.5))
def test_queue_weights_off_by_more_than_tolerance_fail(priority: float, delta: float):
    """A sum off by more than 1e-6 is rejected."""
    doc = _with({"queue_weights.priority": priority, "queue_weights.fee": 1.0 - priority + delta})
    assert _error(doc).key == "queue_weights"


# --- Helpers ------------------------------------------------------------------------------


def test_endpoint_uri_rule():
    """http(s) with a host only."""
    assert is_endpoint_uri("http://127.0.0.1:4317") and is_endpoint_uri("https://otel.example")
    assert not any(map(is_endpoint_uri, ["", "grpc://h:1", "http://", "h:1", "http://h:x"]))


def test_cache_capacity_uses_backend_fingerprint():
    """per_backend_retain by fingerprint, else default_retain (docs/operations.md#root-keys)."""
    cache = ProofCacheConfig(2048, {"stwo": 512, "rpp-stark": 768})
    assert compute_cache_capacity(cache, "stwo") == 512
    assert compute_cache_capacity(cache, "rpp-stark,stwo") == 2048


def test_merge_overlay_merges_tables_and_replaces_scalars_and_arrays():
    """Tables merge key by key; scalars and arrays replace."""
    base = {"a": 1, "t": {"x": 1, "y": [1, 2], "u": {"k": 1}}, "arr": [1]}
    overlay = {"t": {"y": [3], "u": {"j": 2}}, "arr": [2, 3], "b": 2}
    assert merge_overlay(base, overlay) == {
        "a": 1,
        "t": {"x": 1, "y": [3], "u": {"k": 1, "j": 2}},
        "arr": [2, 3],
        "b": 2,
    }
    assert base["t"]["u"] == {"k": 1}


# --- Stage bundles (docs/operations.md#rollout, guardrail 4)
# -----------------------------------------


def test_stage_gates_follow_the_staged_rollout_table():
    """Each stage adds one gate: malachite_consensus, timetoke_rewards, witness_network."""
    newer = ("malachite_consensus", "timetoke_rewards", "witness_network")
    for index, channel in enumerate(ReleaseChannel):
        gates = compute_stage_gates(channel)
        assert all(gates[name] for name in FEATURE_GATE_NAMES[:4])
        assert [gates[name] for name in newer] == [i < index for i in range(3)]
    assert compute_stage_gates("canary") == compute_stage_gates(ReleaseChannel.CANARY)


def test_stage_bundles_are_monotone_and_a_regression_is_detected():
    """Gates graduate monotonically; switching a gate back off is reported by name."""
    bundles = [compute_stage_gates(c) for c in ReleaseChannel]
    assert is_monotone_gate_sequence(bundles)
    assert not is_monotone_gate_sequence(list(reversed(bundles)))
    assert compute_gate_regressions(bundles[3], bundles[1]) == [
        "timetoke_rewards",
        "witness_network",
    ]


# --- Files: shipped folder, profiles, extends --------------------------------------------------


def test_shipped_node_config_loads_strict_without_warnings():
    """node/node.toml is valid in strict mode."""
    config, warnings = load_config(NODE_DIR / "node.toml")
    assert warnings == []
    assert config.genesis_path == "genesis.toml" and len(config.genesis.validators) == 4
    assert config.epoch_length == 1440  # the template's value (docs/operations.md#root-keys)


@pytest.mark.parametrize("name", PROFILES)
def test_shipped_profiles_match_their_stage(name: str):
    """Each profile carries its channel, its stage's gate bundle and the node's genesis."""
    config, warnings = load_config(NODE_DIR / "profiles" / f"{name}.toml")
    assert warnings == []
    assert config.rollout.release_channel is ReleaseChannel(name)
    assert config.rollout.feature_gates.as_dict() == compute_stage_gates(name)
    telemetry = config.rollout.telemetry
    assert telemetry.enabled is (name != "development")
    assert telemetry.sample_interval_secs == (30 if name == "development" else 15)
    base, _ = load_config(NODE_DIR / "node.toml")
    assert compute_genesis_hash(config.genesis) == compute_genesis_hash(base.genesis)
    assert dataclasses.replace(config, rollout=base.rollout) == base


def test_shipped_profiles_graduate_monotonically():
    """The four shipped profiles, in channel order, never switch a gate back off."""
    gates = [
        load_config(NODE_DIR / "profiles" / f"{n}.toml")[0].rollout.feature_gates.as_dict()
        for n in PROFILES
    ]
    assert is_monotone_gate_sequence(gates)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _node_copy(tmp_path: Path) -> Path:
    """A copy of the shipped node folder under tmp_path."""
    for source in [*NODE_DIR.glob("*.toml"), *NODE_DIR.glob("profiles/*.toml")]:
        _write(tmp_path / source.relative_to(NODE_DIR), source.read_text(encoding="utf-8"))
    return tmp_path


def test_overlay_of_overlay_and_error_names_the_file_that_set_the_key(tmp_path: Path):
    """Errors name the file the bad key came from, base or overlay."""
    folder = _node_copy(tmp_path)
    overlay = _write(
        folder / "profiles" / "fast.toml",
        'extends = "testnet.toml"\nblock_time_ms = 1000\n[rollout.telemetry]\nretry_max = 9\n',
    )
    config, _ = load_config(overlay)
    assert (config.block_time_ms, config.rollout.telemetry.retry_max) == (1000, 9)
    assert config.rollout.release_channel is ReleaseChannel.TESTNET
    _write(overlay, 'extends = "testnet.toml"\nblock_time_ms = 0\n')
    with pytest.raises(UserError) as caught:
        load_config(overlay)
    assert caught.value.file == str(overlay)
    node = folder / "node.toml"
    node.write_text(node.read_text().replace("mempool_limit = 8192", "mempool_limit = 0"))
    _write(overlay, 'extends = "testnet.toml"\n')
    with pytest.raises(UserError) as caught:
        load_config(overlay)
    assert caught.value.file == str(node) and caught.value.key == "mempool_limit"


def test_extends_cycle_is_an_error(tmp_path: Path):
    """a -> b -> a and a -> a are rejected, naming the cycle."""
    _write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    _write(tmp_path / "b.toml", 'extends = "a.toml"\n')
    _write(tmp_path / "self.toml", 'extends = "./self.toml"\n')
    for name, arrow in (("a.toml", "b.toml -> "), ("self.toml", "self.toml -> ")):
        with pytest.raises(UserError) as caught:
            load_config(tmp_path / name)
        assert caught.value.key == "extends"
        assert "cycle" in str(caught.value) and arrow in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [('extends = "missing.toml"\n', "nothing at"), ("extends = 3\n", "a path")],
)
def test_bad_extends_is_an_error(tmp_path: Path, text: str, fragment: str):
    """extends must name an existing base file."""
    with pytest.raises(UserError) as caught:
        load_config(_write(tmp_path / "p.toml", text))
    assert caught.value.key == "extends" and fragment in str(caught.value)


def test_genesis_path_is_relative_to_the_file_setting_it(tmp_path: Path):
    """A profile may point at its own genesis; a missing one is an error on genesis_path."""
    folder = _node_copy(tmp_path)
    other = (folder / "genesis.toml").read_text().replace("rpp-local", "rpp-other")
    _write(folder / "profiles" / "own-genesis.toml", other)
    profile = _write(
        folder / "profiles" / "own.toml",
        'extends = "../node.toml"\ngenesis_path = "own-genesis.toml"\n',
    )
    config, _ = load_config(profile)
    assert config.genesis.chain_id == "rpp-other"
    _write(profile, 'extends = "../node.toml"\ngenesis_path = "nope.toml"\n')
    with pytest.raises(UserError) as caught:
        load_config(profile)
    assert caught.value.key == "genesis_path" and "nothing at" in str(caught.value)


def test_default_config_equals_itself_rebuilt():
    """NodeConfig() is a value: two builds compare equal."""
    assert NodeConfig() == DEFAULT
