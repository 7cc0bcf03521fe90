"""OEE from events: a pure function of the events, the line's configuration and a period.

No clock reads and no I/O, so the daemon, `replay` and `oee --events` give the same
figures for the same events. The work is done in one pass over the events that turns
them into floats (epoch seconds), then in interval arithmetic over a few hundred state
segments and shift/break instants, and in binary searches over the sorted part times.
The rules are written down in docs/oee.md.
"""

from __future__ import annotations

import logging
import math
from array import array
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from agent.config import Config, Loss
from agent.events import Event, PartEvent
from agent.oee.calendar import ShiftInstance, shift_instances, shift_specs
from agent.oee.report import HourOee, OeeReport, ShiftOee, Tally

logger = logging.getLogger(__name__)

# What a stretch of the timeline books. RUN_* categories are run time.
RUN = 0  # running
SMALL = 1  # short stop, or a stop whose reason is a small_stop loss: run time + small stop
SLOW = 2  # a stop whose reason is a reduced_speed loss: run time (shows as reduced speed)
BREAKDOWN = 3
SETUP = 4
UNASSIGNED = 5
PLANNED = 6  # a stop whose reason is planned: out of planned production time
NO_DATA = 7
_CATEGORIES = 8

_DOWNTIME_CATEGORY = {Loss.BREAKDOWN: BREAKDOWN, Loss.SETUP: SETUP}
_FIXED_CATEGORY = {Loss.PLANNED: PLANNED, Loss.SMALL_STOP: SMALL, Loss.REDUCED_SPEED: SLOW}

HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class Timeline:
    """The line's states as consecutive segments [starts[i], ends[i]) of a category."""

    starts: list[float]
    ends: list[float]
    categories: list[int]

    def tally(self, lo: float, hi: float, breaks: Sequence[tuple[float, float]]) -> list[float]:
        """Seconds per category in [lo, hi]; breaks count as PLANNED, whatever the state."""
        acc = [0.0] * _CATEGORIES
        if hi <= lo:
            return acc
        cursor = lo
        for b0, b1 in breaks:
            if b1 <= cursor or b0 >= hi:
                continue
            if b0 > cursor:
                self._add(acc, cursor, b0)
            acc[PLANNED] += min(b1, hi) - max(b0, cursor)
            cursor = max(cursor, b1)
            if cursor >= hi:
                break
        if cursor < hi:
            self._add(acc, cursor, hi)
        return acc

    def _add(self, acc: list[float], lo: float, hi: float) -> None:
        starts, ends, cats = self.starts, self.ends, self.categories
        i = max(0, bisect_right(starts, lo) - 1)
        n = len(starts)
        while i < n and starts[i] < hi:
            overlap = min(ends[i], hi) - max(starts[i], lo)
            if overlap > 0:
                acc[cats[i]] += overlap
            i += 1


@dataclass(frozen=True, slots=True)
class Parts:
    """Part times (sorted epoch seconds) and a running count of good ones."""

    times: npt.NDArray[np.float64]
    good_before: npt.NDArray[np.int64]  # good_before[i] = good parts among the first i

    def count(self, lo: float, hi: float) -> tuple[int, int]:
        """(total, good) with lo <= ts < hi."""
        if hi <= lo:
            return 0, 0
        i, j = np.searchsorted(self.times, (lo, hi), side="left")
        return int(j - i), int(self.good_before[j] - self.good_before[i])


def _stop_category(config: Config, reason: str | None, whole_stop_s: float) -> int:
    loss = config.reason_loss(reason)
    if loss in _FIXED_CATEGORY:
        return _FIXED_CATEGORY[loss]
    if whole_stop_s <= config.downtime.micro_stop_max_s:
        return SMALL
    # `starved` and any unknown or missing reason: unassigned, unless configured
    return _DOWNTIME_CATEGORY.get(loss, UNASSIGNED) if loss else UNASSIGNED


