"""Export SVG screenshots of every screen for docs/tui.md (Textual's own exporter).

    python -m tui.screenshots docs/img

The line screens show the sample store (`tui.sample`) with its clock stopped at the
sample's end; the fleet shows 24 simulated lines folded from the contract's payloads
(no broker needed: the feed's state is filled directly).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from agent.config import MqttConfig
from agent.events import StateEvent
from agent.publish.topics import Topics, oee_payload, state_payload
from tui.app import OeeApp
from tui.sample import SAMPLE_NOW, build_sample_store, sample_clock
from tui.sources.mqtt import MqttFeed
from tui.sources.store import StoreSource

SIZE = (100, 30)


def _fleet_feed() -> MqttFeed:
    import json

    feed = MqttFeed(MqttConfig.model_validate({}), stale_after_s=60)
    feed.connected.set()
    for i in range(24):
        root = f"oee/plant-{'ab'[i % 2]}/{('stamping', 'paint', 'weld')[i % 3]}/line-{i:02d}"
        topics = Topics(root)
        state = "stopped" if i % 7 == 3 else "running"
        since = SAMPLE_NOW - timedelta(minutes=(i * 13) % 170)
        oee = 0.45 + ((i * 37) % 50) / 100
        shift = {
            "shift": "A",
            "date": "2026-03-03",
            "oee": oee,
            "availability": min(0.99, oee + 0.08),
            "performance": 0.93,
            "quality": 0.985,
        }
        mono = time.monotonic() - (600 if i == 5 else 0)  # line-05 went quiet: stale
        state_msg = state_payload(StateEvent(since, state, id=f"s{i}"))  # type: ignore[arg-type]
        feed.state.apply(topics.status, b"offline" if i == 11 else b"online", mono)
        feed.state.apply(topics.state, json.dumps(state_msg).encode(), mono)
        feed.state.apply(topics.oee, json.dumps(oee_payload(shift, SAMPLE_NOW)).encode(), mono)
    return feed


async def _shoot(app: OeeApp, mode: str | None, keys: tuple[str, ...], out: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(3):
            await pilot.pause()
            await app.workers.wait_for_complete()
        if mode:
            app.switch_mode(mode)
        for key in keys:
            await pilot.press(key)
        for _ in range(3):
            await pilot.pause()
            await app.workers.wait_for_complete()
        out.write_text(app.export_screenshot(title=out.stem), encoding="utf-8")


def _video(folder: Path) -> Path:
    import cv2
    import numpy as np

    path = folder / "belt.avi"
    fourcc = cv2.VideoWriter_fourcc(*"MJPG")  # type: ignore[attr-defined]
    writer = cv2.VideoWriter(str(path), fourcc, 30, (320, 240))
    frame = np.full((240, 320, 3), 30, np.uint8)
    frame[90:170, :] = 70
    for x in (40, 150, 260):
        cv2.circle(frame, (x, 130), 22, (170, 170, 180), -1)
    writer.write(frame)
    writer.release()
    return path


def main(folder: Path) -> None:
    """Write `tui-*.svg` into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = build_sample_store(Path(tmp) / "line.db")
        video = _video(Path(tmp))

        def app(**kwargs: object) -> OeeApp:
            clock = sample_clock()
            return OeeApp(
                line=StoreSource(db, clock),
                clock=clock,
                graphics="halfcell",
                **kwargs,  # type: ignore[arg-type]
            )

        shots: list[tuple[str, OeeApp, str | None, tuple[str, ...]]] = [
            ("dashboard", app(), None, ()),
            ("stops", app(), "stops", ()),
            ("reason", app(), "stops", ("down", "a")),
            ("defects", app(), "defects", ()),
            ("shifts", app(), "shifts", ()),
            ("setup", app(video=video), "setup", ("right", "right")),
            ("help", app(), None, ("question_mark",)),
            ("fleet", OeeApp(feed=_fleet_feed(), clock=sample_clock()), None, ()),
        ]
        for name, instance, mode, keys in shots:
            asyncio.run(_shoot(instance, mode, keys, folder / f"tui-{name}.svg"))
            print(f"wrote {folder / f'tui-{name}.svg'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
