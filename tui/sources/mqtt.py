"""The fleet over MQTT: every line under `oee/#`, from the contract's topic tree.

`FleetState` is the pure part: it folds messages into per-line state, and is what
tests drive directly. `MqttFeed` is the thin shell: a paho-mqtt v2 client on its own
loop thread that feeds a `FleetState` under a lock and marks it dirty; the app takes
a copy at most a few times a second, so 200 lines publishing at once cost the UI one
table refresh per tick, not one per message. Retained `status`, `state` and `oee`
messages give the whole picture as soon as the subscription is made.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.config import MqttConfig
from agent.errors import UserError
from agent.publish.commands import reason_command
from agent.publish.connection import new_client
from agent.publish.topics import FLEET_FILTER, Topics
from tui.model import (
    FleetRow,
    LineSnapshot,
    Part,
    Reason,
    Stop,
    Times,
    banner_alarms,
    bars_from_report,
    hourly_bars,
)

logger = logging.getLogger(__name__)

#: Kept per line for the line screens when a line is opened from the fleet.
KEEP_STOPS = 200
KEEP_REJECTS = 200


def _ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _fraction(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class LineFeed:
    """What the feed told us about one line."""

    site: str
    area: str
    line: str
    status: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    oee: dict[str, Any] = field(default_factory=dict)
    last_shift: dict[str, Any] = field(default_factory=dict)
    stops: dict[str, Stop] = field(default_factory=dict)
    rejects: deque[Part] = field(default_factory=lambda: deque(maxlen=KEEP_REJECTS))
    part_times: deque[datetime] = field(default_factory=lambda: deque(maxlen=20000))
    seen_parts: set[str] = field(default_factory=set)
    last_mono: float = 0.0
    #: The storage alarms of the agent's latest `stats` (a store that cannot keep its bound).
    alarms: tuple[str, ...] = ()


class FleetState:
    """Per-line state folded from the topic tree (not thread-safe: the feed locks)."""

    def __init__(self, stale_after_s: float = 60.0) -> None:
        self.stale_after_s = stale_after_s
        self.lines: dict[str, LineFeed] = {}
        self.results: deque[str] = deque(maxlen=50)
        self.rejected_messages = 0

    def apply(self, topic: str, payload: bytes, mono: float) -> bool:
        """Fold one message in; returns False when it was not ours or not valid."""
        split = Topics.split(topic)
        if split is None:
            return False
        key, kind = split
        if kind == "cmd/reason":
            return False  # our own (or another supervisor's) command, not news
        try:
            if kind == "status":  # plain text `online` / `offline`, the Last Will
                data: Any = payload.decode("utf-8").strip() or None
            else:
                data = json.loads(payload.decode("utf-8")) if payload else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            self.rejected_messages += 1
            logger.debug("not JSON on %s", topic)
            return False
        feed = self.lines.get(key)
        if feed is None:
            if data is None:
                return False  # a retained message being cleared for a line we never saw
            site, area, line = key.split("/")
            feed = self.lines[key] = LineFeed(site, area, line)
        feed.last_mono = mono
        if kind == "status":
            feed.status = data if isinstance(data, str) else None
        elif kind == "state" and isinstance(data, dict):
            feed.state = data
            self._stop_from_state(feed, data)
        elif kind == "oee" and isinstance(data, dict):
            feed.oee = data
        elif kind == "shift" and isinstance(data, dict):
            feed.last_shift = data
        elif kind == "stop" and isinstance(data, dict):
            self._stop(feed, data)
        elif kind == "part" and isinstance(data, dict):
            self._part(feed, data)
        elif kind == "cmd/result" and isinstance(data, dict):
            self.results.append(_result_text(key, data))
        elif kind == "stats" and isinstance(data, dict):
            feed.alarms = banner_alarms(data.get("alarms"))
        return True

    def take_results(self) -> list[str]:
        """The command results received since the last call, oldest first."""
        out = list(self.results)
        self.results.clear()
        return out

    @staticmethod
    def _stop(feed: LineFeed, data: dict[str, Any]) -> None:
        start = _ts(data.get("start"))
        stop_id = data.get("id")
        if start is None or not isinstance(stop_id, str):
            return
        suggested, confidence = data.get("suggested_reason"), data.get("confidence")
        earlier = feed.stops.get(stop_id)
        if not isinstance(suggested, str) and earlier is not None:  # a re-announcement
            suggested, confidence = earlier.suggested_reason, earlier.confidence
        feed.stops[stop_id] = Stop(
            stop_id,
            start,
            _ts(data.get("end")),
            str(data.get("state") or "stopped"),
            data.get("reason") if isinstance(data.get("reason"), str) else None,
            suggested if isinstance(suggested, str) else None,
            float(confidence) if isinstance(confidence, int | float) else None,
        )
        if len(feed.stops) > KEEP_STOPS:
            oldest = min(feed.stops.values(), key=lambda s: s.start)
            del feed.stops[oldest.id]

    @staticmethod
    def _stop_from_state(feed: LineFeed, data: dict[str, Any]) -> None:
        """The retained `state` carries the stop's id: a late subscriber still sees it."""
        since, state_id = _ts(data.get("since")), data.get("id")
        if since is None:
            return
        for stop in list(feed.stops.values()):
            if stop.end is None and stop.id != state_id and stop.start <= since:
                feed.stops[stop.id] = replace(stop, end=since)
        state = data.get("state")
        if state in ("stopped", "no_data") and isinstance(state_id, str):
            if state_id not in feed.stops:
                reason = data.get("reason") if isinstance(data.get("reason"), str) else None
                suggested, confidence = data.get("suggested_reason"), data.get("confidence")
                feed.stops[state_id] = Stop(
                    state_id,
                    since,
                    None,
                    state,
                    reason,
                    suggested if isinstance(suggested, str) else None,
                    float(confidence) if isinstance(confidence, int | float) else None,
                )

    @staticmethod
    def _part(feed: LineFeed, data: dict[str, Any]) -> None:
        ts = _ts(data.get("ts"))
        part_id = str(data.get("id") or "")
        if ts is None or (part_id and part_id in feed.seen_parts):
            return  # de-duplicate by id: QoS 1 may deliver twice
        if part_id:
            feed.seen_parts.add(part_id)
            if len(feed.seen_parts) > 50000:
                feed.seen_parts.clear()
        feed.part_times.append(ts)
        if data.get("good") is False:
            feed.rejects.appendleft(
                Part(part_id, ts, False, _fraction(data.get("score")), data.get("defect"))
            )

    def row(self, feed: LineFeed, mono: float) -> FleetRow:
        """The fleet table's row of one line."""
        oee = feed.oee
        times = Times.of_shift(oee)
        return FleetRow(
            site=feed.site,
            area=feed.area,
            line=feed.line,
            state=str(feed.state.get("state") or "unknown"),
            since=_ts(feed.state.get("since")),
            oee=_fraction(oee.get("oee")),
            availability=_fraction(oee.get("availability")),
            performance=_fraction(oee.get("performance")),
            quality=_fraction(oee.get("quality")),
            online=None if feed.status is None else feed.status == "online",
            stale=mono - feed.last_mono > self.stale_after_s,
            times=times,
        )

    def rows(self, mono: float) -> tuple[FleetRow, ...]:
        """Every line's row."""
        return tuple(self.row(feed, mono) for feed in self.lines.values())

    def line_snapshot(
        self, key: str, now: datetime, mono: float, ideal_cycle_s: float | None = None
    ) -> LineSnapshot | None:
        """A line as the line screens show it, from what the feed has told us."""
        feed = self.lines.get(key)
        if feed is None:
            return None
        row = self.row(feed, mono)
        shift = feed.oee or None
        cycle = ideal_cycle_s or _cycle_from(shift) or 1.0
        stops = tuple(sorted(feed.stops.values(), key=lambda s: s.start))
        shift_start = _ts(shift.get("start")) if shift else None
        start = shift_start or (feed.part_times[0] if feed.part_times else None)
        hourly = bars_from_report(shift or {})
        if hourly is None:
            parts = list(feed.part_times)
            hourly = hourly_bars(start, now, parts, stops, cycle) if start else ()
        stale = None
        if row.online is False:
            stale = "line offline"
        elif row.stale:
            stale = f"no message for {int(mono - feed.last_mono)} s"
        shifts = tuple(x for x in (shift, feed.last_shift or None) if x)
        return LineSnapshot(
            site=feed.site,
            area=feed.area,
            line=feed.line,
            now=now,
            tz=UTC,
            state=row.state,
            since=row.since,
            reason=feed.state.get("reason") if isinstance(feed.state.get("reason"), str) else None,
            shift_name=str(shift.get("shift", "-")) if shift else "-",
            shift_start=start,
            shift=shift,
            hourly=hourly,
            stops=stops,
            rejects=tuple(feed.rejects),
            shifts=shifts,
            ideal_cycle_s=cycle,
            source="mqtt",
            stale=stale,
            alarms=feed.alarms,
        )


