"""The verifier: replay the transcript, re-derive the queries, check everything
(docs/proofs.md#protocol step 9).

Order (cheap checks first): statement and shape; transcript replay with the PoW check;
query indices re-derived locally and compared with the proof's list (never read from it);
the out-of-domain identity H(z) = Σ zⁱⁿ·Hᵢ(z); then per query the Merkle paths, the DEEP
value, every FRI fold and the final polynomial. Each failure has its own reason; a
well-formed ``Proof`` object never makes the verifier raise.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rppsim.prover.airs import AIRS
from rppsim.prover.airs.base import ALL_ROWS, ROW, TRANSITION, Air
from rppsim.prover.fast import merkle as fast_merkle
from rppsim.prover.params import PROFILES, StarkParams
from rppsim.prover.proof import MerkleOpenings, Proof
from rppsim.prover.protocol import (
    PROOF_VERSION,
    absorb_statement,
    domain_point,
    draw_ood_point,
    draw_query_indices,
    final_log_len,
    fri_arities,
    leaf_group,
    ood_counts,
    public_digest,
)
from rppsim.prover.reference.deep import (
    conjugate_polynomials,
    deep_coefficients,
    scalar_combination,
)
from rppsim.prover.reference.field import (
    P64,
    Ext,
    P,
    ext_vmul,
    exts_to_bytes,
    root_of_unity,
    vinv,
)
from rppsim.prover.reference.fri import evaluate_at_base_points, fold_groups
from rppsim.prover.reference.periodic import periodic_at, periodic_coefficients
from rppsim.prover.reference.transcript import Transcript, is_valid_pow


class Reason(enum.Enum):
    """Why a proof was rejected (rpp-stark's error names where they exist,
    docs/proofs.md#rpp-stark)."""

    ACCEPTED = "accepted"
    NOT_A_PROOF = "not_a_proof"
    UNKNOWN_CIRCUIT = "unknown_circuit"
    CIRCUIT_MISMATCH = "circuit_mismatch"
    UNKNOWN_PARAMS = "unknown_params"
    VERSION_MISMATCH = "proof_version"
    PARAMS_HASH_MISMATCH = "params_hash_mismatch"
    PUBLIC_DIGEST_MISMATCH = "public_digest_mismatch"
    PUBLIC_INPUTS_INVALID = "public_inputs_invalid"
    UNSUPPORTED_TRACE_LENGTH = "unsupported_trace_length"
    SHAPE_MISMATCH = "shape_mismatch"
    POW_INVALID = "pow_invalid"
    INDICES_OUT_OF_RANGE = "indices_out_of_range"
    INDICES_DUPLICATE = "indices_duplicate"
    INDICES_NOT_SORTED = "indices_not_sorted"
    INDICES_MISMATCH = "indices_mismatch"
    COMPOSITION_INCONSISTENT = "composition_inconsistent"
    MERKLE_VERIFY_FAILED = "merkle_verify_failed"
    DEEP_MISMATCH = "deep_mismatch"
    FRI_VERIFY_FAILED = "fri_verify_failed"
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class _Replay:
    """Everything the transcript replay yields."""

    alpha: Ext
    z: Ext
    gamma: Ext
    betas: tuple[tuple[Ext, ...], ...]
    indices: list[int]


def _check_statement(proof: Proof, air: Air, accepted: frozenset[str] | None) -> Reason | None:
    """Params, public inputs, version, digests, trace length."""
    params = proof.params
    if not isinstance(params, StarkParams) or PROFILES.get(params.name) != params:
        return Reason.UNKNOWN_PARAMS
    if accepted is not None and params.name not in accepted:
        return Reason.UNKNOWN_PARAMS
    if not isinstance(proof.public_inputs, air.public_inputs_type):
        return Reason.PUBLIC_INPUTS_INVALID
    if not air.is_valid_public_inputs(proof.public_inputs):
        return Reason.PUBLIC_INPUTS_INVALID
    body = proof.body
    if body.version != PROOF_VERSION:
        return Reason.VERSION_MISMATCH
    if body.params_hash != params.digest():
        return Reason.PARAMS_HASH_MISMATCH
    if body.public_digest != public_digest(air, proof.public_inputs.to_bytes()):
        return Reason.PUBLIC_DIGEST_MISMATCH
    if not air.supports_rows(body.rows_log2):
        return Reason.UNSUPPORTED_TRACE_LENGTH
    return None


def _bundle_ok(bundle: MerkleOpenings, width: int, depth: int, count: int) -> bool:
    """A bundle of the expected leaf width, depth and count, every entry of that shape."""
    shape = (bundle.leaf_width, bundle.depth, len(bundle.leaves), len(bundle.paths))
    return (
        shape == (width, depth, count, count)
        and all(len(leaf) == width for leaf in bundle.leaves)
        and all(isinstance(path, bytes) and len(path) == 32 * depth for path in bundle.paths)
    )


def _check_shape(proof: Proof, air: Air) -> bool:
    """Every count and width matches what the statement and params imply."""
    body, params = proof.body, proof.params
    k = body.rows_log2
    log_size = k + params.log_blowup
    arities = fri_arities(k, params)
    q = len(body.query_indices)
    if not 1 <= q <= params.num_queries:
        return False
    if len(body.fri_roots) != len(arities) or len(body.fri_openings) != len(arities):
        return False
    if len(body.ood_values) != sum(ood_counts(air)):
        return False
    if len(body.final_poly) != 1 << final_log_len(k, params):
        return False
    for bundle, width in (
        (body.trace_openings, air.width),
        (body.composition_openings, 4 * air.num_chunks),
    ):
        group = leaf_group(width)
        if not _bundle_ok(bundle, width * group, log_size - group.bit_length() + 1, q):
            return False
    for arity, bundle in zip(arities, body.fri_openings, strict=True):
        log_size -= arity
        if not _bundle_ok(bundle, 4 << arity, log_size, q):
            return False
    return True


def _replay(proof: Proof, air: Air) -> _Replay | Reason:
    """Re-run the Fiat–Shamir transcript exactly as the prover did."""
    body, params = proof.body, proof.params
    k = body.rows_log2
    ts = Transcript()
    absorb_statement(ts, params, air, k, proof.public_inputs.to_bytes())
    ts.absorb(body.trace_root)
    alpha = ts.draw_ext()
    ts.absorb(body.composition_root)
    z = draw_ood_point(ts, k, params.log_blowup)
    ts.absorb(exts_to_bytes(body.ood_values))
    gamma = ts.draw_ext()
    betas = []
    for root, arity in zip(body.fri_roots, fri_arities(k, params), strict=True):
        ts.absorb(root)
        betas.append(tuple(ts.draw_ext() for _ in range(arity)))
    ts.absorb(exts_to_bytes(body.final_poly))
    if not is_valid_pow(ts.state, body.pow_nonce, params.pow_bits):
        return Reason.POW_INVALID
    ts.absorb(body.pow_nonce.to_bytes(8, "little"))
    indices = draw_query_indices(ts, 1 << (k + params.log_blowup), params.num_queries)
    return _Replay(alpha, z, gamma, tuple(betas), indices)


def _check_indices(claimed: Sequence[int], derived: list[int], domain_size: int) -> Reason | None:
    """The proof's index list must equal the locally derived one (rpp-stark rule)."""
    if any(i >= domain_size for i in claimed):
        return Reason.INDICES_OUT_OF_RANGE
    if len(set(claimed)) != len(claimed):
        return Reason.INDICES_DUPLICATE
    if list(claimed) != sorted(claimed):
        return Reason.INDICES_NOT_SORTED
    if list(claimed) != derived:
        return Reason.INDICES_MISMATCH
    return None


def _zerofier_inverse(kind: str, row: int, z: Ext, k: int) -> Ext:
    """1/Z_d(z) for one constraint domain."""
    n, omega = 1 << k, root_of_unity(k)
    if kind == ALL_ROWS:
        return (z**n - 1).inverse()
    if kind == TRANSITION:
        return (z - pow(omega, n - 1, P)) * (z**n - 1).inverse()
    if kind == ROW:
        return (z - pow(omega, row, P)).inverse()
    raise ValueError(f"unknown constraint domain {kind!r}")


def composition_at(air: Air, proof: Proof, alpha: Ext, z: Ext) -> Ext:
    """H(z) from the out-of-domain trace values: Σ αⁱ·Cᵢ(T(z), T(ωz))/Zᵢ(z)."""
    k, w = proof.body.rows_log2, air.width
    ood = proof.body.ood_values
    table = air.periodic_table
    periodic = periodic_at(periodic_coefficients(table), z, k) if table.shape[0] else []
    cur = [*ood[:w], *periodic]
    values = air.evaluate(cur, ood[w : 2 * w], air.public_constants(proof.public_inputs))
    inverses = {key: _zerofier_inverse(*key, z, k) for key in air.domains(1 << k)}
    total, power = Ext(0), Ext(1)
    for value, constraint in zip(values, air.constraints, strict=True):
        total = total + power * Ext.lift(value) * inverses[constraint.domain_key(1 << k)]
        power = power * alpha
    return total


def composition_from_chunks(air: Air, proof: Proof, z: Ext) -> Ext:
    """Σ_i z^(i·n)·H_i(z), H_i(z) = Σ_c X^c·C_(4i+c)(z)."""
    n, w = 1 << proof.body.rows_log2, air.width
    chunks = proof.body.ood_values[2 * w :]
    zn, total, power = z**n, Ext(0), Ext(1)
    for i in range(air.num_chunks):
        h_i = Ext(0)
        for c in range(4):
            h_i = h_i + Ext.basis(c) * chunks[4 * i + c]
        total = total + power * h_i
        power = power * zn
    return total


class _DeepEvaluator:
    """DEEP(x) at the queried points from the opened rows (mirror of reference/deep.py).

    1/(x − z) = R_z(x)/M_z(x) with base M_z(x), so each point needs one base inversion;
    all queries are evaluated together with numpy.
    """

    def __init__(self, air: Air, ood: Sequence[Ext], z: Ext, zw: Ext, gamma: Ext) -> None:
        w = air.width
        g = deep_coefficients(gamma, len(ood))
        g1 = g[:w] + g[2 * w :]
        self.g1 = [[gi.c[c] for gi in g1] for c in range(4)]
        self.g2 = [[gi.c[c] for gi in g[w : 2 * w]] for c in range(4)]
        self.c1 = scalar_combination([*ood[:w], *ood[2 * w :]], g1)
        self.c2 = scalar_combination(ood[w : 2 * w], g[w : 2 * w])
        self.m1, self.r1 = conjugate_polynomials(z)
        self.m2, self.r2 = conjugate_polynomials(zw)

    def at_many(self, xs: np.ndarray, trace_rows: np.ndarray, comp_rows: np.ndarray) -> np.ndarray:
        """``at`` for every query at once: (q,) points, (q, w) and (q, 4Q) rows → (q, 4)."""
        rows = np.concatenate([trace_rows, comp_rows], axis=1)
        s1 = _combine_rows(rows, self.g1, self.c1.c)
        s2 = _combine_rows(trace_rows, self.g2, self.c2.c)
        a, b = _horner_many(self.m1, xs), _horner_many(self.m2, xs)
        inv_ab = vinv(a * b % P64)
        t = ext_vmul(s1, _ext_poly_many(self.r1, xs)) * b[None, :] % P64
        u = ext_vmul(s2, _ext_poly_many(self.r2, xs)) * a[None, :] % P64
        return ((t + u) % P64 * inv_ab[None, :] % P64).T


def _combine_rows(rows: np.ndarray, coeffs: list[list[int]], const: tuple[int, ...]) -> np.ndarray:
    """(4, q): Σ_j coeffs[c][j]·rows[:, j] − const[c], exact (16-bit split of the coefficients
    keeps every partial dot product below 2^63)."""
    out = np.empty((4, rows.shape[0]), dtype=np.uint64)
    for c in range(4):
        g = np.array(coeffs[c], dtype=np.uint64)
        high = rows @ (g >> np.uint64(16)) % P64
        low = rows @ (g & np.uint64(0xFFFF)) % P64
        out[c] = (high * np.uint64(1 << 16) + low + np.uint64(P - const[c])) % P64
    return out


def _horner_many(coeffs: Sequence[int], xs: np.ndarray) -> np.ndarray:
    """A base polynomial (low → high) at many base points."""
    acc = np.zeros_like(xs)
    for c in reversed(coeffs):
        acc = (acc * xs + np.uint64(c)) % P64
    return acc


def _ext_poly_many(coeffs: Sequence[Ext], xs: np.ndarray) -> np.ndarray:
    """(4, q): an extension-coefficient polynomial at many base points."""
    return evaluate_at_base_points(coeffs, xs).T.copy()


def _check_paths(root: bytes, bundle: MerkleOpenings, leaf_indices: Sequence[int]) -> bool:
    """Every opened leaf of a bundle sits at its index under ``root``.

    The paths are hashed together by the numba BLAKE2s kernel (bit-identical to hashlib,
    tests/prover/test_merkle.py); reference/merkle.is_valid_path is the same rule per path.
    """
    return fast_merkle.is_valid_paths(
        root, list(bundle.leaves), list(leaf_indices), list(bundle.paths)
    )


def _check_queries(proof: Proof, air: Air, replay: _Replay, deep: _DeepEvaluator) -> Reason | None:
    """Merkle paths, DEEP values, FRI folds (vectorised over queries) and final polynomial."""
    body, params = proof.body, proof.params
    indices = replay.indices
    log_size = body.rows_log2 + params.log_blowup
    rows = []
    for root, bundle, width in (
        (body.trace_root, body.trace_openings, air.width),
        (body.composition_root, body.composition_openings, 4 * air.num_chunks),
    ):
        group = leaf_group(width)
        if not _check_paths(root, bundle, [i // group for i in indices]):
            return Reason.MERKLE_VERIFY_FAILED
        rows.append(
            [
                leaf[(i % group) * width : (i % group + 1) * width]
                for i, leaf in zip(indices, bundle.leaves, strict=True)
            ]
        )
    xs = np.array([domain_point(log_size, 0, i) for i in indices], dtype=np.uint64)
    expected = deep.at_many(
        xs, np.array(rows[0], dtype=np.uint64), np.array(rows[1], dtype=np.uint64)
    )
    roots, bundles = body.fri_roots, body.fri_openings
    return check_fri(roots, bundles, replay.betas, body.final_poly, indices, expected, log_size)


def check_fri(
    roots: Sequence[bytes],
    bundles: Sequence[MerkleOpenings],
    betas: Sequence[Sequence[Ext]],
    final_poly: Sequence[Ext],
    indices: Sequence[int],
    expected: np.ndarray,
    log_size: int,
) -> Reason | None:
    """FRI query phase: each layer's group holds the expected value, folds to the next,
    and the last fold equals the final polynomial (vectorised over the queries).

    ``expected`` is (q, 4): the layer-0 values the verifier computed itself (DEEP).
    """
    positions, shift_log, count = np.array(indices, dtype=np.int64), 0, len(indices)
    for root, bundle, layer_betas in zip(roots, bundles, betas, strict=True):
        arity = len(layer_betas)
        groups = positions >> arity
        if not _check_paths(root, bundle, groups.tolist()):
            return Reason.MERKLE_VERIFY_FAILED
        values = np.array(bundle.leaves, dtype=np.uint64).reshape(count, 1 << arity, 4)
        if (values[np.arange(count), positions & ((1 << arity) - 1)] != expected).any():
            return Reason.DEEP_MISMATCH if shift_log == 0 else Reason.FRI_VERIFY_FAILED
        expected = fold_groups(values, layer_betas, log_size, shift_log, groups.tolist())
        positions, log_size, shift_log = groups, log_size - arity, shift_log + arity
    xs = np.array([domain_point(log_size, shift_log, i) for i in positions.tolist()], np.uint64)
    if (evaluate_at_base_points(final_poly, xs) != expected).any():
        return Reason.DEEP_MISMATCH if shift_log == 0 else Reason.FRI_VERIFY_FAILED
    return None


def check_proof(
    proof: Any,
    circuit: str | None = None,
    accepted_profiles: frozenset[str] | None = None,
    air: Air | None = None,
) -> Reason:
    """The verification verdict of ``proof`` with the first failing check's reason."""
    if not isinstance(proof, Proof):
        return Reason.NOT_A_PROOF
    if circuit is not None and circuit != proof.circuit:
        return Reason.CIRCUIT_MISMATCH
    air = air if air is not None else AIRS.get(proof.circuit)
    if air is None:
        return Reason.UNKNOWN_CIRCUIT
    failure = _check_statement(proof, air, accepted_profiles)
    if failure is not None:
        return failure
    if not _check_shape(proof, air):
        return Reason.SHAPE_MISMATCH
    replay = _replay(proof, air)
    if isinstance(replay, Reason):
        return replay
    domain_size = 1 << (proof.body.rows_log2 + proof.params.log_blowup)
    failure = _check_indices(proof.body.query_indices, replay.indices, domain_size)
    if failure is not None:
        return failure
    if composition_at(air, proof, replay.alpha, replay.z) != composition_from_chunks(
        air, proof, replay.z
    ):
        return Reason.COMPOSITION_INCONSISTENT
    zw = replay.z * root_of_unity(proof.body.rows_log2)
    deep = _DeepEvaluator(air, proof.body.ood_values, replay.z, zw, replay.gamma)
    failure = _check_queries(proof, air, replay, deep)
    return Reason.ACCEPTED if failure is None else failure


def verify_reason(
    proof: Any, circuit: str | None = None, accepted_profiles: frozenset[str] | None = None
) -> Reason:
    """``check_proof`` behind a last-resort guard: a bug becomes INTERNAL_ERROR, not a crash."""
    try:
        return check_proof(proof, circuit, accepted_profiles)
    except Exception:
        return Reason.INTERNAL_ERROR


def verify(proof: Any, circuit: str | None = None) -> bool:
    """True iff ``proof`` is a valid numba-stark proof (of ``circuit``, when given)."""
    return verify_reason(proof, circuit) is Reason.ACCEPTED
