"""``rppsim run``: a scenario, a seed, a run folder (DESIGN.md §3, §6).

The run folder holds one Parquet file per frame, ``verdicts.json`` (the protocol checkers'
verdicts, ``rppsim.checks``) and ``summary.json`` whose ``digest`` is a BLAKE2s over the
canonical frames: same scenario and seed, same digest, in any process.
Wall-clock figures appear only under ``summary["wall"]``, outside every digest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rppsim.checks import Verdict, compute_unexpected
from rppsim.checks.context import compute_run_facts
from rppsim.checks.junit import JUNIT_FILE, write_junit
from rppsim.errors import UserError
from rppsim.gc_tuning import relaxed_gc
from rppsim.guardrails import compute_guardrail_facts
from rppsim.node.proofs import ProofService
from rppsim.scenario import SEED_MAX, Scenario
from rppsim.sim.kernel import Simulation
from rppsim.sim.proving import SizedModelProofService, get_proof_cost, get_proof_size
from rppsim.telemetry.runfolder import compute_summary, write_run_folder
from rppsim.verdicts import compute_alerts, evaluate_verdicts


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a finished run produced."""

    out_dir: Path | None
    summary: dict[str, Any]
    frames: dict[str, Any]
    verdicts: tuple[Verdict, ...] = ()
    unexpected: tuple[str, ...] = ()
    """Why the verdicts are not as the scenario's ``[expect]`` says (empty: as expected)."""


def build_proof_service(mode: str) -> ProofService:
    """The proof service of a prover mode (``real`` or ``model``)."""
    if mode == "model":
        return SizedModelProofService(get_proof_size())
    from rppsim.sim.real_proofs import RealProofService

    return RealProofService()


def default_out_dir(scenario: Scenario, seed: int) -> Path:
    """``reports/<scenario>/<seed>/`` (relative to the working directory)."""
    name = scenario.run.name or Path(scenario.source).stem
    return Path("reports") / name / str(seed)


def compute_profile_groups(sim: Simulation) -> list[tuple[str, tuple[int, ...], Any]]:
    """(name, nodes, config) of each ``[[nodes.group]]`` of a run."""
    groups = zip(sim.scenario.nodes.groups, sim.groups, sim.group_configs, strict=True)
    return [(group.name, nodes, config) for group, nodes, config in groups]


def check_overrides(scenario: Scenario, seed: int | None, duration_ms: int | None) -> None:
    """A seed in [0, 2^64 − 1] and a duration ≥ 1 ms, or a one-line ``UserError``."""
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise UserError(scenario.source, "run.seed", f"an integer in [0, {SEED_MAX}]", str(seed))
    if duration_ms is not None and duration_ms < 1:
        expected = "an integer ≥ 1 (simulated milliseconds)"
        raise UserError(scenario.source, "run.duration_ms", expected, str(duration_ms))


def execute_run(
    scenario: Scenario,
    *,
    seed: int | None = None,
    duration_ms: int | None = None,
    out_dir: Path | None = None,
    write: bool = True,
    progress: Callable[[int, int], None] | None = None,
    record_messages: bool | None = None,
) -> RunResult:
    """Run ``scenario`` and (when ``write``) save its run folder.

    ``seed`` and ``duration_ms`` override the scenario's (``--seed``, ``--duration-ms``); they
    are checked like the scenario's own values.
    """
    check_overrides(scenario, seed, duration_ms)
    started = time.perf_counter()
    sim = Simulation(
        scenario,
        seed=seed,
        duration_ms=duration_ms,
        proofs=build_proof_service(scenario.run.prover),
        proof_cost=get_proof_cost(),
        record_messages=record_messages,
    )
    with relaxed_gc():
        sim.run(progress)
    info = {
        "seed": str(sim.seed),
        "scenario": scenario.run.name or Path(scenario.source).stem,
        "scenario_digest": scenario.digest(),
        "prover": scenario.run.prover,
        "duration_ms": str(sim.duration_ms),
        **compute_run_facts(scenario),
        "expect_fail": ",".join(scenario.expect.fail),
        **compute_guardrail_facts(sim.config, scenario, compute_profile_groups(sim)),
    }
    for key, value in info.items():
        sim.recorder.record_run_info(key, value)
    frames = sim.recorder.frames()
    effective = replace(scenario, run=replace(scenario.run, duration_ms=sim.duration_ms))
    try:
        judging = time.perf_counter()
        alerts = compute_alerts(frames, effective)
        frames = {**frames, "alerts": alerts.get_frame()}
        verdicts = tuple(evaluate_verdicts(frames, effective, alerts=alerts))
        judging = time.perf_counter() - judging
    except ValueError as error:  # an override no guardrail reads
        key, _, why = str(error).partition(": ")
        raise UserError(scenario.source, key, "a threshold the guardrail reads", why) from None
    judged = [v.to_json_dict() for v in verdicts]
    wall = {
        "wall_time_s": round(time.perf_counter() - started, 3),
        "verdicts_s": round(judging, 3),
    }
    summary = compute_summary(
        frames, seed=sim.seed, scenario_digest=scenario.digest(), wall=wall, verdicts=judged
    )
    target = out_dir or default_out_dir(scenario, sim.seed)
    if write:
        write_run_folder(target, frames, summary, judged)
        write_junit(target / JUNIT_FILE, verdicts, info["scenario"])
    unexpected = tuple(compute_unexpected(verdicts, scenario.expect.fail))
    return RunResult(target if write else None, summary, frames, verdicts, unexpected)
