"""Live telemetry as frames: ``rppsim check TELEMETRY.jsonl`` judges the snapshots a
deployment's nodes emitted with the checkers and guardrails that judge a run folder.

The file holds one JSON object per line (UTF-8; blank lines are skipped), in any order:

- A collector line: ``{"node": 3, "time_ms": 15000, "snapshot": {...}}``. ``snapshot`` is the
  node's ``/validator/telemetry`` payload as the node emits it, nested
  (``rppsim.node.status.compute_telemetry_snapshot``; the telemetry loop POSTs it as canonical
  JSON), ``node`` the node's index in the deployment (an integer ≥ 0) and ``time_ms`` when it
  was taken (integer milliseconds ≥ 0, one origin for the whole file). The payload is wrapped,
  not extended: it has a ``node`` section of its own.
- A log line of the node's log-only mode: ``{"target": "telemetry", "fields": {"node": 3,
  "time_ms": 15000, "snapshot": {...}}, ...}``, the JSON layout of a tracing event (its fields
  under ``fields``). ``node`` and ``time_ms`` may instead stand at the top level, next to
  ``fields``; the snapshot may be JSON text (a field logged with its Display form). Lines of
  another ``target`` are skipped; other keys (timestamp, level, message, spans) are ignored.

Each (node, time_ms) appears once. A bad line is a ``TelemetryFileError`` naming the file and
line: ``FILE:LINE: expected ..., found ...``.

The frames are those the snapshots determine, with the schemas and dtypes of a simulated run
(filled by ``RunRecorder``, as the kernel fills them): ``snapshots`` (``emit_ok`` True: the
collector received them), ``rejections`` (the payload's cumulative ``rejections``),
``ledger`` (``node.reputation``: balance, stake, tier, score, timetoke hours, consensus
successes; ``slashed`` and ``zsi_validated`` are not in the payload and are null),
``vrf_rounds`` and ``vrf_rejections`` (``node.vrf_metrics`` at each new ``node.tip``: the
tip's height and round; rounds committed between two samples are not seen), ``nodes`` (the
payload's ``node.address``; role ``validator`` for a node staked in its first snapshot, else
``full``; nobody is known to be byzantine) and ``run_info`` (``source`` =
``live-telemetry``). A frame is present only when some payload carries its section; the
frames a live source does not have (blocks, votes, messages, proofs, electorates, faults,
...) are absent, and the verdicts that need them are not applicable
(``rppsim.checks.needs``).

Judging also needs a node profile and the facts a scenario gives a run folder:
``compute_live_facts`` takes the shipped profile of the release channel the snapshots
advertise (or a given one), no threshold overrides, its block time, and marks the facts live
telemetry does not carry as unknown.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby, pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rppsim.errors import UserError, describe
from rppsim.node.config import ReleaseChannel, load_config
from rppsim.node.rules import Rules
from rppsim.node.status import NO_ACCOUNT_REPUTATION
from rppsim.telemetry.frames import (
    CONVERTERS,
    RunRecorder,
    build_frame,
    compute_canonical_json,
)
from rppsim.telemetry.runfolder import get_run_info

__all__ = [
    "LIVE_SOURCE",
    "SHIPPED_PROFILES",
    "TelemetryFileError",
    "TelemetryRecord",
    "build_telemetry_frames",
    "compute_advertised_channel",
    "compute_live_facts",
    "compute_profile_facts",
    "get_judging_facts",
    "is_live_source",
    "parse_telemetry_line",
    "read_telemetry_jsonl",
    "read_telemetry_records",
    "replace_run_info",
    "write_telemetry_jsonl",
]

LIVE_SOURCE = "live-telemetry"
"""``run_info`` ``source`` of frames read from telemetry JSONL."""
SHIPPED_PROFILES = Path(__file__).resolve().parents[2] / "node" / "profiles"
"""The node profiles shipped with rppsim, one per release channel (``<channel>.toml``)."""
UNKNOWN_FACTS = ("allow_empty_blocks", "byzantine", "has_work", "round_timeout_ms")
"""Facts of a run that live telemetry does not carry; the context holds defaults for them
(``CheckContext.unknown``), and every verdict reading them needs frames live telemetry lacks."""
_VRF_FRAMES = ("vrf_rounds", "vrf_rejections")


class TelemetryFileError(ValueError):
    """A bad telemetry JSONL file: ``FILE:LINE: expected ..., found ...`` (no line when the
    problem is the whole file)."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        super().__init__(self.path if line is None else f"{self.path}:{line}", problem)

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class TelemetryRecord:
    """One snapshot of a telemetry file: node index, time, payload, and its line."""

    node: int
    time_ms: int
    snapshot: Mapping[str, Any]
    line: int


