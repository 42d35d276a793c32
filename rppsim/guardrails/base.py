"""The frame of the chain's 27 deployment guardrails (docs/operations.md#guardrails): a registry of
pure
functions of a run's frames, each returning a ``rppsim.checks.Verdict`` of kind ``guardrail``.

A guardrail has a stable id ``gNN-slug`` (NN its docs/operations.md#guardrails number), a title and
a severity. Its
thresholds are the chain's defaults, overridable per scenario (``[guardrails.<id>]``,
``GuardrailContext.threshold``). A guardrail a simulated run cannot decide (it needs a live
deployment, or a part of the run the scenario does not have) returns ``passed = None`` with a
message saying why — never a pass.

Every guardrail reads only the frames and a ``GuardrailContext`` (the checkers' context, the
node profile as plain JSON data, the overrides), so the same functions judge a run folder
and live telemetry (``rppsim check RUN_DIR | TELEMETRY.jsonl``). Each declares the frames it
reads (``register(..., needs=...)``): where the source lacks one it is not applicable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from rppsim.checks.context import CheckContext
from rppsim.checks.liveness import compute_up_stretches
from rppsim.checks.needs import evaluate_needing
from rppsim.checks.verdict import Verdict

Frames = Mapping[str, pd.DataFrame]
Check = Callable[[Frames, "GuardrailContext"], Verdict]


@dataclass(frozen=True, slots=True)
class GuardrailContext:
    """What guardrails judge against besides the frames."""

    checks: CheckContext
    """Nodes, byzantine nodes, validators, block time, round timeout, duration of the run."""
    config: Mapping[str, Any]
    """The node profile of the run as plain JSON data (``NodeConfig.as_dict()``)."""
    overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """``[guardrails.<id>]`` of the scenario: threshold name → value."""
    read: set[tuple[str, str]] = field(default_factory=set, compare=False)
    """(guardrail id, threshold name) of every threshold a guardrail asked for."""
    node_configs: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    """The profiles of the nodes that run another one (``[[nodes.group]]``, recorded as
    ``run_info`` ``profile_groups``); every other node runs ``config``."""
    node_stages: Mapping[int, tuple[tuple[int, Mapping[str, Any]], ...]] = field(
        default_factory=dict
    )
    """(from ms, profile) of each ``[[stage]]`` that moved a node, by time (``run_info``
    ``profile_stages``): from then on the node runs that profile."""

    def threshold(self, guardrail_id: str, name: str, default: float) -> float:
        """The scenario's override of a threshold, else the chain's default."""
        self.read.add((guardrail_id, name))
        return self.overrides.get(guardrail_id, {}).get(name, default)

    def get_unread_overrides(self) -> list[tuple[str, str, list[str]]]:
        """Overrides no guardrail read (a misspelt name): (id, name, the names it reads)."""
        return [
            (gid, name, sorted(n for g, n in self.read if g == gid))
            for gid, values in sorted(self.overrides.items())
            for name in sorted(values)
            if (gid, name) not in self.read
        ]

    def get_config(self, *path: str) -> Any:
        """A value of the node profile by key path, e.g. ``("rollout", "release_channel")``."""
        return self.get_node_config(None, *path)

    def get_node_config(self, node: int | None, *path: str) -> Any:
        """A value of the profile node ``node`` runs (its group's, else the run's)."""
        value: Any = self.node_configs.get(node, self.config) if node is not None else self.config
        for key in path:
            value = value[key]
        return value

    def get_node_config_at(self, node: int, t_ms: int, *path: str) -> Any:
        """A value of the profile node ``node`` runs at ``t_ms`` (its last stage's by then,
        else its group's, else the run's)."""
        value: Any = self.node_configs.get(node, self.config)
        for from_ms, config in self.node_stages.get(node, ()):
            if from_ms <= t_ms:
                value = config
        for key in path:
            value = value[key]
        return value

    def get_profiles(self) -> list[Mapping[str, Any]]:
        """Every distinct profile of the run, the run's first."""
        profiles = [self.config]
        staged = [c for stages in self.node_stages.values() for _, c in stages]
        for config in [*self.node_configs.values(), *staged]:
            if all(config != seen for seen in profiles):
                profiles.append(config)
        return profiles


