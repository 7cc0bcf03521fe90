"""Property tests: the OEE arithmetic holds for any event log, calendar and period."""

from __future__ import annotations

import os
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.events import PartEvent, StateEvent
from agent.oee import OeeReport, ShiftOee, Tally, compute_oee

CALENDARS = [
    [],
    [{"name": "A", "start": "06:00", "end": "14:00", "breaks": [["09:00", "09:15"]]}],
    [
        {"name": "early", "start": "06:00", "end": "14:00", "breaks": [["10:00", "10:30"]]},
        {"name": "late", "start": "14:00", "end": "22:00", "breaks": [["18:00", "18:30"]]},
        {
            "name": "night",
            "start": "22:00",
            "end": "06:00",
            "breaks": [["23:45", "00:15"], ["02:00", "02:30"]],
        },
    ],
]
REASONS = [
    {"code": "clean", "loss": "planned"},
    {"code": "jam", "loss": "small_stop"},
    {"code": "slow", "loss": "reduced_speed"},
    {"code": "fault", "loss": "breakdown"},
    {"code": "change", "loss": "setup"},
]
# Around the Berlin spring-forward night, so DST is exercised too.
ORIGIN = datetime(2026, 3, 28, 18, tzinfo=UTC)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    segments = draw(
        st.lists(
            st.tuples(
                st.integers(0, 4 * 3600 * 4).map(lambda q: q / 4),  # quarter seconds
                st.sampled_from(["running", "running", "stopped", "no_data"]),
                st.sampled_from([None, "starved", "unknown", *(r["code"] for r in REASONS)]),
            ),
            min_size=1,
            max_size=12,
        )
    )
    span = sum(s[0] for s in segments)
    parts = draw(
        st.lists(
            st.tuples(st.floats(0, max(span, 1.0)), st.booleans()),
            max_size=60,
        )
    )
    return {
        "segments": segments,
        "parts": parts,
        "calendar": draw(st.sampled_from(CALENDARS)),
        "zone": draw(st.sampled_from(["UTC", "Europe/Berlin", "America/Chicago"])),
        "micro": draw(st.sampled_from([0, 30, 120, 900])),
        "ideal": draw(st.sampled_from([0.5, 1.0, 7.3, 60.0])),
        "extra": draw(st.sampled_from([0.0, 0.0, 1800.0])),
        "split": draw(st.floats(0, 1)),
    }


def build_case(build: Any, sc: dict[str, Any]) -> tuple[list[Any], Any, datetime, datetime]:
    config = build.config(
        ideal_cycle_s=sc["ideal"],
        shifts=sc["calendar"],
        reasons=REASONS,
        micro_stop_max_s=sc["micro"],
        timezone=sc["zone"],
    )
    events: list[Any] = []
    t = 0.0
    for length, state, reason in sc["segments"]:
        events.append(
            StateEvent(ORIGIN + timedelta(seconds=t), state, reason if state == "stopped" else None)
        )
        t += length
    events += [PartEvent(ORIGIN + timedelta(seconds=x), good=g) for x, g in sc["parts"]]
    events = build.merge(events)
    last = max(events[-1].ts, ORIGIN + timedelta(seconds=t))
    observed_until = last + timedelta(seconds=sc["extra"])
    return events, config, ORIGIN, observed_until


def every_object(report: OeeReport) -> list[ShiftOee]:
    return [*report.shifts, report.total]


def check_invariants(report: OeeReport) -> None:
    for shift in every_object(report):
        t = shift.tally
        for f in fields(Tally):
            assert getattr(t, f.name) >= 0, f"negative {f.name}"
        assert t.good <= t.total
        assert all(v >= 0 for v in shift.losses.values()), shift.losses
        for hour in shift.hourly:
            assert all(getattr(hour.tally, f.name) >= 0 for f in fields(Tally))
            assert hour.target >= 0
        # run + downtime = planned; planned + planned stops + no data = the window
        assert t.run_s + t.downtime_s == pytest.approx(t.planned_s)
        assert t.small_stop_s <= t.run_s + 1e-6
        if shift.shift != "total":
            window = shift.measured_to - shift.measured_from
            assert window >= 0
            assert t.planned_s + t.planned_stop_s + t.no_data_s == pytest.approx(window, abs=1e-6)
            hours = sum((h.tally for h in shift.hourly), Tally())
            assert hours.total == t.total and hours.good == t.good
            assert hours.planned_s == pytest.approx(t.planned_s, abs=1e-6)
            assert hours.no_data_s == pytest.approx(t.no_data_s, abs=1e-6)
        # OEE = A x P x Q = good x ideal / planned
        if t.planned_s > 0:
            assert shift.oee == pytest.approx(t.good * shift.ideal_cycle_s / t.planned_s)
        else:
            assert shift.oee is None and shift.availability is None
        a, p, q = shift.availability, shift.performance, shift.quality
        if a is not None and p is not None and q is not None:
            assert shift.oee == pytest.approx(a * p * q)
    total = sum((s.tally for s in report.shifts), Tally())
    for f in fields(Tally):
        assert getattr(report.total.tally, f.name) == pytest.approx(getattr(total, f.name))
    if report.teep is not None and report.total.oee is not None:
        assert report.teep == pytest.approx(
            report.total.oee * report.total.planned_s / report.all_time_s
        )


SETTINGS = settings(
    # OEE_PROPERTY_EXAMPLES=5000 for a longer hunt; the default keeps the suite fast
    max_examples=int(os.environ.get("OEE_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(sc=scenarios())
def test_invariants_hold_for_any_log(build: Any, sc: dict[str, Any]) -> None:
    events, config, _, until = build_case(build, sc)
    report = compute_oee(events, config, observed_until=until)
    check_invariants(report)
    # the JSON form never holds a negative duration either
    out = report.to_json()
    for obj in [*out["shifts"], out["total"]]:
        for key, value in obj.items():
            if key.endswith("_s"):
                assert value >= 0, key
        assert all(v >= 0 for v in obj["losses"].values())


@SETTINGS
@given(sc=scenarios())
def test_splitting_a_period_anywhere_and_combining_gives_the_whole(
    build: Any, sc: dict[str, Any]
) -> None:
    events, config, first, until = build_case(build, sc)
    span = (until - first).total_seconds()
    cut = first + timedelta(seconds=span * sc["split"])
    whole = compute_oee(events, config, start=first, end=until, observed_until=until)
    before = compute_oee(events, config, start=first, end=cut, observed_until=until)
    after = compute_oee(events, config, start=cut, end=until, observed_until=until)
    for part in (whole, before, after):
        check_invariants(part)
    combined = before.total.tally + after.total.tally
    for f in fields(Tally):
        expected = getattr(whole.total.tally, f.name)
        got = getattr(combined, f.name)
        if f.type == "int":
            assert got == expected, f.name
        else:
            assert got == pytest.approx(expected, abs=1e-6), f.name
