"""The pipeline's sink: every event into the store with its MQTT messages, nothing lost.

An event and the outbox rows that publish it are written in one transaction, so the
feed can never disagree with the store, and a message is never sent before its event
is committed. Events are committed in groups: when `[store] commit_interval_s` has
passed since the oldest waiting one, or `COMMIT_BATCH` wait (one transaction and one
fsync for the group: an SD card sees a few pages per group instead of per event).
When the disk refuses (full, read-only, I/O error) events wait in memory, the line is
still counted, an alarm is raised, and they are written in order as soon as the disk
takes them again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from agent.causes import Cause
from agent.causes.learn import Example, suggest
from agent.causes.pictures import save_stop_picture
from agent.causes.watch import StopScene
from agent.clock import Clock, SystemClock
from agent.config import Config
from agent.events import Event, PartEvent, StateEvent
from agent.inspection import Verdict
from agent.pipeline import PartExtra
from agent.publish import OpenStop, messages_for, open_stop_after
from agent.publish.topics import known_reasons
from agent.store import OutboxMessage, Store, StoreWriteError
from agent.store.causes import examples_version, save_stop_cause, stored_examples

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


@dataclass
class _Pending:
    event: Event
    messages: list[OutboxMessage]
    verdict: Verdict | None = None
    scene: StopScene | None = None
    cause: Cause | None = None


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
        self._lock = threading.Lock()
        self._examples: list[Example] | None = None
        self._examples_version = (-1, -1)
        self._clock: Clock = clock or SystemClock()
        self._interval_s = config.store.commit_interval_s
        self._due_at: float | None = None  # when the oldest waiting event must be committed

    @property
    def pending(self) -> int:
        """Events waiting in memory for the disk."""
        return len(self._pending)

    @property
    def failing(self) -> bool:
        """The store refused the last write (an alarm is raised)."""
        return self.counters.alarm is not None

    def emit(self, event: Event, extra: PartExtra | StopScene | None = None) -> None:
        """Take one event from the pipeline (or the daemon), in time order.

        It is committed with the events around it (see `flush_if_due`), unless the
        store is refusing writes: then it waits in memory for the next `flush()` (the
        daemon retries every few seconds), so a failing disk costs one attempt per
        retry, not one per event.
        """
        with self._lock:
            scene = extra if isinstance(extra, StopScene) else None
            cause = None
            if scene is not None and isinstance(event, StateEvent):
                cause = self._suggest(scene)
                event = replace(event, suggested_reason=cause.code, confidence=cause.confidence)
            messages = messages_for(event, self.config, self._open_stop)
            self._open_stop = open_stop_after(event, self._open_stop)
            verdict = (
                extra.verdict if isinstance(extra, PartExtra) and not extra.verdict.good else None
            )
            if verdict is not None and len(self._pending) >= MAX_PENDING_PICTURES:
                verdict = None  # keep the count, not the pixels, while the disk refuses
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                self.counters.dropped += 1
            self._pending.append(_Pending(event, messages, verdict, scene, cause))
            if self.kept is not None:
                self.kept.append(event)
            if self._due_at is None:
                self._due_at = self._clock.monotonic() + self._interval_s
            if not self.failing and self._commit_due():
                self._flush_locked()

    def _commit_due(self) -> bool:
        if len(self._pending) >= COMMIT_BATCH:
            return True
        return self._due_at is not None and self._clock.monotonic() >= self._due_at

    def flush_if_due(self) -> bool:
        """Commit the waiting events if their interval is over.

        The daemon calls this a few times a second, so a quiet line's last event is
        not kept waiting for the next one.

        Returns:
            False when events wait for the disk (it refuses writes), else True.
        """
        with self._lock:
            if self.failing or not self._commit_due():
                return not self.failing
            return self._flush_locked()

    def flush(self) -> bool:
        """Write what waits in memory; True when nothing is left waiting."""
        with self._lock:
            return self._flush_locked()

    def _flush_locked(self) -> bool:
        if not self._pending:
            return True
        batch = list(self._pending)
        try:
            self.store.append_many((p.event, p.messages) for p in batch)
        except (StoreWriteError, sqlite3.Error) as exc:  # full, read-only, I/O error, corrupt
            self.counters.write_failures += 1
            if self.counters.alarm is None:
                logger.error("store refuses writes, keeping events in memory: %s", exc)
            self.counters.alarm = f"store write failed: {exc}"
            return False
        except Exception:  # noqa: BLE001 - an event the store rejects must not block the rest
            logger.exception("the store rejected a batch; writing its events one by one")
            return self._write_one_by_one()
        self._pending.clear()
        self._due_at = None
        self.counters.written += len(batch)
        if self.counters.alarm is not None:
            logger.warning("store writes again; %d waiting events written", len(batch))
            self.counters.alarm = None
        for item in batch:
            if item.verdict is not None and isinstance(item.event, PartEvent):
                self._save_picture(item.event, item.verdict)
            if item.scene is not None and item.cause is not None:
                self._save_cause(item.event, item.scene, item.cause)
        if self.on_written is not None:
            self.on_written()
        return True

    def _write_one_by_one(self) -> bool:
        """Write pending events singly, dropping (logged, counted) any the store rejects."""
        while self._pending:
            item = self._pending[0]
            try:
                self.store.append_many([(item.event, item.messages)])
            except (StoreWriteError, sqlite3.Error) as exc:
                self.counters.write_failures += 1
                self.counters.alarm = f"store write failed: {exc}"
                return False
            except Exception:  # noqa: BLE001 - this one event is bad, not the store
                logger.exception("event %s dropped: the store rejects it", item.event)
                self.counters.dropped += 1
            else:
                self.counters.written += 1
            self._pending.popleft()
        self._due_at = None
        self.counters.alarm = None
        if self.on_written is not None:
            self.on_written()
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
