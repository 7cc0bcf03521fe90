"""The MQTT publisher: drains the store's disk outbox to the broker, takes commands.

Delivery comes from the outbox, not from paho's memory: a message leaves the store
only once the broker acknowledged it (PUBACK), so a broker outage, a network cut, a
restart or a `kill -9` loses nothing; at worst a message is sent twice, with the same
id. One thread (`mqtt-outbox-<line>`) owns the outbox: it keeps at most `inflight_max`
messages in flight, in `seq` order, deletes each once acknowledged, carries out
commands handed over by paho's network thread, and trims the outbox when it outgrows
`[mqtt] outbox_max_rows` (the loss is counted in the store and published in `stats`).

Threads: paho's network thread runs the callbacks and never touches SQLite; the outbox
thread does; callers' threads may call `publish_oee`, `publish_stats` and `notify`.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.clock import Clock, SystemClock
from agent.config import Config
from agent.publish.commands import (
    MAX_COMMAND_BYTES,
    CommandRejected,
    ReasonCommand,
    parse_reason_command,
)
from agent.publish.connection import new_client
from agent.publish.sparkplug import STATS_METRICS, SparkplugNode, device_values
from agent.publish.topics import (
    STATUS_OFFLINE,
    STATUS_ONLINE,
    Topics,
    default_client_id,
    encode,
    known_reasons,
    oee_payload,
    payload_id,
    reason_update_messages,
    result_payload,
    stats_payload,
    with_reason,
)
from agent.store import OutboxMessage, OutboxRow, Store, StoreWriteError

logger = logging.getLogger(__name__)

#: Session kept by the broker for our `cmd/...` subscription while we are away (MQTT 5).
SESSION_EXPIRY_S = 24 * 3600
#: Commands waiting for the outbox thread, at most (more are rejected, counted).
COMMAND_QUEUE_MAX = 64
#: A message in flight this long after (re)connecting is sent again.
RESEND_AFTER_S = 30.0
#: How often the outbox size is checked against its bound.
TRIM_EVERY_S = 10.0
#: Below this much free disk the outbox sheds its older half (a counted loss).
MIN_FREE_BYTES = 64 * 1024 * 1024
#: ...but never below this many rows.
OUTBOX_FLOOR_ROWS = 1000
#: Shortest gap between two `oee` snapshots published because the OEE changed.
OEE_MIN_GAP_S = 1.0
#: Wait after the broker refused a message before sending from the outbox again.
REFUSED_BACKOFF_S = 5.0
#: How often reason assignments made outside the feed (the TUI) are looked for.
REASON_POLL_S = 1.0
#: The store's meta key: the last reason assignment the feed announced.
REASONS_ANNOUNCED_KEY = "mqtt_reasons_announced"


@dataclass
class PublisherCounters:
    """What the publisher did since it started."""

    connects: int = 0
    refused_connects: int = 0
    published: int = 0
    acked: int = 0
    resent_windows: int = 0
    refused_messages: int = 0
    unsendable: int = 0
    commands_ok: int = 0
    commands_rejected: int = 0
    trimmed: int = 0
    #: Seconds from queueing (row `created`) to PUBACK, most recent last.
    ack_latency_s: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))


@dataclass(slots=True)
class _InFlight:
    row: OutboxRow
    info: mqtt.MQTTMessageInfo
    sent: float


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
        self._free_bytes = free_bytes or self._disk_free
        self._oee_content: bytes | None = None
        self._oee_at: float | None = None
        self._reasons = known_reasons(config)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._connected_at = 0.0
        self._window: dict[int, _InFlight] = {}
        self._cursor: int | None = None
        self._refused: dict[int, Any] = {}
        self._hold_until = 0.0
        self._depth = 0
        self._lost = 0
        self._reasons_announced = 0
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
        deadline = time.monotonic() + timeout
        return self._connected.wait(timeout) and self._subscribed.wait(
            max(0.0, deadline - time.monotonic())
        )

    def start(self) -> None:
        """Connect in the background and start the outbox thread. Returns at once.

        With `[mqtt] enabled = false` it connects to nothing: events stay in the outbox.
        """
        if self._started:
            raise RuntimeError("the publisher is already started")
        self._started = True
        self._depth = self.store.outbox_depth()
        self._lost = self.store.outbox_lost()
        announced = self.store.meta_get(REASONS_ANNOUNCED_KEY)
        if not isinstance(announced, int):
            # a store older than this feature: its past assignments are not news
            announced = self.store.last_reason_seq()
            try:
                self.store.meta_set(REASONS_ANNOUNCED_KEY, announced)
            except StoreWriteError as exc:  # a full disk must not keep the feed down
                logger.warning("mqtt: cannot note the announced reasons: %s", exc)
        self._reasons_announced = announced
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
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - time.monotonic()))
            if self._thread.is_alive():
                logger.warning("mqtt: the outbox thread did not stop in time")
        if self.sparkplug is not None:
            self.sparkplug.stop(max(0.1, min(2.0, deadline - time.monotonic())))
        if self._connected.is_set():
            info = self.client.publish(self.topics.status, STATUS_OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(max(0.1, min(2.0, deadline - time.monotonic())))
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
        deadline = time.monotonic() + timeout
        self._wake.set()
        while True:
            if not self._window and self.store.outbox_depth() == 0:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._stop.wait(min(0.05, remaining))

    # ---- the non-outbox messages ----------------------------------------------------

    def publish_oee(self, shift: Mapping[str, Any]) -> bool:
        """Publish the retained `oee` snapshot (only the latest matters: not queued offline).

        Returns:
            True when it was handed to the connection.
        """
        if self.sparkplug is not None:
            self.sparkplug.update_device(device_values(shift))
        if not self._connected.is_set():
            return False
        payload = encode(oee_payload(shift, self._clock.wall()))
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
        self._connected_at = time.monotonic()
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
            self._refused[mid] = reason_code
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
                if time.monotonic() >= next_trim:
                    self._trim()
                    next_trim = time.monotonic() + TRIM_EVERY_S
                if time.monotonic() >= next_reasons:
                    self._announce_reasons()
                    next_reasons = time.monotonic() + REASON_POLL_S
                self._handle_commands()
                self._collect_acks()
                if self._connected.is_set() and time.monotonic() >= self._hold_until:
                    self._fill_window()
                self._depth = self.store.outbox_depth()
            except Exception:
                logger.exception("mqtt: outbox thread error; retrying")
                self._stop.wait(1.0)
            self._wake.wait(0.05 if self._window else self._poll_s)
            self._wake.clear()

    def _fill_window(self) -> None:
        self._check_stale()
        room = self._inflight_max - len(self._window)
        if room <= 0:
            return
        rows = self._with_current_reasons(self.store.outbox_peek(room, after=self._cursor))
        now = time.monotonic()
        for row in rows:
            try:
                info = self.client.publish(row.topic, row.payload, qos=row.qos, retain=row.retain)
            except ValueError as exc:
                # a row MQTT cannot carry (bad topic, oversized) must not block the rest
                logger.error("mqtt: outbox row %d can never be sent (%s); dropped", row.seq, exc)
                self.store.outbox_ack([row.seq])
                self.counters.unsendable += 1
                self._cursor = row.seq
                continue
            # paho keeps a message it could not send yet and sends it on reconnect
            self._window[row.seq] = _InFlight(row, info, now)
            self._cursor = row.seq
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

    def _check_stale(self) -> None:
        if not self._window:
            return
        oldest = min(w.sent for w in self._window.values())
        if time.monotonic() - max(oldest, self._connected_at) > RESEND_AFTER_S:
            logger.warning(
                "mqtt: %d messages unacknowledged too long; resending", len(self._window)
            )
            self._restart_window()
            self.counters.resent_windows += 1

    def _restart_window(self) -> None:
        """Forget what is in flight; the rows are still in the outbox and go again."""
        self._window.clear()
        self._cursor = None

    def _collect_acks(self) -> None:
        done: list[int] = []
        refused = False
        wall = self._clock.wall().timestamp()
        for seq, flight in list(self._window.items()):
            if not flight.info.is_published():
                continue
            code = self._refused.pop(flight.info.mid, None)
            if code is not None:
                refused = True
                self.counters.refused_messages += 1
                logger.warning(
                    "mqtt: broker refused a message on %s (%s); it stays queued",
                    flight.row.topic,
                    code,
                )
                continue
            done.append(seq)
            self.counters.ack_latency_s.append(max(0.0, wall - flight.row.created))
            self._after_ack(flight.row)
        mids = {flight.info.mid for flight in self._window.values()}
        for mid in [m for m in self._refused if m not in mids]:
            # a refused `status`/`oee` publish, or one from a forgotten window
            self._refused.pop(mid, None)
        if refused:
            self._restart_window()
            self._hold_until = time.monotonic() + REFUSED_BACKOFF_S
        if done:
            self.store.outbox_ack(done)
            self.counters.acked += len(done)
            for seq in done:
                self._window.pop(seq, None)

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
        """Keep the outbox within its bound; drop only when needed, and count it."""
        bound = self.config.mqtt.outbox_max_rows
        why = "its bound"
        free = self._free_bytes()
        if free is not None and free < MIN_FREE_BYTES:
            # the disk is nearly full: shed the older half rather than fail to store events
            half = max(OUTBOX_FLOOR_ROWS, self.store.outbox_depth() // 2)
            bound = half if bound is None else min(bound, half)
            why = f"the disk-full bound ({free // 1024} KiB free)"
        if bound is None:
            return
        dropped = self.store.outbox_trim(bound)
        if dropped:
            self.counters.trimmed += dropped
            self._lost = self.store.outbox_lost()
            logger.error(
                "mqtt: outbox over %s of %d rows: dropped the oldest %d (lost in total %d)",
                why,
                bound,
                dropped,
                self._lost,
            )
            self._restart_window()

    def _disk_free(self) -> int | None:
        if self.store.path == ":memory:":
            return None
        try:
            return shutil.disk_usage(Path(self.store.path).resolve().parent).free
        except OSError:
            return None

    # ---- commands (outbox thread) ---------------------------------------------------

    def _handle_commands(self) -> None:
        for _ in range(COMMAND_QUEUE_MAX):
            try:
                topic, payload, size = self._commands.get_nowait()
            except queue.Empty:
                return
            self._handle_command(topic, payload, size)

    def _handle_command(self, topic: str, payload: bytes | None, size: int) -> None:
        kind = self.topics.kind(topic)
        try:
            if kind != "cmd/reason":
                raise CommandRejected(f"unknown command topic {topic[:120]!r}")
            if payload is None:
                raise CommandRejected(f"payload of {size} bytes is over {MAX_COMMAND_BYTES}")
            command = parse_reason_command(payload, self._reasons)
            try:
                self._assign(command)
            except StoreWriteError as exc:
                raise CommandRejected(
                    f"the store refuses writes, nothing assigned ({exc})",
                    command.request_id,
                    command.stop_id,
                    command.reason,
                ) from None
        except CommandRejected as exc:
            self.counters.commands_rejected += 1
            logger.warning("mqtt: rejected command on %s: %s", topic[:120], exc)
            self._result(
                ok=False,
                error=str(exc),
                request_id=exc.request_id,
                stop_id=exc.stop_id,
                reason=exc.reason,
            )

    def _assign(self, command: ReasonCommand) -> None:
        try:
            self.store.assign_reason(command.stop_id, command.reason, source="mqtt")
        except KeyError:
            raise CommandRejected(
                f"unknown stop id {command.stop_id!r}",
                command.request_id,
                command.stop_id,
                command.reason,
            ) from None
        self.counters.commands_ok += 1
        logger.info("mqtt: stop %s assigned reason %r", command.stop_id, command.reason)
        self._announce_reasons()  # the stop with its reason goes out before the result
        self._result(
            ok=True, stop_id=command.stop_id, reason=command.reason, request_id=command.request_id
        )

    def _announce_reasons(self) -> None:
        """Announce every reason assignment not yet announced (MQTT's, the TUI's...).

        Each stop goes out again with its current reason (and the retained `state`
        while it is in progress), read and queued in one transaction so it cannot
        contradict an end the agent is writing at the same moment.
        """
        assignments = self.store.reason_assignments(self._reasons_announced)
        if not assignments:
            return
        for stop_id in dict.fromkeys(stop_id for _, stop_id in assignments):

            def build(stop_id: str = stop_id) -> list[OutboxMessage]:
                try:
                    return reason_update_messages(self.store.stop(stop_id), self.config)
                except KeyError:
                    return []

            self.store.enqueue_built(build)
        self._reasons_announced = assignments[-1][0]
        self.store.meta_set(REASONS_ANNOUNCED_KEY, self._reasons_announced)
        self._wake.set()

    def _result(
        self,
        *,
        ok: bool,
        stop_id: str | None = None,
        reason: str | None = None,
        request_id: str | None = None,
        error: str | None = None,
    ) -> None:
        payload = result_payload(
            self._clock.wall(),
            ok=ok,
            stop_id=stop_id,
            reason=reason,
            request_id=request_id,
            error=error,
        )
        result = OutboxMessage(self.topics.cmd_result, encode(payload), qos=1)
        try:
            self.store.enqueue([result])
        except StoreWriteError as exc:
            # the answer matters now, not after a restart: straight to the broker
            logger.error("mqtt: cannot queue a command result (%s); sending it directly", exc)
            self.client.publish(result.topic, result.payload, qos=1)
        self._wake.set()
