"""What the screens show: plain, immutable values built by a source, no I/O here.

A source (the line's store, or the MQTT feed) turns what it reads into a
`LineSnapshot` or `FleetRow`s; the screens only render them. Every time a screen
shows ("since 12 min", "stopped 7 min") is measured against the snapshot's `now`,
which the source took from an injected clock, so a rendering under test is fixed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

#: The six big losses as the OEE object names them, in the order reports list them.
LOSS_KEYS = ("breakdown", "setup", "unassigned", "small_stop", "reduced_speed", "defects")
LOSS_LABELS = {
    "breakdown": "Breakdowns",
    "setup": "Setup & adjustments",
    "unassigned": "Stops, no reason yet",
    "small_stop": "Small stops",
    "reduced_speed": "Reduced speed",
    "defects": "Defects",
}


@dataclass(frozen=True, slots=True)
class Targets:
    """What each of OEE, A, P and Q should reach, as fractions (world class by default)."""

    oee: float = 0.85
    availability: float = 0.90
    performance: float = 0.95
    quality: float = 0.999

    @classmethod
    def parse(cls, text: str) -> Targets:
        """Read `--target`: `OEE` or `OEE,A,P,Q` in percent, e.g. `85` or `85,90,95,99.9`.

        Raises:
            ValueError: saying what is wrong with the text.
        """
        parts = [p.strip() for p in text.split(",")]
        if len(parts) not in (1, 4):
            raise ValueError(f"expected OEE or OEE,A,P,Q in percent, got {text!r}")
        try:
            values = [float(p) / 100 for p in parts]
        except ValueError:
            raise ValueError(f"expected numbers in percent, got {text!r}") from None
        if any(not (0 < v <= 1) for v in values):
            raise ValueError(f"targets must be between 0 and 100 %, got {text!r}")
        if len(values) == 1:
            return cls(oee=values[0])
        return cls(*values)

    def get(self, metric: str) -> float:
        """The target of `oee`, `availability`, `performance` or `quality`."""
        value: float = getattr(self, metric)
        return value


def grade(value: float | None, target: float) -> str:
    """`good` at or above target, `warn` within 15 points below it, else `bad`."""
    if value is None:
        return "none"
    if value >= target:
        return "good"
    if value >= target - 0.15:
        return "warn"
    return "bad"


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage, or a dash when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * 100:.{digits}f}"


def duration(seconds: float | None) -> str:
    """A compact duration: `45s`, `12m05s`, `3h07m`."""
    if seconds is None:
        return "-"
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


@dataclass(frozen=True, slots=True)
class Stop:
    """A stop: when, how long (open while `end` is None), and its reason code."""

    id: str
    start: datetime
    end: datetime | None
    state: str = "stopped"
    reason: str | None = None
    #: What the camera suggests (`agent.causes`): a line code or a built-in cause.
    suggested_reason: str | None = None
    confidence: float | None = None
    #: The ROI's picture at the stop's start, as the store keeps its path.
    picture: str | None = None
    #: What the camera saw when the stop ended, in words (the store's `end_scene`).
    end_scene: str | None = None

    def seconds(self, now: datetime) -> float:
        """How long it lasted, or has lasted until `now` while open."""
        return max(0.0, ((self.end or now) - self.start).total_seconds())


@dataclass(frozen=True, slots=True)
class Part:
    """A counted part (the defects screen shows the rejected ones)."""

    id: str
    ts: datetime
    good: bool
    score: float | None = None
    defect: str | None = None
    image: str | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """A reason code from the line's `[[reason]]` list."""

    code: str
    loss: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class HourBar:
    """One hour of the shift: parts made, parts the ideal cycle allowed, time stopped."""

    start: datetime
    target: int
    actual: int
    stopped_s: float


