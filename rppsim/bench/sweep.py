"""``rppsim bench sweep``: the wall time of the target sweep on this machine (issue 12, part 3).

Target: 64 points × 8 seeds of 30-day fast-model runs with 200 validators in ≤ 20 minutes on
a 2-core machine (``scenarios/sweeps/tier-thresholds-200.toml``, every core, a fresh folder:
nothing resumed). ``--points``, ``--seeds`` and ``--days`` run a reduced sweep (the first
points of the grid); the table then also prints the full sweep's time projected from it (runs
scale linearly with simulated days, points and seeds).
"""

from __future__ import annotations

import os
import tempfile
import time
import tomllib
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rppsim.argtypes import OneLineParser, positive, positive_number
from rppsim.bench.vrf import measure_reference_seconds
from rppsim.sweep.spec import SweepSpec

TARGET_S = 20 * 60.0
TARGET_POINTS, TARGET_SEEDS, TARGET_DAYS = 64, 8, 30.0
SWEEPS = Path(__file__).resolve().parents[2] / "scenarios" / "sweeps"
SWEEP_FILE = SWEEPS / "tier-thresholds-200.toml"


def build_bench_sweep(points: int, seeds: int, days: float) -> SweepSpec:
    """The target sweep cut to its first ``points`` points, ``seeds`` seeds and ``days``."""
    from rppsim.sweep.spec import parse_sweep

    text = SWEEP_FILE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    data["base"]["run.duration_ms"] = int(days * 86_400_000)
    spec = parse_sweep(data, SWEEP_FILE, text)
    return replace(spec, points=spec.points[:points], seeds=spec.seeds[:seeds])


def main(argv: list[str]) -> int:
    """Run the (reduced) target sweep; print its wall time beside the target."""
    from rppsim.sweep.runner import run_sweep

    parser = OneLineParser(prog="rppsim bench sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=positive, default=TARGET_POINTS)
    parser.add_argument("--seeds", type=positive, default=TARGET_SEEDS)
    parser.add_argument("--days", type=positive_number, default=TARGET_DAYS)
    parser.add_argument("--jobs", type=positive, help="worker processes (default: every core)")
    parser.add_argument("--executor", choices=("local", "dask"), default="local")
    args = parser.parse_args(argv)
    points = min(args.points, TARGET_POINTS)
    spec = build_bench_sweep(points, min(args.seeds, TARGET_SEEDS), args.days)
    runs = len(spec.points) * len(spec.seeds)
    jobs = args.jobs or os.cpu_count() or 1
    console = Console()
    with tempfile.TemporaryDirectory(prefix="rppsim-bench-sweep-") as folder:
        started = time.perf_counter()
        run_sweep(spec, Path(folder), executor=args.executor, jobs=jobs, quiet=False)
        wall = time.perf_counter() - started
    is_target = (len(spec.points), len(spec.seeds), args.days) == (
        TARGET_POINTS, TARGET_SEEDS, TARGET_DAYS,
    )  # fmt: skip
    title = (
        f"sweep: {len(spec.points)} points × {len(spec.seeds)} seeds, {args.days:g}-day fast runs,"
        f" 200 validators, {jobs} {args.executor} workers on {os.cpu_count()} cores"
    )
    table = Table(title=title)
    for column in ("measurement", "figure", "target", "ok"):
        table.add_column(column, justify="right" if column != "measurement" else "left")
    target = f"≤ {TARGET_S / 60:.0f} min"
    ok = "yes" if wall <= TARGET_S else "NO"
    table.add_row(f"sweep ({runs} runs)", f"{wall:.1f} s", target if is_target else "",
                  ok if is_target else "")  # fmt: skip
    per_run = TARGET_S * 2 / (TARGET_POINTS * TARGET_SEEDS)
    table.add_row("per run per worker", f"{wall * jobs / runs:.2f} s",
                  f"≤ {per_run:.2f} s (2 workers)", "")  # fmt: skip
    if not is_target:
        scale = (TARGET_POINTS * TARGET_SEEDS / runs) * (TARGET_DAYS / args.days)
        projected = wall * scale
        table.add_row(
            "projected 64 × 8 × 30 days (linear)", f"{projected / 60:.1f} min", target,
            "yes" if projected <= TARGET_S else "NO",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"machine yardstick: sum(range(10**7)) took {measure_reference_seconds():.3f} s "
        "(compare runs on different machines by this figure)"
    )
    return 0
