"""`oee-agent run` as a process on rendered footage played in real time, with mosquitto.

It is stopped with SIGTERM mid-footage; then the store, `oee-agent report` and the
retained MQTT topics must tell the same story.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import pytest

import agent.publish
from agent.events import PartEvent, StateEvent
from agent.sim.line import GroundTruth, Phase, Scenario, render_line
from agent.store import open_readonly
from tests.conftest import write_line_config


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> GroundTruth:
    """20 s of belt at 320x240: 3 s running, a 3 s halt, 14 s running.

    Long after the test has seen what it waits for (at about 8 s), so that the SIGTERM
    stops a daemon that still counts, however loaded the machine.
    """
    scenario = Scenario(
        phases=(Phase(3.0), Phase(3.0, moving=False), Phase(14.0)),
        width=320,
        height=240,
        speed_px_s=120.0,
        size_px=(32.0, 38.0),
        seed=11,
        codec="MJPG",
    )
    return render_line(scenario, tmp_path_factory.mktemp("daemon-footage") / "belt.avi")


def write_config(folder: Path, footage: GroundTruth, line_id: str, port: int) -> Path:
    return write_line_config(
        folder / "line.toml",
        footage,
        line_id=line_id,
        line={"site": "it", "area": "daemon"},
        store={"path": "var/line.db"},
        mqtt={"host": "127.0.0.1", "port": port, "oee_interval_s": 1},
    )


class Daemon:
    """`oee-agent run` in a child process, its log collected."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "--config", str(config)],
            stderr=subprocess.PIPE,
            text=True,
            cwd=config.parent,
        )
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.log):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} in the log:\n{''.join(self.log)}")


def test_run_stopped_by_sigterm_agrees_with_report_and_retained_topics(
    footage: GroundTruth, tmp_path: Path, mosquitto, subscribe
) -> None:
    line_id = f"daemon-{int(time.time() * 1000) % 10**8}"
    root = f"oee/it/daemon/{line_id}"
    live = subscribe([f"{root}/#"])
    daemon = Daemon(write_config(tmp_path, footage, line_id, mosquitto.port))
    daemon.wait_for("started", timeout=60)
    assert live.wait_for(lambda ms: any(m.topic.endswith("/status") for m in ms), timeout=20)
    # into the last phase: the halt was a stop, and the line runs again

    def states(ms) -> list[str]:
        return [json.loads(m.payload)["state"] for m in ms if m.topic.endswith("/state")]

    def parts(ms) -> int:
        return sum(1 for m in ms if m.topic.endswith("/part"))

    def ran_again(ms) -> bool:
        seen = states(ms)
        # events leave in groups ([store] commit_interval_s): the end of the recording
        # (no_data) may arrive with the restart, so look for the pair, not the last two
        return "stopped" in seen and "running" in seen[seen.index("stopped") :]

    assert live.wait_for(lambda ms: ran_again(ms) and parts(ms) >= 5, timeout=60), [
        states(live.snapshot()),
        parts(live.snapshot()),
    ]
    assert daemon.process.poll() is None, "".join(daemon.log)
    sent = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    code = daemon.process.wait(timeout=20)
    stopped_in = time.monotonic() - sent
    log = "".join(daemon.log)
    assert code == 0, log
    assert stopped_in < 10, log
    assert "SIGTERM: stopping" in log and "stopped" in log
    assert "Traceback" not in log

    db = tmp_path / "var" / "line.db"
    with open_readonly(db) as store:
        assert store.integrity_check() == "ok"
        events = store.events()
        depth = store.outbox.depth()
        stats = store.latest_stats()
    state_events = [e for e in events if isinstance(e, StateEvent)]
    part_ids = {e.id for e in events if isinstance(e, PartEvent)}
    assert [e.state for e in state_events] == ["running", "stopped", "running", "no_data"]
    assert len(part_ids) >= 5
    assert depth == 0, "the outbox was not drained at stop"
    assert stats is not None and stats["fps"] > 0

    report = subprocess.run(
        [sys.executable, "-m", "agent", "report", "--db", str(db), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    total = json.loads(report.stdout)["total"]
    assert total["total"] == len(part_ids)

    # every part went out once, in the store's order; the retained topics say the end
    assert live.wait_for(
        lambda ms: len([m for m in ms if m.topic.endswith("/part")]) >= len(part_ids)
    )
    published = [json.loads(m.payload)["id"] for m in live.on("/part")]
    assert set(published) == part_ids
    retained = subscribe([f"{root}/#"])
    assert retained.wait_for(
        lambda ms: {m.topic.rsplit("/", 1)[1] for m in ms} >= {"status", "state", "oee"}, timeout=10
    )
    last = {m.topic.rsplit("/", 1)[1]: m for m in retained.snapshot() if m.retain}
    assert last["status"].payload == b"offline"
    state = json.loads(last["state"].payload)
    assert state["state"] == "no_data" and state["id"] == state_events[-1].id
    # health went out on `stats` too, in the published schema, with the daemon's readings
    stats_schema = json.loads(
        (Path(agent.publish.__file__).parent / "schemas" / "stats.json").read_text()
    )
    samples = [json.loads(m.payload) for m in live.on("/stats")]
    assert samples, "no stats published"
    for sample in samples:
        jsonschema.validate(sample, stats_schema)
    assert samples[-1]["fps"] > 0
    # (this machine's clock may have no NTP: that alarm is true, nothing else may be up)
    assert [a for a in samples[-1]["alarms"] if "not synchronised" not in a] == []
    assert {"fps_in", "dropped_frames", "queue_depths", "disk_free_mb"} <= samples[-1].keys()
    oee = json.loads(last["oee"].payload)
    shift = json.loads(report.stdout)["shifts"][-1]
    for key in ("total", "good", "planned_s", "run_s", "downtime_s", "small_stop_s"):
        assert oee[key] == shift[key], key


def test_a_sigterm_at_any_moment_of_the_shutdown_exits_zero(
    footage: GroundTruth, tmp_path: Path
) -> None:
    """systemd may repeat SIGTERM, or send it as the daemon stops on its own: never exit -15."""
    config = write_line_config(
        tmp_path / "line.toml",
        footage,
        line_id="daemon-late-sigterm",
        store={"path": "var/line.db"},
        mqtt={"enabled": False},
    )
    daemon = Daemon(config)
    daemon.wait_for("started", timeout=60)
    # a SIGTERM every millisecond until it is gone: some arrive while Python exits
    while daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGTERM)
        time.sleep(0.001)
    assert daemon.process.wait() == 0, "".join(daemon.log)[-2000:]
