"""``rppsim.checks.needs``: a verdict whose frames its source lacks is not applicable and says
which; every checker and guardrail declares the frames it reads."""

from __future__ import annotations

import pandas as pd
import pytest

from rppsim.checks import CHECKER_NEEDS, CHECKERS, build_check_context, evaluate_checker
from rppsim.checks.needs import (
    FrameView,
    MissingFrameError,
    describe_missing_frames,
    evaluate_needing,
)
from rppsim.guardrails import GUARDRAILS, build_guardrail_context
from rppsim.telemetry.frames import build_frame
from tests.telemetry.test_jsonl import SMALL, run_collected

OWNED_ELSEWHERE = (24, 25)
"""Guardrails whose frames the promotion gate and the alert replay decide; the evaluators'
``FrameView`` still turns an absent frame they read into not applicable."""


def _live_info() -> pd.DataFrame:
    return build_frame("run_info", {"key": ["source"], "value": ["live-telemetry"]})


def test_the_message_names_the_frames_and_the_source() -> None:
    live = {"run_info": _live_info()}
    assert describe_missing_frames(live, ["blocks"]) == (
        "needs the blocks frame (not in live telemetry)"
    )
    assert describe_missing_frames({}, ["blocks", "votes", "faults"]) == (
        "needs the blocks, votes and faults frames (not in these frames)"
    )


def test_a_frame_read_without_being_declared_is_not_applicable() -> None:
    frames = {"run_info": _live_info(), "snapshots": pd.DataFrame()}
    view = FrameView(frames)
    with pytest.raises(MissingFrameError) as caught:
        view["blocks"]
    assert isinstance(caught.value, KeyError) and caught.value.name == "blocks"
    assert "blocks" not in view and view.get("blocks") is None and list(view) == list(frames)

    def check(frames, context):
        return len(frames["snapshots"]) + len(frames["votes"])

    def explain(why: str) -> str:
        return why

    assert evaluate_needing(("snapshots",), check, frames, None, explain) == (
        "needs the votes frame (not in live telemetry)"
    )
    assert evaluate_needing(("proofs", "votes"), check, frames, None, explain) == (
        "needs the proofs and votes frames (not in live telemetry)"
    )
    assert (
        evaluate_needing(("snapshots",), check, {**frames, "votes": pd.DataFrame()}, 0, explain)
        == 0
    )


@pytest.fixture(scope="module")
def run_frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    result, _ = run_collected(SMALL, tmp_path_factory.mktemp("needs"))
    return result.frames


def _only(frames: dict[str, pd.DataFrame], needs: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """The frames a verdict declares, and those every context is built from."""
    return {n: f for n, f in frames.items() if n in (*needs, "nodes", "run_info")}


def test_every_checker_declares_the_frames_it_reads(run_frames) -> None:
    context = build_check_context(run_frames, None)
    for name in CHECKERS:
        declared = _only(run_frames, CHECKER_NEEDS[name])
        assert evaluate_checker(name, declared, context) == CHECKERS[name](run_frames, context)


def test_every_guardrail_declares_the_frames_it_reads(run_frames) -> None:
    context = build_guardrail_context(run_frames, None)
    for guardrail in GUARDRAILS.values():
        if guardrail.number in OWNED_ELSEWHERE:
            continue
        declared = _only(run_frames, guardrail.needs)

        def refuse(why: str, number: int = guardrail.number) -> None:
            raise AssertionError(f"guardrail {number} reads an undeclared frame: {why}")

        verdict = evaluate_needing(guardrail.needs, guardrail.check, declared, context, refuse)
        assert verdict == guardrail.check(run_frames, context), guardrail.id


def test_missing_frames_make_a_checker_not_applicable(run_frames) -> None:
    context = build_check_context(run_frames, None)
    frames = {n: f for n, f in run_frames.items() if n != "votes"}
    verdict = evaluate_checker("accountability", frames, context)
    assert verdict.passed is None and verdict.kind == "checker"
    assert verdict.message == "needs the votes frame (not in these frames)"
