"""The line's SQLite store: events, stops, parts, the MQTT outbox, shift results, health.

One writer (the agent) and any number of readers (the TUI, `report`) share the file:
WAL lets them read while it writes, and a busy timeout makes a momentary lock wait
instead of fail. Every write is one transaction, so a SIGKILL or a power cut leaves
either all of it or none of it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from agent.clock import Clock, SystemClock
from agent.errors import UserError
from agent.events import Event, PartEvent, StateEvent, new_id, write_event_log
from agent.store import schema
from agent.store.records import STOP_STATES, OutboxMessage, OutboxRow, PartRow, Stop
from agent.store.stops import derive_stops

logger = logging.getLogger(__name__)

#: How long a connection waits for another one's lock before it gives up.
BUSY_TIMEOUT_S = 10.0
#: Bytes the WAL file is truncated to after a checkpoint.
WAL_SIZE_LIMIT = 4 * 1024 * 1024
#: Health samples kept (the oldest are deleted beyond this).
STATS_KEEP = 10_000
#: The meta key the line's configuration (TOML text) is kept under.
CONFIG_KEY = "config_toml"
#: The meta key of the end of observation (ISO UTC), as `note_observed` keeps it.
OBSERVED_KEY = "observed_until"

# The latest reason assignment per stop (SQLite returns the bare columns of the max row).
_LATEST_REASON = "SELECT stop_id, reason, max(seq) FROM stop_reasons GROUP BY stop_id"
_LATEST_IMAGE = "SELECT part_id, path, max(seq) FROM part_images GROUP BY part_id"
_EVENT_COLUMNS = (
    "e.seq, e.id, e.type, e.ts, e.mono, e.state, "
    "CASE WHEN r.stop_id IS NULL THEN e.reason ELSE r.reason END AS reason, "
    "e.good, e.defect, e.score, e.uncertain"
)
_SEQ, _STATE = 0, 5  # positions in _EVENT_COLUMNS
_EVENTS_FROM = f"FROM events e LEFT JOIN ({_LATEST_REASON}) r ON r.stop_id = e.id"


class StoreError(UserError):
    """The file cannot be used as a store (missing, not SQLite, newer schema, read-only)."""


class StoreWriteError(Exception):
    """A write failed (disk full, read-only file system, I/O error); nothing was written."""


def _utc(ts: datetime, what: str = "ts") -> datetime:
    if ts.tzinfo is None:
        raise ValueError(f"{what} {ts.isoformat()} has no UTC offset")
    return ts.astimezone(UTC)


def _epoch(ts: datetime | None, what: str) -> float | None:
    return None if ts is None else _utc(ts, what).timestamp()


def _check_message(message: OutboxMessage) -> None:
    if message.qos not in (0, 1, 2):
        raise ValueError(f"outbox message qos {message.qos!r} is not 0, 1 or 2")
    if not isinstance(message.payload, bytes | bytearray | memoryview):
        raise ValueError(f"outbox payload for {message.topic!r} must be bytes")


def _connect(path: Path | str, *, readonly: bool) -> sqlite3.Connection:
    """A connection usable from any thread (the Store serialises calls with a lock)."""
    if path == ":memory:":
        return sqlite3.connect(":memory:", check_same_thread=False)
    file = Path(path)
    if readonly:
        uri = file.resolve().as_uri() + "?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    return sqlite3.connect(str(file), timeout=BUSY_TIMEOUT_S, check_same_thread=False)


class Store:
    """The line's store. Open with `Store.open(path)` (writer) or `open_readonly(path)`.

    Thread-safe: calls are serialised on one connection. Write methods raise
    `StoreWriteError` when SQLite cannot write (the transaction is rolled back).
    """

    def __init__(
        self,
        db: Database,
        *,
        path: str,
        readonly: bool,
        clock: Clock | None = None,
        stats_keep: int = STATS_KEEP,
    ) -> None:
        self.db = db
        self.path = path
        self.readonly = readonly
        self.clock: Clock = clock or SystemClock()
        self.stats_keep = stats_keep
        self._lock = threading.RLock()

    # ---- opening and closing -------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        clock: Clock | None = None,
        stats_keep: int = STATS_KEEP,
        migrate: bool = True,
    ) -> Store:
        """Open (creating it and its folders when needed) the store at `path` for writing.

        Turns on WAL and `synchronous=FULL`, sets the busy timeout and applies pending
        migrations. `":memory:"` gives a private in-memory store (for tests).

        With `migrate=False` (a tool writing into an agent's store, like the TUI's
        reason dialog) the store must already exist at exactly this code's schema: it
        is never created, and never upgraded under the agent that owns it.

        Raises:
            StoreError: the file is not a SQLite database, is another program's
                database, comes from a newer oee-agent, or cannot be created; with
                `migrate=False` also a missing store or one an older agent wrote.
        """
        name = str(path)
        if not migrate:
            _require_file(path, name)
        elif name != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{name}: cannot create its folder ({exc.strerror})") from None

        def prepare(db: Database) -> None:
            names = _check_schema(db, name)  # an empty file or one of ours from here on
            if migrate:
                schema.apply_pending(db)
            else:
                _require_current(names, name)

        db = _open_database(path, name, readonly=False, prepare=prepare)
        return cls(db, path=name, readonly=False, clock=clock, stats_keep=stats_keep)

    def close(self) -> None:
        """Close the connection (a writer checkpoints the WAL into the main file)."""
        with self._lock:
            self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: take the write lock up front)."""
        if self.readonly:
            raise StoreError(f"{self.path}: the store is open read-only")
        with self._lock:
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

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # plain tuples: name lookups cost more than the query on a week of events
        with self._lock:
            return self.db.conn.execute(sql, params).fetchall()

    # ---- events ------------------------------------------------------------------

    def append(self, event: Event, messages: Iterable[OutboxMessage] = ()) -> str:
        """Store `event` and queue its MQTT `messages`, in one transaction.

        An event without an id gets a new one. A duplicate id is ignored together with
        its messages (appending is idempotent). Returns the event's id.

        Raises:
            ValueError: the event's time has no UTC offset, or a message is malformed.
            StoreWriteError: SQLite could not write; nothing was stored.
        """
        return self.append_many([(event, messages)])[0]

    def append_many(self, items: Iterable[tuple[Event, Iterable[OutboxMessage]]]) -> list[str]:
        """Like `append` for several events, in ONE transaction (one fsync for all)."""
        prepared: list[tuple[Event, list[OutboxMessage]]] = []
        for event, messages in items:
            if event.id is None:
                event = dataclasses.replace(event, id=new_id())
            _utc(event.ts)
            batch = list(messages)
            for message in batch:
                _check_message(message)
            prepared.append((event, batch))
        created = self.clock.wall().timestamp()
        with self._write() as conn:
            for event, batch in prepared:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO events "
                    "(id, type, ts, epoch, mono, state, reason, good, defect, score, uncertain) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _event_values(event),
                )
                if cursor.rowcount == 0:
                    logger.debug("store: event %s is already stored", event.id)
                    continue
                _insert_messages(conn, batch, created)
        return [event.id for event, _ in prepared if event.id is not None]

    def events(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        with_state_before: bool = False,
        with_event_after: bool = False,
    ) -> list[Event]:
        """Events with `start <= ts < end`, in time order, reason assignments merged.

        With `with_state_before`, the last state event before `start` comes first, so
        a consumer knows the state the period began in; with `with_event_after`, the
        first event at or after `end` comes last, so it knows the line went on.
        """
        where, params = _period(start, end)
        rows = self._read(
            f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} {where} ORDER BY e.epoch, e.seq", params
        )
        events = [_event_from_row(row) for row in rows]
        if with_state_before and start is not None:
            before = self._read(
                f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.type = 'state' "
                "AND e.epoch < ? ORDER BY e.epoch DESC, e.seq DESC LIMIT 1",
                [_epoch(start, "start")],
            )
            events = [_event_from_row(row) for row in before] + events
        if with_event_after and end is not None:
            after = self._read(
                f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.epoch >= ? "
                "ORDER BY e.epoch, e.seq LIMIT 1",
                [_epoch(end, "end")],
            )
            events += [_event_from_row(row) for row in after]
        return events

    def last_event_at(self) -> datetime | None:
        """When the latest event happened, None for a store without events."""
        rows = self._read("SELECT ts FROM events ORDER BY epoch DESC, seq DESC LIMIT 1")
        return datetime.fromisoformat(rows[0][0]) if rows else None

    def event_count(self) -> int:
        """How many events are stored."""
        return int(self._read("SELECT count(*) FROM events")[0][0])

    def export_events(self, path: str | Path) -> int:
        """Write every event as the contract's JSON Lines event log; returns the count."""
        events = self.events()
        write_event_log(events, path)
        return len(events)

    # ---- stops and reasons ---------------------------------------------------------

    def assign_reason(self, stop_id: str, reason: str | None, source: str = "tui") -> None:
        """Assign `reason` (None: unassign) to a stop; the latest assignment wins.

        Raises:
            KeyError: no stop has that id.
        """
        with self._write() as conn:
            row = conn.execute("SELECT state FROM events WHERE id = ?", [stop_id]).fetchone()
            if row is None or row[0] not in STOP_STATES:
                raise KeyError(stop_id)
            now = self.clock.wall()
            conn.execute(
                "INSERT INTO stop_reasons (stop_id, reason, source, ts, epoch) "
                "VALUES (?, ?, ?, ?, ?)",
                [stop_id, reason, source, _utc(now).isoformat(), now.timestamp()],
            )

    def reason_assignments(self, after: int = 0) -> list[tuple[int, str]]:
        """Reason assignments made after the one numbered `after`: (seq, stop_id), in order."""
        rows = self._read(
            "SELECT seq, stop_id FROM stop_reasons WHERE seq > ? ORDER BY seq", [int(after)]
        )
        return [(int(seq), str(stop_id)) for seq, stop_id in rows]

    def last_reason_seq(self) -> int:
        """The number of the latest reason assignment (0 when there is none)."""
        return int(self._read("SELECT coalesce(max(seq), 0) FROM stop_reasons")[0][0])

    def current_reasons(self, stop_ids: Iterable[str]) -> dict[str, str | None]:
        """The current reason of each of these ids that is a stop (others are left out)."""
        ids = list(dict.fromkeys(stop_ids))
        out: dict[str, str | None] = {}
        for i in range(0, len(ids), 500):  # SQLite's bound on parameters
            chunk = ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._read(
                f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.id IN ({marks}) "  # noqa: S608
                "AND e.state IN ('stopped', 'no_data')",
                chunk,
            )
            out.update((row[1], row[6]) for row in rows)
        return out

    def stops(self, start: datetime | None = None, end: datetime | None = None) -> list[Stop]:
        """Stops overlapping `[start, end)`, in time order, with their current reasons."""
        clauses = ["e.type = 'state'"]
        params: list[Any] = []
        start_epoch, end_epoch = _epoch(start, "start"), _epoch(end, "end")
        if start_epoch is not None:
            # begin at the state event in effect at `start`
            anchor = self._read(
                "SELECT epoch, seq FROM events WHERE type = 'state' AND epoch <= ? "
                "ORDER BY epoch DESC, seq DESC LIMIT 1",
                [start_epoch],
            )
            if anchor:
                clauses.append("(e.epoch > ? OR (e.epoch = ? AND e.seq >= ?))")
                params += [anchor[0][0], anchor[0][0], anchor[0][1]]
        rows = self._read(
            f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE {' AND '.join(clauses)}"
            + (" AND e.epoch < ?" if end_epoch is not None else "")
            + " ORDER BY e.epoch, e.seq",
            [*params, *([end_epoch] if end_epoch is not None else [])],
        )
        if end_epoch is not None:
            # the first state event at or after `end` closes a stop still open there
            rows += self._read(
                f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.type = 'state' "
                "AND e.epoch >= ? ORDER BY e.epoch, e.seq LIMIT 1",
                [end_epoch],
            )
        states = [e for e in map(_event_from_row, rows) if isinstance(e, StateEvent)]
        return [
            stop
            for stop in derive_stops(states)
            if (end is None or stop.start < end)
            and (start is None or stop.end is None or stop.end > start)
        ]

    def stop(self, stop_id: str) -> Stop:
        """One stop by id, with its current reason.

        Raises:
            KeyError: no stop has that id.
        """
        rows = self._read(f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.id = ?", [stop_id])
        if not rows or rows[0][_STATE] not in STOP_STATES:
            raise KeyError(stop_id)
        seq, epoch = rows[0][_SEQ], _epoch(_event_from_row(rows[0]).ts, "ts")
        following = self._read(
            f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.type = 'state' "
            "AND (e.epoch > ? OR (e.epoch = ? AND e.seq > ?)) ORDER BY e.epoch, e.seq LIMIT 1",
            [epoch, epoch, seq],
        )
        states = [_event_from_row(row) for row in [*rows, *following]]
        return derive_stops([e for e in states if isinstance(e, StateEvent)])[0]

    # ---- parts -----------------------------------------------------------------------

    def parts(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        rejected_only: bool = False,
        limit: int | None = None,
    ) -> list[PartRow]:
        """Parts with `start <= ts < end` in time order (the LAST `limit` when given)."""
        where, params = _period(start, end)
        where += " AND e.type = 'part'" if where else "WHERE e.type = 'part'"
        # the partial index holds exactly the rejected parts, in time order
        index = "INDEXED BY events_rejected_epoch" if rejected_only else ""
        if rejected_only:
            where += " AND e.good = 0"
        # every piece of this SQL is a constant of this module; values go as parameters
        sql = (
            "SELECT e.seq, e.id, e.ts, e.mono, e.good, e.defect, e.score, i.path AS image, "  # noqa: S608
            "e.uncertain "
            f"FROM events e {index} LEFT JOIN ({_LATEST_IMAGE}) i ON i.part_id = e.id {where}"
        )
        if limit is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY e.epoch DESC, e.seq DESC LIMIT ?)"  # noqa: S608
            params = [*params, int(limit)]
            rows = list(reversed(self._read(sql, params)))
        else:
            rows = self._read(sql + " ORDER BY e.epoch, e.seq", params)
        return [
            PartRow(
                id_,
                datetime.fromisoformat(ts),
                mono,
                bool(good),
                defect,
                score,
                image,
                bool(unsure),
            )
            for _, id_, ts, mono, good, defect, score, image, unsure in rows
        ]

    def set_part_image(self, part_id: str, path: str | Path) -> None:
        """Keep the path of a part's picture (the latest wins).

        Raises:
            KeyError: no part has that id.
        """
        with self._write() as conn:
            row = conn.execute("SELECT type FROM events WHERE id = ?", [part_id]).fetchone()
            if row is None or row[0] != "part":
                raise KeyError(part_id)
            conn.execute(
                "INSERT INTO part_images (part_id, path, epoch) VALUES (?, ?, ?)",
                [part_id, str(path), self.clock.wall().timestamp()],
            )

    # ---- outbox ------------------------------------------------------------------

    def enqueue(self, messages: Iterable[OutboxMessage]) -> list[int]:
        """Queue messages alone (no event), in one transaction; returns their seqs."""
        batch = list(messages)
        for message in batch:
            _check_message(message)
        created = self.clock.wall().timestamp()
        with self._write() as conn:
            return _insert_messages(conn, batch, created)

    def enqueue_built(self, build: Callable[[], Iterable[OutboxMessage]]) -> list[int]:
        """Queue the messages `build()` returns, building them inside the transaction.

        What `build` reads from this store cannot change before its messages are queued
        (the agent's next event waits), so a message about "the stop now" stays true.
        """
        created = self.clock.wall().timestamp()
        with self._write() as conn:
            batch = list(build())
            for message in batch:
                _check_message(message)
            return _insert_messages(conn, batch, created)

    def outbox_peek(self, limit: int = 100, after: int | None = None) -> list[OutboxRow]:
        """The oldest queued messages, in order (only those with seq > `after` if given)."""
        rows = self._read(
            "SELECT seq, topic, payload, qos, retain, created FROM outbox "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            [-1 if after is None else after, int(limit)],
        )
        return [
            OutboxRow(seq, topic, bytes(payload), qos, bool(retain), created)
            for seq, topic, payload, qos, retain, created in rows
        ]

    def outbox_ack(self, seqs: Iterable[int]) -> int:
        """Delete messages the broker acknowledged; returns how many were deleted."""
        batch = [(int(seq),) for seq in seqs]
        if not batch:
            return 0
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany("DELETE FROM outbox WHERE seq = ?", batch)
            return conn.total_changes - before

    def outbox_depth(self) -> int:
        """How many messages wait in the outbox."""
        return int(self._read("SELECT count(*) FROM outbox")[0][0])

    def outbox_trim(self, max_rows: int) -> int:
        """Drop the oldest messages beyond `max_rows`; count and record the loss.

        Returns how many were dropped (0 when within the bound).
        """
        if max_rows < 0:
            raise ValueError("max_rows must be 0 or more")
        with self._write() as conn:
            depth = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
            excess = depth - max_rows
            if excess <= 0:
                return 0
            first, last = conn.execute(
                "SELECT min(seq), max(seq) FROM (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
                [excess],
            ).fetchone()
            conn.execute("DELETE FROM outbox WHERE seq <= ?", [last])
            now = self.clock.wall()
            conn.execute(
                "INSERT INTO outbox_loss (ts, epoch, dropped, first_seq, last_seq) "
                "VALUES (?, ?, ?, ?, ?)",
                [_utc(now).isoformat(), now.timestamp(), excess, first, last],
            )
        logger.warning("store: outbox over %d rows, dropped the oldest %d", max_rows, excess)
        return int(excess)

    def outbox_lost(self) -> int:
        """Messages dropped by `outbox_trim` over the store's life."""
        return int(self._read("SELECT coalesce(sum(dropped), 0) FROM outbox_loss")[0][0])

    # ---- shift results, stats, meta, config ----------------------------------------

    def save_shift_result(
        self, shift_json: dict[str, Any], messages: Iterable[OutboxMessage] = ()
    ) -> None:
        """Keep a closed shift's OEE object (upsert on shift name + date).

        Its `messages` (the retained `shift` topic) are queued in the same transaction.

        Raises:
            ValueError: the object has no `shift` or `date`.
        """
        shift, date = shift_json.get("shift"), shift_json.get("date")
        if not isinstance(shift, str) or not isinstance(date, str):
            raise ValueError("a shift result needs string 'shift' and 'date' keys")
        batch = list(messages)
        for message in batch:
            _check_message(message)
        now = self.clock.wall().timestamp()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO shift_results (shift, date, result, saved) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (shift, date) DO UPDATE SET result = excluded.result, "
                "saved = excluded.saved",
                [shift, date, json.dumps(shift_json), now],
            )
            _insert_messages(conn, batch, now)

    def shift_results(self) -> list[dict[str, Any]]:
        """Closed shifts' OEE objects, by date then the order they were first saved."""
        rows = self._read("SELECT result FROM shift_results ORDER BY date, rowid")
        return [json.loads(row[0]) for row in rows]

    def record_stats(self, ts: datetime, stats: dict[str, Any]) -> None:
        """Keep a health sample; only the latest `stats_keep` samples are kept."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO stats (ts, epoch, data) VALUES (?, ?, ?)",
                [_utc(ts).isoformat(), ts.timestamp(), json.dumps(stats)],
            )
            seq = cursor.lastrowid or 0
            conn.execute("DELETE FROM stats WHERE seq <= ?", [seq - self.stats_keep])

    def latest_stats(self) -> dict[str, Any] | None:
        """The latest health sample with its time as `ts` (ISO UTC), or None."""
        rows = self._read("SELECT ts, data FROM stats ORDER BY seq DESC LIMIT 1")
        if not rows:
            return None
        ts, data = rows[0]
        sample: dict[str, Any] = json.loads(data)
        sample.setdefault("ts", ts)
        return sample

    def note_observed(self, until: datetime) -> None:
        """The line was watched until `until` (the last frame's time).

        The OEE of the store then covers time up to here, not only to its last event.
        """
        current = self.observed_until()
        if current is None or until > current:
            self.meta_set(OBSERVED_KEY, until.astimezone(UTC).isoformat())

    def observed_until(self) -> datetime | None:
        """Until when the line was watched, as `note_observed` last said (None: unknown)."""
        value = self.meta_get(OBSERVED_KEY)
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    def meta_get(self, key: str, default: Any = None) -> Any:
        """A small value kept under `key` (JSON-decoded), or `default`."""
        rows = self._read("SELECT value FROM meta WHERE key = ?", [key])
        return json.loads(rows[0][0]) if rows else default

    def meta_set(self, key: str, value: Any) -> None:
        """Keep a small JSON-serialisable value under `key`."""
        text = json.dumps(value)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, text],
            )

    def save_config(self, toml_text: str) -> None:
        """Keep the line configuration the agent runs with (for `report`)."""
        self.meta_set(CONFIG_KEY, toml_text)

    def config_text(self) -> str | None:
        """The configuration kept by `save_config`, or None."""
        value = self.meta_get(CONFIG_KEY)
        return value if isinstance(value, str) else None

    # ---- health of the file itself ---------------------------------------------------

    def integrity_check(self) -> str:
        """`PRAGMA integrity_check`: "ok" for a sound file."""
        rows = self._read("PRAGMA integrity_check")
        return "; ".join(str(row[0]) for row in rows)

    def migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        with self._lock:
            return schema.applied(self.db)


def open_readonly(path: str | Path, *, clock: Clock | None = None) -> Store:
    """Open an existing store read-only (the TUI, `report`): same reads, no writes.

    Raises:
        StoreError: the file is missing, not SQLite, not a store, or too new/old.
    """
    name = str(path)
    _require_file(path, name)

    def prepare(db: Database) -> None:
        _require_current(_check_schema(db, name), name)

    db = _open_database(Path(path), name, readonly=True, prepare=prepare)
    return Store(db, path=name, readonly=True, clock=clock)


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
        # WAL: readers never block the writer nor see half a transaction.
        # FULL: every commit is fsynced (WAL + sync at each commit), so an event the
        # agent acknowledged survives a power cut, not just a crash of the process.
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


def _period(start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if start is not None:
        clauses.append("e.epoch >= ?")
        params.append(_epoch(start, "start"))
    if end is not None:
        clauses.append("e.epoch < ?")
        params.append(_epoch(end, "end"))
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _event_values(event: Event) -> list[Any]:
    ts = _utc(event.ts)
    common = [event.id, None, ts.isoformat(), ts.timestamp(), event.mono]
    if isinstance(event, StateEvent):
        common[1] = "state"
        return [*common, event.state, event.reason, None, None, None, None]
    common[1] = "part"
    part = [int(event.good), event.defect, event.score, int(event.uncertain)]
    return [*common, None, None, *part]


def _event_from_row(row: tuple[Any, ...]) -> Event:
    _, id_, kind, ts, mono, state, reason, good, defect, score, uncertain = row
    if kind == "state":
        return StateEvent(datetime.fromisoformat(ts), state, reason, id_, mono)
    return PartEvent(
        datetime.fromisoformat(ts), bool(good), defect, score, id_, mono, bool(uncertain)
    )


def _insert_messages(
    conn: sqlite3.Connection, messages: Sequence[OutboxMessage], created: float
) -> list[int]:
    seqs: list[int] = []
    for message in messages:
        cursor = conn.execute(
            "INSERT INTO outbox (topic, payload, qos, retain, created) VALUES (?, ?, ?, ?, ?)",
            [message.topic, bytes(message.payload), message.qos, int(message.retain), created],
        )
        seqs.append(int(cursor.lastrowid or 0))
    return seqs
