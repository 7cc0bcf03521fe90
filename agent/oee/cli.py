"""`oee-agent oee --events FILE|- --config FILE [--from ISO] [--to ISO] [--json]`."""

from __future__ import annotations

import argparse
import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.config import load_config
from agent.errors import UserError
from agent.events import read_event_log
from agent.oee.engine import compute_oee
from agent.oee.report import OeeReport, ShiftOee, format_hms

logger = logging.getLogger(__name__)

_COLUMNS = (
    "shift", "date", "planned", "run", "down", "small", "no data", "total", "good",
    "A", "P", "Q", "OEE",
)  # fmt: skip


def parse_time(value: str | None, option: str, zone: ZoneInfo) -> datetime | None:
    """An ISO 8601 time or date; without an offset it is local time on the line.

    Raises:
        UserError: naming the option and the value.
    """
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option} {value!r} is not an ISO 8601 time or date") from None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=zone)


def parse_period(
    from_: str | None, to: str | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """The `--from`/`--to` period of `oee` and `report` (local times in `zone`).

    Raises:
        UserError: a value that is not ISO 8601, or `--to` not after `--from`.
    """
    start = parse_time(from_, "--from", zone)
    end = parse_time(to, "--to", zone)
    if start is not None and end is not None and end <= start:
        raise UserError(f"--to {to} is not after --from {from_}")
    return start, end


def run_command(args: argparse.Namespace) -> int:
    """Read the event log and the line, print OEE per shift and in total.

    The whole log is read even with `--from`/`--to`: events before the period tell
    the state it begins in, and the whole length of a stop it cuts.

    Raises:
        UserError: a bad event log (naming the line), configuration or period.
    """
    config = load_config(args.config)
    start, end = parse_period(args.from_, args.to, config.line.zone)
    events = read_event_log(args.events)
    try:
        report = compute_oee(events, config, start=start, end=end)
    except ValueError as exc:  # events out of order when they did not come from a file
        raise UserError(f"{args.events}: {exc}") from None
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_table(report))
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _row(shift: ShiftOee) -> list[str]:
    return [
        shift.shift,
        "" if shift.date is None else shift.date.isoformat(),
        format_hms(shift.planned_s),
        format_hms(shift.run_s),
        format_hms(shift.downtime_s),
        format_hms(shift.small_stop_s),
        format_hms(shift.no_data_s),
        str(shift.total),
        str(shift.good),
        _pct(shift.availability),
        _pct(shift.performance),
        _pct(shift.quality),
        _pct(shift.oee),
    ]


def render_table(report: OeeReport) -> str:
    """A plain-text table: one row per shift, then the total, TEEP and warnings."""
    rows = [list(_COLUMNS)] + [_row(s) for s in report.shifts] + [_row(report.total)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(rows[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows[1:-1]]
    out += ["  ".join("-" * w for w in widths), line(rows[-1])]
    losses = report.total.losses
    out.append("")
    listed = (f"{name.replace('_', ' ')} {format_hms(value)}" for name, value in losses.items())
    out.append("losses (h:mm:ss): " + ", ".join(listed))
    out.append(f"TEEP {_pct(report.teep)} over {format_hms(report.all_time_s)}")
    if not report.shifts:
        out.append("no shift is covered by the events")
    out += [f"warning: {w}" for w in report.warnings]
    return "\n".join(out)
