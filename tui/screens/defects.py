"""The rejected parts: time, score and defect, and the picture with its heatmap."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PIL.Image import Image as PILImage
from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from tui.model import LineSnapshot, Part
from tui.pictures import load_picture
from tui.screens.base import LineScreen
from tui.widgets.frame import FrameView

logger = logging.getLogger(__name__)


def image_widget(graphics: str) -> Any:
    """The picture widget: terminal graphics when detected (`auto`), else half-blocks.

    textual-image asks the terminal for its cell size when first imported, and fails
    on a terminal that reports none (a size of 0×0): then our own half-blocks draw it.
    """
    try:
        from textual_image import widget
    except Exception as exc:  # ZeroDivisionError, OSError... from the terminal query
        logger.info("textual-image unavailable here (%s): half-blocks", exc)
        return FrameView(id="picture", overlay=False)
    cls = widget.HalfcellImage if graphics == "halfcell" else widget.Image
    return cls(None, id="picture")


class DefectsScreen(LineScreen):
    """A table of rejected parts and the selected part's picture."""

    def body(self) -> ComposeResult:
        """Table on the left, picture on the right."""
        with Horizontal(id="defects-body"):
            yield DataTable(id="rejects", cursor_type="row", zebra_stripes=True)
            with Vertical(id="picture-box"):
                yield Static(id="picture-caption")
                yield image_widget(self.settings.graphics)

    def on_mount(self) -> None:
        """Columns, then follow the line."""
        self.query_one("#rejects", DataTable).add_columns("time", "score", "defect")
        self._shown: str | None = None
        super().on_mount()

    def show(self, snap: LineSnapshot) -> None:
        """Refill the table (keeping the selection), then show the selected picture."""
        table = self.query_one("#rejects", DataTable)
        keep = table.cursor_row if table.row_count else 0
        if [str(k.value) for k in table.rows] != [p.id for p in snap.rejects]:
            table.clear()
            for part in snap.rejects:
                table.add_row(
                    snap.local(part.ts).strftime("%m-%d %H:%M:%S"),
                    "-" if part.score is None else f"{part.score:.3f}",
                    escape(part.defect or "—"),
                    key=part.id,
                )
            if table.row_count:
                table.move_cursor(row=min(keep, table.row_count - 1), animate=False)
        if not snap.rejects:
            self.query_one("#picture-caption", Static).update("no rejected parts")
        self._show_selected(snap)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Show the highlighted part's picture."""
        if self.snap is not None:
            self._show_selected(self.snap)

    def _show_selected(self, snap: LineSnapshot) -> None:
        table = self.query_one("#rejects", DataTable)
        if not table.row_count or not snap.rejects:
            return
        part = snap.rejects[min(table.cursor_row, len(snap.rejects) - 1)]
        if part.id == self._shown:
            return
        self._shown = part.id
        base = Path(snap.source).parent if snap.source and snap.source != "mqtt" else None
        self._load(part, snap, base)

    @work(thread=True, exclusive=True, group="picture", exit_on_error=False)
    def _load(self, part: Part, snap: LineSnapshot, base: Path | None) -> None:
        picture = load_picture(part.image, base)
        self.app.call_from_thread(self._picture_loaded, part, snap, picture)

    def _picture_loaded(self, part: Part, snap: LineSnapshot, picture: PILImage | None) -> None:
        caption = f"{snap.local(part.ts):%H:%M:%S}  {escape(part.defect or 'rejected')}"
        if part.score is not None:
            caption += f"  score {part.score:.3f}"
        if picture is None:
            caption += "\n[dim]no picture kept for this part[/]"
        self.query_one("#picture-caption", Static).update(caption)
        self.query_one("#picture").image = picture  # type: ignore[attr-defined]
