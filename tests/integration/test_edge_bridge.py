"""firmware_config/mosquitto/edge-bridge.conf bridges a real edge broker to a plant broker.

The file is dropped into a `conf.d` included by a main file like Debian's (which sets
persistence), as the file says, with only what a test machine must change: the port,
the plant's address (the session mosquitto plays the plant) and no TLS towards it.
"""

from __future__ import annotations

import getpass
import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import free_port, wait_until

BRIDGE = Path(__file__).resolve().parents[2] / "firmware_config" / "mosquitto" / "edge-bridge.conf"


class Client:
    def __init__(self, port: int, topics: list[str]) -> None:
        self.got: list[tuple[str, bytes, bool]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = lambda c, u, m: self.got.append(
            (m.topic, bytes(m.payload), bool(m.retain))
        )
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert self.ready.wait(10)

    def first(self, topic: str) -> bytes | None:
        return next((payload for t, payload, _ in list(self.got) if t == topic), None)

    def wait(self, topic: str, timeout: float = 15.0) -> bytes:
        assert wait_until(lambda: self.first(topic) is not None, timeout), (
            f"{topic} never arrived; got {self.got}"
        )
        return self.first(topic) or b""

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_the_edge_bridge_forwards_the_feed_and_brings_commands_back(
    mosquitto, tmp_path: Path
) -> None:
    port = free_port()
    text = BRIDGE.read_text()
    text = text.replace("listener 1883 127.0.0.1", f"listener {port} 127.0.0.1")
    text = re.sub(r"^address .*$", f"address 127.0.0.1:{mosquitto.port}", text, flags=re.M)
    text = re.sub(r"^bridge_cafile .*$", "", text, flags=re.M)  # the test plant has no TLS
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    (conf_d / "edge-bridge.conf").write_text(text)
    # what Debian's /etc/mosquitto/mosquitto.conf says, in a test folder
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"persistence true\npersistence_location {tmp_path}/\n"
        f"log_dest file {tmp_path}/edge.log\ninclude_dir {conf_d}\nuser {getpass.getuser()}\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    edge = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: _listening(port), 10), "the edge broker did not start"
        plant = Client(mosquitto.port, ["oee/#"])
        # the bridge announces itself on the plant broker (retained "1")
        assert plant.wait("oee/_bridge/edge-1/status") == b"1"
        local = Client(port, ["oee/+/+/+/cmd/#"])
        # the bridge's subscriptions are in place once a command from the plant gets through
        probe = "oee/site/area/probe-1/cmd/reason"

        def probe_gets_through() -> bool:
            plant.client.publish(probe, b"probe", qos=1)
            return local.first(probe) is not None

        assert wait_until(probe_gets_through, 15), "the bridge never forwarded the plant's command"
        agent = mqtt.Client(CallbackAPIVersion.VERSION2)
        agent.connect("127.0.0.1", port)
        agent.loop_start()
        agent.publish("oee/site/area/bridge-1/part", b'{"v": 1}', qos=1).wait_for_publish(5)
        assert plant.wait("oee/site/area/bridge-1/part") == b'{"v": 1}'
        command = b'{"stop_id": "s1", "reason": "jam"}'
        plant.client.publish("oee/site/area/bridge-1/cmd/reason", command, qos=1)
        assert local.wait("oee/site/area/bridge-1/cmd/reason") == command
        agent.loop_stop()
        agent.disconnect()
        plant.close()
        local.close()
    finally:
        edge.terminate()
        edge.wait(10)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False
