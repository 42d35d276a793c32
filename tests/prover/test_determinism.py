"""Determinism (docs/architecture.md#determinism): identical proof bytes across runs, processes,
hash seeds and
numba thread counts; a second process loads the compiled kernels from the numba cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rppsim.prover import prove
from rppsim.prover.examples import example_statement

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import json, sys, numba
import rppsim.prover.fast.blake2s, rppsim.prover.fast.composition, rppsim.prover.fast.deep
import rppsim.prover.fast.field, rppsim.prover.fast.fri, rppsim.prover.fast.ntt
from rppsim.prover import prove
from rppsim.prover.airs import AIRS
from rppsim.prover.examples import example_statement
pi, w = example_statement("uptime", 5, 7)
digest = prove("uptime", pi, w, "sim", rows_log2=5).digest().hex()
misses = 0
for name, module in list(sys.modules.items()):
    if name.startswith("rppsim.prover"):
        for value in vars(module).values():
            if isinstance(value, numba.core.registry.CPUDispatcher):
                misses += sum(value.stats.cache_misses.values())
print(json.dumps({"digest": digest, "misses": misses, "threads": numba.get_num_threads()}))
"""


def _run(threads: int, hash_seed: str) -> dict:
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads), "PYTHONHASHSEED": hash_seed}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_same_statement_same_bytes_in_process():
    """Two proofs of one statement are identical; another statement differs."""
    pi, witness = example_statement("consensus", 5, 3)
    a = prove("consensus", pi, witness, "sim", rows_log2=5)
    b = prove("consensus", pi, witness, "sim", rows_log2=5)
    assert a.to_bytes() == b.to_bytes()
    other_pi, other_witness = example_statement("consensus", 5, 4)
    assert prove("consensus", other_pi, other_witness, "sim", rows_log2=5).digest() != a.digest()


def test_identical_across_processes_and_thread_counts():
    """NUMBA_NUM_THREADS=1 and 2, different PYTHONHASHSEED: the same digest as in-process,
    and the second process compiles nothing (every kernel comes from the cache)."""
    pi, witness = example_statement("uptime", 5, 7)
    expected = prove("uptime", pi, witness, "sim", rows_log2=5).digest().hex()
    one = _run(1, "1")
    two = _run(2, "2")
    assert (one["threads"], two["threads"]) == (1, 2)
    assert one["digest"] == two["digest"] == expected
    assert two["misses"] == 0
