"""Bytes the store writes to the disk per part: each event committed alone vs in groups.

Drives the agent's real store writer (`agent.recorder.Recorder`: each event with its
MQTT outbox rows) and the outbox's acknowledgements on a real SQLite file, for a line
making about one part a second with a few stops, on the line's own time (a manual
clock steps through the shift, so the grouping is what a real line gets, not what a
replay at full speed gets). The bytes are the kernel's count for this process
(`write_bytes` in /proc/self/io), closing the store (its last checkpoint) included.

1. `before`: `commit_interval_s = 0`, one transaction per acknowledgement and a
   file of 4 KiB pages (what the agent did until now: one fsync per event);
2. `grouped`: the same 4 KiB file (a store made before m003) with the defaults
   (`[store] commit_interval_s`, acknowledgements deleted with the next group);
3. `after`: the defaults on a new file (1 KiB pages, `agent.store.db.PAGE_SIZE`).

With `--prefill N` the store first holds N older events, so the event id index is as
large as after weeks on a line (its pages are where the ids fall).

With `--replay`, also the measurement of the issue: rendered footage of `--seconds`
(320x240, 30 fps, a halt every minute) through `oee-agent replay` (inspection off) in a
child process, once as before (`commit_interval_s = 0`, 4 KiB pages) and once with
the defaults, each child reporting its own `write_bytes`. A replay runs faster than
the line, so its groups hold more events than a line's: plan with the line-time figures.

    .venv/bin/python benchmarks/store_writes.py [--seconds 240] [--parts 253] [--prefill 0]
        [--replay]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.clock import ManualClock
from agent.config import Config, StoreConfig, parse_config
from agent.events import PartEvent, StateEvent, new_id
from agent.recorder import Recorder
from agent.store import Store, db
from agent.toml_text import dumps

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
#: How often the publisher's loop looks at the outbox (its poll), in line seconds.
PUBLISH_EVERY_S = 0.2


def written_bytes() -> int:
    """What this process has sent to the storage layer so far (/proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise SystemExit("/proc/self/io has no write_bytes")


def line_config(folder: Path, interval_s: float) -> Config:
    return parse_config(
        {
            "line": {"id": "bench", "site": "s", "area": "a", "ideal_cycle_s": 0.9},
            "store": {"path": str(folder / "line.db"), "commit_interval_s": interval_s},
        }
    )


def line_events(seconds: float, parts: int) -> list[tuple[float, StateEvent | PartEvent]]:
    """A line running, with a 20 s stop every 80 s; parts evenly spread over the run."""
    events: list[tuple[float, StateEvent | PartEvent]] = []
    state_times = [
        (t, "stopped" if (t // 40) % 2 else "running") for t in range(0, int(seconds), 40)
    ]
    for at, state in state_times:
        events.append((at, StateEvent(T0 + timedelta(seconds=at), state, None, new_id(), at)))  # type: ignore[arg-type]
    for i in range(parts):
        at = (i + 0.5) * seconds / parts
        good = i % 25 != 0
        part = PartEvent(
            T0 + timedelta(seconds=at), good, None if good else "scratch", 0.1, new_id(), at
        )
        events.append((at, part))
    return sorted(events, key=lambda pair: pair[0])


def prefill(store: Store, config: Config, count: int) -> None:
    old = T0 - timedelta(days=30)
    batch = []
    for i in range(count):
        event = PartEvent(old + timedelta(seconds=i), True, None, 0.1, new_id(), float(i))
        batch.append((event, ()))
        if len(batch) == 5000:
            store.append_many(batch)
            batch = []
    store.append_many(batch)


def run(
    folder: Path, interval_s: float, grouped_acks: bool, args: argparse.Namespace, page: int
) -> dict[str, float]:
    db.PAGE_SIZE = page  # only a new file takes it
    config = line_config(folder, interval_s)
    clock = ManualClock(start=T0)
    store = Store.open(config.store_path, clock=clock)
    prefill(store, config, args.prefill)
    store.close()
    store = Store.open(config.store_path, clock=clock)
    recorder = Recorder(store, config, clock=clock)
    events = line_events(args.seconds, args.parts)
    cursor: int | None = None
    before = written_bytes()
    now = 0.0
    for at, event in events:
        while now + PUBLISH_EVERY_S <= at:  # the publisher's loop, between events
            now += PUBLISH_EVERY_S
            clock.advance(PUBLISH_EVERY_S)
            recorder.flush_if_due()
            rows = store.outbox.peek(100, after=cursor)
            if rows:
                cursor = rows[-1].seq
                seqs = [row.seq for row in rows]
                store.outbox.ack_later(seqs) if grouped_acks else store.outbox.ack(seqs)
            store.outbox.flush_acks(force=False)
        recorder.emit(event)
    recorder.flush()
    store.outbox.flush_acks()
    store.close()
    written = written_bytes() - before
    size = sum(p.stat().st_size for p in folder.glob("line.db*"))
    return {"bytes": written, "per_part": written / args.parts, "store": size}


REPLAY_CHILD = """
import sys
from pathlib import Path
from agent.__main__ import main
from agent.store import db as store_db
video, config, db, page = sys.argv[1:5]
store_db.PAGE_SIZE = int(page)
main(["--log-level", "WARNING", "replay", video, "--config", config, "--db", db])
for line in Path("/proc/self/io").read_text().splitlines():
    if line.startswith("write_bytes:"):
        print(line.split()[1])
"""


def replay_bytes(seconds: float) -> None:
    """Bytes written by `oee-agent replay` of rendered footage, per stored part."""
    from agent.sim.line import Phase, Scenario, render_line

    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        folder = Path(tmp)
        minutes = max(1, int(seconds // 60))
        phases = tuple(p for _ in range(minutes) for p in (Phase(50.0), Phase(10.0, moving=False)))
        scenario = Scenario(
            phases=phases,
            width=320,
            height=240,
            seed=3,
            codec="MJPG",
            speed_px_s=80.0,
            size_px=(32.0, 38.0),
            pitch_s=(0.8, 1.1),
        )
        print(f"rendering {60 * minutes} s of footage ...", flush=True)
        truth = render_line(scenario, folder / "belt.avi")
        modes = (("before", 0.0, 4096), ("after", StoreConfig().commit_interval_s, db.PAGE_SIZE))
        for name, interval, page in modes:
            config, path = folder / f"{name}.toml", folder / f"{name}.db"
            data = truth.config(line_id="bench")
            data["store"] = {"path": str(path), "commit_interval_s": interval}
            data["mqtt"] = {"enabled": False}
            config.write_text(dumps(data))
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    REPLAY_CHILD,
                    str(truth.path),
                    str(config),
                    str(path),
                    str(page),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            with Store.open(path) as store:
                parts = len(store.parts())
            written = int(out[-1])
            print(
                f"replay {name:>6}: {written / 1e6:5.2f} MB written, {parts} parts, "
                f"{written / max(1, parts) / 1024:5.1f} KiB per part"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--parts", type=int, default=253)
    parser.add_argument("--prefill", type=int, default=0)
    parser.add_argument("--replay", action="store_true", help="also replay rendered footage")
    args = parser.parse_args()
    default = StoreConfig().commit_interval_s
    results = {}
    modes = (
        ("before", 0.0, False, 4096),
        ("grouped", default, True, 4096),
        ("after", default, True, db.PAGE_SIZE),
    )
    for name, interval, grouped, page in modes:
        with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
            results[name] = run(Path(tmp), interval, grouped, args, page)
    print(f"{args.parts} parts over {args.seconds:.0f} s, {args.prefill} older events in the store")
    for name, r in results.items():
        mb, kib = r["bytes"] / 1e6, r["per_part"] / 1024
        size = r["store"] / 1024
        print(f"{name:>7}: {mb:6.2f} MB written, {kib:5.1f} KiB per part, store {size:.0f} KiB")
    ratio = results["before"]["bytes"] / max(1, results["after"]["bytes"])
    print(f"  ratio: {ratio:.1f}x fewer bytes per part")
    if args.replay:
        replay_bytes(args.seconds)


if __name__ == "__main__":
    main()