def _split(
    events: Sequence[Event],
) -> tuple[array[float], bytearray, list[tuple[float, str, str | None]]]:
    """The single pass over the events: part times/verdicts and state changes as floats.

    Part times go into a C array of doubles and verdicts into bytes (8 + 1 bytes a
    part, no Python float objects kept), the hot loop does nothing but read them.
    """
    part_t: array[float] = array("d")
    part_g = bytearray()
    states: list[tuple[float, str, str | None]] = []
    add_t, add_g, add_s = part_t.append, part_g.append, states.append
    part_cls = PartEvent
    for ev in events:
        if ev.__class__ is part_cls:
            add_t(ev.ts.timestamp())
            add_g(ev.good)  # type: ignore[union-attr]
        else:
            add_s((ev.ts.timestamp(), ev.state, ev.reason))  # type: ignore[union-attr]
    return part_t, part_g, states


def build_timeline(
    states: list[tuple[float, str, str | None]], first: float, last: float, config: Config
) -> Timeline:
    """Segments from the state changes; the line is running before the first one.

    Args:
        states: (ts, state, reason) in time order.
        first: the first covered instant (the first event).
        last: the last covered instant (the last event, or observed_until).
        config: for reason losses and the small-stop limit.
    """
    raw: list[tuple[float, float, str, str | None]] = []
    if not states or states[0][0] > first:
        # a log of parts only (a PLC counter) is all running time
        raw.append((first, states[0][0] if states else last, "running", None))
    for i, (ts, state, reason) in enumerate(states):
        end = states[i + 1][0] if i + 1 < len(states) else max(ts, last)
        raw.append((ts, end, state, reason))

    # A stop's length (small stop or downtime) is that of the whole stop: consecutive
    # `stopped` segments whose reason leaves the decision to the length, even where a
    # shift boundary, a break or the report period later cuts it.
    categories = [0] * len(raw)
    i = 0
    while i < len(raw):
        state = raw[i][2]
        if state == "running":
            categories[i] = RUN
            i += 1
            continue
        if state == "no_data":
            categories[i] = NO_DATA
            i += 1
            continue
        j = i
        while (
            j < len(raw)
            and raw[j][2] == "stopped"
            and config.reason_loss(raw[j][3]) not in _FIXED_CATEGORY
        ):
            j += 1
        if j == i:  # a stop whose reason fixes its category
            categories[i] = _stop_category(config, raw[i][3], 0.0)
            i += 1
            continue
        whole = raw[j - 1][1] - raw[i][0]
        for k in range(i, j):
            categories[k] = _stop_category(config, raw[k][3], whole)
        i = j
    return Timeline([r[0] for r in raw], [r[1] for r in raw], categories)


def _tally(
    timeline: Timeline,
    parts: Parts,
    lo: float,
    hi: float,
    part_lo: float,
    part_hi: float,
    breaks: Sequence[tuple[float, float]],
) -> Tally:
    acc = timeline.tally(lo, hi, breaks)
    total, good = parts.count(part_lo, part_hi)
    return Tally(
        run_s=acc[RUN] + acc[SMALL] + acc[SLOW],
        small_stop_s=acc[SMALL],
        breakdown_s=acc[BREAKDOWN],
        setup_s=acc[SETUP],
        unassigned_s=acc[UNASSIGNED],
        planned_stop_s=acc[PLANNED],
        no_data_s=acc[NO_DATA],
        total=total,
        good=good,
    )


def _ts(value: datetime | None, name: str) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"{name} must be a time-zone aware datetime")
    return value.timestamp()


def _ordered(events: Sequence[Event]) -> tuple[Parts, list[tuple[float, str, str | None]]]:
    """The parts as arrays (times, good counts before each) and the states, order checked."""
    part_t, part_g, states = _split(events)
    times = np.frombuffer(part_t, dtype=np.float64) if part_t else np.zeros(0)
    good_before = np.zeros(len(part_g) + 1, dtype=np.int64)
    if part_g:
        np.cumsum(np.frombuffer(part_g, dtype=np.uint8), out=good_before[1:])
    if len(times) > 1 and bool(np.any(np.diff(times) < 0)):
        raise ValueError("part events are not in time order")
    if any(states[i + 1][0] < states[i][0] for i in range(len(states) - 1)):
        raise ValueError("state events are not in time order")
    return Parts(times, good_before), states


