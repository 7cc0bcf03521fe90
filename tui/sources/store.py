"""The line's own SQLite store, read-only (WAL: the agent keeps writing meanwhile).

`read()` is blocking: the app calls it from a thread worker every poll. The OEE of
the shift in progress is computed here with the agent's own engine from the stored
events, and every other shift exactly as `oee-agent report --db` computes it, so the
screen and the report never disagree.

Any store opens usefully: when the shift in progress has nothing (a recording replayed
months ago, yesterday's store), the line screens show the latest shift that has
events, saying when the data ends; `read(shift_back=n)` steps n shifts back.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.clock import Clock
from agent.errors import UserError
from agent.events import PartEvent, StateEvent
from tui.model import (
    LineSnapshot,
    Part,
    Reason,
    Stop,
    banner_alarms,
    bars_from_report,
    hourly_bars,
    shift_window,
)

logger = logging.getLogger(__name__)

#: How far back the defects screen lists rejected parts.
REJECTS_WINDOW = timedelta(hours=24)
REJECTS_LIMIT = 500
#: The shift history (every shift from the events) is computed again at most this often.
HISTORY_REFRESH_S = 30.0


def check_store_path(path: Path) -> None:
    """Fail with one sentence unless `path` is an existing file (never create a store).

    Raises:
        UserError: the file is missing or is a folder.
    """
    if not path.exists():
        raise UserError(f"{path}: no such store (give the DB an agent or a replay wrote)")
    if not path.is_file():
        raise UserError(f"{path}: not a file")


class StoreSource:
    """One line's store, polled read-only; reasons are written to the store."""

    publishes = False

    def __init__(
        self,
        path: Path,
        clock: Clock,
        stale_after_s: float = 120.0,
        config_path: Path | None = None,
    ) -> None:
        check_store_path(path)
        self.path = path
        self.config_path = config_path
        self.clock = clock
        self.stale_after_s = stale_after_s
        self._reader: Any = None
        self._config_text: str | None = None
        self._config: Any = None
        # the shift's events, kept between polls: only what is new is read each time
        self._cached_from: datetime | None = None
        self._cached: list[Any] = []
        self._cached_total = -1
        # every shift in the store, oldest first, and what it was computed from
        self._history: list[dict[str, Any]] = []
        self._history_key: tuple[int, int] | None = None
        self._history_at = 0.0

    def open(self) -> None:
        """Open the reader and the line configuration it keeps.

        Raises:
            UserError: the file is not a store, or it holds no line configuration.
        """
        from agent.store import open_readonly

        if self._reader is None:
            try:
                self._reader = open_readonly(self.path)
            except UserError:
                raise
            except Exception as exc:  # sqlite3.DatabaseError and friends: say it plainly
                raise UserError(f"{self.path}: not a line store ({exc})") from None
        self._load_config()

    def _load_config(self) -> None:
        from agent.config import parse_config

        text = self._reader.meta_get("config_toml")
        if not text and self.config_path is not None:
            # a store written without its configuration (an older agent, a tool)
            if self._config is None:
                from agent.config import load_config

                self._config = load_config(self.config_path)
            return
        if not text:
            raise UserError(
                f"{self.path}: the store holds no line configuration; give --config LINE.toml"
            )
        if text != self._config_text:
            self._config = parse_config(tomllib.loads(text))
            self._config_text = text

    @property
    def config(self) -> Any:
        """The line's `agent.config.Config` as the store keeps it."""
        if self._config is None:
            self.open()
        return self._config

    @property
    def key(self) -> str:
        """`site/area/line` of the store's line (its MQTT topic levels)."""
        line = self.config.line
        return f"{line.site}/{line.area}/{line.id}"

    def read(self, shift_back: int = 0) -> LineSnapshot:
        """The line: the shift in progress, or `shift_back` shifts before it.

        Its OEE, state, stops and rejects, and every shift of the store. When the
        shift in progress has no events and the agent is not writing, the latest
        shift with events is shift 0.
        """
        self.open()
        config = self.config
        now = self.clock.wall()
        window = shift_window(config.shift, config.line.zone, now)
        history = self._shift_history()
        live = self._live(window.start, now)
        current = (window.day.isoformat(), window.name)
        past = [s for s in reversed(history) if not live or (s["date"], s["shift"]) != current]
        back = max(0, shift_back)
        alarms = self._storage_alarms()
        if (live and back == 0) or not past:
            snap = self._live_snapshot(now, history)
            return replace(snap, shift_index=0, shift_count=len(past) + 1, alarms=alarms)
        index = min(back - 1 if live else back, len(past) - 1)
        snap = self._past_snapshot(past[index], now, history)
        count = len(past) + int(live)
        return replace(snap, shift_index=index + int(live), shift_count=count, alarms=alarms)

    def _storage_alarms(self) -> tuple[str, ...]:
        """The banner's alarms in the agent's latest health sample (`banner_alarms`)."""
        return banner_alarms((self._reader.latest_stats() or {}).get("alarms"))

    def _live(self, shift_start: datetime, now: datetime) -> bool:
        """Whether the line is watched now.

        Events in this shift, or an agent that wrote an event or a health sample lately
        (a stopped line sends no events, its agent still records its health).
        """
        last = self._reader.last_event_at()
        if last is not None and last >= shift_start:
            return True
        stats = self._reader.latest_stats() or {}
        heard = [t for t in (last, _ts_or_none(stats.get("ts"))) if t is not None]
        return any((now - t).total_seconds() <= self.stale_after_s for t in heard)

    def _shift_history(self) -> list[dict[str, Any]]:
        """Every shift of the store, oldest first, as `oee-agent report --db` gives it.

        Computed again when events or reasons changed, at most every HISTORY_REFRESH_S
        (the shift in progress is computed fresh on every poll anyway).
        """
        from agent.store.cli import build_report

        key = (self._reader.event_count(), self._reader.last_reason_seq())
        mono = self.clock.monotonic()
        due = self._history_key is None or mono - self._history_at >= HISTORY_REFRESH_S
        if key != self._history_key and due:
            try:
                shifts = build_report(self._reader, self.config, None, None).get("shifts")
            except UserError as exc:  # an empty store, or events the engine refuses
                logger.info("shift history: %s", exc)
                shifts = []
            self._history = list(shifts or [])
            self._history_key, self._history_at = key, mono
        return self._history

    def _past_snapshot(
        self, shift_obj: dict[str, Any], now: datetime, history: list[dict[str, Any]]
    ) -> LineSnapshot:
        """A finished shift as the report has it; the data ends at `measured_to`."""
        config = self.config
        start = datetime.fromisoformat(str(shift_obj["start"]))
        end = datetime.fromisoformat(str(shift_obj["end"]))
        until = datetime.fromisoformat(str(shift_obj.get("measured_to") or shift_obj["end"]))
        stops = _stops(self._reader, self._reader.stops(start, end))
        rejects = sorted(
            (_part(p) for p in self._reader.parts(start, end, rejected_only=True)),
            key=lambda p: p.ts,
            reverse=True,
        )
        return LineSnapshot(
            site=config.line.site,
            area=config.line.area,
            line=config.line.id,
            now=until,  # durations run to the end of the data, not to today
            tz=config.line.zone,
            state="no_data",
            since=until,
            shift_name=str(shift_obj.get("shift")),
            shift_start=start,
            shift_end=end,
            shift=shift_obj,
            hourly=bars_from_report(shift_obj) or (),
            stops=tuple(stops),
            rejects=tuple(rejects[:REJECTS_LIMIT]),
            reasons=tuple(Reason(r.code, str(r.loss), r.label) for r in config.reason),
            shifts=_newest_first(history, None),
            ideal_cycle_s=config.line.ideal_cycle_s,
            source=str(self.path),
            live=False,
        )

    def _live_snapshot(self, now: datetime, history: list[dict[str, Any]]) -> LineSnapshot:
        """The shift in progress, measured up to now."""
        from agent.oee import compute_oee

        config = self.config
        tz = config.line.zone
        window = shift_window(config.shift, tz, now)
        events = self._events(window.start, now)
        stops = _stops(self._reader, self._reader.stops(window.start, now))
        events = _with_reasons(events, stops)
        in_shift = [e for e in events if e.ts >= window.start]
        shift_obj: dict[str, Any] | None = None
        if in_shift:
            report = compute_oee(
                events, config, start=window.start, end=window.end, observed_until=now
            ).to_json()
            shifts = report.get("shifts") or []
            shift_obj = shifts[-1] if shifts else None
        state, since, reason = _state(events, stops)
        hourly = bars_from_report(shift_obj or {})
        if hourly is None:
            part_times = [e.ts for e in in_shift if isinstance(e, PartEvent)]
            hourly = hourly_bars(
                max(window.start, in_shift[0].ts) if in_shift else window.start,
                now,
                part_times,
                stops,
                config.line.ideal_cycle_s,
                window.breaks,
            )
        rejects = [
            _part(p) for p in self._reader.parts(now - REJECTS_WINDOW, now, rejected_only=True)
        ]
        rejects.sort(key=lambda p: p.ts, reverse=True)
        last_seen = in_shift[-1].ts if in_shift else None
        stale = None
        if last_seen is None:
            stale = "no events in this shift yet"
        elif state != "stopped" and (now - last_seen).total_seconds() > self.stale_after_s:
            stale = f"no news for {int((now - last_seen).total_seconds())} s"
        return LineSnapshot(
            site=config.line.site,
            area=config.line.area,
            line=config.line.id,
            now=now,
            tz=tz,
            state=state,
            since=since,
            reason=reason,
            shift_name=window.name,
            shift_start=window.start,
            shift_end=window.end,
            shift=shift_obj,
            hourly=hourly,
            stops=tuple(stops),
            rejects=tuple(rejects[:REJECTS_LIMIT]),
            reasons=tuple(Reason(r.code, str(r.loss), r.label) for r in config.reason),
            shifts=_newest_first(history, shift_obj),
            ideal_cycle_s=config.line.ideal_cycle_s,
            source=str(self.path),
            stale=stale,
        )

    def _events(self, start: datetime, now: datetime) -> list[Any]:
        """The events from `start` to `now`, the state in effect at `start` first.

        A full read of an 8-hour shift at a part a second costs most of a poll, so the
        events are kept and only newer ones are read; whenever the store's event count
        says something else changed (an event inserted earlier, a deletion), it is all
        read again. Reasons are re-applied from the stops on every poll.
        """
        total = self._reader.event_count()
        if self._cached_from == start and self._cached:
            last = self._cached[-1].ts
            seen = {e.id for e in self._cached if e.ts == last}
            new = [e for e in self._reader.events(last, now) if e.id not in seen]
            if self._cached_total + len(new) == total:
                self._cached.extend(new)
                self._cached_total = total
                return list(self._cached)
        self._cached = list(self._reader.events(start, now, with_state_before=True))
        self._cached_from, self._cached_total = start, total
        return list(self._cached)

    def assign_reason(self, stop_id: str, reason: str) -> str:
        """Write the assignment to the store (append-only; the latest one wins)."""
        from agent.store import Store

        # never migrates: a newer TUI must not upgrade the store under an older agent
        store = Store.open(self.path, clock=self.clock, migrate=False)
        try:
            store.assign_reason(stop_id, reason, source="tui")
        finally:
            store.close()
        return f"saved to {self.path.name}"

    def close(self) -> None:
        """Close the reader."""
        if self._reader is not None:
            self._reader.close()
        self._reader = None


