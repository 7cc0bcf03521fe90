"""The help screen: every key, on one page."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
[b]oee-tui[/]: keyboard first; the mouse works too.

[b]Screens[/]
  1 / l  Line: OEE, A, P, Q against targets, state, counts, hours; [ ] shifts
  2 / s  Stops: a/enter assigns a reason; o longest first / latest
  3 / x  Defects: rejected parts, picture and heatmap of the chosen one
  4 / r  Shifts: A, P, Q, OEE, six big losses; e CSV, m Markdown
  5 / f  Fleet (--mqtt): every line, worst first; enter opens a line
  6 / c  Setup: ROI, direction, count line over a frame; w write, T teach
  7 / w  Trends: OEE, A, P, Q per shift, weeks and their top losses; e, m
  ? / h  This help          q  Quit

[b]Tables[/]  ↑ ↓ PgUp PgDn Home End move, enter selects
[b]Colours[/]  green at target, yellow within 15 points, red below
[b]Alert[/]  a bell and a red banner once the line has been stopped longer
        than --alert-after seconds; STALE marks a source with no news.

escape or ? closes this page."""


class HelpScreen(ModalScreen[None]):
    """The keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,h,f1,q", "dismiss_help", "Close"),
    ]

    def compose(self) -> ComposeResult:
        """The text, scrollable on a small terminal."""
        with VerticalScroll(id="help-box"):
            yield Static(HELP, id="help-text")

    def action_dismiss_help(self) -> None:
        """Back to the screen below."""
        self.dismiss(None)
