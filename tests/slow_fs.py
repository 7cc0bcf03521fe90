"""A slow disk for tests: a pass-through FUSE file system whose `fsync` takes a while.

    python3 tests/slow_fs.py BACKING MOUNTPOINT [--fsync-ms 200] [--hold FILE]

Every call goes to the real files under BACKING (so SQLite runs on a real file system,
with its real locks and its real shared-memory file); only `fsync` and `fsyncdir` sleep
first, as a worn SD card or a busy USB stick does when it has to flush, and while the
file `--hold` exists (outside the mount) they wait for it to go: a stalled disk. It
serves in the foreground until unmounted (`fusermount -u MOUNTPOINT`) or killed.

Run by the system python3 with Debian's `python3-fusepy` (`make broker` installs it),
not from the project's venv: fusepy has no wheel, and the arm64 check installs the
test extras from wheels only.
"""

from __future__ import annotations

import argparse
import errno
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    from fusepy import FUSE, FuseOSError, Operations  # type: ignore[import-not-found]
except ImportError:  # imported by the venv's python for `mounted` only
    FUSE = FuseOSError = None
    Operations = object

#: The interpreter that has fusepy (Debian's python3-fusepy).
SYSTEM_PYTHON = "/usr/bin/python3"


class SlowSync(Operations):  # type: ignore[misc]
    """Every operation on the files under `root`; syncs wait `delay_s` first."""

    def __init__(self, root: str, delay_s: float, hold: str | None = None) -> None:
        self.root = os.path.realpath(root)
        self.delay_s = delay_s
        self.hold = hold
        self.syncs = 0
        self._lock = threading.Lock()

    def _real(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def _sleep(self) -> None:
        with self._lock:
            self.syncs += 1
        time.sleep(self.delay_s)
        while self.hold is not None and os.path.exists(self.hold):
            time.sleep(0.02)

    # ---- names ----------------------------------------------------------------------

    def access(self, path: str, amode: int) -> None:
        if not os.access(self._real(path), amode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        st = os.lstat(self._real(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size")
        times = ("st_atime", "st_mtime", "st_ctime")
        return {k: getattr(st, k) for k in keys + times}

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *os.listdir(self._real(path))]

    def mkdir(self, path: str, mode: int) -> None:
        os.mkdir(self._real(path), mode)

    def rmdir(self, path: str) -> None:
        os.rmdir(self._real(path))

    def unlink(self, path: str) -> None:
        os.unlink(self._real(path))

    def rename(self, old: str, new: str) -> None:
        os.rename(self._real(old), self._real(new))

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(self._real(path), mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(self._real(path), uid, gid)

    def utimens(self, path: str, times: tuple[float, float] | None = None) -> None:
        os.utime(self._real(path), times)

    def statfs(self, path: str) -> dict[str, Any]:
        st = os.statvfs(self._real(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree")
        return {k: getattr(st, k) for k in (*keys, "f_files", "f_flag", "f_frsize", "f_namemax")}

    # ---- files ----------------------------------------------------------------------

    def open(self, path: str, flags: int) -> int:
        return os.open(self._real(path), flags)

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        # read-write whatever the caller asked: the kernel reads mapped pages (SQLite's
        # shared-memory file) through this handle
        return os.open(self._real(path), os.O_RDWR | os.O_CREAT, mode)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        return os.pwrite(fh, data, offset)

    def truncate(self, path: str, length: int, fh: int | None = None) -> None:
        if fh is None:
            os.truncate(self._real(path), length)
        else:
            os.ftruncate(fh, length)

    def flush(self, path: str, fh: int) -> None:
        return None  # close() of a copy of the descriptor: nothing to do here

    def release(self, path: str, fh: int) -> None:
        os.close(fh)

    def fsync(self, path: str, datasync: int, fh: int) -> None:
        self._sleep()
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)

    def fsyncdir(self, path: str, datasync: int, fh: int) -> None:
        self._sleep()


def unavailable() -> str | None:
    """Why a slow file system cannot be mounted here (None when it can)."""
    if not Path("/dev/fuse").exists():
        return "no /dev/fuse"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import fusepy"], capture_output=True, check=False)
    if probe.returncode != 0:
        return "no python3-fusepy for /usr/bin/python3 (make broker installs it)"
    return None


@contextmanager
def mounted(
    backing: Path, mountpoint: Path, fsync_ms: float = 200.0, hold: Path | None = None
) -> Iterator[Path]:
    """This file system served from `backing` at `mountpoint` (in a child process)."""
    backing.mkdir(parents=True, exist_ok=True)
    mountpoint.mkdir(parents=True, exist_ok=True)
    command = [SYSTEM_PYTHON, __file__, str(backing), str(mountpoint), "--fsync-ms", str(fsync_ms)]
    if hold is not None:
        command += ["--hold", str(hold)]
    child = subprocess.Popen(command, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10.0
        while not os.path.ismount(mountpoint):
            if child.poll() is not None or time.monotonic() > deadline:
                error = child.stderr.read().decode() if child.stderr else ""
                raise RuntimeError(f"slow file system not mounted: {error.strip()}")
            time.sleep(0.05)
        yield mountpoint
    finally:
        subprocess.run(["fusermount", "-u", "-z", str(mountpoint)], check=False)
        try:
            child.wait(5.0)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backing", help="the folder whose files are served")
    parser.add_argument("mountpoint", help="where the slow file system appears")
    parser.add_argument("--fsync-ms", type=float, default=200.0, help="delay of every fsync")
    parser.add_argument("--hold", help="while this file exists, every fsync waits")
    args = parser.parse_args()
    ops = SlowSync(args.backing, args.fsync_ms / 1000.0, args.hold)
    # threads: a reader's call is served while another thread's fsync sleeps
    FUSE(ops, args.mountpoint, foreground=True, nothreads=False)


if __name__ == "__main__":
    main()
