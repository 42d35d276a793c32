"""Prometheus rule files and their evaluation over time, as promtool 2.42's rule manager does.

`load_rule_files` reads plain Prometheus ``groups:`` files and checks them the way
``promtool check rules`` does, a little stricter where noted (label values must be YAML
strings; an expression must give an instant vector or a scalar; templates must use the
subset `compile_template` supports). `evaluate_rules` evaluates every group at each step of
a fixed grid, groups in the order given and rules in file order, as promtool's unit tests
do (a group's own ``interval`` is kept but, as in promtool, not used):

- a recording rule's result gets ``__name__`` and the rule's labels and is appended to the
  store at the evaluation time, so later rules see it at once; a series it stops returning
  gets a stale marker, as in Prometheus;
- an alerting rule's result elements become alerts keyed by their labels (series labels
  without ``__name__``, plus the expanded rule labels, plus ``alertname``); an alert is
  pending from its first evaluation and fires once it has been active for ``for``; it
  resolves at the first evaluation it is missing from. The ``ALERTS`` and
  ``ALERTS_FOR_STATE`` series are written as Prometheus writes them.

The store passed to `evaluate_rules` is mutated (recorded and ``ALERTS`` series are added);
pass ``store.copy()`` to keep the input.

That step-by-step description is the semantics. `evaluate_rules` gets the result from
`batch.evaluate_rules_batch`, which evaluates each rule over every step at once, wherever
it supports the rules and the input, and from `evaluate_rules_stepwise` otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from rppsim.guardrails.alerting.promql import (
    METRIC_NAME,
    STALE,
    InstantVector,
    Labels,
    Node,
    SeriesStore,
    compute_with_labels,
    evaluate_expr,
    format_go_float,
    is_valid_label_name,
    is_valid_metric_name,
    parse_expr,
    parse_go_float,
)

ALERTS_METRIC = "ALERTS"
ALERTS_FOR_STATE_METRIC = "ALERTS_FOR_STATE"
ALERT_NAME = "alertname"

_DURATION_RE = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
_DURATION_UNITS_MS = (
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
)
_GROUP_KEYS = frozenset({"name", "interval", "limit", "rules"})
_RULE_KEYS = frozenset({"record", "alert", "expr", "for", "labels", "annotations"})


class RuleEvaluationError(ValueError):
    """A rule failed to evaluate (promtool stops the test group at such an error)."""


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------


def parse_duration(text: object) -> int:
    """model.ParseDuration in ms: units y w d h m s ms, each at most once, in that order."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValueError(f"expected a duration like 90s or 1h30m, found {text!r}")
    value = str(text)
    if value == "0":
        return 0
    match = _DURATION_RE.fullmatch(value)
    if not value or match is None:
        raise ValueError(
            f"expected a duration like 90s or 1h30m (units y w d h m s ms, in that order), "
            f'found "{value}"'
        )
    return sum(
        int(amount) * unit_ms
        for amount, (_, unit_ms) in zip(match.groups(), _DURATION_UNITS_MS, strict=True)
        if amount is not None
    )


def format_duration(ms: int) -> str:
    """model.Duration.String(): 0s, 90s as 1m30s, years and weeks only when exact."""
    if ms == 0:
        return "0s"
    sign, rest, out = ("-" if ms < 0 else ""), abs(ms), []
    for unit, unit_ms in _DURATION_UNITS_MS:
        if unit in ("y", "w") and rest % unit_ms:
            continue
        if rest >= unit_ms:
            out.append(f"{rest // unit_ms}{unit}")
            rest %= unit_ms
    return sign + "".join(out)


# --------------------------------------------------------------------------------------------
# Templates (the part of Go's text/template that alert labels and annotations use)
# --------------------------------------------------------------------------------------------

