"""Fixtures every test may use: a real mosquitto broker on a free loopback port.

`mosquitto` is session-scoped: one broker for the whole run. It persists sessions and
retained messages to a temporary folder, so a test can `stop()` it (SIGTERM: mosquitto
saves its state) and `start()` it again on the same port with queued messages intact.
A test that stops the broker must start it again before it ends (a `finally`).
Use topics of your own (e.g. a unique line id) so tests do not see each other's
retained messages.
"""

from __future__ import annotations

import getpass
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.sim.line import GroundTruth
from agent.toml_text import dumps

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    """A TCP port nothing listens on right now (loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Broker:
    """A mosquitto process the tests control."""

    folder: Path
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    #: more mosquitto.conf lines (e.g. `allow_anonymous false`, a password_file)
    extra_config: list[str] = field(default_factory=list)

    @property
    def config_file(self) -> Path:
        return self.folder / "mosquitto.conf"

    @property
    def log_file(self) -> Path:
        return self.folder / "mosquitto.log"

    def write_config(self) -> None:
        self.config_file.write_text(
            "\n".join(
                [
                    f"listener {self.port} {self.host}",
                    *(self.extra_config or ["allow_anonymous true"]),
                    "persistence true",
                    f"persistence_location {self.folder}/",
                    "autosave_interval 1",
                    # tests queue thousands of messages for offline persistent sessions
                    "max_queued_messages 100000",
                    f"log_dest file {self.log_file}",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    # started as root, mosquitto would drop to user `mosquitto`
                    f"user {getpass.getuser()}",
                    "",
                ]
            )
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start mosquitto on `port` and wait until it accepts connections."""
        if self.running:
            return
        self.write_config()
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_file.read_text() if self.log_file.exists() else ""
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop mosquitto cleanly (it saves sessions and retained messages)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass; returns its last answer.

    Tests wait for a condition, never for a fixed time.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(0.02)
    return True


def killed_writer_output(
    writer: Callable[[int], object], delay: float, after: str | None = None
) -> str:
    """Run `writer(fd)` in a forked child, SIGKILL it `delay` s later; what it wrote to fd.

    For crash tests: the child writes a line per step it took, the parent reads them
    after the kill to learn what the child believed done. The delay counts from the
    fork, or with `after` from the moment the child first wrote that text (e.g. its
    first commit): on a loaded machine the child's start may take longer than `delay`.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        try:
            writer(write_fd)
        finally:
            os._exit(1)
    os.close(write_fd)
    data = b""
    if after is not None:
        marker, deadline = after.encode(), time.monotonic() + 60
        while marker not in data and time.monotonic() < deadline:
            if select.select([read_fd], [], [], 0.1)[0]:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break  # the child ended
                data += chunk
    time.sleep(delay)  # the moment of the crash, not a wait for a condition
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    while chunk := os.read(read_fd, 65536):
        data += chunk
    os.close(read_fd)
    return data.decode()


def taught_line_config(path: Path, footage: GroundTruth, model_dir: Path) -> Path:
    """A line file for `footage` whose model lives in `model_dir` (teach writes it)."""
    return write_line_config(
        path,
        footage,
        line_id="sim",
        line={"ideal_cycle_s": 0.5},
        inspection={"model_dir": str(model_dir)},
    )


def line_config_dict(
    footage: GroundTruth | None = None, *, line_id: str = "test-line", **sections: Any
) -> dict[str, Any]:
    """A line configuration as parsed TOML: the footage's camera and vision (if given),
    then `sections` merged over it (a mapping updates its table, a list replaces it:
    `reason=[{...}]` is `[[reason]]`)."""
    data = footage.config(line_id=line_id) if footage else {"line": {"id": line_id}}
    data["line"].setdefault("ideal_cycle_s", 0.8)
    for name, body in sections.items():
        if isinstance(body, dict):
            data.setdefault(name, {}).update(body)
        else:
            data[name] = list(body)
    return data


def write_line_config(
    path: Path, footage: GroundTruth | None = None, *, line_id: str = "test-line", **sections: Any
) -> Path:
    """`line_config_dict(...)` written to `path` as a line file; returns `path`."""
    path.write_text(dumps(line_config_dict(footage, line_id=line_id, **sections)), encoding="utf-8")
    return path


@pytest.fixture
def line_config_file(tmp_path: Path) -> Callable[..., Path]:
    """`line_config_file(footage=None, *, line_id=..., **sections)` -> tmp_path/line.toml."""

    def write(footage: GroundTruth | None = None, **kwargs: Any) -> Path:
        return write_line_config(tmp_path / "line.toml", footage, **kwargs)

    return write


async def pilot_until(pilot: Any, predicate: Callable[[], object], timeout: float = 15.0) -> bool:
    """`wait_until` inside a Textual `run_test`: lets the app run while polling."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return bool(predicate())
        await pilot.pause(0.05)
    return True


