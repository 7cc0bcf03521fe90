from __future__ import annotations

import subprocess

from agent.publish.sparkplug import (
    DEVICE_METRICS,
    SparkplugTopics,
    death_payload,
    device_values,
    encode_payload,
    is_rebirth_request,
    metric_values,
    next_seq,
    pb,
)


def test_topics_map_site_line_and_device(config) -> None:
    topics = SparkplugTopics.for_config(config)
    assert topics.node_topic("NBIRTH") == "spBv1.0/plant-a/NBIRTH/press-3"
    assert topics.device_topic("DDATA") == "spBv1.0/plant-a/DDATA/press-3/line"


def test_seq_wraps_at_255() -> None:
    assert [next_seq(s) for s in (0, 1, 254, 255)] == [1, 2, 255, 0]


def test_payload_round_trip_with_nulls() -> None:
    metrics = {
        "OEE": (pb.Double, 0.75),
        "Count/Total": (pb.UInt64, 12),
        "State": (pb.String, "running"),
        "Quality": (pb.Double, None),
        "Node Control/Rebirth": (pb.Boolean, False),
    }
    payload = encode_payload(1_700_000_000_000, metrics, seq=7)
    decoded = pb.Payload.FromString(payload)
    assert decoded.seq == 7 and decoded.timestamp == 1_700_000_000_000
    assert metric_values(payload) == {
        "OEE": 0.75,
        "Count/Total": 12,
        "State": "running",
        "Quality": None,
        "Node Control/Rebirth": False,
    }
    assert [m.datatype for m in decoded.metrics] == [10, 8, 12, 10, 11]


def test_death_has_bdseq_and_no_seq() -> None:
    decoded = pb.Payload.FromString(death_payload(42, 5))
    assert not decoded.HasField("seq")
    [metric] = decoded.metrics
    assert (metric.name, metric.datatype, metric.long_value) == ("bdSeq", pb.Int64, 42)


def test_the_wire_format_is_readable_without_our_schema() -> None:
    payload = encode_payload(1000, {"bdSeq": (pb.Int64, 3)}, seq=0)
    text = subprocess.run(
        ["protoc", "--decode_raw"], input=payload, capture_output=True, check=True, timeout=10
    ).stdout.decode()
    # Payload.timestamp = 1, metrics = 2 {name = 1, datatype = 4, long_value = 11}, seq = 3
    assert "1: 1000" in text and '1: "bdSeq"' in text and "11: 3" in text and "3: 0" in text


def test_rebirth_requests() -> None:
    yes = encode_payload(1, {"Node Control/Rebirth": (pb.Boolean, True)}, seq=None)
    no = encode_payload(1, {"Node Control/Rebirth": (pb.Boolean, False)}, seq=None)
    assert is_rebirth_request(yes)
    assert not is_rebirth_request(no)
    assert not is_rebirth_request(b"\xff\xff garbage")


def test_device_values_from_an_oee_object() -> None:
    values = device_values(
        {
            "oee": 0.5,
            "availability": 1.0,
            "performance": 0.5,
            "quality": 1.0,
            "total": 10,
            "good": 9,
            "shift": "A",
        }
    )
    assert values["Count/Reject"] == 1 and values["OEE"] == 0.5
    assert set(values) <= set(DEVICE_METRICS)


def test_a_primary_hosts_state_is_parsed_strictly() -> None:
    from agent.publish.sparkplug import parse_host_state

    assert parse_host_state(b'{"online": true, "timestamp": 1668114759262}') == (
        True,
        1668114759262,
    )
    assert parse_host_state(b'{"online": false, "timestamp": 5}') == (False, 5)
    for bad in (
        b"ONLINE",  # Sparkplug 2.2's plain text is not 3.0's STATE
        b'{"online": "true", "timestamp": 5}',
        b'{"online": true, "timestamp": true}',
        b'{"online": true}',
        b"[1, 2]",
        b"\xff",
        b"",
    ):
        assert parse_host_state(bad) is None, bad
