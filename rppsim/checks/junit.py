"""JUnit XML of a run's verdicts: one test case per verdict, for CI dashboards.

A failed verdict is a ``<failure>`` with its message, a not-applicable one is ``<skipped>``
with why; the test case's class is the verdict's kind (``checker``, later ``guardrail``,
``alert``, ``promotion``) and its name the verdict id.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from rppsim.checks.verdict import Verdict, compute_verdict_counts

JUNIT_FILE = "junit.xml"


def compute_junit_xml(verdicts: Iterable[Verdict], suite: str) -> str:
    """The ``<testsuites>`` document of ``verdicts`` as one suite named ``suite``."""
    items = list(verdicts)
    counts = compute_verdict_counts(items)
    root = ET.Element("testsuites")
    node = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(items)),
        failures=str(counts["failed"]),
        skipped=str(counts["not_applicable"]),
        errors="0",
    )
    for verdict in items:
        case = ET.SubElement(node, "testcase", classname=verdict.kind, name=verdict.id)
        detail = f"{verdict.title}: {verdict.message}" if verdict.message else verdict.title
        if verdict.passed is False:
            failure = ET.SubElement(case, "failure", message=verdict.message or verdict.title)
            failure.text = detail + _where(verdict)
        elif verdict.passed is None:
            ET.SubElement(case, "skipped", message=verdict.message)
        else:
            ET.SubElement(case, "system-out").text = detail
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _where(verdict: Verdict) -> str:
    parts = []
    if verdict.node is not None:
        parts.append(f"node {verdict.node}")
    if verdict.time_ms is not None:
        parts.append(f"at {verdict.time_ms} ms")
    return f" ({', '.join(parts)})" if parts else ""


def write_junit(path: str | os.PathLike[str], verdicts: Iterable[Verdict], suite: str) -> Path:
    """Write ``compute_junit_xml`` to ``path``; returns the path."""
    target = Path(path)
    target.write_text(compute_junit_xml(verdicts, suite), encoding="utf-8")
    return target
