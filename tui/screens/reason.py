"""The reason picker: the line's `[[reason]]` codes, or a typed code when it has none.

Beside the list: what the camera saw when the stop started (the ROI's picture the agent
kept) and the cause it suggests, pre-selected when it is one of the line's codes and
the stop has no reason yet. The supervisor still decides: only what they pick is
assigned (and becomes an example the next suggestions learn from).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.model import LineSnapshot, Stop, duration
from tui.pictures import load_picture


class ReasonPicker(ModalScreen[str | None]):
    """Choose a reason code for one stop; escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, stop: Stop, snap: LineSnapshot, graphics: str = "auto") -> None:
        super().__init__()
        self.stop = stop
        self.snap = snap
        self.graphics = graphics

    def compose(self) -> ComposeResult:
        """A title and the list (or an input), the stop's picture beside them."""
        if not self.stop.picture:
            yield from self._choices()
            return
        from tui.screens.defects import image_widget

        with Horizontal(id="reason-row"):
            yield from self._choices()
            with Vertical(id="stop-picture-box"):
                yield Static("what the camera saw", id="stop-picture-caption")
                yield image_widget(self.graphics)

    def _suggestion(self) -> str:
        stop = self.stop
        if stop.suggested_reason is None:
            return ""
        sure = "" if stop.confidence is None else f" ({stop.confidence:.0%})"
        return f"\ncamera suggests [b]{escape(stop.suggested_reason)}[/]{sure}"

    def _choices(self) -> ComposeResult:
        start = self.snap.local(self.stop.start).strftime("%H:%M:%S")
        with Vertical(id="reason-box"):
            yield Static(
                f"Reason for the stop at {start} ({duration(self.stop.seconds(self.snap.now))})"
                f", now [b]{escape(self.stop.reason or 'none')}[/]" + self._suggestion(),
                id="reason-title",
            )
            if self.snap.reasons:
                yield OptionList(
                    *(
                        Option(f"{r.code:<14} {r.loss:<13} {r.label or ''}".rstrip(), id=r.code)
                        for r in self.snap.reasons
                    ),
                    id="reasons",
                )
            else:
                yield Input(placeholder="reason code (the line lists none)", id="reason-code")
            yield Static("enter: assign · escape: cancel", classes="hint")

    def on_mount(self) -> None:
        """Start on the stop's reason, else the suggested one, when the list has it."""
        codes = [r.code for r in self.snap.reasons]
        for code in (self.stop.reason, self.stop.suggested_reason):
            if code in codes:
                self.query_one(OptionList).highlighted = codes.index(code)
                break
        else:
            if not codes and self.stop.suggested_reason and not self.stop.reason:
                self.query_one(Input).value = self.stop.suggested_reason
        if self.stop.picture:
            source = self.snap.source
            base = Path(source).parent if source and source != "mqtt" else None
            picture = load_picture(self.stop.picture, base)
            if picture is None:
                self.query_one("#stop-picture-caption", Static).update("no picture kept")
            self.query_one("#picture").image = picture  # type: ignore[attr-defined]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A code was chosen."""
        self.dismiss(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """A code was typed."""
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        """Close without assigning."""
        self.dismiss(None)
