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


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate node configs, profiles, genesis files and scenarios; exit 2 on the first bad one."""
    from rppsim.validation import validate_file

    for path in _expand_paths(args.paths):
        kind, warnings = validate_file(path, strict=not args.relaxed)
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"ok  {kind:<10} {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run one benchmark module's ``main``."""
    module = importlib.import_module(f"rppsim.bench.{args.name}")
    return int(module.main(args.bench_args) or 0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from rppsim.bench import available

    parser = argparse.ArgumentParser(prog="rppsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check config, genesis and scenario files")
    validate.add_argument("paths", nargs="+", help="files or folders of .toml files")
    validate.add_argument(
        "--relaxed", action="store_true", help="warn about unknown keys instead of failing"
    )
    validate.set_defaults(func=cmd_validate)

    bench = sub.add_parser("bench", help="run a benchmark and print its figures")
    bench.add_argument("name", choices=available())
    bench.add_argument("bench_args", nargs=argparse.REMAINDER, help="options of the benchmark")
    bench.set_defaults(func=cmd_bench)
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
