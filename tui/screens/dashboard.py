"""The line dashboard: how the line is doing now, at a glance."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from tui.model import LineSnapshot, duration
from tui.screens.base import LineScreen
from tui.widgets.charts import HourlyChart
from tui.widgets.metric import Metric

METRICS = (
    ("OEE", "oee"),
    ("Avail.", "availability"),
    ("Perf.", "performance"),
    ("Quality", "quality"),
)
LAST_STOPS = 8


class DashboardScreen(LineScreen):
    """OEE/A/P/Q, state, counts, target vs actual, hourly chart, the last stops.

    `[` and `]` step to the previous and the next shift of the store.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left_square_bracket", "step(1)", "Prev shift"),
        Binding("right_square_bracket", "step(-1)", "Next shift"),
    ]

    class StepShift(Message):
        """Show the shift `back` shifts older (negative: newer) than the one shown."""

        def __init__(self, back: int) -> None:
            super().__init__()
            self.back = back

    def action_step(self, back: int) -> None:
        """Ask for an older (1) or newer (-1) shift."""
        self.post_message(self.StepShift(back))

    def body(self) -> ComposeResult:
        """The dashboard's widgets."""
        with Horizontal(id="metrics"):
            for label, key in METRICS:
                yield Metric(label, key, id=f"m-{key}")
        yield Static(id="state-line")
        yield Static(id="count-line")
        with Horizontal(id="dash-lower"):
            with Vertical(id="hourly-box"):
                yield Static("Hourly: made / target, stopped", classes="section")
                yield HourlyChart(id="hourly")
            with Vertical(id="last-stops-box"):
                yield Static("Last stops", classes="section")
                yield DataTable(id="last-stops", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        """Columns, then follow the line."""
        table = self.query_one("#last-stops", DataTable)
        table.add_columns("start", "for", "reason")
        super().on_mount()

    def show(self, snap: LineSnapshot) -> None:
        """Update every widget in place."""
        targets = self.settings.targets
        shift = snap.shift or {}
        for _, key in METRICS:
            value = shift.get(key)
            metric = self.query_one(f"#m-{key}", Metric)
            metric.show(value if isinstance(value, int | float) else None, targets.get(key))
        self.query_one("#state-line", Static).update(_state_line(snap))
        self.query_one("#count-line", Static).update(_count_line(snap))
        self.query_one("#hourly", HourlyChart).show(snap.hourly, snap.tz)
        table = self.query_one("#last-stops", DataTable)
        table.clear()
        for stop in list(reversed(snap.stops))[:LAST_STOPS]:
            table.add_row(
                snap.local(stop.start).strftime("%H:%M:%S"),
                duration(stop.seconds(snap.now)) + ("…" if stop.end is None else ""),
                escape(stop.reason or "—"),
                key=stop.id,
            )


def _state_line(snap: LineSnapshot) -> str:
    if not snap.live:  # a finished shift: say when its data ends, never "running"
        ends = snap.local(snap.since or snap.now).strftime("%Y-%m-%d %H:%M:%S")
        where = f"shift {escape(snap.shift_name)}, {snap.shift_index + 1} of {snap.shift_count}"
        return f"[b yellow]● NO DATA since {ends}[/]  ({where}; ] newer, [ older)"
    colour = {"running": "green", "stopped": "red", "no_data": "yellow"}.get(snap.state, "dim")
    text = f"[b {colour}]● {snap.state.upper().replace('_', ' ')}[/]"
    if snap.since is not None:
        since = snap.local(snap.since).strftime("%H:%M:%S")
        text += f" since {since} ({duration((snap.now - snap.since).total_seconds())})"
    if snap.state == "stopped":
        text += f"  reason: {escape(snap.reason) if snap.reason else '[i]none yet[/]'}"
    if snap.stale:
        text += f"  [reverse yellow] STALE: {escape(snap.stale)} [/]"
    return text


def _count_line(snap: LineSnapshot) -> str:
    shift = snap.shift or {}
    total = int(shift.get("total") or 0)
    good = int(shift.get("good") or 0)
    target = snap.target_count()
    text = f"good [b green]{good}[/]  rejected [b red]{total - good}[/]  total [b]{total}[/]"
    if target is not None:
        gap = total - target
        colour = "green" if gap >= 0 else "red"
        text += f"   target [b]{target}[/] actual [b]{total}[/] ([{colour}]{gap:+d}[/])"
    return text
