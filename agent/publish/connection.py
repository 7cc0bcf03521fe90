"""One way to build the paho client both MQTT sessions use (the feed and Sparkplug)."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import Config


def new_client(
    config: Config,
    client_id: str,
    *,
    persistent: bool,
    reconnect_min_s: int,
    reconnect_max_s: int,
) -> mqtt.Client:
    """A callback-API-v2 client for `[mqtt]`: protocol, credentials, TLS, backoff.

    `persistent` keeps the MQTT 3.1.1 session on the broker (clean_session False); on
    MQTT 5 the session is set at connect time.
    """
    mq = config.mqtt
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
        client.tls_set(
            ca_certs=str(config.resolve(mq.ca_file)) if mq.ca_file else None,
            certfile=str(config.resolve(mq.cert_file)) if mq.cert_file else None,
            keyfile=str(config.resolve(mq.key_file)) if mq.key_file else None,
        )
    client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)
    return client
