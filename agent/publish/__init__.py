"""Publish: the line's MQTT feed to plant systems (docs/mqtt.md).

Interface::

    from agent.publish import MqttPublisher, messages_for, open_stop_after

    # producer side (pure): the outbox rows an event needs, written with the event
    messages = messages_for(event, config, open_stop)      # part / state (+ stop) messages
    store.append(event, messages); open_stop = open_stop_after(event, open_stop)

    # the feed (I/O): drains the store's outbox, publishes status/oee/stats, takes commands
    publisher = MqttPublisher(config, store); publisher.start()
    publisher.notify()                  # after appending: send now rather than at next poll
    publisher.publish_oee_if_due(shift_obj)  # retained `oee`: on change and every few seconds
    publisher.publish_stats({"fps": 29.8, "inference_ms": 0.3})
    publisher.drain(timeout=30)         # -> True once the broker acknowledged everything
    publisher.stop()

Sparkplug B (`[mqtt] sparkplug = true`) runs beside it as `SparkplugNode`.
"""

from agent.publish.commands import (
    MAX_COMMAND_BYTES,
    CommandRejected,
    parse_reason_command,
    reason_command,
)
from agent.publish.publisher import MqttPublisher, PublisherCounters
from agent.publish.topics import (
    FLEET_FILTER,
    OpenStop,
    Topics,
    known_reasons,
    messages_for,
    open_stop_after,
    shift_message,
)

__all__ = [
    "FLEET_FILTER",
    "MAX_COMMAND_BYTES",
    "CommandRejected",
    "MqttPublisher",
    "OpenStop",
    "PublisherCounters",
    "Topics",
    "known_reasons",
    "messages_for",
    "open_stop_after",
    "parse_reason_command",
    "reason_command",
    "shift_message",
]
