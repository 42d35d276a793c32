"""Prometheus 2.42 instant queries over in-memory series, bit for bit.

`parse_expr` parses with ``promql_parser`` and compiles the AST once into small frozen plan
nodes (`compile_expr`); `evaluate_expr` evaluates a plan at one timestamp against a
`SeriesStore`. The semantics are those of the Prometheus 2.42 query engine, which promtool
2.42 runs:

- an instant selector takes each series' latest sample in [t − 5m, t] and drops the series
  when that sample is a stale marker; a range selector takes the samples in the closed
  window [t − r, t] without stale markers;
- ``rate``/``increase``/``delta`` are Prometheus' extrapolatedRate; the ``*_over_time``
  family, ``avg``, ``stddev``, ``deriv`` and ``histogram_quantile`` repeat the engine's
  floating-point operations in the engine's order (Kahan sums, the incremental mean, the
  rate factor taken before the multiplication), so equal inputs give equal floats;
- series are visited in label order. promtool visits them in storage order, which is Go's
  map order and changes from run to run, so a sum over several series whose partial sums
  round can differ from promtool in the last bit (so can topk/bottomk among equal values).

``ln``, ``log2`` and ``log10`` repeat Go's math.Log; ``exp``, ``^`` with a fractional
exponent and the trigonometric functions use numpy and may differ from Go in the last bit
(Go's Exp uses FMA where the CPU has it). Not supported: native histograms,
``holt_winters``, and syntax newer than 2.42 that ``promql_parser`` accepts (``or`` inside
selectors, ``fill`` modifiers, ``limitk``, functions added later) — compiling those raises
ValueError.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar, cast

import numpy as np
import promql_parser as pp
from numba import njit

Labels = tuple[tuple[str, str], ...]

METRIC_NAME = "__name__"
LOOKBACK_MS = 300_000
DEFAULT_SUBQUERY_STEP_MS = 60_000
STALE_BITS = 0x7FF0000000000002
STALE: float = struct.unpack("<d", struct.pack("<Q", STALE_BITS))[0]

_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_JIT_OPTIONS: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "fastmath": False,
    "error_model": "numpy",
}

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(func: _F) -> _F:
    """``njit(**_JIT_OPTIONS)``, typed as keeping ``func``'s signature (numba's is untyped)."""
    return cast(_F, njit(**_JIT_OPTIONS)(func))


class PromQLError(ValueError):
    """A query that Prometheus would reject while evaluating it."""


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------


def is_valid_label_name(name: str) -> bool:
    """Whether ``name`` is a Prometheus label name."""
    return _LABEL_NAME_RE.fullmatch(name) is not None


def is_valid_metric_name(name: str) -> bool:
    """Whether ``name`` is a Prometheus metric name (colons allowed)."""
    return _METRIC_NAME_RE.fullmatch(name) is not None


def compute_labels(mapping: Mapping[str, str]) -> Labels:
    """The sorted label tuple of ``mapping``; empty values are dropped as Prometheus does."""
    for name, value in mapping.items():
        if not isinstance(name, str) or not is_valid_label_name(name):
            raise ValueError(f"label name: expected [a-zA-Z_][a-zA-Z0-9_]*, found {name!r}")
        if not isinstance(value, str):
            raise ValueError(f"label {name}: expected a string value, found {value!r}")
    return tuple(sorted((k, v) for k, v in mapping.items() if v != ""))


def get_label(labels: Labels, name: str) -> str:
    """The value of label ``name``, or "" when absent."""
    for key, value in labels:
        if key == name:
            return value
    return ""


@lru_cache(maxsize=65536)
def drop_metric_name(labels: Labels) -> Labels:
    """``labels`` without ``__name__``."""
    return tuple(item for item in labels if item[0] != METRIC_NAME)


@lru_cache(maxsize=4096)
def drop_metric_names(labels: tuple[Labels, ...]) -> tuple[Labels, ...]:
    """:func:`drop_metric_name` over a vector's label sets (cached: vectors repeat)."""
    return tuple(drop_metric_name(item) for item in labels)


def compute_with_labels(labels: Labels, updates: Mapping[str, str]) -> Labels:
    """``labels`` with ``updates`` set; an empty value deletes, as labels.Builder.Set does."""
    merged = dict(labels)
    for name, value in updates.items():
        if value == "":
            merged.pop(name, None)
        else:
            merged[name] = value
    return tuple(sorted(merged.items()))


def format_labels(labels: Labels) -> str:
    """Labels in Prometheus' ``{a="1", b="2"}`` form."""
    body = ", ".join(f"{name}={_quote(value)}" for name, value in labels)
    return "{" + body + "}"


def _quote(value: str) -> str:
    """A double-quoted string literal that Go's and PromQL's lexers both read back."""
    out = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


# --------------------------------------------------------------------------------------------
# Series storage
# --------------------------------------------------------------------------------------------


def is_stale(value: float) -> bool:
    """Whether ``value`` is Prometheus' StaleNaN marker (a NaN with a specific payload)."""
    return struct.pack("<d", value) == struct.pack("<Q", STALE_BITS)


def compute_stale_mask(values: np.ndarray) -> np.ndarray:
    """Element-wise :func:`is_stale` over a float64 array."""
    mask: np.ndarray = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64) == STALE_BITS
    return mask


class _Series:
    """One series' samples in growable arrays (appends are amortised O(1))."""

    __slots__ = ("last_ms", "name", "size", "times", "values")

    def __init__(self, name: str, times: np.ndarray, values: np.ndarray) -> None:
        self.name = name
        self.times = times
        self.values = values
        self.size = len(times)
        self.last_ms = int(times[-1]) if len(times) else None

    def append(self, t_ms: int, value: float) -> None:
        if self.size == len(self.times):
            capacity = max(16, 2 * self.size)
            self.times = np.resize(self.times, capacity)
            self.values = np.resize(self.values, capacity)
        self.times[self.size] = t_ms
        self.values[self.size] = value
        self.size += 1
        self.last_ms = t_ms

    def get_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.times[: self.size], self.values[: self.size]


@dataclass(frozen=True)
class _Block:
    """The samples of the series one selector matches, concatenated for vectorised search.

    Series ``i`` owns ``times[starts[i]:starts[i + 1]]``; ``keys`` adds ``i * span`` to each
    time (relative to ``base``), so one ``searchsorted`` finds a bound in every series at
    once. The ``ns_`` arrays are the same without stale markers (range selectors skip them).
    """

    labels: tuple[Labels, ...]
    times: np.ndarray
    values: np.ndarray
    stale: np.ndarray
    starts: np.ndarray
    keys: np.ndarray
    ns_times: np.ndarray
    ns_values: np.ndarray
    ns_keys: np.ndarray
    base: int
    span: int
    offsets: np.ndarray


