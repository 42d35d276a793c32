"""The attack scenarios (``scenarios/attacks/<kind>.toml``): one per byzantine kind but
``equivocate`` (``scenarios/explore-equivocate.toml``), plus ``coalition`` (several kinds
coordinated) and ``vrf-grind`` (vrf-lie's grinding); each header says what the attack shows,
and its ``[expect]`` lists the verdicts that must fail, so ``rppsim run`` exits 0 (every
shipped scenario's run is judged in ``tests/test_shipped.py``)."""

from __future__ import annotations

from pathlib import Path

from rppsim.scenario import BYZANTINE_KINDS, load_scenario

ATTACKS = Path(__file__).parents[1] / "scenarios" / "attacks"
SCENARIOS = sorted(ATTACKS.glob("*.toml"))


VARIANTS = {"vrf-grind": "vrf-lie"}
"""Scenarios of another mode of a kind that has its own scenario."""


def test_every_kind_has_an_attack_scenario_that_uses_it() -> None:
    kinds = {VARIANTS.get(path.stem, path.stem) for path in SCENARIOS} - {"coalition"}
    assert kinds == set(BYZANTINE_KINDS) - {"equivocate"}
    for path in SCENARIOS:
        scenario = load_scenario(path)
        if path.stem == "coalition":
            assert len({b.kind for b in scenario.byzantine}) >= 2
            assert len({b.coalition for b in scenario.byzantine} - {""}) == 1
        else:
            assert {b.kind for b in scenario.byzantine} == {VARIANTS.get(path.stem, path.stem)}
        header = path.read_text(encoding="utf-8").split("\n\n")[0]
        assert header.startswith(f"# {path.stem}:") and "What notices it" in path.read_text()
