"""Every shipped scenario runs and its verdicts are as its ``[expect]`` says (nothing fails
unless listed), so ``rppsim run`` exits 0; the ``ci`` subset keeps its pinned digests."""

from __future__ import annotations

from pathlib import Path

import pytest

from rppsim.library import find_entries
from rppsim.scenario import load_scenario
from rppsim.sim.run import execute_run

ROOT = Path(__file__).parents[1] / "scenarios"
ENTRIES = {e.label: e.path for e in find_entries([str(ROOT)])}
TAGS = {label: load_scenario(path).run.tags for label, path in ENTRIES.items()}
LONG = {label for label, tags in TAGS.items() if "soak" in tags}
"""Hours of simulated time: run by hand (``rppsim run --tag soak scenarios/``), not here."""

CI_DIGESTS = {
    # The ci subset's run digests (`rppsim run --tag ci scenarios/`). A change of behaviour
    # changes them: pin the new ones only when the change is meant.
    "attacks/censor": "6335a3a150ffe2843186df848d72c22224b9ea4a227ac3b980d7f8824f5c8717",
    "attacks/coalition": "d80aa81808e4e691d36bd1ad2a46412e7077aa92e232016abfd3da2c2e99d5bc",
    "attacks/double-sign": "e8b702bcfa5bfcf9df9a5828191c91a061cbd0e5cc3dddaa63533f21087829f6",
    "attacks/eclipse": "52eabdb2131330959ddb817673bcf32d063e9034c4c9a75b24cd0e35a781284f",
    "attacks/inflate-timetoke": "e0636c456441fef4357e8ecbafa8c3d438f911fcffe054cb247bbd1f73eaf806",
    "attacks/invalid-block": "6c09185e6b498d0aa49d6fd702afa0a29c30d880f9004cfb1ece4eecc96571ca",
    "attacks/invalid-proof": "6b7174bc42b143ff0da87f5852c6f2ea9174445d236f6f780d147a94227332d1",
    "attacks/replay": "fbd986ad79b8ab3255ab112c6690653b8a97ba6f6aab851a48fb99c30b64733c",
    "attacks/spam": "151fbdb436131200b18b46e19b273d561e80095eba95732fc2a059bccd909e81",
    "attacks/sync-poison": "4075f01f55fa5c489f25e75840aeb7aaa7d664f807488b856d9f47d49ca7c2b1",
    "attacks/vrf-grind": "ad97e1bb355246ae6bb5d71becc65712c4e3eeabcf47faee3b57dae1db2d1b3d",
    "attacks/vrf-lie": "1237a27bc7ab5f6fbe5e0344731cd7f72f39c0752150fab2c041fea2c5e5ad68",
    "attacks/withhold-votes": "88bf35806b24c3abfea68ab28eef0b244cad8cde0fa49791a1b3c0fd378283dc",
    "drills/gate-flip": "c48e72803839eedf959984f5db06678642b1c1fb058589d2be0a8de771d224b4",
    "drills/genesis-mismatch": "c788544745df31739c2417eb05e772b0ffb2cb86e4bb43db29452d28bac96fa8",
    "drills/promotion": "63ccf8f86af05f8022c6c4d777ec793b9fe410716f593f648bbd94d54b3c893f",
    "drills/restart-from-snapshot": "60005be3d136a2e025c0918af1bf222825d498cf1ba4c259456d592d71bf042f",
    "drills/restart-wipe": "56f53d1fe297a6c0f1c56c48525ef7c48b568b5362c7e852af6ad2c68e6b8b58",
    "drills/rollback": "404fd2a89a4462969ced873663cac8973ce8c1030b3c56b3e24fadbb7209de55",
    "drills/rolling-upgrade": "4237038feb603d37dfb9aeda75ab6b4dcc4b87b48abd100ab0daaa7aa9ecf355",
    "drills/skip-stage": "8464fbea94693413b4b74966bf951218d04eae4f452dd6d749b9c1e7fd6921f0",
    "drills/stall": "1bb35dba59dd07bdeb3942a28245ee17745f01c609655085f337ed4b30e48cda",
    "edge-list": "045b561435b9da002bfa38b9889f388da7f81b8561a6d9ea38664f1c03116d0d",
    "faults": "ae8b25991dca1110391855f036c56ca84215610e649cf7f5b8af14c518072d5f",
    "findings/bootstrap-chain": "c5a0ef30de512af7316b9f964635ed7c30588fbb112dbcde19e3e73164a687e6",
    "findings/bootstrap-fix": "f7aaff6ef68e231b497e9ef5ff746533178cbd1d517b75194207acfecd2edc20",
    "findings/committee-cap-chain": "989cf5d444b60e6143996f92377cbf61135e51c25af2f29e68f03e5639e410b2",
    "findings/committee-cap-fix": "7e226824c0524c0062e04cbc958468e37917e76ab63db61a7b8ef1a2a5738667",
    "findings/dead-leader-chain": "4c58951fe9840b396fe1345b1ac2feabcf641255df4cbe1094ada47b8e831ceb",
    "findings/dead-leader-fix": "cf3ae68fcb5dd864565ed2272020d9a774ff7efcc25b3c2f6a3bef0e9e1f8eba",
    "findings/electorate-fork-chain": "766c3f9986f7166c7779e1ad6e88ee180916d5e09391a803ca4b357a47570481",
    "findings/electorate-fork-fix": "2e23457adb65b7dcf3424031f556bf62837642f05a920797cd8207d9b47bfc46",
    "findings/fallback-metric-chain": "65048cf4a8157c54855718dff2479791248cdff33048cd96f35072e81bbe0f2d",
    "findings/fallback-metric-fix": "43a8c1a5236df219b9352966362f877e37f0fa0461c9ea08a7adfc3a1cd07554",
    "findings/timetoke-merge-chain": "f99ba222d79152136eb56c15faeec97c66f9b68586ea2755ee2ab225395fca2f",
    "findings/timetoke-merge-fix": "97dca2af2d031c03b1fa09bb7f7c65f3c9a8f005991caac414e46538ec9d98f2",
    "findings/treasury-chain": "7475155f42b397577237f331dae425e6c0d17ed576e928554374e29ce52345ce",
    "findings/treasury-fix": "c5390e452ec2fb4e7262e3b0a4f8c539f3778149bc5ead6a5ac575b221d4a9d2",
    "findings/vrf-lie-chain": "924beda341ba54be903b9a06d8345f4c631eae8e8bbc3f8e3c6d35ca6c45ac8d",
    "findings/vrf-lie-fix": "1cc698e780c4209949cfdec0af8768ddc9d41577dedb354fcf68c1c725d83b44",
    "partition": "f70e4681570e2525612e7671e8e055c652b4a26c86919ab9f84d2b059c48efc3",
    "research/pool-larger-than-committee": "49f769123a25eed80b03eb09a550b09cd70b2242172b174fdd1576e2d0528ffd",
    "research/skewed-stakes": "e042fdfb3bfee1c29c1ad805f35970fc29d446ab8c0ff025a7fc64ff2dbaf516",
    "research/skewed-stakes-crash": "764fbac5536952de6aba9fb2eb92ed4cbaf7132d5b6a491d9e6f1f6d7e624925",
    "simnet/canary-rolling-restart": "13ce0d48b1cfa3d77b202c7ecd5acb9d33f5e0684fb8721029882f828712ac6c",
    "simnet/compound-partitioned-backpressure": "174fefd1278332cf34f672e2b2f86c3cd27facb4428e91e457eb7cfa6e41c96f",
    "simnet/consensus-chaos": "58f5b43257633f914faeea8e1ef07f7fe70d75e73dc40969a3f4178d49092975",
    "simnet/epoch-drift": "5733a6d3e87b493e0c7f7dc698aaf1ea417eeb74617b05f5a8b77332d2f6e07e",
    "simnet/leader-rotation-prover-load": "e9b15e3f3f33743751a04474120d4f24ce62f22857fbcc139c7af11ff4c7f3f4",
    "simnet/ring-latency-profile": "56172f21c28c0838796268d2df82eb244c9039e08c87f6d57654f5f69a3730ee",
    "simnet/small-world-smoke": "cdd3a36f1fb4585db08d1516b546dca1a543f1a7e5c7a32b5215aa9c5d14585f",
    "simnet/snapshot-partition": "14bb9a35384b6e184b2e201fd83de5c648a5b4843a0376e4bd5a5075905b0e82",
    "simnet/snapshot-rebuild": "3578dd252ea53322131b2454abc516089b094f97843a6eab326f4d3dae5eb7e5",
    "simnet/validator-set-rotation": "0184bf46ff9996da5856d5d5b366624faffff01170c1063c544bcfc3cb2cdfec",
    "smoke": "815815cc2f71316f3a6524c7a6dfedeb8ff5527f27e40188cb0e4dcc962d6bcf",
}


