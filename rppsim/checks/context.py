"""What a checker needs to know besides the frames: honest nodes, timings, work, duration.

Built once per run from the scenario and the ``nodes`` frame. The ``nodes`` frame's
``byzantine`` column is the source of truth for honesty: the scenario names byzantine nodes
or fractions, the kernel resolves fractions to nodes with the seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from rppsim.scenario import Scenario, TrafficConfig, build_node_config
from rppsim.telemetry.jsonl import get_judging_facts
from rppsim.telemetry.scalars import to_int

__all__ = ["CheckContext", "build_check_context", "get_honest_finalized", "is_work_offered"]


@dataclass(frozen=True, slots=True)
class CheckContext:
    """A run's facts the checkers judge against (no kernel objects, so live data fits too)."""

    nodes: tuple[int, ...]
    """Every node index of the run, sorted."""
    byzantine: frozenset[int]
    validators: frozenset[int]
    """Nodes seeded as genesis validators (role ``validator``)."""
    block_time_ms: int
    round_timeout_ms: int
    allow_empty_blocks: bool
    has_work: bool
    """Transactions or identities are submitted at some point of the run."""
    duration_ms: int
    unknown: frozenset[str] = frozenset()
    """Facts the source does not carry (live telemetry: ``byzantine``, ``has_work``,
    ``allow_empty_blocks``, ``round_timeout_ms``); their fields hold defaults (no byzantine
    node, no work, the rules' defaults), and the verdicts that read them need frames such a
    source lacks."""

    @property
    def honest(self) -> tuple[int, ...]:
        """Nodes the scenario does not make byzantine, sorted."""
        return tuple(n for n in self.nodes if n not in self.byzantine)

    @property
    def validator_count(self) -> int:
        """How many genesis validators the run has."""
        return len(self.validators)

    def is_honest(self, node: int) -> bool:
        """Whether ``node`` is not byzantine (a node missing from the ``nodes`` frame is)."""
        return node not in self.byzantine


def is_work_offered(traffic: TrafficConfig) -> bool:
    """Whether the traffic submits anything: transactions (flat or phased) or identities."""
    phased = any(phase.rate_per_s > 0 for phase in traffic.phases)
    return traffic.tx_per_s > 0 or phased or traffic.identity_per_min > 0


RUN_INFO_KEYS = ("block_time_ms", "round_timeout_ms", "allow_empty_blocks", "has_work")
"""What a run folder's ``run_info`` frame records for the checkers (``compute_run_facts``)."""


def compute_run_facts(scenario: Scenario) -> dict[str, str]:
    """The scenario facts the checkers need, as ``run_info`` strings, so that a run folder
    can be judged again without its scenario (``rppsim check``)."""
    profile = build_node_config(scenario)  # with [params]: they may set block_time_ms
    return {
        "block_time_ms": str(profile.block_time_ms),
        "round_timeout_ms": str(scenario.rules.round_timeout_ms),
        "allow_empty_blocks": str(scenario.rules.allow_empty_blocks).lower(),
        "has_work": str(is_work_offered(scenario.traffic)).lower(),
    }


def _get_run_facts(frames: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    facts = get_judging_facts(frames)
    missing = [k for k in (*RUN_INFO_KEYS, "duration_ms") if k not in facts]
    if missing:
        raise ValueError(f"run_info lacks {', '.join(missing)} (a run folder of an older rppsim)")
    return facts


def build_check_context(
    frames: Mapping[str, pd.DataFrame], scenario: Scenario | None
) -> CheckContext:
    """The context of a run of ``scenario`` (its ``run.duration_ms`` the effective one), or,
    without a scenario, of the facts its run folder recorded in ``run_info`` (for live
    telemetry, ``rppsim.telemetry.jsonl.get_judging_facts``: the profile's block time)."""
    nodes = frames["nodes"]
    indices = [int(n) for n in nodes["node"]]
    byzantine = [int(n) for n in nodes.loc[nodes["byzantine"].astype(bool), "node"]]
    validators = [int(n) for n in nodes.loc[nodes["role"] == "validator", "node"]]
    if scenario is None:
        facts = _get_run_facts(frames)
        duration_ms = int(facts["duration_ms"])
    else:
        facts = compute_run_facts(scenario)
        duration_ms = scenario.run.duration_ms
        if not indices:
            indices = list(range(scenario.nodes.count))
            validators = list(range(scenario.nodes.validators))
    return CheckContext(
        nodes=tuple(sorted(set(indices))),
        byzantine=frozenset(byzantine),
        validators=frozenset(validators),
        block_time_ms=int(facts["block_time_ms"]),
        round_timeout_ms=int(facts["round_timeout_ms"]),
        allow_empty_blocks=facts["allow_empty_blocks"] == "true",
        has_work=facts["has_work"] == "true",
        duration_ms=duration_ms,
        unknown=frozenset(u for u in facts.get("unknown_facts", "").split(",") if u),
    )


def get_honest_finalized(frames: Mapping[str, pd.DataFrame], context: CheckContext) -> pd.DataFrame:
    """``block_finalized`` rows of honest nodes, in a row-order-free order: (height,
    finalized_ms, node, hash)."""
    finalized = frames["block_finalized"]
    honest = ~finalized["node"].isin(sorted(context.byzantine))
    order = ["height", "finalized_ms", "node", "hash"]
    return finalized[honest].sort_values(order, kind="stable").reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class Conflict:
    """A height whose rows disagree on a column: the first row's value, and the first other."""

    height: int
    first_value: str
    first_node: int
    first_ms: int
    value: str
    node: int
    time_ms: int


def compute_conflicts(rows: pd.DataFrame, column: str) -> list[Conflict]:
    """Every height of ``rows`` (sorted by height, then ``finalized_ms``) with more than one
    value of ``column``, by height."""
    first = rows.groupby("height", sort=False)[column].transform("first")
    others = rows[rows[column] != first]
    found = []
    for height, group in others.groupby("height", sort=True):
        base = rows[rows["height"] == height].iloc[0]
        second = group.iloc[0]
        found.append(
            Conflict(
                to_int(height),
                str(base[column]),
                int(base["node"]),
                int(base["finalized_ms"]),
                str(second[column]),
                int(second["node"]),
                int(second["finalized_ms"]),
            )
        )
    return found