async def settle(pilot: Any) -> None:
    """Inside `run_test`: until every worker is done and the screen caught up."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def eventually() -> Callable[..., bool]:
    """`eventually(predicate, timeout=10.0)`: `wait_until` for tests that take fixtures."""
    return wait_until


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A running mosquitto (host, port, stop(), start()) for the whole test session."""
    broker = Broker(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def make_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Broker]]:
    """`make_broker(extra_config=[...])` -> another started mosquitto, stopped after the test."""
    made: list[Broker] = []

    def make(extra_config: list[str] | None = None) -> Broker:
        broker = Broker(tmp_path_factory.mktemp("mosquitto-extra"), extra_config=extra_config or [])
        made.append(broker)
        broker.start()
        return broker

    yield make
    for broker in made:
        broker.stop()


@pytest.fixture
def broker(mosquitto: Broker) -> Iterator[Broker]:
    """The session broker, started again after a test that stopped it."""
    mosquitto.start()
    yield mosquitto
    mosquitto.start()


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool
    qos: int


class Subscriber:
    """A real MQTT client that records what it receives (QoS 1 by default).

    `persistent=True` keeps a session on the broker (clean_session False), so it also
    receives what was published while it was disconnected.
    """

    def __init__(
        self,
        broker: Broker,
        topics: list[str],
        *,
        client_id: str | None = None,
        persistent: bool = False,
        qos: int = 1,
    ) -> None:
        self.broker = broker
        self.topics = topics
        self.qos = qos
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or "",
            clean_session=not persistent,
        )
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._subscribed.set()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.subscribe([(t, self.qos) for t in self.topics])

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(
                Received(message.topic, bytes(message.payload), bool(message.retain), message.qos)
            )

    def start(self, timeout: float = 10.0) -> Subscriber:
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            raise TimeoutError("subscriber did not subscribe")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def on(self, suffix: str) -> list[Received]:
        return [m for m in self.snapshot() if m.topic.endswith(suffix)]

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.snapshot()):
                return True
            time.sleep(0.05)
        return predicate(self.snapshot())


@pytest.fixture
def subscribe(mosquitto: Broker) -> Iterator[Callable[..., Subscriber]]:
    """`subscribe(["oee/#"], persistent=False)` -> a started Subscriber, stopped after."""
    started: list[Subscriber] = []

    def make(topics: list[str], **kwargs: object) -> Subscriber:
        subscriber = Subscriber(mosquitto, topics, **kwargs).start()  # type: ignore[arg-type]
        started.append(subscriber)
        return subscriber

    yield make
    for subscriber in started:
        subscriber.stop()


# ---- a real RTSP camera (GStreamer's RTSP server, run by the system python3) --------------

RTSP_SERVER = Path(__file__).parent / "rtsp_server.py"


@dataclass
class RtspCamera:
    """tests/rtsp_server.py in a subprocess: H.264 over RTSP on a loopback port.

    It streams `frames` (a folder of 00000.jpg, ...) in a loop at `fps`. `stop()` and
    `start()` again keep the port (a camera rebooting); `stall()`/`resume()` freeze the
    process (SIGSTOP: connected, but nothing comes); `drop(n)` loses every n-th packet.
    """

    frames: Path
    fps: int = 20
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/line"

    def start(self, timeout: float = 20.0) -> RtspCamera:
        command = ["/usr/bin/python3", str(RTSP_SERVER), "--port", str(self.port)]
        command += ["--frames", str(self.frames), "--fps", str(self.fps)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        stdout = self.process.stdout
        assert stdout is not None
        ready = threading.Event()  # set once it prints `ready` (it listens then)
        threading.Thread(
            target=lambda: ready.set() if stdout.readline() else None, daemon=True
        ).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("the RTSP server did not start")
        return self

    def command(self, line: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def drop(self, every: int) -> None:
        self.command(f"drop {every}")

    def stall(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.kill()
        self.process.wait(10)
        self.process = None


@pytest.fixture
def rtsp_camera() -> Iterator[Callable[..., RtspCamera]]:
    """`rtsp_camera(frames_dir, fps=20)`: a started `RtspCamera`, stopped after the test."""
    if (
        not Path("/usr/bin/python3").exists()
        or subprocess.run(
            ["/usr/bin/python3", "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
            capture_output=True,
        ).returncode
    ):
        pytest.fail("GStreamer's RTSP server is missing: run `make broker` (installs DEBS)")
    made: list[RtspCamera] = []

    def make(frames: Path, fps: int = 20) -> RtspCamera:
        made.append(RtspCamera(frames, fps).start())
        return made[-1]

    yield make
    for camera in made:
        camera.stop()
