"""The testnet node's durable store: one SQLite database in its data_dir
(docs/operations.md#pruning-and-storage).

A node process keeps here what a restart recovers (``rppsim.node.persistence``): the finalized
commits (blocks and certificates, payloads pruned where the ``pruning`` gate pruned them), the
ledger state at the tip, the snapshot of the latest pruning cycle, the proof cache in LRU order,
plus its key seed and its last signing state. Schema version 2 (the chain's
``STORAGE_SCHEMA_VERSION``, ``HUBId/chain:rpp/storage/mod.rs``):

* ``commits(height PRIMARY KEY, block_hash, digest, data)`` — canonical ``Commit`` bytes, one row
  per height (the primary key is the height index), ``digest`` their BLAKE2s;
* ``states(name PRIMARY KEY, header_count, data)`` — ``tip_state`` and ``snapshot`` as canonical
  ``StateSnapshot`` bytes. A snapshot's headers are commits 1..height: when they are exactly the
  stored commits, they are left out of ``data`` and ``header_count`` says so, so saving the tip
  state after every block costs the ledger, not the whole header chain;
* ``proof_cache(id PRIMARY KEY, position, entry)`` — one JSON object per cached proof key;
* ``records(name PRIMARY KEY, value)`` — ``key_seed`` (32 bytes) and ``sign_state``.

Durability: the database runs in WAL mode with ``synchronous=FULL``, and every ``save`` is one
transaction committed before it returns, so a ``kill -9`` at any instant leaves the state of
the last completed ``save``: no finalized block a save reported is ever lost. A save is
incremental: it appends commits of new heights, rewrites a commit whose payload was pruned
since (same block hash, new bytes), and replaces the tip state, the snapshot and the proof cache
when they changed. Commits are never removed; a commit for a stored height with another block
hash is refused (a finalized block never changes).

Versions: ``PRAGMA user_version`` holds the schema version and ``PRAGMA application_id`` marks
the file as a node store. An empty database is stamped with the current version; an older one
is refused with the one-line message naming ``rppsim node migrate --data-dir DIR``, which runs
``migrate``; a newer one, a foreign or garbage file are refused too — every such problem is a
``StorageError`` (one line, exit 2). Version 1, rppsim's first layout, kept each commit as a
JSON record (hex bytes) in an append-only ``chain`` table without a height index and the other
parts as hex or JSON text in ``state``; migration 1 → 2 decodes and re-checks every record and
rewrites it in one transaction (a dry run rolls it back), reporting what the chain's migration
reports (``HUBId/chain:rpp/storage/migration.rs``).
"""

from __future__ import annotations

import json
import sqlite3
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from rppsim.errors import UserError, compute_one_line
from rppsim.node.codec import DecodeError, Reader, Writer, decode_exact
from rppsim.node.messages import Block, Commit
from rppsim.node.persistence import PersistedState
from rppsim.node.proofs import Statement
from rppsim.node.rounds import SignState
from rppsim.node.state_sync import StateSnapshot
from rppsim.node.verifier import ProofKey

__all__ = [
    "APPLICATION_ID",
    "DB_FILE",
    "LEGACY_VERSIONS",
    "SCHEMA_VERSION",
    "MigrationReport",
    "Storage",
    "StorageError",
    "create_legacy_store",
    "decode_proof_key",
    "decode_sign_state",
    "encode_proof_key",
    "encode_sign_state",
    "migrate",
    "read_schema_version",
    "run_migration",
]

SCHEMA_VERSION = 2
"""The schema this node reads and writes (the chain's ``STORAGE_SCHEMA_VERSION``)."""
LEGACY_VERSIONS = (1,)
"""Older schemas ``migrate`` upgrades."""
DB_FILE = "node.sqlite3"
"""The database file in the data_dir (with its ``-wal`` and ``-shm`` companions)."""
APPLICATION_ID = 0x52505053
"""``PRAGMA application_id`` of a node store ("RPPS")."""
KEY_SEED_LEN = 32
BUSY_TIMEOUT_MS = 5000

