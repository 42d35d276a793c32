"""PromQL over a grid of evaluation times: every step of a query at once, bit for bit.

`promql.evaluate_expr` evaluates a plan at one time. `evaluate_grid` evaluates it at every
time of a grid at once: a `GridVector` holds one row per series and one column per time,
with a mask of the times the series has an element; a scalar is a constant or one value per
time. The results are those of `promql` at each time, bit for bit:

- windows: promql's kernels run over every (series, time) window at once, so each window
  sees the same floating-point operations in the same order. quantile_over_time keeps each
  series' window sorted as it slides instead of sorting it anew, which gives the same bits
  (a series holding -0.0, which sorts level with 0.0, gets promql's per-window sort);
- aggregations and histogram buckets: promql's code runs per (group, time) with the terms in
  row order, which is promql's order when a vector's rows come in the order of its elements
  at every time (`GridVector.ordered`, kept through every operation); an order-sensitive
  aggregation of a vector without it is declined;
- element-wise operations on whole matrices are only those IEEE 754 rounds exactly (+ − × ÷,
  fmod, comparisons, abs, sqrt, ceil, floor, max, min, and round, made of them); a scalar
  operation on a scalar that changes over time runs promql's function per time.

Supported: number literals; selectors with matchers and offsets ≥ 0; rate, increase, delta,
irate, idelta, deriv, the ``*_over_time`` functions (quantile too), changes, resets, absent,
absent_over_time; abs, ceil, floor, sqrt, sgn, round, clamp, clamp_min, clamp_max;
histogram_quantile; time, vector, scalar; sum, avg, min, max, count, group, stddev and
stdvar, by or without; unary minus; + − * / % and comparisons (bool too) between scalars and
vectors and between vectors, one-to-one or grouped, with on or ignoring; and, or, unless.
Anything else (``@``, subqueries, topk, ``^`` and atan2 on vectors, ...), and any input on which
promql would raise an error (or, for duplicate series on the "one" side of a match, might),
raises `BatchUnsupportedError`.

Sub-plans that occur more than once (a rule pair's shared expression) are evaluated once
and kept until their last use (`GridContext.uses`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The grid calls promql's kernels and helpers (private to it), so that both do the same
# floating-point operations in the same order.
from rppsim.guardrails.alerting.promql import (
    _AGG_CODES,
    _COMPARISONS,
    _DROPS_NAME,
    _MATH,
    _OVER_TIME_CODES,
    _SET_OPS,
    LOOKBACK_MS,
    Aggregate,
    Binary,
    Call,
    Labels,
    Matrix,
    Negation,
    Node,
    Number,
    Selector,
    SeriesStore,
    Subquery,
    _aggregate_kernel,
    _arith,
    _Block,
    _compare,
    _extrapolated_rate_kernel,
    _go_round,
    _instant_value_kernel,
    _jit,
    _linear_regression_kernel,
    _over_time_kernel,
    _quantile_kernel,
    _quantile_of_sorted,
    compute_absent_labels,
    compute_group_labels,
    compute_range_seconds,
    compute_result_metric,
    compute_scalar_binop,
    compute_signature,
    drop_metric_name,
    get_label,
    parse_go_float,
)

EXACT_ARITHMETIC = frozenset({"+", "-", "*", "/", "%"})
"""Binary arithmetic that IEEE 754 rounds exactly (``^`` and atan2 are left to libm)."""
EXACT_MATH = frozenset({"abs", "ceil", "floor", "sqrt", "sgn"})


class BatchUnsupportedError(Exception):
    """The grid cannot promise promql's result at every time here (evaluate step by step)."""


def ensure_supported(condition: bool, why: str) -> None:
    """BatchUnsupportedError(why) unless ``condition``."""
    if not condition:
        raise BatchUnsupportedError(why)


# --------------------------------------------------------------------------------------------
# Values over the grid
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GridVector:
    """An instant vector at every evaluation time: row ``i`` is the series ``labels[i]``,
    ``values[i, k]`` its value at time ``k``, where ``present[i, k]``.

    Two rows may share labels when they are never present at the same time. ``ordered``:
    at every time, the per-step path's vector lists the present rows in row order.
    """

    labels: tuple[Labels, ...]
    values: np.ndarray
    present: np.ndarray
    ordered: bool = True


