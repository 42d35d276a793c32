"""Parameter profiles and their canonical bytes and digest (docs/proofs.md#profiles).

Conjectured security = log₂(blowup)·queries + pow_bits (the ethSTARK/STWO convention),
capped by the quartic extension (|F| ≈ 2^123.9, so 123 bits) and by BLAKE2s-256 (128).
Every profile carries the chain's proof size limit, 4 MiB, as ``max_proof_kib``
(docs/operations.md#proof-systems-and-the-size-gate, the rpp-stark params header that the size gate
compares with).

``standard`` trades 4 PoW bits for 2 queries against docs/proofs.md#profiles (44 queries and
12 bits instead of 42 and 16: both 100 conjectured bits). Grinding 2^16 BLAKE2s nonces
takes ~14 ms on the calibration machine, half of a 2^10-row proof, while two more queries
add ~3.5 KiB and ~5 % verify time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from rppsim.prover.codec import ByteReader
from rppsim.prover.errors import ProofFormatError

PARAMS_VERSION = 1
FIELD_BABYBEAR_X4 = 1  # BabyBear with challenges in F_p[X]/(X⁴ − 11)
HASH_BLAKE2S = 1
EXTENSION_BITS = 123  # ⌊log₂ p⁴⌋
HASH_BITS = 128
DEFAULT_MAX_PROOF_KIB = 4096  # 4 MiB, the chain's max_proof_size_bytes
PARAMS_PERSON = b"rps-parm"


@dataclass(frozen=True, slots=True)
class StarkParams:
    """One parameter profile of the numba STARK."""

    name: str
    log_blowup: int
    num_queries: int
    pow_bits: int
    fri_log_arity: int = 3  # fold by 8 per committed FRI layer
    log_final_poly_len: int = 3  # at most 8 final coefficients
    max_proof_kib: int = DEFAULT_MAX_PROOF_KIB

    @property
    def blowup(self) -> int:
        """The LDE blowup factor B."""
        return 1 << self.log_blowup

    @property
    def nominal_security_bits(self) -> int:
        """log₂(B)·q + pow_bits, before the caps."""
        return self.log_blowup * self.num_queries + self.pow_bits

    @property
    def conjectured_security_bits(self) -> int:
        """Nominal bits capped by the extension field and by BLAKE2s-256."""
        return min(self.nominal_security_bits, EXTENSION_BITS, HASH_BITS)

    def to_bytes(self) -> bytes:
        """Canonical bytes: every field little-endian, the name length-prefixed."""
        name = self.name.encode("ascii")
        return b"".join(
            [
                PARAMS_VERSION.to_bytes(2, "little"),
                len(name).to_bytes(1, "little"),
                name,
                bytes([FIELD_BABYBEAR_X4, HASH_BLAKE2S, self.log_blowup]),
                self.num_queries.to_bytes(2, "little"),
                bytes([self.pow_bits, self.fri_log_arity, self.log_final_poly_len]),
                self.max_proof_kib.to_bytes(4, "little"),
            ]
        )

    def digest(self) -> bytes:
        """BLAKE2s of the canonical bytes: the params hash absorbed and sent in proofs."""
        return hashlib.blake2s(self.to_bytes(), person=PARAMS_PERSON).digest()


def is_valid_params(params: StarkParams) -> bool:
    """Ranges the prover supports: blowup 2..64, 1..255 queries, PoW ≤ 32 bits, arity 1..4."""
    return (
        1 <= params.log_blowup <= 6
        and 1 <= params.num_queries <= 255
        and 0 <= params.pow_bits <= 32
        and 1 <= params.fri_log_arity <= 4
        and 0 <= params.log_final_poly_len <= 6
        and 1 <= params.max_proof_kib < 1 << 32
        and 0 < len(params.name) < 64
        and params.name.isascii()
    )


PROFILES: dict[str, StarkParams] = {
    p.name: p
    for p in (
        StarkParams("test-tiny", log_blowup=2, num_queries=4, pow_bits=0),
        StarkParams("sim", log_blowup=2, num_queries=12, pow_bits=8),
        StarkParams("standard", log_blowup=2, num_queries=44, pow_bits=12),
        StarkParams(
            "chain-parity", log_blowup=5, num_queries=120, pow_bits=16, log_final_poly_len=0
        ),
    )
}


def get_profile(name: str) -> StarkParams:
    """The profile called ``name``; KeyError names the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None


def find_profile(params: StarkParams) -> StarkParams | None:
    """The registered profile equal to ``params``, or None."""
    known = PROFILES.get(params.name)
    return known if known == params else None


def params_from_bytes(data: bytes) -> StarkParams:
    """Parse canonical params bytes; ProofFormatError on anything else."""
    reader = ByteReader(data, what="params")
    if reader.u16() != PARAMS_VERSION:
        raise ProofFormatError("params: unknown params version")
    name = reader.short_str("profile name")
    field_id, hash_id, log_blowup = reader.u8(), reader.u8(), reader.u8()
    num_queries = reader.u16()
    pow_bits, arity, log_final = reader.u8(), reader.u8(), reader.u8()
    max_kib = reader.u32()
    reader.finish()
    if (field_id, hash_id) != (FIELD_BABYBEAR_X4, HASH_BLAKE2S):
        raise ProofFormatError("params: unsupported field or hash")
    params = StarkParams(name, log_blowup, num_queries, pow_bits, arity, log_final, max_kib)
    if not is_valid_params(params):
        raise ProofFormatError("params: values out of range")
    return params
