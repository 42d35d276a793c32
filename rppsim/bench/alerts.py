"""``rppsim bench alerts``: the shipped alert rules over a long run, batch path vs per-step.

`evaluate_rules` evaluates each rule over every step at once (`batch.evaluate_rules_batch`)
or, where that path does not apply, every rule at every step as Prometheus' rule manager
does (`engine.evaluate_rules_stepwise`); both give the same result. The bench times both on a
synthetic store shaped like a run's series (every metric of ``series.METRICS``, per
instance, with restarts, gaps, stalls and histograms) of 100 instances × 1,440 steps (6
hours at the 15 s scrape), and optionally on a run folder (``--run``). Target: the batch
path ≥ 10× the per-step path on the synthetic store.

The per-step path is timed on every ``--stride``-th step (the same windows, fewer steps),
so its steps/s is the average over the run without spending minutes on it. Beside the
figures: a machine yardstick, and the floor: the time it takes here just to read, once, every
cell (series × step) that the rules' selectors match, at numpy's summing rate (every cell
can change a rule's result, so an evaluator reads each at least once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from rppsim.argtypes import OneLineParser, bounded_int, natural, positive
from rppsim.guardrails.alerting import get_rule_groups
from rppsim.guardrails.alerting.batch import evaluate_rules_batch
from rppsim.guardrails.alerting.engine import RuleGroup, evaluate_rules_stepwise
from rppsim.guardrails.alerting.grid import iter_selectors
from rppsim.guardrails.alerting.promql import SeriesStore, parse_expr
from rppsim.guardrails.alerting.series import (
    BACKENDS,
    CACHE_LABEL,
    ENV,
    PROOF_BYTES_BUCKETS,
    SCRAPE_MS,
    VOTE_LATENCY_BUCKETS_S,
)

SPEEDUP_TARGET = 10.0
DEFAULT_INSTANCES = 100
DEFAULT_STEPS = 1440
BLOCK_MS = 5_000
VRF_THRESHOLDS = {
    "max_fallback_ratio": 0.1,
    "max_rejection_rate": 0.05,
    "min_participation_rate": 0.7,
}


# --------------------------------------------------------------------------------------------
# The synthetic store
# --------------------------------------------------------------------------------------------


@dataclass
class _Fleet:
    """What the per-instance series are drawn from."""

    rng: np.random.Generator
    grid: np.ndarray
    up: np.ndarray
    """bool[instance, step]: scraped (down periods leave gaps)."""
    starts: np.ndarray
    """float[instance, step]: the process start time (s); counters reset when it changes."""
    tip: np.ndarray
    store: SeriesStore

    def add(self, name: str, instance: int | None, values: np.ndarray, **labels: str) -> None:
        """One series, sampled where its instance is up (every step for fleet series)."""
        mask = np.ones(len(self.grid), bool) if instance is None else self.up[instance]
        if instance is not None:
            labels["instance"] = str(instance)
        if mask.any():
            self.store.add({"__name__": name, "env": ENV, **labels}, self.grid[mask],
                           np.asarray(values, np.float64)[mask])  # fmt: skip

    def counter(self, instance: int, mean_per_step: float) -> np.ndarray:
        """A Poisson counter that restarts from 0 when the process restarts."""
        increments = self.rng.poisson(mean_per_step, len(self.grid)).astype(np.float64)
        restarted = np.flatnonzero(np.diff(self.starts[instance]) != 0) + 1
        total = np.cumsum(increments)
        for at in restarted:
            total[at:] -= total[at - 1]
        return total


def _make_fleet(instances: int, steps: int, seed: int) -> _Fleet:
    rng = np.random.default_rng(seed)
    grid = np.arange(steps, dtype=np.int64) * SCRAPE_MS
    up = np.ones((instances, steps), bool)
    starts = np.zeros((instances, steps))
    for i in np.flatnonzero(rng.random(instances) < 0.15):
        down = int(rng.integers(0, steps))
        back = min(steps, down + int(rng.integers(4, 240)))
        up[i, down:back] = False
        if back < steps:
            starts[i, back:] = grid[back] / 1000
    produced = rng.poisson(SCRAPE_MS / BLOCK_MS, steps).astype(np.float64)
    stall = slice(steps // 3, steps // 3 + max(steps // 20, 1))
    produced[stall] = 0.0
    return _Fleet(rng, grid, up, starts, np.cumsum(produced), SeriesStore())


def _add_consensus(fleet: _Fleet, i: int, validator: bool) -> None:
    rng, steps = fleet.rng, len(fleet.grid)
    lag = np.maximum(np.round(np.cumsum(rng.normal(0, 0.3, steps)) % 6), 0)
    height = np.maximum(fleet.tip - lag, 0)
    slots = (fleet.grid // BLOCK_MS).astype(np.float64)
    fleet.add("chain_block_height", i, height)
    fleet.add("consensus_block_schedule_slots_total", i, slots)
    fleet.add("finality_lag_slots", i, np.maximum(slots - height, 0))
    fleet.add("finalized_height_gap", i, fleet.tip - height)
    if validator:
        fleet.add("rpp_runtime_consensus_validator_height_lag", i, fleet.tip - height)
        deviation = rng.normal(0, 2, steps) + (8 if i == 0 else 0)
        fleet.add("consensus_proposer_deviation_pct", None, deviation, validator=str(i))
    fleet.add("process_start_time_seconds", i, fleet.starts[i])
    observed = height.copy()
    if i % 17 == 3:
        observed[steps // 2 :] = observed[steps // 2]
    fleet.add("rppsim_telemetry_last_observed_height", i, observed)
    age = (fleet.grid % 600_000) / 1000 + (900 if i % 23 == 5 else 0)
    fleet.add("timetoke_epoch_age_seconds", i, age)


def _add_runtime(fleet: _Fleet, i: int) -> None:
    rng, steps = fleet.rng, len(fleet.grid)
    slow = 4.0 if i % 11 == 7 else 1.0
    latency = rng.gamma(2.0, 0.1 * slow, (steps, 30))
    for le in (*VOTE_LATENCY_BUCKETS_S, np.inf):
        cumulative = np.cumsum((latency <= le).sum(axis=1)).astype(np.float64)
        bound = "+Inf" if le == np.inf else f"{le:g}"
        name = "rpp_runtime_consensus_vote_latency_bucket"
        fleet.add(name, i, cumulative, le=bound, validator=str(i))
    fleet.add("rpp_runtime_backlog_blocks", i, rng.poisson(3 + 15 * (i % 29 == 1), steps))
    fleet.add("rpp_runtime_backlog_transactions", i, rng.poisson(1200, steps))
    cache = {"cache": CACHE_LABEL}
    hits, misses = fleet.counter(i, 40 - 30 * (i % 13 == 2)), fleet.counter(i, 10)
    fleet.add("rpp_runtime_proof_cache_hits", i, hits, **cache)
    fleet.add("rpp_runtime_proof_cache_misses", i, misses, **cache)
    fleet.add("rpp_runtime_proof_cache_evictions", i, fleet.counter(i, 5 + 10 * (i % 13 == 2)),
              **cache)  # fmt: skip
    fleet.add("rpp_runtime_proof_cache_queue_depth", i, rng.poisson(100, steps), **cache)
    fleet.add("rpp_runtime_proof_cache_max_queue_depth", i, rng.poisson(300, steps), **cache)
    fleet.add("telemetry_otlp_failures_total", i, fleet.counter(i, 0.002))


def _add_verification(fleet: _Fleet, i: int) -> None:
    for backend in BACKENDS:
        accepted = fleet.counter(i, 12)
        rejected = fleet.counter(i, 0.05 + 0.5 * (i % 31 == 4))
        labels = {"proof_backend": backend}
        name = "rpp_runtime_proof_verification_outcomes_total"
        fleet.add(name, i, accepted, **labels, result="accepted")
        fleet.add(name, i, rejected, **labels, result="rejected")
        seconds = fleet.counter(i, 20) * (0.25 if i % 37 != 9 else 0.4)
        fleet.add("rpp_stark_verify_duration_seconds_sum", i, seconds, **labels)
        fleet.add("rpp_stark_verify_duration_seconds_count", i, accepted + rejected, **labels)
        if backend == "rpp-stark":
            fleet.add("rpp_stark_stage_checks_total", i, accepted, **labels, result="ok")
            fleet.add("rpp_stark_stage_checks_total", i, rejected, **labels, result="fail")


def _add_vrf_and_rejections(fleet: _Fleet, i: int) -> None:
    rng, steps = fleet.rng, len(fleet.grid)
    prefix = "rpp_crypto_vrf_selection"
    fleet.add(f"{prefix}_verified_total", i, fleet.counter(i, 21))
    fleet.add(f"{prefix}_rejected_total", i, fleet.counter(i, 0.3 + 2 * (i % 19 == 6)))
    fleet.add(f"{prefix}_fallback_total", i, fleet.counter(i, 0.1))
    fleet.add(f"{prefix}_rounds_total", i, fleet.counter(i, 3))
    fleet.add(f"{prefix}_participation_rate", i, np.clip(rng.normal(0.9, 0.1, steps), 0, 1))
    for name, value in sorted(VRF_THRESHOLDS.items()):
        fleet.add("rppsim_vrf_threshold", i, np.full(steps, value), threshold=name)
    failures = fleet.counter(i, 0.01)
    fleet.add("consensus_vrf_verification_time_ms_count", i, failures, result="failure")
    fleet.add("consensus_quorum_verifications_total", i, fleet.counter(i, 0.001),
              result="failure")  # fmt: skip
    fleet.add("rpp_node_pipeline_state_sync_tamper_total", i, fleet.counter(i, 0.001))


def _add_proof_sizes(fleet: _Fleet) -> None:
    rng, steps = fleet.rng, len(fleet.grid)
    for kind, scale in (("consensus", 300_000.0), ("transaction", 40_000.0)):
        sizes = rng.lognormal(np.log(scale), 1.0, (steps, 3))
        failed = rng.random((steps, 3)) < 0.05
        for le in (*PROOF_BYTES_BUCKETS, np.inf):
            bound = "+Inf" if le == np.inf else f"{le:g}"
            below = sizes <= le
            name = "rpp_stark_proof_total_bytes"
            fleet.add(f"{name}_bucket", None, np.cumsum(below.sum(axis=1)), le=bound,
                      proof_kind=kind)  # fmt: skip
            for result, rows in (("ok", ~failed), ("fail", failed)):
                fleet.add(f"{name}_by_result_bucket", None, np.cumsum((below & rows).sum(axis=1)),
                          le=bound, proof_kind=kind, result=result)  # fmt: skip


def build_synthetic_store(instances: int, steps: int, seed: int = 1) -> SeriesStore:
    """A run-shaped store: every metric the rules read, per instance, over ``steps`` scrapes
    (a fleet stall a third of the way in; some instances down for a while, then restarted
    with their counters reset; a few slow, thrashing or rejecting instances)."""
    fleet = _make_fleet(instances, steps, seed)
    for i in range(instances):
        _add_consensus(fleet, i, validator=i < max(instances // 3, 1))
        _add_runtime(fleet, i)
        _add_verification(fleet, i)
        _add_vrf_and_rejections(fleet, i)
    _add_proof_sizes(fleet)
    return fleet.store


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """One evaluation: the steps it made, the input series and the wall time."""

    steps: int
    series: int
    wall_s: float

    @property
    def steps_per_s(self) -> float:
        """Evaluation steps (every rule once) per wall second."""
        return self.steps / self.wall_s

    @property
    def cells_per_s(self) -> float:
        """Input series × evaluation steps per wall second."""
        return self.series * self.steps / self.wall_s


def time_evaluation(
    groups: list[RuleGroup], store: SeriesStore, end_ms: int, *, batch: bool, stride: int = 1
) -> Timing:
    """Wall time of one evaluation over a copy of ``store``: the batch path (best of two;
    BatchUnsupportedError if it would fall back), or the per-step path on every
    ``stride``-th step."""
    evaluate = evaluate_rules_batch if batch else evaluate_rules_stepwise
    interval = SCRAPE_MS * stride
    best = float("inf")
    for _ in range(2 if batch else 1):
        copy = store.copy()
        start = time.perf_counter()
        evaluation = evaluate(groups, copy, start_ms=0, end_ms=end_ms, interval_ms=interval)
        best = min(best, time.perf_counter() - start)
    return Timing(len(evaluation.eval_times_ms), len(store), best)


def compute_floor_s(groups: list[RuleGroup], store: SeriesStore, steps: int) -> tuple[float, float]:
    """(seconds, cells/s): every selector's series × steps read once at numpy's sum rate."""
    cells = 0
    for rule in (r for g in groups for r in g.rules):
        for selector in iter_selectors(parse_expr(rule.expr)):
            cells += len(store.get_block(selector).labels) * steps
    matrix = np.ones((4096, 1440))
    best = min(_time_once(lambda: float(matrix.sum())) for _ in range(5))
    rate = matrix.size / best
    return cells / rate, rate


def _time_once(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure_reference_seconds() -> float:
    """Seconds for ``sum(range(10**7))``: a yardstick to compare runs across machines."""
    return _time_once(lambda: sum(range(10**7)))


def load_run_store(folder: Path) -> tuple[SeriesStore, int]:
    """A run folder's scraped series and its duration."""
    from rppsim.guardrails import build_guardrail_context
    from rppsim.guardrails.alerting.series import build_run_series
    from rppsim.telemetry.runfolder import read_run_folder

    frames = read_run_folder(folder)[0]
    ctx = build_guardrail_context(frames, None)
    return build_run_series(frames, ctx), ctx.checks.duration_ms


