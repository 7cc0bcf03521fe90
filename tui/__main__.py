"""`oee-tui`: the supervisor terminal UI."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    """The `oee-tui` command line (long: one declaration per option, read top to bottom)."""
    parser = argparse.ArgumentParser(
        prog="oee-tui",
        description="Supervisor terminal UI: one line from its store (--db), "
        "or the fleet over MQTT (--mqtt). Press ? in the app for the keys.",
    )
    parser.add_argument("--db", metavar="DB", help="a line's SQLite store (read-only)")
    parser.add_argument(
        "--mqtt",
        nargs="?",
        const="",
        metavar="HOST[:PORT]",
        help="read the fleet from this broker; without a value, from --config's [mqtt] "
        "(TLS and certificates as the agent; credentials from OEE_MQTT_USERNAME and "
        "OEE_MQTT_PASSWORD), else localhost:1883",
    )
    parser.add_argument(
        "--target",
        default="85,90,95,99.9",
        metavar="OEE[,A,P,Q]",
        help="targets in percent the big numbers are coloured against "
        "(default world class: 85,90,95,99.9)",
    )
    parser.add_argument(
        "--alert-after",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="bell and banner once the line has been stopped this long (default 300)",
    )
    parser.add_argument(
        "--stale-after",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="a source with no news this long is shown as stale (default 120)",
    )
    parser.add_argument(
        "--poll", type=float, default=1.5, metavar="SECONDS", help="store poll period (1.5)"
    )
    parser.add_argument(
        "--export-dir",
        default=".",
        metavar="DIR",
        help="where the shift report's CSV/Markdown exports go (default .)",
    )
    parser.add_argument(
        "--config",
        metavar="LINE.toml",
        help="line configuration: the one the setup screen writes, and the one used "
        "for a store that does not keep its own",
    )
    parser.add_argument(
        "--video",
        metavar="VIDEO",
        help="recording the setup screen draws over (without it: a frame of the camera "
        "that --config's [camera] source names)",
    )
    parser.add_argument(
        "--graphics",
        choices=["auto", "halfcell"],
        default="auto",
        help="defect pictures: terminal graphics when supported (auto) or half-blocks",
    )
    parser.add_argument("--log-file", metavar="FILE", help="write a debug log here")
    return parser


def build_app(args: argparse.Namespace):  # type: ignore[no-untyped-def]  # noqa: ANN201
    """The app for parsed arguments, with its sources opened.

    Raises:
        UserError: a bad argument, a missing store, an unreachable broker.
    """
    from tui.app import OeeApp
    from tui.model import Targets
    from tui.sources.store import StoreSource

    if not args.db and args.mqtt is None:
        raise UserError("give --db DB or --mqtt [HOST[:PORT]]")
    try:
        targets = Targets.parse(args.target)
    except ValueError as exc:
        raise UserError(f"--target: {exc}") from None
    for name in ("alert_after", "stale_after", "poll"):
        if getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be more than 0 seconds")
    export_dir = Path(args.export_dir)
    if not export_dir.is_dir():
        raise UserError(f"--export-dir {export_dir}: no such folder")
    video = Path(args.video) if args.video else None
    if video is not None and not video.is_file():
        raise UserError(f"--video {video}: no such file")
    config = Path(args.config) if args.config else None
    if config is not None and not config.is_file():
        raise UserError(f"--config {config}: no such file")
    line = None
    if args.db:
        line = StoreSource(
            Path(args.db), clock=_clock(), stale_after_s=args.stale_after, config_path=config
        )
        line.open()
    feed = None
    if args.mqtt is not None:
        try:
            feed = _fleet_feed(args.mqtt, config, args.stale_after)
            feed.start()
        except UserError:
            if line is not None:
                line.close()
            raise
    return OeeApp(
        line=line,
        feed=feed,
        targets=targets,
        alert_after_s=args.alert_after,
        poll_s=args.poll,
        export_dir=export_dir,
        config_path=config,
        video=video,
        graphics=args.graphics,
    )


def _fleet_feed(broker: str, config: Path | None, stale_after_s: float):  # type: ignore[no-untyped-def]  # noqa: ANN202
    """The fleet feed: `[mqtt]` of the line file when given, `broker` overriding its host."""
    from agent.config import MqttConfig, load_config
    from agent.publish.connection import parse_broker
    from tui.sources.mqtt import MqttFeed

    mq, base_dir = MqttConfig.model_validate({}), Path(".")
    if config is not None:
        line = load_config(config)
        mq, base_dir = line.mqtt, line.base_dir
    if broker:
        host, port = parse_broker(broker)
        mq = mq.model_copy(update={"host": host, "port": port})
    return MqttFeed(mq, base_dir, stale_after_s=stale_after_s)


def _clock():  # type: ignore[no-untyped-def]  # noqa: ANN202
    from agent.clock import SystemClock

    return SystemClock()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `oee-tui`; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.log_file:
        logging.basicConfig(filename=args.log_file, level=logging.DEBUG)
    else:
        # nothing may write to the terminal under the UI
        logging.basicConfig(handlers=[logging.NullHandler()])
    try:
        app = build_app(args)
    except UserError as exc:
        print(f"oee-tui: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        app.run()
    except KeyboardInterrupt:
        return 130
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