def compute_oee(
    events: Sequence[Event],
    config: Config,
    start: datetime | None = None,
    end: datetime | None = None,
    observed_until: datetime | None = None,
) -> OeeReport:
    """OEE per shift and in total, from events in time order.

    Args:
        events: StateEvent / PartEvent in time order.
        config: the line (ideal cycle, time zone, shifts, reasons, small-stop limit).
        start: optional start of the reported period (aware).
        end: optional end of the reported period (aware).
        observed_until: the last state holds until this instant (a live daemon passes
            now, a replay the wall time of its last frame); otherwise coverage ends at
            the last event.

    Returns:
        The report; `report.to_json()` is the contract's OEE output.

    Raises:
        ValueError: naive datetimes, or events out of time order.
    """
    parts, states = _ordered(events)
    first = events[0].ts.timestamp() if events else None
    last = events[-1].ts.timestamp() if events else None
    return oee_of(parts, states, first, last, config, start, end, observed_until)


def oee_of(
    parts: Parts,
    states: list[tuple[float, str, str | None]],
    first: float | None,
    last: float | None,
    config: Config,
    start: datetime | None = None,
    end: datetime | None = None,
    observed_until: datetime | None = None,
) -> OeeReport:
    """`compute_oee` over events already split into parts and states (`RunningShift`).

    Args:
        parts: the part times and good counts, in time order.
        states: (ts, state, reason) in time order.
        first: the first event's time (None: no events).
        last: the last event's time.
        config: as for `compute_oee`.
        start: as for `compute_oee`.
        end: as for `compute_oee`.
        observed_until: as for `compute_oee`.
    """
    lo = _ts(start, "start")
    hi = _ts(end, "end")
    until = _ts(observed_until, "observed_until")
    zone = config.line.zone
    ideal = config.line.ideal_cycle_s
    period_lo = -math.inf if lo is None else lo
    period_hi = math.inf if hi is None else hi

    if first is None or last is None:
        return _report([], period_lo, period_hi, None, None, ideal, zone, [])
    if until is not None:
        last = max(last, until)
    cov_lo = max(first, period_lo)
    cov_hi = min(last, period_hi)
    if cov_hi < cov_lo:
        return _report([], period_lo, period_hi, None, None, ideal, zone, [])

    timeline = build_timeline(states, first, last, config)
    shifts: list[ShiftOee] = []
    warnings: list[str] = []
    counted = 0
    for inst in shift_instances(shift_specs(config), zone, cov_lo, cov_hi):
        shift = _shift_oee(inst, timeline, parts, cov_lo, cov_hi, period_lo, period_hi, ideal)
        if shift is None:
            continue
        counted += shift.total
        warnings.extend(shift.warnings)
        shifts.append(shift)
    in_period, _ = parts.count(period_lo, period_hi)
    if in_period > counted:
        warnings.append(
            f"{in_period - counted} parts were counted outside every shift "
            "and are not in the report"
        )
    for message in warnings:
        logger.debug("oee: %s", message)
    return _report(shifts, period_lo, period_hi, cov_lo, cov_hi, ideal, zone, warnings)