@dataclass(frozen=True, slots=True)
class Guardrail:
    """One registered guardrail."""

    id: str
    number: int
    title: str
    severity: str
    check: Check
    needs: tuple[str, ...] = ()
    """The frames ``check`` reads; a source without them makes it not applicable."""


GUARDRAILS: dict[str, Guardrail] = {}
"""Every guardrail by id; filled by the modules of ``rppsim.guardrails`` when imported."""


def register(
    number: int,
    slug: str,
    title: str,
    severity: str = "critical",
    *,
    needs: tuple[str, ...] = (),
) -> Callable[[Check], Check]:
    """Register ``check`` as guardrail ``g{number:02d}-{slug}``, reading the frames ``needs``
    (``rppsim.checks.needs``: live telemetry, for one, has no blocks)."""
    guardrail_id = f"g{number:02d}-{slug}"

    def decorate(check: Check) -> Check:
        if guardrail_id in GUARDRAILS or any(g.number == number for g in GUARDRAILS.values()):
            raise ValueError(f"guardrail {number} registered twice")
        entry = Guardrail(guardrail_id, number, title, severity, check, tuple(needs))
        GUARDRAILS[guardrail_id] = entry
        return check

    return decorate


def get_guardrail(number: int) -> Guardrail:
    """The registered guardrail of a docs/operations.md#guardrails number."""
    return next(g for g in GUARDRAILS.values() if g.number == number)


def make_verdict(
    number: int,
    passed: bool | None,
    figure: int | float | None,
    threshold: int | float | None,
    message: str,
    node: int | None = None,
    time_ms: int | None = None,
) -> Verdict:
    """The verdict of guardrail ``number`` (its id, title and severity from the registry)."""
    guardrail = get_guardrail(number)
    return Verdict(
        guardrail.id,
        "guardrail",
        guardrail.title,
        passed,
        guardrail.severity,
        figure,
        threshold,
        node,
        time_ms,
        message,
    )


def not_applicable(number: int, why: str) -> Verdict:
    """Guardrail ``number`` cannot be decided by this run: ``passed = None`` and why."""
    return make_verdict(number, None, None, None, why)


def is_sample_due(ctx: GuardrailContext) -> bool:
    """Whether telemetry is on and the run lasts past its first sample (one interval after
    start): only then must a running node have emitted a snapshot."""
    telemetry = ctx.get_config("rollout", "telemetry")
    interval_ms = max(int(telemetry.get("sample_interval_secs") or 0), 1) * 1000
    return bool(telemetry.get("enabled")) and ctx.checks.duration_ms > interval_ms


def compute_unsampled_nodes(frames: Frames, ctx: GuardrailContext) -> frozenset[int]:
    """Nodes from which no telemetry sample was ever due: crashes or churn never let them run
    for a whole sample interval at a stretch (a restarted node's loop starts over), so their
    silence is no telemetry failure (liveness judges their downtime)."""
    faults = frames.get("faults")
    if faults is None or faults.empty:
        return frozenset()
    telemetry = ctx.get_config("rollout", "telemetry")
    interval_ms = max(int(telemetry.get("sample_interval_secs") or 0), 1) * 1000
    stretches = compute_up_stretches(faults, ctx.checks.duration_ms)
    return frozenset(
        node
        for node, spans in stretches.items()
        if all(end - start <= interval_ms for start, end in spans)
    )


def get_restart_times(frames: Frames, node: int, end_ms: int) -> list[int]:
    """When node ``node`` was restarted (a new node, whose telemetry loop starts over)."""
    faults = frames.get("faults")
    if faults is None or faults.empty:
        return []
    return [start for start, _ in compute_up_stretches(faults, end_ms).get(node, []) if start]


def compute_profile_json(config: object) -> str:
    """The node profile as canonical JSON (recorded in ``run_info`` as ``profile``)."""
    as_dict = getattr(config, "as_dict", None)
    data = as_dict() if callable(as_dict) else config
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def evaluate_registered(
    frames: Frames, context: GuardrailContext, only: Collection[str] | None = None
) -> list[Verdict]:
    """Every registered guardrail's verdict (or those named in ``only``), by
    docs/operations.md#guardrails number; one
    whose frames the source lacks (its ``needs``) is not applicable, saying which."""
    chosen = sorted(GUARDRAILS.values(), key=lambda g: g.number)
    return [
        evaluate_needing(g.needs, g.check, frames, context, partial(not_applicable, g.number))
        for g in chosen
        if only is None or g.id in only
    ]