@dataclass(frozen=True, slots=True)
class LineSnapshot:
    """Everything the line screens show, as of `now`."""

    site: str
    area: str
    line: str
    now: datetime
    tz: tzinfo
    state: str = "unknown"
    since: datetime | None = None
    reason: str | None = None
    shift_name: str = "-"
    shift_start: datetime | None = None
    shift_end: datetime | None = None
    shift: dict[str, Any] | None = None
    hourly: tuple[HourBar, ...] = ()
    stops: tuple[Stop, ...] = ()
    rejects: tuple[Part, ...] = ()
    reasons: tuple[Reason, ...] = ()
    shifts: tuple[dict[str, Any], ...] = ()
    ideal_cycle_s: float = 1.0
    source: str = ""
    stale: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: False for a finished shift shown from history (its data ends at `since`).
    live: bool = True
    #: Which shift this is, counting back from the newest (0), of how many in the store.
    shift_index: int = 0
    shift_count: int = 1
    #: The agent's alarms worth the banner (`banner_alarms`): storage, the camera's view,
    #: a disk or model behind the line.
    alarms: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """`site/area/line`."""
        return f"{self.site}/{self.area}/{self.line}"

    def local(self, ts: datetime) -> datetime:
        """A time in the line's zone."""
        return ts.astimezone(self.tz)

    def stopped_for(self) -> float | None:
        """Seconds the line has been stopped, or None when it is not stopped."""
        if self.state != "stopped" or self.since is None:
            return None
        return max(0.0, (self.now - self.since).total_seconds())

    def target_count(self) -> int | None:
        """Parts the ideal cycle allows in the planned time of the shift so far."""
        if not self.shift or self.ideal_cycle_s <= 0:
            return None
        return int(float(self.shift.get("planned_s", 0)) / self.ideal_cycle_s)


@dataclass(frozen=True, slots=True)
class Times:
    """Times and counts that add up across lines and shifts; the ratios come from sums.

    planned and run time, net run time (ideal cycle x total) and fully productive time
    (ideal cycle x good), in seconds: A = run / planned, P = net / run, Q = fully / net,
    OEE = fully / planned, as OEE is defined, so A x P x Q = OEE for any sum.
    """

    planned_s: float = 0.0
    run_s: float = 0.0
    net_s: float = 0.0
    fully_s: float = 0.0
    total: int = 0
    good: int = 0

    @classmethod
    def of_shift(cls, shift: dict[str, Any]) -> Times:
        """From an OEE object: net = P x run, fully = net x Q.

        A missing or odd value, as a feed may carry, counts as 0.
        """

        def num(key: str) -> float:
            value = shift.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                return 0.0
            return float(value) if math.isfinite(value) else 0.0

        run = num("run_s")
        net = run * num("performance")
        return cls(
            num("planned_s"), run, net, net * num("quality"), int(num("total")), int(num("good"))
        )

    def __add__(self, other: Times) -> Times:
        return Times(
            self.planned_s + other.planned_s,
            self.run_s + other.run_s,
            self.net_s + other.net_s,
            self.fully_s + other.fully_s,
            self.total + other.total,
            self.good + other.good,
        )

    @property
    def availability(self) -> float | None:
        """Run / planned time."""
        return self.run_s / self.planned_s if self.planned_s else None

    @property
    def performance(self) -> float | None:
        """Net run / run time."""
        return self.net_s / self.run_s if self.run_s else None

    @property
    def quality(self) -> float | None:
        """Fully productive / net run time."""
        return self.fully_s / self.net_s if self.net_s else None

    @property
    def oee(self) -> float | None:
        """Fully productive / planned time."""
        return self.fully_s / self.planned_s if self.planned_s else None


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One line of the fleet table (from the MQTT feed)."""

    site: str
    area: str
    line: str
    state: str = "unknown"
    since: datetime | None = None
    oee: float | None = None
    availability: float | None = None
    performance: float | None = None
    quality: float | None = None
    online: bool | None = None
    stale: bool = False
    #: The shift's times and counts the figures come from (summed by `rollup`).
    times: Times = field(default_factory=Times)
    #: For a rollup row: how many lines it holds, and how many of them are stopped.
    lines: int = 1
    stopped: int = 0

    @property
    def key(self) -> str:
        """`site/area/line` (`site/area` for an area's rollup, `site` for a site's)."""
        return "/".join(x for x in (self.site, self.area, self.line) if x)


def banner_alarms(alarms: object) -> tuple[str, ...]:
    """The alarms of a `stats` object that the banner shows.

    A store that cannot stay within its bound (`storage: …`), a camera whose view is
    dark, blurred or moved (`camera: view …`) or whose frames keep arriving damaged
    (`camera: … damaged frames …`), a disk or a model more than 10 s behind the line
    (`store: events waiting …`, `inspection: parts waiting …`). A camera that gives
    nothing is the NO DATA state already.
    """
    listed = alarms if isinstance(alarms, list | tuple) else []
    shown = ("storage:", "camera: view", "store: events waiting", "inspection: parts waiting")
    return tuple(
        text for text in map(str, listed) if text.startswith(shown) or "damaged frames" in text
    )


def rollup(rows: Iterable[FleetRow], site: str, area: str = "") -> FleetRow:
    """One row for a site (or one of its areas) from its lines' rows.

    Times and counts are summed and the ratios taken from the sums, as OEE is defined
    (A = run / planned, P = net run / run, Q = fully productive / net run, OEE = fully
    productive / planned): never an average of percentages, which would weigh a line
    that ran ten minutes like one that ran all shift.
    """
    members = [r for r in rows if r.site == site and (not area or r.area == area)]
    times = sum((r.times for r in members), Times())
    stopped = sum(1 for r in members if r.state in ("stopped", "no_data"))
    gone = [r for r in members if r.online is False or r.stale]
    return FleetRow(
        site=site,
        area=area,
        line="",
        state=f"{stopped}/{len(members)} stopped" if stopped else "running",
        oee=times.oee,
        availability=times.availability,
        performance=times.performance,
        quality=times.quality,
        online=False if gone and len(gone) == len(members) else True,
        stale=bool(gone),
        times=times,
        lines=len(members),
        stopped=stopped,
    )


def worst_first(rows: Iterable[FleetRow]) -> list[FleetRow]:
    """Offline and stale lines first, then stopped ones, then the lowest OEE."""

    def rank(row: FleetRow) -> tuple[int, float, str]:
        gone = row.online is False or row.stale
        bucket = 0 if gone else 1 if row.state in ("stopped", "no_data") else 2
        return (bucket, row.oee if row.oee is not None else -1.0, row.key)

    return sorted(rows, key=rank)


@dataclass(frozen=True, slots=True)
class Week:
    """One ISO week of a line's shifts: summed times, counts and losses."""

    week: str  # "2026-W10"
    shifts: int
    times: Times
    losses: dict[str, float]

    def top_losses(self, n: int = 3) -> list[tuple[str, float]]:
        """The week's largest losses (seconds), largest first, without the empty ones."""
        ranked = sorted(self.losses.items(), key=lambda kv: -kv[1])
        return [(k, v) for k, v in ranked[:n] if v > 0]


