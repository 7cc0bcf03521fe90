"""Sparkplug B edge node: the line as a node and a device on `spBv1.0/{site}/...`.

Mapping (docs/mqtt.md): group id = `[line] site`, edge node id = `[line] id` (one
agent is one edge node, so the id must be unique in the site, which line ids are), and
the line's counters are the device `line` under it::

    spBv1.0/plant-a/NBIRTH/press-3          node birth: bdSeq, Node Control/Rebirth, outbox
    spBv1.0/plant-a/DBIRTH/press-3/line     device birth: OEE, A, P, Q, state, counts
    spBv1.0/plant-a/NDATA/press-3           health: outbox depth and losses, fps, ...
    spBv1.0/plant-a/DDATA/press-3/line      changed device metrics
    spBv1.0/plant-a/NDEATH/press-3          the Will of the node's MQTT session
    spBv1.0/plant-a/NCMD/press-3            subscribed: `Node Control/Rebirth`
    spBv1.0/STATE/scada-1                   subscribed with `[mqtt] sparkplug_host_id`

The node has its own MQTT connection (a session has one Will: the JSON feed's is
`status`, this one's is NDEATH). `bdSeq` (0-255) goes up by one for every CONNECT and
is kept in the store's meta, so it keeps rising across restarts; the NBIRTH carries
the same bdSeq as the Will registered with that CONNECT. `seq` runs 0-255 over
NBIRTH, DBIRTH, NDATA and DDATA, and wraps.

Primary host application (Sparkplug 3.0): with `[mqtt] sparkplug_host_id` the node
subscribes to the host's retained `STATE` (`{"online": bool, "timestamp": ms}`) and
publishes NBIRTH only once the host says it is online. When the host goes offline the
node publishes its NDEATH and starts a new MQTT session (the next bdSeq), then waits
for the host again. A STATE older than the newest one seen (a stale retained copy)
is ignored.

Payloads are encoded with the protobuf runtime from the specification's schema
(`sparkplug_b.proto`, compiled to `sparkplug_b_pb2.py`).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.clock import Clock, SystemClock
from agent.config import Config
from agent.publish.connection import new_client
from agent.publish.topics import default_client_id

# protoc's module, imported by name: generated code is neither linted nor type-checked
pb: Any = importlib.import_module("agent.publish.sparkplug_b_pb2")

logger = logging.getLogger(__name__)

NAMESPACE = "spBv1.0"
DEVICE_ID = "line"
BDSEQ_KEY = "sparkplug.bdseq"
REBIRTH = "Node Control/Rebirth"

#: metric name -> Sparkplug data type of the device's metrics.
DEVICE_METRICS: dict[str, int] = {
    "OEE": pb.Double,
    "Availability": pb.Double,
    "Performance": pb.Double,
    "Quality": pb.Double,
    "State": pb.String,
    "Stop Reason": pb.String,
    "Shift": pb.String,
    "Count/Total": pb.UInt64,
    "Count/Good": pb.UInt64,
    "Count/Reject": pb.UInt64,
}
#: metric name -> data type of the node's own metrics (besides bdSeq and Rebirth).
NODE_METRICS: dict[str, int] = {
    "Outbox/Depth": pb.UInt64,
    "Outbox/Dropped": pb.UInt64,
    "Stats/FPS": pb.Double,
    "Stats/Inference ms": pb.Double,
    "Stats/CPU Temperature": pb.Double,
    "Line/Area": pb.String,
}
#: `stats` reading -> node metric.
STATS_METRICS = {
    "fps": "Stats/FPS",
    "inference_ms": "Stats/Inference ms",
    "cpu_temp_c": "Stats/CPU Temperature",
}


@dataclass(frozen=True, slots=True)
class SparkplugTopics:
    """Topics of one edge node and its device."""

    group: str
    node: str
    device: str = DEVICE_ID

    @classmethod
    def for_config(cls, config: Config) -> SparkplugTopics:
        """Group = site, edge node = line id, device = `line`."""
        return cls(config.line.site, config.line.id)

    def node_topic(self, kind: str) -> str:
        """`NBIRTH`, `NDATA`, `NDEATH`, `NCMD` topics."""
        return f"{NAMESPACE}/{self.group}/{kind}/{self.node}"

    def device_topic(self, kind: str) -> str:
        """`DBIRTH`, `DDATA`, `DDEATH`, `DCMD` topics."""
        return f"{NAMESPACE}/{self.group}/{kind}/{self.node}/{self.device}"


def parse_host_state(payload: bytes) -> tuple[bool, int] | None:
    """A primary host's STATE payload `{"online": bool, "timestamp": ms}`, else None."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    online, ts = data.get("online"), data.get("timestamp")
    if not isinstance(online, bool) or isinstance(ts, bool) or not isinstance(ts, int):
        return None
    return online, ts


