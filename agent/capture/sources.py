"""`camera.source` strings: which kind of source each is, and how each is opened.

- `"0"`: a V4L2 camera by index (`/dev/video0`);
- `"/dev/video0"`, `"/dev/v4l/by-id/usb-...-video-index0"`: a V4L2 device path;
- `"rtsp://user:pass@host/stream"` (also `rtsps`, `http`, `https`): a network stream read by
  FFmpeg with bounded open and read timeouts (RTSP through PyAV, which tells damaged
  frames; `agent.capture.rtsp`), after a cheap TCP probe, retried at most
  `NETWORK_RETRY_S` apart;
- anything containing `!`: a GStreamer pipeline ending in `appsink`, e.g. a Pi camera via
  `libcamerasrc ! video/x-raw,width=640,height=480,format=BGR ! videoconvert ! appsink`;
- anything else: a video file, played as a camera at its own frame rate.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from agent.capture import SourceError
from agent.capture.file import container_fps, open_video_file
from agent.capture.reader import Capture, Opener
from agent.capture.rtsp import RtspCapture, probe
from agent.capture.watchdog import WatchedSource
from agent.clock import Clock
from agent.config import CameraConfig

logger = logging.getLogger(__name__)

_STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
#: Longest wait between attempts on a network camera: one that is back is read again
#: within about this (each attempt starts with a TCP connect, so retrying is cheap).
NETWORK_RETRY_S = 1.0
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class SourceKind(StrEnum):
    """What a `camera.source` string names."""

    V4L2_INDEX = "v4l2_index"
    V4L2_PATH = "v4l2_path"
    STREAM = "stream"
    GSTREAMER = "gstreamer"
    FILE = "file"


def classify(source: str) -> SourceKind:
    """The kind of source a `camera.source` string names.

    Raises:
        SourceError: a URL scheme other than rtsp, rtsps, http or https.
    """
    text = source.strip()
    if "!" in text:
        return SourceKind.GSTREAMER
    if text.isdigit():
        return SourceKind.V4L2_INDEX
    if text.startswith("/dev/"):
        return SourceKind.V4L2_PATH
    match = _SCHEME.match(text)
    if match:
        if match.group(1).lower() in _STREAM_SCHEMES:
            return SourceKind.STREAM
        raise SourceError(
            f"camera.source: unsupported URL scheme {match.group(1)!r} "
            f"(use {', '.join(s + '://' for s in _STREAM_SCHEMES)})"
        )
    return SourceKind.FILE


def redact(source: str) -> str:
    """`source` with any password in a URL replaced by `***` (safe to log and publish)."""
    try:
        parts = urlsplit(source)
    except ValueError:
        return source
    if parts.password is None:
        return source
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def has_gstreamer() -> bool:
    """True when this OpenCV reads GStreamer pipelines (pip's opencv-python cannot)."""
    return bool(cv2.videoio_registry.hasBackend(cv2.CAP_GSTREAMER))


def _checked(capture: cv2.VideoCapture, what: str) -> cv2.VideoCapture:
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"cannot open {what}")
    return capture


def _request_format(capture: cv2.VideoCapture, camera: CameraConfig) -> None:
    """Ask a camera for the configured size and rate (it may pick the nearest it has)."""
    if camera.width:
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, camera.width)
    if camera.height:
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, camera.height)
    capture.set(cv2.CAP_PROP_FPS, camera.fps)
    capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale backlog


def open_v4l2(camera: CameraConfig) -> Capture:
    """Open a V4L2 camera by index or device path.

    Raises:
        SourceError: the device is missing or cannot be opened.
    """
    text = camera.source.strip()
    if text.isdigit():
        capture = _checked(cv2.VideoCapture(int(text), cv2.CAP_V4L2), f"camera {text} (V4L2)")
    else:
        if not Path(text).exists():
            raise SourceError(f"camera {text} not found (unplugged?)")
        capture = _checked(cv2.VideoCapture(text, cv2.CAP_V4L2), f"camera {text} (V4L2)")
    _request_format(capture, camera)
    return capture


def open_stream(url: str, open_timeout_s: float, read_timeout_s: float) -> Capture:
    """Open a network stream through FFmpeg, giving up after the timeouts.

    A TCP connect first names a refused connection or a silent host as such; RTSP is
    then decoded by PyAV (`RtspCapture`, which flags damaged frames), HTTP by OpenCV.

    Raises:
        SourceError: refused, no answer, no stream within `open_timeout_s`, undecodable.
    """
    shown = redact(url)
    probe(url, open_timeout_s, shown)
    if urlsplit(url).scheme.lower() in ("rtsp", "rtsps"):
        return RtspCapture(url, open_timeout_s, read_timeout_s, shown)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout_s * 1000),
    ]
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    return _checked(capture, f"stream {shown} within {open_timeout_s:g} s")


