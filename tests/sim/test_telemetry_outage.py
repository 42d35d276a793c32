"""The ``telemetry-outage`` fault: the simulated collector fails one node's emits by class
during the window; the node's ``last_observed_height`` lags, then recovers
(docs/operations.md#the-telemetry-loop)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rppsim.cli import main
from rppsim.errors import EXIT_USER_ERROR
from rppsim.scenario import load_scenario
from rppsim.sim.collector import DEFAULT_TELEMETRY_TIMEOUT_MS
from rppsim.sim.faults import TelemetryOutage

from .conftest import build_simulation, get_scenario_path

PROFILE = (Path(__file__).parents[2] / "node" / "profiles" / "testnet.toml").as_posix()
NODE, AT, UNTIL, DURATION = 1, 6_000, 14_000, 24_000
CLASSES = {"down": "transport", "slow": "transport", "error-status": "status"}


def _scenario_text(fault: str, duration_ms: int = DURATION) -> str:
    base = get_scenario_path("base").read_text(encoding="utf-8")
    base = base.replace("../../../node/profiles/testnet.toml", PROFILE)
    base = base.replace("duration_ms = 60_000", f"duration_ms = {duration_ms}")
    return base + "\n[telemetry]\nsample_interval_ms = 1000\n\n" + fault


def _outage(mode: str, nodes: str = f"[{NODE}]", extra: str = "") -> str:
    return (
        f'[[fault]]\nkind = "telemetry-outage"\nnodes = {nodes}\nat_ms = {AT}\n'
        f'until_ms = {UNTIL}\nmode = "{mode}"\n{extra}'
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "outage.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, dict]]:
    """One run per mode, stopped mid-outage once to read the node's state."""
    out = {}
    for mode in CLASSES:
        path = _write(tmp_path_factory.mktemp(mode), _scenario_text(_outage(mode)))
        sim = build_simulation(load_scenario(path))
        sim.advance(UNTIL)
        lagging = {
            i: (s.node.telemetry.last_observed_height, s.node.height, len(s.node.telemetry.pending))
            for i, s in enumerate(sim.slots)
        }
        sim.advance(DURATION)
        sim.finish()
        out[mode] = (sim, {"lagging": lagging, "frames": sim.recorder.frames()})
    return out


def test_the_fault_is_parsed(tmp_path: Path):
    scenario = load_scenario(_write(tmp_path, _scenario_text(_outage("slow"))))
    assert scenario.faults == (TelemetryOutage((NODE,), AT, UNTIL, "slow"),)


@pytest.mark.parametrize("mode", list(CLASSES))
def test_the_node_fails_by_class_during_the_window_and_recovers(runs, mode: str):
    sim, data = runs[mode]
    snapshots: pd.DataFrame = data["frames"]["snapshots"]
    assert len(snapshots) > 0
    inside = (snapshots["node"] == NODE) & snapshots["now_ms"].between(AT, UNTIL - 1)
    failed = snapshots[inside]
    assert len(failed) >= 6 and not failed["emit_ok"].any()
    assert failed["emit_error"].str.startswith(CLASSES[mode] + ": ").all()
    ok = snapshots[~inside]
    assert ok["emit_ok"].all() and (ok["emit_error"] == "").all()
    assert (snapshots[snapshots["node"] == NODE]["now_ms"] >= UNTIL).sum() >= 6
    state = sim.slots[NODE].node.telemetry
    assert state.failed[CLASSES[mode]] == len(failed)
    assert sum(state.failed.values()) == len(failed) and state.invalid_results == 0
    assert state.last_observed_height == sim.slots[NODE].node.height  # recovered
    status = sim.slots[NODE].node.status_rollout()["rppsim_telemetry_emits"]
    assert status["failed"][CLASSES[mode]] == len(failed)
    for i, slot in enumerate(sim.slots):
        if i != NODE:
            assert slot.node.telemetry.emit_errors == 0, i


@pytest.mark.parametrize("mode", list(CLASSES))
def test_last_observed_height_lags_during_the_outage(runs, mode: str):
    _, data = runs[mode]
    lagging = data["lagging"]
    observed, height, _ = lagging[NODE]
    assert observed is not None and observed < height  # stuck since the outage began
    snapshots = data["frames"]["snapshots"]
    before = snapshots[(snapshots["node"] == NODE) & (snapshots["now_ms"] < AT)]
    assert observed <= before["height"].max()
    others = [lagging[i][0] for i in lagging if i != NODE]
    assert all(o is not None and o > observed for o in others)


