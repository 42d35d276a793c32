"""Fault schedules and the network view at time t (docs/simnet.md#faults).

Pure and deterministic: no simpy. A scenario lists fault specs; ``FaultSchedule`` expands them
(churn included, from the seed tree) into windows ``[start, end)`` and answers, for a time
``t``, which nodes are crashed or paused, which arcs are down, the extra delay/loss of each arc
and each node's clock skew (``view_at``), and lists the transitions for the kernel and for the
``faults`` frame (``transitions``).

Semantics (all times integer ms; a window is active for ``start <= t < end``):

* ``crash``: the node stops at ``at_ms``; with ``until_ms`` it restarts then. Crash windows of
  one node must not overlap (explicit ones are a user error; churn avoids them).
* ``restart``: ends an open-ended crash (one without ``until_ms``) of that node; with
  ``keep_data = false`` the node comes back without what it persisted (from genesis).
* ``[[stage]]`` (``rppsim.sim.stages``): each staged node is down for the stage's downtime
  (a crash window, cause ``upgrade``: transitions ``upgrade_down`` / ``upgrade_up``) and comes
  back on the stage's profile. Stage windows are given to the schedule already expanded.
* ``pause``: the node keeps its state but neither receives nor forwards until ``until_ms``
  (or the end of the run). A pause must not overlap a crash window of its node (explicit,
  open-ended or ended by ``restart``): that is a user error naming the pause. Windows may
  touch: a pause may end exactly when a crash starts, and start exactly when it ends.
* ``partition``: ``groups`` of node ids (disjoint). Nodes in no group form one implicit
  extra group (``unlisted = "group"``, the default) or keep every link (``unlisted =
  "bridge"``, simnet's region-pair semantics, docs/simnet.md#faults). Arcs between different
  groups are down; with ``oneway = true`` only arcs from group i to a later group j > i are
  down (the implicit group counts as the last one), so the cut is asymmetric. Several active
  partitions combine: an arc is down if any of them cuts it.
* ``heal``: ends every partition with ``at_ms < heal.at_ms < end``.
* ``degrade``: arcs of the listed links (both directions) and of every link of the listed
  nodes get ``extra_delay_ms`` more delay and an independent extra loss ``extra_loss``
  (combined loss ``1 - (1 - p)(1 - extra)``); overlapping degradations add delays and
  combine losses the same way.
* ``clock-skew``: a node's local clock reads ``t + offset_ms + floor((t - at_ms) * drift_ppm /
  1e6)`` during the window; the kernel applies it to the node's timers (``local_time_ms``).
* ``telemetry-outage``: the simulated telemetry collector fails the emits that ``nodes`` send
  during the window, by ``mode``: ``down`` (connection refused at once), ``slow`` (no answer:
  a transport failure after the node's ``timeout_ms``) or ``error-status`` (HTTP 503). It
  changes no node state; transitions ``telemetry_outage_start`` / ``_end`` per node.
* ``churn``: crash/restart pairs expanded at load time from ``("fault", "churn", index)``:
  ``process = "poisson"`` draws exponential gaps (mean ``60000 / rate_per_min`` ms, ceil, at
  least 1 ms), concurrent downs allowed; ``process = "sequential"`` is simnet's loop (wait
  ``max(1, floor(60000 / rate))`` ms, one node down for its downtime, repeat;
  docs/simnet.md#faults). Each event picks uniformly among candidate nodes that are neither
  crashed nor paused for the whole downtime; none up means no event. Downtime is ``fixed``
  (``downtime_ms``) or ``exponential`` (mean ``downtime_ms``, rounded, at least 1 ms). A
  restart after the run's end is dropped.

A node's state (``get_node_state``) is therefore exactly one of RUNNING, CRASHED and PAUSED at
every instant, read from the same windows as ``view_at``; the kernel takes its view of a node
from it at each node transition. What the kernel does with a node's inputs in each state:

* RUNNING: timers, messages, transactions and identity requests are processed.
* PAUSED: nothing is processed. Messages that reach the node and timers that fall due are
  held, in arrival order, and run when the pause ends (a timer runs late, at the resume
  time); no transaction or identity request is submitted to it (traffic picks running nodes).
* CRASHED: nothing is processed or held: messages are dropped, pending timers and held inputs
  are lost. A restart builds a new node from the commits it persisted and starts it.
* Every node starts at 0, before any fault at 0. Several transitions of one node at one
  instant (a restart and a crash at ``t``, a resume and a crash) resolve to its state at
  ``t``: a node restarted and crashed at ``t`` never runs, a pause ending at ``t`` into a
  crash loses its held inputs, and a node restarted straight into a pause starts when the
  pause ends.
"""

