import numpy as np
import pytest

from agent.flow.motion import BeltMotion, profile_shift

FPS = 15.0


def belt_strip(length: int = 400, rows: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    strip = np.full((rows, length), 80.0)
    strip += rng.normal(0, 6, size=(1, length))  # texture along the belt
    strip[:, ::24] += 25  # seams
    return strip


def frames(
    shift_per_frame: float,
    n: int = 30,
    gain_jitter: float = 0.0,
    shake: float = 0.0,
    noise: float = 1.5,
    seed: int = 1,
):
    rng = np.random.default_rng(seed)
    strip = belt_strip()
    xs = np.arange(160, dtype=np.float64)
    for i in range(n):
        offset = 100 - i * shift_per_frame + rng.uniform(-shake, shake)
        rows = np.array([np.interp(xs + offset, np.arange(strip.shape[1]), r) for r in strip])
        if shake:
            rows = np.roll(rows, int(round(rng.uniform(-shake, shake))), axis=0)
        gain = 1.0 + rng.uniform(-gain_jitter, gain_jitter)
        image = rows * gain + rng.normal(0, noise, size=rows.shape)
        yield np.clip(image, 0, 255).astype(np.uint8), i / FPS


@pytest.mark.parametrize("true_shift", [-3.0, 0.0, 0.6, 2.5, 7.3])
def test_profile_shift_finds_the_shift(true_shift: float) -> None:
    profile = belt_strip()[0]
    xs = np.arange(100, 260, dtype=np.float64)
    a = np.interp(xs, np.arange(profile.size), profile)
    b = np.interp(xs - true_shift, np.arange(profile.size), profile)
    shift, quality = profile_shift(a - a.mean(), b - b.mean(), 16)
    assert shift == pytest.approx(true_shift, abs=0.25)
    assert quality > 0.5


def run(detector: BeltMotion, **kw):
    return [detector.update(image, mono) for image, mono in frames(**kw)]


def test_a_moving_belt_is_moving_at_its_speed() -> None:
    readings = run(BeltMotion(), shift_per_frame=2.0)
    assert all(r.moving for r in readings[3:])
    assert readings[-1].speed == pytest.approx(2.0 / 160 * FPS, rel=0.1)


def test_a_slow_belt_still_counts_as_moving() -> None:
    readings = run(BeltMotion(min_speed=0.02), shift_per_frame=0.4)
    # 0.4 px a frame has travelled the 2 px that shake never adds up to after ~6 frames
    assert all(r.moving for r in readings[8:])


def test_a_halted_belt_with_flicker_and_noise_is_not_moving() -> None:
    readings = run(BeltMotion(), shift_per_frame=0.0, gain_jitter=0.12, noise=3.0)
    assert not any(r.moving for r in readings)


def test_camera_shake_on_a_halted_belt_is_not_motion() -> None:
    readings = run(BeltMotion(), shift_per_frame=0.0, shake=0.8)
    assert not any(r.moving for r in readings[3:])


def test_a_belt_running_backwards_is_not_flow() -> None:
    readings = run(BeltMotion(), shift_per_frame=-2.0)
    assert readings[-1].speed < 0 and not readings[-1].moving


def test_reset_forgets_the_past() -> None:
    detector = BeltMotion()
    run(detector, shift_per_frame=2.0)
    detector.reset()
    image, _ = next(frames(shift_per_frame=0.0))
    assert detector.update(image, 100.0).speed == 0.0


def numpy_shift(previous: np.ndarray, current: np.ndarray, back: int, ahead: int):
    """The shift search written with numpy throughout (as before the plain-Python peaks)."""
    from agent.flow.motion import _SAME, _pick, _prepare

    a, b = (np.asarray(p, np.float32) for p in (previous, current))
    early, late = _prepare(a - a.mean(), back, ahead), _prepare(b - b.mean(), back, ahead)
    scores = np.correlate(late.padded, early.profile, mode="valid") / (
        early.as_earlier * late.as_later + 1e-9
    )
    top = float(scores.max())
    peaks = []
    for i in (scores[1:-1] >= top - 2 * _SAME).nonzero()[0].tolist():
        left, mid, right = scores[i : i + 3].tolist()
        if left <= mid > right:
            curvature = min(left - 2 * mid + right, -1e-9)
            peaks.append(
                (
                    i + 1 - back + 0.5 * (left - right) / curvature,
                    mid - (left - right) ** 2 / (8 * curvature),
                )
            )
    return _pick(peaks)  # the choice among the peaks is the same code: the peaks are compared


@pytest.mark.parametrize("seed", range(60))
def test_profile_shift_is_the_numpy_search_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(8, 200))
    # a repeating pattern (many peaks alike), noise, or both, moved by a random shift
    period = int(rng.integers(3, 40))
    base = np.sin(np.arange(size + 40) * 2 * np.pi / period) * rng.uniform(0, 30)
    base += rng.normal(0, rng.uniform(0.1, 20), base.size)
    moved = int(rng.integers(-5, 20))
    previous, current = base[20 : 20 + size], base[20 - moved : 20 - moved + size]
    back, ahead = max(2, size // 8), max(3, size // 2)
    got = profile_shift(previous, current, back, ahead)
    assert got == numpy_shift(previous, current, back, ahead)
