"""Endurance benchmark: `oee-agent run` for an hour or more, its resources sampled.

Renders a 60 s 640x480 MJPG clip of a line (running, a halt, running) and plays it
as the camera in a loop in real time (`[camera] loop = true`), with its own mosquitto
on loopback and (unless `--no-teach`) the real int8 inspection model taught first.
Before the daemon starts, its store is filled with history so every long-run path is
busy from the first minute:

- `--history-days` (2) of older production at one part a second, more than the store's
  bound (`[store] max_mb`, 40 by default) allows: retention rolls the oldest hours up
  and prunes them (`store_pruned_over_bound`) until the store is back under 90 % of
  it, and keeps it there while the daemon adds parts;
- `--shift-hours` (2) of the current shift at ten parts a second (72 k events): the
  `oee` snapshot folds only new events in (`agent.oee.running`), so `snapshot_ms`
  must stay flat however long the shift grows.

Every `--sample-s` the daemon's RSS, open file descriptors and threads are read
from /proc, the store's size (file and WAL) from disk, and its own latest `stats`
sample from the store (fps, dropped frames, snapshot time, pruned rows, alarms).
After the warm-up (`--warmup-min`), the summary gives each figure's range and the RSS
trend (least squares, MB per hour): flat means no leak.

    .venv/bin/python benchmarks/endurance.py [--minutes 60 | --short] [--no-teach]
        [--history-days 2] [--shift-hours 2] [--max-mb 40] [--json F]

`--short` is a ~10 min run (8 min measured after a 2 min warm-up).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.daemon import render_clip, start_broker  # noqa: E402


def proc_status(pid: int) -> dict[str, float]:
    """RSS (MB) and threads of a live process, from /proc/<pid>/status."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "VmRSS":
            out["rss_mb"] = int(value.split()[0]) / 1024
        elif key == "Threads":
            out["threads"] = int(value)
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def store_mb(db: Path) -> float:
    files = (db, db.with_name(db.name + "-wal"))
    return sum(f.stat().st_size for f in files if f.is_file()) / 2**20


