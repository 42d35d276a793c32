"""All verdicts of a run in one place: the protocol checkers (``rppsim.checks``), the chain's
deployment guardrails (``rppsim.guardrails``), its alert rules replayed over the run
(``rppsim.guardrails.alerting``) and the promotion gate (``rppsim.guardrails.promotion``).
``rppsim run``, ``rppsim check`` and a scenario's ``[expect]`` use it."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from rppsim.checks import CHECKERS, Verdict, evaluate_checkers
from rppsim.checks.conduct import CONDUCT_IDS, evaluate_conduct
from rppsim.guardrails import (
    GUARDRAIL_IDS,
    build_guardrail_context,
    check_overrides_read,
    evaluate_guardrails,
)
from rppsim.guardrails.alerting import ALERT_IDS, AlertEvaluation, evaluate_alert_rules
from rppsim.guardrails.promotion import PROMOTION_IDS, evaluate_promotions
from rppsim.scenario import Scenario

VERDICT_IDS = (*CHECKERS, *CONDUCT_IDS, *GUARDRAIL_IDS, *ALERT_IDS, *PROMOTION_IDS)
"""Every verdict id, in report order."""


def compute_alerts(
    frames: Mapping[str, pd.DataFrame], scenario: Scenario | None
) -> AlertEvaluation:
    """The alert rules over the run (what fills its ``alerts`` frame)."""
    return evaluate_alert_rules(frames, build_guardrail_context(frames, scenario))


def evaluate_verdicts(
    frames: Mapping[str, pd.DataFrame],
    scenario: Scenario | None,
    *,
    only: Collection[str] | None = None,
    alerts: AlertEvaluation | None = None,
) -> list[Verdict]:
    """Checkers, guardrails, alerts, promotions (or those named in ``only``); without a
    scenario, the facts the run folder recorded in ``run_info`` stand in for it. The alert
    rules are evaluated here unless ``alerts`` (the same run's evaluation) is given; their
    firings replace the ``alerts`` frame the guardrails and the gate read."""
    unknown = sorted(set(only or ()) - set(VERDICT_IDS))
    if unknown:
        raise ValueError(f"unknown verdict ids {unknown}")
    wanted = set(VERDICT_IDS if only is None else only)
    checkers = [i for i in CHECKERS if i in wanted]
    guardrails = [i for i in GUARDRAIL_IDS if i in wanted]
    context = build_guardrail_context(frames, scenario)
    if alerts is None:
        alerts = evaluate_alert_rules(frames, context)
    frames = {**frames, "alerts": alerts.get_frame()}
    verdicts = []
    if checkers:
        verdicts += evaluate_checkers(frames, scenario, only=checkers)
    conduct = [i for i in CONDUCT_IDS if i in wanted]
    if conduct:
        verdicts += evaluate_conduct(frames, scenario, only=conduct)
    if guardrails:
        verdicts += evaluate_guardrails(frames, scenario, only=guardrails, context=context)
    verdicts += [v for v in alerts.get_verdicts() if v.id in wanted]
    if wanted & set(PROMOTION_IDS):
        promotions = [v for v in evaluate_promotions(frames, context) if v.id in wanted]
        check_overrides_read(context, promotions)
        verdicts += promotions
    return verdicts
