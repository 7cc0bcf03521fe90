"""What every line screen shares: header, alert banner, footer, and following the line.

Data flows down: a screen gets the command line's `Settings` when it is built and
follows the app's `snapshot` and `line_status` reactives; what a person does on it
goes up as a message the app handles (attributes down, messages up).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from agent.files import write_atomic
from tui.model import LineSnapshot
from tui.settings import Settings
from tui.widgets.banner import AlertBanner


class LineScreen(Screen[None]):
    """A screen that shows the app's current line and redraws when it changes."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        #: The line as last shown (None until the first read).
        self.snap: LineSnapshot | None = None

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

    def on_mount(self) -> None:
        """Follow the app's line."""
        self.watch(self.app, "line_status", self._status_changed, init=True)
        self.watch(self.app, "snapshot", self._snapshot_changed, init=True)

    def _status_changed(self, status: str) -> None:
        self.query_one(".empty", Static).update(status)

    def _snapshot_changed(self, snap: LineSnapshot | None) -> None:
        self.snap = snap
        self.query_one(".empty", Static).display = snap is None
        if snap is not None:
            self.show(snap)

    def show(self, snap: LineSnapshot) -> None:
        """Update the widgets in place for `snap`."""

    def write_export(self, name: str, text: str) -> None:
        """Write an export file into `--export-dir` and say where (or why not)."""
        path = self.settings.export_dir / name
        try:
            write_atomic(path, text)
        except OSError as exc:
            self.notify(f"cannot write {path}: {exc}", severity="error", markup=False)
            return
        self.notify(f"wrote {path}", markup=False)
