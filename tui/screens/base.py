"""What every line screen shares: header, alert banner, footer, and following the line."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from tui.model import LineSnapshot
from tui.widgets.banner import AlertBanner

if TYPE_CHECKING:
    from tui.app import OeeApp


class LineScreen(Screen[None]):
    """A screen that shows the app's current line and redraws when it changes."""

    def compose(self) -> ComposeResult:
        """Header, banner, the screen's body, footer."""
        yield Header()
        yield AlertBanner(classes="alert")
        yield Static("waiting for the line…", classes="empty")
        yield from self.body()
        yield Footer(compact=True)

    def body(self) -> ComposeResult:
        """The screen's own widgets."""
        yield from ()

    @property
    def oee_app(self) -> OeeApp:
        """The app, typed."""
        return cast("OeeApp", self.app)

    def on_mount(self) -> None:
        """Follow the app's line."""
        self.watch(self.app, "snapshot", self._snapshot_changed, init=True)

    def _snapshot_changed(self, snap: LineSnapshot | None) -> None:
        empty = self.query_one(".empty", Static)
        if snap is None:
            app = self.oee_app
            empty.update(
                app.line_error
                or (
                    "choose a line in the fleet (5)"
                    if app.line_source is None
                    else "reading the line…"
                )
            )
            empty.display = True
            return
        empty.display = False
        self.show(snap)

    def show(self, snap: LineSnapshot) -> None:
        """Update the widgets in place for `snap`."""