class SeriesStore:
    """In-memory series keyed by their sorted label tuples, iterated in label order.

    Times are int64 milliseconds, strictly increasing per series; values are float64 and may
    be NaN or the :data:`STALE` marker.
    """

    def __init__(self) -> None:
        self._series: dict[Labels, _Series] = {}
        self._by_name: dict[str, list[Labels]] = {}
        self._name_versions: dict[str, int] = {}
        self._version = 0
        self._blocks: dict[tuple[Any, ...], tuple[int, _Block]] = {}

    def __len__(self) -> int:
        return len(self._series)

    def __iter__(self) -> Iterator[tuple[Labels, np.ndarray, np.ndarray]]:
        return iter(self.get_series())

    def __contains__(self, labels: object) -> bool:
        return labels in self._series

    def get_series(self) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
        """Every series as (labels, times, values), sorted by labels; arrays are read-only views."""
        out = []
        for labels in sorted(self._series):
            times, values = self._series[labels].get_arrays()
            out.append((labels, _read_only(times), _read_only(values)))
        return out

    def get_samples(self, labels: Mapping[str, str] | Labels) -> tuple[np.ndarray, np.ndarray]:
        """The (times, values) of one series (KeyError when absent)."""
        key = labels if isinstance(labels, tuple) else compute_labels(labels)
        times, values = self._series[key].get_arrays()
        return _read_only(times), _read_only(values)

    def add(
        self,
        labels: Mapping[str, str] | Labels,
        times_ms: Sequence[int] | np.ndarray,
        values: Sequence[float] | np.ndarray,
    ) -> None:
        """Add one series (or extend an existing one past its last sample)."""
        key = labels if isinstance(labels, tuple) else compute_labels(labels)
        times = np.array(times_ms, dtype=np.int64)
        vals = np.array(values, dtype=np.float64)
        if times.ndim != 1 or times.shape != vals.shape:
            raise ValueError(f"series {format_labels(key)}: times and values differ in shape")
        if len(times) > 1 and not bool(np.all(np.diff(times) > 0)):
            raise ValueError(f"series {format_labels(key)}: times must be strictly increasing")
        existing = self._series.get(key)
        if existing is None:
            self._create(key, times, vals)
            return
        old_times, old_values = existing.get_arrays()
        if len(times) and existing.size and times[0] <= old_times[-1]:
            raise ValueError(f"series {format_labels(key)}: samples overlap existing samples")
        existing.times = np.concatenate([old_times, times])
        existing.values = np.concatenate([old_values, vals])
        existing.size = len(existing.times)
        existing.last_ms = int(existing.times[-1]) if existing.size else None
        self._touch(existing.name)

    def add_sample(self, labels: Mapping[str, str] | Labels, t_ms: int, value: float) -> None:
        """Append one sample; a repeat of the last (time, value) is ignored."""
        key = labels if isinstance(labels, tuple) else compute_labels(labels)
        series = self._series.get(key)
        if series is None:
            self._create(key, np.array([t_ms], np.int64), np.array([value], np.float64))
            return
        if series.last_ms is not None and t_ms <= series.last_ms:
            if t_ms < series.last_ms:
                raise ValueError(f"series {format_labels(key)}: out-of-order sample at {t_ms}")
            last = float(series.values[series.size - 1])
            if struct.pack("<d", last) != struct.pack("<d", value):
                raise ValueError(f"series {format_labels(key)}: duplicate sample at {t_ms}")
            return
        series.append(t_ms, value)
        self._touch(series.name)

    def copy(self) -> SeriesStore:
        """An independent copy."""
        other = SeriesStore()
        for labels, times, values in self.get_series():
            other.add(labels, times.copy(), values.copy())
        return other

    def _create(self, key: Labels, times: np.ndarray, values: np.ndarray) -> None:
        for name, value in key:
            if not is_valid_label_name(name) or not isinstance(value, str) or value == "":
                raise ValueError(f"series {format_labels(key)}: invalid label {name}={value!r}")
        if list(key) != sorted(dict(key).items()):
            raise ValueError(f"series {key!r}: labels must be sorted and unique")
        name = get_label(key, METRIC_NAME)
        self._series[key] = _Series(name, times, values)
        self._by_name.setdefault(name, []).append(key)
        self._touch(name)

    def _touch(self, name: str) -> None:
        self._name_versions[name] = self._name_versions.get(name, 0) + 1
        self._version += 1

    def get_block(self, selector: Selector) -> _Block:
        """The cached block of the series ``selector`` matches (rebuilt after changes)."""
        if selector.name is not None:
            version = self._name_versions.get(selector.name, 0)
            candidates = self._by_name.get(selector.name, [])
        else:
            version = self._version
            candidates = list(self._series)
        cached = self._blocks.get(selector.key)
        if cached is not None and cached[0] == version:
            return cached[1]
        matched = sorted(c for c in candidates if is_matching(c, selector.matchers))
        block = _build_block(matched, [self._series[m].get_arrays() for m in matched])
        self._blocks[selector.key] = (version, block)
        return block


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def _build_block(labels: list[Labels], arrays: list[tuple[np.ndarray, np.ndarray]]) -> _Block:
    sizes = [len(t) for t, _ in arrays]
    filled = [t for t, _ in arrays if len(t)]
    base = min(int(t[0]) for t in filled) if filled else 0
    span = max(int(t[-1]) for t in filled) - base + 1 if filled else 1
    if span * max(1, len(labels)) >= 2**62:
        raise ValueError("sample times span too wide to index")
    offsets = np.arange(len(labels), dtype=np.int64) * span
    times = np.concatenate([t for t, _ in arrays]) if arrays else np.zeros(0, np.int64)
    values = np.concatenate([v for _, v in arrays]) if arrays else np.zeros(0, np.float64)
    keys = times + np.repeat(offsets - base, sizes)
    stale = compute_stale_mask(values)
    starts = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    ns_times, ns_values, ns_keys = times, values, keys
    if stale.any():
        keep = ~stale
        ns_times, ns_values, ns_keys = times[keep], values[keep], keys[keep]
    return _Block(
        labels=tuple(labels),
        times=times,
        values=values,
        stale=stale,
        starts=starts,
        keys=keys,
        ns_times=ns_times,
        ns_values=ns_values,
        ns_keys=ns_keys,
        base=base,
        span=span,
        offsets=offsets,
    )


def is_matching(labels: Labels, matchers: tuple[Matcher, ...]) -> bool:
    """Whether a series' labels satisfy every matcher (a missing label reads as "")."""
    mapping = dict(labels)
    for matcher in matchers:
        value = mapping.get(matcher.name, "")
        if matcher.op == "=":
            ok = value == matcher.value
        elif matcher.op == "!=":
            ok = value != matcher.value
        elif matcher.op == "=~":
            ok = matcher.regex is not None and matcher.regex.fullmatch(value) is not None
        else:
            ok = matcher.regex is not None and matcher.regex.fullmatch(value) is None
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class InstantVector:
    """An instant vector: one value per label set (``times`` only for raw selectors)."""

    labels: tuple[Labels, ...]
    values: np.ndarray
    times: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator[tuple[Labels, float]]:
        return iter(zip(self.labels, self.values.tolist(), strict=True))

    def as_dict(self) -> dict[Labels, float]:
        """{labels: value}."""
        return dict(iter(self))


@dataclass(frozen=True, eq=False)
class RangeVector:
    """Samples of several series in one window; series ``i`` is ``times[lo[i]:hi[i]]``."""

    labels: tuple[Labels, ...]
    times: np.ndarray
    values: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    start_ms: int
    end_ms: int
    range_ms: int


def _empty_vector() -> InstantVector:
    return InstantVector((), np.zeros(0, np.float64))


def _make_vector(labels: Sequence[Labels], values: Sequence[float] | np.ndarray) -> InstantVector:
    return InstantVector(tuple(labels), np.asarray(values, dtype=np.float64).reshape(-1))


# --------------------------------------------------------------------------------------------
# Plan nodes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    """One label matcher; ``regex`` is the anchored pattern for =~ and !~."""

    name: str
    op: str
    value: str
    regex: re.Pattern[str] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Number:
    """A number literal."""

    value: float
    type: str = "scalar"


@dataclass(frozen=True)
class String:
    """A string literal."""

    value: str
    type: str = "string"


@dataclass(frozen=True)
class Selector:
    """An instant vector selector; ``at`` is a time in ms, "start", "end" or None."""

    name: str | None
    matchers: tuple[Matcher, ...]
    offset_ms: int
    at: int | str | None
    key: tuple[Any, ...]
    type: str = "vector"


@dataclass(frozen=True)
class Matrix:
    """A range vector selector."""

    selector: Selector
    range_ms: int
    type: str = "matrix"


@dataclass(frozen=True)
class Subquery:
    """``expr[range:step] offset o``; a missing step uses the evaluator's default."""

    expr: Node
    range_ms: int
    step_ms: int | None
    offset_ms: int
    at: int | str | None
    type: str = "matrix"


@dataclass(frozen=True)
class Call:
    """A function call."""

    func: str
    args: tuple[Node, ...]
    type: str


@dataclass(frozen=True)
class Aggregate:
    """An aggregation with its grouping."""

    op: str
    expr: Node
    param: Node | None
    grouping: tuple[str, ...]
    without: bool
    type: str = "vector"


@dataclass(frozen=True)
class Binary:
    """A binary operation; ``on`` is True for on(), False for ignoring() or no clause."""

    op: str
    lhs: Node
    rhs: Node
    return_bool: bool
    card: str
    on: bool
    matching: tuple[str, ...]
    include: tuple[str, ...]
    type: str


@dataclass(frozen=True)
class Negation:
    """Unary minus."""

    expr: Node
    type: str


Node = Number | String | Selector | Matrix | Subquery | Call | Aggregate | Binary | Negation

