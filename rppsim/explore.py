"""``rppsim explore``: seeded fault search over a base scenario, with shrinking and repro files.

Run i of an exploration with seed S draws everything from ``SeedTree(S).generator("explore",
i)``: its own run seed, the validator and node counts, the duration, up to ``max_faults``
faults (crash with restart, pause, partition with ``until_ms`` or a heal, one-way cut, loss
burst, clock skew) and byzantine assignments. ``compute_run_plan`` is a pure function from
(base scenario data, bounds, S, i) to a scenario TOML dict, so any run can be rebuilt, run
alone and written. Each run is judged by the checkers (``rppsim.checks``).

Faults end by ``duration − quiet_tail_ms`` (default W = 3 × (block time + round timeout), the
liveness checker's window), so liveness can be judged after them. A run shorter than
``quiet_tail_ms`` + 2 s gets its faults in its first half instead; the liveness checker then
does not apply. Crash and pause windows of one node never overlap (that is a load error).

Byzantine power: genesis validators have equal stake, and power also depends on reputation
and uptime, which the byzantine behaviours barely move. The byzantine nodes are genesis
validators, at most the largest k with k / validators ≤ ``byzantine_power`` (default 0.33, so
strictly below 1/3 for every validator count below 100). A scenario may raise it (≥ 1/3) to
show that the checkers catch what such a coalition does.

A failing run is shrunk before its repro file is written (``shrink_plan``): delta debugging
(ddmin) over its faults and byzantine entries, then halving each window while the run still
fails, then dropping byzantine nodes one by one; a candidate is kept only when the same
checker still fails with the same run seed. The shrinker spends at most ``budget`` runs.

Resuming: each finished run's outcome (and each finished shrink) is recorded as it finishes in
``<out>/records/``, under a key hashing its plan, its scenario's digest, the bytes of the files
it names (profiles, edges, genesis) and the code (every ``rppsim`` source file). An exploration
stopped by ``stop()`` (SIGINT / SIGTERM) raises ``ExploreInterruptedError``; run again with the
same arguments, it loads the records whose key matches and runs only the rest, so its report is
the one an uninterrupted exploration writes.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import re
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from rppsim.errors import UserError
from rppsim.parallel import RunStoppedError, map_in_order, never
from rppsim.rng import SeedTree
from rppsim.scenario import (
    BYZANTINE_KINDS,
    BYZANTINE_MODES,
    Scenario,
    build_node_config,
    load_scenario,
    parse_scenario,
    resolve_path,
)
from rppsim.sim.run import execute_run

EXPLORE_KINDS = ("crash", "pause", "partition", "oneway", "loss", "skew", "byzantine")
CHECK_ORDER = ("error", "safety", "agreement", "accountability", "liveness")
"""Failing checker ids by priority: the first one is the one a shrink must keep failing."""
VIOLATIONS = ("safety", "agreement")
"""What ``--expect-violation`` waits for."""
ERROR = "error"
"""The pseudo checker id of a run that raised an exception."""
MIN_WINDOW_MS = 500
MIN_HORIZON_MS = 2_000
PLACEMENT_TRIES = 8
SEED_BOUND = 2**63
RECORD_FORMAT = "rppsim-explore-record/1"
"""The format of a run or shrink record in ``<out>/records/`` (part of every record key)."""
RECORDS_DIR = "records"

Verdicts = tuple[tuple[str, bool | None, str], ...]
"""A run's checker verdicts as (id, passed, message)."""


@dataclass(frozen=True, slots=True)
class ExploreBounds:
    """``[explore]``: what an exploration may draw (defaults: the issue's ranges)."""

    validators: tuple[int, int] = (4, 10)
    nodes: tuple[int, int] = (6, 24)
    """Node count bounds; each run has at least validators + 2 nodes."""
    duration_ms: tuple[int, int] = (20_000, 60_000)
    max_faults: int = 4
    kinds: tuple[str, ...] = EXPLORE_KINDS
    byzantine_kinds: tuple[str, ...] = BYZANTINE_KINDS[:9]
    """The kinds before eclipse, sync-poison and inflate-timetoke (name those to draw them),
    so the default draws of an exploration stay as they were."""
    byzantine_power: float = 0.33
    """Largest fraction k / validators of byzantine genesis validators (≤)."""
    quiet_tail_ms: int | None = None
    """No fault after ``duration − quiet_tail_ms``; None: W of the liveness checker."""


DEFAULT_BOUNDS = ExploreBounds()


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """One explored run: its plan's seed and size, its verdicts (id, passed, message)."""

    index: int
    seed: int
    validators: int
    nodes: int
    duration_ms: int
    faults: int
    byzantine: int
    verdicts: tuple[tuple[str, bool | None, str], ...]
    wall_s: float = field(default=0.0, compare=False)

    @property
    def failed(self) -> tuple[str, ...]:
        """Ids of the failed checkers, by ``CHECK_ORDER``."""
        return compute_failed_ids(self.verdicts)


