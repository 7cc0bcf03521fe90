"""Sparkplug B node across a broker restart: a new CONNECT takes the next bdSeq."""

from __future__ import annotations

import re
import subprocess
import time
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


def test_a_reconnect_is_a_new_birth_with_the_next_bdseq(broker, tmp_path, subscribe) -> None:
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
            deadline = time.monotonic() + 20
            while not (node.births == 2 and sub.client.is_connected()):
                assert time.monotonic() < deadline, "no reconnect"
                time.sleep(0.05)
            # the subscriber may have come back after that birth (QoS 0, not retained):
            # ask for a rebirth, which repeats the session's bdSeq
            sub.client.publish(f"spBv1.0/spb-site/NCMD/{line_id}", rebirth_command(), qos=1)
            assert sub.wait_for(lambda ms: len(ms) >= 2, timeout=10)
            assert bdseq_of(sub.snapshot()[-1].payload) == 0
            assert store.meta_get("sparkplug.bdseq") == 0
        finally:
            node.stop()
            broker.start()
