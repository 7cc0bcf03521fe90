"""The fleet: every line under `oee/#` in one table, worst first; enter opens a line."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui.model import FleetRow, Targets, grade, percent
from tui.settings import Settings
from tui.widgets.banner import AlertBanner

COLUMNS = ("site", "area", "line", "state", "OEE", "A", "P", "Q", "since")
GRADE_STYLE = {"good": "green", "warn": "yellow", "bad": "bold red", "none": "dim"}


class FleetScreen(Screen[None]):
    """One row per line: site, area, line, state, OEE, A, P, Q, since.

    Follows the app's `fleet` rows and `broker` status; enter posts `LineChosen`.
    """

    class LineChosen(Message):
        """The supervisor opened line `key` (`site/area/line`)."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self._cells: dict[str, list[Text | str]] = {}
        self._rows: tuple[FleetRow, ...] = ()
        self._broker = ""

    def compose(self) -> ComposeResult:
        """Header, banner, summary, table, footer."""
        yield Header()
        yield AlertBanner(classes="alert")
        yield Static(id="fleet-summary")
        yield DataTable(id="fleet", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Columns, then follow the fleet."""
        table = self.query_one("#fleet", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        self.watch(self.app, "broker", self._broker_changed, init=True)
        self.watch(self.app, "fleet", self._fleet_changed, init=True)

    def _broker_changed(self, broker: str) -> None:
        self._broker = broker
        self._show(self._rows)

    def _fleet_changed(self, rows: tuple[FleetRow, ...]) -> None:
        self._rows = rows
        self._show(rows)

    def _show(self, rows: tuple[FleetRow, ...]) -> None:
        broker = self._broker
        summary = self.query_one("#fleet-summary", Static)
        if not broker:
            summary.update("The fleet comes from MQTT: start with --mqtt HOST[:PORT].")
            return
        stopped = sum(1 for r in rows if r.state == "stopped")
        gone = sum(1 for r in rows if r.stale or r.online is False)
        link = "" if broker == "connected" else "  [reverse red] BROKER LOST [/]"
        summary.update(
            f"[b]{len(rows)}[/] lines · [red]{stopped} stopped[/] · "
            f"[yellow]{gone} stale/offline[/] · worst first{link}"
        )
        self._update_table(rows)

    def _update_table(self, rows: tuple[FleetRow, ...]) -> None:
        """Change only the cells that changed, then re-sort: cheap with hundreds of lines."""
        table = self.query_one("#fleet", DataTable)
        now = self.settings.clock.wall()
        wanted = {row.key for row in rows}
        for key in [k for k in self._cells if k not in wanted]:
            table.remove_row(key)
            del self._cells[key]
        for row in rows:
            cells = fleet_cells(row, self.settings.targets, now)
            old = self._cells.get(row.key)
            if old is None:
                table.add_row(*cells, key=row.key)
            else:
                for column, before, after in zip(COLUMNS, old, cells, strict=True):
                    if before != after:
                        table.update_cell(row.key, column, after)
            self._cells[row.key] = cells
        rank = {row.key: i for i, row in enumerate(rows)}
        if _order(table) != list(rank):
            selected = _order(table)[table.cursor_row] if table.row_count else None
            table.sort("site", "area", "line", key=lambda v: rank["/".join(map(str, v))])
            if selected is not None and selected in rank:
                table.move_cursor(row=table.get_row_index(selected), animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open the line on the line screens."""
        if event.row_key.value:
            self.post_message(self.LineChosen(event.row_key.value))


def fleet_cells(
    row: FleetRow, targets: Targets, now: datetime, tz: tzinfo = UTC
) -> list[Text | str]:
    """The table cells of one line, coloured against the targets."""
    if row.online is False:
        state = Text("offline", style="reverse red")
    elif row.stale:
        state = Text(f"{row.state} STALE", style="reverse yellow")
    else:
        colour = {"running": "green", "stopped": "bold red", "no_data": "yellow"}
        state = Text(row.state, style=colour.get(row.state, "dim"))
    cells: list[Text | str] = [Text(row.site), Text(row.area), Text(row.line), state]
    for metric in ("oee", "availability", "performance", "quality"):
        value = getattr(row, metric)
        style = GRADE_STYLE[grade(value, targets.get(metric))]
        cells.append(Text(percent(value), style=style, justify="right"))
    # an absolute time: it does not change every second, so a quiet row is not redrawn
    since = "-"
    if row.since is not None:
        local = row.since.astimezone(tz)
        since = f"{local:%H:%M}" if local.date() == now.astimezone(tz).date() else f"{local:%m-%d}"
    cells.append(since)
    return cells


def _order(table: DataTable[object]) -> list[str | None]:
    """Row keys in display order."""
    return [row.key.value for row in table.ordered_rows]
