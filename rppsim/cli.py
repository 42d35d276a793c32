"""The ``rppsim`` command line.

User errors (a bad file, key or flag) print one line naming the file, key and what was
expected, and exit 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rppsim.argtypes import OneLineParser, natural, positive
from rppsim.errors import EXIT_USER_ERROR, UserError, compute_one_line


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
    checkers' verdicts; exit 1 when the verdicts are not as its ``[expect]`` says. Several
    files, a folder or ``--tag`` make a library run (``cmd_run_library``)."""
    if args.out == "":
        raise UserError("rppsim run", "--out", "a folder path", "''")
    if len(args.scenarios) > 1 or args.tag is not None or Path(args.scenarios[0]).is_dir():
        return cmd_run_library(args)
    if args.jobs != 1:
        raise UserError("rppsim run", "--jobs", "1 for a single scenario file", str(args.jobs))
    if args.resume:
        expected = "a library run (several files, a folder or --tag)"
        raise UserError("rppsim run", "--resume", expected, "one scenario file")
    return cmd_run_one(args, args.scenarios[0])


def cmd_run_library(args: argparse.Namespace) -> int:
    """Run every scenario of the named files and folders (with ``--tag``: those carrying the
    tag), one line each; exit 1 when any run's verdicts are not as its ``[expect]`` says.
    ``--resume`` keeps the runs an earlier library run finished and replaces its interrupted
    ones. SIGINT / SIGTERM start no further run, stop the running ones at their next step
    (written marked interrupted), print one line and exit 130 / 143."""
    from rppsim.library import (
        ResumePlan,
        compute_outcome_line,
        find_entries,
        plan_resume,
        run_library,
        select_tagged,
    )

    for flag, value in (("--seed", args.seed), ("--duration-ms", args.duration_ms)):
        if value is not None:
            expected = "no override: a library run uses each scenario's own"
            raise UserError("rppsim run", flag, expected, str(value))
    if args.resume and args.force:
        raise UserError("rppsim run", "--resume", "either --resume or --force", "both")
    entries = select_tagged(find_entries(args.scenarios), args.tag)
    out_root = Path(args.out) if args.out else None
    resume = plan_resume(entries, out_root) if args.resume else ResumePlan({}, frozenset(), ())
    to_run = list(resume.to_run) if args.resume else entries
    fresh = [e for e in to_run if e.label not in resume.replacing]
    check_library_targets(fresh, out_root, force=args.force)
    check_library_targets([e for e in to_run if e not in fresh], out_root, force=True)
    tagged = f" tagged {args.tag}" if args.tag else ""
    kept = f", {len(resume.finished)} finished earlier" if args.resume else ""
    print(f"rppsim run: {len(entries)} scenarios{tagged}{kept}, {args.jobs} jobs")
    for outcome in resume.finished.values():
        print(compute_outcome_line(outcome), flush=True)
    started = time.perf_counter()
    with catch_stop_signals() as caught:
        ran = run_library(
            to_run,
            out_root=out_root,
            jobs=args.jobs,
            force=args.force,
            replacing=resume.replacing,
            done=lambda outcome: print(compute_outcome_line(outcome), flush=True),
            stop=lambda: bool(caught),
        )
    if caught and any(o is None or o.interrupted for o in ran):
        finished = sum(o is not None and not o.interrupted for o in ran)
        stopped = sum(o is not None and o.interrupted for o in ran)
        print(
            f"rppsim run: interrupted by {signal.Signals(caught[0]).name};"
            f" {finished + len(resume.finished)} of {len(entries)} runs finished (kept),"
            f" {stopped} stopped early (kept, marked interrupted),"
            f" {ran.count(None)} not started; --resume runs the rest"
        )
        return INTERRUPTED_EXIT[caught[0]]
    by_label = {o.label: o for o in ran if o is not None} | resume.finished
    outcomes = [by_label[e.label] for e in entries]
    failed = [o.label for o in outcomes if not o.as_expected]
    elapsed = time.perf_counter() - started
    print(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} as expected in {elapsed:.1f} s"
        + (f"; not as expected: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def cmd_run_one(args: argparse.Namespace, path: str) -> int:
    """``rppsim run FILE``: one scenario with a progress bar, its health lines and verdicts."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rppsim.checks import compute_verdict_table
    from rppsim.scenario import load_scenario
    from rppsim.sim.builders import build_node_config
    from rppsim.sim.run import check_overrides, default_out_dir, execute_run
    from rppsim.telemetry.health import compute_health_lines
    from rppsim.telemetry.runfolder import check_run_target, get_run_info

    scenario = load_scenario(Path(path))
    check_overrides(scenario, args.seed, args.duration_ms)
    if args.duration_ms is not None:  # its windows checked as if the file said so
        load_scenario(Path(path), duration_ms=args.duration_ms)
    seed = scenario.run.seed if args.seed is None else args.seed
    duration = scenario.run.duration_ms if args.duration_ms is None else args.duration_ms
    out = Path(args.out) if args.out else default_out_dir(scenario, seed, args.duration_ms)
    check_run_target(out, force=args.force)
    print(f"rppsim run {path} --seed {seed}")
    print_compile_notice()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("sim {task.completed:>9,.0f}/{task.total:,.0f} ms"),
        TextColumn("height {task.fields[height]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False, disable=args.quiet) as bar:
        task = bar.add_task(scenario.run.name or Path(path).stem, total=duration, height=0)

        def progress(now_ms: int, height: int) -> None:
            bar.update(task, completed=now_ms, height=height)

        with catch_stop_signals() as caught:
            result = execute_run(
                scenario,
                seed=seed,
                duration_ms=duration,
                out_dir=out,
                progress=progress,
                force=args.force,
                stop=lambda: bool(caught),
            )
        bar.update(task, completed=int(get_run_info(result.frames)["duration_ms"]))
    summary = result.summary
    if summary.get("interrupted"):
        name = signal.Signals(caught[0]).name
        reached = int(get_run_info(result.frames)["duration_ms"])
        print(
            f"rppsim run: interrupted by {name} at simulated {reached:,} of {duration:,} ms;"
            f" wrote what it had to {result.out_dir} (marked interrupted)"
        )
        return INTERRUPTED_EXIT[caught[0]]
    final = max(summary["final_heights"].values(), default=0)
    if "block_finalized" not in result.frames:  # the fast engine: every block it writes is final
        heights = result.frames["blocks"]["height"]
        final = int(heights.max()) if len(heights) else 0
    print(f"seed {seed}  digest {summary['digest']}")
    print(f"final height {final}  run folder {result.out_dir}")
    block_time_ms = build_node_config(scenario).block_time_ms
    for line in compute_health_lines(result.frames, duration, block_time_ms):
        print(f"  {line}")
    print(compute_verdict_table(result.verdicts), end="")
    code = _report_expectation(result.unexpected, scenario.expect.fail)
    print(f"report: rppsim report {result.out_dir}")
    return code


INTERRUPTED_EXIT: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}
"""Exit codes of a run stopped by a signal (128 + the signal's number, as a shell reports)."""


@contextmanager
def catch_stop_signals() -> Iterator[list[int]]:
    """While inside, SIGINT and SIGTERM are noted in the yielded list instead of raising, so a
    run can stop at its next step and keep what it has; the previous handlers come back after.
    (Off the main thread, where handlers cannot be set, signals keep their default effect.)"""
    caught: list[int] = []
    previous: dict[int, Any] = {}

    def on_signal(signum: int, frame: object) -> None:
        caught.append(signum)

    for number in INTERRUPTED_EXIT:
        try:
            previous[number] = signal.signal(number, on_signal)
        except ValueError:
            break
    try:
        yield caught
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def print_compile_notice() -> None:
    """One line before a run whose numba kernels are not compiled (cached) yet."""
    from rppsim.prover import jit

    if not jit.is_compile_cached():
        print(
            "compiling numba kernels (first run only, 15-30 s with the real prover;"
            " `rppsim compile` does it ahead)",
            flush=True,
        )


def check_library_targets(entries: Sequence[Any], out_root: Path | None, *, force: bool) -> None:
    """Every run folder of a library run can be placed (``check_run_target``) before any runs."""
    from rppsim.scenario import load_scenario
    from rppsim.sim.run import default_out_dir
    from rppsim.telemetry.runfolder import check_run_target

    for entry in entries:
        if out_root is not None:
            check_run_target(out_root / entry.label, force=force)
        else:
            scenario = load_scenario(entry.path)
            check_run_target(default_out_dir(scenario, scenario.run.seed), force=force)


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
    if (source / "testnet.json").is_file():  # a testnet folder (rppsim testnet up)
        from rppsim.testnet.check import cmd_check_testnet

        return cmd_check_testnet(args)
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
    expect_fail = [v for v in info.get("expect_fail", "").split(",") if v]
    if args.only is not None:
        expect_fail = [v for v in expect_fail if v in args.only]
    return _report_expectation(compute_unexpected(verdicts, expect_fail), expect_fail)


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
    or agreement violation was found). SIGINT / SIGTERM keep every finished run (recorded in
    the output folder), print one line and exit 130 / 143; the same command resumes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rppsim.explore import (
        ExploreInterruptedError,
        compute_outcome_table,
        is_violation_found,
        run_explore,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TimeElapsedColumn(),
    )
    with catch_stop_signals() as caught, Progress(*columns, disable=args.quiet) as bar:
        runs = bar.add_task("explore", total=args.runs, failed=0)
        shrinks = bar.add_task("shrink", total=None, failed=0, visible=False)
        failed = [0]

        def on_run(outcome: object) -> None:
            failed[0] += bool(getattr(outcome, "failed", ()))
            bar.update(runs, advance=1, failed=failed[0])
            bar.update(shrinks, total=failed[0], visible=failed[0] > 0)

        interrupted: ExploreInterruptedError | None = None
        try:
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
                stop=lambda: bool(caught),
            )
        except ExploreInterruptedError as stopped:
            interrupted = stopped
    if interrupted is not None:
        shrunk = interrupted.shrinks
        where = f"{shrunk[0]} of {shrunk[1]} failures shrunk, " if shrunk[1] else ""
        print(
            f"rppsim explore: interrupted by {signal.Signals(caught[0]).name};"
            f" {interrupted.runs[0]} of {interrupted.runs[1]} runs finished, {where}kept in"
            f" {interrupted.out_dir / 'records'}; the same command resumes"
        )
        return INTERRUPTED_EXIT[caught[0]]
    print(f"rppsim explore {args.scenario} --seed {report.seed} --runs {args.runs}")
    print(compute_outcome_table(report), end="")
    resumed = f"; {report.resumed} runs recorded earlier" if report.resumed else ""
    print(
        f"{report.runs_per_minute:.1f} runs per minute ({args.jobs} jobs{resumed})"
        f"  out {report.out_dir}"
    )
    if args.expect_violation:
        return 0 if is_violation_found(report) else 1
    return 1 if report.failures else 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run one benchmark module's ``main``."""
    module = importlib.import_module(f"rppsim.bench.{args.name}")
    return int(module.main(args.bench_args) or 0)