_SCHEMA_V2 = (
    "CREATE TABLE commits (height INTEGER PRIMARY KEY, block_hash TEXT NOT NULL,"
    " digest BLOB NOT NULL, data BLOB NOT NULL)",
    "CREATE TABLE states (name TEXT PRIMARY KEY, header_count INTEGER, data BLOB NOT NULL)",
    "CREATE TABLE proof_cache (id INTEGER PRIMARY KEY, position INTEGER NOT NULL,"
    " entry TEXT NOT NULL)",
    "CREATE TABLE records (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
)
_SCHEMA_V1 = (
    "CREATE TABLE chain (height INTEGER NOT NULL, record TEXT NOT NULL)",
    "CREATE TABLE state (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_TABLES = {1: ("chain", "state"), 2: ("commits", "proof_cache", "records", "states")}
_STATE_NAMES = ("tip_state", "snapshot")


class StorageError(UserError):
    """A node store that cannot be used as it is: one line naming the file, the problem and,
    where there is one, the command that fixes it."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(str(path), "", problem)

    def __str__(self) -> str:
        return compute_one_line(f"{self.file}: {self.expected}")


# --- record encodings ------------------------------------------------------------------------


def _to_json(value: object) -> Any:
    """A statement field as JSON: bytes as hex, tuples as lists, dataclasses as objects."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [_to_json(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in fields(value)}
    return value


def _from_json(hint: Any, value: object) -> Any:
    """The value of type ``hint`` that ``_to_json`` wrote; ValueError on anything else."""
    if hint is bool or hint is str:
        if type(value) is not hint:
            raise ValueError(f"expected {hint.__name__}, found {value!r}")
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"expected int, found {value!r}")
        return value
    if hint is bytes:
        if not isinstance(value, str):
            raise ValueError(f"expected hex, found {value!r}")
        return bytes.fromhex(value)
    if get_origin(hint) is tuple:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, found {value!r}")
        return tuple(_from_json(get_args(hint)[0], item) for item in value)
    if isinstance(hint, type) and is_dataclass(hint):
        names, hints = _get_field_hints(hint)
        if not isinstance(value, dict) or len(value) != len(names) or set(value) != set(names):
            raise ValueError(f"expected the fields {list(names)} of {hint.__name__}")
        return hint(**{name: _from_json(hints[name], value[name]) for name in names})
    raise ValueError(f"no JSON form for {hint!r}")


@cache
def _get_field_hints(cls: type) -> tuple[tuple[str, ...], dict[str, Any]]:
    """A dataclass's field names in order and their resolved types."""
    return tuple(f.name for f in fields(cls)), get_type_hints(cls)


def _statement_types() -> dict[str, type]:
    """Every statement class by its circuit name."""
    members = get_args(Statement) if get_origin(Statement) in (Union, types.UnionType) else ()
    return {cls.circuit: cls for cls in members}


STATEMENT_TYPES = _statement_types()
"""Statement classes by circuit: the types a stored proof key may name."""


