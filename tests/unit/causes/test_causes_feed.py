"""The fleet view folds the suggestion from the feed, and keeps it when a reason comes."""

import json
from datetime import UTC, datetime, timedelta

from agent.events import StateEvent
from agent.publish.topics import OpenStop, state_payload, stop_payload
from tui.sources.mqtt import FleetState

T0 = datetime(2026, 3, 3, 8, tzinfo=UTC)


def _put(state: FleetState, kind: str, payload: dict) -> None:
    state.apply(f"oee/s/a/l/{kind}", json.dumps(payload).encode(), 0.0)


def test_the_suggestion_reaches_the_fleet_view_and_survives_a_reason() -> None:
    state = FleetState()
    stop = OpenStop("s1", T0, "stopped", None, "jam", 0.87)
    _put(state, "stop", stop_payload(stop, None))
    [seen] = state.lines["s/a/l"].stops.values()
    assert (seen.suggested_reason, seen.confidence) == ("jam", 0.87)
    # a reason assigned: the stop is announced again, without the suggestion
    _put(state, "stop", stop_payload(OpenStop("s1", T0, "stopped", "changeover"), None))
    [seen] = state.lines["s/a/l"].stops.values()
    assert (seen.reason, seen.suggested_reason, seen.confidence) == ("changeover", "jam", 0.87)
    later = T0 + timedelta(minutes=4)
    _put(state, "state", state_payload(StateEvent(later, "running", id="r2")))
    [seen] = state.lines["s/a/l"].stops.values()
    assert (seen.end, seen.suggested_reason) == (later, "jam")


def test_a_late_subscriber_gets_the_suggestion_from_the_retained_state() -> None:
    state = FleetState()
    event = StateEvent(T0, "stopped", id="s7", suggested_reason="blocked", confidence=0.8)
    _put(state, "state", state_payload(event))
    [seen] = state.lines["s/a/l"].stops.values()
    assert (seen.id, seen.suggested_reason, seen.confidence) == ("s7", "blocked", 0.8)
