"""``rppsim explore`` (rppsim/explore.py): plan generation within bounds, the shrinker,
repro files that reproduce their failure alone, deterministic reports for any job count, and
the demonstrations that the checkers can fail."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.cli import main
from rppsim.errors import UserError
from rppsim.explore import (
    DEFAULT_BOUNDS,
    ExploreBounds,
    build_plan_with,
    compute_ddmin,
    compute_failed_ids,
    compute_fault_horizon,
    compute_max_byzantine,
    compute_outcome_table,
    compute_run_plan,
    execute_plan,
    get_explore_bounds,
    get_plan_items,
    is_violation_found,
    is_window_free,
    run_explore,
    shrink_plan,
    write_repro,
)
from rppsim.scenario import load_scenario, parse_scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"
BASE = SCENARIOS / "explore.toml"
PROFILE = Path(__file__).parents[2] / "node" / "profiles" / "testnet.toml"


def load_data(path: Path) -> dict[str, Any]:
    """A scenario file as its TOML dict."""
    return tomllib.loads(path.read_text(encoding="utf-8"))


def write_small_base(tmp_path: Path, extra: str = "max_faults = 3") -> Path:
    """A base scenario with small bounds: 4–5 validators, 6–8 nodes, 20–25 s."""
    text = f"""
[run]
seed = 3
duration_ms = 20_000
prover = "model"
name = "small"

[nodes]
count = 6
validators = 4
profile = "{PROFILE.as_posix()}"

[network]
topology = "complete"

[traffic]
tx_per_s = 2.0

[explore]
validators = [4, 5]
nodes = [6, 8]
duration_ms = [20_000, 25_000]
{extra}
"""
    path = tmp_path / "small.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- [explore] ----------------------------------------------------------------------------------


def test_explore_table_defaults_and_absence() -> None:
    assert load_scenario(BASE).explore == DEFAULT_BOUNDS
    data = load_data(BASE)
    del data["explore"]
    assert parse_scenario(data, BASE).explore is None
    data["explore"] = {}
    assert parse_scenario(data, BASE).explore == ExploreBounds()


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"runs": 3}, "explore.runs"),
        ({"validators": [5, 4]}, "explore.validators"),
        ({"validators": [4]}, "explore.validators"),
        ({"nodes": [5, 24]}, "explore.nodes"),
        ({"kinds": ["crash", "meteor"]}, "explore.kinds"),
        ({"kinds": []}, "explore.kinds"),
        ({"byzantine_kinds": ["spam", "spam"]}, "explore.byzantine_kinds"),
        ({"byzantine_power": 1.5}, "explore.byzantine_power"),
        ({"max_faults": -1}, "explore.max_faults"),
        ({"duration_ms": [1_000, 5_000]}, "explore.duration_ms"),
    ],
)
def test_bad_explore_tables_are_user_errors(table: dict[str, Any], key: str) -> None:
    data = load_data(BASE)
    data["explore"] = table
    with pytest.raises(UserError) as caught:
        parse_scenario(data, BASE)
    assert caught.value.key.startswith(key)


def test_quiet_tail_defaults_to_the_liveness_window() -> None:
    bounds = get_explore_bounds(load_scenario(BASE))
    assert bounds.quiet_tail_ms == 3 * (5_000 + 6_000)


# --- generation ----------------------------------------------------------------------------------


def test_max_byzantine_stays_below_a_third_by_default() -> None:
    for v in range(1, 100):
        k = compute_max_byzantine(v, DEFAULT_BOUNDS.byzantine_power)
        assert 3 * k < v <= 3 * (k + 1)
    assert compute_max_byzantine(4, 0.5) == 2


@settings(max_examples=60)
@given(st.integers(0, 2**32), st.integers(0, 10_000))
def test_plans_respect_the_bounds(explore_seed: int, index: int) -> None:
    scenario = load_scenario(BASE)
    bounds = get_explore_bounds(scenario)
    plan = compute_run_plan(load_data(BASE), bounds, explore_seed, index)
    assert plan == compute_run_plan(load_data(BASE), bounds, explore_seed, index)
    run, nodes = plan["run"], plan["nodes"]
    v, n = nodes["validators"], nodes["count"]
    assert 4 <= v <= 10 and max(6, v + 2) <= n <= 24
    assert 20_000 <= run["duration_ms"] <= 60_000 and run["prover"] == "model"
    assert "explore" not in plan
    horizon = compute_fault_horizon(run["duration_ms"], bounds.quiet_tail_ms or 0)
    faults = plan.get("fault", [])
    drawn = [f for f in faults if f["kind"] != "heal"]
    byzantine = plan.get("byzantine", [])
    assert len(drawn) + len(byzantine) <= bounds.max_faults
    windows: dict[int, list[tuple[int, int]]] = {}
    for fault in faults:
        end = fault.get("until_ms", fault["at_ms"])
        assert 0 <= fault["at_ms"] <= end <= horizon
        if fault["kind"] in ("crash", "pause"):
            assert "until_ms" in fault
            busy = windows.setdefault(fault["node"], [])
            assert is_window_free(busy, fault["at_ms"], fault["until_ms"])
            busy.append((fault["at_ms"], fault["until_ms"]))
    members = {m for b in byzantine for m in b["nodes"]}
    assert all(0 <= m < v for m in members)
    assert len(members) <= compute_max_byzantine(v, bounds.byzantine_power)
    assert 3 * len(members) < v
    parse_scenario(plan, BASE)  # every plan is a valid scenario


def test_plans_differ_per_index_and_seed() -> None:
    data, bounds = load_data(BASE), get_explore_bounds(load_scenario(BASE))
    seeds = {compute_run_plan(data, bounds, s, i)["run"]["seed"] for s in (1, 2) for i in range(5)}
    assert len(seeds) == 10


# --- shrinking -----------------------------------------------------------------------------------


def make_fault(k: int) -> dict[str, Any]:
    """A fake fault ``k`` with a 4 s window."""
    return {"kind": "pause", "node": k, "at_ms": 1000 * k, "until_ms": 1000 * k + 4000}


def fault_nodes(plan: dict[str, Any]) -> set[int]:
    """The node ids of a plan's fake faults."""
    return {f["node"] for f in plan.get("fault", [])}


