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

from rppsim.checks import evaluate_checkers
from rppsim.checks.conduct import evaluate_conduct
from rppsim.errors import UserError
from rppsim.node.blocks import compute_block_time_s
from rppsim.node.messages import Commit, Transaction
from rppsim.scenario import Scenario, load_scenario, parse_scenario
from rppsim.sim.byzantine import (
    Censor,
    Eclipse,
    Replay,
    Spam,
    SyncPoison,
    build_variant_block,
    compute_halves,
    compute_variant_timestamp,
)
from rppsim.sim.byzantine.coalition import compute_allies
from rppsim.sim.byzantine.rebuild import corrupt_uptime_proof
from rppsim.sim.byzantine.vrf_lie import GRIND_THRESHOLD
from rppsim.sim.kernel import Simulation

from .conftest import assert_safe, build_simulation, run_simulation

PROFILE = Path(__file__).parents[2] / "node" / "profiles" / "testnet.toml"
ATTACKS = Path(__file__).parents[2] / "scenarios" / "attacks"


def make_scenario(
    tmp_path: Path, *, n: int, validators: int, byzantine: list[int], seed: int = 1
) -> Scenario:
    """A complete graph of ``n`` nodes for 30 s with traffic; ``byzantine`` equivocate."""
    table = f'[[byzantine]]\nkind = "equivocate"\nnodes = {byzantine}\n' if byzantine else ""
    return make_attack(tmp_path, table, n=n, validators=validators, seed=seed, rules="")


def get_first_leader(tmp_path: Path, n: int, validators: int, height: int = 1) -> int:
    """The proposer of ``height`` in the honest run (the same keys lead the attacked run up
    to the first height the attack changes)."""
    sim = build_simulation(make_scenario(tmp_path, n=n, validators=validators, byzantine=[]))
    sim.advance(7_000 + 5_000 * height)
    blocks = sim.recorder.frames()["blocks"]
    return int(blocks.loc[blocks["height"] == height, "proposer"].iloc[0])


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


# --------------------------------------------------------------------------------------------
# The other kinds (rppsim/sim/byzantine/*.py), each on a complete graph of model-prover nodes.


def make_attack(
    tmp_path: Path,
    byzantine: str,
    *,
    n: int = 8,
    validators: int = 7,
    seed: int = 1,
    duration_ms: int = 30_000,
    rules: str = "rotate_leader_on_round_change = true",
    extra: str = "",
) -> Scenario:
    """``n`` nodes on a complete graph with traffic, and the given ``[[byzantine]]`` tables."""
    text = f"""
[run]
seed = {seed}
duration_ms = {duration_ms}
prover = "model"

[rules]
{rules}

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
{extra}
{byzantine}
"""
    path = tmp_path / f"attack-{abs(hash(text))}.toml"
    path.write_text(text, encoding="utf-8")
    return parse_scenario(tomllib.loads(text), path)


def get_final_rejections(frames: dict[str, pd.DataFrame]) -> pd.Series:
    """Each reason's count summed over the nodes' end-of-run totals."""
    rejections = frames["rejections"]
    final = rejections[rejections["now_ms"] == rejections["now_ms"].max()]
    return final.groupby("reason")["count"].sum()


def get_proposers(sim: Simulation) -> list[int]:
    """The proposer of each height node 0 finalized."""
    return [sim.index[c.block.header.proposer] for c in sim.slots[0].node.chain]


