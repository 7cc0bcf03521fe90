"""Bars drawn with block characters: the hourly chart and the Pareto of losses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo

from rich.text import Text
from textual.widgets import Static

from tui.model import LOSS_LABELS, HourBar, duration

_EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar `width` cells long at full scale, in eighths of a cell."""
    fraction = max(0.0, min(1.0, fraction))
    eighths = int(round(fraction * width * 8))
    full, rest = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[rest] if rest else "")).ljust(width)


class HourlyChart(Static):
    """One row per hour: made vs the ideal cycle's target, and minutes stopped."""

    _bars: tuple[HourBar, ...] = ()
    _tz: tzinfo = UTC

    def show(self, bars: Sequence[HourBar], tz: tzinfo) -> None:
        """Redraw for these hours (the newest at the bottom, as many as fit)."""
        self._bars, self._tz = tuple(bars), tz
        self.refresh()

    def render(self) -> Text:
        """The chart at the widget's current width."""
        bars = self._bars
        if not bars:
            return Text("no production in this shift yet", style="dim")
        width = max(10, self.size.width - 26)
        rows = max(1, self.size.height)
        scale = max(max(b.target for b in bars), max(b.actual for b in bars), 1)
        text = Text()
        for b in bars[-rows:]:
            hour = b.start.astimezone(self._tz).strftime("%H:%M")
            made = b.actual / scale
            style = "green" if b.target and b.actual >= b.target * 0.85 else "yellow"
            if b.target and b.actual < b.target * 0.6:
                style = "red"
            line = Text(f"{hour} ")
            line.append(bar(made, width), style=style)
            line.append(f" {b.actual:>5}/{b.target:<5}")
            line.append(f" ⏸{duration(b.stopped_s):>6}" if b.stopped_s >= 1 else "        ", "red")
            text.append(line)
            text.append("\n")
        text.rstrip()
        return text


class ParetoChart(Static):
    """The six big losses, largest first, with their cumulative share."""

    _items: tuple[tuple[str, float, float], ...] = ()

    def show(self, items: Sequence[tuple[str, float, float]]) -> None:
        """Redraw for these (loss, seconds, cumulative fraction) rows."""
        self._items = tuple(items)
        self.refresh()

    def render(self) -> Text:
        """The chart at the widget's current width."""
        items = self._items
        if not items or not any(v for _, v, _ in items):
            return Text("no losses in this shift", style="dim")
        width = max(8, self.size.width - 40)
        top = max(v for _, v, _ in items) or 1.0
        text = Text()
        for key, seconds, cumulative in items:
            text.append(f"{LOSS_LABELS[key]:<21}")
            text.append(bar(seconds / top, width), style="red" if seconds else "dim")
            text.append(f" {duration(seconds):>7} {cumulative * 100:5.1f}%\n")
        text.rstrip()
        return text
