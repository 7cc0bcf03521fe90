"""The rows the store hands out: outbox messages, stops and parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: States that start a stop; the next state event ends it.
STOP_STATES = frozenset({"stopped", "no_data"})


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """An MQTT message to send once the broker is reachable."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A queued message with its place in the queue (`seq`, increasing, never reused)."""

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created: float  # wall epoch seconds when it was queued


@dataclass(frozen=True, slots=True)
class Stop:
    """A stop: from a `stopped`/`no_data` state event (its id) to the next state event.

    `end` is None while the stop is still open. `reason` is the latest assignment, else
    the reason the state event carried.
    """

    id: str
    start: datetime
    end: datetime | None
    state: str
    reason: str | None

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end (wall labels), None while open."""
        return None if self.end is None else (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class PartRow:
    """A counted part as stored, with the picture of a rejected one when there is one."""

    id: str
    ts: datetime
    mono: float | None
    good: bool
    defect: str | None
    score: float | None
    image: str | None
    #: Counted from touching parts that could not be told apart (a guess from their size).
    uncertain: bool = False
    #: False when counted but not judged (the model was behind or failed, or a patterned
    #: belt was not learnt yet).
    inspected: bool = True
