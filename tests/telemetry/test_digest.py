"""Frames digest: the documented encoding, sensitivity to every value, PYTHONHASHSEED-free."""

import hashlib
import inspect
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.telemetry.digest import DOMAIN, compute_frame_digests, compute_frames_digest
from rppsim.telemetry.frames import (
    NA_STR_DTYPE,
    STR_DTYPE,
    RunRecorder,
    compute_canonical_categorical,
)

ROOT = Path(__file__).resolve().parents[2]


def _text(value: str) -> bytes:
    data = value.encode("utf-8")
    return struct.pack("<I", len(data)) + data


def build_sample_frames() -> dict[str, pd.DataFrame]:
    """A small run touching every frame; record and dict orders follow ``hash(str)``, which
    PYTHONHASHSEED changes, so only a recorder independent of them gives one digest."""
    from rppsim.node.ledger import Account

    recorder = RunRecorder()
    topics = ("blocks", "votes", "proofs", "meta", "vrf/proofs", "witness/meta")
    for topic in sorted(topics, key=hash):
        msg_id = sorted(topics).index(topic)
        receivers = np.arange(1, 9, dtype=np.int32)[msg_id % 3 :]
        recorder.record_flood(
            msg_id, topic, 0, 100 * msg_id, 200 + msg_id, receivers,
            100 * msg_id + 7 * receivers, receivers % 3 + 1,
            np.array([9, 10]), ["lost", "crashed"],
        )  # fmt: skip
    recorder.record_unicast(99, "votes", 2, 5, 90, 4, 17, 1)
    reasons = sorted(("bad signature", "unknown topic", "tier too low (Committed)"), key=hash)
    for node in range(4):
        recorder.record_node(node, hashlib.blake2s(bytes([node])).hexdigest(), "validator", "eu")
        recorder.record_rejections(node, 1000, {r: len(r) + node for r in reasons})
        payload = {key: {"height": node + 3} for key in sorted(("node", "consensus"), key=hash)}
        reputation = {"score": node / 3, "tier": f"Tl{node}", "timetoke_hours": node}
        payload["node"]["reputation"] = reputation
        payload["unknown"] = {r: node for r in reasons}
        error = "transport: refused" if node == 2 else ""
        recorder.record_snapshot(node, 1000 * node, payload, emit_ok=node != 2, emit_error=error)
        account = Account(f"a{node}", balance=10 * node, stake=5) if node else None
        recorder.record_ledger(node, 1000 * node, f"a{node}", account, 8 if node > 1 else None)
        metrics = {"pool_entries": 4, "accepted_validators": node, "participation_rate": node / 4}
        recorder.record_vrf_round(node, 500, 3, 0, metrics | {"rejections_by_reason": {"x": node}})
        recorder.record_block_finalized(3, node, "h3", 900 + node)
        recorder.record_vote(3, 0, "precommit", node, "h3", 800 + node, receivers=3)
    recorder.record_block(3, "h3", 1, 0, 700, consensus_proof=True, proof_bytes_total=7)
    recorder.record_proof(3, "recursive", "stwo", 52_000, True)
    recorder.record_fault(300, "partition_start", "start", {1, 3}, detail="groups 2")
    recorder.record_alert("FinalityLag", "warning", 1200, node=2)
    for key in sorted(("prover_mode", "rule_set", "seed"), key=hash):
        recorder.record_run_info(key, {"prover_mode": "real", "rule_set": "rpp-v1", "seed": 7}[key])
    return recorder.frames()


# --------------------------------------------------------------------------------------------
# The encoding, as documented in digest.py.


def test_digest_of_no_frames_is_domain_and_zero_count():
    expected = hashlib.blake2s(DOMAIN + struct.pack("<I", 0)).hexdigest()
    assert compute_frames_digest({}) == expected


def test_digest_follows_the_documented_encoding():
    frame = pd.DataFrame(
        {
            "i": np.array([1, -2], np.int32),
            "b": np.array([True, False]),
            "f": np.array([-0.0, np.nan]),
            "s": pd.array(["", "é"], dtype=STR_DTYPE),
            "c": pd.Categorical(["y", "x"], categories=["z", "y", "x"]),
        }
    )
    expected = DOMAIN + struct.pack("<I", 1) + _text("t") + struct.pack("<QI", 2, 5)
    expected += _text("i") + _text("int32") + struct.pack("<ii", 1, -2)
    expected += _text("b") + _text("bool") + b"\x01\x00"
    expected += (
        _text("f") + _text("float64") + struct.pack("<d", 0.0) + struct.pack("<Q", 0x7FF8 << 48)
    )
    expected += _text("s") + _text("str") + struct.pack("<II", 0, 2) + "é".encode()
    expected += _text("c") + _text("category") + struct.pack("<III", 2, 1, 1) + b"xy"
    expected += struct.pack("<ii", 1, 0)
    assert compute_frames_digest({"t": frame}) == hashlib.blake2s(expected).hexdigest()