def _result_text(key: str, data: dict[str, Any]) -> str:
    what = f"{data.get('reason')} for stop {data.get('stop_id')}"
    if data.get("ok"):
        return f"{key}: {what} accepted"
    return f"{key}: {what} rejected ({data.get('error') or 'no reason given'})"


def _cycle_from(shift: dict[str, Any] | None) -> float | None:
    """The ideal cycle implied by an OEE object: P × run time / total count."""
    if not shift:
        return None
    perf, run, total = (_fraction(shift.get(k)) for k in ("performance", "run_s", "total"))
    if perf and run and total:
        return perf * run / total
    return None


class MqttFeed:
    """A paho-mqtt v2 client subscribed to every line's feed, on its own network thread.

    It connects as the agent does (`agent.publish.connection`): the same `[mqtt]`
    settings, TLS and client certificates, credentials from the environment.
    """

    def __init__(
        self, mq: MqttConfig, base_dir: Path = Path("."), stale_after_s: float = 60.0
    ) -> None:
        self.mq, self.base_dir = mq, base_dir
        self.host, self.port = mq.host, mq.port
        self.state = FleetState(stale_after_s)
        self.lock = threading.Lock()
        self.dirty = threading.Event()
        self.connected = threading.Event()
        self.error: str | None = None
        self._client: Any = None

    def start(self, timeout_s: float = 5.0) -> None:
        """Connect and subscribe; fail with one sentence if the broker does not answer.

        Raises:
            UserError: the broker cannot be reached or refused the connection.
        """
        client = new_client(
            self.mq,
            f"oee-tui-{socket.gethostname()}-{int(time.time() * 1000) % 10**8}",
            base_dir=self.base_dir,
            persistent=False,
            reconnect_min_s=1,
            reconnect_max_s=10,
        )
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        try:
            client.connect(self.host, self.port, keepalive=self.mq.keepalive_s)
        except (OSError, ValueError) as exc:
            raise UserError(
                f"cannot reach the MQTT broker at {self.host}:{self.port} ({exc})"
            ) from None
        client.loop_start()
        self._client = client
        if not self.connected.wait(timeout_s):
            self.stop()
            raise UserError(
                f"the MQTT broker at {self.host}:{self.port} did not accept us"
                + (f" ({self.error})" if self.error else "")
            )

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.error = str(reason)
            logger.warning("broker refused the connection: %s", reason)
            return
        client.subscribe(FLEET_FILTER, qos=1)
        self.error = None
        self.connected.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self.connected.is_set() or self.error is None:  # keep a refusal's own reason
            self.error = f"disconnected ({reason})"
        self.connected.clear()
        self.dirty.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self.lock:
            changed = self.state.apply(message.topic, message.payload, time.monotonic())
        if changed:
            self.dirty.set()

    def rows(self) -> tuple[FleetRow, ...]:
        """A copy of the fleet table's rows."""
        with self.lock:
            return self.state.rows(time.monotonic())

    def take_results(self) -> list[str]:
        """Command results (`cmd/result`) received since the last call."""
        with self.lock:
            return self.state.take_results()

    def line_snapshot(
        self, key: str, now: datetime, ideal_cycle_s: float | None = None
    ) -> LineSnapshot | None:
        """A copy of one line's state."""
        with self.lock:
            return self.state.line_snapshot(key, now, time.monotonic(), ideal_cycle_s)

    def publish_reason(self, key: str, stop_id: str, reason: str, timeout_s: float = 5.0) -> None:
        """Publish `{"v", "stop_id", "reason"}` on the line's `cmd/reason` and wait for the broker.

        Raises:
            UserError: the broker did not take it in time.
        """
        if self._client is None:
            raise UserError("not connected to the MQTT broker")
        payload = reason_command(stop_id, reason)
        info = self._client.publish(Topics.for_line(key).cmd_reason, payload, qos=1)
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise UserError(f"could not publish the reason ({exc})") from None
        if not info.is_published():
            raise UserError(f"the broker at {self.host}:{self.port} did not take the reason")

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None


