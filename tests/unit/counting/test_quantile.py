"""Quantiles from counts per value against `np.percentile` over the sample itself."""

import numpy as np
import pytest

from agent.counting.quantile import median, percentiles, quantile, quantiles


@pytest.mark.parametrize("seed", range(20))
def test_the_same_bits_as_numpy_over_the_sample(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 400))
    levels = rng.integers(0, int(rng.integers(1, 766)), size)  # ties galore at few levels
    values = np.arange(766, dtype=np.float64) / 3.0
    cumulative = np.cumsum(np.bincount(levels, minlength=766))
    sample = levels / 3.0
    for q in (0.0, 0.1, 0.2, 0.5, 0.8, 0.97, 1.0):
        assert quantile(cumulative, values, q) == np.percentile(sample, 100 * q)
    qs = (0.0, 0.1, 0.2, 0.5, 0.8, 0.97, 1.0)
    assert (
        quantiles(cumulative, values, qs) == np.percentile(sample, [100 * q for q in qs]).tolist()
    )


def test_interpolates_between_neighbours() -> None:
    cumulative = np.cumsum([1, 0, 1, 1])  # the sample 0, 2, 3
    values = np.array([0.0, 1.0, 2.0, 3.0])
    assert quantile(cumulative, values, 0.25) == pytest.approx(1.0)
    assert quantile(cumulative, values, 0.75) == pytest.approx(2.5)


def test_an_empty_sample_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        quantile(np.zeros(3, np.int64), np.arange(3.0), 0.5)
    with pytest.raises(ValueError, match="empty"):
        quantiles(np.zeros(3, np.int64), np.arange(3.0), (0.2, 0.8))


@pytest.mark.parametrize("seed", range(30))
def test_percentiles_in_plain_python_are_numpys_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 250))
    # part areas: integers with ties (as the segmenter's), and floats
    areas = rng.integers(1, int(rng.integers(2, 3000)), size).tolist()
    floats = (rng.random(size) * 1000).tolist()
    percents = (0, 10, 20, 50, 80, 90, 100)
    for sample in (areas, floats):
        assert percentiles(sample, percents) == np.percentile(sample, percents).tolist()


def test_percentiles_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentiles([], (50,))


@pytest.mark.parametrize("seed", range(30))
def test_the_median_by_a_sort_is_numpys_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(int(rng.integers(1, 30)) for _ in range(int(rng.integers(1, 4))))
    images = (  # 8-bit pixels (ties galore), float32 deviations, float64
        rng.integers(0, 256, shape).astype(np.uint8),
        rng.integers(0, 8, shape).astype(np.uint8),
        rng.normal(0, 30, shape).astype(np.float32),
        rng.normal(0, 30, shape),
    )
    for values in images:
        for axis in range(values.ndim):
            expected = np.median(values, axis=axis, keepdims=True)
            got = median(values, axis)
            assert got.dtype == expected.dtype
            assert got.tobytes() == expected.tobytes()
