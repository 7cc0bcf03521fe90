"""Snapshots of every screen at 80×24 and 120×40, from the sample store.

The app's clock is stopped at the sample's end, so nothing here depends on "now".
Update after an intended change with `pytest --snapshot-update tests/unit/tui`.
"""

from __future__ import annotations

import pytest

SIZES = [(80, 24), (120, 40)]
SCREENS = ["dashboard", "stops", "defects", "shifts", "fleet"]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("mode", SCREENS)
def test_screen(snap_compare, settle_then, sample_folder, make_app, mode, size):
    app = make_app(sample_folder / "line.db")
    assert snap_compare(app, terminal_size=size, run_before=settle_then(mode))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_setup(snap_compare, settle_then, line_db, make_app, recording, size):
    app = make_app(line_db, video=recording)
    assert snap_compare(app, terminal_size=size, run_before=settle_then("setup", ("right",)))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare, settle_then, line_db, make_app, size):
    app = make_app(line_db)
    assert snap_compare(app, terminal_size=size, run_before=settle_then(None, ("question_mark",)))


def test_reason_picker(snap_compare, settle_then, line_db, make_app):
    app = make_app(line_db)
    keys = ("down", "a")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle_then("stops", keys))
