"""The libsodium floor: the wall time the protocol's own cryptography needs, on this machine.

Whatever the rest of the code costs, each finalized height needs at least
(docs/protocol.md#epochs-and-replay-protection "the seed is the tip hash, so every block needs fresh
submissions", docs/protocol.md#rounds-and-quorum votes):

* one VRF proof and one VRF verification per validator (verifications are memoized
  process-wide by the exact bytes, so each distinct proof is checked once);
* one Ed25519 signature and one verification per vote, two votes per validator, plus the
  signed proposal;
* one signature and one verification per transaction of the traffic.

Timing those libsodium calls here bounds any implementation from above: a bench prints the
bound beside its figure, so a target above the bound is visibly out of this machine's reach.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from rppsim.node import vrf
from rppsim.node.signing import generate_keypair, sign, verify_signature

_SAMPLES = 256


@dataclass(frozen=True, slots=True)
class CryptoCosts:
    """Seconds per libsodium operation, measured on this machine."""

    vrf_prove_s: float
    vrf_verify_s: float
    sign_s: float
    sign_verify_s: float

    def get_height_floor_s(self, validators: int) -> float:
        """Crypto seconds one height needs with ``validators`` validators (module docstring)."""
        vrf_work = validators * (self.vrf_prove_s + self.vrf_verify_s)
        return vrf_work + (2 * validators + 1) * (self.sign_s + self.sign_verify_s)

    def get_run_floor_s(self, validators: int, heights: int, transactions: int) -> float:
        """Crypto seconds a run of ``heights`` heights and ``transactions`` transfers needs."""
        signed = transactions * (self.sign_s + self.sign_verify_s)
        return heights * self.get_height_floor_s(validators) + signed


def _seconds_per_call(action: Callable[[int], object], samples: int) -> float:
    """Best of three passes over ``samples`` distinct inputs (noise only ever adds time)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(samples):
            action(i)
        best = min(best, (time.perf_counter() - start) / samples)
    return best


def measure_crypto_costs(samples: int = _SAMPLES) -> CryptoCosts:
    """Time VRF prove/verify and Ed25519 sign/verify over distinct inputs (no memoization)."""
    seed = hashlib.blake2s(b"rppsim/bench/floor").digest()
    secret, public_key = vrf.keypair(seed)
    keypair = generate_keypair(seed)
    alphas = [hashlib.blake2s(i.to_bytes(4, "big")).digest() for i in range(samples)]
    proofs = [vrf.prove(secret, alpha) for alpha in alphas]
    signatures = [sign(keypair, alpha) for alpha in alphas]
    return CryptoCosts(
        vrf_prove_s=_seconds_per_call(lambda i: vrf.prove(secret, alphas[i]), samples),
        vrf_verify_s=_seconds_per_call(
            lambda i: vrf.verify(public_key, alphas[i], proofs[i]), samples
        ),
        sign_s=_seconds_per_call(lambda i: sign(keypair, alphas[i]), samples),
        sign_verify_s=_seconds_per_call(
            lambda i: verify_signature(keypair.public_key, alphas[i], signatures[i]), samples
        ),
    )
