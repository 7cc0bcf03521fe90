"""Worked OEE examples published outside this project, rebuilt as event logs.

Each example's inputs become a programmatic event log (states and parts); the engine's
figures must match the published ones to 0.01 percentage points (|diff| <= 0.0001 as a
ratio). Where a source prints rounded percentages, the test also checks the engine's
value rounds to the printed figure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.oee import compute_oee

PP = 1e-4  # 0.01 percentage points, as a ratio


def close(value: float | None, published: float) -> bool:
    return value is not None and abs(value - published) <= PP


def test_oee_com_calculating_oee_worked_example(build: Any) -> None:
    """oee.com, "OEE Calculation" / "Calculating OEE", the worked example.

    Source: https://www.oee.com/calculating-oee/ (Vorne Industries). Shift length
    8 h = 480 min; short breaks 2 x 15 min; meal break 1 x 30 min; down time 47 min;
    ideal cycle time 1.0 s; total count 19,271; good count 18,848. Published:
    planned production time 420 min, run time 373 min, Availability 88.81 %,
    Performance 86.11 %, Quality 97.80 %, OEE 74.79 %.
    """
    config = build.config(
        ideal_cycle_s=1.0,
        shifts=[
            {
                "name": "A",
                "start": "06:00",
                "end": "14:00",
                "breaks": [["08:00", "08:15"], ["10:00", "10:30"], ["12:00", "12:15"]],
            }
        ],
    )
    day = datetime(2026, 3, 2, tzinfo=UTC)

    def at(hhmm: str) -> datetime:
        h, m = map(int, hhmm.split(":"))
        return day + timedelta(hours=h, minutes=m)

    # 47 minutes of unplanned stop, the line running the rest of the planned time
    log_states = build.states(
        (at("06:00"), "running"), (at("07:00"), "stopped"), (at("07:47"), "running")
    )
    running = [
        (at("06:00"), at("07:00")),
        (at("07:47"), at("08:00")),
        (at("08:15"), at("10:00")),
        (at("10:30"), at("12:00")),
        (at("12:15"), at("14:00")),
    ]
    parts = build.parts(running, 19_271, 18_848)
    report = compute_oee(build.merge(log_states, parts), config, observed_until=at("14:00"))

    (shift,) = report.shifts
    assert shift.planned_s == pytest.approx(420 * 60)
    assert shift.run_s == pytest.approx(373 * 60)
    assert shift.downtime_s == pytest.approx(47 * 60)
    assert (shift.total, shift.good) == (19_271, 18_848)
    assert close(shift.availability, 0.8881)
    assert close(shift.performance, 0.8611)
    assert close(shift.quality, 0.9780)
    assert close(shift.oee, 0.7479)
    # the same figures as the contract's example output
    out = report.to_json()["shifts"][0]
    assert (out["availability"], out["performance"], out["quality"], out["oee"]) == (
        0.8881,
        0.8611,
        0.978,
        0.7479,
    )
    assert out["losses"]["unassigned"] == 2820 and out["losses"]["defects"] == 423
    # TEEP over the 8 h the events cover: OEE x 420/480
    assert report.to_json()["total"]["teep"] == 0.6544


def test_wikipedia_overall_equipment_effectiveness_example(build: Any) -> None:
    """Wikipedia, "Overall equipment effectiveness", section "Example".

    Source: https://en.wikipedia.org/wiki/Overall_equipment_effectiveness. An 8-hour
    (480 min) shift with a scheduled 30-minute break and 60 minutes of unscheduled
    downtime; 242 units made at a standard rate of 40 units/hour (1.5 min each);
    21 defective. Published: scheduled time 450 min, available time 390 min,
    Availability 86.7 %, Performance 93.1 %, Quality 91.3 %, OEE 73.7 %.
    """
    config = build.config(
        ideal_cycle_s=90.0,
        shifts=[{"name": "day", "start": "07:00", "end": "15:00", "breaks": [["11:00", "11:30"]]}],
    )
    t = datetime(2026, 6, 15, 7, tzinfo=UTC)
    h = timedelta(hours=1)
    log_states = build.states((t, "running"), (t + 2 * h, "stopped", "jam"), (t + 3 * h, "running"))
    running = [(t, t + 2 * h), (t + 3 * h, t + 4 * h), (t + 4.5 * h, t + 8 * h)]
    parts = build.parts(running, 242, 242 - 21)
    report = compute_oee(build.merge(log_states, parts), config, observed_until=t + 8 * h)

    (shift,) = report.shifts
    assert shift.planned_s == pytest.approx(450 * 60)
    assert shift.run_s == pytest.approx(390 * 60)
    # the exact ratios of the published inputs, to 0.01 pp ...
    assert close(shift.availability, 390 / 450)
    assert close(shift.performance, 242 * 1.5 / 390)
    assert close(shift.quality, 221 / 242)
    assert close(shift.oee, 221 * 1.5 / 450)
    # ... which round to the printed figures
    assert [round(x * 100, 1) for x in (shift.availability, shift.performance)] == [86.7, 93.1]
    assert [round(x * 100, 1) for x in (shift.quality, shift.oee)] == [91.3, 73.7]
    # an unknown reason code books the downtime as unassigned
    assert shift.losses["unassigned"] == pytest.approx(3600)


def test_mobley_world_class_maintenance_table_18_2(build: Any) -> None:
    """R. Keith Mobley, "An Introduction to Predictive Maintenance" (2nd ed.,
    Butterworth-Heinemann 2002), ch. 18 "World-Class Maintenance", Table 18-2.

    15 shifts of 8 h (7,200 min planned time available); planned downtime 250 min
    (preventive maintenance, lunch, breaks); downtime losses 695 min (breakdowns,
    setups, adjustments); 54,516 units; design cycle time 0.109 min/unit; 545
    rejects. Published: net available run time 6,950 min, actual operating time
    6,255 min, Availability 90 %, Operational efficiency 95 %, Quality 99 %, OEE 85 %.

    Here the planned downtime is a stop with a `planned` reason and the losses are
    breakdowns, 1/15 of each in every shift, so the total over 15 days is checked.
    """
    config = build.config(
        ideal_cycle_s=0.109 * 60,
        shifts=[{"name": "press", "start": "06:00", "end": "14:00"}],
        reasons=[
            {"code": "pm", "loss": "planned"},
            {"code": "breakdown", "loss": "breakdown"},
        ],
    )
    planned_stop = 250 * 60 / 15
    breakdown = 695 * 60 / 15
    logs = []
    for day in range(15):
        t = datetime(2026, 3, 2, 6, tzinfo=UTC) + timedelta(days=day)
        a = t + timedelta(hours=1)
        b = a + timedelta(seconds=planned_stop)
        c = t + timedelta(hours=4)
        d = c + timedelta(seconds=breakdown)
        end = t + timedelta(hours=8)
        total = 3635 if day < 6 else 3634  # 54,516 units in all
        rejects = 37 if day < 5 else 36  # 545 rejects in all
        logs += build.states(
            (t, "running"),
            (a, "stopped", "pm"),
            (b, "running"),
            (c, "stopped", "breakdown"),
            (d, "running"),
            (end, "no_data"),  # the camera goes dark between shifts
        )
        logs += build.parts([(t, a), (b, c), (d, end)], total, total - rejects)
    report = compute_oee(build.merge(logs), config)

    assert len(report.shifts) == 15
    total = report.total
    assert total.planned_s == pytest.approx(6950 * 60)
    assert total.run_s == pytest.approx(6255 * 60)
    assert total.planned_stop_s == pytest.approx(250 * 60)
    assert (total.total, total.good) == (54_516, 54_516 - 545)
    assert close(total.availability, 6255 / 6950)
    assert close(total.performance, 0.109 * 54_516 / 6255)
    assert close(total.quality, (54_516 - 545) / 54_516)
    assert close(total.oee, (54_516 - 545) * 0.109 / 6950)
    assert [round(x * 100) for x in (total.availability, total.performance)] == [90, 95]
    assert [round(x * 100) for x in (total.quality, total.oee)] == [99, 85]
    assert total.losses["breakdown"] == pytest.approx(695 * 60)
