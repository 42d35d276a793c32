"""The documentation resolves from the repository alone.

Every relative link of every Markdown file names a file (and a heading, by its GitHub slug);
every file citation and every ``§`` in Markdown and in comments and docstrings of
``rppsim/**/*.py`` points inside the repository (or names an RFC; the chain's sources are
cited as ``HUBId/chain:<path>``); no file cites the design notes that are not in the
repository; every ``rppsim`` command in a README or docs code block parses.

Files are found relative to this test file, never through the installed package.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import tokenize
from functools import cache
from pathlib import Path

import pytest

from rppsim.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = ("reports/", ".git/", ".venv/", "rppsim.egg-info/", "notebooks/.ipynb_checkpoints/")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".txt", ".cfg", ".ini", ".json", ""}

# The notes outside the repository, built from parts so this file does not cite them itself.
_NOTES = (
    "spec/" + r"(?:consensus|ops|simnet|proofs|peers)\.md",
    "DESIGN" + r"\.md",
    "STYLE" + r"\.md",
)
OUTSIDE_NOTES = re.compile("|".join(_NOTES))
LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REPO_PATH = re.compile(
    r"(?<![\w./:-])((?:docs|rppsim|scenarios|node|tests)/[\w./-]*\.(?:md|py|toml|yaml))"
    r"(#[\w-]+)?"
)
SECTION = re.compile(r"§")
RFC = re.compile(r"\b(?:RFC\s?\d+|[Ii]ssue\b)")
FENCE = re.compile(r"^\s*(```|~~~)")


@cache
def list_files() -> tuple[Path, ...]:
    """Tracked and new (not ignored) files; every file when git is unavailable."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        files = [ROOT / name for name in listed]
    except (OSError, subprocess.CalledProcessError):
        files = [path for path in ROOT.rglob("*") if path.is_file()]
    return tuple(
        sorted(
            path
            for path in files
            if path.is_file() and not path.relative_to(ROOT).as_posix().startswith(SKIP_DIRS)
        )
    )


def get_rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def list_markdown() -> list[Path]:
    return [path for path in list_files() if path.suffix == ".md"]


def list_text_files() -> list[Path]:
    return [path for path in list_files() if path.suffix in TEXT_SUFFIXES]