_ACTION_RE = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN_RE = re.compile(r'\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\||[^\s|"`]+)', re.DOTALL)
_FIELD_RE = re.compile(r"(\$labels|\.Labels|\$externalLabels|\.ExternalLabels)\.([A-Za-z_]\w*)")
_NUMBER_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_FUNCTIONS = frozenset(
    {"humanize", "humanize1024", "humanizePercentage", "humanizeDuration", "printf"}
    | {"toUpper", "toLower"}
)
_GO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "a": "\a"}
_GO_ESCAPES |= {"b": "\b", "f": "\f", "v": "\v"}


@dataclass(frozen=True)
class Template:
    """A parsed template: literal strings and actions (each a pipeline of commands)."""

    parts: tuple[str | tuple[tuple[str, ...], ...], ...]

    @property
    def is_literal(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)


@dataclass(frozen=True)
class TemplateData:
    """What a template sees: $labels, $value, $externalLabels and $externalURL."""

    labels: Mapping[str, str]
    value: float
    external_labels: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""


def compile_template(text: str) -> Template:
    """Parse ``text``; ValueError for template syntax outside the supported subset."""
    parts: list[str | tuple[tuple[str, ...], ...]] = []
    pos = 0
    for match in _ACTION_RE.finditer(text):
        literal = text[pos : match.start()]
        parts.append(literal.rstrip() if match.group(1) else literal)
        parts.append(_compile_pipeline(match.group(2).strip()))
        pos = match.end()
        if match.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
    tail = text[pos:]
    if "{{" in tail:
        raise ValueError(f"template {text!r}: unclosed action")
    parts.append(tail)
    return Template(tuple(p for p in parts if p != ""))


def _compile_pipeline(action: str) -> tuple[tuple[str, ...], ...]:
    tokens = [m.group(1) for m in _TOKEN_RE.finditer(action)]
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", action) or not tokens:
        raise ValueError(f"template action {{{{{action}}}}}: cannot parse")
    commands: list[tuple[str, ...]] = [()]
    for token in tokens:
        if token == "|":
            commands.append(())
        else:
            commands[-1] += (token,)
    for index, command in enumerate(commands):
        _check_command(command, action, piped=index > 0)
    return tuple(commands)


def _check_command(command: tuple[str, ...], action: str, *, piped: bool) -> None:
    if not command:
        raise ValueError(f"template action {{{{{action}}}}}: empty command")
    head, args = command[0], command[1:]
    if head in _FUNCTIONS:
        for arg in args:
            _check_operand(arg, action)
        return
    if piped or args:
        raise ValueError(f"template action {{{{{action}}}}}: function {head!r} not supported")
    _check_operand(head, action)


def _check_operand(token: str, action: str) -> None:
    if token in ("$value", ".Value", "$externalURL", ".ExternalURL"):
        return
    if _FIELD_RE.fullmatch(token) or token[0] in '"`' or _NUMBER_RE.fullmatch(token):
        return
    raise ValueError(f"template action {{{{{action}}}}}: {token!r} not supported")


def expand_template(template: Template, data: TemplateData) -> str:
    """Expand a compiled template as Go's text/template prints it (missing label: "")."""
    out = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        result: object = None
        for index, command in enumerate(part):
            result = _run_command(command, data, result if index else None, piped=index > 0)
        out.append(_print_value(result))
    return "".join(out)


def _run_command(command: tuple[str, ...], data: TemplateData, piped_in: object,
                 *, piped: bool) -> object:  # fmt: skip
    head = command[0]
    if head not in _FUNCTIONS:
        return _get_operand(head, data)
    args = [_get_operand(a, data) for a in command[1:]]
    if piped:
        args.append(piped_in)
    return _call_function(head, args)


def _get_operand(token: str, data: TemplateData) -> object:
    if token in ("$value", ".Value"):
        return data.value
    if token in ("$externalURL", ".ExternalURL"):
        return data.external_url
    field_match = _FIELD_RE.fullmatch(token)
    if field_match is not None:
        external = field_match.group(1) in ("$externalLabels", ".ExternalLabels")
        source = data.external_labels if external else data.labels
        return source.get(field_match.group(2), "")
    if token[0] == "`":
        return token[1:-1]
    if token[0] == '"':
        return _unquote_go(token[1:-1])
    return float(token)


