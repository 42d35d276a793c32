"""``run_fast``: the fast protocol model over a scenario file (issue 12, part 2).

The same scenario, seed tree, genesis and fault schedule as the full simulator
(``rppsim.sim.kernel``), but no messages and no per-node event loop: the protocol is stepped
per height over all validators at once by ``rppsim.model.kernel`` (its docstring states the
liveness model) with the vectorised rules of ``rppsim.model.rules``. It writes the frames that
make sense without messages, with the full simulator's schemas: ``blocks``, ``vrf_rounds``
(one row per height, ``node`` = the proposer), ``electorates``, ``ledger`` samples,
``evidence``, ``faults``, ``nodes`` and ``run_info``. The frames it cannot have (messages,
votes, proofs, snapshots, finalizations, rejections) are absent, so the verdicts that read
them are "not applicable" (``rppsim.checks.needs``).

What is modelled and how is recorded in ``run_info``: ``engine = fast``, ``vrf``,
``model.byzantine`` (kinds modelled), ``model.not_modelled`` (kinds and features that are
not), and the sampling strides of the large frames.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from numba import njit

from rppsim.errors import UserError
from rppsim.model import kernel as k
from rppsim.model import rules as mr
from rppsim.model.vrf import VRF_MODES, compute_ecvrf_row
from rppsim.node.ledger import Ledger, LedgerParams
from rppsim.node.node import GENESIS_TIME_S
from rppsim.node.selection import VRF_RANDOMNESS_DOMAIN
from rppsim.node.signing import generate_keypair
from rppsim.node.timetoke import compute_uptime_cadence_secs
from rppsim.rng import SeedTree
from rppsim.sim.builders import (
    build_fault_schedule,
    build_node_keys,
    build_run_configs,
    build_sim_network,
    compute_byzantine_nodes,
)
from rppsim.sim.faults import Heal, Partition
from rppsim.sim.lifecycle import compute_phase
from rppsim.sim.spec import SEED_MAX, TRAFFIC_WALLETS, Scenario
from rppsim.telemetry.frames import (
    NA_STR_DTYPE,
    STR_DTYPE,
    RunRecorder,
    build_frame,
    compute_sort_order,
)

__all__ = ["MAX_ELECTORATE_ROWS", "MAX_LEDGER_SAMPLES", "FastRun", "run_fast", "run_model"]

MAX_LEDGER_SAMPLES = 720
"""Ledger samples per validator at most: a longer run samples less often (``run_info``
``model.ledger_sample_ms``)."""
MAX_ELECTORATE_ROWS = 500_000
"""Electorate rows at most: a longer run records every k-th height (``model.electorate_every``)."""
REJOIN_MS = 5000
"""A crashed node that restarts votes and submits again this long after it is back up: it
replays its persisted chain and syncs the blocks it missed first (``model.rejoin_ms``)."""
BYZANTINE_COLUMNS = {
    "withhold-votes": k.WITHHOLD,
    "double-sign": k.DOUBLE_SIGN,
    "censor": k.CENSOR,
}
VRF_LIE_COLUMNS = {
    "inflate-tier": k.INFLATE_TIER,
    "inflate-hours": k.INFLATE_HOURS,
    "forged-proof": k.FORGED_PROOF,
    "grind": k.GRIND,
}
NOT_MODELLED = (
    "network latency and loss (votes arrive at once)",
    "sync and state transfer",
    "clock skew",
    "link degradation",
    "traffic phases and identity requests (a Poisson tx_per_s, fees 1-10)",
    "treasury shortfall (rewards are paid in full)",
)


@dataclass(frozen=True)
class FastRun:
    """A finished model run: its frames, seed and effective duration."""

    frames: dict[str, pd.DataFrame]
    seed: int
    duration_ms: int


def run_fast(
    scenario: Scenario,
    *,
    seed: int | None = None,
    duration_ms: int | None = None,
    vrf: str = "counter-splitmix64",
    decay_every_ms: int = 0,
) -> dict[str, pd.DataFrame]:
    """The frames of the fast model's run of ``scenario`` (see ``run_model``)."""
    return run_model(
        scenario, seed=seed, duration_ms=duration_ms, vrf=vrf, decay_every_ms=decay_every_ms
    ).frames