def weekly(shifts: Iterable[dict[str, Any]]) -> list[Week]:
    """The shifts' OEE objects summed per ISO week of their date, oldest first."""
    weeks: dict[str, tuple[int, Times, dict[str, float]]] = {}
    for shift in shifts:
        try:
            year, number, _ = date.fromisoformat(str(shift.get("date"))).isocalendar()
        except ValueError:
            continue
        label = f"{year}-W{number:02d}"
        count, times, losses = weeks.get(label, (0, Times(), dict.fromkeys(LOSS_KEYS, 0.0)))
        for key in LOSS_KEYS:
            losses[key] += float((shift.get("losses") or {}).get(key) or 0)
        weeks[label] = (count + 1, times + Times.of_shift(shift), losses)
    return [Week(label, *weeks[label]) for label in sorted(weeks)]


def grouped(rows: Iterable[FleetRow], collapsed: frozenset[str] = frozenset()) -> list[FleetRow]:
    """Sites, each followed by its areas, each by its lines: every level worst first.

    A site or area whose key is in `collapsed` shows its rollup row only.
    """
    lines = list(rows)
    out: list[FleetRow] = []
    sites = worst_first(rollup(lines, site) for site in {r.site for r in lines})
    for site in sites:
        out.append(site)
        if site.key in collapsed:
            continue
        in_site = [r for r in lines if r.site == site.site]
        for area in worst_first(rollup(in_site, site.site, a) for a in {r.area for r in in_site}):
            out.append(area)
            if area.key not in collapsed:
                out.extend(worst_first(r for r in in_site if r.area == area.area))
    return out


