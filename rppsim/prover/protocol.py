"""Protocol steps shared by prover and verifier (docs/proofs.md#protocol).

The prover (stark.py) and the verifier (verifier.py) call these same functions, so the
transcript sequence, the FRI layer plan, the out-of-domain point and the query indices
cannot drift between the two.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from rppsim.prover.airs.base import Air
from rppsim.prover.codec import ByteWriter
from rppsim.prover.params import StarkParams
from rppsim.prover.reference.field import GENERATOR, Ext, P, bit_reverse, root_of_unity
from rppsim.prover.reference.transcript import Transcript

PROOF_VERSION = 1
PUBLIC_PERSON = b"rps-pubi"
MAX_FRI_FOLDS = 32


def absorb_statement(
    ts: Transcript, params: StarkParams, air: Air, rows_log2: int, public_inputs: bytes
) -> None:
    """Step 1: bind params digest, circuit, trace shape and public inputs before any root."""
    out = ByteWriter()
    out.raw(params.digest())
    out.u16(air.circuit_id)
    out.short_str(air.name)
    out.u8(rows_log2)
    out.u16(air.width)
    out.blob(public_inputs)
    ts.absorb(out.getvalue())


LEAF_TARGET_FELTS = 32  # two BLAKE2s blocks


def leaf_group(width: int) -> int:
    """LDE rows per Merkle leaf: enough rows for 32 felts (two BLAKE2s blocks), at most 8.

    Hashing a leaf costs one compression per 16 felts, but every leaf also costs a tree
    node; grouping narrow rows (16 trace columns, 4 or 8 composition columns) halves or
    quarters the nodes for a few more opened felts. The verifier picks its row.
    """
    group = 1
    while group * width < LEAF_TARGET_FELTS and group < 8:
        group <<= 1
    return group


def final_log_len(rows_log2: int, params: StarkParams) -> int:
    """log₂ of the number of final-polynomial coefficients."""
    return min(params.log_final_poly_len, rows_log2)


def fri_arities(rows_log2: int, params: StarkParams) -> tuple[int, ...]:
    """Binary folds per committed FRI layer: fold by 2^arity, the last layer maybe less."""
    folds = rows_log2 - final_log_len(rows_log2, params)
    full, rest = divmod(folds, params.fri_log_arity)
    return (params.fri_log_arity,) * full + ((rest,) if rest else ())


@lru_cache(maxsize=256)
def _layer_constants(log_size: int, shift_log: int) -> tuple[int, int]:
    """(g^(2^shift_log), ω_(2^log_size))."""
    return pow(GENERATOR, 1 << shift_log, P), root_of_unity(log_size)


def domain_point(log_size: int, shift_log: int, position: int) -> int:
    """The point at bit-reversed ``position`` of g^(2^shift_log)·⟨ω_(2^log_size)⟩."""
    shift, root = _layer_constants(log_size, shift_log)
    return shift * pow(root, bit_reverse(position, log_size), P) % P


def is_in_domains(z: Ext, rows_log2: int, log_blowup: int) -> bool:
    """True when z (or ω·z) is in the trace domain or the LDE coset: division by zero."""
    n, size = 1 << rows_log2, 1 << (rows_log2 + log_blowup)
    shifted = z * pow(GENERATOR, P - 2, P)
    return z**n == 1 or shifted**size == 1


def draw_ood_point(ts: Transcript, rows_log2: int, log_blowup: int) -> Ext:
    """Step 4: z from the extension, redrawn in the (negligible) case it hits a domain."""
    z = ts.draw_ext()
    while is_in_domains(z, rows_log2, log_blowup):
        z = ts.draw_ext()
    return z


def draw_query_indices(ts: Transcript, domain_size: int, num_queries: int) -> list[int]:
    """Step 8: q uniform indices, sorted and deduplicated (the rpp-stark rule)."""
    return sorted({ts.draw_index(domain_size) for _ in range(num_queries)})


def ood_counts(air: Air) -> tuple[int, int, int]:
    """(trace at z, trace at ω·z, composition columns at z)."""
    return air.width, air.width, 4 * air.num_chunks


def public_digest(air: Air, public_inputs: bytes) -> bytes:
    """BLAKE2s(person="rps-pubi")(circuit id u16 ‖ public-input bytes): the body's digest."""
    return hashlib.blake2s(
        air.circuit_id.to_bytes(2, "little") + public_inputs, person=PUBLIC_PERSON
    ).digest()
