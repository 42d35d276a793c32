"""The seed tree: stable, named, independent streams (docs/architecture.md#determinism)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rppsim.rng import SeedTree, compute_spawn_key, encode_name

_PROBE = (
    "from rppsim.rng import SeedTree; t = SeedTree(7); "
    "print(t.generator('net', 'latency').integers(0, 2**63, 4).tolist(), "
    "t.integer('node', 17, 'keys'), t.seed_bytes('fault', 'churn').hex())"
)


def _probe(hashseed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_streams_do_not_depend_on_pythonhashseed():
    """Two interpreters with different hash seeds draw the same numbers."""
    assert _probe("0") == _probe("1")


def test_streams_do_not_depend_on_creation_order():
    a = SeedTree(42)
    first = a.generator("x").random(3)
    second = a.generator("y").random(3)
    b = SeedTree(42)
    second_again = b.generator("y").random(3)
    first_again = b.generator("x").random(3)
    np.testing.assert_array_equal(first, first_again)
    np.testing.assert_array_equal(second, second_again)


def test_same_name_same_stream_other_name_other_stream():
    tree = SeedTree(3)
    assert tree.integer("node", 1, "keys") == tree.integer("node", 1, "keys")
    assert tree.integer("node", 1, "keys") != tree.integer("node", 2, "keys")
    assert tree.integer("node", 1) != tree.integer("node", "1")


def test_root_seed_changes_every_stream():
    assert SeedTree(1).seed_bytes("net") != SeedTree(2).seed_bytes("net")


def test_name_encoding_is_unambiguous():
    assert encode_name(("ab", "c")) != encode_name(("a", "bc"))
    assert encode_name((1,)) != encode_name(("1",))
    assert encode_name((-1,)) != encode_name((255,))


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True])
def test_rejects_bad_root_seed(bad):
    with pytest.raises(ValueError, match="root seed"):
        SeedTree(bad)


def test_rejects_bad_name_part():
    with pytest.raises(TypeError):
        compute_spawn_key((1.0,))


@given(st.integers(0, 2**64), st.lists(st.one_of(st.text(max_size=8), st.integers()), max_size=4))
def test_seed_bytes_length_and_determinism(root, name):
    tree = SeedTree(root)
    assert tree.seed_bytes(*name, length=20) == SeedTree(root).seed_bytes(*name, length=20)
    assert len(tree.seed_bytes(*name, length=20)) == 20
