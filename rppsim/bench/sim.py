"""``rppsim bench sim``: flood throughput, simulated-to-wall time ratio and peak memory.

Targets (the simulator issue, §5): (a) ≥ 300,000 flood deliveries per wall second on a
1,000-node small-world graph (degree 8, sampling included); (b) ≥ 120× simulated time over
wall time for 100 nodes with 21 validators over one simulated hour with prover ``model``,
and the same with prover ``real`` (``sim`` profile) reported; (c) peak memory ≤ 2 GiB for
1,000 nodes, and reported for 10,000. Each memory figure comes from a fresh child process
(its ``ru_maxrss``), so earlier parts do not count. Figures are measured, never asserted.

Part (long) (issue 12 §1): 100 nodes, 21 validators, 6 simulated hours with prover ``model``,
run in a fresh child process that samples its resident set (``/proc/self/statm``) every few
simulated minutes: the RSS after the first simulated hour, the growth per simulated hour after
it (least-squares slope of the samples from hour 1 on) beside the target 10 MiB/h, and the
peak (``VmHWM``, judging included) beside 1.5 GiB. The run is set up as a long run is:
per-message rows sampled (``[telemetry] message_sample_rate``, ``--long-sample-rate``) and
each node keeping only what its pruning config retains (``chain_record = "retained"``).

Part (b) also prints the libsodium floor (``_floor.py``): the highest ratio this machine allows
if everything but the protocol's own cryptography (VRF proofs and verifications, vote,
proposal and transaction signatures) cost nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rppsim.argtypes import OneLineParser, int_list, positive, positive_number, subset
from rppsim.bench._floor import CryptoCosts, measure_crypto_costs
from rppsim.bench.vrf import measure_reference_seconds
from rppsim.scenario import Scenario, parse_scenario
from rppsim.sim.gossip import measure_flood_throughput

FLOOD_TARGET_PER_S = 300_000
RATIO_TARGET = 120.0
MEMORY_TARGET_MIB = 2048
LONG_GROWTH_TARGET_MIB_PER_H = 10.0
LONG_PEAK_TARGET_MIB = 1536
LONG_SAMPLE_EVERY_MS = 300_000
"""Simulated ms between two resident-set samples of part (long)."""
HOUR_MS = 3_600_000
BENCH_TX_PER_S = 2.0
PROFILE = Path(__file__).resolve().parents[2] / "node" / "profiles" / "testnet.toml"
"""The shipped testnet profile (an editable checkout keeps ``node/`` beside ``rppsim/``)."""


def build_bench_scenario(
    nodes: int,
    validators: int,
    duration_ms: int,
    prover: str,
    tx_per_s: float = BENCH_TX_PER_S,
    telemetry: dict[str, Any] | None = None,
) -> Scenario:
    """A small-world (degree 8) network of ``nodes`` with the smoke scenario's link model
    (``telemetry``: the scenario's ``[telemetry]`` table, if any)."""
    data: dict[str, Any] = {
        "run": {"seed": 1, "duration_ms": duration_ms, "prover": prover, "name": "bench-sim"},
        "nodes": {"count": nodes, "validators": validators, "profile": PROFILE.name},
        "network": {
            "topology": "small-world",
            "degree": min(8, nodes - 1 - (nodes - 1) % 2),
            "rewire": 0.1,
            "link": {"latency_ms": [20, 80], "jitter_ms": 5, "bandwidth_mbps": 100},
        },
        "traffic": {"tx_per_s": tx_per_s},
    }
    if telemetry:
        data["telemetry"] = telemetry
    return parse_scenario(data, PROFILE.parent / "bench-sim.toml")


def compute_floor_ratio(
    costs: CryptoCosts, validators: int, duration_ms: int, heights: int, tx_per_s: float
) -> float:
    """The highest simulated/wall ratio libsodium allows for a run (transactions: the mean)."""
    transactions = round(tx_per_s * duration_ms / 1000.0)
    floor_s = costs.get_run_floor_s(validators, heights, transactions)
    return duration_ms / 1000.0 / floor_s if floor_s > 0 else float("inf")


def measure_ratio(
    nodes: int, validators: int, duration_ms: int, prover: str
) -> dict[str, float | int]:
    """Simulated ms per wall ms of one run (run folder not written), with its size. The
    judging of the run (checkers and guardrails, after the simulation) is left out of the
    wall time, as writing the run folder is: the figure is the simulator's."""
    from rppsim.sim.run import execute_run

    scenario = build_bench_scenario(nodes, validators, duration_ms, prover)
    start = time.perf_counter()
    result = execute_run(scenario, write=False)
    judging_s = float(result.summary["wall"]["verdicts_s"])
    wall_s = time.perf_counter() - start - judging_s
    heights = result.summary["final_heights"].values()
    counts = result.summary["counts"]
    return {
        "wall_s": wall_s,
        "ratio": duration_ms / 1000.0 / wall_s,
        "height": max(heights, default=0),
        "deliveries": int(counts["messages_delivered"]),
    }


def measure_memory_child(nodes: int, validators: int, duration_ms: int) -> int:
    """Run in this process and return the peak resident set in bytes (Linux: KiB·1024)."""
    from rppsim.sim.run import execute_run

    execute_run(build_bench_scenario(nodes, validators, duration_ms, "model"), write=False)
    return get_peak_rss_bytes()


def get_rss_bytes() -> int:
    """This process's resident set now (``/proc/self/statm``; the peak where /proc lacks it)."""
    statm = Path("/proc/self/statm")
    if statm.exists():
        return int(statm.read_text().split()[1]) * resource.getpagesize()
    return get_peak_rss_bytes()


def compute_growth_per_hour(samples: list[tuple[int, int]], after_ms: int = HOUR_MS) -> float:
    """Least-squares slope, in bytes per simulated hour, of (simulated ms, RSS bytes) samples
    taken at or after ``after_ms``; 0.0 with fewer than two such samples."""
    points = [(t, rss) for t, rss in samples if t >= after_ms]
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_r = sum(r for _, r in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    slope = sum((t - mean_t) * (r - mean_r) for t, r in points) / spread
    return slope * HOUR_MS


def measure_long_child(
    nodes: int, validators: int, duration_ms: int, sample_rate: float
) -> dict[str, Any]:
    """Run in this process, sampling the resident set every ``LONG_SAMPLE_EVERY_MS``
    simulated ms; the samples, the peak and the final height."""
    from rppsim.sim.run import execute_run

    telemetry: dict[str, Any] = {"chain_record": "retained"}
    if sample_rate == 0:
        telemetry["record_messages"] = False
    else:
        telemetry["message_sample_rate"] = sample_rate
    scenario = build_bench_scenario(
        nodes, validators, duration_ms, "model", telemetry=telemetry
    )
    samples: list[tuple[int, int]] = [(0, get_rss_bytes())]

    def on_progress(now_ms: int, height: int) -> None:
        if now_ms > 0 and now_ms % LONG_SAMPLE_EVERY_MS == 0:
            samples.append((now_ms, get_rss_bytes()))

    result = execute_run(scenario, write=False, progress=on_progress)
    heights = result.summary["final_heights"].values()
    return {
        "samples": samples,
        "peak": get_peak_rss_bytes(),
        "height": max(heights, default=0),
        "wall_s": float(result.summary["wall"]["wall_time_s"]),
    }


def measure_long(
    nodes: int, validators: int, duration_ms: int, sample_rate: float
) -> dict[str, Any]:
    """``measure_long_child`` in a fresh child process (its figures as JSON on stdout)."""
    command = [
        sys.executable,
        "-m",
        "rppsim.bench.sim",
        "--child-long",
        str(nodes),
        "--validators",
        str(validators),
        "--hours",
        repr(duration_ms / HOUR_MS),
        "--long-sample-rate",
        repr(sample_rate),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def get_peak_rss_bytes() -> int:
    """This process's peak resident set: ``VmHWM`` where /proc has it, else ``ru_maxrss``.

    Linux keeps ``ru_maxrss`` across fork and exec, so a child started by a big parent would
    report the parent's peak; ``VmHWM`` belongs to the process's own address space.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_memory(nodes: int, validators: int, duration_ms: int) -> tuple[int, float]:
    """(peak bytes, wall seconds) of a run of ``nodes`` in a fresh child process."""
    command = [
        sys.executable,
        "-m",
        "rppsim.bench.sim",
        "--child-memory",
        str(nodes),
        "--validators",
        str(validators),
        "--memory-sim-ms",
        str(duration_ms),
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return int(done.stdout.split()[-1]), wall


PARTS = ("flood", "ratio", "memory", "long")
"""The parts of the bench: (a) flood throughput, (b) the simulated/wall ratio, (c) memory,
(long) a long run's memory growth (issue 12 §1)."""
DEFAULT_PARTS = ("flood", "ratio", "memory")
"""The parts run without ``--parts`` (``long`` takes minutes: ask for it)."""


def share(text: str) -> float:
    """A number in [0, 1] (the share of messages whose rows are kept)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], found {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="rppsim bench sim", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parts",
        type=subset(PARTS),
        default=list(DEFAULT_PARTS),
        help="comma-separated: flood, ratio, memory, long (default: all but long)",
    )
    parser.add_argument("--messages", type=positive, default=2000, help="floods timed in part (a)")
    parser.add_argument("--sim-ms", type=positive, default=HOUR_MS, help="simulated ms of part (b)")
    parser.add_argument(
        "--real-sim-ms", type=positive, default=None, help="simulated ms of the real run (b)"
    )
    parser.add_argument("--no-real", action="store_true", help="skip the real-prover run (b)")
    parser.add_argument("--validators", type=positive, default=21, help="validators in (b) and (c)")
    parser.add_argument(
        "--memory-nodes",
        type=int_list(2),
        default=[1000, 10000],
        help="node counts of part (c), comma-separated",
    )
    parser.add_argument(
        "--memory-sim-ms", type=positive, default=6000, help="simulated ms of each memory run (c)"
    )
    parser.add_argument("--nodes", type=positive, default=100, help="nodes of part (long)")
    parser.add_argument(
        "--hours", type=positive_number, default=6.0, help="simulated hours of part (long)"
    )
    parser.add_argument(
        "--long-sample-rate",
        type=share,
        default=0.01,
        help="share of messages whose rows part (long) keeps (0: none)",
    )
    parser.add_argument("--child-memory", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-long", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def _row(table: Table, label: str, figure: str, target: str = "", ok: bool | None = None) -> None:
    table.add_row(label, figure, target, "" if ok is None else ("yes" if ok else "NO"))


def run_ratio_part(table: Table, args: argparse.Namespace) -> None:
    """Part (b): model, then real unless skipped or unavailable."""
    runs = [("model", args.sim_ms)]
    if not args.no_real:
        runs.append(("real", args.real_sim_ms or args.sim_ms))
    costs = measure_crypto_costs()
    for prover, sim_ms in runs:
        label = f"(b) 100 nodes, {args.validators} validators, {sim_ms / 1000:,.0f} s, {prover}"
        try:
            figures = measure_ratio(100, args.validators, sim_ms, prover)
        except (ImportError, RuntimeError) as error:
            _row(table, label, f"unavailable: {error}")
            continue
        floor = compute_floor_ratio(
            costs, args.validators, sim_ms, int(figures["height"]), BENCH_TX_PER_S
        )
        detail = (
            f"{figures['ratio']:,.1f}× ({figures['wall_s']:,.1f} s wall, "
            f"height {figures['height']}, {figures['deliveries']:,} deliveries; "
            f"libsodium floor ≤ {floor:,.0f}×)"
        )
        is_model = prover == "model"
        target = f"≥ {RATIO_TARGET:.0f}×" if is_model else "report"
        _row(table, label, detail, target, figures["ratio"] >= RATIO_TARGET if is_model else None)


def run_long_part(table: Table, args: argparse.Namespace) -> None:
    """Part (long): RSS after the first hour, growth per hour after it, peak."""
    duration_ms = round(args.hours * HOUR_MS)
    size = f"{args.nodes:,} nodes, {args.validators} validators, {args.hours:g} h simulated"
    figures = measure_long(args.nodes, args.validators, duration_ms, args.long_sample_rate)
    samples = [(int(t), int(rss)) for t, rss in figures["samples"]]
    mib = 2**20
    at_hour = next((rss for t, rss in samples if t >= HOUR_MS), samples[-1][1])
    detail = (
        f"{at_hour / mib:,.0f} MiB (height {figures['height']:,}, "
        f"{figures['wall_s']:,.0f} s wall, message rows sampled at {args.long_sample_rate:g})"
    )
    _row(table, f"(long) RSS after the first hour, {size}", detail)
    growth = compute_growth_per_hour(samples) / mib
    if args.hours > 1:
        target = f"≤ {LONG_GROWTH_TARGET_MIB_PER_H:g} MiB/h"
        ok = growth <= LONG_GROWTH_TARGET_MIB_PER_H
        _row(table, "(long) RSS growth per simulated hour after the first", f"{growth:,.1f} MiB/h",
             target, ok)  # fmt: skip
    else:
        _row(table, "(long) RSS growth per simulated hour after the first", "needs --hours > 1")
    peak = figures["peak"] / mib
    ok = peak <= LONG_PEAK_TARGET_MIB
    _row(table, "(long) peak RSS (judging included)", f"{peak:,.0f} MiB",
         f"≤ {LONG_PEAK_TARGET_MIB:,} MiB", ok)  # fmt: skip


def main(argv: list[str]) -> int:
    """Print the figures of the chosen parts beside their targets."""
    args = _parser().parse_args(argv)
    if args.child_memory is not None:
        print(measure_memory_child(args.child_memory, args.validators, args.memory_sim_ms))
        return 0
    if args.child_long is not None:
        duration_ms = round(args.hours * HOUR_MS)
        figures = measure_long_child(
            args.child_long, args.validators, duration_ms, args.long_sample_rate
        )
        print(json.dumps(figures))
        return 0
    parts = set(args.parts)
    table = Table(title="rppsim bench sim")
    for column in ("measurement", "figure", "target", "ok"):
        table.add_column(column, justify="left" if column == "measurement" else "right")
    if "flood" in parts:
        rate = measure_flood_throughput(n=1000, degree=8, messages=args.messages)
        label = "(a) flood deliveries / wall s, 1,000-node small-world, degree 8"
        _row(table, label, f"{rate:,.0f}", f"≥ {FLOOD_TARGET_PER_S:,}", rate >= FLOOD_TARGET_PER_S)
    if "ratio" in parts:
        run_ratio_part(table, args)
    if "memory" in parts:
        for nodes in args.memory_nodes:
            label = f"(c) peak RSS, {nodes:,} nodes, {args.memory_sim_ms / 1000:,.0f} s simulated"
            peak, wall = measure_memory(nodes, args.validators, args.memory_sim_ms)
            mib = peak / 2**20
            target = f"≤ {MEMORY_TARGET_MIB:,} MiB" if nodes == 1000 else "report"
            ok = mib <= MEMORY_TARGET_MIB if nodes == 1000 else None
            _row(table, label, f"{mib:,.0f} MiB ({wall:,.0f} s wall)", target, ok)
    if "long" in parts:
        run_long_part(table, args)
    console = Console()
    console.print(table)
    if "long" in parts:
        console.print(
            f"machine yardstick: sum(range(10**7)) took {measure_reference_seconds():.3f} s "
            "(compare runs on different machines by this figure)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
