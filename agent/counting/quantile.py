"""Quantiles of a sample kept as counts per value (a histogram), as numpy computes them.

A histogram of small integers is built with one `np.bincount` and summed over any set
of rows for free, where a sample of pixels would have to be gathered and partitioned
again for every question. The answers are `np.percentile`'s default ("linear") to the
last bit: the same order statistics, the same interpolation arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


def order_statistic(cumulative: np.ndarray, values: np.ndarray, rank: int) -> float:
    """The `rank`-th smallest element (from 0) of the sample whose running counts are given.

    Args:
        cumulative: Running total of the counts per value (`np.cumsum(counts)`).
        values: The value each count stands for, ascending.
        rank: 0 .. sample size - 1.
    """
    return float(values[int(np.searchsorted(cumulative, rank, side="right"))])


def quantile(cumulative: np.ndarray, values: np.ndarray, q: float) -> float:
    """`np.quantile(sample, q)` (linear method) of a sample given as running counts.

    Args:
        cumulative: Running total of the counts per value; its last entry is the size.
        values: The value each count stands for, ascending.
        q: 0..1.
    """
    n = int(cumulative[-1])
    if n == 0:
        raise ValueError("quantile of an empty sample")
    virtual = (n - 1) * q  # numpy's virtual index for the linear method
    below = math.floor(virtual)
    if virtual >= n - 1:
        return order_statistic(cumulative, values, n - 1)
    a = order_statistic(cumulative, values, below)
    b = order_statistic(cumulative, values, below + 1)
    gamma = virtual - below
    # numpy's lerp: from the nearer end, so that the ends come out exact
    if gamma >= 0.5:
        return b - (b - a) * (1 - gamma)
    return a + (b - a) * gamma


def quantiles(cumulative: np.ndarray, values: np.ndarray, qs: Sequence[float]) -> list[float]:
    """`quantile` at each of `qs`, its order statistics found in one search.

    Args:
        cumulative: Running total of the counts per value; its last entry is the size.
        values: The value each count stands for, ascending.
        qs: Each 0..1.
    """
    n = int(cumulative[-1])
    if n == 0:
        raise ValueError("quantile of an empty sample")
    virtuals = [(n - 1) * q for q in qs]  # numpy's virtual index for the linear method
    belows = [min(math.floor(virtual), n - 1) for virtual in virtuals]
    ranks = [r for below in belows for r in (below, min(below + 1, n - 1))]
    found = values[np.searchsorted(cumulative, ranks, side="right")].tolist()
    out = []
    for i, (virtual, below) in enumerate(zip(virtuals, belows, strict=True)):
        a, b = found[2 * i], found[2 * i + 1]
        if virtual >= n - 1:
            out.append(a)  # the largest
            continue
        gamma = virtual - below
        # numpy's lerp: from the nearer end, so that the ends come out exact
        out.append(b - (b - a) * (1 - gamma) if gamma >= 0.5 else a + (b - a) * gamma)
    return out


def percentiles(sample: Iterable[float], percents: Sequence[float]) -> list[float]:
    """`np.percentile(sample, percents)` (linear method) in plain Python, to the last bit.

    For the small samples of sizes the segmenter follows every frame: sorting a few
    hundred numbers costs less than numpy's conversion and partition machinery.
    """
    ordered = sorted(sample)
    n = len(ordered)
    if n == 0:
        raise ValueError("percentile of an empty sample")
    found = []
    for percent in percents:
        virtual = (n - 1) * (percent / 100)  # numpy's virtual index for the linear method
        if virtual >= n - 1:
            found.append(float(ordered[-1]))
            continue
        below = math.floor(virtual)
        a, b = ordered[below], ordered[below + 1]
        gamma = virtual - below
        # numpy's lerp: from the nearer end
        found.append(float(b - (b - a) * (1 - gamma) if gamma >= 0.5 else a + (b - a) * gamma))
    return found


def median(values: np.ndarray, axis: int) -> np.ndarray:
    """`np.median(values, axis=axis, keepdims=True)` of finite values, by one sort.

    numpy partitions each row, which costs several times a sort of these short rows;
    the middle order statistics are the same, and the same `np.mean` of them gives the
    same result to the bit (its dtype too). NaN is not looked for: finite values only.
    """
    n = values.shape[axis]
    if n == 0:  # (numpy's NaN and warning)
        return np.median(values, axis=axis, keepdims=True)
    ordered = np.sort(values, axis=axis)
    middle = slice(n // 2, n // 2 + 1) if n % 2 else slice(n // 2 - 1, n // 2 + 1)
    index: list[slice] = [slice(None)] * values.ndim
    index[axis] = middle
    return np.mean(ordered[tuple(index)], axis=axis, keepdims=True)
