"""oee-tui over a real mosquitto: the fleet, opening a line, reasons on cmd/reason.

Lines are simulated by a plain paho client publishing the contract's payloads (built
with agent.publish.topics); each test gets its own broker so retained messages of
other tests do not show up in the fleet.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from textual.widgets import DataTable, Input

from agent.config import MqttConfig
from agent.events import StateEvent
from agent.publish.topics import OpenStop, Topics, oee_payload, state_payload, stop_payload
from agent.store import open_readonly
from tests.conftest import pilot_until, wait_until
from tui.app import OeeApp
from tui.sample import build_sample_store, sample_clock
from tui.screens.reason import ReasonPicker
from tui.sources.mqtt import MqttFeed
from tui.sources.store import StoreSource

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


class Client:
    """A plain MQTT client: publishes the simulated lines, records what it hears."""

    def __init__(self, broker, topics=()) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.max_inflight_messages_set(1000)
        self.client.on_connect = lambda c, u, f, rc, p: (
            c.subscribe([(t, 1) for t in topics]) if topics else self.ready.set()
        )
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def publish(self, topic, payload, retain=False) -> mqtt.MQTTMessageInfo:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.client.publish(topic, data, qos=1, retain=retain)

    def wait_for(self, predicate, timeout=10.0) -> bool:
        def holds() -> bool:
            with self.lock:
                return bool(predicate(list(self.messages)))

        return wait_until(holds, timeout)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def shift(oee: float) -> dict:
    return {
        "shift": "A",
        "date": "2026-03-03",
        "start": "2026-03-03T06:00:00+00:00",
        "planned_s": 7200.0,
        "run_s": 6000.0,
        "total": 1400,
        "good": 1380,
        "availability": 0.83,
        "performance": 0.9,
        "quality": 0.98,
        "oee": oee,
        "losses": {
            "breakdown": 600.0,
            "setup": 0,
            "unassigned": 600.0,
            "small_stop": 0,
            "reduced_speed": 0,
            "defects": 80.0,
        },
    }


def publish_line(client: Client, root: str, oee: float, state: str, *, stop: str | None = None):
    topics = Topics(root)
    client.publish(topics.status, b"online", retain=True)
    event = StateEvent(T0, state, id=stop or f"{root}-run")
    client.publish(topics.state, state_payload(event), retain=True)
    info = client.publish(topics.oee, oee_payload(shift(oee), T0), retain=True)
    if stop:
        client.publish(topics.stop, stop_payload(OpenStop(stop, T0, state, None), None))
    return info


async def until(pilot, predicate, timeout=15.0) -> None:
    assert await pilot_until(pilot, predicate, timeout), "timed out"


def fleet_rows(app: OeeApp) -> list[str]:
    """The line names down the fleet table, as on screen (empty off the fleet screen)."""
    tables = app.screen.query("#fleet")
    if not tables:
        return []
    table = tables.first(DataTable)
    return [str(table.get_row_at(i)[2]) for i in range(table.row_count)]


def test_fleet_worst_first_open_a_line_and_assign_over_mqtt(make_broker):
    broker = make_broker()
    lines = Client(broker, ["oee/+/+/+/cmd/reason"])
    publish_line(lines, "oee/plant-a/stamping/press-1", 0.82, "running")
    publish_line(lines, "oee/plant-a/stamping/press-2", 0.41, "stopped", stop="stop-42")
    publish_line(lines, "oee/plant-b/paint/booth-1", 0.66, "running").wait_for_publish(5)
    feed = MqttFeed(MqttConfig(host=broker.host, port=broker.port))
    feed.start()  # retained messages: the picture at once, before anything new is sent
    app = OeeApp(feed=feed, clock=sample_clock(T0 + timedelta(minutes=10)))

    async def run() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            worst_first = ["press-2", "booth-1", "press-1"]
            await until(pilot, lambda: fleet_rows(app) == worst_first)
            table = app.screen.query_one("#fleet", DataTable)
            assert table.get_row_at(0)[8] == "08:00"
            await pilot.press("enter")  # the worst line
            await until(pilot, lambda: app.snapshot is not None)
            assert app.snapshot.line == "press-2" and app.snapshot.shift["oee"] == 0.41
            assert app.screen.id != "fleet" and "STOPPED" in str(
                app.screen.query_one("#state-line").render()
            )
            await pilot.press("2")
            await pilot.pause()
            await pilot.press("a")
            assert isinstance(app.screen, ReasonPicker)
            app.screen.query_one(Input).value = "jam"  # the feed does not carry the codes
            await pilot.press("enter")
            await pilot.app.workers.wait_for_complete()
            # the line's agent answers on cmd/result; the TUI tells the supervisor
            lines.publish(
                "oee/plant-a/stamping/press-2/cmd/result",
                {"v": 1, "ok": True, "command": "reason", "stop_id": "stop-42", "reason": "jam"},
            )
            await until(pilot, lambda: any("accepted" in n.message for n in app._notifications))

    try:
        asyncio.run(run())
        assert lines.wait_for(lambda m: any(t.endswith("cmd/reason") for t, _ in m))
        ((topic, payload),) = [(t, p) for t, p in lines.messages if t.endswith("cmd/reason")]
        assert topic == "oee/plant-a/stamping/press-2/cmd/reason"
        assert json.loads(payload) == {"v": 1, "stop_id": "stop-42", "reason": "jam"}
    finally:
        lines.stop()


def test_store_and_mqtt_together_write_and_publish(make_broker, tmp_path):
    broker = make_broker()
    listener = Client(broker, ["oee/#"])
    db = build_sample_store(tmp_path / "line.db")
    feed = MqttFeed(MqttConfig(host=broker.host, port=broker.port))
    feed.start()
    clock = sample_clock()
    app = OeeApp(line=StoreSource(db, clock), feed=feed, clock=clock, graphics="halfcell")

    async def run() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.snapshot is not None)
            await pilot.press("2")
            await pilot.pause()
            await pilot.press("a")  # the longest stop: the 07:31 changeover
            await pilot.press("down", "enter")  # jam
            await pilot.app.workers.wait_for_complete()
            await until(pilot, lambda: app.snapshot.stops[3].reason == "jam")
            # the fleet: another line opens from the feed, the store's own from the store
            publish_line(listener, "oee/plant-a/stamping/press-9", 0.3, "running")
            publish_line(listener, "oee/plant-a/stamping/press-3", 0.6, "running")
            await pilot.press("5")
            await until(pilot, lambda: fleet_rows(app)[:1] == ["press-9"])
            await until(pilot, lambda: len(fleet_rows(app)) == 2)
            await pilot.press("enter")  # press-9, the worst
            await until(pilot, lambda: app.snapshot is not None)
            assert app.snapshot.line == "press-9" and app.line_source is not app.store_source
            await pilot.press("5", "down", "enter")
            await until(pilot, lambda: app.snapshot is not None)
            assert app.snapshot.line == "press-3" and app.line_source is app.store_source

    try:
        asyncio.run(run())
        reader = open_readonly(db)
        try:
            assert reader.stop("t-stop-0731").reason == "jam"
        finally:
            reader.close()
        assert listener.wait_for(lambda m: any(t.endswith("cmd/reason") for t, _ in m))
        sent = [(t, json.loads(p)) for t, p in listener.messages if t.endswith("cmd/reason")]
        assert sent == [
            (
                "oee/plant-a/stamping/press-3/cmd/reason",
                {"v": 1, "stop_id": "t-stop-0731", "reason": "jam"},
            )
        ]
    finally:
        listener.stop()


def test_fleet_of_200_lines_stays_responsive(make_broker):
    """200 simulated lines keep publishing while the supervisor works the keyboard."""
    broker = make_broker()
    lines = Client(broker)
    roots = [f"oee/site-{i % 4}/area-{i % 10}/line-{i:03d}" for i in range(200)]
    for i, root in enumerate(roots):
        publish_line(lines, root, 0.5 + (i % 50) / 100, "running")
    stop = threading.Event()
    sent = [0]

    def keep_publishing() -> None:
        round_ = 0
        while not stop.is_set():
            round_ += 1
            for i, root in enumerate(roots):
                oee = 0.5 + ((i + round_) % 50) / 100
                lines.publish(Topics(root).oee, oee_payload(shift(oee), T0), retain=True)
                sent[0] += 1
            time.sleep(0.2)

    feed = MqttFeed(MqttConfig(host=broker.host, port=broker.port))
    feed.start()
    app = OeeApp(feed=feed, clock=sample_clock(T0))
    refreshes = [0]

    async def run() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            app.watch(app, "fleet", lambda rows: refreshes.__setitem__(0, refreshes[0] + 1))
            await until(pilot, lambda: len(app.fleet) == 200)
            publisher = threading.Thread(target=keep_publishing, name="lines", daemon=True)
            publisher.start()
            try:
                await until(pilot, lambda: sent[0] >= 600)
                table = app.screen.query_one("#fleet", DataTable)
                for _ in range(30):
                    await pilot.press("down")
                assert table.cursor_row > 0  # the keys were handled under load
                await pilot.press("question_mark")
                assert app.screen.id != "_default" and type(app.screen).__name__ == "HelpScreen"
                await pilot.press("escape")
                key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
                seen = refreshes[0]  # refreshes keep the selected line selected
                await until(pilot, lambda: refreshes[0] >= seen + 2)
                assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == key
                assert publisher.is_alive()
            finally:
                stop.set()
                publisher.join(10)
            # once the lines go quiet the table shows every line's latest OEE, worst first
            last = {}
            for i, root in enumerate(roots):
                last[root.removeprefix("oee/")] = 0.30 + i / 1000
                info = lines.publish(Topics(root).oee, oee_payload(shift(0.30 + i / 1000), T0))
            info.wait_for_publish(10)
            await until(pilot, lambda: {r.key: r.oee for r in app.fleet} == last, timeout=20)
            assert [r.line for r in app.fleet][:3] == ["line-000", "line-001", "line-002"]

    try:
        asyncio.run(run())
    finally:
        lines.stop()
    # the table is rebuilt per tick, not per message
    assert sent[0] >= 600 and refreshes[0] < sent[0] / 20


def test_lost_broker_and_quiet_lines_are_shown(make_broker):
    broker = make_broker()
    lines = Client(broker)
    publish_line(lines, "oee/plant-a/stamping/press-1", 0.82, "running").wait_for_publish(5)
    lines.stop()
    feed = MqttFeed(MqttConfig(host=broker.host, port=broker.port), stale_after_s=1.0)
    feed.start()
    app = OeeApp(feed=feed, clock=sample_clock(T0))

    def summary() -> str:
        return str(app.screen.query_one("#fleet-summary").render())

    async def run() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: len(app.fleet) == 1)
            # nothing new from the line for longer than --stale-after: STALE
            await until(pilot, lambda: app.fleet[0].stale)
            table = app.screen.query_one("#fleet", DataTable)
            assert "STALE" in str(table.get_row_at(0)[3])
            broker.stop()
            await until(pilot, lambda: "BROKER LOST" in summary())
            broker.start()  # paho reconnects by itself; retained messages come again
            await until(pilot, lambda: "BROKER LOST" not in summary(), timeout=20)

    try:
        asyncio.run(run())
    finally:
        broker.start()


def test_a_config_of_the_line_gives_the_reason_list_over_mqtt(make_broker, tmp_path):
    broker = make_broker()
    lines = Client(broker, ["oee/+/+/+/cmd/reason"])
    publish_line(lines, "oee/plant-a/stamping/press-2", 0.41, "stopped", stop="stop-7")
    publish_line(lines, "oee/plant-a/stamping/press-1", 0.8, "running").wait_for_publish(5)
    config = tmp_path / "press-2.toml"
    config.write_text(
        '[line]\nid = "press-2"\nsite = "plant-a"\narea = "stamping"\nideal_cycle_s = 4.0\n\n'
        '[[reason]]\ncode = "changeover"\nloss = "setup"\n\n'
        '[[reason]]\ncode = "jam"\nloss = "breakdown"\n'
    )
    feed = MqttFeed(MqttConfig(host=broker.host, port=broker.port))
    feed.start()
    app = OeeApp(feed=feed, clock=sample_clock(T0), config_path=config)

    async def run() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: len(fleet_rows(app)) == 2)
            await pilot.press("enter")
            await until(pilot, lambda: app.snapshot is not None)
            assert app.snapshot.ideal_cycle_s == 4.0
            assert [r.code for r in app.snapshot.reasons] == ["changeover", "jam"]
            await pilot.press("2")
            await pilot.pause()
            await pilot.press("a", "enter")  # changeover, from the list
            await app.workers.wait_for_complete()

    try:
        asyncio.run(run())
        assert lines.wait_for(lambda m: any(t.endswith("cmd/reason") for t, _ in m))
        (payload,) = [p for t, p in lines.messages if t.endswith("cmd/reason")]
        assert json.loads(payload) == {"v": 1, "stop_id": "stop-7", "reason": "changeover"}
    finally:
        lines.stop()
