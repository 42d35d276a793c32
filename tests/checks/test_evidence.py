import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from rppsim.checks.evidence import _get_block_times


@settings(max_examples=80)
@given(
    st.lists(st.tuples(st.integers(1, 12), st.integers(0, 10**12)), max_size=20),
    st.lists(st.integers(0, 14), max_size=10),
    st.integers(-1, 2**62),
)
def test_block_times_are_each_heights_earliest_block_or_the_default(blocks, heights, default):
    """Each asked height gets its earliest ``proposed_ms`` (several blocks may share a height),
    and a height without a block the default."""
    frame = pd.DataFrame(
        {"height": [b[0] for b in blocks], "proposed_ms": [b[1] for b in blocks]}, dtype=np.int64
    )
    earliest: dict[int, int] = {}
    for height, time_ms in blocks:
        earliest[height] = min(time_ms, earliest.get(height, time_ms))
    got = _get_block_times(frame, np.array(heights, np.int64), default)
    assert got == [earliest.get(h, default) for h in heights]
    assert all(type(t) is int for t in got)
