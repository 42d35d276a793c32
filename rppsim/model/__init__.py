"""The fast protocol model: the same scenarios, stepped per height (issue 12, part 2).

``run_fast(scenario, seed=None, duration_ms=None) -> frames`` (``rppsim.model.engine``);
``rppsim fidelity`` compares it with the full simulator (``rppsim.model.fidelity``). The
engine (numba) is imported on first use, so the CLI starts without it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FastRun", "run_fast", "run_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from rppsim.model import engine

        return getattr(engine, name)
    raise AttributeError(name)
