"""CONNACK checked: a refused connection is not `connected`; credentials come from the env."""

from __future__ import annotations

import subprocess
import time
import uuid
from datetime import UTC, datetime

import pytest

from agent.config import MQTT_PASSWORD_ENV, MQTT_USERNAME_ENV, parse_config
from agent.events import PartEvent, new_id
from agent.publish import MqttPublisher, messages_for
from agent.store import Store


@pytest.fixture
def secured(tmp_path, make_broker):
    passwords = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), "agent", "s3cret"], check=True, timeout=10
    )
    return make_broker(["allow_anonymous false", f"password_file {passwords}"])


def publisher_for(broker, store, protocol="3.1.1"):
    config = parse_config(
        {
            "line": {"id": f"auth{uuid.uuid4().hex[:6]}", "ideal_cycle_s": 1.0},
            "mqtt": {"host": broker.host, "port": broker.port, "protocol": protocol},
        }
    )
    return config, MqttPublisher(config, store, reconnect_min_s=1, reconnect_max_s=1)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_a_refused_connection_is_not_connected(secured, tmp_path, monkeypatch, protocol):
    monkeypatch.delenv(MQTT_USERNAME_ENV, raising=False)
    monkeypatch.setenv(MQTT_USERNAME_ENV, "agent")
    monkeypatch.setenv(MQTT_PASSWORD_ENV, "wrong")
    with Store.open(tmp_path / "line.db") as store:
        config, publisher = publisher_for(secured, store, protocol)
        event = PartEvent(datetime(2026, 3, 2, tzinfo=UTC), id=new_id())
        store.append(event, messages_for(event, config))
        publisher.start()
        try:
            deadline = time.monotonic() + 10
            while publisher.counters.refused_connects < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert publisher.counters.refused_connects >= 2  # refused, then retried
            assert not publisher.connected
            assert publisher.counters.connects == 0
            assert not publisher.drain(0.5)
            assert store.outbox.depth() == 1  # nothing was lost meanwhile
        finally:
            publisher.stop(2)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_credentials_from_the_environment(secured, tmp_path, monkeypatch, protocol):
    monkeypatch.setenv(MQTT_USERNAME_ENV, "agent")
    monkeypatch.setenv(MQTT_PASSWORD_ENV, "s3cret")
    with Store.open(tmp_path / "line.db") as store:
        config, publisher = publisher_for(secured, store, protocol)
        event = PartEvent(datetime(2026, 3, 2, tzinfo=UTC), id=new_id())
        store.append(event, messages_for(event, config))
        publisher.start()
        try:
            assert publisher.drain(10)
            assert publisher.connected and publisher.counters.refused_connects == 0
        finally:
            publisher.stop(2)


def test_a_message_the_broker_refuses_stays_queued(make_broker, tmp_path) -> None:
    # MQTT 5 PUBACK carries a reason code: mosquitto answers "not authorized" for a
    # topic its ACL does not grant; the row must stay in the outbox, not be deleted
    acl = tmp_path / "acl"
    acl.write_text(
        "topic readwrite oee/+/+/+/status\ntopic readwrite oee/+/+/+/state\ntopic read oee/#\n"
    )
    broker = make_broker(["allow_anonymous true", f"acl_file {acl}"])
    with Store.open(tmp_path / "line.db") as store:
        config, publisher = publisher_for(broker, store, protocol="5")
        event = PartEvent(datetime(2026, 3, 2, tzinfo=UTC), id=new_id())
        store.append(event, messages_for(event, config))
        publisher.start()
        try:
            deadline = time.monotonic() + 10
            while publisher.counters.refused_messages == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert publisher.counters.refused_messages >= 1
            assert publisher.connected and publisher.counters.acked == 0
            assert store.outbox.depth() == 1
        finally:
            publisher.stop(2)