def _unquote_go(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        code = body[i + 1]
        if code in _GO_ESCAPES:
            out.append(_GO_ESCAPES[code])
            i += 2
        else:
            width = {"x": 2, "u": 4, "U": 8}.get(code, 0)
            if not width:
                raise ValueError(f"template string {body!r}: unknown escape \\{code}")
            out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
            i += 2 + width
    return "".join(out)


def _to_float(value: object) -> float:
    if isinstance(value, float):
        return value
    parsed = parse_go_float(str(value)) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(f"can't convert {value!r} to float")
    return parsed


def _call_function(name: str, args: list[object]) -> object:
    if name == "printf":
        return format_go_printf(str(args[0]), args[1:])
    if name in ("toUpper", "toLower"):
        text = _print_value(args[0])
        return text.upper() if name == "toUpper" else text.lower()
    value = _to_float(args[0])
    if name == "humanize":
        return humanize(value)
    if name == "humanize1024":
        return humanize_1024(value)
    if name == "humanizePercentage":
        return format_go_g(value * 100, 4) + "%"
    return humanize_duration(value)


def _print_value(value: object) -> str:
    if isinstance(value, float):
        return format_go_float(value)
    return str(value)


def format_go_g(value: float, precision: int) -> str:
    """Go's %.<precision>g."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.{precision}g}"


def humanize(value: float) -> str:
    """Prometheus' humanize: SI prefixes, four significant digits."""
    if value == 0 or math.isnan(value) or math.isinf(value):
        return format_go_g(value, 4)
    prefix = ""
    if abs(value) >= 1:
        for unit in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix, value = unit, value / 1000
        return format_go_g(value, 4) + prefix
    for unit in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix, value = unit, value * 1000
    return format_go_g(value, 4) + prefix


def humanize_1024(value: float) -> str:
    """Prometheus' humanize1024: binary prefixes (ki, Mi, ...)."""
    if abs(value) <= 1 or math.isnan(value) or math.isinf(value):
        return format_go_g(value, 4)
    prefix = ""
    for unit in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(value) < 1024:
            break
        prefix, value = unit, value / 1024
    return format_go_g(value, 4) + prefix


def humanize_duration(value: float) -> str:
    """Prometheus' humanizeDuration: 1d 2h 3m 4s down to seconds, then ms, us, ..."""
    if math.isnan(value) or math.isinf(value):
        return format_go_g(value, 4)
    if value == 0:
        return format_go_g(value, 4) + "s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        value = abs(value)
        whole = int(value)
        seconds, minutes = whole % 60, (whole // 60) % 60
        hours, days = (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{format_go_g(value, 4)}s"
    prefix = ""
    for unit in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix, value = unit, value * 1000
    return f"{format_go_g(value, 4)}{prefix}s"


_VERB_RE = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d*))?([a-zA-Z%])")


def format_go_printf(fmt: str, args: Sequence[object]) -> str:
    """fmt.Sprintf for the verbs templates use: %v %s %q %d %f %e %g (and %%)."""
    out, pos, remaining = [], 0, list(args)
    for match in _VERB_RE.finditer(fmt):
        out.append(fmt[pos : match.start()])
        pos = match.end()
        flags, width, precision, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        if not remaining:
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_format_verb(remaining.pop(0), flags, width, precision, verb))
    out.append(fmt[pos:])
    if remaining:
        extra = ", ".join(f"{_go_type(a)}={_print_value(a)}" for a in remaining)
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _go_type(value: object) -> str:
    return "float64" if isinstance(value, float) else "string"