class MqttLineSource:
    """One line of the fleet, for the line screens (assignments go out on `cmd/reason`)."""

    publishes = True

    def __init__(self, feed: MqttFeed, key: str, clock: Any, config: Any = None) -> None:
        self.feed, self.key, self.clock = feed, key, clock
        # the feed carries no reason list or ideal cycle: a `--config` of this line does
        self.config = config

    def read(self, shift_back: int = 0) -> LineSnapshot:
        """The line as the feed has told it (the feed keeps no shift history)."""
        cycle = self.config.line.ideal_cycle_s if self.config is not None else None
        snap = self.feed.line_snapshot(self.key, self.clock.wall(), cycle)
        if snap is None:
            raise UserError(f"no messages from {self.key} yet")
        if self.config is not None:
            reasons = tuple(Reason(r.code, str(r.loss), r.label) for r in self.config.reason)
            snap = replace(snap, reasons=reasons, tz=self.config.line.zone)
        return snap

    def assign_reason(self, stop_id: str, reason: str) -> str:
        """Publish the assignment; the line's agent stores it and answers on cmd/result."""
        self.feed.publish_reason(self.key, stop_id, reason)
        return f"sent to {self.key} over MQTT"

    def close(self) -> None:
        """Nothing of its own to release (the feed is shared)."""
