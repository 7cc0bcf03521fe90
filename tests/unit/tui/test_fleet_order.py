"""The fleet table: the worst line is the first thing on screen, whatever arrives when."""

from __future__ import annotations

import random
from dataclasses import replace

from textual.widgets import DataTable

from tui.app import OeeApp
from tui.model import FleetRow, worst_first
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
