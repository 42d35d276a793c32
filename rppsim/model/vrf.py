"""VRF outputs of the fast model: a counter-based keyed generator, or the real ECVRF.

``counter-splitmix64`` (the default): validator i's randomness at height h is
splitmix64(key ⊕ mix(stream, h, i)) >> 11, a uniform 53-bit fraction of the domain D = 2^256,
which is the distribution of an honest ECVRF output's top 53 bits (the rules read randomness
only through ``randomness / weight`` compared to a threshold, rppsim.model.rules). The key is
drawn from the run's seed tree, so a run is a pure function of (scenario, seed). The same
generator, on other streams, gives each candidate's threshold jitter (the offset fraction of
the span and the sign bit of ``compute_threshold_for_seed``), the transactions of a block
and their fees.

``ecvrf``: the node's own ECVRF (``rppsim.node.vrf``) over the chain's VRF input digest
(``compute_vrf_input_digest``: the model's previous block hash, the epoch and the tier seed of
the declared hours), and the real BLAKE2s threshold jitter. About a millisecond per validator
and height: for small runs.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numba import njit

from rppsim.node import vrf as ecvrf
from rppsim.node.selection import THRESHOLD_DOMAIN, VRF_RANDOMNESS_DOMAIN
from rppsim.node.vrf_input import PoseidonVrfInput, compute_vrf_input_digest, derive_tier_seed

__all__ = [
    "STREAM_FEES",
    "STREAM_JITTER",
    "STREAM_RANDOMNESS",
    "STREAM_TXS",
    "VRF_MODES",
    "compute_ecvrf_row",
    "compute_hash",
    "compute_uniform",
]

VRF_MODES = ("counter-splitmix64", "ecvrf")
STREAM_RANDOMNESS = 1
STREAM_JITTER = 2
STREAM_TXS = 3
STREAM_FEES = 4
_U53 = float(1 << 53)
_M64 = (1 << 64) - 1


@njit(cache=True)
def compute_hash(key: np.uint64, stream: int, height: int, index: int) -> np.uint64:
    """splitmix64 of the key mixed with (stream, height, index): 64 uniform bits."""
    z = (
        key
        ^ (np.uint64(stream) * np.uint64(0xD1B54A32D192ED03))
        ^ (np.uint64(height) * np.uint64(0x9E3779B97F4A7C15))
        ^ (np.uint64(index) * np.uint64(0xC2B2AE3D27D4EB4F))
    )
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def compute_uniform(key: np.uint64, stream: int, height: int, index: int) -> float:
    """A uniform fraction in [0, 1) with 53 bits."""
    return float(compute_hash(key, stream, height, index) >> np.uint64(11)) / 9007199254740992.0


def compute_ecvrf_row(
    secrets: list[bytes],
    addresses: list[str],
    hours: np.ndarray,
    previous_hash: bytes,
    epoch: int,
    span: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real ECVRF randomness fractions, jitter offsets / D and jitter signs of one height.

    ``span`` is ``adjustment_span`` for a pool of every validator (D // 4n); the caller turns
    the offsets into fractions of it, which the kernel scales by its own pool's span, so the
    jitter is the chain's exactly when every validator submitted and a uniform fraction of
    the span otherwise."""
    n = len(secrets)
    randomness = np.empty(n)
    offsets = np.empty(n)
    lower = np.empty(n, np.bool_)
    prefix = THRESHOLD_DOMAIN + epoch.to_bytes(8, "big")
    for i in range(n):
        seed = derive_tier_seed(addresses[i], int(hours[i]))
        alpha = compute_vrf_input_digest(PoseidonVrfInput(previous_hash, epoch, seed))
        beta = ecvrf.proof_to_hash(ecvrf.prove(secrets[i], alpha))
        randomness[i] = (int.from_bytes(beta[:32], "big") >> 203) / _U53
        jitter = hashlib.blake2s(prefix + seed).digest()
        offsets[i] = (int.from_bytes(jitter, "big") % max(span, 1)) / VRF_RANDOMNESS_DOMAIN
        lower[i] = bool(jitter[0] & 1)
    return randomness, offsets, lower
