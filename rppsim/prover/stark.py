"""The prover: one readable protocol over a Backend of primitives (docs/proofs.md#protocol).

Steps: (1) bind the statement in the transcript; (2) commit the trace LDE; (3) draw α,
commit the composition chunks; (4) draw z, send out-of-domain values; (5) draw γ, build
the DEEP codeword; (6) FRI: commit, fold by 8, send the final polynomial; (7) grind;
(8) draw query indices and open every commitment there.

``prove_trace`` never refuses a trace: a trace that breaks a constraint still yields a
proof object, which the verifier rejects. ``check_trace`` is the prover's self-check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rppsim.prover.airs.base import ALL_ROWS, ROW, TRANSITION, Air
from rppsim.prover.backend import Backend
from rppsim.prover.errors import WitnessError
from rppsim.prover.params import StarkParams
from rppsim.prover.proof import MerkleOpenings, Proof, StarkProofBody
from rppsim.prover.protocol import (
    PROOF_VERSION,
    absorb_statement,
    draw_ood_point,
    draw_query_indices,
    final_log_len,
    fri_arities,
    leaf_group,
    public_digest,
)
from rppsim.prover.reference.composition import split_chunks
from rppsim.prover.reference.field import Ext, exts_to_bytes, root_of_unity
from rppsim.prover.reference.merkle import MerkleTree
from rppsim.prover.reference.periodic import periodic_rows
from rppsim.prover.reference.transcript import Transcript


def check_trace(air: Air, trace: np.ndarray, consts: tuple[int, ...], backend: Backend) -> None:
    """Raise WitnessError naming the first constraint a trace breaks, and where."""
    n = trace.shape[1]
    nx = (np.arange(n, dtype=np.int64) + 1) % n
    periodic = periodic_rows(air.periodic_table, n)
    values = backend.constraint_values(air, trace, periodic, nx, consts, n)
    for i, constraint in enumerate(air.constraints):
        kind, row = constraint.domain_key(n)
        first = {TRANSITION: 0, ALL_ROWS: 0, ROW: row}[kind]
        last = {TRANSITION: n - 1, ALL_ROWS: n, ROW: row + 1}[kind]
        bad = np.flatnonzero(values[i, first:last])
        if bad.size:
            where = first + int(bad[0])
            raise WitnessError(f"{air.name}: constraint {constraint.name!r} fails at row {where}")


@dataclass(frozen=True)
class _Layer:
    """A committed matrix and its tree."""

    matrix: np.ndarray
    tree: MerkleTree
    group: int

    def open(self, leaf_indices: list[int]) -> MerkleOpenings:
        """Leaves (``leaf_felts`` order, gathered at once) and paths at these leaf indices."""
        idx = np.asarray(leaf_indices, dtype=np.int64)
        positions = idx[:, None] * self.group + np.arange(self.group, dtype=np.int64)[None, :]
        gathered = self.matrix[:, positions]  # (columns, queries, group)
        width = self.matrix.shape[0] * self.group
        rows = gathered.transpose(1, 2, 0).reshape(len(leaf_indices), width).tolist()
        paths = tuple(self.tree.paths(leaf_indices))
        return MerkleOpenings(width, self.tree.depth, tuple(map(tuple, rows)), paths)


def _commit(backend: Backend, ts: Transcript, matrix: np.ndarray, group: int) -> _Layer:
    """Commit a matrix and absorb its root."""
    layer = _Layer(matrix, backend.commit(matrix, group), group)
    ts.absorb(layer.tree.root)
    return layer


def commit_fri(
    backend: Backend, ts: Transcript, codeword: np.ndarray, rows_log2: int, params: StarkParams
) -> tuple[list[_Layer], tuple[Ext, ...]]:
    """Step 6: commit and fold each layer, then send the final polynomial's coefficients.

    ``codeword`` is (4, 2^(rows_log2 + log_blowup)), bit-reversed on g·⟨ω_N⟩, claimed of
    degree < 2^rows_log2; the final polynomial keeps 2^final_log_len coefficients.
    """
    log_size = rows_log2 + params.log_blowup
    shift_log, layers = 0, []
    for arity in fri_arities(rows_log2, params):
        layers.append(_commit(backend, ts, codeword, 1 << arity))
        for _ in range(arity):
            codeword = backend.fold(codeword, ts.draw_ext(), log_size, shift_log)
            log_size, shift_log = log_size - 1, shift_log + 1
    coeffs = backend.coset_interpolate(codeword, shift_log)
    length = 1 << final_log_len(rows_log2, params)
    final = tuple(Ext(*(int(coeffs[c, i]) for c in range(4))) for i in range(length))
    ts.absorb(exts_to_bytes(final))
    return layers, final


def open_fri(layers: list[_Layer], indices: list[int]) -> tuple[MerkleOpenings, ...]:
    """Step 8 for FRI: per layer, the group holding each query's position."""
    openings, shift = [], 0
    for layer in layers:
        arity = layer.group.bit_length() - 1
        openings.append(layer.open([(i >> shift) >> arity for i in indices]))
        shift += arity
    return tuple(openings)


