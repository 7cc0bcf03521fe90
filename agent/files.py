"""Writing a file so that a reader, or a power cut, sees the old one or the new one whole."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write `data` to `path` through a temporary file beside it, synced, then renamed.

    The rename is atomic on POSIX file systems, so `path` is never half written; the
    data is fsynced before it and the folder after it, so a power cut right after
    this returns still finds the new file. Text is written as UTF-8.

    Raises:
        OSError: the folder cannot be written (the temporary file is removed).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    sync_dir(path.parent)
    return path


def sync_dir(folder: str | os.PathLike[str]) -> None:
    """Fsync a folder, so a rename in it survives a power cut (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
