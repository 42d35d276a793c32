"""The testnet node's SQLite store: round trips, incremental saves, restarts of a real node,
``kill -9`` of a writer, schema versions and migration, broken files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rppsim.errors import UserError
from rppsim.node.messages import Commit
from rppsim.node.node import Node
from rppsim.node.persistence import PersistedState
from rppsim.node.proofs import (
    ConsensusStatement,
    TransactionBatchStatement,
    TransferRow,
    UptimeStatement,
)
from rppsim.node.pruning import compute_pruned_commit, is_pruned_block
from rppsim.node.rounds import SignState
from rppsim.node.state_sync import StateSnapshot
from rppsim.node.verifier import ProofKey
from rppsim.rng import SeedTree
from rppsim.testing.cluster import InMemoryCluster
from rppsim.testnet.storage import (
    APPLICATION_ID,
    DB_FILE,
    SCHEMA_VERSION,
    Storage,
    StorageError,
    create_legacy_store,
    decode_proof_key,
    decode_sign_state,
    encode_proof_key,
    encode_sign_state,
    migrate,
    read_schema_version,
    run_migration,
)

NODE = 3
"""The node whose store the tests keep (a validator of the 4-node cluster)."""


@cache
def _history() -> tuple[InMemoryCluster, tuple[PersistedState, ...]]:
    """A 4-validator cluster (pruning and reconstruction gates on, the defaults) and node 3's
    persisted state every 5 s from 10 s to 60 s: growing chains whose older payloads are
    pruned, snapshots every 6 heights and a changing proof cache. Read only."""
    cluster = InMemoryCluster(validators=4, seed=11, tx_rate_per_s=2.0)
    states = []
    for until_ms in range(10_000, 60_001, 5_000):
        cluster.run(until_ms=until_ms)
        states.append(cluster.node(NODE).get_persisted())
    return cluster, tuple(states)


def _states() -> tuple[PersistedState, ...]:
    return _history()[1]


def _full_commits() -> tuple[Commit, ...]:
    """Node 3's finalized commits with their payloads (what its Persist effects carried)."""
    return tuple(_history()[0].persisted[NODE])


def _rows(path: Path, query: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path / DB_FILE)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def _reopened(path: Path) -> PersistedState:
    with Storage.open(path, create=False) as storage:
        return storage.load()


# --- round trips --------------------------------------------------------------------------------


