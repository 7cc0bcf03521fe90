"""RunningShift: events folded in chunks give exactly compute_oee's figures over them all."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.events import PartEvent, StateEvent
from agent.oee import compute_oee
from agent.oee.running import RunningShift
from tests.unit.oee.test_properties import ORIGIN, SETTINGS, build_case, scenarios


@SETTINGS
@given(sc=scenarios(), cuts=st.lists(st.floats(0, 1), max_size=6), late=st.booleans())
def test_folding_in_chunks_equals_computing_over_all_events(
    build: Any, sc: dict[str, Any], cuts: list[float], late: bool
) -> None:
    events, config, _, until = build_case(build, sc)
    events = [replace(e, id=f"e{i}") for i, e in enumerate(events)]  # stops have ids in a store
    running = RunningShift(config)
    last = 0
    for cut in sorted(cuts):
        upto = int(cut * len(events))
        running.fold(events[last:upto])
        last = max(last, upto)
        # a snapshot in between equals one over the events so far
        so_far = events[:last]
        if so_far:
            assert running.report(observed_until=until).to_json() == (
                compute_oee(so_far, config, observed_until=until).to_json()
            )
    running.fold(events[last:])
    assert len(running) == len(events)
    if late:  # a reason assigned after the stop was folded in
        stops = [e for e in events if isinstance(e, StateEvent) and e.state == "stopped"]
        if stops:
            running.set_reasons({f"e{events.index(stops[0])}": "fault"})
            events = [replace(e, reason="fault") if e is stops[0] else e for e in events]
    start = ORIGIN + timedelta(hours=1)
    for period in ({}, {"start": start}, {"start": start, "end": until}):
        expected = compute_oee(events, config, observed_until=until, **period)
        assert running.report(observed_until=until, **period).to_json() == expected.to_json()


def test_no_events_is_the_empty_report(build: Any) -> None:
    config = build.config()
    assert RunningShift(config).report().to_json() == compute_oee([], config).to_json()


def test_an_event_out_of_time_order_is_refused_and_the_earlier_ones_stay(build: Any) -> None:
    config = build.config()
    running = RunningShift(config, [PartEvent(ORIGIN + timedelta(seconds=5), good=True)])
    with pytest.raises(ValueError, match="part events are not in time order"):
        running.fold([PartEvent(ORIGIN, good=True)])
    with pytest.raises(ValueError, match="state events are not in time order"):
        running.fold(
            [
                StateEvent(ORIGIN + timedelta(seconds=9), "running"),
                StateEvent(ORIGIN + timedelta(seconds=8), "stopped"),
            ]
        )
    assert len(running) == 2


def test_the_part_arrays_grow_past_their_first_room(build: Any) -> None:
    config = build.config(ideal_cycle_s=0.1)
    events = [
        PartEvent(ORIGIN + timedelta(seconds=0.1 * i), good=i % 7 != 0) for i in range(10_000)
    ]
    running = RunningShift(config)
    for i in range(0, len(events), 997):
        running.fold(events[i : i + 997])
    assert running.report().to_json() == compute_oee(events, config).to_json()


@SETTINGS
@given(sc=scenarios(), at=st.floats(-0.1, 1.1), more=st.integers(0, 5))
def test_since_a_new_shift_equals_reading_from_its_start(
    build: Any, sc: dict[str, Any], at: float, more: int
) -> None:
    """`since(start)` is what `Store.events(start, with_state_before=True)` would give."""
    events, config, first, until = build_case(build, sc)
    cut = first + (until - first) * at
    before = [e for e in events if isinstance(e, StateEvent) and e.ts < cut][-1:]
    after = [e for e in events if e.ts >= cut]
    read = before + after
    more = min(more, len(after))  # the last ones come after the new shift began
    split = len(events) - more
    kept = RunningShift(config, events[:split]).since(cut.timestamp())
    kept.fold(events[split:])
    assert len(kept) == len(read)
    expected = compute_oee(read, config, observed_until=until)
    assert kept.report(observed_until=until).to_json() == expected.to_json()
