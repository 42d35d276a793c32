"""The chain's 27 deployment guardrails (docs/operations.md#guardrails) as verdicts of kind
``guardrail``.

One module per area registers its guardrails in ``base.GUARDRAILS`` (ids ``gNN-slug``):
``rollout`` (1–4, 22–24), ``telemetry`` (5–8), ``proofs`` (9, 11–13), ``vrf`` (10),
``consensus`` (14, 17–19), ``workload`` (15, 16, 20, 21) and ``live`` (25–27: they need the
alert rules or a live deployment, and say so as not applicable). ``evaluate_guardrails`` judges
one run from its frames and either its scenario or the facts its run folder recorded.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pandas as pd

from rppsim.checks.context import build_check_context
from rppsim.checks.verdict import Verdict
from rppsim.guardrails import consensus, live, proofs, rollout, telemetry, vrf, workload
from rppsim.guardrails.base import (
    GUARDRAILS,
    GuardrailContext,
    compute_profile_json,
    evaluate_registered,
)
from rppsim.scenario import Scenario, build_node_config
from rppsim.telemetry.jsonl import get_judging_facts

__all__ = [
    "GUARDRAILS",
    "GUARDRAIL_IDS",
    "GuardrailContext",
    "build_guardrail_context",
    "check_overrides_read",
    "compute_guardrail_facts",
    "evaluate_guardrails",
]
_MODULES = (consensus, live, proofs, rollout, telemetry, vrf, workload)  # each registers its own

GUARDRAIL_IDS = tuple(g.id for g in sorted(GUARDRAILS.values(), key=lambda g: g.number))
"""Every guardrail id, by docs/operations.md#guardrails number."""


def compute_guardrail_facts(
    config: object, scenario: Scenario, groups: Sequence[tuple[str, Sequence[int], object]] = ()
) -> dict[str, str]:
    """What ``run_info`` records for the guardrails: the node config the run used (the
    profile with the run's genesis and telemetry), the scenario's overrides and, when nodes
    run other profiles (``[[nodes.group]]``: name, nodes, config), ``profile_groups``."""
    overrides = {k: dict(v) for k, v in scenario.guardrails}
    facts = {
        "profile": compute_profile_json(config),
        "guardrail_overrides": json.dumps(overrides, sort_keys=True, separators=(",", ":")),
    }
    if groups:
        entries = [
            {"name": name, "nodes": sorted(nodes), "profile": json.loads(compute_profile_json(c))}
            for name, nodes, c in groups
        ]
        facts["profile_groups"] = json.dumps(entries, sort_keys=True, separators=(",", ":"))
    return facts


def compute_node_configs(facts: Mapping[str, str]) -> dict[int, Any]:
    """Node → profile (JSON data) of the nodes of ``run_info`` ``profile_groups``."""
    groups = json.loads(facts.get("profile_groups", "[]"))
    return {int(node): group["profile"] for group in groups for node in group["nodes"]}


def compute_node_stages(facts: Mapping[str, str]) -> dict[int, tuple[tuple[int, Any], ...]]:
    """Node → (from ms, profile) of each stage that moved it, by time, from ``run_info``
    ``profile_stages`` (recorded by ``rppsim.sim.run`` for runs with ``[[stage]]``)."""
    out: dict[int, list[tuple[int, Any]]] = {}
    for stage in json.loads(facts.get("profile_stages", "[]")):
        for node, from_ms in stage["nodes"]:
            out.setdefault(int(node), []).append((int(from_ms), stage["profile"]))
    return {node: tuple(sorted(v, key=lambda item: item[0])) for node, v in out.items()}


def build_guardrail_context(
    frames: Mapping[str, pd.DataFrame], scenario: Scenario | None
) -> GuardrailContext:
    """The guardrails' context: the facts the run recorded in ``run_info`` (the config it ran
    with), or, for frames without them, the scenario's profile with its telemetry setting;
    live telemetry without a profile is judged by the shipped profile of the channel its
    snapshots advertise, with no overrides (``rppsim.telemetry.jsonl.compute_live_facts``)."""
    checks = build_check_context(frames, scenario)
    facts = get_judging_facts(frames)
    if "profile" not in facts and scenario is not None:
        facts = compute_guardrail_facts(build_node_config(scenario), scenario)
    missing = [k for k in ("profile", "guardrail_overrides") if k not in facts]
    if missing:
        raise ValueError(f"run_info lacks {', '.join(missing)} (a run of an older rppsim)")
    return GuardrailContext(
        checks,
        json.loads(facts["profile"]),
        json.loads(facts["guardrail_overrides"]),
        node_configs=compute_node_configs(facts),
        node_stages=compute_node_stages(facts),
    )


def evaluate_guardrails(
    frames: Mapping[str, pd.DataFrame],
    scenario: Scenario | None,
    *,
    only: Collection[str] | None = None,
    context: GuardrailContext | None = None,
) -> list[Verdict]:
    """Every guardrail's verdict on one run (or those named in ``only``), by
    docs/operations.md#guardrails number, in
    ``context`` (built from the frames and scenario when not given).

    An override no guardrail read is a ``ValueError`` naming ``guardrails.<id>.<name>``."""
    context = context or build_guardrail_context(frames, scenario)
    verdicts = evaluate_registered(frames, context, only)
    check_overrides_read(context, verdicts)
    return verdicts


def check_overrides_read(context: GuardrailContext, verdicts: Collection[Verdict]) -> None:
    """A ``ValueError`` naming ``guardrails.<id>.<name>`` for an override that one of the
    decided ``verdicts`` did not read (a not-applicable one may stop before reading)."""
    judged = {v.id for v in verdicts if v.passed is not None}
    for gid, name, known in context.get_unread_overrides():
        if gid in judged:
            names = ", ".join(known) or "none"
            raise ValueError(
                f"guardrails.{gid}.{name}: not a threshold of {gid} (it reads {names})"
            )
