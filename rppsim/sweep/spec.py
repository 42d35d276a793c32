"""The sweep file: a base scenario, values set on it (``[base]``), axes over its key paths, a
design and seeds per point.

``load_sweep(path)`` reads and checks all of it before any run: the file's keys, every axis's
key path (a key of the scenario document, such as ``nodes.validators`` or
``byzantine[0].fraction``, or a key path of the node profile that ``[params]`` overrides, such
as ``reputation.tier_thresholds.tier3_min_consensus_success``), the design's parameters, and
every point's scenario (parsed as if the file said so). Each problem is one line naming the
sweep file and the key (docs/sweeps.md#the-sweep-file).
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rppsim.errors import UserError, describe
from rppsim.node.config import OVERRIDE_PATHS, is_override_path
from rppsim.scenario import (
    ROOT_KEYS,
    RULE_PATHS,
    parse_scenario,
    read_scenario_data,
    read_toml_document,
)
from rppsim.sim.spec import SEED_MAX, Scenario

__all__ = [
    "DESIGNS",
    "Axis",
    "SweepSpec",
    "apply_point",
    "build_point_scenario",
    "load_sweep",
    "parse_sweep",
]

DESIGNS = ("grid", "zip", "random", "latin-hypercube", "sobol")
"""Designs: the product or the parallel lists of the axes' values, or ``samples`` draws from
their ranges (uniform, stratified, Saltelli's for Sobol' indices)."""
SWEEP_KEYS = ("scenario", "name", "design", "seeds", "samples", "design_seed", "verdicts")
SEGMENT = re.compile(r"([A-Za-z0-9_-]+)(?:\[(\d+)\])?")
"""One segment of a scenario key path: ``name`` or ``name[index]`` (an array of tables)."""
MAX_POINTS = 100_000


@dataclass(frozen=True, slots=True)
class Axis:
    """One axis: its key path, whether it is a node-profile path (set through ``[params]``),
    and its values (a list) or range (``low``, ``high``, ``log``; integers when both ends are)."""

    key: str
    profile: bool
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    @property
    def is_range(self) -> bool:
        """Whether the axis is a range (for the sampled designs) rather than a list."""
        return self.low is not None

    def get_value(self, u: float) -> Any:
        """The axis value at ``u`` in [0, 1): a list's element, or a point of the range."""
        if not self.is_range:
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        low, high = float(self.low or 0.0), float(self.high or 0.0)
        if self.integer:
            return int(min(math.floor(low + u * (high - low + 1)), high))
        if self.log:
            return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        return low + u * (high - low)


@dataclass(frozen=True, slots=True)
class SweepSpec:
    """A checked sweep: the base scenario document, the axes, the design and the points."""

    source: str
    name: str
    scenario_path: Path
    base: dict[str, Any]
    """The base scenario's TOML document with the sweep's ``[base]`` values set."""
    axes: tuple[Axis, ...]
    design: str
    seeds: tuple[int, ...]
    samples: int
    design_seed: int
    verdicts: tuple[str, ...] | None
    points: tuple[tuple[Any, ...], ...]
    """Every point's axis values, in point order."""
    text: str
    """The sweep file as read (copied into the sweep folder)."""

    @property
    def engine(self) -> str:
        """The engine every run uses: the base scenario's ``[run] engine`` (which ``[base]``
        may set: ``"run.engine" = "fast"``)."""
        return str(self.base.get("run", {}).get("engine", "full"))

    def get_point_values(self, point: int) -> dict[str, Any]:
        """Axis key path → value of one point."""
        return {axis.key: value for axis, value in zip(self.axes, self.points[point], strict=True)}


def load_sweep(path: Path) -> SweepSpec:
    """Read and check a sweep file (module docstring); a ``UserError`` names the file and key."""
    path = Path(path)
    data, text = read_toml_document(path, "sweep")
    return parse_sweep(data, path, text)


def _fail(source: str, key: str, expected: str, found: Any = None) -> UserError:
    return UserError(source, key, expected, None if found is None else describe(found))


def _check_keys(source: str, table: Mapping[str, Any], prefix: str, known: Sequence[str]) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f'"{close[0]}" (did you mean it?) or ' if close else ""
            where = f"{prefix}.{key}" if prefix else key
            raise UserError(source, where, hint + "one of " + ", ".join(known), "unknown key")


