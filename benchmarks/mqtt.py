"""MQTT feed benchmark: acknowledged events/s through the disk outbox, and latency.

Starts its own mosquitto on a free loopback port and a real SQLite store in a temporary
folder, then measures, in one run:

1. throughput: N part events queued at once, time until the broker acknowledged all of
   them (PUBACK), for several in-flight windows; beside it, paho publishing the same
   payloads at QoS 1 straight from memory (no store), as a baseline;
2. latency: events appended one by one at a steady rate (as the pipeline does), time
   from the append (the row's `created`) to the broker's PUBACK, p50/p99;
3. peak RSS of the process.

    .venv/bin/python benchmarks/mqtt.py [--events 20000] [--rate 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import getpass
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import parse_config
from agent.events import PartEvent, new_id
from agent.publish import MqttPublisher, messages_for
from agent.store import Store

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)


def start_broker(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
        f"log_dest none\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = subprocess.Popen([binary, "-c", str(conf)])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


def config_for(port: int, line: str):
    return parse_config(
        {
            "line": {"id": line, "site": "bench", "area": "a", "ideal_cycle_s": 1.0},
            "mqtt": {"host": "127.0.0.1", "port": port},
        }
    )


def throughput(folder: Path, port: int, count: int, inflight: int) -> float:
    config = config_for(port, f"tp{inflight}")
    store = Store.open(folder / f"tp{inflight}.db")
    events = [PartEvent(T0 + timedelta(seconds=i), id=new_id()) for i in range(count)]
    store.append_many([(e, messages_for(e, config)) for e in events])
    publisher = MqttPublisher(config, store, inflight_max=inflight)
    start = time.perf_counter()
    publisher.start()
    if not publisher.drain(600):
        raise SystemExit("outbox did not drain")
    elapsed = time.perf_counter() - start
    publisher.stop()
    store.close()
    return count / elapsed


def paho_ceiling(port: int, count: int) -> float:
    config = config_for(port, "ceiling")
    payloads = [messages_for(PartEvent(T0, id=new_id()), config)[0] for _ in range(count)]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-ceiling")
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.perf_counter()
    infos = [client.publish(m.topic, m.payload, qos=1) for m in payloads]
    for info in infos:
        info.wait_for_publish(60)
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return count / elapsed


def latency(folder: Path, port: int, rate: float, seconds: float) -> list[float]:
    config = config_for(port, "latency")
    store = Store.open(folder / "latency.db")
    publisher = MqttPublisher(config, store)
    publisher.start()
    deadline = time.monotonic() + 10
    while not publisher.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    period = 1.0 / rate
    next_at = time.monotonic()
    end = next_at + seconds
    n = 0
    while next_at < end:
        time.sleep(max(0.0, next_at - time.monotonic()))
        event = PartEvent(T0 + timedelta(seconds=n), id=new_id())
        store.append(event, messages_for(event, config))
        publisher.notify()
        n += 1
        next_at += period
    publisher.drain(30)
    samples = list(publisher.counters.ack_latency_s)
    publisher.stop()
    store.close()
    return samples


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=200.0, help="events/s for the latency run")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        broker, port = start_broker(folder)
        try:
            ceiling = paho_ceiling(port, args.events)
            print(f"paho alone, QoS 1 from memory (no store): {ceiling:8.0f} msg/s")
            for inflight in (1, 20, 100):
                rate = throughput(folder, port, args.events, inflight)
                print(
                    f"outbox, {inflight:3d} in flight: {rate:8.0f} acknowledged events/s "
                    f"(x{rate / ceiling:.2f} paho alone)"
                )
            samples = latency(folder, port, args.rate, args.seconds)
            ms = [s * 1000 for s in samples]
            print(
                f"latency append -> PUBACK at {args.rate:.0f} events/s over {len(ms)} events: "
                f"p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
                f"max {max(ms):.1f} ms"
            )
        finally:
            broker.terminate()
            broker.wait(10)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
