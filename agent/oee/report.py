"""The OEE figures of a shift, a period's total, and their JSON form (the contract's).

Everything here is arithmetic on already-measured seconds and counts: the definitions
are oee.com's (see docs/oee.md). Seconds are kept unrounded; `to_json` rounds
ratios to 4 decimals and seconds to 0.1 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

RATIO_DIGITS = 4
SECONDS_DIGITS = 1


@dataclass(frozen=True, slots=True)
class Tally:
    """Seconds and counts measured over one window (a shift, an hour, a period).

    `run_s` includes small stops and stops booked as performance losses;
    `small_stop_s` is the part of it the line stood still in small stops.
    """

    run_s: float = 0.0
    small_stop_s: float = 0.0
    breakdown_s: float = 0.0
    setup_s: float = 0.0
    unassigned_s: float = 0.0
    planned_stop_s: float = 0.0
    no_data_s: float = 0.0
    total: int = 0
    good: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Tally)))

    @property
    def downtime_s(self) -> float:
        """Unplanned stops longer than a small stop (availability loss)."""
        return self.breakdown_s + self.setup_s + self.unassigned_s

    @property
    def planned_s(self) -> float:
        """Planned production time: run time plus downtime."""
        return self.run_s + self.downtime_s

    @property
    def window_s(self) -> float:
        """The measured window: planned time, planned stops and time without data."""
        return self.planned_s + self.planned_stop_s + self.no_data_s


def format_hms(seconds: float | None) -> str:
    """Seconds as h:mm:ss for people (tables, reports); `-` for none."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _iso(ts: float | None, zone: ZoneInfo) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, zone).isoformat()


def _round_ratio(value: float | None) -> float | None:
    return None if value is None else round(value, RATIO_DIGITS)


