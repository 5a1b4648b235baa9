"""The paired bootstrap marks a winner on a clear win, and refuses to inside the noise."""

from __future__ import annotations

import numpy as np
import pytest

from zstc.evaluation.comparison import compare


def _correct(count: int, wrong: set[int]) -> np.ndarray:
    return np.array([0.0 if index in wrong else 1.0 for index in range(count)])


def test_a_clear_win_is_marked_best() -> None:
    # 60 texts: template B is right on 54, template A on 30, and B is right wherever A is.
    better = _correct(60, wrong=set(range(0, 60, 10)))
    worse = _correct(60, wrong=set(range(0, 60, 2)))
    comparison = compare({"A": worse, "B": better}, seed=1)
    assert comparison.best == "B"
    assert [entry.name for entry in comparison.ranking] == ["B", "A"]
    assert comparison.lead == pytest.approx(0.9 - 0.5)
    assert comparison.lead_interval is not None and comparison.lead_interval.low > 0
    assert "best: B" in comparison.verdict()


def test_a_difference_inside_the_noise_is_not_called_better() -> None:
    # 30 texts: A and B each get 4 different texts wrong, and A one more: 25 vs 26 right.
    a = _correct(30, wrong={0, 1, 2, 3, 4})
    b = _correct(30, wrong={10, 11, 12, 13})
    comparison = compare({"A": a, "B": b}, seed=1)
    assert comparison.ranking[0].name == "B"
    assert comparison.lead == pytest.approx(1 / 30)
    assert comparison.best is None
    assert comparison.lead_interval is not None
    assert comparison.lead_interval.low < 0 < comparison.lead_interval.high
    assert "no clear best" in comparison.verdict()


def test_equal_scores_never_produce_a_winner() -> None:
    same = _correct(40, wrong={1, 5, 9})
    comparison = compare({"first": same, "second": same.copy()}, seed=3)
    assert comparison.best is None
    assert comparison.lead == 0
    assert comparison.verdict().startswith("no clear best: first and second tie at 0.925")


def test_pairing_detects_a_small_consistent_gain_that_unpaired_intervals_would_miss() -> None:
    # B fixes 6 of A's 20 misses on 100 texts and breaks none: a small but consistent gain.
    # The two accuracies' own intervals overlap; the paired lead's interval does not include 0.
    a = _correct(100, wrong=set(range(20)))
    b = _correct(100, wrong=set(range(6, 20)))
    comparison = compare({"A": a, "B": b}, seed=0)
    first, second = comparison.ranking
    assert first.interval.low < second.interval.high  # the unpaired intervals overlap
    assert comparison.best == "B"


def test_the_same_seed_gives_the_same_lead_interval_and_another_seed_may_not() -> None:
    rng = np.random.default_rng(7)
    # Continuous per-text scores (multi-label F1s), so percentiles fall between draws.
    scores = {name: rng.random(50) for name in ("A", "B", "C")}
    once, again = compare(scores, seed=5), compare(scores, seed=5)
    assert once == again
    other = compare(scores, seed=6)
    assert other.lead_interval != once.lead_interval
    # Each configuration's own (Wilson) interval does not depend on resampling.
    assert [entry.interval for entry in other.ranking] == [entry.interval for entry in once.ranking]


def test_one_configuration_has_an_interval_but_no_comparison() -> None:
    comparison = compare({"only": _correct(20, wrong={3})})
    assert comparison.best is None and comparison.lead is None
    entry = comparison.ranking[0]
    assert entry.score == pytest.approx(0.95)
    assert entry.interval.low <= 0.95 <= entry.interval.high
    assert comparison.verdict() == "one configuration: nothing to compare"
