"""Starting again after a crash or a power cut: the time the agent was down is `no_data`."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from agent.events import StateEvent, new_id
from agent.publish import OpenStop, open_stop_after
from agent.recorder import Recorder
from agent.store import Store
from agent.store.causes import stored_suggestion
from agent.timeline import WallLabels

logger = logging.getLogger(__name__)

#: Later than any event: `events(start=FAR_FUTURE, with_state_before=True)` is the last state.
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def last_state_event(store: Store) -> StateEvent | None:
    """The store's latest state event (an indexed read, however big the store)."""
    events = store.events(start=FAR_FUTURE, with_state_before=True)
    last = events[-1] if events else None
    return last if isinstance(last, StateEvent) else None


def resumed_open_stop(store: Store, last_state: StateEvent | None) -> OpenStop | None:
    """The stop the previous run left open (None: none), with its stored suggestion.

    So the `stop` message that closes it after a restart repeats the suggestion.
    """
    open_stop = open_stop_after(last_state, None) if last_state else None
    if open_stop is None:
        return None
    suggestion = stored_suggestion(store, open_stop.id)
    if suggestion is None:
        return open_stop
    return replace(open_stop, suggested_reason=suggestion[0], confidence=suggestion[1])


def close_open_interval(store: Store, recorder: Recorder, labels: WallLabels) -> None:
    """Close what a previous run left open: the time it was down is `no_data`.

    Reads only the last state event and the last part, and moves the time line after
    them, so new events come after the stored ones even when the clock reads earlier
    (a board without a real-time clock, not yet synchronised).
    """
    last_state = last_state_event(store)
    parts = store.parts(limit=1)
    if last_state is None and not parts:
        return
    last_ts = max([e.ts for e in (last_state,) if e is not None] + [p.ts for p in parts])
    if labels.not_before(last_ts):
        logger.warning(
            "the clock (%s) is behind the last stored event (%s): not yet synchronised? "
            "events follow the stored time line",
            labels.clock.wall().isoformat(),
            last_ts.isoformat(),
        )
    if last_state is None or last_state.state == "no_data":
        return
    # The previous run ended without closing its interval (a crash, a power cut):
    # from its last event on nothing was observed.
    logger.info("closing the interval the previous run left open at %s", last_ts)
    recorder.emit(StateEvent(last_ts, "no_data", None, new_id()))