def _format_verb(value: object, flags: str, width: str, precision: str | None, verb: str) -> str:
    spec = f"{flags}{width}" + (f".{precision or 0}" if precision is not None else "")
    if isinstance(value, float) and verb in "feEgGv":
        if math.isnan(value) or math.isinf(value):
            text = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
            return f"{text:>{width or 0}}" if "-" not in flags else f"{text:<{width or 0}}"
        if verb == "v" and not spec:
            return format_go_float(value)
        python_verb = "g" if verb == "v" else verb
        if python_verb in "gG" and precision is None:
            text = format_go_float(value)
            return f"{text:>{width or 0}}" if "-" not in flags else f"{text:<{width or 0}}"
        if python_verb in "fF" and precision is None:
            spec += ".6"
        return ("%" + spec + python_verb) % value
    if isinstance(value, str) and verb in "sv":
        text = value if precision is None else value[: int(precision or 0)]
        return f"{text:<{width or 0}}" if "-" in flags else f"{text:>{width or 0}}"
    if isinstance(value, str) and verb == "q":
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"%!{verb}({_go_type(value)}={_print_value(value)})"


# --------------------------------------------------------------------------------------------
# Rule files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One recording or alerting rule as written (labels and annotations unexpanded)."""

    group: str
    kind: Literal["record", "alert"]
    name: str
    expr: str
    for_ms: int
    labels: Labels
    annotations: Labels
    source: str


@dataclass(frozen=True)
class RuleGroup:
    """A rule group; ``limit`` 0 means no limit."""

    name: str
    interval_ms: int | None
    rules: tuple[Rule, ...]
    source: str
    limit: int = 0


def load_rule_files(paths: Sequence[str | Path]) -> list[RuleGroup]:
    """Read and check Prometheus rule files; ValueError lists every problem, one per line."""
    groups: list[RuleGroup] = []
    errors: list[str] = []
    for path in paths:
        try:
            groups.extend(load_rule_file(path))
        except ValueError as error:
            errors.append(str(error))
    if errors:
        raise ValueError("\n".join(errors))
    return groups


def load_rule_file(path: str | Path) -> list[RuleGroup]:
    """Read and check one rule file."""
    source = str(path)
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{source}: {error}") from None
    if document is None:
        return []
    if not isinstance(document, dict) or set(document) - {"groups"}:
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise ValueError(f"{source}: expected a mapping with only 'groups', found {found}")
    raw_groups = document.get("groups") or []
    if not isinstance(raw_groups, list):
        raise ValueError(f"{source}: groups: expected a list, found {raw_groups!r}")
    errors: list[str] = []
    groups: list[RuleGroup] = []
    seen: set[str] = set()
    for raw in raw_groups:
        group = _load_group(raw, source, errors)
        if group is not None and group.name in seen:
            errors.append(f'{source}: group {group.name}: groupname "{group.name}" is repeated')
        elif group is not None:
            seen.add(group.name)
            groups.append(group)
    if errors:
        raise ValueError("\n".join(errors))
    return groups


def _load_group(raw: object, source: str, errors: list[str]) -> RuleGroup | None:
    if not isinstance(raw, dict):
        errors.append(f"{source}: group: expected a mapping, found {raw!r}")
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        errors.append(f"{source}: group: expected a non-empty string name, found {name!r}")
        return None
    where = f"{source}: group {name}"
    unknown = sorted(set(raw) - _GROUP_KEYS)
    if unknown:
        errors.append(f"{where}: unknown field(s) {unknown}, expected {sorted(_GROUP_KEYS)}")
    interval = None
    if raw.get("interval") is not None:
        try:
            interval = parse_duration(raw["interval"])
        except ValueError as error:
            errors.append(f"{where}: interval: {error}")
    limit = raw.get("limit", 0) or 0
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        errors.append(f"{where}: limit: expected a non-negative integer, found {limit!r}")
        limit = 0
    raw_rules = raw.get("rules") or []
    if not isinstance(raw_rules, list):
        errors.append(f"{where}: rules: expected a list, found {raw_rules!r}")
        raw_rules = []
    rules = [_load_rule(r, name, source, errors) for r in raw_rules]
    return RuleGroup(name, interval, tuple(r for r in rules if r is not None), source, limit)


