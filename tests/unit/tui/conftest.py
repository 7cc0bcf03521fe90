"""Fixtures for the TUI tests: a real sample store (generated events), a recording."""

from __future__ import annotations

import asyncio
import inspect
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import settle as settle_pilot
from tui.app import OeeApp
from tui.sample import build_sample_store, sample_clock
from tui.sources.store import StoreSource


@pytest.fixture(scope="session")
def sample_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample store, built once per run (tests that write use `line_db`)."""
    folder = tmp_path_factory.mktemp("sample")
    build_sample_store(folder / "line.db")
    return folder


@pytest.fixture
def line_db(sample_folder: Path, tmp_path: Path) -> Path:
    """A private copy of the sample store and its pictures."""
    folder = tmp_path / "line"
    shutil.copytree(sample_folder, folder)
    return folder / "line.db"


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short real video file: grey parts moving left to right on a dark belt."""
    import cv2

    path = tmp_path_factory.mktemp("video") / "belt.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    assert writer.isOpened()
    for i in range(40):
        frame = np.full((240, 320, 3), 30, np.uint8)
        frame[90:170, :] = 70  # the belt
        for k in range(3):
            x = (i * 6 + k * 110) % 360 - 20
            cv2.circle(frame, (x, 130), 22, (170, 170, 180), -1)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def make_app() -> Callable[..., OeeApp]:
    """An app on a store with the sample's stopped clock and half-block pictures."""

    def make(db: Path, **kwargs: Any) -> OeeApp:
        clock = kwargs.pop("clock", None) or sample_clock()
        kwargs.setdefault("graphics", "halfcell")
        return OeeApp(line=StoreSource(db, clock), clock=clock, **kwargs)

    return make


@pytest.fixture
def settle() -> Callable[[Any], Any]:
    """`await settle(pilot)`: wait until every worker is done and the screen caught up."""
    return settle_pilot


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests here with asyncio (no async plugin is installed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
    return True


def _settle_then(mode: str | None, keys: tuple[str, ...] = ()) -> Callable[[Any], Any]:
    """A snapshot's `run_before`: let workers finish, switch to `mode`, press `keys`, settle."""

    async def run_before(pilot: Any) -> None:
        await settle_pilot(pilot)
        if mode:
            pilot.app.switch_mode(mode)
        for key in keys:
            await pilot.press(key)
        await settle_pilot(pilot)

    return run_before


@pytest.fixture
def settle_then() -> Callable[..., Callable[[Any], Any]]:
    """`settle_then(mode, keys=())` -> a `run_before` for `snap_compare`."""
    return _settle_then
