"""`oee-agent report --db DB [--from ISO] [--to ISO] [--format json|csv|md] [--stops]`.

The Markdown report ends with the period's stops: reason, the cause the camera
suggested and what it saw (`agent.causes`); `--stops` adds them to the JSON as
`"stops"` (without it the JSON is exactly the OEE output `oee --json` prints).

The store keeps the line configuration the agent ran with (`Store.save_config`), so a
report needs nothing but the file. Figures come from the same OEE engine as `oee`, on
the same events the store exports, so the two always agree.
"""

from __future__ import annotations

import argparse
import json
import logging
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.causes.report import stop_rows, stops_markdown
from agent.config import Config, parse_config
from agent.errors import ConfigError, UserError
from agent.events import write_event_log
from agent.oee import OeeReport, compute_oee, report_from_shifts
from agent.oee.cli import parse_period
from agent.store.formats import to_csv, to_markdown
from agent.store.retention import pruned_before
from agent.store.rollups import merge_shifts, rollup_shifts
from agent.store.store import Store, open_readonly

logger = logging.getLogger(__name__)


def stored_config(store: Store) -> Config:
    """The line configuration kept in the store.

    Raises:
        UserError: the store has none, or it no longer validates.
    """
    text = store.config_text()
    if text is None:
        raise UserError(
            f"{store.path}: the store holds no line configuration "
            "(`run` and `replay` save it when they start)"
        )
    try:
        return parse_config(tomllib.loads(text), base_dir=Path(store.path).parent)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{store.path}: the stored configuration is not TOML ({exc})") from None
    except ConfigError as exc:
        raise UserError(
            f"{store.path}: the stored configuration is invalid ({'; '.join(exc.problems)})"
        ) from None


def build_report(
    store: Store, config: Config, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    """The contract's OEE JSON for the period, from the stored events.

    The state in effect at `start` and the first event after `end` are handed to the
    engine too, so a period that begins inside a stop, or ends while the line runs on,
    is measured right to its edges. The part of the period before `pruned_before`
    (raw events pruned, see `agent.store.retention`) comes from the hourly rollups,
    whole hours at a time, and a warning says so.
    """
    pruned = pruned_before(store)
    if pruned is None or (start is not None and start >= pruned):
        return _raw_report(store, config, start, end).to_json()
    old_end = pruned if end is None else min(end, pruned)
    shifts = rollup_shifts(store, start, old_end)
    if end is None or end > pruned:
        shifts += _raw_report(store, config, pruned, end).shifts
    note = (
        f"before {pruned.isoformat()} the raw events were pruned ([store] parts_days): "
        "those hours come from the hourly rollups, whole hours"
    )
    return report_from_shifts(merge_shifts(shifts), config, start, end, [note]).to_json()


def _raw_report(
    store: Store, config: Config, start: datetime | None, end: datetime | None
) -> OeeReport:
    events = store.events(start, end, with_state_before=True, with_event_after=True)
    observed = store.observed_until()  # a replay's last frame, after its last event
    try:
        return compute_oee(events, config, start=start, end=end, observed_until=observed)
    except ValueError as exc:
        raise UserError(f"{store.path}: {exc}") from None


def run_command(args: argparse.Namespace) -> int:
    """Print the store's shift report (and export its event log with --events-out).

    Raises:
        UserError: a missing or foreign file, a store without configuration, a bad time.
    """
    store = open_readonly(args.db)
    try:
        config = stored_config(store)
        start, end = parse_period(args.from_, args.to, config.line.zone)
        report = build_report(store, config, start, end)
        stops = stop_rows(store, start, end)  # with the causes the camera suggested
        if args.events_out:
            # the same events the report used: `oee --from --to` on the file agrees
            events = store.events(start, end, with_state_before=True, with_event_after=True)
            try:
                write_event_log(events, args.events_out)
            except OSError as exc:
                raise UserError(f"{args.events_out}: cannot write it ({exc.strerror})") from None
            logger.info("report: wrote %d events to %s", len(events), args.events_out)
    finally:
        store.close()
    if args.format == "json":
        extra = {"stops": stops} if getattr(args, "stops", False) else {}
        print(json.dumps({**report, **extra}, indent=2))
    elif args.format == "csv":
        print(to_csv(report), end="")
    else:
        print(to_markdown(report, title=f"OEE report: line {config.line.id}"), end="")
        print(stops_markdown(stops), end="")
    return 0
