"""The sweep file: its points, and one-line errors naming the file and key before any run."""

from pathlib import Path

import pytest

from rppsim.cli import main
from rppsim.errors import EXIT_USER_ERROR, UserError
from rppsim.sweep import load_sweep
from rppsim.sweep.spec import apply_point, build_point_scenario
from tests.sweep.conftest import ROOT, SMALL, write_sweep


def test_shipped_sweeps_load():
    tiny = load_sweep(ROOT / "scenarios" / "sweeps" / "tiny-grid.toml")
    assert (len(tiny.points), tiny.seeds, tiny.engine) == (4, (8020, 8021), "fast")
    target = load_sweep(ROOT / "scenarios" / "sweeps" / "tier-thresholds-200.toml")
    assert (len(target.points), len(target.seeds)) == (64, 8)
    scenario = build_point_scenario(target, 63)
    assert (scenario.nodes.validators, scenario.run.duration_ms) == (200, 30 * 86_400_000)
    assert dict(scenario.params)["reputation.tier_thresholds.tier5_min_score"] == 0.95


def test_point_sets_scenario_and_profile_paths(tmp_path: Path):
    spec = load_sweep(write_sweep(tmp_path, SMALL, "seeds = [3, 1]"))
    assert spec.seeds == (3, 1)
    assert spec.points == ((5, 5), (5, 7), (10, 5), (10, 7))  # the first axis slowest
    scenario = build_point_scenario(spec, 1)
    assert scenario.nodes.validators == 7 and scenario.run.engine == "fast"
    assert dict(scenario.params) == {"reputation.tier_thresholds.tier3_min_consensus_success": 5}


def test_apply_point_flattens_params_and_creates_tables():
    base = {"run": {"seed": 1}, "params": {"reputation": {"weights": {"uptime": 0.5}}}}
    out = apply_point(base, {"target_validator_count": 3, "rules.allow_empty_blocks": True}, "f")
    assert out["params"] == {"reputation.weights.uptime": 0.5, "target_validator_count": 3}
    assert out["rules"] == {"allow_empty_blocks": True}
    assert base["params"] == {"reputation": {"weights": {"uptime": 0.5}}}  # not changed


BAD = [
    ('[axes]\n"nodes.validatorz" = [1]', 'axes."nodes.validatorz"', "unknown key"),
    ('[axes]\n"reputation.weights.uptme" = [0.1]', 'axes."reputation.weights.uptme"',
     "did you mean reputation.weights.uptime"),
    ('[axes]\n"byzantine[0].fraction" = [0.1]', 'axes."byzantine[0].fraction"', "[[byzantine]]"),
    ('[axes]\n"nodes.validators" = ["seven"]', 'axes."nodes.validators"', "'seven' (str)"),
    ('[axes]\n"nodes.validators" = [5, 99]', 'axes."nodes.validators"', "point 1"),
    ('[axes]\n"nodes.validators" = { low = 5, high = 7 }', "axes", "not ranges"),
    ('[axes]\n"nodes.validators" = { low = 7, high = 5 }', 'axes."nodes.validators".high',
     "> low"),
    ('[axes]\n"nodes.validators" = []', 'axes."nodes.validators"', "non-empty list"),
    ('[axes]\n"nodes.validators" = [5]\n"nodes.count" = [16, 17]', "axes", "one length"),
    ("[axes]\n", "axes", "a table of axes"),
    ('[base]\n"run.enigne" = "fast"\n[axes]\n"nodes.validators" = [5]', 'base."run.enigne"',
     "unknown key"),
    ('[axes]\n"nodes.validators" = [5]\n[extra]\nx = 1', "extra", "unknown key"),
]


@pytest.mark.parametrize(("body", "key", "text"), BAD)
def test_bad_sweep_is_one_line_naming_file_and_key(tmp_path: Path, body: str, key: str, text: str):
    design = "zip" if "one length" in text else "grid"
    path = write_sweep(tmp_path, body, f'design = "{design}"')
    with pytest.raises(UserError) as caught:
        load_sweep(path)
    assert caught.value.file == str(path) and caught.value.key == key
    assert text in str(caught.value)


@pytest.mark.parametrize(
    ("header", "key", "text"),
    [
        ('design = "random"', "sweep.samples", "≥ 1"),
        ('design = "sobol"\nsamples = 6', "sweep.samples", "power of 2"),
        ('design = "grid"\nsamples = 4', "sweep.samples", "no samples"),
        ('design = "cube"', "sweep.design", "one of grid"),
        ("seeds = 0", "sweep.seeds", "a count ≥ 1"),
        ("seeds = [1, 1]", "sweep.seeds", "distinct"),
        ('verdicts = ["safty"]', "sweep.verdicts", "safty"),
        ('name = "a b"', "sweep.name", "letters"),
        ('scenaro = "x"', "sweep.scenaro", "did you mean"),
    ],
)
def test_bad_design_parameters(tmp_path: Path, header: str, key: str, text: str):
    body = '[axes]\n"nodes.validators" = { low = 5, high = 7 }\n"nodes.count" = [16]'
    if "grid" in header or "seeds" in header or "verdicts" in header or "name" in header:
        body = '[axes]\n"nodes.validators" = [5, 7]'
    path = write_sweep(tmp_path, body, header)
    with pytest.raises(UserError) as caught:
        load_sweep(path)
    assert (caught.value.file, caught.value.key) == (str(path), key)
    assert text in str(caught.value)


def test_missing_scenario_and_bad_toml(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text('[sweep]\nscenario = "nope.toml"\n[axes]\n"nodes.validators" = [5]\n')
    with pytest.raises(UserError, match=r"sweep\.scenario: expected an existing scenario file"):
        load_sweep(path)
    path.write_text("[sweep\n")
    with pytest.raises(UserError, match="expected valid TOML"):
        load_sweep(path)


def test_cli_bad_sweep_exits_2_with_one_line_before_any_run(tmp_path: Path, capsys):
    path = write_sweep(tmp_path, '[axes]\n"nodes.validators" = [5, 99]')
    out = tmp_path / "out"
    code = main(["sweep", str(path), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f'rppsim: error: {path}: axes."nodes.validators": expected ')
    assert not out.exists()
