"""The daemon's view of the shift: its OEE from the store, and each shift's result.

`ShiftBook.update(now)` follows the events since the current shift began (36 h on the
first call, so a restart resumes where it was), publishes the retained `oee` snapshot,
and saves the result of every shift that ended (also those that ended while the agent
was down) with its retained `shift` message. The events are read once: each update reads
only those stored since the last (`Store.events_after`) and folds them into a
`RunningShift`, so a snapshot at the end of a 10-parts-a-second shift costs what it
costs at its start. A reason assigned to a stop since is read back by the stops' ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.config import Config
from agent.oee import OeeReport
from agent.oee.running import RunningShift
from agent.publish import shift_message
from agent.store import Store, StoreWriteError

logger = logging.getLogger(__name__)

#: How far back the first update reads events to rebuild the current shift.
HISTORY = timedelta(hours=36)


class ShiftBook:
    """Follows the current shift and closes the ones that end (see the module doc).

    Args:
        reader: where events are read (the daemon's read-only connection).
        writer: where shift results are saved.
        publish_oee: hands the current shift's OEE object to the feed (or None).
    """

    def __init__(
        self,
        config: Config,
        reader: Store,
        writer: Store,
        publish_oee: Callable[[Mapping[str, Any]], object] | None = None,
    ) -> None:
        self.config = config
        self.reader = reader
        self.writer = writer
        self.publish_oee = publish_oee
        self._key: tuple[str, str] | None = None
        self._read_from: datetime | None = None
        self._running: RunningShift | None = None
        self._seq = 0  # the last event folded into _running
        self._reason_seq = 0  # the last reason assignment it has

    def update(self, now: datetime) -> None:
        """The current shift's OEE as of `now`; a shift that ended gets its result.

        A failure (the store unreadable, events out of order) is logged and the last
        figures stay published: counting goes on, and the next update reads afresh.
        """
        try:
            report = self._report(now)
        except Exception as exc:  # noqa: BLE001 - a snapshot failure must not stop counting
            logger.warning("oee snapshot not updated: %s", exc)
            self._running = None
            return
        if report is None:
            return
        current = report.current_shift(now)
        if current is not None and self.publish_oee is not None:
            self.publish_oee(current.to_json(self.config.line.zone))
        key = (current.shift, str(current.date)) if current is not None else None
        if self._key is None:
            self._close_missed(report, now)
        elif key != self._key:
            self._close(report, self._key, now)
        self._key = key
        if current is not None and current.start is not None:
            read_from = datetime.fromtimestamp(current.start, UTC)
            if read_from != self._read_from:  # a new shift: keep what is in it
                self._read_from = read_from
                if self._running is not None:
                    self._running = self._running.since(current.start)

    def _report(self, now: datetime) -> OeeReport | None:
        """The report over the events since `_read_from`, the new ones folded in."""
        reason_seq = self.reader.last_reason_seq()  # before the reads: none is missed
        running = self._running
        if running is not None:
            if reason_seq != self._reason_seq:
                running.set_reasons(self.reader.current_reasons(running.stop_ids()))
            events, seq = self.reader.events_after(self._seq)
            try:
                running.fold(events)
            except ValueError as exc:  # stored out of time order: read them sorted
                logger.info("oee snapshot: %s, reading the shift again", exc)
                running = None
            else:
                self._seq = seq
        if running is None:
            seq = self.reader.last_event_seq()
            start = self._read_from or now - HISTORY
            events = self.reader.events(start=start, with_state_before=True, upto_seq=seq)
            running = RunningShift(self.config, events)
            self._seq = seq
        self._running, self._reason_seq = running, reason_seq
        if running.last_at is None:
            return None
        until = max(now.timestamp(), running.last_at)
        return running.report(observed_until=datetime.fromtimestamp(until, UTC))

    def _close_missed(self, report: OeeReport, now: datetime) -> None:
        """At start: shifts that ended while the agent was down get their result too."""
        saved = {(r.get("shift"), str(r.get("date"))) for r in self.reader.shift_results()}
        for shift in report.shifts:
            key = (shift.shift, str(shift.date))
            if shift.end is not None and shift.end <= now.timestamp() and key not in saved:
                self._close(report, key, now)

    def _close(self, report: OeeReport, key: tuple[str, str], now: datetime) -> None:
        for shift in report.shifts:
            if (shift.shift, str(shift.date)) == key:
                result = shift.to_json(self.config.line.zone)
                try:
                    self.writer.save_shift_result(result, [shift_message(result, self.config, now)])
                except StoreWriteError as exc:
                    logger.error("shift %s %s not saved: %s", *key, exc)
                logger.info("shift %s of %s closed: OEE %s", key[0], key[1], result.get("oee"))
