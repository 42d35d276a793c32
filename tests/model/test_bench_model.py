"""``rppsim bench model`` runs and prints its figures beside the target and the floor."""

from __future__ import annotations

from rppsim.bench import available
from rppsim.bench.model import build_bench_scenario, main


def test_bench_is_listed_and_its_scenario_uses_the_fast_engine():
    assert "model" in available()
    scenario = build_bench_scenario(12, 0.001)
    assert scenario.run.engine == "fast"
    assert scenario.nodes.validators == scenario.nodes.count == 12
    assert scenario.run.duration_ms == 86_400
    assert build_bench_scenario(12, 30).run.duration_ms == 30 * 86_400_000


def test_bench_prints_its_table(capsys):
    assert main(["--validators", "12", "--days", "0.002"]) == 0
    out = capsys.readouterr().out
    assert "kernel per height" in out and "libsodium floor" in out and "yardstick" in out
