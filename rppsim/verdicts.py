"""All verdicts of a run in one place: the protocol checkers (``rppsim.checks``), then the
chain's deployment guardrails (``rppsim.guardrails``); alert rules and the promotion gate join
here when they land. ``rppsim run``, ``rppsim check`` and a scenario's ``[expect]`` use it."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from rppsim.checks import CHECKERS, Verdict, evaluate_checkers
from rppsim.guardrails import GUARDRAIL_IDS, evaluate_guardrails
from rppsim.scenario import Scenario

VERDICT_IDS = (*CHECKERS, *GUARDRAIL_IDS)
"""Every verdict id, in report order."""


def evaluate_verdicts(
    frames: Mapping[str, pd.DataFrame],
    scenario: Scenario | None,
    *,
    only: Collection[str] | None = None,
) -> list[Verdict]:
    """Checkers then guardrails (or those named in ``only``); without a scenario, the facts
    the run folder recorded in ``run_info`` stand in for it."""
    unknown = sorted(set(only or ()) - set(VERDICT_IDS))
    if unknown:
        raise ValueError(f"unknown verdict ids {unknown}")
    checkers = None if only is None else [i for i in only if i in CHECKERS]
    guardrails = None if only is None else [i for i in only if i not in CHECKERS]
    verdicts = []
    if checkers is None or checkers:
        verdicts += evaluate_checkers(frames, scenario, only=checkers)
    if guardrails is None or guardrails:
        verdicts += evaluate_guardrails(frames, scenario, only=guardrails)
    return verdicts
