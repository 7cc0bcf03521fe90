"""Trends: OEE, A, P and Q per shift over days and weeks, and each week's top losses."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual_plotext import PlotextPlot

from tui.export import weeks_csv, weeks_markdown
from tui.model import LOSS_LABELS, LineSnapshot, duration, percent, weekly
from tui.screens.base import LineScreen

#: The series drawn, with the OEE object's key and the plot's colour.
SERIES = (
    ("OEE", "oee", "white"),
    ("A", "availability", "cyan"),
    ("P", "performance", "yellow"),
    ("Q", "quality", "green"),
)


class TrendsScreen(LineScreen):
    """A chart of every shift of the store, oldest left, and a table of its weeks."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export('csv')", "CSV"),
        Binding("m", "export('md')", "Markdown"),
    ]

    def body(self) -> ComposeResult:
        """Chart, then the weeks."""
        yield PlotextPlot(id="trend-plot")
        yield DataTable(id="weeks", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        """Columns, then follow the line."""
        self.query_one("#weeks", DataTable).add_columns(
            "week", "shifts", "A %", "P %", "Q %", "OEE %", "good", "total", "top losses"
        )
        super().on_mount()

    def show(self, snap: LineSnapshot) -> None:
        """Redraw the chart and the weeks for the line's shifts."""
        shifts = [s for s in reversed(snap.shifts) if s.get("planned_s")]
        plot = self.query_one("#trend-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.title(f"{snap.line}: OEE, A, P, Q per shift (%)")
        plt.ylim(0, 100)
        if shifts:
            xs = [float(i) for i in range(1, len(shifts) + 1)]
            for label, key, colour in SERIES:
                ys = [100 * float(s.get(key) or 0) for s in shifts]
                plt.plot(xs, ys, label=label, color=colour, marker="braille")
            labels = [f"{str(s.get('date', ''))[5:]} {s.get('shift', '')}" for s in shifts]
            step = max(1, len(shifts) // 6)
            plt.xticks(xs[::step], labels[::step])
        plot.refresh()
        table = self.query_one("#weeks", DataTable)
        table.clear()
        for week in reversed(weekly(snap.shifts)):
            t = week.times
            losses = ", ".join(
                f"{LOSS_LABELS[k].lower()} {duration(v)}" for k, v in week.top_losses()
            )
            table.add_row(
                week.week,
                str(week.shifts),
                percent(t.availability),
                percent(t.performance),
                percent(t.quality),
                percent(t.oee),
                str(t.good),
                str(t.total),
                escape(losses or "—"),
                key=week.week,
            )

    def action_export(self, kind: str) -> None:
        """Write the weeks to a CSV or Markdown file in the export folder."""
        snap = self.snap
        if snap is None or not snap.shifts:
            self.notify("nothing to export yet", severity="warning")
            return
        weeks = weekly(snap.shifts)
        text = weeks_csv(weeks) if kind == "csv" else weeks_markdown(snap.line, weeks)
        self.write_export(
            f"oee-{snap.line}-weeks-{snap.local(snap.now):%Y%m%d-%H%M%S}.{kind}", text
        )
