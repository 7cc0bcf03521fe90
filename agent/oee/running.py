"""The running shift's events, folded in one by one, so a snapshot costs the same all shift.

`compute_oee` turns every event into floats on each call: at 10 parts a second a shift
ends with ~288 k events and a snapshot re-reading them all takes seconds. `RunningShift`
keeps what that pass would produce (part times and running good counts in growing
arrays, the few state changes in a list) and adds only the new events to it, then hands
them to the engine's `oee_of`, the same arithmetic `compute_oee` ends in: the figures are
those of `compute_oee` over the same events, at a cost that grows with the shift's stops,
not its parts.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from datetime import datetime

import numpy as np

from agent.config import Config
from agent.events import Event, PartEvent
from agent.oee.engine import Parts, oee_of
from agent.oee.report import OeeReport

#: Part slots allocated at first (doubled whenever they run out).
_FIRST_CAPACITY = 4096


class RunningShift:
    """Events in time order, folded as they come; `report()` is `compute_oee` over them."""

    def __init__(self, config: Config, events: Iterable[Event] = ()) -> None:
        self.config = config
        self._times = np.empty(_FIRST_CAPACITY, dtype=np.float64)
        self._good_before = np.zeros(_FIRST_CAPACITY + 1, dtype=np.int64)
        self._parts = 0
        self._states: list[tuple[float, str, str | None]] = []
        self._state_ids: list[str | None] = []
        self._first: float | None = None
        self._last: float | None = None
        self.fold(events)

    def __len__(self) -> int:
        """Events folded in."""
        return self._parts + len(self._states)

    @property
    def last_at(self) -> float | None:
        """The latest event's time (epoch seconds), None before the first."""
        return self._last

    def fold(self, events: Iterable[Event]) -> None:
        """Add events that come after every event folded so far.

        Raises:
            ValueError: a part or state event earlier than the last one of its kind
                (as `compute_oee` raises); the events before it stay folded in.
        """
        for event in events:
            ts = event.ts.timestamp()
            if event.__class__ is PartEvent:
                self._add_part(ts, event.good)  # type: ignore[union-attr]
            else:
                if self._states and ts < self._states[-1][0]:
                    raise ValueError("state events are not in time order")
                self._states.append((ts, event.state, event.reason))  # type: ignore[union-attr]
                self._state_ids.append(event.id)
            if self._first is None:
                self._first = ts
            # the latest, as the last of events sorted by time (parts and states may
            # interleave out of order with each other, each kind in order)
            self._last = ts if self._last is None else max(self._last, ts)

    def _add_part(self, ts: float, good: bool) -> None:
        n = self._parts
        if n and ts < self._times[n - 1]:
            raise ValueError("part events are not in time order")
        if n == len(self._times):  # double the room: amortised O(1) a part
            self._times = np.concatenate([self._times, np.empty(n)])
            self._good_before = np.concatenate([self._good_before, np.zeros(n, dtype=np.int64)])
        self._times[n] = ts
        self._good_before[n + 1] = self._good_before[n] + (1 if good else 0)
        self._parts = n + 1

    def since(self, start: float) -> RunningShift:
        """The events from `start` on, with the last state before it (a new shift).

        What `Store.events(start, with_state_before=True)` would give, without reading
        it again: the parts from `start`, the state in effect then and those after.
        """
        kept = RunningShift(self.config)
        first_part = int(np.searchsorted(self._times[: self._parts], start, side="left"))
        n = self._parts - first_part
        kept._times = self._times[first_part : self._parts].copy()
        kept._good_before = self._good_before[first_part : self._parts + 1].copy()
        kept._good_before -= kept._good_before[0]
        if n == 0:  # room for the next part
            kept._times = np.empty(_FIRST_CAPACITY, dtype=np.float64)
            kept._good_before = np.zeros(_FIRST_CAPACITY + 1, dtype=np.int64)
        kept._parts = n
        times = [ts for ts, _, _ in self._states]
        k = max(0, bisect_left(times, start) - 1) if times and times[0] < start else 0
        kept._states = self._states[k:]
        kept._state_ids = self._state_ids[k:]
        candidates = [kept._states[0][0]] if kept._states else []
        if n:
            candidates.append(float(kept._times[0]))
        kept._first = min(candidates) if candidates else None
        kept._last = self._last if candidates else None
        return kept

    def stop_ids(self) -> list[str]:
        """The ids of the state events folded in (for reasons assigned later)."""
        return [i for i in self._state_ids if i is not None]

    def set_reasons(self, reasons: Mapping[str, str | None]) -> None:
        """A stop's reason as assigned since (the TUI's reason dialog): id -> reason."""
        for k, stop_id in enumerate(self._state_ids):
            if stop_id is not None and stop_id in reasons:
                ts, state, _ = self._states[k]
                self._states[k] = (ts, state, reasons[stop_id])

    def report(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        observed_until: datetime | None = None,
    ) -> OeeReport:
        """`compute_oee(events, config, start, end, observed_until)` over the folded events."""
        n = self._parts
        parts = Parts(self._times[:n], self._good_before[: n + 1])
        return oee_of(
            parts,
            self._states,
            self._first,
            self._last,
            self.config,
            start,
            end,
            observed_until,
        )


__all__ = ["RunningShift"]
