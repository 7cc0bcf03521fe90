"""The stages one line runs with, built in one place and closed in reverse on any exit.

`run` (`agent.app.Agent`), `replay`, `teach` and the demo (which runs the `Agent`) open
the stages they need through a `Runtime`: the store and its read-only twin, the MQTT
publisher, the recorder between pipeline and store, the inspector, the pipeline, and
the frame source (a camera or a recording). Each opener registers how its stage is
closed on one `ExitStack`, so leaving the runtime, at the end, on an error or on
Ctrl-C, closes the source before the publisher before the store, whatever was opened
so far. The orderly steps before that (flushing, draining the feed) stay with the
command, which knows how long it may wait and what a failure means for it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agent.config import RunConfig

if TYPE_CHECKING:
    from agent.capture.file import VideoFileSource
    from agent.clock import Clock
    from agent.inspection import Inspector
    from agent.pipeline import EventSink, LinePipeline
    from agent.publish import MqttPublisher
    from agent.publish.topics import OpenStop
    from agent.recorder import Recorder
    from agent.store import Store

_Stage = TypeVar("_Stage")

#: How long closing waits for the publisher to say `offline` and disconnect.
PUBLISHER_STOP_S = 3.0


class Runtime:
    """One line's stages for one command; `close()` (or leaving `with`) undoes them."""

    def __init__(self, config: RunConfig) -> None:
        """Nothing opens before a stage is asked for."""
        self.config = config
        self._stack = ExitStack()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every stage opened so far, the last opened first (once)."""
        self._stack.close()

    def keep(self, stage: _Stage, close: Callable[[], object]) -> _Stage:
        """Adopt a stage built elsewhere (a test's camera): `close` runs on closing."""
        self._stack.callback(close)
        return stage

    def open_store(self, path: Path | None = None) -> Store:
        """The line's store (`[store] path`, or `path`), opened for writing."""
        from agent.store import Store

        return self._stack.enter_context(Store.open(path or self.config.store_path))

    def open_reader(self) -> Store | None:
        """A read-only connection to the store file (none for an in-memory store).

        In WAL mode its reads never hold up the writer connection's writes.
        """
        from agent.store import open_readonly

        if str(self.config.store_path) == ":memory:":
            return None
        return self._stack.enter_context(open_readonly(self.config.store_path))

    def start_publisher(self, store: Store, clock: Clock | None = None) -> MqttPublisher:
        """The MQTT feed of `store`'s outbox, connecting in the background."""
        from agent.publish import MqttPublisher

        publisher = MqttPublisher(self.config, store, clock=clock)
        publisher.start()
        self._stack.callback(publisher.stop, timeout=PUBLISHER_STOP_S)
        return publisher

    def recorder(
        self,
        store: Store,
        publisher: MqttPublisher | None,
        open_stop: OpenStop | None = None,
        clock: Clock | None = None,
    ) -> Recorder:
        """The pipeline's sink into `store` (and its outbox), saving defect pictures."""
        from agent.inspection.pictures import picture_saver
        from agent.recorder import Recorder

        return Recorder(
            store,
            self.config,
            on_written=publisher.notify if publisher is not None else None,
            pictures=picture_saver(self.config),
            open_stop=open_stop,
            clock=clock,
        )

    def inspector(self) -> Inspector:
        """The taught inspector of `[inspection] model_dir` (off when none is taught)."""
        from agent.inspection.loader import load_inspector

        return load_inspector(self.config)

    def pipeline(
        self,
        inspector: Inspector | None,
        sink: EventSink,
        keep_counted: int | None,
        patterned_belt: bool | None = None,
    ) -> LinePipeline:
        """The line's vision, from frames to events into `sink` (see `LinePipeline`)."""
        from agent.pipeline import LinePipeline

        return LinePipeline(
            self.config, inspector, sink, keep_counted=keep_counted, patterned_belt=patterned_belt
        )

    def open_camera(
        self,
        clock: Clock,
        wanted: Callable[[float], bool] | None = None,
        taught_view: bool = True,
    ) -> Any:
        """`[camera] source` behind its watchdog; `wanted` says which frames need pixels.

        Its view is checked against the taught one (`taught_view`, if the line is
        taught) or its first frame: dark, blurred or moved is `no_data`, never a stop.
        """
        from agent.capture.sources import open_source
        from agent.capture.view import ViewWatch, load_reference

        camera, base = self.config.camera, self.config.base_dir
        view = ViewWatch(self.config.vision.roi)
        taught = load_reference(self.config.model_dir) if taught_view else None
        if taught is not None:
            view.teach(taught)
        source = open_source(camera, clock, base_dir=base, wanted=wanted, view=view)
        return self.keep(source, source.close)

    def open_recording(self, video: str | Path, start: datetime) -> VideoFileSource:
        """A recording played as the camera: frame i at `start` + i / fps."""
        from agent.capture.file import VideoFileSource

        source = VideoFileSource(video, start, fps_fallback=self.config.camera.fps)
        return self._stack.enter_context(source)


__all__ = ["Runtime"]
