"""The proof-size gate (docs/operations.md#proof-systems-and-the-size-gate size limits;
HUBId/chain:vendor/rpp-stark/docs/PROOF_SIZE_GATE.md).

Sizes are compared in KiB rounded up: got_kib = ⌈len/1024⌉, and a proof passes when
len ≤ max_kib·1024 (511.5 KiB passes a 512 KiB limit, 512.5 KiB does not). Errors carry
the chain's codes and messages; ``str(error)`` is the chain's ChainError::ProofSizeGate
text "proof size gate failed for <Backend>/<circuit>: <detail>".
"""

from __future__ import annotations

from dataclasses import dataclass

U32_MAX = (1 << 32) - 1
KIB = 1024
DEFAULT_MAX_PROOF_SIZE_BYTES = 4 * 1024 * 1024  # node max_proof_size_bytes
# (docs/operations.md#root-keys)
SIZE_BUCKETS = (
    ("le_512_kib", 512 * KIB),
    ("le_1_mib", 1024 * KIB),
    ("le_2_mib", 2048 * KIB),
    ("le_4_mib", 4096 * KIB),
)
OVERFLOW_BUCKET = "gt_4_mib"

LIMIT_MISMATCH = "LimitMismatch"
LIMIT_OVERFLOW = "LimitOverflow"
PROOF_TOO_LARGE = "ProofTooLarge"


def kib_ceil(size_bytes: int) -> int:
    """⌈size/1024⌉."""
    return -(-size_bytes // KIB)


def size_bucket(size_bytes: int) -> str:
    """The telemetry bucket of a proof size (docs/operations.md#proof-systems-and-the-size-gate)."""
    for name, limit in SIZE_BUCKETS:
        if size_bytes <= limit:
            return name
    return OVERFLOW_BUCKET


@dataclass(frozen=True)
class ProofSizeGateError(Exception):
    """A ``ProofSizeGateError`` wrapped as the chain's ``ChainError::ProofSizeGate``."""

    code: str
    backend: str
    circuit: str
    max_kib: int = 0
    got_kib: int = 0
    params_kib: int = 0
    expected_kib: int = 0

    @property
    def detail(self) -> str:
        """The inner error's message."""
        if self.code == LIMIT_MISMATCH:
            return (
                f"parameter limit mismatch: params={self.params_kib} KiB, "
                f"node={self.expected_kib} KiB"
            )
        if self.code == LIMIT_OVERFLOW:
            return f"parameter limit overflow: max {self.max_kib} KiB cannot be mapped to bytes"
        return f"proof too large: limit {self.max_kib} KiB, got {self.got_kib} KiB"

    def __str__(self) -> str:
        return f"proof size gate failed for {self.backend}/{self.circuit}: {self.detail}"


def check_proof_size(
    size_bytes: int,
    params_max_kib: int,
    node_max_bytes: int,
    backend: str,
    circuit: str,
    strict_limit_match: bool = True,
) -> None:
    """Raise ProofSizeGateError unless the proof fits both the params and the node limit.

    Order: the params limit must map to bytes (LimitOverflow), equal the node's limit in
    KiB (LimitMismatch; the chain's rule, skipped when ``strict_limit_match`` is False),
    and hold the proof (ProofTooLarge, against the smaller of the two limits).
    """
    if params_max_kib * KIB > U32_MAX:
        raise ProofSizeGateError(LIMIT_OVERFLOW, backend, circuit, max_kib=params_max_kib)
    expected_kib = kib_ceil(node_max_bytes)
    if strict_limit_match and params_max_kib != expected_kib:
        raise ProofSizeGateError(
            LIMIT_MISMATCH, backend, circuit, params_kib=params_max_kib, expected_kib=expected_kib
        )
    max_kib = min(params_max_kib, expected_kib)
    if size_bytes > max_kib * KIB:
        raise ProofSizeGateError(
            PROOF_TOO_LARGE, backend, circuit, max_kib=max_kib, got_kib=kib_ceil(size_bytes)
        )