def test_slow_answers_after_the_request_timeout(runs):
    """At the end of the window, ``slow`` still awaits the emits of the last timeout (one a
    second); ``down`` was answered at once, ``error-status`` after the collector's latency."""
    sim, data = runs["slow"]
    timeout = sim.config.rollout.telemetry.timeout_ms or DEFAULT_TELEMETRY_TIMEOUT_MS
    assert data["lagging"][NODE][2] == timeout // 1000
    assert runs["down"][1]["lagging"][NODE][2] == 0
    assert runs["error-status"][1]["lagging"][NODE][2] <= 1


def test_a_paused_or_crashed_node_gets_its_answers_late_or_never(tmp_path: Path):
    """Answers reaching a paused node wait for the resume; a crash loses them."""
    faults = _outage("slow", nodes="[1, 2]") + (
        '\n[[fault]]\nkind = "pause"\nnode = 1\nat_ms = 9_000\nuntil_ms = 16_000\n'
        '\n[[fault]]\nkind = "crash"\nnode = 2\nat_ms = 9_000\nuntil_ms = 10_000\n'
    )
    sim = build_simulation(load_scenario(_write(tmp_path, _scenario_text(faults))))
    sim.run()
    paused = sim.slots[1].node.telemetry
    # emits at 6, 7 and 8 s; their timeouts (11-13 s) fall in the pause and wait for 16 s
    assert paused.failed["transport"] == 3 and not paused.pending
    assert paused.invalid_results == 0
    assert paused.last_observed_height == sim.slots[1].node.height
    restarted = sim.slots[2].node.telemetry  # a new node: counts since its restart
    assert restarted.invalid_results == 0 and restarted.succeeded > 0
    snapshots = sim.recorder.frames()["snapshots"]
    paused_rows = snapshots[(snapshots["node"] == 1) & snapshots["now_ms"].between(9_001, 15_999)]
    assert paused_rows.empty  # a paused node emits nothing


@pytest.mark.parametrize("mode", list(CLASSES))
def test_the_faults_frame_lists_start_and_end(runs, mode: str):
    faults = runs[mode][1]["frames"]["faults"]
    rows = faults[faults["kind"].str.startswith("telemetry_outage")]
    got = list(
        zip(rows["at_ms"], rows["kind"], rows["phase"], rows["nodes"], rows["detail"], strict=True)
    )
    assert got == [
        (AT, "telemetry_outage_start", "start", str(NODE), f"mode={mode}"),
        (UNTIL, "telemetry_outage_end", "end", str(NODE), f"mode={mode}"),
    ]


def test_same_seed_same_frames(tmp_path: Path, runs):
    path = _write(tmp_path, _scenario_text(_outage("slow")))
    sim = build_simulation(load_scenario(path))
    sim.run()
    again = sim.recorder.frames()
    first = runs["slow"][1]["frames"]
    for name in ("snapshots", "faults", "blocks"):
        pd.testing.assert_frame_equal(again[name], first[name], check_exact=True)


@pytest.mark.parametrize(
    ("fault", "found"),
    [
        (_outage("flaky"), 'fault[0].mode: expected one of "down", "slow", "error-status"'),
        (
            _outage("down").replace(f"until_ms = {UNTIL}", "until_ms = 99_000"),
            "fault[0].until_ms: expected an integer in",
        ),
        (
            _outage("down").replace(f"at_ms = {AT}", "at_ms = 30_000"),
            "fault[0].at_ms: expected an integer in",
        ),
        (_outage("down", nodes="[]"), "fault[0].nodes: expected a non-empty list"),
        (_outage("down", nodes="[8]"), "fault[0].nodes[0]: expected a list of integers"),
        (_outage("down", extra="timeout_ms = 10\n"), "fault[0].timeout_ms: expected"),
        (_outage("down").replace('mode = "down"\n', ""), "fault[0].mode: expected one of"),
    ],
)
def test_validation_errors_exit_2_with_one_line(tmp_path: Path, capsys, fault: str, found: str):
    path = _write(tmp_path, _scenario_text(fault))
    assert main(["validate", str(path)]) == EXIT_USER_ERROR
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"rppsim: error: {path}: {found}"), err
