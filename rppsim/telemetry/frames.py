"""Run frames: one fixed schema per tidy pandas frame, and the recorder that fills them.

The simulator kernel calls ``RunRecorder.record_*`` during a run; ``frames()`` builds every
frame once at the end (docs/architecture.md#telemetry-reports-and-guardrails,
docs/architecture.md#code-style). Conventions shared by all frames:

- Times are simulated integer milliseconds (``*_ms``); no wall-clock value enters a frame.
- Nodes are ``int32`` node indices (``Int32`` where a row may name no node); the ``nodes``
  frame maps them to addresses.
- A missing value is ``pd.NA`` in a column of a pandas nullable dtype
  (``Int16``/``Int32``/``Int64``/``Float64``/``boolean``/``string``), never a sentinel such
  as ``-1`` or ``""``. Values read from a node's payload or ledger (``snapshots``,
  ``vrf_rounds``, ``ledger``) are all nullable: null where the node does not report them. The
  harness columns that can lack a value are nullable too: ``alerts.node`` (null: fleet-wide),
  ``alerts.end_ms`` (null: still firing at the end of the run), ``blocks.proposer``,
  ``electorates.member`` and ``evidence.offender`` (null: an address that is no node of the
  run), ``messages.recv_ms`` and ``messages.hops`` (null: dropped), ``proofs.error`` (null:
  no error) and ``votes.receivers`` (null: not counted). Every other harness column uses a
  numpy dtype or pandas' pyarrow-backed ``str`` dtype and is never null; there ``""`` is a
  value (an empty text, e.g. ``faults.nodes`` of a fleet-wide fault), not a missing one.
- ``messages.topic`` and ``messages.drop_reason`` are categoricals whose categories are the
  sorted distinct values present, so equal values always give equal frames.
- Each frame is sorted by its key columns with a stable sort: rows with equal keys keep the
  order in which they were recorded, which the kernel fixes by its (time, seq) event order
  (docs/architecture.md#determinism). The index is a fresh RangeIndex.

The ``messages`` frame holds one row per (message, receiver): delivered rows have
``dropped`` False, ``drop_reason`` ``""`` and real ``recv_ms`` / ``hops``; dropped rows have
``dropped`` True, a reason, and null ``recv_ms`` and ``hops``. It can be huge, so a flood is
recorded as numpy arrays and kept as columnar chunks that are concatenated once (the nullable
columns are built from a value array and the dropped mask, never from Python objects). With
``record_messages=False`` the frame stays empty; with ``message_sample_rate`` < 1 only the
messages whose BLAKE2s(msg_id) falls below the rate are kept (all receivers of a kept message
are kept). Either way ``run_info`` states the mode and counts every delivery and drop seen,
so the digest and the summary say whether the frame is complete.

Frames (key columns in brackets; docs/operations.md#guardrails says what the guardrails need from
them):
``alerts`` [start_ms, name, node] fired alerts with their label set in Prometheus text form
(``{instance="3",severity="critical"}``), end_ms null while firing, node null fleet-wide;
``block_finalized`` [height, node] when each node finalized which hash; ``blocks`` [height,
hash] one row per committed block with counts, proof totals and the recursive commitments
(previous "" at genesis); ``electorates`` [height, member] the validator set that counts the
votes of each height, powers as decimal text (they exceed int64), member null for an address
that is no node of the run; ``evidence`` [height, offender, offense_height, round, kind] the
double-sign evidence each finalized block carries (kind ``double_sign_*``) and what the
participation detectors found when it was applied (``censorship_*``, ``inactivity``;
``rppsim.node.participation``); ``faults`` [at_ms, kind, phase, nodes] fault
transitions, nodes as "1,7"; ``ledger`` [node, now_ms] the node's own account in its own
ledger at each telemetry sample (LEDGER_FIELDS); ``messages`` [msg_id, receiver]; ``nodes``
[node] index → address, role, region, and whether the scenario made it byzantine;
``proofs`` [height, circuit, index, system] bytes, verified, error (null if none);
``rejections`` [node, now_ms, reason] the node's *cumulative* invalid-input count per reason
at each telemetry sample and at the end of the run; ``run_info`` [key] run-level facts as
text; ``snapshots`` [node, now_ms] telemetry samples (SNAPSHOT_FIELDS); ``votes`` [height,
round, kind, voter] with the number of nodes the vote reached (null when not counted);
``vrf_rejections`` [node, height, round, reason] the round's ``rejections_by_reason``;
``vrf_rounds`` [node, height, round] selection metrics (VRF_FIELDS).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rppsim.node.config import FEATURE_GATE_NAMES

STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
"""pandas' default ``str`` dtype (never null in a frame); round-trips through Parquet."""
NA_STR_DTYPE = pd.StringDtype("pyarrow")
"""The nullable ``string`` dtype: missing values are ``pd.NA``."""

NUMPY_DTYPES: dict[str, type] = {
    "bool": np.bool_,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "float64": np.float64,
}
NULLABLE_DTYPES: dict[str, pd.api.extensions.ExtensionDtype] = {
    "Int16": pd.Int16Dtype(),
    "Int32": pd.Int32Dtype(),
    "Int64": pd.Int64Dtype(),
    "Float64": pd.Float64Dtype(),
    "boolean": pd.BooleanDtype(),
    "string": NA_STR_DTYPE,
}
"""Schema dtype names whose missing values are ``pd.NA``."""
DTYPE_NAMES = (*NUMPY_DTYPES, *NULLABLE_DTYPES, "str", "category")
"""Column dtype names of a schema: numpy dtypes, nullable dtypes, ``str`` and ``category``."""