from __future__ import annotations

import bisect
import enum
import math
from dataclasses import dataclass, field

import numpy as np

from rppsim.errors import UserError
from rppsim.rng import SeedTree
from rppsim.sim.topology import Topology

NEVER = 2**62


class NodeState(enum.Enum):
    """A node's fault state at one instant (``FaultSchedule.get_node_state``)."""

    RUNNING = "running"
    CRASHED = "crashed"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class Crash:
    """A node crash, with an optional restart at ``until_ms``."""

    node: int
    at_ms: int
    until_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Restart:
    """Restart a node whose crash had no ``until_ms``."""

    node: int
    at_ms: int
    keep_data: bool = True
    """False: the node restarts without its persisted commits and sign state."""


@dataclass(frozen=True, slots=True)
class Pause:
    """A node stops processing but keeps its state; it resumes at ``until_ms``."""

    node: int
    at_ms: int
    until_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Partition:
    """Links between different groups are down during ``[at_ms, until_ms)``."""

    groups: tuple[tuple[int, ...], ...]
    at_ms: int
    until_ms: int | None = None
    unlisted: str = "group"
    oneway: bool = False


@dataclass(frozen=True, slots=True)
class Heal:
    """End every partition active at ``at_ms``."""

    at_ms: int


@dataclass(frozen=True, slots=True)
class Degrade:
    """Extra delay and loss on some links (or all links of some nodes) for an interval."""

    at_ms: int
    until_ms: int | None = None
    links: tuple[tuple[int, int], ...] = ()
    nodes: tuple[int, ...] = ()
    extra_delay_ms: int = 0
    extra_loss: float = 0.0


@dataclass(frozen=True, slots=True)
class ClockSkew:
    """The nodes' clocks run ``offset_ms`` ahead and drift by ``drift_ppm``."""

    nodes: tuple[int, ...]
    at_ms: int = 0
    until_ms: int | None = None
    offset_ms: int = 0
    drift_ppm: int = 0


@dataclass(frozen=True, slots=True)
class Churn:
    """Random crash/restart pairs at ``rate_per_min`` among ``nodes`` (None: all nodes)."""

    rate_per_min: float
    downtime_ms: int
    at_ms: int = 0
    until_ms: int | None = None
    downtime: str = "fixed"
    process: str = "poisson"
    nodes: tuple[int, ...] | None = None


OUTAGE_MODES = ("down", "slow", "error-status")
"""``telemetry-outage`` modes: connection refused, request timeout, HTTP 5xx."""


@dataclass(frozen=True, slots=True)
class TelemetryOutage:
    """The telemetry collector fails the listed nodes' emits sent in ``[at_ms, until_ms)``."""

    nodes: tuple[int, ...]
    at_ms: int
    until_ms: int | None = None
    mode: str = "down"

    def is_active(self, node: int, t_ms: int) -> bool:
        """Whether an emit of ``node`` sent at ``t_ms`` falls in this outage."""
        return node in self.nodes and self.at_ms <= t_ms < _end(self.until_ms)


