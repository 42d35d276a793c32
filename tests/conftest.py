"""Shared pytest configuration: hypothesis profiles, and the checkers judging every run.

The ``ci`` profile (selected when the CI environment variable is set) is derandomized
and keeps no example database, so a CI run is reproducible from its log.
"""

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    print_blob=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def judge_every_simulated_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every simulated run of every test is judged by the checkers at teardown: under the
    committed electorate with byzantine validators below a third, honest nodes never finalize
    different blocks or state roots. Runs that are meant to fork (the chain's ``local-pool``
    rule, a coalition of a third or more) are the ones this rule leaves out, by their own
    scenario — no test can opt out otherwise."""
    from rppsim.sim.kernel import Simulation

    finished: list[Simulation] = []
    original = Simulation.finish

    def finish(self: Simulation) -> None:
        first = not self.finished
        original(self)
        if first:
            finished.append(self)

    monkeypatch.setattr(Simulation, "finish", finish)
    yield
    for sim in finished:
        _judge(sim)


def _judge(sim: object) -> None:
    from rppsim.checks import evaluate_checkers

    scenario = sim.scenario  # type: ignore[attr-defined]
    frames = sim.recorder.frames()  # type: ignore[attr-defined]
    nodes = frames["nodes"]
    validators = nodes[nodes["role"] == "validator"]
    byzantine = int(validators["byzantine"].sum())
    if scenario.rules.electorate != "committed" or 3 * byzantine >= len(validators):
        return
    for verdict in evaluate_checkers(frames, scenario, only=("safety", "agreement")):
        assert verdict.passed is not False, f"{scenario.source}: {verdict.message}"
