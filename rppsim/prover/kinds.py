"""Proof systems the registry knows (docs/operations.md#proof-systems-and-the-size-gate, HUBId/chain
``ProofSystemKind``).

The chain's five kinds keep their metric labels. Our numba STARK is a kind of its own,
label ``numba-stark``: its bytes are not rpp-stark's Goldilocks ABI, so reusing the
``rpp-stark`` label would claim a compatibility that does not exist
(docs/proofs.md#what-this-means-for-rppsim).
"""

from __future__ import annotations

import enum


class ProofSystemKind(enum.Enum):
    """A proof system; the value is its metric label."""

    STWO = "stwo"
    PLONKY3 = "plonky3"
    PLONKY2 = "plonky2"
    HALO2 = "halo2"
    RPP_STARK = "rpp-stark"
    NUMBA_STARK = "numba-stark"

    @property
    def label(self) -> str:
        """The metric label (``proof_backend``)."""
        return self.value

    @property
    def debug_name(self) -> str:
        """The Rust Debug spelling used in chain error messages (e.g. ``RppStark``)."""
        return "".join(part.capitalize() for part in self.value.split("-"))

    @classmethod
    def from_label(cls, label: str) -> ProofSystemKind | None:
        """The kind with this label, or None."""
        for kind in cls:
            if kind.value == label:
                return kind
        return None
