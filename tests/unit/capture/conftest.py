"""Fixtures for capture tests; the helpers live in capture_helpers.py."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # importlib mode: let tests import helpers

from capture_helpers import moving_square, write_video  # noqa: E402


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    """`make_video(name, n, fps, frame=moving_square)` writes a real video file."""

    def make(
        name: str = "clip.avi",
        n: int = 30,
        fps: float = 10.0,
        frame: Callable[[int], np.ndarray] = moving_square,
    ) -> Path:
        return write_video(tmp_path / name, (frame(i) for i in range(n)), fps)

    return make