@dataclass(frozen=True, slots=True)
class FrameSchema:
    """A frame's columns (name, dtype name) in order, and the key columns it is sorted by."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        """The column names in schema order."""
        return tuple(name for name, _ in self.columns)


# --------------------------------------------------------------------------------------------
# Snapshot and VRF fields: column, dtype, dotted source path in the status payload.

FEATURE_GATES = FEATURE_GATE_NAMES
"""The seven rollout feature gates (docs/operations.md#rollout-status)."""
VERIFIER_BACKENDS = ("stwo", "plonky3", "rpp-stark")
"""Backends pre-seeded in ``verifier_metrics.per_backend``
(docs/operations.md#validator-telemetry)."""
VERIFIER_COUNTERS = ("accepted", "rejected", "bypassed", "total_duration_ms")
CACHE_FIELDS = (
    "hits", "misses", "evictions", "entries", "capacity", "queue_depth", "max_queue_depth",
)  # fmt: skip
"""``verifier_metrics.cache`` counters, each a ``cache_<field>`` snapshot column; utilisation
is entries ÷ capacity (guardrail g09)."""
PENDING_FIELDS = ("block_proposals", "transactions", "identities", "votes", "uptime_proofs")
EMIT_COUNTERS = (
    "emitted", "succeeded", "failed_encode", "failed_transport", "failed_status", "pending",
    "abandoned", "invalid_results",
)  # fmt: skip
"""rppsim's telemetry-loop counters (``rollout.rppsim_telemetry_emits``, not a chain field)."""
CONSENSUS_COUNTERS = ("leader_changes", "failed_votes", "slashing_events", "witness_events")


def _snapshot_fields() -> tuple[tuple[str, str, str], ...]:
    """(column, dtype, dotted path) of every snapshot column taken from the payload."""
    fields = [
        ("release_channel", "string", "rollout.release_channel"),
        ("telemetry_enabled", "boolean", "rollout.telemetry.enabled"),
        ("sample_interval_secs", "Int64", "rollout.telemetry.sample_interval_secs"),
        ("last_observed_height", "Int64", "rollout.telemetry.last_observed_height"),
    ]
    fields += [(f"gate_{g}", "boolean", f"rollout.feature_gates.{g}") for g in FEATURE_GATES]
    emits = "rollout.rppsim_telemetry_emits"
    fields += [
        (f"emits_{c}", "Int64", f"{emits}.{c.replace('failed_', 'failed.')}") for c in EMIT_COUNTERS
    ]
    fields += [
        ("height", "Int64", "node.height"),
        ("last_hash", "string", "node.last_hash"),
        ("epoch", "Int64", "node.epoch"),
        ("consensus_height", "Int64", "consensus.height"),
        ("round", "Int64", "consensus.round"),
    ]
    fields += [(f"pending_{f}", "Int64", f"node.pending_{f}") for f in PENDING_FIELDS]
    fields += [("quorum_reached", "boolean", "consensus.quorum_reached")]
    fields += [(c, "Int64", f"consensus.{c}") for c in CONSENSUS_COUNTERS]
    fields += [
        ("quorum_latency_ms", "Int64", "consensus.quorum_latency_ms"),
        ("tier", "Int16", "node.reputation.tier"),
        ("timetoke_hours", "Int64", "node.reputation.timetoke_hours"),
        ("reputation_score", "Float64", "node.reputation.score"),
        ("consensus_success", "Int64", "node.reputation.consensus_success"),
        ("vrf_pool_entries", "Int64", "node.vrf_metrics.pool_entries"),
        ("vrf_accepted_validators", "Int64", "node.vrf_metrics.accepted_validators"),
        ("vrf_participation_rate", "Float64", "node.vrf_metrics.participation_rate"),
        ("vrf_fallback_selected", "boolean", "node.vrf_metrics.fallback_selected"),
    ]
    for backend in VERIFIER_BACKENDS:
        label = backend.replace("-", "_")
        path = f"verifier_metrics.per_backend.{backend}"
        fields += [(f"verifier_{label}_{c}", "Int64", f"{path}.{c}") for c in VERIFIER_COUNTERS]
    fields += [(f"cache_{f}", "Int64", f"verifier_metrics.cache.{f}") for f in CACHE_FIELDS]
    return tuple(fields)


SNAPSHOT_FIELDS = _snapshot_fields()
"""Snapshot columns flattened from the payload ``compute_telemetry_snapshot`` builds (the
ValidatorTelemetryView shape, docs/operations.md#validator-telemetry,
docs/operations.md#the-telemetry-loop). ``tier`` is read as an int or "TlN";
a path the node does not report is null. The node reports ``model`` proofs under ``stwo`` and
``numba-stark`` under ``rpp-stark`` (``rppsim.node.verifier``)."""
_SNAPSHOT_PLAN: tuple[tuple[str, tuple[str, ...], str], ...] = tuple(
    (path, tuple(path.split(".")), column) for column, _, path in SNAPSHOT_FIELDS
)
_SNAPSHOT_PATHS = frozenset(path for _, _, path in SNAPSHOT_FIELDS)

SNAPSHOT_UNMAPPED: tuple[tuple[str, str], ...] = (
    ("rollout.telemetry.endpoint", "configuration, constant over a run"),
    ("node.address", "the nodes frame"),
    ("node.epoch_nonce", "derived from the state root"),
    ("node.tip", "the blocks frame"),
    ("node.reputation.balance", "the ledger frame"),
    ("node.reputation.stake", "the ledger frame"),
    ("node.vrf_metrics", "the vrf_rounds and vrf_rejections frames"),
    ("consensus.pending_votes", "the same count as node.pending_votes"),
    ("consensus.round_latencies_ms", "a list; blocks and block_finalized give the latencies"),
    ("mempool", "the same counts as node.pending_*"),
    ("timetoke_params", "configuration, constant over a run"),
    ("pruning", "the simulator runs no pruning job"),
    ("verifier_metrics.per_circuit", "rppsim's per-(backend, circuit) split of per_backend"),
    ("vrf_threshold", "the same values as node.vrf_metrics"),
    ("rejections", "the rejections frame (the kernel adds counts lost in crashes)"),
)
"""Payload paths (a path or the section under it) that are intentionally not snapshot
columns, with where their values live instead."""


def is_snapshot_path_mapped(path: str) -> bool:
    """Whether payload ``path`` is a snapshot column or listed in SNAPSHOT_UNMAPPED."""
    if path in _SNAPSHOT_PATHS:
        return True
    return any(path == p or path.startswith(p + ".") for p, _ in SNAPSHOT_UNMAPPED)


VRF_FIELDS: tuple[tuple[str, str], ...] = (
    ("pool_entries", "Int64"),
    ("target_validator_count", "Int64"),
    ("verified_submissions", "Int64"),
    ("accepted_validators", "Int64"),
    ("rejected_candidates", "Int64"),
    ("fallback_selected", "boolean"),
    ("participation_rate", "Float64"),
    ("success_rate", "Float64"),
    ("rejection_rate", "Float64"),
    ("active_threshold_ratio", "Float64"),
    ("active_epoch_threshold", "string"),
    ("latest_epoch", "Int64"),
    ("latest_round", "Int64"),
    ("total_weight", "string"),
    ("entropy_beacon", "string"),
)
"""VrfSelectionMetrics field names (docs/operations.md#node-status,
docs/operations.md#vrf-telemetry); ``rejection_rate`` as in docs/operations.md#vrf-telemetry."""

LEDGER_FIELDS: tuple[tuple[str, str], ...] = (
    ("balance", "Int64"),
    ("stake", "Int64"),
    ("slashed", "Int64"),
    ("zsi_validated", "boolean"),
    ("tier", "Int16"),
    ("score", "Float64"),
    ("timetoke_hours", "Int64"),
    ("consensus_success", "Int64"),
)
"""A node's own account in its own ledger: ``slashed`` = genesis stake − stake (only
slashing moves stake); ``consensus_success`` is the reputation's success count (its genesis
seed plus one per reward credited; the ledger keeps no cumulative reward amount, so there is
no rewards column). All null while the node's ledger has no such account."""


# --------------------------------------------------------------------------------------------
# Schemas.


def _schema(name: str, key: tuple[str, ...], *columns: tuple[str, str]) -> FrameSchema:
    return FrameSchema(name=name, columns=tuple(columns), key=key)


_I32, _I64, _STR = "int32", "int64", "str"
FRAME_SCHEMAS: dict[str, FrameSchema] = {
    s.name: s
    for s in (
        _schema(
            "alerts", ("start_ms", "name", "node"),
            ("name", _STR), ("severity", _STR), ("node", "Int32"),
            ("start_ms", _I64), ("end_ms", "Int64"), ("labels", "string"), ("detail", _STR),
        ),
        _schema(
            "block_finalized", ("height", "node"),
            ("height", _I64), ("node", _I32), ("hash", _STR), ("finalized_ms", _I64),
        ),
        _schema(
            "blocks", ("height", "hash"),
            ("height", _I64), ("hash", _STR), ("previous_hash", _STR), ("proposer", "Int32"),
            ("round", _I32), ("proposed_ms", _I64), ("tx_count", _I32),
            ("identity_count", _I32), ("uptime_count", _I32), ("consensus_proof", "bool"),
            ("proof_system", _STR), ("proof_bytes_total", _I64), ("state_root", _STR),
            ("recursive_commitment", _STR), ("recursive_previous_commitment", _STR),
        ),
        _schema(
            "electorates", ("height", "member"),
            ("height", _I64), ("member", "Int32"), ("address", _STR), ("power", _STR),
            ("total_power", _STR), ("quorum", _STR),
        ),
        _schema(
            "evidence", ("height", "offender", "offense_height", "round", "kind"),
            ("height", _I64), ("block_hash", _STR), ("offender", "Int32"),
            ("offense_height", _I64), ("round", _I32), ("kind", _STR),
        ),
        _schema(
            "faults", ("at_ms", "kind", "phase", "nodes"),
            ("at_ms", _I64), ("kind", _STR), ("phase", _STR), ("nodes", _STR), ("detail", _STR),
        ),
        _schema(
            "ledger", ("node", "now_ms"),
            ("node", _I32), ("now_ms", _I64), ("address", _STR), *LEDGER_FIELDS,
        ),
        _schema(
            "messages", ("msg_id", "receiver"),
            ("msg_id", _I64), ("topic", "category"), ("origin", _I32), ("receiver", _I32),
            ("sent_ms", _I64), ("recv_ms", "Int64"), ("hops", "Int16"), ("bytes", _I32),
            ("dropped", "bool"), ("drop_reason", "category"),
        ),
        _schema(
            "nodes", ("node",),
            ("node", _I32), ("address", _STR), ("role", _STR), ("region", _STR),
            ("byzantine", "bool"),
        ),
        _schema(
            "proofs", ("height", "circuit", "index", "system"),
            ("height", _I64), ("circuit", _STR), ("index", _I32), ("system", _STR),
            ("bytes", _I64), ("verified", "bool"), ("error", "string"),
        ),
        _schema(
            "rejections", ("node", "now_ms", "reason"),
            ("node", _I32), ("now_ms", _I64), ("reason", _STR), ("count", _I64),
        ),
        _schema("run_info", ("key",), ("key", _STR), ("value", _STR)),
        _schema(
            "snapshots", ("node", "now_ms"),
            ("node", _I32), ("now_ms", _I64), ("emit_ok", "bool"), ("emit_error", "string"),
            *((column, dtype) for column, dtype, _ in SNAPSHOT_FIELDS),
        ),
        _schema(
            "votes", ("height", "round", "kind", "voter"),
            ("height", _I64), ("round", _I32), ("kind", _STR), ("voter", _I32),
            ("block_hash", _STR), ("sent_ms", _I64), ("receivers", "Int32"),
        ),
        _schema(
            "vrf_rounds", ("node", "height", "round"),
            ("node", _I32), ("now_ms", _I64), ("height", _I64), ("round", _I64),
            *VRF_FIELDS,
        ),
        _schema(
            "vrf_rejections", ("node", "height", "round", "reason"),
            ("node", _I32), ("height", _I64), ("round", _I64), ("reason", _STR), ("count", _I64),
        ),
    )
}  # fmt: skip
"""Every frame's schema, by name (sorted)."""
FRAME_NAMES = tuple(sorted(FRAME_SCHEMAS))
VOTE_KINDS = ("prevote", "precommit")
FAULT_PHASES = ("start", "end", "instant")


# --------------------------------------------------------------------------------------------
# Building a frame from columns: exact dtypes, canonical categories, stable key sort.


def compute_canonical_categorical(values: object) -> pd.Categorical:
    """A categorical of ``values`` whose categories are exactly the sorted values present."""
    if isinstance(values, pd.Series):
        values = values.array
    if not isinstance(values, pd.Categorical):
        values = pd.Categorical(_as_strings(values, "categorical"))
    names = [str(c) for c in values.categories]
    codes = np.asarray(values.codes)
    if (codes < 0).any():
        raise ValueError("null categorical values are not allowed")
    used = np.bincount(codes, minlength=len(names)) > 0
    kept = sorted(name for name, is_used in zip(names, used, strict=True) if is_used)
    if kept != names:
        position = {name: i for i, name in enumerate(kept)}
        remap = np.array([position.get(name, -1) for name in names], np.int32)
        codes = remap[codes] if len(codes) else codes
    return pd.Categorical.from_codes(codes, categories=pd.Index(kept, dtype=STR_DTYPE))


def _as_strings(values: object, where: str) -> pd.api.extensions.ExtensionArray:
    """``values`` as a ``str`` array; anything but strings (ints, None, ...) is refused."""
    if isinstance(values, pd.Series):
        values = values.array
    if isinstance(values, pd.arrays.ArrowStringArray) and values.dtype == STR_DTYPE:
        array = values
    else:
        raw = values if isinstance(values, np.ndarray) else list(values)  # type: ignore[call-overload]  # a sequence
        try:
            array = pd.array(pa.array(raw, type=pa.large_string()), dtype=STR_DTYPE)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise ValueError(f"{where}: expected strings ({error})") from None
    if array.isna().any():
        raise ValueError(f"{where}: null string (use '')")
    return array


def _as_column(values: object, dtype: str, where: str) -> object:
    """``values`` as an array of the schema dtype; refuses lossy float→int and null strings."""
    if dtype == "category":
        return compute_canonical_categorical(values)
    if dtype == "str":
        return _as_strings(values, where)
    if dtype in NULLABLE_DTYPES:
        return _as_nullable(values, dtype, where)
    numpy_dtype = NUMPY_DTYPES[dtype]
    array = np.asarray(values)
    if len(array) == 0:
        return np.empty(0, numpy_dtype)
    if dtype != "float64" and array.dtype.kind == "f":
        raise ValueError(f"{where}: expected {dtype}, found floats")
    if dtype == "bool" and array.dtype.kind != "b":
        raise ValueError(f"{where}: expected bool, found {array.dtype}")
    return array.astype(numpy_dtype, copy=False)


def _as_nullable(values: object, dtype: str, where: str) -> pd.api.extensions.ExtensionArray:
    """``values`` (None / NaN / pd.NA for missing) as the nullable dtype ``dtype``."""
    if isinstance(values, pd.Series):
        values = values.array
    target = NULLABLE_DTYPES[dtype]
    if getattr(values, "dtype", None) == target:
        return values  # type: ignore[return-value]  # has the target dtype
    try:
        if dtype == "string":
            raw = values if isinstance(values, np.ndarray) else list(values)  # type: ignore[call-overload]  # a sequence
            return pd.array(pa.array(raw, type=pa.large_string(), from_pandas=True), dtype=target)
        if dtype == "boolean" and not isinstance(values, pd.api.extensions.ExtensionArray):
            values = [None if v is None else _to_bool(v, where) for v in values]  # type: ignore[attr-defined]  # a sequence
        return pd.array(values, dtype=target)  # type: ignore[call-overload]  # a sequence
    except (TypeError, ValueError, pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ValueError(f"{where}: expected {dtype} ({error})") from None


def _sort_codes(column: Any) -> np.ndarray:
    """An integer array ordering like ``column`` (strings by code point)."""
    if isinstance(column, pd.Categorical):
        return np.asarray(column.codes)
    if isinstance(column, np.ndarray):
        return column.view(np.uint8) if column.dtype == np.bool_ else column
    codes, _ = pd.factorize(column, sort=True)
    return codes


def build_frame(name: str, columns: Mapping[str, object]) -> pd.DataFrame:
    """Frame ``name`` from column values: schema dtypes, sorted by key (stable), RangeIndex."""
    schema = FRAME_SCHEMAS[name]
    if set(columns) != set(schema.column_names):
        missing = sorted(set(schema.column_names) - set(columns))
        extra = sorted(set(columns) - set(schema.column_names))
        raise ValueError(f"frame {name}: missing columns {missing}, unexpected {extra}")
    data = {c: _as_column(columns[c], d, f"{name}.{c}") for c, d in schema.columns}
    lengths = {len(v) for v in data.values()}  # type: ignore[arg-type]  # columns are sized
    if len(lengths) > 1:
        raise ValueError(f"frame {name}: columns of different lengths {sorted(lengths)}")
    first = _sort_codes(data[schema.key[0]])
    if len(first) < 2 or bool(np.all(first[1:] > first[:-1])):
        order = None  # the first key strictly increasing: the later keys cannot reorder
    else:
        order = compute_sort_order([first, *(_sort_codes(data[k]) for k in schema.key[1:])])
    if order is not None:
        data = {c: v[order] for c, v in data.items()}  # type: ignore[index]  # arrays
    return pd.DataFrame(data, copy=False)


def _pack_keys(keys: Sequence[np.ndarray]) -> np.ndarray | None:
    """Integer keys packed into one int64 in mixed radix (first key major); None on overflow."""
    packed = np.zeros(len(keys[0]), np.int64)
    capacity = 1
    for key in keys:
        low, high = int(key.min()), int(key.max())
        span = high - low + 1
        capacity *= span
        if capacity >= 2**63:
            return None
        packed *= span
        packed += key.astype(np.int64) - low
    return packed


def compute_sort_order(keys: Sequence[np.ndarray]) -> np.ndarray | None:
    """Stable lexicographic order by integer ``keys`` (first key major); None if sorted."""
    if not keys or len(keys[0]) < 2:
        return None
    packed = keys[0] if len(keys) == 1 else _pack_keys(keys)
    if packed is not None:
        if bool(np.all(packed[1:] >= packed[:-1])):
            return None
        return np.argsort(packed, kind="stable")
    order = np.lexsort(tuple(reversed(keys)))
    return None if bool(np.all(order[1:] > order[:-1])) else order


def get_empty_frame(name: str) -> pd.DataFrame:
    """Frame ``name`` with no rows and the schema's columns and dtypes."""
    return build_frame(name, {c: [] for c in FRAME_SCHEMAS[name].column_names})


def coerce_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (e.g. read back from Parquet) cast to the schema of ``name`` and re-sorted."""
    return build_frame(name, {c: frame[c] for c in frame.columns})


# --------------------------------------------------------------------------------------------
# Converting payload values (None stays None: the frame holds pd.NA).


def _to_int(value: object, where: str) -> int | None:
    if type(value) is int or value is None:
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"{where}: expected an integer, found {value!r}")


def _to_float(value: object, where: str) -> float | None:
    if type(value) is float or value is None:
        return value
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"{where}: expected a number, found {value!r}")


def _to_bool(value: object, where: str) -> bool | None:
    if type(value) is bool or value is None:
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    raise ValueError(f"{where}: expected a bool, found {value!r}")


def _to_str(value: object, where: str) -> str | None:
    if type(value) is str or value is None:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{where}: expected a string, found {value!r}")


def _to_tier(value: object, where: str) -> int | None:
    """A reputation tier as 0..5 from an int or the chain's name "Tl0".."Tl5"."""
    if isinstance(value, str) and value.startswith("Tl") and value[2:].isdigit():
        return int(value[2:])
    return _to_int(value, where)


CONVERTERS: dict[str, Callable[[object, str], object]] = {
    "Int16": _to_int,
    "Int32": _to_int,
    "Int64": _to_int,
    "Float64": _to_float,
    "boolean": _to_bool,
    "string": _to_str,
}
"""Payload value → Python value (None for missing) by nullable schema dtype."""


def compute_canonical_json(value: object) -> str:
    """Deterministic JSON text: sorted keys, no spaces, no NaN (for string columns)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def flatten_payload(payload: Mapping[str, object]) -> dict[str, object]:
    """Nested mappings flattened to dotted keys; lists and scalars are leaves."""
    flat: dict[str, object] = {}
    _flatten_into(flat, payload, "")
    return flat


def _flatten_into(flat: dict[str, object], payload: Mapping[str, object], prefix: str) -> None:
    for key, value in payload.items():
        path = f"{prefix}{key}"
        if isinstance(value, (dict, Mapping)):
            _flatten_into(flat, value, path + ".")
        elif path in flat:
            raise ValueError(f"snapshot payload: key {path!r} given twice")
        else:
            flat[path] = value


def get_snapshot_values(payload: Mapping[str, object]) -> list[object]:
    """The raw value of every SNAPSHOT_FIELDS path (None when absent), nested or dotted."""
    if any("." in key for key in payload):
        flat = flatten_payload(payload)
        return [flat.get(path) for path, _, _ in _SNAPSHOT_PLAN]
    values: list[object] = []
    for _, parts, _ in _SNAPSHOT_PLAN:
        value: object = payload
        for part in parts:
            value = value.get(part) if isinstance(value, (dict, Mapping)) else None
            if value is None:
                break
        values.append(value)
    return values


_SNAPSHOT_CONVERTERS = tuple(
    (_to_tier if column == "tier" else CONVERTERS[dtype], f"snapshot {path}")
    for column, dtype, path in SNAPSHOT_FIELDS
)


def compute_ledger_values(account: object, genesis_stake: int | None) -> tuple[object, ...]:
    """LEDGER_FIELDS of a ledger ``Account`` (all None when there is none); ``slashed`` =
    ``genesis_stake`` (0 when genesis does not list the account) − stake."""
    if account is None:
        return (None,) * len(LEDGER_FIELDS)
    reputation = account.reputation  # type: ignore[attr-defined]  # a ledger account
    stake = int(account.stake)  # type: ignore[attr-defined]  # a ledger account
    return (
        int(account.balance),  # type: ignore[attr-defined]  # a ledger account
        stake,
        max((genesis_stake or 0) - stake, 0),
        bool(reputation.zsi_validated),
        int(reputation.tier),
        float(reputation.score),
        int(reputation.timetoke.hours_online),
        int(reputation.consensus_success),
    )


def compute_sample_key(msg_id: int) -> float:
    """A message's position in [0, 1) for sampling: BLAKE2s of its id (stable everywhere)."""
    data = b"rppsim/message-sample/v1" + int(msg_id).to_bytes(8, "little", signed=True)
    return int.from_bytes(hashlib.blake2s(data, digest_size=8).digest(), "little") / 2.0**64


def compute_labels_text(labels: Mapping[str, object]) -> str:
    """A label set in Prometheus text form: ``{name="value",...}`` sorted by name, values
    escaped as in the text exposition format (backslash, double quote, newline); "{}" if none."""
    parts = []
    for name in sorted(labels):
        value = str(labels[name]).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{name}="{value}"')
    return "{" + ",".join(parts) + "}"


def _check_optional_index(value: int | None, where: str) -> None:
    """Refuse a negative node index or count: a missing one is None (null), never -1."""
    if value is not None and value < 0:
        raise ValueError(f"{where}: expected a non-negative value or None, found {value}")


def get_optional_int(value: Any) -> int | None:
    """A frame cell (e.g. of an ``Int32`` column) as an int, None when it is null."""
    if value is None or pd.isna(value):
        return None
    return int(value)


def compute_nodes_text(nodes: Iterable[int]) -> str:
    """The ``faults.nodes`` text: sorted distinct node indices joined by ","; "" for none."""
    return ",".join(str(n) for n in sorted({int(n) for n in nodes}))


# --------------------------------------------------------------------------------------------
# Accumulators.


SPILL_CELLS = 131_072
"""Cells (rows × columns) a recorder table holds in memory before it writes them to disk as
one row group: a wide table (``snapshots``) spills after fewer rows than a narrow one."""


def _is_other_type(a: object, b: object) -> bool:
    return type(a) is not type(b)


class _Spill:
    """A recorder's folder of spilled row groups (created at the first spill, removed at
    ``close`` or when the recorder goes): one Parquet file per row group, in recording order."""

    __slots__ = ("__weakref__", "count", "folder")

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.count = 0

    def write(self, columns: Mapping[str, list[object]]) -> Path | None:
        """Write ``columns`` as one row group; None (keep them in memory) when a column's
        values would not read back as the very same Python values (types included)."""
        try:
            table = pa.table({name: pa.array(values) for name, values in columns.items()})
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            return None
        for name, values in columns.items():
            back = table.column(name).to_pylist()
            if back != values or any(map(_is_other_type, back, values)):
                return None
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="rppsim-frames-"))
            weakref.finalize(self, shutil.rmtree, self.folder, True)  # a recorder never closed
        self.count += 1
        path = self.folder / f"{self.count:08d}.parquet"
        pq.write_table(table, path)
        return path

    def write_arrays(self, arrays: Mapping[str, np.ndarray]) -> Path:
        """Write numpy ``arrays`` (exact by construction) as one ``.npz`` chunk."""
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="rppsim-frames-"))
            weakref.finalize(self, shutil.rmtree, self.folder, True)
        self.count += 1
        path = self.folder / f"{self.count:08d}.npz"
        np.savez(path, allow_pickle=False, **arrays)
        return path

    def close(self) -> None:
        """Remove the folder and what is left in it."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


class _Table:
    """Per-column lists of one small frame; a row is appended in schema order. Every
    ``SPILL_CELLS`` cells (at least one row) go to disk as a row group (``_Spill``), so a long
    run's rows do not grow in memory; ``build`` reads them back in order, so the frame is the
    same."""

    __slots__ = ("chunks", "columns", "first", "limit", "name", "spill")

    def __init__(self, name: str, spill: _Spill | None = None) -> None:
        self.name = name
        self.columns: dict[str, list[object]] = {c: [] for c in FRAME_SCHEMAS[name].column_names}
        self.first = next(iter(self.columns.values()))
        self.limit = max(SPILL_CELLS // len(self.columns), 1)
        self.spill = spill
        self.chunks: list[Path | dict[str, list[object]]] = []
        """Earlier rows in recording order: a spilled row group's file, or the columns of a
        group that could not be spilled."""

    def add(self, *values: object) -> None:
        """Append one row given in schema order."""
        for column, value in zip(self.columns.values(), values, strict=True):
            column.append(value)
        if self.spill is not None and len(self.first) >= self.limit:
            self.flush()

    def flush(self) -> None:
        """Move the rows held in memory to disk (or to an in-memory chunk)."""
        assert self.spill is not None
        path = self.spill.write(self.columns)
        self.chunks.append(self.columns if path is None else path)
        self.columns = {c: [] for c in self.columns}
        self.first = next(iter(self.columns.values()))

    def get_columns(self) -> dict[str, list[object]]:
        """Every row recorded, column by column, in recording order."""
        if not self.chunks:
            return self.columns
        merged: dict[str, list[object]] = {c: [] for c in self.columns}
        for chunk in self.chunks:
            values = chunk if isinstance(chunk, dict) else pq.read_table(chunk).to_pydict()
            for name, column in merged.items():
                column.extend(values[name])
        for name, column in merged.items():
            column.extend(self.columns[name])
        return merged

    def build(self) -> pd.DataFrame:
        """The frame of the rows appended so far."""
        return build_frame(self.name, self.get_columns())


def _get_code(table: dict[str, int], name: str) -> int:
    """The code of ``name`` in a first-seen code table, adding it if new."""
    code = table.get(name)
    if code is None:
        code = table[name] = len(table)
    return code


def _to_categorical(table: dict[str, int], codes: np.ndarray) -> pd.Categorical:
    """Codes of a first-seen table as a categorical with sorted categories."""
    names = sorted(table)
    remap = np.empty(len(table), np.int32)
    for position, name in enumerate(names):
        remap[table[name]] = position
    categories = pd.Index(names, dtype=STR_DTYPE)
    return pd.Categorical.from_codes(remap[codes] if len(codes) else codes, categories=categories)


_FLOOD_META = 7  # msg_id, topic code, origin, sent_ms, bytes, delivered count, dropped count
_UNICAST = 9  # msg_id, topic code, origin, sent_ms, bytes, receiver, recv_ms, hops, reason code


MESSAGE_SPILL_ROWS = 262_144
"""Message rows the recorder holds in memory before it writes them to disk as one chunk."""
_MESSAGE_LISTS: dict[str, type] = {
    "receivers": np.int32,
    "recv_ms": np.int64,
    "hops": np.int16,
    "dropped": np.int32,
    "reason_codes": np.int16,
}
"""The per-row arrays of a flood and their dtypes."""


class _MessageChunks:
    """The ``messages`` frame as columnar chunks: one metadata row and a few arrays per flood.
    With a ``spill``, every ``MESSAGE_SPILL_ROWS`` rows go to disk, each list concatenated
    into one array (the frame concatenates them in the same order)."""

    def __init__(self, spill: _Spill | None = None) -> None:
        self.spill = spill
        self.held = 0
        self.saved: list[Path] = []
        self.topics: dict[str, int] = {}
        self.reasons: dict[str, int] = {"": 0}
        self.floods: list[tuple[int, ...]] = []
        self.unicasts: list[tuple[int, ...]] = []
        self.receivers: list[np.ndarray] = []
        self.recv_ms: list[np.ndarray] = []
        self.hops: list[np.ndarray] = []
        self.dropped: list[np.ndarray] = []
        self.reason_codes: list[np.ndarray] = []

    def get_reason_codes(
        self, count: int, reasons: object, names: Mapping[int, str] | None
    ) -> np.ndarray:
        """Drop reasons (one str, strs, or int codes with ``names``) as codes of our table."""
        if count == 0:
            return np.zeros(0, np.int16)
        if isinstance(reasons, str):
            labels, inverse = [reasons], np.zeros(count, np.intp)
        else:
            array = reasons if isinstance(reasons, np.ndarray) else np.array(reasons, object)
            if len(array) != count:
                raise ValueError(f"drop_reasons has {len(array)} entries for {count} dropped")
            if array.dtype.kind in "iu":
                if names is None:
                    raise ValueError("integer drop_reasons need reason_names")
                uniques, inverse = np.unique(array, return_inverse=True)
                labels = [names[int(u)] for u in uniques]
            else:
                inverse, uniques = pd.factorize(array.astype(object), use_na_sentinel=False)
                labels = list(uniques)
        if not all(isinstance(label, str) and label for label in labels):
            raise ValueError(f"a dropped receiver needs a non-empty string reason, got {labels}")
        lookup = np.array([_get_code(self.reasons, label) for label in labels], np.int16)
        return lookup[inverse]

    def _get_arrays(self) -> dict[str, np.ndarray]:
        """The rows held in memory: each list as one array, floods and unicasts as tables."""
        arrays: dict[str, np.ndarray] = {
            name: np.concatenate(getattr(self, name) or [np.zeros(0, dtype)]).astype(dtype)
            for name, dtype in _MESSAGE_LISTS.items()
        }
        arrays["floods"] = np.array(self.floods, np.int64).reshape(-1, _FLOOD_META)
        arrays["unicasts"] = np.array(self.unicasts, np.int64).reshape(-1, _UNICAST)
        return arrays

    def on_rows(self, count: int) -> None:
        """``count`` rows were added; past ``MESSAGE_SPILL_ROWS`` held, write them to disk."""
        self.held += count
        if self.spill is None or self.held < MESSAGE_SPILL_ROWS:
            return
        self.saved.append(self.spill.write_arrays(self._get_arrays()))
        for name in _MESSAGE_LISTS:
            setattr(self, name, [])
        self.floods, self.unicasts, self.held = [], [], 0

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        """Every flood's and unicast's metadata table, with the chunks written to disk put
        back in front of the rows held in memory (the lists then hold one array per chunk)."""
        chunks = []
        for path in self.saved:
            with np.load(path) as chunk:
                chunks.append({name: chunk[name] for name in chunk.files})
        chunks.append(self._get_arrays())
        for name in _MESSAGE_LISTS:
            setattr(self, name, [chunk[name] for chunk in chunks])
        self.saved = []
        meta = np.concatenate([chunk["floods"] for chunk in chunks])
        return meta, np.concatenate([chunk["unicasts"] for chunk in chunks])

    def build(self) -> dict[str, object]:
        """The frame's columns: every flood's deliveries, every flood's drops, then unicasts."""
        meta, uni = self._load()
        n_recv, n_drop = meta[:, 5], meta[:, 6]
        none = np.zeros(int(n_drop.sum()), np.int64)  # values under the dropped mask

        def spread(j: int, dtype: type) -> np.ndarray:
            """Per-message column ``j`` repeated over its delivered, then dropped rows."""
            column: np.ndarray = meta[:, j].astype(dtype)
            parts: tuple[np.ndarray, ...] = (
                np.repeat(column, n_recv),
                np.repeat(column, n_drop),
                uni[:, j].astype(dtype),
            )
            return np.concatenate(parts)

        def stack(chunks: list[np.ndarray], j: int, dtype: type) -> np.ndarray:
            """Per-row chunks followed by the unicasts' column ``j``."""
            return np.concatenate([*chunks, uni[:, j].astype(dtype)]).astype(dtype, copy=False)

        reasons = stack([np.zeros(int(n_recv.sum()), np.int16), *self.reason_codes], 8, np.int16)
        dropped = reasons != 0
        recv_ms = stack([*self.recv_ms, none], 6, np.int64)
        hops = stack([*self.hops, none.astype(np.int16)], 7, np.int16)
        return {
            "msg_id": spread(0, np.int64),
            "topic": _to_categorical(self.topics, spread(1, np.int32)),
            "origin": spread(2, np.int32),
            "receiver": stack([*self.receivers, *self.dropped], 5, np.int32),
            "sent_ms": spread(3, np.int64),
            "recv_ms": pd.arrays.IntegerArray(recv_ms, dropped.copy()),
            "hops": pd.arrays.IntegerArray(hops, dropped.copy()),
            "bytes": spread(4, np.int32),
            "dropped": dropped,
            "drop_reason": _to_categorical(self.reasons, reasons),
        }


