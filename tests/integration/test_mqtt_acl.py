"""firmware_config/mosquitto/acl.conf on a real mosquitto: only the area's supervisors
assign reasons; another area's supervisor or a reader is never heard by the agent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import MQTT_PASSWORD_ENV, MQTT_USERNAME_ENV, load_config
from agent.events import PartEvent, StateEvent, new_id
from agent.publish import MqttPublisher, Topics, messages_for, reason_command
from agent.store import Store

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware_config"
ACCOUNTS = {
    "agent-press-3": "a",
    "supervisors-stamping": "s",
    "supervisors-paint": "p",
    "historian": "h",
}


@pytest.fixture
def plant_broker(password_file, make_broker):
    passwords = password_file(ACCOUNTS)
    return make_broker(
        [
            "allow_anonymous false",
            f"password_file {passwords}",
            f"acl_file {FIRMWARE / 'mosquitto' / 'acl.conf'}",
        ]
    )


def client_of(broker, user: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-{user}")
    client.username_pw_set(user, ACCOUNTS[user])
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def test_only_the_areas_supervisors_assign_reasons(plant_broker, tmp_path, monkeypatch, eventually):
    # the shipped example line, pointed at this broker
    config = load_config(FIRMWARE / "press-3.toml")
    config = config.model_copy(
        update={
            "mqtt": config.mqtt.model_copy(
                update={"host": plant_broker.host, "port": plant_broker.port}
            )
        }
    )
    monkeypatch.setenv(MQTT_USERNAME_ENV, "agent-press-3")
    monkeypatch.setenv(MQTT_PASSWORD_ENV, ACCOUNTS["agent-press-3"])
    topics = Topics.for_config(config)
    t0 = datetime(2026, 3, 2, 6, tzinfo=UTC)
    with Store.open(tmp_path / "line.db") as store:
        for event in (
            StateEvent(t0, "running", id=new_id()),
            PartEvent(t0.replace(second=5), id=new_id()),
            StateEvent(t0.replace(second=9), "stopped", id="stop-1"),
        ):
            store.append(event, messages_for(event, config))
        publisher = MqttPublisher(config, store)
        publisher.start()
        results: list[dict] = []
        listener = client_of(plant_broker, "supervisors-stamping")
        listener.on_message = lambda c, u, m: results.append(json.loads(m.payload))
        listener.subscribe(topics.cmd_result, qos=1)
        others = [client_of(plant_broker, u) for u in ("supervisors-paint", "historian")]
        try:
            assert publisher.wait_ready(10), "the agent's account cannot publish its feed"
            assert publisher.drain(10)  # its feed went out: the ACL lets it write
            for client, reason in zip(others, ("jam", "meeting"), strict=True):
                info = client.publish(topics.cmd_reason, reason_command("stop-1", reason), qos=1)
                info.wait_for_publish(5)  # acknowledged, and dropped by the broker
            info = listener.publish(
                topics.cmd_reason, reason_command("stop-1", "changeover"), qos=1
            )
            info.wait_for_publish(5)
            assert eventually(lambda: len(results) >= 1)
            assert [(r["ok"], r["reason"]) for r in results] == [(True, "changeover")]
            assert store.stop("stop-1").reason == "changeover"
            assert (publisher.counters.commands_ok, publisher.counters.commands_rejected) == (1, 0)
        finally:
            publisher.stop(2)
            for client in (listener, *others):
                client.disconnect()
                client.loop_stop()
