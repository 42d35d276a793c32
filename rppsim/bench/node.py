"""``rppsim bench node``: finalized blocks and handled messages per wall second, in-memory cluster.

Each size runs an ``InMemoryCluster`` (chain rules, 50 ms latency, 1 tx/s) for a span of
simulated time; every node does every check itself, and only pure verifications (VRF,
signatures) are memoized process-wide by the exact bytes verified. Targets (the issue's
budget): 7 validators ≥ 100 finalized blocks/s; 100 validators ≥ 5 finalized blocks/s
(25× real time at 5 s blocks, with ~30,000 message deliveries per block).

Beside each figure the bench prints the libsodium floor (``_floor.py``): the most blocks/s
this machine allows if everything but the protocol's own cryptography cost nothing.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from rppsim.argtypes import OneLineParser, natural, positive
from rppsim.bench._floor import CryptoCosts, measure_crypto_costs
from rppsim.testing.cluster import InMemoryCluster

TARGETS = {7: 100.0, 100: 5.0}
"""Finalized blocks per wall second the issue asks for, by validator count."""
DEFAULT_SIMULATED_S = {7: 600, 100: 40}


@dataclass(frozen=True, slots=True)
class NodeBenchResult:
    """One cluster run: what was finalized and delivered, and how long it took."""

    validators: int
    simulated_s: int
    setup_s: float
    wall_s: float
    cpu_s: float
    blocks: int
    messages: int
    transactions: int = 0

    def get_floor_blocks_per_s(self, costs: CryptoCosts) -> float:
        """The most finalized blocks per wall second libsodium allows for this run."""
        floor_s = costs.get_run_floor_s(self.validators, self.blocks, self.transactions)
        return self.blocks / floor_s if floor_s > 0 else 0.0

    @property
    def blocks_per_s(self) -> float:
        """Finalized heights per wall second of the run (set-up excluded)."""
        return self.blocks / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def blocks_per_cpu_s(self) -> float:
        """Finalized heights per CPU second of this process (robust to a loaded machine)."""
        return self.blocks / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def messages_per_s(self) -> float:
        """Message deliveries handled by nodes per wall second."""
        return self.messages / self.wall_s if self.wall_s > 0 else 0.0


def measure_cluster(
    validators: int, simulated_s: int, seed: int = 1, tx_rate_per_s: float = 1.0
) -> NodeBenchResult:
    """Build a cluster, run it for ``simulated_s`` simulated seconds and time the run."""
    start = time.perf_counter()
    cluster = InMemoryCluster(validators=validators, seed=seed, tx_rate_per_s=tx_rate_per_s)
    built, cpu = time.perf_counter(), time.process_time()
    cluster.run(until_ms=simulated_s * 1000)
    done, cpu_done = time.perf_counter(), time.process_time()
    chains = {tuple(cluster.finalized_chain(i)) for i in range(validators)}
    if len(chains) != 1:
        raise AssertionError("nodes disagree on the finalized chain")
    return NodeBenchResult(
        validators=validators,
        simulated_s=simulated_s,
        setup_s=built - start,
        wall_s=done - built,
        cpu_s=cpu_done - cpu,
        blocks=len(cluster.finalized_chain(0)),
        messages=cluster.delivered,
        transactions=sum(cluster.nonces.values()),
    )


def profile_cluster(validators: int, simulated_s: int, seed: int, top: int) -> str:
    """The ``top`` functions by cumulative time of one run (``python -m cProfile`` style)."""
    profiler = cProfile.Profile()
    profiler.enable()
    measure_cluster(validators, simulated_s, seed)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str]) -> int:
    """Print blocks/s and messages/s per cluster size beside the targets."""
    parser = OneLineParser(prog="rppsim bench node", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--validators", type=positive, nargs="+", default=[7, 100], help="cluster sizes to run"
    )
    parser.add_argument(
        "--simulated-s",
        type=positive,
        default=None,
        help="simulated seconds per run (default: 600 for 7 validators, 40 for 100)",
    )
    parser.add_argument("--seed", type=natural, default=1, help="cluster seed")
    parser.add_argument("--profile", type=natural, default=0, help="also print the top N functions")
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 100))
    table = Table(title="Node, in-memory driver (chain rules, 50 ms latency, 1 tx/s)")
    columns = ("nodes", "sim", "blocks", "blocks/s", "per CPU s", "msgs/s", "msgs/block", "floor")
    for column in (*columns, "target", "ok"):
        table.add_column(column, justify="right")
    costs = measure_crypto_costs()
    for count in args.validators:
        seconds = args.simulated_s or DEFAULT_SIMULATED_S.get(count, 60)
        result = measure_cluster(count, seconds, args.seed + count)
        target = TARGETS.get(count)
        table.add_row(
            str(count),
            f"{seconds} s",
            str(result.blocks),
            f"{result.blocks_per_s:,.1f}",
            f"{result.blocks_per_cpu_s:,.1f}",
            f"{result.messages_per_s:,.0f}",
            f"{result.messages / max(result.blocks, 1):,.0f}",
            f"{result.get_floor_blocks_per_s(costs):,.1f}",
            "" if target is None else f"≥ {target:g}",
            "" if target is None else ("yes" if result.blocks_per_s >= target else "NO"),
        )
        if args.profile:
            console.print(profile_cluster(count, seconds, args.seed + count, args.profile))
    console.print(table)
    console.print(
        "blocks/s: finalized heights per wall second of the run (set-up excluded); "
        "per CPU s: the same per CPU second of this process (compare runs on a busy machine); "
        "floor: the most blocks/s libsodium allows here — per height, one VRF prove "
        f"({costs.vrf_prove_s * 1e6:,.0f} µs) and verify ({costs.vrf_verify_s * 1e6:,.0f} µs) "
        f"per validator, sign ({costs.sign_s * 1e6:,.0f} µs) and verify "
        f"({costs.sign_verify_s * 1e6:,.0f} µs) per vote, proposal and transaction"
    )
    return 0
