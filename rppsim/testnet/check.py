"""``rppsim check DIR`` on a testnet folder: the guardrails on the telemetry its collector
gathered, as ``rppsim check FILE.jsonl`` judges it, plus the three guardrails only a live
deployment decides (docs/operations.md#guardrails rows 23, 26, 27), from the nodes' own
answers:

- ``g23-storage-migration``: every node's data dir opens at the current storage schema version
  (``rppsim.testnet.storage``; an old one names ``rppsim node migrate``);
- ``g26-rpc-availability``: the share of the status endpoints
  (docs/operations.md#status-and-telemetry-payloads) that answered 200 with a JSON object,
  probed on every node now, and the share of the requests each node answered successfully
  since it started (``rpp_runtime_rpc_request_total{result}``); the lower is held to the
  chain's warning bound 0.99 of ``RpcAvailabilityDegradedWarning``;
- ``g27-health-probes``: every node's ``/health/live`` and ``/health/ready`` answer 200 with
  ``ready`` true and no subsystem false, and ``/health`` says ``ok``, not ``degraded``
  (docs/operations.md#health-endpoints).

Verdicts have the shape of every other (``rppsim.checks.verdict``): the table, ``verdicts.json``
and ``junit.xml`` go where ``rppsim check`` writes them for a telemetry file (into the folder or
``--out``); the exit code is 1 when a verdict failed.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from rppsim.checks.verdict import Verdict
from rppsim.guardrails.base import make_verdict
from rppsim.testnet.orchestra import (
    NODE_CONFIG,
    Testnet,
    fetch,
    is_running,
    load_testnet,
    node_url,
)

STATUS_ROUTES: Final = (
    "/status/rollout",
    "/status/node",
    "/status/consensus",
    "/status/mempool",
    "/validator/telemetry",
)
"""The RPC a node serves for row 26: the status payloads
(docs/operations.md#status-and-telemetry-payloads)."""
MIN_RPC_AVAILABILITY: Final = 0.99
"""``RpcAvailabilityDegradedWarning`` fires below this success ratio
(docs/operations.md#alert-rules)."""
LIVE_IDS: Final = ("g23-storage-migration", "g26-rpc-availability", "g27-health-probes")
"""The verdicts this module decides from the nodes (the telemetry's are not applicable)."""


# --------------------------------------------------------------------------------------------
# The live guardrails.


def _running(testnet: Testnet) -> list[dict[str, Any]]:
    return [e for e in testnet.nodes if is_running(e.get("pid"), e.get("argv"))]


SUCCESS_RESULTS: Final = ("success",)
"""``result`` label value of a successful request (the chain's rule counts ``success``)."""


def compute_served_requests(entry: Mapping[str, Any]) -> tuple[int, int] | None:
    """(successful, all) requests a node has answered since it started, from its
    ``rpp_runtime_rpc_request_total{method, result}``; None when it exports none."""
    from prometheus_client.parser import text_string_to_metric_families

    answer = fetch(node_url(entry, "/metrics"))
    if answer.status != 200:
        return None
    ok = total = 0
    found = False
    try:
        for family in text_string_to_metric_families(answer.body):
            for sample in family.samples:
                if sample.name == "rpp_runtime_rpc_request_total":
                    found = True
                    total += int(sample.value)
                    ok += int(sample.value) if sample.labels.get("result") in SUCCESS_RESULTS else 0
    except ValueError:
        return None
    return (ok, total) if found else None


def evaluate_rpc_availability(testnet: Testnet) -> Verdict:
    """Row 26: every status route of every node, probed once now (success = 200 with a JSON
    object), and the requests each node served since it started (its
    ``rpp_runtime_rpc_request_total``); the lower of the two ratios is held to 0.99. A testnet
    with no node running cannot be probed (not applicable)."""
    if not _running(testnet):
        return make_verdict(26, None, None, None, "no node of the testnet is running to probe")
    total, failures = 0, []
    served_ok = served_all = 0
    for entry in testnet.nodes:
        served = compute_served_requests(entry)
        if served is not None:
            served_ok, served_all = served_ok + served[0], served_all + served[1]
        for route in STATUS_ROUTES:
            total += 1
            answer = fetch(node_url(entry, route))
            if answer.status != 200 or not isinstance(answer.json(), dict):
                found = answer.status or answer.error or "no answer"
                failures.append((entry["index"], f"node {entry['index']} {route}: {found}"))
    probed = (total - len(failures)) / total
    ratio = min(probed, served_ok / served_all) if served_all else probed
    message = f"{total - len(failures)} of {total} status requests answered now" + (
        f"; the nodes answered {served_ok} of {served_all} requests since they started"
        if served_all
        else ""
    )
    if failures:
        message += f"; first failure {failures[0][1]}"
    first = failures[0][0] if failures else None
    return make_verdict(26, ratio >= MIN_RPC_AVAILABILITY, ratio, MIN_RPC_AVAILABILITY, message,
                        first)  # fmt: skip


def compute_health_problems(entry: Mapping[str, Any]) -> list[str]:
    """What is wrong with one node's health probes (empty: all fine)."""
    problems = []
    live = fetch(node_url(entry, "/health/live"))
    if live.status != 200:
        problems.append(f"/health/live {live.status or live.error or 'no answer'}")
    ready = fetch(node_url(entry, "/health/ready"))
    body = ready.json() if ready.status in (200, 503) else None
    if ready.status != 200:
        problems.append(f"/health/ready {ready.status or ready.error or 'no answer'}")
    elif not isinstance(body, dict) or body.get("ready") is not True:
        problems.append("/health/ready: ready is not true")
    else:
        subsystems = body.get("subsystems")
        down = sorted(
            k for k, v in (subsystems or {}).items() if isinstance(v, bool) and v is False
        ) if isinstance(subsystems, dict) else []
        if down:
            problems.append(f"/health/ready subsystems false: {', '.join(down)}")
    health = fetch(node_url(entry, "/health"))
    status = health.json().get("status") if isinstance(health.json(), dict) else None
    if health.status != 200 or status != "ok":
        problems.append(f"/health {health.status or health.error or 'no answer'} status {status}")
    return problems


def evaluate_health_probes(testnet: Testnet) -> Verdict:
    """Row 27: every node's live, ready and health probes as the chain defines them."""
    if not _running(testnet):
        return make_verdict(27, None, None, None, "no node of the testnet is running to probe")
    unhealthy = [(e["index"], compute_health_problems(e)) for e in testnet.nodes]
    unhealthy = [(i, p) for i, p in unhealthy if p]
    healthy = len(testnet.nodes) - len(unhealthy)
    if not unhealthy:
        return make_verdict(27, True, 0, 0, f"all {healthy} nodes live, ready and ok")
    index, problems = unhealthy[0]
    message = f"{len(unhealthy)} of {len(testnet.nodes)} nodes unhealthy; node {index}: " + (
        "; ".join(problems)
    )
    return make_verdict(27, False, len(unhealthy), 0, message, index)


def compute_storage_problem(data_dir: Path) -> str | None:
    """Why a node's store is not at the current schema version (None: it is), read without
    changing it (a running node keeps writing)."""
    from rppsim.testnet.storage import DB_FILE, SCHEMA_VERSION, StorageError, read_schema_version

    try:
        version = read_schema_version(data_dir)
    except StorageError as error:
        return str(error)
    if version is None:
        return f"{data_dir / DB_FILE}: no store (the node never started)"
    if version != SCHEMA_VERSION:
        return (
            f"{data_dir / DB_FILE}: schema version {version}, this node needs {SCHEMA_VERSION}:"
            f" run `rppsim node migrate --data-dir {data_dir}`"
        )
    return None


def evaluate_storage_migration(testnet: Testnet) -> Verdict:
    """Row 23: every node's data dir opens at the current schema version."""
    from rppsim.testnet.storage import SCHEMA_VERSION

    problems = [
        (e["index"], problem)
        for e in testnet.nodes
        for problem in [compute_storage_problem(testnet.path(e["data_dir"]))]
        if problem is not None
    ]
    if not problems:
        message = f"all {len(testnet.nodes)} stores at schema version {SCHEMA_VERSION}"
        return make_verdict(23, True, 0, 0, message)
    index, problem = problems[0]
    message = f"{len(problems)} stores not at schema version {SCHEMA_VERSION}; {problem}"
    return make_verdict(23, False, len(problems), 0, message, index)


def evaluate_live_verdicts(testnet: Testnet, only: Collection[str] | None = None) -> list[Verdict]:
    """Rows 23, 26 and 27 (those in ``only``) from the testnet's nodes."""
    evaluate = {
        "g23-storage-migration": evaluate_storage_migration,
        "g26-rpc-availability": evaluate_rpc_availability,
        "g27-health-probes": evaluate_health_probes,
    }
    return [evaluate[i](testnet) for i in LIVE_IDS if only is None or i in only]


# --------------------------------------------------------------------------------------------
# The whole check.


def merge_verdicts(telemetry: Sequence[Verdict], live: Sequence[Verdict]) -> list[Verdict]:
    """The telemetry verdicts with the live ones in place of those rows (in report order)."""
    by_id = {v.id: v for v in live}
    merged = [by_id.pop(v.id, v) for v in telemetry]
    return merged + list(by_id.values())


def judge_testnet(
    testnet: Testnet, profile: Path | None = None, only: Collection[str] | None = None
) -> list[Verdict]:
    """Every verdict of a testnet: its telemetry as ``rppsim check FILE.jsonl`` judges it (by
    ``profile``, else the config node 0 runs), then rows 23, 26 and 27 from the nodes."""
    from rppsim.cli import _get_telemetry_user_error
    from rppsim.telemetry.jsonl import (
        TelemetryFileError,
        compute_live_facts,
        read_telemetry_jsonl,
        replace_run_info,
    )
    from rppsim.verdicts import evaluate_verdicts

    path = testnet.path(testnet.collector["out"])
    try:
        frames = read_telemetry_jsonl(path)
    except TelemetryFileError as error:
        raise _get_telemetry_user_error(error) from None
    config = profile or testnet.path(testnet.nodes[0]["config"])
    frames = replace_run_info(frames, compute_live_facts(frames, config))
    verdicts = evaluate_verdicts(frames, None, only=only)
    return merge_verdicts(verdicts, evaluate_live_verdicts(testnet, only))


def cmd_check_testnet(args: argparse.Namespace) -> int:
    """``rppsim check DIR`` for a testnet folder: write ``verdicts.json`` and ``junit.xml``
    (into the folder or ``--out``), print the table; exit 1 when a verdict failed."""
    from rppsim.checks import compute_unexpected, compute_verdict_table, write_verdicts
    from rppsim.checks.junit import JUNIT_FILE, write_junit
    from rppsim.telemetry.runfolder import VERDICTS_FILE

    testnet = load_testnet(args.path)
    out = Path(args.out) if args.out else testnet.root
    out.mkdir(parents=True, exist_ok=True)
    profile = Path(args.profile) if args.profile else None
    verdicts = judge_testnet(testnet, profile, args.only)
    write_verdicts(out / VERDICTS_FILE, verdicts)
    write_junit(out / JUNIT_FILE, verdicts, testnet.root.name)
    print(compute_verdict_table(verdicts), end="")
    judged_by = profile or testnet.path(testnet.nodes[0]["config"])
    print(f"judged by the profile {judged_by} (node 0's {NODE_CONFIG} unless --profile)")
    print(f"wrote {out / VERDICTS_FILE} and {out / JUNIT_FILE}")
    unexpected = compute_unexpected(verdicts, [])
    for problem in unexpected:
        print(f"NOT AS EXPECTED  {problem}")
    return 1 if unexpected else 0