def add_store_rows(table: Table, label: str, store: SeriesStore, end_ms: int, stride: int) -> float:
    """Time both paths on ``store`` and add their rows, the floor's and the speedup's."""
    groups = get_rule_groups()
    batch = time_evaluation(groups, store, end_ms, batch=True)
    step = time_evaluation(groups, store, end_ms, batch=False, stride=stride)
    floor_s, _ = compute_floor_s(groups, store, batch.steps)
    speedup = batch.steps_per_s / step.steps_per_s
    rows = (
        ("batch", batch, label, f"{len(store):,}"),
        ("per-step" if stride == 1 else f"per-step, 1 in {stride}", step, "", ""),
    )
    for path, timing, name, series in rows:
        table.add_row(name, series, path, f"{timing.steps:,}", f"{timing.wall_s:,.2f} s",
                      f"{timing.steps_per_s:,.0f}", f"{timing.cells_per_s:,.0f}", "")  # fmt: skip
    floor = f"{batch.steps / floor_s:,.0f}"
    table.add_row("", "", "floor", "", f"{floor_s * 1000:,.1f} ms", floor, "", "")
    ok = "yes" if speedup >= SPEEDUP_TARGET else "NO"
    target = f"≥ {SPEEDUP_TARGET:g}× {ok}"
    table.add_row("", "", "batch ÷ per-step", "", "", f"{speedup:,.1f}×", "", target)
    table.add_section()
    return speedup


