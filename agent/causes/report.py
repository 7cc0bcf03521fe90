"""Stops with their suggested causes, for `oee-agent report`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent.store.causes import stop_causes
from agent.store.store import Store


def stop_rows(store: Store, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    """The period's stops: id, start, end, state, reason, suggestion, confidence, scene."""
    stops = store.stops(start, end)
    causes = stop_causes(store, [s.id for s in stops])
    rows = []
    for stop in stops:
        cause = causes.get(stop.id)
        rows.append(
            {
                "id": stop.id,
                "start": stop.start.isoformat(),
                "end": None if stop.end is None else stop.end.isoformat(),
                "state": stop.state,
                "reason": stop.reason,
                "suggested_reason": cause.suggested_reason if cause else None,
                "confidence": cause.confidence if cause else None,
                "scene": cause.scene.summary() if cause else None,
            }
        )
    return rows


def stops_markdown(rows: list[dict[str, Any]]) -> str:
    """A Markdown section listing the stops and what the camera suggested."""
    lines = ["", "## Stops", ""]
    if not rows:
        return "\n".join([*lines, "No stop in this period.", ""])
    lines += [
        "| Start | End | Reason | Suggested | Confidence | Camera saw |",
        "| --- | --- | --- | --- | ---: | --- |",
    ]
    for row in rows:
        sure = "" if row["confidence"] is None else f"{row['confidence']:.0%}"
        cells = [
            row["start"][:19],
            (row["end"] or "open")[:19],
            row["reason"] or "—",
            row["suggested_reason"] or "—",
            sure,
            row["scene"] or "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
