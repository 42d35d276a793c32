"""Every shipped scenario runs and its verdicts are as its ``[expect]`` says: nothing fails
unless listed (the drills: ``faults.toml``, ``stall.toml``), so ``rppsim run`` exits 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from rppsim.scenario import load_scenario
from rppsim.sim.run import execute_run

SCENARIOS = sorted((Path(__file__).parents[1] / "scenarios").glob("*.toml"))


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_passes_its_verdicts(path: Path) -> None:
    result = execute_run(load_scenario(path), write=False)
    assert result.unexpected == (), "\n".join(result.unexpected)


@pytest.mark.slow
def test_the_stall_drill_fires_the_stall_alerts() -> None:
    """Three of seven validators crash for good: g18 fails and the chain's stall alerts fire
    in their order (finality lag after 2 + 2 minutes, the 5-minute stall after 10 more)."""
    result = execute_run(load_scenario(Path(__file__).parents[1] / "scenarios/stall.toml"),
                         write=False)  # fmt: skip
    verdicts = {v.id: v for v in result.verdicts}
    assert verdicts["g18-liveness"].passed is False
    first = {
        name: verdicts[name].time_ms
        for name in ("ConsensusFinalityLagCritical", "ConsensusLivenessStall")
    }
    assert first == {"ConsensusFinalityLagCritical": 300_000, "ConsensusLivenessStall": 960_000}
    alerts = result.frames["alerts"]
    assert set(alerts.loc[alerts["name"] == "ConsensusLivenessStall", "severity"]) == {"critical"}


@pytest.mark.slow
def test_the_promotion_scenario_decides_its_gate() -> None:
    path = Path(__file__).parents[1] / "scenarios/promotion.toml"
    verdicts = {v.id: v for v in execute_run(load_scenario(path), write=False).verdicts}
    assert verdicts["promote-canary"].passed is True
    assert verdicts["g24-soak-windows"].passed is True
    assert verdicts["promote-mainnet"].passed is None