def test_every_part_of_the_persisted_state_round_trips(tmp_path):
    persisted = _states()[-1]
    assert persisted.commits and persisted.proof_cache
    assert persisted.tip_state is not None and persisted.snapshot is not None
    assert any(is_pruned_block(c.block) for c in persisted.commits)
    block = _full_commits()[-1].block
    sign_state = SignState(block.header.height + 1, 2, block.hash, 1, block)
    with Storage.open(tmp_path) as storage:
        assert storage.load() == PersistedState()
        assert storage.load_keys() is None and storage.load_sign_state() is None
        storage.save(persisted)
        storage.save_keys(bytes(range(32)))
        storage.save_sign_state(sign_state)
        assert storage.get_height() == len(persisted.commits)
    with Storage.open(tmp_path, create=False) as storage:
        assert storage.load() == persisted
        assert storage.load_keys() == bytes(range(32))
        assert storage.load_sign_state() == sign_state
    assert _rows(tmp_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert _rows(tmp_path, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert _rows(tmp_path, "PRAGMA journal_mode") == [("wal",)]


def test_the_tip_state_is_stored_without_the_header_chain_it_shares_with_the_commits(tmp_path):
    persisted = _states()[-1]
    assert persisted.tip_state is not None
    with Storage.open(tmp_path) as storage:
        storage.save(persisted)
    [(count, size)] = _rows(
        tmp_path, "SELECT header_count, length(data) FROM states WHERE name = 'tip_state'"
    )
    assert count == persisted.tip_state.height == len(persisted.commits)
    assert size == replace(persisted.tip_state, headers=()).size_bytes
    assert _reopened(tmp_path).tip_state == persisted.tip_state


def test_save_is_idempotent(tmp_path):
    persisted = _states()[-1]
    queries = (
        "SELECT * FROM commits ORDER BY height",
        "SELECT * FROM states ORDER BY name",
        "SELECT entry FROM proof_cache ORDER BY position",
    )
    with Storage.open(tmp_path) as storage:
        storage.save(persisted)
        before = [_rows(tmp_path, query) for query in queries]
        storage.save(persisted)
        assert [_rows(tmp_path, query) for query in queries] == before
    with Storage.open(tmp_path) as storage:  # a fresh process: nothing memoized
        storage.save(persisted)
        storage.save(_reopened(tmp_path))  # equal values, other objects
    assert [_rows(tmp_path, query) for query in queries] == before
    assert _reopened(tmp_path) == persisted


def test_incremental_saves_append_commits_and_store_pruned_payloads(tmp_path):
    early, late = _states()[2], _states()[-1]
    tip = len(early.commits)
    assert not is_pruned_block(early.commits[-1].block)
    assert is_pruned_block(late.commits[tip - 1].block)  # pruned since
    with Storage.open(tmp_path) as storage:
        storage.save(early)
        assert storage.get_height() == tip
        size = _rows(tmp_path, f"SELECT length(data) FROM commits WHERE height = {tip}")
        storage.save(late)
        assert storage.get_height() == len(late.commits)
    pruned = _rows(tmp_path, f"SELECT length(data) FROM commits WHERE height = {tip}")
    assert pruned == [(late.commits[tip - 1].size_bytes,)] != size
    assert _reopened(tmp_path) == late


def test_a_stored_tip_state_keeps_its_headers_when_their_commits_change(tmp_path):
    persisted = _states()[-1]
    tip = persisted.tip_state
    assert tip is not None and not is_pruned_block(tip.headers[-1].block)
    pruned = (*persisted.commits[:-1], compute_pruned_commit(persisted.commits[-1]))
    with Storage.open(tmp_path) as storage:
        storage.save(persisted)  # headers left out: they are the stored commits
        storage.save(replace(persisted, commits=pruned))  # the same tip state object
        assert storage.load().tip_state == tip
    assert _reopened(tmp_path) == replace(persisted, commits=pruned)


def test_commits_are_never_removed_and_a_conflicting_block_is_refused(tmp_path):
    late = _states()[-1]
    with Storage.open(tmp_path) as storage:
        storage.save(late)
        storage.save(PersistedState(commits=late.commits[:3]))  # other parts: now none
        assert storage.load() == PersistedState(commits=late.commits)
        other = late.commits[2]
        header = replace(other.block.header, timestamp_ms=other.block.header.timestamp_ms + 1)
        forged = replace(other, block=replace(other.block, header=header))
        with pytest.raises(StorageError, match="commit 3: expected block"):
            storage.save(replace(late, commits=(*late.commits, forged)))
        assert storage.load() == PersistedState(commits=late.commits)  # the save changed nothing
        storage.save(late)
    assert _reopened(tmp_path) == late


def test_the_proof_cache_is_kept_in_lru_order_within_its_retention(tmp_path):
    keys = _states()[-1].proof_cache
    assert len(keys) >= 4
    with Storage.open(tmp_path, retain=3) as storage:
        storage.save(PersistedState(proof_cache=keys))
        assert storage.load().proof_cache == keys[-3:]
        moved = (keys[-3], keys[-1], keys[-2])  # an LRU hit moves a key to the end
        storage.save(PersistedState(proof_cache=moved))
        storage.save(PersistedState(proof_cache=(*moved[1:], keys[0])))
    assert _reopened(tmp_path).proof_cache == (keys[-1], keys[-2], keys[0])


proof_keys = st.tuples(
    st.text(max_size=12),
    st.one_of(
        st.builds(
            UptimeStatement,
            st.text(max_size=40),
            *[st.integers(0, 2**64 - 1)] * 4,
            st.binary(max_size=32),
            st.integers(0, 2**64 - 1),
        ),
        st.builds(
            TransactionBatchStatement,
            st.binary(max_size=32),
            st.lists(
                st.builds(TransferRow, *[st.integers(0, 2**128 - 1)] * 7), max_size=3
            ).map(tuple),
        ),
        st.builds(
            ConsensusStatement,
            st.text(max_size=64),
            *[st.integers(0, 2**64 - 1)] * 3,
            st.integers(0, 2**256 - 1),
            st.lists(st.integers(0, 2**256 - 1), max_size=4).map(tuple),
            st.lists(st.booleans(), max_size=4).map(tuple),
            st.lists(st.booleans(), max_size=4).map(tuple),
        ),
    ),
    st.binary(max_size=64),
)


@given(proof_keys)
def test_a_proof_key_round_trips_through_its_json(key: ProofKey):
    assert decode_proof_key(encode_proof_key(key)) == key


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '{"system": "model"}',
        '{"circuit": "nope", "proof": "", "statement": {}, "system": "model"}',
        '{"circuit": "uptime", "proof": "zz", "statement": {}, "system": "model"}',
    ],
)
def test_a_malformed_proof_key_is_a_value_error(text):
    with pytest.raises(ValueError):
        decode_proof_key(text)


