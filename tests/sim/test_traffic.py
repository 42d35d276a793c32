"""Lazy arrival times (rppsim/sim/traffic.py): the same draws as the lists, no list up front."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rppsim.rng import SeedTree
from rppsim.sim.spec import TrafficConfig, TrafficPhase
from rppsim.sim.traffic import compute_tx_times, iter_poisson_times, iter_tx_times


@given(
    rate=st.floats(0.1, 50.0),
    seed=st.integers(0, 2**32),
    phases=st.lists(
        st.tuples(
            st.integers(1, 5_000), st.sampled_from(["poisson", "on-off"]), st.floats(0.5, 40)
        ),
        max_size=3,
    ),
)
def test_the_lazy_times_are_the_listed_times(rate, seed, phases) -> None:
    built = tuple(
        TrafficPhase(d, model, r, *((300, 200) if model == "on-off" else (0, 0)))
        for d, model, r in phases
    )
    traffic = TrafficConfig(tx_per_s=0.0 if built else rate, phases=built)
    listed = compute_tx_times(traffic, 20_000, SeedTree(seed))
    assert list(iter_tx_times(traffic, 20_000, SeedTree(seed))) == listed
    assert listed == sorted(listed)


def test_a_day_at_the_highest_rate_costs_nothing_up_front() -> None:
    times = iter_poisson_times(10_000.0, 0, 86_400_000, np.random.default_rng(1))
    first = list(itertools.islice(times, 5))
    assert len(first) == 5 and first == sorted(first) and first[-1] < 10
