"""`oee-tui --config LINE.toml --mqtt` reaches a broker that demands TLS and a password,
with the agent's own `[mqtt]` settings and credentials from the environment."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from agent.config import MQTT_PASSWORD_ENV, MQTT_USERNAME_ENV, load_config
from agent.errors import UserError
from agent.events import StateEvent, new_id
from agent.publish import MqttPublisher, messages_for
from agent.store import Store
from tests.conftest import write_line_config
from tui.__main__ import build_app, build_parser


@pytest.fixture
def secured(pki, password_file, make_broker):
    passwords = password_file({"agent": "a-s3cret", "supervisor": "s-s3cret"})
    return make_broker(
        [
            "allow_anonymous false",
            f"password_file {passwords}",
            f"cafile {pki / 'ca.crt'}",
            f"certfile {pki / 'server.crt'}",
            f"keyfile {pki / 'server.key'}",
        ]
    )


def line_file(tmp_path, broker, line_id):
    # the CA path is relative: it resolves against the line file's folder, as for the agent
    return write_line_config(
        tmp_path / "line.toml",
        line_id=line_id,
        line={"site": "plant-t", "area": "tls", "ideal_cycle_s": 1.0},
        mqtt={"host": broker.host, "port": broker.port, "tls": True, "ca_file": "pki/ca.crt"},
    )


def app_for(*argv):
    return build_app(build_parser().parse_args(list(argv)))


def test_the_fleet_view_connects_with_the_agents_settings(secured, tmp_path, monkeypatch):
    line_id = f"tls{uuid.uuid4().hex[:6]}"
    config_path = line_file(tmp_path, secured, line_id)
    config = load_config(config_path)
    monkeypatch.setenv(MQTT_USERNAME_ENV, "agent")
    monkeypatch.setenv(MQTT_PASSWORD_ENV, "a-s3cret")
    with Store.open(tmp_path / "line.db") as store:
        event = StateEvent(datetime(2026, 3, 2, 6, tzinfo=UTC), "running", id=new_id())
        store.append(event, messages_for(event, config))
        publisher = MqttPublisher(config, store)
        publisher.start()
        try:
            assert publisher.drain(15), "the agent's retained state was not acknowledged"
        finally:
            publisher.stop(2)

    monkeypatch.setenv(MQTT_USERNAME_ENV, "supervisor")
    monkeypatch.setenv(MQTT_PASSWORD_ENV, "s-s3cret")
    app = app_for("--config", str(config_path), "--mqtt")
    feed = app.feed
    try:
        key = f"plant-t/tls/{line_id}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and key not in {r.key for r in feed.rows()}:
            time.sleep(0.05)
        rows = {r.key: r for r in feed.rows()}
        assert key in rows, "the line's retained state did not reach the TUI over TLS"
        assert rows[key].state == "running"
        feed.publish_reason(key, "stop-1", "changeover")  # acknowledged by the broker
    finally:
        feed.stop()


def test_a_wrong_password_or_plain_tcp_is_one_clear_error(secured, tmp_path, monkeypatch):
    config_path = line_file(tmp_path, secured, "nope")
    monkeypatch.setenv(MQTT_USERNAME_ENV, "supervisor")
    monkeypatch.setenv(MQTT_PASSWORD_ENV, "wrong")
    with pytest.raises(UserError, match="did not accept us.*(Not authorized|Bad user)"):
        app_for("--config", str(config_path), "--mqtt")
    monkeypatch.setenv(MQTT_PASSWORD_ENV, "s-s3cret")
    # without the line file there is no TLS: the broker never completes the handshake
    with pytest.raises(UserError, match=f"{secured.port}"):
        app_for("--mqtt", f"{secured.host}:{secured.port}")
