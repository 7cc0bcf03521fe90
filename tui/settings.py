"""What the command line decides for the screens, handed down when each is built."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.clock import Clock, SystemClock
from tui.model import Targets


@dataclass(frozen=True)
class Settings:
    """The app's settings every screen may read (never the app itself)."""

    targets: Targets = field(default_factory=Targets)
    export_dir: Path = Path(".")
    config_path: Path | None = None
    video: Path | None = None
    graphics: str = "auto"
    clock: Clock = field(default_factory=SystemClock)