def test_double_sign_votes_for_a_real_rival_block_and_is_slashed(tmp_path: Path) -> None:
    byzantine = '[[byzantine]]\nkind = "double-sign"\nnodes = [2]\nat_ms = 5_000\n'
    sim = run_simulation(make_attack(tmp_path, byzantine))
    frames = sim.recorder.frames()
    votes = frames["votes"]
    signed = votes[votes["voter"] == 2]
    pairs = signed.groupby(["height", "round", "kind"])["block_hash"].nunique()
    assert (pairs == 2).sum() >= 2
    chain = {c.block.header.height: c.block for c in sim.slots[0].node.chain}
    height = int(pairs[pairs == 2].index[0][0])
    hashes = set(signed.loc[signed["height"] == height, "block_hash"])
    assert hashes == {chain[height].hash, build_variant_block(chain[height]).hash}
    assert (signed["receivers"] < sim.scenario.nodes.count - 1).all()  # halves, not floods
    evidence = frames["evidence"]
    assert {"double_sign_prevote", "double_sign_precommit"} & set(
        evidence.loc[evidence["offender"] == 2, "kind"]
    )
    for slot in sim.slots:
        account = slot.node.ledger.get_account(sim.addresses[2])
        assert account.stake == 900 and account.tier == 0
    verdicts = evaluate_checkers(frames, sim.scenario, only=("accountability",))
    assert verdicts[0].passed is True and "missed" in verdicts[0].message


def test_a_vote_withholder_is_detected_and_falls_behind(tmp_path: Path) -> None:
    byzantine = '[[byzantine]]\nkind = "withhold-votes"\nnodes = [3]\n'
    sim = run_simulation(make_attack(tmp_path, byzantine, duration_ms=40_000))
    frames = sim.recorder.frames()
    assert 3 not in set(frames["votes"]["voter"])
    evidence = frames["evidence"]
    assert set(evidence["offender"]) == {3}
    assert {"censorship_prevote", "censorship_precommit", "inactivity"} <= set(evidence["kind"])
    ledger = sim.slots[0].node.ledger
    success = {
        i: ledger.get_account(sim.addresses[i]).reputation.consensus_success for i in range(7)
    }
    assert success[3] < min(v for i, v in success.items() if i != 3)
    rows = frames["ledger"]
    last = rows.sort_values("now_ms").groupby("node").tail(1).set_index("node")
    honest = last.loc[[0, 1, 2, 4, 5, 6]]
    assert last.loc[3, "consensus_success"] < honest["consensus_success"].min()
    assert last.loc[3, "score"] < honest["score"].min()


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("state-root", "proposal: state root mismatch"),
        ("transaction", "rejected: invalid signature"),
        ("certificate", "proposal: certificate below quorum"),
    ],
)
def test_an_invalid_block_is_rejected_by_reason_and_the_round_changes(
    tmp_path: Path, mode: str, reason: str
) -> None:
    height = 2 if mode == "certificate" else 1  # height 1 carries no certificate
    leader = get_first_leader(tmp_path, 8, 7, height)
    byzantine = f'[[byzantine]]\nkind = "invalid-block"\nmode = "{mode}"\nnodes = [{leader}]\n'
    sim = run_simulation(make_attack(tmp_path, byzantine))
    frames = sim.recorder.frames()
    rejected = get_final_rejections(frames)
    count = int(rejected[[reason in r for r in rejected.index]].sum())
    assert count >= 6  # every other validator, at least once
    blocks = frames["blocks"]
    assert not (blocks.loc[blocks["height"] >= height, "proposer"] == leader).any()
    assert blocks.loc[blocks["height"] == height, "round"].item() > 0
    assert blocks["height"].max() >= 3
    assert_safe(frames)


@pytest.mark.parametrize(("mode", "reason"), [("tamper", "invalid proof"), ("oversized", "size")])
def test_invalid_proofs_are_rejected_before_any_block_carries_them(
    tmp_path: Path, mode: str, reason: str
) -> None:
    leader = get_first_leader(tmp_path, 8, 7)
    byzantine = f'[[byzantine]]\nkind = "invalid-proof"\nmode = "{mode}"\nnodes = [{leader}]\n'
    sim = run_simulation(make_attack(tmp_path, byzantine))
    frames = sim.recorder.frames()
    rejected = get_final_rejections(frames)
    proofs = rejected[[r.startswith("proposal: transaction proof") for r in rejected.index]]
    assert len(proofs) and all(reason in r for r in proofs.index) and proofs.sum() >= 6
    assert not (frames["blocks"]["proposer"] == leader).any()
    limit = sim.config.max_proof_size_bytes
    assert (frames["proofs"]["bytes"] <= limit).all()


