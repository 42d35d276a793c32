"""Designs: grid and zip orders, sampled designs inside their ranges, stratified, seeded."""

from dataclasses import replace
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rppsim.sweep import load_sweep
from rppsim.sweep.designs import compute_unit_samples
from rppsim.sweep.spec import Axis
from tests.sweep.conftest import write_sweep

RANGES = """
[axes]
"nodes.validators" = { low = 4, high = 7 }
"genesis.zipf_s" = { low = 0.5, high = 2.0, log = true }
"rules.allow_empty_blocks" = [true, false]
"""


def _spec(tmp_path: Path, header: str):
    return load_sweep(write_sweep(tmp_path, RANGES, header))


def test_zip_takes_the_kth_value_of_every_list(tmp_path: Path):
    body = '[axes]\n"nodes.validators" = [5, 6, 7]\n"nodes.count" = [16, 17, 18]'
    spec = load_sweep(write_sweep(tmp_path, body, 'design = "zip"'))
    assert spec.points == ((5, 16), (6, 17), (7, 18))


def test_random_and_lhs_values_stay_in_their_ranges_and_types(tmp_path: Path):
    for design in ("random", "latin-hypercube"):
        spec = _spec(tmp_path, f'design = "{design}"\nsamples = 40')
        assert len(spec.points) == 40
        for validators, weight, empty in spec.points:
            assert isinstance(validators, int) and 4 <= validators <= 7
            assert isinstance(weight, float) and 0.5 <= weight <= 2.0
            assert empty in (True, False)
        assert {p[0] for p in spec.points} == {4, 5, 6, 7}  # every integer reached


def test_sampled_designs_are_seeded(tmp_path: Path):
    first = _spec(tmp_path, 'design = "random"\nsamples = 8\ndesign_seed = 4')
    again = _spec(tmp_path, 'design = "random"\nsamples = 8\ndesign_seed = 4')
    other = _spec(tmp_path, 'design = "random"\nsamples = 8\ndesign_seed = 5')
    assert first.points == again.points != other.points


@given(st.integers(1, 60), st.integers(0, 2**32))
def test_latin_hypercube_hits_every_stratum_once(tmp_path_factory, samples: int, seed: int):
    tmp = tmp_path_factory.mktemp("lhs")
    spec = replace(_spec(tmp, 'design = "latin-hypercube"\nsamples = 2'), samples=samples,
                   design_seed=seed)  # fmt: skip
    unit = compute_unit_samples(spec)
    assert unit.shape == (samples, 3) and ((unit >= 0) & (unit < 1)).all()
    for column in unit.T:
        assert sorted((column * samples).astype(int).tolist()) == list(range(samples))


def test_sobol_design_is_saltelli_size(tmp_path: Path):
    spec = _spec(tmp_path, 'design = "sobol"\nsamples = 8')
    assert len(spec.points) == 8 * (3 + 2)  # N (D + 2): first-order and total indices


@given(st.floats(0, 1, exclude_max=True), st.integers(-50, 50), st.integers(1, 100))
def test_integer_range_maps_units_uniformly_onto_its_integers(u: float, low: int, width: int):
    axis = Axis("x", False, low=low, high=low + width, integer=True)
    value = axis.get_value(u)
    assert isinstance(value, int) and low <= value <= low + width
    assert value == low + int(np.floor(u * (width + 1)))
