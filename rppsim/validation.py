"""``rppsim validate``: classify a TOML file and run its loader (docs/operations.md#guardrails row
1).

A file with a ``[run]`` table is a scenario, a file with ``extends`` is a profile, a file whose
only top-level key is ``genesis`` is a genesis file, a file with any node-config root key is a
node config; anything else is a ``UserError``. A scenario is validated fully, including the
node profile it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rppsim.errors import UserError
from rppsim.node.config import ROOT_KEYS, load_config
from rppsim.node.genesis import load_genesis, read_toml
from rppsim.scenario import load_scenario

EXPECTED_KINDS = "a scenario, sweep, node config, profile or genesis file"


def classify_document(document: Mapping[str, Any], source: str) -> str:
    """The kind of a parsed file: "scenario", "sweep", "profile", "genesis" or "node"."""
    if "sweep" in document:
        return "sweep"
    if "run" in document:
        return "scenario"
    if "extends" in document:
        return "profile"
    if list(document) == ["genesis"]:
        return "genesis"
    if any(key in ROOT_KEYS for key in document):
        return "node"
    found = f"top-level keys {', '.join(document)}" if document else "an empty file"
    raise UserError(source, "", EXPECTED_KINDS, found)


def validate_file(path: Path, strict: bool = True) -> tuple[str, list[str]]:
    """Validate one file; returns its kind and the warnings (relaxed mode's unknown keys)."""
    path = Path(path)
    kind = classify_document(read_toml(path), str(path))
    if kind == "sweep":
        from rppsim.sweep import load_sweep

        load_sweep(path)
        return kind, []
    if kind == "scenario":
        scenario = load_scenario(path)
        _, warnings = load_config(scenario.nodes.profile_path, strict)
    elif kind == "genesis":
        _, warnings = load_genesis(path, strict, standalone=True)
    else:
        _, warnings = load_config(path, strict)
    return kind, warnings
