"""Properties of what the store reads back, over generated histories."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.events import StateEvent
from agent.store import STOP_STATES, Store
from agent.store.stops import derive_stops

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)

histories = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=30),  # seconds after the previous state event
        st.sampled_from(["running", "stopped", "no_data"]),
    ),
    max_size=25,
)
instants = st.integers(min_value=-5, max_value=400)


def _store_with(history: list[tuple[int, str]]) -> tuple[Store, list[StateEvent]]:
    store = Store.open(":memory:")
    t = 0
    events = []
    for n, (gap, state) in enumerate(history):
        t += gap
        event = StateEvent(T0 + timedelta(seconds=t), state, id=f"s{n}", mono=float(t))  # type: ignore[arg-type]
        events.append(event)
    store.append_many((event, ()) for event in events)
    return store, events


@settings(max_examples=60, deadline=None)
@given(histories)
def test_stops_tile_the_stopped_time(history) -> None:
    store, events = _store_with(history)
    stops = store.stops()
    assert stops == derive_stops(events)
    assert [s.id for s in stops] == [e.id for e in events if e.state in STOP_STATES]
    for stop, following in zip(stops, stops[1:], strict=False):
        assert stop.end is not None and stop.end <= following.start
    for stop in stops:
        assert stop.duration_s is None or stop.duration_s >= 0
    if events:  # only the last state event can leave a stop open
        assert all(s.end is not None for s in stops if s.id != events[-1].id)
    store.close()


@settings(max_examples=80, deadline=None)
@given(histories, instants, instants)
def test_stops_in_a_period_are_the_overlapping_ones(history, a, b) -> None:
    store, _ = _store_with(history)
    start, end = T0 + timedelta(seconds=min(a, b)), T0 + timedelta(seconds=max(a, b) + 1)
    every = store.stops()
    expected = [s for s in every if s.start < end and (s.end is None or s.end > start)]
    assert store.stops(start, end) == expected
    assert store.stops(start=start) == [s for s in every if s.end is None or s.end > start]
    assert store.stops(end=end) == [s for s in every if s.start < end]
    store.close()
