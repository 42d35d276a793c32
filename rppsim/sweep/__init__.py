"""Parameter sweeps and Monte Carlo over scenarios, on local processes or Dask
(docs/sweeps.md).

``load_sweep(path)`` reads and checks a sweep file; ``run_sweep(spec_or_path, out_dir)`` runs
what it has not recorded yet and returns the sweep folder (``runs.parquet``,
``summary.parquet``, ...). The modules: ``spec`` (the file), ``designs`` (its points),
``metrics`` (a run's numbers), ``executors`` (local processes, Dask) and ``runner``. They are
imported on first use, so the CLI starts without pandas and the checkers.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DEFAULT_VERDICTS",
    "Axis",
    "SweepInterruptedError",
    "SweepSpec",
    "load_sweep",
    "run_sweep",
]

_HOMES = {
    "DEFAULT_VERDICTS": "runner",
    "SweepInterruptedError": "runner",
    "run_sweep": "runner",
    "Axis": "spec",
    "SweepSpec": "spec",
    "load_sweep": "spec",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        from importlib import import_module

        return getattr(import_module(f"rppsim.sweep.{_HOMES[name]}"), name)
    raise AttributeError(name)
