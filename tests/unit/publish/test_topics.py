from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from agent.events import PartEvent, StateEvent
from agent.publish.topics import (
    OpenStop,
    Topics,
    encode,
    known_reasons,
    messages_for,
    open_stop_after,
    result_payload,
    shift_message,
    stats_payload,
)
from agent.publish.validation import SCHEMA_DIR, SCHEMA_OF_KIND, schema_for

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
ROOT = "oee/plant-a/stamping/press-3"

SHIFT = {
    "shift": "A",
    "date": "2026-03-02",
    "planned_s": 25200,
    "run_s": 22380,
    "downtime_s": 2820,
    "small_stop_s": 0,
    "no_data_s": 0,
    "total": 19271,
    "good": 18848,
    "availability": 0.8881,
    "performance": 0.8611,
    "quality": 0.9780,
    "oee": 0.7479,
    "losses": {
        "breakdown": 0,
        "setup": 0,
        "unassigned": 2820,
        "small_stop": 0,
        "reduced_speed": 0,
        "defects": 423,
    },
}


def kind(topic: str) -> str:
    assert topic.startswith(ROOT + "/")
    return topic[len(ROOT) + 1 :]


def test_topic_tree_follows_the_contract(config) -> None:
    topics = Topics.for_config(config)
    assert topics.status == f"{ROOT}/status"
    assert topics.cmd_reason == f"{ROOT}/cmd/reason"
    assert topics.cmd_result == f"{ROOT}/cmd/result"
    assert topics.kind(f"{ROOT}/cmd/reason") == "cmd/reason"
    assert topics.kind("oee/other/stamping/press-3/part") is None


def test_part_message(config, validate) -> None:
    event = PartEvent(T0, good=False, defect="scratch", score=0.91, id="p1")
    [message] = messages_for(event, config)
    assert (kind(message.topic), message.qos, message.retain) == ("part", 1, False)
    doc = validate("part", message.payload)
    assert doc == {
        "v": 1,
        "id": "p1",
        "ts": "2026-03-02T06:00:00+00:00",
        "good": False,
        "defect": "scratch",
        "score": 0.91,
    }


def test_an_uncertain_part_says_so_and_only_then(config, validate) -> None:
    guess = PartEvent(T0, good=True, score=0.2, id="p2", uncertain=True)
    [message] = messages_for(guess, config)
    assert validate("part", message.payload)["uncertain"] is True
    [plain] = messages_for(PartEvent(T0, id="p3"), config)
    assert "uncertain" not in validate("part", plain.payload)
    with pytest.raises(jsonschema.ValidationError):
        validate("part", message.payload.replace(b'"uncertain":true', b'"uncertain":false'))


def test_a_late_event_carries_the_time_it_happened(config) -> None:
    old = T0 - timedelta(hours=5)
    [message] = messages_for(PartEvent(old, id="late"), config)
    assert json.loads(message.payload)["ts"] == old.isoformat()


def test_stop_is_sent_at_start_and_end_with_the_same_id(config, validate) -> None:
    stopped = StateEvent(T0, "stopped", reason="jam", id="s1")
    first = messages_for(stopped, config, None)
    assert [kind(m.topic) for m in first] == ["state", "stop"]
    assert first[0].retain and first[0].qos == 1
    assert validate("state", first[0].payload)["since"] == T0.isoformat()
    start = validate("stop", first[1].payload)
    assert (start["id"], start["end"], start["state"], start["reason"]) == (
        "s1",
        None,
        "stopped",
        "jam",
    )

    open_stop = open_stop_after(stopped, None)
    assert open_stop == OpenStop("s1", T0, "stopped", "jam")
    running = StateEvent(T0 + timedelta(seconds=30), "running", id="r1")
    second = messages_for(running, config, open_stop)
    assert [kind(m.topic) for m in second] == ["stop", "state"]
    end = validate("stop", second[0].payload)
    assert end["id"] == "s1" and end["start"] == start["start"]
    assert end["end"] == running.ts.isoformat()
    assert validate("state", second[1].payload)["state"] == "running"
    assert open_stop_after(running, open_stop) is None


def test_no_data_after_a_stop_closes_it_and_opens_another(config) -> None:
    open_stop = OpenStop("s1", T0, "stopped", None)
    no_data = StateEvent(T0 + timedelta(seconds=5), "no_data", id="n1")
    messages = messages_for(no_data, config, open_stop)
    assert [kind(m.topic) for m in messages] == ["stop", "state", "stop"]
    ids = [json.loads(m.payload)["id"] for m in messages]
    assert ids == ["s1", "n1", "n1"]
    assert open_stop_after(no_data, open_stop).id == "n1"


def test_a_part_does_not_touch_the_open_stop(config) -> None:
    open_stop = OpenStop("s1", T0, "stopped", None)
    assert open_stop_after(PartEvent(T0, id="p"), open_stop) is open_stop


