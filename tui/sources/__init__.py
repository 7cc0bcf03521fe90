"""Where the TUI's data comes from: the line's store (read-only) or the MQTT feed.

A line source turns what it reads into a `tui.model.LineSnapshot`; reads may block,
so the app calls them from a thread worker and hands the result back to the UI.
"""

from __future__ import annotations

from typing import Protocol

from tui.model import LineSnapshot


class LineSource(Protocol):
    """Something the line screens are fed from, and what it can do."""

    #: Whether `assign_reason` itself publishes on `cmd/reason` (a line of the feed),
    #: and so whether the line changes whenever the feed does.
    publishes: bool

    @property
    def key(self) -> str:
        """The line's `site/area/line` (its MQTT topic levels)."""
        ...

    def read(self, shift_back: int = 0) -> LineSnapshot:
        """The line as of now, or `shift_back` shifts before.

        Blocking I/O is allowed: the app calls it from a worker thread. A source
        without history ignores `shift_back`.
        """
        ...

    def assign_reason(self, stop_id: str, reason: str) -> str:
        """Assign a stop's reason code; returns a one-line account of where it went."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...
