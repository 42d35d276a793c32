"""``rppsim bench vrf``: ECVRF prove/verify rates and VRF selection time on one core.

Targets (docs/architecture.md#engines budget for a 10,000-node round): ≥ 2,500 verifies/s, and
selecting from
10,000 submissions in ≤ 50 ms with verification excluded (its results are precomputed).
The selection pools use deterministic synthetic VRF outputs: ``select_validators`` gets a
precomputed verdict per submission, so whether a proof verifies is not what is timed.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from functools import partial

from rich.console import Console
from rich.table import Table

from rppsim.argtypes import OneLineParser, positive, positive_number
from rppsim.node import vrf
from rppsim.node.reputation import Tier
from rppsim.node.selection import VrfProof, VrfSubmission, select_validators
from rppsim.node.vrf_input import PoseidonVrfInput, compute_vrf_input_digest, derive_tier_seed

VERIFY_TARGET_PER_SEC = 2500
SELECTION_TARGET_MS = 50.0
SELECTION_TARGET_POOL = 10_000
DEFAULT_TARGET_VALIDATORS = 100


def _seed(*parts: object) -> bytes:
    return hashlib.blake2s("/".join(str(p) for p in ("rppsim-bench-vrf", *parts)).encode()).digest()


def _rate(action: Callable[[int], object], seconds: float) -> tuple[float, int]:
    """Calls per second of ``action(i)`` over about ``seconds`` of wall time."""
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        action(count)
        count += 1
    return count / (time.perf_counter() - start), count


def measure_vrf(seconds: float) -> dict[str, float]:
    """prove/s, verify/s (non-memoized) and input-digest/s with one key and varying alpha."""
    secret, public_key = vrf.keypair(_seed("key"))
    alphas = [_seed("alpha", i) for i in range(512)]
    proofs = [vrf.prove(secret, alpha) for alpha in alphas]
    prove_rate, _ = _rate(lambda i: vrf.prove(secret, alphas[i % 512]), seconds)
    verify_rate, _ = _rate(
        lambda i: vrf.verify(public_key, alphas[i % 512], proofs[i % 512]), seconds
    )
    inputs = [PoseidonVrfInput(_seed("tip"), 7, _seed("tier", i)) for i in range(512)]
    digest = getattr(compute_vrf_input_digest, "__wrapped__", compute_vrf_input_digest)
    digest_rate, _ = _rate(lambda i: digest(inputs[i % 512]), seconds)
    return {"prove": prove_rate, "verify": verify_rate, "digest": digest_rate}


def measure_verify_ceiling(samples: int = 256) -> float:
    """Verifies/s libsodium allows here: an ECVRF verify needs three variable-base scalar
    multiplications (c·Y, s·H, c·Gamma) and one fixed-base one (s·B), RFC 9381 §5.3; this is
    their cost alone, best of three passes, without hashing, decoding or point additions."""
    from nacl import bindings

    scalars = [_seed("scalar", i)[:31] + b"\x00" for i in range(samples)]
    points = [bindings.crypto_scalarmult_ed25519_base_noclamp(n) for n in scalars]
    best_var = best_base = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for n, point in zip(scalars, reversed(points), strict=True):
            bindings.crypto_scalarmult_ed25519_noclamp(n, point)
        best_var = min(best_var, (time.perf_counter() - start) / samples)
        start = time.perf_counter()
        for n in scalars:
            bindings.crypto_scalarmult_ed25519_base_noclamp(n)
        best_base = min(best_base, (time.perf_counter() - start) / samples)
    return 1.0 / (3 * best_var + best_base)


def measure_reference_seconds() -> float:
    """Seconds for ``sum(range(10**7))``: a yardstick to compare runs across machines."""
    start = time.perf_counter()
    sum(range(10**7))
    return time.perf_counter() - start


def build_pool(size: int, hours_max: int) -> list[VrfSubmission]:
    """``size`` Tl3–Tl5 submissions with synthetic outputs and hours in 1..hours_max."""
    header = _seed("tip")
    pool = []
    for i in range(size):
        address = hashlib.blake2s(b"bench-address-%d" % i).hexdigest()
        beta = hashlib.sha512(_seed("beta", i)).digest()
        hours = 1 + i * 7919 % hours_max
        tier = Tier(3 + i % 3)
        vrf_input = PoseidonVrfInput(header, 1, derive_tier_seed(address, hours))
        proof = VrfProof(int.from_bytes(beta[:32], "big"), beta, _seed("pi", i) * 2 + bytes(16))
        pool.append(VrfSubmission(address, _seed("pk", i), vrf_input, proof, tier, hours))
    return pool


def time_selection(
    make_pool: Callable[[], list[VrfSubmission]], target: int, repeat: int
) -> tuple[float, float]:
    """(median, best) milliseconds of ``select_validators`` with precomputed verdicts.

    Each measurement gets a freshly built pool, so nothing carries over between runs. The
    result is kept until the clock stops, as a node keeps its selection for the round: its
    deallocation is not part of selecting.
    """
    samples = []
    for _ in range(repeat):
        pool = make_pool()
        verdicts = {submission.address: True for submission in pool}

        def verify(submission: VrfSubmission, verdicts: dict[str, bool] = verdicts) -> bool:
            return verdicts[submission.address]

        start = time.perf_counter()
        result = select_validators(pool, target, verify=verify)
        samples.append((time.perf_counter() - start) * 1000.0)
        del result, pool, verdicts
    return statistics.median(samples), min(samples)


def main(argv: list[str]) -> int:
    """Print the VRF rates and selection times beside their targets."""
    parser = OneLineParser(prog="rppsim bench vrf", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=positive_number, default=2.0, help="time per rate measurement"
    )
    parser.add_argument("--repeat", type=positive, default=7, help="selection runs per pool size")
    parser.add_argument(
        "--target", type=positive, default=DEFAULT_TARGET_VALIDATORS, help="target_validator_count"
    )
    args = parser.parse_args(argv)
    console = Console()
    rates = measure_vrf(args.seconds)
    table = Table(title="VRF (ECVRF-EDWARDS25519-SHA512-TAI on libsodium), one core")
    for column in ("measurement", "figure", "target", "ok"):
        table.add_column(column, justify="right" if column != "measurement" else "left")
    table.add_row("prove", f"{rates['prove']:,.0f} /s", "", "")
    verify_ok = rates["verify"] >= VERIFY_TARGET_PER_SEC
    table.add_row(
        "verify (not memoized)",
        f"{rates['verify']:,.0f} /s",
        f"≥ {VERIFY_TARGET_PER_SEC:,} /s",
        "yes" if verify_ok else "NO",
    )
    table.add_row(
        "verify ceiling: libsodium's 3 variable- + 1 fixed-base scalar mults alone",
        f"{measure_verify_ceiling():,.0f} /s",
        "",
        "",
    )
    table.add_row("VRF input digest (Poseidon, not memoized)", f"{rates['digest']:,.0f} /s", "", "")
    for size, hours_max, label in (
        (100, 720, "hours 1..720"),
        (1_000, 720, "hours 1..720"),
        (10_000, 720, "hours 1..720"),
        (10_000, 1, "all 1 h (many misses)"),
    ):
        median, best = time_selection(
            partial(build_pool, size, hours_max),
            args.target,
            args.repeat,
        )
        is_target = size == SELECTION_TARGET_POOL
        table.add_row(
            f"select {size:,} ({label}), target {args.target}",
            f"{median:.1f} ms (best {best:.1f})",
            f"≤ {SELECTION_TARGET_MS:.0f} ms" if is_target else "",
            ("yes" if median <= SELECTION_TARGET_MS else "NO") if is_target else "",
        )
    console.print(table)
    console.print(
        f"machine yardstick: sum(range(10**7)) took {measure_reference_seconds():.3f} s "
        "(compare runs on different machines by this figure)"
    )
    return 0
