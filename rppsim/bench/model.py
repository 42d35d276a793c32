"""``rppsim bench model``: the fast protocol model's wall time on one core (issue 12, part 2).

Target: 30 simulated days for 1,000 validators (about 518,000 heights at 5 s) in ≤ 60 s.
The scenario is built here: N nodes, all genesis validators, the testnet profile, 2 tx/s.
Printed beside it: the kernel's time per height, the frames' time, and the libsodium floor of
the *full* simulator for the same run (``rppsim.bench._floor``: the VRF and signature work
each height needs there, which the model replaces by a counter-based generator).
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rppsim.argtypes import OneLineParser, positive, positive_number
from rppsim.bench._floor import measure_crypto_costs
from rppsim.bench.vrf import measure_reference_seconds

TARGET_S = 60.0
TARGET_DAYS = 30.0
TARGET_VALIDATORS = 1000
PROFILE = Path(__file__).resolve().parents[2] / "node" / "profiles" / "testnet.toml"


def build_bench_scenario(validators: int, days: float, tx_per_s: float = 2.0):
    """The bench's scenario: ``validators`` nodes, all genesis validators, ``days`` long."""
    from rppsim.scenario import parse_scenario

    data = {
        "run": {
            "seed": 1,
            "duration_ms": int(days * 86_400_000),
            "prover": "model",
            "name": "bench-model",
            "engine": "fast",
        },
        "nodes": {"count": validators, "validators": validators, "profile": str(PROFILE)},
        "network": {"topology": "small-world", "degree": 4, "rewire": 0.1},
        "traffic": {"tx_per_s": tx_per_s},
    }
    return parse_scenario(data, str(PROFILE.parent / "bench-model.toml"))


def measure_model(validators: int, days: float) -> dict[str, float]:
    """Wall seconds of one model run, split into the kernel and the rest."""
    from rppsim.model import engine

    scenario = build_bench_scenario(validators, days)
    engine.run_model(scenario, duration_ms=60_000)  # load the compiled kernel
    kernel_s = [0.0]
    run_heights = engine.k.run_heights

    def timed(*args: object) -> None:
        start = time.perf_counter()
        run_heights(*args)
        kernel_s[0] += time.perf_counter() - start

    engine.k.run_heights = timed  # type: ignore[assignment]  # timing wrapper over the jitted kernel
    try:
        start = time.perf_counter()
        run = engine.run_model(scenario, duration_ms=int(days * 86_400_000))
        total = time.perf_counter() - start
    finally:
        engine.k.run_heights = run_heights
    heights = len(run.frames["blocks"])
    return {"total_s": total, "kernel_s": kernel_s[0], "heights": float(heights)}


def main(argv: list[str]) -> int:
    """Print the model's wall time beside the target, the yardstick and the floor."""
    parser = OneLineParser(prog="rppsim bench model", description=__doc__.splitlines()[0])
    parser.add_argument("--validators", type=positive, default=TARGET_VALIDATORS)
    parser.add_argument("--days", type=positive_number, default=TARGET_DAYS)
    args = parser.parse_args(argv)
    console = Console()
    figures = measure_model(args.validators, args.days)
    heights = int(figures["heights"])
    is_target = args.validators == TARGET_VALIDATORS and args.days == TARGET_DAYS
    table = Table(title=f"fast model: {args.validators} validators, {args.days:g} days, one core")
    for column in ("measurement", "figure", "target", "ok"):
        table.add_column(column, justify="right" if column != "measurement" else "left")
    ok = figures["total_s"] <= TARGET_S
    table.add_row(
        f"run ({heights:,} heights)",
        f"{figures['total_s']:.1f} s",
        f"≤ {TARGET_S:.0f} s" if is_target else "",
        ("yes" if ok else "NO") if is_target else "",
    )
    table.add_row(
        "kernel per height",
        f"{figures['kernel_s'] / max(heights, 1) * 1e6:.1f} µs ({figures['kernel_s']:.1f} s)",
        "",
        "",
    )
    table.add_row("setup and frames", f"{figures['total_s'] - figures['kernel_s']:.1f} s", "", "")
    costs = measure_crypto_costs()
    floor = costs.get_run_floor_s(args.validators, heights, int(args.days * 86_400 * 2))
    table.add_row("full simulator's libsodium floor for this run", f"{floor:,.0f} s", "", "")
    console.print(table)
    console.print(
        f"machine yardstick: sum(range(10**7)) took {measure_reference_seconds():.3f} s "
        "(compare runs on different machines by this figure)"
    )
    return 0
