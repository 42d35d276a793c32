"""Fuzzed input for every command (issue 13): generated scenario documents, profile overlays
(``[params]``) and command lines — valid, near-valid and garbage — each either runs (a few
hundred simulated ms, model prover) or exits 2 with one line; never a traceback or a hang.

Everything goes through ``rppsim.cli.main`` in-process. A valid document is run with
``--duration-ms 200`` into a fresh folder; an argument vector that would start real work
(a benchmark, an exploration) is generated only with at least one bad value.
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rppsim.cli import main
from rppsim.node.config import OVERRIDE_PATHS

pytestmark = pytest.mark.slow

PROFILE = (Path(__file__).parents[1] / "node" / "profiles" / "testnet.toml").as_posix()
BASE: dict[str, Any] = {
    "run": {"seed": 5, "duration_ms": 300, "prover": "model", "name": "fuzz"},
    "nodes": {"count": 4, "validators": 4, "profile": PROFILE},
    "network": {"topology": "complete", "link": {"latency_ms": [10, 30]}},
    "traffic": {"tx_per_s": 2.0},
}
RUN_MS = "200"
EXAMPLE_LIMIT_S = 60
"""A single example taking longer than this is a hang (SIGALRM fails the test)."""
SCALE = float(os.environ.get("RPPSIM_FUZZ_SCALE", "1"))
"""Examples per property × SCALE (``RPPSIM_FUZZ_SCALE=0.05`` for a quick look); 1 in the suite."""
FUZZ = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_counter = itertools.count()

# --- values: boundaries, wrong types, garbage ---------------------------------------------

INTEGERS = st.one_of(
    st.integers(-3, 40),
    st.sampled_from([-(2**63), 2**63, 2**64, 2**64 - 1, 10**30, 86_400_001, 10_001]),
)
FLOATS = st.one_of(
    st.floats(-1.0, 50.0),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e9, 1e300, 10_000.5]),
)
SCALARS = st.one_of(
    INTEGERS,
    FLOATS,
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["complete", "ring", "small-world", "poisson", "on-off", "crash", "real"]),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.dictionaries(st.text(max_size=6), SCALARS, max_size=3),
)
KEY_PATHS = [
    "run.seed", "run.duration_ms", "run.prover", "run.name", "run.engine", "run.tags",
    "nodes.count", "nodes.validators", "nodes.profile", "network.topology", "network.degree",
    "network.rewire", "network.p", "network.gossip", "network.link.latency_ms",
    "network.link.loss", "network.link.jitter_ms", "network.link.bandwidth_mbps",
    "traffic.tx_per_s", "traffic.identity_per_min", "traffic.publisher", "traffic.zipf_s",
    "telemetry.sample_interval_ms", "telemetry.record_messages", "costs.enabled",
    "expect.fail", "guardrails", "explore", "rules", "genesis", "stage", "run", "nodes",
]  # fmt: skip
FAULT_KINDS = [
    "crash", "restart", "pause", "heal", "partition", "degrade", "skew", "churn",
    "telemetry-outage", "meteor",
]  # fmt: skip
FAULT_KEYS = ["node", "nodes", "at_ms", "until_ms", "groups", "links", "loss", "offset_ms"]


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *tables, last = path.split(".")
    for name in tables:
        inner = data.get(name)
        if not isinstance(inner, dict):
            inner = data[name] = {}
        data = inner
    data[last] = value


def _delete(data: dict[str, Any], path: str) -> None:
    *tables, last = path.split(".")
    for name in tables:
        data = data.get(name)  # type: ignore[assignment]
        if not isinstance(data, dict):
            return
    data.pop(last, None)


@st.composite
def faults(draw: st.DrawFn) -> dict[str, Any]:
    """A ``[[fault]]`` entry: a kind and a few of the fault keys, mostly in range."""
    fault: dict[str, Any] = {"kind": draw(st.sampled_from(FAULT_KINDS))}
    for key in draw(st.lists(st.sampled_from(FAULT_KEYS), max_size=4, unique=True)):
        small = st.integers(0, 400) if key.endswith("_ms") else st.integers(0, 4)
        fault[key] = draw(st.one_of(small, VALUES, st.lists(st.integers(0, 4), max_size=3)))
    return fault


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """The base document with one to four mutations: set, delete, unknown key, fault, phase."""
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "set", "delete", "unknown", "fault", "phase"]))
        if op == "set":
            _set(data, draw(st.sampled_from(KEY_PATHS)), draw(VALUES))
        elif op == "delete":
            _delete(data, draw(st.sampled_from(KEY_PATHS)))
        elif op == "unknown":
            _set(data, draw(st.sampled_from(["run", "nodes", "traffic", ""])) + ".zz", 1)
        elif op == "fault":
            data.setdefault("fault", []).append(draw(faults()))
        else:
            phase = {"duration_ms": draw(INTEGERS), "rate_per_s": draw(FLOATS)}
            if draw(st.booleans()):
                phase |= {"model": "on-off", "on_ms": draw(INTEGERS), "off_ms": draw(INTEGERS)}
            _delete(data, "traffic.tx_per_s")
            data.setdefault("traffic", {}).setdefault("phase", []).append(phase)
    return data


@st.composite
def overlays(draw: st.DrawFn) -> dict[str, Any]:
    """The base document with a ``[params]`` overlay of the node profile: real key paths
    (and a few unknown ones) set to near-valid or garbage values."""
    data = copy.deepcopy(BASE)
    paths = st.one_of(st.sampled_from(sorted(OVERRIDE_PATHS)), st.text(max_size=10))
    params: dict[str, Any] = {}
    for path in draw(st.lists(paths, min_size=1, max_size=3, unique=True)):
        _set(params, path, draw(VALUES)) if path and "." in path else params.update({path: 1})
    data["params"] = params
    return data


# --- running one input -------------------------------------------------------------------


@contextlib.contextmanager
def _time_limit() -> Iterator[None]:
    def fail(signum: int, frame: object) -> None:
        raise TimeoutError(f"an example ran longer than {EXAMPLE_LIMIT_S} s (a hang)")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(EXAMPLE_LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``main(argv)``: its exit code and stderr; any exception fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with _time_limit(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse: --help, or a bad flag (exit 2)
            code = stop.code if isinstance(stop.code, int) else 2
    return code, err.getvalue()


def assert_runs_or_one_line(code: int, stderr: str, argv: list[str]) -> None:
    """Exit 0 or 1 (it ran and was judged), or 2 with exactly one line and no traceback."""
    assert "Traceback" not in stderr, (argv, stderr)
    if code == 2:
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "error" in lines[0], (argv, stderr)
    else:
        assert code in (0, 1), (argv, code, stderr)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _write(folder: Path, text: str | bytes) -> Path:
    path = folder / f"doc{next(_counter)}.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def check_document(folder: Path, data: dict[str, Any]) -> None:
    """Validate the document; when it is valid, run it (200 simulated ms)."""
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):  # not representable in TOML (NaN keys and such)
        return
    path = _write(folder, text)
    code, stderr = run_cli(["validate", str(path)])
    assert_runs_or_one_line(code, stderr, ["validate", str(path)])
    if code == 0:
        argv = ["run", str(path), "--quiet", "--duration-ms", RUN_MS]
        argv += ["--out", str(folder / f"run{next(_counter)}")]
        code, stderr = run_cli(argv)
        assert_runs_or_one_line(code, stderr, argv)


# --- the properties (10,000 inputs in all) -------------------------------------------------


@settings(FUZZ, max_examples=int(4_000 * SCALE))
@given(data=documents())
def test_scenario_documents_run_or_exit_2_with_one_line(folder: Path, data: dict) -> None:
    check_document(folder, data)


@settings(FUZZ, max_examples=int(1_500 * SCALE))
@given(data=overlays())
def test_profile_overlays_run_or_exit_2_with_one_line(folder: Path, data: dict) -> None:
    check_document(folder, data)


@settings(FUZZ, max_examples=int(1_000 * SCALE))
@given(
    text=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200),
        st.builds(
            lambda doc, cut: doc[:cut],
            st.just(tomli_w.dumps(BASE)),
            st.integers(0, len(tomli_w.dumps(BASE))),
        ),
    )
)
def test_garbage_files_exit_2_with_one_line(folder: Path, text: str | bytes) -> None:
    path = _write(folder, text)
    out = str(folder / f"run{next(_counter)}")
    for argv in (
        ["validate", str(path)],
        ["run", str(path), "--quiet", "--duration-ms", RUN_MS, "--out", out],
    ):
        code, stderr = run_cli(argv)
        assert_runs_or_one_line(code, stderr, argv)


FLAG_VALUES = st.one_of(
    st.sampled_from(["", "-1", "0", "abc", "1.5", "nan", str(2**64), "1e9", "/proc/x", "bogus"]),
    st.text(max_size=8),
)


@st.composite
def argv_vectors(draw: st.DrawFn, folder: Path) -> list[str]:
    """A command and flags: each flag of the command (or an unknown one) with a drawn value;
    ``bench``, ``explore`` and ``fidelity`` always get at least one bad value."""
    command = draw(st.sampled_from(["run", "validate", "check", "report", "explore", "bench",
                                    "fidelity", "compile", "nope", ""]))  # fmt: skip
    flags = {
        "run": ["--seed", "--duration-ms", "--out", "--jobs", "--tag", "--bogus"],
        "validate": ["--relaxed", "--bogus"],
        "check": ["--only", "--profile", "--out", "--bogus"],
        "report": ["--out", "--bogus"],
        "explore": ["--runs", "--seed", "--jobs", "--shrink-budget", "--prover"],
        "bench": ["--repeat", "--seconds", "--validators", "--messages", "--memory-nodes"],
        "fidelity": ["--seeds", "--jobs", "--out"],
    }.get(command, ["--bogus"])
    argv = [command] if command else []
    targets = [str(folder / "missing.toml"), str(folder), str(folder / "doc0.toml"), ""]
    if command == "bench":
        argv.append(draw(st.sampled_from(["vrf", "node", "sim", "prover", "nope"])))
    elif command in ("run", "validate", "check", "report", "explore"):
        argv.append(draw(st.sampled_from(targets)))
    for flag in draw(st.lists(st.sampled_from(flags), max_size=3)):
        argv += [flag, draw(FLAG_VALUES)]
    if command in ("bench", "explore", "fidelity", "compile"):
        argv += [flags[0] if command != "compile" else "--bogus", "-1"]  # never real work
    if command == "run":
        argv += ["--quiet", "--duration-ms", RUN_MS, "--out", str(folder / f"o{next(_counter)}")]
    return argv


@settings(FUZZ, max_examples=int(3_500 * SCALE))
@given(data=st.data())
def test_command_lines_run_or_exit_2_with_one_line(folder: Path, data: st.DataObject) -> None:
    _write(folder, tomli_w.dumps(BASE)) if not (folder / "doc0.toml").exists() else None
    argv = data.draw(argv_vectors(folder))
    code, stderr = run_cli(argv)
    assert_runs_or_one_line(code, stderr, argv)
