"""Proof guardrails g09, g11, g12, g13 (rppsim/guardrails/proofs.py)."""

from __future__ import annotations

from rppsim.guardrails.proofs import (
    check_proof_cache,
    check_proof_system_parity,
    check_size_gate,
    check_verifier_sla,
)
from tests.guardrails.frames_b import (
    build_context,
    build_frames,
    build_snapshot,
    get_testnet_config,
)

BLOCKS = [
    {"height": h, "hash": f"h{h}", "proposer": h % 4, "proposed_ms": 5000 * h,
     "proof_system": "model", "tx_count": 1}
    for h in (1, 2, 3)
]  # fmt: skip
INFO = [{"key": "prover", "value": "model"}]


def build_proofs(sizes: dict[int, int], system: str = "model") -> list[dict[str, object]]:
    """One transaction and one consensus proof per height, transaction bytes by height."""
    rows = []
    for height, size in sizes.items():
        rows.append({"height": height, "circuit": "transaction", "system": system, "bytes": size})
        rows.append({"height": height, "circuit": "consensus", "system": system, "bytes": 9000})
    return rows


def test_proof_cache_is_not_applicable_without_counters() -> None:
    frames = build_frames(snapshots=[build_snapshot(0, 1000)])
    verdict = check_proof_cache(frames, build_context(frames))
    assert verdict.passed is None
    assert "no proof-cache counters" in verdict.message


def _cache(node: int, now_ms: int, entries: int, capacity: int = 64) -> dict[str, object]:
    """A snapshot reporting the proof cache's entry count and capacity."""
    counters = {"cache_hits": 3, "cache_misses": entries, "cache_evictions": 0}
    return build_snapshot(node, now_ms, cache_entries=entries, cache_capacity=capacity, **counters)