def _check(scenario: Scenario, seed: int | None, duration_ms: int | None, vrf: str) -> None:
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise UserError(scenario.source, "run.seed", f"an integer in [0, {SEED_MAX}]", str(seed))
    if duration_ms is not None and duration_ms < 1:
        raise UserError(scenario.source, "run.duration_ms", "an integer ≥ 1", str(duration_ms))
    if vrf not in VRF_MODES:
        raise UserError(scenario.source, "model.vrf", " or ".join(VRF_MODES), vrf)


def run_model(  # noqa: PLR0915
    scenario: Scenario,
    *,
    seed: int | None = None,
    duration_ms: int | None = None,
    vrf: str = "counter-splitmix64",
    decay_every_ms: int = 0,
) -> FastRun:
    """Run the fast model. ``decay_every_ms`` > 0 runs the timetoke decay that often (the chain
    schedules none: ``process_decay`` runs only in ``Ledger::timetoke_snapshot``, which nothing
    calls, HUBId/chain:rpp/storage/ledger.rs)."""
    _check(scenario, seed, duration_ms, vrf)
    seed = scenario.run.seed if seed is None else seed
    duration = scenario.run.duration_ms if duration_ms is None else duration_ms
    scenario = replace(scenario, run=replace(scenario.run, duration_ms=duration))
    tree = SeedTree(seed)
    network = build_sim_network(scenario, tree)
    faults = build_fault_schedule(scenario, network.topology, tree)
    keys = build_node_keys(scenario, tree)
    wallets = [generate_keypair(tree.seed_bytes("wallet", j)) for j in range(TRAFFIC_WALLETS)]
    config = build_run_configs(scenario, keys, wallets, tree)[0]
    reputation = config.reputation
    params = LedgerParams(
        epoch_length=config.epoch_length,
        weights=reputation.weights,
        thresholds=reputation.tier_thresholds,
        timetoke=reputation.timetoke,
    )
    ledger = Ledger.from_genesis(config.genesis.accounts, params, now=GENESIS_TIME_S)
    n = scenario.nodes.count
    addresses = [key.address for key in keys]
    state_i, state_f, zsi, genesis_stakes = _genesis_state(ledger, addresses)
    rules = scenario.rules
    byz_start, byz_end, modelled, skipped, byz_nodes = _byzantine_windows(scenario, n, tree)
    ev_time, ev_node, ev_delta = _down_events(scenario, faults, n, duration)
    block_ms = config.block_time_ms
    heights = duration // block_ms + 2
    sample_ms = _sample_interval(config, duration)
    members = n  # the chain's threshold barely binds: a committee can hold every validator
    elect_every = max(1, -(-heights * members // MAX_ELECTORATE_ROWS))
    participation = params.participation
    timetoke = reputation.timetoke
    iparams = np.array(
        [
            block_ms,
            rules.round_timeout_ms,
            duration,
            config.target_validator_count,
            rules.rotate_leader_on_round_change,
            rules.check_declared_tier,
            rules.threshold_caps_committee,
            rules.allow_empty_blocks,
            timetoke.accrual_cap_hours,
            participation.censorship_vote_threshold,
            participation.inactivity_threshold,
            params.base_block_reward,
            params.leader_bonus_percent,
            GENESIS_TIME_S,
            compute_uptime_cadence_secs(timetoke) * 1000,
            sample_ms,
            elect_every,
            decay_every_ms,
            timetoke.decay_interval_secs,
            timetoke.decay_step_hours,
            vrf == "ecvrf",
            bool(byz_nodes),
        ],
        np.int64,
    )
    weights = np.array(
        [
            reputation.weights.validation,
            reputation.weights.uptime,
            reputation.weights.consensus,
            reputation.weights.peer_feedback,
            reputation.weights.decay,
        ]
    )
    t = reputation.tier_thresholds
    thresholds = np.array(
        [
            t.tier2_min_uptime_hours,
            t.tier3_min_consensus_success,
            t.tier4_min_consensus_success,
            t.tier5_min_score,
        ]
    )
    fparams = np.array(
        [
            scenario.traffic.tx_per_s / 1000.0,
            participation.censorship_score_factor,
            participation.inactivity_score_factor,
        ]
    )
    carry = np.zeros(k.CARRY_SIZE, np.int64)
    carry[k.H], carry[k.T] = 1, block_ms
    carry[k.TICK] = compute_uptime_cadence_secs(timetoke) * 1000
    carry[k.SAMPLE] = sample_ms + 1  # as the nodes' telemetry: 1 ms after each interval
    carry[k.DECAY] = decay_every_ms if decay_every_ms > 0 else duration + 1
    samples = duration // sample_ms + 1
    out = {
        "b_int": np.zeros((heights, 13), np.int64),
        "b_float": np.zeros((heights, 1)),
        "s_ms": np.zeros(samples, np.int64),
        "s_int": np.zeros((samples, n, 6), np.int64),
        "s_float": np.zeros((samples, n)),
        "e_int": np.zeros(((heights // elect_every + 1) * members, 3), np.int64),
        "v_int": np.zeros((heights * 2 + 64, 4), np.int64),
    }
    misses = np.zeros((n, 3), np.int64)
    down = np.zeros(n, np.int64)
    prev_member = np.zeros(n, np.bool_)
    prev_voted = np.zeros(n, np.bool_)
    submitted = np.ones(n, np.bool_)
    key = np.uint64(int.from_bytes(tree.seed_bytes("model", "vrf", length=8), "little"))
    common = (
        key, state_i, state_f, zsi, misses, down, prev_member, prev_voted, submitted,
        ev_time, ev_node, ev_delta, byz_start, byz_end, iparams, weights, thresholds, fparams,
    )  # fmt: skip
    outputs = (
        out["b_int"], out["b_float"], out["s_ms"], out["s_int"], out["s_float"],
        out["e_int"], out["v_int"],
    )  # fmt: skip
    successes = int(state_i[:, 3].max(initial=0))
    tables = (
        mr.compute_saturation_table(mr.UPTIME_SCALE_HOURS, timetoke.accrual_cap_hours + 1),
        mr.compute_saturation_table(mr.CONSENSUS_SCALE, successes + heights + 1),
        mr.compute_saturation_table(mr.DECAY_SCALE_SECS, 86_400),
    )
    if vrf == "ecvrf":
        secrets = [key.vrf_secret for key in keys]  # the nodes' own VRF keys
        previous = bytes(32)
        while carry[k.T] < duration and carry[k.H] < heights:
            h = int(carry[k.H])
            span = max(VRF_RANDOMNESS_DOMAIN // max(4 * n, 1), 1)
            epoch = h // max(config.epoch_length, 1)
            r_u, offsets, lower = compute_ecvrf_row(
                secrets, addresses, state_i[:, 2], previous, epoch, span
            )
            k.run_heights(carry, h + 1, *common, r_u, offsets * (4 * n), lower, tables, *outputs)
            previous = _block_hash(seed, h)
    else:
        none = np.zeros(0)
        k.run_heights(carry, heights, *common, none, none, np.zeros(0, np.bool_), tables, *outputs)
    end = int(min(carry[k.T], duration))
    while carry[k.NSAMPLES] < samples and carry[k.SAMPLE] < duration:
        k._sample(carry, state_i, state_f, zsi, out["s_ms"], out["s_int"], out["s_float"])
        carry[k.SAMPLE] += sample_ms
    info = {
        "engine": "fast",
        "vrf": vrf,
        "seed": str(seed),
        "scenario": scenario.run.name or Path(scenario.source).stem,
        "scenario_digest": scenario.digest(),
        "prover": "none",
        "source": "fast model",
        "duration_ms": str(duration),
        "model.byzantine": ",".join(sorted(modelled)),
        "model.not_modelled": "; ".join(
            [*NOT_MODELLED, *sorted(skipped), *_unmodelled_rules(rules)]
        ),
        "model.ledger_sample_ms": str(sample_ms),
        "model.electorate_every": str(elect_every),
        "model.decay_every_ms": str(decay_every_ms),
        "model.rejoin_ms": str(REJOIN_MS),
        "model.end_ms": str(end),
        "model.evidence_dropped": str(int(carry[k.DROPPED])),
        "expect_fail": ",".join(scenario.expect.fail),
    }
    frames = _build_frames(
        seed,
        addresses,
        scenario,
        faults,
        byz_nodes,
        genesis_stakes,
        out,
        carry,
        info,
        config.target_validator_count,
    )
    return FastRun(frames, seed, duration)


def _unmodelled_rules(rules: Any) -> list[str]:
    """The ``[rules]`` settings the model does not follow."""
    if rules.electorate == "local-pool":
        return ['electorate = "local-pool" (the model counts the committed electorate: no forks)']
    return []


def _genesis_state(
    ledger: Ledger, addresses: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int | None]]:
    """Each node's account in the genesis ledger as the kernel's state columns."""
    n = len(addresses)
    state_i = np.zeros((n, 10), np.int64)
    state_f = np.zeros((n, 1))
    zsi = np.zeros(n, np.bool_)
    stakes: list[int | None] = []
    for i, address in enumerate(addresses):
        account = ledger.get_account(address)
        state_i[i, 6], state_i[i, 8], state_i[i, 9] = -1, -1, -1
        if account is None:
            stakes.append(None)
            continue
        rep = account.reputation
        stakes.append(int(account.stake))
        state_i[i, :6] = (
            account.stake,
            account.balance,
            rep.timetoke.hours_online,
            rep.consensus_success,
            int(rep.tier),
            rep.last_decay_timestamp,
        )
        last = rep.timetoke.last_proof_timestamp
        state_i[i, 6] = -1 if last is None else last
        decayed = rep.timetoke.last_decay_timestamp
        state_i[i, 9] = -1 if decayed is None else decayed
        state_f[i, 0] = rep.score
        zsi[i] = rep.zsi_validated
    return state_i, state_f, zsi, stakes


def _byzantine_windows(
    scenario: Scenario, n: int, tree: SeedTree
) -> tuple[np.ndarray, np.ndarray, set[str], set[str], set[int]]:
    """Per node and modelled behaviour, the window [start, end) it runs (empty: none)."""
    start = np.full((n, k.BYZ_KINDS), np.iinfo(np.int64).max, np.int64)
    end = np.zeros((n, k.BYZ_KINDS), np.int64)
    modelled: set[str] = set()
    skipped: set[str] = set()
    nodes_all: set[int] = set()
    for index, spec in enumerate(scenario.byzantine):
        nodes = compute_byzantine_nodes(spec, n, tree, index)
        nodes_all.update(nodes)
        column = BYZANTINE_COLUMNS.get(spec.kind)
        if spec.kind == "vrf-lie":
            column = VRF_LIE_COLUMNS.get(spec.mode)
        label = spec.kind if spec.kind != "vrf-lie" else f"vrf-lie/{spec.mode}"
        if column is None:
            skipped.add(f"byzantine {label}")
            continue
        modelled.add(label if spec.kind != "censor" else "censor (no effect on modelled metrics)")
        until = spec.until_ms if spec.until_ms is not None else np.iinfo(np.int64).max
        for i in nodes:
            start[i, column] = min(start[i, column], spec.at_ms)
            end[i, column] = max(end[i, column], until)
    return start, end, modelled, skipped, nodes_all


def _down_events(
    scenario: Scenario, faults: Any, n: int, duration: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time, node, ±1) of every crash, pause, churn and partition cut, by time."""
    rows: list[tuple[int, int, int]] = []
    for window in faults.crash_windows:  # back up, a node first catches up (REJOIN_MS)
        end = min(window.end_ms + REJOIN_MS, duration + 1)
        rows += [(window.start_ms, window.node, 1), (end, window.node, -1)]
    for window in faults.pause_windows:
        rows += [
            (window.start_ms, window.node, 1),
            (min(window.end_ms, duration + 1), window.node, -1),
        ]
    heals = sorted(spec.at_ms for spec in scenario.faults if isinstance(spec, Heal))
    for spec in scenario.faults:
        if isinstance(spec, Partition):
            until = duration + 1 if spec.until_ms is None else spec.until_ms
            until = min([until, *(t for t in heals if t > spec.at_ms)])  # a heal ends it
            for i in _cut_nodes(spec, n, scenario.nodes.validators):
                rows += [(spec.at_ms, i, 1), (until, i, -1)]
    rows.sort(key=lambda r: (r[0], -r[2]))
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    time, node, delta = (np.array(c, np.int64) for c in zip(*rows, strict=True))
    return time, node, delta


def _cut_nodes(spec: Partition, n: int, validators: int) -> list[int]:
    """The nodes outside the partition side that holds the most validators."""
    groups = [set(g) for g in spec.groups]
    listed = set().union(*groups)
    unlisted = set(range(n)) - listed
    if unlisted:
        groups.append(unlisted)
    best = max(groups, key=lambda g: (sum(1 for i in g if i < validators), -min(g, default=n)))
    return sorted(set(range(n)) - best)


def _sample_interval(config: Any, duration: int) -> int:
    """The profile's telemetry interval, stretched so a run has at most MAX_LEDGER_SAMPLES."""
    telemetry = config.rollout.telemetry
    base = max(int(telemetry.sample_interval_secs), 1) * 1000
    return max(base, -(-duration // MAX_LEDGER_SAMPLES))


def _block_hash(seed: int, height: int) -> bytes:
    """The model's stand-in block hash: BLAKE2s("rppsim/model/block" ‖ seed ‖ height)."""
    data = b"rppsim/model/block" + seed.to_bytes(8, "big") + height.to_bytes(8, "big")
    return hashlib.blake2s(data).digest()


def _build_frames(
    seed: int,
    addresses: list[str],
    scenario: Scenario,
    faults: Any,
    byz_nodes: set[int],
    genesis_stakes: list[int | None],
    out: dict[str, np.ndarray],
    carry: np.ndarray,
    info: dict[str, str],
    target: int,
) -> dict[str, pd.DataFrame]:
    """The model's frames (schemas of ``rppsim.telemetry.frames``)."""
    recorder = RunRecorder(record_messages=False)
    for i, address in enumerate(addresses):
        role = "validator" if i < scenario.nodes.validators else "full"
        recorder.record_node(i, address, role, "", byzantine=i in byz_nodes)
    for tr in faults.transitions:
        recorder.record_fault(
            tr.time_ms, tr.kind, compute_phase(tr.kind), [] if tr.node < 0 else [tr.node], tr.detail
        )
    for key, value in info.items():
        recorder.record_run_info(key, value)
    recorded = recorder.frames()
    frames = {name: recorded[name] for name in ("nodes", "faults", "run_info")}
    b = int(carry[k.NBLOCKS])
    blocks = out["b_int"][:b]
    base = out["b_float"][:b, 0]
    hashes = _hex_strings(_block_hashes(seed, blocks[:, 0]))
    previous = pa.concat_arrays([_repeat_string("00" * 32, 1), hashes.slice(0, max(b - 1, 0))])
    empty = _repeat_string("", b)
    frames["blocks"] = build_frame(
        "blocks",
        {
            "height": blocks[:, 0],
            "hash": _as_str(hashes),
            "previous_hash": _as_str(previous),
            "proposer": blocks[:, 1],
            "round": blocks[:, 2],
            "proposed_ms": blocks[:, 3],
            "tx_count": blocks[:, 4],
            "identity_count": np.zeros(b, np.int64),
            "uptime_count": blocks[:, 5],
            "consensus_proof": np.zeros(b, np.bool_),
            "proof_system": _as_str(_repeat_string("none", b)),
            "proof_bytes_total": np.zeros(b, np.int64),
            "state_root": _as_str(empty),
            "recursive_commitment": _as_str(empty),
            "recursive_previous_commitment": _as_str(empty),
        },
    )
    # by proposer, as build_frame sorts it (sorting the numbers is cheaper than the columns)
    order = compute_sort_order([blocks[:, 1], blocks[:, 0], blocks[:, 2]])
    rounds, base = (blocks, base) if order is None else (blocks[order], base[order])
    pool, accepted = rounds[:, 6], rounds[:, 7]
    frames["vrf_rounds"] = build_frame(
        "vrf_rounds",
        {
            "node": rounds[:, 1],
            "now_ms": rounds[:, 3],
            "height": rounds[:, 0],
            "round": rounds[:, 2],
            "pool_entries": pool,
            "target_validator_count": np.full(b, target),
            "verified_submissions": pool,
            "accepted_validators": accepted,
            "rejected_candidates": pool - accepted,
            "fallback_selected": pd.array(rounds[:, 9].astype(bool), dtype="boolean"),
            "participation_rate": np.where(pool > 0, accepted / np.maximum(pool, 1), 0.0),
            "success_rate": np.minimum(accepted / max(target, 1), 1.0),
            "rejection_rate": np.where(pool > 0, (pool - accepted) / np.maximum(pool, 1), 0.0),
            "active_threshold_ratio": base,
            "active_epoch_threshold": _as_str(_threshold_strings(base), NA_STR_DTYPE),
            "latest_epoch": rounds[:, 0] // 720,
            "latest_round": rounds[:, 2],
            "total_weight": _as_str(_int_strings(rounds[:, 12]), NA_STR_DTYPE),
            "entropy_beacon": _as_str(empty, NA_STR_DTYPE),
        },
    )
    e = int(carry[k.NELECT])
    rows = out["e_int"][:e]
    idx = np.searchsorted(blocks[:, 0], rows[:, 0])  # every electorate's height is a block's
    if e and not np.array_equal(blocks[idx, 0], rows[:, 0]):
        raise KeyError("an electorate of a height without a block")
    frames["electorates"] = build_frame(
        "electorates",
        {
            "height": rows[:, 0],
            "member": rows[:, 1],
            "address": _as_str(pa.array(addresses, pa.large_string()).take(rows[:, 1])),
            "power": _as_str(_int_strings(rows[:, 2])),
            "total_power": _as_str(_int_strings(blocks[:, 10]).take(idx)),
            "quorum": _as_str(_int_strings(blocks[:, 11]).take(idx)),
        },
    )
    frames["ledger"] = _ledger_frame(addresses, genesis_stakes, out, int(carry[k.NSAMPLES]))
    v = int(carry[k.NEVID])
    ev = out["v_int"][:v]
    frames["evidence"] = build_frame(
        "evidence",
        {
            "height": ev[:, 0],
            "block_hash": [_block_hash(seed, int(h)).hex() for h in ev[:, 0]],
            "offender": ev[:, 1],
            "offense_height": ev[:, 2],
            "round": np.zeros(v, np.int64),
            "kind": [k.EVIDENCE_KINDS[int(x)] for x in ev[:, 3]],
        },
    )
    return frames


def _block_hashes(seed: int, heights: np.ndarray) -> np.ndarray:
    """``_block_hash`` of each height, as rows of 32 bytes."""
    prefixed = hashlib.blake2s(b"rppsim/model/block" + seed.to_bytes(8, "big"))
    digests = bytearray()
    for height in heights.tolist():
        state = prefixed.copy()
        state.update(height.to_bytes(8, "big"))
        digests += state.digest()
    return np.frombuffer(bytes(digests), np.uint8).reshape(len(heights), 32)


_HEX_PAIRS = np.array([int.from_bytes(b"%02x" % i, "little") for i in range(256)], np.uint16)
"""Each byte's two hex digits, as the little-endian uint16 of their characters."""


def _hex_strings(rows: np.ndarray) -> pa.Array:
    """Rows of bytes as lower-case hex strings (``bytes.hex``)."""
    count, width = rows.shape
    chars = _HEX_PAIRS[rows]
    offsets = np.arange(count + 1, dtype=np.int64) * (2 * width)
    return pa.LargeStringArray.from_buffers(
        count, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes())
    )


def _repeat_string(value: str, count: int) -> pa.Array:
    """``[value] * count`` as an Arrow array."""
    data = value.encode()
    offsets = np.arange(count + 1, dtype=np.int64) * len(data)
    return pa.LargeStringArray.from_buffers(
        count, pa.py_buffer(offsets), pa.py_buffer(data * count)
    )


def _int_strings(values: np.ndarray) -> pa.Array:
    """``str(int(x))`` of each int64 (each distinct value written once when most repeat, as
    the powers and totals of a run do)."""
    values = np.asarray(values, np.int64)
    codes, distinct = pd.factorize(values)
    if 2 * len(distinct) <= len(values):
        return _write_ints(np.asarray(distinct, np.int64)).take(pa.array(codes))
    return _write_ints(values)


def _write_ints(values: np.ndarray) -> pa.Array:
    """``_int_strings`` of each value, each written."""
    if not (values >= 0).all():
        return pa.array(values, pa.int64()).cast(pa.large_string())
    chars, offsets = _decimal_digits(values.astype(np.uint64), np.zeros(len(values), np.int64))
    return pa.LargeStringArray.from_buffers(
        len(values), pa.py_buffer(offsets), pa.py_buffer(chars.tobytes())
    )


def _threshold_strings(base: np.ndarray) -> pa.Array:
    """``str(int(x · D))`` of each threshold fraction x in [0, 1] (D = 2^256): x = f·2^e with
    f = m/2^53 exactly, so x·D = m·2^(e + 203), written in decimal by ``_decimal_digits``."""
    if not ((base >= 0.0) & (base <= 1.0)).all():  # not fractions (or NaN): the plain way
        texts = [str(int(x * VRF_RANDOMNESS_DOMAIN)) for x in base]
        return pa.array(texts, pa.large_string())
    fraction, exponent = np.frexp(base)
    mantissa = (fraction * 2.0**53).astype(np.uint64)
    chars, offsets = _decimal_digits(mantissa, exponent.astype(np.int64) + 203)
    return pa.LargeStringArray.from_buffers(
        len(base), pa.py_buffer(offsets), pa.py_buffer(chars.tobytes())
    )


@njit(cache=True)
def _decimal_digits(mantissa: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The decimal digits of each m·2^s (m < 2^64, s ≤ 204; floored for s < 0), concatenated,
    and the offsets of each number's digits."""
    count = mantissa.shape[0]
    chars = np.empty(count * 80, np.uint8)
    offsets = np.zeros(count + 1, np.int64)
    limbs = np.zeros(10, np.uint64)  # 32-bit limbs, least significant first
    digits = np.empty(90, np.uint8)
    end = 0
    for j in range(count):
        limbs[:] = 0
        m, s = mantissa[j], shift[j]
        if s < 0:
            m = m >> np.uint64(-s) if s > -64 else np.uint64(0)
            s = 0
        word, bit = s // 32, np.uint64(s % 32)
        low = m << bit  # the ≤ 96 bits of m << bit in three limbs
        high = (m >> (np.uint64(64) - bit)) if bit > 0 else np.uint64(0)
        limbs[word] = low & np.uint64(0xFFFFFFFF)
        limbs[word + 1] = low >> np.uint64(32)
        limbs[word + 2] = high
        groups = 0
        top = word + 2
        while True:  # divide by 10^9 until zero: the remainders are 9-digit groups, lowest first
            remainder = np.uint64(0)
            for limb in range(top, -1, -1):
                current = (remainder << np.uint64(32)) | limbs[limb]
                limbs[limb] = current // np.uint64(1_000_000_000)
                remainder = current % np.uint64(1_000_000_000)
            for d in range(9):
                digits[groups * 9 + d] = 48 + remainder % np.uint64(10)
                remainder //= np.uint64(10)
            groups += 1
            while top > 0 and limbs[top] == 0:
                top -= 1
            if top == 0 and limbs[0] == 0:
                break
        size = groups * 9
        while size > 1 and digits[size - 1] == 48:  # no leading zeros
            size -= 1
        for d in range(size):
            chars[end + d] = digits[size - 1 - d]
        end += size
        offsets[j + 1] = end
    return chars[:end], offsets


def _as_str(values: pa.Array, dtype: Any = STR_DTYPE) -> Any:
    """An Arrow string array as the frames' string dtype (``STR_DTYPE`` or nullable)."""
    return pd.array(values, dtype=dtype)


def _ledger_frame(
    addresses: list[str], genesis_stakes: list[int | None], out: dict[str, np.ndarray], count: int
) -> pd.DataFrame:
    """One row per node and sample: its account (nulls for a node without one)."""
    s_ms, s_int, s_float = out["s_ms"][:count], out["s_int"][:count], out["s_float"][:count]
    n = len(addresses)
    has = np.array([stake is not None for stake in genesis_stakes])
    genesis = np.array([stake or 0 for stake in genesis_stakes], np.int64)
    node = np.tile(np.arange(n), count)
    mask = np.tile(has, count)
    flat = s_int.reshape(count * n, 6)

    slashed = np.maximum(np.tile(genesis, count) - flat[:, 1], 0)
    columns = {
        "balance": (flat[:, 0], "Int64"),
        "stake": (flat[:, 1], "Int64"),
        "slashed": (slashed, "Int64"),
        "zsi_validated": (flat[:, 2].astype(bool), "boolean"),
        "tier": (flat[:, 3], "Int16"),
        "score": (s_float.reshape(-1), "Float64"),
        "timetoke_hours": (flat[:, 4], "Int64"),
        "consensus_success": (flat[:, 5], "Int64"),
    }
    data: dict[str, object] = {
        "node": node,
        "now_ms": np.repeat(s_ms, n),
        "address": [addresses[i] for i in node],
    }
    for name, (values, dtype) in columns.items():
        column: Any = pd.array(values, dtype=dtype)  # an extension array, masked below
        column[~mask] = pd.NA
        data[name] = column
    return build_frame("ledger", data)
