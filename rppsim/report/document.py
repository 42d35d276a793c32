"""``report.md`` and a self-contained ``report.html`` from a run folder.

The Markdown references one PNG per figure written next to it; the HTML embeds the same PNGs
as base64 data URIs and loads nothing else, so it can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from rppsim.errors import UserError
from rppsim.report.figures import FIGURES
from rppsim.telemetry.runfolder import VERDICTS_FILE, get_run_info, read_run_folder

MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"
PNG_PREFIX = "report_"
DPI = 110
STATUS = {False: "FAIL", None: "N/A", True: "PASS"}
STATUS_ORDER = {False: 0, None: 1, True: 2}
VERDICT_COLUMNS = ("status", "id", "kind", "severity", "title", "figure", "threshold", "message")
CSS = """
body { font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }
img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
tr.FAIL td:first-child { background: #f8d0d0; font-weight: bold; }
tr.NA td:first-child { background: #eee; }
tr.PASS td:first-child { background: #d6f0d6; }
code, pre { background: #f4f4f4; padding: 0.1em 0.3em; }
"""


@dataclass(frozen=True, slots=True)
class RenderedFigure:
    """A figure rendered to PNG: slug (file name part), title and the PNG bytes."""

    slug: str
    title: str
    png: bytes


def render_png(fig: Figure) -> bytes:
    """The figure as PNG bytes (Agg canvas)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def render_figures(frames: Mapping[str, pd.DataFrame]) -> list[RenderedFigure]:
    """Every report figure (``FIGURES`` order) rendered to PNG."""
    return [RenderedFigure(slug, title, render_png(plot(frames))) for slug, title, plot in FIGURES]


def read_verdicts(run_dir: Path) -> list[dict[str, object]] | None:
    """The run's ``verdicts.json`` (None when the run was not judged)."""
    path = run_dir / VERDICTS_FILE
    if not path.is_file():
        return None
    try:
        verdicts = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UserError(str(path), "", "JSON", f"invalid JSON ({error})") from None
    if not isinstance(verdicts, list) or not all(isinstance(v, dict) for v in verdicts):
        raise UserError(str(path), "", "a list of verdict objects", type(verdicts).__name__)
    return verdicts


def sort_verdicts(verdicts: Sequence[Mapping[str, object]]) -> list[Mapping[str, object]]:
    """Failures first, then not applicable, then passes; stable within each group."""
    return sorted(verdicts, key=lambda v: STATUS_ORDER.get(v.get("passed"), 1))  # type: ignore[call-overload]  # bool | None


def compute_verdict_rows(verdicts: Sequence[Mapping[str, object]]) -> list[tuple[str, ...]]:
    """Table rows (``VERDICT_COLUMNS``) of the sorted verdicts, as text."""
    rows = []
    for verdict in sort_verdicts(verdicts):
        status = STATUS.get(verdict.get("passed"), "N/A")  # type: ignore[call-overload]  # bool | None
        values = [_text(verdict.get(column)) for column in VERDICT_COLUMNS[1:]]
        rows.append((status, *values))
    return rows


def _text(value: object) -> str:
    """A table cell: empty for None, one line."""
    return "" if value is None else " ".join(str(value).split())


def compute_facts(
    frames: Mapping[str, pd.DataFrame], summary: Mapping[str, object]
) -> list[tuple[str, str]]:
    """(label, value) facts of the run: scenario, seed, duration, prover, digest, heights."""
    info = get_run_info(frames)
    heights = summary.get("final_heights") or {}
    values = list(heights.values()) if isinstance(heights, Mapping) else []
    counts = summary.get("verdicts") or {}
    facts = [
        ("scenario", info.get("scenario", "")),
        ("seed", info.get("seed", str(summary.get("seed", "")))),
        ("simulated duration", f"{int(info.get('duration_ms', '0') or 0) / 1000:g} s"),
        ("prover", info.get("prover", "")),
        ("nodes", str(len(frames["nodes"]))),
        ("final height (min / max)", f"{min(values, default=0)} / {max(values, default=0)}"),
        ("frames digest", str(summary.get("digest", ""))),
    ]
    if isinstance(counts, Mapping) and counts:
        facts.append(
            (
                "verdicts",
                f"{counts.get('failed', 0)} failed, {counts.get('not_applicable', 0)} not "
                f"applicable, {counts.get('passed', 0)} passed",
            )
        )
    return facts


def compute_replay_command(frames: Mapping[str, pd.DataFrame]) -> str:
    """The command that replays the run (the scenario file's path is not recorded)."""
    seed = get_run_info(frames).get("seed", "<seed>")
    return f"rppsim run <the scenario file> --seed {seed}"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def build_markdown(
    frames: Mapping[str, pd.DataFrame],
    summary: Mapping[str, object],
    verdicts: Sequence[Mapping[str, object]] | None,
    figures: Sequence[RenderedFigure],
) -> str:
    """``report.md``: facts, replay command, one section per figure (PNG next to it), verdicts."""
    info = get_run_info(frames)
    lines = [f"# rppsim report: {info.get('scenario', 'run')}", ""]
    lines += [
        f"- **{label}**: {_md_cell(value)}" for label, value in compute_facts(frames, summary)
    ]
    lines += [
        "",
        f"Replay with the scenario file and seed {info.get('seed', '?')}:",
        "",
        "```sh",
        compute_replay_command(frames),
        "```",
        "",
        "## Figures",
        "",
    ]
    for figure in figures:
        lines += [
            f"### {figure.title}",
            "",
            f"![{figure.title}]({PNG_PREFIX}{figure.slug}.png)",
            "",
        ]
    lines += ["## Verdicts", ""]
    if verdicts is None:
        lines += ["The run was not judged (no verdicts.json): run `rppsim check RUN_DIR`.", ""]
    else:
        lines += [
            "| " + " | ".join(VERDICT_COLUMNS) + " |",
            "|" + "---|" * len(VERDICT_COLUMNS),
        ]
        lines += [
            "| " + " | ".join(map(_md_cell, row)) + " |" for row in compute_verdict_rows(verdicts)
        ]
        lines.append("")
    return "\n".join(lines)


def build_html(
    frames: Mapping[str, pd.DataFrame],
    summary: Mapping[str, object],
    verdicts: Sequence[Mapping[str, object]] | None,
    figures: Sequence[RenderedFigure],
) -> str:
    """``report.html``: the Markdown's content with every figure embedded as a PNG data URI."""
    esc = html.escape
    info = get_run_info(frames)
    title = f"rppsim report: {info.get('scenario', 'run')}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<link rel="icon" href="data:,">',
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        "<ul>",
        *(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in compute_facts(frames, summary)),
        "</ul>",
        f"<p>Replay with the scenario file and seed {esc(info.get('seed', '?'))}:</p>",
        f"<pre><code>{esc(compute_replay_command(frames))}</code></pre>",
        "<h2>Figures</h2>",
    ]
    for figure in figures:
        data = base64.b64encode(figure.png).decode("ascii")
        parts += [
            f'<h3 id="{figure.slug}">{esc(figure.title)}</h3>',
            f'<img alt="{esc(figure.title)}" src="data:image/png;base64,{data}">',
        ]
    parts.append("<h2>Verdicts</h2>")
    if verdicts is None:
        parts.append(
            "<p>The run was not judged (no verdicts.json): run <code>rppsim check</code>.</p>"
        )
    else:
        parts.append("<table><thead><tr>")
        parts += [f"<th>{esc(c)}</th>" for c in VERDICT_COLUMNS]
        parts.append("</tr></thead><tbody>")
        for row in compute_verdict_rows(verdicts):
            cells = "".join(f"<td>{esc(cell)}</td>" for cell in row)
            parts.append(f'<tr class="{row[0].replace("/", "")}">{cells}</tr>')
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(run_dir: str | Path, out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``report.md`` (with its PNGs) and ``report.html`` for the run folder ``run_dir``
    into ``out_dir`` (default: the run folder); the two report paths."""
    folder = Path(run_dir)
    if not folder.is_dir():
        raise UserError(str(run_dir), "", "a run folder (from rppsim run)", "no such folder")
    frames, summary = read_run_folder(folder)
    verdicts = read_verdicts(folder)
    figures = render_figures(frames)
    out = folder if out_dir is None else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for figure in figures:
        (out / f"{PNG_PREFIX}{figure.slug}.png").write_bytes(figure.png)
    markdown_path, html_path = out / MARKDOWN_FILE, out / HTML_FILE
    markdown_path.write_text(build_markdown(frames, summary, verdicts, figures), encoding="utf-8")
    html_path.write_text(build_html(frames, summary, verdicts, figures), encoding="utf-8")
    return markdown_path, html_path
