"""The attack scenarios (``scenarios/attacks/<kind>.toml``): one per byzantine kind but
``equivocate`` (``scenarios/explore-equivocate.toml``); each header says what the attack
shows, and its ``[expect]`` lists the verdicts that must fail, so ``rppsim run`` exits 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from rppsim.scenario import BYZANTINE_KINDS, load_scenario
from rppsim.sim.run import execute_run

ATTACKS = Path(__file__).parents[1] / "scenarios" / "attacks"
SCENARIOS = sorted(ATTACKS.glob("*.toml"))


def test_every_kind_has_an_attack_scenario_that_uses_it() -> None:
    kinds = {path.stem for path in SCENARIOS}
    assert kinds == set(BYZANTINE_KINDS) - {"equivocate"}
    for path in SCENARIOS:
        scenario = load_scenario(path)
        assert {b.kind for b in scenario.byzantine} == {path.stem}
        header = path.read_text(encoding="utf-8").split("\n\n")[0]
        assert header.startswith(f"# {path.stem}:") and "What notices it" in path.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_attack_scenario_fails_exactly_its_expected_verdicts(path: Path) -> None:
    result = execute_run(load_scenario(path), write=False)
    assert result.unexpected == (), "\n".join(result.unexpected)
    verdicts = {v.id: v for v in result.verdicts}
    assert verdicts["safety"].passed and verdicts["agreement"].passed
