"""The pipeline's sink: every event into the store with its MQTT messages, nothing lost.

An event and the outbox rows that publish it are written in one transaction, so the
feed can never disagree with the store, and a message is never sent before its event
is committed. Events are committed in groups: when `[store] commit_interval_s` has
passed since the oldest waiting one, or `COMMIT_BATCH` wait (one transaction and one
fsync for the group: an SD card sees a few pages per group instead of per event).
When the disk refuses (full, read-only, I/O error) events wait in memory, the line is
still counted, an alarm is raised, and they are written in order as soon as the disk
takes them again.

In the daemon the writes run on the recorder's own `recorder` thread (`start_writer`):
`emit` only queues the event (bounded by `MAX_PENDING`), so a slow disk (an fsync of a
worn SD card can take hundreds of milliseconds) never holds up the frames; `oldest_s`
says how long the oldest event has waited. Replay and benchmarks leave the writer off
and write inline, deterministically.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.causes import Cause
from agent.causes.learn import Example, suggest
from agent.causes.pictures import save_stop_picture
from agent.causes.watch import StopEnd, StopScene
from agent.clock import Clock, SystemClock
from agent.config import Config
from agent.events import Event, PartEvent, StateEvent
from agent.inspection import Verdict
from agent.pipeline import PartExtra
from agent.publish import OpenStop, messages_for, open_stop_after
from agent.publish.topics import known_reasons
from agent.store import OutboxMessage, Store, StoreWriteError
from agent.store.causes import (
    examples_version,
    save_stop_cause,
    save_stop_end,
    stored_examples,
)

logger = logging.getLogger(__name__)

#: Saves a rejected part's picture; returns its path (None when it was not kept).
PictureSaver = Callable[[Verdict, str], Path | None]

#: Events kept in memory while the disk refuses them; past this the oldest are dropped
#: and counted. About 1 kB each with their MQTT messages: 50 MB at most, half a day at
#: one part a second.
MAX_PENDING = 50_000
#: Events committed together at most: a fast line commits this often, whatever the interval.
COMMIT_BATCH = 64
#: Rejected parts whose verdict (crop, heatmap) is kept for a picture while waiting.
MAX_PENDING_PICTURES = 200
#: Longest the writer thread sleeps between two looks at its queue (the clock may be a
#: test's, which a condition's timeout does not follow).
WRITER_POLL_S = 0.25


@dataclass(eq=False)  # compared by identity: it may hold pixels
class _Pending:
    """An event waiting for the disk; `prepared` once its cause and messages are made."""

    seq: int
    queued_at: float
    event: Event
    extra: PartExtra | StopScene | StopEnd | None
    messages: list[OutboxMessage] = field(default_factory=list)
    prepared: bool = False
    verdict: Verdict | None = None
    scene: StopScene | None = None
    cause: Cause | None = None
    end: StopEnd | None = None


@dataclass
class RecorderCounters:
    """What the recorder did, for health stats."""

    written: int = 0
    write_failures: int = 0
    dropped: int = 0
    pictures: int = 0
    alarm: str | None = None


class Recorder:
    """`EventSink` that writes to a `Store` (and wakes the publisher)."""

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        on_written: Callable[[], None] | None = None,
        pictures: PictureSaver | None = None,
        keep: bool = False,
        open_stop: OpenStop | None = None,
        clock: Clock | None = None,
    ) -> None:
        """Write to `store`; `keep` also keeps every event in `self.kept` (replay).

        Events are committed `[store] commit_interval_s` after the oldest waiting one
        (by `clock`), or when `COMMIT_BATCH` wait; `flush()` commits at once.
        """
        self.store = store
        self.config = config
        self.on_written = on_written
        self.pictures = pictures
        self.counters = RecorderCounters()
        self.kept: list[Event] | None = [] if keep else None
        self._open_stop = open_stop
        self._pending: deque[_Pending] = deque()
        #: Guards `_pending`; the writer thread waits on `_wake` for events to write.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        #: One flush at a time (the writer's, the supervisor's final one), in order.
        self._flush_lock = threading.Lock()
        self._seq = itertools.count()
        self._examples: list[Example] | None = None
        self._examples_version = (-1, -1)
        self._clock: Clock = clock or SystemClock()
        self._interval_s = config.store.commit_interval_s
        self._writer: threading.Thread | None = None
        self._stopping = False
        self._retry_s = 2.0
        self._failed_at = 0.0
        #: Other writes for the writer thread (the supervisor's stats), latest per key.
        self._chores: dict[str, Callable[[], None]] = {}

    @property
    def pending(self) -> int:
        """Events waiting in memory for the disk."""
        return len(self._pending)

    @property
    def oldest_s(self) -> float:
        """How long the oldest waiting event has waited (0 when none waits)."""
        with self._lock:
            if not self._pending:
                return 0.0
            return max(0.0, self._clock.monotonic() - self._pending[0].queued_at)

    @property
    def failing(self) -> bool:
        """The store refused the last write (an alarm is raised)."""
        return self.counters.alarm is not None

    def emit(self, event: Event, extra: PartExtra | StopScene | StopEnd | None = None) -> None:
        """Take one event from the pipeline (or the daemon), in time order.

        It is committed with the events around it (see `flush_if_due`), unless the
        store is refusing writes: then it waits in memory for the next `flush()` (the
        daemon retries every few seconds), so a failing disk costs one attempt per
        retry, not one per event. With the writer thread running this only queues it.
        """
        with self._lock:
            if isinstance(extra, PartExtra) and len(self._pending) >= MAX_PENDING_PICTURES:
                extra = None  # keep the count, not the pixels, while the disk lags
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                self.counters.dropped += 1
            now = self._clock.monotonic()
            self._pending.append(_Pending(next(self._seq), now, event, extra))
            if self._writer is not None:
                self._wake.notify()
                return
        with self._flush_lock:
            self._prepare_waiting()
            if not self.failing and self._commit_due():
                self._flush_locked()

    def _prepare_waiting(self) -> None:
        """Cause, messages and picture of each event not yet prepared, in order.

        Runs under `_flush_lock`: the supervisors' examples are read from the store,
        which may wait for the disk (on the writer thread, never the pipeline's).
        """
        with self._lock:
            waiting = [item for item in self._pending if not item.prepared]
        for item in waiting:
            try:
                self._prepare(item)
            except Exception:  # noqa: BLE001 - one bad event must not hold up the rest
                logger.exception("event %s dropped: its messages could not be made", item.event)
                self.counters.dropped += 1
                with self._lock:
                    if item in self._pending:
                        self._pending.remove(item)

    def _prepare(self, item: _Pending) -> None:
        event, extra = item.event, item.extra
        scene = extra if isinstance(extra, StopScene) else None
        if scene is not None and isinstance(event, StateEvent):
            cause = item.cause = self._suggest(scene)
            event = replace(event, suggested_reason=cause.code, confidence=cause.confidence)
        item.event = event
        item.messages = messages_for(event, self.config, self._open_stop)
        self._open_stop = open_stop_after(event, self._open_stop)
        if isinstance(extra, PartExtra) and not extra.verdict.good:
            item.verdict = extra.verdict
        item.scene = scene
        item.end = extra if isinstance(extra, StopEnd) else None
        item.extra = None  # the pixels are kept only as the verdict of a rejected part
        item.prepared = True
        if self.kept is not None:
            self.kept.append(event)

    def _commit_due(self) -> bool:
        with self._lock:
            if len(self._pending) >= COMMIT_BATCH:
                return True
            if not self._pending:
                return False
            due = self._pending[0].queued_at + self._interval_s
            return self._clock.monotonic() >= due

    def flush_if_due(self) -> bool:
        """Commit the waiting events if their interval is over.

        Without the writer thread, the caller calls this a few times a second, so a
        quiet line's last event is not kept waiting for the next one.

        Returns:
            False when events wait for the disk (it refuses writes), else True.
        """
        with self._flush_lock:
            self._prepare_waiting()
            if self.failing or not self._commit_due():
                return not self.failing
            return self._flush_locked()

    def flush(self) -> bool:
        """Write what waits in memory; True when nothing is left waiting."""
        with self._flush_lock:
            self._prepare_waiting()
            return self._flush_locked()

    # ---- the writer thread (the daemon) -------------------------------------------------

    def start_writer(self, retry_s: float = 2.0) -> None:
        """Write on a `recorder` thread from now on; a refusing disk is retried every `retry_s`."""
        self._retry_s = retry_s
        with self._lock:
            self._stopping = False
            self._writer = threading.Thread(target=self._write_loop, name="recorder", daemon=True)
        self._writer.start()

    def stop_writer(self, timeout: float) -> bool:
        """Stop the writer thread (what still waits is left for `flush()`); True if it stopped."""
        with self._lock:
            writer, self._stopping = self._writer, True
            self._wake.notify()
        if writer is None:
            return True
        writer.join(timeout)
        stopped = not writer.is_alive()
        if stopped:
            with self._lock:
                self._writer = None  # emit and flush write inline again
        return stopped

    def offer(self, key: str, chore: Callable[[], None]) -> None:
        """Have the writer thread run `chore`, another write to the same disk.

        The supervisor's writes (a stats sample) go this way so that a stalled disk
        holds up this thread only, never the supervisor; a newer chore of the same
        `key` replaces one not yet run. Without the writer thread it runs now.
        """
        with self._lock:
            if self._writer is not None:
                self._chores[key] = chore
                self._wake.notify()
                return
        _run_chore(key, chore)

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._stopping and not self._ready() and not self._chores:
                    self._wake.wait(WRITER_POLL_S)  # short: the due time is on `clock`
                if self._stopping:
                    return
                chores, self._chores = self._chores, {}
            try:
                if self._ready():
                    with self._flush_lock:
                        self._prepare_waiting()
                        self._flush_locked()
            except Exception:  # noqa: BLE001 - the writer must outlive any one bad batch
                logger.exception("the recorder's writer failed; retrying")
                self._failed_at = self._clock.monotonic()
            for key, chore in chores.items():
                _run_chore(key, chore)

    def _ready(self) -> bool:
        """Events to write now."""
        if not self._pending:
            return False
        now = self._clock.monotonic()
        if self.failing:
            return now >= self._failed_at + self._retry_s
        if len(self._pending) >= COMMIT_BATCH:
            return True
        return now >= self._pending[0].queued_at + self._interval_s

    # ---- writing -------------------------------------------------------------------------

    def _flush_locked(self) -> bool:
        """Write every prepared waiting event in one transaction (`_flush_lock` held)."""
        with self._lock:
            batch = [item for item in self._pending if item.prepared]
        if not batch:
            return True
        try:
            self.store.append_many((p.event, p.messages) for p in batch)
        except (StoreWriteError, sqlite3.Error) as exc:  # full, read-only, I/O error, corrupt
            self.counters.write_failures += 1
            self._failed_at = self._clock.monotonic()
            if self.counters.alarm is None:
                logger.error("store refuses writes, keeping events in memory: %s", exc)
            self.counters.alarm = f"store write failed: {exc}"
            return False
        except Exception:  # noqa: BLE001 - an event the store rejects must not block the rest
            logger.exception("the store rejected a batch; writing its events one by one")
            return self._write_one_by_one(batch)
        self._forget(batch[-1].seq)
        self.counters.written += len(batch)
        if self.counters.alarm is not None:
            logger.warning("store writes again; %d waiting events written", len(batch))
            self.counters.alarm = None
        self._after_write(batch)
        return True

    def _forget(self, upto: int) -> None:
        """Written: drop the waiting events up to sequence number `upto`."""
        with self._lock:
            while self._pending and self._pending[0].seq <= upto:
                self._pending.popleft()

    def _after_write(self, batch: list[_Pending]) -> None:
        """Pictures and stop causes of written events; then wake the publisher."""
        for item in batch:
            if item.verdict is not None and isinstance(item.event, PartEvent):
                self._save_picture(item.event, item.verdict)
            if item.scene is not None and item.cause is not None:
                self._save_cause(item.event, item.scene, item.cause)
            if item.end is not None:
                self._save_end(item.end)
        if self.on_written is not None:
            self.on_written()

    def _write_one_by_one(self, batch: list[_Pending]) -> bool:
        """Write `batch` singly, dropping (logged, counted) any event the store rejects."""
        for item in batch:
            try:
                self.store.append_many([(item.event, item.messages)])
            except (StoreWriteError, sqlite3.Error) as exc:
                self.counters.write_failures += 1
                self._failed_at = self._clock.monotonic()
                self.counters.alarm = f"store write failed: {exc}"
                return False
            except Exception:  # noqa: BLE001 - this one event is bad, not the store
                logger.exception("event %s dropped: the store rejects it", item.event)
                self.counters.dropped += 1
            else:
                self.counters.written += 1
            self._forget(item.seq)
        self.counters.alarm = None
        self._after_write([])
        return True

    def _save_picture(self, event: PartEvent, verdict: Verdict) -> None:
        if self.pictures is None or event.id is None:
            return
        try:
            path = self.pictures(verdict, event.id)
            if path is not None:
                self.store.set_part_image(event.id, path)
                self.counters.pictures += 1
        except (OSError, StoreWriteError) as exc:
            logger.warning("picture of part %s not kept: %s", event.id, exc)

    def _suggest(self, scene: StopScene) -> Cause:
        """The line's code from the supervisors' examples, else the built-in cause."""
        try:
            version = examples_version(self.store)
            if self._examples is None or version != self._examples_version:
                self._examples = [s.example for s in stored_examples(self.store)]
                self._examples_version = version
        except sqlite3.Error as exc:  # a refusing disk must not stop the line's events
            logger.warning("stop causes: examples not read (%s)", exc)
            return scene.cause
        codes = known_reasons(self.config) or None
        return suggest(scene.scene, scene.embedding, self._examples, scene.cause, codes)

    def _save_cause(self, event: Event, scene: StopScene, cause: Cause) -> None:
        if event.id is None:
            return
        try:
            picture = None
            if scene.picture is not None:
                folder = self.config.store_path.parent / "stops"
                keep = self.config.inspection.keep_images
                picture = save_stop_picture(scene.picture, folder, event.id, keep)
            save_stop_cause(
                self.store, event.id, cause, scene.cause, scene.scene, scene.embedding, picture
            )
        except (OSError, StoreWriteError, sqlite3.Error) as exc:
            logger.warning("cause of stop %s not kept: %s", event.id, exc)

    def _save_end(self, end: StopEnd) -> None:
        try:
            save_stop_end(self.store, end.stop_id, end.scene)
        except (StoreWriteError, sqlite3.Error) as exc:
            logger.warning("end scene of stop %s not kept: %s", end.stop_id, exc)


def _run_chore(key: str, chore: Callable[[], None]) -> None:
    try:
        chore()
    except (StoreWriteError, sqlite3.Error) as exc:
        logger.warning("%s not written: %s", key, exc)
    except Exception:  # noqa: BLE001 - a chore's bug must not stop the events' writes
        logger.exception("%s failed", key)
