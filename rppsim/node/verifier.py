"""A node's verifier counters and proof cache (``verifier_metrics``,
docs/operations.md#validator-telemetry).

``MeteredVerifier`` wraps the injected proof service (shared by every node of a run) with
this node's own state: counters per backend and per (backend, circuit) — accepted, rejected,
bypassed, total_duration_ms — and an LRU cache of accepted proofs. A proof seen again (a
re-proposed block, a synced commit, an uptime proof first gossiped then included in a block)
hits the cache and is not counted as a second verification; rejected proofs are not cached.

Durations are not measured (the node has no clock): each verification adds the service's
deterministic ``verify_cost_ms(statement, size)``, or 0 when the service has none or the
proof names a system the service does not verify. The node never bypasses a verification,
so ``bypassed`` stays 0. The size gate (``compute_proof_problem``) runs before the verifier,
so a proof it refuses is a rejection reason, not a verifier count.

Backend labels are the chain's (``CHAIN_BACKENDS``): rppsim's ``numba-stark`` is its
stand-in for ``rpp-stark``; prover mode ``model`` has no chain backend and is reported under
``stwo``, the chain's default backend it stands in for, because the snapshot columns cover
only the chain's three backends. Any other system is reported under its own label.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rppsim.node.config import ProofCacheConfig, compute_cache_capacity
from rppsim.node.proofs import ProofService, Statement, VerifyOutcome

CHAIN_BACKENDS = ("stwo", "plonky3", "rpp-stark")
"""Backends the chain pre-seeds in ``verifier_metrics.per_backend``
(docs/operations.md#validator-telemetry)."""
BACKEND_OF_SYSTEM = {"model": "stwo", "numba-stark": "rpp-stark"}
"""The chain backend label each rppsim proof system is reported under."""


def compute_backend_label(system: str) -> str:
    """The chain backend label of a proof system (its own label when it has no mapping)."""
    return BACKEND_OF_SYSTEM.get(system, system)


def compute_node_cache_capacity(proof_cache: ProofCacheConfig, system: str) -> int:
    """Retain count of the node's backend: its chain label, then its own label, else
    ``default_retain`` (docs/operations.md#root-keys); at least 1."""
    fallback = compute_cache_capacity(proof_cache, system)
    return max(proof_cache.per_backend_retain.get(compute_backend_label(system), fallback), 1)


ProofKey = tuple[str, Statement, bytes]
"""What a cached proof is keyed by: its system, the statement and the proof bytes, by value."""


def compute_proof_key(system: str, statement: Statement, data: bytes) -> ProofKey:
    """The cache key of a proof. Keyed by value, never by a digest alone, so a hit means the
    very same proof of the very same statement; the statement and the (shared) proof bytes
    hash once per object, which keeps a lookup far cheaper than re-encoding the statement."""
    return (system, statement, data)


@dataclass(slots=True)
class VerifierCounters:
    """One ``per_backend`` (or per-circuit) entry."""

    accepted: int = 0
    rejected: int = 0
    bypassed: int = 0
    total_duration_ms: int = 0

    def to_json_dict(self) -> dict[str, int]:
        """The JSON shape."""
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "bypassed": self.bypassed,
            "total_duration_ms": self.total_duration_ms,
        }


@dataclass(slots=True)
class ProofCache:
    """An LRU set of accepted proofs with the chain's cache counters."""

    capacity: int
    hits: int = 0
    misses: int = 0
    evictions: int = 0
    entries: OrderedDict[ProofKey, None] = field(default_factory=OrderedDict)

    def lookup(self, key: ProofKey) -> bool:
        """Whether ``key`` is cached (a hit refreshes it); counts a hit or a miss."""
        if key in self.entries:
            self.entries.move_to_end(key)
            self.hits += 1
            return True
        self.misses += 1
        return False

    def insert(self, key: ProofKey) -> None:
        """Cache ``key``, evicting the least recently used entries beyond capacity."""
        self.entries[key] = None
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)
            self.evictions += 1

    def to_json_dict(self) -> dict[str, int]:
        """``verifier_metrics.cache``; verification is synchronous, so no queue builds."""
        return {
            "entries": len(self.entries),
            "capacity": self.capacity,
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
            "queue_depth": 0,
            "max_queue_depth": 0,
        }


class MeteredVerifier:
    """A node's view of the proof service: same interface, with counters and a cache."""

    def __init__(self, service: ProofService, capacity: int) -> None:
        self.service = service
        self.system = service.system
        self.cache = ProofCache(capacity)
        self.per_backend: dict[str, VerifierCounters] = {
            b: VerifierCounters() for b in CHAIN_BACKENDS
        }
        self.per_circuit: dict[tuple[str, str], VerifierCounters] = {}

    def is_provable(self, statement: Statement) -> bool:
        """As the wrapped service."""
        return self.service.is_provable(statement)

    def prove(self, statement: Statement) -> bytes:
        """As the wrapped service."""
        return self.service.prove(statement)

    def verify(self, statement: Statement, system: str, data: bytes) -> VerifyOutcome:
        """A cached accept, else the service's verdict, counted under the proof's backend."""
        key = compute_proof_key(system, statement, data)
        if self.cache.lookup(key):
            return VerifyOutcome(True)
        outcome = self.service.verify(statement, system, data)
        duration = self._cost_ms(statement, len(data)) if system == self.system else 0
        self._count(compute_backend_label(system), statement.circuit, outcome.ok, duration)
        if outcome.ok:
            self.cache.insert(key)
        return outcome

    def _cost_ms(self, statement: Statement, size: int) -> int:
        """The service's modelled verify time, 0 when it models none."""
        cost: Callable[[Statement, int], int] | None = getattr(self.service, "verify_cost_ms", None)
        return max(int(cost(statement, size)), 0) if callable(cost) else 0

    def _count(self, backend: str, circuit: str, ok: bool, duration_ms: int) -> None:
        """Add one verification to the backend's and the (backend, circuit)'s counters."""
        for counters in (
            self.per_backend.setdefault(backend, VerifierCounters()),
            self.per_circuit.setdefault((backend, circuit), VerifierCounters()),
        ):
            counters.accepted += ok
            counters.rejected += not ok
            counters.total_duration_ms += duration_ms

    def to_json_dict(self) -> dict[str, Any]:
        """``verifier_metrics``: ``per_backend``, ``per_circuit`` (backend → circuit) and
        ``cache``, keys sorted."""
        per_circuit: dict[str, dict[str, dict[str, int]]] = {}
        for (backend, circuit), counters in sorted(self.per_circuit.items()):
            per_circuit.setdefault(backend, {})[circuit] = counters.to_json_dict()
        return {
            "per_backend": {b: c.to_json_dict() for b, c in sorted(self.per_backend.items())},
            "per_circuit": per_circuit,
            "cache": self.cache.to_json_dict(),
        }