# --------------------------------------------------------------------------------------------
# Reading lines.


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _get_index(event: Mapping[str, Any], key: str, what: str) -> int:
    """``event[key]`` as an integer ≥ 0, or a ``ValueError`` saying what was found."""
    if key not in event:
        raise ValueError(f'expected {what} (an integer ≥ 0) under "{key}", found no such key')
    value = event[key]
    if type(value) is not int or value < 0:
        hint = ' (wrap the payload under "snapshot")' if isinstance(value, dict) else ""
        raise ValueError(f"expected {key} = {what} (an integer ≥ 0), found {describe(value)}{hint}")
    return value


def _get_snapshot(event: Mapping[str, Any]) -> dict[str, Any]:
    """The payload under ``snapshot``: an object, or JSON text of one."""
    if "snapshot" not in event:
        raise ValueError('expected the telemetry payload under "snapshot", found no such key')
    snapshot = event["snapshot"]
    if isinstance(snapshot, str):
        try:
            snapshot = json.loads(snapshot, parse_constant=_refuse_constant)
        except ValueError as error:
            problem = f"expected snapshot as JSON text, found invalid JSON ({error})"
            raise ValueError(problem) from None
    if not isinstance(snapshot, dict):
        raise ValueError(f"expected snapshot = a JSON object, found {describe(snapshot)}")
    return snapshot


def parse_telemetry_line(text: str, line: int) -> TelemetryRecord | None:
    """The record of one line (None for a log line of another target); a ``ValueError``
    "expected ..., found ..." when the line is bad."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise ValueError(f"expected a JSON object, found invalid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, found {describe(value)}")
    event: dict[str, Any] = value
    if "target" in value:
        if value["target"] != "telemetry":
            return None
        fields = value.get("fields")
        if not isinstance(fields, dict):
            raise ValueError(f"expected a log line's fields object, found {describe(fields)}")
        event = {**{k: value[k] for k in ("node", "time_ms") if k in value}, **fields}
    node = _get_index(event, "node", "the node index")
    time_ms = _get_index(event, "time_ms", "the sample time in ms")
    return TelemetryRecord(node, time_ms, _get_snapshot(event), line)


def read_telemetry_records(path: str | os.PathLike[str]) -> list[TelemetryRecord]:
    """Every snapshot record of a telemetry JSONL file, by (node, time_ms); a bad line, a
    (node, time_ms) given twice or a file without snapshots is a ``TelemetryFileError``."""
    records = []
    try:
        with Path(path).open(encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    record = parse_telemetry_line(text, number)
                except ValueError as error:
                    raise TelemetryFileError(path, number, str(error)) from None
                if record is not None:
                    records.append(record)
    except (OSError, UnicodeDecodeError) as error:
        problem = f"expected a readable UTF-8 file, found {error}"
        raise TelemetryFileError(path, None, problem) from None
    if not records:
        raise TelemetryFileError(path, None, "expected telemetry snapshot lines, found none")
    records.sort(key=lambda r: (r.node, r.time_ms, r.line))
    for before, after in pairwise(records):
        if (before.node, before.time_ms) == (after.node, after.time_ms):
            problem = (
                f"expected one snapshot per (node, time_ms), found node {after.node} at"
                f" {after.time_ms} ms again (first on line {before.line})"
            )
            raise TelemetryFileError(path, after.line, problem)
    return records


# --------------------------------------------------------------------------------------------
# Building frames.


def _get_section(snapshot: Mapping[str, Any], *keys: str) -> Any:
    """The value at a key path of a nested payload, None where a level is missing."""
    value: Any = snapshot
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _get_address(records: list[TelemetryRecord], path: str) -> str:
    """A node's ``node.address``: the same in every snapshot that reports it ("" if none)."""
    address: str | None = None
    first = 0
    for record in records:
        found = _get_section(record.snapshot, "node", "address")
        if found is None:
            continue
        if not isinstance(found, str):
            expected = "snapshot node.address = a string"
            raise TelemetryFileError(path, record.line, f"expected {expected}, found {found!r}")
        if address is not None and found != address:
            problem = (
                f"expected node {record.node}'s address {address!r} (line {first}), found {found!r}"
            )
            raise TelemetryFileError(path, record.line, problem)
        address, first = found, first or record.line
    return address or ""


