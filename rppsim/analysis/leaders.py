"""Leader frequency against expected weight, with a χ² goodness-of-fit test
(docs/analysis.md#leader-frequency-against-weight).

For every committed block, each validator of the pool gets an expected probability of
leading it from a weight; summed over the blocks these are the expected leads, which the
test compares with the observed ones. Weights:

- ``vrf``: the VRF submission weight tier_weight × max(hours, 1) of each validator's latest
  ledger sample at or before the block (its first sample before it has one), over the
  validators a submission check would accept (tier ≥ Tl3, hours ≥ 1) —
  ``rppsim.node.selection.compute_submission_weight``,
  docs/protocol.md#selection-weight-threshold-and-fallback;
- ``power``: the voting power of each member of the height's electorate (blocks of heights
  without an electorate row are skipped: the fast model records every k-th height);
- ``uniform``: every validator alike.

The chain's leader is the accepted submission greatest by (tier, hours, weight, lowest
weighted randomness) (docs/protocol.md#leader), not a draw in proportion to weight: with
equal tiers and hours the lowest weighted randomness wins, which is weight-proportional in
expectation only when the weights are equal. A small p-value says the leaders are not spread
as the chosen weights predict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rppsim.analysis.runs import get_provenance_keys
from rppsim.node.reputation import Tier
from rppsim.node.selection import compute_submission_weight

__all__ = [
    "MIN_TIER",
    "WEIGHTS",
    "LeaderFrequency",
    "compute_chi_square",
    "compute_expected_leads",
    "compute_leader_frequency",
]

Frames = Mapping[str, pd.DataFrame]
WEIGHTS = ("vrf", "power", "uniform")
MIN_TIER = int(Tier.Tl3)
"""Submissions below Tl3 are rejected ("tier too low")."""


@dataclass(frozen=True)
class LeaderFrequency:
    """Observed and expected leads per validator and the χ² test between them."""

    table: pd.DataFrame
    """Per node: ``leads``, ``expected``, ``share``, ``expected_share`` and the Pearson
    residual (leads − expected) ÷ √expected."""
    weights: str
    blocks: int
    """Blocks counted (with a proposer and an expectation)."""
    statistic: float
    p_value: float
    dof: int
    min_expected: float
    """The smallest expected count (the χ² approximation wants about 5 or more)."""


def compute_chi_square(observed: np.ndarray, expected: np.ndarray) -> tuple[float, float, int]:
    """Pearson's χ² of ``observed`` against ``expected`` counts (rescaled to the same total):
    (statistic, p-value, degrees of freedom); a lead where nothing was expected gives
    (inf, 0.0, dof)."""
    from scipy.stats import chi2

    observed = np.asarray(observed, float)
    expected = np.asarray(expected, float)
    support = expected > 0
    dof = max(int(support.sum()) - 1, 0)
    if observed.sum() == 0 or dof == 0:
        return 0.0, 1.0, dof
    if (observed[~support] > 0).any():
        return math.inf, 0.0, dof
    scaled = expected[support] * observed.sum() / expected[support].sum()
    statistic = float((((observed[support] - scaled) ** 2) / scaled).sum())
    return statistic, float(chi2.sf(statistic, dof)), dof


def _blocks(frames: Frames) -> pd.DataFrame:
    blocks = frames["blocks"].dropna(subset=["proposer"])
    keys = [*get_provenance_keys(blocks), "height", "proposed_ms", "proposer"]
    return blocks[keys].astype({"proposer": "int64"}).reset_index(drop=True)


def _vrf_probabilities(frames: Frames, blocks: pd.DataFrame) -> pd.DataFrame:
    """(block index, node, probability) from the validators' ledger samples."""
    prov = get_provenance_keys(blocks)
    nodes = frames["nodes"]
    validators = nodes.loc[nodes["role"] == "validator", [*prov, "node"]]
    ledger = frames["ledger"].dropna(subset=["tier", "timetoke_hours"])
    ledger = ledger.merge(validators, on=[*prov, "node"], how="inner")
    ledger = ledger.assign(
        weight=[
            compute_submission_weight(Tier(int(t)), int(h)) if t >= MIN_TIER and h >= 1 else 0
            for t, h in zip(ledger["tier"], ledger["timetoke_hours"], strict=True)
        ]
    )
    samples = ledger[[*prov, "node", "now_ms", "weight"]].astype({"now_ms": "int64"})
    left = blocks.reset_index(names="block")[[*prov, "block", "proposed_ms"]]
    pairs = left.merge(validators, on=prov, how="inner") if prov else left.merge(
        validators, how="cross"
    )
    pairs = pairs.astype({"proposed_ms": "int64"}).sort_values("proposed_ms", kind="stable")
    by = [*prov, "node"]
    before = pd.merge_asof(
        pairs, samples.sort_values("now_ms", kind="stable"), left_on="proposed_ms",
        right_on="now_ms", by=by, direction="backward",
    )  # fmt: skip
    after = pd.merge_asof(
        pairs, samples.sort_values("now_ms", kind="stable"), left_on="proposed_ms",
        right_on="now_ms", by=by, direction="forward",
    )  # fmt: skip
    weight = before["weight"].fillna(after["weight"]).fillna(0.0).astype(float)
    return before[["block", "node"]].assign(weight=weight.to_numpy())


