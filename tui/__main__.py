"""`oee-tui`: the supervisor terminal UI."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """The `oee-tui` command line."""
    parser = argparse.ArgumentParser(
        prog="oee-tui",
        description="Supervisor terminal UI: one line from its store (--db), "
        "or the fleet over MQTT (--mqtt).",
    )
    parser.add_argument("--db", metavar="DB", help="a line's SQLite store (read-only)")
    parser.add_argument("--mqtt", metavar="HOST[:PORT]", help="read the fleet from this broker")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `oee-tui`."""
    args = build_parser().parse_args(argv)
    if not args.db and not args.mqtt:
        print("oee-tui: give --db DB or --mqtt HOST[:PORT]", file=sys.stderr)
        return 2
    print("oee-tui: the terminal UI is not available in this build", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
