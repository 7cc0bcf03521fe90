"""`oee-agent replay --publish`: the replay's events reach a real broker, or the command
says what is still queued; either way the store keeps everything and its configuration."""

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent import replay
from agent.__main__ import main
from agent.sim.line import Phase, Scenario, render_line
from agent.store import open_readonly
from tests.conftest import write_line_config

START = "2026-03-02T06:00:00+00:00"


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("publish")
    scenario = Scenario((Phase(5), Phase(3.5, moving=False), Phase(4)), seed=7, noise_sigma=2)
    return render_line(scenario, folder / "line.mp4")


def write_config(truth, folder: Path, port: int, line: str = "pub-line", **mqtt: float) -> Path:
    return write_line_config(
        folder / "line.toml",
        truth,
        line_id=line,
        line={"site": "plant-t", "area": "test", "ideal_cycle_s": 0.5},
        inspection={"model_dir": "no-model-here"},
        mqtt={"host": "127.0.0.1", "port": port, **mqtt},
    )


def test_replay_publish_delivers_every_event(footage, tmp_path, mosquitto, subscribe) -> None:
    config = write_config(footage, tmp_path, mosquitto.port)
    subscriber = subscribe(["oee/plant-t/test/pub-line/#"])
    db, report = tmp_path / "line.db", tmp_path / "report.json"
    args = ["replay", str(footage.path), "--config", str(config), "--db", str(db)]
    code = main([*args, "--report", str(report), "--start", START, "--publish"])
    assert code == 0

    reader = open_readonly(db)
    part_ids = {p.id for p in reader.parts()}
    stop_ids = {s.id for s in reader.stops()}
    assert reader.outbox.depth() == 0  # everything was acknowledged
    assert reader.config_text() == config.read_text()  # report/TUI can rebuild the line
    reader.close()
    assert len(part_ids) == len(json.loads(report.read_text())["parts"]) == len(footage.counted)

    def delivered(messages) -> bool:
        got = {json.loads(m.payload)["id"] for m in messages if m.topic.endswith("/part")}
        return part_ids <= got

    assert subscriber.wait_for(delivered, timeout=10)
    stops = [json.loads(m.payload) for m in subscriber.on("/stop")]
    assert stop_ids and stop_ids <= {s["id"] for s in stops}
    first = min(json.loads(m.payload)["ts"] for m in subscriber.on("/part"))
    assert first.startswith("2026-03-02T06:00")  # late events carry the time they happened

    # the store it wrote reports without a --config
    assert main(["report", "--db", str(db), "--format", "json"]) == 0


def test_replay_publish_without_a_broker_keeps_the_outbox(
    footage, tmp_path, monkeypatch, capsys
) -> None:
    from tests.conftest import free_port

    monkeypatch.setattr(replay, "DRAIN_TIMEOUT_S", 1.0)
    config = write_config(footage, tmp_path, free_port())
    db = tmp_path / "line.db"
    report = tmp_path / "report.json"
    args = ["replay", str(footage.path), "--config", str(config), "--db", str(db)]
    assert main([*args, "--report", str(report), "--publish"]) == 1
    err = capsys.readouterr().err
    assert "did not acknowledge" in err and "outbox" in err and "Traceback" not in err
    assert report.exists()  # the replay itself is complete
    reader = open_readonly(db)
    assert reader.outbox.depth() > 0 and reader.parts()
    reader.close()


def test_replay_publish_sends_the_oee_snapshots_run_sends(
    footage, tmp_path, mosquitto, subscribe
) -> None:
    """Every `oee_interval_s` of footage, stamped on the footage's time line, and retained."""
    topic = "oee/plant-t/test/snap-line/oee"
    config = write_config(footage, tmp_path, mosquitto.port, "snap-line", oee_interval_s=1)
    subscriber = subscribe([topic])
    args = ["replay", str(footage.path), "--config", str(config), "--db", str(tmp_path / "x.db")]
    assert main([*args, "--start", START, "--publish"]) == 0

    start = datetime.fromisoformat(START)
    last_frame = start + timedelta(seconds=(footage.frames - 1) / footage.scenario.fps)

    def stamps(messages) -> list[datetime]:
        return [datetime.fromisoformat(json.loads(m.payload)["ts"]) for m in messages]

    def at_last_frame(t: datetime) -> bool:
        return abs(t - last_frame) < timedelta(milliseconds=20)

    assert subscriber.wait_for(lambda got: any(map(at_last_frame, stamps(got))), timeout=10)
    seen = stamps(subscriber.on("/oee"))
    assert seen == sorted(seen) and at_last_frame(seen[-1])  # the last one: at the last frame
    assert len(seen) >= 2 and all(start < t < last_frame + timedelta(seconds=1) for t in seen)
    live = seen[:-1]  # every oee_interval_s of footage before the final one
    assert all(b - a >= timedelta(seconds=1) for a, b in zip(live, live[1:], strict=False))
    final = json.loads(subscriber.on("/oee")[-1].payload)
    assert final["total"] == final["good"] == len(footage.counted) and final["oee"] is not None
    with open_readonly(tmp_path / "x.db") as store:
        part_times = [p.ts for p in store.parts()]
    for message in subscriber.on("/oee"):  # each counts every part up to its time
        snapshot = json.loads(message.payload)
        upto = datetime.fromisoformat(snapshot["ts"])
        assert snapshot["total"] == sum(1 for t in part_times if t <= upto), snapshot["ts"]

    late = subscribe([topic])  # retained: a subscriber after the replay gets the last one
    assert late.wait_for(lambda got: [m.retain for m in got] == [True], timeout=10)
    assert at_last_frame(stamps(late.snapshot())[0])