def _is_staked(record: TelemetryRecord) -> bool:
    """Whether the snapshot reports a positive ``node.reputation.stake``."""
    stake = _get_section(record.snapshot, "node", "reputation", "stake")
    value = CONVERTERS["Int64"](stake, "snapshot node.reputation.stake")
    return bool(value and value > 0)  # type: ignore[operator]  # an int or None


def _get_rejections(record: TelemetryRecord) -> dict[str, int] | None:
    """The payload's cumulative ``rejections`` (reason → count ≥ 0), None when absent."""
    counts = record.snapshot.get("rejections")
    if counts is None:
        return None
    if not isinstance(counts, dict):
        raise ValueError(f"expected snapshot rejections = an object, found {describe(counts)}")
    for reason, count in counts.items():
        if type(count) is not int or count < 0:
            found = describe(count)
            raise ValueError(f"expected snapshot rejections[{reason!r}] ≥ 0, found {found}")
    return counts


def _record_vrf_round(
    recorder: RunRecorder, record: TelemetryRecord, seen: set[tuple[int, int]]
) -> bool:
    """A ``vrf_rounds`` row at the first snapshot showing a new tip; whether the payload
    carries ``node.vrf_metrics`` at all."""
    metrics = _get_section(record.snapshot, "node", "vrf_metrics")
    if metrics is None:
        return False
    if not isinstance(metrics, dict):
        raise ValueError(f"expected snapshot node.vrf_metrics = an object, found {metrics!r}")
    tip = _get_section(record.snapshot, "node", "tip")
    if tip is None:
        return True
    height, round_ = _get_section(tip, "height"), _get_section(tip, "round")
    if type(height) is not int or type(round_) is not int:
        found = f"height {height!r}, round {round_!r}"
        raise ValueError(f"expected snapshot node.tip with integer height and round, found {found}")
    if (height, round_) not in seen:
        seen.add((height, round_))
        recorder.record_vrf_round(record.node, record.time_ms, height, round_, metrics)
    return True