def cmd_compile(args: argparse.Namespace) -> int:
    """Compile the numba kernels into their on-disk cache now, so the first run starts at once:
    a small real-prover run (4 nodes, a few simulated seconds, nothing written) compiles and
    caches every kernel a run uses."""
    from rppsim.bench.sim import build_bench_scenario
    from rppsim.prover.jit import COMPILE_RUN_MS, is_compile_cached
    from rppsim.sim.run import execute_run

    state = "cached already; checking" if is_compile_cached() else "compiling"
    print(f"rppsim compile: numba kernels {state} (a small real-prover run)...", flush=True)
    started = time.perf_counter()
    execute_run(build_bench_scenario(4, 4, COMPILE_RUN_MS, "real"), write=False)
    wall_s = time.perf_counter() - started
    print(f"rppsim compile: done in {wall_s:.1f} s; later runs load the cached code")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write ``report.md`` (with its PNG figures) and a self-contained ``report.html`` for a run
    folder; print the two paths."""
    from rppsim.report import write_report

    markdown, html = write_report(Path(args.run_dir), Path(args.out) if args.out else None)
    print(markdown)
    print(html)
    return 0


ADDED_COMMANDS = (
    "rppsim.model.fidelity",
    "rppsim.sweep.cli",
    "rppsim.testnet.cli",
)
"""Modules that register their own subcommands (``add_parser(sub)``)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from rppsim.bench import available

    parser = OneLineParser(prog="rppsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    validate = sub.add_parser("validate", help="check config, genesis and scenario files")
    validate.add_argument("paths", nargs="+", help="files or folders of .toml files")
    validate.add_argument(
        "--relaxed", action="store_true", help="warn about unknown keys instead of failing"
    )
    validate.set_defaults(func=cmd_validate)

    run = sub.add_parser("run", help="run a scenario (or a library of them) and judge it")
    run.add_argument(
        "scenarios",
        nargs="+",
        metavar="SCENARIO",
        help="scenario file (TOML); several files or a folder run each scenario in it",
    )
    run.add_argument(
        "--tag", help="run only the scenarios whose [run] tags hold this tag (such as ci)"
    )
    run.add_argument(
        "--jobs", type=positive, default=1, help="worker processes of a library run (default 1)"
    )
    run.add_argument("--seed", type=natural, help="replay with this seed (default: the scenario's)")
    run.add_argument(
        "--out",
        help="run folder (default: reports/<scenario>/<seed>/); for a library run, the folder"
        " that holds one run folder per scenario",
    )
    run.add_argument("--duration-ms", type=natural, help="override the simulated duration")
    run.add_argument(
        "--force", action="store_true", help="replace a run folder already at the output place"
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="library run: keep the runs an earlier (interrupted) library run finished, run"
        " the rest (its interrupted runs again)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser(
        "check", help="judge a run folder or live telemetry (verdicts.json, junit.xml)"
    )
    check.add_argument(
        "path",
        metavar="PATH",
        help="a run folder written by rppsim run, a testnet folder (rppsim testnet up), or a"
        " telemetry JSONL file (one snapshot per line: collector lines or the node's telemetry"
        " log lines)",
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
    explore.add_argument("--runs", type=positive, required=True, help="how many runs")
    explore.add_argument("--seed", type=natural, help="exploration seed (default: the scenario's)")
    explore.add_argument("--jobs", type=positive, default=2, help="worker processes (default 2)")
    explore.add_argument(
        "--out", help="output folder (default: reports/explore/<scenario>/<seed>/)"
    )
    explore.add_argument(
        "--prover", choices=("model", "real"), default="model", help="prover mode (default model)"
    )
    explore.add_argument(
        "--shrink-budget", type=natural, default=30, help="runs per failure spent shrinking"
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

    compile_ = sub.add_parser(
        "compile", help="compile the numba kernels ahead (else the first run does, 15-30 s)"
    )
    compile_.set_defaults(func=cmd_compile)

    report = sub.add_parser("report", help="write report.md and report.html for a run folder")
    report.add_argument("run_dir", help="a run folder written by rppsim run")
    report.add_argument("--out", help="output folder (default: the run folder)")
    report.set_defaults(func=cmd_report)

    from importlib import import_module

    for module in ADDED_COMMANDS:
        import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rppsim`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as error:
        print(f"rppsim: error: {compute_one_line(str(error))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"rppsim {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT[signal.SIGINT]


if __name__ == "__main__":
    sys.exit(main())
