"""Network streams: a cheap TCP probe first, and RTSP decoded by PyAV so damage is seen.

Over RTP a lost packet is a lost slice of a frame; FFmpeg's H.264 decoder then conceals
the missing macroblocks and hands the frame out as if it were whole. OpenCV's reader
says nothing about that; PyAV tells which frames the decoder had to conceal
(`is_corrupt`). A concealed frame is damaged. A concealed key frame (grey areas: it has
no earlier picture to borrow from) and a packet the decoder rejected also damage every
frame after them until the next key frame, since predicted frames copy those areas
forward; a concealed predicted frame borrowed its missing areas from the previous
picture, so the next frames are near enough. Damaged frames are never analysed
(`RtspCapture.damaged`), so no part is counted from one.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from urllib.parse import urlsplit

import numpy as np

from agent.capture import SourceError

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
#: RTP over TCP when the camera offers it (no lost packets); a short stream probe (the
#: SDP already says what the stream is): opening takes ~0.1 s here instead of ~1.5 s.
_OPTIONS = {"rtsp_flags": "prefer_tcp", "analyzeduration": "200000", "probesize": "32768"}


def probe(url: str, timeout_s: float, shown: str) -> None:
    """Connect to the stream's host and port and hang up: says cheaply why it is away.

    Args:
        url: the stream's URL.
        timeout_s: how long to wait for the connection.
        shown: the URL as it may be logged (password redacted).

    Raises:
        SourceError: refused (nothing listens), no answer within `timeout_s`, an unknown
            host, or another network error, each named as what it is.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 554)
    where = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except ConnectionRefusedError:
        raise SourceError(f"stream {shown}: connection refused by {where}") from None
    except TimeoutError:
        raise SourceError(
            f"stream {shown}: no answer from {where} within {timeout_s:g} s"
        ) from None
    except socket.gaierror as exc:
        raise SourceError(f"stream {shown}: cannot resolve {host!r} ({exc.strerror})") from None
    except OSError as exc:
        what = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        raise SourceError(f"stream {shown}: {what} ({where})") from None


class RtspCapture:
    """An RTSP stream decoded by PyAV (single-threaded, so damage flags are exact).

    Has the `Capture` shape (`read`, `grab`, `retrieve`, `release`) plus what the
    reader thread reports: `damaged` (the last grabbed frame must not be analysed) and
    `decode_errors` (packets the decoder rejected).

    Raises:
        SourceError: the stream cannot be opened (with FFmpeg's reason).
    """

    def __init__(self, url: str, open_timeout_s: float, read_timeout_s: float, shown: str):
        import av  # imported here: only network cameras need it

        self._av = av
        started = time.monotonic()
        try:
            self._container = av.open(
                url,
                options=_OPTIONS,
                timeout=(open_timeout_s, read_timeout_s),
            )
        except av.error.FFmpegError as exc:
            if time.monotonic() - started >= open_timeout_s:  # FFmpeg gave up waiting
                raise SourceError(
                    f"stream {shown}: connected, but no RTSP answer within {open_timeout_s:g} s"
                ) from None
            raise SourceError(f"cannot open stream {shown}: {exc.strerror or exc}") from None
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"stream {shown} has no video")
        self._stream = self._container.streams.video[0]
        # frame threads hand frames out before error concealment has flagged them
        self._stream.codec_context.thread_count = 1
        self._packets = self._container.demux(self._stream)
        self._pending: list[object] = []
        self._frame: object | None = None
        self._tainted = False  # a damaged frame since the last key frame
        self.damaged = False
        self.decode_errors = 0

    def grab(self) -> bool:
        """Decode the next frame; False when the stream ended or broke."""
        while not self._pending:
            try:
                packet = next(self._packets)
            except (StopIteration, self._av.error.FFmpegError):
                return False
            try:
                self._pending = list(packet.decode())
            except self._av.error.FFmpegError as exc:
                self.decode_errors += 1
                self._tainted = True  # the frames after it refer to a frame we lack
                if self.decode_errors == 1 or self.decode_errors % 100 == 0:
                    logger.warning("decode error (%d so far): %s", self.decode_errors, exc)
        frame = self._pending.pop(0)
        key, concealed = frame.key_frame, frame.is_corrupt  # type: ignore[attr-defined]
        if key:
            self._tainted = concealed
        self.damaged = self._tainted or concealed
        self._frame = frame
        return True

    def retrieve(self) -> tuple[bool, np.ndarray | None]:
        """The grabbed frame as BGR pixels."""
        if self._frame is None:
            return False, None
        return True, self._frame.to_ndarray(format="bgr24")  # type: ignore[attr-defined]

    def read(self) -> tuple[bool, np.ndarray | None]:
        """The next frame's pixels (check `damaged` before using them)."""
        return self.retrieve() if self.grab() else (False, None)

    def release(self) -> None:
        """Close the connection."""
        self._container.close()