def test_a_sign_state_round_trips_with_and_without_a_locked_block():
    block = _full_commits()[-1].block
    for state in (SignState(4, 0), SignState(9, 3, block.hash, 2, block)):
        assert decode_sign_state(encode_sign_state(state)) == state


# --- restarts -----------------------------------------------------------------------------------


def test_a_node_restored_from_the_store_reaches_its_tip_and_continues(tmp_path):
    cluster = InMemoryCluster(validators=4, seed=5, tx_rate_per_s=2.0)
    storage = Storage.open(tmp_path)
    node = cluster.node(NODE)
    for until_ms in range(5_000, 45_001, 2_500):  # the driver saves as the node persists
        cluster.run(until_ms=until_ms)
        storage.save(node.get_persisted())
    storage.close()
    cluster.crash(NODE)
    height, tip, root = node.height, node.tip_hash, node.ledger.get_state_root()
    assert height >= 6

    with Storage.open(tmp_path, create=False) as storage:
        restored = Node(
            cluster.config,
            cluster.keys[NODE],
            rules=cluster.rules,
            proofs=cluster.proofs,
            restore=storage.load(),
        )
        assert (restored.height, restored.tip_hash) == (height, tip)
        assert restored.ledger.get_state_root() == root
        cluster._nodes[NODE] = restored  # start it in the cluster, as a process restart does
        cluster.crashed.discard(NODE)
        cluster._apply(NODE, restored.on_start(cluster.now))
        cluster.run(until_ms=cluster.now + 20_000)
        storage.save(restored.get_persisted())
        assert storage.get_height() == restored.height > height
    assert restored.finalized_chain() == cluster.finalized_chain(0)[: restored.height]


WRITER = """
import sys
from dataclasses import replace
from pathlib import Path

from rppsim.node.messages import Commit
from rppsim.node.persistence import PersistedState
from rppsim.node.state_sync import StateSnapshot
from rppsim.testnet.storage import Storage, decode_proof_key

folder = Path(sys.argv[1])
base = Commit.from_bytes(bytes.fromhex((folder / "commit.hex").read_text()))
tip = StateSnapshot.from_bytes(bytes.fromhex((folder / "tip.hex").read_text()))
keys = [decode_proof_key(line) for line in (folder / "keys.jsonl").read_text().splitlines()]


def at(height):
    header = replace(base.block.header, height=height)
    return replace(base, block=replace(base.block, header=header))


storage = Storage.open(folder / "data")
commits = list(storage.load().commits)
print("ready", len(commits), flush=True)
while True:
    commits.append(at(len(commits) + 1))
    height = len(commits)
    cache = tuple(keys[height % len(keys):] + keys[: height % len(keys)])
    state = tip if height % 2 else None
    storage.save(PersistedState(tuple(commits), state, tip if height % 5 == 0 else None, cache))
    print(height, flush=True)
"""


