"""ShiftBook on a real store: the snapshot from new events only equals a full recomputation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agent.events import PartEvent, StateEvent
from agent.oee import compute_oee
from agent.shifts import ShiftBook
from agent.store import Store
from tests.unit.oee.conftest import make_config
from tests.unit.store.conftest import T0

SHIFTS = [
    {"name": "early", "start": "06:00", "end": "14:00", "breaks": [["10:00", "10:30"]]},
    {"name": "late", "start": "14:00", "end": "22:00"},
]
CONFIG = make_config(
    ideal_cycle_s=1.5, shifts=SHIFTS, reasons=[{"code": "fault", "loss": "breakdown"}]
)


def produce(store: Store, start: datetime, seconds: float, every: float = 2.0) -> datetime:
    """A part every `every` seconds (each 9th bad), one transaction; returns the end."""
    n = int(seconds / every)
    store.append_many(
        (PartEvent(start + timedelta(seconds=every * i), good=i % 9 != 0), ()) for i in range(n)
    )
    return start + timedelta(seconds=seconds)


def expected(store: Store, now: datetime, shift_start: datetime) -> dict[str, Any]:
    """The snapshot as the book made it before: every event of the shift read again."""
    events = store.events(start=shift_start, with_state_before=True)
    report = compute_oee(events, CONFIG, observed_until=max(now, events[-1].ts))
    current = report.current_shift(now)
    assert current is not None
    return current.to_json(CONFIG.line.zone)


def test_snapshots_follow_new_events_stops_and_late_reasons_and_close_the_shift(
    store: Store,
) -> None:
    published: list[dict[str, Any]] = []
    book = ShiftBook(CONFIG, store, store, published.append)
    store.append(StateEvent(T0, "running"))
    now = produce(store, T0 + timedelta(seconds=1), 1800)
    book.update(now)
    assert published[-1] == expected(store, now, T0)
    assert published[-1]["total"] == 900

    stop = StateEvent(now, "stopped", None, "stop-1")
    store.append(stop)
    store.append(StateEvent(now + timedelta(minutes=10), "running"))
    now = produce(store, now + timedelta(minutes=10), 600)
    book.update(now)
    unassigned = published[-1]
    assert unassigned == expected(store, now, T0)

    store.assign_reason("stop-1", "fault")  # the reason dialog, after the stop was read
    book.update(now)
    assert published[-1] == expected(store, now, T0)
    assert published[-1] != unassigned  # unassigned time became breakdown

    # an event stored out of time order: the book reads the shift again, in order
    store.append(PartEvent(now - timedelta(seconds=1.5), good=False))
    now = produce(store, now, 60)
    book.update(now)
    assert published[-1] == expected(store, now, T0)

    # past the shift's end: the early shift is closed with the figures of all its events
    end = produce(store, now, 8 * 3600 - (now - T0).total_seconds() + 600)
    book.update(end)
    assert published[-1]["shift"] == "late"
    assert published[-1] == expected(store, end, T0 + timedelta(hours=8))
    (saved,) = store.shift_results()
    full = compute_oee(store.events(), CONFIG, observed_until=end)
    early = full.shifts[0].to_json(CONFIG.line.zone)
    assert saved["shift"] == "early" and saved["oee"] == early["oee"]
    assert saved["total"] == early["total"] and saved["good"] == early["good"]


def test_a_store_that_cannot_be_read_keeps_the_last_figures(store: Store) -> None:
    published: list[dict[str, Any]] = []
    book = ShiftBook(CONFIG, store, store, published.append)
    store.append(StateEvent(T0, "running"))
    now = produce(store, T0 + timedelta(seconds=1), 60)
    book.update(now)
    assert len(published) == 1
    store.close()  # every read now fails
    book.update(now + timedelta(seconds=10))
    assert len(published) == 1
