"""The judge of every simulated run (``tests/conftest.py``) fails on a fork it should catch."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from rppsim.node.rules import Rules
from tests.conftest import _judge
from tests.sim.test_safety_regressions import PARTITION, _scenario

from rppsim.sim.run import execute_run  # isort: skip


def test_the_judge_fails_a_forked_run_and_spares_runs_meant_to_fork(tmp_path):
    forked = _scenario(tmp_path, electorate="local-pool", faults=PARTITION)
    result = execute_run(forked, write=False, record_messages=False)
    frames = result.frames
    recorder = SimpleNamespace(frames=lambda: frames)
    _judge(SimpleNamespace(scenario=forked, recorder=recorder))  # meant to fork: spared
    claimed = replace(forked, rules=Rules())  # the same frames, claimed under "committed"
    with pytest.raises(AssertionError, match="height"):
        _judge(SimpleNamespace(scenario=claimed, recorder=recorder))
