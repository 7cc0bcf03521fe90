"""The engine's rules, one by one: calendar, coverage, states, reasons, losses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.events import PartEvent, StateEvent
from agent.oee import compute_oee

H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)
DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, no DST anywhere near
ONE_SHIFT = [{"name": "A", "start": "06:00", "end": "14:00"}]
THREE_SHIFTS = [
    {"name": "early", "start": "06:00", "end": "14:00", "breaks": [["10:00", "10:30"]]},
    {"name": "late", "start": "14:00", "end": "22:00"},
    {"name": "night", "start": "22:00", "end": "06:00", "breaks": [["02:00", "02:30"]]},
]


def by_name(report: Any) -> dict[str, Any]:
    return {f"{s.shift} {s.date}": s for s in report.shifts}


# --- coverage -------------------------------------------------------------------------


def test_a_short_recording_inside_a_shift_counts_only_its_own_time(build: Any) -> None:
    config = build.config(shifts=ONE_SHIFT)
    t = DAY + 9 * H
    events = [StateEvent(t, "running"), PartEvent(t + 10 * S), PartEvent(t + 50 * S)]
    (shift,) = compute_oee(events, config).shifts
    assert shift.planned_s == pytest.approx(50)
    assert shift.measured_from == t.timestamp() and shift.measured_to == (t + 50 * S).timestamp()


def test_a_break_inside_a_short_recording_is_taken_out(build: Any) -> None:
    config = build.config(shifts=[{**ONE_SHIFT[0], "breaks": [["09:00", "09:15"]]}])
    t = DAY + 8 * H + 50 * M
    events = [StateEvent(t, "running")]
    (shift,) = compute_oee(events, config, observed_until=t + 30 * M).shifts
    assert shift.planned_s == pytest.approx(15 * 60)
    assert shift.planned_stop_s == pytest.approx(15 * 60)


def test_observed_until_extends_the_last_state(build: Any) -> None:
    config = build.config(shifts=ONE_SHIFT)
    t = DAY + 7 * H
    events = [StateEvent(t, "running"), StateEvent(t + H, "stopped")]
    (shift,) = compute_oee(events, config, observed_until=t + 2 * H).shifts
    assert (shift.run_s, shift.downtime_s) == (3600, 3600)
    # the daemon's helper finds the shift that holds an instant
    report = compute_oee(events, config, observed_until=t + 2 * H)
    assert report.current_shift(t + 2 * H) is report.shifts[0]
    assert report.current_shift(DAY + 15 * H) is None


def test_no_events_give_an_empty_report_with_nulls(build: Any) -> None:
    out = compute_oee([], build.config()).to_json()
    assert out["shifts"] == []
    total = out["total"]
    assert total["planned_s"] == 0 and total["total"] == 0
    for key in ("availability", "performance", "quality", "oee", "teep"):
        assert total[key] is None


def test_only_no_data_gives_null_ratios_not_zero(build: Any) -> None:
    events = [StateEvent(DAY + H, "no_data"), StateEvent(DAY + 2 * H, "no_data")]
    (shift,) = compute_oee(events, build.config()).shifts
    assert shift.no_data_s == 3600 and shift.planned_s == 0
    assert shift.availability is None and shift.oee is None and shift.quality is None


def test_parts_only_log_is_running_time(build: Any) -> None:
    """A PLC counter sends parts and no states: all covered time is run time."""
    events = [PartEvent(DAY + H + i * S) for i in range(101)]
    (shift,) = compute_oee(events, build.config()).shifts
    assert shift.run_s == pytest.approx(100) and shift.total == 101


# --- calendar -------------------------------------------------------------------------


def test_no_shifts_configured_means_one_shift_per_local_day(build: Any) -> None:
    config = build.config(timezone="Asia/Tokyo")  # UTC+9: 20:00 UTC is the next local day
    events = [StateEvent(DAY + 10 * H, "running"), StateEvent(DAY + 20 * H, "stopped")]
    report = compute_oee(events, config, observed_until=DAY + 21 * H)
    assert [(s.shift, s.date.isoformat()) for s in report.shifts] == [
        ("day", "2026-03-02"),
        ("day", "2026-03-03"),
    ]
    first, second = report.shifts
    assert first.run_s == pytest.approx(5 * 3600)  # 10:00 UTC to local midnight (15:00 UTC)
    assert second.run_s == pytest.approx(5 * 3600)
    assert second.downtime_s == pytest.approx(3600)


def test_a_state_across_shift_boundaries_is_split(build: Any) -> None:
    config = build.config(shifts=THREE_SHIFTS)
    events = [StateEvent(DAY + 12 * H, "running")]
    shifts = by_name(compute_oee(events, config, observed_until=DAY + 24 * H + 3 * H))
    assert shifts["early 2026-03-02"].run_s == pytest.approx(2 * 3600)
    assert shifts["late 2026-03-02"].run_s == pytest.approx(8 * 3600)
    # the night shift is dated the day it starts; its break is not production time
    night = shifts["night 2026-03-02"]
    assert night.run_s == pytest.approx(4.5 * 3600)
    assert night.planned_stop_s == pytest.approx(0.5 * 3600)


def test_overnight_shift_and_a_stop_across_its_end_is_downtime_on_both_sides(
    build: Any,
) -> None:
    """A 20-min stop cut by the 06:00 change: each piece is 10 min, under the 15-min
    small-stop limit, but the whole stop is not small: downtime in both shifts."""
    config = build.config(shifts=THREE_SHIFTS, micro_stop_max_s=15 * 60)
    t = DAY + 22 * H
    events = [
        StateEvent(t, "running"),
        StateEvent(t + 7 * H + 50 * M, "stopped"),
        StateEvent(t + 8 * H + 10 * M, "running"),
    ]
    shifts = by_name(compute_oee(events, config, observed_until=t + 9 * H))
    night, early = shifts["night 2026-03-02"], shifts["early 2026-03-03"]
    assert night.downtime_s == pytest.approx(600) and night.small_stop_s == 0
    assert early.downtime_s == pytest.approx(600) and early.small_stop_s == 0
    assert night.planned_s + night.planned_stop_s == pytest.approx(8 * 3600)
    assert night.start == t.timestamp()


def test_standing_still_during_a_break_is_not_downtime(build: Any) -> None:
    """A stop from 09:50 to 10:40 around the 10:00-10:30 break: 20 min downtime."""
    config = build.config(shifts=THREE_SHIFTS)
    events = [
        StateEvent(DAY + 6 * H, "running"),
        StateEvent(DAY + 9 * H + 50 * M, "stopped"),
        StateEvent(DAY + 10 * H + 40 * M, "running"),
    ]
    (early,) = compute_oee(events, config, observed_until=DAY + 14 * H).shifts
    assert early.downtime_s == pytest.approx(20 * 60)
    assert early.planned_stop_s == pytest.approx(30 * 60)
    assert early.planned_s == pytest.approx(7.5 * 3600)


def test_parts_are_counted_in_the_shift_their_time_falls_in_even_in_a_break(
    build: Any,
) -> None:
    config = build.config(shifts=THREE_SHIFTS)
    events = [
        StateEvent(DAY + 13 * H, "running"),
        PartEvent(DAY + 13 * H + 59 * M + 59 * S),
        PartEvent(DAY + 14 * H),  # the instant the late shift starts
    ]
    shifts = by_name(compute_oee(events, config, observed_until=DAY + 15 * H))
    assert shifts["early 2026-03-02"].total == 1
    assert shifts["late 2026-03-02"].total == 1
    with_break = [StateEvent(DAY + 9 * H, "running"), PartEvent(DAY + 10 * H + 5 * M)]
    (early,) = compute_oee(with_break, config, observed_until=DAY + 11 * H).shifts
    assert early.total == 1 and early.planned_stop_s == pytest.approx(1800)


def test_parts_outside_every_shift_are_warned_about(build: Any) -> None:
    config = build.config(shifts=ONE_SHIFT)
    events = [StateEvent(DAY + 13 * H, "running"), PartEvent(DAY + 15 * H)]
    report = compute_oee(events, config)
    assert report.total.total == 0
    assert any("outside every shift" in w for w in report.warnings)


# --- daylight saving ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "night", "hours"),
    [
        ("Europe/Berlin", "2026-03-28", 7),  # clocks go 02:00 -> 03:00 on Mar 29
        ("Europe/Berlin", "2026-10-24", 9),  # clocks go 03:00 -> 02:00 on Oct 25
        ("America/Chicago", "2026-03-07", 7),  # 02:00 -> 03:00 on Mar 8
        ("America/Chicago", "2026-10-31", 9),  # 02:00 -> 01:00 on Nov 1
    ],
)
def test_night_shift_on_a_dst_change_night(build: Any, zone: str, night: str, hours: int) -> None:
    config = build.config(
        shifts=[{"name": "night", "start": "22:00", "end": "06:00"}], timezone=zone
    )
    tz = ZoneInfo(zone)
    start = datetime.fromisoformat(night).replace(hour=22, tzinfo=tz)
    end = (start + timedelta(days=1)).replace(hour=6)  # wall-clock 06:00 next morning
    assert (end.timestamp() - start.timestamp()) / 3600 == hours
    events = [StateEvent(start - H, "running")]
    report = compute_oee(events, config, observed_until=end + H)
    shift = next(s for s in report.shifts if s.date.isoformat() == night)
    assert shift.planned_s == pytest.approx(hours * 3600)
    assert shift.end - shift.start == pytest.approx(hours * 3600)
    assert len(shift.hourly) == hours
    out = shift.to_json(tz)
    assert out["start"].startswith(f"{night}T22:00:00")
    assert out["end"][11:19] == "06:00:00"


def test_a_whole_day_on_the_spring_forward_day_is_23_hours(build: Any) -> None:
    tz = ZoneInfo("Europe/Berlin")
    config = build.config(timezone="Europe/Berlin")
    start = datetime(2026, 3, 29, tzinfo=tz)
    events = [StateEvent(start, "running")]
    report = compute_oee(events, config, observed_until=datetime(2026, 3, 30, tzinfo=tz))
    (day,) = report.shifts
    assert day.run_s == pytest.approx(23 * 3600)


# --- states, stops and reasons --------------------------------------------------------


def _one_stop(build: Any, seconds: float, reason: str | None = None, **config: Any) -> Any:
    cfg = build.config(shifts=ONE_SHIFT, **config)
    t = DAY + 7 * H
    events = [
        StateEvent(t, "running"),
        StateEvent(t + H, "stopped", reason),
        StateEvent(t + H + seconds * S, "running"),
    ]
    (shift,) = compute_oee(events, cfg, observed_until=t + 3 * H).shifts
    return shift


def test_a_short_stop_is_a_small_stop_inside_run_time(build: Any) -> None:
    shift = _one_stop(build, 120)
    assert shift.small_stop_s == 120 and shift.downtime_s == 0
    assert shift.run_s == pytest.approx(3 * 3600)
    assert shift.losses["small_stop"] == 120


def test_a_stop_just_over_the_limit_is_downtime(build: Any) -> None:
    shift = _one_stop(build, 120.5)
    assert shift.small_stop_s == 0 and shift.downtime_s == pytest.approx(120.5)
    assert shift.losses["unassigned"] == pytest.approx(120.5)


@pytest.mark.parametrize(("loss", "field"), [("breakdown", "breakdown"), ("setup", "setup")])
def test_a_long_stop_books_its_reason_loss(build: Any, loss: str, field: str) -> None:
    shift = _one_stop(build, 900, "r1", reasons=[{"code": "r1", "loss": loss}])
    assert shift.losses[field] == pytest.approx(900)
    assert shift.downtime_s == pytest.approx(900)


def test_a_short_breakdown_is_still_a_small_stop(build: Any) -> None:
    shift = _one_stop(build, 60, "r1", reasons=[{"code": "r1", "loss": "breakdown"}])
    assert shift.small_stop_s == 60 and shift.losses["breakdown"] == 0


def test_a_planned_reason_takes_the_time_out_of_planned_production(build: Any) -> None:
    shift = _one_stop(build, 900, "clean", reasons=[{"code": "clean", "loss": "planned"}])
    assert shift.planned_stop_s == pytest.approx(900)
    assert shift.planned_s == pytest.approx(3 * 3600 - 900)
    assert shift.availability == 1.0
    # a short one too: planned is planned, not a small stop
    short = _one_stop(build, 30, "clean", reasons=[{"code": "clean", "loss": "planned"}])
    assert short.planned_stop_s == pytest.approx(30) and short.small_stop_s == 0


def test_small_stop_and_reduced_speed_reasons_are_performance_losses_at_any_length(
    build: Any,
) -> None:
    reasons = [{"code": "jam", "loss": "small_stop"}, {"code": "slow", "loss": "reduced_speed"}]
    jam = _one_stop(build, 900, "jam", reasons=reasons)
    assert jam.small_stop_s == pytest.approx(900) and jam.downtime_s == 0
    slow = _one_stop(build, 900, "slow", reasons=reasons)
    assert slow.small_stop_s == 0 and slow.downtime_s == 0
    assert slow.run_s == pytest.approx(3 * 3600)
    assert slow.losses["reduced_speed"] == pytest.approx(3 * 3600)  # no parts at all


def test_starved_is_unassigned_unless_configured(build: Any) -> None:
    plain = _one_stop(build, 900, "starved")
    assert plain.losses["unassigned"] == pytest.approx(900)
    mapped = _one_stop(build, 900, "starved", reasons=[{"code": "starved", "loss": "setup"}])
    assert mapped.losses["setup"] == pytest.approx(900)


def test_no_data_is_apart_and_never_downtime(build: Any) -> None:
    config = build.config(shifts=ONE_SHIFT)
    t = DAY + 7 * H
    events = [
        StateEvent(t, "running"),
        StateEvent(t + H, "no_data"),
        StateEvent(t + 2 * H, "running"),
    ]
    (shift,) = compute_oee(events, config, observed_until=t + 3 * H).shifts
    assert shift.no_data_s == 3600 and shift.downtime_s == 0
    assert shift.planned_s == pytest.approx(7200)


def test_no_data_running_into_a_break_is_a_planned_stop_there(build: Any) -> None:
    """The camera gone 01:50-02:10 across the night break's start (02:00): 10 min
    without data, then the break (planned, whatever the camera says)."""
    config = build.config(shifts=THREE_SHIFTS)
    night = DAY + H  # 01:00 on the night that began on 1 March
    events = [
        StateEvent(night, "running"),
        StateEvent(night + 50 * M, "no_data"),
        StateEvent(night + 70 * M, "running"),
    ]
    (shift,) = compute_oee(events, config, observed_until=night + 2 * H).shifts
    assert (shift.shift, shift.date.isoformat()) == ("night", "2026-03-01")
    assert shift.no_data_s == pytest.approx(600)
    assert shift.planned_stop_s == pytest.approx(1800)
    assert shift.downtime_s == 0 and shift.run_s == pytest.approx(7200 - 600 - 1800)


def test_a_period_that_cuts_a_stop_judges_it_by_its_whole_length(build: Any) -> None:
    """A 100 s stop cut to 40 s by the period stays small; a 300 s one cut to 60 s stays
    downtime: the period changes what is counted, never what kind of loss it is."""
    config = build.config(shifts=ONE_SHIFT)
    t = DAY + 7 * H
    events = [
        StateEvent(t, "stopped"),  # the log begins in the middle of a stop
        StateEvent(t + 100 * S, "running"),
        StateEvent(t + 10 * M, "stopped"),
        StateEvent(t + 15 * M, "running"),
    ]
    until = t + H
    head = compute_oee(events, config, start=t + 60 * S, observed_until=until).total
    assert head.small_stop_s == pytest.approx(40) and head.downtime_s == pytest.approx(300)
    tail = compute_oee(events, config, end=t + 11 * M, observed_until=until).total
    assert tail.downtime_s == pytest.approx(60) and tail.losses["unassigned"] == 60
    assert tail.small_stop_s == pytest.approx(100)


def test_stop_length_counts_consecutive_stop_events_as_one_stop(build: Any) -> None:
    """A stop whose reason arrives later is one stop: 100 s + 100 s is not small."""
    config = build.config(shifts=ONE_SHIFT, reasons=[{"code": "r1", "loss": "breakdown"}])
    t = DAY + 7 * H
    events = [
        StateEvent(t, "running"),
        StateEvent(t + H, "stopped"),
        StateEvent(t + H + 100 * S, "stopped", "r1"),
        StateEvent(t + H + 200 * S, "running"),
    ]
    (shift,) = compute_oee(events, config, observed_until=t + 2 * H).shifts
    assert shift.losses["unassigned"] == pytest.approx(100)
    assert shift.losses["breakdown"] == pytest.approx(100)


# --- losses and warnings --------------------------------------------------------------


def test_losses_add_up_to_planned_time(build: Any) -> None:
    config = build.config(ideal_cycle_s=2.0, shifts=ONE_SHIFT)
    t = DAY + 7 * H
    events = build.merge(
        [StateEvent(t, "running"), StateEvent(t + H, "stopped"), StateEvent(t + 2 * H, "running")],
        build.parts([(t, t + H), (t + 2 * H, t + 3 * H)], 3000, 2900),
    )
    (shift,) = compute_oee(events, config, observed_until=t + 3 * H).shifts
    losses = shift.losses
    assert losses["defects"] == pytest.approx(200)
    assert losses["reduced_speed"] == pytest.approx(7200 - 6000)
    assert sum(losses.values()) + shift.good * 2.0 == pytest.approx(shift.planned_s)


def test_performance_above_100_percent_is_reported_with_a_warning(build: Any) -> None:
    config = build.config(ideal_cycle_s=2.0, shifts=ONE_SHIFT)
    t = DAY + 7 * H
    events = [StateEvent(t, "running")] + [PartEvent(t + i * S) for i in range(1000)]
    report = compute_oee(events, config, observed_until=t + 1000 * S)
    (shift,) = report.shifts
    assert shift.performance == pytest.approx(2.0)
    assert shift.losses["reduced_speed"] == 0
    assert any("ideal cycle time" in w for w in shift.warnings)
    assert any("ideal cycle time" in w for w in report.warnings)
    assert report.to_json()["shifts"][0]["performance"] == 2.0


def test_hourly_series_targets_and_actuals(build: Any) -> None:
    config = build.config(
        ideal_cycle_s=2.0, shifts=[{**ONE_SHIFT[0], "breaks": [["07:00", "07:30"]]}]
    )
    t = DAY + 6 * H
    events = build.merge(
        [
            StateEvent(t, "running"),
            StateEvent(t + 90 * M, "stopped"),
            StateEvent(t + 100 * M, "running"),
        ],
        build.parts([(t, t + H)], 1500, 1500),
    )
    (shift,) = compute_oee(events, config, observed_until=t + 2 * H).shifts
    hours = [h.to_json(ZoneInfo("UTC")) for h in shift.hourly]
    assert [h["hour"] for h in hours] == ["2026-03-02T06:00:00+00:00", "2026-03-02T07:00:00+00:00"]
    assert [h["target"] for h in hours] == [1800, 900]
    assert [h["actual"] for h in hours] == [1500, 0]
    assert [h["stopped_s"] for h in hours] == [0, 600]


def test_naive_datetimes_are_refused(build: Any) -> None:
    with pytest.raises(ValueError, match="aware"):
        compute_oee([], build.config(), start=datetime(2026, 3, 2))


# --- period and TEEP ------------------------------------------------------------------


def test_teep_uses_the_reported_period_as_all_time(build: Any) -> None:
    config = build.config(ideal_cycle_s=1.0, shifts=ONE_SHIFT)
    t = DAY + 7 * H
    events = [StateEvent(t, "running")] + [PartEvent(t + i * 2 * S) for i in range(1800)]
    report = compute_oee(events, config, start=DAY, end=DAY + 24 * H, observed_until=t + H)
    assert report.all_time_s == 24 * 3600
    assert report.teep == pytest.approx(1800 / 86400)
    (shift,) = report.shifts
    assert shift.planned_s == pytest.approx(3600)  # coverage, not the period, bounds it
    assert report.teep == pytest.approx(report.total.oee * shift.planned_s / 86400)
    # without a period: first event to the last covered instant
    bare = compute_oee(events, config, observed_until=t + H)
    assert bare.all_time_s == pytest.approx(3600)
    assert bare.teep == pytest.approx(bare.total.oee)


def test_a_period_cuts_shifts_and_parts(build: Any) -> None:
    config = build.config(shifts=ONE_SHIFT)
    t = DAY + 6 * H
    events = [StateEvent(t, "running")] + [PartEvent(t + i * 10 * S) for i in range(8 * 360)]
    report = compute_oee(events, config, start=t + H, end=t + 2 * H, observed_until=t + 8 * H)
    (shift,) = report.shifts
    assert shift.planned_s == pytest.approx(3600) and shift.total == 360
    assert shift.measured_from == (t + H).timestamp()


def test_observed_until_before_the_last_event_changes_nothing(build: Any) -> None:
    config = build.config(shifts=ONE_SHIFT)
    t = DAY + 7 * H
    events = [StateEvent(t, "running"), PartEvent(t + H)]
    early = compute_oee(events, config, observed_until=t + 10 * M)
    assert early.shifts[0].run_s == pytest.approx(3600)