def test_every_ci_scenario_is_pinned_and_every_pin_is_a_ci_scenario() -> None:
    tagged = {label for label, tags in TAGS.items() if "ci" in tags}
    assert tagged == set(CI_DIGESTS)


def test_every_scenario_opens_with_what_it_shows_and_the_readme_lists_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for label, path in ENTRIES.items():
        assert path.read_text(encoding="utf-8").startswith("# "), label
        listed = f"`{label}.toml`" in readme or f"`{path.name}`" in readme
        assert listed or label.startswith(("attacks/", "findings/")), label


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(set(ENTRIES) - LONG))
def test_shipped_scenario_passes_its_verdicts(label: str) -> None:
    result = execute_run(load_scenario(ENTRIES[label]), write=False)
    assert result.unexpected == (), "\n".join(result.unexpected)
    if label in CI_DIGESTS:
        assert result.summary["digest"] == CI_DIGESTS[label]


@pytest.mark.slow
def test_the_stall_drill_fires_the_stall_alerts() -> None:
    """Three of seven validators crash for good: g18 fails and the chain's stall alerts fire
    in their order (finality lag after 2 + 2 minutes, the 5-minute stall after 10 more)."""
    result = execute_run(load_scenario(ENTRIES["drills/stall"]), write=False)
    verdicts = {v.id: v for v in result.verdicts}
    assert verdicts["g18-liveness"].passed is False
    first = {
        name: verdicts[name].time_ms
        for name in ("ConsensusFinalityLagCritical", "ConsensusLivenessStall")
    }
    assert first == {"ConsensusFinalityLagCritical": 300_000, "ConsensusLivenessStall": 960_000}
    alerts = result.frames["alerts"]
    assert set(alerts.loc[alerts["name"] == "ConsensusLivenessStall", "severity"]) == {"critical"}


@pytest.mark.slow
def test_the_promotion_scenario_decides_its_gate() -> None:
    result = execute_run(load_scenario(ENTRIES["drills/promotion"]), write=False)
    verdicts = {v.id: v for v in result.verdicts}
    assert verdicts["promote-canary"].passed is True
    assert verdicts["g24-soak-windows"].passed is True
    assert verdicts["promote-mainnet"].passed is None
