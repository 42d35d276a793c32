"""The reference backend: readable numpy/hashlib primitives behind the Backend protocol."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rppsim.prover.airs.base import Air
from rppsim.prover.reference import composition as comp
from rppsim.prover.reference import deep as deep_
from rppsim.prover.reference import fri, merkle, ntt, transcript
from rppsim.prover.reference.domain import coset_points
from rppsim.prover.reference.field import Ext
from rppsim.prover.reference.merkle import MerkleTree


class ReferenceBackend:
    """Plain Python/numpy; the oracle for the numba backend."""

    name = "reference"

    def interpolate(self, columns: np.ndarray) -> np.ndarray:
        """Inverse NTT of each column."""
        return ntt.interpolate(columns)

    def coset_lde(self, coeffs: np.ndarray, log_blowup: int) -> np.ndarray:
        """Zero-pad, shift by g, NTT, bit-reverse."""
        return ntt.coset_lde(coeffs, log_blowup)

    def coset_interpolate(self, evals: np.ndarray, shift_log: int = 0) -> np.ndarray:
        """Un-bit-reverse, inverse NTT, unshift."""
        return ntt.coset_interpolate(evals, shift_log)

    def commit(self, matrix: np.ndarray, group: int) -> MerkleTree:
        """hashlib Merkle tree."""
        return merkle.build_tree(matrix, group)

    def constraint_values(
        self,
        air: Air,
        trace: np.ndarray,
        periodic: np.ndarray,
        nx: np.ndarray,
        consts: tuple[int, ...],
        count: int,
    ) -> np.ndarray:
        """The AIR's Python evaluator at each position."""
        return comp.constraint_values(air, trace, periodic, nx, consts, count)

    def composition(
        self, air: Air, lde: np.ndarray, consts: tuple[int, ...], alpha: Ext, rows_log2: int,
        log_blowup: int,
    ) -> np.ndarray:  # fmt: skip
        """Python constraint evaluation, numpy combination."""
        return comp.composition(air, lde, consts, alpha, rows_log2, log_blowup)

    def evaluate_at(self, coeffs: np.ndarray, point: Ext) -> list[Ext]:
        """Horner per column."""
        return [fri.evaluate_poly([Ext(int(c)) for c in row], point) for row in coeffs]

    def deep(
        self, trace_lde: np.ndarray, comp_lde: np.ndarray, ood: Sequence[Ext], z: Ext, zw: Ext,
        gamma: Ext, log_size: int,
    ) -> np.ndarray:  # fmt: skip
        """numpy DEEP codeword."""
        return deep_.deep_codeword(trace_lde, comp_lde, ood, z, zw, gamma, coset_points(log_size))

    def fold(self, values: np.ndarray, beta: Ext, log_size: int, shift_log: int) -> np.ndarray:
        """numpy binary fold."""
        return fri.fold(values, beta, log_size, shift_log)

    def grind(self, state: bytes, bits: int) -> int:
        """hashlib loop."""
        return transcript.grind(state, bits)
