"""Shift report: A, P, Q and OEE per shift, the six big losses as a Pareto, export."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from tui.export import shifts_csv, shifts_markdown
from tui.model import LineSnapshot, pareto, percent
from tui.screens.base import LineScreen
from tui.widgets.charts import ParetoChart


class ShiftsScreen(LineScreen):
    """Shifts (the one in progress on top) and the Pareto of the selected one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export('csv')", "CSV"),
        Binding("m", "export('md')", "Markdown"),
    ]

    def body(self) -> ComposeResult:
        """Table and Pareto."""
        yield DataTable(id="shifts", cursor_type="row", zebra_stripes=True)
        yield Static(id="pareto-title", classes="section")
        yield ParetoChart(id="pareto")

    def on_mount(self) -> None:
        """Columns, then follow the line."""
        self.query_one("#shifts", DataTable).add_columns(
            "date", "shift", "A %", "P %", "Q %", "OEE %", "good", "total"
        )
        super().on_mount()

    def show(self, snap: LineSnapshot) -> None:
        """Refill the table, keeping the cursor, and draw the selected shift's losses."""
        table = self.query_one("#shifts", DataTable)
        keep = table.cursor_row if table.row_count else 0
        table.clear()
        for i, s in enumerate(snap.shifts):
            table.add_row(
                escape(str(s.get("date", ""))),
                escape(str(s.get("shift", ""))),
                percent(s.get("availability")),
                percent(s.get("performance")),
                percent(s.get("quality")),
                percent(s.get("oee")),
                str(s.get("good", 0)),
                str(s.get("total", 0)),
                key=f"{i}",
            )
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1), animate=False)
        self._draw_pareto(snap)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Follow the cursor with the Pareto."""
        if self.snap is not None:
            self._draw_pareto(self.snap)

    def _draw_pareto(self, snap: LineSnapshot) -> None:
        table = self.query_one("#shifts", DataTable)
        if not snap.shifts:
            self.query_one("#pareto-title", Static).update("no shifts yet")
            self.query_one("#pareto", ParetoChart).show(())
            return
        shift = snap.shifts[min(table.cursor_row, len(snap.shifts) - 1)]
        self.query_one("#pareto-title", Static).update(
            f"Six big losses, shift {escape(str(shift.get('shift', '')))} "
            f"{escape(str(shift.get('date', '')))} (time)"
        )
        self.query_one("#pareto", ParetoChart).show(pareto(shift))

    def action_export(self, kind: str) -> None:
        """Write the shifts to a CSV or Markdown file in the export folder."""
        snap = self.snap
        if snap is None or not snap.shifts:
            self.notify("nothing to export yet", severity="warning")
            return
        text = (
            shifts_csv(snap.shifts)
            if kind == "csv"
            else shifts_markdown(snap.line, snap.shifts, snap.ideal_cycle_s)
        )
        self.write_export(f"oee-{snap.line}-{snap.local(snap.now):%Y%m%d-%H%M%S}.{kind}", text)