_SET_OPS = frozenset({"and", "or", "unless"})
_COMPARISONS = frozenset({"==", "!=", ">", "<", ">=", "<="})
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})
_DROPS_NAME = frozenset({"+", "-", "*", "/", "%", "^"})
_AGGREGATIONS = frozenset(
    {"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "quantile", "topk"}
    | {"bottomk", "count_values"}
)
_TYPE_NAMES = {"Vector": "vector", "Scalar": "scalar", "Matrix": "matrix", "String": "string"}


def parse_expr(text: str) -> Node:
    """Parse and compile a PromQL expression (ValueError naming the text when it is bad)."""
    try:
        return _parse_cached(text)
    except ValueError as error:
        raise ValueError(f"bad PromQL {text!r}: {error}") from None


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Node:
    return compile_expr(pp.parse(text))


def compile_expr(expr: Any) -> Node:
    """Translate a ``promql_parser`` AST into plan nodes, rejecting what 2.42 lacks."""
    if isinstance(expr, pp.ParenExpr):
        return compile_expr(expr.expr)
    if isinstance(expr, pp.NumberLiteral):
        return Number(float(expr.val))
    if isinstance(expr, pp.StringLiteral):
        return String(expr.val)
    if isinstance(expr, pp.VectorSelector):
        return _compile_selector(expr)
    if isinstance(expr, pp.MatrixSelector):
        return Matrix(_compile_selector(expr.vector_selector), _to_ms(expr.range))
    if isinstance(expr, pp.SubqueryExpr):
        return _compile_subquery(expr)
    if isinstance(expr, pp.Call):
        return _compile_call(expr)
    if isinstance(expr, pp.AggregateExpr):
        return _compile_aggregate(expr)
    if isinstance(expr, pp.BinaryExpr):
        return _compile_binary(expr)
    if isinstance(expr, pp.UnaryExpr):
        inner = compile_expr(expr.expr)
        return Negation(inner, inner.type)
    raise ValueError(f"unsupported expression {type(expr).__name__}")


def _enum_name(value: object) -> str:
    """The member name of a promql_parser enum (its members are not hashable)."""
    return str(value).rpartition(".")[2]


def _to_ms(delta: dt.timedelta | None) -> int:
    return 0 if delta is None else delta // dt.timedelta(milliseconds=1)


def _compile_at(at: Any) -> int | str | None:
    if at is None:
        return None
    if at.type == pp.AtModifierType.Start:
        return "start"
    if at.type == pp.AtModifierType.End:
        return "end"
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return int((at.at - epoch) // dt.timedelta(milliseconds=1))


def _compile_selector(expr: Any) -> Selector:
    if expr.matchers.or_matchers:
        raise ValueError("'or' inside a selector is newer than Prometheus 2.42")
    matchers = [_compile_matcher(m) for m in expr.matchers.matchers]
    if expr.name is not None:
        matchers.insert(0, Matcher(METRIC_NAME, "=", expr.name))
    names = [m.value for m in matchers if m.name == METRIC_NAME and m.op == "="]
    name = names[0] if names else None
    key = tuple((m.name, m.op, m.value) for m in matchers)
    return Selector(name, tuple(matchers), _to_ms(expr.offset), _compile_at(expr.at), key)


def _compile_matcher(matcher: Any) -> Matcher:
    op = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}[_enum_name(matcher.op)]
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re.compile(f"(?:{matcher.value})", re.DOTALL)
        except re.error as error:
            raise ValueError(f"bad regex {matcher.value!r}: {error}") from None
    return Matcher(matcher.name, op, matcher.value, regex)


def _compile_subquery(expr: Any) -> Subquery:
    inner = compile_expr(expr.expr)
    step = _to_ms(expr.step) if expr.step is not None else None
    if step is not None and step <= 0:
        raise ValueError("subquery step must be positive")
    return Subquery(inner, _to_ms(expr.range), step, _to_ms(expr.offset), _compile_at(expr.at))


def _compile_call(expr: Any) -> Call:
    name = expr.func.name
    if name not in FUNCTIONS:
        raise ValueError(f"function {name}() is not supported (not in Prometheus 2.42 here)")
    args = tuple(compile_expr(a) for a in expr.args)
    return Call(name, args, _TYPE_NAMES[_enum_name(expr.func.return_type)])


def _compile_aggregate(expr: Any) -> Aggregate:
    op = str(expr.op)
    if op not in _AGGREGATIONS:
        raise ValueError(f"aggregation {op} is not supported (not in Prometheus 2.42)")
    param = compile_expr(expr.param) if expr.param is not None else None
    grouping: tuple[str, ...] = ()
    without = False
    if expr.modifier is not None:
        grouping = tuple(sorted(expr.modifier.labels))
        without = expr.modifier.type == pp.AggModifierType.Without
    return Aggregate(op, compile_expr(expr.expr), param, grouping, without)


def _compile_binary(expr: Any) -> Binary:
    op = str(expr.op)
    lhs, rhs = compile_expr(expr.lhs), compile_expr(expr.rhs)
    modifier = expr.modifier
    return_bool = bool(modifier is not None and modifier.return_bool)
    card, on, matching, include = "one-to-one", False, (), ()
    if modifier is not None:
        fill = modifier.fill_values
        if fill is not None and (fill.lhs is not None or fill.rhs is not None):
            raise ValueError("fill() modifiers are newer than Prometheus 2.42")
        card = {
            "OneToOne": "one-to-one",
            "ManyToOne": "many-to-one",
            "OneToMany": "one-to-many",
            "ManyToMany": "many-to-many",
        }[_enum_name(modifier.card)]
        if modifier.matching is not None:
            on = modifier.matching.type == pp.LabelModifierType.Include
            matching = tuple(sorted(modifier.matching.labels))
        include = tuple(modifier.group_labels or ())
    if op in _SET_OPS:
        card = "many-to-many"
    both_scalar = lhs.type == "scalar" and rhs.type == "scalar"
    return Binary(op, lhs, rhs, return_bool, card, on, matching, include,
                  "scalar" if both_scalar else "vector")  # fmt: skip


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalContext:
    """What an evaluation needs besides the node: the store and the query's own time."""

    store: SeriesStore
    query_ms: int
    lookback_ms: int = LOOKBACK_MS
    subquery_step_ms: int = DEFAULT_SUBQUERY_STEP_MS


Value = InstantVector | RangeVector | float | str


def evaluate_expr(
    expr: str | Node | pp.Expr,
    store: SeriesStore,
    t_ms: int,
    *,
    lookback_ms: int = LOOKBACK_MS,
    subquery_step_ms: int = DEFAULT_SUBQUERY_STEP_MS,
) -> InstantVector | float:
    """Evaluate an instant query at ``t_ms``: an InstantVector, or a float for scalars.

    ``expr`` is PromQL text, a plan from `parse_expr`, or a ``promql_parser`` AST.
    """
    if isinstance(expr, str):
        node = parse_expr(expr)
    elif isinstance(expr, pp.Expr):
        node = compile_expr(expr)
    else:
        node = expr
    ctx = EvalContext(store, int(t_ms), lookback_ms, subquery_step_ms)
    result = evaluate_node(node, ctx, int(t_ms))
    if isinstance(result, InstantVector | float):
        return result
    raise PromQLError(f"result of type {node.type} is not a vector or scalar")


def evaluate_node(node: Node, ctx: EvalContext, t: int) -> Value:
    """Evaluate one plan node at time ``t`` (ms)."""
    return _EVALUATORS[type(node)](node, ctx, t)


def _evaluate_number(node: Number, ctx: EvalContext, t: int) -> float:
    return node.value


def _evaluate_string(node: String, ctx: EvalContext, t: int) -> str:
    return node.value


def get_reference_time(at: int | str | None, offset_ms: int, ctx: EvalContext, t: int) -> int:
    """The time a selector reads at: its @ time (or the eval time) minus its offset."""
    base = t if at is None else ctx.query_ms if isinstance(at, str) else at
    return base - offset_ms


def _evaluate_selector(node: Selector, ctx: EvalContext, t: int) -> InstantVector:
    block = ctx.store.get_block(node)
    if not len(block.keys):
        return _empty_vector()
    ref = get_reference_time(node.at, node.offset_ms, ctx, t)
    query = block.offsets + min(max(ref - block.base, -1), block.span - 1)
    idx = np.searchsorted(block.keys, query, side="right") - 1
    safe = np.maximum(idx, 0)
    ok = (idx >= block.starts[:-1]) & (block.times[safe] >= ref - ctx.lookback_ms)
    ok &= ~block.stale[safe]
    if ok.all():
        return InstantVector(block.labels, block.values[safe], block.times[safe])
    chosen = np.flatnonzero(ok)
    labels = tuple(block.labels[i] for i in chosen.tolist())
    return InstantVector(labels, block.values[safe[chosen]], block.times[safe[chosen]])


def _evaluate_matrix(node: Matrix, ctx: EvalContext, t: int) -> RangeVector:
    block = ctx.store.get_block(node.selector)
    end = get_reference_time(node.selector.at, node.selector.offset_ms, ctx, t)
    start = end - node.range_ms
    if not len(block.ns_keys):
        empty = np.zeros(len(block.labels), np.int64)
        return RangeVector(block.labels, block.ns_times, block.ns_values, empty, empty,
                           start, end, node.range_ms)  # fmt: skip
    lo_q = block.offsets + min(max(start - block.base, 0), block.span)
    hi_q = block.offsets + min(max(end - block.base, -1), block.span - 1)
    lo = np.searchsorted(block.ns_keys, lo_q, side="left")
    hi = np.searchsorted(block.ns_keys, hi_q, side="right")
    return RangeVector(block.labels, block.ns_times, block.ns_values, lo, hi,
                       start, end, node.range_ms)  # fmt: skip


def _evaluate_subquery(node: Subquery, ctx: EvalContext, t: int) -> RangeVector:
    step = node.step_ms if node.step_ms is not None else ctx.subquery_step_ms
    end = get_reference_time(node.at, node.offset_ms, ctx, t)
    start = step * ((end - node.range_ms) // step)
    if start < end - node.range_ms:
        start += step
    points: dict[Labels, list[tuple[int, float]]] = {}
    for step_t in range(start, end + 1, step):
        result = evaluate_node(node.expr, ctx, step_t)
        if not isinstance(result, InstantVector):
            raise PromQLError("subquery is only allowed on an instant vector")
        for labels, value in result:
            points.setdefault(labels, []).append((step_t, value))
    order = sorted(points)
    sizes = [len(points[k]) for k in order]
    flat = [p for k in order for p in points[k]]
    hi = np.cumsum(np.array(sizes, dtype=np.int64))
    return RangeVector(
        labels=tuple(order),
        times=np.array([p[0] for p in flat], dtype=np.int64),
        values=np.array([p[1] for p in flat], dtype=np.float64),
        lo=hi - np.array(sizes, dtype=np.int64),
        hi=hi,
        start_ms=end - node.range_ms,
        end_ms=end,
        range_ms=node.range_ms,
    )


def _evaluate_negation(node: Negation, ctx: EvalContext, t: int) -> Value:
    value = evaluate_node(node.expr, ctx, t)
    if isinstance(value, float):
        return -value
    if not isinstance(value, InstantVector):
        raise PromQLError("unary minus needs a scalar or an instant vector")
    labels = tuple(drop_metric_name(lab) for lab in value.labels)
    return check_unique(InstantVector(labels, -value.values))


def check_unique(vector: InstantVector) -> InstantVector:
    """Raise as Prometheus does when two elements share a label set."""
    if len(vector.labels) > 1 and not _is_unique(vector.labels):
        raise PromQLError("vector cannot contain metrics with the same labelset")
    return vector


@lru_cache(maxsize=4096)
def _is_unique(labels: tuple[Labels, ...]) -> bool:
    return len(set(labels)) == len(labels)


def _evaluate_scalar_arg(node: Node, ctx: EvalContext, t: int) -> float:
    value = evaluate_node(node, ctx, t)
    if not isinstance(value, float):
        raise PromQLError(f"expected a scalar, found {node.type}")
    return value


def _evaluate_vector_arg(node: Node, ctx: EvalContext, t: int) -> InstantVector:
    value = evaluate_node(node, ctx, t)
    if not isinstance(value, InstantVector):
        raise PromQLError(f"expected an instant vector, found {node.type}")
    return value


def _evaluate_range_arg(node: Node, ctx: EvalContext, t: int) -> RangeVector:
    value = evaluate_node(node, ctx, t)
    if not isinstance(value, RangeVector):
        raise PromQLError(f"expected a range vector, found {node.type}")
    return value


# --------------------------------------------------------------------------------------------
# Binary operators
# --------------------------------------------------------------------------------------------


def compute_scalar_binop(op: str, lhs: float, rhs: float) -> float:
    """scalarBinop: arithmetic, or 1/0 for comparisons."""
    if op in _COMPARISONS:
        return 1.0 if _compare(op, lhs, rhs) else 0.0
    return float(_arith(op, np.float64(lhs), np.float64(rhs)))


def _compare(op: str, lhs: Any, rhs: Any) -> Any:
    if op == "==":
        return lhs == rhs
    if op == "!=":
        return lhs != rhs
    if op == ">":
        return lhs > rhs
    if op == "<":
        return lhs < rhs
    if op == ">=":
        return lhs >= rhs
    return lhs <= rhs


def _arith(op: str, lhs: Any, rhs: Any) -> Any:
    with np.errstate(all="ignore"):
        if op == "+":
            return lhs + rhs
        if op == "-":
            return lhs - rhs
        if op == "*":
            return lhs * rhs
        if op == "/":
            return np.true_divide(lhs, rhs)
        if op == "%":
            return np.fmod(lhs, rhs)
        if op == "^":
            return np.power(lhs, rhs)
        return np.arctan2(lhs, rhs)


def _evaluate_binary(node: Binary, ctx: EvalContext, t: int) -> Value:
    lhs = evaluate_node(node.lhs, ctx, t)
    rhs = evaluate_node(node.rhs, ctx, t)
    if isinstance(lhs, float) and isinstance(rhs, float):
        return compute_scalar_binop(node.op, lhs, rhs)
    if isinstance(lhs, InstantVector) and isinstance(rhs, InstantVector):
        if node.op in _SET_OPS:
            return check_unique(compute_set_op(node, lhs, rhs))
        return check_unique(compute_vector_binop(node, lhs, rhs))
    if isinstance(lhs, InstantVector) and isinstance(rhs, float):
        return check_unique(compute_vector_scalar_binop(node, lhs, rhs, swap=False))
    if isinstance(lhs, float) and isinstance(rhs, InstantVector):
        return check_unique(compute_vector_scalar_binop(node, rhs, lhs, swap=True))
    raise PromQLError(f"operator {node.op} needs scalars or instant vectors")


def compute_vector_scalar_binop(
    node: Binary, vector: InstantVector, scalar: float, *, swap: bool
) -> InstantVector:
    """VectorscalarBinop: comparisons filter and keep the vector's value."""
    values = vector.values
    lhs, rhs = (np.float64(scalar), values) if swap else (values, np.float64(scalar))
    drop = node.op in _DROPS_NAME or node.return_bool
    labels = drop_metric_names(vector.labels) if drop else vector.labels
    if node.op not in _COMPARISONS:
        return InstantVector(labels, np.asarray(_arith(node.op, lhs, rhs), dtype=np.float64))
    keep = np.asarray(_compare(node.op, lhs, rhs), dtype=bool)
    if node.return_bool:
        return InstantVector(labels, keep.astype(np.float64))
    chosen = np.flatnonzero(keep)
    return InstantVector(tuple(labels[i] for i in chosen.tolist()), values[chosen])


def compute_signature(labels: Labels, on: bool, names: tuple[str, ...]) -> Labels:
    """The matching key: only ``names`` (on) or all but ``names`` and ``__name__``."""
    if on:
        return tuple(item for item in labels if item[0] in names)
    return tuple(item for item in labels if item[0] not in names and item[0] != METRIC_NAME)


def compute_set_op(node: Binary, lhs: InstantVector, rhs: InstantVector) -> InstantVector:
    """``and``, ``or`` and ``unless`` (VectorAnd, VectorOr, VectorUnless)."""
    sig_l = [compute_signature(lab, node.on, node.matching) for lab in lhs.labels]
    sig_r = {compute_signature(lab, node.on, node.matching) for lab in rhs.labels}
    if node.op == "and":
        if not len(lhs) or not len(rhs):
            return _empty_vector()
        chosen = [i for i, s in enumerate(sig_l) if s in sig_r]
        return _take(lhs, chosen)
    if node.op == "unless":
        if not len(lhs) or not len(rhs):
            return _take(lhs, list(range(len(lhs))))
        return _take(lhs, [i for i, s in enumerate(sig_l) if s not in sig_r])
    left = set(sig_l)
    extra = [
        i
        for i, lab in enumerate(rhs.labels)
        if compute_signature(lab, node.on, node.matching) not in left
    ]
    return InstantVector(
        lhs.labels + tuple(rhs.labels[i] for i in extra),
        np.concatenate([lhs.values, rhs.values[extra]]),
    )


def _take(vector: InstantVector, chosen: list[int]) -> InstantVector:
    return InstantVector(tuple(vector.labels[i] for i in chosen), vector.values[chosen])


def compute_vector_binop(node: Binary, lhs: InstantVector, rhs: InstantVector) -> InstantVector:
    """VectorBinop: one-to-one or grouped matching of two instant vectors."""
    if not len(lhs) or not len(rhs):
        return _empty_vector()
    one_to_many = node.card == "one-to-many"
    many, one = (rhs, lhs) if one_to_many else (lhs, rhs)
    right: dict[Labels, int] = {}
    for j, labels in enumerate(one.labels):
        sig = compute_signature(labels, node.on, node.matching)
        if sig in right:
            side = "left" if one_to_many else "right"
            raise PromQLError(
                f"found duplicate series for the match group {format_labels(sig)} on the "
                f"{side} hand-side of the operation: [{format_labels(labels)}, "
                f"{format_labels(one.labels[right[sig]])}];many-to-many matching not allowed: "
                "matching labels must be unique on one side"
            )
        right[sig] = j
    matched: dict[Labels, set[Labels] | None] = {}
    out_labels: list[Labels] = []
    out_values: list[float] = []
    many_values, one_values = many.values.tolist(), one.values.tolist()
    for i, labels in enumerate(many.labels):
        sig = compute_signature(labels, node.on, node.matching)
        found = right.get(sig)
        if found is None:
            continue
        vl, vr = many_values[i], one_values[found]
        if one_to_many:
            vl, vr = vr, vl
        value, keep = compute_element_binop(node.op, vl, vr)
        if node.return_bool:
            value = 1.0 if keep else 0.0
        elif not keep:
            continue
        metric = compute_result_metric(labels, one.labels[found], node)
        if node.return_bool:
            metric = drop_metric_name(metric)
        _record_match(matched, sig, metric, node.card)
        out_labels.append(metric)
        out_values.append(value)
    return _make_vector(out_labels, out_values)


def _record_match(
    matched: dict[Labels, set[Labels] | None], sig: Labels, metric: Labels, card: str
) -> None:
    if card == "one-to-one":
        if sig in matched:
            raise PromQLError(
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)"
            )
        matched[sig] = None
        return
    seen = matched.setdefault(sig, set())
    assert seen is not None
    if metric in seen:
        raise PromQLError("multiple matches for labels: grouping labels must ensure unique matches")
    seen.add(metric)


def compute_element_binop(op: str, lhs: float, rhs: float) -> tuple[float, bool]:
    """vectorElemBinop: (value, keep); comparisons keep the left value when true."""
    if op in _COMPARISONS:
        return lhs, bool(_compare(op, lhs, rhs))
    return float(_arith(op, np.float64(lhs), np.float64(rhs))), True


def compute_result_metric(lhs: Labels, rhs: Labels, node: Binary) -> Labels:
    """resultMetric: the many side's labels, trimmed by on/ignoring, plus group_x labels."""
    out = dict(lhs)
    if node.op in _DROPS_NAME:
        out.pop(METRIC_NAME, None)
    if node.card == "one-to-one":
        if node.on:
            out = {k: v for k, v in out.items() if k in node.matching}
        else:
            for name in node.matching:
                out.pop(name, None)
    one = dict(rhs)
    for name in node.include:
        if one.get(name, ""):
            out[name] = one[name]
        else:
            out.pop(name, None)
    return tuple(sorted(out.items()))


# --------------------------------------------------------------------------------------------
# Aggregation
# --------------------------------------------------------------------------------------------

_AGG_CODES = {"sum": 0, "avg": 1, "min": 2, "max": 3, "count": 4, "group": 5}
_AGG_CODES |= {"stddev": 6, "stdvar": 7}


def compute_group_labels(labels: Labels, grouping: tuple[str, ...], without: bool) -> Labels:
    """The output labels of an aggregation group (``by`` keeps, ``without`` drops + name)."""
    if without:
        return tuple(i for i in labels if i[0] not in grouping and i[0] != METRIC_NAME)
    return tuple(i for i in labels if i[0] in grouping)


def _evaluate_aggregate(node: Aggregate, ctx: EvalContext, t: int) -> InstantVector:
    param: float | str | None = None
    if node.param is not None:
        param = evaluate_node(node.param, ctx, t)  # type: ignore[assignment]  # a scalar or string
    vector = _evaluate_vector_arg(node.expr, ctx, t)
    if node.op in ("topk", "bottomk"):
        return check_unique(compute_topk(node, vector, _as_float(param)))
    if node.op == "count_values":
        return check_unique(compute_count_values(node, vector, str(param)))
    groups: dict[Labels, int] = {}
    index = np.empty(len(vector), dtype=np.int64)
    for i, labels in enumerate(vector.labels):
        key = compute_group_labels(labels, node.grouping, node.without)
        index[i] = groups.setdefault(key, len(groups))
    if node.op == "quantile":
        q = _as_float(param)
        values: list[float] | np.ndarray = [
            compute_quantile(q, vector.values[index == g].tolist()) for g in range(len(groups))
        ]
    else:
        values = _aggregate_kernel(_AGG_CODES[node.op], index, vector.values, len(groups))
    return check_unique(_make_vector(list(groups), values))


def _as_float(value: object) -> float:
    if not isinstance(value, float):
        raise PromQLError(f"expected a scalar parameter, found {value!r}")
    return value


def compute_count_values(node: Aggregate, vector: InstantVector, label: str) -> InstantVector:
    """count_values: count elements per (group, value) with the value as label ``label``."""
    if not is_valid_label_name(label):
        raise PromQLError(f"invalid label name {label!r}")
    grouping = node.grouping if node.without else tuple(sorted({*node.grouping, label}))
    counts: dict[Labels, int] = {}
    for labels, value in vector:
        with_value = compute_with_labels(labels, {label: format_go_float_f(value)})
        key = compute_group_labels(with_value, grouping, node.without)
        counts[key] = counts.get(key, 0) + 1
    return _make_vector(list(counts), [float(c) for c in counts.values()])


def compute_topk(node: Aggregate, vector: InstantVector, k_value: float) -> InstantVector:
    """topk/bottomk with Go's container/heap replacement order (ties keep earlier items)."""
    if not (-(2.0**63) <= k_value <= 9223372036854774784.0):
        raise PromQLError(f"Scalar value {k_value} overflows int64")
    k = int(k_value)
    if k < 1:
        return _empty_vector()
    top = node.op == "topk"
    heaps: dict[Labels, list[tuple[Labels, float]]] = {}
    for labels, value in vector:
        key = compute_group_labels(labels, node.grouping, node.without)
        _push_bounded(heaps.setdefault(key, []), (labels, value), k, top)
    out: list[tuple[Labels, float]] = []
    for heap in heaps.values():
        ordered = sorted(heap, key=lambda s: _heap_rank(s[1], top), reverse=True)
        out.extend(ordered)
    return _make_vector([s[0] for s in out], [s[1] for s in out])


def _heap_rank(value: float, top: bool) -> tuple[int, float]:
    """The heap's ordering as a sort key: NaN is the smallest element in either heap."""
    if math.isnan(value):
        return (0, 0.0)
    return (1, value if top else -value)


def _heap_less(a: float, b: float, top: bool) -> bool:
    if math.isnan(a):
        return True
    return a < b if top else a > b


def _push_bounded(heap: list[tuple[Labels, float]], item: tuple[Labels, float], k: int,
                  top: bool) -> None:  # fmt: skip
    if len(heap) < k:
        heap.append(item)
        _heap_up(heap, len(heap) - 1, top)
        return
    if not _heap_less(heap[0][1], item[1], top):
        return
    if k == 1:
        heap[0] = item
        return
    heap[0], heap[-1] = heap[-1], heap[0]
    _heap_down(heap, 0, len(heap) - 1, top)
    heap.pop()
    heap.append(item)
    _heap_up(heap, len(heap) - 1, top)


def _heap_up(heap: list[tuple[Labels, float]], j: int, top: bool) -> None:
    while j > 0:
        i = (j - 1) // 2
        if not _heap_less(heap[j][1], heap[i][1], top):
            break
        heap[i], heap[j] = heap[j], heap[i]
        j = i


def _heap_down(heap: list[tuple[Labels, float]], i: int, n: int, top: bool) -> None:
    while True:
        j = 2 * i + 1
        if j >= n:
            return
        if j + 1 < n and _heap_less(heap[j + 1][1], heap[j][1], top):
            j += 1
        if not _heap_less(heap[j][1], heap[i][1], top):
            return
        heap[i], heap[j] = heap[j], heap[i]
        i = j


def compute_quantile(q: float, values: list[float]) -> float:
    """Prometheus' quantile(): linear interpolation between ranks, NaN sorted first."""
    if not values or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(values, key=lambda v: (not math.isnan(v), v if not math.isnan(v) else 0.0))
    n = float(len(ordered))
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


@_jit
def _aggregate_kernel(op: int, index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """sum/avg/min/max/count/group/stddev/stdvar per group, in input order, as Go does."""
    value = np.zeros(n)
    mean = np.zeros(n)
    count = np.zeros(n)
    for i in range(len(values)):
        g = index[i]
        v = values[i]
        if count[g] == 0:
            count[g] = 1.0
            value[g] = 0.0 if op >= 6 else v
            mean[g] = v
            continue
        count[g] += 1.0
        if op == 0:
            value[g] += v
        elif op == 1:
            m = mean[g]
            if math.isinf(m) and (
                (math.isinf(v) and (m > 0) == (v > 0)) or (not math.isinf(v) and not math.isnan(v))
            ):
                continue
            mean[g] = m + (v / count[g] - m / count[g])
        elif op == 2:
            if value[g] > v or math.isnan(value[g]):
                value[g] = v
        elif op == 3:
            if value[g] < v or math.isnan(value[g]):
                value[g] = v
        elif op >= 6:
            delta = v - mean[g]
            mean[g] += delta / count[g]
            value[g] += delta * (v - mean[g])
    out = np.empty(n)
    for g in range(n):
        if op == 1:
            out[g] = mean[g]
        elif op == 4:
            out[g] = count[g]
        elif op == 5:
            out[g] = 1.0
        elif op == 6:
            out[g] = math.sqrt(value[g] / count[g])
        elif op == 7:
            out[g] = value[g] / count[g]
        else:
            out[g] = value[g]
    return out


# --------------------------------------------------------------------------------------------
# Range-vector kernels (each mirrors the Go function of the same name, sample by sample)
# --------------------------------------------------------------------------------------------


@_jit
def _kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    """kahanSumInc (Neumaier's variant)."""
    t = total + inc
    if abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


@_jit
def _extrapolated_rate_kernel(
    times: np.ndarray,
    values: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_start: np.ndarray,
    range_end: np.ndarray,
    range_seconds: float,
    is_counter: bool,
    is_rate: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """extrapolatedRate for rate, increase and delta; window ``s`` is the samples
    ``lo[s]:hi[s]`` of the range ``[range_start[s], range_end[s]]``."""
    out = np.zeros(len(lo))
    ok = np.zeros(len(lo), dtype=np.bool_)
    for s in range(len(lo)):
        a, b = lo[s], hi[s]
        if b - a < 2:
            continue
        result = values[b - 1] - values[a]
        if is_counter:
            prev = values[a]
            for i in range(a + 1, b):
                if values[i] < prev:
                    result += prev
                prev = values[i]
        duration_to_start = float(times[a] - range_start[s]) / 1000
        duration_to_end = float(range_end[s] - times[b - 1]) / 1000
        sampled = float(times[b - 1] - times[a]) / 1000
        average = sampled / float(b - a - 1)
        if is_counter and result > 0 and values[a] >= 0:
            duration_to_zero = sampled * (values[a] / result)
            if duration_to_zero < duration_to_start:  # noqa: PLR1730 (Go's order, NaN-safe)
                duration_to_start = duration_to_zero
        threshold = average * 1.1
        interval = sampled
        if duration_to_start < threshold:
            interval += duration_to_start
        else:
            interval += average / 2
        if duration_to_end < threshold:
            interval += duration_to_end
        else:
            interval += average / 2
        factor = interval / sampled
        if is_rate:
            factor /= range_seconds
        out[s] = result * factor
        ok[s] = True
    return out, ok


@_jit
def _instant_value_kernel(
    times: np.ndarray, values: np.ndarray, lo: np.ndarray, hi: np.ndarray, is_rate: bool
) -> tuple[np.ndarray, np.ndarray]:
    """instantValue for irate and idelta (the last two samples)."""
    out = np.zeros(len(lo))
    ok = np.zeros(len(lo), dtype=np.bool_)
    for s in range(len(lo)):
        if hi[s] - lo[s] < 2:
            continue
        last, prev = values[hi[s] - 1], values[hi[s] - 2]
        result = last if (is_rate and last < prev) else last - prev
        interval = times[hi[s] - 1] - times[hi[s] - 2]
        if interval == 0:
            continue
        if is_rate:
            result /= float(interval) / 1000
        out[s] = result
        ok[s] = True
    return out, ok


@_jit
def _over_time_kernel(
    code: int, values: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:  # fmt: skip
    """sum(0), avg(1), min(2), max(3), stddev(4), stdvar(5), changes(6), resets(7) _over_time."""
    out = np.zeros(len(lo))
    for s in range(len(lo)):
        a, b = lo[s], hi[s]
        if b <= a:
            continue
        if code == 0:
            total, c = 0.0, 0.0
            for i in range(a, b):
                total, c = _kahan_inc(values[i], total, c)
            out[s] = total if math.isinf(total) else total + c
        elif code == 1:
            mean, count, c = 0.0, 0.0, 0.0
            for i in range(a, b):
                v = values[i]
                count += 1
                if math.isinf(mean) and (
                    (math.isinf(v) and (mean > 0) == (v > 0))
                    or (not math.isinf(v) and not math.isnan(v))
                ):
                    continue
                mean, c = _kahan_inc(v / count - mean / count, mean, c)
            out[s] = mean if math.isinf(mean) else mean + c
        elif code in (2, 3):
            best = values[a]
            for i in range(a, b):
                v = values[i]
                better = v < best if code == 2 else v > best
                if better or math.isnan(best):
                    best = v
            out[s] = best
        elif code in (4, 5):
            count, mean, c_mean, aux, c_aux = 0.0, 0.0, 0.0, 0.0, 0.0
            for i in range(a, b):
                v = values[i]
                count += 1
                delta = v - (mean + c_mean)
                mean, c_mean = _kahan_inc(delta / count, mean, c_mean)
                aux, c_aux = _kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux)
            var = (aux + c_aux) / count
            out[s] = math.sqrt(var) if code == 4 else var
        else:
            n = 0
            prev = values[a]
            for i in range(a + 1, b):
                v = values[i]
                changed = v != prev and not (math.isnan(v) and math.isnan(prev))
                if (code == 6 and changed) or (code == 7 and v < prev):
                    n += 1
                prev = v
            out[s] = float(n)
    return out


@_jit
def _linear_regression_kernel(
    times: np.ndarray, values: np.ndarray, lo: np.ndarray, hi: np.ndarray, intercept_ms: int,
    from_first: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """linearRegression (Kahan sums) per series: slope, intercept, ok (two samples or more)."""
    slopes = np.zeros(len(lo))
    intercepts = np.zeros(len(lo))
    ok = np.zeros(len(lo), dtype=np.bool_)
    for s in range(len(lo)):
        a, b = lo[s], hi[s]
        if b - a < 2:
            continue
        ok[s] = True
        origin = times[a] if from_first else intercept_ms
        n, sx, cx, sy, cy, sxy, cxy, sx2, cx2 = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        const_y = True
        for i in range(a, b):
            v = values[i]
            if const_y and i > a and v != values[a]:
                const_y = False
            n += 1.0
            x = float(times[i] - origin) / 1e3
            sx, cx = _kahan_inc(x, sx, cx)
            sy, cy = _kahan_inc(v, sy, cy)
            sxy, cxy = _kahan_inc(x * v, sxy, cxy)
            sx2, cx2 = _kahan_inc(x * x, sx2, cx2)
        if const_y:
            if math.isinf(values[a]):
                slopes[s], intercepts[s] = math.nan, math.nan
            else:
                slopes[s], intercepts[s] = 0.0, values[a]
            continue
        sx, sy, sxy, sx2 = sx + cx, sy + cy, sxy + cxy, sx2 + cx2
        cov_xy = sxy - sx * sy / n
        var_x = sx2 - sx * sx / n
        slope = cov_xy / var_x
        slopes[s] = slope
        intercepts[s] = sy / n - slope * sx / n
    return slopes, intercepts, ok


@_jit
def _quantile_kernel(q: float, values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """quantile() over each series' window (NaN sorts first, as in Go's heap order)."""
    out = np.zeros(len(lo))
    for s in range(len(lo)):
        a, b = lo[s], hi[s]
        if b <= a:
            continue
        ordered = np.sort(values[a:b])
        nans = 0
        for v in ordered:
            if math.isnan(v):
                nans += 1
        out[s] = _quantile_of_sorted(q, ordered, nans, b - a)
    return out


@_jit
def _quantile_of_sorted(q: float, ordered: np.ndarray, nans: int, count: int) -> float:
    """quantile() of ``count`` values: ``nans`` NaN, the others ``ordered[:count - nans]``
    in ascending order."""
    if math.isnan(q) or q < 0 or q > 1:
        return math.nan if math.isnan(q) else (-math.inf if q < 0 else math.inf)
    n = float(count)
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    i, j = int(lower), int(upper)
    lv = math.nan if i < nans else ordered[i - nans]
    uv = math.nan if j < nans else ordered[j - nans]
    return lv * (1 - weight) + uv * weight


# --------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------


def compute_range_seconds(range_ms: int) -> float:
    """time.Duration.Seconds() for a millisecond duration."""
    seconds, rest_ms = divmod(range_ms, 1000)
    return float(seconds) + float(rest_ms * 1_000_000) / 1e9


def _range_result(
    rv: RangeVector, values: np.ndarray, ok: np.ndarray, *, keep_name: bool = False
) -> InstantVector:
    values = np.asarray(values, np.float64)
    if ok.all():
        labels = rv.labels if keep_name else drop_metric_names(rv.labels)
        return check_unique(InstantVector(labels, values))
    chosen = np.flatnonzero(ok)
    labels = tuple(
        rv.labels[i] if keep_name else drop_metric_name(rv.labels[i]) for i in chosen.tolist()
    )
    return check_unique(InstantVector(labels, values[chosen]))


def _function_rate(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    rv = _evaluate_range_arg(node.args[0], ctx, t)
    is_counter = node.func != "delta"
    starts = np.full(len(rv.lo), rv.start_ms, np.int64)
    ends = np.full(len(rv.lo), rv.end_ms, np.int64)
    values, ok = _extrapolated_rate_kernel(
        rv.times, rv.values, rv.lo, rv.hi, starts, ends,
        compute_range_seconds(rv.range_ms), is_counter, node.func == "rate",
    )  # fmt: skip
    return _range_result(rv, values, ok)


def _function_instant_rate(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    rv = _evaluate_range_arg(node.args[0], ctx, t)
    values, ok = _instant_value_kernel(rv.times, rv.values, rv.lo, rv.hi, node.func == "irate")
    return _range_result(rv, values, ok)


_OVER_TIME_CODES = {"sum_over_time": 0, "avg_over_time": 1, "min_over_time": 2}
_OVER_TIME_CODES |= {"max_over_time": 3, "stddev_over_time": 4, "stdvar_over_time": 5}
_OVER_TIME_CODES |= {"changes": 6, "resets": 7}


def _function_over_time(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    rv = _evaluate_range_arg(node.args[0], ctx, t)
    ok = rv.hi > rv.lo
    if node.func == "count_over_time":
        values = (rv.hi - rv.lo).astype(np.float64)
    elif node.func == "present_over_time":
        values = np.ones(len(rv.lo))
    elif node.func == "last_over_time":
        values = rv.values[np.maximum(rv.hi - 1, 0)] if len(rv.values) else np.zeros(len(rv.lo))
    else:
        values = _over_time_kernel(_OVER_TIME_CODES[node.func], rv.values, rv.lo, rv.hi)
    return _range_result(rv, values, ok, keep_name=node.func == "last_over_time")


def _function_quantile_over_time(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    q = _evaluate_scalar_arg(node.args[0], ctx, t)
    rv = _evaluate_range_arg(node.args[1], ctx, t)
    return _range_result(rv, _quantile_kernel(q, rv.values, rv.lo, rv.hi), rv.hi > rv.lo)


def _function_regression(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    rv = _evaluate_range_arg(node.args[0], ctx, t)
    if node.func == "deriv":
        slopes, _, ok = _linear_regression_kernel(rv.times, rv.values, rv.lo, rv.hi, 0, True)
        return _range_result(rv, slopes, ok)
    seconds = _evaluate_scalar_arg(node.args[1], ctx, t)
    slopes, intercepts, ok = _linear_regression_kernel(rv.times, rv.values, rv.lo, rv.hi, t, False)
    return _range_result(rv, slopes * seconds + intercepts, ok)


def _function_absent_over_time(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    rv = _evaluate_range_arg(node.args[0], ctx, t)
    if bool(np.any(rv.hi > rv.lo)):
        return _empty_vector()
    return _make_vector([compute_absent_labels(node.args[0])], [1.0])


def _function_absent(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    if len(_evaluate_vector_arg(node.args[0], ctx, t)):
        return _empty_vector()
    return _make_vector([compute_absent_labels(node.args[0])], [1.0])


def compute_absent_labels(arg: Node) -> Labels:
    """createLabelsForAbsentFunction: labels of the selector's single equality matchers."""
    selector = arg.selector if isinstance(arg, Matrix) else arg
    if not isinstance(selector, Selector):
        return ()
    out: dict[str, str] = {}
    dropped: list[str] = []
    for m in selector.matchers:
        if m.name == METRIC_NAME:
            continue
        if m.op == "=" and m.name not in out:
            out[m.name] = m.value
        else:
            dropped.append(m.name)
    for name in dropped:
        out.pop(name, None)
    return tuple(sorted((k, v) for k, v in out.items() if v != ""))


def _go_round(values: np.ndarray, to_nearest: float) -> np.ndarray:
    with np.errstate(all="ignore"):  # Go's float division: 1/0 is +Inf, never an error
        inverse = np.float64(1.0) / np.float64(to_nearest)
        return np.floor(values * inverse + 0.5) / inverse


def compute_go_log(x: np.ndarray) -> np.ndarray:
    """Go's math.Log (FreeBSD's e_log.c), operation for operation, so ln/log2/log10 agree."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        f1, ki = np.frexp(x)
        small = f1 < math.sqrt(2) / 2
        f1 = np.where(small, f1 * 2, f1)
        k = (ki - small).astype(np.float64)
        f = f1 - 1
        s = f / (2 + f)
        s2 = s * s
        s4 = s2 * s2
        t1 = s2 * (_L1 + s4 * (_L3 + s4 * (_L5 + s4 * _L7)))
        t2 = s4 * (_L2 + s4 * (_L4 + s4 * _L6))
        r = t1 + t2
        hfsq = 0.5 * f * f
        out = k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)
    out = np.where(np.isnan(x) | np.isposinf(x), x, out)
    out = np.where(x < 0, np.nan, out)
    return np.where(x == 0, -np.inf, out)


def compute_go_log2(x: np.ndarray) -> np.ndarray:
    """Go's math.Log2: exact for powers of two, else Log(frac) / Ln2 + exp."""
    x = np.asarray(x, dtype=np.float64)
    frac, exp = np.frexp(x)
    with np.errstate(all="ignore"):
        out = compute_go_log(frac) * _LOG2_E + exp
    out = np.where(frac == 0.5, (exp - 1).astype(np.float64), out)
    return np.where(np.isfinite(x) & (x > 0), out, compute_go_log(x))


def compute_go_log10(x: np.ndarray) -> np.ndarray:
    """Go's math.Log10: Log(x) × (1/Ln10)."""
    with np.errstate(all="ignore"):
        return compute_go_log(x) * _LOG10_E


_LOG2_E = 1.4426950408889634  # 1/Ln2 and 1/Ln10 rounded once, as Go's constant arithmetic does
_LOG10_E = 0.4342944819032518
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_L1, _L2, _L3 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01
_L4, _L5 = 2.222219843214978396e-01, 1.818357216161805012e-01
_L6, _L7 = 1.531383769920937332e-01, 1.479819860511658591e-01

_MATH: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": compute_go_log,
    "log2": compute_go_log2,
    "log10": compute_go_log10,
    "sgn": np.sign,
    "acos": np.arccos,
    "acosh": np.arccosh,
    "asin": np.arcsin,
    "asinh": np.arcsinh,
    "atan": np.arctan,
    "atanh": np.arctanh,
    "cos": np.cos,
    "cosh": np.cosh,
    "sin": np.sin,
    "sinh": np.sinh,
    "tan": np.tan,
    "tanh": np.tanh,
    "deg": np.degrees,
    "rad": np.radians,
}


def _function_math(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    vector = _evaluate_vector_arg(node.args[0], ctx, t)
    values = vector.values
    with np.errstate(all="ignore"):
        if node.func == "round":
            nearest = _evaluate_scalar_arg(node.args[1], ctx, t) if len(node.args) > 1 else 1.0
            out = _go_round(values, nearest)
        elif node.func == "clamp_min":
            out = np.maximum(_evaluate_scalar_arg(node.args[1], ctx, t), values)
        elif node.func == "clamp_max":
            out = np.minimum(_evaluate_scalar_arg(node.args[1], ctx, t), values)
        elif node.func == "clamp":
            low = _evaluate_scalar_arg(node.args[1], ctx, t)
            high = _evaluate_scalar_arg(node.args[2], ctx, t)
            if high < low:
                return _empty_vector()
            out = np.maximum(low, np.minimum(high, values))
        else:
            out = _MATH[node.func](values)
    labels = tuple(drop_metric_name(lab) for lab in vector.labels)
    return check_unique(InstantVector(labels, np.asarray(out, dtype=np.float64)))


def _function_time(node: Call, ctx: EvalContext, t: int) -> float:
    return t / 1000


def _function_pi(node: Call, ctx: EvalContext, t: int) -> float:
    return math.pi


def _function_vector(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    return _make_vector([()], [_evaluate_scalar_arg(node.args[0], ctx, t)])


def _function_scalar(node: Call, ctx: EvalContext, t: int) -> float:
    vector = _evaluate_vector_arg(node.args[0], ctx, t)
    return float(vector.values[0]) if len(vector) == 1 else math.nan


def _function_timestamp(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    vector = _evaluate_vector_arg(node.args[0], ctx, t)
    times = vector.times if isinstance(node.args[0], Selector) else None
    values = times / 1000 if times is not None else np.full(len(vector), t / 1000)
    labels = tuple(drop_metric_name(lab) for lab in vector.labels)
    return check_unique(InstantVector(labels, values))


def _function_sort(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    vector = _evaluate_vector_arg(node.args[0], ctx, t)
    descending = node.func == "sort_desc"
    order = sorted(range(len(vector)), key=lambda i: _sort_key(float(vector.values[i]), descending))
    return _take(vector, order)


def _sort_key(value: float, descending: bool) -> tuple[int, float]:
    if math.isnan(value):
        return (1, 0.0)
    return (0, -value if descending else value)


def _function_histogram_quantile(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    q = _evaluate_scalar_arg(node.args[0], ctx, t)
    vector = _evaluate_vector_arg(node.args[1], ctx, t)
    groups: dict[Labels, tuple[Labels, list[tuple[float, float]]]] = {}
    for labels, value in vector:
        upper = parse_go_float(get_label(labels, "le"))
        if upper is None:
            continue
        key = tuple(item for item in labels if item[0] != "le")
        out_labels = tuple(item for item in key if item[0] != METRIC_NAME)
        groups.setdefault(key, (out_labels, []))[1].append((upper, value))
    out = [(lab, compute_bucket_quantile(q, buckets)) for lab, buckets in groups.values()]
    return check_unique(_make_vector([o[0] for o in out], [o[1] for o in out]))


def compute_bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """bucketQuantile: classic-histogram quantile with coalescing and the monotonicity fix."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets, key=lambda b: b[0])
    if not math.isinf(ordered[-1][0]) or ordered[-1][0] < 0:
        return math.nan
    ordered = _coalesce_buckets(ordered)
    ordered = _ensure_monotonic(ordered)
    if len(ordered) < 2:
        return math.nan
    observations = ordered[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(ordered) - 1) if ordered[i][1] >= rank), len(ordered) - 1)
    if b == len(ordered) - 1:
        return ordered[-2][0]
    if b == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    start, end, count = 0.0, ordered[b][0], ordered[b][1]
    if b > 0:
        start = ordered[b - 1][0]
        count -= ordered[b - 1][1]
        rank -= ordered[b - 1][1]
    with np.errstate(all="ignore"):  # Go's float division: 0/0 is NaN, never an error
        return float(start + (end - start) * (np.float64(rank) / np.float64(count)))


def _coalesce_buckets(buckets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = [buckets[0]]
    for upper, count in buckets[1:]:
        if upper == out[-1][0]:
            out[-1] = (upper, out[-1][1] + count)
        else:
            out.append((upper, count))
    return out


def _ensure_monotonic(buckets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    highest = -math.inf
    for upper, count in buckets:
        highest = max(highest, count)
        out.append((upper, highest if count < highest else count))
    return out


_GO_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_GO_SPECIAL = re.compile(r"[+-]?(inf|infinity|nan)", re.IGNORECASE)
_GO_HEX = re.compile(r"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+")


def parse_go_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64), or None where Go reports an error (incl. overflow)."""
    if _GO_SPECIAL.fullmatch(text):
        return float(text)
    if _GO_DECIMAL.fullmatch(text):
        value = float(text)
    elif _GO_HEX.fullmatch(text):
        value = float.fromhex(text)
    else:
        return None
    return None if math.isinf(value) else value


def _function_label_replace(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    vector = _evaluate_vector_arg(node.args[0], ctx, t)
    dst, repl, src, pattern = (_string_arg(a) for a in node.args[1:5])
    try:
        regex = re.compile(f"(?:{pattern})", re.DOTALL)
    except re.error:
        raise PromQLError(f"invalid regular expression in label_replace(): {pattern}") from None
    if not is_valid_label_name(dst):
        raise PromQLError(f"invalid destination label name in label_replace(): {dst}")
    labels = []
    for lab in vector.labels:
        match = regex.fullmatch(get_label(lab, src))
        if match is None:
            labels.append(lab)
        else:
            labels.append(compute_with_labels(lab, {dst: expand_go_template(repl, match)}))
    return check_unique(InstantVector(tuple(labels), vector.values))


def expand_go_template(template: str, match: re.Match[str]) -> str:
    """regexp.Expand: $1, ${1}, $name, ${name}; $$ is a dollar; unknown names expand to ""."""
    out: list[str] = []
    rest = template
    while "$" in rest:
        before, _, rest = rest.partition("$")
        out.append(before)
        if rest.startswith("$"):
            out.append("$")
            rest = rest[1:]
            continue
        parsed = _extract_group_name(rest)
        if parsed is None:
            out.append("$")
            continue
        name, rest = parsed
        out.append(_get_group(match, name))
    out.append(rest)
    return "".join(out)


def _extract_group_name(text: str) -> tuple[str, str] | None:
    brace = text.startswith("{")
    body = text[1:] if brace else text
    found = re.match(r"\w+", body)
    if found is None:
        return None
    name, rest = found.group(0), body[found.end() :]
    if brace:
        if not rest.startswith("}"):
            return None
        rest = rest[1:]
    return name, rest


def _get_group(match: re.Match[str], name: str) -> str:
    if name.isdigit() and (name == "0" or not name.startswith("0")):
        index = int(name)
        return (match.group(index) or "") if index <= (match.re.groups or 0) else ""
    if name in match.re.groupindex:
        return match.group(name) or ""
    return ""


def _function_label_join(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    vector = _evaluate_vector_arg(node.args[0], ctx, t)
    dst, sep = _string_arg(node.args[1]), _string_arg(node.args[2])
    sources = [_string_arg(a) for a in node.args[3:]]
    if not is_valid_label_name(dst):
        raise PromQLError(f"invalid destination label name in label_join(): {dst}")
    labels = tuple(
        compute_with_labels(lab, {dst: sep.join(get_label(lab, s) for s in sources)})
        for lab in vector.labels
    )
    return check_unique(InstantVector(labels, vector.values))


def _string_arg(node: Node) -> str:
    if not isinstance(node, String):
        raise PromQLError("expected a string literal argument")
    return node.value


_DATE_PARTS: dict[str, Callable[[dt.datetime], float]] = {
    "minute": lambda d: d.minute,
    "hour": lambda d: d.hour,
    "day_of_week": lambda d: (d.weekday() + 1) % 7,
    "day_of_month": lambda d: d.day,
    "day_of_year": lambda d: d.timetuple().tm_yday,
    "days_in_month": lambda d: calendar.monthrange(d.year, d.month)[1],
    "month": lambda d: d.month,
    "year": lambda d: d.year,
}


def _function_date(node: Call, ctx: EvalContext, t: int) -> InstantVector:
    part = _DATE_PARTS[node.func]
    if not node.args:
        return _make_vector([()], [float(part(_utc(t // 1000)))])
    vector = _evaluate_vector_arg(node.args[0], ctx, t)
    values = [
        float(part(_utc(int(v)))) if math.isfinite(v) else math.nan for v in vector.values.tolist()
    ]
    labels = tuple(drop_metric_name(lab) for lab in vector.labels)
    return check_unique(InstantVector(labels, np.array(values, np.float64)))


def _utc(seconds: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


FunctionImpl = Callable[[Call, EvalContext, int], Value]

FUNCTIONS: dict[str, FunctionImpl] = {
    "rate": _function_rate,
    "increase": _function_rate,
    "delta": _function_rate,
    "irate": _function_instant_rate,
    "idelta": _function_instant_rate,
    "deriv": _function_regression,
    "predict_linear": _function_regression,
    "quantile_over_time": _function_quantile_over_time,
    "absent_over_time": _function_absent_over_time,
    "absent": _function_absent,
    "time": _function_time,
    "pi": _function_pi,
    "vector": _function_vector,
    "scalar": _function_scalar,
    "timestamp": _function_timestamp,
    "sort": _function_sort,
    "sort_desc": _function_sort,
    "histogram_quantile": _function_histogram_quantile,
    "label_replace": _function_label_replace,
    "label_join": _function_label_join,
}
FUNCTIONS |= dict.fromkeys(
    ["count_over_time", "present_over_time", "last_over_time", *_OVER_TIME_CODES],
    _function_over_time,
)
FUNCTIONS |= dict.fromkeys([*_MATH, "round", "clamp", "clamp_min", "clamp_max"], _function_math)
FUNCTIONS |= dict.fromkeys(_DATE_PARTS, _function_date)


def _evaluate_call(node: Call, ctx: EvalContext, t: int) -> Value:
    return FUNCTIONS[node.func](node, ctx, t)


_EVALUATORS: dict[type, Callable[[Any, EvalContext, int], Value]] = {
    Number: _evaluate_number,
    String: _evaluate_string,
    Selector: _evaluate_selector,
    Matrix: _evaluate_matrix,
    Subquery: _evaluate_subquery,
    Call: _evaluate_call,
    Aggregate: _evaluate_aggregate,
    Binary: _evaluate_binary,
    Negation: _evaluate_negation,
}


# --------------------------------------------------------------------------------------------
# Go number formatting (shared with templates and promtool files)
# --------------------------------------------------------------------------------------------


def compute_shortest_digits(value: float) -> tuple[str, int]:
    """The shortest round-trip decimal digits of |value| and the decimal point position."""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + int(exponent or 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    return (digits, point) if digits else ("0", 1)


def format_go_float(value: float) -> str:
    """fmt's %v for a float64 (strconv 'g', shortest): 1e+06, 123456, 1.5e-05, +Inf."""
    special = _format_special(value)
    if special is not None:
        return special
    digits, point = compute_shortest_digits(value)
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return sign + _place_point(digits, point)


def format_go_float_f(value: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent."""
    special = _format_special(value)
    if special is not None:
        return special
    digits, point = compute_shortest_digits(value)
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    return sign + _place_point(digits, point)


def _format_special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def _place_point(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]
