"""Evaluation domains in bit-reversed order and the LDE's next-row map (docs/proofs.md#pitfalls).

Position j of a bit-reversed coset g^(2^s)·⟨ω_M⟩ holds the point g^(2^s)·ω_M^rev(j). The
trace LDE on g·⟨ω_N⟩, N = n·B, splits into B blocks of n consecutive positions; block b is
the coset g·ω_N^rev_B(b)·⟨ω_n⟩ in bit-reversed order, so the next trace row of position j
is in the same block: NX[j] = block·n + rev_n(rev_n(j mod n) + 1).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from rppsim.prover.reference.field import (
    GENERATOR,
    P,
    bit_reverse_indices,
    powers,
    root_of_unity,
)


@lru_cache(maxsize=32)
def coset_points(log_size: int, shift_log: int = 0) -> np.ndarray:
    """All points of g^(2^shift_log)·⟨ω_M⟩ in bit-reversed order (read-only, cached)."""
    shift = pow(GENERATOR, 1 << shift_log, P)
    natural = powers(root_of_unity(log_size), 1 << log_size) * np.uint64(shift) % np.uint64(P)
    out = natural[bit_reverse_indices(log_size)]
    out.setflags(write=False)
    return out


@lru_cache(maxsize=32)
def next_positions(rows_log2: int, log_blowup: int) -> np.ndarray:
    """NX: the LDE position holding the next trace row of each position (read-only)."""
    n = 1 << rows_log2
    rev = bit_reverse_indices(rows_log2)
    within = rev[(rev + 1) & (n - 1)]
    blocks = np.arange(1 << log_blowup, dtype=np.int64)[:, None] * n
    out = (blocks + within[None, :]).reshape(-1)
    out.setflags(write=False)
    return out
