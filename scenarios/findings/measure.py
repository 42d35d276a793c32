"""The figures of the findings table, read from run folders (pandas only, no rppsim import).

    python scenarios/findings/measure.py FINDING CHAIN_RUN_FOLDER FIX_RUN_FOLDER

prints one line per run with the figures of FINDING (the file stem without -chain/-fix, such
as ``dead-leader``). ``tests/test_findings.py`` runs every pair and checks these figures.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pandas as pd

GENESIS_BALANCE = 1_000_000_000
"""Balance of every validator account in the findings' genesis files."""


def read(run: Path, frame: str) -> pd.DataFrame:
    """One frame of a run folder."""
    return pd.read_parquet(Path(run) / f"{frame}.parquet")


def get_duration_ms(run: Path) -> int:
    """The run's simulated duration (``run_info``)."""
    info = read(run, "run_info").set_index("key")["value"]
    return int(info["duration_ms"])


def get_byzantine_nodes(run: Path) -> list[int]:
    """The byzantine nodes of the run (``nodes`` frame)."""
    nodes = read(run, "nodes")
    return sorted(int(n) for n in nodes.loc[nodes["byzantine"], "node"])


def count_rejections(run: Path, prefix: str) -> int:
    """Rejections whose reason starts with ``prefix``, summed over nodes (each node's counter
    is cumulative, so its largest sample counts)."""
    frame = read(run, "rejections")
    frame = frame[frame["reason"].str.startswith(prefix)]
    return int(frame.groupby(["reason", "node"])["count"].max().sum())


def get_last_ledger(run: Path) -> pd.DataFrame:
    """Each node's last sample of its own account, by node."""
    ledger = read(run, "ledger").sort_values(["node", "now_ms"])
    return ledger.groupby("node").last()


def measure_electorate_fork(run: Path) -> dict[str, object]:
    """Heights two honest nodes finalized differently, and the highest height finalized."""
    finalized = read(run, "block_finalized")
    hashes = finalized.groupby("height")["hash"].nunique()
    return {"forked_heights": int((hashes > 1).sum()), "top_height": int(finalized.height.max())}


def measure_dead_leader(run: Path) -> dict[str, object]:
    """Blocks finalized, and the longest time without a new height (until the run's end)."""
    first = read(run, "block_finalized").groupby("height")["finalized_ms"].min().sort_values()
    times = [0, *first.tolist(), get_duration_ms(run)]
    stalled = max(b - a for a, b in pairwise(times))
    return {"blocks": len(first), "longest_stall_s": round(stalled / 1000, 1)}


def get_proposer_share(run: Path, node: int) -> float:
    """The share of finalized blocks ``node`` proposed."""
    blocks = read(run, "blocks")
    return round(float((blocks["proposer"] == node).mean()), 3)


def measure_vrf_lie(run: Path) -> dict[str, object]:
    """The liar's share of the blocks and the declared-tier rejections."""
    liar = get_byzantine_nodes(run)[0]
    return {
        "liar": liar,
        "liar_block_share": get_proposer_share(run, liar),
        "blocks": len(read(run, "blocks")),
        "declared_tier_rejections": count_rejections(run, "vrf: declared tier"),
    }


def measure_committee_cap(run: Path) -> dict[str, object]:
    """Committee sizes per height (``electorates``) against the target."""
    sizes = read(run, "electorates").groupby("height").size()
    target = int(read(run, "vrf_rounds")["target_validator_count"].max())
    return {"target": target, "committee_min": int(sizes.min()), "committee_max": int(sizes.max())}


def measure_timetoke_merge(run: Path) -> dict[str, object]:
    """The forger's timetoke, largest power share of a committee, block share, the merges
    refused, and the honest validators the participation detectors named (``evidence``)."""
    forger = get_byzantine_nodes(run)[0]
    address = read(run, "nodes").set_index("node").loc[forger, "address"]
    electorates = read(run, "electorates")
    own = electorates[electorates["address"] == address]
    share = own["power"].astype(float) / own["total_power"].astype(float)
    hours = get_last_ledger(run).loc[forger, "timetoke_hours"]
    evidence = read(run, "evidence")
    accused = sorted(int(n) for n in set(evidence["offender"]) - {forger})
    return {
        "forger": forger,
        "forger_hours": int(hours),
        "forger_max_power_share": round(float(share.max()), 3),
        "forger_block_share": get_proposer_share(run, forger),
        "merge_rejections": count_rejections(run, "timetoke:"),
        "honest_validators_accused": accused,
    }


def measure_bootstrap(run: Path) -> dict[str, object]:
    """Tiers and consensus successes of the non-validator stake holders (nodes 4–7), and the
    committee sizes."""
    last = get_last_ledger(run)
    others = last.loc[[4, 5, 6, 7]]
    sizes = read(run, "electorates").groupby("height").size()
    return {
        "tiers_4_7": [int(t) for t in others["tier"]],
        "successes_4_7": [int(s) for s in others["consensus_success"]],
        "committee_min": int(sizes.min()),
        "committee_max": int(sizes.max()),
    }


def measure_treasury(run: Path) -> dict[str, object]:
    """What the four validators were paid: balance over genesis at their last sample."""
    last = get_last_ledger(run).loc[[0, 1, 2, 3]]
    paid = int((last["balance"] - GENESIS_BALANCE).sum())
    return {"validator_rewards_paid": paid, "blocks": len(read(run, "blocks"))}


def measure_fallback_metric(run: Path) -> dict[str, object]:
    """Telemetry samples flagging a fallback, those flagged with accepted validators (the
    fallback unused), and the samples whose pool had a threshold miss."""
    snapshots = read(run, "snapshots")
    flagged = snapshots["vrf_fallback_selected"].fillna(False).astype(bool)
    accepted = snapshots["vrf_accepted_validators"].fillna(0) > 0
    missed = snapshots["vrf_pool_entries"] > snapshots["vrf_accepted_validators"]
    return {
        "samples": len(snapshots),
        "flagged_fallback": int(flagged.sum()),
        "flagged_with_accepted": int((flagged & accepted).sum()),
        "samples_with_misses": int(missed.fillna(False).sum()),
    }


MEASURES: dict[str, Callable[[Path], dict[str, object]]] = {
    "electorate-fork": measure_electorate_fork,
    "dead-leader": measure_dead_leader,
    "vrf-lie": measure_vrf_lie,
    "committee-cap": measure_committee_cap,
    "timetoke-merge": measure_timetoke_merge,
    "bootstrap": measure_bootstrap,
    "treasury": measure_treasury,
    "fallback-metric": measure_fallback_metric,
}
"""Finding name (scenario stem without -chain / -fix) → its measurement."""


def main(argv: list[str]) -> int:
    """Print the figures of one finding's chain and fix runs."""
    if len(argv) != 3 or argv[0] not in MEASURES:
        print(f"usage: measure.py {{{','.join(MEASURES)}}} CHAIN_RUN FIX_RUN", file=sys.stderr)
        return 2
    name, chain, fix = argv
    for label, run in (("chain", chain), ("fix", fix)):
        print(f"{name}-{label}: {MEASURES[name](Path(run))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