def open_gstreamer(pipeline: str) -> Capture:
    """Open a GStreamer pipeline that ends in `appsink`.

    Raises:
        SourceError: this OpenCV has no GStreamer, or the pipeline does not start.
    """
    if not has_gstreamer():
        raise SourceError(_NO_GSTREAMER)
    return _checked(cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER), f"pipeline {pipeline!r}")


_NO_GSTREAMER = (
    "camera.source is a GStreamer pipeline but this OpenCV has no GStreamer support "
    "(pip's opencv-python wheels lack it): use the system OpenCV (python3-opencv) "
    "in a venv made with --system-site-packages, or a V4L2 source"
)


def open_file(path: str) -> Capture:
    """Open a recording to play it as a camera.

    Raises:
        SourceError: OpenCV cannot open it.
    """
    return _checked(cv2.VideoCapture(path, cv2.CAP_FFMPEG), f"video file {path}")


class LoopingCapture:
    """A recording that starts again at its end (`[camera] loop`: demos, benchmarks)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._capture = self._open()

    def _open(self) -> cv2.VideoCapture:
        return _checked(cv2.VideoCapture(self.path, cv2.CAP_FFMPEG), f"video file {self.path}")

    def read(self) -> tuple[bool, np.ndarray | None]:
        """The next frame, from the start again after the last."""
        return self.retrieve() if self.grab() else (False, None)

    def grab(self) -> bool:
        """Decode the next frame (the first again after the last)."""
        if self._capture.grab():
            return True
        self._capture.release()
        self._capture = self._open()
        return bool(self._capture.grab())

    def retrieve(self) -> tuple[bool, np.ndarray | None]:
        """The grabbed frame's pixels."""
        ok, image = self._capture.retrieve()
        return bool(ok), image

    def release(self) -> None:
        """Close the file."""
        self._capture.release()


def open_source(
    camera: CameraConfig,
    clock: Clock,
    *,
    base_dir: Path | None = None,
    **options: object,
) -> WatchedSource:
    """The watched live source `camera.source` names; it opens in the background.

    A recording is played as a camera at its own frame rate, without the freeze check
    (its still scenes are real), and ends with `EndOfStream`, or starts again with
    `camera.loop`; a relative file path resolves against `base_dir` (the config file's
    folder) when given.
    `options` go to `WatchedSource` (e.g. `backoff_initial_s`, `queue_size`).

    Raises:
        SourceError: the string cannot work however long we retry (a missing or
            undecodable file, a pipeline without GStreamer, an unknown URL scheme).
    """
    source = camera.source.strip()
    kind = classify(source)
    if camera.loop and kind is not SourceKind.FILE:
        raise SourceError("camera.loop: only a video file source can be played in a loop")
    name = redact(source) if kind is not SourceKind.GSTREAMER else "gstreamer"
    logger.info("camera source %s (%s)", name, kind)
    if kind is SourceKind.FILE:
        if base_dir is not None:
            source = str(base_dir / source)  # an absolute source stays as it is
        capture, _ = open_video_file(source)  # fail now, not in a retry loop
        fps = container_fps(capture, camera.fps)
        capture.release()
        options.setdefault("pace_s", 1.0 / fps)
        options.setdefault("ends_at_eof", not camera.loop)
        options.setdefault("freeze_after_s", None)  # a still scene in a recording is real
        opener: Opener = (
            partial(LoopingCapture, source) if camera.loop else partial(open_file, source)
        )
        return WatchedSource.from_config(opener, clock, camera, name=name, **options)
    if kind is SourceKind.GSTREAMER:
        if not has_gstreamer():
            raise SourceError(_NO_GSTREAMER)
        opener = partial(open_gstreamer, source)
    elif kind is SourceKind.STREAM:
        opener = partial(open_stream, source, camera.open_timeout_s, camera.read_timeout_s)
        options.setdefault("backoff_max_s", min(camera.reopen_backoff_max_s, NETWORK_RETRY_S))
    else:
        opener = partial(open_v4l2, camera)
    return WatchedSource.from_config(opener, clock, camera, name=name, **options)