def prove_trace(
    air: Air, public_inputs: Any, trace: np.ndarray, params: StarkParams, backend: Backend
) -> Proof:
    """Prove that ``trace`` satisfies ``air`` for ``public_inputs`` (never refuses)."""
    n = trace.shape[1]
    rows_log2 = n.bit_length() - 1
    log_size = rows_log2 + params.log_blowup
    consts = air.public_constants(public_inputs)
    pi_bytes = public_inputs.to_bytes()
    ts = Transcript()
    absorb_statement(ts, params, air, rows_log2, pi_bytes)
    coeffs = backend.interpolate(trace)
    trace_lde = backend.coset_lde(coeffs, params.log_blowup)
    trace_layer = _commit(backend, ts, trace_lde, leaf_group(air.width))
    alpha = ts.draw_ext()
    h_values = backend.composition(
        air, trace_layer.matrix, consts, alpha, rows_log2, params.log_blowup
    )
    chunks = split_chunks(backend.coset_interpolate(h_values), air.num_chunks, n)
    comp_lde = backend.coset_lde(chunks, params.log_blowup)
    comp_layer = _commit(backend, ts, comp_lde, leaf_group(chunks.shape[0]))
    z = draw_ood_point(ts, rows_log2, params.log_blowup)
    zw = z * root_of_unity(rows_log2)
    ood = [*backend.evaluate_at(coeffs, z), *backend.evaluate_at(coeffs, zw)]
    ood += backend.evaluate_at(chunks, z)
    ts.absorb(exts_to_bytes(ood))
    gamma = ts.draw_ext()
    deep = backend.deep(trace_layer.matrix, comp_layer.matrix, ood, z, zw, gamma, log_size)
    fri_layers, final = commit_fri(backend, ts, deep, rows_log2, params)
    nonce = backend.grind(ts.state, params.pow_bits)
    ts.absorb(nonce.to_bytes(8, "little"))
    indices = draw_query_indices(ts, 1 << log_size, params.num_queries)
    body = StarkProofBody(
        version=PROOF_VERSION,
        rows_log2=rows_log2,
        params_hash=params.digest(),
        public_digest=public_digest(air, pi_bytes),
        trace_root=trace_layer.tree.root,
        composition_root=comp_layer.tree.root,
        fri_roots=tuple(layer.tree.root for layer in fri_layers),
        ood_values=tuple(ood),
        final_poly=final,
        pow_nonce=nonce,
        query_indices=tuple(indices),
        trace_openings=trace_layer.open([i // trace_layer.group for i in indices]),
        composition_openings=comp_layer.open([i // comp_layer.group for i in indices]),
        fri_openings=open_fri(fri_layers, indices),
    )
    return Proof(air.name, params, public_inputs, body)
