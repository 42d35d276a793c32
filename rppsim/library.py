"""The scenario library: find scenarios under folders, pick them by tag, run each and judge it
against its ``[expect]`` (``rppsim run --tag ci scenarios/``).

A tag is a label in ``[run] tags``; ``ci`` marks the subset that CI runs. A library run is a
series of ordinary runs: each writes its own run folder and is as deterministic as
``rppsim run`` of the one file, whatever the number of worker processes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rppsim.errors import UserError
from rppsim.node.genesis import read_toml
from rppsim.parallel import map_in_order

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


def run_entry(path: str, label: str, out_root: str | None, force: bool = False) -> LibraryOutcome:
    """Run one scenario with its own seed and duration into ``out_root/label`` (default
    ``reports/<name>/<seed>``; ``force`` replaces a run folder there); a top-level function,
    so worker processes can call it."""
    from rppsim.scenario import load_scenario
    from rppsim.sim.run import execute_run

    scenario = load_scenario(Path(path))
    started = time.perf_counter()
    out = None if out_root is None else Path(out_root) / label
    try:
        result = execute_run(scenario, out_dir=out, force=force)
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
    )


def run_library(
    entries: Sequence[LibraryEntry],
    *,
    out_root: Path | None = None,
    jobs: int = 1,
    done: Callable[[LibraryOutcome], None] = lambda outcome: None,
    force: bool = False,
) -> list[LibraryOutcome]:
    """Run every entry (in ``jobs`` worker processes); outcomes in entry order."""
    root = None if out_root is None else str(out_root)
    calls = [(str(e.path), e.label, root, force) for e in entries]
    return map_in_order(jobs, run_entry, calls, done)


def compute_outcome_line(outcome: LibraryOutcome) -> str:
    """One line per scenario: as expected or not, label, seed, digest, height, wall time."""
    status = "ok  " if outcome.as_expected else "FAIL"
    expected = f"  expected to fail: {len(outcome.expected_fail)}" if outcome.expected_fail else ""
    line = (
        f"{status}  {outcome.label:<36} seed {outcome.seed:<6} digest {outcome.digest[:16]}"
        f"  height {outcome.final_height:<4} {outcome.wall_s:6.1f} s{expected}"
    )
    problems = "".join(f"\n      NOT AS EXPECTED  {p}" for p in outcome.unexpected)
    return line + problems
