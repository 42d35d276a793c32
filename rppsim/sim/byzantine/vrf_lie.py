"""``vrf-lie``: a validator lies in its VRF submissions to lead more often.

Leader order is tier, then hours, then weight, then the lowest weighted randomness
(``select_leader`` in ``HUBId/chain:rpp/crypto-vrf/src/lib.rs``), and the chain takes tier and
hours from the submission itself: ``validate_submission`` never compares them with the ledger.
The node's own submission is replaced before it
leaves (re-gossips included), by ``mode``:

* ``inflate-tier``: declared tier Tl5 (the VRF input does not cover the tier, so the proof
  still verifies);
* ``inflate-hours``: declared hours = the accrual cap (720 h), with the tier seed of those
  hours and a VRF proof over that input (the node holds its VRF key, so the proof verifies);
* ``forged-proof``: randomness 1, the lowest there is, with the honest proof, which then no
  longer matches (a validator that cannot win honestly claims to);
* ``grind``: the honest submission, published only when its randomness is in the lower half
  (below 2^255); an unfavourable one is withheld, so the validator is elected only at the
  heights where it is likely to lead. (Its own blocks still carry its honest submission: the
  node puts it in its own pool.)

For the two inflate modes the lie is also handed back to the node itself as a gossiped
submission (last insert wins in the pool), so the blocks it builds carry the lie too.

Under ``[rules] check_declared_tier = false`` (the chain) an inflated submission is accepted
and elected, and the liar leads every height whose electorate carries it: its share of the
``blocks`` frame's proposers rises far above 1/validators. With ``check_declared_tier = true``
every honest node rejects it ("vrf: declared tier or hours differ from the ledger") and the
liar leads only when its own block elected it. A forged proof is rejected under either rule
("vrf: invalid VRF proof"). Grinding is not a lie the chain can see: the grinder is elected
at about half the heights (losing its votes and rewards at the others) and at most leads
2(1 − 2^−n)/n of those it is elected at, with n equal validators, instead of 1/n — which
over all heights is no gain. Measured (``scenarios/attacks/vrf-grind.toml``, seed 11, 119
heights): elected at 47 % of the heights, it led 4.2 % of them against a fair 1/7 = 14.3 %.

Verdicts that notice it: the ``rejections`` frame (with the check, or a forged proof) and the
leader share in the ``blocks`` frame, which ``leader-share`` (``rppsim.checks.leader_share``)
holds to the liar's fair VRF chances: an inflated tier fails it. ``safety`` and ``agreement``
hold — a liar leads, but only with valid blocks — and the chain's proposer-share alerts
(``ConsensusProposerShareDrift*``) read a series the simulator does not record. Grinding
fails no verdict.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rppsim.node.blocks import compute_submission_message
from rppsim.node.messages import MAX_TIER, VrfSubmissionMsg
from rppsim.node.reputation import Tier
from rppsim.node.selection import compute_submission
from rppsim.sim.byzantine.base import Behaviour, Entry

if TYPE_CHECKING:
    from rppsim.sim.kernel import Simulation

VRF_LIE = "vrf-lie"
GRIND_THRESHOLD = 1 << 255
"""``grind`` publishes a submission only when its randomness is below this (the lower half)."""
FORGED_RANDOMNESS = 1


class VrfLie(Behaviour):
    """Replaces (or withholds) the node's own VRF submissions."""

    kind = VRF_LIE

    def __init__(self, entry: Entry) -> None:
        super().__init__(entry)
        self.mode = entry.spec.mode

    def publish(self, sim: Simulation, i: int, at_ms: int, message: Any) -> list[Any] | None:
        """The own submission leaves as the lie (or not at all, when grinding)."""
        if not isinstance(message, VrfSubmissionMsg) or message.address != sim.addresses[i]:
            return None
        if self.mode == "grind":
            return [message] if message.randomness < GRIND_THRESHOLD else []
        lie = self._lie(sim, i, message)
        if self.mode != "forged-proof" and lie != message:
            cost = sim.costs.message_us(lie)
            sim._at(at_ms, sim._deliver, i, message.address, lie, cost)
        return [lie]

    def _lie(self, sim: Simulation, i: int, message: VrfSubmissionMsg) -> VrfSubmissionMsg:
        if self.mode == "inflate-tier":
            return replace(message, tier=MAX_TIER)
        if self.mode == "forged-proof":
            return replace(message, randomness=FORGED_RANDOMNESS)
        node = sim.slots[i].node
        config = sim.node_configs[i] if node is None else node.config
        hours = config.reputation.timetoke.accrual_cap_hours
        keys = sim.keys[i]
        submission = compute_submission(
            address=message.address,
            secret=keys.vrf_secret,
            public_key=keys.keypair.public_key,
            last_block_header=message.last_block_header,
            epoch=message.epoch,
            tier=Tier(message.tier),
            timetoke_hours=hours,
        )
        return compute_submission_message(submission, message.height, message.round)
