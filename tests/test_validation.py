"""``rppsim validate``: file kinds, the shipped node folder, one-line errors with exit code 2."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rppsim.cli import main
from rppsim.errors import EXIT_USER_ERROR, UserError
from rppsim.validation import classify_document, validate_file

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "node"


@pytest.fixture
def node_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped node folder."""
    return Path(shutil.copytree(NODE_DIR, tmp_path / "node"))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_shipped_node_folder_validates(capsys: pytest.CaptureFixture[str]):
    """`rppsim validate node` passes: one node config, one genesis, four profiles."""
    code, out, err = _run(["validate", str(NODE_DIR)], capsys)
    assert (code, err) == (0, "")
    kinds = sorted(line.split()[1] for line in out.splitlines())
    assert kinds == ["genesis", "node", "profile", "profile", "profile", "profile"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("node.toml", "node"), ("genesis.toml", "genesis"), ("profiles/canary.toml", "profile")],
)
def test_validate_file_reports_the_kind(name: str, kind: str):
    """validate_file classifies and loads each shipped file strictly, without warnings."""
    assert validate_file(NODE_DIR / name) == (kind, [])


@pytest.mark.parametrize(
    ("document", "kind"),
    [
        ({"extends": "../node.toml"}, "profile"),
        ({"genesis": {}}, "genesis"),
        ({"block_time_ms": 1, "genesis": {}}, "node"),
        ({"rollout": {}}, "node"),
    ],
)
def test_classify_document(document: dict[str, object], kind: str):
    """extends → profile; only [genesis] → genesis; any node key → node."""
    assert classify_document(document, "f.toml") == kind


@pytest.mark.parametrize(
    ("document", "found"), [({"seed": 1}, "top-level keys seed"), ({}, "an empty file")]
)
def test_classify_document_rejects_other_files(document: dict[str, object], found: str):
    """Anything else is a UserError naming the four accepted kinds."""
    with pytest.raises(UserError) as caught:
        classify_document(document, "f.toml")
    assert caught.value.found == found
    assert "a scenario, sweep, node config, profile or genesis file" in str(caught.value)


def test_classify_document_sends_run_tables_to_the_scenario_loader():
    assert classify_document({"run": {"seed": 1}}, "f.toml") == "scenario"


# (file in the node folder, text to replace, replacement, error key, fragment of the message)
BAD_EDITS = [
    ("node.toml", 'config_version = "1.0"', 'config_version = "1.1"', "config_version", "1.0"),
    ("node.toml", "block_time_ms = 5000", "block_time_ms = 0", "block_time_ms", "> 0"),
    ("node.toml", "mempool_limit = 8192", 'mempool_limit = "big"', "mempool_limit", "integer"),
    ("node.toml", "default_retain = 1024", "default_retain = 0", "proof_cache.default_retain", ">"),
    (
        "node.toml",
        'release_channel = "development"',
        'release_channel = "stable"',
        "rollout.release_channel",
        "development, testnet",
    ),
    (
        "node.toml",
        "witness_network = false",
        "witness_net = false",
        "rollout.feature_gates.witness_net",
        "did you mean 'witness_network'",
    ),
    (
        "node.toml",
        'endpoint = ""',
        'endpoint = "udp://collector"',
        "rollout.telemetry.endpoint",
        "http(s) URI",
    ),
    (
        "node.toml",
        "sample_interval_secs = 30",
        "sample_interval_secs = 0",
        "rollout.telemetry.sample_interval_secs",
        "≥ 1",
    ),
    (
        "node.toml",
        "max_rejection_rate = 0.25",
        "max_rejection_rate = 2.5",
        "rollout.telemetry.vrf_thresholds.max_rejection_rate",
        "[0, 1]",
    ),
    ("node.toml", "decay = 0.05", "decay = 0.06", "reputation.weights", "summing to 1"),
    (
        "node.toml",
        "tier5_min_score = 0.75\n",
        "",
        "reputation.tier_thresholds.tier5_min_score",
        "missing",
    ),
    (
        "node.toml",
        "sync_interval_secs = 600",
        "sync_interval_secs = 0",
        "reputation.timetoke.sync_interval_secs",
        "> 0",
    ),
    ("node.toml", "fee = 0.3", "fee = 0.4", "queue_weights", "= 1 within 1e-6"),
    (
        "node.toml",
        'genesis_path = "genesis.toml"',
        'genesis_path = "gone.toml"',
        "genesis_path",
        "nothing at",
    ),
    (
        "genesis.toml",
        'stake = "1000"',
        'stake = "1k"',
        "genesis.accounts[0].stake",
        "invalid genesis stake",
    ),
    (
        "genesis.toml",
        "uptime_hours = 24",
        "uptime_hours = 2",
        "genesis.accounts[0].uptime_hours",
        "[24, 720]",
    ),
    (
        "genesis.toml",
        'key_seed = "validator-0"',
        'key_seed = "validator-7"',
        "genesis.accounts[0].address",
        "derived from key_seed",
    ),
]


