"""TLS with a client certificate, against mosquitto requiring one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agent.config import parse_config
from agent.events import PartEvent, new_id
from agent.publish import MqttPublisher, Topics, messages_for
from agent.store import Store


def test_tls_with_a_client_certificate(pki, tmp_path, make_broker) -> None:
    broker = make_broker(
        [
            "allow_anonymous true",
            f"cafile {pki / 'ca.crt'}",
            f"certfile {pki / 'server.crt'}",
            f"keyfile {pki / 'server.key'}",
            "require_certificate true",
        ]
    )
    config = parse_config(
        {
            "line": {"id": f"tls{uuid.uuid4().hex[:6]}", "ideal_cycle_s": 1.0},
            "mqtt": {
                "host": broker.host,
                "port": broker.port,
                "tls": True,
                "ca_file": str(pki / "ca.crt"),
                "cert_file": str(pki / "client.crt"),
                "key_file": str(pki / "client.key"),
            },
        }
    )
    assert Topics.for_config(config).root.startswith("oee/")
    with Store.open(tmp_path / "line.db") as store:
        event = PartEvent(datetime(2026, 3, 2, tzinfo=UTC), id=new_id())
        store.append(event, messages_for(event, config))
        publisher = MqttPublisher(config, store)
        publisher.start()
        try:
            assert publisher.drain(15), "nothing acknowledged over TLS"
            assert publisher.counters.connects == 1
        finally:
            publisher.stop(2)


def test_tls_without_the_client_certificate_does_not_connect(pki, tmp_path, make_broker) -> None:
    broker = make_broker(
        [
            "allow_anonymous true",
            f"cafile {pki / 'ca.crt'}",
            f"certfile {pki / 'server.crt'}",
            f"keyfile {pki / 'server.key'}",
            "require_certificate true",
        ]
    )
    config = parse_config(
        {
            "line": {"id": f"tls{uuid.uuid4().hex[:6]}", "ideal_cycle_s": 1.0},
            "mqtt": {
                "host": broker.host,
                "port": broker.port,
                "tls": True,
                "ca_file": str(pki / "ca.crt"),
            },
        }
    )
    with Store.open(tmp_path / "line.db") as store:
        event = PartEvent(datetime(2026, 3, 2, tzinfo=UTC), id=new_id())
        store.append(event, messages_for(event, config))
        publisher = MqttPublisher(config, store)
        publisher.start()
        try:
            assert not publisher.drain(2)
            assert not publisher.connected and store.outbox.depth() == 1
        finally:
            publisher.stop(2)