def main(argv: list[str]) -> int:
    """Print steps/s and series×steps/s of both paths beside the floor and a yardstick."""
    parser = OneLineParser(prog="rppsim bench alerts", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--instances", type=positive, default=DEFAULT_INSTANCES, help="synthetic instances"
    )
    parser.add_argument(
        "--steps", type=bounded_int(2), default=DEFAULT_STEPS, help="synthetic scrapes (15 s)"
    )
    parser.add_argument(
        "--stride", type=positive, default=10, help="per-step path: time every Nth step"
    )
    parser.add_argument("--seed", type=natural, default=1, help="synthetic store seed")
    parser.add_argument("--run", type=Path, help="also time a run folder (rppsim run --out)")
    args = parser.parse_args(argv)
    rules = sum(len(g.rules) for g in get_rule_groups())
    table = Table(title=f"The shipped alert rules ({rules}): batch path vs per-step path")
    columns = ("store", "series", "path", "steps", "wall", "steps/s", "series×steps/s", "target")
    for column in columns:
        table.add_column(column, justify="left" if column in ("store", "path") else "right")
    store = build_synthetic_store(args.instances, args.steps, args.seed)
    label = f"synthetic {args.instances} × {args.steps:,}"
    end_ms = (args.steps - 1) * SCRAPE_MS
    add_store_rows(table, label, store, end_ms, args.stride)
    if args.run is not None:
        run_store, duration_ms = load_run_store(args.run)
        add_store_rows(table, f"run {args.run.name}", run_store, duration_ms, 1)
    console = Console(width=max(Console().width, 110))
    console.print(table)
    _, rate = compute_floor_s(get_rule_groups(), SeriesStore(), 0)
    console.print(
        "per-step, 1 in N: the per-step path timed on every Nth step; floor: every cell "
        "(series × step) the rules' selectors match, read once at numpy's summing rate here "
        f"({rate:,.0f} cells/s); machine yardstick: sum(range(10**7)) took "
        f"{measure_reference_seconds():.3f} s (compare runs on different machines by it)"
    )
    return 0
