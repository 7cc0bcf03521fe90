"""Real images nobody here made: Debian opencv-doc photos and scikit-image textures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
PHOTOS = (
    "baboon.jpg",
    "fruits.jpg",
    "HappyFish.jpg",
    "butterfly.jpg",
    "lena.jpg",
    "orange.jpg",
    "squirrel_cls.jpg",
    "building.jpg",
    "home.jpg",
    "starry_night.jpg",
    "messi5.jpg",
    "board.jpg",
    "aero3.jpg",
    "smarties.png",
    "stuff.jpg",
    "apple.jpg",
)


def opencv_photos() -> list[np.ndarray]:
    """BGR photos shipped by Debian's opencv-doc (make test installs it)."""
    images = []
    for name in PHOTOS:
        img = cv2.imread(str(OPENCV_DATA / name), cv2.IMREAD_COLOR)
        if img is not None:
            images.append(img)
    assert len(images) >= 10, f"opencv-doc images missing under {OPENCV_DATA}"
    return images


def skimage_texture(name: str) -> np.ndarray:
    """A scikit-image texture (`brick`, `grass`, `gravel`) as BGR."""
    import skimage.data

    img = getattr(skimage.data, name)()
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR if img.ndim == 2 else cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def photos() -> list[np.ndarray]:
    return opencv_photos()


@pytest.fixture(scope="session")
def textures() -> dict[str, np.ndarray]:
    return {name: skimage_texture(name) for name in ("brick", "grass", "gravel")}
