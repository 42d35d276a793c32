"""Same scenario + same seed → byte-identical frames digest, in any process
(docs/architecture.md#determinism).

The scenario (tests/sim/data/determinism.toml) draws from every random stream of a run:
jitter, loss, mesh, classes, regions, traffic phases, Zipf publishers, identity requests,
churn, degradation, clock drift and byzantine behaviour.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rppsim.sim.run import execute_run

DIGEST = re.compile(r"^seed \d+  digest ([0-9a-f]{64})$", re.MULTILINE)
ENVIRONMENTS = {
    "hashseed 0, 1 thread": {"PYTHONHASHSEED": "0", "NUMBA_NUM_THREADS": "1"},
    "hashseed 1, 1 thread": {"PYTHONHASHSEED": "1", "NUMBA_NUM_THREADS": "1"},
    "hashseed 1, 2 threads": {"PYTHONHASHSEED": "1", "NUMBA_NUM_THREADS": "2"},
}


@pytest.fixture(scope="module")
def in_process(scenario, safe) -> str:
    """The digest of the determinism scenario run in this process."""
    result = execute_run(scenario("determinism"), write=False)
    safe(result.frames)
    return str(result.summary["digest"])


@pytest.fixture(scope="module")
def in_subprocesses(scenario_path, tmp_path_factory) -> dict[str, str]:
    """``rppsim run`` of the scenario in one child process per environment, side by side."""
    path = str(scenario_path("determinism"))
    children = {}
    for label, extra in ENVIRONMENTS.items():
        out = tmp_path_factory.mktemp("det") / "run"
        command = [sys.executable, "-m", "rppsim", "run", path, "--quiet", "--out", str(out)]
        children[label] = subprocess.Popen(
            command,
            env={**os.environ, **extra},
            cwd=Path(path).parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    digests = {}
    for label, child in children.items():
        stdout, stderr = child.communicate(timeout=300)
        assert child.returncode == 0, stderr
        match = DIGEST.search(stdout)
        assert match is not None, stdout
        digests[label] = match.group(1)
    return digests


def test_same_seed_twice_gives_the_same_digest(scenario, in_process) -> None:
    again = execute_run(scenario("determinism"), write=False)
    assert again.summary["digest"] == in_process


def test_another_seed_gives_another_digest(scenario, in_process) -> None:
    other = execute_run(scenario("determinism"), seed=72, write=False)
    assert other.summary["digest"] != in_process


def test_hash_seed_does_not_change_the_digest(in_subprocesses, in_process) -> None:
    assert in_subprocesses["hashseed 0, 1 thread"] == in_subprocesses["hashseed 1, 1 thread"]
    assert in_subprocesses["hashseed 0, 1 thread"] == in_process


def test_numba_thread_count_does_not_change_the_digest(in_subprocesses) -> None:
    assert in_subprocesses["hashseed 1, 1 thread"] == in_subprocesses["hashseed 1, 2 threads"]
