"""Liveness: after the last fault ends, every running honest node finalizes a new height.

The window is W = 3 × (block time + round timeout): time for a round that times out, a round
that commits, and a block interval. The last fault end is the latest ``end`` or ``instant``
row of the ``faults`` frame (0 without faults). The verdict does not apply when

- a fault never ends (a ``start`` row without its ``end``, e.g. a crash without restart),
- the run ends before last end + W,
- nothing is submitted and empty blocks are off (``Rules.allow_empty_blocks``),
- the honest validators running at the last end hold ≤ 2/3 of the power of the electorate
  deciding the next height then (the ``electorates`` row of the highest honest finalized
  height + 1, else the latest one below; equal powers over the genesis validators when the
  run recorded no electorate).

Otherwise every honest node running at the end of the run must finalize a block at
last end < t ≤ last end + W; the lowest such node that does not fails, at last end + W.
``figure`` is the slowest node's delay to its first new finalization (run end − last end for
a node with none), ``threshold`` is W.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from rppsim.checks.context import CheckContext, get_honest_finalized
from rppsim.checks.verdict import Verdict
from rppsim.telemetry.scalars import to_int

__all__ = [
    "FAULT_ENDS",
    "ID",
    "NEEDS",
    "TITLE",
    "PowerShare",
    "check_liveness",
    "compute_crashed_nodes",
    "compute_first_finalizations",
    "compute_honest_share",
    "compute_last_fault_end",
    "compute_window_ms",
    "get_open_faults",
]

ID = "liveness"
TITLE = "every running honest node finalizes a new height after the last fault"
NEEDS = ("block_finalized", "faults", "electorates")
"""The frames ``check_liveness`` reads (``rppsim.checks.needs``)."""
FAULT_ENDS = {
    "crash": "restart",
    "churn_down": "churn_up",
    "upgrade_down": "upgrade_up",
    "pause": "resume",
    "partition_start": "partition_end",
    "degrade_start": "degrade_end",
    "skew_start": "skew_end",
}
"""The kernel's fault transitions: start kind → the kind that ends it."""
_FAMILY = {end: start for start, end in FAULT_ENDS.items()}
_DOWN, _UP = ("crash", "churn_down", "upgrade_down"), ("restart", "churn_up", "upgrade_up")


@dataclass(frozen=True, slots=True)
class PowerShare:
    """Power of the honest running members of an electorate, and its total."""

    height: int
    honest: int
    total: int
    source: str

    def is_quorum(self) -> bool:
        """Whether honest running power exceeds 2/3 of the total."""
        return 3 * self.honest > 2 * self.total


def compute_window_ms(context: CheckContext) -> int:
    """W = 3 × (block time + round timeout)."""
    return 3 * (context.block_time_ms + context.round_timeout_ms)


def _get_family(kind: str) -> str:
    """The start kind a transition kind belongs to (``x_end`` closes ``x_start``)."""
    if kind.endswith("_end") and kind not in _FAMILY:
        return kind[: -len("_end")] + "_start"
    return _FAMILY.get(kind, kind)


def _get_transitions(faults: pd.DataFrame) -> list[tuple[int, int, str, str, str]]:
    """(at_ms, 0 for ends / 1 otherwise, kind, phase, nodes), sorted: ends first at one time."""
    rows = zip(faults["at_ms"], faults["kind"], faults["phase"], faults["nodes"], strict=True)
    return sorted((int(t), int(p != "end"), str(k), str(p), str(n)) for t, k, p, n in rows)


def get_open_faults(faults: pd.DataFrame) -> list[tuple[int, str, str]]:
    """(at_ms, kind, nodes) of every ``start`` row that no later ``end`` row closes."""
    pending: dict[tuple[str, str], list[int]] = {}
    for at_ms, _, kind, phase, nodes in _get_transitions(faults):
        key = (_get_family(kind), nodes)
        if phase == "start":
            pending.setdefault(key, []).append(at_ms)
        elif phase == "end" and pending.get(key):
            pending[key].pop(0)
    return sorted((t, kind, nodes) for (kind, nodes), times in pending.items() for t in times)


def compute_last_fault_end(faults: pd.DataFrame) -> int:
    """The latest ``end`` or ``instant`` fault row (0 without any)."""
    ends = faults.loc[faults["phase"].isin(["end", "instant"]), "at_ms"]
    return int(ends.max()) if len(ends) else 0


def get_up_down(faults: pd.DataFrame) -> list[tuple[int, bool, frozenset[int]]]:
    """(at_ms, down, nodes) of every crash or churn-down (down True) and every restart or
    churn-up (down False), in time order, ends first at one time."""
    return [
        (at_ms, kind in _DOWN, frozenset(int(n) for n in nodes.split(",") if n))
        for at_ms, _, kind, _, nodes in _get_transitions(faults)
        if kind in _DOWN + _UP
    ]


