"""The ``rppsim`` command line.

User errors (a bad file, key or flag) print one line naming the file, key and what was
expected, and exit 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from rppsim.errors import EXIT_USER_ERROR, UserError


def _expand_paths(paths: Sequence[str]) -> list[Path]:
    """Files named on the command line; a folder stands for every ``*.toml`` below it."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.rglob("*.toml"))
            if not found:
                raise UserError(raw, "", "a folder holding .toml files", "none")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(raw, "", "an existing file or folder", "nothing at that path")
    return files


def _natural(text: str) -> int:
    """A non-negative integer flag value; argparse reports anything else in one line."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer, found {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, found {text!r}")
    return value


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate node configs, profiles, genesis files and scenarios; exit 2 on the first bad one."""
    from rppsim.validation import validate_file

    for path in _expand_paths(args.paths):
        kind, warnings = validate_file(path, strict=not args.relaxed)
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"ok  {kind:<10} {path}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run a scenario with a progress bar; print the seed, the digest, the run folder and the
    checkers' verdicts; exit 1 when a verdict fails."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rppsim.checks import compute_verdict_table
    from rppsim.scenario import load_scenario
    from rppsim.sim.run import execute_run
    from rppsim.telemetry.health import compute_health_lines
    from rppsim.telemetry.runfolder import get_run_info

    scenario = load_scenario(Path(args.scenario))
    seed = scenario.run.seed if args.seed is None else args.seed
    duration = scenario.run.duration_ms if args.duration_ms is None else args.duration_ms
    print(f"rppsim run {args.scenario} --seed {seed}")
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("sim {task.completed:>9,.0f}/{task.total:,.0f} ms"),
        TextColumn("height {task.fields[height]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False, disable=args.quiet) as bar:
        task = bar.add_task(scenario.run.name or Path(args.scenario).stem, total=duration, height=0)

        def progress(now_ms: int, height: int) -> None:
            bar.update(task, completed=now_ms, height=height)

        result = execute_run(
            scenario,
            seed=seed,
            duration_ms=duration,
            out_dir=Path(args.out) if args.out else None,
            progress=progress,
        )
        bar.update(task, completed=duration)
    summary = result.summary
    heights = summary["final_heights"].values()  # type: ignore[union-attr]
    print(f"seed {seed}  digest {summary['digest']}")
    print(f"final height {max(heights, default=0)}  run folder {result.out_dir}")
    block_time_ms = int(get_run_info(result.frames)["block_time_ms"])
    for line in compute_health_lines(result.frames, duration, block_time_ms):
        print(f"  {line}")
    print(compute_verdict_table(result.verdicts), end="")
    code = _report_expectation(result.unexpected, scenario.expect.fail)
    print(f"report: rppsim report {result.out_dir}")
    return code


def _report_expectation(unexpected: Sequence[str], expected_fail: Sequence[str]) -> int:
    """Say whether the verdicts are as ``[expect]`` says; the exit code (0 or 1)."""
    for problem in unexpected:
        print(f"NOT AS EXPECTED  {problem}")
    if not unexpected and expected_fail:
        print(f"as expected: {', '.join(expected_fail)} failed ([expect])")
    return 1 if unexpected else 0


def cmd_check(args: argparse.Namespace) -> int:
    """Judge a run folder again without re-running it, or a telemetry JSONL file of a live
    deployment: write ``verdicts.json`` and ``junit.xml`` (into the folder, next to the file,
    or into ``--out``), print the verdict table; exit 1 when the verdicts are not as the
    scenario's ``[expect]`` says (for live telemetry: when one failed)."""
    from rppsim.checks import compute_unexpected, compute_verdict_table, write_verdicts
    from rppsim.checks.junit import JUNIT_FILE, write_junit
    from rppsim.telemetry.runfolder import VERDICTS_FILE, get_run_info
    from rppsim.verdicts import VERDICT_IDS, evaluate_verdicts

    unknown = [name for name in args.only or () if name not in VERDICT_IDS]
    if unknown:
        expected = "verdict ids such as safety or g18-liveness"
        raise UserError("rppsim check", "--only", expected, ", ".join(unknown))
    source = Path(args.path)
    if source.is_dir():
        frames, where, out, name = _read_check_folder(source, args.profile)
    elif source.is_file():
        frames, where, out, name = _read_check_telemetry(source, args.profile)
    else:
        expected = "a run folder (from rppsim run) or a telemetry JSONL file"
        raise UserError(args.path, "", expected, "nothing at that path")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
    try:
        verdicts = evaluate_verdicts(frames, None, only=args.only)
    except ValueError as error:
        raise UserError(where, "run_info", "the run facts", str(error)) from None
    write_verdicts(out / VERDICTS_FILE, verdicts)
    write_junit(out / JUNIT_FILE, verdicts, name)
    print(compute_verdict_table(verdicts), end="")
    info = get_run_info(frames)
    if source.is_file():
        print(f"judged by the profile {info['profile_path']}")
    print(f"wrote {out / VERDICTS_FILE} and {out / JUNIT_FILE}")
    expected = [v for v in info.get("expect_fail", "").split(",") if v]
    if args.only is not None:
        expected = [v for v in expected if v in args.only]
    return _report_expectation(compute_unexpected(verdicts, expected), expected)


def _read_check_folder(folder: Path, profile: str | None) -> tuple[dict[str, Any], str, Path, str]:
    """A run folder's frames (with ``--profile`` as its profile), where its facts live, the
    output folder and the junit suite name."""
    from rppsim.telemetry.jsonl import compute_profile_facts, replace_run_info
    from rppsim.telemetry.runfolder import get_run_info, read_run_folder

    frames, _ = read_run_folder(folder)
    if profile is not None:
        frames = replace_run_info(frames, compute_profile_facts(Path(profile)))
    name = get_run_info(frames).get("scenario", folder.name)
    return frames, str(folder / "run_info.parquet"), folder, name


def _read_check_telemetry(path: Path, profile: str | None) -> tuple[dict[str, Any], str, Path, str]:
    """A telemetry JSONL file's frames with the facts to judge them by (``--profile``, else the
    shipped profile of the advertised channel), the file, the output folder (the file's) and
    the junit suite name (its stem); a bad line is a one-line ``UserError``."""
    from rppsim.telemetry.jsonl import (
        TelemetryFileError,
        compute_live_facts,
        read_telemetry_jsonl,
        replace_run_info,
    )

    try:
        frames = read_telemetry_jsonl(path)
    except TelemetryFileError as error:
        raise _get_telemetry_user_error(error) from None
    facts = compute_live_facts(frames, None if profile is None else Path(profile))
    return replace_run_info(frames, facts), str(path), path.parent, path.stem


def _get_telemetry_user_error(error: Any) -> UserError:
    """A bad telemetry file (``TelemetryFileError``) as the CLI's one-line error:
    ``FILE:LINE: [key: ]expected ..., found ...``."""
    where = error.path if error.line is None else f"{error.path}:{error.line}"
    key, sep, rest = error.problem.partition(": expected ")
    if not sep:
        key, rest = "", error.problem.removeprefix("expected ")
    expected, sep, found = rest.partition(", found ")
    return UserError(where, key, expected, found if sep else None)


def cmd_explore(args: argparse.Namespace) -> int:
    """Explore seeded fault schedules of a scenario; print the outcomes and every failure's
    repro file. Exit 1 on a failed checker (with ``--expect-violation``: 0 only when a safety
    or agreement violation was found)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rppsim.sim.explore import compute_outcome_table, is_violation_found, run_explore

    if args.runs < 1 or args.jobs < 1:
        raise UserError("command line", "--runs/--jobs", "integers ≥ 1", f"{args.runs}/{args.jobs}")
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False, disable=args.quiet) as bar:
        runs = bar.add_task("explore", total=args.runs, failed=0)
        shrinks = bar.add_task("shrink", total=None, failed=0, visible=False)
        failed = [0]

        def on_run(outcome: object) -> None:
            failed[0] += bool(getattr(outcome, "failed", ()))
            bar.update(runs, advance=1, failed=failed[0])
            bar.update(shrinks, total=failed[0], visible=failed[0] > 0)

        report = run_explore(
            Path(args.scenario),
            runs=args.runs,
            seed=args.seed,
            jobs=args.jobs,
            out_dir=Path(args.out) if args.out else None,
            prover=args.prover,
            shrink_budget=args.shrink_budget,
            on_run=on_run,
            on_shrunk=lambda k: bar.update(shrinks, advance=k),
        )
    print(f"rppsim explore {args.scenario} --seed {report.seed} --runs {args.runs}")
    print(compute_outcome_table(report), end="")
    print(f"{report.runs_per_minute:.1f} runs per minute ({args.jobs} jobs)  out {report.out_dir}")
    if args.expect_violation:
        return 0 if is_violation_found(report) else 1
    return 1 if report.failures else 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run one benchmark module's ``main``."""
    module = importlib.import_module(f"rppsim.bench.{args.name}")
    return int(module.main(args.bench_args) or 0)


def cmd_report(args: argparse.Namespace) -> int:
    """Write ``report.md`` (with its PNG figures) and a self-contained ``report.html`` for a run
    folder; print the two paths."""
    from rppsim.report import write_report

    markdown, html = write_report(Path(args.run_dir), Path(args.out) if args.out else None)
    print(markdown)
    print(html)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (no usage dump) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from rppsim.bench import available

    parser = _Parser(prog="rppsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = sub.add_parser("validate", help="check config, genesis and scenario files")
    validate.add_argument("paths", nargs="+", help="files or folders of .toml files")
    validate.add_argument(
        "--relaxed", action="store_true", help="warn about unknown keys instead of failing"
    )
    validate.set_defaults(func=cmd_validate)

    run = sub.add_parser("run", help="run a scenario and write its run folder")
    run.add_argument("scenario", help="scenario file (TOML)")
    run.add_argument(
        "--seed", type=_natural, help="replay with this seed (default: the scenario's)"
    )
    run.add_argument("--out", help="run folder (default: reports/<scenario>/<seed>/)")
    run.add_argument("--duration-ms", type=_natural, help="override the simulated duration")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser(
        "check", help="judge a run folder or live telemetry (verdicts.json, junit.xml)"
    )
    check.add_argument(
        "path",
        metavar="PATH",
        help="a run folder written by rppsim run, or a telemetry JSONL file (one snapshot per"
        " line: collector lines or the node's telemetry log lines)",
    )
    check.add_argument("--only", nargs="+", metavar="ID", help="only these verdict ids")
    check.add_argument(
        "--profile",
        metavar="FILE",
        help="judge against this node profile (default: the run's; for telemetry, the shipped"
        " profile of the channel the snapshots advertise)",
    )
    check.add_argument(
        "--out", metavar="DIR", help="write verdicts.json and junit.xml here instead"
    )
    check.set_defaults(func=cmd_check)

    explore = sub.add_parser("explore", help="search seeded fault schedules for violations")
    explore.add_argument("scenario", help="base scenario file (TOML), optionally with [explore]")
    explore.add_argument("--runs", type=_natural, required=True, help="how many runs")
    explore.add_argument("--seed", type=_natural, help="exploration seed (default: the scenario's)")
    explore.add_argument("--jobs", type=_natural, default=2, help="worker processes (default 2)")
    explore.add_argument(
        "--out", help="output folder (default: reports/explore/<scenario>/<seed>/)"
    )
    explore.add_argument(
        "--prover", choices=("model", "real"), default="model", help="prover mode (default model)"
    )
    explore.add_argument(
        "--shrink-budget", type=_natural, default=30, help="runs per failure spent shrinking"
    )
    explore.add_argument(
        "--expect-violation",
        action="store_true",
        help="exit 0 only when a safety or agreement violation was found",
    )
    explore.add_argument("--quiet", action="store_true", help="no progress bar")
    explore.set_defaults(func=cmd_explore)

    bench = sub.add_parser("bench", help="run a benchmark and print its figures")
    bench.add_argument("name", choices=available())
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="options of the benchmark")
    bench.set_defaults(func=cmd_bench)

    report = sub.add_parser("report", help="write report.md and report.html for a run folder")
    report.add_argument("run_dir", help="a run folder written by rppsim run")
    report.add_argument("--out", help="output folder (default: the run folder)")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rppsim`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as error:
        print(f"rppsim: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
