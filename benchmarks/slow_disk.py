"""Slow-disk benchmark: frames dropped by the daemon when every fsync takes 200 ms.

Renders a 640x480 30 fps clip of a running belt, mounts a pass-through FUSE file
system whose `fsync` sleeps `--fsync-ms` (tests/slow_fs.py, run by the system python3
with Debian's python3-fusepy), and runs the daemon (`agent.app.Agent`, in this
process) with the clip played as its camera in real time and its SQLite store on the
slow file system. When the clip ends it prints the camera's frames in and dropped,
the parts counted against the truth, the events in the store after stop, and the
oldest age the store's queue reached.

    .venv/bin/python benchmarks/slow_disk.py [--seconds 8] [--fsync-ms 200]
                                             [--commit-interval-s 0]

Target (issue 15): 0 frames dropped with a 200 ms fsync.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.app import Agent  # noqa: E402
from agent.config import parse_config  # noqa: E402
from agent.events import PartEvent  # noqa: E402
from agent.inspection import NoInspection  # noqa: E402
from agent.sim.line import Phase, Scenario, render_line  # noqa: E402
from agent.store import open_readonly  # noqa: E402
from tests.slow_fs import mounted, unavailable  # noqa: E402


def run(folder: Path, seconds: float, fsync_ms: float, interval_s: float) -> dict[str, Any]:
    scenario = Scenario(phases=(Phase(seconds),), width=640, height=480, fps=30.0, seed=5)
    truth = render_line(scenario, folder / "belt.avi")
    with mounted(folder / "backing", folder / "slow", fsync_ms) as disk:
        config = truth.config(line_id="slow-disk")
        config["store"] = {"path": str(disk / "line.db"), "commit_interval_s": interval_s}
        config["mqtt"] = {"enabled": False}
        agent = Agent(parse_config(config), inspector=NoInspection(), stats_interval_s=1.0)
        ages: list[float] = []
        stop = threading.Event()

        def watch() -> None:  # the oldest waiting event's age, as `stats` would say it
            while not stop.wait(0.1):
                recorder = agent.recorder
                if recorder is not None:
                    ages.append(getattr(recorder, "oldest_s", 0.0))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        began = time.monotonic()
        agent.run(threading.Event())  # returns when the clip ended (and after stop())
        wall = time.monotonic() - began
        stop.set()
        watcher.join()
        stats = agent.last_stats or {}
        camera = stats.get("camera", {})
        with open_readonly(disk / "line.db") as store:
            stored = store.events()
    return {
        "fsync_ms": fsync_ms,
        "commit_interval_s": interval_s,
        "clip_s": seconds,
        "wall_s": round(wall, 1),
        "frames_in": camera.get("frames_in"),
        "frames_dropped": stats.get("dropped_frames"),
        "parts_truth": len(truth.counted),
        "parts_stored": sum(isinstance(e, PartEvent) for e in stored),
        "events_stored": len(stored),
        "max_store_queue_age_s": round(max(ages, default=0.0), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="clip length")
    parser.add_argument("--fsync-ms", type=float, default=200.0, help="delay of every fsync")
    parser.add_argument(
        "--commit-interval-s", type=float, default=0.0, help="[store] commit_interval_s"
    )
    args = parser.parse_args()
    why = unavailable()
    if why:
        print(f"slow_disk: cannot mount the slow file system: {why}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="slow-disk-") as tmp:
        result = run(Path(tmp), args.seconds, args.fsync_ms, args.commit_interval_s)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
