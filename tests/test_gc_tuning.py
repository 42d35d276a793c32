"""The collector thresholds of long event loops."""

import gc
import weakref

import pytest

from rppsim.gc_tuning import RELAXED_THRESHOLDS, relaxed_gc


def test_thresholds_are_relaxed_inside_and_restored_after():
    before = gc.get_threshold()
    with relaxed_gc():
        assert gc.get_threshold() == RELAXED_THRESHOLDS
    assert gc.get_threshold() == before


def test_thresholds_are_restored_when_the_body_raises():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), relaxed_gc((1000, 5, 5)):
        assert gc.get_threshold() == (1000, 5, 5)
        raise RuntimeError("boom")
    assert gc.get_threshold() == before


def test_cycles_are_still_collected_inside():
    class Node:
        pass

    with relaxed_gc():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle only the collector can free
        ref = weakref.ref(a)
        del a, b
        # Live container allocations (not freed ones) count toward a young collection.
        kept = [[] for _ in range(RELAXED_THRESHOLDS[0] * 2)]
        assert ref() is None
        del kept
