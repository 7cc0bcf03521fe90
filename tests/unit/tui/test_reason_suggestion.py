"""The reason picker pre-selects the camera's suggestion and shows what it saw."""

from dataclasses import replace

import numpy as np
from textual.widgets import DataTable, Input, OptionList, Static

from agent.causes import Cause
from agent.causes.pictures import save_stop_picture
from agent.causes.scene import UsualScene, describe
from agent.store import Store, open_readonly
from agent.store.causes import save_stop_cause
from tui.screens.reason import ReasonPicker

STOP = "t-stop-0802"  # the sample's 08:02 stop: 7m10s, no reason yet


def _suggest(db, code: str, picture: bool = True) -> None:
    mask = np.zeros((50, 160), np.uint8)
    mask[17:33, 60:140] = 1
    scene = describe(mask, False, UsualScene(16, 16, 200, 16))
    path = None
    if picture:
        roi = np.zeros((80, 320, 3), np.uint8)
        roi[:, :, 2] = 200  # a red ROI: easy to find on screen
        path = save_stop_picture(roi, db.parent / "stops", STOP, keep=10)
    with Store.open(db) as store:
        save_stop_cause(store, STOP, Cause(code, 0.83, "learned"), Cause("blocked", 0.8), scene,
                        None, path)  # fmt: skip


async def _open_picker(app, pilot, settle) -> ReasonPicker:
    await pilot.press("2")
    await settle(pilot)
    await pilot.press("o")
    await pilot.press("up", "up", "up", "down")
    table = app.screen.query_one("#stops", DataTable)
    assert str(table.get_row_at(table.cursor_row)[0]) == "08:02:00"
    await pilot.press("a")
    await settle(pilot)
    assert isinstance(app.screen, ReasonPicker)
    return app.screen


async def test_the_suggestion_is_preselected_and_the_picture_shown(line_db, make_app, settle):
    _suggest(line_db, "slow-feed")
    app = make_app(line_db)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        picker = await _open_picker(app, pilot, settle)
        options = picker.query_one(OptionList)
        codes = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert options.highlighted == codes.index("slow-feed")
        assert "camera suggests slow-feed (83%)" in str(picker.query_one("#reason-title").render())
        image = picker.query_one("#picture").image  # type: ignore[attr-defined]
        assert image is not None and image.size == (320, 80)
        assert image.getpixel((5, 5))[0] > 150  # the red ROI, as RGB
        await pilot.press("down", "enter")  # the supervisor decides otherwise
        await settle(pilot)
    reader = open_readonly(line_db)
    try:
        chosen = codes[codes.index("slow-feed") + 1]
        assert reader.stop(STOP).reason == chosen  # what they picked, not the suggestion
    finally:
        reader.close()


async def test_a_suggestion_the_line_does_not_list_preselects_nothing(line_db, make_app, settle):
    _suggest(line_db, "blocked", picture=False)  # a built-in cause, not one of the codes
    app = make_app(line_db)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        picker = await _open_picker(app, pilot, settle)
        assert picker.query_one(OptionList).highlighted == 0
        assert "camera suggests blocked" in str(picker.query_one("#reason-title").render())
        assert not picker.query("#stop-picture-box")


async def test_a_line_without_codes_gets_the_suggestion_typed_in(line_db, make_app, settle):
    _suggest(line_db, "blocked", picture=False)
    app = make_app(line_db)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        stop = next(s for s in app.snapshot.stops if s.id == STOP)
        app.push_screen(ReasonPicker(stop, replace(app.snapshot, reasons=())))
        await settle(pilot)
        assert app.screen.query_one(Input).value == "blocked"
        assert isinstance(app.screen.query_one("#reason-title"), Static)