def _round_s(value: float) -> float:
    return round(value, SECONDS_DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0


@dataclass(frozen=True, slots=True)
class HourOee:
    """One clock hour of a shift: target count at the ideal cycle vs actual count."""

    start: float
    tally: Tally
    ideal_cycle_s: float

    @property
    def target(self) -> int:
        """Parts the planned production time of this hour allows at the ideal cycle."""
        return int(self.tally.planned_s / self.ideal_cycle_s + 1e-9)

    def to_json(self, zone: ZoneInfo) -> dict[str, Any]:
        """`{"hour", "target", "actual", "good", "stopped_s", "planned_s"}`."""
        t = self.tally
        return {
            "hour": _iso(self.start, zone),
            "target": self.target,
            "actual": t.total,
            "good": t.good,
            "stopped_s": _round_s(t.downtime_s + t.small_stop_s),
            "planned_s": _round_s(t.planned_s),
        }


@dataclass(frozen=True, slots=True)
class ShiftOee:
    """OEE of one shift occurrence (or of a whole period, for the total).

    Attributes:
        shift: shift name ("total" for a period's total).
        date: local date the shift starts on (the first shift's date for a total).
        start: scheduled start, epoch seconds (the period's start for a total).
        end: scheduled end, epoch seconds (the period's end for a total).
        measured_from: first instant the events cover in it.
        measured_to: last instant the events cover in it.
        tally: measured seconds and counts.
        ideal_cycle_s: the line's ideal cycle time.
        hourly: target vs actual per clock hour.
        warnings: what looks wrong with these figures.
    """

    shift: str
    date: date | None
    start: float | None
    end: float | None
    measured_from: float | None
    measured_to: float | None
    tally: Tally
    ideal_cycle_s: float
    hourly: tuple[HourOee, ...] = ()
    warnings: tuple[str, ...] = ()

    # The contract's names, straight from the tally.
    @property
    def planned_s(self) -> float:
        """Planned production time, s."""
        return self.tally.planned_s

    @property
    def run_s(self) -> float:
        """Run time, s (includes small stops)."""
        return self.tally.run_s

    @property
    def downtime_s(self) -> float:
        """Downtime (availability loss), s."""
        return self.tally.downtime_s

    @property
    def small_stop_s(self) -> float:
        """Small stops (performance loss, inside run time), s."""
        return self.tally.small_stop_s

    @property
    def no_data_s(self) -> float:
        """Time nothing is known about (camera gave nothing), s."""
        return self.tally.no_data_s

    @property
    def planned_stop_s(self) -> float:
        """Breaks and stops with a planned reason, s."""
        return self.tally.planned_stop_s

    @property
    def total(self) -> int:
        """Parts counted."""
        return self.tally.total

    @property
    def good(self) -> int:
        """Good parts counted."""
        return self.tally.good

    @property
    def availability(self) -> float | None:
        """Run time / planned production time (None without planned time)."""
        return _ratio(self.tally.run_s, self.tally.planned_s)

    @property
    def performance(self) -> float | None:
        """Ideal cycle x total count / run time (None without run time)."""
        return _ratio(self.ideal_cycle_s * self.tally.total, self.tally.run_s)

    @property
    def quality(self) -> float | None:
        """Good count / total count (None without parts)."""
        return _ratio(self.tally.good, self.tally.total)

    @property
    def oee(self) -> float | None:
        """Good count x ideal cycle / planned production time (= A x P x Q)."""
        return _ratio(self.tally.good * self.ideal_cycle_s, self.tally.planned_s)

    @property
    def losses(self) -> dict[str, float]:
        """The six big losses in seconds (defects as time at the ideal cycle)."""
        t = self.tally
        reduced = t.run_s - t.small_stop_s - self.ideal_cycle_s * t.total
        return {
            "breakdown": t.breakdown_s,
            "setup": t.setup_s,
            "unassigned": t.unassigned_s,
            "small_stop": t.small_stop_s,
            # negative only when parts came faster than the ideal cycle: warned about
            "reduced_speed": max(0.0, reduced),
            "defects": (t.total - t.good) * self.ideal_cycle_s,
        }

    def contains(self, ts: float) -> bool:
        """Whether the instant (epoch seconds) falls in the scheduled shift."""
        return self.start is not None and self.end is not None and self.start <= ts < self.end

    def to_json(self, zone: ZoneInfo) -> dict[str, Any]:
        """The contract's per-shift object, with added keys.

        Added: `start`, `end`, `measured_from`, `measured_to`, `planned_stop_s`,
        `hourly` and `warnings`.
        """
        t = self.tally
        return {
            "shift": self.shift,
            "date": None if self.date is None else self.date.isoformat(),
            "start": _iso(self.start, zone),
            "end": _iso(self.end, zone),
            "measured_from": _iso(self.measured_from, zone),
            "measured_to": _iso(self.measured_to, zone),
            "planned_s": _round_s(t.planned_s),
            "run_s": _round_s(t.run_s),
            "downtime_s": _round_s(t.downtime_s),
            "small_stop_s": _round_s(t.small_stop_s),
            "no_data_s": _round_s(t.no_data_s),
            "planned_stop_s": _round_s(t.planned_stop_s),
            "total": t.total,
            "good": t.good,
            "availability": _round_ratio(self.availability),
            "performance": _round_ratio(self.performance),
            "quality": _round_ratio(self.quality),
            "oee": _round_ratio(self.oee),
            "losses": {k: _round_s(v) for k, v in self.losses.items()},
            "hourly": [h.to_json(zone) for h in self.hourly],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class OeeReport:
    """OEE per shift and in total over a period.

    Attributes:
        shifts: every shift occurrence the events cover, in time order.
        total: the sums over `shifts` (shift name "total").
        teep: good x ideal cycle / all time of the period (= OEE x planned / all time).
        all_time_s: the period's length, s.
        zone: the line's time zone (for the ISO times of the JSON).
        warnings: what looks wrong with the figures.
    """

    shifts: list[ShiftOee]
    total: ShiftOee
    teep: float | None
    all_time_s: float
    zone: ZoneInfo
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The contract's OEE output: `{"shifts": [...], "total": {..., "teep"}}`."""
        total = self.total.to_json(self.zone)
        total["teep"] = _round_ratio(self.teep)
        total["all_time_s"] = _round_s(self.all_time_s)
        total["warnings"] = list(self.warnings)
        return {"shifts": [s.to_json(self.zone) for s in self.shifts], "total": total}

    def current_shift(self, at: datetime) -> ShiftOee | None:
        """The shift whose scheduled span contains `at` (aware), if it is in the report."""
        ts = at.timestamp()
        for shift in reversed(self.shifts):
            if shift.contains(ts):
                return shift
        return None
