"""The libsodium floor the benches print beside their figures."""

import pytest

from rppsim.bench._floor import CryptoCosts, measure_crypto_costs
from rppsim.bench.sim import compute_floor_ratio

COSTS = CryptoCosts(vrf_prove_s=0.5e-3, vrf_verify_s=1.0e-3, sign_s=0.05e-3, sign_verify_s=0.1e-3)


def test_height_floor_counts_vrf_per_validator_and_two_votes_plus_a_proposal():
    # 7 validators: 7 × 1.5 ms of VRF, 15 signed messages × 0.15 ms.
    assert COSTS.get_height_floor_s(7) == pytest.approx(7 * 1.5e-3 + 15 * 0.15e-3)
    assert COSTS.get_height_floor_s(0) == pytest.approx(0.15e-3)  # the proposal alone


def test_run_floor_adds_transactions_and_scales_with_heights():
    per_height = COSTS.get_height_floor_s(4)
    assert COSTS.get_run_floor_s(4, 10, 0) == pytest.approx(10 * per_height)
    assert COSTS.get_run_floor_s(4, 10, 20) == pytest.approx(10 * per_height + 20 * 0.15e-3)


def test_floor_ratio_of_a_run():
    # One hour, 720 heights of 21 validators, 2 tx/s.
    floor_s = 720 * COSTS.get_height_floor_s(21) + 7200 * 0.15e-3
    assert compute_floor_ratio(COSTS, 21, 3_600_000, 720, 2.0) == pytest.approx(3600 / floor_s)


def test_measured_costs_are_positive_and_ordered():
    costs = measure_crypto_costs(samples=8)
    assert 0 < costs.sign_s < costs.vrf_prove_s
    assert 0 < costs.sign_verify_s < costs.vrf_verify_s


def test_peak_rss_is_this_process_not_an_inherited_high_water_mark():
    """A fresh child reports its own peak, well below a parent that grew first."""
    import subprocess
    import sys

    from rppsim.bench.sim import get_peak_rss_bytes

    ballast = bytearray(300 * 2**20)  # the parent's resident set grows by 300 MiB
    ballast[::4096] = b"\x01" * len(ballast[::4096])
    code = "from rppsim.bench.sim import get_peak_rss_bytes; print(get_peak_rss_bytes())"
    child = int(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    assert get_peak_rss_bytes() > 300 * 2**20
    assert child < get_peak_rss_bytes() - 200 * 2**20
    del ballast
