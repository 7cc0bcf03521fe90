"""The fleet: every line under `oee/#` in one table, worst first; enter opens a line.

`g` groups the lines by site and area, each with its rollup row (times and counts
summed, ratios from the sums); enter on a rollup row folds or unfolds it.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui.model import FleetRow, Targets, grade, grouped, percent
from tui.settings import Settings
from tui.widgets.banner import AlertBanner

COLUMNS = ("site", "area", "line", "state", "OEE", "A", "P", "Q", "since")
GRADE_STYLE = {"good": "green", "warn": "yellow", "bad": "bold red", "none": "dim"}


class FleetScreen(Screen[None]):
    """One row per line: site, area, line, state, OEE, A, P, Q, since.

    Follows the app's `fleet` rows and `broker` status; enter posts `LineChosen`.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("g", "toggle_groups", "Areas")]

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
        #: The cursor stays on the top row (the worst line) until the supervisor moves it.
        self._follow_top = True
        #: The line our own last cursor move went to (its highlight is not the user's).
        self._placed: str | None = None
        #: Grouped by site and area (`g`), and the rollup rows folded shut.
        self._grouped = False
        self._collapsed: set[str] = set()

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
        shown = grouped(rows, frozenset(self._collapsed)) if self._grouped else list(rows)
        self._update_table(shown)

    def action_toggle_groups(self) -> None:
        """Lines alone, worst first <-> grouped by site and area with rollups."""
        self._grouped = not self._grouped
        self._follow_top = True
        self._show(self._rows)

    def _update_table(self, rows: list[FleetRow]) -> None:
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
        by_cells = {tuple(map(str, self._cells[row.key][:3])): i for i, row in enumerate(rows)}
        selected = _order(table)[table.cursor_row] if table.row_count else None
        if _order(table) != list(rank):
            table.sort("site", "area", "line", key=lambda v: by_cells[tuple(map(str, v))])
        if not table.row_count:
            return
        if self._follow_top or selected not in rank:
            # whatever arrives, in whatever order, the worst line is on screen, on top
            table.move_cursor(row=0, animate=False)
            table.scroll_home(animate=False, immediate=True)
        else:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        self._placed = _order(table)[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The supervisor moved the cursor: keep their line selected; at the top, follow it."""
        if event.cursor_row == 0:
            self._follow_top = True
        elif event.row_key.value != self._placed:
            self._follow_top = False

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open the line on the line screens."""
        key = event.row_key.value
        if not key:
            return
        if key.count("/") < 2:  # a site's or an area's rollup: fold or unfold it
            self._collapsed.symmetric_difference_update({key})
            self._show(self._rows)
            return
        self.post_message(self.LineChosen(key))


def fleet_cells(
    row: FleetRow, targets: Targets, now: datetime, tz: tzinfo = UTC
) -> list[Text | str]:
    """The table cells of one line (or rollup), coloured against the targets."""
    if not row.line:  # a site's or an area's rollup row
        return _rollup_cells(row, targets)
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


def _rollup_cells(row: FleetRow, targets: Targets) -> list[Text | str]:
    bold = "bold"
    if row.area:
        names = [Text(row.site, style="dim"), Text(f"▾ {row.area}", style=bold)]
    else:
        names = [Text(f"▾ {row.site}", style=bold), Text("")]
    names.append(Text(f"{row.lines} line{'s' if row.lines != 1 else ''}", style="dim"))
    state = Text(row.state, style="bold red" if row.stopped else "green")
    if row.stale:
        state.append(" STALE", style="reverse yellow")
    cells: list[Text | str] = [*names, state]
    for metric in ("oee", "availability", "performance", "quality"):
        value = getattr(row, metric)
        style = GRADE_STYLE[grade(value, targets.get(metric))] + " bold"
        cells.append(Text(percent(value), style=style, justify="right"))
    cells.append("-")
    return cells


def _order(table: DataTable[object]) -> list[str | None]:
    """Row keys in display order."""
    return [row.key.value for row in table.ordered_rows]
