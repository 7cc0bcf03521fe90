from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.publish.commands import MAX_COMMAND_BYTES, CommandRejected, parse_reason_command
from agent.publish.validation import schema_for

REASONS = {"changeover", "jam", "starved"}


def parse(obj: object) -> object:
    return parse_reason_command(json.dumps(obj).encode(), REASONS)


def rejected(payload: bytes) -> str:
    with pytest.raises(CommandRejected) as info:
        parse_reason_command(payload, REASONS)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200
    return message


def test_a_valid_command() -> None:
    command = parse({"stop_id": "s1", "reason": "jam", "request_id": "r7", "by": "anna", "v": 1})
    assert (command.stop_id, command.reason, command.request_id, command.by) == (
        "s1",
        "jam",
        "r7",
        "anna",
    )


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"x" * (MAX_COMMAND_BYTES + 1), "bytes is over"),
        (b'{"stop_id": "\xff"}', "not UTF-8"),
        (b"{not json", "not JSON"),
        (b'{"stop_id": "s", "reason": NaN}', "not JSON"),
        (b"[1, 2]", "must be a JSON object, not list"),
        (b'"jam"', "not str"),
        (b'{"stop_id": "s1"}', "missing field 'reason'"),
        (b'{"reason": "jam"}', "missing field 'stop_id'"),
        (b'{"stop_id": 5, "reason": "jam"}', "stop_id must be a string, not int"),
        (b'{"stop_id": "s1", "reason": null}', "reason must be a string"),
        (b'{"stop_id": "", "reason": "jam"}', "stop_id must be 1-64"),
        (b'{"stop_id": "s1", "reason": "coffee"}', "unknown reason code 'coffee'"),
        (b'{"stop_id": "s1", "reason": "jam", "extra": 1}', "unknown field 'extra'"),
        (b'{"stop_id": "s1", "reason": "jam", "v": 2}', "unsupported payload version"),
        (b'{"stop_id": "s1", "reason": "jam", "v": true}', "unsupported payload version"),
        (b"[" * 5000 + b"]" * 5000, "bytes is over"),
        (b"[" * 2000 + b"]" * 2000, "nested too deeply"),
    ],
)
def test_bad_commands_are_rejected_with_a_reason(payload: bytes, why: str) -> None:
    assert why in rejected(payload)


def test_the_request_id_survives_a_rejection() -> None:
    with pytest.raises(CommandRejected) as info:
        parse({"stop_id": "s1", "reason": "coffee", "request_id": "r9"})
    assert info.value.request_id == "r9"
    assert (info.value.stop_id, info.value.reason) == ("s1", "coffee")  # which one failed
    with pytest.raises(CommandRejected) as info:
        parse({"stop_id": 5, "reason": "jam", "request_id": "x" * 65})
    assert (info.value.stop_id, info.value.request_id) == (None, None)  # unreadable
    assert info.value.reason == "jam"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
command_like = st.fixed_dictionaries(
    {},
    optional={
        "stop_id": json_values | st.text(min_size=1, max_size=70),
        "reason": json_values | st.sampled_from(sorted(REASONS)),
        "request_id": json_values,
        "by": json_values,
        "v": json_values | st.just(1),
        "other": json_values,
    },
)


@settings(max_examples=150, deadline=None)
@given(command_like)
def test_the_parser_agrees_with_the_published_schema(obj: dict) -> None:
    schema_ok = jsonschema.Draft202012Validator(schema_for("cmd/reason")).is_valid(obj)
    try:
        command = parse(obj)
    except CommandRejected:
        # the schema cannot know the line's reason codes
        assert not schema_ok or obj["reason"] not in REASONS
    else:
        assert schema_ok and command.reason in REASONS


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=6000) | json_values.map(lambda v: json.dumps(v).encode()))
def test_garbage_is_rejected_never_raised(payload: bytes) -> None:
    with pytest.raises(CommandRejected):
        parse_reason_command(payload, REASONS)