def compute_up_stretches(faults: pd.DataFrame, end_ms: int) -> dict[int, list[tuple[int, int]]]:
    """[start, end) of every stretch a node that ever went down was running (from 0, each
    restart or churn-up, to each crash or churn-down, or ``end_ms``); a node absent from the
    result ran from 0 to ``end_ms``. A restart starts a new node: its timers start over."""
    since: dict[int, int | None] = {}
    stretches: dict[int, list[tuple[int, int]]] = {}
    for at_ms, is_down, nodes in get_up_down(faults):
        for node in sorted(nodes):
            start = since.get(node, 0)
            if is_down and start is not None:
                stretches.setdefault(node, []).append((start, at_ms))
                since[node] = None
            elif not is_down and start is None:
                since[node] = at_ms
    for node, start in since.items():
        if start is not None:
            stretches[node].append((start, end_ms))
    return stretches


def compute_crashed_nodes(faults: pd.DataFrame, t_ms: int) -> frozenset[int]:
    """Nodes down at ``t_ms``: a crash or churn-down not followed by its restart by then."""
    down: frozenset[int] = frozenset()
    for at_ms, is_down, nodes in get_up_down(faults):
        if at_ms <= t_ms:
            down = down | nodes if is_down else down - nodes
    return down


def _get_electorate(electorates: pd.DataFrame, height: int) -> pd.DataFrame:
    """The electorate rows of ``height``, else of the latest recorded height below it."""
    known = electorates.loc[electorates["height"] <= height, "height"]
    if known.empty:
        return electorates.iloc[:0]
    rows: pd.DataFrame = electorates[electorates["height"] == known.max()]
    return rows


def compute_honest_share(
    frames: Mapping[str, pd.DataFrame], context: CheckContext, at_ms: int
) -> PowerShare:
    """Power of the honest members running at ``at_ms`` in the electorate deciding then."""
    finalized = get_honest_finalized(frames, context)
    done = finalized.loc[finalized["finalized_ms"] <= at_ms, "height"]
    height = (int(done.max()) if len(done) else 0) + 1
    crashed = compute_crashed_nodes(frames["faults"], at_ms)
    rows = _get_electorate(frames["electorates"], height)
    if rows.empty:
        alive = [v for v in context.validators if context.is_honest(v) and v not in crashed]
        return PowerShare(height, len(alive), context.validator_count, "equal genesis powers")
    honest = sum(
        int(power)
        for member, power in zip(rows["member"], rows["power"], strict=True)
        if not pd.isna(member) and context.is_honest(int(member)) and int(member) not in crashed
    )
    total = int(rows["total_power"].iloc[0])
    return PowerShare(height, honest, total, f"electorate of height {int(rows['height'].iloc[0])}")


def compute_first_finalizations(finalized: pd.DataFrame, after_ms: int) -> dict[int, int]:
    """Each node's first finalization time strictly after ``after_ms``."""
    later = finalized[finalized["finalized_ms"] > after_ms]
    firsts = later.groupby("node", sort=True)["finalized_ms"].min()
    return {to_int(node): to_int(t) for node, t in firsts.items()}


def _get_inapplicable_reason(
    frames: Mapping[str, pd.DataFrame], context: CheckContext, last_end: int, window: int
) -> str | None:
    """Why liveness cannot be judged after ``last_end``, or None."""
    open_faults = get_open_faults(frames["faults"])
    if open_faults:
        at_ms, kind, nodes = open_faults[0]
        return f"fault {kind} at {at_ms} ms (nodes {nodes or 'all'}) never ends"
    if context.duration_ms < last_end + window:
        return (
            f"the run ends at {context.duration_ms} ms, before the last fault end {last_end} ms"
            f" + {window} ms"
        )
    if not context.has_work and not context.allow_empty_blocks:
        return "nothing is submitted and empty blocks are off"
    share = compute_honest_share(frames, context, last_end)
    if not share.is_quorum():
        return (
            f"honest running validators hold {share.honest} of {share.total} power (≤ 2/3) at"
            f" {last_end} ms ({share.source}, deciding height {share.height})"
        )
    return None


def check_liveness(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> Verdict:
    """Fail when a running honest node finalizes nothing within W after the last fault end."""
    window = compute_window_ms(context)
    faults = frames["faults"]
    last_end = compute_last_fault_end(faults)
    reason = _get_inapplicable_reason(frames, context, last_end, window)
    if reason is not None:
        return Verdict(ID, "checker", TITLE, None, "critical", None, window, message=reason)
    down = compute_crashed_nodes(faults, context.duration_ms)
    checked = sorted(n for n in context.honest if n not in down)
    firsts = compute_first_finalizations(get_honest_finalized(frames, context), last_end)
    never = context.duration_ms - last_end
    delays = {n: firsts[n] - last_end if n in firsts else never for n in checked}
    figure = max(delays.values(), default=0)
    late = [n for n in checked if n not in firsts or delays[n] > window]
    if late:
        node = late[0]
        seen = f"first at {firsts[node]} ms" if node in firsts else "none by the end of the run"
        message = (
            f"node {node} finalized no block within {window} ms after the last fault end"
            f" {last_end} ms ({seen}; {len(late)} of {len(checked)} nodes late)"
        )
        deadline = last_end + window
        return Verdict(
            ID, "checker", TITLE, False, "critical", figure, window, node, deadline, message
        )
    message = (
        f"{len(checked)} running honest nodes finalized within {figure} ms of the last fault"
        f" end {last_end} ms"
    )
    return Verdict(ID, "checker", TITLE, True, "critical", figure, window, message=message)