def test_events_need_ids(config) -> None:
    with pytest.raises(ValueError, match="needs an id"):
        messages_for(PartEvent(T0), config)
    with pytest.raises(ValueError, match="needs an id"):
        messages_for(StateEvent(T0, "stopped"), config)


def test_not_a_number_becomes_null(config, validate) -> None:
    [message] = messages_for(PartEvent(T0, score=float("nan"), id="p"), config)
    assert validate("part", message.payload)["score"] is None
    assert encode({"v": 1, "x": {"y": float("inf")}}) == b'{"v":1,"x":{"y":null}}'


def test_shift_message_is_retained_and_valid(config, validate) -> None:
    message = shift_message(SHIFT, config, T0)
    assert kind(message.topic) == "shift" and message.retain and message.qos == 1
    doc = validate("shift", message.payload)
    assert doc["v"] == 1 and doc["oee"] == 0.7479 and doc["ts"] == T0.isoformat()


def test_an_oee_object_missing_a_key_fails_its_schema(config, validate) -> None:
    broken = {k: v for k, v in SHIFT.items() if k != "good"}
    with pytest.raises(jsonschema.ValidationError):
        validate("oee", shift_message(broken, config, T0).payload)


def test_stats_and_results_validate(validate) -> None:
    stats = stats_payload(
        T0,
        outbox_depth=3,
        outbox_dropped=0,
        connected=True,
        fps=29.9,
        extra={"parts_uncertain": 2},
    )
    assert validate("stats", encode(stats))["outbox_depth"] == 3
    with pytest.raises(jsonschema.ValidationError):
        validate("stats", encode({**stats, "parts_uncertain": -1}))
    ok = result_payload(T0, ok=True, stop_id="s1", reason="jam", request_id="r")
    validate("cmd/result", encode(ok))
    bad = result_payload(T0, ok=False, error="unknown stop id 'x'")
    assert validate("cmd/result", encode(bad))["ok"] is False


def test_status_schema_takes_plain_text(validate) -> None:
    validate("status", b"online")
    with pytest.raises(jsonschema.ValidationError):
        validate("status", b"maybe")


def test_every_schema_file_is_a_valid_schema_and_used() -> None:
    files = {p.stem for p in SCHEMA_DIR.glob("*.json")}
    assert files == set(SCHEMA_OF_KIND.values())
    for name in SCHEMA_OF_KIND:
        jsonschema.Draft202012Validator.check_schema(schema_for(name))


def test_known_reasons_include_starved(config) -> None:
    assert known_reasons(config) == {"changeover", "jam", "starved"}


def test_the_open_stop_from_the_store_closes_after_a_restart(config) -> None:
    from agent.store import Stop

    stored = Stop(id="s7", start=T0, end=None, state="no_data", reason=None)
    open_stop = OpenStop.from_stop(stored)
    running = StateEvent(T0 + timedelta(seconds=3), "running", id="r")
    first = json.loads(messages_for(running, config, open_stop)[0].payload)
    assert (first["id"], first["state"], first["end"]) == ("s7", "no_data", running.ts.isoformat())


def test_a_reason_update_is_the_stop_again_and_the_state_while_it_lasts(config, validate) -> None:
    from agent.publish.topics import reason_update_messages
    from agent.store import Stop

    going_on = Stop("s1", T0, None, "stopped", "jam")
    stop_msg, state_msg = reason_update_messages(going_on, config)
    assert (stop_msg.topic, stop_msg.retain) == (f"{ROOT}/stop", False)
    assert validate("stop", stop_msg.payload) == {
        "v": 1, "id": "s1", "start": T0.isoformat(), "end": None, "state": "stopped",
        "reason": "jam",
    }  # fmt: skip
    assert (state_msg.topic, state_msg.retain, state_msg.qos) == (f"{ROOT}/state", True, 1)
    state = validate("state", state_msg.payload)
    assert (state["id"], state["since"], state["reason"]) == ("s1", T0.isoformat(), "jam")
    # an ended stop: the line is in another state now, the retained state is not touched
    ended = Stop("s1", T0, T0 + timedelta(minutes=3), "stopped", "jam")
    (only,) = reason_update_messages(ended, config)
    assert json.loads(only.payload)["end"] == (T0 + timedelta(minutes=3)).isoformat()


def test_with_reason_rewrites_only_the_reason() -> None:
    from agent.publish.topics import payload_id, with_reason

    payload = encode({"v": 1, "id": "s1", "start": "x", "end": "y", "reason": None})
    assert payload_id(payload) == "s1"
    assert json.loads(with_reason(payload, "jam")) == {**json.loads(payload), "reason": "jam"}
    assert with_reason(payload, None) is payload
    assert with_reason(b"online", "jam") == b"online" and payload_id(b"online") is None
    assert payload_id(b"[1]") is None
