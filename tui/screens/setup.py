"""Setup: place the ROI, the flow direction and the count line over a frame, then write.

The frame comes from `--video`, or without one from the live camera that the
`[camera] source` of `--config` names.

Arrow keys move the ROI, shift+arrows (or `H J K L` … the capitals) resize it, `[` `]`
move the count line, `t` turns the flow direction, `+`/`-` change the step, `n` the
next second of footage (or a fresh frame from the camera), `w` writes the validated
`[vision]` section to `--config`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from agent.errors import ConfigError, UserError
from tui.settings import Settings
from tui.setup_config import write_vision
from tui.widgets.banner import AlertBanner
from tui.widgets.frame import ARROWS, FrameView

DIRECTIONS = tuple(ARROWS)
STEPS = (1, 2, 4, 8, 16, 32, 64)


def teach_command(config: Path, video: Path) -> list[str]:
    """`oee-agent teach VIDEO --config LINE.toml`, with this interpreter."""
    return [sys.executable, "-m", "agent", "teach", str(video), "--config", str(config)]


def read_frame(video: Path, index: int) -> np.ndarray:
    """Frame `index` of a recording as RGB.

    Raises:
        UserError: the file cannot be opened or has no such frame.
    """
    import cv2

    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise UserError(f"{video}: cannot open it as a video")
        if index:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
        if not ok or frame is None:
            raise UserError(f"{video}: no frame {index}")
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


class SetupScreen(Screen[None]):
    """Draw the line's vision settings over a frame of a recording or the live camera."""

    #: How long to wait for the camera's first frame before saying none came.
    camera_timeout_s: ClassVar[float] = 5.0

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1, 0)", "Move", show=False),
        Binding("right", "move(1, 0)", "Move", show=False),
        Binding("up", "move(0, -1)", "Move", show=False),
        Binding("down", "move(0, 1)", "Move", show=False),
        Binding("shift+left,H", "grow(-1, 0)", "Resize", show=False),
        Binding("shift+right,L", "grow(1, 0)", "Resize", show=False),
        Binding("shift+up,K", "grow(0, -1)", "Resize", show=False),
        Binding("shift+down,J", "grow(0, 1)", "Resize", show=False),
        Binding("left_square_bracket", "count(-0.05)", "Count line", show=False),
        Binding("right_square_bracket", "count(0.05)", "Count line", show=False),
        Binding("t", "turn", "Turn"),
        Binding("plus,equals_sign", "step(1)", "Step+", show=False),
        Binding("minus", "step(-1)", "Step-", show=False),
        Binding("n", "next_frame", "Next", show=False),
        Binding("w", "write", "Write"),
        Binding("T", "teach", "Teach"),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        """Header, banner, status, the frame, footer."""
        yield Header()
        yield AlertBanner(classes="alert")
        yield Static(id="setup-status")
        yield FrameView(id="frame")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Start from the configuration's vision settings and load the first frame."""
        self.frame: np.ndarray | None = None
        self.frame_index = 0
        self.step_i = 3
        self.message = ""
        self.roi, self.direction, self.count_at = (0, 0, 64, 32), "left_to_right", 0.5
        self.config = self._load_config()
        vision = self.config.vision if self.config is not None else None
        if vision is not None:
            self.roi = tuple(vision.roi)
            self.direction, self.count_at = str(vision.direction), vision.count_at
        self._redraw()
        self._next_frame(0)

    def _load_config(self) -> Any:
        path = self.settings.config_path
        if path is not None:
            from agent.config import load_config

            try:
                return load_config(path)
            except ConfigError as exc:
                self.message = f"{path}: {exc}"
                return None
        return None

    def _next_frame(self, index: int) -> None:
        """Frame `index` of `--video`; without one, a frame from `[camera] source`."""
        if self.settings.video is not None:
            self._load_frame(self.settings.video, index)
        elif self.config is not None:
            from agent.capture.sources import redact

            camera = self.config.camera
            source = redact(camera.source) if camera is not None else "(none)"
            self.message = f"waiting for a frame from camera {source}…"
            self._redraw()
            self._grab_frame(self.config)
        elif not self.message:
            self.message = "give --video RECORDING, or --config LINE.toml for its camera"
            self._redraw()

    @work(thread=True, exclusive=True, group="frame", exit_on_error=False)
    def _load_frame(self, video: Path, index: int) -> None:
        try:
            frame = read_frame(video, index)
        except UserError as exc:
            self.app.call_from_thread(self._frame_failed, str(exc))
            return
        name = video.name
        self.app.call_from_thread(self._frame_loaded, frame, index, f"frame {index} of {name}")

    @work(thread=True, exclusive=True, group="frame", exit_on_error=False)
    def _grab_frame(self, config: Any) -> None:
        from agent.capture.sources import redact
        from tui.camera import grab_frame

        try:
            frame = grab_frame(config, self.camera_timeout_s)
        except UserError as exc:
            self.app.call_from_thread(self._frame_failed, str(exc))
            return
        label = f"a frame of camera {redact(config.camera.source)} (n: a new one)"
        self.app.call_from_thread(self._frame_loaded, frame, 0, label)

    def _frame_loaded(self, frame: np.ndarray, index: int, label: str) -> None:
        self.frame, self.frame_index = frame, index
        h, w = frame.shape[:2]
        x, y, rw, rh = self.roi
        self.roi = self._clamp(x, y, rw, rh)
        self.message = f"{label}, {w}×{h}"
        self._redraw()

    def _frame_failed(self, message: str) -> None:
        self.message = message
        self._redraw()

    def _clamp(self, x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
        if self.frame is None:
            return (max(0, x), max(0, y), max(8, w), max(8, h))
        fh, fw = self.frame.shape[:2]
        w, h = min(max(8, w), fw), min(max(8, h), fh)
        return (min(max(0, x), fw - w), min(max(0, y), fh - h), w, h)

    def _redraw(self) -> None:
        x, y, w, h = self.roi
        step = STEPS[self.step_i]
        self.query_one("#setup-status", Static).update(
            f"ROI [b]x {x} y {y} w {w} h {h}[/]  flow [b]{ARROWS[self.direction]} "
            f"{self.direction}[/]  count at [b]{self.count_at:.2f}[/]  step {step}px\n"
            f"[dim]{escape(self.message)}[/]"
        )
        self.query_one(FrameView).set_view(self.frame, self.roi, self.direction, self.count_at)

    def action_move(self, dx: int, dy: int) -> None:
        """Move the ROI by one step."""
        x, y, w, h = self.roi
        step = STEPS[self.step_i]
        self.roi = self._clamp(x + dx * step, y + dy * step, w, h)
        self._redraw()

    def action_grow(self, dx: int, dy: int) -> None:
        """Resize the ROI by one step (its top-left corner stays)."""
        x, y, w, h = self.roi
        step = STEPS[self.step_i]
        self.roi = self._clamp(x, y, w + dx * step, h + dy * step)
        self._redraw()

    def action_count(self, delta: float) -> None:
        """Move the count line along the flow."""
        self.count_at = min(0.95, max(0.05, round(self.count_at + delta, 2)))
        self._redraw()

    def action_turn(self) -> None:
        """Next flow direction."""
        self.direction = DIRECTIONS[(DIRECTIONS.index(self.direction) + 1) % len(DIRECTIONS)]
        self._redraw()

    def action_step(self, delta: int) -> None:
        """Bigger or smaller steps."""
        self.step_i = min(len(STEPS) - 1, max(0, self.step_i + delta))
        self._redraw()

    def action_next_frame(self) -> None:
        """About one second further into the recording, or a fresh frame of the camera."""
        self._next_frame(self.frame_index + 30 if self.settings.video is not None else 0)

    def action_write(self) -> None:
        """Write the `[vision]` section to the configuration file, validated."""
        path = self.settings.config_path
        if path is None:
            self.notify("give --config LINE.toml to write the settings", severity="warning")
            return
        size = None
        if self.frame is not None:
            size = (self.frame.shape[1], self.frame.shape[0])
        try:
            write_vision(path, self.roi, self.direction, self.count_at, size)
        except (ConfigError, UserError) as exc:
            self.notify(f"not written: {exc}", severity="error", timeout=8, markup=False)
            return
        self.message = f"wrote {path.name}"
        if self.settings.video is not None:
            self.message += "; T teaches from the recording with it"
        self.notify(f"wrote {path}", markup=False)
        self._redraw()

    def action_teach(self) -> None:
        """Teach the line's good parts from the recording, with the config as written."""
        config, video = self.settings.config_path, self.settings.video
        if config is None or video is None:
            self.notify("teaching needs --config and --video", severity="warning")
            return
        self.message = f"teaching from {video.name}… (oee-agent teach)"
        self._redraw()
        self._teach(config, video)

    @work(thread=True, exclusive=True, group="teach", exit_on_error=False)
    def _teach(self, config: Path, video: Path) -> None:
        try:
            done = subprocess.run(
                teach_command(config, video), capture_output=True, text=True, timeout=3600
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.app.call_from_thread(self._taught, 1, str(exc))
            return
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        self.app.call_from_thread(self._taught, done.returncode, lines[-1] if lines else "")

    def _taught(self, code: int, last_line: str) -> None:
        if code == 0:
            self.message = f"taught: {last_line}"
            self.notify("teaching done")
        else:
            self.message = f"teaching failed: {last_line}"
            self.notify(f"teaching failed: {last_line}", severity="error", timeout=8, markup=False)
        self._redraw()