FaultSpec = (
    Crash | Restart | Pause | Partition | Heal | Degrade | ClockSkew | Churn | TelemetryOutage
)
FAULT_KINDS: dict[str, type] = {
    "crash": Crash,
    "restart": Restart,
    "pause": Pause,
    "partition": Partition,
    "heal": Heal,
    "degrade": Degrade,
    "clock-skew": ClockSkew,
    "churn": Churn,
    "telemetry-outage": TelemetryOutage,
}
_END_KINDS = {
    "restart",
    "churn_up",
    "upgrade_up",
    "resume",
    "partition_end",
    "degrade_end",
    "skew_end",
    "telemetry_outage_end",
}


def get_fault_kind(spec: FaultSpec) -> str:
    """The scenario ``kind`` string of a fault spec."""
    for name, cls in FAULT_KINDS.items():
        if isinstance(spec, cls):
            return name
    raise TypeError(f"not a fault spec: {spec!r}")


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change at ``time_ms`` (``node`` -1 when not node-specific).

    Kinds: crash, restart, churn_down, churn_up (simnet's labels, docs/simnet.md#faults),
    upgrade_down, upgrade_up, pause, resume, partition_start, partition_end, heal,
    degrade_start, degrade_end, skew_start, skew_end. ``fault`` is the index of the spec in
    the scenario's list (of the stage in ``[[stage]]`` for the upgrade kinds).
    """

    time_ms: int
    kind: str
    node: int
    fault: int
    detail: str = ""
    keep_data: bool = True
    """False on the restart of a node that lost what it persisted."""


@dataclass(frozen=True, slots=True)
class Window:
    """An expanded node window ``[start_ms, end_ms)`` (crash or pause) and its cause."""

    node: int
    start_ms: int
    end_ms: int
    fault: int
    cause: str
    keep_data: bool = True
    """False: the node comes back without what it persisted."""
    label: str = ""
    """Added to the transitions' detail (a stage's profile)."""


@dataclass(frozen=True, eq=False)
class NetworkView:
    """The network's fault state during one epoch (between two transitions); read-only."""

    epoch: int
    node_crashed: np.ndarray
    node_paused: np.ndarray
    node_ok: np.ndarray
    arc_down: np.ndarray
    arc_extra_delay_ms: np.ndarray | None = None
    arc_extra_loss: np.ndarray | None = None
    skew_offset_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    skew_drift_ppm: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _freeze_view(view: NetworkView) -> NetworkView:
    """Make every array of a view read-only (views are shared and cached)."""
    for value in vars(view).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return view


def compute_clear_view(topology: Topology, epoch: int = 0) -> NetworkView:
    """A view with no fault active."""
    n, arcs = topology.n, topology.arc_count
    view = NetworkView(
        epoch=epoch,
        node_crashed=np.zeros(n, bool),
        node_paused=np.zeros(n, bool),
        node_ok=np.ones(n, bool),
        arc_down=np.zeros(arcs, bool),
        skew_offset_ms=np.zeros(n, np.int64),
        skew_drift_ppm=np.zeros(n, np.int64),
    )
    return _freeze_view(view)


def _end(until_ms: int | None) -> int:
    """Window end of an optional ``until_ms``."""
    return NEVER if until_ms is None else until_ms


def _overlaps(windows: list[Window], start: int, end: int) -> bool:
    """Whether any window intersects ``[start, end)``."""
    return any(w.start_ms < end and start < w.end_ms for w in windows)


