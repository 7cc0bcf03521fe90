"""The fleet: every line under `oee/#` in one table, worst first; enter opens a line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui.model import FleetRow, Targets, duration, grade, percent
from tui.widgets.banner import AlertBanner

if TYPE_CHECKING:
    from tui.app import OeeApp

GRADE_STYLE = {"good": "green", "warn": "yellow", "bad": "bold red", "none": "dim"}


class FleetScreen(Screen[None]):
    """One row per line: site, area, line, state, OEE, A, P, Q, since."""

    def compose(self) -> ComposeResult:
        """Header, banner, summary, table, footer."""
        yield Header()
        yield AlertBanner(classes="alert")
        yield Static(id="fleet-summary")
        yield DataTable(id="fleet", cursor_type="row", zebra_stripes=True)
        yield Footer()

    @property
    def oee_app(self) -> OeeApp:
        """The app, typed."""
        return cast("OeeApp", self.app)

    def on_mount(self) -> None:
        """Columns, then follow the fleet."""
        self.query_one("#fleet", DataTable).add_columns(
            "site", "area", "line", "state", "OEE", "A", "P", "Q", "since"
        )
        self.watch(self.app, "fleet", self._show, init=True)

    def _show(self, rows: tuple[FleetRow, ...]) -> None:
        app = self.oee_app
        summary = self.query_one("#fleet-summary", Static)
        if app.feed is None:
            summary.update("The fleet comes from MQTT: start with --mqtt HOST[:PORT].")
            return
        stopped = sum(1 for r in rows if r.state == "stopped")
        gone = sum(1 for r in rows if r.stale or r.online is False)
        link = "" if app.feed.connected.is_set() else "  [reverse red] BROKER LOST [/]"
        summary.update(
            f"[b]{len(rows)}[/] lines · [red]{stopped} stopped[/] · "
            f"[yellow]{gone} stale/offline[/] · worst first{link}"
        )
        table = self.query_one("#fleet", DataTable)
        selected = None
        if table.row_count:
            selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        now = app.clock.wall()
        table.clear()
        for row in rows:
            table.add_row(*fleet_cells(row, app.targets, now), key=row.key)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open the line on the line screens."""
        if event.row_key.value:
            self.oee_app.open_line(event.row_key.value)


def fleet_cells(row: FleetRow, targets: Targets, now: datetime) -> list[Text | str]:
    """The table cells of one line, coloured against the targets."""
    if row.online is False:
        state = Text("offline", style="reverse red")
    elif row.stale:
        state = Text(f"{row.state} STALE", style="reverse yellow")
    else:
        colour = {"running": "green", "stopped": "bold red", "no_data": "yellow"}
        state = Text(row.state, style=colour.get(row.state, "dim"))
    cells: list[Text | str] = [row.site, row.area, row.line, state]
    for metric in ("oee", "availability", "performance", "quality"):
        value = getattr(row, metric)
        style = GRADE_STYLE[grade(value, targets.get(metric))]
        cells.append(Text(percent(value), style=style, justify="right"))
    since = "-"
    if row.since is not None:
        since = duration((now - row.since.astimezone(UTC)).total_seconds())
    cells.append(since)
    return cells