def test_nullable_columns_hash_a_validity_byte_then_filled_values():
    frame = pd.DataFrame(
        {
            "i": pd.array([None, -2], dtype="Int64"),
            "b": pd.array([True, None], dtype="boolean"),
            "f": pd.array([None, 0.5], dtype="Float64"),
            "s": pd.array(["é", None], dtype=NA_STR_DTYPE),
        }
    )
    expected = DOMAIN + struct.pack("<I", 1) + _text("t") + struct.pack("<QI", 2, 4)
    expected += _text("i") + _text("Int64") + b"\x00\x01" + struct.pack("<qq", 0, -2)
    expected += _text("b") + _text("boolean") + b"\x01\x00" + b"\x01\x00"
    expected += _text("f") + _text("Float64") + b"\x00\x01" + struct.pack("<dd", 0.0, 0.5)
    expected += _text("s") + _text("string") + b"\x01\x00" + struct.pack("<II", 2, 0)
    expected += "é".encode()
    assert compute_frames_digest({"t": frame}) == hashlib.blake2s(expected).hexdigest()
    zero = frame.assign(i=pd.array([0, -2], dtype="Int64"))
    assert compute_frames_digest({"t": zero}) != compute_frames_digest({"t": frame})


def test_schema_frames_are_hashed_in_schema_column_order():
    frames = build_sample_frames()
    reordered = {name: frame[frame.columns[::-1]] for name, frame in frames.items()}
    assert compute_frames_digest(reordered) == compute_frames_digest(frames)
    with pytest.raises(ValueError, match="differ from its schema"):
        compute_frames_digest({"nodes": frames["nodes"].drop(columns="region")})


def test_negative_zero_and_nan_payloads_are_normalised():
    quiet = np.array([np.nan])
    other_nan = np.array([0x7FF0_0000_0000_0001], np.uint64).view(np.float64)
    assert np.isnan(other_nan[0])
    a = pd.DataFrame({"x": [0.0, quiet[0]]})
    b = pd.DataFrame({"x": [-0.0, other_nan[0]]})
    assert compute_frames_digest({"f": a}) == compute_frames_digest({"f": b})
    assert compute_frames_digest({"f": a}) != compute_frames_digest(
        {"f": pd.DataFrame({"x": [0.0, 1.0]})}
    )


def test_categories_hash_by_values_not_by_category_order():
    a = pd.DataFrame({"c": pd.Categorical(["b", "a"], categories=["a", "b"])})
    b = pd.DataFrame({"c": pd.Categorical(["b", "a"], categories=["q", "b", "a"])})
    c = pd.DataFrame({"c": pd.Categorical(["a", "b"], categories=["a", "b"])})
    assert compute_frames_digest({"x": a}) == compute_frames_digest({"x": b})
    assert compute_frames_digest({"x": a}) != compute_frames_digest({"x": c})


def test_types_are_part_of_the_digest():
    as32 = pd.DataFrame({"x": np.array([1, 2], np.int32)})
    as64 = pd.DataFrame({"x": np.array([1, 2], np.int64)})
    assert compute_frames_digest({"x": as32}) != compute_frames_digest({"x": as64})
    strings = pd.DataFrame({"x": pd.array(["1", "2"], dtype=STR_DTYPE)})
    objects = pd.DataFrame({"x": np.array(["1", "2"], dtype=object)})
    assert compute_frames_digest({"x": strings}) == compute_frames_digest({"x": objects})


def test_names_row_order_and_string_boundaries_matter():
    frames = build_sample_frames()
    digest = compute_frames_digest(frames)
    renamed = dict(frames) | {"extra": frames["nodes"]}
    assert compute_frames_digest(renamed) != digest
    swapped = dict(frames)
    swapped["nodes"] = frames["nodes"].iloc[[1, 0, 2, 3]].reset_index(drop=True)
    assert compute_frames_digest(swapped) != digest
    ab = pd.DataFrame({"s": pd.array(["ab", ""], dtype=STR_DTYPE)})
    a_b = pd.DataFrame({"s": pd.array(["a", "b"], dtype=STR_DTYPE)})
    assert compute_frames_digest({"s": ab}) != compute_frames_digest({"s": a_b})