def _load_rule(raw: object, group: str, source: str, errors: list[str]) -> Rule | None:
    if not isinstance(raw, dict):
        errors.append(f"{source}: group {group} rule ?: expected a mapping, found {raw!r}")
        return None
    record, alert = raw.get("record"), raw.get("alert")
    name = record if record is not None else alert
    where = f"{source}: group {group} rule {name if name is not None else '?'}"
    problems = check_rule(raw)
    errors.extend(f"{where}: {problem}" for problem in problems)
    if problems:
        return None
    return Rule(
        group=group,
        kind="record" if record is not None else "alert",
        name=str(name),
        expr=str(raw["expr"]),
        for_ms=parse_duration(raw.get("for", 0) or 0),
        labels=tuple(sorted((raw.get("labels") or {}).items())),
        annotations=tuple(sorted((raw.get("annotations") or {}).items())),
        source=source,
    )


def check_rule(raw: Mapping[str, Any]) -> list[str]:
    """What is wrong with one rule mapping, as ``promtool check rules`` would object."""
    problems = [f"unknown field {key!r}" for key in sorted(set(raw) - _RULE_KEYS, key=str)]
    record, alert = raw.get("record"), raw.get("alert")
    if record is not None and alert is not None:
        problems.append("expected only one of 'record' and 'alert', found both")
    elif record is None and alert is None:
        problems.append("expected one of 'record' or 'alert', found neither")
    elif record is not None and not (isinstance(record, str) and is_valid_metric_name(record)):
        problems.append(
            f"record: expected a metric name [a-zA-Z_:][a-zA-Z0-9_:]*, found {record!r}"
        )
    elif alert is not None and not (isinstance(alert, str) and alert):
        problems.append(f"alert: expected a non-empty string, found {alert!r}")
    problems.extend(_check_expr(raw.get("expr")))
    if record is not None:
        if raw.get("annotations"):
            problems.append("annotations: expected none in a recording rule, found some")
        if raw.get("for") not in (None, 0, "0"):
            problems.append(f"for: expected none in a recording rule, found {raw.get('for')!r}")
    try:
        parse_duration(raw.get("for", 0) or 0)
    except ValueError as error:
        problems.append(f"for: {error}")
    problems.extend(_check_label_map(raw.get("labels"), "labels", check_names=True))
    problems.extend(_check_label_map(raw.get("annotations"), "annotations", check_names=False))
    return problems


def _check_expr(expr: object) -> list[str]:
    if isinstance(expr, int | float) and not isinstance(expr, bool):
        expr = str(expr)
    if not isinstance(expr, str) or not expr.strip():
        return [f"expr: expected a PromQL expression string, found {expr!r}"]
    try:
        node = parse_expr(expr)
    except ValueError as error:
        return [f"expr: {error}"]
    if node.type not in ("vector", "scalar"):
        return [f"expr: expected an instant vector or scalar expression, found {node.type}"]
    return []


def _check_label_map(raw: object, what: str, *, check_names: bool) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        return [f"{what}: expected a mapping of strings, found {raw!r}"]
    problems = []
    for key, value in raw.items():
        if not isinstance(key, str) or not is_valid_label_name(key):
            problems.append(f"{what}: expected a label name, found {key!r}")
        elif check_names and key == METRIC_NAME:
            problems.append(f"{what}: expected a label name other than __name__, found {key!r}")
        if not isinstance(value, str):
            problems.append(f"{what} {key}: expected a string value, found {value!r}")
            continue
        try:
            compile_template(value)
        except ValueError as error:
            problems.append(f"{what} {key}: {error}")
    return problems


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertInterval:
    """One firing of an alert: pending from ``active_ms``, firing ``[start_ms, end_ms)``.

    ``labels`` are the alert's labels without ``alertname``; ``annotations`` holds the
    expanded annotations from ``active_ms`` on, one entry per change (time, annotations).
    """

    name: str
    labels: Labels
    active_ms: int
    start_ms: int
    end_ms: int | None
    annotations: tuple[tuple[int, Labels], ...] = ()

    def is_firing_at(self, t_ms: int) -> bool:
        """Whether the alert fires at ``t_ms`` (state of the last evaluation at or before)."""
        return self.start_ms <= t_ms and (self.end_ms is None or t_ms < self.end_ms)

    def get_annotations_at(self, t_ms: int) -> Labels:
        """The annotations as of the last evaluation at or before ``t_ms``."""
        current: Labels = ()
        for changed_ms, expanded in self.annotations:
            if changed_ms > t_ms:
                break
            current = expanded
        return current