def encode_proof_key(key: ProofKey) -> str:
    """A proof key as one JSON object: system, circuit, the statement's fields, proof hex."""
    system, statement, data = key
    record = {
        "system": system,
        "circuit": statement.circuit,
        "statement": _to_json(statement),
        "proof": data.hex(),
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def decode_proof_key(text: str) -> ProofKey:
    """The proof key ``encode_proof_key`` wrote; ValueError on anything else."""
    record = json.loads(text)
    if not isinstance(record, dict) or sorted(record) != [
        "circuit",
        "proof",
        "statement",
        "system",
    ]:
        raise ValueError("expected an object with system, circuit, statement and proof")
    statement_type = STATEMENT_TYPES.get(record["circuit"])
    if statement_type is None:
        raise ValueError(f"unknown circuit {record['circuit']!r}")
    system = _from_json(str, record["system"])
    statement = _from_json(statement_type, record["statement"])
    return (system, statement, _from_json(bytes, record["proof"]))


def encode_sign_state(state: SignState) -> bytes:
    """A signing state in the canonical codec: height, round, lock hash, lock round and the
    locked block (its canonical bytes)."""
    writer = Writer().u64(state.height).i64(state.round)
    writer.option(state.lock_hash, Writer.string).i64(state.lock_round)
    writer.option(state.locked_block, lambda w, block: w.var_bytes(block.to_bytes()))
    return writer.to_bytes()


def _read_sign_state(reader: Reader) -> SignState:
    height, round_ = reader.u64(), reader.i64()
    lock_hash, lock_round = reader.option(Reader.string), reader.i64()
    block = reader.option(lambda r: Block.from_bytes(r.var_bytes()))
    return SignState(height, round_, lock_hash, lock_round, block)


def decode_sign_state(data: bytes) -> SignState:
    """The signing state ``encode_sign_state`` wrote; DecodeError on anything else."""
    return decode_exact(data, _read_sign_state)


# --- opening and versions ----------------------------------------------------------------------


def _db_path(data_dir: Path) -> Path:
    return Path(data_dir) / DB_FILE


def _migrate_hint(data_dir: Path) -> str:
    return f"run `rppsim node migrate --data-dir {data_dir}`"


def _describe_sqlite_error(error: sqlite3.Error) -> str:
    return f"{type(error).__name__}: {error}"


def _connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit)."""
    db = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return db


def _read_header(db: sqlite3.Connection) -> tuple[int, int, list[str]]:
    """(user_version, application_id, table names); DatabaseError on a file that is not a
    SQLite database."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    application = int(db.execute("PRAGMA application_id").fetchone()[0])
    tables = [
        str(row[0])
        for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    ]
    return version, application, tables


def _compute_header_problem(
    data_dir: Path, version: int, application: int, tables: list[str]
) -> str | None:
    """Why a database with this header is not a current node store (None: it is). An empty
    database is not a problem: the caller stamps it."""
    if version == 0 and application == 0 and not tables:
        return None
    if application != APPLICATION_ID:
        what = f"application_id {application}" if application else "an unversioned database"
        listed = ", ".join(tables) or "none"
        return f"expected an rppsim node store, found {what} with tables {listed}"
    if version > SCHEMA_VERSION:
        return (
            f"schema version {version} is newer than this node supports ({SCHEMA_VERSION}):"
            " run a newer rppsim"
        )
    if version in LEGACY_VERSIONS:
        return (
            f"schema version {version}, this node needs {SCHEMA_VERSION}:"
            f" {_migrate_hint(data_dir)}"
        )
    if version != SCHEMA_VERSION:
        return f"expected schema version {SCHEMA_VERSION}, found unknown version {version}"
    missing = [t for t in _TABLES[SCHEMA_VERSION] if t not in tables]
    if missing:
        return f"expected a schema version {SCHEMA_VERSION} node store, missing tables {missing}"
    return None


