"""One HOST[:PORT] parser and one topic tree for the agent, the demo and the TUI."""

import pytest

from agent.errors import UserError
from agent.publish import parse_reason_command, reason_command
from agent.publish.connection import parse_broker
from agent.publish.topics import FLEET_FILTER, Topics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("broker", ("broker", 1883)),
        ("10.0.0.2:1884", ("10.0.0.2", 1884)),
        ("[::1]", ("::1", 1883)),
        ("[::1]:1884", ("::1", 1884)),
        ("::1", ("::1", 1883)),
        ("fe80::2:1", ("fe80::2:1", 1883)),
    ],
)
def test_parse_broker(text, expected):
    assert parse_broker(text) == expected


@pytest.mark.parametrize("text", ["host:port", "host:0", ":1883", "host:70000", "[]:1883"])
def test_parse_broker_refuses_naming_the_option(text):
    with pytest.raises(UserError, match="^--broker "):
        parse_broker(text, "--broker")


def test_topics_split_is_the_inverse_of_the_tree():
    topics = Topics.for_line("plant-a/stamping/press-3")
    for topic in (topics.state, topics.part, topics.cmd_reason, topics.cmd_result):
        assert Topics.split(topic) == ("plant-a/stamping/press-3", topics.kind(topic))
    assert Topics.split(topics.cmd_reason)[1] == "cmd/reason"
    for foreign in ("oee/a/b/c", "spBv1.0/a/NBIRTH/b", "oee//b/c/state", "x/a/b/c/state"):
        assert Topics.split(foreign) is None
    assert FLEET_FILTER == "oee/#"


def test_the_tuis_reason_command_is_what_the_agent_accepts():
    command = parse_reason_command(reason_command("stop-1", "changeover"), {"changeover"})
    assert (command.stop_id, command.reason) == ("stop-1", "changeover")
    with_id = parse_reason_command(reason_command("s", "changeover", "r-1"), {"changeover"})
    assert with_id.request_id == "r-1"
