"""The findings (``scenarios/findings/``): each weakness of the chain as a pair of scenarios,
``<name>-chain.toml`` with the chain's rule and ``<name>-fix.toml`` with the fix. Every run
fails exactly its ``[expect]`` verdicts, the chain's rule shows the effect in the run's frames
and the fix does not (``scenarios/findings/measure.py`` computes the figures of the table in
``scenarios/findings/README.md``)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rppsim.scenario import load_scenario
from rppsim.sim.run import execute_run

FINDINGS = Path(__file__).parents[1] / "scenarios" / "findings"


def _load_measure() -> ModuleType:
    spec = importlib.util.spec_from_file_location("findings_measure", FINDINGS / "measure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


measure = _load_measure()
NAMES = sorted(measure.MEASURES)


def test_every_finding_is_a_pair_with_a_header_and_a_table_row() -> None:
    stems = {p.stem for p in FINDINGS.glob("*-chain.toml")} | {
        p.stem for p in FINDINGS.glob("*-fix.toml")
    }
    assert stems == {f"{n}-{side}" for n in NAMES for side in ("chain", "fix")}
    table = (FINDINGS / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        for side in ("chain", "fix"):
            path = FINDINGS / f"{name}-{side}.toml"
            assert path.read_text(encoding="utf-8").startswith("# Finding ")
            scenario = load_scenario(path)
            assert scenario.run.prover == "model"
            assert scenario.run.duration_ms <= 90_000
        assert f"`{name}-*`" in table and f"measure.py {name} " in table


def _check_electorate_fork(chain: dict[str, Any], fix: dict[str, Any]) -> None:
    assert chain["forked_heights"] > 0
    assert fix["forked_heights"] == 0 and fix["top_height"] > 5


def _check_dead_leader(chain: dict[str, Any], fix: dict[str, Any]) -> None:
    assert chain["longest_stall_s"] > 30 and chain["blocks"] < fix["blocks"]
    assert fix["longest_stall_s"] < 15


def _check_vrf_lie(chain: dict[str, Any], fix: dict[str, Any]) -> None:
    assert chain["liar_block_share"] > 0.5 and chain["declared_tier_rejections"] == 0
    assert fix["liar_block_share"] < 0.3 and fix["declared_tier_rejections"] > 0


def _check_committee_cap(chain: dict[str, Any], fix: dict[str, Any]) -> None:
    assert chain["committee_min"] > 3 * chain["target"]
    assert fix["committee_max"] <= fix["target"]


def _check_timetoke_merge(chain: dict[str, Any], fix: dict[str, Any]) -> None:
    assert chain["forger_hours"] == 720 and chain["forger_max_power_share"] > 2 / 3
    assert chain["merge_rejections"] == 0 and chain["honest_validators_accused"]
    assert fix["forger_hours"] < 720 and fix["forger_max_power_share"] < 1 / 3
    assert fix["merge_rejections"] > 0 and not fix["honest_validators_accused"]


def _check_bootstrap(chain: dict[str, Any], fix: dict[str, Any]) -> None:
    assert max(chain["tiers_4_7"]) < 3 and chain["successes_4_7"] == [0, 0, 0, 0]
    assert chain["committee_max"] == 4
    assert min(fix["tiers_4_7"]) >= 3 and min(fix["successes_4_7"]) > 10
    assert fix["committee_min"] == 8


def _check_treasury(chain: dict[str, Any], fix: dict[str, Any]) -> None:
    assert chain["blocks"] == fix["blocks"]
    assert 0 <= chain["validator_rewards_paid"] < fix["validator_rewards_paid"]


def _check_fallback_metric(chain: dict[str, Any], fix: dict[str, Any]) -> None:
    assert chain["flagged_with_accepted"] > 0
    assert chain["flagged_with_accepted"] == chain["flagged_fallback"]
    assert fix["flagged_fallback"] == 0 and fix["samples_with_misses"] > 0


CHECKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "electorate-fork": _check_electorate_fork,
    "dead-leader": _check_dead_leader,
    "vrf-lie": _check_vrf_lie,
    "committee-cap": _check_committee_cap,
    "timetoke-merge": _check_timetoke_merge,
    "bootstrap": _check_bootstrap,
    "treasury": _check_treasury,
    "fallback-metric": _check_fallback_metric,
}


def test_every_finding_has_a_check() -> None:
    assert sorted(CHECKS) == NAMES


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_chain_shows_the_weakness_and_the_fix_does_not(name: str, tmp_path: Path) -> None:
    figures = {}
    for side in ("chain", "fix"):
        out = tmp_path / side
        result = execute_run(load_scenario(FINDINGS / f"{name}-{side}.toml"), out_dir=out)
        assert result.unexpected == (), "\n".join(result.unexpected)
        figures[side] = measure.MEASURES[name](out)
    CHECKS[name](figures["chain"], figures["fix"])