def _get_table(source: str, data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise _fail(source, name, "a table", value)
    return value


def _get_int(source: str, table: Mapping[str, Any], key: str, default: int, lo: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise _fail(source, f"sweep.{key}", f"an integer ≥ {lo}", value)
    return value


def parse_sweep(data: Mapping[str, Any], path: Path, text: str = "") -> SweepSpec:
    """Check a parsed sweep document (``load_sweep``); every point's scenario is parsed."""
    from rppsim.sweep.designs import compute_points

    source = str(path)
    _check_keys(source, data, "", ("sweep", "base", "axes"))
    sweep = _get_table(source, data, "sweep")
    if "sweep" not in data:
        raise UserError(source, "sweep", "a [sweep] table (required)", "none")
    _check_keys(source, sweep, "sweep", SWEEP_KEYS)
    scenario_path = _get_scenario_path(source, sweep, path)
    base = read_scenario_data(scenario_path)
    fixed = _get_table(source, data, "base")
    for key, value in fixed.items():
        where = f'base."{key}"'
        _check_key_path(source, where, key, base)
        if isinstance(value, dict):
            raise _fail(source, where, "a value (a table's keys are set one by one)", value)
    base = apply_point(base, fixed, source)
    try:
        parse_scenario(base, scenario_path)
    except UserError as error:
        expected = f"{error.expected} ({error.file}: {error.key}, with [base] applied)"
        key = next((f'base."{k}"' for k in fixed if k in error.key), "base")
        raise UserError(source, key, expected, error.found) from None
    name = sweep.get("name", path.stem)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise _fail(source, "sweep.name", "a name of letters, digits, '-', '_' and '.'", name)
    design = sweep.get("design", "grid")
    if design not in DESIGNS:
        raise _fail(source, "sweep.design", "one of " + ", ".join(DESIGNS), design)
    axes = _parse_axes(source, _get_table(source, data, "axes"), base, design)
    samples = _get_int(source, sweep, "samples", 0, 0)
    if design in ("random", "latin-hypercube", "sobol") and samples < 1:
        raise _fail(source, "sweep.samples", f"an integer ≥ 1 (the {design} design's draws)",
                    sweep.get("samples"))  # fmt: skip
    if design in ("grid", "zip") and "samples" in sweep:
        raise _fail(source, "sweep.samples", f"no samples for the {design} design", samples)
    design_seed = _get_int(source, sweep, "design_seed", 0, 0)
    seeds = _parse_seeds(source, sweep, base)
    verdicts = _parse_verdicts(source, sweep)
    spec = SweepSpec(
        source, name, scenario_path, base, axes, design, seeds, samples, design_seed, verdicts,
        (), text,
    )  # fmt: skip
    points = compute_points(spec)
    if len(points) > MAX_POINTS:
        raise _fail(source, "axes", f"at most {MAX_POINTS:,} points", len(points))
    spec = replace(spec, points=tuple(points))
    for point in range(len(points)):
        build_point_scenario(spec, point)
    return spec


def _get_scenario_path(source: str, sweep: Mapping[str, Any], path: Path) -> Path:
    raw = sweep.get("scenario")
    if not isinstance(raw, str) or not raw:
        raise _fail(source, "sweep.scenario", "a scenario file path (required)", raw)
    for candidate in (path.parent / raw, Path(raw)):
        if candidate.is_file():
            return candidate
    raise UserError(source, "sweep.scenario", "an existing scenario file", f"{raw!r}: no such file")


def _parse_seeds(source: str, sweep: Mapping[str, Any], base: Mapping[str, Any]) -> tuple[int, ...]:
    """``seeds = N`` (the base scenario's seed and the N − 1 after it) or a list of seeds."""
    raw = sweep.get("seeds", 1)
    expected = f"a count ≥ 1 or a non-empty list of distinct seeds in [0, {SEED_MAX}]"
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
        first = base.get("run", {}).get("seed", 0)
        first = first if isinstance(first, int) and not isinstance(first, bool) else 0
        seeds = tuple(first + k for k in range(raw))
    elif isinstance(raw, list) and raw:
        seeds = tuple(raw)
    else:
        raise _fail(source, "sweep.seeds", expected, raw)
    is_seed = [isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= SEED_MAX for s in seeds]
    if not all(is_seed) or len(set(seeds)) != len(seeds):
        raise _fail(source, "sweep.seeds", expected, raw)
    return seeds


def _parse_verdicts(source: str, sweep: Mapping[str, Any]) -> tuple[str, ...] | None:
    from rppsim.verdicts import VERDICT_IDS

    if "verdicts" not in sweep:
        return None
    raw = sweep["verdicts"]
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise _fail(source, "sweep.verdicts", "a list of verdict ids", raw)
    unknown = [v for v in raw if v not in VERDICT_IDS]
    if unknown:
        raise UserError(
            source, "sweep.verdicts", "verdict ids such as evidence or g01-config-valid",
            ", ".join(unknown),
        )  # fmt: skip
    return tuple(dict.fromkeys(raw))


def _parse_axes(
    source: str, table: Mapping[str, Any], base: Mapping[str, Any], design: str
) -> tuple[Axis, ...]:
    if not table:
        raise UserError(source, "axes", "a table of axes (key path = values)", "none")
    axes = []
    for key, raw in table.items():
        where = f'axes."{key}"'
        profile = _check_key_path(source, where, key, base)
        if isinstance(raw, list):
            if not raw or any(isinstance(v, (dict, list)) for v in raw):
                raise _fail(source, where, "a non-empty list of values or a range table", raw)
            axes.append(Axis(key, profile, values=tuple(raw)))
        elif isinstance(raw, dict):
            axes.append(_parse_range(source, where, key, profile, raw, design))
        else:
            raise _fail(source, where, "a list of values or a range {low, high}", raw)
    lengths = {len(a.values) for a in axes}
    if design in ("grid", "zip") and any(a.is_range for a in axes):
        expected = f"lists of values for the {design} design, not ranges"
        raise UserError(source, "axes", expected, "a range")
    if design == "zip" and len(lengths) > 1:
        raise UserError(source, "axes", "lists of one length (design zip)", str(sorted(lengths)))
    if design == "sobol" and len(axes) < 2:
        raise UserError(source, "axes", "at least 2 axes for Sobol' indices", str(len(axes)))
    return tuple(axes)


def _parse_range(
    source: str, where: str, key: str, profile: bool, raw: Mapping[str, Any], design: str
) -> Axis:
    _check_keys(source, raw, where, ("low", "high", "log"))
    low, high, log = raw.get("low"), raw.get("high"), raw.get("log", False)
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(source, f"{where}.{name}", "a finite number", value)
        if not math.isfinite(value):
            raise _fail(source, f"{where}.{name}", "a finite number", value)
    assert isinstance(low, int | float) and isinstance(high, int | float)
    if not low < high:
        raise UserError(source, f"{where}.high", f"a number > low ({low})", str(high))
    if not isinstance(log, bool) or (log and low <= 0):
        raise _fail(source, f"{where}.log", "a boolean (true needs low > 0)", log)
    integer = isinstance(low, int) and isinstance(high, int)
    return Axis(key, profile, low=low, high=high, log=log and not integer, integer=integer)


def _check_key_path(source: str, where: str, key: str, base: Mapping[str, Any]) -> bool:
    """Whether ``key`` is a node-profile path (set through ``[params]``); a scenario path
    must reach an existing table, an array of tables through an existing element."""
    head = SEGMENT.match(key)
    first = head.group(1) if head else ""
    if first in ROOT_KEYS and first != "params":
        _resolve(source, where, key, copy.deepcopy(dict(base)))
        return False
    if key.startswith("params."):
        key = key.removeprefix("params.")
    if is_override_path(key) or f"rules.{key}" in RULE_PATHS:
        return True
    close = difflib.get_close_matches(key, [*OVERRIDE_PATHS, *RULE_PATHS], n=1)
    expected = (
        "a key path of the scenario (such as nodes.validators or byzantine[0].fraction) or of"
        " the node profile (such as target_validator_count)"
    )
    if close:
        expected += f"; did you mean {close[0]}?"
    raise UserError(source, where, expected, "no such key path")


def _resolve(
    source: str, where: str, key: str, document: Mapping[str, Any]
) -> tuple[dict[str, Any], str]:
    """The table holding ``key``'s last segment, and that segment's name; missing tables are
    added (on a copy the caller owns: the scenario parser then rejects a key it does not know)."""
    parts = key.split(".")
    table: Any = document
    for k, part in enumerate(parts):
        match = SEGMENT.fullmatch(part)
        if match is None:
            raise UserError(source, where, "a key path of names and [index]es", repr(key))
        name, index = match.group(1), match.group(2)
        last = k == len(parts) - 1
        if last and index is None:
            return table, name
        if index is not None:
            items = table.get(name)
            if not isinstance(items, list) or int(index) >= len(items):
                count = len(items) if isinstance(items, list) else 0
                expected = f"an index below the {count} [[{name}]] table(s) of the base scenario"
                raise UserError(source, where, expected, f"[{index}]")
            table = items[int(index)]
            if last:
                raise UserError(source, where, "a key inside the table, such as .at_ms", key)
            continue
        if name not in table:
            table[name] = {}
        table = table[name]
        if not isinstance(table, dict):
            raise UserError(source, where, f"{name} to be a table in the base scenario", key)
    raise AssertionError("unreachable")


def apply_point(base: Mapping[str, Any], values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A copy of the scenario document with each axis value set (tables created as needed;
    profile paths go into ``[params]``, flattened to dotted keys)."""
    data = copy.deepcopy(dict(base))
    for key, value in values.items():
        where = f'axes."{key}"'
        head = SEGMENT.match(key)
        if head and head.group(1) in ROOT_KEYS and head.group(1) != "params":
            table, name = _resolve(source, where, key, data)
            table[name] = value
            continue
        params = dict(_flatten(data.get("params", {})))
        params[key.removeprefix("params.")] = value
        data["params"] = params
    return data


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        out += _flatten(value, path) if isinstance(value, dict) else [(path, value)]
    return out


def build_point_scenario(spec: SweepSpec, point: int) -> Scenario:
    """The scenario of one point; a value the scenario rejects is a ``UserError`` naming the
    sweep file, the axis and the point."""
    values = spec.get_point_values(point)
    data = apply_point(spec.base, values, spec.source)
    try:
        return parse_scenario(data, spec.scenario_path)
    except UserError as error:
        blamed = [k for k in values if k in error.key or k.split(".")[-1] in error.key]
        key = f'axes."{blamed[0]}"' if len(blamed) == 1 else "axes"
        shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
        expected = f"{error.expected} (point {point}: {shown}; {error.file}: {error.key})"
        raise UserError(spec.source, key, expected, error.found) from None
