"""A 30 s broker outage while events flow: the persistent subscriber ends with all of them."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.config import parse_config
from agent.events import PartEvent, StateEvent, new_id
from agent.publish import MqttPublisher, Topics, messages_for, open_stop_after
from agent.store import Store

OUTAGE_S = 30.0
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def first_seen_ids(messages, topic: str) -> list[str]:
    seen: dict[str, None] = {}
    for message in messages:
        if message.topic == topic:
            seen.setdefault(json.loads(message.payload)["id"], None)
    return list(seen)


def test_broker_outage_loses_nothing_and_keeps_order(
    broker, tmp_path: Path, subscribe, eventually
) -> None:
    line_id = f"outage{uuid.uuid4().hex[:8]}"
    config = parse_config(
        {
            "line": {"id": line_id, "site": "s", "area": "a", "ideal_cycle_s": 1.0},
            "mqtt": {"host": broker.host, "port": broker.port, "keepalive_s": 5},
        }
    )
    topics = Topics.for_config(config)
    sub = subscribe([topics.root + "/#"], client_id=f"sub-{line_id}", persistent=True)
    store = Store.open(tmp_path / "line.db")
    publisher = MqttPublisher(config, store, reconnect_min_s=1, reconnect_max_s=2)
    publisher.start()

    expected: dict[str, list[str]] = {topics.part: [], topics.stop: [], topics.state: []}
    stop_flow = threading.Event()

    def produce() -> None:
        # about 20 events a second, a state change every 25 events, until told to stop
        open_stop = None
        n = 0
        while not stop_flow.wait(0.05):
            ts = T0 + timedelta(seconds=n)
            if n % 25 == 0:
                event = StateEvent(ts, "stopped" if n % 50 == 0 else "running", id=new_id())
            else:
                event = PartEvent(ts, good=n % 7 != 0, id=new_id())
            messages = messages_for(event, config, open_stop)
            store.append(event, messages)
            for message in messages:
                expected[message.topic].append(json.loads(message.payload)["id"])
            open_stop = open_stop_after(event, open_stop)
            publisher.notify()
            n += 1

    producer = threading.Thread(target=produce, name="test-producer")
    producer.start()
    try:
        # events flow through a connected publisher before the outage...
        assert eventually(lambda: publisher.connected and publisher.counters.acked >= 40, 30)
        broker.stop()
        time.sleep(OUTAGE_S)  # the outage itself: the span this test is about
        assert not publisher.connected
        queued = store.outbox.depth()
        assert queued > 100  # the events of the outage wait on disk
        broker.start()
        # ...and keep flowing after it, while the backlog goes out
        connects = publisher.counters.connects
        assert eventually(lambda: publisher.counters.connects > connects, 30)
        produced = len(expected[topics.part])
        assert eventually(lambda: len(expected[topics.part]) >= produced + 40, 30)
    finally:
        stop_flow.set()
        producer.join(10)
        broker.start()

    assert publisher.drain(60), f"outbox still holds {store.outbox.depth()}"
    total = sum(len(ids) for ids in expected.values())

    def complete(messages) -> bool:
        return all(set(first_seen_ids(messages, t)) >= set(ids) for t, ids in expected.items())

    assert sub.wait_for(complete, timeout=30), "the subscriber is missing events"
    received = sub.snapshot()
    for topic, ids in expected.items():
        got = first_seen_ids(received, topic)
        if topic == topics.stop:
            # a stop is sent twice (start, end) with one id: compare first sightings
            ids = list(dict.fromkeys(ids))
        assert got == ids, f"{topic}: order or content differs"
    assert total > 200
    assert publisher.counters.connects >= 2
    publisher.stop()
    store.close()
