"""The notebooks under notebooks/ execute with small parameters and are committed clean.

Each notebook takes its parameters from the cell tagged ``parameters``; like papermill, the
test inserts a cell tagged ``injected-parameters`` right after it with smaller values, then
runs every cell with nbclient in the ``python3`` kernel from the notebook's folder (so its
relative scenario paths resolve). A cell that raises fails the test with the cell's error.
The three runs take about 45 s together, so they stay in the quick tier
(docs/analysis.md#notebooks).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
SMALL: dict[str, dict[str, Any]] = {
    "vrf-participation.ipynb": {"seeds": 2, "duration_ms": 900_000, "full_duration_ms": 30_000},
    "reputation-timetoke-tuning.ipynb": {
        "duration_ms": 21_600_000,
        "seeds": 2,
        "tier5_scores": [0.6, 0.7],
        "tier4_successes": [100],
        "decay_steps": [0, 1],
        "decay_interval_secs": 3_600,
        "decay_every_ms": 1_800_000,
        "jobs": 1,
    },
    "rollout-guardrail-review.ipynb": {"duration_ms": 400_000},
}
"""Parameters each notebook runs with here: the same code paths, fewer and shorter runs."""

_SPEC = importlib.util.spec_from_file_location(
    "check_notebook_outputs", ROOT / "tools" / "check_notebook_outputs.py"
)
assert _SPEC is not None and _SPEC.loader is not None
_TOOL = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_TOOL)


def inject_parameters(notebook: Any, parameters: dict[str, Any]) -> Any:
    """``notebook`` with a cell assigning ``parameters`` inserted after its ``parameters``
    cell (papermill's convention); a notebook without exactly one such cell is refused."""
    tagged = [
        i for i, cell in enumerate(notebook.cells)
        if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])
    ]  # fmt: skip
    if len(tagged) != 1:
        raise ValueError(f"expected one cell tagged {PARAMETERS_TAG!r}, found {len(tagged)}")
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    cell.id = INJECTED_TAG
    notebook.cells.insert(tagged[0] + 1, cell)
    return notebook


def execute_notebook(path: Path, parameters: dict[str, Any]) -> Any:
    """Run ``path`` with ``parameters`` injected; the executed notebook."""
    notebook = inject_parameters(nbformat.read(path, as_version=4), parameters)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    return client.execute()


def _paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_three_notebooks_are_shipped_and_each_is_run_here() -> None:
    assert {p.name for p in _paths()} == set(SMALL)


def test_notebooks_are_committed_without_outputs() -> None:
    assert _TOOL.check_paths(_paths()) == []


@pytest.mark.parametrize("path", _paths(), ids=lambda p: p.stem)
def test_injected_parameters_override_the_defaults_and_are_known(path: Path) -> None:
    """Every injected name is a parameter the notebook declares (a typo would be ignored)."""
    notebook = nbformat.read(path, as_version=4)
    injected = inject_parameters(notebook, SMALL[path.name])
    index = next(
        i for i, c in enumerate(injected.cells) if INJECTED_TAG in c.metadata.get("tags", [])
    )
    declared = injected.cells[index - 1].source
    for name in SMALL[path.name]:
        assert f"\n{name} = " in f"\n{declared}", name


def test_injection_needs_exactly_one_parameters_cell() -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(ValueError, match="one cell tagged"):
        inject_parameters(notebook, {"x": 2})


@pytest.mark.parametrize("path", _paths(), ids=lambda p: p.stem)
def test_notebook_executes_with_small_parameters(path: Path, tmp_path: Path) -> None:
    parameters = SMALL[path.name]
    if "out_dir" in path.read_text(encoding="utf-8"):  # files it writes go to tmp_path
        parameters = {**parameters, "out_dir": str(tmp_path)}
    executed = execute_notebook(path, parameters)
    outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, "the notebook drew no figure"
