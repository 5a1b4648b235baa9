"""Which configuration is better, and whether the sample can tell: a seeded paired bootstrap.

Each configuration's own score gets a Wilson score interval (zstc/evaluation/score_interval.py),
which keeps its width at a perfect score; the bootstrap is for the difference between two.

Every configuration is scored on the same texts, so the comparison resamples texts, not scores:
each bootstrap resample draws n texts with replacement and recomputes every configuration's
mean per-text score on that same draw (Efron & Tibshirani 1993, ch. 16; the "paired bootstrap"
of Koehn 2004, "Statistical Significance Tests for Machine Translation Evaluation", EMNLP).
The best configuration is marked only when the percentile interval of its lead over the
runner-up excludes 0; otherwise the difference is inside the noise of this sample and the
comparison says so.

The per-text score is 1/0 correctness of the top label for single-label (its mean is the
accuracy), and each text's own F1 for multi-label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from zstc.evaluation.score_interval import METHOD as WILSON

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0


@dataclass(frozen=True, kw_only=True)
class Interval:
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True, kw_only=True)
class ScoredConfiguration:
    name: str
    score: float
    interval: Interval


@dataclass(frozen=True, kw_only=True)
class Comparison:
    # Highest score first.
    ranking: tuple[ScoredConfiguration, ...]
    # The configuration whose lead over the runner-up is outside the noise, or None.
    best: str | None
    lead: float | None
    lead_interval: Interval | None
    confidence: float
    resamples: int
    seed: int
    # How each configuration's own interval is computed (the lead's is the paired bootstrap).
    interval_method: str = WILSON

    def verdict(self) -> str:
        if len(self.ranking) < 2 or self.lead is None or self.lead_interval is None:
            return "one configuration: nothing to compare"
        first, second = self.ranking[0], self.ranking[1]
        interval = f"[{self.lead_interval.low:+.3f}, {self.lead_interval.high:+.3f}]"
        level = f"{self.confidence:.0%}"
        if self.lead == 0:
            return (
                f"no clear best: {first.name} and {second.name} tie at {first.score:.3f} "
                f"({level} paired-bootstrap interval of the difference {interval})"
            )
        if self.best is not None:
            return (
                f"best: {first.name}, ahead of {second.name} by {self.lead:+.3f} "
                f"({level} paired-bootstrap interval {interval})"
            )
        return (
            f"no clear best: {first.name} leads {second.name} by {self.lead:+.3f}, but the "
            f"{level} paired-bootstrap interval {interval} includes 0; the sample cannot tell "
            "them apart"
        )


def _percentile_interval(values: np.ndarray, confidence: float) -> Interval:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(low=float(low), high=float(high))


def _wilson(mean: float, texts: int, confidence: float) -> Interval:
    from zstc.evaluation.score_interval import wilson_interval

    low, high = wilson_interval(mean=mean, count=texts, confidence=confidence)
    return Interval(low=low, high=high)


def compare(
    per_example: Mapping[str, np.ndarray],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> Comparison:
    """per_example: configuration name -> its score on each text, texts in the same order."""
    if not per_example:
        raise ValueError("compare: no configurations")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError("compare: resamples must be >= 1 and confidence in (0, 1)")
    names = list(per_example)
    matrix = np.vstack([np.asarray(per_example[name], dtype=float) for name in names])
    texts = matrix.shape[1]
    if texts == 0:
        raise ValueError("compare: no texts")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, texts, size=(resamples, texts))
    # resampled[c, b]: configuration c's mean score on resample b (one row at a time, so memory
    # stays at resamples x texts).
    resampled = np.vstack([row[draws].mean(axis=1) for row in matrix])
    means = matrix.mean(axis=1)
    # Stable sort: among equal scores the configuration given first ranks first.
    order = sorted(range(len(names)), key=lambda index: -means[index])
    ranking = tuple(
        ScoredConfiguration(
            name=names[index],
            score=float(means[index]),
            interval=_wilson(float(means[index]), texts, confidence),
        )
        for index in order
    )
    if len(names) < 2:
        return Comparison(
            ranking=ranking,
            best=None,
            lead=None,
            lead_interval=None,
            confidence=confidence,
            resamples=resamples,
            seed=seed,
        )
    first, second = order[0], order[1]
    lead_interval = _percentile_interval(resampled[first] - resampled[second], confidence)
    return Comparison(
        ranking=ranking,
        best=names[first] if lead_interval.low > 0 else None,
        lead=float(means[first] - means[second]),
        lead_interval=lead_interval,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )
