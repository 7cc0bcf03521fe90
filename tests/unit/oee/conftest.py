"""Builders of event logs and line configurations for the OEE engine tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from agent.config import Config, parse_config
from agent.events import Event, PartEvent, StateEvent


def make_config(
    ideal_cycle_s: float = 1.0,
    shifts: Sequence[dict[str, Any]] = (),
    reasons: Sequence[dict[str, Any]] = (),
    micro_stop_max_s: float = 120,
    timezone: str = "UTC",
) -> Config:
    """A validated line configuration."""
    return parse_config(
        {
            "line": {"id": "test-line", "ideal_cycle_s": ideal_cycle_s, "timezone": timezone},
            "downtime": {"micro_stop_max_s": micro_stop_max_s},
            "shift": list(shifts),
            "reason": list(reasons),
        }
    )


def spread_parts(
    windows: Sequence[tuple[datetime, datetime]], total: int, good: int
) -> list[PartEvent]:
    """`total` parts evenly spread over the windows' time (the last ones bad)."""
    lengths = [(b - a).total_seconds() for a, b in windows]
    span = sum(lengths)
    out = []
    for i in range(total):
        x = (i + 0.5) * span / total
        for (a, _), length in zip(windows, lengths, strict=True):
            if x < length:
                out.append(PartEvent(a + timedelta(seconds=x), good=i < good))
                break
            x -= length
    assert len(out) == total
    return out


def merge(*streams: Iterable[Event]) -> list[Event]:
    """One log in time order (states before parts at the same instant)."""
    events = [e for stream in streams for e in stream]
    return sorted(events, key=lambda e: (e.ts, isinstance(e, PartEvent)))


def states(*changes: tuple[datetime, str] | tuple[datetime, str, str | None]) -> list[StateEvent]:
    """State events from (ts, state[, reason]) tuples."""
    return [StateEvent(c[0], c[1], c[2] if len(c) > 2 else None) for c in changes]  # type: ignore[arg-type, misc]


@pytest.fixture(scope="session")
def build() -> Any:
    """The builders, for tests that prefer a fixture to an import."""
    return type(
        "Builders",
        (),
        {
            "config": staticmethod(make_config),
            "parts": staticmethod(spread_parts),
            "merge": staticmethod(merge),
            "states": staticmethod(states),
        },
    )
