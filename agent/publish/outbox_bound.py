"""The outbox's bound: how many unsent rows it may hold before the oldest are dropped.

Nothing is dropped unless `[mqtt] outbox_max_rows` is set or the disk is nearly full;
then the oldest rows go (the loss is counted in the store, and published in `stats`),
so the newest events, which matter most to a plant system catching up, are kept.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from agent.store import Store

logger = logging.getLogger(__name__)

#: Below this much free disk the outbox sheds its older half (a counted loss).
MIN_FREE_BYTES = 64 * 1024 * 1024
#: ...but never below this many rows.
OUTBOX_FLOOR_ROWS = 1000


class OutboxBound:
    """Keeps the store's outbox within `max_rows` and within the free disk.

    Args:
        free_bytes: free bytes where the store lives (default: asks the file system;
            None from it means unknown, e.g. an in-memory store).
    """

    def __init__(
        self,
        max_rows: int | None,
        store: Store,
        free_bytes: Callable[[], int | None] | None = None,
    ) -> None:
        self.max_rows = max_rows
        self.store = store
        self._free_bytes = free_bytes or self._disk_free

    def enforce(self) -> int:
        """Drop the oldest rows over the bound; returns how many were dropped."""
        bound = self.max_rows
        why = "its bound"
        free = self._free_bytes()
        if free is not None and free < MIN_FREE_BYTES:
            # the disk is nearly full: shed the older half rather than fail to store events
            half = max(OUTBOX_FLOOR_ROWS, self.store.outbox.depth() // 2)
            bound = half if bound is None else min(bound, half)
            why = f"the disk-full bound ({free // 1024} KiB free)"
        if bound is None:
            return 0
        dropped = self.store.outbox.trim(bound)
        if dropped:
            logger.error(
                "mqtt: outbox over %s of %d rows: dropped the oldest %d (lost in total %d)",
                why,
                bound,
                dropped,
                self.store.outbox.lost(),
            )
        return dropped

    def _disk_free(self) -> int | None:
        if self.store.path == ":memory:":
            return None
        try:
            return shutil.disk_usage(Path(self.store.path).resolve().parent).free
        except OSError:
            return None