def test_corrupted_uptime_proofs_and_commits_are_rejected(tmp_path: Path) -> None:
    """The proofs a 30 s run does not show: an uptime claim (600 s cadence), and a commit the
    byzantine node answers a sync request with."""
    byzantine = '[[byzantine]]\nkind = "invalid-proof"\nnodes = [0]\n'
    sim = build_simulation(make_attack(tmp_path, byzantine))
    sim.advance(25_000)
    node = sim.slots[0].node
    assert sim.attacks is not None and node.height >= 2
    fresh = sim._new_node(7)  # never started: it can only catch up by commits
    fresh.on_message(25_000, node.address, node.chain[0])
    assert fresh.height == 1
    commit = sim.attacks.on_send(sim, 0, 25_000, node.chain[1])
    assert commit.block.proofs != node.chain[1].block.proofs
    fresh.on_message(25_000, node.address, commit)
    assert fresh.height == 1
    assert any(r.startswith("commit: transaction proof: invalid proof") for r in fresh.rejections)
    # its invalid proposals got node 0 slashed (consensus_enforcement): it claims no uptime
    assert node._uptime_claim(3_600_000) is None
    claim = sim.slots[1].node._uptime_claim(3_600_000)
    assert claim is not None and claim.proof is not None
    tampered = corrupt_uptime_proof(claim, "tamper", sim.config.max_proof_size_bytes)
    fresh.on_message(3_600_000, node.address, tampered)
    oversized = corrupt_uptime_proof(claim, "oversized", sim.config.max_proof_size_bytes)
    fresh.on_message(3_600_000, node.address, oversized)
    assert fresh.rejections["uptime: invalid proof"] == 1
    assert any(r.startswith("uptime: proof size gate failed") for r in fresh.rejections)


@pytest.mark.parametrize("mode", ["inflate-tier", "inflate-hours"])
def test_an_inflated_vrf_submission_wins_the_lead_unless_the_ledger_checks_it(
    tmp_path: Path, mode: str
) -> None:
    byzantine = f'[[byzantine]]\nkind = "vrf-lie"\nmode = "{mode}"\nnodes = [5]\n'
    rotate = "rotate_leader_on_round_change = true\n"
    shares = {}
    for check in ("false", "true"):
        rules = f"{rotate}check_declared_tier = {check}"
        sim = run_simulation(make_attack(tmp_path, byzantine, rules=rules, duration_ms=40_000))
        proposers = get_proposers(sim)[1:]  # height 1's leader comes from genesis order
        shares[check] = proposers.count(5) / len(proposers)
        lies = get_final_rejections(sim.recorder.frames()).get(
            "vrf: declared tier or hours differ from the ledger", 0
        )
        assert (lies >= 6) == (check == "true")
    assert shares["false"] >= 0.8 and shares["true"] <= 1 / 7


def test_a_forged_vrf_proof_is_rejected_under_either_rule(tmp_path: Path) -> None:
    byzantine = '[[byzantine]]\nkind = "vrf-lie"\nmode = "forged-proof"\nnodes = [5]\n'
    sim = run_simulation(make_attack(tmp_path, byzantine, duration_ms=40_000))
    assert get_final_rejections(sim.recorder.frames())["vrf: invalid VRF proof"] >= 6 * 6
    assert get_proposers(sim)[1:].count(5) <= 1


