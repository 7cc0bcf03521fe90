"""The in-flight window on a manual clock: acks, refusals from another thread, resend."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.clock import ManualClock
from agent.publish.publisher import RESEND_AFTER_S
from agent.publish.window import InFlightWindow
from agent.store import OutboxRow


@dataclass
class Delivery:
    """Our stand-in for paho's MQTTMessageInfo (the window's own small interface)."""

    mid: int
    published: bool = False

    def is_published(self) -> bool:
        return self.published


def row(seq: int) -> OutboxRow:
    return OutboxRow(seq, "oee/s/a/l/part", b"{}", 1, False, 0.0)


def window_with(n: int, clock: ManualClock) -> tuple[InFlightWindow, list[Delivery]]:
    window = InFlightWindow(clock, RESEND_AFTER_S)
    deliveries = [Delivery(mid=100 + i) for i in range(n)]
    for i, delivery in enumerate(deliveries):
        window.add(row(i + 1), delivery)
    return window, deliveries


def test_acknowledged_rows_are_collected_in_order_and_forgotten() -> None:
    window, deliveries = window_with(4, ManualClock(datetime(2026, 3, 2, tzinfo=UTC)))
    assert window.cursor == 4
    deliveries[0].published = deliveries[2].published = True
    found = window.collect()
    assert [f.row.seq for f in found.acked] == [1, 3] and not found.refused
    assert len(window) == 4  # still there until the outbox deleted them
    window.forget(found.acked)
    assert len(window) == 2 and window.collect().acked == []


def test_a_refusal_is_reported_not_acked() -> None:
    window, deliveries = window_with(3, ManualClock(datetime(2026, 3, 2, tzinfo=UTC)))
    window.refused(deliveries[1].mid, "quota exceeded")
    window.refused(999, "a status publish")  # not in the window: dropped quietly
    for delivery in deliveries:
        delivery.published = True
    found = window.collect()
    assert [f.row.seq for f in found.acked] == [1, 3]
    assert [(f.row.seq, code) for f, code in found.refused] == [(2, "quota exceeded")]
    window.restart()
    assert len(window) == 0 and window.cursor is None


def test_the_resend_path_waits_resend_after_s_since_sent_or_reconnected() -> None:
    clock = ManualClock(datetime(2026, 3, 2, tzinfo=UTC))
    window, _ = window_with(2, clock)
    clock.advance(RESEND_AFTER_S - 1)
    assert not window.stale()
    window.connected()  # a reconnect: the broker gets its full time again
    clock.advance(RESEND_AFTER_S - 1)
    assert not window.stale()
    clock.advance(2)
    assert window.stale()
    window.restart()
    assert not window.stale()  # an empty window is never stale


def test_refusals_from_paho_while_collecting_are_safe() -> None:
    """paho's network thread reports refusals while the outbox thread collects."""
    clock = ManualClock(datetime(2026, 3, 2, tzinfo=UTC))
    window, deliveries = window_with(200, clock)
    for delivery in deliveries:
        delivery.published = True
    stop = threading.Event()
    errors: list[BaseException] = []

    def paho() -> None:
        mid = 10_000
        while not stop.is_set():
            mid += 1
            window.refused(mid, "not in the window")

    thread = threading.Thread(target=paho)
    thread.start()
    try:
        for _ in range(300):
            try:
                window.collect()
            except RuntimeError as exc:  # "dictionary changed size during iteration"
                errors.append(exc)
    finally:
        stop.set()
        thread.join()
    assert errors == []
