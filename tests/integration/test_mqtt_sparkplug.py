"""Sparkplug B node across a broker restart: a new CONNECT takes the next bdSeq."""

from __future__ import annotations

import re
import subprocess
import uuid

from agent.config import parse_config
from agent.publish.sparkplug import SparkplugNode, pb
from agent.store import Store


def bdseq_of(payload: bytes) -> int:
    text = subprocess.run(
        ["protoc", "--decode_raw"], input=payload, capture_output=True, check=True, timeout=10
    ).stdout.decode()
    match = re.search(r'^2 \{\n  1: "bdSeq"\n(?:  .*\n)*?  11: (\d+)$', text, re.MULTILINE)
    assert match, text
    return int(match.group(1))


def rebirth_command() -> bytes:
    command = pb.Payload()
    metric = command.metrics.add()
    metric.name, metric.datatype, metric.boolean_value = "Node Control/Rebirth", pb.Boolean, True
    return command.SerializeToString()


def test_a_reconnect_is_a_new_birth_with_the_next_bdseq(
    broker, tmp_path, subscribe, eventually
) -> None:
    line_id = f"spbr{uuid.uuid4().hex[:6]}"
    config = parse_config(
        {
            "line": {"id": line_id, "site": "spb-site", "ideal_cycle_s": 1.0},
            "mqtt": {"host": broker.host, "port": broker.port, "keepalive_s": 5},
        }
    )
    sub = subscribe([f"spBv1.0/spb-site/NBIRTH/{line_id}"])
    with Store.open(tmp_path / "line.db") as store:
        store.meta_set("sparkplug.bdseq", 254)  # as if after many restarts: wraps to 0
        node = SparkplugNode(config, store, reconnect_min_s=1, reconnect_max_s=1)
        node.start()
        try:
            assert sub.wait_for(lambda ms: len(ms) == 1)
            assert bdseq_of(sub.snapshot()[0].payload) == 255
            broker.stop()
            broker.start()
            assert eventually(lambda: node.births == 2 and sub.client.is_connected(), 20), (
                "no reconnect"
            )
            # the subscriber may have come back after that birth (QoS 0, not retained):
            # ask for a rebirth, which repeats the session's bdSeq
            sub.client.publish(f"spBv1.0/spb-site/NCMD/{line_id}", rebirth_command(), qos=1)
            assert sub.wait_for(lambda ms: len(ms) >= 2, timeout=10)
            assert bdseq_of(sub.snapshot()[-1].payload) == 0
            assert store.meta_get("sparkplug.bdseq") == 0
        finally:
            node.stop()
            broker.start()


def test_the_node_births_only_while_its_primary_host_is_online(
    broker, tmp_path, subscribe, eventually
) -> None:
    """Sparkplug 3.0 primary host awareness against a scripted host on a real broker."""
    import json

    line_id = f"spbh{uuid.uuid4().hex[:6]}"
    host = f"scada-{uuid.uuid4().hex[:4]}"
    config = parse_config(
        {
            "line": {"id": line_id, "site": "spb-site", "ideal_cycle_s": 1.0},
            "mqtt": {
                "host": broker.host,
                "port": broker.port,
                "sparkplug": True,
                "sparkplug_host_id": host,
            },
        }
    )
    node_topics = [f"spBv1.0/spb-site/{kind}/{line_id}" for kind in ("NBIRTH", "NDEATH")]
    sub = subscribe(node_topics)
    scada = subscribe([f"spBv1.0/STATE/{host}"])  # the host's own connection

    def state(online: bool, ts: int) -> None:
        payload = json.dumps({"online": online, "timestamp": ts})
        info = scada.client.publish(f"spBv1.0/STATE/{host}", payload, qos=1, retain=True)
        info.wait_for_publish(5)

    def kinds() -> list[tuple[str, int]]:
        return [(m.topic.split("/")[2], bdseq_of(m.payload)) for m in sub.snapshot()]

    with Store.open(tmp_path / "line.db") as store:
        node = SparkplugNode(config, store, reconnect_min_s=1, reconnect_max_s=1)
        node.start()
        try:
            assert eventually(node.client.is_connected), "the node did not connect"
            state(False, 500)  # the host is offline: no birth
            assert eventually(lambda: node.host_states == 1), "the node never read the STATE"
            assert kinds() == [] and node.births == 0
            state(True, 1000)
            assert sub.wait_for(lambda ms: len(ms) == 1)
            [(kind, first)] = kinds()
            assert kind == "NBIRTH"
            state(False, 2000)  # the host leaves: NDEATH of that session, a new one
            assert sub.wait_for(lambda ms: len(ms) == 2)
            assert kinds()[1] == ("NDEATH", first)
            assert eventually(
                lambda: node.client.is_connected() and store.meta_get("sparkplug.bdseq") != first
            ), "no new session"
            seen = node.host_states
            state(True, 1500)  # older than the offline one: stale, ignored
            assert eventually(lambda: node.host_states > seen), "the node never read the STATE"
            assert len(kinds()) == 2 and node.births == 1
            state(True, 3000)  # back: a new birth with the new session's bdSeq
            assert sub.wait_for(lambda ms: len(ms) == 3)
            assert kinds()[2] == ("NBIRTH", (first + 1) % 256)
            assert node.births == 2
        finally:
            node.stop()
            scada.client.publish(f"spBv1.0/STATE/{host}", b"", qos=1, retain=True)
