"""Run frames: schemas and dtypes, record_flood arrays, sampling, snapshots, sort determinism."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.telemetry.digest import compute_frames_digest
from rppsim.telemetry.frames import (
    DTYPE_NAMES,
    FRAME_NAMES,
    FRAME_SCHEMAS,
    LEDGER_FIELDS,
    NULLABLE_DTYPES,
    RECORDER_KEYS,
    SNAPSHOT_FIELDS,
    SNAPSHOT_UNMAPPED,
    STR_DTYPE,
    VRF_FIELDS,
    RunRecorder,
    build_frame,
    compute_canonical_categorical,
    compute_labels_text,
    compute_ledger_values,
    compute_nodes_text,
    compute_sample_key,
    compute_sort_order,
    flatten_payload,
    get_empty_frame,
    get_optional_int,
    is_snapshot_path_mapped,
)


def _expected_dtype(dtype: str) -> object:
    return {"str": STR_DTYPE, **NULLABLE_DTYPES}.get(dtype, dtype)


def _assert_schema(name: str, frame: pd.DataFrame) -> None:
    schema = FRAME_SCHEMAS[name]
    assert tuple(frame.columns) == schema.column_names
    for column, dtype in schema.columns:
        if dtype == "category":
            assert isinstance(frame[column].dtype, pd.CategoricalDtype), column
            assert frame[column].cat.categories.dtype == STR_DTYPE
        else:
            assert frame[column].dtype == _expected_dtype(dtype), column
    assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0


def _flood(recorder: RunRecorder, msg_id: int, receivers: list[int], drops: dict[int, str]) -> None:
    """A flood from node 0 at 10·msg_id ms: receiver r arrives after r ms over r % 5 + 1 hops."""
    recv = np.array(receivers, np.int32)
    recorder.record_flood(
        msg_id, "votes" if msg_id % 2 else "blocks", 0, 10 * msg_id, 100 + msg_id,
        recv, 10 * msg_id + recv.astype(np.int64), recv % 5 + 1,
        np.array(sorted(drops), np.int32), [drops[r] for r in sorted(drops)],
    )  # fmt: skip


def _nested_payload(height: int) -> dict:
    """A ValidatorTelemetryView-shaped payload (docs/operations.md#validator-telemetry) with
    reputation fields."""
    return {
        "rollout": {
            "release_channel": "canary",
            "feature_gates": {"pruning": True, "witness_network": False},
            "telemetry": {
                "enabled": True,
                "sample_interval_secs": 30,
                "last_observed_height": None,
            },
        },
        "node": {
            "height": height,
            "last_hash": "ab" * 32,
            "epoch": 2,
            "pending_transactions": 7,
            "vrf_metrics": {"pool_entries": 9, "participation_rate": 0.75},
            "reputation": {"tier": "Tl4", "timetoke_hours": 30, "score": 0.5},
        },
        "consensus": {"round": 1, "quorum_reached": True, "leader_changes": 3},
        "verifier_metrics": {
            "per_backend": {"rpp-stark": {"accepted": 4, "rejected": 1, "bypassed": 0}},
            "cache": {"hits": 5, "misses": 2},
        },
        "mempool": {"transactions": 7},
    }


# --------------------------------------------------------------------------------------------
# Schemas.


def test_schemas_are_consistent():
    assert tuple(sorted(FRAME_SCHEMAS)) == FRAME_NAMES
    for name, schema in FRAME_SCHEMAS.items():
        assert schema.name == name
        assert len(set(schema.column_names)) == len(schema.columns)
        assert set(schema.key) <= set(schema.column_names)
        assert all(d in DTYPE_NAMES for _, d in schema.columns)
        assert not any("wall" in c or c.endswith("_s") for c in schema.column_names)


def test_empty_run_gives_every_frame_with_its_schema():
    frames = RunRecorder().frames()
    assert tuple(frames) == FRAME_NAMES
    for name, frame in frames.items():
        _assert_schema(name, frame)
        pd.testing.assert_frame_equal(
            frame if name != "run_info" else frame.iloc[:0].reset_index(drop=True),
            get_empty_frame(name),
        )
        assert len(frame) == (len(RECORDER_KEYS) if name == "run_info" else 0)


def test_recorded_frames_have_schema_dtypes():
    recorder = RunRecorder()
    _flood(recorder, 1, [3, 2], {4: "lost"})
    recorder.record_unicast(2, "meta", 1, 5, 64, 3, 9, 1)
    recorder.record_node(0, "aa" * 16, "validator", "eu")
    recorder.record_block(1, "h1", 0, 0, 100, tx_count=2, proof_bytes_total=5000)
    recorder.record_block_finalized(1, 0, "h1", 180)
    recorder.record_electorate(2, [(0, "aa" * 16, 3 * 10**20), (None, "bb" * 16, 1)], 10**21, 7)
    recorder.record_evidence(1, "h1", 0, 1, 0, "double_sign_prevote")
    recorder.record_proof(1, "transaction", "stwo", 4096, True)
    recorder.record_vote(1, 0, "prevote", 0, "h1", 120)
    recorder.record_vrf_round(0, 100, 1, 0, {"pool_entries": 3, "rejections_by_reason": {"x": 1}})
    recorder.record_snapshot(0, 1000, _nested_payload(1))
    recorder.record_ledger(0, 1000, "aa" * 16, None, None)
    recorder.record_fault(50, "crash", "start", [2])
    recorder.record_alert("ChainStall", "critical", 600_000)
    recorder.record_rejections(0, 1000, {"bad signature": 1})
    recorder.record_run_info("seed", 7)
    frames = recorder.frames()
    for name, frame in frames.items():
        _assert_schema(name, frame)
        assert len(frame) > 0, name


def test_electorates_keep_big_powers_exact_and_nodes_say_who_is_byzantine():
    recorder = RunRecorder()
    recorder.record_node(1, "bb", byzantine=True)
    recorder.record_node(0, "aa")
    big = 2**70 + 1
    recorder.record_electorate(1, [(0, "aa", big), (None, "zz", 1)], big + 1, 12)
    frames = recorder.frames()
    assert frames["nodes"]["byzantine"].tolist() == [False, True]
    rows = frames["electorates"]
    assert rows["member"].tolist() == [pd.NA, 0]  # null: "zz" is no node of the run
    assert rows["power"].tolist() == ["1", str(big)]
    assert rows["total_power"].tolist() == [str(big + 1)] * 2
    assert rows["quorum"].tolist() == ["12"] * 2


# --------------------------------------------------------------------------------------------
# Messages.


def test_record_flood_rows_delivered_and_dropped():
    recorder = RunRecorder()
    _flood(recorder, 3, [5, 1, 4], {2: "partitioned", 6: "crashed"})
    frame = recorder.frames()["messages"]
    assert frame["receiver"].tolist() == [1, 2, 4, 5, 6]
    assert (frame["msg_id"] == 3).all() and (frame["origin"] == 0).all()
    assert (frame["sent_ms"] == 30).all() and (frame["bytes"] == 103).all()
    assert frame["topic"].astype(str).tolist() == ["votes"] * 5
    assert frame["dropped"].tolist() == [False, True, False, False, True]
    assert frame["drop_reason"].astype(str).tolist() == ["", "partitioned", "", "", "crashed"]
    assert frame["recv_ms"].tolist() == [31, pd.NA, 34, 35, pd.NA]
    assert frame["hops"].tolist() == [2, pd.NA, 5, 1, pd.NA]
    assert list(frame["drop_reason"].cat.categories) == ["", "crashed", "partitioned"]


def test_record_flood_integer_reason_codes_with_names():
    recorder = RunRecorder()
    names = {1: "crashed", 4: "lost"}
    recorder.record_flood(
        1, "blocks", 0, 0, 10, [1], [5], [1], np.array([3, 2]), np.array([4, 1], np.int8), names
    )
    frame = recorder.frames()["messages"]
    assert frame["receiver"].tolist() == [1, 2, 3]
    assert frame["drop_reason"].astype(str).tolist() == ["", "crashed", "lost"]


def test_record_flood_one_reason_for_all_drops():
    recorder = RunRecorder()
    recorder.record_flood(1, "blocks", 0, 0, 10, [], [], [], [4, 2], "origin_down")
    frame = recorder.frames()["messages"]
    assert frame["receiver"].tolist() == [2, 4]
    assert frame["drop_reason"].astype(str).tolist() == ["origin_down", "origin_down"]
    assert list(frame["drop_reason"].cat.categories) == ["origin_down"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recv_ms": [1]}, "recv_ms"),
        ({"hops": [1, 2, 3]}, "hops"),
        ({"dropped_receivers": [5]}, "need drop_reasons"),
        ({"dropped_receivers": [5], "drop_reasons": ["a", "b"]}, "2 entries"),
        ({"dropped_receivers": [5], "drop_reasons": [""]}, "non-empty"),
        ({"dropped_receivers": [5], "drop_reasons": ""}, "non-empty"),
        ({"dropped_receivers": [5], "drop_reasons": [None]}, "non-empty"),
        ({"dropped_receivers": [5, 6], "drop_reasons": ["lost", 3]}, "non-empty"),
        ({"dropped_receivers": [5], "drop_reasons": np.array([1])}, "reason_names"),
    ],
)
def test_record_flood_rejects_inconsistent_arrays(kwargs, message):
    args = {"receivers": [1, 2], "recv_ms": [3, 4], "hops": [1, 1]} | kwargs
    with pytest.raises(ValueError, match=message):
        RunRecorder().record_flood(1, "blocks", 0, 0, 10, **args)


def test_record_flood_keeps_a_private_copy():
    recorder = RunRecorder()
    receivers = np.array([1, 2], np.int32)
    recv_ms = np.array([5, 6], np.int64)
    recorder.record_flood(1, "blocks", 0, 0, 10, receivers, recv_ms, np.ones(2, np.int16))
    receivers[:] = 9
    recv_ms[:] = 0
    frame = recorder.frames()["messages"]
    assert frame["receiver"].tolist() == [1, 2] and frame["recv_ms"].tolist() == [5, 6]


def test_record_unicast_delivered_and_dropped():
    recorder = RunRecorder()
    recorder.record_unicast(7, "votes", 1, 100, 80, 2, 130, 3)
    recorder.record_unicast(7, "votes", 1, 100, 80, 4, 999, 9, drop_reason="lost")
    frame = recorder.frames()["messages"]
    assert frame[["receiver", "recv_ms", "hops", "dropped"]].values.tolist() == [
        [2, 130, 3, False],
        [4, pd.NA, pd.NA, True],
    ]
    info = dict(recorder.frames()["run_info"].values.tolist())
    assert info["recorder.messages_delivered_seen"] == "1"
    assert info["recorder.messages_dropped_seen"] == "1"


def test_messages_off_keeps_counts_only():
    recorder = RunRecorder(record_messages=False)
    _flood(recorder, 1, [1, 2, 3], {4: "lost"})
    recorder.record_unicast(2, "meta", 0, 0, 5, 1, 3, 1)
    frames = recorder.frames()
    assert frames["messages"].empty
    _assert_schema("messages", frames["messages"])
    info = dict(frames["run_info"].values.tolist())
    assert info["recorder.messages"] == "off"
    assert (info["recorder.messages_delivered_seen"], info["recorder.messages_dropped_seen"]) == (
        "4",
        "1",
    )


def test_sampling_keeps_whole_messages_by_their_id():
    recorder = RunRecorder(message_sample_rate=0.5)
    for msg_id in range(200):
        _flood(recorder, msg_id, [1, 2, 3], {})
    frame = recorder.frames()["messages"]
    kept = sorted(set(frame["msg_id"].tolist()))
    assert kept == [m for m in range(200) if compute_sample_key(m) < 0.5]
    assert 60 < len(kept) < 140
    assert (frame.groupby("msg_id").size() == 3).all()
    assert dict(recorder.frames()["run_info"].values.tolist())["recorder.messages"] == "sampled"


def test_sample_key_is_stable_and_uniform_in_unit_interval():
    keys = [compute_sample_key(m) for m in range(1000)]
    assert all(0.0 <= k < 1.0 for k in keys)
    assert 0.4 < sum(k < 0.5 for k in keys) / 1000 < 0.6
    assert compute_sample_key(12) == compute_sample_key(12) != compute_sample_key(13)


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_sample_rate_outside_unit_interval_is_refused(rate):
    with pytest.raises(ValueError, match="message_sample_rate"):
        RunRecorder(message_sample_rate=rate)


# --------------------------------------------------------------------------------------------
# Missing harness values: nulls, never -1 or "".

NULLABLE_HARNESS = {
    ("alerts", "node"), ("alerts", "end_ms"), ("blocks", "proposer"),
    ("electorates", "member"), ("evidence", "offender"), ("messages", "recv_ms"),
    ("messages", "hops"), ("proofs", "error"), ("votes", "receivers"),
}  # fmt: skip
"""The harness columns that can lack a value (the module docstring lists the same)."""
PAYLOAD_FRAMES = ("snapshots", "vrf_rounds", "ledger")


def _record_missing_values() -> dict[str, pd.DataFrame]:
    """Every nullable harness column with rows that have a value and rows that lack one."""
    recorder = RunRecorder()
    _flood(recorder, 1, [3, 2], {4: "lost", 5: "crashed"})
    recorder.record_unicast(2, "unicast", 1, 5, 64, 3, 9, 1)
    recorder.record_unicast(3, "unicast", 1, 5, 64, 2, 99, 4, drop_reason="partitioned")
    recorder.record_alert("ChainStall", "critical", 1000)  # fleet-wide, still firing
    recorder.record_alert("FinalityLag", "warning", 2000, end_ms=5000, node=2)
    recorder.record_block(1, "h1", 0, 0, 100)
    recorder.record_block(2, "h2", None, 0, 200)  # a proposer that is no node of the run
    recorder.record_electorate(2, [(0, "aa", 5), (None, "zz", 1)], 6, 5)
    recorder.record_evidence(2, "h2", 1, 1, 0, "double_sign_prevote")
    recorder.record_evidence(2, "h2", None, 1, 0, "double_sign_precommit")
    recorder.record_proof(1, "transaction", "stwo", 4096, True)
    recorder.record_proof(2, "transaction", "stwo", 4096, False, error="bad fri layer")
    recorder.record_proof(2, "consensus", "stwo", 4096, True, error="")
    recorder.record_vote(1, 0, "prevote", 0, "h1", 120, receivers=3)
    recorder.record_vote(1, 0, "prevote", 1, "h1", 130)
    return recorder.frames()


def test_missing_harness_values_are_nulls_of_nullable_dtypes():
    harness = {
        (name, column): dtype
        for name, schema in FRAME_SCHEMAS.items()
        if name not in PAYLOAD_FRAMES
        for column, dtype in schema.columns
        if dtype in NULLABLE_DTYPES
    }
    assert set(harness) == NULLABLE_HARNESS | {("alerts", "labels")}
    frames = _record_missing_values()
    for name, column in NULLABLE_HARNESS:
        values = frames[name][column]
        assert values.dtype == NULLABLE_DTYPES[harness[name, column]], (name, column)
        assert values.isna().any() and values.notna().any(), (name, column)
        present = values.dropna()
        if present.dtype.kind == "i":
            assert (present >= 0).all(), (name, column)
        else:
            assert (present != "").all(), (name, column)


def test_nulls_are_exactly_where_a_value_is_missing():
    frames = _record_missing_values()
    messages = frames["messages"]
    assert (messages["recv_ms"].isna() == messages["dropped"]).all()
    assert (messages["hops"].isna() == messages["dropped"]).all()
    delivered = messages[~messages["dropped"]]
    assert delivered[["receiver", "recv_ms", "hops"]].values.tolist() == [
        [2, 12, 3], [3, 13, 4], [3, 9, 1]
    ]  # fmt: skip
    alerts = frames["alerts"]
    assert alerts[["name", "node", "end_ms"]].values.tolist() == [
        ["ChainStall", pd.NA, pd.NA], ["FinalityLag", 2, 5000]
    ]  # fmt: skip
    assert alerts["labels"].tolist() == ["{}", "{}"]
    assert frames["blocks"]["proposer"].tolist() == [0, pd.NA]
    assert frames["electorates"][["member", "address"]].values.tolist() == [
        [pd.NA, "zz"], [0, "aa"]
    ]  # fmt: skip
    assert frames["evidence"]["offender"].tolist() == [pd.NA, 1]
    assert frames["proofs"]["error"].tolist() == [pd.NA, pd.NA, "bad fri layer"]
    assert frames["votes"]["receivers"].tolist() == [3, pd.NA]


def test_flood_nulls_are_built_from_arrays_with_the_dropped_mask():
    """A flood's nullable columns are masked integer arrays, not object arrays."""
    recorder = RunRecorder()
    count = 50_000
    receivers = np.arange(count, dtype=np.int32)
    recorder.record_flood(
        1, "blocks", 0, 0, 10, receivers, receivers.astype(np.int64) + 5, np.ones(count),
        np.arange(count, 2 * count), "lost",
    )  # fmt: skip
    messages = recorder.frames()["messages"]
    for column in ("recv_ms", "hops"):
        array = messages[column].array
        assert isinstance(array, pd.arrays.IntegerArray), column
        assert array.isna().sum() == count and array.dropna().min() > 0, column


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "message"),
    [
        ("record_vote", (1, 0, "prevote", 0, "h", 0, -1), {}, "vote receivers"),
        ("record_alert", ("A", "warning", 0), {"node": -1}, "alert node"),
        ("record_alert", ("A", "warning", 10), {"end_ms": 5}, "before start_ms"),
        ("record_alert", ("A", "warning", 10), {"labels": 'severity="x"'}, "labels"),
        ("record_electorate", (1, [(-1, "zz", 1)], 1, 1), {}, "electorate member"),
        ("record_block", (1, "h", -1, 0, 0), {}, "block proposer"),
        ("record_evidence", (1, "h", -1, 1, 0, "double_sign_prevote"), {}, "evidence offender"),
    ],
)
def test_negative_sentinels_are_refused(method, args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(RunRecorder(), method)(*args, **kwargs)


def test_alert_labels_are_prometheus_text():
    labels = {"severity": "critical", "instance": 3}
    assert compute_labels_text(labels) == '{instance="3",severity="critical"}'
    assert compute_labels_text({}) == "{}"
    assert compute_labels_text({"a": 'x"y\\z\nw'}) == '{a="x\\"y\\\\z\\nw"}'
    recorder = RunRecorder()
    recorder.record_alert("ChainStall", "critical", 10, node=3, labels=compute_labels_text(labels))
    assert recorder.frames()["alerts"]["labels"].tolist() == ['{instance="3",severity="critical"}']


def test_optional_int_of_a_frame_cell():
    frames = _record_missing_values()
    proposers = frames["blocks"]["proposer"]
    assert [get_optional_int(v) for v in proposers] == [0, None]
    assert get_optional_int(frames["blocks"].iloc[1]["proposer"]) is None
    assert get_optional_int(np.float64("nan")) is None and get_optional_int(np.int32(4)) == 4


# --------------------------------------------------------------------------------------------
# Snapshots, VRF rounds and the other records.


def test_snapshot_flattens_nested_payload():
    recorder = RunRecorder()
    recorder.record_snapshot(3, 5000, _nested_payload(12), emit_ok=False, emit_error="encode")
    row = recorder.frames()["snapshots"].iloc[0]
    assert (row["node"], row["now_ms"], row["emit_ok"], row["emit_error"]) == (
        3, 5000, False, "encode"
    )  # fmt: skip
    assert row["release_channel"] == "canary" and row["sample_interval_secs"] == 30
    assert (row["gate_pruning"] and not row["gate_witness_network"]) and row[
        "gate_reconstruction"
    ] is pd.NA
    assert row["last_observed_height"] is pd.NA
    assert (row["height"], row["epoch"], row["round"], row["pending_transactions"]) == (12, 2, 1, 7)
    assert row["quorum_reached"] and row["leader_changes"] == 3
    assert (row["tier"], row["timetoke_hours"], row["reputation_score"]) == (4, 30, 0.5)
    assert (row["vrf_pool_entries"], row["vrf_participation_rate"]) == (9, 0.75)
    assert (row["verifier_rpp_stark_accepted"], row["verifier_rpp_stark_rejected"]) == (4, 1)
    assert row["verifier_stwo_accepted"] is pd.NA
    assert (row["cache_hits"], row["cache_misses"], row["cache_evictions"]) == (5, 2, pd.NA)


def test_snapshot_of_a_successful_emit_has_a_null_error():
    recorder = RunRecorder()
    recorder.record_snapshot(0, 0, _nested_payload(1), emit_error="")
    assert recorder.frames()["snapshots"]["emit_error"].isna().all()


def test_snapshot_absent_fields_are_null():
    recorder = RunRecorder()
    recorder.record_snapshot(0, 0, {})
    frame = recorder.frames()["snapshots"]
    for column, dtype, _ in SNAPSHOT_FIELDS:
        assert dtype in NULLABLE_DTYPES and frame[column].isna().all(), column
    assert not frame[["node", "now_ms", "emit_ok"]].isna().any().any()


def test_snapshot_unmapped_paths_name_no_column_path():
    paths = {path for _, _, path in SNAPSHOT_FIELDS}
    partly_mapped = {"node.vrf_metrics"}  # four columns; the rest are in vrf_rounds
    for prefix, reason in SNAPSHOT_UNMAPPED:
        covered = {p for p in paths if p == prefix or p.startswith(prefix + ".")}
        assert reason and (not covered or prefix in partly_mapped), prefix
    assert is_snapshot_path_mapped("node.reputation.tier")
    assert is_snapshot_path_mapped("mempool.votes") and is_snapshot_path_mapped("pruning")
    assert not is_snapshot_path_mapped("node.reputation.nickname")
    assert not is_snapshot_path_mapped("mempoolx")


def test_snapshot_dotted_payload_equals_nested():
    nested, dotted = RunRecorder(), RunRecorder()
    nested.record_snapshot(1, 10, _nested_payload(5))
    dotted.record_snapshot(1, 10, flatten_payload(_nested_payload(5)))
    pd.testing.assert_frame_equal(nested.frames()["snapshots"], dotted.frames()["snapshots"])


def test_ledger_rows_come_from_the_account_and_are_null_without_one():
    from rppsim.node.ledger import Account
    from rppsim.node.reputation import ReputationProfile, Tier, TimetokeBalance

    profile = ReputationProfile(
        zsi_validated=True, timetoke=TimetokeBalance(hours_online=30), consensus_success=4,
        score=0.25, tier=Tier.Tl3,
    )  # fmt: skip
    account = Account("aa", balance=70, stake=500, reputation=profile)
    assert compute_ledger_values(account, 1000) == (70, 500, 500, True, 3, 0.25, 30, 4)
    assert compute_ledger_values(account, None)[2] == 0
    recorder = RunRecorder()
    recorder.record_ledger(1, 2000, "aa", account, 1000)
    recorder.record_ledger(0, 2000, "bb", None, None)
    frame = recorder.frames()["ledger"]
    assert frame["address"].tolist() == ["bb", "aa"]
    columns = [c for c, _ in LEDGER_FIELDS]
    assert frame.loc[0, columns].isna().all()
    assert frame.loc[1, columns].tolist() == [70, 500, 500, True, 3, 0.25, 30, 4]


@pytest.mark.parametrize(
    "payload",
    [
        {"node": {"height": "tall"}},
        {"node": {"height": 1.5}},
        {"consensus": {"quorum_reached": 1}},
        {"rollout": {"release_channel": 3.0}},
        {"node": {"reputation": {"score": "high"}}},
        {"node": {"height": 1}, "node.height": 2},
    ],
)
def test_snapshot_wrong_types_are_refused(payload):
    with pytest.raises(ValueError, match="snapshot"):
        RunRecorder().record_snapshot(0, 0, payload)


def test_vrf_round_fields_and_rejection_rate():
    recorder = RunRecorder()
    metrics = {
        "pool_entries": 10, "target_validator_count": 8, "verified_submissions": 8,
        "accepted_validators": 6, "rejected_candidates": 2, "fallback_selected": True,
        "participation_rate": 0.6, "success_rate": 0.75, "total_weight": 123456789012345678901,
        "entropy_beacon": "ff" * 32, "latest_epoch": 3, "latest_round": None,
        "rejections_by_reason": {"tier too low": 1, "missing VRF public key": 1},
    }  # fmt: skip
    recorder.record_vrf_round(4, 900, 12, 1, metrics)
    recorder.record_vrf_round(5, 900, 12, 1, {"rejected_candidates": 3})
    frames = recorder.frames()
    frame = frames["vrf_rounds"]
    first, second = frame.iloc[0], frame.iloc[1]
    assert [c for c, _ in VRF_FIELDS] == list(frame.columns[4:])
    assert first["rejection_rate"] == 0.25 and second["rejection_rate"] == 0.0
    assert first["total_weight"] == "123456789012345678901"
    assert (first["latest_epoch"], first["latest_round"]) == (3, pd.NA)
    assert first["fallback_selected"] and first["active_threshold_ratio"] is pd.NA
    assert second["pool_entries"] is pd.NA and second["fallback_selected"] is pd.NA
    assert frames["vrf_rejections"].values.tolist() == [
        [4, 12, 1, "missing VRF public key", 1], [4, 12, 1, "tier too low", 1]
    ]  # fmt: skip


def test_blocks_dedupe_by_height_and_hash():
    recorder = RunRecorder()
    recorder.record_block(2, "b2", 1, 0, 200, recursive_previous_commitment="c1")
    recorder.record_block(2, "b2", 1, 0, 200, recursive_previous_commitment="c1")
    recorder.record_block(2, "fork", 3, 1, 260)
    recorder.record_block(1, "b1", 0, 0, 100)
    frame = recorder.frames()["blocks"]
    assert frame[["height", "hash"]].values.tolist() == [[1, "b1"], [2, "b2"], [2, "fork"]]
    assert frame["recursive_previous_commitment"].tolist() == ["", "c1", ""]


def test_invalid_kinds_and_phases_are_refused():
    recorder = RunRecorder()
    with pytest.raises(ValueError, match="vote kind"):
        recorder.record_vote(1, 0, "PreVote", 0, "h", 0)
    with pytest.raises(ValueError, match="fault phase"):
        recorder.record_fault(0, "crash", "begin")


def test_fault_nodes_are_canonical_text():
    assert compute_nodes_text([10, 2, 2, 3]) == "2,3,10"
    assert compute_nodes_text([]) == ""
    recorder = RunRecorder()
    recorder.record_fault(5, "partition_start", "start", {7, 1})
    assert recorder.frames()["faults"]["nodes"].tolist() == ["1,7"]


def test_rejections_are_recorded_in_reason_order_per_sample_without_zeros():
    recorder = RunRecorder()
    recorder.record_rejections(2, 300, {"z": 2, "a": 4})
    recorder.record_rejections(2, 100, {"z": 1, "a": 0})
    frame = recorder.frames()["rejections"]
    assert frame[["now_ms", "reason", "count"]].values.tolist() == [
        [100, "z", 1], [300, "a", 4], [300, "z", 2]
    ]  # fmt: skip


def test_run_info_reserved_prefix_and_conflicts():
    recorder = RunRecorder()
    recorder.record_run_info("prover_mode", "real")
    recorder.record_run_info("prover_mode", "real")
    recorder.record_run_info("gates", {"b": True, "a": False})
    with pytest.raises(ValueError, match="reserved"):
        recorder.record_run_info("recorder.messages", "all")
    with pytest.raises(ValueError, match="different values"):
        recorder.record_run_info("prover_mode", "model")
    info = dict(recorder.frames()["run_info"].values.tolist())
    assert info["gates"] == '{"a":false,"b":true}' and info["prover_mode"] == "real"


def test_frames_are_built_once_and_close_the_recorder():
    recorder = RunRecorder()
    _flood(recorder, 1, [1], {})
    first = recorder.frames()
    assert all(first[n] is f for n, f in recorder.frames().items())
    with pytest.raises(RuntimeError, match="closed"):
        _flood(recorder, 2, [1], {})


# --------------------------------------------------------------------------------------------
# Building and sorting.


def test_build_frame_refuses_bad_columns():
    columns = {c: [] for c in FRAME_SCHEMAS["nodes"].column_names}
    with pytest.raises(ValueError, match="missing"):
        build_frame("nodes", {k: v for k, v in columns.items() if k != "role"})
    with pytest.raises(ValueError, match="floats"):
        build_frame(
            "nodes", columns | {"node": [1.5], "address": ["a"], "role": ["r"], "region": [""]}
        )
    with pytest.raises(ValueError, match="expected strings"):
        build_frame("nodes", columns | {"node": [1], "address": [5], "role": ["r"], "region": [""]})
    with pytest.raises(ValueError, match="null string"):
        build_frame(
            "nodes", columns | {"node": [1], "address": [None], "role": ["r"], "region": [""]}
        )
    with pytest.raises(ValueError, match="different lengths"):
        build_frame(
            "nodes", columns | {"node": [1, 2], "address": ["a"], "role": ["r"], "region": [""]}
        )


def test_canonical_categorical_sorts_and_drops_unused():
    raw = pd.Categorical(["b", "c", "b"], categories=["z", "c", "b"])
    canonical = compute_canonical_categorical(raw)
    assert list(canonical.categories) == ["b", "c"]
    assert list(canonical) == ["b", "c", "b"]
    assert list(compute_canonical_categorical(["y", "x"]).categories) == ["x", "y"]


def test_equal_keys_keep_recording_order():
    recorder = RunRecorder()
    recorder.record_fault(10, "degrade", "start", [1], detail="second key-equal")
    recorder.record_fault(5, "crash", "start", [2])
    recorder.record_fault(10, "degrade", "start", [1], detail="first key-equal")
    assert recorder.frames()["faults"]["detail"].tolist() == [
        "",
        "second key-equal",
        "first key-equal",
    ]


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(-(2**62), 2**62), st.integers(0, 5)),
        max_size=40,
    ),
    st.booleans(),
)
def test_sort_order_equals_numpy_lexsort(rows, wide):
    """Packed-key argsort and the lexsort fallback both give numpy's stable lexsort order."""
    a = np.array([r[0] for r in rows], np.int64)
    b = np.array([r[1] if wide else r[1] % 7 for r in rows], np.int64)
    c = np.array([r[2] for r in rows], np.int64)
    order = compute_sort_order([a, b, c])
    expected = np.lexsort((c, b, a)) if rows else np.zeros(0, np.int64)
    got = np.arange(len(rows)) if order is None else order
    assert got.tolist() == expected.tolist()