def _set_pragmas(db: sqlite3.Connection) -> None:
    """WAL journal, full sync at every commit."""
    mode = str(db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
    if mode.lower() != "wal":
        raise sqlite3.OperationalError(f"cannot enter WAL mode (journal_mode {mode})")
    db.execute("PRAGMA synchronous = FULL")


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT; ROLLBACK when the body or the commit fails (unless SQLite
    already rolled back), so the connection is never left inside a transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _stamp(db: sqlite3.Connection, version: int, statements: Sequence[str]) -> None:
    """Create a schema in an empty database (in the caller's transaction)."""
    for statement in statements:
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {version}")


def read_schema_version(data_dir: Path) -> int | None:
    """The schema version of the store in ``data_dir`` (None: no store there, or an empty
    database), read without creating, migrating or changing anything; StorageError on a file
    that is not a store."""
    path = _db_path(data_dir)
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version, application, tables = _read_header(db)
        finally:
            db.close()
    except sqlite3.Error as error:
        raise StorageError(path, _corrupt(error)) from None
    problem = _compute_header_problem(Path(data_dir), version, application, tables)
    if problem is not None and application != APPLICATION_ID:
        raise StorageError(path, problem)
    return version or None


def _corrupt(error: sqlite3.Error | ValueError | DecodeError) -> str:
    detail = _describe_sqlite_error(error) if isinstance(error, sqlite3.Error) else str(error)
    return f"expected an intact node store (SQLite), found {detail}"


# --- rows --------------------------------------------------------------------------------------


def _commit_row(commit: Commit) -> tuple[int, str, bytes, bytes]:
    return (commit.block.header.height, commit.block.hash, commit.digest(), commit.to_bytes())


def _is_header_chain(headers: Sequence[Commit], commits: Sequence[Commit]) -> bool:
    """Whether ``headers`` are commits 1..n and equal the first n of ``commits``."""
    n = len(headers)
    if n == 0 or len(commits) < n or tuple(commits[:n]) != tuple(headers):
        return False
    return all(c.block.header.height == h for h, c in enumerate(headers, start=1))


def _state_row(state: StateSnapshot, commits: Sequence[Commit]) -> tuple[int | None, bytes]:
    """(header_count, data): the headers left out when they are the stored commits."""
    if _is_header_chain(state.headers, commits):
        return len(state.headers), replace(state, headers=()).to_bytes()
    return None, state.to_bytes()


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What a migration did (the chain's migration report fields)."""

    from_version: int
    to_version: int
    upgraded_blocks: int
    already_current_blocks: int
    dry_run: bool

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON shape."""
        return {
            "from_version": self.from_version,
            "to_version": self.to_version,
            "upgraded_blocks": self.upgraded_blocks,
            "already_current_blocks": self.already_current_blocks,
            "dry_run": self.dry_run,
        }


# --- the store ---------------------------------------------------------------------------------


class Storage:
    """A node's store in ``data_dir``: open it, ``load`` at start, ``save`` what the node
    persisted, ``close`` at exit. Methods raise ``StorageError`` on a broken store."""

    def __init__(self, data_dir: Path, db: sqlite3.Connection, retain: int | None) -> None:
        self.data_dir = Path(data_dir)
        self.path = _db_path(self.data_dir)
        self.retain = retain
        self._db: sqlite3.Connection | None = db
        self._commit_rows: dict[int, tuple[str, bytes]] = {}
        """height → (block hash, digest) of every stored commit."""
        self._commit_objects: dict[int, Commit] = {}
        """height → the commit object last saved or loaded there (the identity fast path)."""
        self._states: dict[str, tuple[StateSnapshot | None, int | None]] = {}
        """name → (object last saved or loaded, its header_count); absent: unknown."""
        self._proof_keys: tuple[ProofKey, ...] | None = None
        """The proof cache last saved or loaded (None: unknown, the next save rewrites it)."""
        self._proof_rows: dict[int, tuple[int, int]] = {}
        """``id()`` of each key of ``_proof_keys`` (kept alive there) → (row id, position)."""
        self._proof_next = 0
        """The next free position (positions only grow)."""

    @classmethod
    def open(
        cls, data_dir: Path, *, create: bool = True, retain: int | None = None
    ) -> Storage:
        """Open the store in ``data_dir``, creating it (and the folder) when ``create`` and
        there is none. ``retain`` bounds the saved proof cache to its most recent entries."""
        if retain is not None and retain < 1:
            raise ValueError(f"retain must be at least 1, got {retain}")
        data_dir = Path(data_dir)
        path = _db_path(data_dir)
        if not path.exists():
            if not create:
                raise StorageError(path, "expected a node store, found no file")
            try:
                data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StorageError(data_dir, f"expected a writable folder, found {error}") from None
        elif not path.is_file():
            raise StorageError(path, "expected a node store file, found a folder")
        try:
            db = _connect(path)
        except sqlite3.Error as error:
            raise StorageError(path, _corrupt(error)) from None
        try:
            storage = cls(data_dir, db, retain)
            storage._prepare()
        except StorageError:
            db.close()
            raise
        except sqlite3.Error as error:
            db.close()
            raise StorageError(path, _corrupt(error)) from None
        return storage

    def _prepare(self) -> None:
        db = self._connection()
        problem = _compute_header_problem(self.data_dir, *_read_header(db))
        if problem is not None:
            raise StorageError(self.path, problem)
        _set_pragmas(db)
        with _transaction(db):
            version, _, tables = _read_header(db)
            if version == 0 and not tables:
                _stamp(db, SCHEMA_VERSION, _SCHEMA_V2)
        rows = db.execute("SELECT height, block_hash, digest FROM commits")
        self._commit_rows = {int(h): (str(b), bytes(d)) for h, b, d in rows}

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError(self.path, "expected an open store, found it closed")
        return self._db

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        """The connection; every SQLite failure becomes a StorageError."""
        db = self._connection()
        try:
            yield db
        except sqlite3.Error as error:
            raise StorageError(self.path, _corrupt(error)) from None

    # --- keys and signing state --------------------------------------------------------------

    def load_keys(self) -> bytes | None:
        """The node's 32-byte key seed (None: none stored yet)."""
        value = self._get_record("key_seed")
        if value is not None and len(value) != KEY_SEED_LEN:
            raise StorageError(
                self.path, f"key_seed: expected {KEY_SEED_LEN} bytes, found {len(value)}"
            )
        return value

    def save_keys(self, seed: bytes) -> None:
        """Store the node's key seed (replacing any)."""
        if not isinstance(seed, bytes) or len(seed) != KEY_SEED_LEN:
            found = len(seed) if isinstance(seed, bytes) else type(seed).__name__
            raise StorageError(self.path, f"key_seed: expected {KEY_SEED_LEN} bytes, found {found}")
        self._put_record("key_seed", seed)

    def load_sign_state(self) -> SignState | None:
        """What the validator last signed (None: nothing stored)."""
        value = self._get_record("sign_state")
        if value is None:
            return None
        try:
            return decode_sign_state(value)
        except DecodeError as error:
            raise StorageError(self.path, f"sign_state: {_corrupt(error)}") from None

    def save_sign_state(self, state: SignState) -> None:
        """Store a ``Persist("sign-state", …)`` value, durably, before the signature leaves."""
        self._put_record("sign_state", encode_sign_state(state))

    def _get_record(self, name: str) -> bytes | None:
        with self._guard() as db:
            row = db.execute("SELECT value FROM records WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def _put_record(self, name: str, value: bytes) -> None:
        with self._guard() as db, _transaction(db):
            db.execute("INSERT OR REPLACE INTO records (name, value) VALUES (?, ?)", (name, value))

    # --- the persisted state -----------------------------------------------------------------

    def get_height(self) -> int:
        """The highest stored commit (0: none)."""
        with self._guard() as db:
            row = db.execute("SELECT MAX(height) FROM commits").fetchone()
        return 0 if row[0] is None else int(row[0])

    def load(self) -> PersistedState:
        """Everything stored: what ``Node(..., restore=...)`` recovers from."""
        with self._guard() as db:
            commit_rows = db.execute("SELECT height, data FROM commits ORDER BY height").fetchall()
            state_rows = db.execute("SELECT name, header_count, data FROM states").fetchall()
            proof_rows = db.execute(
                "SELECT id, position, entry FROM proof_cache ORDER BY position, id"
            ).fetchall()
        commits = tuple(self._decode_commit(int(h), bytes(data)) for h, data in commit_rows)
        by_height = {c.block.header.height: c for c in commits}
        states: dict[str, tuple[StateSnapshot | None, int | None]] = dict.fromkeys(
            _STATE_NAMES, (None, None)
        )
        for name, count, data in state_rows:
            if name in states:
                states[name] = (self._decode_state(name, count, bytes(data), by_height), count)
        keys = tuple(self._decode_proof_key(int(i), str(entry)) for i, _, entry in proof_rows)
        self._commit_objects = {c.block.header.height: c for c in commits}
        self._states = states
        self._proof_keys = keys
        self._proof_rows = {
            id(k): (int(i), int(p)) for k, (i, p, _) in zip(keys, proof_rows, strict=True)
        }
        self._proof_next = 1 + max((int(p) for _, p, _ in proof_rows), default=-1)
        return PersistedState(
            commits=commits,
            tip_state=states["tip_state"][0],
            snapshot=states["snapshot"][0],
            proof_cache=keys,
        )

    def _decode_commit(self, height: int, data: bytes) -> Commit:
        try:
            commit = Commit.from_bytes(data)
        except DecodeError as error:
            raise StorageError(self.path, f"commit {height}: {_corrupt(error)}") from None
        if commit.block.header.height != height:
            found = commit.block.header.height
            raise StorageError(self.path, f"commit {height}: expected its height, found {found}")
        return commit

    def _decode_state(
        self, name: str, count: int | None, data: bytes, by_height: Mapping[int, Commit]
    ) -> StateSnapshot:
        try:
            state = StateSnapshot.from_bytes(data)
        except DecodeError as error:
            raise StorageError(self.path, f"{name}: {_corrupt(error)}") from None
        if count is None:
            return state
        missing = [h for h in range(1, int(count) + 1) if h not in by_height]
        if state.headers or missing:
            raise StorageError(
                self.path, f"{name}: expected its headers in commits 1..{count}, found gaps"
            )
        return replace(state, headers=tuple(by_height[h] for h in range(1, int(count) + 1)))

    def _decode_proof_key(self, row_id: int, entry: str) -> ProofKey:
        try:
            return decode_proof_key(entry)
        except ValueError as error:
            raise StorageError(self.path, f"proof_cache row {row_id}: {_corrupt(error)}") from None

    def save(self, persisted: PersistedState) -> None:
        """Store ``persisted`` in one transaction, durable when this returns: new and pruned
        commits, the tip state, the snapshot and the proof cache where they changed."""
        with self._guard() as db, _transaction(db):
            rows, objects, lowest = self._write_commits(db, persisted.commits)
            parts = (("tip_state", persisted.tip_state), ("snapshot", persisted.snapshot))
            states = {
                name: self._write_state(db, name, state, persisted.commits, lowest)
                for name, state in parts
            }
            proofs = self._write_proof_cache(db, persisted.proof_cache)
        self._commit_rows.update(rows)
        self._commit_objects.update(objects)
        self._states.update(states)
        self._proof_keys, self._proof_rows, self._proof_next = proofs

    def _write_commits(
        self, db: sqlite3.Connection, commits: Sequence[Commit]
    ) -> tuple[dict[int, tuple[str, bytes]], dict[int, Commit], int | None]:
        """Insert new heights and rewrite changed ones; returns the new rows, the objects and
        the lowest rewritten height (None: no stored commit changed)."""
        rows: dict[int, tuple[str, bytes]] = {}
        objects: dict[int, Commit] = {}
        inserts: list[tuple[int, str, bytes, bytes]] = []
        lowest: int | None = None
        for commit in commits:
            height = commit.block.header.height
            if self._commit_objects.get(height) is commit and height not in objects:
                continue
            row = _commit_row(commit)
            stored = rows.get(height) or self._commit_rows.get(height)
            objects[height] = commit
            if stored is not None and stored[0] != row[1]:
                raise StorageError(
                    self.path,
                    f"commit {height}: expected block {stored[0]} (finalized), found {row[1]}",
                )
            if stored is not None and stored[1] == row[2]:
                continue
            rows[height] = (row[1], row[2])
            inserts.append(row)
            if stored is not None:
                lowest = height if lowest is None else min(lowest, height)
        db.executemany(
            "INSERT OR REPLACE INTO commits (height, block_hash, digest, data) VALUES (?, ?, ?, ?)",
            inserts,
        )
        return rows, objects, lowest

    def _write_state(
        self,
        db: sqlite3.Connection,
        name: str,
        state: StateSnapshot | None,
        commits: Sequence[Commit],
        lowest: int | None,
    ) -> tuple[StateSnapshot | None, int | None]:
        """Replace one state row unless it holds this very object over unchanged headers."""
        known = self._states.get(name)
        if known is not None and known[0] is state:
            count = known[1]
            if count is None or lowest is None or lowest > count:
                return known
        if state is None:
            db.execute("DELETE FROM states WHERE name = ?", (name,))
            return None, None
        count, data = _state_row(state, commits)
        db.execute(
            "INSERT OR REPLACE INTO states (name, header_count, data) VALUES (?, ?, ?)",
            (name, count, data),
        )
        return state, count

    def _write_proof_cache(
        self, db: sqlite3.Connection, keys: Sequence[ProofKey]
    ) -> tuple[tuple[ProofKey, ...], dict[int, tuple[int, int]], int]:
        """Make the rows the (retained) keys in order. Positions only grow: a key keeps its
        row and position while the order holds; a key the LRU moved, or a new one, gets the
        next position; dropped keys are deleted. Returns the new memo."""
        keys = tuple(keys if self.retain is None else keys[max(len(keys) - self.retain, 0) :])
        previous = self._proof_keys
        if (
            previous is not None
            and len(previous) == len(keys)
            and all(a is b for a, b in zip(previous, keys, strict=True))
        ):
            return previous, self._proof_rows, self._proof_next
        known = self._proof_rows if previous is not None else {}
        next_position = self._proof_next if previous is not None else 0
        if previous is None:
            db.execute("DELETE FROM proof_cache")
        rows: dict[int, tuple[int, int]] = {}
        last = -1
        for key in keys:
            row_id, position = known.get(id(key), (None, -1))
            if row_id is not None and id(key) not in rows and position > last:
                rows[id(key)] = (row_id, position)
                last = position
                continue
            position, next_position = next_position, next_position + 1
            if row_id is None or id(key) in rows:
                cursor = db.execute(
                    "INSERT INTO proof_cache (position, entry) VALUES (?, ?)",
                    (position, encode_proof_key(key)),
                )
                row_id = int(cursor.lastrowid or 0)
            else:
                db.execute("UPDATE proof_cache SET position = ? WHERE id = ?", (position, row_id))
            rows[id(key)] = (row_id, position)
            last = position
        kept = {row_id for row_id, _ in rows.values()}
        dropped = [(row_id,) for row_id, _ in known.values() if row_id not in kept]
        db.executemany("DELETE FROM proof_cache WHERE id = ?", dropped)
        return keys, rows, next_position

    def close(self) -> None:
        """Close the database (a checkpoint folds the WAL into the file); idempotent."""
        if self._db is not None:
            db, self._db = self._db, None
            try:
                db.close()
            except sqlite3.Error as error:
                raise StorageError(self.path, _corrupt(error)) from None


# --- migration ---------------------------------------------------------------------------------


def _read_v1(db: sqlite3.Connection) -> tuple[list[Commit], dict[str, str]]:
    """The commits (last record of each height, height order) and the state texts of a v1
    store; ValueError or DecodeError on a malformed record."""
    by_height: dict[int, Commit] = {}
    for height, text in db.execute("SELECT height, record FROM chain ORDER BY height, rowid"):
        record = json.loads(text)
        if not isinstance(record, dict) or sorted(record) != ["commit", "hash"]:
            raise ValueError(f"chain record of height {height}: expected hash and commit")
        commit = Commit.from_bytes(bytes.fromhex(str(record["commit"])))
        if commit.block.header.height != height or commit.block.hash != record["hash"]:
            raise ValueError(f"chain record of height {height}: names another block")
        by_height[int(height)] = commit
    state = {str(name): str(value) for name, value in db.execute("SELECT name, value FROM state")}
    return [by_height[h] for h in sorted(by_height)], state


def _migrate_v1_to_v2(db: sqlite3.Connection) -> int:
    """Rewrite a v1 store as v2 in the caller's transaction; returns the commits upgraded."""
    commits, state = _read_v1(db)
    for statement in _SCHEMA_V2:
        db.execute(statement)
    db.executemany(
        "INSERT INTO commits (height, block_hash, digest, data) VALUES (?, ?, ?, ?)",
        [_commit_row(c) for c in commits],
    )
    for name in _STATE_NAMES:
        if name in state:
            count, data = _state_row(StateSnapshot.from_bytes(bytes.fromhex(state[name])), commits)
            db.execute(
                "INSERT INTO states (name, header_count, data) VALUES (?, ?, ?)",
                (name, count, data),
            )
    entries = json.loads(state.get("proof_cache", "[]"))
    if not isinstance(entries, list):
        raise ValueError("proof_cache: expected a JSON list")
    rows = [(i, encode_proof_key(decode_proof_key(json.dumps(e)))) for i, e in enumerate(entries)]
    db.executemany("INSERT INTO proof_cache (position, entry) VALUES (?, ?)", rows)
    if "key_seed" in state:
        seed = bytes.fromhex(state["key_seed"])
        if len(seed) != KEY_SEED_LEN:
            raise ValueError(f"key_seed: expected {KEY_SEED_LEN} bytes, found {len(seed)}")
        db.execute("INSERT INTO records (name, value) VALUES ('key_seed', ?)", (seed,))
    db.execute("DROP TABLE chain")
    db.execute("DROP TABLE state")
    db.execute("PRAGMA user_version = 2")
    return len(commits)


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], int]] = {1: _migrate_v1_to_v2}
"""Version v → the step that rewrites a v store as v + 1 (returns the commits upgraded)."""