def _stop(row: Any) -> Stop:
    return Stop(row.id, row.start, row.end, row.state, row.reason)


def _stops(reader: Any, rows: list[Any]) -> list[Stop]:
    """Stops with the cause the agent suggested and the picture it kept, when it did."""
    from agent.store.causes import stop_causes

    causes = stop_causes(reader, [row.id for row in rows])
    out = []
    for row in rows:
        cause = causes.get(row.id)
        if cause is None:
            out.append(_stop(row))
            continue
        out.append(
            Stop(
                row.id, row.start, row.end, row.state, row.reason,
                cause.suggested_reason, cause.confidence, cause.picture,
                cause.end_scene.summary() if cause.end_scene else None,
            )
        )  # fmt: skip
    return out


def _part(row: Any) -> Part:
    return Part(row.id, row.ts, row.good, row.score, row.defect, row.image)


def _with_reasons(events: list[Any], stops: list[Stop]) -> list[Any]:
    """State events carrying the stops' latest reasons (assignments come after the event)."""
    reasons = {s.id: s.reason for s in stops}
    if not reasons:
        return events
    out = []
    for event in events:
        if isinstance(event, StateEvent) and event.id in reasons:
            reason = reasons[event.id]
            if reason != event.reason:
                event = StateEvent(event.ts, event.state, reason, event.id, event.mono)
        out.append(event)
    return out


def _state(events: list[Any], stops: list[Stop]) -> tuple[str, datetime | None, str | None]:
    for event in reversed(events):
        if isinstance(event, StateEvent):
            reason = event.reason
            if stops and stops[-1].end is None and stops[-1].id == event.id:
                reason = stops[-1].reason
            return event.state, event.ts, reason
    if stops and stops[-1].end is None:
        return stops[-1].state, stops[-1].start, stops[-1].reason
    if events:
        return "running", events[0].ts, None
    return "unknown", None, None


def _ts_or_none(value: Any) -> datetime | None:
    try:
        ts = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _newest_first(
    history: list[dict[str, Any]], current: dict[str, Any] | None
) -> tuple[dict[str, Any], ...]:
    """Shift objects, newest first, the shift in progress on top (replacing its copy)."""
    rows = list(history)
    if current is not None:
        rows = [
            r
            for r in rows
            if (r.get("date"), r.get("shift")) != (current.get("date"), current.get("shift"))
        ]
        rows.append(current)
    rows.sort(key=lambda r: (str(r.get("date")), str(r.get("start", "")), str(r.get("shift"))))
    return tuple(reversed(rows))