def latest_stats(db: Path) -> dict[str, Any]:
    """The daemon's latest stored `stats` sample (read-only; {} before the first)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT data FROM stats ORDER BY seq DESC LIMIT 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    return json.loads(row[0]) if row else {}


def shifts_around(now: datetime, shift_hours: float) -> tuple[str, datetime]:
    """Two 12 h shifts (UTC), the current one begun `shift_hours` ago; TOML and its start."""
    start = (now - timedelta(hours=shift_hours)).replace(second=0, microsecond=0)
    other = start + timedelta(hours=12)
    toml = (
        f"[[shift]]\nname = 'day'\nstart = '{start:%H:%M}'\nend = '{other:%H:%M}'\n"
        f"[[shift]]\nname = 'night'\nstart = '{other:%H:%M}'\nend = '{start:%H:%M}'\n"
    )
    return toml, start


def fill_history(db: Path, now: datetime, shift_start: datetime, days: float) -> int:
    """Older production at 1 part/s, then the current shift at 10 parts/s, until now."""
    from agent.events import PartEvent, StateEvent, new_id
    from agent.store import Store

    begin = now - timedelta(days=days)
    count = 0
    with Store.open(db) as store:
        store.append(StateEvent(begin, "running", None, new_id()))
        t = begin
        slow, fast = timedelta(seconds=1.0), timedelta(seconds=0.1)
        while t < now:
            batch = []
            for _ in range(20_000):
                if t >= now:
                    break
                batch.append((PartEvent(t, good=count % 23 != 0, score=0.1, id=new_id()), ()))
                t += fast if t >= shift_start else slow
                count += 1
            store.append_many(batch)
    return count


def trend_mb_per_h(samples: list[dict[str, Any]], key: str) -> float | None:
    """Least-squares slope of `key` against time, per hour."""
    points = [(s["t_min"] / 60, s[key]) for s in samples if s.get(key) is not None]
    if len(points) < 3:
        return None
    mx = statistics.fmean(p[0] for p in points)
    my = statistics.fmean(p[1] for p in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return round(sum((x - mx) * (y - my) for x, y in points) / den, 2) if den else None


def span(samples: list[dict[str, Any]], key: str) -> list[float] | None:
    values = [s[key] for s in samples if s.get(key) is not None]
    return [round(min(values), 1), round(max(values), 1)] if values else None


def summarise(samples: list[dict[str, Any]], warmup_min: float) -> dict[str, Any]:
    warm = [s for s in samples if s["t_min"] >= warmup_min]
    snapshot = [s["snapshot_ms"] for s in warm if s.get("snapshot_ms") is not None]
    first, last = (warm[0], warm[-1]) if warm else ({}, {})
    return {
        "samples_after_warmup": len(warm),
        "rss_mb": span(warm, "rss_mb"),
        "rss_trend_mb_per_h": trend_mb_per_h(warm, "rss_mb"),
        "fds": span(warm, "fds"),
        "threads": span(warm, "threads"),
        "store_mb": span(warm, "store_mb"),
        "store_mb_at_start": samples[0]["store_mb"] if samples else None,
        "snapshot_ms_median": round(statistics.median(snapshot), 1) if snapshot else None,
        "snapshot_ms_max": max(snapshot) if snapshot else None,
        "dropped_frames": (last.get("dropped_frames") or 0) - (first.get("dropped_frames") or 0),
        "parts_stored_during_run": (last.get("max_seq") or 0) - (samples[0].get("max_seq") or 0)
        if samples
        else 0,
        "store_pruned_over_bound": last.get("store_pruned_over_bound"),
        "alarms_at_end": last.get("alarms"),
    }


def max_seq(db: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)  # kill PID stops the daemon and broker too
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="run length")
    parser.add_argument("--short", action="store_true", help="~10 min: 8 after 2 of warm-up")
    parser.add_argument("--warmup-min", type=float, default=None, help="default: 1/6 of it")
    parser.add_argument("--sample-s", type=float, default=30.0)
    parser.add_argument("--history-days", type=float, default=2.0)
    parser.add_argument("--shift-hours", type=float, default=2.0)
    parser.add_argument("--max-mb", type=int, default=40)
    parser.add_argument("--no-teach", action="store_true", help="run without inspection")
    parser.add_argument("--json", type=Path, help="also write the samples and summary here")
    args = parser.parse_args()
    minutes = 10.0 if args.short else args.minutes
    warmup = args.warmup_min
    if warmup is None:
        warmup = 2.0 if args.short else minutes / 6

    folder = Path(tempfile.mkdtemp(prefix="oee-endurance-"))
    broker = None
    process = None
    try:
        from agent.sim.line import Phase

        print(f"folder {folder}; rendering a 60 s 640x480 30 fps clip ...", flush=True)
        clip, roi = render_clip(
            folder, "belt.avi", (Phase(40.0), Phase(8.0, moving=False), Phase(12.0)), seed=3
        )
        broker = start_broker(folder)
        mqtt = f"host = '127.0.0.1'\nport = {broker[1]}" if broker else "enabled = false"
        now = datetime.now(UTC)
        shifts, shift_start = shifts_around(now, args.shift_hours)
        config = folder / "line.toml"
        config.write_text(
            "[line]\nid = 'endurance'\nideal_cycle_s = 0.08\n"
            f"[camera]\nsource = '{clip}'\nfps = 30\nloop = true\n"
            f"[vision]\nroi = {list(roi)}\n"
            f"[store]\npath = 'line.db'\nmax_mb = {args.max_mb}\n"
            f"[mqtt]\n{mqtt}\n{shifts}"
        )
        if not args.no_teach:
            print("teaching inspection on 45 s of good production ...", flush=True)
            good, _ = render_clip(folder, "good.avi", (Phase(45.0),), seed=2)
            subprocess.run(
                [sys.executable, "-m", "agent", "--log-level", "WARNING", "teach", str(good)]
                + ["--config", str(config)],
                check=True,
                cwd=folder,
            )
        db = folder / "line.db"
        began = time.monotonic()
        filled = fill_history(db, datetime.now(UTC), shift_start, args.history_days)
        print(
            f"store filled: {filled} parts, {store_mb(db):.1f} MB "
            f"in {time.monotonic() - began:.0f} s; running {minutes:g} min ...",
            flush=True,
        )
        command = [sys.executable, "-m", "agent", "--log-level", "WARNING", "run", "--config"]
        process = subprocess.Popen([*command, str(config)], cwd=folder)
        started = time.monotonic()
        samples: list[dict[str, Any]] = []
        while time.monotonic() - started < minutes * 60:
            time.sleep(min(args.sample_s, max(0.0, minutes * 60 - (time.monotonic() - started))))
            if process.poll() is not None:
                raise SystemExit(f"the daemon exited with {process.returncode}")
            stats = latest_stats(db)
            sample = {
                "t_min": round((time.monotonic() - started) / 60, 2),
                **{k: round(v, 1) for k, v in proc_status(process.pid).items()},
                "store_mb": round(store_mb(db), 1),
                "max_seq": max_seq(db),
                "fps": stats.get("fps"),
                "dropped_frames": stats.get("dropped_frames"),
                "snapshot_ms": stats.get("snapshot_ms"),
                "store_pruned_over_bound": stats.get("store_pruned_over_bound"),
                "alarms": stats.get("alarms"),
            }
            samples.append(sample)
            print(json.dumps({k: v for k, v in sample.items() if k != "alarms"}), flush=True)
        process.send_signal(signal.SIGTERM)
        process.wait(120)
        summary = {
            "minutes": minutes,
            "warmup_min": warmup,
            "history_parts": filled,
            "max_mb": args.max_mb,
            "inspection": not args.no_teach,
            "load_at_end": os.getloadavg(),
            **summarise(samples, warmup),
        }
        print(json.dumps(summary, indent=2))
        if args.json:
            args.json.write_text(json.dumps({"summary": summary, "samples": samples}, indent=2))
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        if broker is not None:
            broker[0].terminate()
            broker[0].wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
