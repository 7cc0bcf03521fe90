"""systemd's notify protocol: READY, WATCHDOG pings and STOPPING over a datagram socket.

A few lines over `$NOTIFY_SOCKET` (see sd_notify(3)), so the agent needs no extra
package. Outside systemd (no socket in the environment) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket

logger = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages; silent when not started by systemd."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._sock: socket.socket | None = None
        if self.address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        """Whether a notify socket was given."""
        return self._sock is not None

    def watchdog_interval(self) -> float | None:
        """Half of `$WATCHDOG_USEC` in seconds: how often to ping, or None if no watchdog."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return max(0.5, int(usec) / 2e6)
        except ValueError:
            return None

    def send(self, message: str) -> bool:
        """Send one notification, e.g. `READY=1`; False when it could not be sent."""
        if self._sock is None or not self.address:
            return False
        target = self.address
        if target.startswith("@"):  # abstract socket namespace
            target = "\0" + target[1:]
        try:
            self._sock.sendto(message.encode(), target)
        except OSError as exc:
            logger.warning("sd_notify %s failed: %s", message.split("=")[0], exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        """The service finished starting."""
        return self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def ping(self) -> bool:
        """Tell the watchdog the main loop is alive."""
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """A one-line status `systemctl status` shows."""
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        """The service is shutting down."""
        return self.send("STOPPING=1")

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
