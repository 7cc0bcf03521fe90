"""The shift's stops: longest first or by time; assign a reason code with the keyboard."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Static

from tui.model import LineSnapshot, Stop, duration, percent
from tui.screens.base import LineScreen
from tui.screens.reason import ReasonPicker

SUMMARY_LOSSES = (
    ("breakdowns", "breakdown"),
    ("setup", "setup"),
    ("no reason", "unassigned"),
    ("small stops", "small_stop"),
)


class StopsScreen(LineScreen):
    """A table of stops; `a` or enter assigns the selected stop's reason."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "assign", "Reason"),
        Binding("o", "toggle_order", "Order"),
    ]

    longest_first = True

    class ReasonChosen(Message):
        """The supervisor chose reason code `reason` for stop `stop_id`."""

        def __init__(self, stop_id: str, reason: str) -> None:
            super().__init__()
            self.stop_id = stop_id
            self.reason = reason

    def body(self) -> ComposeResult:
        """Summary line and the table."""
        yield Static(id="stops-summary")
        yield DataTable(id="stops", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        """Columns, then follow the line."""
        self.query_one("#stops", DataTable).add_columns(
            "start", "end", "duration", "state", "reason"
        )
        super().on_mount()

    def ordered(self, snap: LineSnapshot) -> list[Stop]:
        """The stops in the chosen order."""
        if self.longest_first:
            return sorted(snap.stops, key=lambda s: (-s.seconds(snap.now), s.start))
        return sorted(snap.stops, key=lambda s: s.start, reverse=True)

    def show(self, snap: LineSnapshot) -> None:
        """Redraw the summary and the table, keeping the selected stop selected."""
        shift = snap.shift or {}
        losses = shift.get("losses") or {}
        booked = "  ".join(
            f"{label} [b]{duration(float(losses.get(key) or 0))}[/]"
            for label, key in SUMMARY_LOSSES
        )
        order = "longest first" if self.longest_first else "latest first"
        self.query_one("#stops-summary", Static).update(
            f"[b]{len(snap.stops)}[/] stops ({order}) · OEE [b]{percent(shift.get('oee'))}[/] %"
            f"  A [b]{percent(shift.get('availability'))}[/] %\n{booked}"
        )
        table = self.query_one("#stops", DataTable)
        selected = _selected_key(table)
        table.clear()
        for stop in self.ordered(snap):
            table.add_row(
                snap.local(stop.start).strftime("%H:%M:%S"),
                snap.local(stop.end).strftime("%H:%M:%S") if stop.end else "open",
                duration(stop.seconds(snap.now)),
                stop.state,
                escape(stop.reason or "—"),
                key=stop.id,
            )
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a stop assigns its reason."""
        event.stop()
        self.action_assign()

    def action_toggle_order(self) -> None:
        """Longest first <-> latest first."""
        self.longest_first = not self.longest_first
        if self.snap is not None:
            self.show(self.snap)

    def action_assign(self) -> None:
        """Pick a reason for the selected stop."""
        snap = self.snap
        table = self.query_one("#stops", DataTable)
        stop_id = _selected_key(table)
        if snap is None or stop_id is None:
            self.notify("no stop selected", severity="warning")
            return
        stop = next(s for s in snap.stops if s.id == stop_id)

        def chosen(code: str | None) -> None:
            if code:
                self.post_message(self.ReasonChosen(stop.id, code))

        self.app.push_screen(ReasonPicker(stop, snap, self.settings.graphics), chosen)


def _selected_key(table: DataTable[object]) -> str | None:
    if table.row_count == 0:
        return None
    try:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    except Exception:  # cursor outside the rows while the table is being refilled
        return None
    return key.value
