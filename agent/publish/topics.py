"""The MQTT feed's topic tree and payloads: pure functions, no I/O, no clock.

Every topic hangs under `oee/{site}/{area}/{line}/`; every JSON payload carries
`"v": 1`. Times are ISO 8601 with a UTC offset and are the time the thing *happened*
(an event sent late, after an outage, still carries its own `ts`). The one non-JSON
payload is `status`: the plain text `online` or `offline` (it is also the Last Will).

A state event produces the retained `state` message; a `stopped`/`no_data` state also
opens a stop, announced on `stop` with `end: null`; the next state event closes it,
announced again with the same `id` and its `end`. The caller keeps the open stop
between events with `open_stop_after`, so this module stays pure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.config import Config
from agent.events import Event, PartEvent, StateEvent
from agent.store import STOP_STATES, OutboxMessage, Stop

#: Version of every JSON payload (`"v"`).
PAYLOAD_VERSION = 1
#: A reason code every line knows: moving but fed no parts.
BUILTIN_REASONS = frozenset({"starved"})

#: First level of every topic of the feed.
TOPIC_PREFIX = "oee"

STATUS_ONLINE = b"online"
STATUS_OFFLINE = b"offline"


#: The topic filter of every line's feed (the TUI's fleet view subscribes to it).
FLEET_FILTER = f"{TOPIC_PREFIX}/#"


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one line's feed."""

    root: str

    @classmethod
    def for_config(cls, config: Config) -> Topics:
        """The topics of the line a configuration describes."""
        line = config.line
        return cls.for_line(f"{line.site}/{line.area}/{line.id}")

    @classmethod
    def for_line(cls, key: str) -> Topics:
        """The topics of the line `site/area/line`."""
        return cls(f"{TOPIC_PREFIX}/{key}")

    @staticmethod
    def split(topic: str) -> tuple[str, str] | None:
        """`oee/{site}/{area}/{line}/{kind}` to (`site/area/line`, kind), else None.

        `kind` is what follows the line (`state`, `part`, `cmd/reason`, ...).
        """
        levels = topic.split("/")
        if len(levels) < 5 or levels[0] != TOPIC_PREFIX or not all(levels[1:5]):
            return None
        return "/".join(levels[1:4]), "/".join(levels[4:])

    @property
    def status(self) -> str:
        """Retained `online`/`offline` (the Last Will)."""
        return f"{self.root}/status"

    @property
    def state(self) -> str:
        """Retained current state."""
        return f"{self.root}/state"

    @property
    def oee(self) -> str:
        """Retained current shift's OEE, every few seconds."""
        return f"{self.root}/oee"

    @property
    def part(self) -> str:
        """One message per counted part."""
        return f"{self.root}/part"

    @property
    def stop(self) -> str:
        """A stop, when it starts and again when it ends."""
        return f"{self.root}/stop"

    @property
    def shift(self) -> str:
        """Retained OEE of the last finished shift."""
        return f"{self.root}/shift"

    @property
    def stats(self) -> str:
        """Agent health, QoS 0."""
        return f"{self.root}/stats"

    @property
    def cmd_reason(self) -> str:
        """Subscribed: assigns a reason code to a stop."""
        return f"{self.root}/cmd/reason"

    @property
    def cmd_result(self) -> str:
        """The result of every command received."""
        return f"{self.root}/cmd/result"

    def kind(self, topic: str) -> str | None:
        """The last part of one of this line's topics (`part`, `cmd/result`...), else None."""
        prefix = self.root + "/"
        return topic[len(prefix) :] if topic.startswith(prefix) else None


