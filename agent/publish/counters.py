"""What the feed did since it started: the daemon's health and the tests read these."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class PublisherCounters:
    """Counts of the publisher, its window and its command router."""

    connects: int = 0
    refused_connects: int = 0
    published: int = 0
    acked: int = 0
    resent_windows: int = 0
    refused_messages: int = 0
    unsendable: int = 0
    commands_ok: int = 0
    commands_rejected: int = 0
    trimmed: int = 0
    #: Seconds from queueing (row `created`) to PUBACK, most recent last.
    ack_latency_s: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