def make_scalar_vector(value: float | np.ndarray, steps: int) -> GridVector:
    """A scalar rule result as the per-step path samples it: one element without labels."""
    return GridVector(((),), np.full((1, steps), value), np.ones((1, steps), bool))


def check_unique(vector: GridVector) -> GridVector:
    """BatchUnsupportedError where two elements share a label set at one time (promql raises)."""
    if len(set(vector.labels)) == len(vector.labels):
        return vector
    rows: dict[Labels, list[int]] = {}
    for i, labels in enumerate(vector.labels):
        rows.setdefault(labels, []).append(i)
    for same in rows.values():
        ensure_supported(
            len(same) == 1 or not (vector.present[same].sum(axis=0) > 1).any(),
            "two elements share a label set",
        )
    return vector


def index_groups(keys: Sequence[Labels]) -> tuple[np.ndarray, tuple[Labels, ...]]:
    """(group of each key, the groups in order of first appearance)."""
    ids: dict[Labels, int] = {}
    index = np.fromiter((ids.setdefault(k, len(ids)) for k in keys), np.int64, len(keys))
    return index, tuple(ids)


def compute_any_by_group(index: np.ndarray, present: np.ndarray, groups: int) -> np.ndarray:
    """bool[group, time]: some row of the group is present."""
    out = np.zeros((groups, present.shape[1]), bool)
    np.logical_or.at(out, index, present)
    return out


def is_group_order_stable(index: np.ndarray, present: np.ndarray, groups: int) -> bool:
    """Whether at every time the groups' first present rows come in group order, so the
    per-step path (groups in order of first appearance at that time) lists them in it."""
    rows_count, steps = present.shape
    if not groups:
        return True
    rows, ts = np.nonzero(present)
    first = np.full((groups, steps), rows_count, np.int64)
    np.minimum.at(first, (index[rows], ts), rows)
    seen = first < rows_count
    before = np.maximum.accumulate(np.where(seen, first, -1), axis=0)
    before = np.vstack([np.full((1, steps), -1), before[:-1]])
    return bool(np.all(~seen | (first > before)))


# --------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------


@dataclass
class GridContext:
    """What a grid evaluation reads: the store, the series written since (``overlay``, read
    instead of the store for ``overlay_names``), and the times."""

    store: SeriesStore
    times: np.ndarray
    overlay: SeriesStore = field(default_factory=SeriesStore)
    overlay_names: frozenset[str] = frozenset()
    lookback_ms: int = LOOKBACK_MS
    uses: Counter[Node] = field(default_factory=Counter)
    """How many evaluations of each sub-plan are still to come (see `plan`)."""
    cache: dict[Node, GridValue] = field(default_factory=dict)
    """The values of sub-plans still to be used again."""

    def plan(self, nodes: Iterable[Node]) -> None:
        """Announce the plans to be evaluated, so repeated sub-plans are evaluated once."""
        self.uses.update(sub for node in nodes for sub in iter_nodes(node))

    def get_block(self, selector: Selector) -> _Block:
        """The block of the series ``selector`` matches, from the store or the overlay."""
        ensure_supported(selector.name is not None, "a selector without a metric name")
        ensure_supported(selector.at is None and selector.offset_ms >= 0, "@ or a negative offset")
        source = self.overlay if selector.name in self.overlay_names else self.store
        return source.get_block(selector)

    def release(self, node: Node) -> None:
        """Count one use of ``node`` and of everything in it; forget what is used up."""
        for sub in iter_nodes(node):
            self.uses[sub] -= 1
            if self.uses[sub] <= 0:
                self.cache.pop(sub, None)


GridScalar = float | np.ndarray
"""A scalar at every time: a constant, or float64[time]."""
GridValue = GridVector | GridScalar


def evaluate_grid(node: Node, ctx: GridContext) -> GridValue:
    """Evaluate a plan node at every time of ``ctx.times``: a GridVector or a GridScalar.

    A node `GridContext.plan` announced more than once is evaluated once and kept until its
    last use (values are never changed in place, so sharing them is safe).
    """
    if node in ctx.cache:
        value = ctx.cache[node]
        ctx.release(node)
        return value
    evaluator = _EVALUATORS.get(type(node))
    ensure_supported(evaluator is not None, f"{type(node).__name__} nodes")
    assert evaluator is not None
    value = evaluator(node, ctx)
    ctx.uses[node] -= 1
    if ctx.uses[node] > 0:
        ctx.cache[node] = value
    return value


