"""Valid example statements of exactly 2^rows_log2 trace rows, for tests and benchmarks.

``example_statement(circuit, rows_log2, seed)`` returns (public_inputs, witness); the same
arguments always give the same statement (numpy Generator seeded with ``seed``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np

from rppsim.prover.airs import consensus, get_air, recursive, synthetic, transaction, uptime
from rppsim.prover.reference.field import P


def _uptime(rows_log2: int, rng: np.random.Generator) -> tuple[Any, Any]:
    """A heartbeat every 300–1023 s, online ~90 % of the gaps, a random accrual cap."""
    n = 1 << rows_log2
    beats = n - int(rng.integers(0, max(n // 8, 1)))
    start = int(rng.integers(0, 1 << 27))
    gaps = rng.integers(300, uptime.MAX_GAP + 1, size=beats - 1)
    heartbeats = [start, *(start + np.cumsum(gaps)).tolist()]
    online = (rng.random(beats - 1) < 0.9).astype(int).tolist()
    online_secs = int(np.dot(online, gaps))
    hours = online_secs // uptime.SECONDS_PER_HOUR
    cap = max(hours + int(rng.integers(-2, 3)), 0)
    return uptime.make_statement(
        wallet=rng.bytes(32),
        head_hash=rng.bytes(32),
        epoch=int(rng.integers(1, 1000)),
        heartbeats=heartbeats,
        online=online,
        node_clock=heartbeats[-1] + int(rng.integers(0, 600)),
        cap_remaining_hours=min(cap, uptime.MAX_CREDIT_HOURS),
    )


def _transaction(rows_log2: int, rng: np.random.Generator) -> tuple[Any, Any]:
    """Between 7/8 and all of the rows hold transfers with random balances and fees."""
    n = 1 << rows_log2
    count = n - int(rng.integers(0, max(n // 8, 1)))
    amounts = rng.integers(1, 1 << 20, size=count)
    fees = rng.integers(0, 1 << 10, size=count)
    after = rng.integers(0, 1 << 29, size=count)
    transfers = [
        transaction.Transfer(
            amount=int(a),
            fee=int(f),
            sender_balance=int(s + a + f),
            receiver_balance=int(rng.integers(0, 1 << 29)),
            sender_nonce=int(rng.integers(0, 1 << 20)),
        )
        for a, f, s in zip(amounts, fees, after, strict=True)
    ]
    digest = hashlib.blake2s(repr([(t.amount, t.fee) for t in transfers]).encode()).digest()
    return transaction.make_statement(digest, transfers)


def _consensus(rows_log2: int, rng: np.random.Generator) -> tuple[Any, Any]:
    """n − 1 validators, ~90 % prevote and most prevoters precommit; votes are added in
    validator order until both phases reach the quorum, so the statement always holds."""
    n = 1 << rows_log2
    count = n - 1
    weights = rng.integers(1, consensus.MAX_WEIGHT + 1, size=count).tolist()
    prevotes = (rng.random(count) < 0.9).astype(int).tolist()
    precommits = [p if rng.random() < 0.95 else 0 for p in prevotes]
    quorum = consensus.quorum_threshold(sum(weights))
    for i in range(count):
        if sum(w for w, c in zip(weights, precommits, strict=True) if c) >= quorum:
            break
        prevotes[i] = precommits[i] = 1
    return consensus.make_statement(
        rng.bytes(32), int(rng.integers(1, 1 << 20)), 0, 1, weights, prevotes, precommits
    )


def _recursive(rows_log2: int, rng: np.random.Generator) -> tuple[Any, Any]:
    """Random proof digests filling 3/4 or more of the blocks, folded onto a random commitment."""
    blocks = (1 << rows_log2) // recursive.PERIOD
    count = blocks - int(rng.integers(0, max(blocks // 4, 1)))
    previous = rng.integers(0, P, size=recursive.DIGEST).tolist()
    digests = [rng.bytes(32) for _ in range(count)]
    return recursive.make_statement(previous, digests, int(rng.integers(1, 1 << 20)), blocks)


def _bench16(rows_log2: int, rng: np.random.Generator) -> tuple[Any, Any]:
    """A random start state."""
    return synthetic.make_statement(rng.integers(0, P, size=synthetic.LANES).tolist(), rows_log2)


_BUILDERS: dict[str, Callable[[int, np.random.Generator], tuple[Any, Any]]] = {
    "uptime": _uptime,
    "transaction": _transaction,
    "consensus": _consensus,
    "recursive": _recursive,
    "bench16": _bench16,
}


def example_statement(circuit: str, rows_log2: int, seed: int) -> tuple[Any, Any]:
    """(public_inputs, witness) of a valid statement with a 2^rows_log2-row trace."""
    air = get_air(circuit)
    if not air.supports_rows(rows_log2):
        raise ValueError(
            f"{circuit}: rows_log2 must be in {air.min_rows_log2}..{air.max_rows_log2}"
        )
    return _BUILDERS[circuit](rows_log2, np.random.default_rng(seed))
