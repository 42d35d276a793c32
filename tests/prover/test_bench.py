"""``rppsim bench prover``: a tiny sweep writes a calibration the cost model can read."""

from __future__ import annotations

import json

import pytest

from rppsim.bench import prover as bench
from rppsim.errors import UserError
from rppsim.prover import costmodel


def test_tiny_sweep_writes_a_calibration(tmp_path, capsys):
    """One circuit, one profile, two sizes: a table and a JSON the cost model parses."""
    path = tmp_path / "cal.json"
    argv = [
        "--rows",
        "5,6",
        "--profiles",
        "sim",
        "--circuits",
        "uptime",
        "--statements",
        "1",
        "--repeats",
        "1",
    ]
    assert bench.main([*argv, "--write-calibration", str(path)]) == 0
    out = capsys.readouterr().out
    assert "uptime" in out and "2^6" in out and "conjectured" in out
    document = json.loads(path.read_text())
    assert {(e["circuit"], e["profile"], e["rows_log2"]) for e in document["entries"]} == {
        ("uptime", "sim", 5),
        ("uptime", "sim", 6),
    }
    calibration = costmodel.parse_calibration(document)
    assert calibration.points[("uptime", "sim")][0].columns == 18


@pytest.mark.parametrize(
    "argv", [["--rows", "x"], ["--rows", "40"], ["--profiles", "fast"], ["--circuits", "nope"]]
)
def test_bad_options_are_user_errors(argv):
    """Bad sweep options name the flag and what was expected."""
    with pytest.raises(UserError):
        bench.main(argv)
