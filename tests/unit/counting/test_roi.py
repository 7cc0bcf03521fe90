import numpy as np
import pytest

from agent.config import Direction
from agent.counting.roi import RoiView


@pytest.mark.parametrize("direction", list(Direction))
def test_boxes_map_back_to_the_frame(direction: Direction) -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[200:240, 100:180] = 255  # a bright part at x 100..180, y 200..240
    view = RoiView((40, 120, 560, 300), direction, (640, 480))
    work = view.work(frame)
    along, across = view.shape
    assert work.shape[:2] == (across, along)
    ys, xs = np.nonzero(work[:, :, 0] > 127)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    assert view.to_frame_box(box) == pytest.approx((100, 200, 180, 240), abs=4)
    back = view.from_canonical(work)
    assert back.shape[:2] == (view.small_h, view.small_w)


def test_flow_runs_along_canonical_x() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[0:40, 300:340] = 255  # near the top: the start of a top_to_bottom flow
    view = RoiView((0, 0, 640, 480), Direction.TOP_TO_BOTTOM, (640, 480))
    _, xs = np.nonzero(view.work(frame)[:, :, 0] > 127)
    assert xs.max() < view.along * 0.1


def test_an_roi_outside_the_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="leaves too little"):
        RoiView((700, 0, 100, 100), Direction.LEFT_TO_RIGHT, (640, 480))
