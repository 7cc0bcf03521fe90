"""The MQTT feed against a real mosquitto: topics, schemas, retained status, commands."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import Config, parse_config
from agent.events import PartEvent, StateEvent, new_id
from agent.publish import MqttPublisher, Topics, messages_for, open_stop_after, shift_message
from agent.publish.validation import document_of, schema_for
from agent.store import Store

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
SHIFT = {
    "shift": "A",
    "date": "2026-03-02",
    "planned_s": 600,
    "run_s": 540,
    "downtime_s": 60,
    "small_stop_s": 0,
    "no_data_s": 0,
    "total": 600,
    "good": 590,
    "availability": 0.9,
    "performance": 0.8889,
    "quality": 0.9833,
    "oee": 0.7867,
    "losses": {
        "breakdown": 0,
        "setup": 0,
        "unassigned": 60,
        "small_stop": 0,
        "reduced_speed": 0,
        "defects": 10,
    },
}


def make_config(broker, line_id: str | None = None, **mqtt) -> Config:
    return parse_config(
        {
            "line": {
                "id": line_id or f"l{uuid.uuid4().hex[:10]}",
                "site": "test-site",
                "area": "test-area",
                "ideal_cycle_s": 0.9,
            },
            "reason": [{"code": "jam", "loss": "breakdown"}],
            "mqtt": {"host": broker.host, "port": broker.port, **mqtt},
        }
    )


def check_schema(topics: Topics, topic: str, payload: bytes) -> object:
    kind = topics.kind(topic)
    assert kind is not None, topic
    document = document_of(kind, payload)
    jsonschema.validate(
        document, schema_for(kind), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return document


@pytest.fixture(params=["3.1.1", "5"])
def line(request, broker, tmp_path: Path, subscribe):
    config = make_config(broker, protocol=request.param)
    topics = Topics.for_config(config)
    store = Store.open(tmp_path / "line.db")
    sub = subscribe([topics.root + "/#"])
    publisher = MqttPublisher(config, store, reconnect_max_s=2)
    publisher.start()
    assert publisher.wait_ready(10)  # commands published before the SUBACK would be lost
    yield config, topics, store, sub, publisher
    publisher.stop()
    store.close()


def feed(store: Store, config: Config, events) -> None:
    open_stop = None
    for event in events:
        store.append(event, messages_for(event, config, open_stop))
        open_stop = open_stop_after(event, open_stop)


def test_every_published_message_validates_against_its_schema(line) -> None:
    config, topics, store, sub, publisher = line
    events = [
        StateEvent(T0, "running", id=new_id()),
        PartEvent(T0 + timedelta(seconds=1), good=True, score=0.1, id=new_id()),
        PartEvent(T0 + timedelta(seconds=2), good=False, defect="scratch", score=0.9, id=new_id()),
        StateEvent(T0 + timedelta(seconds=3), "stopped", id=new_id()),
        StateEvent(T0 + timedelta(seconds=9), "no_data", id=new_id()),
        StateEvent(T0 + timedelta(seconds=12), "running", id=new_id()),
    ]
    feed(store, config, events)
    store.outbox.enqueue([shift_message(SHIFT, config, T0 + timedelta(hours=8))])
    publisher.notify()
    assert publisher.drain(10)
    assert sub.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/stop")]) == 4)
    assert sub.wait_for(lambda ms: any(m.topic == topics.status for m in ms))
    assert publisher.publish_oee(SHIFT)
    assert publisher.publish_stats({"fps": 29.5, "inference_ms": 0.4, "dropped_frames": 2})
    assert sub.wait_for(lambda ms: {topics.oee, topics.stats} <= {m.topic for m in ms})

    received = sub.snapshot()
    kinds = {topics.kind(m.topic) for m in received}
    assert {"status", "state", "part", "stop", "oee", "shift", "stats"} <= kinds
    for message in received:
        check_schema(topics, message.topic, message.payload)
    parts = [json.loads(m.payload) for m in sub.on("/part")]
    assert [p["id"] for p in parts] == [events[1].id, events[2].id]
    assert parts[1]["ts"] == events[2].ts.isoformat()  # the time it happened
    assert sub.on("/status")[-1].payload == b"online"
    assert store.outbox.depth() == 0


def test_retained_state_status_and_oee_reach_a_late_subscriber(line, subscribe) -> None:
    config, topics, store, sub, publisher = line
    feed(store, config, [StateEvent(T0, "stopped", reason="jam", id="stop-1")])
    assert publisher.drain(10)
    assert sub.wait_for(lambda ms: any(m.topic == topics.status for m in ms))
    publisher.publish_oee(SHIFT)
    assert sub.wait_for(lambda ms: any(m.topic == topics.oee for m in ms))
    late = subscribe([topics.root + "/#"])
    assert late.wait_for(
        lambda ms: {topics.status, topics.state, topics.oee} <= {m.topic for m in ms}
    )
    retained = {m.topic: m for m in late.snapshot() if m.retain}
    assert retained[topics.status].payload == b"online"
    assert json.loads(retained[topics.state].payload)["state"] == "stopped"
    assert json.loads(retained[topics.oee].payload)["oee"] == 0.7867
    assert topics.part not in retained and topics.stop not in retained


def test_a_clean_stop_says_offline(broker, tmp_path, subscribe) -> None:
    config = make_config(broker)
    topics = Topics.for_config(config)
    sub = subscribe([topics.status])
    with Store.open(tmp_path / "line.db") as store:
        publisher = MqttPublisher(config, store)
        publisher.start()
        assert sub.wait_for(lambda ms: [m.payload for m in ms] == [b"online"])
        publisher.stop()
    assert sub.wait_for(lambda ms: [m.payload for m in ms] == [b"online", b"offline"])


def results(sub) -> list[dict]:
    return [json.loads(m.payload) for m in sub.on("/cmd/result")]


def test_reason_command_assigns_a_known_stop(line) -> None:
    config, topics, store, sub, publisher = line
    feed(
        store,
        config,
        [
            StateEvent(T0, "stopped", id="stop-9"),
            StateEvent(T0 + timedelta(seconds=40), "running", id=new_id()),
        ],
    )
    command = {"stop_id": "stop-9", "reason": "jam", "request_id": "r1", "by": "anna"}
    sub.client.publish(topics.cmd_reason, json.dumps(command), qos=1)
    assert sub.wait_for(lambda ms: len(results(sub)) == 1)
    [result] = results(sub)
    assert result["ok"] is True and result["request_id"] == "r1"
    assert (result["stop_id"], result["reason"], result["error"]) == ("stop-9", "jam", None)
    assert store.stop("stop-9").reason == "jam"
    # the stop is announced again with its reason, same id, start and end
    assert sub.wait_for(
        lambda ms: any(
            json.loads(m.payload)["reason"] == "jam" for m in ms if m.topic == topics.stop
        )
    )
    updated = [json.loads(m.payload) for m in sub.on("/stop")][-1]
    assert updated["id"] == "stop-9" and updated["end"] == (T0 + timedelta(seconds=40)).isoformat()

    sub.client.publish(topics.cmd_reason, json.dumps({"stop_id": "nope", "reason": "jam"}), qos=1)
    sub.client.publish(topics.cmd_reason, json.dumps({"stop_id": "stop-9", "reason": "x"}), qos=1)
    assert sub.wait_for(lambda ms: len(results(sub)) == 3)
    errors = [r["error"] for r in results(sub)[1:]]
    assert errors == ["unknown stop id 'nope'", "unknown reason code 'x'"]
    echoed = [(r["stop_id"], r["reason"], r["ok"]) for r in results(sub)[1:]]
    assert echoed == [("nope", "jam", False), ("stop-9", "x", False)]  # which one failed
    for message in sub.on("/cmd/result"):
        check_schema(topics, message.topic, message.payload)
    assert publisher.counters.commands_ok == 1 and publisher.counters.commands_rejected == 2


garbage = st.one_of(
    st.binary(max_size=64),
    st.binary(min_size=4097, max_size=20_000),  # over the size limit
    st.binary(min_size=1, max_size=32).map(lambda b: b'{"stop_id": "' + b + b'\\xff"}'),
    st.from_regex(rb"\A\{\"stop_id\": (1|true|null|\[\]|\{\})\, \"reason\": \"jam\"\}\Z"),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    ).map(lambda v: json.dumps(v).encode()),
)


def test_garbage_commands_are_all_rejected_and_the_feed_goes_on(line) -> None:
    config, topics, store, sub, publisher = line
    sent: list[bytes] = []

    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(garbage)
    def send(payload: bytes) -> None:
        before = len(results(sub))
        sent.append(payload)
        sub.client.publish(topics.cmd_reason, payload, qos=1)
        assert sub.wait_for(lambda ms: len(results(sub)) == before + 1, timeout=5)
        result = results(sub)[-1]
        assert result["ok"] is False and result["error"]

    send()
    assert len(results(sub)) == len(sent) >= 10
    assert publisher.counters.commands_rejected == len(sent)
    # and the agent keeps publishing
    event = PartEvent(T0, id=new_id())
    feed(store, config, [event])
    publisher.notify()
    assert sub.wait_for(lambda ms: any(event.id.encode() in m.payload for m in ms))
    assert publisher.connected


def fill(store: Store, config: Config, count: int) -> list[str]:
    events = [PartEvent(T0 + timedelta(seconds=i), id=f"p{i:05d}") for i in range(count)]
    store.append_many([(e, messages_for(e, config)) for e in events])
    return [e.id for e in events]


def part_ids(sub) -> list[str]:
    return list(dict.fromkeys(json.loads(m.payload)["id"] for m in sub.on("/part")))


@pytest.mark.parametrize(
    ("max_rows", "free", "queued", "dropped"),
    [(1000, None, 1500, 500), (100_000, 1024, 3000, 1500)],
    ids=["row-bound", "disk-nearly-full"],
)
def test_the_outbox_bound_drops_the_oldest_counted_and_published(
    broker, tmp_path, subscribe, max_rows, free, queued, dropped
) -> None:
    config = make_config(broker, outbox_max_rows=max_rows)
    topics = Topics.for_config(config)
    sub = subscribe([topics.root + "/#"])
    with Store.open(tmp_path / "line.db") as store:
        ids = fill(store, config, queued)
        publisher = MqttPublisher(config, store, free_bytes=lambda: free)
        publisher.start()
        try:
            assert publisher.drain(30)
            assert sub.wait_for(lambda ms: len(part_ids(sub)) == queued - dropped)
            assert part_ids(sub) == ids[dropped:]  # the oldest went, the rest in order
            assert publisher.counters.trimmed == dropped
            assert store.outbox.lost() == dropped
            assert publisher.publish_stats({"fps": 30.0})
            assert sub.wait_for(lambda ms: bool(sub.on("/stats")))
            stats = check_schema(topics, topics.stats, sub.on("/stats")[-1].payload)
            assert stats["outbox_dropped"] == dropped and stats["outbox_depth"] == 0
        finally:
            publisher.stop()


def test_nothing_is_dropped_within_the_bound(broker, tmp_path, subscribe) -> None:
    config = make_config(broker, outbox_max_rows=1000)
    topics = Topics.for_config(config)
    sub = subscribe([topics.part])
    with Store.open(tmp_path / "line.db") as store:
        ids = fill(store, config, 1000)
        publisher = MqttPublisher(config, store, free_bytes=lambda: 10**12)
        publisher.start()
        try:
            assert publisher.drain(30)
            assert sub.wait_for(lambda ms: len(part_ids(sub)) == 1000)
            assert part_ids(sub) == ids and publisher.counters.trimmed == 0
        finally:
            publisher.stop()


def test_disabled_feed_queues_and_connects_to_nothing(broker, tmp_path) -> None:
    config = make_config(broker, enabled=False)
    with Store.open(tmp_path / "line.db") as store:
        fill(store, config, 3)
        publisher = MqttPublisher(config, store)
        publisher.start()
        try:
            assert not publisher.drain(0.5)
            assert not publisher.connected and store.outbox.depth() == 3
        finally:
            publisher.stop(1)


def test_oee_goes_out_on_change_and_every_interval(broker, tmp_path, subscribe) -> None:
    from agent.clock import ManualClock

    config = make_config(broker, oee_interval_s=5)
    topics = Topics.for_config(config)
    sub = subscribe([topics.oee])
    clock = ManualClock(T0)
    with Store.open(tmp_path / "line.db") as store:
        publisher = MqttPublisher(config, store, clock=clock)
        publisher.start()
        try:
            assert publisher.drain(5) and sub.wait_for(lambda ms: publisher.connected)
            assert publisher.publish_oee_if_due(SHIFT)  # the first one
            clock.advance(2)
            assert not publisher.publish_oee_if_due(SHIFT)  # unchanged, not due
            changed = {**SHIFT, "total": 601}
            clock.advance(0.5)
            assert publisher.publish_oee_if_due(changed)  # changed
            clock.advance(0.5)
            assert not publisher.publish_oee_if_due({**SHIFT, "total": 602})  # < 1 s after
            clock.advance(5)
            assert publisher.publish_oee_if_due(changed)  # interval
            assert sub.wait_for(lambda ms: len(ms) == 3)
            totals = [json.loads(m.payload)["total"] for m in sub.snapshot()]
            assert totals == [600, 601, 601]
        finally:
            publisher.stop()


def test_a_row_mqtt_cannot_carry_does_not_block_the_rest(broker, tmp_path, subscribe) -> None:
    from agent.store import OutboxMessage

    config = make_config(broker)
    topics = Topics.for_config(config)
    sub = subscribe([topics.part])
    with Store.open(tmp_path / "line.db") as store:
        # wildcards: never sendable
        store.outbox.enqueue([OutboxMessage(topics.root + "/#", b"{}")])
        ids = fill(store, config, 2)
        publisher = MqttPublisher(config, store)
        publisher.start()
        try:
            assert publisher.drain(10)
            assert sub.wait_for(lambda ms: part_ids(sub) == ids)
            assert publisher.counters.unsendable == 1
        finally:
            publisher.stop()


def test_a_reason_assigned_during_a_stop_holds_to_its_end(broker, tmp_path, subscribe) -> None:
    """What a MES sees: the reason lands on the stop and on the retained state, and
    the stop's closing message (written from what was known when it began) keeps it;
    an assignment made in the store (the TUI) is announced too."""
    config = make_config(broker)
    topics = Topics.for_config(config)
    sub = subscribe([topics.root + "/#"])
    with Store.open(tmp_path / "line.db") as store:
        publisher = MqttPublisher(config, store, reconnect_max_s=2)
        publisher.start()
        try:
            assert publisher.wait_ready(10)
            recorder_open = None  # what the agent's recorder holds: the stop as it began
            first = StateEvent(T0, "stopped", id="stop-a")
            store.append(first, messages_for(first, config, recorder_open))
            recorder_open = open_stop_after(first, recorder_open)
            publisher.notify()
            command = {"stop_id": "stop-a", "reason": "jam", "request_id": "r1"}
            sub.client.publish(topics.cmd_reason, json.dumps(command), qos=1)
            assert sub.wait_for(lambda ms: len(results(sub)) == 1)
            assert results(sub)[0]["ok"] is True

            late = subscribe([topics.state])
            assert late.wait_for(lambda ms: bool(ms))
            retained = json.loads(late.snapshot()[-1].payload)
            assert (retained["id"], retained["state"], retained["reason"]) == (
                "stop-a",
                "stopped",
                "jam",
            )

            running = StateEvent(T0 + timedelta(minutes=5), "running", id="run-b")
            store.append(running, messages_for(running, config, recorder_open))
            second = StateEvent(T0 + timedelta(minutes=9), "stopped", id="stop-c")
            store.append(second, messages_for(second, config, None))
            ended = StateEvent(T0 + timedelta(minutes=12), "running", id="run-d")
            store.append(ended, messages_for(ended, config, open_stop_after(second, None)))
            # the TUI writes to the store through its own connection
            with Store.open(tmp_path / "line.db") as tui:
                tui.assign_reason("stop-c", "jam", source="tui")
            publisher.notify()

            def stop_messages(stop_id: str) -> list[dict]:
                found = [json.loads(m.payload) for m in sub.on("/stop")]
                return [m for m in found if m["id"] == stop_id]

            assert sub.wait_for(lambda ms: len(stop_messages("stop-c")) == 3, timeout=10)
            a = stop_messages("stop-a")
            assert [(m["end"] is None, m["reason"]) for m in a] == [
                (True, None),  # it began without a reason
                (True, "jam"),  # the command's announcement, still open
                (False, "jam"),  # its end keeps the reason
            ]
            assert [m["reason"] for m in stop_messages("stop-c")][-1] == "jam"
            assert stop_messages("stop-c")[-1]["end"] == ended.ts.isoformat()
            for message in sub.snapshot():
                check_schema(topics, message.topic, message.payload)
            # the retained state is the line's now, not the stop the TUI named
            assert json.loads(sub.on("/state")[-1].payload)["state"] == "running"
        finally:
            publisher.stop()


def test_a_command_while_the_store_refuses_writes_gets_an_answer(
    broker, tmp_path, subscribe
) -> None:
    config = make_config(broker)
    topics = Topics.for_config(config)
    sub = subscribe([topics.cmd_result])
    with Store.open(tmp_path / "line.db") as store:
        feed(store, config, [StateEvent(T0, "stopped", id="stop-w")])
        publisher = MqttPublisher(config, store, reconnect_max_s=2)
        publisher.start()
        try:
            assert publisher.wait_ready(10) and publisher.drain(10)
            with store._lock:  # a full or failing disk, as SQLite reports it
                store.db.conn.execute("PRAGMA query_only = ON")
            command = {"stop_id": "stop-w", "reason": "jam", "request_id": "r-w"}
            sub.client.publish(topics.cmd_reason, json.dumps(command), qos=1)
            assert sub.wait_for(lambda ms: len(results(sub)) == 1)
            [refused] = results(sub)
            assert refused["ok"] is False and refused["request_id"] == "r-w"
            assert "the store refuses writes" in refused["error"]
            with store._lock:
                store.db.conn.execute("PRAGMA query_only = OFF")
            sub.client.publish(topics.cmd_reason, json.dumps(command), qos=1)
            assert sub.wait_for(lambda ms: len(results(sub)) == 2)
            assert results(sub)[1]["ok"] is True and store.stop("stop-w").reason == "jam"
        finally:
            publisher.stop()


def test_a_window_the_broker_never_acknowledges_is_sent_again(
    broker, tmp_path, subscribe, eventually
) -> None:
    """The resend path: a broker that hangs (SIGSTOP) leaves the window unacknowledged;
    after RESEND_AFTER_S on the publisher's clock the rows go again, and once the broker
    is back every part arrives (a consumer de-duplicates the resent ones by id)."""
    import os
    import signal

    from agent.clock import ManualClock
    from agent.publish.publisher import RESEND_AFTER_S

    config = make_config(broker)
    sub = subscribe([Topics.for_config(config).part])
    clock = ManualClock(T0)

    with Store.open(tmp_path / "line.db") as store:
        publisher = MqttPublisher(config, store, clock=clock)
        publisher.start()
        assert broker.process is not None
        try:
            assert publisher.wait_ready(10)
            os.kill(broker.process.pid, signal.SIGSTOP)
            try:
                ids = fill(store, config, 5)
                publisher.notify()
                assert eventually(lambda: publisher.counters.published == 5)
                clock.advance(RESEND_AFTER_S - 1)
                passes = publisher.passes
                publisher.notify()
                assert eventually(lambda: publisher.passes >= passes + 2)  # a whole pass after
                assert publisher.counters.resent_windows == 0  # not yet
                clock.advance(2)
                publisher.notify()
                assert eventually(lambda: publisher.counters.resent_windows == 1)
                assert eventually(lambda: publisher.counters.published == 10)
                assert publisher.counters.acked == 0 and store.outbox.depth() == 5
            finally:
                os.kill(broker.process.pid, signal.SIGCONT)
            assert publisher.drain(15)
            assert sub.wait_for(lambda ms: len(part_ids(sub)) == 5)
            assert part_ids(sub) == ids
        finally:
            publisher.stop()