@pytest.mark.parametrize("edit", BAD_EDITS, ids=[e[3] for e in BAD_EDITS])
def test_bad_file_exits_2_with_one_line(
    node_copy: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str, str, str, str]
):
    """One bad value: exit 2, one stderr line naming file, key, expected and found."""
    name, old, new, key, fragment = edit
    path = node_copy / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    code, out, err = _run(["validate", str(path)], capsys)
    assert (code, out) == (EXIT_USER_ERROR, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    line = err.strip()
    assert line.startswith(f"rppsim: error: {path}: {key}: expected ")
    assert fragment in line and ", found " in line


def test_error_in_shared_file_is_reported_through_a_profile(
    node_copy: Path, capsys: pytest.CaptureFixture[str]
):
    """A profile whose base is bad names the base file, not the profile."""
    node = node_copy / "node.toml"
    node.write_text(node.read_text().replace("epoch_length = 1440", "epoch_length = 0"))
    code, _, err = _run(["validate", str(node_copy / "profiles" / "mainnet.toml")], capsys)
    assert code == EXIT_USER_ERROR
    assert f"{node}: epoch_length: expected an integer > 0, found 0 (int)" in err


def test_toml_syntax_error_names_line_and_column(tmp_path: Path, capsys):
    """A TOML parse error is a user error with tomllib's line and column."""
    bad = tmp_path / "bad.toml"
    bad.write_text('config_version = "1.0"\nblock_time_ms = = 5\n', encoding="utf-8")
    code, _, err = _run(["validate", str(bad)], capsys)
    assert code == EXIT_USER_ERROR
    assert f"{bad}: expected valid TOML" in err and "line 2, column" in err


def test_scenario_files_are_validated_as_scenarios(tmp_path: Path, capsys):
    """A file with [run] is checked by the scenario loader: its first error, one line."""
    other = tmp_path / "scenario.toml"
    other.write_text("[run]\nseed = 1\n", encoding="utf-8")
    code, _, err = _run(["validate", str(other)], capsys)
    assert code == EXIT_USER_ERROR
    assert err.count("\n") == 1
    assert "run.duration_ms: expected an integer" in err


OVERLAP_SCENARIO = """
[run]
seed = 1
duration_ms = 30_000
prover = "model"

[nodes]
count = 4
validators = 4
profile = "{profile}"

[network]
topology = "complete"

[[fault]]
kind = "crash"
node = 0
at_ms = 1_000
until_ms = 2_000

[[fault]]
kind = "clock-skew"
node = 1
offset_ms = 100

[[fault]]
kind = "crash"
node = 2
at_ms = 5_000
until_ms = 8_000

[[fault]]
kind = "pause"
node = 2
at_ms = 2_000
until_ms = 25_000
"""


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_pause_overlapping_a_crash_of_its_node_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
):
    """The issue's schedule (pause 2 s → 25 s and crash 5 s → 8 s of node 2) is rejected by
    ``validate`` and ``run`` alike: exit 2, one line naming the file, the pause and the crash."""
    path = tmp_path / "overlap.toml"
    profile = (NODE_DIR / "profiles" / "testnet.toml").as_posix()
    path.write_text(OVERLAP_SCENARIO.format(profile=profile), encoding="utf-8")
    argv = [command, str(path)] + (
        ["--out", str(tmp_path / "out"), "--quiet"] if command == "run" else []
    )
    code, out, err = _run(argv, capsys)
    assert (code, out) == (EXIT_USER_ERROR, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err == (
        f"rppsim: error: {path}: fault[3]: expected a pause of node 2 that does not overlap its"
        " crash window [5000, 8000) (fault[2]), found pause [2000, 25000)\n"
    )
    assert not (tmp_path / "out").exists()


def test_shipped_scenarios_validate(capsys):
    code, out, _ = _run(["validate", str(ROOT / "scenarios")], capsys)
    assert code == 0
    assert out.count("ok  scenario") >= 4


def test_relaxed_flag_turns_unknown_keys_into_warnings(node_copy: Path, capsys):
    """--relaxed: exit 0, the unknown key printed as a warning; strict: exit 2."""
    node = node_copy / "node.toml"
    node.write_text(node.read_text().replace("[proof_cache]", 'p2p_key_path = "k"\n[proof_cache]'))
    code, out, err = _run(["validate", "--relaxed", str(node)], capsys)
    assert code == 0 and out.startswith("ok  node")
    assert err.startswith(f"warning: {node}: p2p_key_path: ") and "ignored" in err
    assert _run(["validate", str(node)], capsys)[0] == EXIT_USER_ERROR


def test_unknown_gate_fails_even_with_relaxed_flag(node_copy: Path, capsys):
    """FeatureGates denies unknown fields in both modes
    (docs/operations.md#loading-and-rejection)."""
    node = node_copy / "node.toml"
    node.write_text(node.read_text().replace("pruning = true", "pruning = true\nsharding = true"))
    code, _, err = _run(["validate", "--relaxed", str(node)], capsys)
    assert code == EXIT_USER_ERROR and "rollout.feature_gates.sharding" in err


def test_chain_template_layout_gets_the_root_hint(node_copy: Path, capsys):
    """The chain template's root keys under [proof_cache] (docs/operations.md#sources) get a clear
    hint."""
    node = node_copy / "node.toml"
    text = node.read_text().replace("mempool_limit = 8192\n", "")
    node.write_text(
        text.replace("default_retain = 1024", "default_retain = 1024\nmempool_limit = 8192")
    )
    code, _, err = _run(["validate", str(node)], capsys)
    assert code == EXIT_USER_ERROR
    assert "proof_cache.mempool_limit: expected mempool_limit at the root" in err


def test_subprocess_exit_code_and_single_line(tmp_path: Path):
    """`python -m rppsim validate BAD` exits 2 with exactly one stderr line, no traceback."""
    bad = tmp_path / "node.toml"
    text = (NODE_DIR / "node.toml").read_text(encoding="utf-8")
    bad.write_text(text.replace("max_block_transactions = 512", "max_block_transactions = 0"))
    shutil.copy(NODE_DIR / "genesis.toml", tmp_path / "genesis.toml")
    result = subprocess.run(
        [sys.executable, "-m", "rppsim", "validate", str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0] == (
        f"rppsim: error: {bad}: max_block_transactions: expected an integer > 0, found 0 (int)"
    )


def test_a_user_error_passes_through_a_context_manager_unchanged() -> None:
    """A ``UserError`` raised inside a ``@contextmanager`` reaches the caller as itself (a
    frozen exception would turn into ``FrozenInstanceError`` there)."""
    from contextlib import contextmanager

    from rppsim.errors import UserError

    @contextmanager
    def guarded():
        yield

    with pytest.raises(UserError) as raised, guarded():
        raise UserError("x.toml", "run.seed", "an integer", "'a'")
    assert str(raised.value) == "x.toml: run.seed: expected an integer, found 'a'"
