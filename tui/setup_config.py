"""Writing the `[vision]` section the setup screen drew, validated, comments kept.

Only the `[vision]` table of the file is replaced (or appended); everything else in
the file, comments included, stays as written. The new text is validated with the
agent's own config model before anything is written.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from agent.config import Config, parse_config
from agent.errors import ConfigError, UserError
from agent.files import write_atomic
from agent.toml_text import table


def vision_section(vision: dict[str, Any]) -> str:
    """The `[vision]` table as TOML text."""
    return table("vision", vision)


def splice_vision(text: str, vision: dict[str, Any]) -> str:
    """`text` with its `[vision]` table replaced by `vision` (appended when missing)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "[vision]"), None)
    section = vision_section(vision)
    if start is None:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        return text + sep + section
    end = start + 1
    while end < len(lines) and not lines[end].lstrip().startswith("["):
        end += 1
    # keep blank lines and comments that belong to the next table
    while end - 1 > start and (not lines[end - 1].strip() or lines[end - 1].lstrip()[0] == "#"):
        end -= 1
    return "".join(lines[:start]) + section + "".join(lines[end:])


def write_vision(
    path: Path,
    roi: tuple[int, int, int, int],
    direction: str,
    count_at: float,
    frame_size: tuple[int, int] | None = None,
) -> Config:
    """Set the line's ROI, direction and count line in `path`, validated; returns it.

    Raises:
        UserError: the file cannot be read or written.
        ConfigError: the result would not be a valid configuration (nothing written).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read it ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    vision = dict(data.get("vision") or {})
    vision.update(roi=list(roi), direction=direction, count_at=round(count_at, 3))
    if frame_size is not None:
        w, h = frame_size
        x, y, rw, rh = roi
        if x + rw > w or y + rh > h:
            raise ConfigError([f"vision.roi {list(roi)} reaches outside the {w}x{h} frame"])
    new_text = splice_vision(text, vision)
    config = parse_config(tomllib.loads(new_text), base_dir=path.resolve().parent)
    try:
        write_atomic(path, new_text)
    except OSError as exc:
        raise UserError(f"{path}: cannot write it ({exc})") from None
    return config
