"""The collector's live dashboard (``rppsim.testnet.dashboard``): the playbook's three
dashboards over the telemetry so far, every verdict of ``rppsim check`` on exactly one of them
with its rule; the page loads in headless Chromium and updates itself as snapshots arrive."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rppsim.guardrails.alerting import get_alert_rules
from rppsim.telemetry.frames import compute_canonical_json
from rppsim.telemetry.jsonl import write_telemetry_jsonl
from rppsim.testnet.collector import compute_figures
from rppsim.testnet.dashboard import DASHBOARDS, get_dashboard_of, get_page
from rppsim.verdicts import VERDICT_IDS
from tests.telemetry.test_jsonl import run_collected
from tests.testnet.test_collector import post_all

ROOT = Path(__file__).resolve().parents[2]
PROFILE = (ROOT / "node" / "profiles" / "testnet.toml").as_posix()
SCENARIO: dict[str, Any] = {
    "run": {"seed": 3, "duration_ms": 30_000, "prover": "model", "name": "dashboard"},
    "nodes": {"count": 4, "validators": 4, "profile": PROFILE},
    "network": {"topology": "complete", "link": {"latency_ms": [10, 30]}},
    "traffic": {"tx_per_s": 2.0},
    "telemetry": {"sample_interval_ms": 1_000},
}
"""Four validators for 30 s, so heights grow between the first and the last snapshots."""
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
IDS = [key for key, _ in DASHBOARDS]

Line = tuple[int, int, bytes]


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[Line]:
    """The snapshots a simulated run's collector received."""
    _, collected = run_collected(SCENARIO, tmp_path_factory.mktemp("sim"))
    return collected


