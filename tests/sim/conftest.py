"""Shared helpers of the kernel and run tests: scenarios under ``data/``, runs, invariants.

Kernel tests charge a fixed proof cost model (not the prover's calibration file), so their
timings do not move when the prover is recalibrated; the run and CLI tests use the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from rppsim.scenario import Scenario, load_scenario
from rppsim.sim.kernel import Simulation
from rppsim.sim.proving import SizedModelProofService

DATA = Path(__file__).with_name("data")
PROOF_BYTES = 4096


def get_scenario_path(name: str) -> Path:
    """``tests/sim/data/<name>.toml``."""
    return DATA / f"{name}.toml"


def load_test_scenario(name: str) -> Scenario:
    """A scenario of ``tests/sim/data``."""
    return load_scenario(get_scenario_path(name))


def compute_test_proof_cost(circuit: str, rows: int, proving: bool) -> int:
    """µs per proof: 8 ms to prove, 3 ms to verify per 64 rows (the fallback's figures)."""
    scale = max(rows // 64, 1)
    return (8000 if proving else 3000) * scale


def build_simulation(scenario: Scenario, **kwargs: object) -> Simulation:
    """A simulation of ``scenario`` with the model prover and the fixed test cost model."""
    return Simulation(
        scenario,
        proofs=SizedModelProofService(lambda circuit, rows: PROOF_BYTES),
        proof_cost=compute_test_proof_cost,
        **kwargs,  # type: ignore[arg-type]
    )


def run_simulation(scenario: Scenario, **kwargs: object) -> Simulation:
    """``build_simulation`` run to the end."""
    sim = build_simulation(scenario, **kwargs)
    sim.run()
    return sim


def assert_safe(
    frames: dict[str, pd.DataFrame], honest: Callable[[int], bool] | None = None
) -> None:
    """No two different blocks finalized at one height by honest nodes, and every node's
    finalized heights are 1, 2, ... without gaps or repeats (docs/protocol.md#rounds-and-quorum)."""
    finalized = frames["block_finalized"]
    if honest is not None:
        finalized = finalized[[honest(int(n)) for n in finalized["node"]]]
    hashes = finalized.groupby("height")["hash"].nunique()
    forks = hashes[hashes > 1]
    assert forks.empty, f"conflicting blocks finalized at heights {forks.index.tolist()}"
    for node, rows in finalized.groupby("node"):
        heights = rows.sort_values("finalized_ms", kind="stable")["height"].tolist()
        assert heights == list(range(1, len(heights) + 1)), f"node {node} heights {heights}"


class RunCache:
    """Runs shared by the tests of a session: one finished simulation per key."""

    def __init__(self) -> None:
        self.runs: dict[tuple[object, ...], tuple[Simulation, dict[str, pd.DataFrame]]] = {}

    def get(self, name: str, **kwargs: object) -> tuple[Simulation, dict[str, pd.DataFrame]]:
        """The finished run of scenario ``name`` (kwargs go to ``Simulation``) and its frames;
        the safety invariant is checked once, when it is made."""
        key = (name, *sorted(kwargs.items()))
        if key not in self.runs:
            sim = run_simulation(load_test_scenario(name), **kwargs)
            frames = sim.recorder.frames()
            assert_safe(frames)
            self.runs[key] = (sim, frames)
        return self.runs[key]


@pytest.fixture(scope="session")
def runs() -> RunCache:
    """The session's shared runs."""
    return RunCache()


@pytest.fixture(scope="session")
def scenario_path() -> Callable[[str], Path]:
    """``get_scenario_path`` as a fixture."""
    return get_scenario_path


@pytest.fixture(scope="session")
def scenario() -> Callable[[str], Scenario]:
    """``load_test_scenario`` as a fixture."""
    return load_test_scenario


@pytest.fixture(scope="session")
def simulation() -> Callable[..., Simulation]:
    """``build_simulation`` as a fixture (not yet run)."""
    return build_simulation


@pytest.fixture(scope="session")
def safe() -> Callable[..., None]:
    """``assert_safe`` as a fixture."""
    return assert_safe
