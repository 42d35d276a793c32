"""The ``equivocate`` attack (rppsim/sim/byzantine.py): with byzantine power ≥ 1/3 two honest
nodes finalize different blocks of one height; below 1/3 every honest node stays on one chain."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rppsim.node.blocks import compute_block_time_s
from rppsim.scenario import Scenario, parse_scenario
from rppsim.sim.byzantine import build_variant_block, compute_halves, compute_variant_timestamp

from .conftest import assert_safe, build_simulation, run_simulation

PROFILE = Path(__file__).parents[2] / "node" / "profiles" / "testnet.toml"


def make_scenario(
    tmp_path: Path, *, n: int, validators: int, byzantine: list[int], seed: int = 1
) -> Scenario:
    """A complete graph of ``n`` nodes for 30 s with traffic; ``byzantine`` equivocate."""
    text = f"""
[run]
seed = {seed}
duration_ms = 30_000
prover = "model"

[nodes]
count = {n}
validators = {validators}
profile = "{PROFILE.as_posix()}"

[network]
topology = "complete"

[network.link]
latency_ms = [20, 60]

[traffic]
tx_per_s = 2.0
"""
    if byzantine:
        text += f'\n[[byzantine]]\nkind = "equivocate"\nnodes = {byzantine}\n'
    path = tmp_path / f"equivocate-{n}-{validators}-{len(byzantine)}.toml"
    path.write_text(text, encoding="utf-8")
    return parse_scenario(tomllib.loads(text), path)


def get_first_leader(tmp_path: Path, n: int, validators: int) -> int:
    """The proposer of height 1 in the honest run (the same keys lead in the attacked run)."""
    sim = build_simulation(make_scenario(tmp_path, n=n, validators=validators, byzantine=[]))
    sim.advance(12_000)
    blocks = sim.recorder.frames()["blocks"]
    return int(blocks.loc[blocks["height"] == 1, "proposer"].iloc[0])


def get_forked_heights(frames: dict[str, pd.DataFrame], byzantine: list[int]) -> list[int]:
    """Heights at which honest nodes finalized different blocks."""
    finalized = frames["block_finalized"]
    honest = finalized[~finalized["node"].isin(byzantine)]
    hashes = honest.groupby("height")["hash"].nunique()
    return [int(h) for h in hashes[hashes > 1].index]


def test_variant_timestamp_stays_in_the_second() -> None:
    for t in (0, 1, 998, 999, 1000, 5_999, 123_456):
        v = compute_variant_timestamp(t)
        assert v != t and abs(v - t) == 1
        assert compute_block_time_s(0, v) == compute_block_time_s(0, t)


@given(st.sets(st.integers(0, 40), max_size=30), st.integers(0, 40), st.integers(0, 2**32))
def test_halves_split_validators_and_full_nodes_evenly(
    honest: set[int], validators: int, seed: int
) -> None:
    a, b = compute_halves(honest, validators, np.random.default_rng(seed))
    assert set(a) | set(b) == honest and not set(a) & set(b)
    for part in (lambda v: v < validators, lambda v: v >= validators):
        assert abs(sum(map(part, a)) - sum(map(part, b))) <= 1
    again = compute_halves(honest, validators, np.random.default_rng(seed))
    assert again == (a, b)


def test_equivocate_is_a_byzantine_kind(tmp_path: Path) -> None:
    scenario = make_scenario(tmp_path, n=6, validators=4, byzantine=[0, 1])
    assert [b.kind for b in scenario.byzantine] == ["equivocate"]


def test_two_of_four_equivocating_break_safety(tmp_path: Path) -> None:
    leader = get_first_leader(tmp_path, 6, 4)
    byzantine = sorted({leader, (leader + 1) % 4})
    sim = run_simulation(make_scenario(tmp_path, n=6, validators=4, byzantine=byzantine))
    frames = sim.recorder.frames()
    assert sim.equivocation is not None and (1, 0) in sim.equivocation.attacked
    assert 1 in get_forked_heights(frames, byzantine)
    votes = frames["votes"]
    double = votes[(votes["height"] == 1) & (votes["round"] == 0) & (votes["kind"] == "precommit")]
    for member in byzantine:
        assert double.loc[double["voter"] == member, "block_hash"].nunique() == 2


@pytest.mark.parametrize(("n", "validators", "count"), [(6, 4, 1), (10, 7, 2)])
def test_equivocation_below_a_third_stays_safe(
    tmp_path: Path, n: int, validators: int, count: int
) -> None:
    leader = get_first_leader(tmp_path, n, validators)
    byzantine = sorted({(leader + k) % validators for k in range(count)})
    sim = run_simulation(make_scenario(tmp_path, n=n, validators=validators, byzantine=byzantine))
    frames = sim.recorder.frames()
    assert sim.equivocation is not None and (1, 0) in sim.equivocation.attacked
    assert_safe(frames, honest=lambda v: v not in byzantine)
    finalized = frames["block_finalized"]
    assert finalized[~finalized["node"].isin(byzantine)]["height"].max() >= 3


def test_variant_block_differs_only_in_its_timestamp(tmp_path: Path) -> None:
    sim = build_simulation(make_scenario(tmp_path, n=6, validators=4, byzantine=[]))
    sim.advance(12_000)
    block = sim.slots[0].node.chain[0].block  # type: ignore[union-attr]
    variant = build_variant_block(block)
    assert variant.hash != block.hash
    assert variant.header.state_root == block.header.state_root
    assert variant.transactions == block.transactions and variant.proofs == block.proofs
