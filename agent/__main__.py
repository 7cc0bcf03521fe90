"""`oee-agent`: the agent's command line.

The parser lives here; each command's work lives in its stage's package and is
imported only when that command runs, so `--help` and `check-config` stay fast and
need neither OpenCV nor the inference runtime.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from agent import __version__
from agent.errors import ConfigError, UserError

#: command -> "module:function" taking the parsed arguments, returning an exit code.
HANDLERS = {
    "run": "agent.app:run_command",
    "replay": "agent.replay:run_command",
    "teach": "agent.inspection.teach:run_command",
    "oee": "agent.oee.cli:run_command",
    "report": "agent.store.cli:run_command",
    "check-config": "agent.__main__:check_config_command",
    "causes": "agent.causes.cli:run_command",
}


def build_parser() -> argparse.ArgumentParser:
    """The whole `oee-agent` command line.

    One long function on purpose: it is a declaration that reads top to bottom like
    `--help`, each command's arguments beside its name.
    """
    parser = argparse.ArgumentParser(
        prog="oee-agent",
        description="Machine-vision OEE monitor: the on-device agent and its tools.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr (default INFO)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run",
        help="the on-device daemon: camera -> vision -> OEE -> store -> MQTT",
        description="Run the line's agent until SIGTERM/SIGINT.",
    )
    run.add_argument("--config", required=True, metavar="LINE.toml", help="line configuration")

    replay = sub.add_parser(
        "replay",
        help="process a recording exactly as `run` would a camera",
        description="Process a recording as `run` would a camera. Time zero is the "
        "first frame; wall time starts at --start (default: now).",
    )
    replay.add_argument("video", metavar="VIDEO", help="video file to process")
    replay.add_argument("--config", required=True, metavar="LINE.toml", help="line configuration")
    replay.add_argument("--db", metavar="DB", help="SQLite store to write (default [store] path)")
    replay.add_argument("--report", metavar="OUT.json", help="write the replay report here")
    replay.add_argument(
        "--realtime", action="store_true", help="pace frames at the footage's frame rate"
    )
    replay.add_argument(
        "--publish",
        action="store_true",
        help="send events and `oee` snapshots to the MQTT broker and wait for it",
    )
    replay.add_argument("--start", metavar="ISO8601", help="wall time of the first frame")

    teach = sub.add_parser(
        "teach",
        help="learn the line's good parts from footage of good production",
        description="Learn the line's good parts and write its inspection model to "
        "[inspection] model_dir. Without VIDEO, reads the live camera.",
    )
    teach.add_argument("video", nargs="?", metavar="VIDEO", help="footage of good production")
    teach.add_argument("--config", required=True, metavar="LINE.toml", help="line configuration")

    oee = sub.add_parser(
        "oee",
        help="OEE from an event log (backfill, audits, other counters)",
        description="Compute OEE per shift and in total from a JSON Lines event log.",
    )
    oee.add_argument(
        "--events", required=True, metavar="EVENTS.jsonl", help="event log (- reads stdin)"
    )
    oee.add_argument("--config", required=True, metavar="LINE.toml", help="line configuration")
    oee.add_argument(
        "--from", dest="from_", metavar="ISO", help="period start (ISO 8601; no offset: line time)"
    )
    oee.add_argument("--to", metavar="ISO", help="period end (ISO 8601; no offset: line time)")
    oee.add_argument("--json", action="store_true", help="print the contract's JSON")

    report = sub.add_parser(
        "report",
        help="shift reports from the store",
        description="Shift reports from a line's SQLite store.",
    )
    report.add_argument("--db", required=True, metavar="DB", help="the line's SQLite store")
    report.add_argument(
        "--from", dest="from_", metavar="ISO", help="period start (ISO 8601; no offset: line time)"
    )
    report.add_argument("--to", metavar="ISO", help="period end (ISO 8601; no offset: line time)")
    report.add_argument(
        "--format", default="md", choices=["json", "csv", "md"], help="output format (default md)"
    )
    report.add_argument("--events-out", metavar="EVENTS.jsonl", help="also export the event log")
    report.add_argument(
        "--stops",
        action="store_true",
        help="json: add the period's stops with their suggested causes (md always lists them)",
    )

    check = sub.add_parser(
        "check-config",
        help="validate a line configuration",
        description="Validate a line configuration: exit 0 when valid, 2 listing every "
        "bad key's path and why.",
    )
    check.add_argument("config", metavar="LINE.toml", help="line configuration")

    from agent.causes.cli import add_parser as add_causes

    add_causes(sub)
    return parser


def check_config_command(args: argparse.Namespace) -> int:
    """`oee-agent check-config FILE`."""
    from agent.config import load_config

    config = load_config(args.config)
    print(f"{args.config}: valid (line {config.line.id})")
    return 0


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    module_name, func = HANDLERS[command].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise UserError(f"`{command}` is not available in this build") from None
        raise
    handler: Callable[[argparse.Namespace], int] = getattr(module, func)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `oee-agent`; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return _handler(args.command)(args)
    except ConfigError as exc:
        where = getattr(args, "config", None) or "config"
        for problem in exc.problems:
            print(
                f"{where}: {problem}" if not problem.startswith(where) else problem, file=sys.stderr
            )
        return exc.exit_code
    except UserError as exc:
        print(f"oee-agent {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"oee-agent {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
