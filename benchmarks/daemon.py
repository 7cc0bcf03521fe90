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
                                          [--no-teach]

Target (issue 6): <= 50 % of one core and <= 300 MB.
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
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def render_clip(folder: Path, name: str, phases: tuple, seed: int) -> tuple[Path, tuple]:  # type: ignore[type-arg]
    from agent.sim.line import Scenario, render_line

    scenario = Scenario(phases=phases, width=640, height=480, fps=30.0, seed=seed, codec="MJPG")
    truth = render_line(scenario, folder / name)
    return truth.path, scenario.roi


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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--no-taskset", action="store_true", help="do not pin to CPU 0")
    parser.add_argument("--no-teach", action="store_true", help="run without inspection")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="oee-daemon-bench-"))
    broker = None
    try:
        from agent.sim.line import Phase

        print("rendering a 640x480 30 fps clip ...", flush=True)
        clip, roi = render_clip(
            folder, "belt.avi", (Phase(14.0), Phase(4.0, moving=False), Phase(6.0)), seed=1
        )
        broker = start_broker(folder)
        mqtt = f"host = '127.0.0.1'\nport = {broker[1]}" if broker else "enabled = false"
        config = folder / "line.toml"
        config.write_text(
            "[line]\nid = 'bench'\nideal_cycle_s = 0.8\n"
            f"[camera]\nsource = '{clip}'\nfps = 30\nloop = true\n"
            f"[vision]\nroi = {list(roi)}\n"
            "[store]\npath = 'line.db'\n"
            f"[mqtt]\n{mqtt}\n"
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
        command = [sys.executable, "-m", "agent", "--log-level", "WARNING", "run", "--config"]
        command.append(str(config))
        if not args.no_taskset and shutil.which("taskset"):
            command = ["taskset", "-c", "0", *command]
        process = subprocess.Popen(command, cwd=folder)
        time.sleep(args.warmup)
        if process.poll() is not None:
            raise SystemExit(f"the daemon exited with {process.returncode}")
        cpu0, t0 = cpu_seconds(process.pid), time.monotonic()
        time.sleep(args.seconds)
        cpu1, t1 = cpu_seconds(process.pid), time.monotonic()
        rss = peak_rss_mb(process.pid)
        process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        process.wait(60)
        stop_s = time.monotonic() - stopping

        from agent.store import open_readonly

        with open_readonly(folder / "line.db") as store:
            parts = len(store.parts())
            outbox = store.outbox.depth()
        cpu_percent = 100 * (cpu1 - cpu0) / (t1 - t0)
        print(
            json.dumps(
                {
                    "seconds": round(t1 - t0, 1),
                    "pinned_to_cpu0": "taskset" in command[0],
                    "cpu_percent_of_one_core": round(cpu_percent, 1),
                    "peak_rss_mb": round(rss, 1),
                    "inspection": not args.no_teach,
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
