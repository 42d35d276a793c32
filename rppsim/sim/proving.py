"""Prover modes of a run (docs/architecture.md#prover-modes): ``real`` and ``model``.

``model``: no proof is computed; a digest of the statement stands in, padded to the size the
prover's cost model predicts. The run records ``prover = "model"`` and never counts such a
proof as verified.

``real``: every proof is computed by the numba STARK and verified for real once per exact
bytes; every other node reuses that verdict by digest (verification is a pure function).

Both charge simulated time from the prover's cost model (``proof_cost``), never from
measuring this process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from rppsim.node.proofs import ModelProofService, Statement, VerifyOutcome
from rppsim.sim.costs import compute_rows

PROFILE = "sim"
"""The prover profile of simulated nodes (docs/proofs.md#profiles: the simnet default)."""

_FALLBACK_MS = {"transaction": (8.0, 3.0), "uptime": (6.0, 3.0), "consensus": (8.0, 3.0)}
"""(prove ms, verify ms) at 2^6 rows when no calibration file is available."""


def _statement_rows(statement: Statement) -> int:
    rows = getattr(statement, "rows", None)
    if rows is not None:
        return compute_rows(len(rows))
    weights = getattr(statement, "weights", None)
    return compute_rows(len(weights) if weights is not None else 1)


def get_proof_cost() -> Callable[[str, int, bool], int]:
    """(circuit, rows, proving?) → µs from the prover's calibration file, if present."""
    try:
        from rppsim.prover import costmodel
    except ImportError:  # pragma: no cover - the prover package always ships it
        costmodel = None  # type: ignore[assignment]  # a module, or None when it is missing

    def cost(circuit: str, rows: int, proving: bool) -> int:
        if costmodel is not None:
            try:
                if proving:
                    ms = costmodel.estimate_prove_ms(circuit, PROFILE, rows)
                else:
                    ms = costmodel.estimate_verify_ms(circuit, PROFILE, rows)
                return round(ms * 1000)
            except (KeyError, ValueError, OSError):
                pass
        prove_ms, verify_ms = _FALLBACK_MS.get(circuit, (8.0, 3.0))
        scale = max(rows / 64, 1.0)
        return int((prove_ms * scale if proving else verify_ms) * 1000)

    return cost


_PROOF_COST = get_proof_cost()


def compute_verify_cost_ms(statement: Statement) -> int:
    """Modelled verify time of a statement's proof: the cost model at the statement's rows
    (the time the simulator charges), in whole ms."""
    return round(_PROOF_COST(statement.circuit, _statement_rows(statement), False) / 1000)


def get_proof_size() -> Callable[[str, int], int]:
    """(circuit, rows) → predicted proof bytes for ``model`` runs."""
    try:
        from rppsim.prover import costmodel
    except ImportError:  # pragma: no cover
        costmodel = None  # type: ignore[assignment]  # a module, or None when it is missing

    def size(circuit: str, rows: int) -> int:
        if costmodel is not None:
            try:
                return int(costmodel.estimate_proof_bytes(circuit, PROFILE, rows))
            except (KeyError, ValueError, OSError):
                pass
        return 20_000

    return size


class SizedModelProofService(ModelProofService):
    """``model`` mode: the node's digest proof, padded to the cost model's proof size."""

    def __init__(self, size: Callable[[str, int], int]) -> None:
        super().__init__()
        self.size = size
        self.verified = 0

    def prove(self, statement: Statement) -> bytes:
        """A statement digest padded to the predicted size of a real proof."""
        digest = super().prove(statement)[:32]
        target = max(self.size(statement.circuit, _statement_rows(statement)), 32)
        return digest + bytes(target - 32)

    def verify(self, statement: Statement, system: str, data: bytes) -> VerifyOutcome:
        """Digest check only; a model proof proves nothing about the witness."""
        outcome = super().verify(statement, system, data)
        self.verified += outcome.ok
        return outcome

    def verify_cost_ms(self, statement: Statement, size: int) -> int:
        """The cost model's verify time of a real proof of ``statement``."""
        return compute_verify_cost_ms(statement)


def compute_verdict_key(system: str, statement: Statement, data: bytes) -> bytes:
    """The exact bytes a verification depends on: system, circuit, statement and proof."""
    hasher = hashlib.blake2s(system.encode() + b"\x00" + statement.circuit.encode() + b"\x00")
    hasher.update(statement.to_bytes())
    hasher.update(data)
    return hasher.digest()