def compute_crash_windows(faults: tuple[FaultSpec, ...], source: str) -> list[Window]:
    """Crash windows from explicit crash/restart specs; inconsistent ones are user errors."""
    events = sorted(
        (f.at_ms, 0 if isinstance(f, Restart) else 1, i)
        for i, f in enumerate(faults)
        if isinstance(f, Crash | Restart)
    )
    per_node: dict[int, list[Window]] = {}
    open_crash: dict[int, tuple[int, int]] = {}
    for at, _, i in events:
        spec = faults[i]
        assert isinstance(spec, Crash | Restart)  # the events hold these kinds only
        past = per_node.setdefault(spec.node, [])
        if isinstance(spec, Restart):
            if spec.node not in open_crash:
                expected = f"node {spec.node} crashed without until_ms before at_ms"
                raise UserError(source, f"fault[{i}].node", expected, "node is up")
            start, index = open_crash.pop(spec.node)
            past.append(Window(spec.node, start, at, index, "crash", spec.keep_data))
            continue
        assert isinstance(spec, Crash)
        end = _end(spec.until_ms)
        if spec.node in open_crash or _overlaps(past, at, end):
            expected = f"a window when node {spec.node} is up"
            raise UserError(source, f"fault[{i}].at_ms", expected, "overlapping crash")
        if spec.until_ms is None:
            open_crash[spec.node] = (at, i)
        else:
            past.append(Window(spec.node, at, end, i, "crash"))
    for node, (start, index) in open_crash.items():
        per_node[node].append(Window(node, start, NEVER, index, "crash"))
    return sorted((w for ws in per_node.values() for w in ws), key=lambda w: (w.start_ms, w.node))


def compute_pause_windows(faults: tuple[FaultSpec, ...], source: str) -> list[Window]:
    """Pause windows; two pauses of one node must not overlap."""
    windows: list[Window] = []
    for i, spec in enumerate(faults):
        if not isinstance(spec, Pause):
            continue
        end = _end(spec.until_ms)
        if _overlaps([w for w in windows if w.node == spec.node], spec.at_ms, end):
            expected = f"a window when node {spec.node} is not paused"
            raise UserError(source, f"fault[{i}].at_ms", expected, "overlapping pause")
        windows.append(Window(spec.node, spec.at_ms, end, i, "pause"))
    return windows


def _describe_window(window: Window) -> str:
    """``[start, end)`` of a window; an open end reads "end of run"."""
    end = "end of run" if window.end_ms >= NEVER else str(window.end_ms)
    return f"[{window.start_ms}, {end})"


def check_pause_overlaps(crashes: list[Window], pauses: list[Window], source: str) -> None:
    """A pause must not overlap a crash window of its node; the first offending pause (in file
    order) is a ``UserError`` keyed by its fault index."""
    for pause in sorted(pauses, key=lambda w: w.fault):
        for crash in crashes:
            if crash.node == pause.node and _overlaps([crash], pause.start_ms, pause.end_ms):
                expected = (
                    f"a pause of node {pause.node} that does not overlap its crash window"
                    f" {_describe_window(crash)} (fault[{crash.fault}])"
                )
                found = f"pause {_describe_window(pause)}"
                raise UserError(source, f"fault[{pause.fault}]", expected, found)


def _draw_downtime(spec: Churn, rng: np.random.Generator) -> int:
    """One churn downtime in ms."""
    if spec.downtime == "exponential":
        return max(1, round(float(rng.exponential(spec.downtime_ms))))
    return spec.downtime_ms


def _draw_gap(spec: Churn, rng: np.random.Generator) -> int:
    """Time to the next churn event in ms."""
    mean = 60_000.0 / spec.rate_per_min
    if spec.process == "sequential":
        return max(1, math.floor(mean))
    return max(1, math.ceil(float(rng.exponential(mean))))


def expand_churn(
    spec: Churn,
    index: int,
    *,
    n: int,
    duration_ms: int,
    tree: SeedTree,
    busy: dict[int, list[Window]],
) -> list[Window]:
    """Crash windows of one churn spec, on nodes neither crashed nor paused over the whole
    downtime; ``busy`` (node -> crash and pause windows) is updated in place."""
    rng = tree.generator("fault", "churn", index)
    candidates = list(range(n)) if spec.nodes is None else sorted(set(spec.nodes))
    end = min(_end(spec.until_ms), duration_ms)
    out: list[Window] = []
    t = spec.at_ms
    while True:
        t += _draw_gap(spec, rng)
        if t >= end:
            return out
        down = _draw_downtime(spec, rng)
        free = [v for v in candidates if not _overlaps(busy.get(v, []), t, t + down)]
        if not free:
            continue
        node = free[int(rng.integers(len(free)))]
        restart = t + down if t + down <= duration_ms else NEVER
        window = Window(node, t, restart, index, "churn")
        busy.setdefault(node, []).append(window)
        out.append(window)
        if spec.process == "sequential":
            t += down