@dataclass(slots=True)
class _Ledger:
    """Rows of the ``ledger`` frame: the snapshot each is taken from, and the payload values
    the snapshots frame does not hold."""

    positions: list[int]
    addresses: list[str]
    balances: list[object]
    stakes: list[object]
    accounts: list[bool]

    def add(self, position: int, address: str, record: TelemetryRecord) -> bool:
        """The row of one snapshot; whether its payload carries ``node.reputation``."""
        reputation = _get_section(record.snapshot, "node", "reputation")
        if reputation is None:
            return False
        if not isinstance(reputation, dict):
            found = describe(reputation)
            raise ValueError(f"expected snapshot node.reputation = an object, found {found}")
        has_account = reputation != NO_ACCOUNT_REPUTATION
        convert = CONVERTERS["Int64"]
        self.positions.append(position)
        self.addresses.append(address)
        self.balances.append(convert(reputation.get("balance"), "snapshot reputation.balance"))
        self.stakes.append(convert(reputation.get("stake"), "snapshot reputation.stake"))
        self.accounts.append(has_account)
        return True

    def build(self, snapshots: pd.DataFrame) -> pd.DataFrame:
        """The frame; tier, score, hours and successes as the snapshots frame converted them
        (its rows are the records in order), null where the node has no account."""
        take = np.array(self.positions, np.int64)
        own = np.array(self.accounts, bool)

        def column(name: str) -> list[object]:
            values = snapshots[name].array[take] if len(take) else []
            return [v if has else None for v, has in zip(values, own, strict=True)]

        none = [None] * len(take)
        return build_frame(
            "ledger",
            {
                "node": snapshots["node"].to_numpy()[take],
                "now_ms": snapshots["now_ms"].to_numpy()[take],
                "address": self.addresses,
                "balance": [v if has else None for v, has in zip(self.balances, own, strict=True)],
                "stake": [v if has else None for v, has in zip(self.stakes, own, strict=True)],
                "slashed": none,
                "zsi_validated": none,
                "tier": column("tier"),
                "score": column("reputation_score"),
                "timetoke_hours": column("timetoke_hours"),
                "consensus_success": column("consensus_success"),
            },
        )


def build_telemetry_frames(
    records: list[TelemetryRecord], path: str | os.PathLike[str]
) -> dict[str, pd.DataFrame]:
    """The frames of ``records`` (sorted by (node, time_ms), each key once) read from
    ``path``; a payload value of the wrong type is a ``TelemetryFileError`` at its line."""
    recorder = RunRecorder(record_messages=False)
    ledger = _Ledger([], [], [], [], [])
    present = {"snapshots", "nodes", "run_info"}
    position = 0
    for node, group in groupby(records, key=lambda r: r.node):
        rows = list(group)
        address = _get_address(rows, str(path))
        seen: set[tuple[int, int]] = set()
        try:
            role = "validator" if _is_staked(rows[0]) else "full"
        except ValueError as error:
            raise TelemetryFileError(path, rows[0].line, str(error)) from None
        recorder.record_node(node, address, role)
        for record in rows:
            try:
                recorder.record_snapshot(node, record.time_ms, record.snapshot, emit_ok=True)
                counts = _get_rejections(record)
                if counts is not None:
                    recorder.record_rejections(node, record.time_ms, counts)
                    present.add("rejections")
                if ledger.add(position, address, record):
                    present.add("ledger")
                if _record_vrf_round(recorder, record, seen):
                    present.update(_VRF_FRAMES)
            except ValueError as error:
                raise TelemetryFileError(path, record.line, str(error)) from None
            position += 1
    try:
        built = recorder.frames()
        frames = {name: built[name] for name in sorted(present - {"ledger", "run_info"})}
        if "ledger" in present:
            frames["ledger"] = ledger.build(built["snapshots"])
    except ValueError as error:
        raise TelemetryFileError(path, None, str(error)) from None
    times = [r.time_ms for r in records]
    info = {
        "source": LIVE_SOURCE,
        "telemetry_file": str(path),
        "first_ms": str(min(times)),
        "last_ms": str(max(times)),
        "duration_ms": str(max(times) - min(times)),
    }
    frames["run_info"] = build_frame("run_info", {"key": list(info), "value": list(info.values())})
    return dict(sorted(frames.items()))