@pytest.mark.parametrize("kills", [1, pytest.param(6, marks=pytest.mark.slow)])
def test_kill_9_at_random_moments_never_loses_a_reported_commit(tmp_path, kills):
    persisted = _states()[-1]
    assert persisted.tip_state is not None
    (tmp_path / "commit.hex").write_text(_full_commits()[-1].to_bytes().hex())
    (tmp_path / "tip.hex").write_text(persisted.tip_state.to_bytes().hex())
    (tmp_path / "keys.jsonl").write_text("\n".join(map(encode_proof_key, persisted.proof_cache)))
    (tmp_path / "writer.py").write_text(WRITER)
    delays = SeedTree(14).generator("storage", "kill")
    stored = 0
    for _ in range(kills):
        writer = subprocess.Popen(
            [sys.executable, str(tmp_path / "writer.py"), str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().split() == ["ready", str(stored)]
        time.sleep(float(delays.uniform(0.05, 0.6)))
        writer.kill()  # SIGKILL
        writer.wait(timeout=10)
        output = writer.stdout.read()
        writer.stdout.close()
        complete = output[: output.rfind("\n") + 1].split()  # a cut last line was not reported
        reported = int(complete[-1]) if complete else stored
        assert _rows(tmp_path / "data", "PRAGMA integrity_check") == [("ok",)]
        heights = [c.block.header.height for c in _reopened(tmp_path / "data").commits]
        assert heights == list(range(1, len(heights) + 1))  # a prefix, no gap
        assert reported <= len(heights) <= reported + 1  # at most the save in flight
        assert len(heights) > stored  # the writer made progress before the kill
        stored = len(heights)


# --- versions, migration and broken files -------------------------------------------------------


def test_an_old_schema_is_refused_with_the_migrate_command_and_migrate_upgrades_it(tmp_path):
    persisted = _states()[-1]
    data = tmp_path / "data"
    create_legacy_store(data, 1, persisted, key_seed=bytes(32))
    assert read_schema_version(data) == 1
    with pytest.raises(StorageError) as refused:
        Storage.open(data)
    assert str(refused.value) == (
        f"{data / DB_FILE}: schema version 1, this node needs 2:"
        f" run `rppsim node migrate --data-dir {data}`"
    )
    assert isinstance(refused.value, UserError)

    report = run_migration(data, dry_run=True)
    assert (report.from_version, report.to_version, report.dry_run) == (1, 2, True)
    assert report.upgraded_blocks == len(persisted.commits)
    assert read_schema_version(data) == 1  # a dry run changes nothing

    assert migrate(data) == (1, 2)
    assert read_schema_version(data) == SCHEMA_VERSION
    assert _rows(data, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") == [
        ("commits",),
        ("proof_cache",),
        ("records",),
        ("states",),
    ]
    with Storage.open(data, create=False) as storage:
        assert storage.load() == persisted
        assert storage.load_keys() == bytes(32)
    assert migrate(data) == (2, 2)  # a no-op on a current store
    assert run_migration(data).already_current_blocks == len(persisted.commits)


def test_migration_of_a_v1_chain_keeps_the_last_record_of_each_height(tmp_path):
    full = _full_commits()[:4]
    pruned = compute_pruned_commit(full[1])
    create_legacy_store(tmp_path, 1, PersistedState(commits=(*full, pruned)))
    assert run_migration(tmp_path).upgraded_blocks == 4
    assert _reopened(tmp_path).commits == (full[0], pruned, full[2], full[3])


def test_a_corrupt_v1_record_fails_the_migration_and_leaves_the_store_as_it_was(tmp_path):
    create_legacy_store(tmp_path, 1, PersistedState(commits=_full_commits()[:3]))
    db = sqlite3.connect(tmp_path / DB_FILE)
    db.execute("""UPDATE chain SET record = '{"hash": "x", "commit": "00"}' WHERE height = 2""")
    db.commit()
    db.close()
    with pytest.raises(StorageError, match="migration refused") as refused:
        migrate(tmp_path)
    assert "\n" not in str(refused.value)
    assert read_schema_version(tmp_path) == 1
    assert len(_rows(tmp_path, "SELECT * FROM chain")) == 3


def test_a_newer_schema_is_refused(tmp_path):
    Storage.open(tmp_path).close()
    db = sqlite3.connect(tmp_path / DB_FILE)
    db.execute("PRAGMA user_version = 3")
    db.close()
    message = f"{tmp_path / DB_FILE}: schema version 3 is newer than this node supports (2)"
    assert read_schema_version(tmp_path) == 3  # reported, not refused: the caller decides
    for attempt in (Storage.open, migrate):
        with pytest.raises(StorageError) as refused:
            attempt(tmp_path)
        assert str(refused.value).startswith(message)
        assert "\n" not in str(refused.value)


def _garbage(path: Path) -> None:
    (path / DB_FILE).write_bytes(b"not a database, just bytes\n" * 200)


def _truncated(path: Path) -> None:
    with Storage.open(path) as storage:
        storage.save(_states()[-1])
    data = (path / DB_FILE).read_bytes()
    (path / DB_FILE).write_bytes(data[: len(data) // 3])


def _foreign(path: Path) -> None:
    db = sqlite3.connect(path / DB_FILE)
    db.execute("CREATE TABLE accounts (id INTEGER)")
    db.close()


def _bad_commit(path: Path) -> None:
    with Storage.open(path) as storage:
        storage.save(_states()[-1])
    db = sqlite3.connect(path / DB_FILE)
    db.execute("UPDATE commits SET data = x'0102' WHERE height = 2")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_garbage, "expected an intact node store (SQLite), found DatabaseError"),
        (_truncated, "expected an intact node store (SQLite), found DatabaseError"),
        (_foreign, "expected an rppsim node store, found an unversioned database"),
        (_bad_commit, "commit 2: expected an intact node store"),
    ],
)
def test_a_broken_file_is_one_line_naming_it(tmp_path, damage, expected):
    damage(tmp_path)
    with pytest.raises(StorageError) as refused:
        Storage.open(tmp_path).load()
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / DB_FILE}: ") and expected in message
    assert "\n" not in message


