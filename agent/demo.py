"""`make demo`: the whole product on rendered footage of a simulated line, in one command.

1. Renders the demo footage (`agent.demo_footage`) into a cache folder (once; reused
   while the scenario and the simulator are unchanged): `line.mp4`, a few minutes of
   a line with a shift's kinds of events (running, small stops, a long stop,
   starvation, defects), and `good.mp4`, good production only, to teach on.
2. Teaches the line on `good.mp4` with `oee-agent teach` when no model is there
   (`agent.demo_teach`).
3. Starts the agent (`agent.app.Agent`, the daemon `oee-agent run` runs) on `line.mp4`
   played as a camera in real time, in a loop, in a background thread: the store goes
   to a temporary folder (or `--keep DIR`), the MQTT feed to localhost:1883 (queued
   on disk while no broker answers).
4. Opens the supervisor TUI on the store (`agent.demo_tui`). Quitting it (q or
   Ctrl-C) stops the agent in order and removes the temporary folder.

`--headless SECONDS` runs steps 1-3 without the TUI and prints a summary; the tests
use it with `--short` footage.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.config import Config, load_config, parse_config
from agent.demo_footage import ensure_footage, scenarios
from agent.demo_teach import ensure_model
from agent.demo_tui import build_tui
from agent.errors import UserError
from agent.progress import Progress
from agent.publish.connection import parse_broker

logger = logging.getLogger(__name__)

#: The checkout: `make demo` installs the project editable, so the package sits in it.
ROOT = Path(__file__).resolve().parent.parent
if not (ROOT / "demo" / "line.toml").is_file():  # installed elsewhere: run from the checkout
    ROOT = Path.cwd()
#: The bundled line configuration (relative paths in it resolve in the cache folder).
LINE_TOML = ROOT / "demo" / "line.toml"
DEFAULT_CACHE = ROOT / ".cache" / "demo"
#: File names inside the cache folder.
LINE_VIDEO = "line.mp4"
GOOD_VIDEO = "good.mp4"

#: The footage's scenarios under the name tests and `benchmarks/accuracy.py` use.
_scenarios = scenarios
#: How long to wait for the agent to open its store and camera.
START_TIMEOUT_S = 30.0


# ---- the configuration ----------------------------------------------------------------


def prepare_config(cache: Path) -> tuple[Path, str]:
    """Copy the bundled line file into the cache folder; its relative paths resolve there."""
    cache.mkdir(parents=True, exist_ok=True)
    if not LINE_TOML.is_file():
        raise UserError(f"{LINE_TOML} is missing: run the demo from the project's checkout")
    text = LINE_TOML.read_text(encoding="utf-8")
    target = cache / "line.toml"
    target.write_text(text, encoding="utf-8")
    return target, text


def agent_config(
    config_file: Path,
    store: Path,
    broker: tuple[str, int] | None = None,
    model_dir: Path | None = None,
) -> Config:
    """The line file with the store (and broker, and model folder) this run uses."""
    data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    data["store"] = {**data.get("store", {}), "path": str(store)}
    if model_dir is not None:
        data["inspection"] = {**data.get("inspection", {}), "model_dir": str(model_dir)}
    if broker is not None:
        data["mqtt"] = {**data.get("mqtt", {}), "host": broker[0], "port": broker[1]}
    return parse_config(data, base_dir=config_file.parent)


# ---- the agent in a background thread -----------------------------------------------------


class DemoRun:
    """The agent on the demo footage, in a thread; `stop()` stops it in order."""

    def __init__(self, config: Config, config_text: str) -> None:
        from agent.app import Agent

        self.config = config
        # the footage plays in a loop: `[camera] loop = true` in demo/line.toml
        self.agent = Agent(config, config_text=config_text)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-agent", daemon=True)
        self._outbox: Any = None

    def _run(self) -> None:
        try:
            self.agent.run(self._stop)
        except BaseException as exc:  # reported by start()/stop() in the main thread
            logger.exception("the agent failed")
            self.error = exc

    def start(self) -> None:
        """Start the agent and wait until its store and camera are open.

        Raises:
            UserError: the agent failed to start.
        """
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.agent.source is None:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                why = self.error or "it did not start in time"
                raise UserError(f"the agent did not start: {why}")
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        """Whether the agent thread is still going."""
        return self._thread.is_alive()

    @property
    def inspection_on(self) -> bool:
        """Whether parts are inspected by a taught model."""
        timed = self.agent.timed  # the daemon's inspector (its inspect thread runs it)
        return bool(timed is not None and timed.enabled)

    def feed_status(self) -> str:
        """One line about the MQTT feed: connected, or how much is queued on disk."""
        mqtt = self.config.mqtt
        where = f"{mqtt.host}:{mqtt.port}"
        publisher = self.agent.publisher
        if publisher is None:
            return "MQTT off"
        depth = self._outbox_depth()
        queued = "" if depth is None else f", {depth} queued"
        if publisher.connected:
            return f"MQTT {where} connected{queued if depth else ''}"
        return f"MQTT: no broker at {where}{queued}"

    def _outbox_depth(self) -> int | None:
        """Messages waiting in the outbox, read on a connection of the calling thread."""
        from agent.store import StoreError
        from agent.store.store import open_readonly

        try:
            if self._outbox is None:
                self._outbox = open_readonly(self.config.store_path)
            depth: int = self._outbox.outbox.depth()
            return depth
        except (StoreError, OSError, Exception):  # a busy store: say nothing this time
            return None

    def stop(self) -> None:
        """Stop the agent (camera, pipeline, feed, store, in that order) and wait for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30.0)
            if self._thread.is_alive():
                logger.error("the agent did not stop within 30 s")
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None


