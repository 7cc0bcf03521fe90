"""The daemon's view of the shift: its OEE from the store, and each shift's result.

`ShiftBook.update(now)` reads the events since the current shift began (36 h on the
first call, so a restart resumes where it was), publishes the retained `oee` snapshot,
and saves the result of every shift that ended (also those that ended while the agent
was down) with its retained `shift` message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.config import Config
from agent.oee import compute_oee
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

    def update(self, now: datetime) -> None:
        """The current shift's OEE as of `now`; a shift that ended gets its result."""
        start = self._read_from or now - HISTORY
        try:
            events = self.reader.events(start=start, with_state_before=True)
        except Exception as exc:  # noqa: BLE001 - a read failure must not stop counting
            logger.warning("cannot read events for the oee snapshot: %s", exc)
            return
        if not events:
            return
        report = compute_oee(events, self.config, observed_until=max(now, events[-1].ts))
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
            self._read_from = datetime.fromtimestamp(current.start, UTC)

    def _close_missed(self, report: Any, now: datetime) -> None:
        """At start: shifts that ended while the agent was down get their result too."""
        saved = {(r.get("shift"), str(r.get("date"))) for r in self.reader.shift_results()}
        for shift in report.shifts:
            key = (shift.shift, str(shift.date))
            if shift.end is not None and shift.end <= now.timestamp() and key not in saved:
                self._close(report, key, now)

    def _close(self, report: Any, key: tuple[str, str], now: datetime) -> None:
        for shift in report.shifts:
            if (shift.shift, str(shift.date)) == key:
                result = shift.to_json(self.config.line.zone)
                try:
                    self.writer.save_shift_result(result, [shift_message(result, self.config, now)])
                except StoreWriteError as exc:
                    logger.error("shift %s %s not saved: %s", *key, exc)
                logger.info("shift %s of %s closed: OEE %s", key[0], key[1], result.get("oee"))