def test_opening_without_create_needs_a_store(tmp_path):
    with pytest.raises(StorageError, match="expected a node store, found no file"):
        Storage.open(tmp_path / "missing", create=False)
    assert not (tmp_path / "missing").exists()
    assert read_schema_version(tmp_path) is None
    (tmp_path / DB_FILE).touch()  # an empty file is an empty database: stamped at open
    assert read_schema_version(tmp_path) is None
    Storage.open(tmp_path, create=False).close()
    assert read_schema_version(tmp_path) == SCHEMA_VERSION
    with pytest.raises(StorageError, match="key_seed: expected 32 bytes, found 3"):
        Storage.open(tmp_path).save_keys(b"abc")


# --- random save sequences ----------------------------------------------------------------------


@st.composite
def save_sequences(draw: st.DrawFn) -> list[tuple[PersistedState, str]]:
    """Saves of one chain: the length never shrinks; the commits are mostly a node's own as it
    advances (pruned as it pruned them, then full), else full and pruned at random; the tip
    state is the node's, the previous save's or any snapshot of a real run, and so are the
    snapshot and the proof cache. After each save the store is kept, loaded or reopened."""
    full = _full_commits()
    states = _states()
    snapshots: list[StateSnapshot | None] = [None]
    snapshots += [s.tip_state for s in states] + [s.snapshot for s in states]
    pool = list(dict.fromkeys(k for s in states for k in s.proof_cache))
    length, k = 0, 0
    tip: StateSnapshot | None = None
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.sampled_from(["node", "node", "node", "random"])) == "node":
            k = draw(st.integers(k, len(states) - 1))
            node = states[k]
            length = draw(st.integers(max(length, len(node.commits)), len(full)))
            commits = (*node.commits, *full[len(node.commits) :])[:length]
            own = node.tip_state
        else:
            length = draw(st.integers(length, len(full)))
            pruned = draw(st.sets(st.integers(0, max(length - 1, 0))))
            commits = tuple(
                compute_pruned_commit(c) if i in pruned else c
                for i, c in enumerate(full[:length])
            )
            own = None
        tip = draw(st.one_of(st.just(own), st.just(tip), st.sampled_from(snapshots)))
        keys = tuple(draw(st.permutations(pool))[: draw(st.integers(0, len(pool)))])
        persisted = PersistedState(commits, tip, draw(st.sampled_from(snapshots)), keys)
        steps.append((persisted, draw(st.sampled_from(["keep", "keep", "load", "reopen"]))))
    return steps


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(save_sequences())
def test_load_equals_the_last_saved_state(tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("store")
    storage = Storage.open(path)
    try:
        for persisted, then in steps:
            storage.save(persisted)
            assert _reopened(path) == persisted  # a second reader: this store's memo untouched
            if then == "load":
                assert storage.load() == persisted
            elif then == "reopen":
                storage.close()
                storage = Storage.open(path, create=False)
    finally:
        storage.close()
    assert _reopened(path) == steps[-1][0]
