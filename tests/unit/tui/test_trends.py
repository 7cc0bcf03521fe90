"""Trends over 14 days of stored shifts: the chart, the weeks (summed, never averaged),
their top losses, and the export."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable
from textual_plotext import PlotextPlot

from agent.events import PartEvent, StateEvent, new_id
from agent.store import Store
from tui.app import OeeApp
from tui.model import percent, weekly
from tui.sample import sample_clock
from tui.sources.store import StoreSource

CONFIG = """
[line]
id = "press-9"
site = "plant-b"
area = "press"
ideal_cycle_s = 30.0

[[shift]]
name = "A"
start = "06:00"
end = "14:00"

[[shift]]
name = "B"
start = "14:00"
end = "22:00"

[[reason]]
code = "changeover"
loss = "setup"
"""
DAY0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday: ISO weeks 10, 11 and a day of 12
DAYS = 15


@pytest.fixture(scope="module")
def fortnight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two shifts a day for 15 days, a part every 30-90 s, a stop or two per shift."""
    path = tmp_path_factory.mktemp("fortnight") / "line.db"
    rng = random.Random(14)
    items = []
    for day in range(DAYS):
        for start_h in (6, 14):
            t = DAY0 + timedelta(days=day, hours=start_h)
            end = t + timedelta(hours=8)
            items.append(StateEvent(t, "running", id=new_id()))
            while t < end - timedelta(minutes=5):
                t += timedelta(seconds=rng.uniform(30, 90))
                if rng.random() < 0.004:
                    reason = "changeover" if rng.random() < 0.5 else None
                    items.append(StateEvent(t, "stopped", reason, id=new_id()))
                    t += timedelta(minutes=rng.uniform(5, 40))
                    items.append(StateEvent(t, "running", id=new_id()))
                    continue
                items.append(PartEvent(t, rng.random() > 0.03, id=new_id()))
    with Store.open(path) as store:
        store.save_config(CONFIG)
        store.append_many([(e, ()) for e in items])
    return path


NOW = DAY0 + timedelta(days=DAYS - 1, hours=21, minutes=59)


def test_weeks_are_sums_of_their_shifts() -> None:
    a = {
        "date": "2026-03-02",
        "planned_s": 28800,
        "run_s": 27000,
        "performance": 0.5,
        "quality": 0.9,
        "total": 900,
        "good": 810,
        "losses": {"setup": 600, "defects": 2700},
    }
    b = {
        "date": "2026-03-08",
        "planned_s": 3600,
        "run_s": 900,
        "performance": 1.0,
        "quality": 0.5,
        "total": 60,
        "good": 30,
        "losses": {"setup": 2700, "breakdown": 10},
    }
    c = {
        "date": "2026-03-09",
        "planned_s": 100,
        "run_s": 100,
        "performance": 1.0,
        "quality": 1.0,
        "total": 5,
        "good": 5,
        "losses": {},
    }
    w10, w11 = weekly([c, a, b])
    assert (w10.week, w10.shifts, w11.week, w11.shifts) == ("2026-W10", 2, "2026-W11", 1)
    # by hand: planned 32400, run 27900, net 13500 + 900 = 14400, fully 12150 + 450
    assert w10.times.oee == 12600 / 32400
    assert w10.times.availability == 27900 / 32400
    assert w10.times.performance == 14400 / 27900
    assert w10.times.quality == 12600 / 14400
    assert (w10.times.total, w10.times.good) == (960, 840)
    assert w10.top_losses() == [("setup", 3300.0), ("defects", 2700.0), ("breakdown", 10.0)]


async def test_a_fortnight_of_shifts(fortnight, tmp_path) -> None:
    clock = sample_clock(NOW)
    app = OeeApp(line=StoreSource(fortnight, clock), clock=clock, export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(3):
            await pilot.pause()
            await app.workers.wait_for_complete()
        await pilot.press("7")
        await pilot.pause()
        snap = app.snapshot
        assert snap is not None and len(snap.shifts) == 2 * DAYS
        weeks = weekly(snap.shifts)
        assert [w.week for w in weeks] == ["2026-W10", "2026-W11", "2026-W12"]
        assert [w.shifts for w in weeks] == [14, 14, 2]
        table = app.screen.query_one("#weeks", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [r[0] for r in rows] == ["2026-W12", "2026-W11", "2026-W10"]  # newest on top
        for row, week in zip(rows, reversed(weeks), strict=True):
            assert row[5] == percent(week.times.oee)
            assert row[7] == str(week.times.total)
        plot = app.screen.query_one("#trend-plot", PlotextPlot)
        assert plot.size.height >= 10
        await pilot.press("e", "m")
        await pilot.pause()
    [csv_file] = tmp_path.glob("oee-press-9-weeks-*.csv")
    lines = list(csv.DictReader(csv_file.read_text().splitlines()))
    assert [r["week"] for r in lines] == ["2026-W10", "2026-W11", "2026-W12"]
    assert float(lines[0]["oee"]) == round(weeks[0].times.oee, 4)
    [md_file] = tmp_path.glob("oee-press-9-weeks-*.md")
    assert "| 2026-W11 | 14 |" in md_file.read_text()


def test_the_trends_screen(snap_compare, settle_then, fortnight, make_app):
    app = make_app(fortnight, clock=sample_clock(NOW))
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle_then("trends"))
