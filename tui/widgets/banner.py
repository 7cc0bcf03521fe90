"""The alert banner: shown on every screen while the line has been stopped too long."""

from __future__ import annotations

from textual.widgets import Static


class AlertBanner(Static):
    """Follows the app's `alert` text; hidden while it is empty."""

    def on_mount(self) -> None:
        """Follow the app's alert."""
        self.watch(self.app, "alert", self._show, init=True)

    def _show(self, text: str) -> None:
        self.update(f"⚠ {text}" if text else "")
        self.display = bool(text)
