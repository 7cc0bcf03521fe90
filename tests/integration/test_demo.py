"""`make demo` headless: the same entry point (`python -m agent.demo`) minus the TUI.

On the short (20 s) demo footage, rendered and taught once into a folder of the test:
the agent runs it in real time, and the parts, the stop and inspection verdicts reach
a real SQLite store and a real mosquitto. A second run reuses footage and model (what
`make demo` twice in a row does) and, with no broker answering, queues the feed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agent.store.store import open_readonly
from tests.conftest import pilot_until

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "oee/demo-plant/assembly/demo-line/"
#: Long enough for the 4 s halt (8-12 s) and the parts after it.
HEADLESS_S = 15


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_demo(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.demo", "--short", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-cache")


@pytest.mark.timeout(300)  # renders and teaches: minutes on a loaded machine
def test_headless_demo_reaches_store_and_broker(cache, tmp_path, broker, subscribe):
    feed = subscribe([TOPIC + "#"])
    store_dir = tmp_path / "store"
    done = run_demo(
        "--cache",
        str(cache),
        "--keep",
        str(store_dir),
        "--broker",
        f"{broker.host}:{broker.port}",
        "--headless",
        str(HEADLESS_S),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rendered" in done.stdout and "inspection on" in done.stdout, done.stdout
    truth = json.loads((cache / "line.json").read_text())
    assert (cache / "inspection" / "manifest.json").is_file()

    with open_readonly(store_dir / "line.db") as store:
        parts = store.parts()
        stops = [s for s in store.stops() if s.state == "stopped"]
        outbox = store.outbox.depth()
        events = store.events()
    # every part that crossed count_at in time is counted, each by a count of its own
    # near its true time (time zero is the agent's first event, a fraction of a second
    # before the first frame; a loaded machine plays the file up to ~10 % slow)
    t0 = events[0].ts
    seen = sorted((p.ts - t0).total_seconds() for p in parts)
    crossed = [t for t, _ in truth["crossings"] if t < HEADLESS_S - 2.5]
    assert crossed
    for t in crossed:
        near = [s for s in seen if -0.3 < s - t < 0.7 + 0.12 * t]
        assert near, f"the part crossing at {t:.2f} s was not counted: {seen}"
        seen.remove(near[0])
    # a few double counts are the counting stage's error in real time on a loaded
    # machine (docs/accuracy.md), not the demo's
    in_time = [t for t, _ in truth["crossings"] if t < HEADLESS_S]
    assert len(parts) <= len(in_time) + 3, (len(parts), len(in_time))
    # the belt halts for 4 s: one stop of about that length
    halts = [s for s in stops if s.reason is None]
    assert len(halts) == 1, stops
    (start, end, _), *_ = truth["stops"]
    assert halts[0].duration_s == pytest.approx(end - start, abs=0.8)
    # the taught inspection scored every part
    assert all(p.score is not None for p in parts)
    assert sum(not p.good for p in parts) <= truth["defective"] + 1
    assert truth["parts"] > len(in_time)  # (the footage is longer than the run)

    # the feed reached the broker: every part, the stop, and the outbox is empty
    assert feed.wait_for(lambda m: len([x for x in m if x.topic.endswith("/part")]) >= len(parts))
    part_ids = {json.loads(m.payload)["id"] for m in feed.on("/part")}
    assert part_ids == {p.id for p in parts}
    assert any(json.loads(m.payload)["id"] == halts[0].id for m in feed.on("/stop"))
    assert outbox == 0
    assert f"{len(parts)} parts" in done.stdout
    assert f"MQTT {broker.host}:{broker.port} connected" in done.stdout


@pytest.mark.timeout(300)
def test_second_run_reuses_footage_and_model_and_queues_without_broker(cache):
    video = cache / "line.mp4"
    if not video.exists():  # run alone: let the first run render and teach
        assert run_demo("--cache", str(cache), "--no-teach", "--headless", "1").returncode == 0
    before = video.stat().st_mtime_ns
    done = run_demo(
        "--cache", str(cache), "--broker", f"127.0.0.1:{free_port()}", "--headless", "6"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "reusing" in done.stdout, done.stdout
    assert video.stat().st_mtime_ns == before
    assert "no broker at" in done.stdout
    # parts reached the store, the feed waits in its outbox, and the temporary store is gone
    parts = re.search(r"of the line: (\d+) parts", done.stdout)
    queued = re.search(r"MQTT outbox: (\d+) messages", done.stdout)
    store = re.search(r"; store (\S+); inspection", done.stdout)
    assert parts and queued and store, done.stdout
    assert int(parts.group(1)) > 0 and int(queued.group(1)) > 0
    assert not Path(store.group(1)).parent.exists()


def test_bad_arguments_are_one_line_errors(capsys):
    from agent import demo

    assert demo.main(["--headless", "0"]) == 1
    assert capsys.readouterr().err.strip() == "demo: --headless must be more than 0 seconds"
    assert demo.main(["--broker", "localhost:http", "--headless", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("demo: --broker 'localhost:http'") and "Traceback" not in err


@pytest.mark.timeout(120)
def test_tui_opens_on_the_demo_store_and_says_the_feed_is_queued(cache, tmp_path):
    from agent import demo

    config_file, text = demo.prepare_config(cache)
    line = demo.ensure_footage(demo._scenarios(True)[0], cache / demo.LINE_VIDEO, "render")[0]
    config = demo.agent_config(
        config_file, tmp_path / "line.db", ("127.0.0.1", free_port()), tmp_path / "no-model"
    )
    run = demo.DemoRun(config, text)
    run.start()
    seen: dict[str, object] = {}

    async def drive() -> None:
        app = demo.build_tui(run, config_file, line.path)
        async with app.run_test(size=(120, 40)) as pilot:
            # until the first part is on the dashboard
            await pilot_until(
                pilot, lambda: ((app.snapshot and app.snapshot.shift) or {}).get("total", 0) > 0
            )
            seen["snapshot"] = app.snapshot
            seen["sub_title"] = app.sub_title
            await pilot.press("ctrl+c")
            await pilot.pause(0.2)
        seen["return_code"] = app.return_code

    try:
        asyncio.run(drive())
    finally:
        run.stop()
    assert not run.running and run.error is None
    snap = seen["snapshot"]
    assert snap is not None and snap.line == "demo-line" and snap.shift["total"] > 0
    assert "no broker at 127.0.0.1:" in str(seen["sub_title"]), seen["sub_title"]
    assert "queued" in str(seen["sub_title"])
    assert seen["return_code"] == 0


def test_the_bundled_line_file_matches_the_rendered_footage(tmp_path):
    from agent import demo
    from agent.config import load_config

    config = load_config(demo.LINE_TOML)
    assert config.camera is not None and config.camera.loop  # the demo never runs out
    for scenario in demo._scenarios(short=False) + demo._scenarios(short=True):
        assert config.vision is not None and config.camera is not None
        assert tuple(config.vision.roi) == scenario.roi
        assert config.vision.direction == scenario.direction
        assert config.vision.count_at == scenario.count_at
        assert config.camera.fps == scenario.fps
    # relative paths resolve in the cache folder the file is copied to
    copied, _ = demo.prepare_config(tmp_path)
    moved = load_config(copied)
    assert moved.model_dir == tmp_path / "inspection"
    assert moved.camera is not None and moved.camera.source == demo.LINE_VIDEO
