"""``rppsim sweep SWEEP.toml``: run a sweep with a progress bar, print where its tables are.

A bad sweep file is one line naming the file and key, exit 2, before any run. SIGINT (or
SIGTERM) keeps the finished runs, prints one line and exits 130 (143); the same command
resumes (docs/sweeps.md#resuming).
"""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path


def cmd_sweep(args: argparse.Namespace) -> int:
    """Check the sweep file, run what is not recorded yet, write the tables."""
    from rppsim.cli import INTERRUPTED_EXIT
    from rppsim.sweep.executors import build_executor
    from rppsim.sweep.runner import SweepInterruptedError, run_sweep
    from rppsim.sweep.spec import load_sweep

    if args.scheduler is not None and args.executor != "dask":
        build_executor(args.executor, args.jobs, args.scheduler)  # the one-line error
    spec = load_sweep(Path(args.sweep))
    jobs = "all cores" if args.jobs is None else f"{args.jobs} jobs"
    where = f"scheduler {args.scheduler}" if args.scheduler else f"{args.executor}, {jobs}"
    print(
        f"rppsim sweep {args.sweep}: {len(spec.points)} points × {len(spec.seeds)} seeds,"
        f" design {spec.design}, engine {spec.engine} ({where})",
        flush=True,
    )
    started = time.perf_counter()

    def on_start(pending: int, total: int) -> None:
        if pending < total:
            print(f"resuming: {total - pending} of {total} runs recorded already", flush=True)

    try:
        out = run_sweep(
            spec,
            Path(args.out) if args.out else None,
            executor=args.executor,
            jobs=args.jobs,
            scheduler=args.scheduler,
            quiet=args.quiet,
            on_start=on_start,
        )
    except SweepInterruptedError as stop:
        name = signal.Signals(stop.signum).name
        print(
            f"rppsim sweep: interrupted by {name} after {stop.done} of {stop.total} runs;"
            f" they are kept in {stop.out_dir}; run the same command to resume"
        )
        return INTERRUPTED_EXIT[stop.signum]
    print(f"done in {time.perf_counter() - started:.1f} s")
    for name in ("runs.parquet", "summary.parquet", "sobol.parquet"):
        if (out / name).exists():
            print(f"  {out / name}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``sweep`` on the CLI's subparsers."""
    from rppsim.argtypes import positive

    sweep = sub.add_parser("sweep", help="run a parameter sweep or Monte Carlo over a scenario")
    sweep.add_argument("sweep", metavar="SWEEP", help="a sweep file (TOML; docs/sweeps.md)")
    sweep.add_argument(
        "--out", help="sweep folder (default: reports/sweeps/<name>/); a folder there resumes"
    )
    sweep.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="local worker processes (default) or Dask distributed",
    )
    sweep.add_argument(
        "--jobs", type=positive, help="worker processes (default: every core of the machine)"
    )
    sweep.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --executor dask: join the cluster of this scheduler (tcp://host:8786)"
        " instead of starting a LocalCluster",
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(func=cmd_sweep)
