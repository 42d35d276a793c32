"""The verdict: one judgement of a run, shared by checkers, guardrails, alerts and promotions.

A verdict passes (``passed`` True), fails (False) or does not apply (None, ``message`` says
why). ``figure`` is what was measured, ``threshold`` the bound it is held to; ``node`` and
``time_ms`` name the first offender (None when there is none). ``verdicts.json`` is a list of
``Verdict.to_json_dict()`` objects, sorted keys, indent 2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "KINDS",
    "SEVERITIES",
    "Verdict",
    "compute_verdict_counts",
    "compute_verdict_table",
    "compute_verdicts_text",
    "get_status",
    "write_verdicts",
]

KINDS = ("checker", "guardrail", "alert", "promotion")
SEVERITIES = ("critical", "warning", "info")
_STATUS = {True: "PASS", False: "FAIL", None: "N/A"}
_ORDER = {False: 0, None: 1, True: 2}


@dataclass(frozen=True, slots=True)
class Verdict:
    """One judgement: pass, fail or not applicable, with its figure and first offender."""

    id: str
    kind: str
    title: str
    passed: bool | None
    severity: str
    figure: int | float | None
    threshold: int | float | None
    node: int | None = None
    time_ms: int | None = None
    message: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"verdict kind must be one of {KINDS}, got {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"verdict severity must be one of {SEVERITIES}, got {self.severity!r}")
        if self.passed is None and not self.message:
            raise ValueError(f"verdict {self.id}: not applicable needs a message saying why")

    def to_json_dict(self) -> dict[str, object]:
        """The ``verdicts.json`` object: every field by name."""
        return asdict(self)


def get_status(verdict: Verdict) -> str:
    """``PASS``, ``FAIL`` or ``N/A``."""
    return _STATUS[verdict.passed]


def compute_verdict_counts(verdicts: Iterable[Verdict]) -> dict[str, int]:
    """How many verdicts passed, failed and did not apply."""
    passed = [v.passed for v in verdicts]
    return {
        "passed": passed.count(True),
        "failed": passed.count(False),
        "not_applicable": passed.count(None),
    }


def _format_number(value: int | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    return str(int(value))


def compute_verdict_table(verdicts: Sequence[Verdict]) -> str:
    """A plain-text table: failures first, then not applicable, then passes (stable). Alert
    rules that passed (never fired) share one row; ``verdicts.json`` lists each."""
    quiet = [v for v in verdicts if v.kind == "alert" and v.passed is True]
    shown = [v for v in verdicts if not (v.kind == "alert" and v.passed is True)]
    ordered = sorted(shown, key=lambda v: _ORDER[v.passed])
    header = ("status", "id", "figure", "threshold", "node", "time_ms", "message")
    rows = [header] + [
        (
            get_status(v),
            v.id,
            _format_number(v.figure),
            _format_number(v.threshold),
            _format_number(v.node),
            _format_number(v.time_ms),
            v.message,
        )
        for v in ordered
    ]
    if quiet:
        message = f"{len(quiet)} alert rules passed (each one in verdicts.json)"
        rows.append(("PASS", "alert rules", "-", "-", "-", "-", message))
    widths = [max(len(row[k]) for row in rows) for k in range(len(header) - 1)]
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def compute_verdicts_text(verdicts: Iterable[Verdict]) -> str:
    """``verdicts.json`` text: a list of objects, sorted keys, indent 2, trailing newline."""
    objects = [v.to_json_dict() for v in verdicts]
    return json.dumps(objects, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_verdicts(path: str | os.PathLike[str], verdicts: Iterable[Verdict]) -> Path:
    """Write ``verdicts.json`` (to a temporary name, then renamed)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(compute_verdicts_text(verdicts), encoding="utf-8")
    os.replace(tmp, target)
    return target


def compute_unexpected(verdicts: Iterable[Verdict], expected_fail: Iterable[str]) -> list[str]:
    """Why ``verdicts`` are not as a scenario's ``[expect]`` says (empty: as expected): every
    id listed must have failed, and nothing else may fail (not applicable is no failure)."""
    items = list(verdicts)
    expected = list(expected_fail)
    by_id = {v.id: v for v in items}
    problems = []
    for verdict_id in expected:
        verdict = by_id.get(verdict_id)
        if verdict is None:
            problems.append(f"{verdict_id}: expected to fail, but it was not evaluated")
        elif verdict.passed is not False:
            problems.append(f"{verdict_id}: expected to fail, but it is {get_status(verdict)}")
    problems += [
        f"{v.id}: failed and [expect] does not list it"
        for v in items
        if v.passed is False and v.id not in expected
    ]
    return problems
