"""A full disk mid-shift: the line is still counted, in memory, with an alarm; then written.

The store lives on a real 3 MB tmpfs that a filler file fills up (root can mount one,
as on the test machines); where mounting is not allowed, SQLite's own page limit
(`max_page_count`) makes the same SQLITE_FULL.
"""

from __future__ import annotations

import errno
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.app import Agent
from agent.events import PartEvent
from agent.inspection import NoInspection
from agent.store import open_readonly


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[tuple[Path, bool]]:
    """(folder, mounted): a 3 MB tmpfs when mounting is allowed."""
    folder = tmp_path / "small"
    folder.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)],
            check=True,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, OSError):
        yield folder, False
        return
    try:
        yield folder, True
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_keeps_counting_in_memory_and_recovers(
    small_fs: tuple[Path, bool], footage, line_config, clock, make_camera, baseline, run
) -> None:
    folder, mounted = small_fs
    config = line_config(store={"path": str(folder / "line.db")})
    agent: Any = None
    seen: dict[str, Any] = {}

    def disk_full(camera: Any) -> None:
        if mounted:
            seen["filler"] = fill(folder)
        else:
            pages = agent.store.db.execute("PRAGMA page_count").fetchone()[0]
            agent.store.db.execute(f"PRAGMA max_page_count = {pages}")

    def look(camera: Any) -> None:
        # the recorder's writer tries on its own thread: on a loaded machine it may not
        # have run since the disk filled (seen once beside the arm64 check), so give it
        # the time (the camera, and the test's clock with it, waits here)
        deadline = time.monotonic() + 10.0
        while agent.recorder.counters.write_failures < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen["pending"] = agent.recorder.pending
        seen["failures"] = agent.recorder.counters.write_failures
        seen["alarms"] = agent.stats()["alarms"]

    def space_again(camera: Any) -> None:
        if mounted:
            seen["filler"].unlink()
        else:
            agent.store.db.execute("PRAGMA max_page_count = 1073741823")

    hooks = {45: disk_full, 240: look, 250: space_again}
    agent = Agent(
        config,
        clock=clock,
        source_factory=lambda c, k, w: make_camera(footage.path, clock, hooks),
        inspector=NoInspection(),
        retry_s=0.5,
    )
    run(agent)

    with open_readonly(config.store_path) as store:
        assert store.integrity_check() == "ok"
        events = store.events()
    # while the disk was full, events waited in memory and the alarm was up
    assert seen["failures"] >= 1 and seen["pending"] >= 1
    assert any(a.startswith("store:") for a in seen["alarms"]), seen["alarms"]
    # then everything was written, in order, nothing dropped, the alarm gone
    assert agent.recorder.counters.dropped == 0
    assert agent.recorder.counters.alarm is None
    assert [round(e.mono or 0, 6) for e in events if isinstance(e, PartEvent)] == [
        round(e.mono or 0, 6) for e in baseline if isinstance(e, PartEvent)
    ]
    assert [getattr(e, "state", None) for e in events] == [
        getattr(e, "state", None) for e in baseline
    ]
