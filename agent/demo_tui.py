"""The demo's supervisor TUI: the product's app on the demo's store, with the feed's status."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from agent.config import Config


class RunningAgent(Protocol):
    """What the TUI's header shows of the agent the demo runs (`agent.demo.DemoRun`)."""

    config: Config

    @property
    def running(self) -> bool:
        """Whether the agent thread is still going."""
        ...

    def feed_status(self) -> str:
        """One line about the MQTT feed."""
        ...


def build_tui(run: RunningAgent, config_file: Path, video: Path) -> Any:
    """The supervisor app on the demo's store, its header saying how the feed is doing."""
    from textual.binding import Binding

    import tui.app
    from agent.clock import SystemClock
    from tui.app import OeeApp
    from tui.sources.store import StoreSource

    class DemoApp(OeeApp):
        """The supervisor app, with the demo's feed status in the header."""

        TITLE = "OEE demo"
        # a subclass's relative CSS_PATH would resolve beside this module
        CSS_PATH = str(Path(tui.app.__file__).parent / str(OeeApp.CSS_PATH))
        BINDINGS = [  # noqa: RUF012 - Textual's own class attribute
            *OeeApp.BINDINGS,
            Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        ]

        base_sub_title = ""

        def on_mount(self) -> None:
            # Textual also runs OeeApp.on_mount (handlers run along the MRO)
            self.show_feed()
            self.set_interval(2.0, self.show_feed)

        def watch_snapshot(self, snap: Any) -> None:
            # a watcher is looked up by name: call the app's, then add the feed
            super().watch_snapshot(snap)
            self.base_sub_title = self.sub_title
            self.show_feed()

        def show_feed(self) -> None:
            feed = run.feed_status()
            if not run.running:
                feed += " · the agent stopped (see demo.log)"
            # the feed first: it is what a narrow terminal must not cut off
            self.sub_title = " · ".join(t for t in (feed, self.base_sub_title) if t)

    source = StoreSource(run.config.store_path, clock=SystemClock(), stale_after_s=120.0)
    source.open()
    return DemoApp(line=source, config_path=config_file, video=video)
