"""Every shipped scenario runs and its verdicts are as its ``[expect]`` says (nothing fails
unless listed), so ``rppsim run`` exits 0; the ``ci`` subset keeps its pinned digests."""

from __future__ import annotations

from pathlib import Path

import pytest

from rppsim.library import find_entries
from rppsim.scenario import load_scenario
from rppsim.sim.run import execute_run

ROOT = Path(__file__).parents[1] / "scenarios"
ENTRIES = {e.label: e.path for e in find_entries([str(ROOT)])}
TAGS = {label: load_scenario(path).run.tags for label, path in ENTRIES.items()}
LONG = {label for label, tags in TAGS.items() if "soak" in tags}
"""Hours of simulated time: run by hand (``rppsim run --tag soak scenarios/``), not here."""

CI_DIGESTS = {
    # The ci subset's run digests (`rppsim run --tag ci scenarios/`). A change of behaviour
    # changes them: pin the new ones only when the change is meant.
}


def test_every_ci_scenario_is_pinned_and_every_pin_is_a_ci_scenario() -> None:
    tagged = {label for label, tags in TAGS.items() if "ci" in tags}
    assert tagged == set(CI_DIGESTS)


def test_every_scenario_opens_with_what_it_shows_and_the_readme_lists_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for label, path in ENTRIES.items():
        assert path.read_text(encoding="utf-8").startswith("# "), label
        listed = f"`{label}.toml`" in readme or f"`{path.name}`" in readme
        assert listed or label.startswith(("attacks/", "findings/")), label


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(set(ENTRIES) - LONG))
def test_shipped_scenario_passes_its_verdicts(label: str) -> None:
    result = execute_run(load_scenario(ENTRIES[label]), write=False)
    assert result.unexpected == (), "\n".join(result.unexpected)
    if label in CI_DIGESTS:
        assert result.summary["digest"] == CI_DIGESTS[label]


@pytest.mark.slow
def test_the_stall_drill_fires_the_stall_alerts() -> None:
    """Three of seven validators crash for good: g18 fails and the chain's stall alerts fire
    in their order (finality lag after 2 + 2 minutes, the 5-minute stall after 10 more)."""
    result = execute_run(load_scenario(ENTRIES["drills/stall"]), write=False)
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
    result = execute_run(load_scenario(ENTRIES["drills/promotion"]), write=False)
    verdicts = {v.id: v for v in result.verdicts}
    assert verdicts["promote-canary"].passed is True
    assert verdicts["g24-soak-windows"].passed is True
    assert verdicts["promote-mainnet"].passed is None
