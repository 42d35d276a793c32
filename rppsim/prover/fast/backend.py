"""The fast backend: numba kernels behind the Backend protocol."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rppsim.prover.airs.base import Air
from rppsim.prover.fast import composition as comp
from rppsim.prover.fast import deep, fri, merkle, ntt
from rppsim.prover.fast.blake2s import digest_words, grind, initial_state
from rppsim.prover.reference.field import Ext
from rppsim.prover.reference.merkle import MerkleTree
from rppsim.prover.reference.transcript import POW_PERSON

_POW_H0 = initial_state(POW_PERSON)


class FastBackend:
    """numba primitives; byte-identical proofs to ReferenceBackend."""

    name = "fast"

    def interpolate(self, columns: np.ndarray) -> np.ndarray:
        """Inverse NTT of each column."""
        return ntt.interpolate(np.ascontiguousarray(columns, dtype=np.uint64))

    def coset_lde(self, coeffs: np.ndarray, log_blowup: int) -> np.ndarray:
        """One NTT per coset, written to its bit-reversed block."""
        return ntt.coset_lde(np.ascontiguousarray(coeffs, dtype=np.uint64), log_blowup)

    def coset_interpolate(self, evals: np.ndarray, shift_log: int = 0) -> np.ndarray:
        """DIT inverse NTT on bit-reversed input, then unshift."""
        return ntt.coset_interpolate(np.ascontiguousarray(evals, dtype=np.uint64), shift_log)

    def commit(self, matrix: np.ndarray, group: int) -> MerkleTree:
        """numba BLAKE2s Merkle tree."""
        return merkle.build_tree(np.ascontiguousarray(matrix, dtype=np.uint64), group)

    def constraint_values(
        self,
        air: Air,
        trace: np.ndarray,
        periodic: np.ndarray,
        nx: np.ndarray,
        consts: tuple[int, ...],
        count: int,
    ) -> np.ndarray:
        """The AIR's numba kernel at each position."""
        trace = np.ascontiguousarray(trace)
        return comp.constraint_values(air, trace, np.ascontiguousarray(periodic), nx, consts, count)

    def composition(
        self, air: Air, lde: np.ndarray, consts: tuple[int, ...], alpha: Ext, rows_log2: int,
        log_blowup: int,
    ) -> np.ndarray:  # fmt: skip
        """AIR kernel per block, numba combination."""
        return comp.composition(air, lde, consts, alpha, rows_log2, log_blowup)

    def evaluate_at(self, coeffs: np.ndarray, point: Ext) -> list[Ext]:
        """Power table and dot products."""
        return fri.evaluate_at(np.ascontiguousarray(coeffs, dtype=np.uint64), point)

    def deep(
        self, trace_lde: np.ndarray, comp_lde: np.ndarray, ood: Sequence[Ext], z: Ext, zw: Ext,
        gamma: Ext, log_size: int,
    ) -> np.ndarray:  # fmt: skip
        """One pass with a shared base-field batch inversion."""
        return deep.deep_codeword(trace_lde, comp_lde, ood, z, zw, gamma, log_size)

    def fold(self, values: np.ndarray, beta: Ext, log_size: int, shift_log: int) -> np.ndarray:
        """numba binary fold."""
        return fri.fold(np.ascontiguousarray(values), beta, log_size, shift_log)

    def grind(self, state: bytes, bits: int) -> int:
        """numba BLAKE2s nonce search."""
        return int(grind(digest_words(state), _POW_H0, bits, 0))
