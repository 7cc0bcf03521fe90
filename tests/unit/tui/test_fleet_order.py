"""The fleet table: the worst line is the first thing on screen, whatever arrives when."""

from __future__ import annotations

import random
from dataclasses import replace

from textual.widgets import DataTable

from tui.app import OeeApp
from tui.model import FleetRow, Times, worst_first
from tui.sample import sample_clock


def fleet(n: int, seed: int) -> list[FleetRow]:
    rng = random.Random(seed)
    return [
        FleetRow(
            site=f"site-{i % 4}",
            area=f"area-{i % 10}",
            line=f"line-{i:03d}",
            state="running",
            oee=round(rng.uniform(0.12, 0.95), 4),
            online=True,
        )
        for i in range(n)
    ]


def top_key(table: DataTable) -> str:
    return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)


async def test_200_lines_in_random_order_keep_the_worst_on_top() -> None:
    app = OeeApp(clock=sample_clock())
    rows = fleet(200, seed=5)
    async with app.run_test(size=(100, 30)) as pilot:
        app.switch_mode("fleet")
        app.broker = "connected"
        await pilot.pause()
        table = app.screen.query_one("#fleet", DataTable)
        arrived: dict[str, FleetRow] = {}
        order = list(range(200))
        random.Random(9).shuffle(order)
        for batch in range(0, 200, 17):  # arrivals, a few at a time, in random order
            for i in order[batch : batch + 17]:
                arrived[rows[i].key] = rows[i]
            app.fleet = tuple(worst_first(arrived.values()))
            await pilot.pause()
            worst = app.fleet[0].key
            assert str(table.ordered_rows[0].key.value) == worst
            assert table.cursor_row == 0 and table.scroll_y == 0, f"after {len(arrived)} lines"
        # a line that drops to 6.1 % comes to the top, on screen
        dropped = replace(rows[150], oee=0.061)
        arrived[dropped.key] = dropped
        app.fleet = tuple(worst_first(arrived.values()))
        await pilot.pause()
        assert top_key(table) == dropped.key and table.scroll_y == 0

        # the supervisor moves down: their line stays selected through updates
        for _ in range(40):
            await pilot.press("down")
        await pilot.pause()
        mine = top_key(table)
        assert table.cursor_row == 40
        for step in range(5):
            changed = {
                k: replace(r, oee=(r.oee or 0) * (0.9 + step / 50)) for k, r in arrived.items()
            }
            arrived = changed
            app.fleet = tuple(worst_first(arrived.values()))
            await pilot.pause()
            assert top_key(table) == mine
        # back at the top, the table follows the worst line again
        await pilot.press("ctrl+home")
        await pilot.pause()
        worse = replace(rows[7], oee=0.01)
        arrived[worse.key] = worse
        app.fleet = tuple(worst_first(arrived.values()))
        await pilot.pause()
        assert top_key(table) == worse.key and table.scroll_y == 0


def line_row(
    site: str,
    area: str,
    line: str,
    planned: float,
    run: float,
    p: float,
    q: float,
    total: int,
    good: int,
    state: str = "running",
) -> FleetRow:
    return FleetRow(
        site=site,
        area=area,
        line=line,
        state=state,
        oee=run / planned * p * q,
        availability=run / planned,
        performance=p,
        quality=q,
        online=True,
        times=Times(planned, run, run * p, run * p * q, total, good),
    )


def test_rollups_sum_times_and_counts_never_average_percentages() -> None:
    from tui.model import rollup

    # a line that ran all shift well, and one that ran ten minutes badly
    big = line_row(
        "s", "press", "p1", planned=28800, run=27000, p=0.9, q=0.98, total=30375, good=29767
    )
    small = line_row("s", "press", "p2", planned=600, run=300, p=0.5, q=0.8, total=150, good=120)
    area = rollup([big, small], "s", "press")
    # by hand: planned 29400, run 27300, net 24300 + 150 = 24450, fully 23814 + 120 = 23934
    assert area.availability == 27300 / 29400
    assert area.performance == 24450 / 27300
    assert area.quality == 23934 / 24450
    assert area.oee == 23934 / 29400  # 0.8141, where the average of the two OEEs is 0.52
    assert abs(area.oee - area.availability * area.performance * area.quality) < 1e-12
    assert (area.times.total, area.times.good, area.lines, area.stopped) == (30525, 29887, 2, 0)
    assert area.key == "s/press" and rollup([big, small], "s").key == "s"


def test_grouped_sites_areas_lines_each_worst_first() -> None:
    from tui.model import grouped

    rows = [
        line_row("a", "x", "a1", 100, 90, 0.9, 1.0, 10, 10),
        line_row("a", "y", "a2", 100, 50, 0.9, 1.0, 10, 10),
        line_row("b", "z", "b1", 100, 20, 0.5, 1.0, 10, 10, state="stopped"),
        line_row("a", "y", "a3", 100, 80, 0.9, 1.0, 10, 10),
    ]
    keys = [r.key for r in grouped(rows)]
    assert keys == ["b", "b/z", "b/z/b1", "a", "a/y", "a/y/a2", "a/y/a3", "a/x", "a/x/a1"]
    folded = [r.key for r in grouped(rows, frozenset({"a/y", "b"}))]
    assert folded == ["b", "a", "a/y", "a/x", "a/x/a1"]


async def test_the_grouped_view_folds_and_opens_lines() -> None:
    app = OeeApp(clock=sample_clock())
    rows = fleet(30, seed=3)
    async with app.run_test(size=(120, 40)) as pilot:
        app.switch_mode("fleet")
        app.broker = "connected"
        app.fleet = tuple(worst_first(rows))
        await pilot.pause()
        table = app.screen.query_one("#fleet", DataTable)
        await pilot.press("g")
        await pilot.pause()
        order = [str(r.key.value) for r in table.ordered_rows]
        from tui.model import grouped

        assert order == [r.key for r in grouped(app.fleet)]
        assert order[0].count("/") == 0 and table.cursor_row == 0  # the worst site on top
        site = order[0]
        await pilot.press("enter")  # fold the site
        await pilot.pause()
        order = [str(r.key.value) for r in table.ordered_rows]
        assert order[0] == site and not any(k.startswith(site + "/") for k in order)
        await pilot.press("enter")  # and open it again
        await pilot.pause()
        assert any(str(r.key.value).startswith(site + "/") for r in table.ordered_rows)
        await pilot.press("g")  # back to the lines alone, worst first
        await pilot.pause()
        assert [str(r.key.value) for r in table.ordered_rows] == [r.key for r in app.fleet]