# ---- the summary ---------------------------------------------------------------------------


def summary(config: Config) -> dict[str, Any]:
    """Parts, stops and OEE from the store, after the agent stopped."""
    from agent.oee import compute_oee
    from agent.store.store import open_readonly

    with open_readonly(config.store_path) as store:
        parts = store.parts()
        stops = [s for s in store.stops() if s.state == "stopped"]
        events = store.events()
        outbox = store.outbox.depth()
    small = [s for s in stops if (s.duration_s or 0.0) <= config.downtime.micro_stop_max_s]
    total = compute_oee(events, config).to_json()["total"] if events else {}
    return {
        "parts": len(parts),
        "good": sum(1 for p in parts if p.good),
        "rejected": sum(1 for p in parts if not p.good),
        "stops": len(stops),
        "small_stops": len(small),
        "starved": sum(1 for s in stops if s.reason == "starved"),
        "oee": total.get("oee"),
        "availability": total.get("availability"),
        "performance": total.get("performance"),
        "quality": total.get("quality"),
        "outbox": outbox,
    }


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def format_summary(s: dict[str, Any], seconds: float) -> str:
    """The headless run's summary, a few lines for a person."""
    return (
        f"{seconds:.0f} s of the line: {s['parts']} parts ({s['good']} good, "
        f"{s['rejected']} rejected), {s['stops']} stop(s) ({s['small_stops']} small, "
        f"{s['starved']} starved)\n"
        f"OEE {_percent(s['oee'])} = availability {_percent(s['availability'])} x "
        f"performance {_percent(s['performance'])} x quality {_percent(s['quality'])}\n"
        f"MQTT outbox: {s['outbox']} messages not yet acknowledged by a broker"
    )


# ---- the command ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """`python -m agent.demo` (what `make demo` runs)."""
    parser = argparse.ArgumentParser(
        prog="make demo",
        description="The whole product on rendered footage of a simulated line: the agent "
        "in real time, its store, the MQTT feed (queued until a broker answers on "
        "localhost:1883) and the supervisor TUI. Quit with q or Ctrl-C.",
    )
    parser.add_argument(
        "--headless",
        type=float,
        metavar="SECONDS",
        help="run the agent this long without the TUI, then print a summary",
    )
    parser.add_argument(
        "--keep", metavar="DIR", help="keep the store in DIR (default: a temporary folder)"
    )
    parser.add_argument(
        "--broker", metavar="HOST[:PORT]", help="MQTT broker (default localhost:1883)"
    )
    parser.add_argument(
        "--cache", metavar="DIR", help="where footage and model are kept (default .cache/demo)"
    )
    parser.add_argument(
        "--short", action="store_true", help="a 20-second clip (tests), cached apart"
    )
    parser.add_argument("--no-teach", action="store_true", help="run without inspection")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return _demo(args)
    except UserError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ndemo: interrupted", file=sys.stderr)
        return 130


