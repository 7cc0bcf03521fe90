"""The MQTT publisher: the connection, and the thread that drains the disk outbox.

Delivery comes from the outbox, not from paho's memory: a message leaves the store
only once the broker acknowledged it (PUBACK), so a broker outage, a network cut, a
restart or a `kill -9` loses nothing; at worst a message is sent twice, with the same
id. One thread (`mqtt-outbox-<line>`) owns the outbox: it keeps at most `inflight_max`
messages in flight (`window.InFlightWindow`), in `seq` order, deletes each once
acknowledged, hands commands from paho's network thread to `reasons.ReasonRouter`, and
trims the outbox when it outgrows `[mqtt] outbox_max_rows` (the loss is counted in the
store and published in `stats`). The retained `oee` snapshot and `stats` go straight
to the connection, and to the Sparkplug node beside it.

Threads: paho's network thread runs the callbacks and never touches SQLite; the outbox
thread does; callers' threads may call `publish_oee`, `publish_stats` and `notify`.
Timers (resend, back-off, trimming, snapshots) run on the injected clock; the bounded
waits of `drain`, `stop` and `wait_ready` are real waits on threading events, so their
deadlines are real time (`_Deadline`).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.clock import Clock, SystemClock
from agent.config import Config
from agent.publish.commands import MAX_COMMAND_BYTES
from agent.publish.connection import new_client
from agent.publish.counters import PublisherCounters
from agent.publish.outbox_bound import OutboxBound
from agent.publish.reasons import ReasonRouter
from agent.publish.sparkplug import STATS_METRICS, SparkplugNode, device_values
from agent.publish.topics import (
    STATUS_OFFLINE,
    STATUS_ONLINE,
    Topics,
    default_client_id,
    encode,
    oee_payload,
    payload_id,
    stats_payload,
    with_reason,
)
from agent.publish.window import InFlightWindow
from agent.store import OutboxMessage, OutboxRow, Store

logger = logging.getLogger(__name__)

#: Session kept by the broker for our `cmd/...` subscription while we are away (MQTT 5).
SESSION_EXPIRY_S = 24 * 3600
#: Commands waiting for the outbox thread, at most (more are rejected, counted).
COMMAND_QUEUE_MAX = 64
#: A message in flight this long after (re)connecting is sent again.
RESEND_AFTER_S = 30.0
#: How often the outbox size is checked against its bound.
TRIM_EVERY_S = 10.0
#: Shortest gap between two `oee` snapshots published because the OEE changed.
OEE_MIN_GAP_S = 1.0
#: Wait after the broker refused a message before sending from the outbox again.
REFUSED_BACKOFF_S = 5.0
#: How often reason assignments made outside the feed (the TUI) are looked for.
REASON_POLL_S = 1.0

__all__ = ["MqttPublisher", "PublisherCounters"]


class _Deadline:
    """A real-time deadline for a bounded wait on a threading event.

    An event waits in real time whatever the injected clock says, so its deadline is
    real time too.
    """

    def __init__(self, timeout: float) -> None:
        self._end = time.monotonic() + timeout

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self._end - time.monotonic())


class MqttPublisher:
    """The line's MQTT feed: outbox drainer, retained status/oee, stats, commands.

    Usage::

        publisher = MqttPublisher(config, store)
        publisher.start()
        store.append(event, messages_for(event, config, open_stop)); publisher.notify()
        publisher.publish_oee_if_due(shift_obj)     # at every OEE recompute
        publisher.drain(timeout=30)                 # replay --publish, before exiting
        publisher.stop()
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clock: Clock | None = None,
        client_id: str | None = None,
        inflight_max: int = 100,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 30,
        poll_s: float = 0.2,
        free_bytes: Callable[[], int | None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.topics = Topics.for_config(config)
        self.counters = PublisherCounters()
        self._clock = clock or SystemClock()
        self._inflight_max = inflight_max
        self._poll_s = poll_s
        self._bound = OutboxBound(config.mqtt.outbox_max_rows, store, free_bytes)
        self._oee_content: bytes | None = None
        self._oee_at: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._window = InFlightWindow(self._clock, RESEND_AFTER_S)
        self._hold_until = 0.0
        self._depth = 0
        self._lost = 0
        self.passes = 0  # completed passes of the outbox thread: a caller can await one
        self._router = ReasonRouter(
            config, store, self._clock, self.counters, self._send_now, self._wake.set
        )
        self._commands: queue.Queue[tuple[str, bytes | None, int]] = queue.Queue(COMMAND_QUEUE_MAX)
        self._thread: threading.Thread | None = None
        self._started = False
        mq = config.mqtt
        self._v5 = mq.protocol == "5"
        self.client_id = client_id or mq.client_id or default_client_id(config)
        # a persistent session keeps `cmd/reason` messages sent while we are away
        self.client = new_client(
            config.mqtt,
            self.client_id,
            base_dir=config.base_dir,
            persistent=True,
            reconnect_min_s=reconnect_min_s,
            reconnect_max_s=reconnect_max_s,
        )
        self.client.will_set(self.topics.status, STATUS_OFFLINE, qos=1, retain=True)
        self.client.max_inflight_messages_set(inflight_max)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.sparkplug: SparkplugNode | None = None
        if mq.sparkplug:
            self.sparkplug = SparkplugNode(
                config,
                store,
                clock=self._clock,
                client_id=f"{self.client_id}-spb",
                reconnect_min_s=reconnect_min_s,
                reconnect_max_s=reconnect_max_s,
            )

    # ---- life cycle ----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the broker accepted our connection (CONNACK success) and it holds."""
        return self._connected.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Wait (bounded) until connected and subscribed to `cmd/...`; True when so."""
        deadline = _Deadline(timeout)
        return self._connected.wait(timeout) and self._subscribed.wait(deadline.remaining())

    def start(self) -> None:
        """Connect in the background and start the outbox thread. Returns at once.

        With `[mqtt] enabled = false` it connects to nothing: events stay in the outbox.
        """
        if self._started:
            raise RuntimeError("the publisher is already started")
        self._started = True
        self._depth = self.store.outbox.depth()
        self._lost = self.store.outbox.lost()
        self._router.resume()
        if not self.config.mqtt.enabled:
            logger.info("mqtt: [mqtt] enabled = false: events stay queued in the outbox")
            return
        mq = self.config.mqtt
        kwargs: dict[str, Any] = {}
        if self._v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            kwargs = {"clean_start": False, "properties": props}
        self.client.connect_async(mq.host, mq.port, mq.keepalive_s, **kwargs)
        self.client.loop_start()
        self._thread = threading.Thread(
            target=self._run, name=f"mqtt-outbox-{self.config.line.id}", daemon=True
        )
        self._thread.start()
        if self.sparkplug is not None:
            self.sparkplug.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the outbox thread, say `offline` (retained), disconnect. Bounded by `timeout`."""
        deadline = _Deadline(timeout)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(max(0.1, deadline.remaining()))
            if self._thread.is_alive():
                logger.warning("mqtt: the outbox thread did not stop in time")
        if self.sparkplug is not None:
            self.sparkplug.stop(max(0.1, min(2.0, deadline.remaining())))
        if self._connected.is_set():
            info = self.client.publish(self.topics.status, STATUS_OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(max(0.1, min(2.0, deadline.remaining())))
            except (RuntimeError, ValueError):
                logger.warning("mqtt: `offline` status not acknowledged before disconnect")
        self._connected.clear()
        self.client.disconnect()
        self.client.loop_stop()

    def notify(self) -> None:
        """Wake the outbox thread now (after appending), instead of at its next poll."""
        self._wake.set()

    def drain(self, timeout: float) -> bool:
        """Wait until the outbox is empty and nothing is in flight, at most `timeout` s.

        Returns:
            True when everything queued was acknowledged by the broker.
        """
        deadline = _Deadline(timeout)
        self._wake.set()
        while True:
            if not self._window and self.store.outbox.depth() == 0:
                return True
            remaining = deadline.remaining()
            if remaining <= 0:
                return False
            self._stop.wait(min(0.05, remaining))

    # ---- the non-outbox messages ----------------------------------------------------

    def publish_oee(self, shift: Mapping[str, Any], at: datetime | None = None) -> bool:
        """Publish the retained `oee` snapshot (only the latest matters: not queued offline).

        `at` stamps it (default: now; a replay stamps it on the footage's time line).

        Returns:
            True when it was handed to the connection.
        """
        if self.sparkplug is not None:
            self.sparkplug.update_device(device_values(shift))
        if not self._connected.is_set():
            return False
        payload = encode(oee_payload(shift, at or self._clock.wall()))
        info = self.client.publish(self.topics.oee, payload, qos=1, retain=True)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def publish_oee_if_due(self, shift: Mapping[str, Any]) -> bool:
        """`publish_oee` on change (at most once a second) or every `[mqtt] oee_interval_s`.

        Call it as often as the OEE is recomputed; returns True when it published.
        """
        now = self._clock.monotonic()
        content = encode(shift)
        since = now - self._oee_at if self._oee_at is not None else None
        changed = content != self._oee_content
        due = (
            since is None
            or since >= self.config.mqtt.oee_interval_s
            or (changed and since >= OEE_MIN_GAP_S)
        )
        if not due or not self.publish_oee(shift):
            return False
        self._oee_content, self._oee_at = content, now
        return True

    def publish_stats(self, readings: Mapping[str, Any] | None = None) -> bool:
        """Publish `stats` (QoS 0): the caller's readings plus the outbox's health.

        `readings` may hold fps, dropped_frames, inference_ms, cpu_temp_c and more.
        """
        readings = dict(readings or {})
        known = {k: readings.pop(k, None) for k in ("fps", "inference_ms", "cpu_temp_c")}
        dropped_frames = readings.pop("dropped_frames", None)
        if self.sparkplug is not None:
            node = {"Outbox/Depth": self._depth, "Outbox/Dropped": self._lost}
            node.update({STATS_METRICS[k]: v for k, v in known.items() if v is not None})
            self.sparkplug.update_node(node)
        if not self._connected.is_set():
            return False
        payload = stats_payload(
            self._clock.wall(),
            outbox_depth=self._depth,
            outbox_dropped=self._lost,
            connected=True,
            dropped_frames=dropped_frames,
            extra=readings,
            **known,
        )
        info = self.client.publish(self.topics.stats, encode(payload), qos=0)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    @property
    def outbox_depth(self) -> int:
        """Outbox rows waiting, as last counted by the outbox thread."""
        return self._depth

    @property
    def outbox_lost(self) -> int:
        """Rows dropped by the outbox bound over the store's life."""
        return self._lost

    # ---- paho callbacks (network thread: quick, no SQLite) --------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        mq = self.config.mqtt
        if reason_code.is_failure:
            self.counters.refused_connects += 1
            self._connected.clear()
            logger.error(
                "mqtt: broker %s:%d refused the connection: %s", mq.host, mq.port, reason_code
            )
            return
        self.counters.connects += 1
        logger.info("mqtt: connected to %s:%d", mq.host, mq.port)
        client.publish(self.topics.status, STATUS_ONLINE, qos=1, retain=True)
        client.subscribe(self.topics.cmd_reason, qos=1)
        self._window.connected()
        self._connected.set()
        self._wake.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if self._connected.is_set() and not self._stop.is_set():
            logger.warning("mqtt: disconnected (%s); reconnecting with backoff", reason_code)
        self._connected.clear()
        self._subscribed.clear()

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any
    ) -> None:
        for code in reason_codes:
            if code.is_failure:
                logger.error("mqtt: broker refused the subscription to commands: %s", code)
                return
        self._subscribed.set()

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        # Called before paho marks the message published, so the outbox thread sees
        # a refusal before it sees the acknowledgement.
        if reason_code.is_failure:
            self._window.refused(mid, reason_code)
        self._wake.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        size = len(message.payload)
        # an oversized payload is not kept: only its size travels to the outbox thread
        payload = bytes(message.payload) if size <= MAX_COMMAND_BYTES else None
        try:
            self._commands.put_nowait((message.topic, payload, size))
        except queue.Full:
            self.counters.commands_rejected += 1
            logger.warning("mqtt: command queue full, dropped a command on %s", message.topic)
            return
        self._wake.set()

    # ---- the outbox thread ----------------------------------------------------------

    def _run(self) -> None:
        next_trim = next_reasons = 0.0
        while not self._stop.is_set():
            try:
                now = self._clock.monotonic()
                if now >= next_trim:
                    self._trim()
                    next_trim = now + TRIM_EVERY_S
                if now >= next_reasons:
                    self._router.announce()
                    next_reasons = now + REASON_POLL_S
                self._handle_commands()
                self._collect_acks()
                if self._connected.is_set() and self._clock.monotonic() >= self._hold_until:
                    self._fill_window()
                self.store.outbox.flush_acks(force=False)
                self._depth = self.store.outbox.depth()
            except Exception:
                logger.exception("mqtt: outbox thread error; retrying")
                self._stop.wait(1.0)
            self.passes += 1
            self._wake.wait(0.05 if self._window else self._poll_s)
            self._wake.clear()
        self._flush_acks()

    def _flush_acks(self) -> None:
        try:
            self.store.outbox.flush_acks()
        except Exception:  # noqa: BLE001 - the rows stay queued and are sent again
            logger.exception("mqtt: acknowledged rows not deleted; they will be sent again")

    def _fill_window(self) -> None:
        if self._window.stale():
            logger.warning(
                "mqtt: %d messages unacknowledged too long; resending", len(self._window)
            )
            self._window.restart()
            self.counters.resent_windows += 1
        room = self._inflight_max - len(self._window)
        if room <= 0:
            return
        rows = self._with_current_reasons(self.store.outbox.peek(room, after=self._window.cursor))
        for row in rows:
            try:
                info = self.client.publish(row.topic, row.payload, qos=row.qos, retain=row.retain)
            except ValueError as exc:
                # a row MQTT cannot carry (bad topic, oversized) must not block the rest
                logger.error("mqtt: outbox row %d can never be sent (%s); dropped", row.seq, exc)
                self.store.outbox.ack([row.seq])
                self.counters.unsendable += 1
                self._window.skip(row)
                continue
            # paho keeps a message it could not send yet and sends it on reconnect
            self._window.add(row, info)
            self.counters.published += 1

    def _with_current_reasons(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        """`stop`/`state` rows carrying the stop's reason as it is now, not when queued."""
        ids = {
            row.seq: payload_id(row.payload)
            for row in rows
            if row.topic in (self.topics.stop, self.topics.state)
        }
        current = self.store.current_reasons(i for i in ids.values() if i is not None)
        out = []
        for row in rows:
            stop_id = ids.get(row.seq)
            if stop_id in current:
                row = replace(row, payload=with_reason(row.payload, current[stop_id]))
            out.append(row)
        return out

    def _collect_acks(self) -> None:
        found = self._window.collect()
        for flight, code in found.refused:
            self.counters.refused_messages += 1
            logger.warning(
                "mqtt: broker refused a message on %s (%s); it stays queued",
                flight.row.topic,
                code,
            )
        if found.acked:
            self.store.outbox.ack_later(flight.row.seq for flight in found.acked)
            self._window.forget(found.acked)
            self.counters.acked += len(found.acked)
            wall = self._clock.wall().timestamp()
            for flight in found.acked:
                self.counters.ack_latency_s.append(max(0.0, wall - flight.row.created))
                self._after_ack(flight.row)
        if found.refused:
            self._window.restart()
            self._hold_until = self._clock.monotonic() + REFUSED_BACKOFF_S

    def _after_ack(self, row: OutboxRow) -> None:
        if self.sparkplug is None or row.topic != self.topics.state:
            return
        try:
            state = json.loads(row.payload)
            self.sparkplug.update_device(
                {"State": state.get("state"), "Stop Reason": state.get("reason")}
            )
        except (ValueError, AttributeError):
            logger.warning("mqtt: a queued state message is not JSON")

    def _trim(self) -> None:
        dropped = self._bound.enforce()
        if dropped:
            self.counters.trimmed += dropped
            self._lost = self.store.outbox.lost()
            self._window.restart()

    # ---- commands (outbox thread) ---------------------------------------------------

    def _handle_commands(self) -> None:
        for _ in range(COMMAND_QUEUE_MAX):
            try:
                topic, payload, size = self._commands.get_nowait()
            except queue.Empty:
                return
            self._router.handle(topic, payload, size)

    def _send_now(self, message: OutboxMessage) -> None:
        self.client.publish(message.topic, message.payload, qos=message.qos)