def compute_slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, inline markup and punctuation dropped,
    spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def split_markdown(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(lines outside fenced code, fenced blocks as (info string, lines))."""
    prose: list[str] = []
    blocks: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if FENCE.match(line):
            if current is None:
                current = []
                blocks.append((line.strip().strip("`~").strip(), current))
            else:
                current = None
            prose.append("")
        elif current is not None:
            current.append(line)
            prose.append("")
        else:
            prose.append(line)
    return prose, blocks


@cache
def get_anchors(path: Path) -> frozenset[str]:
    """The heading anchors of a Markdown file, with GitHub's -1, -2 suffixes for repeats."""
    prose, _ = split_markdown(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    anchors = set()
    for line in prose:
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = compute_slug(heading.group(1))
        count = seen.get(slug, 0)
        anchors.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return frozenset(anchors)


def get_target_problem(target: Path, anchor: str | None) -> str | None:
    """Why a link or citation target does not resolve, or None."""
    if not target.exists():
        return "no such file"
    if anchor and target.suffix == ".md" and anchor not in get_anchors(target):
        return f"no heading #{anchor}"
    return None


def strip_code_spans(line: str) -> str:
    return re.sub(r"`[^`]*`", "", line)


def list_python_text(path: Path) -> list[str]:
    """The comments and docstrings (string statements) of a Python file."""
    source = path.read_text(encoding="utf-8")
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    starters = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT}
    texts = []
    for index, token in enumerate(tokens):
        if token.type == tokenize.COMMENT:
            texts.append(token.string)
        elif token.type == tokenize.STRING:
            prev = next((t for t in reversed(tokens[:index]) if t.type != tokenize.COMMENT), None)
            after = tokens[index + 1] if index + 1 < len(tokens) else None
            if (prev is None or prev.type in starters) and (
                after is not None and after.type in {tokenize.NEWLINE, tokenize.ENDMARKER}
            ):
                texts.append(token.string)
    return texts


def find_citation_problems(rel: str, text: str, *, example: bool = False) -> list[str]:
    """Repository paths that do not resolve and ``§`` marks with no source, in one text; in an
    example (a code block: commands, their output) only Markdown paths are citations."""
    problems = []
    for found in REPO_PATH.finditer(text):
        path, anchor = found.group(1), found.group(2)
        if any(mark in path for mark in ("*", "<", "{")) or (example and path[-3:] != ".md"):
            continue
        problem = get_target_problem(ROOT / path, anchor[1:] if anchor else None)
        if problem:
            problems.append(f"{rel}: {found.group(0)}: {problem}")
    for mark in SECTION.finditer(text):
        line_start = text.rfind("\n", 0, mark.start()) + 1
        before = text[max(0, line_start - 200) : mark.start()]
        if not RFC.search(before):
            line_end = text.find("\n", mark.start())
            line = text[line_start : line_end if line_end >= 0 else len(text)].strip()
            problems.append(f"{rel}: § without a source in the repository: {line[:120]}")
    return problems


def test_slug_follows_github():
    assert compute_slug("Rules knobs") == "rules-knobs"
    assert compute_slug("Circuits (`airs/`)") == "circuits-airs"
    assert compute_slug("The chain's simnet") == "the-chains-simnet"
    assert compute_slug("Selection: weight, threshold and fallback") == (
        "selection-weight-threshold-and-fallback"
    )


def test_relative_links_resolve():
    problems = []
    for path in list_markdown():
        prose, _ = split_markdown(path.read_text(encoding="utf-8"))
        for number, line in enumerate(prose, 1):
            for found in LINK.finditer(strip_code_spans(line)):
                target = found.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue  # http:, https:, mailto:
                file_part, _, anchor = target.partition("#")
                resolved = (path.parent / file_part) if file_part else path
                problem = get_target_problem(resolved, anchor or None)
                if problem:
                    problems.append(f"{get_rel(path)}:{number}: {target}: {problem}")
    assert not problems, "\n".join(problems)


def test_citations_resolve_in_markdown():
    problems = []
    for path in list_markdown():
        prose, blocks = split_markdown(path.read_text(encoding="utf-8"))
        problems += find_citation_problems(get_rel(path), "\n".join(prose))
        for _, lines in blocks:
            problems += find_citation_problems(get_rel(path), "\n".join(lines), example=True)
    assert not problems, "\n".join(problems)


def test_citations_resolve_in_code_comments_and_docstrings():
    problems = []
    for path in list_files():
        rel = get_rel(path)
        if path.suffix == ".py" and rel.startswith("rppsim/"):
            for text in list_python_text(path):
                problems += find_citation_problems(rel, text)
    assert not problems, "\n".join(problems)


def test_nothing_cites_notes_outside_the_repository():
    problems = []
    for path in list_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for found in OUTSIDE_NOTES.finditer(line):
                problems.append(f"{get_rel(path)}:{number}: cites {found.group(0)}")
    assert not problems, "\n".join(problems)


PLACEHOLDERS = {"N": "1", "S": "1", "SEED": "1", "SCENARIO": "scenarios/smoke.toml"}


def expand_braces(token: str) -> list[str]:
    """Shell brace expansion of one ``{a,b}`` group (what the READMEs use)."""
    found = re.search(r"\{([^{}]*,[^{}]*)\}", token)
    if not found:
        return [token]
    return [
        expanded
        for choice in found.group(1).split(",")
        for expanded in expand_braces(token[: found.start()] + choice + token[found.end() :])
    ]


def get_rppsim_argvs(line: str) -> list[list[str]]:
    """The argument vectors of every ``rppsim`` command on a shell line."""
    line = re.sub(r"^\s*\$\s+", "", line)
    if "rppsim" not in line or line.lstrip().startswith("#"):
        return []
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = list(lexer)
    argvs = []
    segment: list[str] = []
    for token in [*tokens, ";"]:
        if token in {"&&", "||", ";", "|", "&"}:
            argvs += _get_argv(segment)
            segment = []
        else:
            segment.append(token)
    return argvs


def _get_argv(segment: list[str]) -> list[list[str]]:
    for index, token in enumerate(segment):
        name = token.rsplit("/", 1)[-1]
        is_module = index >= 2 and segment[index - 1] == "-m"
        if name == "rppsim" and (index == 0 or is_module or "/" in token):
            words = [PLACEHOLDERS.get(word, word) for word in segment[index + 1 :]]
            variants: list[list[str]] = [[]]
            for word in words:
                variants = [[*v, e] for v in variants for e in expand_braces(word)]
            return variants
    return []


def list_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for path in list_markdown():
        rel = get_rel(path)
        if not (path.name == "README.md" or rel.startswith("docs/")):
            continue
        _, blocks = split_markdown(path.read_text(encoding="utf-8"))
        for info, lines in blocks:
            if info and info.split()[0] not in {"sh", "bash", "shell", "console", "text"}:
                continue
            for line in lines:
                commands += [(f"{rel}: {line.strip()}", argv) for argv in get_rppsim_argvs(line)]
    return commands


def test_shell_lines_are_split_into_rppsim_commands():
    line = ".venv/bin/rppsim run a.toml --seed N && python -m rppsim report r/{a,b}"
    assert get_rppsim_argvs(line) == [
        ["run", "a.toml", "--seed", "1"],
        ["report", "r/a"],
        ["report", "r/b"],
    ]
    assert get_rppsim_argvs("python scenarios/findings/measure.py x") == []


def test_readme_commands_parse():
    commands = list_commands()
    assert commands, "no rppsim command found in any README or docs code block"
    parser = build_parser()
    problems = []
    for where, argv in commands:
        errors = io.StringIO()
        try:
            with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
                parser.parse_args(argv)
        except SystemExit as stop:
            if stop.code not in (0, None):
                problems.append(f"{where}: {errors.getvalue().strip().splitlines()[-1:]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", ["architecture", "protocol", "operations", "simnet", "proofs"])
def test_docs_pages_exist(page):
    assert (ROOT / "docs" / f"{page}.md").is_file()