# --------------------------------------------------------------------------------------------
# The recorder.

RECORDER_KEYS = (
    "recorder.message_sample_rate",
    "recorder.messages",
    "recorder.messages_delivered_seen",
    "recorder.messages_dropped_seen",
)
"""``run_info`` keys the recorder writes itself: the messages mode ("all", "sampled", "off"),
the sample rate, and every delivery and drop passed to it, recorded or not."""


def _copy_array(values: object, dtype: type, name: str, count: int | None = None) -> np.ndarray:
    """A private 1-d copy of ``values`` as ``dtype``, checked for length ``count``."""
    array: np.ndarray = np.array(values, dtype=dtype, copy=True)
    if array.ndim != 1 or (count is not None and len(array) != count):
        raise ValueError(f"{name}: expected a 1-d array of length {count}, found {array.shape}")
    return array


class RunRecorder:
    """Collects a run's telemetry as columnar buffers; ``frames()`` builds the frames once.

    With ``spill`` (the default) each table writes every ``SPILL_CELLS`` cells to a temporary
    folder as a Parquet row group (``messages``: every ``MESSAGE_SPILL_ROWS`` rows as numpy
    chunks) and ``frames()`` reads them back, one table at a time: a long run's rows do not
    stay in memory while it runs, and the frames are the ones an unspilled recorder builds."""

    def __init__(
        self,
        record_messages: bool = True,
        message_sample_rate: float = 1.0,
        spill: bool = True,
    ) -> None:
        if not 0.0 <= message_sample_rate <= 1.0:
            raise ValueError(f"message_sample_rate must be in [0, 1], got {message_sample_rate}")
        rate = float(message_sample_rate) if record_messages else 0.0
        self.message_sample_rate = rate
        self.messages_mode = "off" if rate == 0.0 else ("all" if rate == 1.0 else "sampled")
        skip = ("messages", "run_info")
        self._spill = _Spill() if spill else None
        self._tables = {
            name: _Table(name, self._spill) for name in FRAME_NAMES if name not in skip
        }
        self._messages = _MessageChunks(self._spill)
        self._run_info: dict[str, str] = {}
        self._blocks_seen: set[tuple[int, str]] = set()
        self._delivered_seen = 0
        self._dropped_seen = 0
        self._frames: dict[str, pd.DataFrame] | None = None

    def _check_open(self) -> None:
        if self._frames is not None:
            raise RuntimeError("RunRecorder.frames() was called: the recorder is closed")

    def is_message_kept(self, msg_id: int) -> bool:
        """Whether the messages mode keeps message ``msg_id`` (sampling by BLAKE2s of the id)."""
        if self.messages_mode != "sampled":
            return self.messages_mode == "all"
        return compute_sample_key(msg_id) < self.message_sample_rate

    # -- messages ------------------------------------------------------------------------------

    def record_flood(
        self,
        msg_id: int,
        topic: str,
        origin: int,
        sent_ms: int,
        size_bytes: int,
        receivers: object,
        recv_ms: object,
        hops: object,
        dropped_receivers: object = None,
        drop_reasons: object = None,
        reason_names: Mapping[int, str] | None = None,
    ) -> None:
        """One message's deliveries (arrays of equal length) and drops with their reasons.

        ``drop_reasons`` is one string for all drops, a sequence of strings, or a numpy array of
        integer codes named by ``reason_names`` (e.g. ``{int(r): r.name.lower() for r in
        DropReason}``). Arrays are copied, so the caller may reuse its buffers.
        """
        self._check_open()
        count = len(receivers)  # type: ignore[arg-type]  # a sequence
        n_drop = 0 if dropped_receivers is None else len(dropped_receivers)  # type: ignore[arg-type]  # a sequence
        if n_drop and drop_reasons is None:
            raise ValueError("dropped_receivers need drop_reasons")
        self._delivered_seen += count
        self._dropped_seen += n_drop
        if not self.is_message_kept(msg_id):
            return
        chunks = self._messages
        chunks.receivers.append(_copy_array(receivers, np.int32, "receivers"))
        chunks.recv_ms.append(_copy_array(recv_ms, np.int64, "recv_ms", count))
        chunks.hops.append(_copy_array(hops, np.int16, "hops", count))
        dropped = [] if dropped_receivers is None else dropped_receivers
        chunks.dropped.append(_copy_array(dropped, np.int32, "dropped_receivers", n_drop))
        codes = chunks.get_reason_codes(n_drop, drop_reasons, reason_names)
        chunks.reason_codes.append(codes)
        topic_code = _get_code(chunks.topics, topic)
        chunks.floods.append((msg_id, topic_code, origin, sent_ms, size_bytes, count, n_drop))
        chunks.on_rows(count + n_drop)

    def record_unicast(
        self,
        msg_id: int,
        topic: str,
        origin: int,
        sent_ms: int,
        size_bytes: int,
        receiver: int,
        recv_ms: int,
        hops: int,
        drop_reason: str = "",
    ) -> None:
        """One point-to-point message; a non-empty ``drop_reason`` records it as dropped (its
        ``recv_ms`` and ``hops`` are then null)."""
        self._check_open()
        if drop_reason:
            self._dropped_seen += 1
            recv_ms = hops = 0  # masked: the row's recv_ms and hops are null
        else:
            self._delivered_seen += 1
        if not self.is_message_kept(msg_id):
            return
        chunks = self._messages
        reason = _get_code(chunks.reasons, drop_reason)
        topic_code = _get_code(chunks.topics, topic)
        row = (msg_id, topic_code, origin, sent_ms, size_bytes, receiver, recv_ms, hops, reason)
        chunks.unicasts.append(row)
        chunks.on_rows(1)

    # -- chain records -------------------------------------------------------------------------

    def record_node(
        self,
        node: int,
        address: str,
        role: str = "validator",
        region: str = "",
        *,
        byzantine: bool = False,
    ) -> None:
        """A node of the run: index, chain address, role, region, and whether it is byzantine."""
        self._check_open()
        self._tables["nodes"].add(node, address, role, region, bool(byzantine))

    def record_block(
        self,
        height: int,
        block_hash: str,
        proposer: int | None,
        round: int,
        proposed_ms: int,
        *,
        previous_hash: str = "",
        tx_count: int = 0,
        identity_count: int = 0,
        uptime_count: int = 0,
        consensus_proof: bool = False,
        proof_system: str = "",
        proof_bytes_total: int = 0,
        state_root: str = "",
        recursive_commitment: str = "",
        recursive_previous_commitment: str | None = None,
    ) -> None:
        """A committed block (docs/operations.md#guardrails); the same (height, hash) again is
        ignored.
        ``proposer`` is None when the proposer's address is no node of the run."""
        self._check_open()
        _check_optional_index(proposer, "block proposer")
        if (height, block_hash) in self._blocks_seen:
            return
        self._blocks_seen.add((height, block_hash))
        self._tables["blocks"].add(
            height, block_hash, previous_hash, proposer, round, proposed_ms, tx_count,
            identity_count, uptime_count, consensus_proof, proof_system, proof_bytes_total,
            state_root, recursive_commitment, recursive_previous_commitment or "",
        )  # fmt: skip

    def record_block_finalized(
        self, height: int, node: int, block_hash: str, finalized_ms: int
    ) -> None:
        """Node ``node`` finalized block ``block_hash`` at ``height``."""
        self._check_open()
        self._tables["block_finalized"].add(height, node, block_hash, finalized_ms)

    def record_electorate(
        self,
        height: int,
        members: Sequence[tuple[int | None, str, int]],
        total_power: int,
        quorum: int,
    ) -> None:
        """The validator set counting the votes of ``height``: (node, address, power), node
        None for an address that is no node of the run."""
        self._check_open()
        table = self._tables["electorates"]
        for member, address, power in members:
            _check_optional_index(member, "electorate member")
            table.add(height, member, address, str(power), str(total_power), str(quorum))

    def record_evidence(
        self,
        height: int,
        block_hash: str,
        offender: int | None,
        offense_height: int,
        round: int,
        kind: str,
    ) -> None:
        """Evidence carried by the block ``block_hash`` finalized at ``height``; ``offender``
        None when the offending address is no node of the run."""
        self._check_open()
        _check_optional_index(offender, "evidence offender")
        self._tables["evidence"].add(height, block_hash, offender, offense_height, round, kind)

    def record_proof(
        self,
        height: int,
        circuit: str,
        system: str,
        size_bytes: int,
        verified: bool,
        *,
        index: int = 0,
        error: str | None = None,
    ) -> None:
        """A proof of block ``height`` (``index`` within its circuit); ``error`` if rejected
        (None or "" for no error: the column is null)."""
        self._check_open()
        row = (height, circuit, index, system, size_bytes, verified, error or None)
        self._tables["proofs"].add(*row)

    def record_vote(
        self,
        height: int,
        round: int,
        kind: str,
        voter: int,
        block_hash: str,
        sent_ms: int,
        receivers: int | None = None,
    ) -> None:
        """A vote sent (``kind`` prevote or precommit) and how many nodes it reached;
        ``receivers`` None when not counted."""
        self._check_open()
        if kind not in VOTE_KINDS:
            raise ValueError(f"vote kind must be one of {VOTE_KINDS}, got {kind!r}")
        _check_optional_index(receivers, "vote receivers")
        self._tables["votes"].add(height, round, kind, voter, block_hash, sent_ms, receivers)

    def record_vrf_round(
        self, node: int, now_ms: int, height: int, round: int, metrics: Mapping[str, object]
    ) -> None:
        """A node's VrfSelectionMetrics after a round (docs/operations.md#node-status,
        docs/operations.md#vrf-telemetry); its
        ``rejections_by_reason`` go to ``vrf_rejections``, one row per reason.

        ``rejection_rate`` = rejected_candidates / verified_submissions (0 when none verified)
        when the metrics do not carry it (docs/operations.md#vrf-telemetry).
        """
        self._check_open()
        fields = dict(metrics)
        if fields.get("rejection_rate") is None:
            verified = _to_int(fields.get("verified_submissions"), "vrf verified_submissions")
            rejected = _to_int(fields.get("rejected_candidates"), "vrf rejected_candidates")
            fields["rejection_rate"] = (rejected or 0) / verified if verified else 0.0
        values = [CONVERTERS[d](fields.get(f), f"vrf {f}") for f, d in VRF_FIELDS]
        reasons = fields.get("rejections_by_reason") or {}
        if not isinstance(reasons, Mapping):
            raise ValueError(f"vrf rejections_by_reason: expected a mapping, found {reasons!r}")
        self._tables["vrf_rounds"].add(node, now_ms, height, round, *values)
        table = self._tables["vrf_rejections"]
        for reason in sorted(str(k) for k in reasons):
            count = _to_int(reasons[reason], f"vrf rejections_by_reason[{reason!r}]")
            table.add(node, height, round, reason, count)

    def record_snapshot(
        self,
        node: int,
        now_ms: int,
        payload: Mapping[str, object],
        *,
        emit_ok: bool = True,
        emit_error: str | None = None,
    ) -> None:
        """A telemetry sample (docs/operations.md#the-telemetry-loop): nested or dotted payload →
        SNAPSHOT_FIELDS.

        Paths outside SNAPSHOT_FIELDS are not kept: SNAPSHOT_UNMAPPED says where each lives.
        """
        self._check_open()
        values: list[object] = [node, now_ms, emit_ok, emit_error or None]
        values += [
            convert(value, where)
            for value, (convert, where) in zip(
                get_snapshot_values(payload), _SNAPSHOT_CONVERTERS, strict=True
            )
        ]
        self._tables["snapshots"].add(*values)

    def record_ledger(
        self, node: int, now_ms: int, address: str, account: object, genesis_stake: int | None
    ) -> None:
        """Node ``node``'s own ``Account`` in its own ledger (None if it has none) at
        ``now_ms``; ``genesis_stake`` is the account's stake at genesis, if listed."""
        self._check_open()
        values = compute_ledger_values(account, genesis_stake)
        self._tables["ledger"].add(node, now_ms, address, *values)

    def record_rejections(self, node: int, now_ms: int, counts: Mapping[str, int]) -> None:
        """A node's cumulative invalid-input counts by reason at ``now_ms``
        (docs/architecture.md#the-node-is-sans-io)."""
        self._check_open()
        for reason in sorted(counts):
            if counts[reason]:
                self._tables["rejections"].add(node, now_ms, reason, counts[reason])

    # -- harness records -----------------------------------------------------------------------

    def record_fault(
        self, at_ms: int, kind: str, phase: str, nodes: Iterable[int] = (), detail: str = ""
    ) -> None:
        """A fault transition; ``nodes`` empty when it is not node-specific."""
        self._check_open()
        if phase not in FAULT_PHASES:
            raise ValueError(f"fault phase must be one of {FAULT_PHASES}, got {phase!r}")
        self._tables["faults"].add(at_ms, kind, phase, compute_nodes_text(nodes), detail)

    def record_alert(
        self,
        name: str,
        severity: str,
        start_ms: int,
        end_ms: int | None = None,
        node: int | None = None,
        detail: str = "",
        labels: str = "{}",
    ) -> None:
        """An alert that fired at ``start_ms``: ``end_ms`` None while it still fires at the end
        of the run, ``node`` None for a fleet-wide alert, ``labels`` its label set in
        Prometheus text form (``compute_labels_text``)."""
        self._check_open()
        _check_optional_index(node, "alert node")
        if end_ms is not None and end_ms < start_ms:
            raise ValueError(f"alert {name!r}: end_ms {end_ms} before start_ms {start_ms}")
        if not (isinstance(labels, str) and labels.startswith("{") and labels.endswith("}")):
            raise ValueError(f"alert {name!r}: expected labels as text '{{...}}', got {labels!r}")
        self._tables["alerts"].add(name, severity, node, start_ms, end_ms, labels, detail)

    def record_run_info(self, key: str, value: object) -> None:
        """A run-level fact (seed, prover mode, ...); non-strings stored as canonical JSON."""
        self._check_open()
        if key.startswith("recorder."):
            raise ValueError(f"run_info key {key!r}: the 'recorder.' prefix is reserved")
        text = value if isinstance(value, str) else compute_canonical_json(value)
        if self._run_info.get(key, text) != text:
            raise ValueError(f"run_info key {key!r} recorded twice with different values")
        self._run_info[key] = text

    # -- result --------------------------------------------------------------------------------

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every frame by name (built on the first call, then cached; recording closes)."""
        if self._frames is None:
            frames = {}
            for name in list(self._tables):  # one table's rows in memory at a time
                frames[name] = self._tables.pop(name).build()
            frames["messages"] = build_frame("messages", self._messages.build())
            if self._spill is not None:
                self._spill.close()
            info = dict(self._run_info)
            info["recorder.messages"] = self.messages_mode
            info["recorder.message_sample_rate"] = repr(self.message_sample_rate)
            info["recorder.messages_delivered_seen"] = str(self._delivered_seen)
            info["recorder.messages_dropped_seen"] = str(self._dropped_seen)
            frames["run_info"] = build_frame(
                "run_info", {"key": list(info), "value": list(info.values())}
            )
            self._frames = {name: frames[name] for name in FRAME_NAMES}
            self._messages = _MessageChunks()
            self._tables = {}
        return dict(self._frames)
