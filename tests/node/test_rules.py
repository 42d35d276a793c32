"""The knobs of ``rppsim.node.rules`` that the findings flip: each default is the chain's rule,
and flipping it applies rppsim's fix (scenarios/findings/)."""

from __future__ import annotations

import pytest

from rppsim.errors import UserError
from rppsim.node.messages import TimetokeDeltaBroadcast, TimetokeRecordMsg
from rppsim.node.rules import Rules, parse_rules
from rppsim.node.selection import VrfSelectionMetrics

FORGED_HOURS = 720


def test_the_defaults_are_the_chain():
    rules = Rules()
    assert not rules.authenticate_timetoke_merge
    assert not rules.normalise_vrf_metrics
    assert not rules.nonce_ordered_payload


@pytest.mark.parametrize(
    "knob", ["authenticate_timetoke_merge", "normalise_vrf_metrics", "nonce_ordered_payload"]
)
def test_the_finding_knobs_parse_as_booleans(knob):
    assert getattr(parse_rules({knob: True}, "x.toml"), knob) is True
    with pytest.raises(UserError, match=f"rules.{knob}: expected a boolean, found"):
        parse_rules({knob: 1}, "x.toml")


def _forge(cluster, forger: int, stamp_s: int) -> TimetokeDeltaBroadcast:
    """The record ``inflate-timetoke`` floods: the forger's account at the accrual cap."""
    node = cluster.node(forger)
    record = TimetokeRecordMsg(node.address, FORGED_HOURS, 0, stamp_s, stamp_s, 0)
    return TimetokeDeltaBroadcast(node.ledger.get_timetoke_root(), (record,))


def _hours_at(cluster, i: int, address: str) -> int:
    account = cluster.node(i).ledger.get_account(address)
    assert account is not None
    return account.timetoke.hours_online


@pytest.mark.parametrize("authenticate", [False, True])
def test_a_forged_timetoke_record_is_merged_only_without_authentication(make_cluster, authenticate):
    cluster = make_cluster(validators=4, rules=Rules(authenticate_timetoke_merge=authenticate))
    cluster.run(12_500)
    height = min(cluster.node(i).height for i in range(4))
    assert height >= 2
    forger = cluster.node(3).address
    before = _hours_at(cluster, 0, forger)
    stamp = cluster.node(3).genesis_time_s + 12
    cluster.inject(3, _forge(cluster, 3, stamp), receivers=[0, 1, 2, 3])
    cluster.run(14_000)
    hours = [_hours_at(cluster, i, forger) for i in range(4)]
    refused = [
        cluster.node(i).rejections["timetoke: hours above the observed uptime"] for i in range(4)
    ]
    if authenticate:
        assert hours == [before] * 4
        assert refused == [1, 1, 1, 1]
    else:
        assert hours == [FORGED_HOURS] * 4
        assert refused == [0, 0, 0, 0]
    cluster.run(30_000)  # the chain keeps finalizing (safety is checked at teardown)
    assert min(cluster.node(i).height for i in range(4)) > height + 1
    powers = dict(cluster.node(0).electorate.powers)
    share = powers[forger] / sum(powers.values())
    assert share > 2 / 3 if not authenticate else share == pytest.approx(1 / 4, abs=0.05)


def test_normalised_vrf_metrics_mean_fallback_used_and_bounded_labels():
    chain = VrfSelectionMetrics(
        pool_entries=3,
        accepted_validators=2,
        rejected_candidates=1,
        fallback_selected=True,
        rejections_by_reason={"randomness above threshold 12345": 1},
        rejections_by_label={"threshold_not_met": 1},
    )
    fixed = chain.normalised(fallback_used=False)
    assert not fixed.fallback_selected
    assert fixed.rejections_by_reason == {"threshold_not_met": 1}
    assert chain.normalised(fallback_used=True).fallback_selected
