"""The line's SQLite store: events, stops, parts, shift results, health.

One writer (the agent) and any number of readers (the TUI, `report`) share the file:
WAL lets them read while it writes, and a busy timeout makes a momentary lock wait
instead of fail. Every write is one transaction, so a SIGKILL or a power cut leaves
either all of it or none of it. The MQTT outbox is `store.outbox` (`agent.store.outbox`);
the connection, its settings and transactions are `agent.store.db`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import agent.store.schema as schema
from agent.clock import Clock, SystemClock
from agent.events import Event, PartEvent, State, StateEvent, new_id, write_event_log
from agent.store.db import (
    BUSY_TIMEOUT_S,
    WAL_SIZE_LIMIT,
    StoreDb,
    StoreError,
    StoreWriteError,
    epoch,
    open_db,
    utc,
)
from agent.store.outbox import Outbox, check_message, insert_messages
from agent.store.records import STOP_STATES, OutboxMessage, PartRow, Stop
from agent.store.stops import derive_stops

logger = logging.getLogger(__name__)

__all__ = [
    "BUSY_TIMEOUT_S",
    "CONFIG_KEY",
    "WAL_SIZE_LIMIT",
    "Store",
    "StoreError",
    "StoreWriteError",
    "open_readonly",
]

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
    "e.good, e.defect, e.score, e.uncertain, e.inspected"
)
_EVENTS_FROM = f"FROM events e LEFT JOIN ({_LATEST_REASON}) r ON r.stop_id = e.id"


class EventRow(NamedTuple):
    """One row of `SELECT {_EVENT_COLUMNS}` (the reason merged with its assignment)."""

    seq: int
    id: str
    type: str
    ts: str
    mono: float | None
    state: State | None
    reason: str | None
    good: int | None
    defect: str | None
    score: float | None
    uncertain: int | None
    inspected: int | None


class _PartColumns(NamedTuple):
    """One row of the `parts` query."""

    seq: int
    id: str
    ts: str
    mono: float | None
    good: int
    defect: str | None
    score: float | None
    image: str | None
    uncertain: int | None
    inspected: int | None


class Store:
    """The line's store. Open with `Store.open(path)` (writer) or `open_readonly(path)`.

    Thread-safe: calls are serialised on one connection. Write methods raise
    `StoreWriteError` when SQLite cannot write (the transaction is rolled back).

    Attributes:
        outbox: the MQTT outbox in the same file (`agent.store.outbox.Outbox`).
        connection: the shared connection (`agent.store.db.StoreDb`: lock, write, read).
    """

    def __init__(
        self, conn: StoreDb, *, clock: Clock | None = None, stats_keep: int = STATS_KEEP
    ) -> None:
        self._conn = conn
        self.connection = conn
        self.db = conn.db
        self.path = conn.path
        self.readonly = conn.readonly
        self.clock: Clock = clock or SystemClock()
        self.stats_keep = stats_keep
        self._lock = conn.lock
        self.outbox = Outbox(conn, self.clock)

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
        conn = open_db(path, readonly=False, migrate=migrate, create=migrate)
        return cls(conn, clock=clock, stats_keep=stats_keep)

    def close(self) -> None:
        """Close the connection (a writer checkpoints the WAL into the main file)."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _events(self, sql: str, params: Iterable[Any] = ()) -> list[EventRow]:
        return [EventRow._make(row) for row in self._conn.read(sql, list(params))]

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
            utc(event.ts)
            batch = list(messages)
            for message in batch:
                check_message(message)
            prepared.append((event, batch))
        created = self.clock.wall().timestamp()
        # the lock held until the acks are forgotten: a `depth` read between the commit
        # and `forget_acked` subtracted the deleted rows a second time (stats said -7)
        with self._conn.lock:
            with self._conn.write() as conn:
                for event, batch in prepared:
                    cursor = conn.execute(
                        "INSERT OR IGNORE INTO events (id, type, ts, epoch, mono, state, "
                        "reason, good, defect, score, uncertain, inspected) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        _event_values(event),
                    )
                    if cursor.rowcount == 0:
                        logger.debug("store: event %s is already stored", event.id)
                        continue
                    insert_messages(conn, batch, created)
                acked = self.outbox.delete_acked(conn)  # one commit for events and acks
            self.outbox.forget_acked(acked)
        return [event.id for event, _ in prepared if event.id is not None]

    def events(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        with_state_before: bool = False,
        with_event_after: bool = False,
        upto_seq: int | None = None,
    ) -> list[Event]:
        """Events with `start <= ts < end`, in time order, reason assignments merged.

        With `with_state_before`, the last state event before `start` comes first, so
        a consumer knows the state the period began in; with `with_event_after`, the
        first event at or after `end` comes last, so it knows the line went on. With
        `upto_seq`, only events stored up to that number (`last_event_seq`) are read,
        so `events_after(upto_seq)` goes on exactly where this read stopped.
        """
        where, params = _period(start, end)
        if upto_seq is not None:
            where += (" AND" if where else "WHERE") + " e.seq <= ?"
            params.append(int(upto_seq))
        rows = self._events(
            f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} {where} ORDER BY e.epoch, e.seq", params
        )
        events = [_event_from_row(row) for row in rows]
        if with_state_before and start is not None:
            before = self._events(
                f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.type = 'state' "
                "AND e.epoch < ? ORDER BY e.epoch DESC, e.seq DESC LIMIT 1",
                [epoch(start, "start")],
            )
            events = [_event_from_row(row) for row in before] + events
        if with_event_after and end is not None:
            after = self._events(
                f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.epoch >= ? "
                "ORDER BY e.epoch, e.seq LIMIT 1",
                [epoch(end, "end")],
            )
            events += [_event_from_row(row) for row in after]
        return events

    def events_after(self, seq: int, limit: int | None = None) -> tuple[list[Event], int]:
        """Events stored after the one numbered `seq`, in the order stored, reasons merged.

        Returns the events and the number of the last one (`seq` when there is none), to
        pass next time: a reader follows the store without reading anything twice.
        """
        rows = self._events(
            f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
            [int(seq), -1 if limit is None else int(limit)],
        )
        return [_event_from_row(row) for row in rows], (rows[-1].seq if rows else int(seq))

    def last_event_seq(self) -> int:
        """The number of the latest stored event (0 for a store without events)."""
        return int(self._conn.read("SELECT coalesce(max(seq), 0) FROM events")[0][0])

    def last_event_at(self) -> datetime | None:
        """When the latest event happened, None for a store without events."""
        rows = self._conn.read("SELECT ts FROM events ORDER BY epoch DESC, seq DESC LIMIT 1")
        return datetime.fromisoformat(rows[0][0]) if rows else None

    def event_count(self) -> int:
        """How many events are stored."""
        return int(self._conn.read("SELECT count(*) FROM events")[0][0])

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
        with self._conn.write() as conn:
            row = conn.execute("SELECT state FROM events WHERE id = ?", [stop_id]).fetchone()
            if row is None or row[0] not in STOP_STATES:
                raise KeyError(stop_id)
            now = self.clock.wall()
            conn.execute(
                "INSERT INTO stop_reasons (stop_id, reason, source, ts, epoch) "
                "VALUES (?, ?, ?, ?, ?)",
                [stop_id, reason, source, utc(now).isoformat(), now.timestamp()],
            )

    def reason_assignments(self, after: int = 0) -> list[tuple[int, str]]:
        """Reason assignments made after the one numbered `after`: (seq, stop_id), in order."""
        rows = self._conn.read(
            "SELECT seq, stop_id FROM stop_reasons WHERE seq > ? ORDER BY seq", [int(after)]
        )
        return [(int(seq), str(stop_id)) for seq, stop_id in rows]

    def last_reason_seq(self) -> int:
        """The number of the latest reason assignment (0 when there is none)."""
        return int(self._conn.read("SELECT coalesce(max(seq), 0) FROM stop_reasons")[0][0])

    def current_reasons(self, stop_ids: Iterable[str]) -> dict[str, str | None]:
        """The current reason of each of these ids that is a stop (others are left out)."""
        ids = list(dict.fromkeys(stop_ids))
        out: dict[str, str | None] = {}
        for i in range(0, len(ids), 500):  # SQLite's bound on parameters
            chunk = ids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._events(
                f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.id IN ({marks}) "  # noqa: S608
                "AND e.state IN ('stopped', 'no_data')",
                chunk,
            )
            out.update((row.id, row.reason) for row in rows)
        return out

    def stops(self, start: datetime | None = None, end: datetime | None = None) -> list[Stop]:
        """Stops overlapping `[start, end)`, in time order, with their current reasons."""
        clauses = ["e.type = 'state'"]
        params: list[Any] = []
        start_epoch, end_epoch = epoch(start, "start"), epoch(end, "end")
        if start_epoch is not None:
            # begin at the state event in effect at `start`
            anchor = self._conn.read(
                "SELECT epoch, seq FROM events WHERE type = 'state' AND epoch <= ? "
                "ORDER BY epoch DESC, seq DESC LIMIT 1",
                [start_epoch],
            )
            if anchor:
                ((at, seq),) = anchor
                clauses.append("(e.epoch > ? OR (e.epoch = ? AND e.seq >= ?))")
                params += [at, at, seq]
        rows = self._events(
            f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE {' AND '.join(clauses)}"
            + (" AND e.epoch < ?" if end_epoch is not None else "")
            + " ORDER BY e.epoch, e.seq",
            [*params, *([end_epoch] if end_epoch is not None else [])],
        )
        if end_epoch is not None:
            # the first state event at or after `end` closes a stop still open there
            rows += self._events(
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
        rows = self._events(f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.id = ?", [stop_id])
        if not rows or rows[0].state not in STOP_STATES:
            raise KeyError(stop_id)
        seq, at = rows[0].seq, epoch(_event_from_row(rows[0]).ts, "ts")
        following = self._events(
            f"SELECT {_EVENT_COLUMNS} {_EVENTS_FROM} WHERE e.type = 'state' "
            "AND (e.epoch > ? OR (e.epoch = ? AND e.seq > ?)) ORDER BY e.epoch, e.seq LIMIT 1",
            [at, at, seq],
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
            "e.uncertain, e.inspected "
            f"FROM events e {index} LEFT JOIN ({_LATEST_IMAGE}) i ON i.part_id = e.id {where}"
        )
        if limit is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY e.epoch DESC, e.seq DESC LIMIT ?)"  # noqa: S608
            params = [*params, int(limit)]
            rows = list(reversed(self._conn.read(sql, params)))
        else:
            rows = self._conn.read(sql + " ORDER BY e.epoch, e.seq", params)
        return [_part_from_row(_PartColumns._make(row)) for row in rows]

    def set_part_image(self, part_id: str, path: str | Path) -> None:
        """Keep the path of a part's picture (the latest wins).

        Raises:
            KeyError: no part has that id.
        """
        with self._conn.write() as conn:
            row = conn.execute("SELECT type FROM events WHERE id = ?", [part_id]).fetchone()
            if row is None or row[0] != "part":
                raise KeyError(part_id)
            conn.execute(
                "INSERT INTO part_images (part_id, path, epoch) VALUES (?, ?, ?)",
                [part_id, str(path), self.clock.wall().timestamp()],
            )

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
            check_message(message)
        now = self.clock.wall().timestamp()
        record = {"shift": shift, "date": date, "result": json.dumps(shift_json), "saved": now}
        with self._conn.write() as conn:
            # sqlite-utils' upsert nests as a savepoint in this transaction (4.x `atomic`)
            self.db.table("shift_results").upsert(record, pk=("shift", "date"))
            insert_messages(conn, batch, now)

    def shift_results(self) -> list[dict[str, Any]]:
        """Closed shifts' OEE objects, by date then the order they were first saved."""
        rows = self._conn.read("SELECT result FROM shift_results ORDER BY date, rowid")
        return [json.loads(row[0]) for row in rows]

    def record_stats(self, ts: datetime, stats: dict[str, Any]) -> None:
        """Keep a health sample; only the latest `stats_keep` samples are kept."""
        with self._conn.write() as conn:
            cursor = conn.execute(
                "INSERT INTO stats (ts, epoch, data) VALUES (?, ?, ?)",
                [utc(ts).isoformat(), ts.timestamp(), json.dumps(stats)],
            )
            seq = cursor.lastrowid or 0
            conn.execute("DELETE FROM stats WHERE seq <= ?", [seq - self.stats_keep])

    def latest_stats(self) -> dict[str, Any] | None:
        """The latest health sample with its time as `ts` (ISO UTC), or None."""
        rows = self._conn.read("SELECT ts, data FROM stats ORDER BY seq DESC LIMIT 1")
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
        rows = self._conn.read("SELECT value FROM meta WHERE key = ?", [key])
        return json.loads(rows[0][0]) if rows else default

    def meta_set(self, key: str, value: Any) -> None:
        """Keep a small JSON-serialisable value under `key`."""
        with self._conn.write():
            self.db.table("meta").upsert({"key": key, "value": json.dumps(value)}, pk="key")

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
        rows = self._conn.read("PRAGMA integrity_check")
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
    return Store(open_db(path, readonly=True, migrate=False, create=False), clock=clock)


def _period(start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if start is not None:
        clauses.append("e.epoch >= ?")
        params.append(epoch(start, "start"))
    if end is not None:
        clauses.append("e.epoch < ?")
        params.append(epoch(end, "end"))
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _event_values(event: Event) -> list[Any]:
    ts = utc(event.ts)
    common = [event.id, None, ts.isoformat(), ts.timestamp(), event.mono]
    if isinstance(event, StateEvent):
        common[1] = "state"
        return [*common, event.state, event.reason, None, None, None, None, None]
    common[1] = "part"
    part = [int(event.good), event.defect, event.score, int(event.uncertain), int(event.inspected)]
    return [*common, None, None, *part]


def _event_from_row(row: EventRow) -> Event:
    ts = datetime.fromisoformat(row.ts)
    if row.type == "state":
        assert row.state is not None  # the schema's CHECK: a state event has a state
        return StateEvent(ts, row.state, row.reason, row.id, row.mono)
    inspected = row.inspected != 0  # NULL: stored before m008_part_inspected
    return PartEvent(
        ts, bool(row.good), row.defect, row.score, row.id, row.mono, bool(row.uncertain), inspected
    )


def _part_from_row(row: _PartColumns) -> PartRow:
    ts = datetime.fromisoformat(row.ts)
    good, unsure = bool(row.good), bool(row.uncertain)
    judged = row.inspected != 0
    return PartRow(row.id, ts, row.mono, good, row.defect, row.score, row.image, unsure, judged)