@dataclass(frozen=True, slots=True)
class Failure:
    """A failing run after shrinking, and its repro file."""

    outcome: RunOutcome
    checker: str
    messages: tuple[tuple[str, str], ...]
    """(checker id, message) of every failed checker of the shrunk plan."""
    repro: Path
    shrink_runs: int
    faults_before: tuple[int, int]
    """(faults, byzantine nodes) before shrinking."""
    faults_after: tuple[int, int]


@dataclass(frozen=True, slots=True)
class ExploreReport:
    """Everything an exploration found."""

    scenario: str
    seed: int
    outcomes: tuple[RunOutcome, ...]
    failures: tuple[Failure, ...]
    out_dir: Path
    wall_s: float
    resumed: int = 0
    """Runs whose outcome came from the records of an earlier, interrupted exploration."""

    @property
    def runs_per_minute(self) -> float:
        """Runs explored by this process per wall-clock minute (shrinking excluded)."""
        ran = len(self.outcomes) - self.resumed
        return 0.0 if self.wall_s <= 0 else 60.0 * ran / self.wall_s


class ExploreInterruptedError(Exception):
    """``stop()`` ended an exploration early; what finished is recorded in ``out_dir``."""

    def __init__(self, out_dir: Path, runs: tuple[int, int], shrinks: tuple[int, int]) -> None:
        super().__init__(f"interrupted: {runs[0]} of {runs[1]} runs finished")
        self.out_dir = out_dir
        self.runs = runs
        """(finished, total) runs."""
        self.shrinks = shrinks
        """(finished, total) shrinks of failing runs (0, 0 when stopped before shrinking)."""


# --------------------------------------------------------------------------------------------
# Generation (pure).


def compute_quiet_tail_ms(block_time_ms: int, round_timeout_ms: int) -> int:
    """W = 3 × (block time + round timeout): the liveness checker's window."""
    return 3 * (block_time_ms + round_timeout_ms)


