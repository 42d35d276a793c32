"""What a node keeps on disk, and what a restart recovers from (sans-IO: a view, no files).

``Node.get_persisted()`` returns the node's three directories as they stand now; nodes write
synchronously, so this is exactly what a crash at this instant leaves on disk. A driver
keeps the parts that survive its crash model and hands them back as ``Node(...,
restore=PersistedState(...))``; any part may be missing:

* ``data_dir`` — ``commits`` (every finalized block, payload pruned where the ``pruning``
  gate pruned it; only the last ``[pruning] retention_depth`` heights for a node that keeps
  only what its config retains) and ``tip_state``, the ledger at the tip (the chain's
  storage persists accounts with every block, so a restart does not re-execute blocks);
* ``snapshot_dir`` — ``snapshot``, the state persisted by the latest pruning cycle
  (``rppsim.node.state_sync``); restoring from it needs the ``reconstruction`` gate;
* ``proof_cache_dir`` — ``proof_cache``, the accepted proofs of the verifier cache (LRU order).

A restart starts from ``tip_state``, else from ``snapshot`` (gate on), else from genesis, then
replays the full commits that follow in order; it stops at the first pruned or missing one,
and the node catches up from its peers (a ``SyncRequest``, or state sync when they pruned).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rppsim.node.messages import Commit
    from rppsim.node.state_sync import StateSnapshot
    from rppsim.node.verifier import ProofKey

__all__ = ["PersistedState"]


@dataclass(frozen=True, slots=True)
class PersistedState:
    """A node's data_dir (``commits``, ``tip_state``), snapshot_dir and proof_cache_dir."""

    commits: tuple[Commit, ...] = ()
    tip_state: StateSnapshot | None = None
    snapshot: StateSnapshot | None = None
    proof_cache: tuple[ProofKey, ...] = ()

    def without_data_dir(self) -> PersistedState:
        """What survives losing ``data_dir``: the snapshot and the proof cache."""
        return PersistedState(snapshot=self.snapshot, proof_cache=self.proof_cache)
