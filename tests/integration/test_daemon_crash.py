"""`oee-agent run` killed with SIGKILL at random moments, 50 times, and restarted.

After every kill: `PRAGMA integrity_check` is ok and every event seen stored before is
still there. At the end (a clean run stopped with SIGTERM): the shift totals of
`report` equal the sum of stored events, every crash's gap was closed with `no_data`,
and every stored part reached a persistent MQTT subscriber (the outbox survived).
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agent.events import PartEvent, StateEvent
from agent.sim.line import GroundTruth, Phase, Scenario, render_line
from agent.store import Store
from tests.conftest import wait_until, write_line_config

KILLS = 50


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    """6 s of belt at 320x240: 2 s running, a 2.5 s halt, 1.5 s running."""
    scenario = Scenario(
        phases=(Phase(2.0), Phase(2.5, moving=False), Phase(1.5)),
        width=320,
        height=240,
        speed_px_s=120.0,
        size_px=(32.0, 38.0),
        pitch_s=(0.4, 0.6),
        seed=5,
        codec="MJPG",
    )
    return render_line(scenario, tmp_path_factory.mktemp("crash-footage") / "belt.avi")


def check_file(db: Path) -> tuple[str, list[str]]:
    """integrity_check, and the event ids in time order, read with plain sqlite3."""
    conn = sqlite3.connect(db)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        ids = [row[0] for row in conn.execute("SELECT id FROM events ORDER BY epoch, seq")]
    finally:
        conn.close()
    return result, ids


def parts_stored(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM events WHERE type = 'part'").fetchone()[0])
    finally:
        conn.close()


class Started:
    """`oee-agent run` in a child process; `started` is set when it logs that it started."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(command, cwd=cwd, stderr=subprocess.PIPE, text=True)
        self.started = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:  # read to the end: a full pipe would block it
            if " started" in line:
                self.started.set()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(10)
        assert self.process.stderr is not None
        self.process.stderr.close()


@pytest.mark.slow
@pytest.mark.timeout(900)  # 50 starts of the daemon: over 4 minutes on a loaded machine
def test_sigkill_at_random_moments_loses_nothing_acknowledged(
    footage: GroundTruth, tmp_path: Path, mosquitto, subscribe
) -> None:
    line_id = f"crash-{int(time.time() * 1000) % 10**8}"
    config = write_line_config(
        tmp_path / "line.toml",
        footage,
        line_id=line_id,
        line={"site": "it", "area": "crash", "ideal_cycle_s": 0.5},
        # groups committed every 0.2 s: the kills (within a second of a start) fall on
        # commits, as they would on a line with the default 5 s over a longer run
        store={"path": "line.db", "commit_interval_s": 0.2},
        mqtt={"host": "127.0.0.1", "port": mosquitto.port},
    )
    db = tmp_path / "line.db"
    feed = subscribe([f"oee/it/crash/{line_id}/part"], client_id=f"{line_id}-sub", persistent=True)
    rng = random.Random(1234)
    command = [sys.executable, "-m", "agent", "run", "--config", str(config)]
    # how long a start takes on this machine: a third of the kills fall before or during
    # a start (when the store may be half made), the rest within a second after its own
    # `started`, so the shares hold on a fast or a loaded machine alike
    began = time.monotonic()
    first = Started(command, tmp_path)
    assert first.started.wait(60), "the first run did not start"
    startup = time.monotonic() - began
    time.sleep(rng.uniform(0.2, 1.0))
    first.kill()
    seen: list[str] = check_file(db)[1]
    assert seen, "the first run stored nothing"
    productive = 1
    for _ in range(KILLS - 1):
        daemon = Started(command, tmp_path)
        if rng.random() < 1 / 3:
            daemon.started.wait(rng.uniform(0.1, startup))
        else:
            assert daemon.started.wait(60), "a run did not start"
            time.sleep(rng.uniform(0.0, 1.0))
        daemon.kill()
        if not db.exists():
            continue  # killed before it created the store
        result, ids = check_file(db)
        assert result == "ok"
        assert set(seen) <= set(ids), "a stored event was lost"
        productive += len(ids) > len(seen)
        seen = ids
    assert productive >= 10, f"only {productive} kills hit a counting daemon ({startup=:.1f} s)"

    # a clean run to the end: resumes, counts, is stopped in order (Ctrl-C, as by hand)
    daemon = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE)
    before = parts_stored(db)
    assert wait_until(lambda: parts_stored(db) >= before + 2, 60), "the clean run did not count"
    daemon.send_signal(signal.SIGINT)
    _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err.decode()

    with Store.open(db) as store:
        assert store.integrity_check() == "ok"
        events = store.events()
        assert store.outbox.depth() == 0
    assert {e.id for e in events} >= set(seen)
    states = [e for e in events if isinstance(e, StateEvent)]
    parts = [e for e in events if isinstance(e, PartEvent)]
    for a, b in zip(states, states[1:], strict=False):
        assert b.ts >= a.ts
        # every run starts with `running`; a crashed one was closed by the next start
        assert not (a.state == b.state == "running"), "a crash's gap was not closed"
    assert states[-1].state == "no_data"

    report = subprocess.run(
        [sys.executable, "-m", "agent", "report", "--db", str(db), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = json.loads(report.stdout)
    assert out["total"]["total"] == len(parts)
    assert out["total"]["good"] == sum(p.good for p in parts)
    assert sum(s["total"] for s in out["shifts"]) == len(parts)

    # every stored part was delivered (perhaps twice: at-least-once), nothing else was
    ids = {p.id for p in parts}
    assert feed.wait_for(lambda ms: {json.loads(m.payload)["id"] for m in ms} >= ids, timeout=20)
    assert {json.loads(m.payload)["id"] for m in feed.snapshot()} <= ids