@dataclass(frozen=True, slots=True)
class _ArcWindow:
    """An expanded partition or degradation: arcs affected during ``[start_ms, end_ms)``."""

    start_ms: int
    end_ms: int
    fault: int
    arc_mask: np.ndarray
    extra_delay_ms: int = 0
    extra_loss: float = 0.0


def compute_partition_mask(spec: Partition, topology: Topology) -> np.ndarray:
    """Arcs a partition cuts (see the module docstring for the group semantics)."""
    rest = len(spec.groups)
    rank = np.full(topology.n, rest, dtype=np.int64)
    for i, group in enumerate(spec.groups):
        rank[list(group)] = i
    src, dst = rank[topology.arc_src], rank[topology.indices]
    cut = src < dst if spec.oneway else src != dst
    if spec.unlisted == "bridge":
        cut &= (src != rest) & (dst != rest)
    return cut


def compute_degrade_mask(spec: Degrade, topology: Topology, index: int, source: str) -> np.ndarray:
    """Arcs a degradation affects; a listed pair that is not an edge is a user error."""
    mask = np.zeros(topology.arc_count, bool)
    for j, (u, v) in enumerate(spec.links):
        a, b = topology.arc_index(u, v), topology.arc_index(v, u)
        if a < 0:
            raise UserError(
                source, f"fault[{index}].links[{j}]", "an edge of the topology", f"[{u}, {v}]"
            )
        mask[[a, b]] = True
    if spec.nodes:
        nodes = np.zeros(topology.n, bool)
        nodes[list(spec.nodes)] = True
        mask |= nodes[topology.arc_src] | nodes[topology.indices]
    return mask


def compute_partition_ends(faults: tuple[FaultSpec, ...]) -> dict[int, int]:
    """End time of every partition, its ``until_ms`` cut short by the first later heal."""
    heals = sorted(f.at_ms for f in faults if isinstance(f, Heal))
    ends: dict[int, int] = {}
    for i, spec in enumerate(faults):
        if isinstance(spec, Partition):
            end = _end(spec.until_ms)
            cut = [h for h in heals if spec.at_ms < h < end]
            ends[i] = cut[0] if cut else end
    return ends


