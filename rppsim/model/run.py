"""``[run] engine = "fast"``: a run folder from the fast model, judged like a full run.

The verdicts that need frames the model does not write (messages, votes, proofs, ...) are
"not applicable" (``rppsim.checks.needs``); the others read the model's frames unchanged.
The summary and the run folder hold every frame, those the model does not write empty (the
summary reads them all).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from rppsim.checks import compute_unexpected
from rppsim.checks.junit import JUNIT_FILE, write_junit
from rppsim.guardrails.promotion import PROMOTION_IDS
from rppsim.model.engine import run_model
from rppsim.sim.run import RunResult, default_out_dir, judge_run
from rppsim.sim.spec import Scenario
from rppsim.telemetry.frames import FRAME_NAMES, get_empty_frame
from rppsim.telemetry.runfolder import compute_summary, write_run_folder
from rppsim.verdicts import VERDICT_IDS

__all__ = ["SKIPPED_VERDICTS", "execute_fast_run"]


SKIPPED_VERDICTS = (*PROMOTION_IDS, "g14-recursive-commitment", "g17-consensus-availability")
"""Verdicts not evaluated on a model run: the promotion gates read ``snapshots`` without
declaring it (so they cannot be "not applicable"), and g14/g17 judge the blocks' proof and
commitment columns, which the model does not produce (no proofs, no recursive commitment)."""


def execute_fast_run(
    scenario: Scenario,
    *,
    seed: int | None = None,
    duration_ms: int | None = None,
    out_dir: Path | None = None,
    write: bool = True,
) -> RunResult:
    """``execute_run`` with the fast model: frames, verdicts, summary, run folder."""
    started = time.perf_counter()
    run = run_model(scenario, seed=seed, duration_ms=duration_ms)
    effective = replace(scenario, run=replace(scenario.run, duration_ms=run.duration_ms))
    frames = run.frames
    wanted = [v for v in VERDICT_IDS if v not in SKIPPED_VERDICTS]
    frames, verdicts, judging = judge_run(frames, effective, only=wanted)
    judged = [v.to_json_dict() for v in verdicts]
    wall = {
        "wall_time_s": round(time.perf_counter() - started, 3),
        "verdicts_s": round(judging, 3),
    }
    complete = {name: get_empty_frame(name) for name in FRAME_NAMES} | frames
    summary = compute_summary(
        complete, seed=run.seed, scenario_digest=scenario.digest(), wall=wall, verdicts=judged
    )
    target = out_dir or default_out_dir(scenario, run.seed)
    if write:
        write_run_folder(target, complete, summary, judged)
        name = scenario.run.name or Path(scenario.source).stem
        write_junit(target / JUNIT_FILE, verdicts, name)
    unexpected = tuple(compute_unexpected(verdicts, scenario.expect.fail))
    return RunResult(target if write else None, summary, frames, verdicts, unexpected)
