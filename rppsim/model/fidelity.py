"""``rppsim fidelity SCENARIO [--seeds N]``: the fast model against the full simulator.

Both engines run the scenario over the same N seeds; each metric is computed from the frames
alone (the same code for both engines) and pooled over the seeds, giving two samples per
metric. They are compared by a two-sample Kolmogorov–Smirnov test when scipy is installed,
else by the difference of means in standard errors (Welch); a metric disagrees when the test
rejects (KS p < 0.01, or |z| > 3) *and* the means differ by more than the metric's tolerance
(a practical bound: an absolute difference below it is agreement however many samples).

Metrics (per validator unless said): leader share (its share of the proposers), committee
size (members per recorded height), participation (accepted / pool per VRF row), blocks per
simulated minute (per run), tier occupancy over time (the mean tier per simulated minute),
timetoke balance, consensus successes and reward (balance gain) at the last common sample,
slashed stake, and detector evidence per validator.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from rppsim.sim.spec import Scenario

__all__ = [
    "METRICS",
    "Comparison",
    "Metric",
    "compute_comparison",
    "compute_fidelity",
    "compute_metric_values",
    "main",
]

Frames = Mapping[str, pd.DataFrame]
Z_LIMIT = 3.0
KS_ALPHA = 0.01


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric: its values from one run's frames, and the tolerance of a difference."""

    name: str
    values: Callable[[Frames, int], np.ndarray]
    tolerance: float


def _validators(frames: Frames) -> list[int]:
    nodes = frames["nodes"]
    return sorted(int(i) for i in nodes.loc[nodes["role"] == "validator", "node"])


def _leader_share(frames: Frames, end_ms: int) -> np.ndarray:
    blocks = frames["blocks"]
    blocks = blocks[blocks["proposed_ms"] <= end_ms]
    counts = blocks["proposer"].value_counts()
    total = max(len(blocks), 1)
    return np.array([counts.get(i, 0) / total for i in _validators(frames)], float)


def _committee_size(frames: Frames, end_ms: int) -> np.ndarray:
    blocks = frames["blocks"]
    heights = set(blocks.loc[blocks["proposed_ms"] <= end_ms, "height"].tolist())
    electorates = frames["electorates"]
    sizes = electorates[electorates["height"].isin(heights)].groupby("height").size()
    return sizes.to_numpy(float)


def _participation(frames: Frames, end_ms: int) -> np.ndarray:
    rounds = frames["vrf_rounds"]
    rounds = rounds[rounds["now_ms"] <= end_ms]
    return rounds["participation_rate"].dropna().to_numpy(float)


def _blocks_per_minute(frames: Frames, end_ms: int) -> np.ndarray:
    blocks = frames["blocks"]
    count = int((blocks["proposed_ms"] <= end_ms).sum())
    return np.array([count / (end_ms / 60_000.0)])


def _ledger_rows(frames: Frames, end_ms: int) -> pd.DataFrame:
    """The validators' ledger rows up to ``end_ms``, by node and time (a node samples on its
    own clock, and not while it is down)."""
    ledger = frames["ledger"]
    ledger = ledger[(ledger["now_ms"] <= end_ms) & ledger["node"].isin(_validators(frames))]
    return ledger.sort_values(["node", "now_ms"], kind="stable")


def _ledger_at(frames: Frames, end_ms: int) -> pd.DataFrame:
    """Each validator's last ledger row not after ``end_ms``."""
    return _ledger_rows(frames, end_ms).groupby("node").tail(1)