def _demo(args: argparse.Namespace) -> int:
    if args.headless is not None and args.headless <= 0:
        raise UserError("--headless must be more than 0 seconds")
    broker = parse_broker(args.broker, "--broker") if args.broker else None
    cache = (
        Path(args.cache)
        if args.cache
        else DEFAULT_CACHE.with_name("demo-short" if args.short else "demo")
    )
    cache.mkdir(parents=True, exist_ok=True)
    _log_to(cache / "demo.log")  # nothing may write to the terminal under the TUI

    line_scenario, good_scenario = scenarios(args.short)
    config_file, config_text = prepare_config(cache)
    line, rendered = ensure_footage(line_scenario, cache / LINE_VIDEO, "rendering the line")
    print(
        f"{'rendered' if rendered else 'reusing'} {line.path}: {line.frames / 30:.0f} s, "
        f"{line.parts} parts ({line.defective} defective), {len(line.stops)} stop(s)",
        flush=True,
    )
    inspect = False
    if args.no_teach:
        teach_note = "inspection off (--no-teach)"
    else:
        good, _ = ensure_footage(good_scenario, cache / GOOD_VIDEO, "rendering good parts")
        teach_note, inspect = ensure_model(config_file, load_config(config_file), good)
    print(teach_note, flush=True)

    with _store_folder(args.keep) as folder:
        # inspection off: a model folder that does not exist (not a stale model)
        no_model = None if inspect else cache / "no-model"
        config = agent_config(config_file, folder / "line.db", broker, no_model)
        run = DemoRun(config, config_text)
        run.start()
        print(
            f"agent running on {line.path.name} in real time; store {config.store_path}; "
            f"inspection {'on' if run.inspection_on else 'off'}",
            flush=True,
        )
        try:
            if args.headless is not None:
                _headless(run, args.headless)
            else:
                build_tui(run, config_file, line.path).run()
        finally:
            print("stopping the agent ...", flush=True)
            run.stop()
        if run.error is not None:
            raise UserError(f"the agent failed: {run.error} (see {cache / 'demo.log'})")
        print(format_summary(summary(config), args.headless or 0.0) if args.headless else "")
        if args.keep:
            print(f"store kept: {config.store_path}")
    return 0


def _headless(run: DemoRun, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    with Progress(round(seconds), "running headless") as bar:
        while run.running and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            bar.done = min(round(seconds), round(seconds - (deadline - time.monotonic())))
            bar.update(0)
    print(run.feed_status(), flush=True)


class _store_folder:  # noqa: N801 - used as a context manager, like tempfile's
    """`--keep DIR` (created, kept) or a temporary folder removed on exit."""

    def __init__(self, keep: str | None) -> None:
        self.keep = Path(keep) if keep else None
        self._temp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Path:
        if self.keep is not None:
            self.keep.mkdir(parents=True, exist_ok=True)
            return self.keep
        # a second Ctrl-C may leave the agent writing as the folder goes: ignore that
        self._temp = tempfile.TemporaryDirectory(prefix="oee-demo-", ignore_cleanup_errors=True)
        return Path(self._temp.name)

    def __exit__(self, *exc: object) -> None:
        if self._temp is not None:
            self._temp.cleanup()


def _log_to(path: Path) -> None:
    """Every log line to `path` (nothing may write to the terminal under the TUI)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


__all__ = ["DemoRun", "build_tui", "ensure_footage", "main", "summary"]


if __name__ == "__main__":
    sys.exit(main())
