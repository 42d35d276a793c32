"""Rollout stages (``[[stage]]``): rolling restarts that move nodes onto another profile.

A stage at ``at_ms`` takes its nodes (its list in order, else every node) in batches of
``batch`` (all of them when unset). Batch k goes down at

    t_k = at_ms + k · (downtime_ms + interval_ms)

and comes back ``downtime_ms`` later on the stage's profile, so the next batch starts
``interval_ms`` after the previous one is up again. While down a staged node is crashed (a
crash window of cause ``upgrade``); it restarts from what it persisted, or from genesis when
the stage has ``keep_data = false``. A later stage back to an earlier profile is a rollback.
"""

from __future__ import annotations

from rppsim.sim.faults import Window
from rppsim.sim.spec import StageSpec

UPGRADE = "upgrade"
"""The cause of a stage's crash windows (transitions ``upgrade_down`` / ``upgrade_up``)."""


def get_stage_nodes(stage: StageSpec, n: int) -> tuple[int, ...]:
    """The nodes a stage moves, in batch order: its list, else every node."""
    return tuple(range(n)) if stage.nodes is None else stage.nodes


def compute_stage_batches(stage: StageSpec, n: int) -> list[tuple[int, tuple[int, ...]]]:
    """(down time, nodes) of each batch of a stage."""
    nodes = get_stage_nodes(stage, n)
    size = stage.batch or len(nodes)
    step = stage.downtime_ms + stage.interval_ms
    return [
        (stage.at_ms + k * step, nodes[start : start + size])
        for k, start in enumerate(range(0, len(nodes), size))
    ]


def compute_stage_windows(stages: tuple[StageSpec, ...], n: int) -> tuple[Window, ...]:
    """Every staged node's down window ``[t_k, t_k + downtime_ms)``, its ``fault`` the stage
    index and its label the stage's name."""
    out = []
    for index, stage in enumerate(stages):
        for down, nodes in compute_stage_batches(stage, n):
            for node in nodes:
                end = down + stage.downtime_ms
                label = f"stage:{index} profile:{stage.name}"
                out.append(Window(node, down, end, index, UPGRADE, stage.keep_data, label))
    return tuple(out)
