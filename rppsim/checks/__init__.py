"""Protocol checkers: pure functions of a run's frames and its scenario, each a ``Verdict``.

``safety`` (one honest block per height), ``agreement`` (one state root per finalized
height), ``liveness`` (honest nodes finalize after the last fault) and ``accountability``
(equivocations are slashed within 10 heights). Checkers see frames and a ``CheckContext``,
never kernel objects, so live testnet frames can be judged the same way. Every simulated run
evaluates them (``rppsim.sim.run.execute_run``); ``rppsim run`` exits 1 when one fails.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import pandas as pd

from rppsim.checks import accountability, agreement, liveness, safety
from rppsim.checks.accountability import check_accountability
from rppsim.checks.agreement import check_agreement
from rppsim.checks.context import CheckContext, build_check_context
from rppsim.checks.liveness import check_liveness
from rppsim.checks.needs import evaluate_needing
from rppsim.checks.safety import check_safety
from rppsim.checks.verdict import (
    Verdict,
    compute_unexpected,
    compute_verdict_counts,
    compute_verdict_table,
    compute_verdicts_text,
    write_verdicts,
)
from rppsim.scenario import Scenario

__all__ = [
    "CHECKERS",
    "CHECKER_NEEDS",
    "VERDICT_IDS",
    "CheckContext",
    "Verdict",
    "build_check_context",
    "compute_unexpected",
    "compute_verdict_counts",
    "compute_verdict_table",
    "compute_verdicts_text",
    "evaluate_checker",
    "evaluate_checkers",
    "write_verdicts",
]

Checker = Callable[[Mapping[str, pd.DataFrame], CheckContext], Verdict]
CHECKERS: dict[str, Checker] = {
    "safety": check_safety,
    "agreement": check_agreement,
    "liveness": check_liveness,
    "accountability": check_accountability,
}
"""Every checker by its verdict id, in report order."""
_MODULES = {m.ID: m for m in (safety, agreement, liveness, accountability)}
CHECKER_NEEDS: dict[str, tuple[str, ...]] = {name: _MODULES[name].NEEDS for name in CHECKERS}
"""The frames each checker reads: without them it is not applicable (``rppsim.checks.needs``)."""
VERDICT_IDS = tuple(CHECKERS)
"""Every verdict id a scenario's ``[expect]`` may name (guardrails and alerts join later)."""


def evaluate_checkers(
    frames: Mapping[str, pd.DataFrame],
    scenario: Scenario | None,
    *,
    only: Collection[str] | None = None,
) -> list[Verdict]:
    """The verdicts of every checker (or of those named in ``only``) on one run, in
    ``CHECKERS`` order; ``scenario.run.duration_ms`` must be the run's effective duration.
    Without a scenario, the facts the run folder recorded in ``run_info`` are used. A
    checker whose frames the source lacks (``CHECKER_NEEDS``) is not applicable."""
    unknown = sorted(set(only or ()) - set(CHECKERS))
    if unknown:
        raise ValueError(f"unknown checkers {unknown}; known: {', '.join(CHECKERS)}")
    context = build_check_context(frames, scenario)
    chosen = [name for name in CHECKERS if only is None or name in only]
    return [evaluate_checker(name, frames, context) for name in chosen]


def evaluate_checker(
    name: str, frames: Mapping[str, pd.DataFrame], context: CheckContext
) -> Verdict:
    """Checker ``name``'s verdict, or not applicable when the source lacks its frames."""
    title = _MODULES[name].TITLE

    def not_applicable(why: str) -> Verdict:
        return Verdict(name, "checker", title, None, "critical", None, None, message=why)

    return evaluate_needing(CHECKER_NEEDS[name], CHECKERS[name], frames, context, not_applicable)
