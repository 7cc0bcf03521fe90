"""The publisher in its own process, killed with SIGKILL and started again.

The agent side is a small script using the real publisher and a real store file; the
broker is the session's mosquitto. Sparkplug payloads are decoded with
`protoc --decode_raw`, which knows nothing of our schema or code.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from agent.publish.sparkplug import pb  # only to *encode* the test's rebirth command
from agent.store import Store
from agent.store.outbox import ACK_BATCH, ACK_INTERVAL_S
from tests.conftest import wait_until, write_line_config

AGENT = r"""
import sys, time
from datetime import UTC, datetime, timedelta
from agent.config import load_config
from agent.events import PartEvent
from agent.publish import MqttPublisher, messages_for
from agent.store import Store

config = load_config(sys.argv[1])
count, inflight, tick = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
store = Store.open(config.store_path)
t0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
events = [PartEvent(t0 + timedelta(seconds=i), id=f"part-{i:06d}") for i in range(count)]
if events:
    store.append_many([(e, messages_for(e, config)) for e in events])
publisher = MqttPublisher(config, store, inflight_max=inflight, reconnect_max_s=2)
publisher.start()
print("started", flush=True)
n = 0
while True:
    time.sleep(tick)
    n += 1
    shift = {"shift": "A", "date": "2026-03-02", "planned_s": n, "run_s": n, "downtime_s": 0,
             "small_stop_s": 0, "no_data_s": 0, "total": n, "good": n - n // 10,
             "availability": 1.0, "performance": 0.5, "quality": 0.9, "oee": 0.45 + n % 7 / 100,
             "losses": {}}
    publisher.publish_oee(shift)
    publisher.publish_stats({"fps": 25.0 + n % 5, "inference_ms": 0.3})