def _evaluate_vector_arg(node: Node, ctx: GridContext) -> GridVector:
    value = evaluate_grid(node, ctx)
    ensure_supported(isinstance(value, GridVector), "an instant vector argument that is not one")
    assert isinstance(value, GridVector)
    return value


def _evaluate_scalar_arg(node: Node, ctx: GridContext) -> GridScalar:
    value = evaluate_grid(node, ctx)
    ensure_supported(isinstance(value, float | np.ndarray), "a scalar argument that is not one")
    assert isinstance(value, float | np.ndarray)
    return value


def _evaluate_constant_arg(node: Node, ctx: GridContext) -> float:
    value = evaluate_grid(node, ctx)
    ensure_supported(isinstance(value, float), "a scalar argument that is not a constant")
    assert isinstance(value, float)
    return value


def _as_operand(scalar: GridScalar) -> Any:
    """A scalar as an operand of a [row, time] matrix (promql uses np.float64(scalar))."""
    return np.float64(scalar) if isinstance(scalar, float) else scalar[None, :]


def _evaluate_number(node: Number, ctx: GridContext) -> float:
    return node.value


def _evaluate_selector(node: Selector, ctx: GridContext) -> GridVector:
    """promql's instant selector at every time: the latest sample within the lookback."""
    block = ctx.get_block(node)
    shape = (len(block.labels), len(ctx.times))
    if not len(block.keys):
        return GridVector(block.labels, np.zeros(shape), np.zeros(shape, bool))
    ref = ctx.times - node.offset_ms
    query = block.offsets[:, None] + np.clip(ref - block.base, -1, block.span - 1)
    index = np.searchsorted(block.keys, query, side="right") - 1
    safe = np.maximum(index, 0)
    present = (index >= block.starts[:-1, None]) & (block.times[safe] >= ref - ctx.lookback_ms)
    present &= ~block.stale[safe]
    return GridVector(block.labels, block.values[safe], present)


def _evaluate_negation(node: Negation, ctx: GridContext) -> GridValue:
    value = evaluate_grid(node.expr, ctx)
    if not isinstance(value, GridVector):
        return -value
    labels = tuple(drop_metric_name(labels) for labels in value.labels)
    return check_unique(GridVector(labels, -value.values, value.present, value.ordered))


# --------------------------------------------------------------------------------------------
# Range functions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Windows:
    """The closed windows [end − range, end] of every (series, time): samples ``lo:hi`` of
    the block's samples without stale markers."""

    block: _Block
    lo: np.ndarray
    hi: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    range_ms: int


def get_windows(node: Node, ctx: GridContext) -> Windows:
    """promql's range selector at every time."""
    ensure_supported(isinstance(node, Matrix), "a range argument that is not a range selector")
    assert isinstance(node, Matrix)
    block = ctx.get_block(node.selector)
    ends = ctx.times - node.selector.offset_ms
    starts = ends - node.range_ms
    shape = (len(block.labels), len(ctx.times))
    if not len(block.ns_keys):
        empty = np.zeros(shape, np.int64)
        return Windows(block, empty, empty, starts, ends, node.range_ms)
    lo_q = block.offsets[:, None] + np.clip(starts - block.base, 0, block.span)
    hi_q = block.offsets[:, None] + np.clip(ends - block.base, -1, block.span - 1)
    lo = np.searchsorted(block.ns_keys, lo_q, side="left")
    hi = np.searchsorted(block.ns_keys, hi_q, side="right")
    return Windows(block, lo, hi, starts, ends, node.range_ms)


def _make_range_result(
    windows: Windows, values: np.ndarray, ok: np.ndarray, *, keep_name: bool = False
) -> GridVector:
    labels = windows.block.labels
    if not keep_name:
        labels = tuple(drop_metric_name(item) for item in labels)
    shape = windows.lo.shape
    values = np.asarray(values, np.float64).reshape(shape)
    return check_unique(GridVector(labels, values, np.asarray(ok, bool).reshape(shape)))


