"""The OEE of periods whose raw events were pruned, from the hourly rollups.

`Retention` rolls every hour up (per shift) before its raw events may go; `report`
then answers for a period before `pruned_before` from these rows, whole clock hours
at a time, and for the rest from the raw events as before, adding the two halves of a
shift that straddles the boundary.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple

from agent.oee import HourOee, ShiftOee, Tally
from agent.store.db import epoch
from agent.store.store import Store


class RollupRow(NamedTuple):
    """One row of `hourly_rollups`: a clock hour of one shift occurrence."""

    hour: float
    shift: str
    date: str
    shift_start: float
    shift_end: float
    run_s: float
    small_stop_s: float
    breakdown_s: float
    setup_s: float
    unassigned_s: float
    planned_stop_s: float
    no_data_s: float
    total: int
    good: int
    ideal_cycle_s: float

    def tally(self) -> Tally:
        """The hour's seconds and counts."""
        return Tally(*self[5:14])


def rollup_shifts(store: Store, start: datetime | None, end: datetime | None) -> list[ShiftOee]:
    """Shifts made of the rolled-up hours that start in `[start, end)` (whole hours)."""
    lo, hi = epoch(start, "start"), epoch(end, "end")
    rows = store.connection.read(
        f"SELECT {', '.join(RollupRow._fields)} FROM hourly_rollups "  # noqa: S608
        "WHERE hour >= ? AND hour < ? ORDER BY shift_start, shift, hour",
        [-1e18 if lo is None else lo - lo % 3600, 1e18 if hi is None else hi],
    )
    shifts: dict[tuple[str, str], list[RollupRow]] = {}
    for row in map(RollupRow._make, rows):
        shifts.setdefault((row.shift, row.date), []).append(row)
    return [_shift(hours) for hours in shifts.values()]


def _shift(rows: list[RollupRow]) -> ShiftOee:
    hours = tuple(HourOee(r.hour, r.tally(), r.ideal_cycle_s) for r in rows)
    first, last = rows[0], rows[-1]
    return ShiftOee(
        first.shift,
        date.fromisoformat(first.date),
        first.shift_start,
        first.shift_end,
        max(first.hour, first.shift_start),
        min(last.hour + 3600.0, last.shift_end),
        sum((h.tally for h in hours), Tally()),
        first.ideal_cycle_s,
        hours,
    )


def merge_shifts(parts: Iterable[ShiftOee]) -> list[ShiftOee]:
    """One shift per (name, date): the halves read from rollups and raw events added up."""
    merged: dict[tuple[str, date | None], ShiftOee] = {}
    for shift in parts:
        key = (shift.shift, shift.date)
        seen = merged.get(key)
        if seen is None:
            merged[key] = shift
            continue
        froms = [t for t in (seen.measured_from, shift.measured_from) if t is not None]
        tos = [t for t in (seen.measured_to, shift.measured_to) if t is not None]
        merged[key] = ShiftOee(
            shift.shift,
            shift.date,
            shift.start,
            shift.end,
            min(froms) if froms else None,
            max(tos) if tos else None,
            seen.tally + shift.tally,
            shift.ideal_cycle_s,
            tuple(sorted(seen.hourly + shift.hourly, key=lambda h: h.start)),
            seen.warnings + shift.warnings,
        )
    return list(merged.values())
