"""The scenario library: find scenarios under folders, pick them by tag, run each and judge it
against its ``[expect]`` (``rppsim run --tag ci scenarios/``).

A tag is a label in ``[run] tags``; ``ci`` marks the subset that CI runs. A library run is a
series of ordinary runs: each writes its own run folder and is as deterministic as
``rppsim run`` of the one file, whatever the number of worker processes.

Stopping (``stop()``: SIGINT / SIGTERM noted by the command) starts no further run; the runs in
progress stop at their next step and are written marked ``interrupted``, like ``rppsim run`` of
one file. A resumed library run (``--resume``) keeps every finished run of the same scenario
and seed (``plan_resume``), runs again the interrupted ones and runs the rest.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rppsim.errors import UserError
from rppsim.node.genesis import read_toml
from rppsim.parallel import map_in_order, never

TAG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")
"""A tag: lower-case letters, digits and hyphens, starting with a letter or digit."""


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """One scenario of a library run: its file and its label (the path below the folder it
    was found in, without ``.toml``; the file's stem when named directly)."""

    path: Path
    label: str


@dataclass(frozen=True, slots=True)
class LibraryOutcome:
    """What one scenario's run gave."""

    label: str
    source: str
    seed: int
    digest: str
    final_height: int
    wall_s: float
    unexpected: tuple[str, ...]
    expected_fail: tuple[str, ...]
    out_dir: str
    interrupted: bool = False
    """Stopped by a signal before its end (written, marked ``interrupted``)."""
    earlier: bool = False
    """Finished by an earlier library run (``--resume``), read back from its folder."""

    @property
    def as_expected(self) -> bool:
        """Its verdicts are exactly as its ``[expect]`` says."""
        return not self.unexpected


def is_scenario_file(path: Path) -> bool:
    """A TOML file with a ``[run]`` table (``rppsim validate``'s rule); other TOML files of a
    folder (genesis files, profiles) are not scenarios."""
    return "run" in read_toml(path)


def find_entries(paths: Sequence[str]) -> list[LibraryEntry]:
    """The scenario files named on the command line, in order: a folder stands for every
    scenario file below it (sorted by path). A named file must be a scenario."""
    entries: list[LibraryEntry] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [p for p in sorted(path.rglob("*.toml")) if is_scenario_file(p)]
            if not found:
                raise UserError(raw, "", "a folder holding scenario files", "none")
            entries.extend(
                LibraryEntry(p, p.relative_to(path).with_suffix("").as_posix()) for p in found
            )
        elif path.is_file():
            if not is_scenario_file(path):
                raise UserError(raw, "run", "a scenario file (with a [run] table)", "no [run]")
            entries.append(LibraryEntry(path, path.stem))
        else:
            raise UserError(raw, "", "an existing scenario file or folder", "nothing at that path")
    unique: dict[Path, LibraryEntry] = {}
    for entry in entries:  # a file named twice (or in two named folders) runs once
        unique.setdefault(entry.path.resolve(), entry)
    return list(unique.values())


def select_tagged(entries: Sequence[LibraryEntry], tag: str | None) -> list[LibraryEntry]:
    """The entries whose scenario carries ``tag`` (all of them when ``tag`` is None); every
    scenario is loaded and checked, so a bad file stops the library run before any run."""
    from rppsim.scenario import load_scenario

    if tag is not None and not TAG_PATTERN.fullmatch(tag):
        raise UserError("rppsim run", "--tag", "a tag such as ci (a-z, 0-9, -)", repr(tag))
    chosen = [e for e in entries if tag is None or tag in load_scenario(e.path).run.tags]
    if not chosen:
        raise UserError("rppsim run", "--tag", "a tag that some scenario carries", repr(tag))
    return chosen


def run_entry(
    path: str,
    label: str,
    out_root: str | None,
    force: bool = False,
    stop: Callable[[], bool] = never,
) -> LibraryOutcome:
    """Run one scenario with its own seed and duration into ``out_root/label`` (default
    ``reports/<name>/<seed>``; ``force`` replaces a run folder there); once ``stop()`` it ends
    at its next step, written marked interrupted. A top-level function, so worker processes
    can call it."""
    from rppsim.scenario import load_scenario
    from rppsim.sim.run import execute_run

    scenario = load_scenario(Path(path))
    started = time.perf_counter()
    out = None if out_root is None else Path(out_root) / label
    try:
        result = execute_run(scenario, out_dir=out, force=force, stop=stop)
    except Exception as error:  # one broken run must not hide the others' outcomes
        problem = (
            f"the run stopped: {type(error).__name__}: {error} (rppsim run {path} shows where)"
        )
        return LibraryOutcome(
            label, path, scenario.run.seed, "", 0, round(time.perf_counter() - started, 2),
            (problem,), scenario.expect.fail, "",
        )  # fmt: skip
    heights = result.summary["final_heights"].values()
    return LibraryOutcome(
        label=label,
        source=path,
        seed=int(result.summary["seed"]),
        digest=str(result.summary["digest"]),
        final_height=max(heights, default=0),
        wall_s=round(time.perf_counter() - started, 2),
        unexpected=tuple(result.unexpected),
        expected_fail=scenario.expect.fail,
        out_dir=str(result.out_dir),
        interrupted=bool(result.summary.get("interrupted")),
    )


def run_library(
    entries: Sequence[LibraryEntry],
    *,
    out_root: Path | None = None,
    jobs: int = 1,
    done: Callable[[LibraryOutcome], None] = lambda outcome: None,
    force: bool = False,
    replacing: Collection[str] = (),
    stop: Callable[[], bool] = never,
) -> list[LibraryOutcome | None]:
    """Run every entry (in ``jobs`` worker processes); outcomes in entry order. ``force`` (or
    the entry's label in ``replacing``) replaces a run folder at its place. Once ``stop()`` no
    further run starts (its outcome is None) and the running ones stop early (``interrupted``)."""
    root = None if out_root is None else str(out_root)
    calls = [(str(e.path), e.label, root, force or e.label in replacing) for e in entries]
    return map_in_order(jobs, run_entry, calls, done, stop)


def get_entry_target(entry: LibraryEntry, out_root: Path | None) -> Path:
    """Where an entry's run folder goes: ``out_root/label``, else ``reports/<name>/<seed>``."""
    if out_root is not None:
        return out_root / entry.label
    from rppsim.scenario import load_scenario
    from rppsim.sim.run import default_out_dir

    scenario = load_scenario(entry.path)
    return default_out_dir(scenario, scenario.run.seed)


def _read_json(path: Path) -> Any:
    """A JSON file's data, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def read_finished_outcome(entry: LibraryEntry, target: Path) -> LibraryOutcome | None:
    """The outcome of the finished run of this entry's scenario and seed at ``target`` (its
    ``summary.json``, not interrupted, and ``verdicts.json``), or None."""
    from rppsim.checks import Verdict, compute_unexpected
    from rppsim.scenario import load_scenario
    from rppsim.telemetry.runfolder import SUMMARY_FILE, VERDICTS_FILE

    summary = _read_json(target / SUMMARY_FILE)
    judged = _read_json(target / VERDICTS_FILE)
    scenario = load_scenario(entry.path)
    if not isinstance(summary, dict) or not isinstance(judged, list):
        return None
    if not is_run_of(summary, scenario.digest(), scenario.run.seed) or summary.get("interrupted"):
        return None
    try:
        verdicts = [Verdict(**v) for v in judged]
        heights = [int(h) for h in summary["final_heights"].values()]
        wall = float(summary.get("wall", {}).get("wall_time_s", 0.0))
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return LibraryOutcome(
        label=entry.label,
        source=str(entry.path),
        seed=scenario.run.seed,
        digest=str(summary.get("digest", "")),
        final_height=max(heights, default=0),
        wall_s=round(wall, 2),
        unexpected=tuple(compute_unexpected(verdicts, scenario.expect.fail)),
        expected_fail=scenario.expect.fail,
        out_dir=str(target),
        earlier=True,
    )


def is_run_of(summary: dict[str, Any], scenario_digest: str, seed: int) -> bool:
    """Whether a ``summary.json`` is of a run of this scenario (digest) and seed."""
    return summary.get("scenario_digest") == scenario_digest and summary.get("seed") == seed


@dataclass(frozen=True, slots=True)
class ResumePlan:
    """What a resumed library run does: keep the finished runs, replace the interrupted ones,
    run the rest."""

    finished: dict[str, LibraryOutcome]
    """Outcomes of the runs finished earlier, by label."""
    replacing: frozenset[str]
    """Labels whose place holds an interrupted run of their scenario (run again, replaced)."""
    to_run: tuple[LibraryEntry, ...]
    """Entries to run (the interrupted ones included), in entry order."""


def plan_resume(entries: Sequence[LibraryEntry], out_root: Path | None) -> ResumePlan:
    """Sort the entries by what their places hold (``--resume``); a place holding another
    scenario's or seed's run, or an unreadable one, is a one-line ``UserError`` (``--force``
    replaces it)."""
    from rppsim.scenario import load_scenario
    from rppsim.telemetry.runfolder import SUMMARY_FILE, is_run_folder

    finished: dict[str, LibraryOutcome] = {}
    replacing: set[str] = set()
    to_run: list[LibraryEntry] = []
    for entry in entries:
        target = get_entry_target(entry, out_root)
        if not target.is_dir() or not is_run_folder(target):
            to_run.append(entry)
            continue
        outcome = read_finished_outcome(entry, target)
        if outcome is not None:
            finished[entry.label] = outcome
            continue
        summary = _read_json(target / SUMMARY_FILE)
        scenario = load_scenario(entry.path)
        if not (
            isinstance(summary, dict)
            and summary.get("interrupted")
            and is_run_of(summary, scenario.digest(), scenario.run.seed)
        ):
            expected = "a finished or interrupted run of this scenario and seed (--force replaces)"
            raise UserError(str(target), "--resume", expected, "another or unreadable run folder")
        replacing.add(entry.label)
        to_run.append(entry)
    return ResumePlan(finished, frozenset(replacing), tuple(to_run))


def compute_outcome_line(outcome: LibraryOutcome) -> str:
    """One line per scenario: as expected or not (``stop``: interrupted), label, seed, digest,
    height, wall time (``earlier``: finished by an earlier library run)."""
    status = "stop" if outcome.interrupted else "ok  " if outcome.as_expected else "FAIL"
    expected = f"  expected to fail: {len(outcome.expected_fail)}" if outcome.expected_fail else ""
    expected += "  (finished earlier)" if outcome.earlier else ""
    expected += "  (interrupted, kept marked so)" if outcome.interrupted else ""
    line = (
        f"{status}  {outcome.label:<36} seed {outcome.seed:<6} digest {outcome.digest[:16]}"
        f"  height {outcome.final_height:<4} {outcome.wall_s:6.1f} s{expected}"
    )
    problems = "".join(f"\n      NOT AS EXPECTED  {p}" for p in outcome.unexpected)
    return line + problems