@dataclass(frozen=True)
class RuleEvaluation:
    """Every firing interval of a run of `evaluate_rules` and the times it evaluated at."""

    intervals: tuple[AlertInterval, ...]
    eval_times_ms: tuple[int, ...]

    def firing_at(self, t_ms: int) -> set[tuple[str, Labels]]:
        """(alert name, labels) of the alerts firing at ``t_ms`` (promtool's floor rule)."""
        return {(i.name, i.labels) for i in self.get_firing_intervals(t_ms)}

    def get_firing_intervals(self, t_ms: int) -> list[AlertInterval]:
        """The intervals firing at ``t_ms``."""
        return [i for i in self.intervals if i.is_firing_at(t_ms)]


@dataclass
class _Alert:
    labels: Labels
    active_ms: int
    series: tuple[Labels, Labels, Labels]
    """Its ALERTS labels when pending, when firing, and its ALERTS_FOR_STATE labels."""
    fired_ms: int | None = None
    annotations: list[tuple[int, Labels]] = field(default_factory=list)


@dataclass
class RuleState:
    """One rule while it is evaluated: its compiled parts, and its alerts and last output."""

    rule: Rule
    limit: int
    node: Node
    labels: tuple[tuple[str, Template], ...]
    annotations: tuple[tuple[str, Template], ...]
    literal_labels: dict[str, str] | None
    """The rule labels (with alertname) when no label template has an action."""
    literal_annotations: Labels | None
    previous: set[Labels] = field(default_factory=set)
    alerts: dict[Labels, _Alert] = field(default_factory=dict)
    keys: dict[Labels, Labels] = field(default_factory=dict)
    """Alert labels per series labels, when the rule labels are literal."""


def evaluate_rules(
    groups: Sequence[RuleGroup],
    store: SeriesStore,
    *,
    start_ms: int,
    end_ms: int,
    interval_ms: int,
    external_labels: Mapping[str, str] | None = None,
    external_url: str = "",
    batch: bool = True,
) -> RuleEvaluation:
    """Evaluate the groups at start_ms, start_ms + interval_ms, ... <= end_ms (mutates store).

    With ``batch`` (the default), rules the batch path supports are evaluated over all times
    at once (`batch.evaluate_rules_batch`: the same intervals and the same store contents);
    otherwise, or with ``batch=False``, step by step (`evaluate_rules_stepwise`).
    """
    if interval_ms <= 0:
        raise ValueError(f"interval_ms: expected a positive interval, found {interval_ms}")
    if batch:
        # batch.py builds on this module, so it is imported here rather than at the top
        from rppsim.guardrails.alerting.batch import BatchUnsupportedError, evaluate_rules_batch

        try:
            return evaluate_rules_batch(
                groups,
                store,
                start_ms=start_ms,
                end_ms=end_ms,
                interval_ms=interval_ms,
                external_labels=external_labels,
                external_url=external_url,
            )
        except BatchUnsupportedError:
            pass  # the store is untouched: evaluate step by step
    return evaluate_rules_stepwise(
        groups,
        store,
        start_ms=start_ms,
        end_ms=end_ms,
        interval_ms=interval_ms,
        external_labels=external_labels,
        external_url=external_url,
    )


