"""Board health: CPU temperature, throttling, disk free, memory. Read, never fatal.

On a Raspberry Pi the SoC temperature is in `/sys/class/thermal/thermal_zone0/temp`
(milli-degrees) and throttling flags come from the firmware; elsewhere the readings
are simply absent (None).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import shutil
from functools import cache
from pathlib import Path

THERMAL = Path("/sys/class/thermal")
#: The firmware's `get_throttled` bit field, exported by the Raspberry Pi kernel driver.
THROTTLED = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")


def cpu_temperature_c(thermal_root: Path = THERMAL) -> float | None:
    """The hottest thermal zone in °C, or None when the board exposes none."""
    readings = []
    for zone in sorted(thermal_root.glob("thermal_zone*/temp")):
        try:
            readings.append(int(zone.read_text().strip()) / 1000.0)
        except (OSError, ValueError):
            continue
    return max(readings) if readings else None


def throttled(path: Path = THROTTLED) -> dict[str, bool] | None:
    """Raspberry Pi throttling flags now and since boot, or None off a Pi."""
    try:
        bits = int(path.read_text().strip(), 16)
    except (OSError, ValueError):
        return None
    return {
        "under_voltage": bool(bits & 0x1),
        "freq_capped": bool(bits & 0x2),
        "throttled": bool(bits & 0x4),
        "soft_temp_limit": bool(bits & 0x8),
        "under_voltage_occurred": bool(bits & 0x10000),
        "throttling_occurred": bool(bits & 0x40000),
    }


def disk_free_bytes(path: Path) -> int | None:
    """Free bytes on the file system holding `path` (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds() -> float:
    """CPU time (user + system) this process has used."""
    times = os.times()
    return times.user + times.system


#: adjtimex(2) returns TIME_ERROR while the kernel clock is unsynchronised (STA_UNSYNC):
#: no NTP client has disciplined it since boot.
_TIME_ERROR = 5


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def clock_synchronised() -> bool | None:
    """Whether the kernel says NTP synchronised the clock (adjtimex), None if unknown."""
    libc = _libc()
    if libc is None or not hasattr(libc, "adjtimex"):
        return None
    timex = ctypes.create_string_buffer(512)  # a zeroed struct timex: modes 0 only reads
    state = int(libc.adjtimex(timex))
    if state < 0:
        return None
    return state != _TIME_ERROR


def board_health(store_path: Path) -> dict[str, object]:
    """Everything above in one dict, for the `stats` topic and the store."""
    return {
        "cpu_temp_c": cpu_temperature_c(),
        "throttled": throttled(),
        "disk_free_mb": (lambda b: None if b is None else round(b / 2**20, 1))(
            disk_free_bytes(store_path)
        ),
        "rss_peak_mb": round(peak_rss_mb(), 1),
        "clock_synchronised": clock_synchronised(),
    }
