"""Evidence: no validator is named by the chain's evidence outside its fault windows.

The ``evidence`` frame holds what the finalized blocks carry against validators: double-sign
evidence (``double_sign_prevote``, ``double_sign_precommit``; ``rppsim.node.rounds``) and the
participation detectors' records (``censorship_prevote``, ``censorship_precommit``,
``inactivity``; ``rppsim.node.participation``), and any other evidence kind the chain records
(a signed proposal with an invalid proof, …). An honest validator earns none of them unless
a fault keeps its votes away: a row is excused when a fault window of its offender (or of
every node, a partition or degradation) overlaps the offense — from the block
``MISS_SPAN`` heights below the offense height (a detection counts consecutive misses) to the
block that carries the row — or ended less than W = 3 × (block time + round timeout) before
it (``rppsim.checks.fault_windows``). Every other row fails the verdict: ``figure`` counts them
(threshold 0), ``node`` and ``time_ms`` name the first (by carrying height) and the time of the
block that carries it.

``accountability`` asks whether double signs are punished; this verdict asks whether anyone
misbehaved at all, so it fails for ``withhold-votes`` (the detectors), ``double-sign`` and
``equivocate`` (the evidence, and often the detectors too, since a split vote is missing from
half the certificates) and ``invalid-proof``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rppsim.checks.context import CheckContext
from rppsim.checks.fault_windows import NEVER, compute_fault_windows, is_excused
from rppsim.checks.liveness import compute_window_ms
from rppsim.checks.verdict import Verdict

__all__ = ["ID", "MISS_SPAN", "NEEDS", "TITLE", "check_evidence", "get_unexcused_evidence"]

ID = "evidence"
TITLE = "no validator is named by evidence outside its fault windows"
NEEDS = ("evidence", "blocks", "faults")
"""The frames ``check_evidence`` reads (``rppsim.checks.needs``)."""
MISS_SPAN = 4
"""Heights before the offense a detection may look back on (the inactivity threshold)."""


def _get_block_times(blocks: pd.DataFrame, heights: np.ndarray, default: int) -> list[int]:
    """Each of ``heights``' earliest block timestamp, ``default`` for a height without a block
    (a search in the sorted heights: a run has a block per height, and few evidence rows)."""
    if len(heights) == 0:
        return []
    times = blocks.groupby("height")["proposed_ms"].min()
    known = times.index.to_numpy(np.int64)
    values = times.to_numpy(np.int64)
    at = np.minimum(np.searchsorted(known, heights), max(len(known) - 1, 0))
    found = known[at] == heights if len(known) else np.zeros(len(heights), np.bool_)
    return [int(values[i]) if hit else default for i, hit in zip(at, found, strict=True)]


def get_unexcused_evidence(
    frames: Mapping[str, pd.DataFrame], context: CheckContext
) -> pd.DataFrame:
    """The ``evidence`` rows no fault window excuses, by (height, offender, kind), with the
    time of the block that carries each (``time_ms``)."""
    evidence = frames["evidence"]
    evidence = evidence[evidence["offender"].notna()]
    evidence = evidence.sort_values(["height", "offender", "kind"], kind="stable")
    first = np.maximum(evidence["offense_height"].to_numpy(np.int64) - MISS_SPAN, 1)
    starts = _get_block_times(frames["blocks"], first, 0)
    ends = _get_block_times(frames["blocks"], evidence["height"].to_numpy(np.int64), NEVER)
    windows = compute_fault_windows(frames["faults"])
    grace = compute_window_ms(context)
    keep, when = [], []
    for offender, start, end in zip(evidence["offender"], starts, ends, strict=True):
        keep.append(not is_excused(windows, int(offender), start, end, grace))
        when.append(end)
    out = evidence.assign(time_ms=when)[keep]
    return out.reset_index(drop=True)


def check_evidence(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> Verdict:
    """Fail when an evidence row names a validator outside its fault windows."""
    rows = get_unexcused_evidence(frames, context)
    total = int(frames["evidence"]["offender"].notna().sum())
    if rows.empty:
        message = f"no evidence outside fault windows ({total} rows, all excused)"
        return Verdict(ID, "checker", TITLE, True, "critical", 0, 0, message=message)
    first = rows.iloc[0]
    node = int(first["offender"])
    mine = rows[rows["offender"] == node]
    kinds = Counter(str(k) for k in mine["kind"])
    listed = ", ".join(f"{k} ×{c}" for k, c in sorted(kinds.items()))
    offenders = sorted({int(o) for o in rows["offender"]})
    message = (
        f"node {node} named by {len(mine)} evidence rows outside fault windows ({listed}),"
        f" first in the block of height {int(first['height'])}; offenders: {offenders}"
    )
    time_ms = int(first["time_ms"]) if int(first["time_ms"]) != NEVER else None
    return Verdict(ID, "checker", TITLE, False, "critical", len(rows), 0, node, time_ms, message)