def evaluate_rules_stepwise(
    groups: Sequence[RuleGroup],
    store: SeriesStore,
    *,
    start_ms: int,
    end_ms: int,
    interval_ms: int,
    external_labels: Mapping[str, str] | None = None,
    external_url: str = "",
) -> RuleEvaluation:
    """`evaluate_rules` one step at a time: every rule at start_ms, then every rule at
    start_ms + interval_ms, ... (mutates store)."""
    if interval_ms <= 0:
        raise ValueError(f"interval_ms: expected a positive interval, found {interval_ms}")
    states = [make_rule_state(rule, group.limit) for group in groups for rule in group.rules]
    times = tuple(range(start_ms, end_ms + 1, interval_ms))
    finished: list[AlertInterval] = []
    externals = TemplateData({}, 0.0, dict(external_labels or {}), external_url)
    for t in times:
        for state in states:
            try:
                finished.extend(evaluate_rule(state, store, t, interval_ms, externals))
            except ValueError as error:
                rule = state.rule
                raise RuleEvaluationError(
                    f"{rule.source}: group {rule.group} rule {rule.name}: at {t} ms: {error}"
                ) from error
    for state in states:
        finished.extend(get_open_intervals(state))
    finished.sort(key=lambda i: (i.start_ms, i.name, i.labels))
    return RuleEvaluation(tuple(finished), times)


def make_rule_state(rule: Rule, limit: int) -> RuleState:
    labels = tuple((k, compile_template(v)) for k, v in rule.labels)
    annotations = tuple((k, compile_template(v)) for k, v in rule.annotations)
    literal_labels = None
    if all(t.is_literal for _, t in labels):
        literal_labels = {**dict(rule.labels), ALERT_NAME: rule.name}
    literal_annotations = None
    if all(t.is_literal for _, t in annotations):
        literal_annotations = tuple((k, v) for k, v in rule.annotations if v)
    return RuleState(rule, limit, parse_expr(rule.expr), labels, annotations,
                      literal_labels, literal_annotations)  # fmt: skip


def evaluate_rule(
    state: RuleState, store: SeriesStore, t: int, step_ms: int, externals: TemplateData
) -> list[AlertInterval]:
    """One evaluation of one rule at ``t``; returns the alert intervals that ended at ``t``."""
    result = evaluate_expr(state.node, store, t, subquery_step_ms=step_ms)
    samples: list[tuple[Labels, float]] = (
        list(result) if isinstance(result, InstantVector) else [((), result)]
    )
    if state.rule.kind == "record":
        output = compute_recorded(state, samples)
        ended: list[AlertInterval] = []
    else:
        ended = update_alerts(state, samples, t, externals)
        output = compute_alert_series(state, t)
    write_output(state, store, output, t)
    return ended


def compute_recorded(state: RuleState, samples: list[tuple[Labels, float]]
                     ) -> list[tuple[Labels, float]]:  # fmt: skip
    """A recording rule's samples: ``__name__`` and the rule labels set on each element."""
    updates = {METRIC_NAME: state.rule.name, **dict(state.rule.labels)}
    out = [(compute_with_labels(labels, updates), value) for labels, value in samples]
    if len({labels for labels, _ in out}) != len(out):
        raise ValueError(
            "vector contains metrics with the same labelset after applying rule labels"
        )
    if state.limit and len(out) > state.limit:
        raise ValueError(f"exceeded limit of {state.limit} with {len(out)} series")
    return out