def compute_fault_horizon(duration_ms: int, quiet_tail_ms: int) -> int:
    """Faults end by this time: duration − quiet tail, or half the run when that is too short."""
    horizon = duration_ms - quiet_tail_ms
    return horizon if horizon >= MIN_HORIZON_MS else max(duration_ms // 2, MIN_WINDOW_MS + 1)


def compute_max_byzantine(validators: int, power: float) -> int:
    """The largest k with k / validators ≤ ``power``."""
    return max(0, min(validators, math.floor(power * validators + 1e-9)))


def _draw(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A uniform integer in [lo, hi]."""
    return int(rng.integers(lo, hi + 1))


def _draw_window(rng: np.random.Generator, horizon: int) -> tuple[int, int]:
    """A window [at, until) inside [0, horizon], at least ``MIN_WINDOW_MS`` long."""
    at = _draw(rng, 0, horizon - MIN_WINDOW_MS)
    return at, _draw(rng, at + MIN_WINDOW_MS, horizon)


def _draw_nodes(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[int]:
    """Between lo and hi distinct node ids, sorted."""
    count = _draw(rng, lo, max(lo, min(hi, n)))
    return sorted(int(v) for v in rng.choice(n, size=count, replace=False))


def is_window_free(busy: Sequence[tuple[int, int]], at: int, until: int) -> bool:
    """Whether [at, until) overlaps none of ``busy`` (one node's crash and pause windows)."""
    return all(until <= a or b <= at for a, b in busy)


def _node_fault(
    rng: np.random.Generator, kind: str, n: int, horizon: int, busy: dict[int, list]
) -> dict[str, Any] | None:
    """A crash (with restart) or pause of a node whose windows it does not overlap."""
    at, until = _draw_window(rng, horizon)
    for _ in range(PLACEMENT_TRIES):
        node = int(rng.integers(n))
        if is_window_free(busy.setdefault(node, []), at, until):
            busy[node].append((at, until))
            return {"kind": kind, "node": node, "at_ms": at, "until_ms": until}
    return None


def _partition(
    rng: np.random.Generator, n: int, horizon: int, oneway: bool
) -> list[dict[str, Any]]:
    """A group cut from the rest (both ways or one way), ended by ``until_ms`` or a heal."""
    at, until = _draw_window(rng, horizon)
    group = _draw_nodes(rng, n, 1, n // 2)
    fault: dict[str, Any] = {"kind": "partition", "groups": [group], "at_ms": at}
    if oneway:
        fault["oneway"] = True
    if rng.random() < 0.25:
        return [fault, {"kind": "heal", "at_ms": until}]
    fault["until_ms"] = until
    return [fault]


def _loss(rng: np.random.Generator, n: int, horizon: int) -> dict[str, Any]:
    """A loss burst (with some extra delay) on every link of a few nodes."""
    at, until = _draw_window(rng, horizon)
    return {
        "kind": "degrade",
        "nodes": _draw_nodes(rng, n, 1, max(1, n // 3)),
        "extra_loss": round(float(rng.uniform(0.2, 0.9)), 2),
        "extra_delay_ms": _draw(rng, 0, 300),
        "at_ms": at,
        "until_ms": until,
    }


def _skew(rng: np.random.Generator, n: int, horizon: int) -> dict[str, Any]:
    """A clock offset and drift on one or two nodes."""
    at, until = _draw_window(rng, horizon)
    return {
        "kind": "clock-skew",
        "nodes": _draw_nodes(rng, n, 1, 2),
        "offset_ms": _draw(rng, -3_000, 3_000),
        "drift_ppm": _draw(rng, -2_000, 2_000),
        "at_ms": at,
        "until_ms": until,
    }


def _byzantine(
    rng: np.random.Generator, bounds: ExploreBounds, validators: int, picks: int
) -> list[dict[str, Any]]:
    """``picks`` behaviours (distinct kinds) shared by k ≤ the bound's byzantine validators."""
    k_max = compute_max_byzantine(validators, bounds.byzantine_power)
    if k_max == 0 or picks == 0:
        return []
    nodes = sorted(int(v) for v in rng.choice(validators, size=_draw(rng, 1, k_max), replace=False))
    kinds = rng.permutation(len(bounds.byzantine_kinds))[: min(picks, len(bounds.byzantine_kinds))]
    out = []
    for index in sorted(int(k) for k in kinds):
        entry: dict[str, Any] = {"kind": bounds.byzantine_kinds[index], "nodes": nodes}
        if entry["kind"] == "spam":
            entry["rate_per_s"] = float(_draw(rng, 2, 20))
        if entry["kind"] == "eclipse":  # one honest validator cut off by the chosen nodes
            honest = [v for v in range(validators) if v not in nodes]
            entry["victims"] = [honest[_draw(rng, 0, len(honest) - 1)]]
        modes = BYZANTINE_MODES.get(entry["kind"])
        if modes is not None:
            entry["mode"] = modes[_draw(rng, 0, len(modes) - 1)]
        out.append(entry)
    return out


def compute_faults(
    rng: np.random.Generator, bounds: ExploreBounds, n: int, validators: int, horizon: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``[[fault]]`` and ``[[byzantine]]`` entries of one run."""
    count = _draw(rng, 0, bounds.max_faults)
    kinds = [bounds.kinds[int(k)] for k in rng.integers(len(bounds.kinds), size=count)]
    faults: list[dict[str, Any]] = []
    busy: dict[int, list] = {}
    for kind in kinds:
        if kind in ("crash", "pause"):
            fault = _node_fault(rng, kind, n, horizon, busy)
            faults += [] if fault is None else [fault]
        elif kind in ("partition", "oneway"):
            faults += _partition(rng, n, horizon, kind == "oneway")
        elif kind == "loss":
            faults.append(_loss(rng, n, horizon))
        elif kind == "skew":
            faults.append(_skew(rng, n, horizon))
    return faults, _byzantine(rng, bounds, validators, kinds.count("byzantine"))


def compute_run_plan(
    base_data: Mapping[str, Any],
    bounds: ExploreBounds,
    explore_seed: int,
    index: int,
    prover: str = "model",
) -> dict[str, Any]:
    """The scenario TOML dict of run ``index``: the base with the drawn seed, sizes, duration,
    faults and byzantine entries (the base's own faults, byzantine and [explore] are dropped)."""
    rng = SeedTree(explore_seed).generator("explore", index)
    seed = int(rng.integers(SEED_BOUND))
    validators = _draw(rng, *bounds.validators)
    n = _draw(rng, max(bounds.nodes[0], validators + 2), max(bounds.nodes[1], validators + 2))
    duration = _draw(rng, *bounds.duration_ms)
    quiet = compute_quiet_tail_ms(5_000, 6_000)
    quiet = quiet if bounds.quiet_tail_ms is None else bounds.quiet_tail_ms
    faults, byzantine = compute_faults(
        rng, bounds, n, validators, compute_fault_horizon(duration, quiet)
    )
    dropped = ("fault", "byzantine", "explore")
    plan = {k: copy.deepcopy(v) for k, v in base_data.items() if k not in dropped}
    run = dict(plan.get("run", {}))
    name = run.get("name") or "explore"
    run.update(seed=seed, duration_ms=duration, prover=prover, name=f"{name}-{index}")
    plan["run"] = run
    plan["nodes"] = {**plan.get("nodes", {}), "count": n, "validators": validators}
    if faults:
        plan["fault"] = faults
    if byzantine:
        plan["byzantine"] = byzantine
    return plan


def get_plan_size(plan: Mapping[str, Any]) -> tuple[int, int]:
    """(faults, byzantine nodes) of a plan."""
    nodes = {v for b in plan.get("byzantine", []) for v in b["nodes"]}
    return len(plan.get("fault", [])), len(nodes)


# --------------------------------------------------------------------------------------------
# Shrinking (pure: the predicate runs the plan).

Item = tuple[str, dict[str, Any]]


def get_plan_items(plan: Mapping[str, Any]) -> list[Item]:
    """The plan's faults and byzantine entries, in that order, as (table, entry)."""
    return [("fault", f) for f in plan.get("fault", [])] + [
        ("byzantine", b) for b in plan.get("byzantine", [])
    ]


def build_plan_with(plan: Mapping[str, Any], items: Sequence[Item]) -> dict[str, Any]:
    """``plan`` with exactly ``items`` as its faults and byzantine entries."""
    out = {k: v for k, v in plan.items() if k not in ("fault", "byzantine")}
    for table in ("fault", "byzantine"):
        entries = [copy.deepcopy(entry) for name, entry in items if name == table]
        if entries:
            out[table] = entries
    return out


def compute_ddmin(items: Sequence[Any], fails: Callable[[list[Any]], bool]) -> list[Any]:
    """Zeller's ddmin: a 1-minimal sublist of ``items`` (which fails) that still fails, given
    unlimited tests; the empty list is tried first."""
    current = list(items)
    if not current or fails([]):
        return []
    granularity = 2
    while len(current) >= 2:
        size = math.ceil(len(current) / granularity)
        chunks = [current[k : k + size] for k in range(0, len(current), size)]
        reduced = False
        for k, chunk in enumerate(chunks):
            complement = [x for j, c in enumerate(chunks) if j != k for x in c]
            if len(chunks) > 2 and fails(chunk):
                current, granularity, reduced = chunk, 2, True
                break
            if fails(complement):
                current, granularity, reduced = complement, max(granularity - 1, 2), True
                break
        if not reduced:
            if granularity >= len(current):
                break
            granularity = min(2 * granularity, len(current))
    return current


def _shorter(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The entry with its window halved, or None when it has none or it is already short."""
    at, until = entry.get("at_ms"), entry.get("until_ms")
    if at is None or until is None or (until - at) // 2 < MIN_WINDOW_MS:
        return None
    return {**entry, "until_ms": at + (until - at) // 2}


def _without_node(items: Sequence[Item], node: int) -> list[Item]:
    """Items with ``node`` dropped from every byzantine entry (emptied entries dropped)."""
    out: list[Item] = []
    for table, entry in items:
        if table != "byzantine":
            out.append((table, entry))
        elif nodes := [v for v in entry["nodes"] if v != node]:
            out.append((table, {**entry, "nodes": nodes}))
    return out


@dataclass(slots=True)
class _Budget:
    """A predicate over plans that spends one run per new plan, memoized; False once spent."""

    still_fails: Callable[[dict[str, Any]], bool]
    left: int
    used: int = 0
    seen: dict[str, bool] = field(default_factory=dict)

    def __call__(self, plan: dict[str, Any]) -> bool:
        key = json.dumps(plan, sort_keys=True)
        if key not in self.seen:
            if self.used >= self.left:
                return False
            self.used += 1
            self.seen[key] = self.still_fails(plan)
        return self.seen[key]


def shrink_plan(
    plan: Mapping[str, Any], still_fails: Callable[[dict[str, Any]], bool], budget: int
) -> tuple[dict[str, Any], int]:
    """A smaller plan that still fails, and the runs spent: ddmin over faults and byzantine
    entries, then halve windows, then drop byzantine nodes; at most ``budget`` runs."""
    test = _Budget(still_fails, budget)
    items = compute_ddmin(get_plan_items(plan), lambda c: test(build_plan_with(plan, c)))
    for k in range(len(items)):
        while (entry := _shorter(items[k][1])) is not None:
            candidate = [*items[:k], (items[k][0], entry), *items[k + 1 :]]
            if not test(build_plan_with(plan, candidate)):
                break
            items = candidate
    nodes = sorted({v for table, e in items if table == "byzantine" for v in e["nodes"]})
    for node in reversed(nodes):
        candidate = _without_node(items, node)
        if test(build_plan_with(plan, candidate)):
            items = candidate
    return build_plan_with(plan, items), test.used


# --------------------------------------------------------------------------------------------
# Running plans.


def compute_failed_ids(verdicts: Sequence[tuple[str, bool | None, str]]) -> tuple[str, ...]:
    """Ids of the failed verdicts, in ``CHECK_ORDER`` (unknown ids last, by name)."""
    failed = {v[0] for v in verdicts if v[1] is False}
    rank = {name: k for k, name in enumerate(CHECK_ORDER)}
    return tuple(sorted(failed, key=lambda name: (rank.get(name, len(rank)), name)))


def execute_plan(
    plan: Mapping[str, Any], source: str, stop: Callable[[], bool] = never
) -> tuple[tuple[str, bool | None, str], ...]:
    """Run a plan (paths resolved against ``source``'s folder) and judge it by the protocol
    checkers (the deployment guardrails are meant to fail under injected faults, so explore
    leaves them out); an exception is the verdict ``("error", False, message)``. A run that
    ``stop()`` ended early raises ``RunStoppedError``."""
    scenario = parse_scenario(plan, source)
    try:
        result = execute_run(scenario, write=False, record_messages=False, stop=stop)
        verdicts = [v for v in result.verdicts if v.kind == "checker"]
    except UserError:
        raise
    except Exception as error:  # a crash of the kernel or a node is a finding too
        return ((ERROR, False, f"{type(error).__name__}: {error}"),)
    if result.summary.get("interrupted"):
        raise RunStoppedError
    return tuple((v.id, v.passed, v.message) for v in verdicts)


def explore_one(
    plan: dict[str, Any], source: str, index: int, stop: Callable[[], bool] = never
) -> RunOutcome:
    """Run one plan and summarize it (the worker of the process pool)."""
    started = time.perf_counter()
    verdicts = execute_plan(plan, source, stop)
    faults, byzantine = get_plan_size(plan)
    return RunOutcome(
        index=index,
        seed=int(plan["run"]["seed"]),
        validators=int(plan["nodes"]["validators"]),
        nodes=int(plan["nodes"]["count"]),
        duration_ms=int(plan["run"]["duration_ms"]),
        faults=faults,
        byzantine=byzantine,
        verdicts=verdicts,
        wall_s=time.perf_counter() - started,
    )


def shrink_one(
    plan: dict[str, Any],
    source: str,
    verdicts: tuple[tuple[str, bool | None, str], ...],
    budget: int,
    stop: Callable[[], bool] = never,
) -> tuple[dict[str, Any], int, tuple[tuple[str, bool | None, str], ...]]:
    """Shrink a failing plan (its ``verdicts``) keeping its first failed checker failing; the
    shrunk plan, the runs spent and its verdicts (``RunStoppedError`` once ``stop()``)."""
    checker = compute_failed_ids(verdicts)[0]
    last = {json.dumps(plan, sort_keys=True): verdicts}

    def still_fails(candidate: dict[str, Any]) -> bool:
        verdicts = execute_plan(candidate, source, stop)
        last[json.dumps(candidate, sort_keys=True)] = verdicts
        return checker in compute_failed_ids(verdicts)

    shrunk, used = shrink_plan(plan, still_fails, budget)
    return shrunk, used, last[json.dumps(shrunk, sort_keys=True)]


# --------------------------------------------------------------------------------------------
# Repro files.


def rewrite_paths(plan: Mapping[str, Any], source_dir: Path, target_dir: Path) -> dict[str, Any]:
    """The plan with its paths (``nodes.profile``, ``nodes.group[i].profile``, ``network.edges``,
    ``genesis.file``, ``stage[i].profile``) relative to ``target_dir``."""
    out = copy.deepcopy(dict(plan))
    places = [(out.get(t, {}), k) for t, k in (("nodes", "profile"), ("network", "edges"))]
    places += [(out.get("genesis", {}), "file")]
    places += [(group, "profile") for group in out.get("nodes", {}).get("group", [])]
    places += [(stage, "profile") for stage in out.get("stage", [])]
    for table, key in places:
        raw = table.get(key) if isinstance(table, dict) else None
        if not isinstance(raw, str):
            continue
        resolved = resolve_path(raw, source_dir)
        if resolved is not None:
            relative = os.path.relpath(resolved.resolve(), target_dir.resolve())
            table[key] = Path(relative).as_posix()
    return out


_ARRAY = re.compile(r"\[\n((?:[ ]*(?:[^\[\]\n]|\[[^\[\]\n]*\])*,\n)+)[ ]*\]")
"""A multi-line array whose items are scalars or one-line arrays (as ``tomli_w`` writes)."""


def compute_compact_toml(text: str) -> str:
    """``tomli_w`` output with its arrays on one line each (innermost first)."""
    while True:
        compact = _ARRAY.sub(
            lambda m: "[" + ", ".join(x.strip()[:-1] for x in m.group(1).splitlines()) + "]", text
        )
        if compact == text:
            return text
        text = compact


def compute_repro_text(plan: Mapping[str, Any], header: Sequence[str]) -> str:
    """The repro file: ``header`` as comment lines, then the plan as TOML."""
    comments = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header)
    body = tomli_w.dumps(dict(plan))
    compact = compute_compact_toml(body)
    return comments + "\n" + (compact if tomllib.loads(compact) == tomllib.loads(body) else body)


def write_repro(plan: Mapping[str, Any], path: Path, source: Path, header: Sequence[str]) -> Path:
    """Write a plan as a scenario file at ``path`` (paths rewritten for its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = compute_repro_text(rewrite_paths(plan, source.parent, path.parent), header)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Records: finished runs and shrinks, kept for a resumed exploration.


def compute_code_version() -> str:
    """Hex BLAKE2s of every ``rppsim`` source file (relative path and bytes, by path); read
    afresh on every call, as the files may change while a process lives."""
    root = Path(__file__).parent
    digest = hashlib.blake2s()
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(hashlib.blake2s(path.read_bytes()).digest())
    return digest.hexdigest()


def get_named_files(value: Any) -> list[Path]:
    """The files a scenario names (its ``*_path`` fields, nested), without repeats, in order."""
    found: list[Path] = []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if f.name.endswith("_path") and isinstance(item, Path):
                found.append(item)
            else:
                found += get_named_files(item)
    elif isinstance(value, tuple | list):
        for item in value:
            found += get_named_files(item)
    return list(dict.fromkeys(found))


def get_file_chain(path: Path) -> list[Path]:
    """A named file and, for a TOML file, the files it names in turn (a node profile's base
    in ``extends``, a genesis file in ``genesis_path``), depth first, each once."""
    chain = [path]
    for item in chain:
        if item.suffix != ".toml" or len(chain) > 32:
            continue
        try:
            data = tomllib.loads(item.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        for key in ("extends", "genesis_path"):
            named = data.get(key)
            if isinstance(named, str) and item.parent / named not in chain:
                chain.append(item.parent / named)
    return chain


def compute_run_key(plan: Mapping[str, Any], scenario: Scenario, code: str | None = None) -> str:
    """The record key of a plan: hex BLAKE2s of the record format, the code version (``code``,
    else ``compute_code_version()``), the plan, its scenario's digest and the bytes of the
    files it names (and the files those name)."""
    files = [
        hashlib.blake2s(p.read_bytes()).hexdigest() if p.is_file() else ""
        for named in get_named_files(scenario)
        for p in get_file_chain(named)
    ]
    data = {
        "format": RECORD_FORMAT,
        "code": code or compute_code_version(),
        "plan": plan,
        "scenario": scenario.digest(),
        "files": files,
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2s(text.encode("utf-8")).hexdigest()


def compute_shrink_key(run_key: str, budget: int) -> str:
    """The record key of the shrink of a failing run (its run key and the budget)."""
    return hashlib.blake2s(f"{run_key}:shrink:{budget}".encode()).hexdigest()


def write_record(path: Path, data: Mapping[str, Any]) -> None:
    """Write a record atomically (a temporary file beside it, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")  # plans keep their order
    os.replace(tmp, path)


def read_record(path: Path, key: str) -> dict[str, Any] | None:
    """A record's data when it is there, readable and of this key and format (else None)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("key") == key and data.get("format") == RECORD_FORMAT
    return data if ok else None


def _to_verdicts(raw: Any) -> Verdicts:
    """Verdicts as recorded (lists) back to tuples."""
    return tuple((str(i), p, str(m)) for i, p, m in raw)


def write_run_record(folder: Path, key: str, outcome: RunOutcome, code: str = "") -> None:
    """Record a finished run's outcome (no wall time) as ``run-<key>.json``, with the code
    version it ran with (for the reader; the key holds it already)."""
    data = {
        "format": RECORD_FORMAT,
        "key": key,
        "code": code,
        **{f.name: getattr(outcome, f.name) for f in dataclasses.fields(outcome)},
    }
    data.pop("wall_s")
    write_record(folder / f"run-{key}.json", data)


def read_run_record(folder: Path, key: str, index: int) -> RunOutcome | None:
    """The recorded outcome of run ``index`` with this key, or None."""
    data = read_record(folder / f"run-{key}.json", key)
    if data is None or data.get("index") != index:
        return None
    try:
        names = [f.name for f in dataclasses.fields(RunOutcome) if f.name not in ("verdicts",)]
        fields = {n: int(data[n]) for n in names if n != "wall_s"}
        return RunOutcome(**fields, verdicts=_to_verdicts(data["verdicts"]))
    except (KeyError, TypeError, ValueError):
        return None


def write_shrink_record(
    folder: Path, key: str, shrunk: tuple[dict[str, Any], int, Verdicts]
) -> None:
    """Record a finished shrink (plan, runs spent, verdicts) as ``shrink-<key>.json``."""
    plan, used, verdicts = shrunk
    data = {"format": RECORD_FORMAT, "key": key, "plan": plan, "used": used, "verdicts": verdicts}
    write_record(folder / f"shrink-{key}.json", data)


def read_shrink_record(folder: Path, key: str) -> tuple[dict[str, Any], int, Verdicts] | None:
    """The recorded shrink with this key, or None."""
    data = read_record(folder / f"shrink-{key}.json", key)
    if data is None:
        return None
    try:
        return dict(data["plan"]), int(data["used"]), _to_verdicts(data["verdicts"])
    except (KeyError, TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# The exploration.


def get_explore_bounds(scenario: Scenario) -> ExploreBounds:
    """The scenario's ``[explore]`` bounds (defaults without one), quiet tail resolved."""
    bounds = scenario.explore or DEFAULT_BOUNDS
    if bounds.quiet_tail_ms is not None:
        return bounds
    profile = build_node_config(scenario)
    quiet = compute_quiet_tail_ms(profile.block_time_ms, scenario.rules.round_timeout_ms)
    return replace(bounds, quiet_tail_ms=quiet)


def default_explore_dir(scenario: Scenario, seed: int) -> Path:
    """``reports/explore/<scenario>/<seed>/``."""
    name = scenario.run.name or Path(scenario.source).stem
    return Path("reports") / "explore" / name / str(seed)


def _describe_failure(outcome: RunOutcome, checker: str) -> str:
    return f"run {outcome.index} (seed {outcome.seed}) failed {checker}"


def call_indexed(
    fn: Callable[..., Any], k: int, call: tuple, stop: Callable[[], bool] = never
) -> tuple[int, Any]:
    """``(k, fn(*call, stop=stop))``: a pool call that says which call it was."""
    return k, fn(*call, stop=stop)


def map_recorded(
    jobs: int,
    fn: Callable[..., Any],
    calls: Sequence[tuple],
    recorded: Sequence[Any],
    on_done: Callable[[int, Any], None],
    stop: Callable[[], bool],
) -> list[Any]:
    """``recorded[k]``, or ``fn(*calls[k])`` where that is None (``on_done(k, result)`` sees
    each as it finishes); None where ``stop()`` came first."""
    results = list(recorded)
    todo = [k for k, result in enumerate(results) if result is None]
    ran = map_in_order(
        jobs, call_indexed, [(fn, k, calls[k]) for k in todo], lambda kr: on_done(*kr), stop
    )
    for k, item in zip(todo, ran, strict=True):
        results[k] = None if item is None else item[1]
    return results


def run_explore(
    scenario_path: Path,
    *,
    runs: int,
    seed: int | None = None,
    jobs: int = 2,
    out_dir: Path | None = None,
    prover: str = "model",
    shrink_budget: int = 30,
    on_run: Callable[[RunOutcome], None] = lambda outcome: None,
    on_shrunk: Callable[[int], None] = lambda count: None,
    stop: Callable[[], bool] = never,
) -> ExploreReport:
    """Explore ``runs`` plans of a scenario, shrink every failure and write its repro file.
    Runs and shrinks recorded in ``<out>/records/`` by an earlier exploration are not run
    again; once ``stop()`` is true no run starts and ``ExploreInterruptedError`` is raised."""
    scenario = load_scenario(scenario_path)
    base_data = tomllib.loads(scenario_path.read_text(encoding="utf-8"))
    explore_seed = scenario.run.seed if seed is None else seed
    bounds = get_explore_bounds(scenario)
    target = out_dir or default_explore_dir(scenario, explore_seed)
    records = target / RECORDS_DIR
    source = str(scenario_path)
    plans = [compute_run_plan(base_data, bounds, explore_seed, i, prover) for i in range(runs)]
    # parse_scenario: a bad base or bound is a user error before any run
    code = compute_code_version()
    keys = [compute_run_key(plan, parse_scenario(plan, source), code) for plan in plans]
    recorded = [read_run_record(records, key, i) for i, key in enumerate(keys)]
    for outcome in recorded:
        if outcome is not None:
            on_run(outcome)

    def record_run(k: int, outcome: RunOutcome) -> None:
        write_run_record(records, keys[k], outcome, code)
        on_run(outcome)

    started = time.perf_counter()
    calls = [(plan, source, i) for i, plan in enumerate(plans)]
    ran = map_recorded(jobs, explore_one, calls, recorded, record_run, stop)
    wall = time.perf_counter() - started
    outcomes: list[RunOutcome] = [o for o in ran if o is not None]
    if len(outcomes) < runs:
        raise ExploreInterruptedError(target, (len(outcomes), runs), (0, 0))
    failing = [o for o in outcomes if o.failed]
    shrink_keys = [compute_shrink_key(keys[o.index], shrink_budget) for o in failing]
    recorded_shrinks = [read_shrink_record(records, key) for key in shrink_keys]
    on_shrunk(sum(done is not None for done in recorded_shrinks))

    def record_shrink(k: int, shrunk: tuple[dict[str, Any], int, Verdicts]) -> None:
        write_shrink_record(records, shrink_keys[k], shrunk)
        on_shrunk(1)

    shrink_calls = [(plans[o.index], source, o.verdicts, shrink_budget) for o in failing]
    shrinks = map_recorded(jobs, shrink_one, shrink_calls, recorded_shrinks, record_shrink, stop)
    done = [shrunk for shrunk in shrinks if shrunk is not None]
    if len(done) < len(failing):
        raise ExploreInterruptedError(target, (runs, runs), (len(done), len(failing)))
    context = (scenario_path, explore_seed, target)
    failures = [
        write_failure(outcome, plans[outcome.index], shrunk, context)
        for outcome, shrunk in zip(failing, done, strict=True)
    ]
    resumed = sum(o is not None for o in recorded)
    report = ExploreReport(
        scenario_path.as_posix(),
        explore_seed,
        tuple(outcomes),
        tuple(failures),
        target,
        wall,
        resumed,
    )
    write_report(report)
    return report


def write_failure(
    outcome: RunOutcome,
    plan: dict[str, Any],
    shrunk: tuple[dict[str, Any], int, Verdicts],
    context: tuple[Path, int, Path],
) -> Failure:
    """Write the repro file of a failing run's shrunk plan; the failure. ``context``: the
    base scenario file, the exploration seed and the output folder."""
    scenario_path, explore_seed, target = context
    small, used, verdicts = shrunk
    checker = outcome.failed[0]
    path = target / f"run-{outcome.index:04d}.toml"
    messages = tuple((v[0], v[2]) for v in verdicts if v[1] is False)
    header = [
        f"rppsim explore {scenario_path.as_posix()} --seed {explore_seed}: "
        + _describe_failure(outcome, checker),
        *(f"{name}: {message}" for name, message in messages),
        f"shrunk from {get_plan_size(plan)} to {get_plan_size(small)}"
        f" (faults, byzantine nodes) in {used} runs",
        f"replay: rppsim run {path.as_posix()}",
    ]
    write_repro(small, path, scenario_path, header)
    return Failure(
        outcome, checker, messages, path, used, get_plan_size(plan), get_plan_size(small)
    )


# --------------------------------------------------------------------------------------------
# Reports.


def compute_outcome_counts(outcomes: Sequence[RunOutcome]) -> dict[str, dict[str, int]]:
    """Per checker id: how many runs passed, failed and did not apply (errors as ``error``)."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        for name, passed, _ in outcome.verdicts:
            row = counts.setdefault(name, {"passed": 0, "failed": 0, "not_applicable": 0})
            row[{True: "passed", False: "failed", None: "not_applicable"}[passed]] += 1
    rank = {name: k for k, name in enumerate(CHECK_ORDER)}
    return dict(sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def compute_outcome_table(report: ExploreReport) -> str:
    """The outcome table per checker, then one block per failure (deterministic text)."""
    counts = compute_outcome_counts(report.outcomes)
    rows = [("checker", "passed", "failed", "n/a")] + [
        (name, str(c["passed"]), str(c["failed"]), str(c["not_applicable"]))
        for name, c in counts.items()
    ]
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    lines = [
        "  ".join(
            [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]
        )
        for r in rows
    ]
    lines.append(f"{len(report.outcomes)} runs, {len(report.failures)} failing")
    for failure in report.failures:
        o = failure.outcome
        lines += [
            "",
            f"run {o.index}  seed {o.seed}  failed {', '.join(o.failed)}"
            f"  ({o.validators} validators, {o.nodes} nodes, {o.duration_ms} ms)",
            *(f"  {name}: {message}" for name, message in failure.messages),
            f"  shrunk {failure.faults_before} -> {failure.faults_after} (faults, byzantine"
            f" nodes) in {failure.shrink_runs} runs",
            f"  replay: rppsim run {failure.repro.as_posix()}",
        ]
    return "\n".join(lines) + "\n"


def is_violation_found(report: ExploreReport) -> bool:
    """Whether some run failed safety or agreement."""
    return any(set(o.failed) & set(VIOLATIONS) for o in report.outcomes)


def write_report(report: ExploreReport) -> Path:
    """``explore.json`` in the output folder: every outcome and failure (no wall times)."""
    report.out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "scenario": report.scenario,
        "seed": report.seed,
        "runs": [
            {
                "index": o.index,
                "seed": o.seed,
                "validators": o.validators,
                "nodes": o.nodes,
                "duration_ms": o.duration_ms,
                "faults": o.faults,
                "byzantine": o.byzantine,
                "verdicts": [{"id": i, "passed": p, "message": m} for i, p, m in o.verdicts],
            }
            for o in report.outcomes
        ],
        "failures": [
            {"index": f.outcome.index, "checker": f.checker, "repro": f.repro.as_posix()}
            for f in report.failures
        ],
    }
    path = report.out_dir / "explore.json"
    path.write_text(json.dumps(data, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return path