@dataclass(frozen=True, slots=True)
class OpenStop:
    """The stop in progress: what its closing `stop` message must repeat."""

    id: str
    start: datetime
    state: str
    reason: str | None
    suggested_reason: str | None = None
    confidence: float | None = None

    @classmethod
    def from_stop(cls, stop: Stop, suggestion: tuple[str, float] | None = None) -> OpenStop:
        """From the store's `Stop` (e.g. the open one, `end is None`, after a restart).

        `suggestion` is the stop's stored suggested reason and confidence, if any.
        """
        code, confidence = suggestion or (None, None)
        return cls(stop.id, stop.start, stop.state, stop.reason, code, confidence)


def encode(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; NaN and infinities become null (JSON has none)."""
    clean = {k: _finite(v) for k, v in payload.items()}
    # default=str: a reading of an odd type (a datetime in stats) must not raise
    text = json.dumps(clean, separators=(",", ":"), ensure_ascii=False, default=str)
    return text.encode("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _require_id(event: Event) -> str:
    if not event.id:
        raise ValueError(f"a {type(event).__name__} needs an id before it is published")
    return event.id


def _suggestion(suggested_reason: str | None, confidence: float | None) -> dict[str, Any]:
    """`suggested_reason` and `confidence`, only when a stop has a suggestion."""
    if suggested_reason is None:
        return {}
    return {"suggested_reason": suggested_reason, "confidence": confidence}


def state_payload(event: StateEvent) -> dict[str, Any]:
    """`state`: the line's state since the event (a stop's suggested cause, when known)."""
    return {
        "v": PAYLOAD_VERSION,
        "id": _require_id(event),
        "state": event.state,
        "since": _ts(event.ts),
        "reason": event.reason,
        **_suggestion(event.suggested_reason, event.confidence),
    }


def part_payload(event: PartEvent) -> dict[str, Any]:
    """`part`: one counted part and its verdict.

    `uncertain` is sent only when true, `inspected` only when false.
    """
    payload: dict[str, Any] = {
        "v": PAYLOAD_VERSION,
        "id": _require_id(event),
        "ts": _ts(event.ts),
        "good": event.good,
        "defect": event.defect,
        "score": event.score,
    }
    if event.uncertain:
        payload["uncertain"] = True
    if not event.inspected:
        payload["inspected"] = False
    return payload


def stop_payload(stop: OpenStop, end: datetime | None) -> dict[str, Any]:
    """`stop`: sent with `end: null` when it starts, and with its end when it ends."""
    return {
        "v": PAYLOAD_VERSION,
        "id": stop.id,
        "start": _ts(stop.start),
        "end": _ts(end),
        "state": stop.state,
        "reason": stop.reason,
        **_suggestion(stop.suggested_reason, stop.confidence),
    }


def oee_payload(shift: Mapping[str, Any], ts: datetime) -> dict[str, Any]:
    """`oee` / `shift`: one shift object of the OEE output, stamped with when it was taken."""
    return {"v": PAYLOAD_VERSION, "ts": _ts(ts), **dict(shift)}


def stats_payload(
    ts: datetime,
    *,
    outbox_depth: int,
    outbox_dropped: int,
    connected: bool,
    fps: float | None = None,
    dropped_frames: int | None = None,
    inference_ms: float | None = None,
    cpu_temp_c: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`stats`: health of the agent (QoS 0, not retained)."""
    out: dict[str, Any] = {
        "v": PAYLOAD_VERSION,
        "ts": _ts(ts),
        "fps": fps,
        "dropped_frames": dropped_frames,
        "inference_ms": inference_ms,
        "cpu_temp_c": cpu_temp_c,
        "outbox_depth": outbox_depth,
        "outbox_dropped": outbox_dropped,
        "connected": connected,
    }
    for key, value in (extra or {}).items():
        out.setdefault(key, value)
    return out