@given(st.integers(1, 12).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_ddmin_keeps_exactly_the_culprits(case: tuple[int, set[int]]) -> None:
    n, culprits = case
    calls: list[list[int]] = []

    def fails(items: list[int]) -> bool:
        calls.append(items)
        return culprits <= set(items)

    assert sorted(compute_ddmin(list(range(n)), fails)) == sorted(culprits)


@given(
    st.lists(st.integers(0, 9), min_size=1, max_size=10, unique=True),
    st.sets(st.integers(0, 9), min_size=1, max_size=3),
    st.integers(1, 3),
)
def test_ddmin_result_fails_and_is_one_minimal(items: list[int], hot: set[int], need: int) -> None:
    """Fails iff at least ``need`` of the ``hot`` items are present (when the whole list does)."""

    def fails(subset: list[int]) -> bool:
        return len(hot & set(subset)) >= min(need, len(hot & set(items)))

    result = compute_ddmin(items, fails)
    assert fails(result)
    for k in range(len(result)):
        assert not fails(result[:k] + result[k + 1 :])


@given(st.integers(2, 8), st.sets(st.integers(0, 7), min_size=1, max_size=2))
def test_shrink_plan_drops_faults_and_shortens_windows(n: int, culprits: set[int]) -> None:
    culprits = {c % n for c in culprits}
    plan = {"run": {"seed": 1}, "fault": [make_fault(k) for k in range(n)]}

    def still_fails(candidate: dict[str, Any]) -> bool:
        faults = {f["node"]: f for f in candidate.get("fault", [])}
        return culprits <= set(faults) and all(
            faults[c]["until_ms"] - faults[c]["at_ms"] >= 1000 for c in culprits
        )

    shrunk, used = shrink_plan(plan, still_fails, budget=1000)
    assert still_fails(shrunk) and fault_nodes(shrunk) == culprits
    for fault in shrunk["fault"]:
        assert 1000 <= fault["until_ms"] - fault["at_ms"] < 2000
    assert used <= 1000


def test_shrink_plan_drops_byzantine_nodes_and_respects_the_budget() -> None:
    plan = {
        "run": {"seed": 1},
        "fault": [make_fault(k) for k in range(4)],
        "byzantine": [
            {"kind": "equivocate", "nodes": [0, 1, 3]},
            {"kind": "spam", "nodes": [0, 1, 3], "factor": 2},
        ],
    }

    def still_fails(candidate: dict[str, Any]) -> bool:
        return any(
            b["kind"] == "equivocate" and 1 in b["nodes"] for b in candidate.get("byzantine", [])
        )

    shrunk, used = shrink_plan(plan, still_fails, budget=100)
    assert shrunk.get("fault") is None
    assert shrunk["byzantine"] == [{"kind": "equivocate", "nodes": [1]}]
    calls: list[int] = []

    def counted(candidate: dict[str, Any]) -> bool:
        calls.append(1)
        return still_fails(candidate)

    small, used = shrink_plan(plan, counted, budget=3)
    assert used == len(calls) <= 3
    assert get_plan_items(small) and build_plan_with(small, get_plan_items(small)) == small


# --- running, repro files, reports ---------------------------------------------------------------


def make_attack_plan() -> dict[str, Any]:
    """2 of 4 validators equivocate, one of them the leader of height 1: a fork."""
    data = load_data(SCENARIOS / "explore-equivocate.toml")
    del data["explore"]
    data["run"].update(seed=1, duration_ms=25_000)
    data["nodes"].update(count=6, validators=4)
    base = execute_plan_frames(data)
    leader = int(base.loc[base["height"] == 1, "proposer"].iloc[0])
    data["byzantine"] = [{"kind": "equivocate", "nodes": sorted({leader, (leader + 1) % 4})}]
    return data


def execute_plan_frames(plan: dict[str, Any]) -> Any:
    """The ``blocks`` frame of a plan's run."""
    from rppsim.sim.run import execute_run

    result = execute_run(parse_scenario(plan, SCENARIOS / "explore-equivocate.toml"), write=False)
    return result.frames["blocks"]


def test_repro_file_reproduces_the_failure_alone(tmp_path: Path) -> None:
    plan = make_attack_plan()
    source = SCENARIOS / "explore-equivocate.toml"
    verdicts = execute_plan(plan, str(source))
    assert "safety" in compute_failed_ids(verdicts)
    path = write_repro(plan, tmp_path / "deep" / "run-0001.toml", source, ["a header", "line"])
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# a header\n# line\n")
    assert 'profile = "../../' in text
    replayed = load_scenario(path)
    assert replayed.nodes.profile_path.resolve() == PROFILE.resolve()
    from rppsim.sim.run import execute_run

    result = execute_run(replayed, write=False)
    checkers = [(v.id, v.passed, v.message) for v in result.verdicts if v.kind == "checker"]
    assert checkers == list(verdicts)


def test_exploration_is_the_same_for_any_job_count(tmp_path: Path) -> None:
    base = write_small_base(tmp_path)
    reports = [  # two folders: in one, the second would resume from the first's records
        run_explore(base, runs=4, seed=5, jobs=jobs, out_dir=tmp_path / str(jobs), shrink_budget=2)
        for jobs in (1, 2)
    ]
    assert reports[0].outcomes == reports[1].outcomes and reports[1].resumed == 0
    tables = [compute_outcome_table(r).replace(str(r.out_dir), "OUT") for r in reports]
    assert tables[0] == tables[1]
    assert [o.index for o in reports[0].outcomes] == [0, 1, 2, 3]
    assert (tmp_path / "1" / "explore.json").is_file()
    for failure in reports[0].failures:
        assert failure.repro.is_file()


def test_cli_explore_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write_small_base(tmp_path, 'kinds = ["loss"]\nmax_faults = 1')
    out = str(tmp_path / "cli")
    code = main(["explore", str(base), "--runs", "2", "--jobs", "1", "--quiet", "--out", out])
    printed = capsys.readouterr().out
    assert "checker" in printed and "runs per minute" in printed
    failing = re.search(r"^2 runs, (\d+) failing$", printed, re.MULTILINE)
    assert failing is not None and code == (1 if int(failing.group(1)) else 0)
    args = ["explore", str(base), "--runs", "1", "--jobs", "1", "--quiet", "--out", out]
    assert main([*args, "--expect-violation"]) == 1
    bad = write_small_base(tmp_path, "max_faults = -1")
    assert main(["explore", str(bad), "--runs", "1", "--quiet"]) == 2
    assert "explore.max_faults" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["explore-local-pool", "explore-equivocate"])
def test_demonstrations_find_safety_violations(name: str, tmp_path: Path) -> None:
    report = run_explore(
        SCENARIOS / f"{name}.toml", runs=60, seed=1, jobs=2, out_dir=tmp_path, shrink_budget=6
    )
    assert is_violation_found(report)
    failure = next(f for f in report.failures if f.checker == "safety")
    assert load_scenario(failure.repro).run.prover == "model"
    verdicts = execute_plan(load_data(failure.repro), str(failure.repro))
    assert "safety" in compute_failed_ids(verdicts)