def run_migration(data_dir: Path, *, dry_run: bool = False) -> MigrationReport:
    """Upgrade the store in ``data_dir`` to ``SCHEMA_VERSION`` in one transaction (a dry run
    rolls it back); a no-op on a current store."""
    path = _db_path(data_dir)
    if not path.is_file():
        raise StorageError(path, "expected a node store, found no file")
    try:
        db = _connect(path)
    except sqlite3.Error as error:
        raise StorageError(path, _corrupt(error)) from None
    try:
        return _run_steps(db, Path(data_dir), path, dry_run)
    except sqlite3.Error as error:
        raise StorageError(path, _corrupt(error)) from None
    except (ValueError, DecodeError) as error:
        raise StorageError(path, f"migration refused: {_corrupt(error)}") from None
    finally:
        db.close()


def _run_steps(
    db: sqlite3.Connection, data_dir: Path, path: Path, dry_run: bool
) -> MigrationReport:
    version, application, tables = _read_header(db)
    if version not in LEGACY_VERSIONS:
        problem = _compute_header_problem(data_dir, version, application, tables)
        if problem is not None:
            raise StorageError(path, problem)
        count = len(db.execute("SELECT height FROM commits").fetchall()) if tables else 0
        return MigrationReport(version or SCHEMA_VERSION, SCHEMA_VERSION, 0, count, dry_run)
    if application != APPLICATION_ID:
        raise StorageError(path, f"expected an rppsim node store, found application {application}")
    _set_pragmas(db)
    upgraded = 0
    db.execute("BEGIN IMMEDIATE")
    try:
        for step in range(version, SCHEMA_VERSION):
            upgraded += MIGRATIONS[step](db)
        db.execute("ROLLBACK" if dry_run else "COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return MigrationReport(version, SCHEMA_VERSION, upgraded, 0, dry_run)


def migrate(data_dir: Path) -> tuple[int, int]:
    """Upgrade the store in ``data_dir``: (from_version, to_version), equal when it was current."""
    report = run_migration(data_dir)
    return report.from_version, report.to_version


def create_legacy_store(
    data_dir: Path,
    version: int,
    persisted: PersistedState | None = None,
    *,
    key_seed: bytes | None = None,
) -> None:
    """Write a store in an old schema (for tests of ``migrate``), holding ``persisted`` and
    ``key_seed`` the way that schema kept them."""
    if version not in LEGACY_VERSIONS:
        raise ValueError(f"no legacy layout for schema version {version}")
    path = _db_path(data_dir)
    if path.exists():
        raise ValueError(f"{path} exists already")
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    persisted = persisted or PersistedState()
    db = _connect(path)
    try:
        _set_pragmas(db)
        with _transaction(db):
            _stamp(db, version, _SCHEMA_V1)
            db.executemany(
                "INSERT INTO chain (height, record) VALUES (?, ?)",
                [
                    (
                        c.block.header.height,
                        json.dumps({"hash": c.block.hash, "commit": c.to_bytes().hex()}),
                    )
                    for c in persisted.commits
                ],
            )
            state = {
                name: snapshot.to_bytes().hex()
                for name, snapshot in (
                    ("tip_state", persisted.tip_state),
                    ("snapshot", persisted.snapshot),
                )
                if snapshot is not None
            }
            entries = [json.loads(encode_proof_key(k)) for k in persisted.proof_cache]
            state["proof_cache"] = json.dumps(entries)
            if key_seed is not None:
                state["key_seed"] = key_seed.hex()
            db.executemany("INSERT INTO state (name, value) VALUES (?, ?)", sorted(state.items()))
    finally:
        db.close()
