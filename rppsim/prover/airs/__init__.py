"""The circuits' AIRs, by name (docs/proofs.md#circuits)."""

from __future__ import annotations

from rppsim.prover.airs import consensus, recursive, synthetic, transaction, uptime
from rppsim.prover.airs.base import Air

AIRS: dict[str, Air] = {
    air.name: air
    for air in (transaction.AIR, uptime.AIR, consensus.AIR, recursive.AIR, synthetic.AIR)
}
CHAIN_CIRCUITS = ("transaction", "identity", "state", "pruning", "recursive", "uptime", "consensus")


def get_air(name: str) -> Air:
    """The AIR of circuit ``name``; KeyError names the known ones."""
    try:
        return AIRS[name]
    except KeyError:
        raise KeyError(f"unknown circuit {name!r}; known: {', '.join(AIRS)}") from None
