"""The guardrails as part of every run: registry, ``rppsim run`` / ``rppsim check``, and the
``[guardrails.<id>]`` overrides of a scenario."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rppsim.cli import main
from rppsim.guardrails import GUARDRAIL_IDS, GUARDRAILS

PROFILE = (Path(__file__).parents[2] / "node" / "profiles" / "testnet.toml").as_posix()
HEALTHY = f"""
[run]
seed = 3
duration_ms = 30_000
prover = "model"
name = "healthy"

[nodes]
count = 10
validators = 5
profile = "{PROFILE}"

[network]
topology = "complete"

[network.link]
latency_ms = [10, 30]

[traffic]
tx_per_s = 2.0

[telemetry]
sample_interval_ms = 2_000
"""


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_all_27_guardrails_are_registered_by_number() -> None:
    numbers = sorted(g.number for g in GUARDRAILS.values())
    assert numbers == list(range(1, 28))
    assert all(re.fullmatch(r"g\d\d-[a-z0-9-]+", gid) for gid in GUARDRAIL_IDS)
    assert [int(gid[1:3]) for gid in GUARDRAIL_IDS] == numbers


def test_a_healthy_run_passes_every_guardrail_and_check_agrees(capsys, tmp_path) -> None:
    path = tmp_path / "healthy.toml"
    path.write_text(HEALTHY, encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, _ = _main(capsys, "run", str(path), "--out", str(out), "--quiet")
    assert code == 0, stdout
    verdicts = json.loads((out / "verdicts.json").read_text(encoding="utf-8"))
    guardrails = [v for v in verdicts if v["kind"] == "guardrail"]
    assert [v["id"] for v in guardrails] == list(GUARDRAIL_IDS)
    assert not [v["id"] for v in verdicts if v["passed"] is False]
    decided = {v["id"] for v in guardrails if v["passed"]}
    assert {"g13-size-gate", "g14-recursive-commitment", "g18-liveness", "g19-finality"} <= decided
    (out / "verdicts.json").unlink()
    code, _, _ = _main(capsys, "check", str(out))
    assert code == 0
    assert json.loads((out / "verdicts.json").read_text(encoding="utf-8")) == verdicts


def test_an_override_tightens_a_threshold(capsys, tmp_path) -> None:
    """``max_proof_size_bytes = 1000`` under the model prover's 13 kB proofs: g13 fails; the
    drill lists it in ``[expect]``, so the run is as expected."""
    text = HEALTHY + "\n[guardrails.g13-size-gate]\nmax_proof_size_bytes = 1000\n"
    path = tmp_path / "tight.toml"
    path.write_text(text + '\n[expect]\nfail = ["g13-size-gate"]\n', encoding="utf-8")
    code, stdout, _ = _main(capsys, "run", str(path), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 0 and "as expected: g13-size-gate failed" in stdout
    line = next(x for x in stdout.splitlines() if " g13-size-gate " in x)
    assert line.split()[0] == "FAIL" and line.split()[3] == "1000"


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[guardrails.g99-nothing]\nx = 1\n", "guardrails.g99-nothing"),
        ('[guardrails.g18-liveness]\nratio_crit = "high"\n', "guardrails.g18-liveness.ratio_crit"),
        ("[guardrails.g18-liveness]\nratio_crt = 0.5\n", "guardrails.g18-liveness.ratio_crt"),
    ],
)
def test_bad_overrides_are_one_line_and_exit_2(capsys, tmp_path, table, key) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(HEALTHY + "\n" + table, encoding="utf-8")
    code, _, stderr = _main(capsys, "run", str(path), "--out", str(tmp_path / "o"), "--quiet")
    assert code == 2 and key in stderr and len(stderr.strip().splitlines()) == 1


def test_a_permanent_crash_of_3_of_7_validators_fails_g18(capsys, tmp_path) -> None:
    """The issue's case: the height stays put after three of seven validators crash for good;
    the run exits 1 naming g18-liveness (before, it exited 0)."""
    text = HEALTHY.replace("count = 10\nvalidators = 5", "count = 16\nvalidators = 7")
    text = text.replace("duration_ms = 30_000", "duration_ms = 60_000")
    for node in (0, 1, 2):
        text += f'\n[[fault]]\nkind = "crash"\nnode = {node}\nat_ms = 4_000\n'
    path = tmp_path / "crash.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, _ = _main(capsys, "run", str(path), "--out", str(out), "--quiet")
    assert code == 1
    verdicts = {v["id"]: v for v in json.loads((out / "verdicts.json").read_text("utf-8"))}
    assert verdicts["g18-liveness"]["passed"] is False
    assert "stall" in verdicts["g18-liveness"]["message"]
    assert verdicts["safety"]["passed"] is True
    assert "NOT AS EXPECTED  g18-liveness" in stdout
