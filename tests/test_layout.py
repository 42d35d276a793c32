"""Project contracts checked as tests: the node stays sans-IO; imports point one way."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_NODE = {"simpy", "asyncio", "socket", "time", "datetime", "random", "threading"}
ABOVE_NODE = {"sim", "testnet", "telemetry", "guardrails", "report", "sweep", "cli", "scenario"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_node_is_sans_io():
    """rppsim/node imports no clock, RNG, socket or event loop
    (docs/architecture.md#the-node-is-sans-io)."""
    offenders = []
    for path in sorted((ROOT / "rppsim" / "node").rglob("*.py")):
        for name in _imports(path):
            if name.split(".")[0] in FORBIDDEN_IN_NODE:
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_node_and_prover_do_not_import_upward():
    """node and prover never import the layers built on them (docs/architecture.md#imports)."""
    offenders = []
    for package in ("node", "prover"):
        for path in sorted((ROOT / "rppsim" / package).rglob("*.py")):
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] == "rppsim" and len(parts) > 1 and parts[1] in ABOVE_NODE:
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_sim_does_not_import_the_scenario_layer():
    """sim consumes the scenario model (rppsim/sim/spec.py) and never imports the TOML
    parser back, nor the drivers above it (docs/architecture.md#imports); lazy imports count too."""
    offenders = []
    for path in sorted((ROOT / "rppsim" / "sim").rglob("*.py")):
        for name in _imports(path):
            if name in {"rppsim.scenario", "rppsim.explore", "rppsim.cli"}:
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []
