"""The primitives a prover backend provides (docs/architecture.md#code-style: reference and fast
pairs).

``stark.prove_trace`` runs the protocol once, against either backend; the reference
backend is plain Python/numpy, the fast backend numba kernels. Both return identical
arrays, so the proofs are byte-identical (tests/prover/test_equivalence.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from rppsim.prover.airs.base import Air
from rppsim.prover.reference.field import Ext
from rppsim.prover.reference.merkle import MerkleTree


class Backend(Protocol):
    """Array primitives of the prover; arrays are uint64 with entries < p."""

    name: str

    def interpolate(self, columns: np.ndarray) -> np.ndarray:
        """(c, n) values on ⟨ω_n⟩, natural order → (c, n) coefficients."""
        ...

    def coset_lde(self, coeffs: np.ndarray, log_blowup: int) -> np.ndarray:
        """(c, n) coefficients → (c, n·B) values on g·⟨ω_nB⟩, bit-reversed."""
        ...

    def coset_interpolate(self, evals: np.ndarray, shift_log: int = 0) -> np.ndarray:
        """(c, M) bit-reversed values on g^(2^s)·⟨ω_M⟩ → (c, M) coefficients."""
        ...

    def commit(self, matrix: np.ndarray, group: int) -> MerkleTree:
        """Merkle tree over leaves of ``group`` consecutive positions × all columns."""
        ...

    def constraint_values(
        self,
        air: Air,
        trace: np.ndarray,
        periodic: np.ndarray,
        nx: np.ndarray,
        consts: tuple[int, ...],
        count: int,
    ) -> np.ndarray:
        """Every constraint at positions 0..count−1: (m, count)."""
        ...

    def composition(
        self, air: Air, lde: np.ndarray, consts: tuple[int, ...], alpha: Ext, rows_log2: int,
        log_blowup: int,
    ) -> np.ndarray:  # fmt: skip
        """H = Σ αⁱCᵢ/Zᵢ on the first Q·n LDE positions: (4, Q·n)."""
        ...

    def evaluate_at(self, coeffs: np.ndarray, point: Ext) -> list[Ext]:
        """Each column polynomial at an extension point."""
        ...

    def deep(
        self, trace_lde: np.ndarray, comp_lde: np.ndarray, ood: Sequence[Ext], z: Ext, zw: Ext,
        gamma: Ext, log_size: int,
    ) -> np.ndarray:  # fmt: skip
        """The DEEP codeword over the LDE: (4, N)."""
        ...

    def fold(self, values: np.ndarray, beta: Ext, log_size: int, shift_log: int) -> np.ndarray:
        """One binary FRI fold: (4, M) → (4, M/2)."""
        ...

    def grind(self, state: bytes, bits: int) -> int:
        """The smallest proof-of-work nonce."""
        ...
