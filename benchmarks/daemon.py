"""Daemon benchmark: CPU and peak RSS of `oee-agent run` at 30 fps, on one core.

Renders a 640x480 MJPG clip of a belt (running, halted, running) into a temporary
folder and starts its own mosquitto on a free loopback port. First it teaches the
line's inspection model on 45 s of rendered good production (`oee-agent teach`), so
every part is inspected by the real int8 model (`--no-teach` measures without). Then
it runs `oee-agent run` itself in a child process pinned to CPU 0 (`taskset -c 0`),
with the clip played as a camera in a loop at its 30 fps (`[camera] loop = true`), for
`--seconds`: capture thread, pipeline, recorder into SQLite with synchronous=FULL, MQTT
outbox to the local mosquitto, as on a board. Measured after a warm-up:

- CPU: (utime + stime) / wall time of the child from /proc, as % of one core;
- peak RSS: VmHWM of the child;
- from the daemon's own stored `stats` samples: fps in and processed, dropped frames,
  pipeline and inspection time.

    .venv/bin/python benchmarks/daemon.py [--seconds 120] [--warmup 10] [--no-taskset]
                                          [--no-teach] [--parts-per-s N [--fps F]]

Target (issue 6): <= 50 % of one core and <= 300 MB.

A fast line (`--parts-per-s 10 --fps 60`): the clip is small parts about two part
lengths apart at that rate (running 20 s, halted 4 s, running 20 s, 3 s starved so the
loop starts on an empty view), rendered at `--fps`. First `oee-agent replay` runs over
it once, as fast as it goes, pinned to CPU 0: every frame processed, its count against
the rendered truth and its CPU time over the footage's length (the share of one core the
line needs, whatever else the machine runs). Then the daemon runs for whole loops of
the clip (`--seconds` rounded), and the parts it stored in that window are counted
against loops x the truth, with those inspected, the frames in, processed and dropped,
and anything `stats` says of an inspection backlog (read defensively: keys naming
inspection, in `stats` or its `queue_depths`).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def render_clip(
    folder: Path,
    name: str,
    phases: tuple,
    seed: int,
    **look: Any,  # type: ignore[type-arg]
) -> tuple[Path, tuple]:  # type: ignore[type-arg]
    """Render a 640x480 MJPG clip (30 fps unless `look` says); its path and ROI."""
    path, roi, _ = render_counted(folder, name, phases, seed, **look)
    return path, roi


def render_counted(
    folder: Path,
    name: str,
    phases: tuple,
    seed: int,
    **look: Any,  # type: ignore[type-arg]
) -> tuple[Path, tuple, int]:  # type: ignore[type-arg]
    """`render_clip`, and how many parts cross the counting line in the clip."""
    from agent.sim.line import Scenario, render_line

    look = {"fps": 30.0, **look}
    scenario = Scenario(phases=phases, width=640, height=480, seed=seed, codec="MJPG", **look)
    truth = render_line(scenario, folder / name)
    return truth.path, scenario.roi, sum(1 for p in truth.parts if p.t_count is not None)


def fast_look(parts_per_s: float, fps: float) -> dict[str, Any]:
    """A line making `parts_per_s`: small parts about two part lengths apart."""
    return {
        "fps": fps,
        "size_px": (36.0, 44.0),
        "speed_px_s": 80.0 * parts_per_s,
        "pitch_s": (0.9 / parts_per_s, 1.1 / parts_per_s),
    }


def start_broker(folder: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
        "log_dest none\n"
    )
    process = subprocess.Popen([binary, "-c", str(conf)])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    return None


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summarise(db: Path, warmup: float) -> dict[str, object]:
    """Rates over the daemon's stored `stats` samples after the warm-up.

    The last sample (taken while stopping) is left out: its interval is cut short.
    """
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        rows = [json.loads(r[0]) for r in conn.execute("SELECT data FROM stats ORDER BY seq")]
    finally:
        conn.close()
    samples = [r for r in rows[:-1] if r.get("uptime_s", 0) >= warmup]
    if len(samples) < 2:
        return {}
    first, last = samples[0], samples[-1]
    span = last["uptime_s"] - first["uptime_s"]

    def mean(key: str) -> float | None:
        values = [r[key] for r in samples[1:] if r.get(key) is not None]
        return round(sum(values) / len(values), 2) if values else None

    return {
        "fps_in": round((last["camera"]["frames_in"] - first["camera"]["frames_in"]) / span, 2),
        "fps_processed": round((last["frames"] - first["frames"]) / span, 2),
        "dropped_frames": last["dropped_frames"] - first["dropped_frames"],
        "frames": last["frames"] - first["frames"],
        "process_ms": mean("process_ms"),
        "frame_age_ms": mean("frame_age_ms"),
        "inference_ms": mean("inference_ms"),
        "inspections": last["inspections"] - first["inspections"],
        "cpu_percent_by_stats": mean("cpu_percent"),
        "inspection_backlog": inspection_backlog(samples),
    }


def replay_once(
    folder: Path, clip: Path, config: Path, clip_s: float, truth: int, pin: bool
) -> dict[str, Any]:
    """`oee-agent replay` of the clip once, as fast as it goes: every frame processed.

    Its CPU time over the footage's length is the share of one core the line needs,
    whatever else the machine runs; its count against the truth has no frame dropped.
    """
    report = folder / "replay.json"
    command = [sys.executable, "-m", "agent", "--log-level", "WARNING", "replay", str(clip)]
    command += ["--config", str(config), "--db", str(folder / "replay.db")]
    command += ["--report", str(report)]
    if pin and shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=folder)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"replay exited with {process.returncode}")
    parts = json.loads(report.read_text())["parts"]
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "footage_s": clip_s,
        "wall_s": round(time.monotonic() - started, 1),
        "cpu_s": round(cpu, 1),
        "cpu_percent_of_one_core_at_real_time": round(100 * cpu / clip_s, 1),
        "parts_truth": truth,
        "parts_counted": len(parts),
        "parts_inspected": sum(1 for p in parts if p.get("score") is not None),
    }


def inspected(part: Any) -> bool:
    """A stored part the model looked at (`inspected` once stored, else a score)."""
    return bool(getattr(part, "inspected", part.score is not None))


def inspection_backlog(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """What the daemon says of inspection it could not keep up with, read defensively.

    Any `stats` key or `queue_depths` entry naming inspection (an inspection queue's
    depth, parts counted but not inspected), with its largest and last value; empty
    for a daemon that inspects inline and has no such counter.
    """
    found: dict[str, list[float]] = {}
    for sample in samples:
        flat = {k: v for k, v in sample.items() if "inspect" in k and k != "inspections"}
        depths = sample.get("queue_depths")
        if isinstance(depths, dict):
            flat.update({f"queue_depths.{k}": v for k, v in depths.items() if "inspect" in k})
        for key, value in flat.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                found.setdefault(key, []).append(value)
    return {key: {"max": max(v), "last": v[-1]} for key, v in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--no-taskset", action="store_true", help="do not pin to CPU 0")
    parser.add_argument("--no-teach", action="store_true", help="run without inspection")
    parser.add_argument(
        "--parts-per-s",
        type=float,
        help="a fast line: this many small parts a second, counted against the truth",
    )
    parser.add_argument("--fps", type=float, default=30.0, help="the camera's frame rate")
    args = parser.parse_args()
    if args.parts_per_s is not None and args.parts_per_s <= 0:
        parser.error("--parts-per-s must be positive")

    folder = Path(tempfile.mkdtemp(prefix="oee-daemon-bench-"))
    broker = None
    try:
        from agent.sim.line import Phase

        look: dict[str, Any] = {"fps": args.fps}
        phases = (Phase(14.0), Phase(4.0, moving=False), Phase(6.0))
        ideal = 0.8
        if args.parts_per_s is not None:
            look = fast_look(args.parts_per_s, args.fps)
            # ends starved, so the view is empty where the loop starts it again
            phases = (Phase(20.0), Phase(4.0, moving=False), Phase(20.0), Phase(3.0, feeding=False))
            ideal = 0.8 / args.parts_per_s
        clip_s = sum(p.duration_s for p in phases)
        print(f"rendering a 640x480 {args.fps:g} fps clip of {clip_s:g} s ...", flush=True)
        clip, roi, per_loop = render_counted(folder, "belt.avi", phases, seed=1, **look)
        broker = start_broker(folder)
        mqtt = f"host = '127.0.0.1'\nport = {broker[1]}" if broker else "enabled = false"
        config = folder / "line.toml"
        config.write_text(
            f"[line]\nid = 'bench'\nideal_cycle_s = {ideal}\n"
            f"[camera]\nsource = '{clip}'\nfps = {args.fps:g}\nloop = true\n"
            f"[vision]\nroi = {list(roi)}\n"
            "[store]\npath = 'line.db'\n"
            f"[mqtt]\n{mqtt}\n"
        )
        if not args.no_teach:
            print("teaching inspection on 45 s of good production ...", flush=True)
            good, _ = render_clip(folder, "good.avi", (Phase(45.0),), seed=2, **look)
            subprocess.run(
                [sys.executable, "-m", "agent", "--log-level", "WARNING", "teach", str(good)]
                + ["--config", str(config)],
                check=True,
                cwd=folder,
            )
        replayed: dict[str, Any] = {}
        if args.parts_per_s is not None:
            replayed = replay_once(folder, clip, config, clip_s, per_loop, not args.no_taskset)
        command = [sys.executable, "-m", "agent", "--log-level", "WARNING", "run", "--config"]
        command.append(str(config))
        if not args.no_taskset and shutil.which("taskset"):
            command = ["taskset", "-c", "0", *command]
        process = subprocess.Popen(command, cwd=folder)
        time.sleep(args.warmup)
        if process.poll() is not None:
            raise SystemExit(f"the daemon exited with {process.returncode}")
        # whole loops of the clip: any window that long holds loops x per_loop parts
        loops = max(1, round(args.seconds / clip_s))
        measured_s = loops * clip_s if args.parts_per_s is not None else args.seconds
        cpu0, t0, wall0 = cpu_seconds(process.pid), time.monotonic(), time.time()
        time.sleep(measured_s)
        cpu1, t1, wall1 = cpu_seconds(process.pid), time.monotonic(), time.time()
        rss = peak_rss_mb(process.pid)
        process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        process.wait(60)
        stop_s = time.monotonic() - stopping

        from agent.store import open_readonly

        with open_readonly(folder / "line.db") as store:
            parts = len(store.parts())
            outbox = store.outbox.depth()
            window = store.parts(
                datetime.fromtimestamp(wall0, UTC), datetime.fromtimestamp(wall1, UTC)
            )
        counted: dict[str, Any] = {}
        if args.parts_per_s is not None:
            counted = {
                "parts_per_s": args.parts_per_s,
                "camera_fps": args.fps,
                "loops_measured": loops,
                "parts_truth": loops * per_loop,
                "parts_counted": len(window),
                "parts_inspected": sum(1 for p in window if inspected(p)),
            }
        cpu_percent = 100 * (cpu1 - cpu0) / (t1 - t0)
        print(
            json.dumps(
                {
                    "seconds": round(t1 - t0, 1),
                    "pinned_to_cpu0": "taskset" in command[0],
                    "cpu_percent_of_one_core": round(cpu_percent, 1),
                    "peak_rss_mb": round(rss, 1),
                    "inspection": not args.no_teach,
                    **counted,
                    "replay": replayed,
                    **summarise(folder / "line.db", args.warmup),
                    "parts_stored": parts,
                    "outbox_left": outbox,
                    "mqtt": broker is not None,
                    "sigterm_to_exit_s": round(stop_s, 2),
                    "targets": {"cpu_percent": 50, "peak_rss_mb": 300},
                },
                indent=2,
            )
        )
    finally:
        if broker is not None:
            broker[0].terminate()
            broker[0].wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
