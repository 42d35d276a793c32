"""Designs: the points of a sweep from its axes (docs/sweeps.md#designs).

``grid`` is the product of the axes' lists (the first axis varies slowest), ``zip`` takes the
k-th value of every list, ``random`` draws ``samples`` points uniformly, ``latin-hypercube``
draws them stratified (each axis's [0, 1) cut into ``samples`` strata, one draw in each), and
``sobol`` takes Saltelli's scheme through SALib (``samples`` × (axes + 2) points, first-order
and total indices). The sampled designs draw from the seed tree of ``design_seed``; a
``[low, high]`` range maps a unit draw linearly (logarithmically with ``log = true``; integer
ends give integers), a list maps it to one of its elements.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from rppsim.errors import UserError
from rppsim.rng import SeedTree

if TYPE_CHECKING:
    from rppsim.sweep.spec import SweepSpec

__all__ = ["compute_points", "compute_unit_samples", "get_sobol_problem"]


def get_sobol_problem(spec: SweepSpec) -> dict[str, Any]:
    """SALib's problem: one unit variable per axis (the axes map unit draws to values)."""
    return {
        "num_vars": len(spec.axes),
        "names": [axis.key for axis in spec.axes],
        "bounds": [[0.0, 1.0]] * len(spec.axes),
    }


def compute_unit_samples(spec: SweepSpec) -> np.ndarray:
    """The sampled designs' draws in [0, 1): one row per point, one column per axis."""
    d, n = len(spec.axes), spec.samples
    rng = SeedTree(spec.design_seed).generator("sweep", spec.design)
    if spec.design == "random":
        return rng.random((n, d))
    if spec.design == "latin-hypercube":
        strata = np.stack([rng.permutation(n) for _ in range(d)], axis=1)
        return (strata + rng.random((n, d))) / n
    if spec.design == "sobol":
        if n & (n - 1):
            expected = "a power of 2 (Sobol' sequences balance only at powers of 2)"
            raise UserError(spec.source, "sweep.samples", expected, str(n))
        from SALib.sample import sobol

        seed = int(rng.integers(0, 2**32))
        unit = sobol.sample(get_sobol_problem(spec), n, calc_second_order=False, seed=seed)
        return np.clip(np.asarray(unit, float), 0.0, np.nextafter(1.0, 0.0))
    raise ValueError(f"design {spec.design!r} draws no samples")


def compute_points(spec: SweepSpec) -> list[tuple[Any, ...]]:
    """Every point's axis values, in point order."""
    if spec.design == "grid":
        return list(itertools.product(*(axis.values for axis in spec.axes)))
    if spec.design == "zip":
        return list(zip(*(axis.values for axis in spec.axes), strict=True))
    unit = compute_unit_samples(spec)
    return [
        tuple(axis.get_value(float(u)) for axis, u in zip(spec.axes, row, strict=True))
        for row in unit
    ]
