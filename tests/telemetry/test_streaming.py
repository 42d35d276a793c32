"""The recorder streams its tables to disk in row groups: the frames are the same."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import rppsim.telemetry.frames as frames_module
from rppsim.telemetry.frames import RunRecorder
from tests.sim.conftest import build_simulation, load_test_scenario

_TEXT = st.text(alphabet="abcxyz_", max_size=4)
_ROW = st.tuples(
    st.integers(0, 5),  # node
    st.integers(0, 10**6),  # now_ms
    _TEXT,  # reason
    st.integers(1, 2**40),  # count
)


def _record(recorder: RunRecorder, rows: list[tuple[int, int, str, int]]) -> None:
    for node, now_ms, reason, count in rows:
        recorder.record_rejections(node, now_ms, {reason or "r": count})
        recorder.record_block_finalized(now_ms % 97, node, reason, now_ms)
        recorder.record_fault(now_ms, "crash", "start", [node], reason)
        recorder.record_electorate(now_ms % 13, [(node, reason, count), (None, "x", 2**70)], 3, 2)


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(_ROW, max_size=40), spill_cells=st.integers(1, 40))
def test_spilled_frames_equal_unspilled(rows, spill_cells):
    default = frames_module.SPILL_CELLS
    frames_module.SPILL_CELLS = spill_cells
    try:
        spilled, kept = RunRecorder(spill=True), RunRecorder(spill=False)
        _record(spilled, rows)
        _record(kept, rows)
    finally:
        frames_module.SPILL_CELLS = default
    a, b = spilled.frames(), kept.frames()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


def test_spill_folder_holds_row_groups_and_goes_at_the_end(monkeypatch):
    monkeypatch.setattr(frames_module, "SPILL_CELLS", 4 * 4)  # block_finalized: 4 columns
    recorder = RunRecorder()
    for i in range(10):
        recorder.record_block_finalized(i, 0, "h", i)
    table = recorder._tables["block_finalized"]
    folder = recorder._spill.folder
    assert folder is not None and len(list(folder.iterdir())) == 2
    assert len(table.first) == 2  # only the rows after the last row group stay in memory
    frame = recorder.frames()["block_finalized"]
    assert frame["height"].tolist() == list(range(10))
    assert not folder.exists()


def test_values_arrow_cannot_read_back_exactly_stay_in_memory(monkeypatch):
    monkeypatch.setattr(frames_module, "SPILL_CELLS", 2 * 6)  # electorates: 6 columns
    recorder = RunRecorder()
    recorder.record_electorate(1, [(0, "a", 2**70), (1, "b", 3)], 2**70 + 3, 5)  # power as str
    table = recorder._tables["electorates"]
    assert len(table.chunks) == 1
    spill = frames_module._Spill()
    assert spill.write({"x": [1, 2.5]}) is None  # would read back as 1.0
    assert spill.write({"x": [2**70]}) is None  # beyond int64
    assert spill.folder is None


def test_a_run_spilling_every_few_rows_has_the_same_frames(monkeypatch):
    scenario = load_test_scenario("faults")
    kept = build_simulation(scenario)
    kept.recorder = RunRecorder(spill=False)
    kept.recording.recorder = kept.recorder
    kept.run()
    monkeypatch.setattr(frames_module, "SPILL_CELLS", 150)
    monkeypatch.setattr(frames_module, "MESSAGE_SPILL_ROWS", 500)
    spilled = build_simulation(scenario)
    spilled.run()
    assert any(t.chunks for t in spilled.recorder._tables.values())
    assert spilled.recorder._messages.saved
    a, b = spilled.recorder.frames(), kept.recorder.frames()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


def _record_messages(recorder: RunRecorder, floods: list[tuple[int, int, int]]) -> None:
    for k, (delivered, dropped, unicast) in enumerate(floods):
        receivers = list(range(delivered))
        recorder.record_flood(
            k, "votes" if k % 2 else "blocks", k % 5, 10 * k, 100 + k, receivers,
            [10 * k + r for r in receivers], [1 + r % 3 for r in receivers],
            list(range(delivered, delivered + dropped)), "loss" if k % 3 else "crashed",
        )  # fmt: skip
        if unicast:
            reason = "" if unicast % 2 else "crashed"
            recorder.record_unicast(1000 + k, "sync", 1, k, 64, 2, k + 5, 1, reason)


@settings(max_examples=30, deadline=None)
@given(
    floods=st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 3), st.integers(0, 2)), max_size=25
    ),
    spill_rows=st.integers(1, 12),
)
def test_spilled_messages_equal_unspilled(floods, spill_rows):
    default = frames_module.MESSAGE_SPILL_ROWS
    frames_module.MESSAGE_SPILL_ROWS = spill_rows
    try:
        spilled, kept = RunRecorder(spill=True), RunRecorder(spill=False)
        _record_messages(spilled, floods)
        _record_messages(kept, floods)
    finally:
        frames_module.MESSAGE_SPILL_ROWS = default
    pd.testing.assert_frame_equal(
        spilled.frames()["messages"], kept.frames()["messages"], check_exact=True
    )
