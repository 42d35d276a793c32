"""The conduct verdicts: what a byzantine validator does that no protocol rule forbids outright.

``safety``, ``agreement``, ``liveness`` and ``accountability`` (``rppsim.checks``) hold while
byzantine power stays below a third; these verdicts fail for the misbehaviour itself, or for
what it does to honest nodes:

==================  ========================================================================
``evidence``        a validator named by double-sign evidence or the participation detectors
``leader-share``    a validator that leads more heights than its VRF chances allow
``censorship``      a node whose mempool trails the others' (it drops chosen transactions)
``lag``             an honest node far behind the others without a fault of its own
==================  ========================================================================

Each is "not applicable" when its frames are absent (``rppsim.checks.needs``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import pandas as pd

from rppsim.checks import censorship, evidence, lag, leader_share
from rppsim.checks.context import CheckContext, build_check_context
from rppsim.checks.needs import evaluate_needing
from rppsim.checks.verdict import Verdict
from rppsim.scenario import Scenario

__all__ = ["CONDUCT", "CONDUCT_IDS", "CONDUCT_NEEDS", "evaluate_conduct"]

_MODULES = (evidence, leader_share, censorship, lag)
CONDUCT: dict[str, Callable[[Mapping[str, pd.DataFrame], CheckContext], Verdict]] = {
    evidence.ID: evidence.check_evidence,
    leader_share.ID: leader_share.check_leader_share,
    censorship.ID: censorship.check_censorship,
    lag.ID: lag.check_lag,
}
"""Every conduct verdict by id, in report order."""
CONDUCT_IDS = tuple(CONDUCT)
CONDUCT_NEEDS = {m.ID: m.NEEDS for m in _MODULES}
_TITLES = {m.ID: m.TITLE for m in _MODULES}


def evaluate_conduct(
    frames: Mapping[str, pd.DataFrame],
    scenario: Scenario | None,
    *,
    only: Collection[str] | None = None,
) -> list[Verdict]:
    """The conduct verdicts (or those named in ``only``), in ``CONDUCT`` order."""
    chosen = [name for name in CONDUCT if only is None or name in only]
    if not chosen:
        return []
    context = build_check_context(frames, scenario)

    def judge(name: str) -> Verdict:
        def not_applicable(why: str) -> Verdict:
            return Verdict(
                name, "checker", _TITLES[name], None, "critical", None, None, message=why
            )

        return evaluate_needing(CONDUCT_NEEDS[name], CONDUCT[name], frames, context, not_applicable)

    return [judge(name) for name in chosen]
