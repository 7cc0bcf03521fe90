"""The pure parts: targets, grades, durations, shift windows, hourly bars, Pareto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.config import ShiftConfig
from tui.model import Stop, Targets, duration, grade, hourly_bars, pareto, shift_window

T = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)


def test_targets_parse():
    assert Targets.parse("85") == Targets(oee=0.85)
    assert Targets.parse("80,90,95,99.5") == Targets(0.80, 0.90, 0.95, 0.995)
    for bad in ("", "85,90", "x", "0", "101"):
        with pytest.raises(ValueError):
            Targets.parse(bad)


def test_grade_against_target():
    assert grade(0.85, 0.85) == "good"
    assert grade(0.71, 0.85) == "warn"
    assert grade(0.69, 0.85) == "bad"
    assert grade(None, 0.85) == "none"


def test_duration():
    assert [duration(s) for s in (0, 45, 605, 3 * 3600 + 7 * 60)] == [
        "0s",
        "45s",
        "10m05s",
        "3h07m",
    ]


def test_shift_window_day_night_and_between():
    shifts = [
        ShiftConfig(name="A", start="06:00", end="14:00", breaks=[("09:00", "09:15")]),
        ShiftConfig(name="N", start="22:00", end="06:00", breaks=[("02:00", "02:30")]),
    ]
    zone = ZoneInfo("Europe/Berlin")
    a = shift_window(shifts, zone, datetime(2026, 3, 3, 8, 0, tzinfo=UTC))  # 09:00 local
    assert (a.name, a.start.hour, a.end.hour) == ("A", 6, 14)
    assert a.breaks[0][0] == datetime(2026, 3, 3, 9, 0, tzinfo=zone)
    night = shift_window(shifts, zone, datetime(2026, 3, 4, 3, 0, tzinfo=zone))
    assert (night.name, night.day.isoformat()) == ("N", "2026-03-03")
    assert night.breaks[0][0] == datetime(2026, 3, 4, 2, 0, tzinfo=zone)
    gap = shift_window(shifts, zone, datetime(2026, 3, 3, 15, 0, tzinfo=zone))
    assert gap.name == "A"  # between shifts: the latest one that started
    whole = shift_window([], zone, datetime(2026, 3, 3, 15, 0, tzinfo=zone))
    assert (whole.name, whole.end - whole.start) == ("day", timedelta(days=1))


def test_hourly_bars_count_parts_stops_and_breaks():
    parts = [T + timedelta(seconds=s) for s in (10, 20, 3700)]
    stops = [Stop("s", T + timedelta(minutes=50), T + timedelta(minutes=70))]
    breaks = [(T + timedelta(minutes=90), T + timedelta(minutes=105))]
    bars = hourly_bars(T, T + timedelta(minutes=120), parts, stops, 10.0, breaks)
    assert [(b.actual, b.target, b.stopped_s) for b in bars] == [(2, 360, 600), (1, 270, 600)]


def test_pareto_largest_first_with_cumulative_share():
    shift = {
        "losses": {
            "breakdown": 100,
            "setup": 300,
            "unassigned": 0,
            "small_stop": 50,
            "reduced_speed": 0,
            "defects": 50,
        }
    }
    rows = pareto(shift)
    assert [k for k, _, _ in rows][:4] == ["setup", "breakdown", "small_stop", "defects"]
    assert rows[0][2] == 0.6 and rows[-1][2] == 1.0


def test_the_banner_shows_storage_camera_view_and_backlog_alarms_only():
    from tui.model import banner_alarms

    alarms = [
        "storage: 180 MB free on the store's disk",
        "camera: view dark (31% of the taught brightness)",
        "camera: 10+ damaged frames in 60 s (the decoder concealed lost data; 14 in all)",
        "store: events waiting 12 s for the disk",
        "inspection: parts waiting 11 s for the model",
        "camera: stalled: no good frame for 5.0 s",  # NO DATA says so already
        "clock: stepped by +3600 s",
    ]
    assert banner_alarms(alarms) == tuple(alarms[:5])
    assert banner_alarms(None) == () and banner_alarms("storage: x") == ()