def _shift_oee(
    inst: ShiftInstance,
    timeline: Timeline,
    parts: Parts,
    cov_lo: float,
    cov_hi: float,
    period_lo: float,
    period_hi: float,
    ideal: float,
) -> ShiftOee | None:
    lo = max(inst.start, cov_lo)
    hi = max(lo, min(inst.end, cov_hi))
    part_lo = max(inst.start, period_lo)
    part_hi = min(inst.end, period_hi)
    tally = _tally(timeline, parts, lo, hi, part_lo, part_hi, inst.breaks)
    if hi <= lo and tally.total == 0:
        return None
    hourly = []
    hour = inst.start
    while hour < inst.end:
        h_end = min(hour + HOUR_S, inst.end)
        h_lo, h_hi = max(hour, lo), min(h_end, hi)
        h_tally = _tally(
            timeline,
            parts,
            h_lo,
            max(h_lo, h_hi),
            max(hour, part_lo),
            min(h_end, part_hi),
            inst.breaks,
        )
        if h_hi > h_lo or h_tally.total:
            hourly.append(HourOee(hour, h_tally, ideal))
        hour = h_end
    shift = ShiftOee(
        inst.name, inst.date, inst.start, inst.end, lo, hi, tally, ideal, tuple(hourly)
    )
    return _with_warnings(shift, f"shift {inst.name} {inst.date.isoformat()}")


def _with_warnings(shift: ShiftOee, label: str) -> ShiftOee:
    warnings = []
    performance = shift.performance
    if performance is not None and performance > 1.0:
        warnings.append(
            f"{label}: performance {performance:.1%} is above 100 %: the ideal cycle time "
            f"({shift.ideal_cycle_s:g} s) is wrong, the line made parts faster than it"
        )
    elif performance is None and shift.total > 0 and shift.planned_s > 0:
        warnings.append(f"{label}: {shift.total} parts counted with no run time")
    t = shift.tally
    if performance is not None and performance <= 1.0:
        if t.run_s - t.small_stop_s - shift.ideal_cycle_s * t.total < -1e-6:
            warnings.append(
                f"{label}: parts came faster than the ideal cycle time "
                f"({shift.ideal_cycle_s:g} s) while the line was not stopped"
            )
    if not warnings:
        return shift
    return ShiftOee(
        shift.shift,
        shift.date,
        shift.start,
        shift.end,
        shift.measured_from,
        shift.measured_to,
        shift.tally,
        shift.ideal_cycle_s,
        shift.hourly,
        tuple(warnings),
    )


def _report(
    shifts: list[ShiftOee],
    period_lo: float,
    period_hi: float,
    cov_lo: float | None,
    cov_hi: float | None,
    ideal: float,
    zone: ZoneInfo,
    warnings: list[str],
) -> OeeReport:
    tally = Tally()
    for shift in shifts:
        tally = tally + shift.tally
    lo = period_lo if math.isfinite(period_lo) else cov_lo
    hi = period_hi if math.isfinite(period_hi) else cov_hi
    all_time = (hi - lo) if lo is not None and hi is not None and hi > lo else 0.0
    total = ShiftOee(
        "total",
        shifts[0].date if shifts else None,
        lo,
        hi,
        cov_lo,
        cov_hi,
        tally,
        ideal,
        tuple(h for s in shifts for h in s.hourly),
    )
    total = _with_warnings(total, "total")
    warnings = warnings + [w for w in total.warnings if w not in warnings]
    teep = tally.good * ideal / all_time if all_time > 0 else None
    return OeeReport(shifts, total, teep, all_time, zone, warnings)


def report_from_shifts(
    shifts: Sequence[ShiftOee],
    config: Config,
    start: datetime | None = None,
    end: datetime | None = None,
    warnings: Sequence[str] = (),
) -> OeeReport:
    """The report over shifts measured elsewhere (hourly rollups, raw events, or both).

    The total, TEEP and warnings are made as `compute_oee` makes them.
    """
    lo, hi = _ts(start, "start"), _ts(end, "end")
    froms = [s.measured_from for s in shifts if s.measured_from is not None]
    tos = [s.measured_to for s in shifts if s.measured_to is not None]
    return _report(
        sorted(shifts, key=lambda s: (s.start or 0.0, s.shift)),
        -math.inf if lo is None else lo,
        math.inf if hi is None else hi,
        min(froms) if froms else None,
        max(tos) if tos else None,
        config.line.ideal_cycle_s,
        config.line.zone,
        list(warnings),
    )