"""


def write_config(folder: Path, broker, line_id: str, sparkplug: bool = False) -> Path:
    mqtt = {"host": broker.host, "port": broker.port, "keepalive_s": 5, "sparkplug": sparkplug}
    return write_line_config(
        folder / "line.toml",
        line_id=line_id,
        line={"site": "proc-site", "area": "proc-area", "ideal_cycle_s": 1.0},
        store={"path": "line.db"},
        mqtt=mqtt,
    )


class Agent:
    def __init__(self, folder: Path, config: Path) -> None:
        self.script = folder / "agent_proc.py"
        self.script.write_text(AGENT)
        self.config = config
        self.process: subprocess.Popen[str] | None = None

    def start(self, count: int = 0, inflight: int = 100, tick: float = 0.1) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(self.script),
                str(self.config),
                str(count),
                str(inflight),
                str(tick),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "started"

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


@pytest.fixture
def agent(tmp_path):
    made: list[Agent] = []

    def make(config: Path) -> Agent:
        made.append(Agent(tmp_path, config))
        return made[-1]

    yield make
    for a in made:
        a.close()


def test_sigkill_with_events_in_the_outbox_loses_nothing(broker, tmp_path, subscribe, agent):
    line_id = f"kill{uuid.uuid4().hex[:8]}"
    root = f"oee/proc-site/proc-area/{line_id}"
    sub = subscribe([root + "/#"])
    proc = agent(write_config(tmp_path, broker, line_id))
    count = 3000
    proc.start(count=count, inflight=1)

    def parts(messages) -> list[str]:
        return list(
            dict.fromkeys(
                json.loads(m.payload)["id"] for m in messages if m.topic == root + "/part"
            )
        )

    # past one group of acknowledged rows deleted on disk (the rest are sent again)
    assert sub.wait_for(lambda ms: len(parts(ms)) >= ACK_BATCH + 100, timeout=60)
    proc.kill()
    with Store.open(tmp_path / "line.db") as store:
        left = store.outbox.depth()
    assert 0 < left < count, "the kill should leave events in the outbox"
    # the Will: retained status turns offline when the process dies
    assert sub.wait_for(
        lambda ms: [m.payload for m in ms if m.topic == root + "/status"] == [b"online", b"offline"]
    )

    proc.start(count=0)
    expected = [f"part-{i:06d}" for i in range(count)]
    assert sub.wait_for(lambda ms: len(parts(ms)) == count, timeout=60), len(parts(sub.snapshot()))
    assert parts(sub.snapshot()) == expected  # all of them, in order, duplicates aside
    statuses = [m.payload for m in sub.snapshot() if m.topic == root + "/status"]
    assert statuses == [b"online", b"offline", b"online"]
    with Store.open(tmp_path / "line.db") as store:
        # another process sees acknowledged rows gone once their group is deleted
        assert wait_until(lambda: store.outbox.depth() == 0, ACK_INTERVAL_S + 15)


def decode_raw(payload: bytes) -> str:
    """`protoc --decode_raw`: the wire format read without our schema."""
    result = subprocess.run(
        ["protoc", "--decode_raw"], input=payload, capture_output=True, check=True, timeout=10
    )
    return result.stdout.decode()


def top_level(text: str, field: int) -> int | None:
    match = re.search(rf"^{field}: (\d+)$", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def metrics(text: str) -> dict[str, str]:
    """Metric name -> the raw text of its value fields (Payload.metrics is field 2)."""
    out = {}
    for block in re.findall(r"^2 \{\n(.*?)^\}", text, re.MULTILINE | re.DOTALL):
        name = re.search(r'^  1: "(.*)"$', block, re.MULTILINE)
        values = re.findall(r"^  (1[0-9]): (.*)$", block, re.MULTILINE)
        if name:
            out[name.group(1)] = dict(values)
    return out


def test_sparkplug_births_data_death_and_rebirth(broker, tmp_path, subscribe, agent):
    line_id = f"spb{uuid.uuid4().hex[:8]}"
    node = f"spBv1.0/proc-site/{{}}/{line_id}"
    sub = subscribe([f"spBv1.0/proc-site/+/{line_id}", f"spBv1.0/proc-site/+/{line_id}/#"])
    proc = agent(write_config(tmp_path, broker, line_id, sparkplug=True))
    proc.start(tick=0.004)

    def of(kind: str, messages=None) -> list[bytes]:
        messages = sub.snapshot() if messages is None else messages
        return [m.payload for m in messages if m.topic.split("/")[2] == kind]

    # enough data for seq to wrap at 255
    assert sub.wait_for(lambda ms: len(ms) > 300, timeout=60)
    first = sub.snapshot()
    assert first[0].topic == node.format("NBIRTH")
    assert first[1].topic == node.format("DBIRTH") + "/line"
    birth = decode_raw(first[0].payload)
    bdseq = int(metrics(birth)["bdSeq"]["11"])
    assert "Node Control/Rebirth" in metrics(birth)
    assert {
        "OEE",
        "Availability",
        "Performance",
        "Quality",
        "State",
        "Count/Total",
        "Count/Good",
        "Count/Reject",
    } <= set(metrics(decode_raw(first[1].payload)))
    seqs = [top_level(decode_raw(m.payload), 3) for m in first[:300]]
    assert seqs[:2] == [0, 1]
    assert seqs == [i % 256 for i in range(300)], "seq must count 0..255 and wrap"
    assert of("NDATA", first) and of("DDATA", first)
    assert "Stats/FPS" in metrics(decode_raw(of("NDATA", first)[0]))
    assert "OEE" in metrics(decode_raw(of("DDATA", first)[0]))

    # rebirth on NCMD Node Control/Rebirth
    command = pb.Payload()
    metric = command.metrics.add()
    metric.name, metric.datatype, metric.boolean_value = "Node Control/Rebirth", pb.Boolean, True
    sub.client.publish(node.format("NCMD"), command.SerializeToString(), qos=1)
    assert sub.wait_for(lambda ms: len(of("NBIRTH", ms)) == 2, timeout=10)
    rebirth = decode_raw(of("NBIRTH")[1])
    assert int(metrics(rebirth)["bdSeq"]["11"]) == bdseq and top_level(rebirth, 3) == 0

    # death: the Will carries the bdSeq of the NBIRTH
    proc.kill()
    assert sub.wait_for(lambda ms: len(of("NDEATH", ms)) == 1, timeout=10)
    death = decode_raw(of("NDEATH")[0])
    assert int(metrics(death)["bdSeq"]["11"]) == bdseq
    assert top_level(death, 3) is None  # NDEATH has no seq

    # a restart takes the next bdSeq (kept in the store)
    proc.start(tick=0.05)
    assert sub.wait_for(lambda ms: len(of("NBIRTH", ms)) == 3, timeout=10)
    reborn = decode_raw(of("NBIRTH")[2])
    assert int(metrics(reborn)["bdSeq"]["11"]) == (bdseq + 1) % 256
    assert top_level(reborn, 3) == 0
