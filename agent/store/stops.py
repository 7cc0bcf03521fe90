"""Stops from state events: a pure function, so the store and its tests share it."""

from __future__ import annotations

from collections.abc import Sequence

from agent.events import StateEvent
from agent.store.records import STOP_STATES, Stop


def derive_stops(states: Sequence[StateEvent]) -> list[Stop]:
    """Stops in time order; the last one may be open.

    A `stopped`/`no_data` event with id X starts stop X, and the next state event
    (whatever its state) ends it.

    `states` are in time order with their reasons already merged; events without an
    id cannot be referred to, so they start no stop (they still end one).
    """
    stops: list[Stop] = []
    for index, event in enumerate(states):
        if event.state not in STOP_STATES or event.id is None:
            continue
        following = states[index + 1] if index + 1 < len(states) else None
        stops.append(
            Stop(
                id=event.id,
                start=event.ts,
                end=None if following is None else following.ts,
                state=event.state,
                reason=event.reason,
            )
        )
    return stops