def _function_rate(node: Call, ctx: GridContext) -> GridVector:
    w = get_windows(node.args[0], ctx)
    rows = w.lo.shape[0]
    values, ok = _extrapolated_rate_kernel(
        w.block.ns_times, w.block.ns_values, w.lo.ravel(), w.hi.ravel(),
        np.tile(w.starts, rows), np.tile(w.ends, rows), compute_range_seconds(w.range_ms),
        node.func != "delta", node.func == "rate",
    )  # fmt: skip
    return _make_range_result(w, values, ok)


def _function_instant_rate(node: Call, ctx: GridContext) -> GridVector:
    w = get_windows(node.args[0], ctx)
    values, ok = _instant_value_kernel(
        w.block.ns_times, w.block.ns_values, w.lo.ravel(), w.hi.ravel(), node.func == "irate"
    )
    return _make_range_result(w, values, ok)


def _function_over_time(node: Call, ctx: GridContext) -> GridVector:
    w = get_windows(node.args[0], ctx)
    ns_values = w.block.ns_values
    if node.func == "count_over_time":
        values = (w.hi - w.lo).astype(np.float64)
    elif node.func == "present_over_time":
        values = np.ones(w.lo.shape)
    elif node.func == "last_over_time":
        values = ns_values[np.maximum(w.hi - 1, 0)] if len(ns_values) else np.zeros(w.lo.shape)
    else:
        code = _OVER_TIME_CODES[node.func]
        values = _over_time_kernel(code, ns_values, w.lo.ravel(), w.hi.ravel())
    return _make_range_result(w, values, w.hi > w.lo, keep_name=node.func == "last_over_time")


def _function_quantile_over_time(node: Call, ctx: GridContext) -> GridVector:
    q = _evaluate_constant_arg(node.args[0], ctx)
    w = get_windows(node.args[1], ctx)
    samples = w.block.ns_values
    if bool(np.any((samples == 0) & np.signbit(samples))):
        # np.sort orders -0.0 and 0.0 its own way; a sliding window would not repeat it
        values = _quantile_kernel(q, samples, w.lo.ravel(), w.hi.ravel())
    else:
        values = _sliding_quantile_kernel(q, samples, w.lo, w.hi)
    return _make_range_result(w, values, w.hi > w.lo)