def test_proof_cache_passes_with_every_sample_within_capacity() -> None:
    """A full cache (entries = capacity) is within the bound; the figure is the worst ratio."""
    snapshots = [_cache(n, t, entries=8 * n + t // 1000) for n in range(4) for t in (2000, 4000)]
    snapshots.append(_cache(3, 6000, entries=64))
    frames = build_frames(snapshots=snapshots)
    verdict = check_proof_cache(frames, build_context(frames))
    assert verdict.passed is True, verdict.message
    assert (verdict.figure, verdict.threshold) == (1.0, 1.0)
    assert verdict.message == "cache utilisation at most 1.00 over 9 samples of 4 nodes"


def test_proof_cache_names_the_first_sample_over_capacity() -> None:
    snapshots = [_cache(n, t, entries=10) for n in range(4) for t in (2000, 4000, 6000)]
    snapshots[7] = _cache(2, 4000, entries=70)  # first over, by time then node
    snapshots[5] = _cache(1, 6000, entries=96)  # later, and the worst
    frames = build_frames(snapshots=snapshots)
    verdict = check_proof_cache(frames, build_context(frames))
    assert verdict.passed is False
    assert (verdict.node, verdict.time_ms) == (2, 4000)
    assert (verdict.figure, verdict.threshold) == (1.5, 1.0)
    assert verdict.message == (
        "2 of 12 samples over cache utilisation 1; first: node 2 at 4000 ms holds 70 entries"
        " for a capacity of 64"
    )
    relaxed = build_context(frames, overrides={"g09-proof-cache": {"max_utilisation": 1.5}})
    assert check_proof_cache(frames, relaxed).passed is True


def test_proof_cache_entries_on_a_zero_capacity_fail_without_a_figure() -> None:
    frames = build_frames(snapshots=[_cache(0, 2000, entries=0, capacity=0),
                                     _cache(1, 2000, entries=1, capacity=0)])  # fmt: skip
    verdict = check_proof_cache(frames, build_context(frames))
    assert verdict.passed is False and verdict.figure is None
    assert (verdict.node, verdict.time_ms) == (1, 2000)


def test_proof_cache_is_not_applicable_without_the_entry_count() -> None:
    frames = build_frames(snapshots=[build_snapshot(0, 1000, cache_hits=4, cache_capacity=64)])
    verdict = check_proof_cache(frames, build_context(frames))
    assert verdict.passed is None
    assert "no sample has both cache_entries and capacity" in verdict.message


def test_verifier_sla_not_applicable_without_counters() -> None:
    frames = build_frames(snapshots=[build_snapshot(0, 1000)])
    verdict = check_verifier_sla(frames, build_context(frames))
    assert verdict.passed is None
    assert "verifier" in verdict.message


def test_verifier_sla_passes_and_fails_on_error_rate() -> None:
    good = {"verifier_stwo_accepted": 100, "verifier_stwo_rejected": 1,
            "verifier_stwo_bypassed": 0, "verifier_stwo_total_duration_ms": 1000}  # fmt: skip
    frames = build_frames(snapshots=[build_snapshot(0, 1000, **good)])
    assert check_verifier_sla(frames, build_context(frames)).passed is True
    bad = good | {"verifier_stwo_rejected": 10}
    frames = build_frames(snapshots=[build_snapshot(0, 1000, **bad)])
    verdict = check_verifier_sla(frames, build_context(frames))
    assert verdict.passed is False
    assert "stwo error rate" in verdict.message
    assert verdict.figure == 10 / 110


def test_parity_passes_on_single_system_blocks() -> None:
    frames = build_frames(blocks=BLOCKS, proofs=build_proofs({1: 10, 2: 10}), run_info=INFO)
    verdict = check_proof_system_parity(frames, build_context(frames))
    assert verdict.passed is True, verdict.message


def test_parity_fails_on_a_mixed_bundle() -> None:
    proofs = build_proofs({1: 10, 2: 10})
    proofs[2]["system"] = "stwo"
    frames = build_frames(blocks=BLOCKS, proofs=proofs, run_info=INFO)
    verdict = check_proof_system_parity(frames, build_context(frames))
    assert verdict.passed is False
    assert "first height 2" in verdict.message
    assert (verdict.node, verdict.time_ms) == (2, 10_000)


def test_parity_fails_when_the_registry_serves_another_system() -> None:
    blocks = [b | {"proof_system": "stwo"} for b in BLOCKS]
    frames = build_frames(blocks=blocks, proofs=build_proofs({1: 10}, "stwo"), run_info=INFO)
    verdict = check_proof_system_parity(frames, build_context(frames))
    assert verdict.passed is False
    assert "registry serves model" in verdict.message


def test_parity_fails_on_unsupported_system_rejections() -> None:
    reason = "message: unsupported proof system stwo in verifier registry"
    rejections = [{"node": 3, "now_ms": 4000, "reason": reason, "count": 2},
                  {"node": 3, "now_ms": 6000, "reason": reason, "count": 5}]  # fmt: skip
    frames = build_frames(
        blocks=BLOCKS, proofs=build_proofs({1: 10}), run_info=INFO, rejections=rejections
    )
    verdict = check_proof_system_parity(frames, build_context(frames))
    assert verdict.passed is False
    assert (verdict.figure, verdict.node, verdict.time_ms) == (5, 3, 4000)


def test_size_gate_passes_under_the_limit() -> None:
    frames = build_frames(blocks=BLOCKS, proofs=build_proofs({1: 13_000, 2: 14_000}))
    verdict = check_size_gate(frames, build_context(frames))
    assert verdict.passed is True
    assert (verdict.figure, verdict.threshold) == (14_000, 4_194_304)


def test_size_gate_names_the_first_oversized_proof() -> None:
    frames = build_frames(blocks=BLOCKS, proofs=build_proofs({1: 1000, 2: 20_000, 3: 30_000}))
    context = build_context(frames, get_testnet_config(max_proof_size_bytes=10_000))
    verdict = check_size_gate(frames, context)
    assert verdict.passed is False
    assert "first: transaction at height 2, proposer 2" in verdict.message
    assert (verdict.figure, verdict.threshold) == (30_000, 10_000)
    assert (verdict.node, verdict.time_ms) == (2, 10_000)


def test_size_gate_fails_on_p90_regression() -> None:
    frames = build_frames(blocks=BLOCKS, proofs=build_proofs({1: 2_000_000, 2: 2_000_000}))
    verdict = check_size_gate(frames, build_context(frames))
    assert verdict.passed is False
    assert "p90" in verdict.message


def test_size_gate_counts_size_rejections() -> None:
    reason = "message: proof size gate failed for RppStark/transaction: proof too large"
    rejections = [{"node": 1, "now_ms": 8000, "reason": reason, "count": 3}]
    frames = build_frames(blocks=BLOCKS, proofs=build_proofs({1: 10}), rejections=rejections)
    verdict = check_size_gate(frames, build_context(frames))
    assert verdict.passed is False
    assert (verdict.figure, verdict.node, verdict.time_ms) == (3, 1, 8000)
