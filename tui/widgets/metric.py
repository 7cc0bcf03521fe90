"""A big number (OEE, A, P or Q) coloured against its target."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Digits, Static

from tui.model import grade, percent


class Metric(Vertical):
    """A label, the value in large digits, and the target below."""

    GRADES = ("good", "warn", "bad", "none")

    def __init__(self, label: str, metric: str, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes="metric")
        self.label = label
        self.metric = metric

    def compose(self) -> ComposeResult:
        """Label, digits, target."""
        yield Static(self.label, classes="metric-label")
        yield Digits("-", classes="metric-value")

    def show(self, value: float | None, target: float) -> None:
        """Update the number and its colour (in place: no flicker)."""
        self.query_one(Digits).update(percent(value))
        self.query_one(".metric-label", Static).update(f"{self.label} [dim]/ {target * 100:g}[/]")
        self.remove_class(*self.GRADES)
        self.add_class(grade(value, target))