@pytest.fixture(scope="module")
def figures(lines: list[Line], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The dashboard JSON over every snapshot."""
    path = write_telemetry_jsonl(lines, tmp_path_factory.mktemp("f") / "t.jsonl")
    return compute_figures(path, path.stat().st_size)


def _kind(verdict_id: str) -> str:
    if verdict_id in {r.name for r in get_alert_rules()}:
        return "alert"
    if verdict_id.startswith("promote-") or verdict_id == "mainnet-watch":
        return "promotion"
    return "guardrail" if re.match(r"g\d\d-", verdict_id) else "checker"


@pytest.mark.parametrize(
    ("verdict_id", "dashboard"),
    [
        ("g02-channel-advertised", "rollout"),
        ("g06-snapshot-cadence", "rollout"),
        ("g07-telemetry-not-stalled", "proofs"),
        ("g09-proof-cache", "proofs"),
        ("g11-verifier-sla", "proofs"),
        ("g17-consensus-availability", "consensus"),
        ("g18-liveness", "consensus"),
        ("TelemetrySnapshotStalled", "rollout"),
        ("ProofCacheThrash", "proofs"),
        ("VrfParticipationLow", "consensus"),
        ("ConsensusLivenessStall", "consensus"),
        ("safety", "consensus"),
        ("promote-canary", "rollout"),
    ],
)
def test_a_verdict_belongs_to_its_dashboard(verdict_id: str, dashboard: str) -> None:
    assert get_dashboard_of(verdict_id, _kind(verdict_id)) == dashboard


def test_every_verdict_is_shown_once(figures) -> None:
    assert figures["error"] is None
    shown = [v["id"] for d in figures["dashboards"] for v in d["verdicts"]]
    assert sorted(shown) == sorted(VERDICT_IDS)
    counts = figures["verdicts"]
    assert sum(counts.values()) == len(VERDICT_IDS)
    for dashboard in figures["dashboards"]:
        assert [dashboard[s] for s in ("PASS", "FAIL", "N/A")] == [
            sum(v["status"] == s for v in dashboard["verdicts"]) for s in ("PASS", "FAIL", "N/A")
        ]
        statuses = [v["status"] for v in dashboard["verdicts"]]
        assert statuses == sorted(statuses, key=["FAIL", "N/A", "PASS"].index)


def test_alert_verdicts_name_their_rule_file(figures) -> None:
    for dashboard in figures["dashboards"]:
        for verdict in dashboard["verdicts"]:
            rule = verdict["rule"]
            if verdict["kind"] == "alert":
                assert (ROOT / rule).is_file() and verdict["id"] in (ROOT / rule).read_text()
            else:
                page, _, anchor = rule.partition("#")
                headings = re.findall(r"^#+ (.+)$", (ROOT / page).read_text(), re.MULTILINE)
                slugs = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
                assert not anchor or anchor in slugs, rule


def test_each_dashboard_has_figures_and_a_row_per_node(figures, lines) -> None:
    nodes = sorted({n for n, _, _ in lines})
    assert [d["id"] for d in figures["dashboards"]] == IDS
    by_id = {d["id"]: d for d in figures["dashboards"]}
    for dashboard in by_id.values():
        assert [row["node"] for row in dashboard["nodes"]] == nodes
        assert all(value is not None for value in dashboard["figures"].values())
    assert by_id["rollout"]["figures"]["channels"] == "testnet"
    assert by_id["rollout"]["figures"]["snapshots"] == len(lines)
    assert 0 <= by_id["proofs"]["figures"]["max_cache_utilisation"] <= 1
    consensus = by_id["consensus"]["figures"]
    assert consensus["max_height"] >= 3 and consensus["blocks_per_minute"] > 0
    compute_canonical_json(figures)  # finite JSON throughout


def test_the_page_is_self_contained() -> None:
    page = get_page()
    for key in IDS:
        assert f'id="dash-{key}"' in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert 'fetch("api/figures"' in page


def _browser_missing() -> str | None:
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    return f"{' and '.join(missing)} not on PATH" if missing else None


def _wait_for(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.browser
def test_the_page_updates_itself_in_headless_chromium(lines, tmp_path: Path) -> None:
    reason = _browser_missing()
    if reason and not os.environ.get("CI"):
        pytest.skip(f"{reason} (apt-get install chromium chromium-driver; required under CI)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    out = tmp_path / "telemetry.jsonl"
    command = [sys.executable, "-m", "rppsim", "collector", "--port", "0", "--out", str(out)]
    collector = subprocess.Popen(
        [*command, "--refresh-s", "0.2"], stdout=subprocess.PIPE, text=True
    )
    driver = None
    try:
        assert collector.stdout is not None
        url = f"http://127.0.0.1:{json.loads(collector.stdout.readline())['port']}"
        first = len(lines) // 3
        asyncio.run(post_all(url, lines[:first]))
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-extensions",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.get(url + "/")

        def text(css: str) -> str:
            return str(driver.find_element(By.CSS_SELECTOR, css).text)

        _wait_for(lambda: text("#snapshots") == str(first))
        titles = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "section.dashboard h2")]
        assert titles == ["Rollout status", "Proof pipeline health", "Consensus availability"]
        for key in IDS:
            shown = driver.find_elements(By.CSS_SELECTOR, f"#dash-{key} dd[data-figure]")
            assert shown and all(e.text not in ("", "-") for e in shown), key
            rows = driver.find_elements(By.CSS_SELECTOR, f"#dash-{key} table.nodes tr")
            assert len(rows) == 1 + len({n for n, _, _ in lines})
        assert text('#dash-rollout tr[data-verdict="g02-channel-advertised"]').startswith("PASS")
        proof_rule = text('#dash-proofs tr[data-verdict="ProofCacheThrash"]')
        assert "rules/proofs.yaml" in proof_rule
        height = text('dd[data-figure="consensus.max_height"]')
        driver.execute_script("window.notReloaded = true;")

        asyncio.run(post_all(url, lines[first:]))
        _wait_for(lambda: text("#snapshots") == str(len(lines)))
        assert text('dd[data-figure="rollout.snapshots"]') == str(len(lines))
        assert int(text('dd[data-figure="consensus.max_height"]')) > int(height)
        assert driver.execute_script("return window.notReloaded === true;")
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []
    finally:
        if driver is not None:
            driver.quit()
        collector.terminate()
        collector.wait(20)
