"""The daemon's `inspect` thread: parts judged off the frame path, events kept in order.

In the daemon the pipeline counts and `InspectQueue` judges: the pipeline thread hands
every event to `emit` and goes on with the next frame; the `inspect` thread runs the
model on each counted part's views and hands the events on to the sink (the recorder),
in the order they came. When the line outruns the model, at most `MAX_WAITING` parts
wait for it; a part beyond that, or one the model fails on or cannot judge, is still
counted, as `inspected: false` (good, without a defect or score: docs/oee.md). Frames are never
dropped and parts never missed for want of inspection time.

Without a taught model the parts are not judged at all and are not marked (there was
no inspection to miss). Replay and teach judge inline (`LinePipeline`), so their
results do not depend on timing.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, replace

from agent.causes.watch import StopEnd, StopScene
from agent.clock import Clock, SystemClock
from agent.events import Event, PartEvent
from agent.inspection import Inspector, Verdict
from agent.pipeline import EventSink, PartExtra, judged

logger = logging.getLogger(__name__)

#: Parts waiting for the model at most (their views are kept: a few MB); a part beyond
#: this is counted without inspection.
MAX_WAITING = 32
#: Events of any kind waiting at most (a stuck model: the watchdog restarts the daemon
#: long before); beyond this the newest is dropped and counted.
MAX_QUEUED = 10_000

Extra = PartExtra | StopScene | StopEnd | None


@dataclass
class _Item:
    event: Event
    extra: Extra
    queued_at: float
    judge: bool


@dataclass
class InspectCounters:
    """What the inspect thread did, for health stats."""

    #: Parts counted without a verdict (the model was behind, failed on them, or could
    #: not judge them: a patterned belt not learnt yet).
    not_inspected: int = 0
    #: Parts the model raised on.
    failures: int = 0
    #: Events dropped because `MAX_QUEUED` waited.
    dropped: int = 0
    #: Most parts waiting for the model at once since `take_peak()`.
    peak: int = 0


def not_inspected(event: PartEvent, extra: Extra) -> tuple[PartEvent, Extra]:
    """The part counted without a verdict: good, no defect, no score."""
    part = replace(event, good=True, defect=None, score=None, inspected=False)
    if isinstance(extra, PartExtra):
        extra = PartExtra(Verdict(good=True, inspected=False), extra.part)
    return part, extra


class InspectQueue:
    """`EventSink` for the daemon's pipeline: judges parts on its own thread, in order."""

    def __init__(
        self,
        inspector: Inspector,
        sink: EventSink,
        *,
        clock: Clock | None = None,
        max_waiting: int = MAX_WAITING,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        """Judge with `inspector`, hand on to `sink`; nothing runs before `start()`."""
        self.inspector = inspector
        self.sink = sink
        self.clock: Clock = clock or SystemClock()
        self.max_waiting = max_waiting
        self.max_queued = max_queued
        self.counters = InspectCounters()
        self._items: deque[_Item] = deque()
        self._waiting = 0  # parts among `_items` still to be judged
        self._cond = threading.Condition()
        self._closing = False
        self._abandoned = False  # stop() gave up on a stuck model and handed on the rest
        self._thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        """Parts waiting for the model now."""
        return self._waiting

    @property
    def depth(self) -> int:
        """Events waiting to be handed on (parts and states)."""
        return len(self._items)

    @property
    def oldest_s(self) -> float:
        """How long the oldest waiting event has waited (0 when none waits)."""
        with self._cond:
            if not self._items:
                return 0.0
            return max(0.0, self.clock.monotonic() - self._items[0].queued_at)

    def take_peak(self) -> int:
        """The most parts that waited at once since the last call; starts afresh."""
        with self._cond:
            peak, self.counters.peak = self.counters.peak, self._waiting
            return peak

    def emit(self, event: Event, extra: Extra = None) -> None:
        """Queue one event from the pipeline; never waits for the model or the disk."""
        judge = (
            isinstance(event, PartEvent)
            and isinstance(extra, PartExtra)
            and bool(extra.part.views)
            and self.inspector.enabled
        )
        with self._cond:
            if judge and self._waiting >= self.max_waiting:
                assert isinstance(event, PartEvent)
                event, extra = not_inspected(event, extra)
                self.counters.not_inspected += 1
                judge = False
            if len(self._items) >= self.max_queued:
                self.counters.dropped += 1
                if self.counters.dropped == 1:
                    logger.error("inspection queue full: events are being dropped")
                return
            self._items.append(_Item(event, extra, self.clock.monotonic(), judge))
            self._waiting += judge
            self.counters.peak = max(self.counters.peak, self._waiting)
            self._cond.notify()

    def start(self) -> None:
        """Start the `inspect` thread."""
        self._thread = threading.Thread(target=self._run, name="inspect", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Judge and hand on what waits, then stop; True when it finished in `timeout`.

        A model stuck past `timeout` is left behind: what still waits is handed on
        from here, uninspected, so no counted part is lost.
        """
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is None:
            self._hand_on_rest()
            return True
        self._thread.join(timeout)
        if not self._thread.is_alive():
            return True
        logger.error("inspection did not finish in %.0f s; the rest goes on uninspected", timeout)
        self._hand_on_rest()
        return False

    def _hand_on_rest(self) -> None:
        with self._cond:
            self._abandoned = True
            rest = list(self._items)
            self._items.clear()
            self._waiting = 0
        for item in rest:
            event, extra = item.event, item.extra
            if item.judge and isinstance(event, PartEvent):
                event, extra = not_inspected(event, extra)
                self.counters.not_inspected += 1
            self.sink.emit(event, extra)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing:
                    self._cond.wait()
                if not self._items or self._abandoned:
                    return
                item = self._items[0]  # stays queued while judged: `oldest_s` sees it
            event, extra = item.event, item.extra
            if item.judge and isinstance(event, PartEvent) and isinstance(extra, PartExtra):
                event, extra = self._judge(event, extra)
            with self._cond:
                if self._abandoned:  # stop() handed it on already
                    return
                self._items.popleft()
                self._waiting -= item.judge
            try:
                self.sink.emit(event, extra)
            except Exception:  # noqa: BLE001 - one bad event must not stop the thread
                logger.exception("event %s could not be handed on", event.id)

    def _judge(self, event: PartEvent, extra: PartExtra) -> tuple[PartEvent, Extra]:
        try:
            verdict = self.inspector.inspect(extra.part.views)
        except Exception:  # noqa: BLE001 - the part is still counted, uninspected
            self.counters.failures += 1
            if self.counters.failures == 1:
                logger.exception("inspection failed; such parts are counted uninspected")
            self.counters.not_inspected += 1
            return not_inspected(event, extra)
        self.counters.not_inspected += not verdict.inspected
        return judged(event, verdict), PartExtra(verdict, extra.part)


__all__ = ["MAX_QUEUED", "MAX_WAITING", "InspectCounters", "InspectQueue", "not_inspected"]
