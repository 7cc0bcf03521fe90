"""The MQTT outbox: messages queued in the store until the broker acknowledges them.

Rows are written in the same transaction as the event they publish (`insert_messages`
is what `Store.append` calls), so the feed never says what the store does not hold and
a message never leaves before its event is committed. `seq` is AUTOINCREMENT: never
reused, so the order survives an empty queue.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence

from agent.clock import Clock
from agent.store.db import StoreDb, utc
from agent.store.records import OutboxMessage, OutboxRow

logger = logging.getLogger(__name__)


def check_message(message: OutboxMessage) -> None:
    """Refuse a malformed message before anything is written (ValueError)."""
    if message.qos not in (0, 1, 2):
        raise ValueError(f"outbox message qos {message.qos!r} is not 0, 1 or 2")
    if not isinstance(message.payload, bytes | bytearray | memoryview):
        raise ValueError(f"outbox payload for {message.topic!r} must be bytes")


def insert_messages(
    conn: sqlite3.Connection, messages: Sequence[OutboxMessage], created: float
) -> list[int]:
    """Queue `messages` inside the caller's transaction; returns their seqs."""
    seqs: list[int] = []
    for message in messages:
        cursor = conn.execute(
            "INSERT INTO outbox (topic, payload, qos, retain, created) VALUES (?, ?, ?, ?, ?)",
            [message.topic, bytes(message.payload), message.qos, int(message.retain), created],
        )
        seqs.append(int(cursor.lastrowid or 0))
    return seqs


class Outbox:
    """The queue of MQTT messages in the store (`store.outbox`)."""

    def __init__(self, db: StoreDb, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def enqueue(self, messages: Iterable[OutboxMessage]) -> list[int]:
        """Queue messages alone (no event), in one transaction; returns their seqs."""
        batch = list(messages)
        for message in batch:
            check_message(message)
        created = self._clock.wall().timestamp()
        with self._db.write() as conn:
            return insert_messages(conn, batch, created)

    def enqueue_built(self, build: Callable[[], Iterable[OutboxMessage]]) -> list[int]:
        """Queue the messages `build()` returns, building them inside the transaction.

        What `build` reads from this store cannot change before its messages are queued
        (the agent's next event waits), so a message about "the stop now" stays true.
        """
        created = self._clock.wall().timestamp()
        with self._db.write() as conn:
            batch = list(build())
            for message in batch:
                check_message(message)
            return insert_messages(conn, batch, created)

    def peek(self, limit: int = 100, after: int | None = None) -> list[OutboxRow]:
        """The oldest queued messages, in order (only those with seq > `after` if given)."""
        rows = self._db.read(
            "SELECT seq, topic, payload, qos, retain, created FROM outbox "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            [-1 if after is None else after, int(limit)],
        )
        return [
            OutboxRow(seq, topic, bytes(payload), qos, bool(retain), created)
            for seq, topic, payload, qos, retain, created in rows
        ]

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete messages the broker acknowledged; returns how many were deleted."""
        batch = [(int(seq),) for seq in seqs]
        if not batch:
            return 0
        with self._db.write() as conn:
            before = conn.total_changes
            conn.executemany("DELETE FROM outbox WHERE seq = ?", batch)
            return conn.total_changes - before

    def depth(self) -> int:
        """How many messages wait in the outbox."""
        return int(self._db.scalar("SELECT count(*) FROM outbox"))

    def trim(self, max_rows: int) -> int:
        """Drop the oldest messages beyond `max_rows`; count and record the loss.

        Returns how many were dropped (0 when within the bound).
        """
        if max_rows < 0:
            raise ValueError("max_rows must be 0 or more")
        with self._db.write() as conn:
            depth = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
            excess = depth - max_rows
            if excess <= 0:
                return 0
            first, last = conn.execute(
                "SELECT min(seq), max(seq) FROM (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
                [excess],
            ).fetchone()
            conn.execute("DELETE FROM outbox WHERE seq <= ?", [last])
            now = self._clock.wall()
            conn.execute(
                "INSERT INTO outbox_loss (ts, epoch, dropped, first_seq, last_seq) "
                "VALUES (?, ?, ?, ?, ?)",
                [utc(now).isoformat(), now.timestamp(), excess, first, last],
            )
        logger.warning("store: outbox over %d rows, dropped the oldest %d", max_rows, excess)
        return int(excess)

    def lost(self) -> int:
        """Messages dropped by `trim` over the store's life."""
        return int(self._db.scalar("SELECT coalesce(sum(dropped), 0) FROM outbox_loss"))
