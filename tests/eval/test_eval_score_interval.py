"""Each configuration's interval is the Wilson score interval: the same numbers as scipy's
maintained implementation, and a real width at a perfect and at a zero score."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from zstc.evaluation.comparison import compare
from zstc.evaluation.score_interval import wilson_interval


@pytest.mark.parametrize(("right", "texts"), [(0, 40), (1, 40), (20, 40), (39, 40), (40, 40),
                                              (7, 9), (1, 1), (233, 250)])  # fmt: skip
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_equals_scipys_wilson_interval(right: int, texts: int, confidence: float) -> None:
    expected = binomtest(right, texts).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = wilson_interval(mean=right / texts, count=texts, confidence=confidence)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_a_perfect_score_keeps_a_width() -> None:
    """Defect: 40 of 40 right showed 1.000-1.000, a zero-width bar."""
    comparison = compare({"perfect": np.ones(40), "none": np.zeros(40)})
    perfect, none = comparison.ranking
    assert perfect.interval.high == 1.0
    assert perfect.interval.low == pytest.approx(0.9124, abs=1e-4)
    assert none.interval.low == 0.0 and none.interval.high == pytest.approx(0.0876, abs=1e-4)
    assert comparison.interval_method == "Wilson score interval"


def test_fractional_multi_label_scores_stay_inside_zero_and_one() -> None:
    low, high = wilson_interval(mean=0.97, count=12, confidence=0.95)
    assert 0 < low < 0.97 < high <= 1


@pytest.mark.parametrize(
    ("mean", "count", "confidence"), [(1.2, 4, 0.95), (0.5, 0, 0.95), (0.5, 4, 1.0)]
)
def test_bad_arguments_are_refused(mean: float, count: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(mean=mean, count=count, confidence=confidence)
