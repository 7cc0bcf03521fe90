"""Events: what every stage hands on, the store keeps and the event log carries.

The JSON Lines form is the contract's::

    {"ts": "2026-03-02T06:00:00+00:00", "type": "state", "state": "running"}
    {"ts": "2026-03-02T06:00:01.2+00:00", "type": "part", "good": true}

Optional keys: `id` (stable, unique), `mono` (monotonic seconds, for durations),
`reason` (state), `defect`, `score`, `uncertain` (part: `true` when the count
is a guess from the size of merged touching parts; written only then) and `inspected`
(part: `false` when it was counted but not judged, e.g. the model was behind or a
patterned belt not learnt yet; written only then). Anything else
is an error, so a typo in an integrator's feed is reported instead of silently ignored.
"""

from __future__ import annotations

import json
import math
import sys
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from agent.errors import UserError

State = Literal["running", "stopped", "no_data"]
STATES: tuple[State, ...] = ("running", "stopped", "no_data")


@dataclass(frozen=True, slots=True)
class StateEvent:
    """The line entered `state` at `ts` (a stop's `reason`, when known)."""

    ts: datetime
    state: State
    reason: str | None = None
    id: str | None = None
    mono: float | None = None
    #: A stop's suggested cause (`agent.causes`) and its confidence: published on the
    #: feed, kept in the store, never in the event log (a person's `reason` is).
    suggested_reason: str | None = None
    confidence: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The event log form."""
        out: dict[str, Any] = {"ts": self.ts.isoformat(), "type": "state", "state": self.state}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.id is not None:
            out["id"] = self.id
        if self.mono is not None:
            out["mono"] = self.mono
        return out


@dataclass(frozen=True, slots=True)
class PartEvent:
    """A part was counted at `ts`; `good` is the inspection verdict."""

    ts: datetime
    good: bool = True
    defect: str | None = None
    score: float | None = None
    id: str | None = None
    mono: float | None = None
    #: Counted from touching parts that could not be told apart (a guess from their size).
    uncertain: bool = False
    #: False when counted but not judged (the model was behind or failed, or a patterned
    #: belt was not learnt yet): good, no score.
    inspected: bool = True

    def to_json(self) -> dict[str, Any]:
        """The event log form (`uncertain` only when true, `inspected` only when false)."""
        out: dict[str, Any] = {"ts": self.ts.isoformat(), "type": "part", "good": self.good}
        if self.defect is not None:
            out["defect"] = self.defect
        if self.score is not None:
            out["score"] = self.score
        if self.id is not None:
            out["id"] = self.id
        if self.mono is not None:
            out["mono"] = self.mono
        if self.uncertain:
            out["uncertain"] = True
        if not self.inspected:
            out["inspected"] = False
        return out


Event = StateEvent | PartEvent

_COMMON = {"ts", "type", "id", "mono"}
_KEYS = {
    "state": _COMMON | {"state", "reason"},
    "part": _COMMON | {"good", "defect", "score", "uncertain", "inspected"},
}


def new_id() -> str:
    """A fresh event id: unique and stable, so consumers can de-duplicate by it."""
    return uuid.uuid4().hex


class EventLogError(UserError):
    """An event log line that cannot be read; names the line."""


def parse_ts(value: Any) -> datetime:
    """An ISO 8601 time stamp with a UTC offset."""
    if not isinstance(value, str):
        raise ValueError("ts must be an ISO 8601 string")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"ts {value!r} is not an ISO 8601 time") from None
    if ts.tzinfo is None:
        raise ValueError(f"ts {value!r} has no UTC offset")
    return ts


def _optional(obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ValueError(f"{key} has the wrong type ({type(value).__name__})")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{key} is not a finite number")
    return value


def event_from_json(obj: Any) -> Event:
    """Build an event from its decoded JSON object.

    Raises:
        ValueError: saying what is wrong with it.
    """
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    kind = obj.get("type")
    if kind not in _KEYS:
        raise ValueError(f"unknown event type {kind!r} (expected 'state' or 'part')")
    if "ts" not in obj:
        raise ValueError("missing field 'ts'")
    extra = sorted(set(obj) - _KEYS[kind])
    if extra:
        raise ValueError(f"unknown field {extra[0]!r} for a {kind} event")
    ts = parse_ts(obj["ts"])
    event_id = _optional(obj, "id", str)
    mono = _optional(obj, "mono", (int, float))
    if kind == "state":
        state = obj.get("state")
        if state is None:
            raise ValueError("missing field 'state'")
        if state not in STATES:
            raise ValueError(f"unknown state {state!r} (expected running, stopped or no_data)")
        return StateEvent(ts, state, _optional(obj, "reason", str), event_id, mono)
    if "good" not in obj:
        raise ValueError("missing field 'good'")
    if not isinstance(obj["good"], bool):
        raise ValueError("good must be true or false")
    score = _optional(obj, "score", (int, float))
    uncertain = obj.get("uncertain", False)
    if not isinstance(uncertain, bool):
        raise ValueError("uncertain must be true or false")
    inspected = obj.get("inspected", True)
    if not isinstance(inspected, bool):
        raise ValueError("inspected must be true or false")
    return PartEvent(
        ts,
        obj["good"],
        _optional(obj, "defect", str),
        None if score is None else float(score),
        event_id,
        mono,
        uncertain,
        inspected,
    )


def parse_event_lines(lines: Iterable[str], source: str = "events") -> Iterator[Event]:
    """Parse JSON Lines, checking that time never goes backwards.

    Blank lines are allowed; every other bad line raises.

    Raises:
        EventLogError: naming the source and line number.
    """
    last: datetime | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = event_from_json(json.loads(line))
        except json.JSONDecodeError as exc:
            raise EventLogError(f"{source} line {number}: not JSON ({exc.msg})") from None
        except ValueError as exc:
            raise EventLogError(f"{source} line {number}: {exc}") from None
        if last is not None and event.ts < last:
            raise EventLogError(
                f"{source} line {number}: time goes backwards "
                f"({event.ts.isoformat()} after {last.isoformat()})"
            )
        last = event.ts
        yield event


#: The path that means standard input (`oee --events -`).
STDIN = "-"


def read_event_log(path: str | Path, stdin: TextIO | None = None) -> list[Event]:
    """Read a whole event log file; `-` reads `stdin` (default `sys.stdin`).

    Raises:
        EventLogError: the file is missing, unreadable, not text, or has a bad line.
    """
    if str(path) == STDIN:
        stream = stdin if stdin is not None else sys.stdin
        try:
            return list(parse_event_lines(stream, source="stdin"))
        except UnicodeDecodeError:
            raise EventLogError("stdin: not UTF-8 text") from None
    file = Path(path)
    try:
        # utf-8-sig: a byte-order mark (Windows tools write one) is not part of line 1
        with file.open(encoding="utf-8-sig") as handle:
            return list(parse_event_lines(handle, source=str(file)))
    except FileNotFoundError:
        raise EventLogError(f"{file}: no such file") from None
    except IsADirectoryError:
        raise EventLogError(f"{file}: is a folder, not an event log") from None
    except UnicodeDecodeError:
        raise EventLogError(f"{file}: not UTF-8 text") from None
    except OSError as exc:
        raise EventLogError(f"{file}: cannot read it ({exc.strerror})") from None


def write_event_log(events: Iterable[Event], path: str | Path) -> None:
    """Write events as JSON Lines."""
    with Path(path).open("w", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event.to_json()) + "\n")
