"""The supervisor app: modes for the line screens and the fleet, fed by thread workers.

Data flows one way: a source is read in a thread worker (`@work(thread=True)`), the
result is handed back with `call_from_thread` and set on a reactive (`snapshot` and
`line_status` for the line, `fleet` and `broker` for the fleet table); each screen
watches them and updates its widgets in place, so a refresh never rebuilds a screen
(no flicker). Screens get the command line's `Settings` when built and never reach
into the app: what a supervisor does goes up as a message (`StopsScreen.ReasonChosen`,
`FleetScreen.LineChosen`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive

from agent.clock import Clock, SystemClock
from tui.model import FleetRow, LineSnapshot, Targets, duration, worst_first
from tui.screens.dashboard import DashboardScreen
from tui.screens.defects import DefectsScreen
from tui.screens.fleet import FleetScreen
from tui.screens.help import HelpScreen
from tui.screens.setup import SetupScreen
from tui.screens.shifts import ShiftsScreen
from tui.screens.stops import StopsScreen
from tui.screens.trends import TrendsScreen
from tui.settings import Settings
from tui.sources import LineSource
from tui.sources.mqtt import MqttFeed, MqttLineSource

logger = logging.getLogger(__name__)


class OeeApp(App[int]):
    """`oee-tui`: one line from its store, or the fleet over MQTT."""

    CSS_PATH = "app.tcss"
    TITLE = "OEE"
    # every command has a key; the palette's footer hint would crowd out ? and q at 80 cols
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [
        (0, "-narrow"),
        (100, "-wide"),
    ]
    #: The modes, each built with the app's `Settings` (added per app in `__init__`).
    SCREENS_BY_MODE: ClassVar[dict[str, Any]] = {
        "dashboard": DashboardScreen,
        "stops": StopsScreen,
        "defects": DefectsScreen,
        "shifts": ShiftsScreen,
        "fleet": FleetScreen,
        "setup": SetupScreen,
        "trends": TrendsScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1,l", "switch_mode('dashboard')", "Line"),
        Binding("2,s", "switch_mode('stops')", "Stops"),
        Binding("3,x", "switch_mode('defects')", "Defects"),
        Binding("4,r", "switch_mode('shifts')", "Shifts"),
        Binding("5,f", "switch_mode('fleet')", "Fleet"),
        Binding("6,c", "switch_mode('setup')", "Setup", show=False),
        Binding("7,w", "switch_mode('trends')", "Trends"),
        Binding("question_mark,h,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    #: The line the line screens show (None until the first read).
    snapshot: reactive[LineSnapshot | None] = reactive(None, init=False)
    #: The fleet table, worst first.
    fleet: reactive[tuple[FleetRow, ...]] = reactive((), init=False, always_update=True)
    #: The banner text when the line has been stopped too long ("" when not).
    alert: reactive[str] = reactive("", init=False)
    #: What the line screens say while there is no snapshot to show.
    line_status: reactive[str] = reactive("reading the line…", init=False)
    #: The fleet's broker: "" without --mqtt, else "connected" or "lost".
    broker: reactive[str] = reactive("", init=False)
    #: Which shift the line screens show, counting back from the newest (0).
    shift_back: reactive[int] = reactive(0, init=False)

    def __init__(
        self,
        *,
        line: LineSource | None = None,
        feed: MqttFeed | None = None,
        clock: Clock | None = None,
        targets: Targets | None = None,
        alert_after_s: float = 300.0,
        poll_s: float = 1.5,
        export_dir: Path = Path("."),
        config_path: Path | None = None,
        video: Path | None = None,
        graphics: str = "auto",
    ) -> None:
        super().__init__()
        self.line_source = line
        self.store_source = line
        self.feed = feed
        self.clock = clock or SystemClock()
        self.settings = Settings(
            targets=targets or Targets(),
            export_dir=export_dir,
            config_path=config_path,
            video=video,
            graphics=graphics,
            clock=self.clock,
        )
        for mode, screen in self.SCREENS_BY_MODE.items():
            self.add_mode(mode, partial(screen, self.settings))
        self.alert_after_s = alert_after_s
        self.poll_s = poll_s
        self._polling = False
        self._belled_for: object = None
        self._fleet_ticks = 0
        self._was_connected: bool | None = None
        self.set_reactive(OeeApp.line_status, self._waiting_text())

    # ---- start and stop -------------------------------------------------------------

    def on_mount(self) -> None:
        """Open the first screen and start the polls."""
        self.switch_mode("dashboard" if self.line_source else "fleet")
        if self.feed is not None and self.line_source is None:
            self.title = "OEE fleet"
            self.sub_title = f"mqtt {self.feed.host}:{self.feed.port}"
        if self.line_source is not None:
            self.poll_line()
        self.set_interval(self.poll_s, self.poll_line)
        if self.feed is not None:
            self.poll_fleet(force=True)
            self.set_interval(1.0, self.poll_fleet)

    def on_unmount(self) -> None:
        """Release the sources."""
        if self.line_source is not None:
            self.line_source.close()
        if self.feed is not None:
            self.feed.stop()

    # ---- the line -------------------------------------------------------------------

    def poll_line(self) -> None:
        """Start a read of the line unless one is still running."""
        if self.line_source is None or self._polling:
            return
        self._polling = True
        self._read_line(self.line_source, self.shift_back)

    @work(thread=True, group="line", exit_on_error=False)
    def _read_line(self, source: LineSource, shift_back: int) -> None:
        try:
            snap = source.read(shift_back)
        except Exception as exc:  # a busy or damaged store must not kill the UI
            logger.info("reading the line failed: %s", exc)
            self.call_from_thread(self._line_failed, source, str(exc))
            return
        self.call_from_thread(self._line_read, source, snap)

    def _waiting_text(self) -> str:
        if self.line_source is None:
            return "choose a line in the fleet (5)"
        return "reading the line…"

    def _line_read(self, source: LineSource, snap: LineSnapshot) -> None:
        self._polling = False
        if source is self.line_source:
            self.line_status = self._waiting_text()
            self.snapshot = snap
            self.shift_back = snap.shift_index  # stepping past the oldest stays there

    def _line_failed(self, source: LineSource, message: str) -> None:
        self._polling = False
        if source is not self.line_source:
            return
        self.line_status = message
        if self.snapshot is not None:
            self.snapshot = replace(self.snapshot, stale=f"read failed: {message}")

    def watch_snapshot(self, snap: LineSnapshot | None) -> None:
        """Title, and the too-long-stopped alert (bell once per stop)."""
        if snap is None:
            self.alert = ""
            return
        self.title = f"OEE {snap.line}"
        parts = [f"{snap.site}/{snap.area}", f"shift {snap.shift_name}"]
        if snap.stale:
            parts.append(f"STALE: {snap.stale}")
        self.sub_title = " · ".join(parts)
        stopped = snap.stopped_for()
        if stopped is not None and stopped >= self.alert_after_s:
            why = f" ({snap.reason})" if snap.reason else " (no reason yet)"
            self.alert = f"{snap.line} STOPPED for {duration(stopped)}{why}"
            if self._belled_for != snap.since:
                self._belled_for = snap.since
                self.bell()
        else:
            self.alert = "; ".join(snap.alarms)

    def on_dashboard_screen_step_shift(self, message: DashboardScreen.StepShift) -> None:
        """Show an older or newer shift of the store."""
        self.shift_back = max(0, self.shift_back + message.back)
        self._polling = False  # a read under way answers for the shift it was asked for
        self.poll_line()

    def on_stops_screen_reason_chosen(self, message: StopsScreen.ReasonChosen) -> None:
        """Assign the chosen reason code (store and/or MQTT), then read the line again."""
        self._assign(message.stop_id, message.reason)

    @work(thread=True, group="assign", exit_on_error=False)
    def _assign(self, stop_id: str, reason: str) -> None:
        done: list[str] = []
        try:
            if self.line_source is not None:
                done.append(self.line_source.assign_reason(stop_id, reason))
            snap = self.snapshot
            already_published = self.line_source is not None and self.line_source.publishes
            if self.feed is not None and snap is not None and not already_published:
                self.feed.publish_reason(snap.key, stop_id, reason)
                done.append("published on cmd/reason")
        except Exception as exc:
            self.call_from_thread(
                self.notify,
                f"reason not assigned: {exc}",
                severity="error",
                timeout=8,
                markup=False,
            )
            return
        message = f"{reason} assigned: " + ", ".join(done)
        self.call_from_thread(self.notify, message, markup=False)
        self.call_from_thread(self.poll_line)

    # ---- the fleet ------------------------------------------------------------------

    def poll_fleet(self, force: bool = False) -> None:
        """Take the fleet table from the feed when something changed (or to age rows)."""
        if self.feed is None:
            return
        self._fleet_ticks += 1
        connected = self.feed.connected.is_set()
        if connected != self._was_connected:
            self._was_connected = connected
            self.broker = "connected" if connected else "lost"
            force = True
        if not (force or self.feed.dirty.is_set() or self._fleet_ticks % 5 == 0):
            return
        self.feed.dirty.clear()
        self.fleet = tuple(worst_first(self.feed.rows()))
        for result in self.feed.take_results():
            if "rejected" in result:
                self.notify(result, severity="warning", markup=False)
            else:
                self.notify(result, markup=False)
        if self.line_source is not None and self.line_source.publishes:
            self.poll_line()  # a line of the feed: it changes when the feed does

    def on_fleet_screen_line_chosen(self, message: FleetScreen.LineChosen) -> None:
        """Show one line of the fleet on the line screens."""
        if self.feed is None:
            return
        key = message.key
        current = self.snapshot.key if self.snapshot is not None else None
        if key != current:
            # the store's own line reads from the store; any other from the feed
            if self.store_source is not None and self.store_source.key == key:
                self.line_source = self.store_source
            else:
                self.line_source = MqttLineSource(self.feed, key, self.clock, self._config_of(key))
            self.snapshot = None
            self.line_status = self._waiting_text()
            self._polling = False
            self.poll_line()
        self.switch_mode("dashboard")

    def _config_of(self, key: str) -> Any:
        """The `--config` line configuration when it describes line `key`, else None."""
        if self.settings.config_path is None:
            return None
        from agent.config import load_config
        from agent.errors import ConfigError

        try:
            config = load_config(self.settings.config_path)
        except ConfigError:
            return None
        line = config.line
        return config if f"{line.site}/{line.area}/{line.id}" == key else None

    # ---- actions --------------------------------------------------------------------

    def action_help(self) -> None:
        """Show the keys."""
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen())
