"""The in-flight window: outbox rows handed to the broker and not yet acknowledged.

Delivery bookkeeping only, no I/O: the outbox thread puts each row it publishes in the
window with paho's `MQTTMessageInfo`; `collect()` tells which rows the broker
acknowledged (to delete from the outbox) and whether it refused one (the whole window
then goes again, after a back-off). paho's network thread reports refusals through
`refused()`, under a lock, since the outbox thread reads them at the same time.

A window whose oldest message has waited `resend_after_s` since it was sent (or since
the connection came back, if later) is forgotten: its rows are still in the outbox and
are sent again, with the same ids. Time comes from the injected clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.clock import Clock
from agent.store import OutboxRow


class Delivery(Protocol):
    """What the window needs of a published message (paho's `MQTTMessageInfo`)."""

    mid: int

    def is_published(self) -> bool:
        """Whether the broker acknowledged it."""
        ...


@dataclass(slots=True)
class InFlight:
    """A row handed to the broker: its delivery handle and when it was sent."""

    row: OutboxRow
    delivery: Delivery
    sent: float


@dataclass(frozen=True, slots=True)
class Collected:
    """What `collect` found: rows acknowledged, and rows the broker refused (code)."""

    acked: list[InFlight] = field(default_factory=list)
    refused: list[tuple[InFlight, Any]] = field(default_factory=list)


class InFlightWindow:
    """Rows in flight, in `seq` order, with acknowledgements and refusals."""

    def __init__(self, clock: Clock, resend_after_s: float) -> None:
        self._clock = clock
        self.resend_after_s = resend_after_s
        self._flights: dict[int, InFlight] = {}
        #: seq of the last row handed over: the next rows are read after it
        self.cursor: int | None = None
        self._refusals: dict[int, Any] = {}  # mid -> reason code, from paho's thread
        self._lock = threading.Lock()
        self._connected_at = clock.monotonic()

    def __len__(self) -> int:
        return len(self._flights)

    def add(self, row: OutboxRow, delivery: Delivery) -> None:
        """A row was handed to the connection."""
        self._flights[row.seq] = InFlight(row, delivery, self._clock.monotonic())
        self.cursor = row.seq

    def skip(self, row: OutboxRow) -> None:
        """A row that can never be sent was dropped: read on after it."""
        self.cursor = row.seq

    def connected(self) -> None:
        """The connection came (back): waiting for acks starts again now."""
        self._connected_at = self._clock.monotonic()

    def refused(self, mid: int, code: Any) -> None:
        """Paho's network thread: the broker refused message `mid` (before it is marked)."""
        with self._lock:
            self._refusals[mid] = code

    def collect(self) -> Collected:
        """The acknowledged rows (still in the window until `forget`), and refused ones.

        A refused row stays in the outbox; after a refusal the caller restarts the
        window (`restart`) so everything after it goes again in order.
        """
        acked: list[InFlight] = []
        refused: list[tuple[InFlight, Any]] = []
        with self._lock:
            for flight in list(self._flights.values()):
                if not flight.delivery.is_published():
                    continue
                code = self._refusals.pop(flight.delivery.mid, None)
                if code is not None:
                    refused.append((flight, code))
                    continue
                acked.append(flight)
            # refusals of messages not in the window (a `status`/`oee` publish, or one
            # of a forgotten window) are of no use to anyone
            mids = {flight.delivery.mid for flight in self._flights.values()}
            self._refusals = {m: c for m, c in self._refusals.items() if m in mids}
        return Collected(acked, refused)

    def forget(self, flights: list[InFlight]) -> None:
        """Acknowledged rows the outbox has deleted: out of the window."""
        for flight in flights:
            self._flights.pop(flight.row.seq, None)

    def stale(self) -> bool:
        """Whether the oldest message has waited longer than `resend_after_s`."""
        if not self._flights:
            return False
        oldest = min(flight.sent for flight in self._flights.values())
        return self._clock.monotonic() - max(oldest, self._connected_at) > self.resend_after_s

    def restart(self) -> None:
        """Forget what is in flight; the rows are still in the outbox and go again."""
        self._flights.clear()
        self.cursor = None
