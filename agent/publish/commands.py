"""Commands received over MQTT: validated here, purely, before anything acts on them.

A `cmd/reason` payload is at most `MAX_COMMAND_BYTES` of UTF-8 JSON, one object::

    {"stop_id": "4f1c...", "reason": "changeover", "request_id": "r-17", "by": "anna"}

`stop_id` and `reason` are required; `v` (1), `request_id` and `by` are optional;
nothing else is allowed. Whether the stop exists is the store's to say.
The rules are the same as `schemas/cmd_reason.json` (a test holds them together).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

#: Largest `cmd/...` payload read; bigger ones are rejected unread.
MAX_COMMAND_BYTES = 4096

_FIELDS = {"v", "stop_id", "reason", "request_id", "by"}
_LIMITS = {"stop_id": 64, "reason": 48, "request_id": 64, "by": 64}


class CommandRejected(ValueError):
    """A command that cannot be carried out; the message says why, in one line."""

    def __init__(
        self,
        message: str,
        request_id: str | None = None,
        stop_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.stop_id = stop_id
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReasonCommand:
    """Assign reason code `reason` to stop `stop_id`."""

    stop_id: str
    reason: str
    request_id: str | None = None
    by: str | None = None


def reason_command(stop_id: str, reason: str, request_id: str | None = None) -> bytes:
    """The `cmd/reason` payload a supervisor's client sends (the TUI's reason dialog)."""
    data = {"v": 1, "stop_id": stop_id, "reason": reason}
    if request_id is not None:
        data["request_id"] = request_id
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_reason_command(payload: bytes, reasons: Collection[str]) -> ReasonCommand:
    """Validate a `cmd/reason` payload.

    Args:
        payload: the raw MQTT payload.
        reasons: the reason codes this line knows.

    Raises:
        CommandRejected: naming the first thing wrong with it.
    """
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandRejected(f"payload of {len(payload)} bytes is over {MAX_COMMAND_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandRejected(f"payload is not UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise CommandRejected("payload is nested too deeply") from None
    except ValueError as exc:
        raise CommandRejected(f"payload is not JSON ({str(exc).splitlines()[0][:80]})") from None
    if not isinstance(data, dict):
        raise CommandRejected(f"payload must be a JSON object, not {type(data).__name__}")
    # echoed in a rejection when readable, so a sender can tell which request failed
    request_id, stop_id, reason = (_echo(data, k) for k in ("request_id", "stop_id", "reason"))
    try:
        return _reason_command(data, reasons)
    except CommandRejected as exc:
        raise CommandRejected(str(exc), request_id, stop_id, reason) from None


def _echo(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and 0 < len(value) <= _LIMITS[key] else None


def _reason_command(data: dict[str, Any], reasons: Collection[str]) -> ReasonCommand:
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise CommandRejected(f"unknown field {unknown[0][:40]!r}")
    if "v" in data and (data["v"] != 1 or isinstance(data["v"], bool)):
        raise CommandRejected(f"unsupported payload version {str(data['v'])[:20]!r}")
    for key in ("stop_id", "reason"):
        if key not in data:
            raise CommandRejected(f"missing field {key!r}")
    for key, limit in _LIMITS.items():
        value = data.get(key)
        if value is None and key not in ("stop_id", "reason"):
            continue
        if not isinstance(value, str):
            raise CommandRejected(f"{key} must be a string, not {type(value).__name__}")
        if not value or len(value) > limit:
            raise CommandRejected(f"{key} must be 1-{limit} characters")
    if data["reason"] not in reasons:
        raise CommandRejected(f"unknown reason code {data['reason']!r}")
    return ReasonCommand(data["stop_id"], data["reason"], data.get("request_id"), data.get("by"))