def read_telemetry_jsonl(path: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """The frames a telemetry JSONL file determines (module docstring); lines in any order."""
    return build_telemetry_frames(read_telemetry_records(path), path)


def write_telemetry_jsonl(
    records: Iterable[tuple[int, int, Mapping[str, Any] | bytes]], path: str | os.PathLike[str]
) -> Path:
    """Write collector lines (node, time_ms, snapshot) in the given order; a snapshot given as
    the bytes the node emitted (canonical JSON) is written unchanged."""
    target = Path(path)
    with target.open("w", encoding="utf-8") as handle:
        for node, time_ms, snapshot in records:
            text = (
                snapshot.decode("utf-8")
                if isinstance(snapshot, bytes)
                else compute_canonical_json(snapshot)
            )
            handle.write(f'{{"node":{int(node)},"snapshot":{text},"time_ms":{int(time_ms)}}}\n')
    return target


# --------------------------------------------------------------------------------------------
# The facts to judge by.


def is_live_source(facts: Mapping[str, str]) -> bool:
    """Whether ``run_info`` facts say the frames come from live telemetry."""
    return facts.get("source") == LIVE_SOURCE


def compute_advertised_channel(snapshots: pd.DataFrame) -> str | None:
    """The release channel most snapshots advertise (a tie: the earlier stage), or None."""
    counts = snapshots["release_channel"].dropna().astype(str).value_counts()
    if counts.empty:
        return None
    order = [c.value for c in ReleaseChannel]
    best = max(int(n) for n in counts.to_numpy())
    tied = [str(c) for c, n in counts.items() if int(n) == best]
    return min(tied, key=lambda c: (order.index(c) if c in order else len(order), c))


def _get_profile_path(facts: Mapping[str, str], snapshots: pd.DataFrame) -> Path:
    """The shipped profile of the advertised channel (a ``UserError`` naming why none)."""
    where = facts.get("telemetry_file", "telemetry")
    channel = compute_advertised_channel(snapshots)
    channels = ", ".join(c.value for c in ReleaseChannel)
    if channel is None:
        expected = "snapshots advertising rollout.release_channel (or --profile FILE)"
        raise UserError(where, "rollout.release_channel", expected, "none")
    if channel not in [c.value for c in ReleaseChannel]:
        expected = f"a channel with a shipped profile ({channels}; or --profile FILE)"
        raise UserError(where, "rollout.release_channel", expected, repr(channel))
    path = SHIPPED_PROFILES / f"{channel}.toml"
    if not path.is_file():
        expected = f"the shipped {channel} profile (or --profile FILE)"
        raise UserError(str(path), "", expected, "no such file")
    return path


def compute_profile_facts(path: str | os.PathLike[str]) -> dict[str, str]:
    """``run_info`` ``profile`` (the node profile at ``path`` as canonical JSON, a bad one a
    ``UserError``) and ``profile_path``."""
    config, _ = load_config(Path(path))
    return {"profile": compute_canonical_json(config.as_dict()), "profile_path": str(path)}


def compute_live_facts(
    frames: Mapping[str, pd.DataFrame], profile_path: str | os.PathLike[str] | None = None
) -> dict[str, str]:
    """The ``run_info`` facts to judge live telemetry by: the profile (``profile_path``, else
    the shipped profile of the channel the snapshots advertise) as canonical JSON, no
    guardrail overrides, its block time, and defaults for the facts live telemetry does not
    carry, listed as ``unknown_facts``. A bad profile is a ``UserError``."""
    path = profile_path or _get_profile_path(get_run_info(frames), frames["snapshots"])
    profile = compute_profile_facts(path)
    rules = Rules()
    return {
        **profile,
        "guardrail_overrides": "{}",
        "block_time_ms": str(json.loads(profile["profile"])["block_time_ms"]),
        "round_timeout_ms": str(rules.round_timeout_ms),
        "allow_empty_blocks": str(rules.allow_empty_blocks).lower(),
        "has_work": "false",
        "unknown_facts": ",".join(UNKNOWN_FACTS),
    }


def replace_run_info(
    frames: Mapping[str, pd.DataFrame], facts: Mapping[str, str]
) -> dict[str, pd.DataFrame]:
    """``frames`` with ``facts`` set in ``run_info`` (replacing keys it holds)."""
    merged = {**get_run_info(frames), **facts}
    columns = {"key": list(merged), "value": list(merged.values())}
    return {**frames, "run_info": build_frame("run_info", columns)}


def get_judging_facts(frames: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """The ``run_info`` facts verdicts are judged by: as recorded, and for live telemetry
    without a profile completed by ``compute_live_facts`` (the advertised channel's)."""
    facts = get_run_info(frames)
    if is_live_source(facts) and "profile" not in facts:
        facts.update(compute_live_facts(frames))
    return facts