def _tier_over_time(frames: Frames, end_ms: int) -> np.ndarray:
    """The validators' mean tier per simulated minute (nodes sample on their own clocks)."""
    ledger = _ledger_rows(frames, end_ms)
    return ledger.groupby(ledger["now_ms"] // 60_000)["tier"].mean().to_numpy(float)


def _column_at(column: str) -> Callable[[Frames, int], np.ndarray]:
    def values(frames: Frames, end_ms: int) -> np.ndarray:
        return _ledger_at(frames, end_ms)[column].dropna().to_numpy(float)

    return values


def _reward(frames: Frames, end_ms: int) -> np.ndarray:
    rows = _ledger_rows(frames, end_ms).groupby("node")["balance"]
    return (rows.last() - rows.first()).dropna().to_numpy(float)


def _evidence(frames: Frames, end_ms: int) -> np.ndarray:
    evidence = frames["evidence"]
    blocks = frames["blocks"]
    heights = set(blocks.loc[blocks["proposed_ms"] <= end_ms, "height"].tolist())
    counts = evidence[evidence["height"].isin(heights)]["offender"].value_counts()
    return np.array([counts.get(i, 0) for i in _validators(frames)], float)


METRICS: tuple[Metric, ...] = (
    Metric("leader share", _leader_share, 0.05),
    Metric("committee size", _committee_size, 0.5),
    Metric("participation", _participation, 0.05),
    Metric("blocks per minute", _blocks_per_minute, 0.6),
    Metric("tier over time", _tier_over_time, 0.25),
    Metric("timetoke hours", _column_at("timetoke_hours"), 1.0),
    Metric("consensus successes", _column_at("consensus_success"), 2.0),
    Metric("reward", _reward, 40.0),
    Metric("slashed stake", _column_at("slashed"), 1.0),
    Metric("evidence per validator", _evidence, 1.5),
)


def compute_metric_values(frames: Frames, end_ms: int) -> dict[str, np.ndarray]:
    """Every metric's values for one run (the first ``end_ms`` of it)."""
    return {metric.name: metric.values(frames, end_ms) for metric in METRICS}


@dataclass(frozen=True, slots=True)
class Comparison:
    """One metric's two samples and their test."""

    metric: str
    full: np.ndarray
    fast: np.ndarray
    statistic: float
    """KS D, or |z| when scipy is missing (nan: not testable)."""
    p_value: float | None
    test: str
    agrees: bool

    def describe(self, values: np.ndarray) -> str:
        """mean ± sd [min, max] (n)."""
        if values.size == 0:
            return "—"
        return (
            f"{values.mean():.4g} ± {values.std():.3g} "
            f"[{values.min():.4g}, {values.max():.4g}] (n={values.size})"
        )


def compute_comparison(metric: Metric, full: np.ndarray, fast: np.ndarray) -> Comparison:
    """The test of one metric (module docstring)."""
    if full.size == 0 or fast.size == 0:
        agrees = full.size == fast.size
        return Comparison(metric.name, full, fast, math.nan, None, "empty", agrees)
    delta = abs(float(full.mean()) - float(fast.mean()))
    within = delta <= metric.tolerance
    try:
        from scipy.stats import ks_2samp
    except ImportError:
        se = math.sqrt(full.var(ddof=1 if full.size > 1 else 0) / full.size
                       + fast.var(ddof=1 if fast.size > 1 else 0) / fast.size)  # fmt: skip
        z = delta / se if se > 0 else (0.0 if delta == 0 else math.inf)
        return Comparison(metric.name, full, fast, z, None, "z", within or z <= Z_LIMIT)
    result = ks_2samp(full, fast)
    agrees = within or result.pvalue >= KS_ALPHA
    return Comparison(metric.name, full, fast, result.statistic, result.pvalue, "ks", agrees)


def _run_full(scenario: Scenario, seed: int) -> Frames:
    from rppsim.sim.run import execute_run

    full = replace(scenario, run=replace(scenario.run, engine="full", prover="model"))
    return execute_run(full, seed=seed, write=False, record_messages=False).frames


def compute_fidelity(
    scenario: Scenario,
    seeds: Sequence[int],
    *,
    run_full: Callable[[Scenario, int], Frames] = _run_full,
    run_model: Callable[[Scenario, int], Frames] | None = None,
) -> list[Comparison]:
    """Both engines over ``seeds``, every metric compared (the full engine uses the model
    prover: proofs do not change the protocol's metrics, only the wall time)."""
    from rppsim.model.engine import run_fast

    end_ms = scenario.run.duration_ms
    pooled: dict[str, list[list[np.ndarray]]] = {m.name: [[], []] for m in METRICS}
    for seed in seeds:
        fast_frames = (run_model or (lambda s, k: run_fast(s, seed=k)))(scenario, seed)
        for side, frames in enumerate((run_full(scenario, seed), fast_frames)):
            for name, values in compute_metric_values(frames, end_ms).items():
                pooled[name][side].append(values)
    return [
        compute_comparison(m, np.concatenate(pooled[m.name][0]), np.concatenate(pooled[m.name][1]))
        for m in METRICS
    ]


def format_table(comparisons: Sequence[Comparison]) -> str:
    """The comparison as a text table, one metric per line."""
    lines = [f"{'metric':<24} {'full':<44} {'fast':<44} {'test':<14} verdict"]
    for c in comparisons:
        if c.test == "ks":
            test = f"D={c.statistic:.3f} p={c.p_value:.3g}"
        elif c.test == "z":
            test = f"|z|={c.statistic:.2f}"
        else:
            test = "empty"
        verdict = "agree" if c.agrees else "DISAGREE"
        lines.append(
            f"{c.metric:<24} {c.describe(c.full):<44} {c.describe(c.fast):<44} {test:<14} {verdict}"
        )
    return "\n".join(lines)


def cmd_fidelity(args: argparse.Namespace) -> int:
    """``rppsim fidelity``: print the table; exit 1 when a metric disagrees."""
    from rppsim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    seeds = [scenario.run.seed + k for k in range(args.seeds)]
    comparisons = compute_fidelity(scenario, seeds)
    print(f"fidelity of the fast model: {args.scenario}, seeds {seeds[0]}..{seeds[-1]}")
    print(format_table(comparisons))
    disagreeing = [c.metric for c in comparisons if not c.agrees]
    print("disagreement: " + ", ".join(disagreeing) if disagreeing else "all metrics agree")
    return 1 if disagreeing else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``fidelity`` on the CLI's subparsers."""
    from rppsim.argtypes import positive

    fidelity = sub.add_parser("fidelity", help="compare the fast model with the full simulator")
    fidelity.add_argument("scenario", help="a scenario file")
    fidelity.add_argument("--seeds", type=positive, default=4, help="seeds per engine (default 4)")
    fidelity.set_defaults(func=cmd_fidelity)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rppsim.model.fidelity SCENARIO [--seeds N]``."""
    from rppsim.argtypes import OneLineParser

    parser = OneLineParser(prog="rppsim fidelity")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    import sys

    args = sys.argv[1:] if argv is None else list(argv)
    return cmd_fidelity(parser.parse_args(["fidelity", *args]))


if __name__ == "__main__":
    raise SystemExit(main())