@pytest.mark.parametrize(
    ("column", "message", "error"),
    [
        (pd.array([1, None], dtype="UInt8"), "no canonical encoding", TypeError),
        (np.array(["a", 1], dtype=object), "non-string", TypeError),
        (pd.array(["a", None], dtype=STR_DTYPE), "null strings", ValueError),
        (pd.Categorical(["a", None]), "null categorical", ValueError),
    ],
)
def test_values_without_canonical_bytes_are_refused(column, message, error):
    with pytest.raises(error, match=message):
        compute_frames_digest({"x": pd.DataFrame({"c": column})})


def test_frame_digests_name_the_frame_that_differs():
    frames = build_sample_frames()
    changed = dict(frames)
    changed["votes"] = frames["votes"].assign(sent_ms=frames["votes"]["sent_ms"] + 1)
    before, after = compute_frame_digests(frames), compute_frame_digests(changed)
    assert [name for name in before if before[name] != after[name]] == ["votes"]
    assert before["votes"] == compute_frames_digest({"votes": frames["votes"]})


# --------------------------------------------------------------------------------------------
# Any single value changed changes the digest.

SAMPLE = build_sample_frames()
SAMPLE_DIGEST = compute_frames_digest(SAMPLE)
CELLS = [
    (name, column, row)
    for name, frame in sorted(SAMPLE.items())
    for column in frame.columns
    for row in range(len(frame))
]


def _changed(value: object, dtype: object) -> object:
    """A different value of the same type (a null becomes a value)."""
    if value is pd.NA:
        return {"boolean": True, "string": "x"}.get(str(dtype), 0)
    if isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype)):
        return str(value) + "x"
    if dtype == np.bool_ or isinstance(dtype, pd.BooleanDtype):
        return not value
    if dtype.kind == "f":
        return 1.0 if np.isnan(value) else float(np.nextafter(value, np.inf))
    return value + 1


@settings(max_examples=60)
@given(st.sampled_from(CELLS))
def test_any_single_value_change_changes_the_digest(cell):
    name, column, row = cell
    frame = SAMPLE[name].copy()
    dtype = frame[column].dtype
    values = frame[column].tolist()
    values[row] = _changed(values[row], dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        frame[column] = compute_canonical_categorical(values)
    else:
        frame[column] = (
            pd.array(values, dtype=dtype)
            if isinstance(dtype, pd.api.extensions.ExtensionDtype)
            else np.array(values, dtype=dtype)
        )
    assert compute_frames_digest(SAMPLE | {name: frame}) != SAMPLE_DIGEST


def test_the_sample_covers_every_dtype():
    kinds = {str(frame[c].dtype) for frame in SAMPLE.values() for c in frame.columns}
    assert {"bool", "int32", "int64", "str", "category"} <= kinds  # no float64 left
    assert {"Int16", "Int32", "Int64", "Float64", "boolean", "string"} <= kinds
    nullable = [frame[c] for frame in SAMPLE.values() for c in frame.columns]
    assert any(column.dtype.name == "Int64" and column.isna().any() for column in nullable)
    assert SAMPLE["messages"]["recv_ms"].isna().any() and SAMPLE["alerts"]["end_ms"].isna().all()
    assert len(CELLS) > 300


# --------------------------------------------------------------------------------------------
# Across processes and PYTHONHASHSEED values.

_CHILD = f"""
import hashlib, json
import numpy as np
import pandas as pd
from rppsim.telemetry.digest import compute_frames_digest
from rppsim.telemetry.frames import RunRecorder
{inspect.getsource(build_sample_frames)}
frames = build_sample_frames()
print(json.dumps({{"digest": compute_frames_digest(frames), "hash": hash("rppsim")}}))
"""
"""The child runs ``build_sample_frames`` from its source, without importing pytest."""


def test_digest_is_identical_across_processes_and_hash_seeds():
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONHASHSEED=seed),
        )
        for seed in ("0", "1")
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0]["hash"] != results[1]["hash"], "the two children must use different seeds"
    assert (
        results[0]["digest"] == results[1]["digest"] == compute_frames_digest(build_sample_frames())
    )