def next_seq(seq: int) -> int:
    """The Sparkplug sequence number after `seq` (0-255, wrapping)."""
    return (seq + 1) % 256


def _set_value(metric: Any, datatype: int, value: Any) -> None:
    metric.datatype = datatype
    if value is None:
        metric.is_null = True
    elif datatype in (pb.Double,):
        metric.double_value = float(value)
    elif datatype in (pb.Int64, pb.UInt64):
        metric.long_value = int(value) & 0xFFFFFFFFFFFFFFFF
    elif datatype == pb.Boolean:
        metric.boolean_value = bool(value)
    else:
        metric.string_value = str(value)


def encode_payload(
    ts_ms: int,
    metrics: Mapping[str, tuple[int, Any]],
    seq: int | None,
) -> bytes:
    """A Sparkplug B payload: `metrics` maps a name to (data type, value or None)."""
    payload = pb.Payload()
    payload.timestamp = ts_ms
    for name, (datatype, value) in metrics.items():
        metric = payload.metrics.add()
        metric.name = name
        metric.timestamp = ts_ms
        _set_value(metric, datatype, value)
    if seq is not None:
        payload.seq = seq
    return payload.SerializeToString()


def death_payload(bdseq: int, ts_ms: int) -> bytes:
    """NDEATH: only the bdSeq metric, no seq."""
    return encode_payload(ts_ms, {"bdSeq": (pb.Int64, bdseq)}, seq=None)


def metric_values(payload: bytes) -> dict[str, Any]:
    """Decode a payload's metrics to {name: value} (None for null metrics)."""
    message = pb.Payload.FromString(payload)
    out: dict[str, Any] = {}
    for metric in message.metrics:
        if metric.is_null:
            out[metric.name] = None
        else:
            kind = metric.WhichOneof("value")
            out[metric.name] = getattr(metric, kind) if kind else None
    return out


def is_rebirth_request(payload: bytes) -> bool:
    """Whether an NCMD payload asks for `Node Control/Rebirth` = true."""
    try:
        message = pb.Payload.FromString(payload)
    except Exception:  # noqa: BLE001 - any undecodable payload is simply not a rebirth
        return False
    return any(m.name == REBIRTH and m.boolean_value for m in message.metrics)


def device_values(oee: Mapping[str, Any]) -> dict[str, Any]:
    """Device metric values from one shift object of the OEE output."""
    total = oee.get("total")
    good = oee.get("good")
    reject = total - good if isinstance(total, int) and isinstance(good, int) else None
    return {
        "OEE": oee.get("oee"),
        "Availability": oee.get("availability"),
        "Performance": oee.get("performance"),
        "Quality": oee.get("quality"),
        "Shift": oee.get("shift"),
        "Count/Total": total,
        "Count/Good": good,
        "Count/Reject": reject,
    }


