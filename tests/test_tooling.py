"""The developer tooling: pre-commit hooks, the notebook output check and mypy."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location(
    "check_notebook_outputs", ROOT / "tools" / "check_notebook_outputs.py"
)
assert _SPEC is not None and _SPEC.loader is not None
_TOOL = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_TOOL)
check_paths, get_dirty_cells, main = _TOOL.check_paths, _TOOL.get_dirty_cells, _TOOL.main


def _notebook(*cells: dict[str, object]) -> dict[str, object]:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _code(outputs: list[object], count: int | None) -> dict[str, object]:
    return {
        "cell_type": "code",
        "execution_count": count,
        "metadata": {},
        "outputs": outputs,
        "source": ["1 + 1"],
    }


CLEAN_CODE = _code([], None)
MARKDOWN = {"cell_type": "markdown", "metadata": {}, "source": ["# title"]}
RESULT = {"output_type": "execute_result", "data": {"text/plain": ["2"]}, "metadata": {}}


def _hook_ids() -> dict[str, dict[str, object]]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    return {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}


def test_pre_commit_config_names_ruff_mypy_and_notebook_hooks() -> None:
    hooks = _hook_ids()
    assert {"ruff-check", "ruff-format", "mypy", "notebook-outputs"} <= set(hooks)
    for hook in hooks.values():
        assert hook["language"] == "system", hook["id"]  # the project's env, no network
    assert "ruff check" in str(hooks["ruff-check"]["entry"])
    assert "ruff format --check" in str(hooks["ruff-format"]["entry"])
    assert "mypy" in str(hooks["mypy"]["entry"])
    assert "tools/check_notebook_outputs.py" in str(hooks["notebook-outputs"]["entry"])
    assert (ROOT / "tools" / "check_notebook_outputs.py").is_file()


def test_ci_runs_mypy_after_ruff() -> None:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    ruff = next(i for i, line in enumerate(lines) if "-m ruff check" in line)
    mypy = next(i for i, line in enumerate(lines) if line.rstrip().endswith("-m mypy"))
    assert ruff < mypy


def test_clean_notebook_passes() -> None:
    assert get_dirty_cells(_notebook(MARKDOWN, CLEAN_CODE)) == []


def test_outputs_and_execution_counts_are_reported_per_cell() -> None:
    notebook = _notebook(MARKDOWN, _code([RESULT], None), CLEAN_CODE, _code([], 3))
    assert get_dirty_cells(notebook) == ["cell 1: has outputs", "cell 3: has execution_count 3"]


def test_main_exit_codes_on_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = tmp_path / "clean.ipynb"
    dirty = tmp_path / "dirty.ipynb"
    broken = tmp_path / "broken.ipynb"
    clean.write_text(json.dumps(_notebook(CLEAN_CODE)), encoding="utf-8")
    dirty.write_text(json.dumps(_notebook(_code([RESULT], 1))), encoding="utf-8")
    broken.write_text("{not json", encoding="utf-8")
    assert main([str(clean)]) == 0
    assert main([str(clean), str(dirty)]) == 1
    err = capsys.readouterr().err
    assert f"{dirty}: cell 0: has outputs" in err
    assert str(clean) not in err
    assert check_paths([broken])[0].startswith(f"{broken}: not a readable notebook")


def test_script_runs_standalone(tmp_path: Path) -> None:
    dirty = tmp_path / "dirty.ipynb"
    dirty.write_text(json.dumps(_notebook(_code([], 7))), encoding="utf-8")
    script = ROOT / "tools" / "check_notebook_outputs.py"
    result = subprocess.run(
        [sys.executable, str(script), str(dirty)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "has execution_count 7" in result.stderr


@pytest.mark.slow
def test_mypy_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
