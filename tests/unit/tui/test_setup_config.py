"""Writing the [vision] section: comments kept, validated before anything is written."""

from __future__ import annotations

import tomllib

import pytest

from agent.errors import ConfigError
from tui.setup_config import splice_vision, write_vision

BASE = """# line 3
[line]
id = "press-3"
ideal_cycle_s = 0.8

# the camera
[camera]
source = "0"
"""


def test_appends_a_missing_section():
    text = splice_vision(BASE, {"roi": [1, 2, 30, 40], "direction": "top_to_bottom"})
    assert text.startswith(BASE)
    assert tomllib.loads(text)["vision"] == {"roi": [1, 2, 30, 40], "direction": "top_to_bottom"}


def test_replaces_only_the_vision_table():
    old = BASE + '\n[vision]\nroi = [0, 0, 10, 10]\n\n# shifts\n[[shift]]\nname = "A"\n'
    old += 'start = "06:00"\nend = "14:00"\n'
    text = splice_vision(old, {"roi": [5, 5, 50, 50]})
    assert "# shifts\n[[shift]]" in text and text.startswith(BASE)
    data = tomllib.loads(text)
    assert data["vision"] == {"roi": [5, 5, 50, 50]} and data["shift"][0]["name"] == "A"


def test_write_validates_first(tmp_path):
    path = tmp_path / "line.toml"
    path.write_text(BASE)
    config = write_vision(path, (10, 20, 100, 50), "right_to_left", 0.3, frame_size=(640, 480))
    assert config.vision is not None and config.vision.roi == (10, 20, 100, 50)
    assert tomllib.loads(path.read_text())["vision"]["count_at"] == 0.3
    before = path.read_text()
    with pytest.raises(ConfigError, match="outside"):
        write_vision(path, (600, 20, 100, 50), "right_to_left", 0.3, frame_size=(640, 480))
    with pytest.raises(ConfigError, match="count_at"):
        write_vision(path, (0, 0, 100, 50), "right_to_left", 1.5)
    assert path.read_text() == before