def result_payload(
    ts: datetime,
    *,
    ok: bool,
    command: str = "reason",
    stop_id: str | None = None,
    reason: str | None = None,
    request_id: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """`cmd/result`: what became of a command (ok, or why it was rejected)."""
    return {
        "v": PAYLOAD_VERSION,
        "ts": _ts(ts),
        "command": command,
        "ok": ok,
        "stop_id": stop_id,
        "reason": reason,
        "request_id": request_id,
        "error": error,
    }


def open_stop_after(event: Event, previous: OpenStop | None) -> OpenStop | None:
    """The stop open after `event`: every state event ends the previous stop."""
    if isinstance(event, PartEvent):
        return previous
    if event.state in STOP_STATES:
        return OpenStop(
            _require_id(event),
            event.ts,
            event.state,
            event.reason,
            event.suggested_reason,
            event.confidence,
        )
    return None


def messages_for(
    event: Event, config: Config, open_stop: OpenStop | None = None
) -> list[OutboxMessage]:
    """The outbox messages an event produces, in the order they must leave.

    Args:
        event: a part or state event, with its `id`.
        config: the line configuration (names the topics).
        open_stop: the stop open before this event (`open_stop_after` of the previous
            events), so a state event can close it.

    Raises:
        ValueError: the event has no id.
    """
    topics = Topics.for_config(config)
    if isinstance(event, PartEvent):
        return [OutboxMessage(topics.part, encode(part_payload(event)), qos=1)]
    messages = []
    if open_stop is not None:
        ended = stop_payload(open_stop, event.ts)
        messages.append(OutboxMessage(topics.stop, encode(ended), qos=1))
    messages.append(OutboxMessage(topics.state, encode(state_payload(event)), qos=1, retain=True))
    started = open_stop_after(event, open_stop)
    if started is not None:
        messages.append(OutboxMessage(topics.stop, encode(stop_payload(started, None)), qos=1))
    return messages


def reason_update_messages(
    stop: Stop, config: Config, suggestion: tuple[str, float] | None = None
) -> list[OutboxMessage]:
    """What the feed says when a stop's reason is (re)assigned.

    The stop again (same id, start and end: consumers update it); for a stop still in
    progress also the retained `state`, so a late subscriber sees the reason too. Both
    repeat the stop's stored `suggestion` (suggested reason, confidence) when given.
    """
    topics = Topics.for_config(config)
    open_stop = OpenStop.from_stop(stop, suggestion)
    messages = [OutboxMessage(topics.stop, encode(stop_payload(open_stop, stop.end)), qos=1)]
    if stop.end is None and stop.state in STOP_STATES:
        now = StateEvent(
            stop.start,
            stop.state,  # type: ignore[arg-type]
            stop.reason,
            stop.id,
            suggested_reason=open_stop.suggested_reason,
            confidence=open_stop.confidence,
        )
        messages.append(OutboxMessage(topics.state, encode(state_payload(now)), qos=1, retain=True))
    return messages


def payload_id(payload: bytes) -> str | None:
    """The `id` of a JSON payload, or None."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def with_reason(payload: bytes, reason: str | None) -> bytes:
    """A `stop`/`state` payload carrying `reason` (unchanged when it already does).

    A stop's closing message is written when the stop ends, from what was known when
    it began; a reason assigned in between must not be undone by it.
    """
    try:
        data = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(data, dict) or data.get("reason") == reason:
        return payload
    return encode({**data, "reason": reason})


def default_client_id(config: Config) -> str:
    """`oee-{site}-{area}-{line}`: unique per line, as the topic tree is."""
    line = config.line
    return f"oee-{line.site}-{line.area}-{line.id}"


def known_reasons(config: Config) -> frozenset[str]:
    """Reason codes a `cmd/reason` may assign: the line's and the built-in ones."""
    return frozenset(r.code for r in config.reason) | BUILTIN_REASONS


def shift_message(shift: Mapping[str, Any], config: Config, ts: datetime) -> OutboxMessage:
    """The retained `shift` message for a finished shift (queue it with the result)."""
    topics = Topics.for_config(config)
    return OutboxMessage(topics.shift, encode(oee_payload(shift, ts)), qos=1, retain=True)
