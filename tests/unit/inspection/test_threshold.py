"""The threshold's statistics: a robust spread that odd parts cannot move."""

from __future__ import annotations

import numpy as np
import pytest

from agent.inspection.threshold import outliers, qn_scale, robust_log_fit, threshold_for


def _mad(values: np.ndarray) -> float:
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


@pytest.mark.parametrize("n", [10, 11, 60, 301])
def test_qn_reads_a_normal_samples_standard_deviation(n):
    rng = np.random.default_rng(n)
    spreads = [qn_scale(rng.normal(5.0, 2.0, n)) for _ in range(400)]
    assert np.mean(spreads) == pytest.approx(2.0, rel=0.05)


def test_qn_is_its_definition_on_a_small_sample():
    """The first quartile of the 45 pairwise distances of 10 values, its k-th of them."""
    values = np.array([1.0, 2.0, 4.0, 7.0, 11.0, 16.0, 22.0, 29.0, 37.0, 46.0])
    distances = sorted(abs(a - b) for i, a in enumerate(values) for b in values[i + 1 :])
    h = 10 // 2 + 1
    expected = 2.2219 * (10 / 13.8) * distances[h * (h - 1) // 2 - 1]
    assert qn_scale(values) == pytest.approx(expected)
    assert qn_scale(values[::-1]) == pytest.approx(expected)  # order does not matter


def test_qn_scatters_less_than_the_median_deviation_over_few_parts():
    """Why Qn: over 60 held-out parts the threshold it sets moves less from draw to draw."""
    rng = np.random.default_rng(7)
    samples = [rng.normal(0.0, 0.3, 60) for _ in range(600)]
    qn = np.std([qn_scale(s) for s in samples])
    mad = np.std([_mad(s) for s in samples])
    assert qn < 0.8 * mad


def test_a_few_defective_parts_move_neither_centre_nor_spread_far():
    rng = np.random.default_rng(3)
    good = np.exp(rng.normal(0.0, 0.25, 95))
    centre, spread = robust_log_fit(good)
    spoilt = np.concatenate([good, np.full(5, 20.0)])  # 5 % defective, far out
    centre2, spread2 = robust_log_fit(spoilt)
    assert abs(centre2 - centre) < 0.05 and spread2 == pytest.approx(spread, rel=0.15)
    assert threshold_for(spoilt, 0.01) == pytest.approx(threshold_for(good, 0.01), rel=0.15)
    assert outliers(spoilt)[-5:].all() and not outliers(spoilt)[:95].any()


def test_qn_counts_pairs_without_holding_them_all():
    """Teach may hold 100 000 parts: their 5e9 distances are never made."""
    values = np.random.default_rng(9).normal(0.0, 1.0, 100_000)
    assert qn_scale(values) == pytest.approx(1.0, rel=0.02)


@pytest.mark.parametrize("n", range(2, 40))
def test_qn_is_the_quartile_of_every_pair_for_any_count_with_ties(n):
    values = np.round(np.random.default_rng(n).normal(0.0, 1.0, n), 1)  # ties among them
    distances = np.sort(np.abs(values[:, None] - values[None, :])[np.triu_indices(n, 1)])
    h = n // 2 + 1
    small = {2: 0.399, 3: 0.994, 4: 0.512, 5: 0.844, 6: 0.611, 7: 0.857, 8: 0.669, 9: 0.872}
    factor = small.get(n) or (n / (n + 1.4) if n % 2 else n / (n + 3.8))
    assert qn_scale(values) == pytest.approx(2.2219 * factor * distances[h * (h - 1) // 2 - 1])


def test_an_infinite_score_is_one_odd_part_not_an_infinite_spread():
    good = np.exp(np.random.default_rng(5).normal(0.0, 0.25, 60))
    spoilt = np.append(good, np.inf)
    assert robust_log_fit(spoilt)[1] == pytest.approx(robust_log_fit(good)[1], rel=0.1)
    assert outliers(spoilt)[-1] and not outliers(spoilt)[:-1].any()


def test_one_value_or_alike_values_give_the_smallest_spread():
    assert qn_scale(np.array([3.0])) == 0.0
    assert qn_scale(np.r_[np.zeros(30), np.ones(30)]) == 0.0  # most pairs alike
    _, spread = robust_log_fit(np.full(20, 0.7))
    assert spread > 0.0