def _power_probabilities(frames: Frames, blocks: pd.DataFrame) -> pd.DataFrame:
    prov = get_provenance_keys(blocks)
    electorates = frames["electorates"].dropna(subset=["member"])
    left = blocks.reset_index(names="block")[[*prov, "block", "height"]]
    rows = left.merge(electorates[[*prov, "height", "member", "power"]], on=[*prov, "height"])
    power = np.array([float(int(p)) for p in rows["power"]])
    return pd.DataFrame(
        {"block": rows["block"], "node": rows["member"].astype("int64"), "weight": power}
    )


def _uniform_probabilities(frames: Frames, blocks: pd.DataFrame) -> pd.DataFrame:
    prov = get_provenance_keys(blocks)
    nodes = frames["nodes"]
    validators = nodes.loc[nodes["role"] == "validator", [*prov, "node"]]
    left = blocks.reset_index(names="block")[[*prov, "block"]]
    pairs = left.merge(validators, on=prov) if prov else left.merge(validators, how="cross")
    return pairs[["block", "node"]].assign(weight=1.0)


def compute_expected_leads(frames: Frames, weights: str = "vrf") -> pd.DataFrame:
    """Per block (index into the blocks with a proposer) and node: ``probability`` of
    leading it under ``weights`` (each block's probabilities sum to 1; a block whose pool
    has no weight is left out)."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    blocks = _blocks(frames)
    build = {
        "vrf": _vrf_probabilities,
        "power": _power_probabilities,
        "uniform": _uniform_probabilities,
    }[weights]
    rows = build(frames, blocks)
    rows = rows[rows["weight"] > 0]
    total = rows.groupby("block")["weight"].transform("sum")
    result = rows.assign(probability=rows["weight"] / total)[["block", "node", "probability"]]
    return result.sort_values(["block", "node"], kind="stable", ignore_index=True)


def compute_leader_frequency(frames: Frames, weights: str = "vrf") -> LeaderFrequency:
    """Leads per validator against the leads ``weights`` predict, pooled over the runs in
    ``frames`` (by node index), and Pearson's χ² test of the difference."""
    blocks = _blocks(frames)
    expected = compute_expected_leads(frames, weights)
    counted = np.unique(expected["block"].to_numpy())
    proposers = blocks.loc[counted, "proposer"].value_counts()
    predicted = expected.groupby("node")["probability"].sum()
    nodes = sorted(set(proposers.index.tolist()) | set(predicted.index.tolist()))
    leads = np.array([int(proposers.get(n, 0)) for n in nodes], float)
    exp = np.array([float(predicted.get(n, 0.0)) for n in nodes], float)
    statistic, p_value, dof = compute_chi_square(leads, exp)
    total = max(leads.sum(), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        residual = np.where(exp > 0, (leads - exp) / np.sqrt(exp), np.nan)
    table = pd.DataFrame(
        {
            "node": np.array(nodes, np.int64),
            "leads": leads.astype(np.int64),
            "expected": exp,
            "share": leads / total,
            "expected_share": exp / max(exp.sum(), 1e-300),
            "residual": residual,
        }
    )
    positive = exp[exp > 0]
    return LeaderFrequency(
        table=table,
        weights=weights,
        blocks=len(counted),
        statistic=statistic,
        p_value=p_value,
        dof=dof,
        min_expected=float(positive.min()) if positive.size else 0.0,
    )
