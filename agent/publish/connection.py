"""How every MQTT session of ours connects: the feed, Sparkplug, and the TUI's fleet view.

One client builder (protocol, credentials from the environment, TLS with optional client
certificates, reconnect backoff) and one `HOST[:PORT]` parser, so a broker the agent can
reach is a broker `oee-tui` can reach with the same `[mqtt]` settings.
"""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import MqttConfig
from agent.errors import UserError


def new_client(
    mq: MqttConfig,
    client_id: str,
    *,
    base_dir: Path,
    persistent: bool,
    reconnect_min_s: int,
    reconnect_max_s: int,
) -> mqtt.Client:
    """A callback-API-v2 client for `[mqtt]`: protocol, credentials, TLS, backoff.

    `persistent` keeps the MQTT 3.1.1 session on the broker (clean_session False); on
    MQTT 5 the session is set at connect time. Relative certificate paths resolve
    against `base_dir` (the line file's folder).
    """
    v5 = mq.protocol == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else not persistent,
    )
    if mq.username:
        client.username_pw_set(mq.username, mq.password)
    if mq.tls:

        def path(file: Path | None) -> str | None:
            return None if file is None else str(file if file.is_absolute() else base_dir / file)

        client.tls_set(
            ca_certs=path(mq.ca_file), certfile=path(mq.cert_file), keyfile=path(mq.key_file)
        )
    client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)
    return client


def parse_broker(text: str, option: str = "--mqtt") -> tuple[str, int]:
    """`HOST[:PORT]` to (host, port), port 1883 by default; `[::1]:1884` for IPv6.

    Raises:
        UserError: the host is empty, or the port is not a number from 1 to 65535
            (the message names `option`).
    """
    host, sep, port_text = text.rpartition(":")
    if not sep or "]" in port_text or (":" in host and not host.startswith("[")):
        host, port_text = text, "1883"  # no port, or a bare IPv6 address
    host = host.strip("[]")
    if not host:
        raise UserError(f"{option} {text!r}: expected HOST[:PORT]")
    try:
        port = int(port_text)
    except ValueError:
        raise UserError(f"{option} {text!r}: the port must be a number") from None
    if not 1 <= port <= 65535:
        raise UserError(f"{option} {text!r}: the port must be 1-65535")
    return host, port
