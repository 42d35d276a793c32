"""The scenario library (``rppsim/library.py``): tags, folders, ``rppsim run --tag``."""

from __future__ import annotations

from pathlib import Path

import pytest

from rppsim.cli import main
from rppsim.errors import UserError
from rppsim.library import find_entries, run_library, select_tagged
from rppsim.scenario import load_scenario, parse_scenario

PROFILE = Path(__file__).parents[1] / "node" / "profiles" / "testnet.toml"


def _scenario(seed: int, tags: str = "", expect: str = "") -> str:
    """A 4-node, 6 s scenario with the model prover, ``[run] tags`` and ``[expect]`` lines."""
    return f"""
[run]
seed = {seed}
duration_ms = 6_000
prover = "model"
{tags}

[nodes]
count = 4
validators = 4
profile = "{PROFILE.as_posix()}"

[network]
topology = "complete"

[traffic]
tx_per_s = 1.0

{expect}
"""


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A folder of two tagged scenarios, one untagged one in a subfolder, and a genesis file
    (not a scenario, so a folder run skips it)."""
    root = tmp_path / "lib"
    (root / "sub").mkdir(parents=True)
    (root / "a.toml").write_text(_scenario(1, 'tags = ["ci", "fast"]'), encoding="utf-8")
    (root / "sub" / "b.toml").write_text(_scenario(2, 'tags = ["ci"]'), encoding="utf-8")
    (root / "sub" / "c.toml").write_text(_scenario(3), encoding="utf-8")
    (root / "genesis.toml").write_text('[genesis]\nchain_id = "x"\n', encoding="utf-8")
    return root


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["run", *argv])
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_folder_stands_for_its_scenario_files_labelled_by_their_path(library: Path) -> None:
    entries = find_entries([str(library), str(library / "a.toml")])
    assert [e.label for e in entries] == ["a", "sub/b", "sub/c"]  # a.toml once, genesis skipped


def test_a_tag_picks_the_scenarios_that_carry_it(library: Path) -> None:
    entries = find_entries([str(library)])
    assert [e.label for e in select_tagged(entries, "ci")] == ["a", "sub/b"]
    assert [e.label for e in select_tagged(entries, "fast")] == ["a"]
    assert len(select_tagged(entries, None)) == 3
    with pytest.raises(UserError, match="--tag: expected a tag that some scenario carries"):
        select_tagged(entries, "nightly")
    with pytest.raises(UserError, match=r"--tag: expected a tag such as ci"):
        select_tagged(entries, "CI!")


def test_tags_are_checked_and_left_out_of_the_digest(tmp_path: Path) -> None:
    plain = parse_scenario(_toml(_scenario(1)), tmp_path / "x.toml")
    tagged = parse_scenario(_toml(_scenario(1, 'tags = ["ci", "soak-3h"]')), tmp_path / "x.toml")
    assert tagged.run.tags == ("ci", "soak-3h") and plain.run.tags == ()
    assert tagged.digest() == plain.digest()
    for bad, found in (
        ('tags = "ci"', "found 'ci' (str)"),
        ('tags = ["ci", "ci"]', "found a repeated tag"),
        ('tags = ["Big"]', "found 'Big' (str)"),
        ("tags = [1]", "found 1 (int)"),
    ):
        with pytest.raises(UserError) as error:
            parse_scenario(_toml(_scenario(1, bad)), tmp_path / "x.toml")
        assert "run.tags: expected a list of distinct tags" in str(error.value)
        assert found in str(error.value)


def _toml(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)


def test_a_library_run_is_the_runs_of_its_files(library: Path, tmp_path: Path) -> None:
    """Each outcome is the run of that file alone (same digest), whatever the job count."""
    entries = select_tagged(find_entries([str(library)]), "ci")
    serial = run_library(entries, out_root=tmp_path / "one")
    pooled = run_library(entries, out_root=tmp_path / "two", jobs=2)
    assert [o.digest for o in serial] == [o.digest for o in pooled]
    assert all(o.as_expected for o in serial)
    assert (tmp_path / "one" / "sub" / "b" / "summary.json").is_file()
    from rppsim.sim.run import execute_run

    alone = execute_run(load_scenario(library / "sub" / "b.toml"), write=False)
    assert serial[1].digest == alone.summary["digest"]


def test_the_cli_exits_1_when_a_tagged_run_is_not_as_expected(
    capsys: pytest.CaptureFixture[str], library: Path, tmp_path: Path
) -> None:
    code, out, _ = _cli(capsys, str(library), "--tag", "ci", "--out", str(tmp_path / "r"))
    assert code == 0, out
    assert "2 of 2 as expected" in out and out.count("\nok  ") == 2
    wrong = _scenario(4, 'tags = ["ci"]', '[expect]\nfail = ["safety"]')
    (library / "sub" / "d.toml").write_text(wrong, encoding="utf-8")
    code, out, _ = _cli(capsys, str(library), "--tag", "ci", "--out", str(tmp_path / "s"))
    assert code == 1
    assert "FAIL  sub/d" in out and "safety: expected to fail, but it is PASS" in out
    assert "2 of 3 as expected" in out and "not as expected: sub/d" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tag", "ci", "--seed", "3"], "--seed: expected no override"),
        (["--tag", "ci", "--duration-ms", "3"], "--duration-ms: expected no override"),
        (["--tag", "ci", "--jobs", "0"], "--jobs: expected an integer ≥ 1"),
        (["--tag", "nightly"], "--tag: expected a tag that some scenario carries"),
    ],
)
def test_bad_library_arguments_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], library: Path, argv: list[str], message: str
) -> None:
    code, _, err = _cli(capsys, str(library), *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_named_file_that_is_not_a_scenario_is_refused(
    capsys: pytest.CaptureFixture[str], library: Path
) -> None:
    code, _, err = _cli(capsys, str(library / "a.toml"), str(library / "genesis.toml"))
    assert code == 2 and "genesis.toml: run: expected a scenario file" in err


def test_a_run_that_stops_is_reported_and_the_others_still_run(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rppsim.sim.run

    real = rppsim.sim.run.execute_run

    def broken(scenario, **kwargs):
        if scenario.run.seed == 1:
            raise ValueError("persisted block 7 does not apply")
        return real(scenario, **kwargs)

    monkeypatch.setattr(rppsim.sim.run, "execute_run", broken)
    outcomes = run_library(select_tagged(find_entries([str(library)]), "ci"), out_root=tmp_path)
    assert [o.as_expected for o in outcomes] == [False, True]
    assert outcomes[0].unexpected == (
        f"the run stopped: ValueError: persisted block 7 does not apply (rppsim run"
        f" {library / 'a.toml'} shows where)",
    )
