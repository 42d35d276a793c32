"""``rppsim run``: a scenario, a seed, a run folder (docs/architecture.md#determinism).

The run folder holds one Parquet file per frame, ``verdicts.json`` (the protocol checkers'
verdicts, ``rppsim.checks``) and ``summary.json`` whose ``digest`` is a BLAKE2s over the
canonical frames: same scenario and seed, same digest, in any process.
Wall-clock figures appear only under ``summary["wall"]``, outside every digest.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rppsim.checks import Verdict, compute_unexpected
from rppsim.checks.context import compute_run_facts
from rppsim.checks.junit import JUNIT_FILE, write_junit
from rppsim.errors import UserError
from rppsim.gc_tuning import relaxed_gc
from rppsim.guardrails import compute_guardrail_facts
from rppsim.guardrails.base import compute_profile_json
from rppsim.node.genesis import compute_genesis_hash
from rppsim.node.proofs import ProofService
from rppsim.sim.kernel import Simulation
from rppsim.sim.proving import SizedModelProofService, get_proof_cost, get_proof_size
from rppsim.sim.spec import SEED_MAX, Scenario, get_duration_max_ms
from rppsim.sim.stages import compute_stage_batches
from rppsim.telemetry.runfolder import (
    check_run_target,
    commit_run_folder,
    compute_summary,
    make_temporary_folder,
    write_run_folder,
)
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


STOP_EVERY_MS = 10
"""Simulated ms between two looks at ``execute_run``'s ``stop`` (the run advances in steps
this long; event order and digests do not depend on it)."""


def compute_folder_name(name: str) -> str:
    """``name`` as one safe folder name: characters other than letters, digits, ``.``, ``_``
    and ``-`` become ``_`` and leading dots go (so an absolute name or ``..`` stays in
    ``reports/``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "scenario"


def default_out_dir(scenario: Scenario, seed: int, duration_ms: int | None = None) -> Path:
    """``reports/<scenario>/<seed>/`` (relative to the working directory), ``<seed>-<N>ms`` when
    ``duration_ms`` (``--duration-ms``) is not the scenario's own, so the runs stay apart."""
    name = compute_folder_name(scenario.run.name or Path(scenario.source).stem)
    leaf = str(seed)
    if duration_ms is not None and duration_ms != scenario.run.duration_ms:
        leaf += f"-{duration_ms}ms"
    return Path("reports") / name / leaf


def compute_profile_groups(sim: Simulation) -> list[tuple[str, tuple[int, ...], Any]]:
    """(name, nodes, config) of each ``[[nodes.group]]`` of a run."""
    groups = zip(sim.scenario.nodes.groups, sim.groups, sim.group_configs, strict=True)
    return [(group.name, nodes, config) for group, nodes, config in groups]


def compute_stage_facts(sim: Simulation) -> dict[str, str]:
    """``run_info`` of a run with ``[[stage]]`` (none without): ``stages``, one line per stage
    (name, channel, at_ms, batches as down time → nodes, downtime, keep_data), and
    ``profile_stages`` for the guardrails (each stage's profile and when each node took it)."""
    stages = sim.scenario.stages
    if not stages:
        return {}
    lines, entries = [], []
    n = sim.scenario.nodes.count
    for index, (stage, config) in enumerate(zip(stages, sim.stage_configs, strict=True)):
        batches = compute_stage_batches(stage, n)
        channel = config.rollout.release_channel.value
        plan = " ".join(f"{t}:{','.join(map(str, nodes))}" for t, nodes in batches)
        lines.append(
            f"stage[{index}] {stage.name} channel={channel} at_ms={stage.at_ms} batches={plan}"
            f" downtime_ms={stage.downtime_ms} keep_data={str(stage.keep_data).lower()}"
        )
        nodes = [[node, t] for t, batch in batches for node in batch if t < sim.duration_ms]
        profile = json.loads(compute_profile_json(config))
        entries.append({"name": stage.name, "nodes": nodes, "profile": profile})
    return {
        "stages": "\n".join(lines),
        "profile_stages": json.dumps(entries, sort_keys=True, separators=(",", ":")),
    }


def compute_genesis_facts(sim: Simulation) -> dict[str, str]:
    """``run_info`` ``genesis_hashes`` (node → the hash of the genesis it started from,
    ``rppsim.node.genesis.compute_genesis_hash``) when a ``[[nodes.group]]`` ships its own
    genesis; without one every node shares the run's by construction and nothing is recorded."""
    if all(g.genesis_chain_id is None for g in sim.scenario.nodes.groups):
        return {}
    hashes = [[i, compute_genesis_hash(c.genesis)] for i, c in enumerate(sim.start_configs)]
    return {"genesis_hashes": json.dumps(hashes, separators=(",", ":"))}


def judge_run(
    frames: dict[str, Any], scenario: Scenario, only: Sequence[str] | None = None
) -> tuple[dict[str, Any], tuple[Verdict, ...], float]:
    """A run's frames with its ``alerts`` frame added, the verdicts on them (``only`` those
    ids, if given) and the seconds the judging took; ``scenario`` carries the run's effective
    duration. A ``[guardrails]`` override no verdict reads is a one-line ``UserError``."""
    try:
        started = time.perf_counter()
        alerts = compute_alerts(frames, scenario)
        frames = {**frames, "alerts": alerts.get_frame()}
        verdicts = tuple(evaluate_verdicts(frames, scenario, only=only, alerts=alerts))
        return frames, verdicts, time.perf_counter() - started
    except ValueError as error:  # an override no guardrail reads
        key, _, why = str(error).partition(": ")
        raise UserError(scenario.source, key, "a threshold the guardrail reads", why) from None


def check_overrides(scenario: Scenario, seed: int | None, duration_ms: int | None) -> None:
    """A seed in [0, 2^64 − 1] and a duration in [1, the engine's maximum] ms, or a one-line
    ``UserError`` naming the flag (``--seed``, ``--duration-ms``)."""
    limit = get_duration_max_ms(scenario.run.engine)
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise UserError("rppsim run", "--seed", f"an integer in [0, {SEED_MAX}]", str(seed))
    if duration_ms is not None and not 1 <= duration_ms <= limit:
        expected = f"an integer in [1, {limit}] (simulated milliseconds)"
        raise UserError("rppsim run", "--duration-ms", expected, str(duration_ms))


def advance_until_stopped(sim: Simulation, stop: Callable[[], bool]) -> int:
    """Run ``sim`` in steps of STOP_EVERY_MS until its end or until ``stop()``; the simulated
    time reached (the run's duration when it was not stopped)."""
    sim.start()
    now = 0
    while now < sim.duration_ms:
        if stop():
            return now
        now = min(now + STOP_EVERY_MS, sim.duration_ms)
        sim.advance(now)
    return sim.duration_ms


def place_run_folder(
    target: Path,
    frames: dict[str, Any],
    summary: dict[str, Any],
    judged: list[dict[str, Any]],
    verdicts: tuple[Verdict, ...],
    name: str,
    force: bool,
) -> None:
    """Write the run folder (frames, verdicts, junit, summary) into a temporary folder beside
    ``target`` and move it into place (``commit_run_folder``); a failed write removes it."""
    folder = make_temporary_folder(target)
    try:
        write_run_folder(folder, frames, summary, judged)
        write_junit(folder / JUNIT_FILE, verdicts, name)
        commit_run_folder(folder, target, force=force)
    except UserError:  # it names the folder that holds the finished run
        raise
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def execute_run(
    scenario: Scenario,
    *,
    seed: int | None = None,
    duration_ms: int | None = None,
    out_dir: Path | None = None,
    write: bool = True,
    progress: Callable[[int, int], None] | None = None,
    record_messages: bool | None = None,
    force: bool = False,
    stop: Callable[[], bool] | None = None,
) -> RunResult:
    """Run ``scenario`` and (when ``write``) save its run folder.

    ``seed`` and ``duration_ms`` override the scenario's (``--seed``, ``--duration-ms``); they
    are checked like the scenario's own values. The run folder's place is checked before the
    run (``check_run_target``; ``force`` replaces another run's folder); the folder is written
    aside and moved into place once complete. ``stop()`` true ends the run early: it is
    written with ``run_info`` ``interrupted = true`` and its duration the simulated time reached.
    """
    check_overrides(scenario, seed, duration_ms)
    if write:
        final_seed = scenario.run.seed if seed is None else seed
        check_run_target(out_dir or default_out_dir(scenario, final_seed, duration_ms), force=force)
    if scenario.run.engine == "fast":  # the per-height protocol model (rppsim.model)
        from rppsim.model.run import execute_fast_run
        from rppsim.telemetry.frames import FRAME_NAMES, get_empty_frame

        fast = execute_fast_run(scenario, seed=seed, duration_ms=duration_ms, write=False)
        if not write:
            return fast
        fast_seed = int(fast.summary["seed"])
        target = out_dir or default_out_dir(scenario, fast_seed, duration_ms)
        complete = {name: get_empty_frame(name) for name in FRAME_NAMES} | fast.frames
        judged = [v.to_json_dict() for v in fast.verdicts]
        name = scenario.run.name or Path(scenario.source).stem
        place_run_folder(target, complete, fast.summary, judged, fast.verdicts, name, force)
        return replace(fast, out_dir=target)
    started = time.perf_counter()
    sim = Simulation(
        scenario,
        seed=seed,
        duration_ms=duration_ms,
        proofs=build_proof_service(scenario.run.prover),
        proof_cost=get_proof_cost(),
        record_messages=record_messages,
    )
    sim.progress = progress
    with relaxed_gc():
        reached = advance_until_stopped(sim, stop or (lambda: False))
    interrupted = reached < sim.duration_ms
    if interrupted:
        sim.duration_ms = reached  # the run ends here: finals and verdicts judge what ran
    sim.finish()
    info = {
        "seed": str(sim.seed),
        "scenario": scenario.run.name or Path(scenario.source).stem,
        "scenario_digest": scenario.digest(),
        "prover": scenario.run.prover,
        "duration_ms": str(sim.duration_ms),
        **compute_run_facts(scenario),
        "expect_fail": ",".join(scenario.expect.fail),
        **compute_guardrail_facts(sim.config, scenario, compute_profile_groups(sim)),
        **compute_stage_facts(sim),
        **compute_genesis_facts(sim),
        **({"interrupted": "true"} if interrupted else {}),
    }
    for key, value in info.items():
        sim.recorder.record_run_info(key, value)
    frames = sim.recorder.frames()
    effective = replace(scenario, run=replace(scenario.run, duration_ms=sim.duration_ms))
    frames, verdicts, judging = judge_run(frames, effective)
    judged = [v.to_json_dict() for v in verdicts]
    wall = {
        "wall_time_s": round(time.perf_counter() - started, 3),
        "verdicts_s": round(judging, 3),
    }
    summary = compute_summary(
        frames, seed=sim.seed, scenario_digest=scenario.digest(), wall=wall, verdicts=judged
    )
    if interrupted:
        summary["interrupted"] = True
    target = out_dir or default_out_dir(scenario, sim.seed, duration_ms)
    if write:
        place_run_folder(target, frames, summary, judged, verdicts, info["scenario"], force)
    unexpected = tuple(compute_unexpected(verdicts, scenario.expect.fail))
    return RunResult(target if write else None, summary, frames, verdicts, unexpected)
