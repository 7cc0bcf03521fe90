"""The MQTT outbox: messages queued in the store until the broker acknowledges them.

Rows are written in the same transaction as the event they publish (`insert_messages`
is what `Store.append` calls), so the feed never says what the store does not hold and
a message never leaves before its event is committed. `seq` is AUTOINCREMENT: never
reused, so the order survives an empty queue.

Acknowledged rows are deleted in groups (`ack_later`): one transaction per
`ACK_BATCH` acks or `ACK_INTERVAL_S`, not one per ack. A crash before the group is
deleted sends those messages again after the restart: MQTT QoS 1 is "at least once"
already, and consumers de-duplicate by the payload's `id`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence

from agent.clock import Clock
from agent.store.db import StoreDb, utc
from agent.store.records import OutboxMessage, OutboxRow

logger = logging.getLogger(__name__)

#: Acknowledged rows deleted together at most...
ACK_BATCH = 64
#: ...or this long after the first of them was acknowledged: a little longer than the
#: default `[store] commit_interval_s`, so while the line runs they go with its commits.
ACK_INTERVAL_S = 7.0


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
        self._acked: set[int] = set()  # acknowledged, deleted by the next `flush_acks`
        self._acked_due: float | None = None

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
        with self._db.lock:
            acked = set(self._acked)
            rows = self._db.read(
                "SELECT seq, topic, payload, qos, retain, created FROM outbox "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                [-1 if after is None else after, int(limit) + len(acked)],
            )
        return [
            OutboxRow(seq, topic, bytes(payload), qos, bool(retain), created)
            for seq, topic, payload, qos, retain, created in rows
            if seq not in acked
        ][: int(limit)]

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete messages the broker acknowledged; returns how many were deleted."""
        batch = [(int(seq),) for seq in seqs]
        if not batch:
            return 0
        with self._db.write() as conn:
            before = conn.total_changes
            conn.executemany("DELETE FROM outbox WHERE seq = ?", batch)
            return conn.total_changes - before

    def ack_later(self, seqs: Iterable[int]) -> None:
        """Acknowledge now, delete with the next group (`flush_acks`).

        The rows are gone for `peek` and `depth` at once; the transaction that deletes
        them runs when `ACK_BATCH` wait or `ACK_INTERVAL_S` has passed.
        """
        with self._db.lock:
            self._acked.update(int(seq) for seq in seqs)
            if self._acked and self._acked_due is None:
                self._acked_due = self._clock.monotonic() + ACK_INTERVAL_S
            self.flush_acks(force=len(self._acked) >= ACK_BATCH)

    def flush_acks(self, *, force: bool = True) -> int:
        """Delete the rows `ack_later` acknowledged; returns how many were deleted.

        With `force=False` only when they are due. On a failed write they stay queued.
        """
        with self._db.lock:
            if not self._acked:
                return 0
            if not force and self._clock.monotonic() < (self._acked_due or 0.0):
                return 0
            with self._db.write() as conn:
                before = conn.total_changes
                acked = self.delete_acked(conn)
                deleted = conn.total_changes - before
            self.forget_acked(acked)
            return deleted

    def delete_acked(self, conn: sqlite3.Connection) -> set[int]:
        """Delete the rows `ack_later` acknowledged inside the caller's write transaction.

        Returns them: pass them to `forget_acked` once the transaction committed.
        """
        taken = set(self._acked)
        conn.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in sorted(taken)])
        return taken

    def forget_acked(self, seqs: set[int]) -> None:
        """Rows `delete_acked` deleted, now committed: no longer subtracted from `depth`."""
        with self._db.lock:
            self._acked -= seqs
            if not self._acked:
                self._acked_due = None

    def depth(self) -> int:
        """How many messages wait in the outbox (not counting acknowledged ones)."""
        with self._db.lock:
            return int(self._db.scalar("SELECT count(*) FROM outbox")) - len(self._acked)

    def trim(self, max_rows: int) -> int:
        """Drop the oldest messages beyond `max_rows`; count and record the loss.

        Returns how many were dropped (0 when within the bound).
        """
        if max_rows < 0:
            raise ValueError("max_rows must be 0 or more")
        self.flush_acks()  # count only what waits
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
