"""The reason picker: the line's `[[reason]]` codes, or a typed code when it has none."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.model import LineSnapshot, Stop, duration


class ReasonPicker(ModalScreen[str | None]):
    """Choose a reason code for one stop; escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, stop: Stop, snap: LineSnapshot) -> None:
        super().__init__()
        self.stop = stop
        self.snap = snap

    def compose(self) -> ComposeResult:
        """A title and the list (or an input)."""
        start = self.snap.local(self.stop.start).strftime("%H:%M:%S")
        with Vertical(id="reason-box"):
            yield Static(
                f"Reason for the stop at {start} ({duration(self.stop.seconds(self.snap.now))})"
                f", now [b]{escape(self.stop.reason or 'none')}[/]",
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
        """Start on the stop's current reason, when it has one from the list."""
        codes = [r.code for r in self.snap.reasons]
        if self.stop.reason in codes:
            self.query_one(OptionList).highlighted = codes.index(self.stop.reason)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A code was chosen."""
        self.dismiss(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """A code was typed."""
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        """Close without assigning."""
        self.dismiss(None)