def test_a_grinder_is_elected_only_with_favourable_randomness(tmp_path: Path) -> None:
    byzantine = '[[byzantine]]\nkind = "vrf-lie"\nmode = "grind"\nnodes = [5]\n'
    sim = run_simulation(make_attack(tmp_path, byzantine, duration_ms=50_000))
    grinder = sim.addresses[5]
    carried = []
    for commit in sim.slots[0].node.chain:
        block = commit.block
        if block.header.proposer != grinder:
            own = [m for m in block.vrf_submissions if m.address == grinder]
            carried.append(own[0].randomness if own else None)
    present = [r for r in carried if r is not None]
    assert present and all(r < GRIND_THRESHOLD for r in present)
    assert len(present) < len(carried)  # withheld at the other heights


def test_censored_transactions_wait_for_an_honest_leader(tmp_path: Path) -> None:
    censors, senders = [1, 4], list(range(12))
    byzantine = f'[[byzantine]]\nkind = "censor"\nnodes = {censors}\nsenders = {senders}\n'
    sim = build_simulation(make_attack(tmp_path, byzantine, duration_ms=60_000))
    published: dict[str, int] = {}
    publish = sim._publish

    def record(i: int, at_ms: int, topic: str, message: object) -> None:
        if isinstance(message, Transaction):
            published.setdefault(message.hash, at_ms)
        publish(i, at_ms, topic, message)

    sim._publish = record  # type: ignore[method-assign]
    sim.run()
    censored = {sim.wallets[w].address for w in senders}
    included: dict[str, tuple[int, int]] = {}  # tx hash → (block time, proposer)
    for commit in sim.slots[0].node.chain:
        block = commit.block
        proposer = sim.index[block.header.proposer]
        for tx in block.transactions:
            assert not (tx.sender in censored and proposer in censors)
            included[tx.hash] = (block.header.timestamp_ms, proposer)
    censor_blocks = [t for t, p in set(included.values()) if p in censors]
    assert censor_blocks, "a censor led some height"
    skipped = {
        tx_hash
        for tx_hash, (t_in, _) in included.items()
        if any(published[tx_hash] < t - 500 and t < t_in for t in censor_blocks)
    }
    senders_of = {
        tx.hash: tx.sender for c in sim.slots[0].node.chain for tx in c.block.transactions
    }
    assert skipped and all(senders_of[h] in censored for h in skipped)  # only censored ones wait
    assert sum(senders_of[h] in censored for h in included) >= 20
    assert any(isinstance(b, Censor) and b.dropped > 0 for b in sim.attacks.behaviours)


def test_replayed_messages_are_rejected_and_change_nothing(tmp_path: Path) -> None:
    byzantine = '[[byzantine]]\nkind = "replay"\nnodes = [3]\ndelay_ms = 6_000\n'
    honest = run_simulation(make_attack(tmp_path, ""))
    replayed = run_simulation(make_attack(tmp_path, byzantine))
    assert replayed.slots[0].node.finalized_chain() == honest.slots[0].node.finalized_chain()
    frames = replayed.recorder.frames()
    assert frames["evidence"].empty
    before, after = get_final_rejections(honest.recorder.frames()), get_final_rejections(frames)
    for reason in (
        "vote: vote references an already finalized height",
        "commit: for a finalized height",
    ):
        assert after[reason] > before.get(reason, 0) + 6
    (replay,) = replayed.attacks.behaviours
    assert isinstance(replay, Replay) and replay.replayed > 10


def test_spam_fills_the_mempools_and_bad_signatures_are_refused(tmp_path: Path) -> None:
    byzantine = '[[byzantine]]\nkind = "spam"\nnodes = [7]\nrate_per_s = 40.0\nat_ms = 5_000\n'
    extra = "\n[params]\nmempool_limit = 256\n"
    sim = run_simulation(make_attack(tmp_path, byzantine, extra=extra))
    rejected = get_final_rejections(sim.recorder.frames())
    assert rejected["transaction: mempool full"] > 100
    assert rejected["transaction: invalid signature"] > 100
    assert "transaction: transaction already queued" not in rejected
    assert rejected["propose: transaction invalid_nonce"] > 100  # leaders drop what waits
    pending = [len(s.node.mempool.transactions()) for s in sim.slots if s.node is not None]
    assert max(pending[:7]) == 256
    (spam,) = sim.attacks.behaviours
    assert isinstance(spam, Spam) and 0.15 < spam.invalid / spam.sent < 0.35