def pareto(shift: dict[str, Any]) -> list[tuple[str, float, float]]:
    """The six big losses of an OEE object (seconds), largest first, with cumulative share.

    The engine books every loss as time, defects as rejected parts × ideal cycle.
    """
    losses = shift.get("losses") or {}
    seconds = [(key, float(losses.get(key) or 0)) for key in LOSS_KEYS]
    seconds.sort(key=lambda kv: -kv[1])
    total = sum(v for _, v in seconds) or 1.0
    out, running = [], 0.0
    for key, value in seconds:
        running += value
        out.append((key, value, running / total))
    return out


def bars_from_report(shift: dict[str, Any]) -> tuple[HourBar, ...] | None:
    """The OEE object's own `hourly` list as bars, or None when it has none."""
    hourly = shift.get("hourly")
    if not isinstance(hourly, list) or not hourly:
        return None
    bars = []
    for item in hourly:
        try:
            start = datetime.fromisoformat(item["hour"])
            bars.append(
                HourBar(
                    start,
                    int(item.get("target") or 0),
                    int(item.get("actual") or 0),
                    float(item.get("stopped_s") or 0),
                )
            )
        except (KeyError, TypeError, ValueError):
            return None
    return tuple(bars)


def hourly_bars(
    start: datetime,
    until: datetime,
    part_times: Sequence[datetime],
    stops: Sequence[Stop],
    ideal_cycle_s: float,
    planned_out: Sequence[tuple[datetime, datetime]] = (),
) -> tuple[HourBar, ...]:
    """Per clock hour from `start` to `until`: parts, target count and stopped seconds.

    The target is the planned time of that hour (less `planned_out`, e.g. breaks)
    divided by the ideal cycle time.
    """
    if until <= start:
        return ()
    first = start.replace(minute=0, second=0, microsecond=0)
    bars = []
    hour = first
    while hour < until:
        h0, h1 = max(hour, start), min(hour + timedelta(hours=1), until)
        planned = (h1 - h0).total_seconds()
        for b0, b1 in planned_out:
            planned -= _overlap(h0, h1, b0, b1)
        actual = sum(1 for t in part_times if h0 <= t < h1)
        stopped = sum(_overlap(h0, h1, s.start, s.end or until) for s in stops)
        target = int(max(0.0, planned) / ideal_cycle_s) if ideal_cycle_s > 0 else 0
        bars.append(HourBar(hour, target, actual, stopped))
        hour += timedelta(hours=1)
    return tuple(bars)


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """One occurrence of a shift: its name, its local day, its start/end and its breaks."""

    name: str
    day: date
    start: datetime
    end: datetime
    breaks: tuple[tuple[datetime, datetime], ...] = ()


def shift_window(shifts: Sequence[Any], tz: tzinfo, at: datetime) -> ShiftWindow:
    """The shift `at` falls in (or the latest one that started before it).

    `shifts` are `agent.config.ShiftConfig`s; with none, the whole local day is one
    shift called `day`.
    """
    local = at.astimezone(tz)
    if not shifts:
        midnight = datetime(local.year, local.month, local.day, tzinfo=tz)
        return ShiftWindow("day", local.date(), midnight, midnight + timedelta(days=1))
    best: ShiftWindow | None = None
    for back in (1, 0):
        day = local.date() - timedelta(days=back)
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        for shift in shifts:
            begin, end = shift.span_minutes()
            s0 = midnight + timedelta(minutes=begin)
            s1 = midnight + timedelta(minutes=end)
            if s0 > at:
                continue
            breaks = []
            for b_start, b_end in shift.breaks:
                b0 = _next_at_or_after(s0, b_start)
                b1 = _next_at_or_after(b0, b_end)
                breaks.append((b0, b1))
            window = ShiftWindow(shift.name, day, s0, s1, tuple(breaks))
            if s0 <= at < s1:
                return window
            if best is None or s0 > best.start:
                best = window
    assert best is not None  # noqa: S101 - a shift of yesterday always started before `at`
    return best


def _next_at_or_after(ref: datetime, hhmm: str) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    candidate = ref.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate < ref:
        candidate += timedelta(days=1)
    return candidate


def utc(ts: datetime) -> datetime:
    """An aware time in UTC (naive times are taken as UTC)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
