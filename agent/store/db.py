"""The store's connection: opening, checking and configuring the file, and transactions.

`StoreDb` is what the store's parts (`Store`, `Outbox`, `Retention`) share: one SQLite
connection, a lock that serialises calls from several threads, one way to write (a
`BEGIN IMMEDIATE` transaction) and one way to read.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from agent.errors import UserError
from agent.store import schema

#: How long a connection waits for another one's lock before it gives up.
BUSY_TIMEOUT_S = 10.0
#: Page size of a new store file (bytes). Existing files keep theirs (4096 before m003).
PAGE_SIZE = 1024
#: Bytes the WAL file is truncated to after a checkpoint.
WAL_SIZE_LIMIT = 4 * 1024 * 1024


class StoreError(UserError):
    """The file cannot be used as a store (missing, not SQLite, newer schema, read-only)."""


class StoreWriteError(Exception):
    """A write failed (disk full, read-only file system, I/O error); nothing was written."""


def utc(ts: datetime, what: str = "ts") -> datetime:
    """`ts` in UTC; a naive time is refused (ValueError naming `what`)."""
    if ts.tzinfo is None:
        raise ValueError(f"{what} {ts.isoformat()} has no UTC offset")
    return ts.astimezone(UTC)


def epoch(ts: datetime | None, what: str) -> float | None:
    """`ts` as epoch seconds (None stays None)."""
    return None if ts is None else utc(ts, what).timestamp()


class StoreDb:
    """One connection to the store's file, shared by its parts; thread-safe."""

    def __init__(self, db: Database, *, path: str, readonly: bool) -> None:
        self.db = db
        self.path = path
        self.readonly = readonly
        self.lock = threading.RLock()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: take the write lock up front).

        Raises:
            StoreError: the store is open read-only.
            StoreWriteError: SQLite could not write; the transaction was rolled back.
        """
        if self.readonly:
            raise StoreError(f"{self.path}: the store is open read-only")
        with self.lock:
            conn = self.db.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                raise StoreWriteError(f"{self.path}: write failed ({exc})") from exc

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query, as plain tuples (callers name them, see `records`)."""
        with self.lock:
            return self.db.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of one query."""
        return self.read(sql, params)[0][0]

    def close(self) -> None:
        """Close the connection (a writer checkpoints the WAL into the main file)."""
        with self.lock:
            self.db.conn.close()


def open_db(
    path: Path | str, *, readonly: bool, migrate: bool = True, create: bool = True
) -> StoreDb:
    """Connect, configure, check the schema and (for a writer with `migrate`) migrate.

    Raises:
        StoreError: not SQLite, another program's database, a newer store, a missing
            file (unless `create`), or (without `migrate`) a store at another schema.
    """
    name = str(path)
    if not create:
        _require_file(path, name)
    elif name != ":memory:":
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{name}: cannot create its folder ({exc.strerror})") from None

    def prepare(db: Database) -> None:
        names = _check_schema(db, name)  # an empty file or one of ours from here on
        if migrate and not readonly:
            schema.apply_pending(db)
        else:
            _require_current(names, name)

    db = _open_database(path, name, readonly=readonly, prepare=prepare)
    return StoreDb(db, path=name, readonly=readonly)


def _connect(path: Path | str, *, readonly: bool) -> sqlite3.Connection:
    """A connection usable from any thread (StoreDb serialises calls with a lock)."""
    if path == ":memory:":
        return sqlite3.connect(":memory:", check_same_thread=False)
    file = Path(path)
    if readonly:
        uri = file.resolve().as_uri() + "?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    return sqlite3.connect(str(file), timeout=BUSY_TIMEOUT_S, check_same_thread=False)


def _require_file(path: str | Path, name: str) -> None:
    file = Path(path)
    if file.is_dir():
        raise StoreError(f"{name}: is a folder, not a store file")
    if not file.is_file():
        raise StoreError(f"{name}: no such store file")


def _require_current(names: list[str], name: str) -> None:
    """A store at exactly this code's schema (nothing pending), else a StoreError."""
    if not names:
        raise StoreError(f"{name}: not an oee-agent store (it has no tables)")
    missing = schema.pending(names)
    if missing:
        raise StoreError(
            f"{name}: written by an older oee-agent (migration {missing[0][0]} pending); "
            "open it once with the agent to upgrade it"
        )


def _open_database(
    path: Path | str, name: str, *, readonly: bool, prepare: Callable[[Database], None]
) -> Database:
    """Connect, configure and `prepare` (check/migrate); any failure is a StoreError."""
    try:
        conn = _connect(path, readonly=readonly)
    except sqlite3.Error as exc:
        raise StoreError(f"{name}: cannot open it ({exc})") from None
    db = Database(conn)
    try:
        _configure(db, writer=not readonly)
        prepare(db)
    except StoreError:
        conn.close()
        raise
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{name}: not a usable SQLite database ({exc})") from None
    return db


def _configure(db: Database, *, writer: bool) -> None:
    """Connection settings; the first statement also proves the file is SQLite."""
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    db.execute("PRAGMA foreign_keys = ON")
    if writer:
        # A new file only (an existing one keeps what it was made with): 1 KiB pages,
        # so a commit writes a quarter of the bytes (a group commit touches about six
        # pages: the events' leaf, three indexes, the outbox, sqlite_sequence), and
        # free pages returned to the file system by `PRAGMA incremental_vacuum`.
        if db.execute("PRAGMA page_count").fetchone()[0] == 0:  # never touch a used file
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        # WAL: readers never block the writer nor see half a transaction.
        # FULL: every commit is fsynced (WAL + sync at each commit), so a committed
        # event survives a power cut, not just a crash of the process.
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        # after a checkpoint, shrink the WAL back to this size (spares an SD card's space)
        db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    else:
        db.execute("PRAGMA query_only = ON")


def _check_schema(db: Database, name: str) -> list[str]:
    """Applied migration names; raises StoreError for another program's DB or a newer one."""
    tables = set(db.table_names())
    if schema.MIGRATIONS_TABLE not in tables:
        if tables:
            raise StoreError(f"{name}: a SQLite database, but not an oee-agent store")
        return []
    names = schema.applied(db)
    newer = schema.unknown(names)
    if newer:
        raise StoreError(
            f"{name}: written by a newer oee-agent (unknown schema migration {newer[0]}); "
            "upgrade oee-agent to use it"
        )
    return names
