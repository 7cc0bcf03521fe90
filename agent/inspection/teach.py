"""`oee-agent teach [VIDEO] --config LINE.toml`: learn a line's good parts.

Runs the vision pipeline over footage of good production (or the live camera) to
collect the views of every counted part, fits the line's model on the clean ones,
calibrates its threshold on held-out good parts for `[inspection] false_reject_rate`,
writes `[inspection] model_dir` atomically (with the teach report, `teach.json`) and
prints the report's summary and warnings.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from agent.capture.view import save_reference
from agent.config import Config, RunConfig, load_config
from agent.errors import UserError
from agent.inspection import FEATURE_VIEWS, PartCrop
from agent.inspection.fit import MIN_FIT_PARTS, MIN_HOLDOUT_PARTS, fit_line
from agent.inspection.model import Taught
from agent.inspection.persist import save_taught
from agent.inspection.report import REPORT_FILE, format_report
from agent.inspection.runtime import BACKBONE_INT8, Backbone
from agent.progress import Progress

logger = logging.getLogger(__name__)

MIN_PARTS = MIN_FIT_PARTS + MIN_HOLDOUT_PARTS


def _footage_parts(video: Path, config: Config) -> Iterator[list[PartCrop]]:
    from agent.pipeline import iter_counted_parts

    for part in iter_counted_parts(video, config):
        if part.views:
            yield list(part.views)


def _live_parts(config: RunConfig, first: list[np.ndarray]) -> Iterator[list[PartCrop]]:
    """Counted parts from the live camera, until Ctrl-C or `teach_parts` parts.

    The first frame goes into `first` (the view taught with the parts).
    """
    from agent.capture import EndOfStream, Frame
    from agent.clock import SystemClock
    from agent.inspection import NoInspection
    from agent.pipeline import ListSink
    from agent.runtime import Runtime

    with Runtime(config) as runtime:
        source = runtime.open_camera(SystemClock(), taught_view=False)  # a new view
        pipeline = runtime.pipeline(NoInspection(), ListSink(), keep_counted=None)
        handed = 0
        try:
            while True:
                try:
                    item = source.read(0.5)
                except EndOfStream:
                    break
                if isinstance(item, Frame):
                    if not first:
                        first.append(item.image)
                    pipeline.process(item)
                while handed < len(pipeline.counted):
                    yield list(pipeline.counted[handed].views)
                    handed += 1
        except KeyboardInterrupt:
            logger.info("teach: stopped collecting after %d parts", handed)
        finally:
            pipeline.close()
    for part in pipeline.counted[handed:]:
        yield list(part.views)


def _first_frame(video: Path) -> list[np.ndarray]:
    """The first frame of `video`, in a list (empty if it cannot be read)."""
    import cv2

    capture = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    try:
        ok, image = capture.read()
    finally:
        capture.release()
    return [image] if ok and image is not None else []


def collect_parts(
    parts: Iterator[list[PartCrop]], limit: int, progress: Progress
) -> list[list[PartCrop]]:
    """Gather up to `limit` parts' views, ticking the progress bar per part."""
    collected: list[list[PartCrop]] = []
    for views in parts:
        if views:
            collected.append(views)
            progress.update(1)
        if len(collected) >= limit:
            break
    return collected


def teach(
    parts: list[list[PartCrop]],
    model_dir: Path,
    false_reject_rate: float,
    threads: int = 1,
    feature_views: int = FEATURE_VIEWS,
    use_backbone: bool = True,
    pose: str = "register",
) -> Taught:
    """Fit, calibrate and save a line from the views of good parts.

    Raises:
        UserError: too few parts.
    """
    if len(parts) < MIN_PARTS:
        raise UserError(
            f"only {len(parts)} parts were counted; teach needs at least {MIN_PARTS} good "
            "parts (record a few minutes of good production, and check [vision] roi)"
        )
    backbone = Backbone(BACKBONE_INT8, threads=threads) if use_backbone else None
    with Progress(len(parts), "teach: fitting") as bar:
        taught = fit_line(
            parts,
            backbone,
            false_reject_rate=false_reject_rate,
            feature_views=feature_views,
            progress=bar.update,
            pose=pose,
        )
    save_taught(taught, model_dir, backbone)
    return taught


def run_command(args: argparse.Namespace) -> int:
    """`oee-agent teach [VIDEO] --config LINE.toml`."""
    config = RunConfig.of(load_config(args.config))
    started = time.monotonic()
    limit = config.inspection.teach_parts
    first: list[np.ndarray] = []  # the view taught with the parts
    if args.video is not None:
        video = Path(args.video)
        if not video.is_file():
            raise UserError(f"footage {video} does not exist")
        first += _first_frame(video)
        source: Iterator[list[PartCrop]] = _footage_parts(video, config)
        label = f"teach: parts in {video.name}"
    else:
        source = _live_parts(config, first)
        label = f"teach: parts from the camera (Ctrl-C when enough; stops at {limit})"
    with Progress(None, label) as bar:
        parts = collect_parts(source, limit, bar)
    taught = teach(
        parts,
        config.model_dir,
        config.inspection.false_reject_rate,
        threads=config.inspection.threads,
        feature_views=config.inspection.feature_views,
        pose=config.inspection.pose,
    )
    if first:
        save_reference(config.model_dir, first[0])  # the camera's view, checked by `run`
    info = taught.info
    print(
        f"taught {config.line.id} on {info['parts']} good parts "
        f"(each held out in turn to set the threshold for "
        f"{info['false_reject_rate']:.1%} false rejects) in {time.monotonic() - started:.1f} s; "
        f"model written to {config.model_dir}"
    )
    if taught.report is not None:
        print(format_report(taught.report))
        print(f"(the full report: {config.model_dir / REPORT_FILE})")
    return 0