class SparkplugNode:
    """A Sparkplug B edge node with its own MQTT session (Will = NDEATH).

    `bdseq_store` is anything with `meta_get(key, default)` / `meta_set(key, value)`
    (the line's `Store`). Values come in through `update_device` and `update_node`;
    each call publishes the metrics that changed (DDATA / NDATA) when online.
    """

    def __init__(
        self,
        config: Config,
        bdseq_store: Any,
        *,
        clock: Clock | None = None,
        client_id: str | None = None,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 30,
    ) -> None:
        self.config = config
        self.topics = SparkplugTopics.for_config(config)
        self._meta = bdseq_store
        self._clock = clock or SystemClock()
        self._lock = threading.RLock()
        self._online = threading.Event()
        self._seq = 0
        self._stopping = False
        self.bdseq = -1
        self.births = 0
        self.host_states = 0  # the primary host's STATE messages read (stale, malformed too)
        self._device: dict[str, Any] = dict.fromkeys(DEVICE_METRICS)
        self._node: dict[str, Any] = {"Outbox/Depth": 0, "Outbox/Dropped": 0}
        self._node["Line/Area"] = config.line.area
        self.client = new_client(
            config.mqtt,
            client_id or default_client_id(config) + "-spb",
            base_dir=config.base_dir,
            persistent=False,
            reconnect_min_s=reconnect_min_s,
            reconnect_max_s=reconnect_max_s,
        )
        self._v5 = config.mqtt.protocol == "5"
        host = config.mqtt.sparkplug_host_id
        self._host_topic = f"{NAMESPACE}/STATE/{host}" if host else None
        self._host_ts = -1  # the newest STATE timestamp seen
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    @property
    def online(self) -> bool:
        """Connected and born."""
        return self._online.is_set()

    def _ts_ms(self) -> int:
        return int(self._clock.wall().timestamp() * 1000)

    def _arm_will(self) -> None:
        """Take the next bdSeq (persisted first) and register its NDEATH as the Will."""
        last = self._meta.meta_get(BDSEQ_KEY, -1)
        self.bdseq = (int(last) + 1) % 256 if isinstance(last, int) else 0
        self._meta.meta_set(BDSEQ_KEY, self.bdseq)
        self.client.will_set(
            self.topics.node_topic("NDEATH"),
            death_payload(self.bdseq, self._ts_ms()),
            qos=1,
            retain=False,
        )

    def start(self) -> None:
        """Connect in the background (reconnects with backoff)."""
        self._arm_will()
        mq = self.config.mqtt
        self.client.connect_async(mq.host, mq.port, mq.keepalive_s, **self._connect_kwargs())
        self.client.loop_start()

    def _connect_kwargs(self) -> dict[str, Any]:
        if not self._v5:
            return {}
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        return {"clean_start": True, "properties": props}

    def stop(self, timeout: float = 3.0) -> None:
        """Publish NDEATH (a clean disconnect sends no Will) and disconnect."""
        self._stopping = True
        if self._online.is_set():
            info = self.client.publish(
                self.topics.node_topic("NDEATH"), death_payload(self.bdseq, self._ts_ms()), qos=1
            )
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                logger.warning("sparkplug: NDEATH not acknowledged before disconnect")
        self._online.clear()
        self.client.disconnect()
        self.client.loop_stop()

    # ---- callbacks (paho's network thread) -----------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if reason_code.is_failure:
            logger.error(
                "sparkplug: broker %s:%d refused the connection: %s",
                self.config.mqtt.host,
                self.config.mqtt.port,
                reason_code,
            )
            return
        client.subscribe(self.topics.node_topic("NCMD"), qos=1)
        if self._host_topic is None:
            self.rebirth()
        else:  # born once the primary host says it is online
            client.subscribe(self._host_topic, qos=1)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        was_online = self._online.is_set()
        self._online.clear()
        if was_online:
            logger.warning("sparkplug: disconnected (%s); will rebirth on reconnect", reason_code)
        if self._stopping:
            return
        try:
            self._arm_will()  # the next CONNECT carries the next bdSeq
        except Exception:
            logger.exception("sparkplug: could not persist the next bdSeq")

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._host_topic:
            self._host_state(bytes(message.payload))
            return
        ncmd = message.topic == self.topics.node_topic("NCMD")
        if ncmd and is_rebirth_request(bytes(message.payload)):
            logger.info("sparkplug: rebirth requested")
            self.rebirth()

    def _host_state(self, payload: bytes) -> None:
        """The primary host's STATE: birth when it comes online, die when it leaves."""
        self.host_states += 1
        state = parse_host_state(payload)
        if state is None:
            logger.warning("sparkplug: ignored a STATE that is not {online, timestamp}")
            return
        online, ts = state
        if ts < self._host_ts:
            return  # older than one already seen (a stale retained copy)
        self._host_ts = ts
        if online and not self._online.is_set():
            logger.info("sparkplug: primary host online; birth")
            self.rebirth()
        elif not online and self._online.is_set():
            logger.info("sparkplug: primary host offline; NDEATH and a new session")
            threading.Thread(target=self._new_session, name="sparkplug-session").start()

    def _new_session(self) -> None:
        """NDEATH, disconnect, and connect again with the next bdSeq (off paho's thread)."""
        with self._lock:
            self._online.clear()
            info = self.client.publish(
                self.topics.node_topic("NDEATH"), death_payload(self.bdseq, self._ts_ms()), qos=1
            )
        try:
            info.wait_for_publish(3.0)
        except (RuntimeError, ValueError):
            logger.warning("sparkplug: NDEATH not acknowledged before the new session")
        self.client.disconnect()  # _on_disconnect arms the next bdSeq's Will
        self.client.loop_stop()
        if self._stopping:
            return
        mq = self.config.mqtt
        self.client.connect_async(mq.host, mq.port, mq.keepalive_s, **self._connect_kwargs())
        self.client.loop_start()

    # ---- publishing ----------------------------------------------------------------

    def _next(self) -> int:
        seq = self._seq
        self._seq = next_seq(seq)
        return seq

    def rebirth(self) -> None:
        """Publish NBIRTH (seq 0, this session's bdSeq) and DBIRTH with every metric."""
        with self._lock:
            ts = self._ts_ms()
            self._seq = 0
            node: dict[str, tuple[int, Any]] = {
                "bdSeq": (pb.Int64, self.bdseq),
                REBIRTH: (pb.Boolean, False),
            }
            node.update({k: (t, self._node.get(k)) for k, t in NODE_METRICS.items()})
            self.client.publish(
                self.topics.node_topic("NBIRTH"), encode_payload(ts, node, self._next()), qos=0
            )
            device = {k: (t, self._device.get(k)) for k, t in DEVICE_METRICS.items()}
            self.client.publish(
                self.topics.device_topic("DBIRTH"), encode_payload(ts, device, self._next()), qos=0
            )
            self.births += 1
            self._online.set()

    def update_device(self, values: Mapping[str, Any]) -> int:
        """New device metric values; publishes DDATA with those that changed.

        Returns the number of metrics sent (0 when nothing changed or offline).
        """
        return self._update(self._device, DEVICE_METRICS, values, "DDATA")

    def update_node(self, values: Mapping[str, Any]) -> int:
        """New node metric values (outbox depth/losses); publishes NDATA when changed."""
        return self._update(self._node, NODE_METRICS, values, "NDATA")

    def _update(
        self,
        current: dict[str, Any],
        types: Mapping[str, int],
        values: Mapping[str, Any],
        kind: str,
    ) -> int:
        with self._lock:
            changed = {
                k: (types[k], v) for k, v in values.items() if k in types and current.get(k) != v
            }
            current.update({k: v for k, (_, v) in changed.items()})
            if not changed or not self._online.is_set():
                return 0
            topic = (
                self.topics.device_topic(kind)
                if kind.startswith("D")
                else self.topics.node_topic(kind)
            )
            self.client.publish(topic, encode_payload(self._ts_ms(), changed, self._next()), qos=0)
            return len(changed)
