"""A small HTTP MJPEG camera on loopback: the stream format many IP cameras serve.

Tests and demos use it as a real network camera that can vanish (`stop`), come back on
the same port (a new server with `port=`), and freeze (`freeze`: the same picture over
and over), read through the same FFmpeg path as any `http://` camera source.
"""

from __future__ import annotations

import http.server
import logging
import socketserver
import threading
from collections.abc import Callable

import cv2
import numpy as np

logger = logging.getLogger(__name__)

_BOUNDARY = b"frame"


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class MjpegServer:
    """Serves `render(i)` (a BGR image for frame i) as `multipart/x-mixed-replace` JPEGs.

    Args:
        render: the picture for frame number i.
        fps: frames per second sent to each client.
        port: 0 for any free port; a previous server's port to come back on it.
        host: the address to listen on (loopback by default).
    """

    def __init__(
        self,
        render: Callable[[int], np.ndarray],
        fps: float = 20.0,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        self._render = render
        self._period = 1.0 / fps
        self._stop = threading.Event()
        self._frozen: bytes | None = None
        self._index = 0
        self._lock = threading.Lock()
        self._server = _Server((host, port), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="mjpeg-server", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The camera's URL, for `camera.source`."""
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def freeze(self) -> None:
        """Keep sending the picture of the next frame, byte for byte (a frozen camera)."""
        with self._lock:
            self._frozen = self._encode(self._render(self._index))

    def unfreeze(self) -> None:
        """Send fresh frames again."""
        with self._lock:
            self._frozen = None

    def stop(self) -> None:
        """Vanish: stop listening and drop every client (joins for at most a second)."""
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=1.0)

    def __enter__(self) -> MjpegServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_jpeg(self) -> bytes:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            index = self._index
            self._index += 1
        return self._encode(self._render(index))

    @staticmethod
    def _encode(image: np.ndarray) -> bytes:
        ok, jpeg = cv2.imencode(".jpg", image)
        if not ok:
            raise ValueError("cannot encode frame as JPEG")
        return jpeg.tobytes()

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        camera = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                logger.debug(format, *args)

            def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
                self.send_response(200)
                self.send_header(
                    "Content-Type", f"multipart/x-mixed-replace; boundary={_BOUNDARY.decode()}"
                )
                self.end_headers()
                try:
                    while not camera._stop.is_set():
                        jpeg = camera._next_jpeg()
                        self.wfile.write(
                            b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                            % (_BOUNDARY, len(jpeg))
                            + jpeg
                            + b"\r\n"
                        )
                        camera._stop.wait(camera._period)
                except OSError:
                    pass  # the client went away

        return Handler