class FaultSchedule:
    """All faults of a run, expanded; answers "what is broken at time t" (pure, cached)."""

    def __init__(
        self,
        faults: tuple[FaultSpec, ...],
        topology: Topology,
        duration_ms: int,
        tree: SeedTree,
        source: str = "<scenario>",
        stage_windows: tuple[Window, ...] = (),
    ) -> None:
        self.faults = faults
        self.topology = topology
        self.duration_ms = duration_ms
        crashes = compute_crash_windows(faults, source)
        pauses = compute_pause_windows(faults, source)
        check_pause_overlaps(crashes, pauses, source)
        crashes += [w for w in stage_windows if w.start_ms < duration_ms]
        busy: dict[int, list[Window]] = {}
        for w in crashes + pauses:
            busy.setdefault(w.node, []).append(w)
        for i, spec in enumerate(faults):
            if isinstance(spec, Churn):
                crashes += expand_churn(
                    spec, i, n=topology.n, duration_ms=duration_ms, tree=tree, busy=busy
                )
        self.crash_windows = tuple(sorted(crashes, key=lambda w: (w.start_ms, w.node, w.fault)))
        self.pause_windows = tuple(pauses)
        self._partition_ends = compute_partition_ends(faults)
        self._arc_windows = tuple(self._compute_arc_windows(source))
        node_windows = self.crash_windows + self.pause_windows
        self._nw_node = np.array([w.node for w in node_windows], dtype=np.int64)
        self._nw_start = np.array([w.start_ms for w in node_windows], dtype=np.int64)
        self._nw_end = np.array([w.end_ms for w in node_windows], dtype=np.int64)
        self._nw_pause = np.array([w.cause == "pause" for w in node_windows], dtype=bool)
        times = {w.start_ms for w in node_windows} | {w.end_ms for w in node_windows}
        times |= {w.start_ms for w in self._arc_windows} | {w.end_ms for w in self._arc_windows}
        for spec in faults:
            if isinstance(spec, ClockSkew):
                times |= {spec.at_ms, _end(spec.until_ms)}
        self._times = sorted(t for t in times if t < NEVER)
        self._views: dict[int, NetworkView] = {}
        self.transitions = tuple(self._compute_transitions())

    def _compute_arc_windows(self, source: str) -> list[_ArcWindow]:
        """Partitions and degradations as arc masks with their windows."""
        out: list[_ArcWindow] = []
        for i, spec in enumerate(self.faults):
            if isinstance(spec, Partition):
                mask = compute_partition_mask(spec, self.topology)
                out.append(_ArcWindow(spec.at_ms, self._partition_ends[i], i, mask))
            elif isinstance(spec, Degrade):
                mask = compute_degrade_mask(spec, self.topology, i, source)
                end = _end(spec.until_ms)
                window = _ArcWindow(spec.at_ms, end, i, mask, spec.extra_delay_ms, spec.extra_loss)
                out.append(window)
        return out

    def epoch_at(self, t_ms: int) -> int:
        """Index of the interval between transitions that contains ``t_ms``."""
        return bisect.bisect_right(self._times, t_ms)

    def next_change_ms(self, t_ms: int) -> int | None:
        """The first time after ``t_ms`` at which the view changes, or None."""
        epoch = self.epoch_at(t_ms)
        return self._times[epoch] if epoch < len(self._times) else None

    def view_at(self, t_ms: int) -> NetworkView:
        """The network view at ``t_ms`` (the same object for every t of one epoch)."""
        epoch = self.epoch_at(t_ms)
        view = self._views.get(epoch)
        if view is None:
            view = self._compute_view(epoch)
            self._views[epoch] = view
        return view

    def get_node_state(self, node: int, t_ms: int) -> NodeState:
        """Node ``node``'s state at ``t_ms``, read from ``view_at`` (crash and pause windows of
        one node never overlap, so exactly one state holds)."""
        view = self.view_at(t_ms)
        if view.node_crashed[node]:
            return NodeState.CRASHED
        return NodeState.PAUSED if view.node_paused[node] else NodeState.RUNNING

    def _compute_view(self, epoch: int) -> NetworkView:
        """Evaluate every window at the epoch's first instant."""
        t = self._times[epoch - 1] if epoch > 0 else -1
        n, arcs = self.topology.n, self.topology.arc_count
        active = (self._nw_start <= t) & (t < self._nw_end)
        crashed = np.zeros(n, bool)
        crashed[self._nw_node[active & ~self._nw_pause]] = True
        paused = np.zeros(n, bool)
        paused[self._nw_node[active & self._nw_pause]] = True
        paused &= ~crashed
        arc_down = np.zeros(arcs, bool)
        delay: np.ndarray | None = None
        keep: np.ndarray | None = None
        for w in self._arc_windows:
            if not w.start_ms <= t < w.end_ms:
                continue
            spec = self.faults[w.fault]
            if isinstance(spec, Partition):
                arc_down |= w.arc_mask
                continue
            delay = np.zeros(arcs, np.int64) if delay is None else delay
            keep = np.ones(arcs, np.float64) if keep is None else keep
            delay[w.arc_mask] += w.extra_delay_ms
            keep[w.arc_mask] *= 1.0 - w.extra_loss
        offset, drift = np.zeros(n, np.int64), np.zeros(n, np.int64)
        for spec in self.faults:
            if isinstance(spec, ClockSkew) and spec.at_ms <= t < _end(spec.until_ms):
                offset[list(spec.nodes)] += spec.offset_ms
                drift[list(spec.nodes)] += spec.drift_ppm
        view = NetworkView(
            epoch=epoch,
            node_crashed=crashed,
            node_paused=paused,
            node_ok=~(crashed | paused),
            arc_down=arc_down,
            arc_extra_delay_ms=delay,
            arc_extra_loss=None if keep is None else 1.0 - keep,
            skew_offset_ms=offset,
            skew_drift_ppm=drift,
        )
        return _freeze_view(view)

    def get_telemetry_outage(self, node: int, t_ms: int) -> str | None:
        """The mode of the first listed ``telemetry-outage`` covering an emit of ``node`` sent
        at ``t_ms`` (None: the collector is healthy for it)."""
        for spec in self.faults:
            if isinstance(spec, TelemetryOutage) and spec.is_active(node, t_ms):
                return spec.mode
        return None

    def local_time_ms(self, node: int, t_ms: int) -> int:
        """The node's clock at true time ``t_ms`` under the clock-skew faults active then."""
        local = t_ms
        for spec in self.faults:
            if not isinstance(spec, ClockSkew):
                continue
            if spec.at_ms <= t_ms < _end(spec.until_ms) and node in spec.nodes:
                local += spec.offset_ms + (t_ms - spec.at_ms) * spec.drift_ppm // 1_000_000
        return local

    def _compute_transitions(self) -> list[Transition]:
        """Every state change up to the end of the run, in a deterministic order."""
        out: list[Transition] = []
        for w in self.crash_windows + self.pause_windows:
            start, stop = {
                "crash": ("crash", "restart"),
                "churn": ("churn_down", "churn_up"),
                "pause": ("pause", "resume"),
                "upgrade": ("upgrade_down", "upgrade_up"),
            }[w.cause]
            detail = f"node:{w.node}" + (f" {w.label}" if w.label else "")
            detail += "" if w.keep_data else " keep_data:false"
            out.append(Transition(w.start_ms, start, w.node, w.fault, detail, w.keep_data))
            out.append(Transition(w.end_ms, stop, w.node, w.fault, detail, w.keep_data))
        for aw in self._arc_windows:
            spec = self.faults[aw.fault]
            if isinstance(spec, Partition):
                detail = "groups=" + "|".join(",".join(map(str, g)) for g in spec.groups)
                out.append(Transition(aw.start_ms, "partition_start", -1, aw.fault, detail))
                out.append(Transition(aw.end_ms, "partition_end", -1, aw.fault, detail))
            else:
                detail = f"arcs={int(aw.arc_mask.sum())} delay_ms={aw.extra_delay_ms}"
                detail += f" loss={aw.extra_loss!r}"
                out.append(Transition(aw.start_ms, "degrade_start", -1, aw.fault, detail))
                out.append(Transition(aw.end_ms, "degrade_end", -1, aw.fault, detail))
        for i, spec in enumerate(self.faults):
            if isinstance(spec, Heal):
                out.append(Transition(spec.at_ms, "heal", -1, i))
            elif isinstance(spec, ClockSkew):
                detail = f"offset_ms={spec.offset_ms} drift_ppm={spec.drift_ppm}"
                for node in spec.nodes:
                    out.append(Transition(spec.at_ms, "skew_start", node, i, detail))
                    out.append(Transition(_end(spec.until_ms), "skew_end", node, i, detail))
            elif isinstance(spec, TelemetryOutage):
                detail = f"mode={spec.mode}"
                for node in spec.nodes:
                    out.append(Transition(spec.at_ms, "telemetry_outage_start", node, i, detail))
                    end = _end(spec.until_ms)
                    out.append(Transition(end, "telemetry_outage_end", node, i, detail))
        out = [tr for tr in out if tr.time_ms <= self.duration_ms]
        phase = {"heal": 1}
        out.sort(
            key=lambda tr: (
                tr.time_ms,
                0 if tr.kind in _END_KINDS else phase.get(tr.kind, 2),
                tr.fault,
                tr.node,
                tr.kind,
            )
        )
        return out