@settings(max_examples=60)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 4)), max_size=30),
    st.booleans(),
)
def test_build_frame_sorts_by_every_key_or_skips_when_the_first_increases(rows, increasing):
    """With the first key strictly increasing the later keys cannot reorder (build_frame skips
    them); either way the rows are in stable (height, member) order."""
    if increasing:
        rows = [(k, member) for k, (_, member) in enumerate(rows)]
    columns = {
        "height": np.array([r[0] for r in rows], np.int64),
        "member": np.array([r[1] for r in rows], np.int64),
        "address": [f"a{k}" for k in range(len(rows))],  # the recording position
        "power": ["1"] * len(rows),
        "total_power": ["2"] * len(rows),
        "quorum": ["2"] * len(rows),
    }
    frame = build_frame("electorates", columns)
    expected = pd.DataFrame(columns).sort_values(["height", "member"], kind="stable")
    assert frame["address"].tolist() == expected["address"].tolist()
    assert frame["height"].dtype == np.int64 and frame["address"].dtype == STR_DTYPE

# --------------------------------------------------------------------------------------------
# Determinism: recording order of events with distinct keys does not matter.


def _events(draw: st.DrawFn) -> list[tuple]:
    """Events with distinct keys per frame (each a record_* method name and its arguments)."""
    msg_ids = draw(st.lists(st.integers(0, 10**6), unique=True, max_size=6))
    events: list[tuple] = []
    for msg_id in msg_ids:
        nodes = draw(st.lists(st.integers(1, 30), unique=True, min_size=1, max_size=8))
        split = draw(st.integers(0, len(nodes)))
        drops = {n: draw(st.sampled_from(["lost", "crashed"])) for n in nodes[split:]}
        events.append(("flood", msg_id, nodes[:split], drops))
    for height, voter in draw(
        st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), unique=True, max_size=8)
    ):
        events.append(("record_vote", height, 0, "prevote", voter, f"h{height}", 10 * height))
    for node, now in draw(
        st.lists(st.tuples(st.integers(0, 4), st.integers(0, 9)), unique=True, max_size=6)
    ):
        events.append(("record_snapshot", node, now * 1000, _nested_payload(now)))
        events.append(("record_rejections", node, now * 1000, {"bad": now, "late": 1}))
        events.append(("record_vrf_round", node, now, now, 0, {"pool_entries": node}))
    for height in draw(st.lists(st.integers(0, 20), unique=True, max_size=6)):
        events.append(("record_block", height, f"h{height}", height % 3, 0, 100 * height))
        events.append(
            ("record_block_finalized", height, height % 4, f"h{height}", 100 * height + 7)
        )
        events.append(("record_proof", height, "state", "stwo", 1000 + height, height % 2 == 0))
    for at in draw(st.lists(st.integers(0, 10**5), unique=True, max_size=4)):
        events.append(("record_fault", at, "crash", "start", [at % 7]))
        events.append(("record_alert", "ChainStall", "warning", at))
    for node in draw(st.lists(st.integers(0, 9), unique=True, max_size=4)):
        events.append(("record_node", node, f"addr{node}"))
        events.append(("record_run_info", f"k{node}", node))
    return events


def _replay(events: list[tuple]) -> dict[str, pd.DataFrame]:
    recorder = RunRecorder()
    for method, *args in events:
        if method == "flood":
            _flood(recorder, *args)
        else:
            getattr(recorder, method)(*args)
    return recorder.frames()


@settings(max_examples=20)
@given(st.data())
def test_recording_order_does_not_change_frames_or_digest(data):
    events = _events(data.draw)
    shuffled = data.draw(st.permutations(events))
    first, second = _replay(events), _replay(shuffled)
    for name in FRAME_NAMES:
        assert first[name].equals(second[name]), name
        assert first[name].dtypes.equals(second[name].dtypes), name
    assert compute_frames_digest(first) == compute_frames_digest(second)