def update_alerts(
    state: RuleState, samples: list[tuple[Labels, float]], t: int, externals: TemplateData
) -> list[AlertInterval]:
    """The alerting rule's state machine at ``t``; returns the firings that resolved."""
    current: dict[Labels, Labels] = {}
    for labels, value in samples:
        alert_labels, annotations = compute_alert(state, labels, value, externals)
        if alert_labels in current:
            raise ValueError(
                "vector contains metrics with the same labelset after applying alert labels"
            )
        current[alert_labels] = annotations
    ended = []
    for key in [k for k in state.alerts if k not in current]:
        gone = state.alerts.pop(key)
        if gone.fired_ms is not None:
            ended.append(_make_interval(state.rule.name, gone, t))
    for key, expanded in current.items():
        alert = state.alerts.get(key)
        if alert is None:
            alert = state.alerts[key] = _Alert(key, t, make_alert_series(state, key))
        if not alert.annotations or alert.annotations[-1][1] != expanded:
            alert.annotations.append((t, expanded))
        if alert.fired_ms is None and t - alert.active_ms >= state.rule.for_ms:
            alert.fired_ms = t
    if state.limit and len(state.alerts) > state.limit:
        state.alerts.clear()
        raise ValueError(f"exceeded limit of {state.limit} with {len(current)} alerts")
    return ended


def compute_alert(state: RuleState, labels: Labels, value: float,
                  externals: TemplateData) -> tuple[Labels, Labels]:  # fmt: skip
    """An alert's labels (with alertname) and expanded annotations for one result element."""
    data: TemplateData | None = None
    if state.literal_labels is not None:
        key = state.keys.get(labels)
        if key is None:
            key = compute_with_labels(_drop_name(labels), state.literal_labels)
            state.keys[labels] = key
    else:
        data = replace(externals, labels=dict(labels), value=value)
        updates = {k: expand_template(tmpl, data) for k, tmpl in state.labels}
        key = compute_with_labels(_drop_name(labels), {**updates, ALERT_NAME: state.rule.name})
    if state.literal_annotations is not None:
        return key, state.literal_annotations
    data = data or replace(externals, labels=dict(labels), value=value)
    return key, tuple(
        (k, text) for k, tmpl in state.annotations if (text := expand_template(tmpl, data))
    )


def _drop_name(labels: Labels) -> Labels:
    return tuple(item for item in labels if item[0] != METRIC_NAME)


def make_alert_series(state: RuleState, key: Labels) -> tuple[Labels, Labels, Labels]:
    """ALERTS labels as Prometheus builds them: raw rule labels, then the alert's labels."""
    base = {**dict(state.rule.labels), **dict(key), ALERT_NAME: state.rule.name}
    alerts = {**base, METRIC_NAME: ALERTS_METRIC}
    return (
        compute_with_labels((), {**alerts, "alertstate": "pending"}),
        compute_with_labels((), {**alerts, "alertstate": "firing"}),
        compute_with_labels((), {**base, METRIC_NAME: ALERTS_FOR_STATE_METRIC}),
    )


def _make_interval(name: str, alert: _Alert, end_ms: int | None) -> AlertInterval:
    assert alert.fired_ms is not None
    labels = tuple(item for item in alert.labels if item[0] != ALERT_NAME)
    return AlertInterval(name, labels, alert.active_ms, alert.fired_ms, end_ms,
                         tuple(alert.annotations))  # fmt: skip


def get_open_intervals(state: RuleState) -> list[AlertInterval]:
    """The firings still open after the last evaluation (``end_ms`` None)."""
    return [
        _make_interval(state.rule.name, alert, None)
        for alert in state.alerts.values()
        if alert.fired_ms is not None
    ]


def compute_alert_series(state: RuleState, t: int) -> list[tuple[Labels, float]]:
    """The ALERTS and ALERTS_FOR_STATE samples of every pending or firing alert."""
    out = []
    for alert in state.alerts.values():
        pending, firing, for_state = alert.series
        out.append((pending if alert.fired_ms is None else firing, 1.0))
        out.append((for_state, float(alert.active_ms // 1000)))
    return out


def write_output(state: RuleState, store: SeriesStore, output: list[tuple[Labels, float]],
                 t: int) -> None:  # fmt: skip
    """Append a rule's samples at ``t``; mark the series it no longer returns stale."""
    returned = set()
    for labels, value in output:
        store.add_sample(labels, t, value)
        returned.add(labels)
    for labels in sorted(state.previous - returned):
        store.add_sample(labels, t, STALE)
    state.previous = returned
