"""One frame from the line's live camera (`[camera] source`), for the setup screen."""

from __future__ import annotations

import logging
import time

import numpy as np

from agent.capture import EndOfStream, Frame, SourceDown, SourceError
from agent.capture.sources import open_source, redact
from agent.clock import SystemClock
from agent.config import Config
from agent.errors import UserError

logger = logging.getLogger(__name__)


def grab_frame(config: Config, timeout_s: float = 5.0) -> np.ndarray:
    """The first good frame `[camera] source` gives, as RGB.

    The camera is opened the agent's way (`open_source`: the watchdog, its timeouts and
    reconnects) and closed again at once, so a running agent on a V4L2 device may hold
    it; network cameras serve several clients.

    Raises:
        UserError: no `[camera]` section, a source that cannot be opened, or no frame
            within `timeout_s`.
    """
    camera = config.camera
    if camera is None:
        raise UserError("the configuration has no [camera] section: give --video RECORDING")
    name = redact(camera.source)
    try:
        source = open_source(camera, SystemClock(), base_dir=config.base_dir)
    except SourceError as exc:
        raise UserError(f"camera {name}: {exc}") from None
    why = ""
    deadline = time.monotonic() + timeout_s
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = source.read(remaining)
            except EndOfStream:
                raise UserError(f"camera {name}: the recording has no frame") from None
            if isinstance(event, Frame):
                return np.ascontiguousarray(event.image[:, :, ::-1])  # BGR → RGB
            if isinstance(event, SourceDown):
                why = event.why
                logger.info("camera %s down while grabbing a frame: %s", name, why)
    finally:
        source.close()
    detail = f" ({why})" if why else ""
    raise UserError(f"no frame from camera {name} within {timeout_s:g} s{detail}")