# --------------------------------------------------------------------------------------------
# Eclipse, sync poisoning and coalitions (eclipse.py, sync_poison.py, coalition.py).


def make_ring_attack(tmp_path: Path, byzantine: str, *, duration_ms: int = 40_000) -> Scenario:
    """``make_attack`` on a ring of 8 nodes (node k's neighbours are k ± 1)."""
    scenario = make_attack(tmp_path, byzantine, duration_ms=duration_ms)
    text = Path(scenario.source).read_text(encoding="utf-8")
    text = text.replace('topology = "complete"', 'topology = "ring"\ndegree = 2')
    path = tmp_path / "ring.toml"
    path.write_text(text, encoding="utf-8")
    return parse_scenario(tomllib.loads(text), path)


def test_an_eclipsed_node_falls_behind_and_catches_up(tmp_path: Path) -> None:
    byzantine = (
        '[[byzantine]]\nkind = "eclipse"\nnodes = [2, 4]\nvictims = [3]\n'
        "at_ms = 8_000\nuntil_ms = 32_000\n"
    )
    scenario = make_ring_attack(tmp_path, byzantine, duration_ms=50_000)
    sim = build_simulation(scenario)
    eclipse = sim.attacks.behaviours[0]  # type: ignore[union-attr]
    assert isinstance(eclipse, Eclipse) and int(eclipse.arcs.sum()) == 4
    sim.advance(8_000)
    stalled = sim.slots[3].node.height  # type: ignore[union-attr]
    sim.advance(31_000)
    assert sim.slots[3].node.height == stalled  # type: ignore[union-attr]
    assert sim.slots[0].node.height >= stalled + 2  # type: ignore[union-attr]
    sim.advance(50_000)
    heights = {slot.node.height for slot in sim.slots}  # type: ignore[union-attr]
    assert len(heights) <= 2 and max(heights) - sim.slots[3].node.height <= 1  # type: ignore[union-attr]
    sim.finish()
    frames = sim.recorder.frames()
    assert_safe(frames, honest=lambda v: v not in (2, 4))
    (lag,) = evaluate_conduct(frames, sim.scenario, only=["lag"])
    assert lag.passed is False and lag.node == 3 and 8_000 < (lag.time_ms or 0) < 32_000


def test_without_the_eclipse_the_same_run_has_no_lag(tmp_path: Path) -> None:
    sim = run_simulation(make_ring_attack(tmp_path, ""))
    (lag,) = evaluate_conduct(sim.recorder.frames(), sim.scenario, only=["lag"])
    assert lag.passed is True


def _chain_commit(sim: Simulation, height: int) -> Commit:
    return sim.slots[0].node.chain[height - 1]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("forgery", "reason"),
    [
        ("certificate", "commit: invalid vote in certificate"),
        ("minority", "commit: certificate below quorum"),
        ("outsiders", "commit: invalid vote in certificate"),
        ("parent", "commit: block does not extend the tip"),
    ],
)
def test_every_forged_commit_is_rejected_by_reason(
    tmp_path: Path, forgery: str, reason: str
) -> None:
    byzantine = f'[[byzantine]]\nkind = "sync-poison"\nmode = "{forgery}"\nnodes = [1]\n'
    sim = build_simulation(make_attack(tmp_path, byzantine))
    sim.advance(16_000)
    poison = sim.attacks.behaviours[0]  # type: ignore[union-attr]
    assert isinstance(poison, SyncPoison)
    lagging = sim._new_node(5)  # a fresh node at genesis: it lacks every commit
    real = _chain_commit(sim, 1)
    forged = poison.send(sim, 1, 16_000, real)
    assert isinstance(forged, Commit) and forged != real
    before = lagging.height
    lagging.on_message(16_000, sim.addresses[1], forged)
    assert lagging.height == before and lagging.rejections[reason] == 1
    lagging.on_message(16_000, sim.addresses[2], real)  # an honest peer's copy is adopted
    assert lagging.height == 1


