"""The shift calendar: which instants belong to which shift, and which are breaks.

Shifts and breaks are local wall times in the line's time zone. They are turned into
instants (float seconds since the epoch) once, per local date, so the engine never
does date arithmetic per event. A shift's length in seconds follows the zone: a night
shift 22:00-06:00 is 7 h or 9 h long on a daylight-saving change night.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from agent.config import Config, ShiftConfig, parse_hhmm

logger = logging.getLogger(__name__)

#: The shift used when the configuration has none: the whole local calendar day.
WHOLE_DAY_SHIFT = "day"


@dataclass(frozen=True, slots=True)
class ShiftSpec:
    """A shift of the configuration as minutes after local midnight."""

    name: str
    begin_min: int
    end_min: int  # may exceed 1440 for overnight shifts
    breaks_min: tuple[tuple[int, int], ...]  # minutes after local midnight of the start day


@dataclass(frozen=True, slots=True)
class ShiftInstance:
    """One occurrence of a shift: its instants and its breaks, in epoch seconds."""

    name: str
    date: date  # the local date the shift starts on
    start: float
    end: float
    breaks: tuple[tuple[float, float], ...]


def _minutes(hhmm: str) -> int:
    t = parse_hhmm(hhmm)
    return t.hour * 60 + t.minute


def shift_specs(config: Config) -> list[ShiftSpec]:
    """The configured shifts, or one whole-day shift when none are configured."""
    if not config.shift:
        return [ShiftSpec(WHOLE_DAY_SHIFT, 0, 1440, ())]
    return [_spec(s) for s in config.shift]


def _spec(shift: ShiftConfig) -> ShiftSpec:
    begin, end = shift.span_minutes()
    breaks = []
    for b_start, b_end in shift.breaks:
        # offsets from the shift start, as the config validator reads them
        b0 = (_minutes(b_start) - begin) % 1440
        b1 = (_minutes(b_end) - begin) % 1440 or 1440
        breaks.append((begin + b0, begin + b1))
    return ShiftSpec(shift.name, begin, end, tuple(breaks))


def _instant(midnight: datetime, minutes: int) -> float:
    # Aware datetime + timedelta is wall-clock arithmetic in Python: exactly "local time
    # HH:MM on that day". A time skipped by a spring-forward change (fold=0) is read with
    # the offset in force before the change, so it lands just after the gap.
    return (midnight + timedelta(minutes=minutes)).timestamp()


def shift_instances(
    specs: list[ShiftSpec], zone: ZoneInfo, lo: float, hi: float
) -> list[ShiftInstance]:
    """Every shift occurrence that overlaps the instants [lo, hi], in time order.

    Args:
        specs: the shifts of a day.
        zone: the line's time zone.
        lo: first instant of interest, epoch seconds.
        hi: last instant of interest, epoch seconds.
    """
    first = datetime.fromtimestamp(lo, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(hi, zone).date()
    out: list[ShiftInstance] = []
    day = first
    while day <= last:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        for spec in specs:
            start = _instant(midnight, spec.begin_min)
            end = _instant(midnight, spec.end_min)
            if end <= lo or start > hi:
                continue
            breaks = tuple(
                (b0, b1)
                for b0, b1 in (
                    (_instant(midnight, a), _instant(midnight, b)) for a, b in spec.breaks_min
                )
                if b1 > b0
            )
            out.append(ShiftInstance(spec.name, day, start, end, breaks))
        day += timedelta(days=1)
    out.sort(key=lambda s: s.start)
    # Shifts never overlap on the wall clock (the config checks it); around a
    # fall-back change two instants can still touch, so keep the order strict.
    cleaned: list[ShiftInstance] = []
    for inst in out:
        if cleaned and inst.start < cleaned[-1].end:
            inst = ShiftInstance(inst.name, inst.date, cleaned[-1].end, inst.end, inst.breaks)
            if inst.end <= inst.start:
                continue
        cleaned.append(inst)
    return cleaned
