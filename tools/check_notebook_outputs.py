"""Fail when a Jupyter notebook carries outputs or execution counts.

Notebooks under ``notebooks/`` are committed clean so that diffs show code, not results; run them
to see the figures. Usage: ``python tools/check_notebook_outputs.py [NOTEBOOK ...]`` (without
arguments, every ``notebooks/**/*.ipynb``). Exits 1 naming each offending cell, 0 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def get_dirty_cells(notebook: dict[str, object]) -> list[str]:
    """Return one line per code cell that has outputs or an execution count."""
    problems = []
    cells = notebook.get("cells", [])
    for index, cell in enumerate(cells if isinstance(cells, list) else []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {index}: has outputs")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {index}: has execution_count {cell['execution_count']}")
    return problems


def check_paths(paths: list[Path]) -> list[str]:
    """Return one line per problem across ``paths`` (unreadable files count as problems)."""
    problems = []
    for path in paths:
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{path}: not a readable notebook ({exc})")
            continue
        if not isinstance(notebook, dict):
            problems.append(f"{path}: not a notebook (top level is not an object)")
            continue
        problems.extend(f"{path}: {problem}" for problem in get_dirty_cells(notebook))
    return problems


def main(argv: list[str] | None = None) -> int:
    """Check the notebooks named in ``argv`` (default: all under notebooks/)."""
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a) for a in args] or sorted(Path("notebooks").glob("**/*.ipynb"))
    problems = check_paths(paths)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        hint = "clear them with: jupyter nbconvert --clear-output --inplace <notebook>"
        print(hint, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
