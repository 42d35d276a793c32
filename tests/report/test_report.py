"""``rppsim report RUN_DIR`` (rppsim/report/): report.md with its figures and verdict table,
and a self-contained report.html that loads in headless Chromium without console errors."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from rppsim.cli import main
from rppsim.report.document import HTML_FILE, MARKDOWN_FILE, PNG_PREFIX, render_png
from rppsim.report.figures import FIGURES, plot_alerts
from rppsim.scenario import parse_scenario
from rppsim.sim.run import execute_run
from rppsim.telemetry.frames import FRAME_NAMES, build_frame, get_empty_frame

PROFILE = Path(__file__).parents[2] / "node" / "profiles" / "testnet.toml"
SCENARIO = f"""
[run]
seed = 11
duration_ms = 30_000
prover = "model"
name = "report-test"

[nodes]
count = 12
validators = 5
profile = "{PROFILE.as_posix()}"

[network]
topology = "complete"

[network.link]
latency_ms = [10, 30]

[traffic]
tx_per_s = 2.0

[telemetry]
sample_interval_ms = 2000

[[fault]]
kind = "crash"
node = 2
at_ms = 8_000
until_ms = 16_000
"""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-node, 30 s model-prover run with a crash and restart, reported by the CLI into
    a separate folder."""
    tmp_path = tmp_path_factory.mktemp("report")
    scenario = parse_scenario(tomllib.loads(SCENARIO), tmp_path / "s.toml")
    execute_run(scenario, out_dir=tmp_path / "run")
    out = tmp_path / "out"
    assert main(["report", str(tmp_path / "run"), "--out", str(out)]) == 0
    return out


def test_report_md_lists_every_figure_and_the_verdict_table(report: Path) -> None:
    text = (report / MARKDOWN_FILE).read_text(encoding="utf-8")
    for slug, title, _ in FIGURES:
        assert f"![{title}]({PNG_PREFIX}{slug}.png)" in text
        assert (report / f"{PNG_PREFIX}{slug}.png").read_bytes().startswith(PNG_MAGIC)
    assert "rppsim run <the scenario file> --seed 11" in text
    assert "## Verdicts" in text and "| status | id |" in text
    rows = [line for line in text.splitlines() if line.startswith(("| FAIL", "| N/A", "| PASS"))]
    verdicts = json.loads((report.parent / "run" / "verdicts.json").read_text(encoding="utf-8"))
    assert len(rows) == len(verdicts)
    order = {"FAIL": 0, "N/A": 1, "PASS": 2}
    statuses = [order[row.split("|")[1].strip()] for row in rows]
    assert statuses == sorted(statuses)


def test_every_html_image_is_an_embedded_png(report: Path) -> None:
    html = (report / HTML_FILE).read_text(encoding="utf-8")
    sources = re.findall(r'<img [^>]*src="([^"]*)"', html)
    assert len(sources) == len(FIGURES)
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(PNG_MAGIC)


def test_report_defaults_into_the_run_folder(tmp_path: Path, report: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(report.parent / "run", run)
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out.split()
    assert out == [str(run / MARKDOWN_FILE), str(run / HTML_FILE)]


def test_a_missing_run_folder_is_a_user_error(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def _browser_missing() -> str | None:
    """Why the browser test cannot run here, or None when chromium and chromedriver exist."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    return f"{' and '.join(missing)} not on PATH" if missing else None


@pytest.mark.browser
def test_report_html_loads_in_headless_chromium(report: Path) -> None:
    reason = _browser_missing()
    if reason and not os.environ.get("CI"):
        pytest.skip(f"{reason} (apt-get install chromium chromium-driver; required under CI)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get((report / HTML_FILE).resolve().as_uri())
        widths = driver.execute_script(
            "return Array.from(document.images, i => i.complete ? i.naturalWidth : 0);"
        )
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        driver.quit()
    assert len(widths) == len(FIGURES) and all(w > 0 for w in widths), widths
    assert severe == []


def _empty_frames() -> dict[str, pd.DataFrame]:
    """Every frame empty except ``run_info`` (duration only)."""
    frames = {name: get_empty_frame(name) for name in FRAME_NAMES}
    frames["run_info"] = build_frame("run_info", {"key": ["duration_ms"], "value": ["10000"]})
    return frames


@pytest.mark.parametrize(("slug", "plot"), [(slug, plot) for slug, _, plot in FIGURES])
def test_every_figure_draws_empty_frames_with_title_and_labels(slug, plot) -> None:
    fig = plot(_empty_frames())
    assert fig.get_suptitle(), slug
    assert all(ax.get_ylabel() for ax in fig.axes), slug
    assert render_png(fig).startswith(PNG_MAGIC)


def test_alerts_are_bars_with_a_severity_legend() -> None:
    frames = _empty_frames()
    frames["alerts"] = build_frame(
        "alerts",
        {
            "name": ["FinalityLag", "TelemetryStall"], "severity": ["critical", "warning"],
            "node": [None, 3], "start_ms": [1000, 2000], "end_ms": [4000, None],
            "labels": ["{}", '{instance="3"}'], "detail": ["", ""],
        },
    )  # fmt: skip
    (ax,) = plot_alerts(frames).axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["critical", "warning"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "FinalityLag @ fleet", "TelemetryStall @ 3"
    ]  # fmt: skip
    assert len(ax.patches) == 2 and ax.patches[1].get_width() == pytest.approx(8.0)