def test_a_poisoned_lagging_node_rejects_forgeries_and_catches_up(tmp_path: Path) -> None:
    scenario = load_scenario(ATTACKS / "sync-poison.toml")
    sim = run_simulation(scenario)
    poison = sim.attacks.behaviours[0]  # type: ignore[union-attr]
    assert isinstance(poison, SyncPoison) and sum(poison.forged.values()) >= 2
    victim = sim.slots[9].node
    rejected = {r: c for r, c in victim.rejections.items() if r.startswith("commit:")}  # type: ignore[union-attr]
    assert sum(rejected.values()) >= sum(poison.forged.values()) - 1
    assert victim.height == sim.slots[5].node.height  # type: ignore[union-attr]
    assert_safe(sim.recorder.frames(), honest=lambda v: v not in (0, 1))


def test_coalition_entries_share_their_allies(tmp_path: Path) -> None:
    byzantine = (
        "".join(
            f'[[byzantine]]\nkind = "{kind}"\nnodes = [{node}]\ncoalition = "{name}"\n'
            for kind, node, name in (
                ("withhold-votes", 1, "a"),
                ("vrf-lie", 2, "a"),
                ("replay", 3, "b"),
            )
        )
        + '[[byzantine]]\nkind = "censor"\nnodes = [4]\n'
    )
    sim = build_simulation(make_attack(tmp_path, byzantine))
    allies = [b.allies for b in sim.attacks.behaviours]  # type: ignore[union-attr]
    assert allies == [frozenset({1, 2}), frozenset({1, 2}), frozenset({3}), frozenset()]
    assert compute_allies(sim.attacks.behaviours) == {"a": frozenset({1, 2}), "b": frozenset({3})}  # type: ignore[union-attr]


def test_a_coalition_withholds_only_from_outsiders_and_leads_undetected(tmp_path: Path) -> None:
    byzantine = "".join(
        f'[[byzantine]]\nkind = "{kind}"\nnodes = [1, 2]\ncoalition = "cabal"\n{extra}'
        for kind, extra in (("vrf-lie", 'mode = "inflate-tier"\n'), ("withhold-votes", ""))
    )
    sim = run_simulation(make_attack(tmp_path, byzantine, duration_ms=90_000))
    frames = sim.recorder.frames()
    proposers = get_proposers(sim)
    assert sum(p in (1, 2) for p in proposers[1:]) >= len(proposers) - 2
    votes = frames["votes"]
    blocks = frames["blocks"].set_index("hash")["proposer"]
    allied = votes[votes["voter"].isin([1, 2])]
    assert len(allied) and set(allied["block_hash"].map(blocks)) <= {1, 2}
    assert_safe(frames, honest=lambda v: v not in (1, 2))
    verdicts = {v.id: v for v in evaluate_conduct(frames, sim.scenario)}
    assert verdicts["leader-share"].passed is False and verdicts["evidence"].passed is True


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('kind = "eclipse"\nnodes = [1]\n', "victims"),
        ('kind = "eclipse"\nnodes = [1]\nvictims = [1, 1]\n', "victims"),
        ('kind = "spam"\nnodes = [1]\nvictims = [2]\n', "victims"),
        ('kind = "sync-poison"\nnodes = [1]\nmode = "grind"\n', "mode"),
        ('kind = "censor"\nnodes = [1]\ncoalition = 3\n', "coalition"),
    ],
)
def test_bad_eclipse_poison_and_coalition_keys_name_the_key(
    tmp_path: Path, table: str, key: str
) -> None:
    with pytest.raises(UserError) as error:
        make_attack(tmp_path, "[[byzantine]]\n" + table)
    assert error.value.key == f"byzantine[0].{key}"