@_jit
def _sliding_quantile_kernel(
    q: float, values: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """promql's _quantile_kernel over each series' windows ``lo[s, t]:hi[s, t]`` in time order,
    keeping the window's values sorted as it moves forward instead of sorting each window.
    Without -0.0 the sorted values are the same bits however they got sorted."""
    rows, steps = lo.shape
    out = np.zeros((rows, steps))
    ordered = np.empty(len(values))
    for s in range(rows):
        size, nans, first, last = 0, 0, 0, 0  # ordered[:size] holds values[first:last]
        for t in range(steps):
            a, b = lo[s, t], hi[s, t]
            if a >= last:
                size, nans, first, last = 0, 0, a, a
            while first < a:
                size, nans = _drop_sorted(ordered, size, nans, values[first])
                first += 1
            while last < b:
                size, nans = _insert_sorted(ordered, size, nans, values[last])
                last += 1
            if b > a:
                out[s, t] = _quantile_of_sorted(q, ordered, nans, b - a)
    return out


@_jit
def _insert_sorted(ordered: np.ndarray, size: int, nans: int, value: float) -> tuple[int, int]:
    if math.isnan(value):
        return size, nans + 1
    i = size
    while i > 0 and ordered[i - 1] > value:
        ordered[i] = ordered[i - 1]
        i -= 1
    ordered[i] = value
    return size + 1, nans


@_jit
def _drop_sorted(ordered: np.ndarray, size: int, nans: int, value: float) -> tuple[int, int]:
    if math.isnan(value):
        return size, nans - 1
    i = np.searchsorted(ordered[:size], value)
    for k in range(i, size - 1):
        ordered[k] = ordered[k + 1]
    return size - 1, nans


# --------------------------------------------------------------------------------------------
# Other functions
# --------------------------------------------------------------------------------------------


def _function_math(node: Call, ctx: GridContext) -> GridVector:
    """promql's _function_math on whole matrices (exactly rounded functions only)."""
    vector = _evaluate_vector_arg(node.args[0], ctx)
    values, present = vector.values, vector.present
    with np.errstate(all="ignore"):
        if node.func == "round":
            nearest = _evaluate_constant_arg(node.args[1], ctx) if len(node.args) > 1 else 1.0
            ensure_supported(nearest != 0, "round to 0 (promql's Python division raises)")
            out = _go_round(values, nearest)
        elif node.func == "clamp_min":
            out = np.maximum(_as_operand(_evaluate_scalar_arg(node.args[1], ctx)), values)
        elif node.func == "clamp_max":
            out = np.minimum(_as_operand(_evaluate_scalar_arg(node.args[1], ctx)), values)
        elif node.func == "clamp":
            low = _evaluate_constant_arg(node.args[1], ctx)
            high = _evaluate_constant_arg(node.args[2], ctx)
            if high < low:
                steps = len(ctx.times)
                return GridVector((), np.zeros((0, steps)), np.zeros((0, steps), bool))
            out = np.maximum(low, np.minimum(high, values))
        else:
            out = _MATH[node.func](values)
    labels = tuple(drop_metric_name(item) for item in vector.labels)
    return check_unique(GridVector(labels, np.asarray(out, np.float64), present, vector.ordered))


def _function_histogram_quantile(node: Call, ctx: GridContext) -> GridVector:
    """promql's histogram_quantile: buckets grouped by their labels without ``le``."""
    q = _evaluate_constant_arg(node.args[0], ctx)
    vector = _evaluate_vector_arg(node.args[1], ctx)
    rows, uppers, keys = [], [], []
    for i, labels in enumerate(vector.labels):
        upper = parse_go_float(get_label(labels, "le"))
        if upper is None:
            continue
        ensure_supported(not math.isnan(upper), "a NaN bucket bound")
        rows.append(i)
        uppers.append(upper)
        keys.append(tuple(item for item in labels if item[0] != "le"))
    index, groups = index_groups(keys)
    bounds = np.array(uppers, np.float64)
    order = np.lexsort((bounds, index))  # by group, then bound; stable, as promql's sort
    repeated = (index[order][1:] == index[order][:-1]) & (bounds[order][1:] == bounds[order][:-1])
    # equal bounds are added up in the order of the elements, known only for ordered rows
    ensure_supported(vector.ordered or not repeated.any(), "equal bounds in a changing order")
    starts = np.zeros(len(groups) + 1, np.int64)
    np.cumsum(np.bincount(index, minlength=len(groups)), out=starts[1:])
    values, present, divided_by_zero = _bucket_quantile_grid(
        q, order, starts, bounds, vector.values[rows], vector.present[rows]
    )
    # promql's Python arithmetic raises ZeroDivisionError where Go's gives NaN
    ensure_supported(not divided_by_zero, "a bucket interpolation over an empty bucket")
    stable = is_group_order_stable(index, vector.present[rows], len(groups))
    grouped = tuple(drop_metric_name(key) for key in groups)
    return check_unique(GridVector(grouped, values, present, vector.ordered and stable))


@_jit
def _bucket_quantile_grid(
    q: float, order: np.ndarray, starts: np.ndarray, bounds: np.ndarray, counts: np.ndarray,
    present: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, bool]:  # fmt: skip
    """compute_bucket_quantile per (group, time): group ``g`` is the buckets
    ``order[starts[g]:starts[g + 1]]`` sorted by bound; a bucket counts where present."""
    groups, steps = len(starts) - 1, counts.shape[1]
    out = np.zeros((groups, steps))
    seen = np.zeros((groups, steps), np.bool_)
    divided_by_zero = False
    uppers = np.empty(len(order))
    totals = np.empty(len(order))
    for g in range(groups):
        for t in range(steps):
            m = 0
            for k in range(starts[g], starts[g + 1]):
                r = order[k]
                if not present[r, t]:
                    continue
                if m > 0 and uppers[m - 1] == bounds[r]:  # promql keeps the later bound
                    uppers[m - 1], totals[m - 1] = bounds[r], totals[m - 1] + counts[r, t]
                else:
                    uppers[m], totals[m] = bounds[r], counts[r, t]
                    m += 1
            if m:
                seen[g, t] = True
                out[g, t], zero = _bucket_quantile(q, uppers, totals, m)
                divided_by_zero |= zero
    return out, seen, divided_by_zero


@_jit
def _bucket_quantile(
    q: float, uppers: np.ndarray, totals: np.ndarray, m: int
) -> tuple[float, bool]:
    """promql.compute_bucket_quantile on m coalesced buckets; (value, divided by zero)."""
    if math.isnan(q):
        return math.nan, False
    if q < 0:
        return -math.inf, False
    if q > 1:
        return math.inf, False
    if not math.isinf(uppers[m - 1]) or uppers[m - 1] < 0:
        return math.nan, False
    highest = -math.inf
    for i in range(m):
        count = totals[i]
        if count > highest:  # noqa: PLR1730 (Python's max(highest, count), NaN-safe)
            highest = count
        if count < highest:
            totals[i] = highest
    if m < 2 or totals[m - 1] == 0:
        return math.nan, False
    rank = q * totals[m - 1]
    b = m - 1
    for i in range(m - 1):
        if totals[i] >= rank:
            b = i
            break
    if b == m - 1:
        return uppers[m - 2], False
    if b == 0 and uppers[0] <= 0:
        return uppers[0], False
    start, end, count = 0.0, uppers[b], totals[b]
    if b > 0:
        start = uppers[b - 1]
        count -= totals[b - 1]
        rank -= totals[b - 1]
    if count == 0:
        return math.nan, True
    return start + (end - start) * (rank / count), False


# --------------------------------------------------------------------------------------------
# Aggregation and binary operators
# --------------------------------------------------------------------------------------------


def _evaluate_aggregate(node: Aggregate, ctx: GridContext) -> GridVector:
    """sum, avg, min, max, count, group, stddev, stdvar: promql's kernel per (group, time)."""
    ensure_supported(node.op in _AGG_CODES and node.param is None, f"aggregation {node.op}")
    vector = _evaluate_vector_arg(node.expr, ctx)
    ensure_supported(vector.ordered or node.op in ("count", "group"), "terms in a changing order")
    keys = [compute_group_labels(labels, node.grouping, node.without) for labels in vector.labels]
    index, groups = index_groups(keys)
    steps = len(ctx.times)
    rows, ts = np.nonzero(vector.present)
    flat = _aggregate_kernel(
        _AGG_CODES[node.op], index[rows] * steps + ts, vector.values[rows, ts], len(groups) * steps
    )
    present = np.zeros((len(groups), steps), bool)
    present[index[rows], ts] = True
    ordered = vector.ordered and is_group_order_stable(index, vector.present, len(groups))
    return check_unique(GridVector(groups, flat.reshape(len(groups), steps), present, ordered))


def _evaluate_binary(node: Binary, ctx: GridContext) -> GridValue:
    lhs, rhs = evaluate_grid(node.lhs, ctx), evaluate_grid(node.rhs, ctx)
    if isinstance(lhs, GridVector) and isinstance(rhs, GridVector):
        if node.op in _SET_OPS:
            return check_unique(compute_set_op(node, lhs, rhs))
        return check_unique(compute_vector_binop(node, lhs, rhs))
    if isinstance(lhs, GridVector):
        assert not isinstance(rhs, GridVector)
        return check_unique(compute_vector_scalar_binop(node, lhs, rhs, swap=False))
    if isinstance(rhs, GridVector):
        return check_unique(compute_vector_scalar_binop(node, rhs, lhs, swap=True))
    return compute_scalar_grid_binop(node.op, lhs, rhs, len(ctx.times))


def compute_scalar_grid_binop(op: str, lhs: GridScalar, rhs: GridScalar, steps: int) -> GridScalar:
    """promql's scalarBinop at every time (element by element: ^ and atan2 included)."""
    if isinstance(lhs, float) and isinstance(rhs, float):
        return compute_scalar_binop(op, lhs, rhs)
    left = np.broadcast_to(lhs, steps).tolist()
    right = np.broadcast_to(rhs, steps).tolist()
    return np.array([compute_scalar_binop(op, a, b) for a, b in zip(left, right, strict=True)])


def compute_vector_scalar_binop(
    node: Binary, vector: GridVector, scalar: GridScalar, *, swap: bool
) -> GridVector:
    """promql's VectorscalarBinop: comparisons filter and keep the vector's value."""
    values = vector.values
    lhs, rhs = (_as_operand(scalar), values) if swap else (values, _as_operand(scalar))
    drop = node.op in _DROPS_NAME or node.return_bool
    labels = tuple(drop_metric_name(item) for item in vector.labels) if drop else vector.labels
    if node.op not in _COMPARISONS:
        ensure_supported(node.op in EXACT_ARITHMETIC, f"operator {node.op}")
        out = np.asarray(_arith(node.op, lhs, rhs), np.float64)
        return GridVector(labels, out, vector.present, vector.ordered)
    keep = np.asarray(_compare(node.op, lhs, rhs), bool)
    if node.return_bool:
        return GridVector(labels, keep.astype(np.float64), vector.present, vector.ordered)
    return GridVector(labels, values, vector.present & keep, vector.ordered)


def compute_vector_binop(node: Binary, lhs: GridVector, rhs: GridVector) -> GridVector:
    """promql's VectorBinop: each row of the "many" side against the rows of the "one" side
    it matches (one row per matching pair; a pair is present where both are)."""
    ensure_supported(node.op in _COMPARISONS or node.op in EXACT_ARITHMETIC, f"operator {node.op}")
    ensure_supported(node.card != "many-to-many", "many-to-many matching")
    one_to_many = node.card == "one-to-many"
    many, one = (rhs, lhs) if one_to_many else (lhs, rhs)
    candidates: dict[Labels, list[int]] = {}
    for j, labels in enumerate(one.labels):
        candidates.setdefault(compute_signature(labels, node.on, node.matching), []).append(j)
    for rows in candidates.values():
        twice = len(rows) > 1 and bool((one.present[rows].sum(axis=0) > 1).any())
        ensure_supported(not twice, "duplicate series on the one side")
    pairs = [
        (i, j, sig)
        for i, labels in enumerate(many.labels)
        for sig in [compute_signature(labels, node.on, node.matching)]
        for j in candidates.get(sig, ())
    ]
    many_rows = np.array([p[0] for p in pairs], np.int64)
    one_rows = np.array([p[1] for p in pairs], np.int64)
    present = many.present[many_rows] & one.present[one_rows]
    left, right = many.values[many_rows], one.values[one_rows]
    if one_to_many:
        left, right = right, left
    with np.errstate(all="ignore"):
        if node.op in _COMPARISONS:
            keep = np.asarray(_compare(node.op, left, right), bool)
            values = keep.astype(np.float64) if node.return_bool else left
            present = present if node.return_bool else present & keep
        else:
            values = np.asarray(_arith(node.op, left, right), np.float64)
    out_labels: list[Labels] = []
    for i, j, _ in pairs:
        metric = compute_result_metric(many.labels[i], one.labels[j], node)
        out_labels.append(drop_metric_name(metric) if node.return_bool else metric)
    if node.card == "one-to-one":
        check_one_match_per_signature([p[2] for p in pairs], present)
    return GridVector(tuple(out_labels), values.reshape(present.shape), present, many.ordered)


def check_one_match_per_signature(signatures: Sequence[Labels], present: np.ndarray) -> None:
    """One-to-one matching: no two many-side rows of one signature match at one time."""
    index, groups = index_groups(signatures)
    if len(groups) < len(signatures):
        counts = np.zeros((len(groups), present.shape[1]), np.int64)
        np.add.at(counts, index, present)
        ensure_supported(not (counts > 1).any(), "multiple matches for labels")


def compute_set_op(node: Binary, lhs: GridVector, rhs: GridVector) -> GridVector:
    """``and``, ``or`` and ``unless`` at every time (VectorAnd, VectorOr, VectorUnless)."""
    sig_l = [compute_signature(labels, node.on, node.matching) for labels in lhs.labels]
    sig_r = [compute_signature(labels, node.on, node.matching) for labels in rhs.labels]
    index, groups = index_groups([*sig_l, *sig_r])
    index_l, index_r = index[: len(sig_l)], index[len(sig_l) :]
    if node.op == "or":
        taken = compute_any_by_group(index_l, lhs.present, len(groups))
        extra = rhs.present & ~taken[index_r]
        return GridVector(
            lhs.labels + rhs.labels,
            np.concatenate([lhs.values, rhs.values]),
            np.concatenate([lhs.present, extra]),
            lhs.ordered and rhs.ordered,
        )
    matched = compute_any_by_group(index_r, rhs.present, len(groups))[index_l]
    present = lhs.present & (matched if node.op == "and" else ~matched)
    return GridVector(lhs.labels, lhs.values, present, lhs.ordered)


def _evaluate_call(node: Call, ctx: GridContext) -> GridValue:
    function = _FUNCTIONS.get(node.func)
    ensure_supported(function is not None, f"function {node.func}()")
    assert function is not None
    return function(node, ctx)


def _function_deriv(node: Call, ctx: GridContext) -> GridVector:
    w = get_windows(node.args[0], ctx)
    slopes, _, ok = _linear_regression_kernel(
        w.block.ns_times, w.block.ns_values, w.lo.ravel(), w.hi.ravel(), 0, True
    )
    return _make_range_result(w, slopes, ok)


def _function_absent(node: Call, ctx: GridContext) -> GridVector:
    if node.func == "absent_over_time":
        w = get_windows(node.args[0], ctx)
        seen = np.asarray((w.hi > w.lo).any(axis=0))
    else:
        seen = np.asarray(_evaluate_vector_arg(node.args[0], ctx).present.any(axis=0))
    labels = compute_absent_labels(node.args[0])
    return GridVector((labels,), np.ones((1, len(ctx.times))), ~seen[None, :])


def _function_time(node: Call, ctx: GridContext) -> np.ndarray:
    return ctx.times / 1000


def _function_vector(node: Call, ctx: GridContext) -> GridVector:
    return make_scalar_vector(_evaluate_scalar_arg(node.args[0], ctx), len(ctx.times))


def _function_scalar(node: Call, ctx: GridContext) -> np.ndarray:
    """The value of a vector's only element, NaN when it has none or several."""
    vector = _evaluate_vector_arg(node.args[0], ctx)
    steps = len(ctx.times)
    if not vector.labels:
        return np.full(steps, math.nan)
    only = vector.values[np.argmax(vector.present, axis=0), np.arange(steps)]
    return np.where(vector.present.sum(axis=0) == 1, only, math.nan)


_FUNCTIONS: dict[str, Callable[[Call, GridContext], GridValue]] = {
    "rate": _function_rate,
    "increase": _function_rate,
    "delta": _function_rate,
    "irate": _function_instant_rate,
    "idelta": _function_instant_rate,
    "quantile_over_time": _function_quantile_over_time,
    "histogram_quantile": _function_histogram_quantile,
    "deriv": _function_deriv,
    "absent": _function_absent,
    "absent_over_time": _function_absent,
    "time": _function_time,
    "vector": _function_vector,
    "scalar": _function_scalar,
}
_FUNCTIONS |= dict.fromkeys(
    ["count_over_time", "present_over_time", "last_over_time", *_OVER_TIME_CODES],
    _function_over_time,
)
_FUNCTIONS |= dict.fromkeys([*EXACT_MATH, "round", "clamp", "clamp_min", "clamp_max"],
                            _function_math)  # fmt: skip

_EVALUATORS: dict[type, Callable[[Any, GridContext], GridValue]] = {
    Number: _evaluate_number,
    Selector: _evaluate_selector,
    Call: _evaluate_call,
    Aggregate: _evaluate_aggregate,
    Binary: _evaluate_binary,
    Negation: _evaluate_negation,
}


def iter_nodes(node: Node) -> Iterator[Node]:
    """A plan node and every node in it (a range selector's selector too)."""
    yield node
    if isinstance(node, Matrix):
        yield node.selector
    elif isinstance(node, Subquery | Negation):
        yield from iter_nodes(node.expr)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from iter_nodes(arg)
    elif isinstance(node, Aggregate):
        yield from iter_nodes(node.expr)
        if node.param is not None:
            yield from iter_nodes(node.param)
    elif isinstance(node, Binary):
        yield from iter_nodes(node.lhs)
        yield from iter_nodes(node.rhs)


def iter_selectors(node: Node) -> Iterator[Selector]:
    """Every selector in a plan, those of range selectors and subqueries included."""
    return (sub for sub in iter_nodes(node) if isinstance(sub, Selector))
