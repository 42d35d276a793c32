"""A run's genesis from the scenario's ``[genesis]``: the chain's genesis file, or accounts
generated from the run's seed.

* No ``[genesis]``: rppsim's development genesis (``rppsim.node.genesis.build_genesis``), one
  seeded validator per validator node (stake 1000, 24 h, 10 consensus successes), the traffic
  wallets and the treasury.
* ``file``: the chain's genesis format (``node/genesis.toml``), honoured as written: chain id,
  accounts, balances, stakes. Its validator accounts (``validator = true``), in file order, are
  run by nodes 0, 1, ... with the key pairs their ``key_seed`` derives; every other node keeps its
  seeded keys. The run's traffic wallets are added unless ``wallets = false``.
* Generated (``accounts = N``): account i < ``nodes.validators`` is validator node i's own;
  the others are accounts no node runs (addresses from the stream ``("genesis", "account", i)``):
  stake holders that never vote, candidates (tier ≥ 3) or observers (tier 1–2). Stakes follow a
  shape (equal, Zipf, Pareto, an explicit list) over ``stake_total``; tiers and timetoke hours
  come per class (``[genesis.validators]``, ``[genesis.others]``) as one value, one value per
  account, or a seeded draw. The treasury is added, and the traffic wallets unless
  ``wallets = false``.

The chain derives a tier from counters (ZSI validation, uptime hours, consensus successes,
score; ``rppsim.node.reputation.TIER_RULES``), so a requested tier becomes the smallest
counters that give it under the run's profile: Tl0 is an unvalidated identity, Tl1+ a validated
one; Tl3 gets ``tier3_min_consensus_success`` successes, Tl4 ``tier4_min_consensus_success``,
Tl5 the fewest that lift the score to ``tier5_min_score``. A requested tier no counters reach
under the profile is a user error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NamedTuple

import numpy as np

from rppsim.errors import UserError
from rppsim.node.config import NodeConfig
from rppsim.node.genesis import (
    DEFAULT_CHAIN_ID,
    TREASURY_ACCOUNTS,
    TREASURY_BALANCE,
    VALIDATOR_BALANCE,
    WALLET_BALANCE,
    GenesisAccount,
    GenesisConfig,
    TableReader,
    build_genesis,
    check_genesis,
    derive_dev_keypair,
    load_genesis,
)
from rppsim.node.reputation import Tier, compute_score, compute_tier
from rppsim.node.selection import compute_voting_power
from rppsim.node.signing import generate_keypair
from rppsim.rng import SeedTree

STAKE_SHAPES: Final = ("equal", "zipf", "pareto")
DEFAULT_STAKE: Final = 1000
"""Stake per account of an equal genesis without ``stake_total`` (rppsim's development value)."""
DEFAULT_TIERS: Final = {"validators": 3, "others": 2}
MAX_SUCCESSES: Final = 2**40
"""Upper end of the search for the consensus successes a Tl5 account needs."""


@dataclass(frozen=True, slots=True)
class Draw:
    """A per-account draw: ``values`` with ``weights`` (uniform when empty), or an integer
    in the inclusive ``range``."""

    values: tuple[int, ...] = ()
    weights: tuple[float, ...] = ()
    range: tuple[int, int] | None = None


AccountValue = int | tuple[int, ...] | Draw
"""One value for every account of a class, one per account (a list), or a seeded draw."""


@dataclass(frozen=True, slots=True)
class AccountClass:
    """``[genesis.validators]`` or ``[genesis.others]``: tiers and timetoke hours (None: the
    class's default tier, the tier's default hours)."""

    tier: AccountValue | None = None
    timetoke_hours: AccountValue | None = None


@dataclass(frozen=True, slots=True)
class GenesisSpec:
    """``[genesis]``: a file (``file`` set) or generated accounts."""

    file: str | None = None
    file_path: Path | None = None
    file_digest: str = ""
    """Hex BLAKE2s of the file's parsed accounts as canonical JSON (so the scenario digest
    follows the file's content, not its path)."""
    chain_id: str = DEFAULT_CHAIN_ID
    accounts: int | None = None
    """Generated accounts, validators included; None: one per validator."""
    stake: str | tuple[int, ...] = "equal"
    stake_total: int | None = None
    zipf_s: float = 1.0
    pareto_alpha: float = 1.16
    balance: int = VALIDATOR_BALANCE
    validators: AccountClass = field(default_factory=AccountClass)
    others: AccountClass = field(default_factory=AccountClass)
    wallets: bool = True


@dataclass(frozen=True, slots=True)
class AccountSeed:
    """A generated account before it has an address."""

    stake: int
    tier: int
    hours: int
    consensus_success: int


# --------------------------------------------------------------------------------------------
# Stakes.


def compute_stakes(spec: GenesisSpec, n: int, tree: SeedTree) -> list[int]:
    """Each of ``n`` accounts' stake: an explicit list as is, else ``stake_total`` split by the
    shape: ``equal``; ``zipf`` (rank r weighs r^-s, ranks a permutation drawn from
    ``("genesis", "stake")``); ``pareto`` (weights drawn from Pareto(alpha) + 1, the classic
    Pareto with minimum 1). The stakes sum to ``stake_total`` (``_split``)."""
    if isinstance(spec.stake, tuple):
        return list(spec.stake)
    total = DEFAULT_STAKE * n if spec.stake_total is None else spec.stake_total
    rng = tree.generator("genesis", "stake")
    if spec.stake == "zipf":
        ranks = rng.permutation(n) + 1
        weights = ranks.astype(np.float64) ** -spec.zipf_s
    elif spec.stake == "pareto":
        weights = rng.pareto(spec.pareto_alpha, n) + 1.0
    else:
        weights = np.ones(n)
    return _split(total, weights)


SHARE_BITS: Final = 53
"""Weights become fixed-point integers of this many bits, so the split is exact integer math."""


def _split(total: int, weights: np.ndarray) -> list[int]:
    """``total`` in integer shares proportional to ``weights`` (the largest-remainder method
    on fixed-point weights): each floor(total·w/Σw), then the units left (fewer than the
    accounts) one each to the largest remainders (ties: the lower index)."""
    fixed = [max(int(float(w) / float(weights.max()) * 2**SHARE_BITS), 1) for w in weights]
    whole = sum(fixed)
    stakes = [total * w // whole for w in fixed]
    order = sorted(range(len(stakes)), key=lambda i: (-(total * fixed[i] % whole), i))
    for k in range(total - sum(stakes)):
        stakes[order[k]] += 1
    return stakes


# --------------------------------------------------------------------------------------------
# Tiers, hours and the counters that give them.


def compute_genesis_score(hours: int, successes: int, config: NodeConfig) -> float:
    """The score of a validated genesis account (no decay: genesis recomputes at its own time)."""
    return compute_score(
        zsi_validated=True,
        hours_online=hours,
        consensus_success=successes,
        peer_feedback=0,
        last_decay_timestamp=0,
        weights=config.reputation.weights,
        now=0,
    )


def compute_successes(tier: int, hours: int, config: NodeConfig) -> int | None:
    """The fewest consensus successes that give a (validated unless Tl0) account with ``hours``
    the tier ``tier`` under ``config``, or None when none does."""
    thresholds = config.reputation.tier_thresholds
    successes = 0
    if tier == Tier.Tl3:
        successes = thresholds.tier3_min_consensus_success
    elif tier == Tier.Tl4:
        successes = thresholds.tier4_min_consensus_success
    elif tier == Tier.Tl5:
        minimum = thresholds.tier5_min_score
        successes = _first(  # the score grows with the successes
            thresholds.tier4_min_consensus_success,
            MAX_SUCCESSES,
            lambda c: compute_genesis_score(hours, c, config) >= minimum,
        )
    reached = compute_tier(
        zsi_validated=tier >= Tier.Tl1,
        hours_online=hours,
        consensus_success=successes,
        score=compute_genesis_score(hours, successes, config),
        thresholds=thresholds,
    )
    return successes if reached == tier else None


def compute_hours_range(tier: int, config: NodeConfig) -> tuple[int, int] | None:
    """The timetoke hours an account of ``tier`` may hold under ``config`` (inclusive), or None
    when the tier is out of reach: Tl1 below ``tier2_min_uptime_hours``, Tl2+ from it, all up
    to ``accrual_cap_hours``, narrowed to where the counters reach the tier (Tl4, Tl5)."""
    cap = config.reputation.timetoke.accrual_cap_hours
    tier2 = config.reputation.tier_thresholds.tier2_min_uptime_hours
    if tier == Tier.Tl0:
        low, high = 0, cap
    elif tier == Tier.Tl1:
        low, high = 0, tier2 - 1
    else:
        low, high = tier2, cap
    high = min(high, cap)
    if tier == Tier.Tl5:  # the score grows with the hours: find the first hour that reaches Tl5
        low = _first(low, high + 1, lambda h: compute_successes(tier, h, config) is not None)
    elif tier == Tier.Tl4:  # the other way round: Tl4 holds until the score reaches Tl5
        high = _first(low, high + 1, lambda h: compute_successes(tier, h, config) is None) - 1
    if low > high or compute_successes(tier, low, config) is None:
        return None
    return low, high


def _first(low: int, high: int, is_true: Callable[[int], bool]) -> int:
    """The first integer in [low, high) where the monotone predicate holds, else ``high``."""
    while low < high:
        middle = (low + high) // 2
        if is_true(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _default_hours(tier: int, config: NodeConfig) -> int:
    """Hours of an account whose class gives none: the least its tier allows from
    ``tier2_min_uptime_hours`` on (0 for Tl0 and Tl1)."""
    span = compute_hours_range(tier, config)
    if span is None or tier <= Tier.Tl1:
        return 0 if span is None else span[0]
    return max(span[0], config.reputation.tier_thresholds.tier2_min_uptime_hours)


def draw_values(value: AccountValue, n: int, rng: np.random.Generator) -> list[int]:
    """``n`` values: one repeated, a list as is, or drawn (values by weight, or a range)."""
    if isinstance(value, int):
        return [value] * n
    if isinstance(value, tuple):
        return list(value)
    if value.range is not None:
        low, high = value.range
        return [int(v) for v in rng.integers(low, high + 1, size=n)]
    weights = np.asarray(value.weights or [1.0] * len(value.values), dtype=np.float64)
    picks = rng.choice(len(value.values), size=n, p=weights / weights.sum())
    return [value.values[int(k)] for k in picks]


def _class_seeds(
    name: str,
    spec: AccountClass,
    stakes: Sequence[int],
    config: NodeConfig,
    tree: SeedTree,
    source: str,
) -> list[AccountSeed]:
    """The accounts of one class: tiers, then hours (drawn hours are clamped into the range
    each tier allows; given ones must lie in it), then the counters."""
    n, path = len(stakes), f"genesis.{name}"
    tier_value = DEFAULT_TIERS[name] if spec.tier is None else spec.tier
    tiers = draw_values(tier_value, n, tree.generator("genesis", name, "tier"))
    hours_value = spec.timetoke_hours
    rng = tree.generator("genesis", name, "timetoke_hours")
    given = None if hours_value is None else draw_values(hours_value, n, rng)
    seeds = []
    for i, (stake, tier) in enumerate(zip(stakes, tiers, strict=True)):
        span = compute_hours_range(tier, config)
        if span is None:
            key = f"{path}.tier" + (f"[{i}]" if isinstance(tier_value, tuple) else "")
            expected = "a tier the profile's tier thresholds and weights reach at genesis"
            raise UserError(source, key, expected, f"tier {tier}")
        hours = _default_hours(tier, config) if given is None else given[i]
        if isinstance(hours_value, Draw):
            hours = min(max(hours, span[0]), span[1])
        elif not span[0] <= hours <= span[1]:
            key = f"{path}.timetoke_hours" + (f"[{i}]" if isinstance(hours_value, tuple) else "")
            expected = f"an integer in [{span[0]}, {span[1]}] for an account of tier {tier}"
            raise UserError(source, key, expected, str(hours))
        successes = compute_successes(tier, hours, config)
        assert successes is not None, (tier, hours)
        seeds.append(AccountSeed(stake, tier, hours, successes))
    return seeds


def compute_account_seeds(
    spec: GenesisSpec, validators: int, config: NodeConfig, tree: SeedTree, source: str
) -> list[AccountSeed]:
    """Every generated account without its address, validators first; the rules no parser can
    check before the draws (stakes > 0 for validators, tiers in reach, node-less candidates
    below a third of the genesis power) raise a ``UserError`` naming ``source``."""
    n = validators if spec.accounts is None else spec.accounts
    stakes = compute_stakes(spec, n, tree)
    seeds = _class_seeds("validators", spec.validators, stakes[:validators], config, tree, source)
    seeds += _class_seeds("others", spec.others, stakes[validators:], config, tree, source)
    for i, seed in enumerate(seeds[:validators]):
        if seed.stake == 0:
            key = "genesis.stake" + (f"[{i}]" if isinstance(spec.stake, tuple) else "_total")
            expected = "a stake > 0 for every validator account (the first nodes.validators)"
            raise UserError(source, key, expected, f"0 for account {i}")
    _check_nodeless_power(seeds, validators, config, source)
    return seeds


def compute_genesis_power(seed: AccountSeed, config: NodeConfig) -> int:
    """The voting power a candidate (Tl3+) account has at genesis (0 below Tl3)."""
    if seed.tier < Tier.Tl3:
        return 0
    score = compute_genesis_score(seed.hours, seed.consensus_success, config)
    return compute_voting_power(seed.stake, score, seed.hours)


def _check_nodeless_power(
    seeds: Sequence[AccountSeed], validators: int, config: NodeConfig, source: str
) -> None:
    """The electorate of height 1 is every Tl3+ account of genesis; candidates no node runs
    never vote, so they must hold less than a third of its power or height 1 never commits."""
    powers = [compute_genesis_power(s, config) for s in seeds]
    nodeless, total = sum(powers[validators:]), sum(powers)
    if total and 3 * nodeless >= total:
        expected = (
            "candidates without a node (tier ≥ 3 beyond the validators) holding < 1/3 of the"
            " genesis voting power (height 1 counts them, and they never vote)"
        )
        raise UserError(source, "genesis.others.tier", expected, f"{nodeless / total:.1%}")


# --------------------------------------------------------------------------------------------
# The run's genesis.


def build_generated_genesis(
    spec: GenesisSpec,
    validator_addresses: Sequence[str],
    wallets: Sequence[str],
    config: NodeConfig,
    tree: SeedTree,
    source: str,
) -> GenesisConfig:
    """Generated accounts (validators: their nodes' addresses), wallets, treasury; sorted."""
    validators = len(validator_addresses)
    seeds = compute_account_seeds(spec, validators, config, tree, source)
    addresses = list(validator_addresses)
    addresses += [
        generate_keypair(tree.seed_bytes("genesis", "account", i)).address
        for i in range(validators, len(seeds))
    ]
    accounts = [
        GenesisAccount(
            address,
            spec.balance,
            str(seed.stake),
            i < validators,
            seed.tier >= Tier.Tl1,
            seed.hours,
            seed.consensus_success,
        )
        for i, (address, seed) in enumerate(zip(addresses, seeds, strict=True))
    ]
    return _finish(spec.chain_id, accounts, wallets if spec.wallets else (), treasury=True)


def _finish(
    chain_id: str, accounts: list[GenesisAccount], wallets: Sequence[str], *, treasury: bool
) -> GenesisConfig:
    """``accounts`` plus the traffic wallets (Tl2, no stake) and the treasury, by address."""
    accounts = accounts + [
        GenesisAccount(w, WALLET_BALANCE, "0", False, True, 24, 0) for w in wallets
    ]
    if treasury:
        accounts += [GenesisAccount(name, TREASURY_BALANCE, "0") for name in TREASURY_ACCOUNTS]
    return GenesisConfig(chain_id, tuple(sorted(accounts, key=lambda a: a.address)))


def load_genesis_file(spec: GenesisSpec, config: NodeConfig, source: str) -> GenesisConfig:
    """The genesis file, checked against ``config``'s tier thresholds and accrual cap; a file
    with no validator, or a validator without ``key_seed`` (no node could run it), is an
    error naming ``genesis.file``."""
    assert spec.file_path is not None
    reputation = config.reputation
    genesis, _ = load_genesis(
        spec.file_path, thresholds=reputation.tier_thresholds, timetoke=reputation.timetoke
    )
    validators = compute_file_validators(genesis)
    if not validators:
        expected = "a genesis file with at least one validator account (validator = true)"
        raise UserError(source, "genesis.file", expected, f"none in {spec.file}")
    missing = next((a for a in validators if a.key_seed is None), None)
    if missing is not None:
        expected = "a key_seed on every validator account (a node runs it with that key)"
        raise UserError(source, "genesis.file", expected, f"none on {missing.address}")
    return genesis


def compute_file_validators(genesis: GenesisConfig) -> list[GenesisAccount]:
    """A genesis file's validator accounts in file order (node i runs the i-th)."""
    return [a for a in genesis.accounts if a.validator]


def compute_file_key_seeds(genesis: GenesisConfig) -> list[bytes]:
    """The 32-byte key seeds of a genesis file's validators, in file order."""
    return [derive_dev_keypair(a.key_seed or "")[0] for a in compute_file_validators(genesis)]


def build_file_genesis(
    spec: GenesisSpec, wallets: Sequence[str], config: NodeConfig, source: str
) -> GenesisConfig:
    """The genesis file as written, plus the traffic wallets unless ``wallets = false``."""
    genesis = load_genesis_file(spec, config, source)
    if not spec.wallets:
        return genesis
    return _finish(genesis.chain_id, list(genesis.accounts), wallets, treasury=False)


def check_run_genesis(genesis: GenesisConfig, config: NodeConfig, source: str) -> None:
    """The node's genesis rules under one profile of the run (a group's may differ)."""
    reputation = config.reputation
    check_genesis(
        genesis,
        TableReader(source),
        thresholds=reputation.tier_thresholds,
        timetoke=reputation.timetoke,
    )


class _Addressed(NamedTuple):
    """Anything with an address, as ``build_genesis`` takes them."""

    address: str


def build_run_genesis(
    spec: GenesisSpec | None,
    validator_addresses: Sequence[str],
    wallets: Sequence[str],
    configs: Sequence[NodeConfig],
    tree: SeedTree,
    source: str,
) -> GenesisConfig:
    """The run's genesis (the module docstring), built under ``configs[0]`` (the ``[nodes]``
    profile) and checked under every profile of the run; an error names ``source``."""
    config = configs[0]
    if spec is None:
        return build_genesis(
            [_Addressed(a) for a in validator_addresses], [_Addressed(w) for w in wallets]
        )
    if spec.file is not None:
        genesis = build_file_genesis(spec, wallets, config, source)
    else:
        genesis = build_generated_genesis(spec, validator_addresses, wallets, config, tree, source)
    for other in configs:
        check_run_genesis(genesis, other, source)
    return genesis
